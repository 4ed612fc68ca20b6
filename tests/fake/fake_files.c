/*
 * fake_files.c: the files half of the batch APIs.  Gemini's resumable
 * upload protocol and OpenAI's multipart upload, file metadata, and
 * downloads, which are sent from the file on disk (fake_net.c sends a
 * response's file with sendfile), so big outputs never sit in memory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fake_batch.h"

struct fake_upload {
	char	 id[40];
	char	*name, *mime, *path;
	int64_t	 declared;	/* X-Goog-Upload-Header-Content-Length, -1 unknown */
	uint64_t got;
	int	 done;
};

static struct fake_file **fake_files;
static size_t fake_nfiles;
static struct fake_upload **fake_ups;
static size_t fake_nups;
static char *fake_dir;
static int fake_dir_ours;	/* made by us: removed on exit */
static uint64_t fake_idrng;
static long fake_seq;

const char *
fake_files_dir(void)
{
	char tmpl[4096];
	const char *t = getenv("TMPDIR");

	if (fake_dir != NULL)
		return fake_dir;
	if (fake_bopt.dir != NULL) {
		if (mkdir(fake_bopt.dir, 0700) == -1 && errno != EEXIST)
			fake_die("%s: %s", fake_bopt.dir, strerror(errno));
		fake_dir = fake_xstrdup(fake_bopt.dir);
		return fake_dir;
	}
	snprintf(tmpl, sizeof(tmpl), "%s/vj-fake-batch.XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		fake_die("%s: %s", tmpl, strerror(errno));
	fake_dir = fake_xstrdup(tmpl);
	fake_dir_ours = 1;
	return fake_dir;
}

/* Ids look like the providers' and are the same in every run with one --seed. */
void
fake_make_id(char *out, size_t outlen, const char *prefix, int len, int lower)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strlen(prefix), i;

	if (fake_idrng == 0)
		fake_idrng = fake_opt.seed ^ 0x62617463686964ULL;
	snprintf(out, outlen, "%s", prefix);
	for (i = 0; i < (size_t)len && n + i + 1 < outlen; i++)
		out[n + i] = al[fake_rand(&fake_idrng) % (lower ? 36 : 62)];
	out[n + i] = '\0';
}

void
fake_rfc3339(char *out, size_t n, time_t t, unsigned ms)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

static char *
fake_path_for(const char *what)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s-%ld", fake_files_dir(), what, ++fake_seq);
	return fake_xstrdup(p);
}

/* A new stored file with an empty file on disk; ID NULL makes one. */
struct fake_file *
fake_file_new(int family, const char *id, const char *name, const char *mime,
    const char *purpose)
{
	struct fake_file *f = calloc(1, sizeof(*f));
	int fd;

	if (f == NULL)
		fake_die("out of memory");
	f->family = family;
	if (id != NULL)
		snprintf(f->id, sizeof(f->id), "%s", id);
	else if (family == FAM_GEMINI)
		fake_make_id(f->id, sizeof(f->id), "", 12, 1);
	else
		fake_make_id(f->id, sizeof(f->id), "file-", 24, 0);
	f->name = fake_xstrdup(name ? name : "");
	f->mime = fake_xstrdup(mime ? mime : "application/jsonl");
	f->purpose = fake_xstrdup(purpose ? purpose : "batch");
	f->path = fake_path_for("file");
	f->created = time(NULL);
	if ((fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		fake_die("%s: %s", f->path, strerror(errno));
	close(fd);
	fake_files = realloc(fake_files, (fake_nfiles + 1) * sizeof(*fake_files));
	if (fake_files == NULL)
		fake_die("out of memory");
	fake_files[fake_nfiles++] = f;
	return f;
}

struct fake_file *
fake_file_find(int family, const char *id)
{
	size_t i;

	for (i = 0; i < fake_nfiles; i++)
		if (fake_files[i]->family == family && !fake_files[i]->deleted &&
		    strcmp(fake_files[i]->id, id) == 0)
			return fake_files[i];
	return NULL;
}

json_t *
fake_file_json(const struct fake_file *f)
{
	char t[40], exp[40], uri[256], size[32];

	if (f->family == FAM_OPENAI)
		return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:n}", "id", f->id,
		    "object", "file", "bytes", (json_int_t)f->size,
		    "created_at", (json_int_t)f->created, "filename", f->name,
		    "purpose", f->purpose, "status", "processed", "status_details");
	fake_rfc3339(t, sizeof(t), f->created, 0);
	fake_rfc3339(exp, sizeof(exp), f->created + 48 * 3600, 0);
	snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/v1beta/files/%s", fake_opt.port, f->id);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)f->size);
	return json_pack("{s:s+,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
	    "name", "files/", f->id, "displayName", f->name, "mimeType", f->mime,
	    "sizeBytes", size, "createTime", t, "updateTime", t, "expirationTime", exp,
	    "uri", uri, "state", "ACTIVE", "source", "UPLOADED");
}

