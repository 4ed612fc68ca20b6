/* batchwire: Gemini's and OpenAI's batch APIs on the wire.  Field names and
 * the upload protocols follow docs/providers.md, "Batch mode". */
#include "providers/batchwire.h"
#include "content/models.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const bw_state_name[BW_NSTATE] = {
	"unknown", "pending", "running", "finalizing", "succeeded", "failed", "cancelling",
	"cancelled", "expired",
};

int
bw_state_parse(const char *s)
{
	for (int i = 0; s && i < BW_NSTATE; i++)
		if (!strcmp(s, bw_state_name[i]))
			return i;
	return -1;
}

int
bw_terminal(enum bw_state s)
{
	return s == BW_SUCCEEDED || s == BW_FAILED || s == BW_CANCELLED || s == BW_EXPIRED;
}

static int
is_gemini(const struct prov_ctx *c)
{
	return !strcmp(c->name, "gemini");
}

int
bw_supported(const struct prov_ctx *c)
{
	return c->wire && (!strcmp(c->name, "gemini") || !strcmp(c->name, "openai"));
}

/* ---- limits: data/batch.txt ---- */

/* "provider max_bytes max_requests [answer_max]" lines; # comments. */
static int
limits_from(const char *path, const char *provider, struct bw_limits *l, char *err, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[512];
	long lno = 0;
	int found = 0;

	if (!f)
		return errf(err, n, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		char name[64], extra[8];
		long long bytes, reqs, amax = 256 << 10;
		char *h = strchr(line, '#');
		lno++;
		if (h)
			*h = 0;
		int k = sscanf(line, "%63s %lld %lld %lld %7s", name, &bytes, &reqs, &amax, extra);
		if (k <= 0)
			continue;
		if ((k != 3 && k != 4) || bytes < 1 || reqs < 0 || reqs > LONG_MAX || amax < 1 ||
		    amax > (1LL << 30)) {
			fclose(f);
			return errf(err, n, "%s:%ld: want \"PROVIDER MAX_BYTES MAX_REQUESTS [ANSWER_MAX]\"",
			    path, lno);
		}
		if (!strcmp(name, provider)) {
			l->max_bytes = bytes;
			l->max_requests = (long)reqs;
			l->answer_max = amax;
			found = 1;
		}
	}
	fclose(f);
	if (!found)
		return errf(err, n, "%s: no batch limits for %s", path, provider);
	return 0;
}

int
bw_limits(const char *provider, struct bw_limits *l, char *err, size_t n)
{
	const char *env = getenv("VJ_BATCH_LIMITS");
	const char *models = models_base_path();
	char path[PATH_MAX];

	if (env && *env)
		return limits_from(env, provider, l, err, n);
	if (!models)
		return errf(err, n, "no batch limits: data/batch.txt is not beside the model table "
		    "(set VJ_BATCH_LIMITS=FILE)");
	snprintf(path, sizeof path, "%s", models);
	char *slash = strrchr(path, '/');
	if (slash)
		snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "batch.txt");
	return limits_from(path, provider, l, err, n);
}

/* ---- lines ---- */

void
bw_line_open(const struct prov_ctx *c, const char *key, struct buf *b)
{
	if (is_gemini(c))
		buf_addf(b, "{\"key\":\"%s\",\"request\":", key);
	else
		buf_addf(b, "{\"custom_id\":\"%s\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\","
		    "\"body\":", key);
}

const char *
bw_line_close(const struct prov_ctx *c)
{
	return "}\n";
}

/* ---- requests ---- */

/* OpenAI's API root: --base-url, less a full chat endpoint if it names
 * one (openai.c takes either). */
static int
oai_len(const struct prov_ctx *c)
{
	static const char tail[] = "/chat/completions";
	size_t n = strlen(c->base_url), t = sizeof tail - 1;
	if (n >= t && !strcmp(c->base_url + n - t, tail))
		n -= t;
	return (int)n;
}

static void
key_header(const struct prov_ctx *c, struct eng_http *h)
{
	if (c->key) {
		char *hdr = xasprintf("%s%s", c->wire->key_header, c->key);
		h->headers = curl_slist_append(h->headers, hdr);
		free(hdr);
	}
}

