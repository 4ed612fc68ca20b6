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

int
store_put(const char *run, const void *buf, size_t n, char sha[65])
{
	char err[512];
	sha256_hex(buf, n, sha);
	char *dir = xasprintf("%s/objects/%.2s", run, sha);
	char *path = store_path(run, sha);
	/* temporaries live in one place, so a crashed writer's leftovers are
	 * found without walking the store (store_clean) */
	char *tdir = xasprintf("%s/objects/.tmp", run);
	char *tmp = xasprintf("%s/%ld.%s", tdir, (long)getpid(), sha);
	int fd = -1, r = -1, e;
	if (store_has(run, sha, n)) {
		/* The right size is not the right bytes: check, and replace a
		 * damaged object with the bytes we were given. */
		if (object_good(path, sha)) {
			r = 0;
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
	if (write_all(fd, buf, n) < 0 || fsync(fd) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto out;
	r = fsync_dir(dir);
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	free(dir);
	free(tdir);
	free(path);
	free(tmp);
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
