/* store: content-addressed objects. */
#include "core/store.h"
#include "base/hash.h"
#include "base/util.h"

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
	int r = stat(p, &st) == 0 && (size_t)st.st_size == n;
	free(p);
	return r;
}

int
store_put(const char *run, const void *buf, size_t n, char sha[65])
{
	sha256_hex(buf, n, sha);
	if (store_has(run, sha, n))
		return 0;
	char *dir = xasprintf("%s/objects/%.2s", run, sha);
	char *path = store_path(run, sha);
	/* temporaries live in one place, so a crashed writer's leftovers are
	 * found without walking the store (store_clean) */
	char *tdir = xasprintf("%s/objects/.tmp", run);
	char *tmp = xasprintf("%s/%ld.%s", tdir, (long)getpid(), sha);
	int fd = -1, r = -1, e;
	if (mkdir_p(dir, 0755) < 0 || mkdir_p(tdir, 0755) < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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

void
store_clean(const char *run)
{
	char *tdir = xasprintf("%s/objects/.tmp", run);
	DIR *d = opendir(tdir);
	struct dirent *de;
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char *p = xasprintf("%s/%s", tdir, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	free(tdir);
}

char *
store_get(const char *run, const char *sha, size_t *len)
{
	char *path = store_path(run, sha);
	char got[65];
	char *p = read_file(path, len, 0);
	int e = errno;
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