static void
json_req(const struct prov_ctx *c, struct eng_http *h, char *url, json_t *doc)
{
	h->url = url;
	if (doc) {
		char *s = json_dumps(doc, JSON_COMPACT);
		h->body = body_new();
		body_adds(h->body, s ? s : "{}");
		free(s);
		json_decref(doc);
		h->headers = curl_slist_append(h->headers, "Content-Type: application/json");
	}
	key_header(c, h);
}

int
bw_upload_steps(const struct prov_ctx *c)
{
	return is_gemini(c) ? 2 : 1;
}

/* scheme://host[:port] of a URL: the part an upload URL must share. */
static size_t
origin_len(const char *u)
{
	const char *p = strstr(u, "://");
	if (!p)
		return 0;
	p += 3;
	return (size_t)(p - u) + strcspn(p, "/?#");
}

int
bw_req_upload(const struct prov_ctx *c, int step, const char *path, const char *name,
    const char *upload_url, struct eng_http *h, char *err, size_t n)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errf(err, n, "%s: %s", path, strerror(errno));
	if (!is_gemini(c)) {
		/* multipart/form-data: purpose=batch, then the file, streamed */
		static const char bd[] = "vj-batch-7f3a9c1e5b";
		char *head = xasprintf("--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
		    "batch\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s.jsonl\"\r\n"
		    "Content-Type: application/jsonl\r\n\r\n", bd, bd, name);
		char *tail = xasprintf("\r\n--%s--\r\n", bd);
		char *ct = xasprintf("Content-Type: multipart/form-data; boundary=%s", bd);
		h->url = xasprintf("%.*s/files", oai_len(c), c->base_url);
		h->body = body_new();
		body_adds(h->body, head);
		body_add_file(h->body, path);
		body_adds(h->body, tail);
		h->headers = curl_slist_append(h->headers, ct);
		key_header(c, h);
		free(head);
		free(tail);
		free(ct);
		return 0;
	}
	if (step == 0) {
		char hdr[128];
		json_req(c, h, xasprintf("%s/upload/v1beta/files", c->base_url),
		    json_pack("{s:{s:s}}", "file", "display_name", name));
		h->headers = curl_slist_append(h->headers, "X-Goog-Upload-Protocol: resumable");
		h->headers = curl_slist_append(h->headers, "X-Goog-Upload-Command: start");
		snprintf(hdr, sizeof hdr, "X-Goog-Upload-Header-Content-Length: %lld",
		    (long long)st.st_size);
		h->headers = curl_slist_append(h->headers, hdr);
		h->headers = curl_slist_append(h->headers,
		    "X-Goog-Upload-Header-Content-Type: application/jsonl");
		h->want_header = "x-goog-upload-url";
		return 0;
	}
	/* the bytes go only where the key goes: the upload URL must be on the
	 * provider's own origin */
	size_t ol = origin_len(c->base_url);
	if (!upload_url || !ol || strncmp(upload_url, c->base_url, ol) != 0 ||
	    (upload_url[ol] != '/' && upload_url[ol] != '?' && upload_url[ol] != 0))
		return errf(err, n, "gemini: the upload URL the server gave is not on %.*s",
		    (int)ol, c->base_url);
	h->url = xstrdup(upload_url);
	h->body = body_new();
	body_add_file(h->body, path);
	h->headers = curl_slist_append(h->headers, "X-Goog-Upload-Command: upload, finalize");
	h->headers = curl_slist_append(h->headers, "X-Goog-Upload-Offset: 0");
	h->headers = curl_slist_append(h->headers, "Content-Type: application/jsonl");
	key_header(c, h);
	return 0;
}

static int
copy_id(const char *s, char *id, size_t n)
{
	/* ids go into URLs and journals: a plain token only */
	if (!s || !*s || strlen(s) >= n)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./", *p))
			return -1;
	if (strstr(s, ".."))
		return -1;
	snprintf(id, n, "%s", s);
	return 0;
}

int
bw_upload_id(const struct prov_ctx *c, json_t *doc, char *id, size_t n)
{
	if (is_gemini(c))
		return copy_id(json_string_value(json_object_get(json_object_get(doc, "file"), "name")),
		    id, n);
	return copy_id(json_string_value(json_object_get(doc, "id")), id, n);
}

