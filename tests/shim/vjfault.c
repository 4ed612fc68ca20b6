/* vjfault: an LD_PRELOAD shim that injects I/O errors, for the crash and
 * disk tests.  Writes (write, pwrite), syncs (fsync, fdatasync) and renames
 * on a file whose path contains $VJ_FAULT_PATH fail with $VJ_FAULT_ERRNO
 * (EIO or ENOSPC, default EIO) once $VJ_FAULT_AFTER (default 0) of them
 * succeeded.  $VJ_FAULT_OP=write|sync|dirsync|rename limits it to one kind
 * (sync: of files and directories; dirsync: of directories only; rename:
 * judged by the old name).
 * $VJ_TRACE=FILE appends a line for each write, fsync, fdatasync and rename
 * that succeeded on a path containing $VJ_TRACE_PATH (default: every path):
 * "write PATH BYTES", "fsync PATH", "fdatasync PATH", "rename OLD NEW", in
 * the order they happened (t0325 checks what came before what). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static long seen;

static ssize_t
real_write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	return real(fd, buf, n);
}

static int
fd_path(int fd, char *path, size_t n)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t r = readlink(link, path, n - 1);
	if (r <= 0)
		return -1;
	path[r] = 0;
	return 0;
}

static int
hit_path(const char *path, const char *op, int isdir)
{
	const char *want = getenv("VJ_FAULT_PATH");
	const char *only = getenv("VJ_FAULT_OP");

	if (!want || !*want || !strstr(path, want))
		return 0;
	if (only && strcmp(only, op) && !(!strcmp(op, "sync") && isdir && !strcmp(only, "dirsync")))
		return 0;
	if (only && !strcmp(only, "dirsync") && !isdir)
		return 0;
	const char *after = getenv("VJ_FAULT_AFTER");
	if (seen++ < (after ? atol(after) : 0))
		return 0;
	const char *e = getenv("VJ_FAULT_ERRNO");
	errno = e && !strcmp(e, "ENOSPC") ? ENOSPC : EIO;
	return 1;
}

static int
hit(int fd, const char *op)
{
	char path[4096];
	struct stat st;
	if (fd_path(fd, path, sizeof path) < 0)
		return 0;
	return hit_path(path, op, fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
}

static void
trace(const char *op, const char *a, const char *b, long n)
{
	static int tfd = -1;
	const char *file = getenv("VJ_TRACE"), *want = getenv("VJ_TRACE_PATH");
	char line[8400];
	if (!file || !*file || (want && *want && !strstr(a, want) && !(b && strstr(b, want))))
		return;
	if (tfd < 0 && (tfd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return;
	int k = b ? snprintf(line, sizeof line, "%s %s %s\n", op, a, b) :
	    n >= 0 ? snprintf(line, sizeof line, "%s %s %ld\n", op, a, n) :
	    snprintf(line, sizeof line, "%s %s\n", op, a);
	if (k > 0 && (size_t)k < sizeof line)
		real_write(tfd, line, (size_t)k);
}

static void
trace_fd(const char *op, int fd, long n)
{
	char path[4096];
	if (getenv("VJ_TRACE") && fd_path(fd, path, sizeof path) == 0)
		trace(op, path, NULL, n);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	if (hit(fd, "write"))
		return -1;
	ssize_t r = real_write(fd, buf, n);
	if (r > 0)
		trace_fd("write", fd, (long)r);
	return r;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	if (hit(fd, "write"))
		return -1;
	ssize_t r = real(fd, buf, n, off);
	if (r > 0)
		trace_fd("pwrite", fd, (long)r);
	return r;
}

/* vj-pack writes shards with O_DIRECT, in runs of buffers.  With
 * $VJ_FAULT_DIRECT set, a writev on an O_DIRECT file fails with EINVAL, as
 * on a file system that takes O_DIRECT but refuses the write; a trace line
 * says "writev-direct" for an O_DIRECT file, "writev" for another. */
ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);
	if (!real)
		real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
	if (hit(fd, "write"))
		return -1;
	int fl = fcntl(fd, F_GETFL);
	int direct = fl >= 0 && (fl & O_DIRECT);
	if (direct && getenv("VJ_FAULT_DIRECT")) {
		errno = EINVAL;
		return -1;
	}
	ssize_t r = real(fd, iov, n);
	if (r > 0)
		trace_fd(direct ? "writev-direct" : "writev", fd, (long)r);
	return r;
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (hit(fd, "sync"))
		return -1;
	int r = real(fd);
	if (r == 0)
		trace_fd("fdatasync", fd, -1);
	return r;
}

int
fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (hit(fd, "sync"))
		return -1;
	int r = real(fd);
	if (r == 0)
		trace_fd("fsync", fd, -1);
	return r;
}

int
rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	if (hit_path(from, "rename", 0))
		return -1;
	int r = real(from, to);
	if (r == 0)
		trace("rename", from, to, -1);
	return r;
}