static int
fake_write_all(const char *path, int append, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
	ssize_t w;

	if (fd == -1)
		return -1;
	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return close(fd);
}

/* Uploads are spooled to the batch directory as they arrive (fake_http.c),
 * so a big file never sits in memory.  Returns the fd, or -1. */
int
fake_files_spool(const struct fake_req *rq, char **path)
{
	const char *p = rq->path;
	int fd;

	if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "PUT") != 0)
		return -1;
	if (!(strcmp(p, "/upload/v1beta/files") == 0 && strstr(rq->target, "upload_id=")) &&
	    strcmp(p, "/v1/files") != 0 && strcmp(p, "/files") != 0)
		return -1;
	*path = fake_path_for("spool");
	if ((fd = open(*path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		free(*path);
		*path = NULL;
	}
	return fd;
}

/* Append the file FROM to the file TO. */
static int
fake_append_file(const char *to, const char *from)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (in == -1)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (fake_write_all(to, 1, buf, (size_t)n) == -1) {
			rc = -1;
			break;
		}
	close(in);
	return n < 0 ? -1 : rc;
}

/* Send a stored file as the body (counted as a download). */
static int
fake_send_file(struct fake_resp *rs, struct fake_file *f, const char *ctype)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	struct stat sb;

	if (fd == -1 || fstat(fd, &sb) == -1) {
		if (fd != -1)
			close(fd);
		FAKE_GERR(rs, 500, NULL);
		return 500;
	}
	rs->status = 200;
	rs->ctype = ctype;
	rs->file_fd = fd;
	rs->file_on = 1;
	rs->file_len = (uint64_t)sb.st_size;
	fake_bc.downloads++;
	fake_bc.download_bytes += (long)sb.st_size;
	return 200;
}

static int
fake_too_big(uint64_t n)
{
	return fake_bopt.upload_max > 0 && n > fake_bopt.upload_max;
}

/* ---- Gemini: the resumable protocol ---- */

static struct fake_upload *
fake_upload_find(const char *target)
{
	const char *q = strstr(target, "upload_id="), *e;
	size_t i, n;

	if (q == NULL)
		return NULL;
	q += 10;
	e = strchr(q, '&');
	n = e ? (size_t)(e - q) : strlen(q);
	for (i = 0; i < fake_nups; i++)
		if (strlen(fake_ups[i]->id) == n && strncmp(fake_ups[i]->id, q, n) == 0)
			return fake_ups[i];
	return NULL;
}

static int
fake_gemini_413(struct fake_resp *rs)
{
	FAKE_GERR(rs, 413, "Request payload size exceeds the limit.");
	return 413;
}