void
bw_req_create(const struct prov_ctx *c, const char *file_id, const char *name,
    const char *run_id, long seq, struct eng_http *h)
{
	char sq[24];
	snprintf(sq, sizeof sq, "%ld", seq);
	if (is_gemini(c))
		json_req(c, h, xasprintf("%s/v1beta/models/%s:batchGenerateContent", c->base_url,
		    c->model), json_pack("{s:{s:s, s:{s:s}}}", "batch", "display_name", name,
		    "input_config", "file_name", file_id));
	else
		json_req(c, h, xasprintf("%.*s/batches", oai_len(c), c->base_url),
		    json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "input_file_id", file_id,
		    "endpoint", "/v1/chat/completions", "completion_window", "24h", "metadata",
		    "vj_name", name, "vj_run", run_id, "vj_batch", sq));
}

void
bw_req_get(const struct prov_ctx *c, const char *id, struct eng_http *h)
{
	if (is_gemini(c))
		json_req(c, h, xasprintf("%s/v1beta/%s", c->base_url, id), NULL);
	else
		json_req(c, h, xasprintf("%.*s/batches/%s", oai_len(c), c->base_url, id), NULL);
}

void
bw_req_list(const struct prov_ctx *c, const char *page, struct eng_http *h)
{
	int more = page && *page;
	if (is_gemini(c))
		json_req(c, h, xasprintf("%s/v1beta/batches?pageSize=100%s%s", c->base_url,
		    more ? "&pageToken=" : "", more ? page : ""), NULL);
	else
		json_req(c, h, xasprintf("%.*s/batches?limit=100%s%s", oai_len(c), c->base_url,
		    more ? "&after=" : "", more ? page : ""), NULL);
}

void
bw_req_cancel(const struct prov_ctx *c, const char *id, struct eng_http *h)
{
	if (is_gemini(c))
		json_req(c, h, xasprintf("%s/v1beta/%s:cancel", c->base_url, id), json_object());
	else
		json_req(c, h, xasprintf("%.*s/batches/%s/cancel", oai_len(c), c->base_url, id),
		    json_object());
}

void
bw_req_download(const struct prov_ctx *c, const char *file_id, struct eng_http *h)
{
	if (is_gemini(c))
		json_req(c, h, xasprintf("%s/download/v1beta/%s:download?alt=media", c->base_url,
		    file_id), NULL);
	else
		json_req(c, h, xasprintf("%.*s/files/%s/content", oai_len(c), c->base_url, file_id),
		    NULL);
}

/* ---- answers ---- */

/* A count the API may write as a number or (int64 in JSON) a string. */
static long
count(json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) < 0 ? 0 : (long)json_integer_value(v);
	if (json_is_string(v))
		return strtol(json_string_value(v), NULL, 10) < 0 ? 0 :
		    strtol(json_string_value(v), NULL, 10);
	return 0;
}

/* An id (batch, file, page token): a plain token, else "". */
static void
id_to(json_t *v, char *out, size_t n)
{
	if (copy_id(json_string_value(v), out, n) < 0)
		out[0] = 0;
}

/* A display name: printable ASCII only. */
static void
str_to(json_t *v, char *out, size_t n)
{
	const char *s = json_string_value(v);
	if (s && strlen(s) < n) {
		/* a display name: printable ASCII only */
		size_t i;
		for (i = 0; s[i] && i + 1 < n; i++)
			out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
		out[i] = 0;
	}
}

/* RFC 3339 "2026-12-02T06:00:00Z" (fractions ignored) to ms. */
static int64_t
rfc3339_ms(const char *s)
{
	int y, mo, d, h, mi, se;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6)
		return 0;
	/* days from civil (Howard Hinnant's algorithm) */
	y -= mo <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153L * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	long days = era * 146097 + doe - 719468;
	return ((int64_t)days * 86400 + h * 3600 + mi * 60 + se) * 1000;
}

static enum bw_state
gemini_state(const char *s)
{
	static const struct { const char *n; enum bw_state st; } m[] = {
		{ "PENDING", BW_PENDING }, { "RUNNING", BW_RUNNING }, { "SUCCEEDED", BW_SUCCEEDED },
		{ "FAILED", BW_FAILED }, { "CANCELLED", BW_CANCELLED }, { "EXPIRED", BW_EXPIRED },
		{ "CANCELLING", BW_CANCELLING },
	};
	if (!s)
		return BW_UNKNOWN;
	/* the REST wire says BATCH_STATE_*, the SDKs JOB_STATE_*: both */
	if (!strncmp(s, "BATCH_STATE_", 12))
		s += 12;
	else if (!strncmp(s, "JOB_STATE_", 10))
		s += 10;
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (!strcmp(s, m[i].n))
			return m[i].st;
	return BW_UNKNOWN;
}

