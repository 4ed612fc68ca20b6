/* vjfault: an LD_PRELOAD shim that injects I/O errors, for the crash and
 * disk tests.  Writes (write, pwrite) and syncs (fsync, fdatasync) on a file
 * whose path contains $VJ_FAULT_PATH fail with $VJ_FAULT_ERRNO (EIO or
 * ENOSPC, default EIO) once $VJ_FAULT_AFTER (default 0) of them succeeded.
 * $VJ_FAULT_OP=write|sync limits it to one kind. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long seen;

static int
hit(int fd, const char *op)
{
	const char *want = getenv("VJ_FAULT_PATH");
	const char *only = getenv("VJ_FAULT_OP");
	char link[64], path[4096];
	ssize_t n;

	if (!want || !*want || (only && strcmp(only, op)))
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return 0;
	path[n] = 0;
	if (!strstr(path, want))
		return 0;
	const char *after = getenv("VJ_FAULT_AFTER");
	if (seen++ < (after ? atol(after) : 0))
		return 0;
	const char *e = getenv("VJ_FAULT_ERRNO");
	errno = e && !strcmp(e, "ENOSPC") ? ENOSPC : EIO;
	return 1;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (hit(fd, "write"))
		return -1;
	return real(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	if (hit(fd, "write"))
		return -1;
	return real(fd, buf, n, off);
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (hit(fd, "sync"))
		return -1;
	return real(fd);
}

int
fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (hit(fd, "sync"))
		return -1;
	return real(fd);
}