static int
fake_upload_start(struct fake_req *rq, struct fake_resp *rs)
{
	char v[256], mime[256];
	struct fake_upload *u;
	json_t *meta, *file;
	json_error_t jerr;
	const char *name;

	if (fake_req_header(rq, "x-goog-upload-protocol", v, sizeof(v)) < 0 ||
	    strcasecmp(v, "resumable") != 0) {
		FAKE_GERR(rs, 400, "vj-fake only implements X-Goog-Upload-Protocol: resumable.");
		return 400;
	}
	if (fake_req_header(rq, "x-goog-upload-command", v, sizeof(v)) < 0 ||
	    strcasecmp(v, "start") != 0) {
		FAKE_GERR(rs, 400, "X-Goog-Upload-Command must be start.");
		return 400;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		fake_die("out of memory");
	u->declared = -1;
	if (fake_req_header(rq, "x-goog-upload-header-content-length", v, sizeof(v)) >= 0) {
		char *end;

		u->declared = strtoll(v, &end, 10);
		if (*end != '\0' || u->declared < 0) {
			free(u);
			FAKE_GERR(rs, 400, "Bad X-Goog-Upload-Header-Content-Length.");
			return 400;
		}
		if (fake_too_big((uint64_t)u->declared)) {
			free(u);
			return fake_gemini_413(rs);
		}
	}
	if (fake_req_header(rq, "x-goog-upload-header-content-type", mime, sizeof(mime)) < 0)
		snprintf(mime, sizeof(mime), "application/octet-stream");
	meta = rq->bodylen ? json_loadb(rq->body, rq->bodylen, 0, &jerr) : NULL;
	file = json_object_get(meta, "file");
	name = json_string_value(json_object_get(file, "display_name"));
	if (name == NULL)
		name = json_string_value(json_object_get(file, "displayName"));
	u->name = fake_xstrdup(name ? name : "");
	u->mime = fake_xstrdup(mime);
	json_decref(meta);
	fake_make_id(u->id, sizeof(u->id), "AU", 30, 0);
	u->path = fake_path_for("upload");
	if (fake_write_all(u->path, 0, "", 0) == -1)
		fake_die("%s: %s", u->path, strerror(errno));
	fake_ups = realloc(fake_ups, (fake_nups + 1) * sizeof(*fake_ups));
	if (fake_ups == NULL)
		fake_die("out of memory");
	fake_ups[fake_nups++] = u;
	fake_resp_header(rs, "x-goog-upload-url: http://127.0.0.1:%d/upload/v1beta/files?"
	    "upload_id=%s&upload_protocol=resumable", fake_opt.port, u->id);
	fake_resp_header(rs, "x-goog-upload-status: active");
	fake_resp_header(rs, "x-goog-upload-chunk-granularity: 8388608");
	rs->status = 200;
	rs->ctype = "text/plain; charset=utf-8";
	return 200;
}

static int
fake_upload_finish(struct fake_upload *u, struct fake_resp *rs)
{
	struct fake_file *f;

	if (u->declared >= 0 && (uint64_t)u->declared != u->got) {
		char msg[160];

		snprintf(msg, sizeof(msg), "Upload has %llu bytes, %lld were declared.",
		    (unsigned long long)u->got, (long long)u->declared);
		FAKE_GERR(rs, 400, msg);
		return 400;
	}
	f = fake_file_new(FAM_GEMINI, NULL, u->name, u->mime, "batch");
	/* The upload's bytes become the file's: no copy. */
	if (rename(u->path, f->path) == -1)
		fake_die("%s: %s", f->path, strerror(errno));
	f->size = u->got;
	u->done = 1;
	fake_bc.uploads++;
	fake_bc.upload_bytes += (long)u->got;
	fake_resp_header(rs, "x-goog-upload-status: final");
	fake_resp_json(rs, 200, json_pack("{s:o}", "file", fake_file_json(f)));
	return 200;
}

static int
fake_upload_step(struct fake_req *rq, struct fake_resp *rs, struct fake_upload *u)
{
	char cmd[128], v[64];
	int upload, finalize, query;
	long long off = 0;

	/* The upload id is the credential, as on Google; a wrong key is still wrong. */
	if (rq->goog_key != NULL && fake_opt.key != NULL && strcmp(rq->goog_key, fake_opt.key)) {
		FAKE_GERR(rs, 400, NULL);
		return 400;
	}
	if (u->done) {
		FAKE_GERR(rs, 400, "The upload is already finalized.");
		return 400;
	}
	if (fake_req_header(rq, "x-goog-upload-command", cmd, sizeof(cmd)) < 0)
		cmd[0] = '\0';
	upload = strstr(cmd, "upload") != NULL;
	finalize = strstr(cmd, "finalize") != NULL;
	query = strstr(cmd, "query") != NULL;
	if (!upload && !finalize && !query) {
		FAKE_GERR(rs, 400, "X-Goog-Upload-Command must be upload, finalize or query.");
		return 400;
	}
	if (query) {
		fake_resp_header(rs, "x-goog-upload-status: active");
		fake_resp_header(rs, "x-goog-upload-size-received: %llu", (unsigned long long)u->got);
		rs->status = 200;
		rs->ctype = "text/plain; charset=utf-8";
		return 200;
	}
	if (upload) {
		if (fake_req_header(rq, "x-goog-upload-offset", v, sizeof(v)) < 0 ||
		    sscanf(v, "%lld", &off) != 1 || off < 0 || (uint64_t)off != u->got) {
			char msg[160];

			snprintf(msg, sizeof(msg), "X-Goog-Upload-Offset must be %llu.",
			    (unsigned long long)u->got);
			FAKE_GERR(rs, 400, msg);
			return 400;
		}
		if (fake_too_big(u->got + rq->bodylen))
			return fake_gemini_413(rs);
		/* A spooled body becomes the upload (renamed), or is appended. */
		if (rq->spool != NULL && u->got == 0 ? rename(rq->spool, u->path) == -1
		    : rq->spool != NULL ? fake_append_file(u->path, rq->spool) == -1
		    : fake_write_all(u->path, 1, rq->body, rq->bodylen) == -1)
			fake_die("%s: %s", u->path, strerror(errno));
		u->got += rq->bodylen;
	}
	if (finalize)
		return fake_upload_finish(u, rs);
	fake_resp_header(rs, "x-goog-upload-status: active");
	rs->status = 200;
	rs->ctype = "text/plain; charset=utf-8";
	return 200;
}

static int
fake_gemini_files(struct fake_req *rq, struct fake_resp *rs, const char *rest)
{
	const char *p = rq->path;
	struct fake_file *f;
	char id[64];
	size_t n;

	if (strcmp(p, "/upload/v1beta/files") == 0) {
		struct fake_upload *u = fake_upload_find(rq->target);

		if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "PUT") != 0) {
			FAKE_GERR(rs, 405, "Method not allowed.");
			return 405;
		}
		if (u != NULL)
			return fake_upload_step(rq, rs, u);
		if (strstr(rq->target, "upload_id=") != NULL) {
			FAKE_GERR(rs, 404, "No such upload.");
			return 404;
		}
		if (!(fake_opt.key == NULL || (rq->goog_key && !strcmp(rq->goog_key, fake_opt.key)))) {
			FAKE_GERR(rs, 400, NULL);
			return 400;
		}
		return fake_upload_start(rq, rs);
	}
	if (!(fake_opt.key == NULL || (rq->goog_key && !strcmp(rq->goog_key, fake_opt.key)))) {
		FAKE_GERR(rs, 400, NULL);
		return 400;
	}
	/* /v1beta/files, /v1beta/files/ID, /download/v1beta/files/ID:download */
	if (*rest == '\0' && strcmp(rq->method, "GET") == 0) {
		json_t *a = json_array();
		size_t i;

		for (i = 0; i < fake_nfiles; i++)
			if (fake_files[i]->family == FAM_GEMINI && !fake_files[i]->deleted)
				json_array_append_new(a, fake_file_json(fake_files[i]));
		fake_resp_json(rs, 200, json_pack("{s:o}", "files", a));
		return 200;
	}
	n = strcspn(rest, ":");
	if (n == 0 || n >= sizeof(id)) {
		FAKE_GERR(rs, 404, NULL);
		return 404;
	}
	memcpy(id, rest, n);
	id[n] = '\0';
	if ((f = fake_file_find(FAM_GEMINI, id)) == NULL) {
		FAKE_GERR(rs, 404, NULL);
		return 404;
	}
	if (strcmp(rq->method, "DELETE") == 0) {
		f->deleted = 1;
		unlink(f->path);
		fake_resp_json(rs, 200, json_object());
		return 200;
	}
	if (strncmp(p, "/download/", 10) == 0 && strcmp(rest + n, ":download") == 0 &&
	    strstr(rq->target, "alt=media") != NULL)
		return fake_send_file(rs, f, "application/octet-stream");
	if (rest[n] != '\0' && strcmp(rest + n, ":download") != 0) {
		FAKE_GERR(rs, 404, NULL);
		return 404;
	}
	fake_resp_json(rs, 200, fake_file_json(f));
	return 200;
}