static enum bw_state
openai_state(const char *s)
{
	static const struct { const char *n; enum bw_state st; } m[] = {
		{ "validating", BW_PENDING }, { "in_progress", BW_RUNNING },
		{ "finalizing", BW_FINALIZING }, { "completed", BW_SUCCEEDED }, { "failed", BW_FAILED },
		{ "expired", BW_EXPIRED }, { "cancelling", BW_CANCELLING }, { "cancelled", BW_CANCELLED },
	};
	for (size_t i = 0; s && i < sizeof m / sizeof m[0]; i++)
		if (!strcmp(s, m[i].n))
			return m[i].st;
	return BW_UNKNOWN;
}

static void
errors_text(json_t *errs, char *out, size_t n)
{
	json_t *e;
	size_t i, o = 0;
	out[0] = 0;
	json_array_foreach(errs, i, e) {
		const char *m = json_string_value(json_object_get(e, "message"));
		const char *code = json_string_value(json_object_get(e, "code"));
		json_t *line = json_object_get(e, "line");
		if (!m || o + 8 >= n)
			continue;
		int k = snprintf(out + o, n - o, "%s%s%s%s", o ? "; " : "", code ? code : "",
		    code ? ": " : "", m);
		if (json_is_integer(line) && k > 0 && o + (size_t)k < n)
			k += snprintf(out + o + k, n - o - (size_t)k, " (line %lld)",
			    (long long)json_integer_value(line));
		o += k > 0 ? (size_t)k : 0;
		if (o >= n)
			o = n - 1;
	}
	secret_scrub(out);
}

int
bw_parse_batch(const struct prov_ctx *c, json_t *doc, struct bw_info *b)
{
	memset(b, 0, sizeof *b);
	if (!json_is_object(doc))
		return -1;
	if (is_gemini(c)) {
		/* an operation (create, get) or a batch (list items may be either) */
		json_t *m = json_object_get(doc, "metadata");
		if (!json_is_object(m))
			m = doc;
		id_to(json_object_get(doc, "name"), b->id, sizeof b->id);
		if (!b->id[0])
			id_to(json_object_get(m, "name"), b->id, sizeof b->id);
		json_t *dn = json_object_get(m, "displayName");
		if (!dn)
			dn = json_object_get(m, "display_name");
		str_to(dn, b->name, sizeof b->name);
		b->state = gemini_state(json_string_value(json_object_get(m, "state")));
		json_t *st = json_object_get(m, "batchStats");
		b->total = count(json_object_get(st, "requestCount"));
		b->ok = count(json_object_get(st, "successfulRequestCount"));
		b->failed = count(json_object_get(st, "failedRequestCount"));
		b->pending = count(json_object_get(st, "pendingRequestCount"));
		json_t *resp = json_object_get(doc, "response");
		json_t *rf = json_object_get(resp, "responsesFile");
		if (!rf)
			rf = json_object_get(json_object_get(m, "output"), "responsesFile");
		id_to(rf, b->out_file, sizeof b->out_file);
		b->end_t = rfc3339_ms(json_string_value(json_object_get(m, "endTime")));
		if (!b->end_t)
			b->end_t = rfc3339_ms(json_string_value(json_object_get(m, "updateTime")));
		json_t *err = json_object_get(doc, "error");
		if (json_is_object(err)) {
			snprintf(b->msg, sizeof b->msg, "%.290s",
			    json_string_value(json_object_get(err, "message")) ?
			    json_string_value(json_object_get(err, "message")) : "failed");
			secret_scrub(b->msg);
		}
		/* Gemini has no finalizing state: running with nothing pending is it */
		if (b->state == BW_RUNNING && b->total > 0 && b->pending == 0 &&
		    b->ok + b->failed >= b->total)
			b->state = BW_FINALIZING;
	} else {
		id_to(json_object_get(doc, "id"), b->id, sizeof b->id);
		str_to(json_object_get(json_object_get(doc, "metadata"), "vj_name"), b->name,
		    sizeof b->name);
		b->state = openai_state(json_string_value(json_object_get(doc, "status")));
		json_t *rc = json_object_get(doc, "request_counts");
		b->total = count(json_object_get(rc, "total"));
		b->ok = count(json_object_get(rc, "completed"));
		b->failed = count(json_object_get(rc, "failed"));
		b->pending = b->total - b->ok - b->failed;
		if (b->pending < 0)
			b->pending = 0;
		id_to(json_object_get(doc, "output_file_id"), b->out_file, sizeof b->out_file);
		id_to(json_object_get(doc, "error_file_id"), b->err_file, sizeof b->err_file);
		const char *ends[] = { "completed_at", "expired_at", "failed_at", "cancelled_at" };
		for (size_t i = 0; i < 4 && !b->end_t; i++)
			b->end_t = (int64_t)count(json_object_get(doc, ends[i])) * 1000;
		errors_text(json_object_get(json_object_get(doc, "errors"), "data"), b->msg,
		    sizeof b->msg);
	}
	return b->id[0] ? 0 : -1;
}

