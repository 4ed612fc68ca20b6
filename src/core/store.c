/* store: content-addressed objects, RUN/objects/ab/cdef...  An object's name
 * is its sha256, so whoever reads one can check it, and a damaged one is
 * replaced when the same bytes are stored again.  Nothing here follows a
 * symbolic link: the store may sit in a directory others can see. */
#include "core/store.h"
#include "base/hash.h"
#include "base/safefs.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
store_path(const char *run, const char *sha)
{
	return xasprintf("%s/objects/%.2s/%s", run, sha, sha + 2);
}

int
store_has(const char *run, const char *sha, size_t n)
{
	char *p = store_path(run, sha);
	struct stat st;
	int r = lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == n;
	free(p);
	return r;
}

/* 1 when the object at path holds exactly the bytes whose hash is sha. */
static int
object_good(const char *path, const char *sha)
{
	int fd = safefs_open(path, O_RDONLY, 0);
	if (fd < 0)
		return 0;
	char got[65];
	int r = sha256_fd_hex(fd, got, NULL) == 0 && strcmp(got, sha) == 0;
	close(fd);
	return r;
}

/* One object written and not yet durable. */
struct pend {
	char sha[65];
	int fd;               /* open until the sweep: fdatasync needs it */
	char *tmp, *path;
};

struct store_batch {
	char *run;
	int max_n, nosync;
	size_t max_bytes, bytes;
	struct pend *p;
	int n, cap;
	unsigned char dirty[256];   /* objects/XX whose entries are to be fsynced */
	int failed;                 /* errno of a sync that failed: sticky, since
	                             * results naming its objects may be queued */
};

struct store_batch *
store_batch_new(const char *run, int max_n, size_t max_bytes, int nosync)
{
	struct store_batch *b = xcalloc(1, sizeof *b);
	b->run = xstrdup(run);
	b->max_n = max_n > 0 ? max_n : 1;
	b->max_bytes = max_bytes;
	b->nosync = nosync;
	return b;
}

int
store_batch_count(const struct store_batch *b)
{
	return b->n;
}

static int
hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static int
dir_of(const char *sha)
{
	return hexval(sha[0]) << 4 | hexval(sha[1]);
}

/* Drop what is not renamed yet: its temporaries are nobody's. */
static void
pend_drop(struct store_batch *b, int from)
{
	for (int i = from; i < b->n; i++) {
		if (b->p[i].fd >= 0)
			close(b->p[i].fd);
		unlink(b->p[i].tmp);
	}
	for (int i = 0; i < b->n; i++) {
		free(b->p[i].tmp);
		free(b->p[i].path);
	}
	b->n = 0;
	b->bytes = 0;
}

int
store_sync(struct store_batch *b)
{
	int i, e;
	if (b->failed) {
		errno = b->failed;
		return -1;
	}
	/* 1. data: one sweep.  Writeback of each began when it was added, so
	 * most of these find their pages written; the first one also commits
	 * the filesystem journal that holds the others' allocations.  Not
	 * syncfs: the store's filesystem is usually shared with everything
	 * else on the machine, whose dirty pages are not ours to wait for. */
	for (i = 0; !b->nosync && i < b->n; i++)
		if (fdatasync(b->p[i].fd) < 0) {
			i = 0;       /* nothing renamed: every temporary goes */
			goto fail;
		}
	/* 2. names: renamed only once durable, so an object under its final
	 * name is always whole, whatever crashes */
	for (i = 0; i < b->n; i++) {
		int fd = b->p[i].fd;
		b->p[i].fd = -1;
		if (close(fd) < 0 || rename(b->p[i].tmp, b->p[i].path) < 0) {
			e = errno;
			unlink(b->p[i].tmp);
			errno = e;
			goto fail;   /* those before i are in place, not yet durable */
		}
		b->dirty[dir_of(b->p[i].sha)] = 1;
	}
	/* 3. the directories: one fsync each, the first commits the renames
	 * of all of them on most filesystems and the rest find nothing to do */
	for (int d = 0; d < 256; d++) {
		if (!b->dirty[d])
			continue;
		b->dirty[d] = 0;
		char *dir = xasprintf("%s/objects/%02x", b->run, d);
		int r = b->nosync ? 0 : fsync_dir(dir);
		e = errno;
		free(dir);
		if (r < 0) {
			i = b->n;
			errno = e;
			goto fail;
		}
	}
	pend_drop(b, b->n);
	return 0;
fail:
	e = errno;
	pend_drop(b, i);
	b->failed = e ? e : EIO;
	errno = e;
	return -1;
}

