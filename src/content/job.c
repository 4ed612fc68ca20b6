/* job: manifest lines into normalised jobs.  Field names are those of the
 * original createJob request; snake_case aliases are accepted. */
#include "content/job.h"
#include "base/hash.h"
#include "base/jarena.h"
#include "base/key.h"
#include "base/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
	const char *name, *alias;
};

static const struct field fields[] = {
	{ "imageUrl", "image_url" },
	{ "imageContext", "image_context" },
	{ "analysisPurpose", "analysis_purpose" },
	{ "outputFormat", "output_format" },
	{ "creativityLevel", "creativity_level" },
	{ "id", NULL },
	{ "meta", NULL },
};
#define NFIELDS (sizeof fields / sizeof fields[0])

int
job_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > JOB_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* The value of a field under its name or alias; both with different values
 * is an error. */
static int
get(json_t *o, const struct field *f, json_t **v, char *err, size_t errlen)
{
	json_t *a = json_object_get(o, f->name);
	json_t *b = f->alias ? json_object_get(o, f->alias) : NULL;
	if (a && b && !json_equal(a, b)) {
		snprintf(err, errlen, "%s and %s disagree", f->name, f->alias);
		return -1;
	}
	*v = a ? a : b;
	return 0;
}

static const char *
type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* The scheme of u ("http", "data", ...), if it has one, into out. */
static int
url_scheme(const char *u, char *out, size_t n)
{
	size_t i = 0;
	if (!((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
		return 0;
	while (u[i] && (isalnum((unsigned char)u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.'))
		i++;
	if (u[i] != ':' || i >= n)
		return 0;
	for (size_t k = 0; k < i; k++)
		out[k] = (char)tolower((unsigned char)u[k]);
	out[i] = 0;
	return 1;
}

/* An http(s) URL, checked by libcurl's own parser (what the fetch will use):
 * a host, no credentials (they would be kept in the journal, every record
 * and every shard), no whitespace. */
static char *
http_url(const char *u, char *err, size_t errlen)
{
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(err, errlen, "imageUrl: contains whitespace or control characters");
			return NULL;
		}
	CURLU *h = curl_url();
	char *host = NULL, *user = NULL, *pass = NULL, *r = NULL;
	if (!h || curl_url_set(h, CURLUPART_URL, u, 0) != CURLUE_OK) {
		snprintf(err, errlen, "imageUrl: not a valid URL");
		goto out;
	}
	curl_url_get(h, CURLUPART_USER, &user, 0);
	curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
	if (user || pass) {
		/* the URL itself is not repeated: it holds the password */
		snprintf(err, errlen, "imageUrl: credentials in the URL (user:password@host) are not "
		    "accepted: vj would keep them in its journal, records and shards");
		goto out;
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
		snprintf(err, errlen, "imageUrl: '%.200s' has no host", u);
		goto out;
	}
	r = xstrdup(u);   /* as written: the job's key is made from it */
out:
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(h);
	return r;
}

/* %XX in a file URL's path; NULL when an escape is broken or makes a NUL. */
static char *
pct_decode(const char *s)
{
	char *o = xmalloc(strlen(s) + 1), *q = o;
	for (; *s; s++) {
		if (*s != '%') {
			*q++ = *s;
			continue;
		}
		if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2])) {
			free(o);
			return NULL;
		}
		char hx[3] = { s[1], s[2], 0 };
		long c = strtol(hx, NULL, 16);
		if (c == 0) {
			free(o);
			return NULL;
		}
		*q++ = (char)c;
		s += 2;
	}
	*q = 0;
	return o;
}

/* http(s) URLs stay as written; file:// URLs (percent-decoded) and plain
 * paths become file:///absolute; any other scheme, or //host, is a bad line,
 * never a local path (docs/manifest.md, "imageUrl"). */
static char *
norm_url(const char *u, const char *basedir, char *err, size_t errlen)
{
	char scheme[32];
	if (url_scheme(u, scheme, sizeof scheme)) {
		if (!strcmp(scheme, "http") || !strcmp(scheme, "https"))
			return http_url(u, err, errlen);
		if (strcmp(scheme, "file") != 0) {
			snprintf(err, errlen, "imageUrl: scheme '%.20s' is not http, https or file", scheme);
			return NULL;
		}
		const char *path = u + 5;
		if (strncmp(path, "//", 2) != 0) {
			snprintf(err, errlen, "imageUrl: a file URL is file:///absolute/path");
			return NULL;
		}
		path += 2;
		if (strncasecmp(path, "localhost/", 10) == 0)
			path += 9;
		if (*path != '/') {
			snprintf(err, errlen, "imageUrl: file URL '%.200s' must be absolute (file:///path); "
			    "a host is not allowed", u);
			return NULL;
		}
		if (strpbrk(path, "?#")) {
			snprintf(err, errlen, "imageUrl: a file URL carries no query or fragment "
			    "(write '?' as %%3F and '#' as %%23)");
			return NULL;
		}
		char *dec = pct_decode(path);
		if (!dec) {
			snprintf(err, errlen, "imageUrl: file URL '%.200s' has a broken %%-escape", u);
			return NULL;
		}
		char *r = xasprintf("file://%s", dec);
		free(dec);
		return r;
	}
	if (u[0] == '/' && u[1] == '/') {
		snprintf(err, errlen, "imageUrl: '%.200s' names a host without a scheme: write "
		    "https:%.200s, or a local path with one leading slash", u, u);
		return NULL;
	}
	if (*u == '/')
		return xasprintf("file://%s", u);
	return xasprintf("file://%s/%s", basedir, u);
}

int
job_normalize(const char *line, size_t len, const char *basedir, int strict,
    json_t **jobp, char **canonp, char id[JOB_ID_MAX + 1], char key[33], char legacy[33],
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *in, *v, *job = NULL;
	int rc = -1;

	if (memchr(line, 0, len)) {
		snprintf(err, errlen, "NUL byte in the line");
		return -1;
	}
	in = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!in) {
		if (strstr(je.text, "unable to decode byte"))
			snprintf(err, errlen, "invalid UTF-8 at column %d (%s)", je.column, je.text);
		else
			snprintf(err, errlen, "malformed JSON at column %d: %s", je.column, je.text);
		return -1;
	}
	if (!json_is_object(in)) {
		snprintf(err, errlen, "not a JSON object but %s", type_name(in));
		goto out;
	}
	const char *k;
	json_object_foreach(in, k, v) {
		size_t i;
		for (i = 0; i < NFIELDS; i++)
			if (!strcmp(k, fields[i].name) || (fields[i].alias && !strcmp(k, fields[i].alias)))
				break;
		if (i == NFIELDS && strict) {
			snprintf(err, errlen, "%s: unknown field (--strict)", k);
			goto out;
		}
	}
	job = json_object();
	/* imageUrl */
	if (get(in, &fields[0], &v, err, errlen) < 0)
		goto out;
	if (!v || (json_is_string(v) && !*json_string_value(v))) {
		snprintf(err, errlen, "imageUrl: missing or empty (required)");
		goto out;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "imageUrl: must be a string, not %s", type_name(v));
		goto out;
	}
	const char *written = json_string_value(v);
	char *u = norm_url(written, basedir, err, errlen);
	if (!u)
		goto out;
	json_object_set_new(job, "imageUrl", json_string(u));
	free(u);
	/* a plain relative path: resolved against basedir for fetching,
	 * kept as written in what is journaled, keyed and printed */
	char sch[32];
	const char *rel = !url_scheme(written, sch, sizeof sch) && *written != '/' ? written : NULL;
	/* the optional strings */
	for (int i = 1; i <= 3; i++) {
		if (get(in, &fields[i], &v, err, errlen) < 0)
			goto out;
		if (v && !json_is_string(v) && !json_is_null(v)) {
			snprintf(err, errlen, "%s: must be a string, not %s", fields[i].name, type_name(v));
			goto out;
		}
		const char *s = v && json_is_string(v) ? json_string_value(v) : "";
		if (i == 3) {
			if (!*s)
				s = "detailed_analysis";
			for (const char *p = s; *p; p++)
				if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
					snprintf(err, errlen, "outputFormat: '%.40s' is not a format name ([a-z0-9_-])", s);
					goto out;
				}
		}
		json_object_set_new(job, fields[i].name, json_string(s));
	}
	/* creativityLevel 0..2 is the sampling temperature */
	if (get(in, &fields[4], &v, err, errlen) < 0)
		goto out;
	double cl = 1.0;
	if (v && !json_is_null(v)) {
		if (!json_is_number(v)) {
			snprintf(err, errlen, "creativityLevel: must be a number, not %s", type_name(v));
			goto out;
		}
		cl = json_number_value(v);
		if (!(cl >= 0 && cl <= 2)) {
			snprintf(err, errlen, "creativityLevel: %g is outside 0..2", cl);
			goto out;
		}
	}
	json_object_set_new(job, "creativityLevel", json_real(cl));
	/* meta passes through untouched */
	v = json_object_get(in, "meta");
	if (v && !json_is_null(v))
		json_object_set(job, "meta", v);

	/* the absolute form derives ids, as it always has: two manifests in
	 * two directories naming "a.jpg" without ids are two jobs */
	char *canon = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	v = json_object_get(in, "id");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "id: must be a string, not %s", type_name(v));
			jarena_free(canon);
			goto out;
		}
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (!job_id_valid(s, n)) {
			if (n > JOB_ID_MAX)
				snprintf(err, errlen, "id: %zu characters, at most %d allowed", n, JOB_ID_MAX);
			else
				snprintf(err, errlen, "id: '%.40s' must match [A-Za-z0-9_-]{1,%d} (no dots or slashes)", s, JOB_ID_MAX);
			jarena_free(canon);
			goto out;
		}
		memcpy(id, s, n + 1);
	} else {
		/* derived from the normalised job: the same job gets the same id */
		char h[65];
		sha256_hex(canon, strlen(canon), h);
		snprintf(id, JOB_ID_MAX + 1, "j%.19s", h);
	}
	char *withid = xasprintf("%s\n%s", id, canon);
	key_derive("ingest", "job/v1", withid, key);
	free(withid);
	*legacy = 0;
	if (rel) {
		memcpy(legacy, key, 33);
		json_t *portable = json_copy(job);
		json_object_set_new(portable, "imageUrl", json_string(rel));
		jarena_free(canon);
		canon = json_dumps(portable, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
		json_decref(portable);
		withid = xasprintf("%s\n%s", id, canon);
		key_derive("ingest", "job/v1", withid, key);
		free(withid);
	}
	*canonp = canon;    /* the normalised job as text: journaled and printed as is */
	*jobp = job;
	job = NULL;
	rc = 0;
out:
	json_decref(job);
	json_decref(in);
	return rc;
}