/* ---- OpenAI: multipart/form-data ---- */

/* The boundary of a multipart Content-Type, without quotes. */
static int
fake_boundary(struct fake_req *rq, char *out, size_t n)
{
	char ct[512], *b, *e;

	if (fake_req_header(rq, "content-type", ct, sizeof(ct)) < 0 ||
	    strncasecmp(ct, "multipart/form-data", 19) != 0 ||
	    (b = strcasestr(ct, "boundary=")) == NULL)
		return -1;
	b += 9;
	if (*b == '"') {
		b++;
		e = strchr(b, '"');
	} else {
		e = b + strcspn(b, "; ");
	}
	if (e == NULL || e == b || (size_t)(e - b) + 3 > n)
		return -1;
	snprintf(out, n, "--%.*s", (int)(e - b), b);
	return 0;
}

/* The value of PARAM="..." in a Content-Disposition line. */
static void
fake_disp_param(const char *h, size_t hl, const char *param, char *out, size_t n)
{
	char pat[32];
	const char *p, *e, *end = h + hl;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), " %s=\"", param);
	if ((p = memmem(h, hl, pat, strlen(pat))) == NULL) {
		snprintf(pat, sizeof(pat), ";%s=\"", param);
		if ((p = memmem(h, hl, pat, strlen(pat))) == NULL)
			return;
	}
	p += strlen(pat);
	for (e = p; e < end && *e != '"'; e++)
		;
	snprintf(out, n, "%.*s", (int)(e - p), p);
}

