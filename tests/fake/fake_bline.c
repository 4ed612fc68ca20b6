/*
 * fake_bline.c: a batch's input read line by line, validated, then each
 * line answered by the online code (fake_answer_line) into the results
 * file; only an index of (offset, length, ok) stays in memory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fake_batch.h"

#define GEMINI_MAX_BYTES	(2ULL << 30)
#define OPENAI_MAX_BYTES	(200ULL << 20)
#define OPENAI_MAX_REQUESTS	50000

/* ---- answering the lines ---- */

/* The job an answer is made from: the key's longest [A-Za-z0-9_-] prefix. */
static void
fake_key_job(const char *key, char *job, size_t n)
{
	size_t i = 0;

	while (key[i] && i + 1 < n && (key[i] == '_' || key[i] == '-' ||
	    (key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
	    (key[i] >= '0' && key[i] <= '9'))) {
		job[i] = key[i];
		i++;
	}
	job[i] = '\0';
	if (i == 0)
		snprintf(job, n, "-");
}

char *
fake_jstr(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	if (s == NULL)
		fake_die("json_dumps failed");
	return s;
}

/* The answer's body, or NULL when it is not a JSON object (a fault). */
static const char *
fake_json_body(struct fake_resp *rs, size_t *len)
{
	size_t i = 0, n = rs->body.len;

	if (rs->action != ACT_SEND || n == 0)
		return NULL;
	while (i < n && (rs->body.p[i] == ' ' || rs->body.p[i] == '\n'))
		i++;
	if (i == n || rs->body.p[i] != '{')
		return NULL;
	while (n > i && (rs->body.p[n - 1] == '\n' || rs->body.p[n - 1] == ' '))
		n--;
	*len = n - i;
	return rs->body.p + i;
}

/* One result line for KEY into OUT; returns 1 when it is a success. */
static int
fake_result_line(struct fake_batch *b, size_t idx, const char *key, json_t *req,
    json_t *meta, struct fake_buf *out)
{
	struct fake_resp rs;
	char job[256], *ks, rid[64];
	const char *jb = NULL;
	size_t jl = 0;
	int status = 500, ok;
	uint64_t h;

	memset(&rs, 0, sizeof(rs));
	fake_key_job(key, job, sizeof(job));
	h = fake_hash(key, strlen(key)) ^ fake_opt.seed;
	if (fake_bopt.perror > 0 && (double)(fake_rand(&h) >> 11) / 9007199254740992.0 <
	    fake_bopt.perror)
		jb = NULL;	/* a per-request error instead of an answer */
	else {
		/* the token count uses the compact length, as vj sends it online */
		size_t len = json_dumpb(req, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);

		fake_answer_line(b->family, b->model, job, req, len, &rs);
		jb = fake_json_body(&rs, &jl);
		status = rs.status;
	}
	if (jb == NULL)
		status = 500;
	ok = status == 200;
	fake_bc.lines++;
	(*fake_map_get(&fake_bc.by_job, job, 1))++;
	{
		json_t *kj = json_string(key);

		ks = fake_jstr(kj);
		json_decref(kj);
	}
	out->len = 0;
	if (b->family == FAM_GEMINI) {
		json_t *e = NULL;

		if (ok) {
			fake_buf_printf(out, "{\"key\":%s,\"response\":", ks);
			fake_buf_add(out, jb, jl);
		} else {
			json_t *parsed = jb ? json_loadb(jb, jl, 0, NULL) : NULL;
			char *es;

			e = json_incref(json_object_get(parsed, "error"));
			json_decref(parsed);
			if (e == NULL)
				e = json_pack("{s:i,s:s,s:s}", "code", 500, "message",
				    "Internal error encountered.", "status", "INTERNAL");
			es = fake_jstr(e);
			fake_buf_printf(out, "{\"key\":%s,\"error\":%s", ks, es);
			free(es);
			json_decref(e);
		}
		if (meta != NULL) {
			char *ms = fake_jstr(meta);

			fake_buf_printf(out, ",\"metadata\":%s", ms);
			free(ms);
		}
		fake_buf_adds(out, "}\n");
	} else {
		snprintf(rid, sizeof(rid), "%016llx%08zx", (unsigned long long)
		    fake_hash(b->id, strlen(b->id)), idx);
		fake_buf_printf(out, "{\"id\":\"batch_req_%s\",\"custom_id\":%s,\"response\":"
		    "{\"status_code\":%d,\"request_id\":\"req_%s\",\"body\":", rid, ks, status, rid);
		if (jb != NULL)
			fake_buf_add(out, jb, jl);
		else
			fake_buf_adds(out, "{\"error\":{\"message\":\"The server had an error "
			    "processing your request.\",\"type\":\"server_error\",\"param\":null,"
			    "\"code\":null}}");
		fake_buf_adds(out, "},\"error\":null}\n");
	}
	free(ks);
	fake_buf_free(&rs.hdrs);
	fake_buf_free(&rs.body);
	if (rs.file_on)
		close(rs.file_fd);
	return ok;
}

/* ---- validation and ingestion ---- */

static int
fake_verr(struct fake_verr *v, const char *code, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fake_verr(struct fake_verr *v, const char *code, long line, const char *fmt, ...)
{
	va_list ap;

	v->code = code;
	v->line = line;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* The key, request and (Gemini) metadata of one parsed line; NULL key if bad. */
static const char *
fake_line_parts(struct fake_batch *b, json_t *j, json_t **req, json_t **meta,
    long lineno, struct fake_verr *v, const char **model)
{
	const char *key, *m, *u;

	*meta = NULL;
	*model = NULL;
	if (b->family == FAM_GEMINI) {
		key = json_string_value(json_object_get(j, "key"));
		*req = json_object_get(j, "request");
		if (b->input[0] == '\0') {	/* inline: the key is in the metadata */
			*meta = json_object_get(j, "metadata");
			key = json_string_value(json_object_get(*meta, "key"));
			if (key == NULL)
				key = "";
		}
		if (key == NULL || !json_is_object(*req)) {
			fake_verr(v, "missing_required_parameter", lineno,
			    "line %ld: a line needs a string \"key\" and an object \"request\"",
			    lineno);
			return NULL;
		}
		return key;
	}
	key = json_string_value(json_object_get(j, "custom_id"));
	*req = json_object_get(j, "body");
	u = json_string_value(json_object_get(j, "url"));
	m = json_string_value(json_object_get(j, "method"));
	if (key == NULL || !json_is_object(*req) || u == NULL || m == NULL) {
		fake_verr(v, "missing_required_parameter", lineno, "Line %ld: custom_id, "
		    "method, url and body are required.", lineno);
		return NULL;
	}
	if (strcmp(u, "/v1/chat/completions") != 0 || strcmp(m, "POST") != 0) {
		fake_verr(v, "url_mismatch", lineno, "Line %ld: the url must match the "
		    "batch's endpoint /v1/chat/completions, with method POST.", lineno);
		return NULL;
	}
	*model = json_string_value(json_object_get(*req, "model"));
	return key;
}

static size_t
fake_stop_k(size_t n, double after, int pct)
{
	size_t k;

	if (after < 0)
		return n;
	k = pct ? (size_t)((double)n * after / 100.0) : (size_t)after;
	return k > n ? n : k;
}

/*
 * Read PATH twice: first to validate (so a bad file uses up no scripted
 * fault), then to answer every line into the results file.
 */
int
fake_ingest(struct fake_batch *b, const char *path, struct fake_verr *v)
{
	FILE *in = fopen(path, "r"), *res = NULL;
	char *line = NULL, *model = NULL;
	size_t cap = 0, n = 0, nrec = 0;
	struct fake_map keys = { NULL, 0, 0 };
	struct fake_buf out = { NULL, 0, 0 };
	long lineno, maxreq = fake_bopt.max_requests;
	uint64_t maxb = fake_bopt.max_bytes, off = 0, rng;
	struct stat sb;
	ssize_t len;
	int pass, rc = 0;

	if (in == NULL || fstat(fileno(in), &sb) == -1) {
		if (in)
			fclose(in);
		return fake_verr(v, "empty_file", 0, "The input file cannot be read.");
	}
	if (maxb == 0)
		maxb = b->family == FAM_GEMINI ? GEMINI_MAX_BYTES : OPENAI_MAX_BYTES;
	if (maxreq == 0 && b->family == FAM_OPENAI)
		maxreq = OPENAI_MAX_REQUESTS;
	if ((uint64_t)sb.st_size > maxb) {
		fclose(in);
		return fake_verr(v, "file_too_large", 0, "The input file is %lld bytes, more "
		    "than the %llu bytes allowed.", (long long)sb.st_size, (unsigned long long)maxb);
	}
	for (pass = 0; pass < 2 && rc == 0; pass++) {
		rewind(in);
		lineno = 0;
		while ((len = getline(&line, &cap, in)) >= 0) {
			json_t *j, *req, *meta;
			const char *key, *m;

			lineno++;
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			if (len == 0)
				continue;
			if ((j = json_loadb(line, (size_t)len, 0, NULL)) == NULL) {
				rc = fake_verr(v, "invalid_json_line", lineno,
				    "Line %ld is not parseable as valid JSON.", lineno);
				break;
			}
			key = fake_line_parts(b, j, &req, &meta, lineno, v, &m);
			if (key == NULL) {
				json_decref(j);
				rc = -1;
				break;
			}
			if (pass == 0) {
				long *seen = *key ? fake_map_get(&keys, key, 1) : NULL;

				if (seen != NULL && (*seen)++ > 0)
					rc = fake_verr(v, "duplicate_custom_id", lineno, "Line %ld: "
					    "duplicate %s '%.200s': it is used more than once.", lineno,
					    b->family == FAM_GEMINI ? "key" : "custom_id", key);
				else if (maxreq > 0 && (long)n + 1 > maxreq)
					rc = fake_verr(v, "too_many_tasks", 0, "The batch has more "
					    "than the %ld requests allowed.", maxreq);
				else if (b->family == FAM_OPENAI && m != NULL && model == NULL)
					model = fake_xstrdup(m);
				else if (b->family == FAM_OPENAI && m != NULL && strcmp(m, model))
					rc = fake_verr(v, "model_mismatch", lineno, "Line %ld: the "
					    "model '%.100s' differs from '%.100s' earlier in the file: "
					    "a batch may use one model only.", lineno, m, model);
				n++;
			} else {
				if (nrec == n)
					fake_die("the input file changed while answering it");
				b->recs[nrec].ok = (uint8_t)fake_result_line(b, nrec, key, req,
				    meta, &out);
				b->recs[nrec].off = off;
				b->recs[nrec].len = (uint32_t)out.len;
				if (fwrite(out.p, 1, out.len, res) != out.len)
					fake_die("%s: %s", b->res_path, strerror(errno));
				off += out.len;
				nrec++;
			}
			json_decref(j);
			if (rc != 0)
				break;
		}
		if (rc == 0 && pass == 0) {
			if (n == 0) {
				rc = fake_verr(v, "empty_file", 0, "The input file has no requests.");
				break;
			}
			b->n = n;
			b->recs = calloc(n, sizeof(*b->recs));
			b->perm = calloc(n, sizeof(*b->perm));
			if (b->recs == NULL || b->perm == NULL)
				fake_die("out of memory");
			if (b->family == FAM_OPENAI && model != NULL)
				b->model = fake_xstrdup(model);
			{
				char p[4096];

				snprintf(p, sizeof(p), "%s/results-%s", fake_files_dir(), b->id);
				b->res_path = fake_xstrdup(p);
			}
			if ((res = fopen(b->res_path, "w")) == NULL)
				fake_die("%s: %s", b->res_path, strerror(errno));
		}
	}
	if (res != NULL && fclose(res) != 0)
		fake_die("%s: %s", b->res_path, strerror(errno));
	if (rc == 0 && nrec != n)
		fake_die("the input file changed while answering it");
	fclose(in);
	free(line);
	free(model);
	fake_map_clear(&keys);
	fake_buf_free(&out);
	if (rc != 0)
		return rc;
	/* Fisher-Yates, seeded by the batch id: the same order in every run. */
	rng = fake_hash(b->id, strlen(b->id)) ^ fake_opt.seed;
	for (n = 0; n < b->n; n++)
		b->perm[n] = (uint32_t)n;
	for (n = b->n; n > 1; n--) {
		size_t k = fake_rand(&rng) % n;
		uint32_t t = b->perm[n - 1];

		b->perm[n - 1] = b->perm[k];
		b->perm[k] = t;
	}
	/* Where the batch stops early: expiry, or (Gemini) failure, the earlier. */
	b->stop_k = fake_stop_k(b->n, fake_bopt.expire_after, fake_bopt.expire_pct);
	b->stop_st = BS_EXPIRED;
	if (b->family == FAM_GEMINI) {
		size_t f = fake_stop_k(b->n, fake_bopt.fail_after, fake_bopt.fail_pct);

		if (f < b->stop_k || (f == b->stop_k && f < b->n)) {
			b->stop_k = f;
			b->stop_st = BS_FAILED;
		}
	}
	return 0;
}