void
bw_parse_list(const struct prov_ctx *c, json_t *doc,
    void (*fn)(void *ctx, const struct bw_info *b), void *ctx, char *next, size_t n)
{
	json_t *items, *it;
	size_t i;
	struct bw_info b;

	next[0] = 0;
	if (is_gemini(c)) {
		items = json_object_get(doc, "operations");
		if (!items)
			items = json_object_get(doc, "batches");
		id_to(json_object_get(doc, "nextPageToken"), next, n);
	} else {
		items = json_object_get(doc, "data");
		if (json_is_true(json_object_get(doc, "has_more")))
			id_to(json_object_get(doc, "last_id"), next, n);
	}
	json_array_foreach(items, i, it)
		if (bw_parse_batch(c, it, &b) == 0)
			fn(ctx, &b);
}

static int
key_ok(const char *k)
{
	if (!k || !*k || strlen(k) > 200)
		return 0;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && !strchr("-_.", *k))
			return 0;
	return 1;
}

int
bw_result_line(const struct prov_ctx *c, const char *line, size_t len, char **key,
    long *status, char **body, int *missing)
{
	json_t *doc = json_loadb(line, len, 0, NULL), *resp, *err;
	const char *k;

	*key = *body = NULL;
	*status = 0;
	*missing = 0;
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -1;
	}
	if (is_gemini(c)) {
		k = json_string_value(json_object_get(doc, "key"));
		if (!k)
			k = json_string_value(json_object_get(json_object_get(doc, "metadata"), "key"));
		resp = json_object_get(doc, "response");
		err = json_object_get(doc, "error");
		if (!err)
			err = json_object_get(doc, "status");
		if (json_is_object(resp)) {
			*status = 200;
			*body = json_dumps(resp, JSON_COMPACT);
		} else if (json_is_object(err)) {
			json_int_t code = json_integer_value(json_object_get(err, "code"));
			/* google.rpc.Status codes are gRPC's: map the common ones */
			*status = code >= 400 && code < 600 ? (long)code : code == 8 ? 429 :
			    code == 3 ? 400 : code == 4 ? 504 : code == 14 ? 503 : 500;
			json_t *w = json_pack("{s:O}", "error", err);
			*body = json_dumps(w, JSON_COMPACT);
			json_decref(w);
		}
	} else {
		k = json_string_value(json_object_get(doc, "custom_id"));
		resp = json_object_get(doc, "response");
		err = json_object_get(doc, "error");
		if (json_is_object(err)) {
			const char *code = json_string_value(json_object_get(err, "code"));
			if (code && (!strcmp(code, "batch_expired") || !strcmp(code, "batch_cancelled")))
				*missing = 1;
			else {
				*status = 500;
				json_t *w = json_pack("{s:O}", "error", err);
				*body = json_dumps(w, JSON_COMPACT);
				json_decref(w);
			}
		} else if (json_is_object(resp)) {
			*status = (long)json_integer_value(json_object_get(resp, "status_code"));
			json_t *b = json_object_get(resp, "body");
			*body = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("");
		}
	}
	if (!key_ok(k) || (!*body && !*missing)) {
		free(*body);
		*body = NULL;
		json_decref(doc);
		return -1;
	}
	*key = xstrdup(k);
	json_decref(doc);
	return 0;
}