#define FAKE_MAX_PARTS	16

/* Where "\r\n--BOUNDARY" occurs in the file, read 1 MB at a time so a big
 * upload is never in memory; at most `max` offsets. */
static size_t
fake_find_delims(int fd, uint64_t size, const char *delim, size_t dl, uint64_t *offs,
    size_t max)
{
	size_t cap = 1 << 20, keep = 0, total, i, k = 0;
	char *buf = fake_xmalloc(cap);
	uint64_t base = 0;
	ssize_t n;

	while (base + keep < size && k < max) {
		if ((n = pread(fd, buf + keep, cap - keep, (off_t)(base + keep))) <= 0)
			break;
		total = keep + (size_t)n;
		for (i = 0; i + dl <= total && k < max; i++) {
			char *hit = memmem(buf + i, total - i, delim, dl);

			if (hit == NULL)
				break;
			i = (size_t)(hit - buf);
			offs[k++] = base + i;
		}
		/* A delimiter cut by the buffer's end is found next time. */
		keep = total < dl - 1 ? total : dl - 1;
		memmove(buf, buf + total - keep, keep);
		base += total - keep;
	}
	free(buf);
	return k;
}

static int
fake_copy_range(int from, uint64_t off, uint64_t len, const char *to)
{
	int out = open(to, O_WRONLY | O_TRUNC | O_CLOEXEC);
	loff_t in_off = (loff_t)off;
	ssize_t n;

	if (out == -1)
		return -1;
	while (len > 0) {
		n = copy_file_range(from, &in_off, out, NULL, (size_t)len, 0);
		if (n <= 0) {
			char buf[65536];

			/* copy_file_range is not everywhere: plain reads then */
			n = pread(from, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf), in_off);
			if (n <= 0 || write(out, buf, (size_t)n) != n) {
				close(out);
				return -1;
			}
			in_off += n;
		}
		len -= (uint64_t)n;
	}
	return close(out);
}