int
store_add(struct store_batch *b, const void *buf, size_t n, char sha[65])
{
	char err[512];
	if (b->failed) {
		errno = b->failed;
		return -1;
	}
	/* the bytes are hashed where they lie, once: in memory, as received */
	sha256_hex(buf, n, sha);
	for (int i = 0; i < b->n; i++)
		if (!strcmp(b->p[i].sha, sha))
			return 0;   /* the same image twice in one group */
	char *dir = xasprintf("%s/objects/%.2s", b->run, sha);
	char *path = store_path(b->run, sha);
	/* temporaries live in one place, so a crashed writer's leftovers are
	 * found without walking the store (store_clean) */
	char *tdir = xasprintf("%s/objects/.tmp", b->run);
	char *tmp = xasprintf("%s/%ld.%s", tdir, (long)getpid(), sha);
	int fd = -1, r = -1, e;
	if (store_has(b->run, sha, n)) {
		/* The right size is not the right bytes: check, and replace a
		 * damaged object with the bytes we were given. */
		if (object_good(path, sha)) {
			/* whole, since only durable bytes are renamed; but a writer
			 * killed before its directory fsync may have left the name
			 * itself not durable: it is fsynced with this group */
			b->dirty[dir_of(sha)] = 1;
			r = b->max_n == 1 ? store_sync(b) : 0;
			goto out;
		}
		vj_warn("object store damaged: %s does not hold the bytes its name says; "
		    "replaced by the ones just stored", path);
	}
	if (mkdir_p(tdir, 0755) < 0 || safefs_dir(tdir, NULL, err, sizeof err) < 0 ||
	    safefs_mkdir(dir, err, sizeof err) < 0)
		goto out;
	unlink(tmp);   /* our own leftover from an earlier attempt, never followed */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	if (write_all(fd, buf, n) < 0)
		goto out;
#ifdef SYNC_FILE_RANGE_WRITE
	/* start the writeback now, while the network keeps the loop busy:
	 * the sweep then mostly waits for nothing */
	if (!b->nosync)
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->p = xrealloc(b->p, (size_t)b->cap * sizeof *b->p);
	}
	struct pend *pe = &b->p[b->n++];
	memcpy(pe->sha, sha, 65);
	pe->fd = fd;
	pe->tmp = tmp;
	pe->path = path;
	tmp = path = NULL;
	fd = -1;
	b->bytes += n;
	r = 0;
	if (b->n >= b->max_n || (b->max_bytes && b->bytes >= b->max_bytes))
		r = store_sync(b);
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (r < 0 && tmp)
		unlink(tmp);
	free(dir);
	free(tdir);
	free(path);
	free(tmp);
	errno = e;
	return r;
}

void
store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	pend_drop(b, 0);
	free(b->p);
	free(b->run);
	free(b);
}

int
store_put(const char *run, const void *buf, size_t n, char sha[65])
{
	struct store_batch *b = store_batch_new(run, 1, 0, 0);
	int r = store_add(b, buf, n, sha);
	int e = errno;
	store_batch_free(b);
	errno = e;
	return r;
}

/* A name store_put gives its temporaries: PID.SHA256HEX. */
static int
is_our_tmp(const char *name)
{
	const char *p = name;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '.' && hex_lower(p + 1, 64);
}

void
store_clean(const char *run)
{
	char *tdir = xasprintf("%s/objects/.tmp", run);
	int dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	struct stat st;
	if (!d && dfd >= 0)
		close(dfd);
	if (d) {
		/* Only regular files named like our own temporaries: whatever else
		 * is there was not put there by vj and is not ours to delete. */
		while ((de = readdir(d))) {
			if (!is_our_tmp(de->d_name))
				continue;
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
				unlinkat(dfd, de->d_name, 0);
		}
		closedir(d);
	}
	free(tdir);
}

int
store_open(const char *run, char *err, size_t errlen)
{
	char *obj = xasprintf("%s/objects", run);
	char *tdir = xasprintf("%s/objects/.tmp", run);
	int r = safefs_mkdir(obj, err, errlen) < 0 || safefs_mkdir(tdir, err, errlen) < 0 ? -1 : 0;
	free(obj);
	free(tdir);
	if (r == 0)
		store_clean(run);
	return r;
}

char *
store_get(const char *run, const char *sha, size_t *len)
{
	char *path = store_path(run, sha);
	char got[65];
	int fd = safefs_open(path, O_RDONLY, 0);
	char *p = fd >= 0 ? read_fd(fd, len, 0) : NULL;
	int e = errno;
	if (fd >= 0)
		close(fd);
	free(path);
	if (!p) {
		errno = e;
		return NULL;
	}
	sha256_hex(p, *len, got);
	if (strcmp(got, sha) != 0) {
		free(p);
		errno = EILSEQ;
		return NULL;
	}
	return p;
}
