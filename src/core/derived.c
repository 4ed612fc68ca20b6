/* derived: the index of derived objects, RUN/derived/SRCSHA-PARAMS, one
 * small JSON file per entry: {"sha256", "mime", "bytes", "width",
 * "height"}.  The objects themselves are ordinary store objects, named by
 * their own hash.  A file per entry needs no lock and no compaction, and a
 * crash leaves at worst a temporary (".tmp.PID.NAME", replaced next time). */
#include "core/derived.h"
#include "core/store.h"
#include "base/safefs.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
hex64(const char *s)
{
	size_t i;
	for (i = 0; s && s[i]; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return i == 64;
}

static int
params_ok(const char *p)
{
	size_t i;
	for (i = 0; p && p[i]; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]))
			return 0;
	return i > 0 && i <= 64 && p[0] != '.';
}

static int
mime_ok(const char *m)
{
	if (!m || strncmp(m, "image/", 6) != 0 || strlen(m) >= sizeof(((struct derived_obj *)0)->mime))
		return 0;
	for (const char *p = m + 6; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".+-", *p))
			return 0;
	return m[6] != 0;
}

int
derived_get(const char *run, const char *src, const char *params, struct derived_obj *o)
{
	char *path;
	int fd, found = 0;
	size_t len;
	char *text;
	json_t *j;

	if (!hex64(src) || !params_ok(params))
		return 0;
	path = xasprintf("%s/derived/%s-%s", run, src, params);
	fd = safefs_open(path, O_RDONLY | O_CLOEXEC, 0);
	free(path);
	if (fd < 0)
		return 0;
	text = read_fd(fd, &len, 4096);
	close(fd);
	if (!text)
		return 0;
	j = json_loadb(text, len, 0, NULL);
	free(text);
	const char *sha = json_string_value(json_object_get(j, "sha256"));
	const char *mime = json_string_value(json_object_get(j, "mime"));
	json_int_t bytes = json_integer_value(json_object_get(j, "bytes"));
	json_int_t w = json_integer_value(json_object_get(j, "width"));
	json_int_t h = json_integer_value(json_object_get(j, "height"));
	/* trust nothing a run directory says: a bad entry is made again */
	if (hex64(sha) && mime_ok(mime) && bytes > 0 && w > 0 && h > 0 && w <= 1000000 &&
	    h <= 1000000 && store_has(run, sha, (size_t)bytes)) {
		memcpy(o->sha256, sha, 65);
		snprintf(o->mime, sizeof o->mime, "%s", mime);
		o->bytes = bytes;
		o->width = (int)w;
		o->height = (int)h;
		found = 1;
	}
	json_decref(j);
	return found;
}

int
derived_put(const char *run, const char *src, const char *params, const void *p, size_t n,
    const char *mime, int width, int height, struct derived_obj *o, char *err, size_t errlen)
{
	char *dir, *path, *tmp, *text;
	int fd, r = -1;

	if (!hex64(src) || !params_ok(params) || !mime_ok(mime))
		return errf(err, errlen, "derived object: bad source, parameters or type");
	if (store_put(run, p, n, o->sha256) < 0)
		return errf(err, errlen, "cannot store a derived object in %s/objects: %s", run,
		    strerror(errno));
	snprintf(o->mime, sizeof o->mime, "%s", mime);
	o->bytes = (long long)n;
	o->width = width;
	o->height = height;
	dir = xasprintf("%s/derived", run);
	path = xasprintf("%s/%s-%s", dir, src, params);
	tmp = xasprintf("%s/.tmp.%ld.%s-%s", dir, (long)getpid(), src, params);
	text = xasprintf("{\"sha256\":\"%s\",\"mime\":\"%s\",\"bytes\":%zu,\"width\":%d,\"height\":%d}\n",
	    o->sha256, o->mime, n, width, height);
	if (safefs_mkdir(dir, err, errlen) < 0)
		goto out;
	unlink(tmp);   /* our own leftover: never followed, a link is removed, not its target */
	fd = safefs_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		errf(err, errlen, "%s: %s", tmp, safefs_why(errno));
		goto out;
	}
	if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fsync_dir(dir);
	r = 0;
out:
	free(dir);
	free(path);
	free(tmp);
	free(text);
	return r;
}