/*
 * multipart/form-data with `purpose` and `file` parts, read from the spool
 * file (a body that came in memory is spooled first): the file part's bytes
 * are copied from it, never held.
 */
static int
fake_openai_upload(struct fake_req *rq, struct fake_resp *rs)
{
	char bnd[256], delim[260], name[64], fname[256], purpose[64] = "", hdr[8192];
	uint64_t offs[FAKE_MAX_PARTS + 1], doff = 0, dlen = 0, size = rq->bodylen;
	size_t nd, i, dl;
	struct fake_file *f;
	int fd, have = 0;
	char *tmp = NULL;

	if (fake_too_big(rq->bodylen)) {
		FAKE_OERR(rs, 413, "invalid_request_error", "file_too_large",
		    "The file is larger than the maximum size allowed.");
		return 413;
	}
	if (fake_boundary(rq, bnd, sizeof(bnd)) == -1) {
		FAKE_OERR(rs, 400, "invalid_request_error", NULL,
		    "The request must be multipart/form-data with a boundary.");
		return 400;
	}
	if (rq->spool == NULL) {
		tmp = fake_path_for("spool");
		if (fake_write_all(tmp, 0, rq->body ? rq->body : "", rq->bodylen) == -1)
			fake_die("%s: %s", tmp, strerror(errno));
	}
	if ((fd = open(tmp ? tmp : rq->spool, O_RDONLY | O_CLOEXEC)) == -1)
		fake_die("%s: %s", tmp ? tmp : rq->spool, strerror(errno));
	/* The body starts with "--BOUNDARY"; a CRLF before it makes it like the rest. */
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n%s", bnd);
	offs[0] = 0;
	nd = size >= dl - 2 && pread(fd, hdr, dl - 2, 0) == (ssize_t)(dl - 2) &&
	    memcmp(hdr, bnd, dl - 2) == 0 ? 1 : 0;
	if (nd == 1)
		nd += fake_find_delims(fd, size, delim, dl, offs + 1, FAKE_MAX_PARTS);
	fname[0] = '\0';
	for (i = 0; i + 1 < nd; i++) {
		/* part i: from after its delimiter to the next one */
		uint64_t start = i == 0 ? dl - 2 : offs[i] + dl, end = offs[i + 1];
		ssize_t hn = pread(fd, hdr, sizeof(hdr) - 1, (off_t)start);
		char *he;

		if (hn <= 0)
			break;
		hdr[hn] = '\0';
		if ((he = memmem(hdr, (size_t)hn, "\r\n\r\n", 4)) == NULL)
			break;
		fake_disp_param(hdr, (size_t)(he - hdr), "name", name, sizeof(name));
		if (strcmp(name, "purpose") == 0) {
			size_t vl = (size_t)(end - start) - (size_t)(he + 4 - hdr);

			snprintf(purpose, sizeof(purpose), "%.*s", (int)(vl < 63 ? vl : 63), he + 4);
		} else if (strcmp(name, "file") == 0) {
			fake_disp_param(hdr, (size_t)(he - hdr), "filename", fname, sizeof(fname));
			doff = start + (uint64_t)(he + 4 - hdr);
			dlen = end >= doff ? end - doff : 0;
			have = 1;
		}
	}
	if (!have || strcmp(purpose, "batch") != 0) {
		close(fd);
		if (tmp)
			unlink(tmp);
		free(tmp);
		FAKE_OERR(rs, 400, "invalid_request_error", NULL, !have ?
		    "Missing the file part." : "'purpose' must be 'batch' here.");
		return 400;
	}
	f = fake_file_new(FAM_OPENAI, NULL, fname[0] ? fname : "upload.jsonl",
	    "application/jsonl", "batch");
	if (fake_copy_range(fd, doff, dlen, f->path) == -1)
		fake_die("%s: %s", f->path, strerror(errno));
	close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	f->size = dlen;
	fake_bc.uploads++;
	fake_bc.upload_bytes += (long)dlen;
	fake_resp_json(rs, 200, fake_file_json(f));
	return 200;
}

