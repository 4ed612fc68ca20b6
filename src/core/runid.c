/* runid: RUN/run.json, the run's id, and RUN/partition.json.  Both are read
 * without following a symbolic link (base/safefs.h): a run directory may
 * come from elsewhere. */
#include "core/runid.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static int
fill_random(unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
	}
	if (got == n)
		return 0;
	/* a kernel without getrandom(2) */
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (got = 0; got < n;) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			errno = r < 0 ? errno : EIO;
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}

int
runid_new(char id[RUNID_HEX + 1])
{
	unsigned char b[RUNID_HEX / 2];
	if (fill_random(b, sizeof b) < 0)
		return -1;
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	return 0;
}

int
runid_valid(const char *s)
{
	if (!s || strlen(s) != RUNID_HEX)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A small JSON file of the run, read without following a link: NULL with
 * *absent set when it does not exist, NULL with err on any other failure. */
static json_t *
load_small(const char *path, int *absent, char *err, size_t errlen)
{
	*absent = 0;
	int fd = safefs_open(path, O_RDONLY, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			*absent = 1;
		else
			snprintf(err, errlen, "cannot open %s: %s", path, safefs_why(errno));
		return NULL;
	}
	size_t len;
	char *s = read_fd(fd, &len, 65536);
	int e = errno;
	close(fd);
	if (!s) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		return NULL;
	}
	json_error_t je;
	json_t *v = json_loadb(s, len, 0, &je);
	free(s);
	if (!json_is_object(v)) {
		snprintf(err, errlen, "%s:%d: not a JSON object%s%s", path, v ? 1 : je.line,
		    v ? "" : ": ", v ? "" : je.text);
		json_decref(v);
		return NULL;
	}
	return v;
}

static int
read_id(const char *path, char id[RUNID_HEX + 1], int *absent, char *err, size_t errlen)
{
	json_t *v = load_small(path, absent, err, errlen);
	if (!v)
		return -1;
	json_int_t ver = json_integer_value(json_object_get(v, "version"));
	const char *s = json_string_value(json_object_get(v, "id"));
	int r = -1;
	if (!json_is_integer(json_object_get(v, "version")) || ver < 1)
		snprintf(err, errlen, "%s: no \"version\": not a vj run identity file", path);
	else if (ver > RUNID_VERSION)
		snprintf(err, errlen, "%s: format version %lld, this vj knows version %d only: use the "
		    "vj that made the run (or a newer one)", path, (long long)ver, RUNID_VERSION);
	else if (!runid_valid(s))
		snprintf(err, errlen, "%s: \"id\" is not 32 lowercase hex digits", path);
	else {
		memcpy(id, s, RUNID_HEX + 1);
		r = 0;
	}
	json_decref(v);
	return r;
}

/* Write run.json under a temporary name and link it into place: link(2)
 * fails if another writer got there first, and then its id is the run's. */
static int
create_id(const char *run, const char *path, char *err, size_t errlen)
{
	char id[RUNID_HEX + 1];
	if (runid_new(id) < 0)
		return errf(err, errlen, "cannot make a run id: %s", strerror(errno));
	char *tmp = xasprintf("%s/.run.json.tmp.%ld", run, (long)getpid());
	char *js = xasprintf("{\"version\":%d,\"id\":\"%s\",\"created\":%lld}\n", RUNID_VERSION, id,
	    (long long)now_ms());
	int r = safefs_write_small(run, tmp, path, js, strlen(js), 0, err, errlen);
	free(tmp);
	free(js);
	return r;
}

int
runid_get(const char *run, char id[RUNID_HEX + 1], int create, char *err, size_t errlen)
{
	char *path = xasprintf("%s/run.json", run);
	int absent, r;
	r = read_id(path, id, &absent, err, errlen);
	if (r < 0 && absent) {
		r = 1;
		int exists;
		if (create && safefs_dir(run, &exists, err, errlen) == 0) {
			if (!exists)
				r = errf(err, errlen, "run %s does not exist", run);
			else if ((r = create_id(run, path, err, errlen)) == 0)
				r = read_id(path, id, &absent, err, errlen);
		} else if (create) {
			r = -1;
		}
	}
	free(path);
	return r;
}

int
runid_partition(const char *run, int *k, int *n, char *err, size_t errlen)
{
	char *path = xasprintf("%s/partition.json", run);
	int absent;
	json_t *v = load_small(path, &absent, err, errlen);
	int r = -1;
	if (!v) {
		r = absent ? 0 : -1;
	} else {
		json_t *jk = json_object_get(v, "k"), *jn = json_object_get(v, "n");
		json_int_t vk = json_integer_value(jk), vn = json_integer_value(jn);
		if (!json_is_integer(jk) || !json_is_integer(jn) || vk < 1 || vn < vk || vn > INT_MAX)
			snprintf(err, errlen, "%s: not a partition (want {\"k\":K,\"n\":N} with 1 <= K <= N)",
			    path);
		else {
			*k = (int)vk;
			*n = (int)vn;
			r = 1;
		}
	}
	json_decref(v);
	free(path);
	return r;
}