static int
fake_openai_files(struct fake_req *rq, struct fake_resp *rs, const char *rest)
{
	struct fake_file *f;
	char id[64];
	size_t n;

	if (!(fake_opt.key == NULL || (rq->bearer && !strcmp(rq->bearer, fake_opt.key)))) {
		FAKE_OERR(rs, 401, "authentication_error", "invalid_api_key",
		    "Incorrect API key provided.");
		return 401;
	}
	if (*rest == '\0') {
		if (strcmp(rq->method, "POST") == 0)
			return fake_openai_upload(rq, rs);
		json_t *a = json_array();
		size_t i;

		for (i = 0; i < fake_nfiles; i++)
			if (fake_files[i]->family == FAM_OPENAI && !fake_files[i]->deleted)
				json_array_append_new(a, fake_file_json(fake_files[i]));
		fake_resp_json(rs, 200, json_pack("{s:s,s:o}", "object", "list", "data", a));
		return 200;
	}
	n = strcspn(rest, "/");
	if (n >= sizeof(id) || (f = (memcpy(id, rest, n), id[n] = '\0',
	    fake_file_find(FAM_OPENAI, id))) == NULL) {
		char msg[128];

		snprintf(msg, sizeof(msg), "No such File object: %.64s", rest);
		FAKE_OERR(rs, 404, "invalid_request_error", NULL, msg);
		return 404;
	}
	if (strcmp(rest + n, "/content") == 0)
		return fake_send_file(rs, f, "application/octet-stream");
	if (rest[n] != '\0') {
		FAKE_OERR(rs, 404, "invalid_request_error", NULL, "Unknown request URL.");
		return 404;
	}
	if (strcmp(rq->method, "DELETE") == 0) {
		f->deleted = 1;
		unlink(f->path);
		fake_resp_json(rs, 200, json_pack("{s:s,s:s,s:b}", "id", f->id,
		    "object", "file", "deleted", 1));
		return 200;
	}
	fake_resp_json(rs, 200, fake_file_json(f));
	return 200;
}

/* REST is what follows ".../files/" (or "" for the collection). */
int
fake_files_route(struct fake_req *rq, struct fake_resp *rs, int family, const char *rest)
{
	return family == FAM_GEMINI ? fake_gemini_files(rq, rs, rest)
	    : fake_openai_files(rq, rs, rest);
}

void
fake_files_free(void)
{
	size_t i;

	for (i = 0; i < fake_nfiles; i++) {
		if (fake_dir_ours)
			unlink(fake_files[i]->path);
		free(fake_files[i]->name);
		free(fake_files[i]->mime);
		free(fake_files[i]->purpose);
		free(fake_files[i]->path);
		free(fake_files[i]);
	}
	for (i = 0; i < fake_nups; i++) {
		if (fake_dir_ours)
			unlink(fake_ups[i]->path);
		free(fake_ups[i]->name);
		free(fake_ups[i]->mime);
		free(fake_ups[i]->path);
		free(fake_ups[i]);
	}
	free(fake_files);
	free(fake_ups);
	fake_files = NULL;
	fake_ups = NULL;
	fake_nfiles = fake_nups = 0;
	if (fake_dir != NULL && fake_dir_ours)
		rmdir(fake_dir);
	free(fake_dir);
	fake_dir = NULL;
}
