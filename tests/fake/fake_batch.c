/*
 * fake_batch.c: the Gemini and OpenAI batch endpoints (create, get, list,
 * cancel) and the knobs and counters; files are in fake_files.c.
 *
 * A batch is validated and answered at create time, line by line, by the
 * online answer code (fake_answer_line), into a results file on disk; an
 * index of (offset, length, ok) per line is all that stays in memory.  Its
 * state is then a function of time alone (fake_bstate), and the output
 * files are written from the results file, in a shuffled order, when the
 * batch first reaches its end.
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

struct fake_bopts fake_bopt = { 200, 200, 200, 200, -1, 0, 0, 0, 0, 0, NULL };
struct fake_bcount fake_bc;

#define GEMINI_MAX_BYTES	(2ULL << 30)
#define OPENAI_MAX_BYTES	(200ULL << 20)
#define OPENAI_MAX_REQUESTS	50000

enum { BS_PENDING, BS_RUNNING, BS_FINALIZING, BS_DONE, BS_FAILED, BS_EXPIRED,
	BS_CANCELLING, BS_CANCELLED, BS_COUNT };

static const char *fake_gstate[BS_COUNT] = { "BATCH_STATE_PENDING", "BATCH_STATE_RUNNING",
	"BATCH_STATE_RUNNING", "BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED",
	"BATCH_STATE_EXPIRED", "BATCH_STATE_CANCELLED", "BATCH_STATE_CANCELLED" };
static const char *fake_ostate[BS_COUNT] = { "validating", "in_progress", "finalizing",
	"completed", "failed", "expired", "cancelling", "cancelled" };

struct fake_rec {
	uint64_t off;		/* in the results file */
	uint32_t len;
	uint8_t	 ok;
};

struct fake_batch {
	char	 id[64];	/* Gemini: after "batches/"; OpenAI "batch_..." */
	int	 family;
	char	*model;
	char	*display;	/* Gemini display_name */
	json_t	*meta;		/* OpenAI metadata */
	char	 input[64];	/* the input file id; "" for inline requests */
	json_t	*verr;		/* OpenAI: the validation errors (status failed) */
	size_t	 n;
	struct fake_rec *recs;	/* input order */
	uint32_t *perm;		/* the order answers "finish" and are listed in */
	char	*res_path;
	uint64_t t0;		/* fake_bclock() at create */
	time_t	 w0;		/* wall clock at create */
	unsigned w0ms;
	uint64_t cancel_t;	/* 0: not cancelled */
	size_t	 expire_k;	/* answered when it expires; n: never */
	int	 assembled;
	char	 out_id[64], err_id[64];
	json_t	*inlined;	/* Gemini inline input: the responses */
	int	 deleted;
};

static struct fake_batch **fake_batches;
static size_t fake_nbatches;
static uint64_t fake_skew;	/* POST /_batch/advance moves the batches' clock */

static uint64_t
fake_bclock(void)
{
	return fake_now_ms() + fake_skew;
}

void
fake_batch_advance(uint64_t ms)
{
	fake_skew += ms;
}

/* ---- options ---- */

int
fake_batch_option(const char *name, const char *arg)
{
	char *end;
	double v;

	if (strcmp(name, "batch-dir") == 0) {
		fake_bopt.dir = arg;
		return 1;
	}
	errno = 0;
	v = strtod(arg, &end);
	if (strcmp(name, "batch-expire-after") == 0 && *end == '%') {
		fake_bopt.expire_pct = 1;
		end++;
	}
	if (errno || end == arg || *end != '\0' || v < 0 || !isfinite(v))
		fake_die("--%s: bad value '%s'", name, arg);
	if (strcmp(name, "batch-pending-ms") == 0)
		fake_bopt.pending_ms = (uint64_t)v;
	else if (strcmp(name, "batch-running-ms") == 0)
		fake_bopt.running_ms = (uint64_t)v;
	else if (strcmp(name, "batch-finalizing-ms") == 0)
		fake_bopt.finalizing_ms = (uint64_t)v;
	else if (strcmp(name, "batch-cancel-ms") == 0)
		fake_bopt.cancel_ms = (uint64_t)v;
	else if (strcmp(name, "batch-expire-after") == 0) {
		if (fake_bopt.expire_pct && v > 100)
			fake_die("--%s: at most 100%%", name);
		fake_bopt.expire_after = v;
	} else if (strcmp(name, "batch-perror") == 0) {
		if (v > 1)
			fake_die("--%s: a share from 0 to 1", name);
		fake_bopt.perror = v;
	} else if (strcmp(name, "batch-max-requests") == 0)
		fake_bopt.max_requests = (long)v;
	else if (strcmp(name, "batch-max-bytes") == 0)
		fake_bopt.max_bytes = (uint64_t)v;
	else if (strcmp(name, "upload-max-bytes") == 0)
		fake_bopt.upload_max = (uint64_t)v;
	else
		return 0;
	return 1;
}

/* ---- state: a function of the time since the create ---- */

static size_t
fake_progress(const struct fake_batch *b, uint64_t el)
{
	uint64_t P = fake_bopt.pending_ms, R = fake_bopt.running_ms;

	if (el < P)
		return 0;
	if (R == 0 || el - P >= R)
		return b->n;
	return (size_t)((double)b->n * (double)(el - P) / (double)R);
}

/* When (ms after the create) the batch expires; UINT64_MAX never. */
static uint64_t
fake_expire_at(const struct fake_batch *b)
{
	if (b->expire_k >= b->n)
		return UINT64_MAX;
	return fake_bopt.pending_ms + (b->n ? (uint64_t)ceil((double)fake_bopt.running_ms *
	    (double)b->expire_k / (double)b->n) : 0);
}

static int
fake_bstate(const struct fake_batch *b, uint64_t now, size_t *answered)
{
	uint64_t el = now - b->t0, P = fake_bopt.pending_ms, R = fake_bopt.running_ms;
	uint64_t F = fake_bopt.finalizing_ms, ex = fake_expire_at(b);
	size_t k;

	*answered = 0;
	if (b->verr != NULL)
		return el < P ? BS_PENDING : BS_FAILED;
	if (b->cancel_t) {
		uint64_t cel = b->cancel_t - b->t0;

		k = fake_progress(b, cel);
		*answered = k < b->expire_k ? k : b->expire_k;
		if (b->family == FAM_GEMINI || now - b->cancel_t >= fake_bopt.cancel_ms)
			return BS_CANCELLED;
		return BS_CANCELLING;
	}
	if (el >= ex) {
		*answered = b->expire_k;
		return BS_EXPIRED;
	}
	k = fake_progress(b, el);
	*answered = k < b->expire_k ? k : b->expire_k;
	if (el < P)
		return BS_PENDING;
	if (el < P + R)
		return BS_RUNNING;
	if (el < P + R + F)
		return BS_FINALIZING;
	return BS_DONE;
}

static int
fake_terminal(int st)
{
	return st == BS_DONE || st == BS_FAILED || st == BS_EXPIRED || st == BS_CANCELLED;
}

static void
fake_counts(const struct fake_batch *b, size_t k, size_t *ok, size_t *bad)
{
	size_t i;

	*ok = *bad = 0;
	for (i = 0; i < k && i < b->n; i++) {
		if (b->recs[b->perm[i]].ok)
			(*ok)++;
		else
			(*bad)++;
	}
}

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

static char *
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
	char job[256], *ks, *body, rid[64];
	const char *jb = NULL;
	size_t jl = 0;
	int status = 500, ok;
	uint64_t h;

	memset(&rs, 0, sizeof(rs));
	fake_key_job(key, job, sizeof(job));
	body = fake_jstr(req);
	h = fake_hash(key, strlen(key)) ^ fake_opt.seed;
	if (fake_bopt.perror > 0 && (double)(fake_rand(&h) >> 11) / 9007199254740992.0 <
	    fake_bopt.perror)
		jb = NULL;	/* a per-request error instead of an answer */
	else {
		fake_answer_line(b->family, b->model, job, body, strlen(body), &rs);
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
	free(body);
	fake_buf_free(&rs.hdrs);
	fake_buf_free(&rs.body);
	if (rs.file_on)
		close(rs.file_fd);
	return ok;
}

/* ---- validation and ingestion ---- */

struct fake_verr {
	const char *code;	/* OpenAI error code */
	char	 msg[512];
	long	 line;		/* 0: the file as a whole */
};

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

/*
 * Read PATH twice: first to validate (so a bad file uses up no scripted
 * fault), then to answer every line into the results file.
 */
static int
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
	if (fake_bopt.expire_after < 0)
		b->expire_k = b->n;
	else if (fake_bopt.expire_pct)
		b->expire_k = (size_t)((double)b->n * fake_bopt.expire_after / 100.0);
	else
		b->expire_k = (size_t)fake_bopt.expire_after;
	if (b->expire_k > b->n)
		b->expire_k = b->n;
	return 0;
}

/* ---- output files: written once, when the batch ends ---- */

static int
fake_read_rec(int fd, const struct fake_rec *r, struct fake_buf *b)
{
	ssize_t got;
	size_t done = 0;

	b->len = 0;
	fake_buf_reserve(b, r->len);
	while (done < r->len) {
		got = pread(fd, b->p + done, r->len - done, (off_t)(r->off + done));
		if (got <= 0)
			return -1;
		done += (size_t)got;
	}
	b->len = r->len;
	b->p[b->len] = '\0';
	return 0;
}

static FILE *
fake_out_open(struct fake_batch *b, int err, char *id, size_t idlen)
{
	struct fake_file *f;
	char name[128];
	FILE *fp;

	if (b->family == FAM_GEMINI) {
		char fid[96];

		snprintf(fid, sizeof(fid), "batch-%s", b->id);
		f = fake_file_new(FAM_GEMINI, fid, fid, "application/jsonl", "batch_output");
	} else {
		snprintf(name, sizeof(name), "%s_%s.jsonl", b->id, err ? "error" : "output");
		f = fake_file_new(FAM_OPENAI, NULL, name, "application/jsonl", "batch_output");
	}
	snprintf(id, idlen, "%s", f->id);
	if ((fp = fopen(f->path, "w")) == NULL)
		fake_die("%s: %s", f->path, strerror(errno));
	return fp;
}

static void
fake_out_close(FILE *fp, const char *id, int family)
{
	struct fake_file *f = fake_file_find(family, id);
	long sz = ftell(fp);

	if (fclose(fp) != 0)
		fake_die("%s: %s", f->path, strerror(errno));
	f->size = (uint64_t)(sz > 0 ? sz : 0);
}

static void
fake_expired_line(FILE *fp, const struct fake_buf *line)
{
	json_t *j = json_loadb(line->p, line->len, 0, NULL);
	json_t *o = json_pack("{s:O,s:O,s:n,s:{s:s,s:s}}", "id", json_object_get(j, "id"),
	    "custom_id", json_object_get(j, "custom_id"), "response", "error",
	    "code", "batch_expired", "message",
	    "This request could not be executed before the completion window expired.");
	char *s = fake_jstr(o);

	fprintf(fp, "%s\n", s);
	free(s);
	json_decref(o);
	json_decref(j);
}

static void
fake_assemble(struct fake_batch *b, int st, size_t k)
{
	struct fake_buf line = { NULL, 0, 0 };
	FILE *out = NULL, *err = NULL;
	size_t i;
	int fd;

	b->assembled = 1;
	if (st == BS_FAILED || (b->family == FAM_GEMINI && st == BS_EXPIRED))
		return;
	if ((fd = open(b->res_path, O_RDONLY | O_CLOEXEC)) == -1)
		fake_die("%s: %s", b->res_path, strerror(errno));
	if (b->family == FAM_GEMINI && b->input[0] == '\0')
		b->inlined = json_array();
	for (i = 0; i < b->n; i++) {
		const struct fake_rec *r = &b->recs[b->perm[i]];

		if (i >= k && !(b->family == FAM_OPENAI && st == BS_EXPIRED))
			break;
		if (fake_read_rec(fd, r, &line) == -1)
			fake_die("%s: short read", b->res_path);
		if (b->inlined != NULL) {
			json_t *j = json_loadb(line.p, line.len, 0, NULL);

			json_object_del(j, "key");
			json_array_append_new(b->inlined, j);
			continue;
		}
		if (b->family == FAM_GEMINI || (r->ok && i < k)) {
			if (out == NULL)
				out = fake_out_open(b, 0, b->out_id, sizeof(b->out_id));
			fwrite(line.p, 1, line.len, out);
			continue;
		}
		if (err == NULL)
			err = fake_out_open(b, 1, b->err_id, sizeof(b->err_id));
		if (i < k)
			fwrite(line.p, 1, line.len, err);
		else
			fake_expired_line(err, &line);
	}
	close(fd);
	if (out != NULL)
		fake_out_close(out, b->out_id, b->family);
	if (err != NULL)
		fake_out_close(err, b->err_id, b->family);
	fake_buf_free(&line);
}

/* The state now, with the output written the first time it is final. */
static int
fake_bnow(struct fake_batch *b, size_t *k)
{
	int st = fake_bstate(b, fake_bclock(), k);

	if (fake_terminal(st) && !b->assembled)
		fake_assemble(b, st, *k);
	return st;
}

/* ---- the wire objects ---- */

static void
fake_at(char *out, size_t n, const struct fake_batch *b, uint64_t after_ms)
{
	uint64_t ms = (uint64_t)b->w0ms + after_ms;

	fake_rfc3339(out, n, b->w0 + (time_t)(ms / 1000), (unsigned)(ms % 1000));
}

static void
fake_count_str(json_t *o, const char *name, size_t v)
{
	char s[32];

	if (v == 0)		/* proto3 JSON leaves zeros out */
		return;
	snprintf(s, sizeof(s), "%zu", v);
	json_object_set_new(o, name, json_string(s));
}

static json_t *
fake_gemini_op(struct fake_batch *b)
{
	size_t k, ok, bad;
	int st = fake_bnow(b, &k);
	json_t *md, *stats = json_object(), *op, *res = NULL;
	char t[40], name[96], u[40];
	uint64_t end = b->cancel_t ? b->cancel_t - b->t0 : fake_bclock() - b->t0;

	fake_counts(b, k, &ok, &bad);
	fake_count_str(stats, "requestCount", b->n);
	fake_count_str(stats, "successfulRequestCount", ok);
	fake_count_str(stats, "failedRequestCount", bad);
	fake_count_str(stats, "pendingRequestCount", fake_terminal(st) ? 0 : b->n - k);
	snprintf(name, sizeof(name), "batches/%s", b->id);
	fake_at(t, sizeof(t), b, 0);
	fake_at(u, sizeof(u), b, end);
	md = json_pack("{s:s,s:s+,s:s,s:s,s:s,s:o,s:s,s:s}",
	    "@type", "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
	    "model", "models/", b->model, "displayName", b->display ? b->display : "",
	    "createTime", t, "updateTime", u, "batchStats", stats,
	    "state", fake_gstate[st], "name", name);
	if (b->input[0])
		json_object_set_new(md, "inputConfig", json_pack("{s:s+}", "fileName",
		    "files/", b->input));
	else
		json_object_set_new(md, "inputConfig", json_pack("{s:{}}", "requests"));
	op = json_pack("{s:s,s:o}", "name", name, "metadata", md);
	if (fake_terminal(st)) {
		json_object_set_new(md, "endTime", json_string(u));
		json_object_set_new(op, "done", json_true());
		if (b->inlined != NULL)
			res = json_pack("{s:{s:O}}", "inlinedResponses", "inlinedResponses",
			    b->inlined);
		else if (b->out_id[0])
			res = json_pack("{s:s+}", "responsesFile", "files/", b->out_id);
	}
	if (res != NULL) {
		json_object_set(md, "output", res);
		json_object_set_new(res, "@type", json_string("type.googleapis.com/"
		    "google.ai.generativelanguage.v1main.GenerateContentBatchOutput"));
		json_object_set_new(op, "response", res);
	}
	return op;
}

static json_t *
fake_tsec(const struct fake_batch *b, int reached, uint64_t after_ms)
{
	if (!reached)
		return json_null();
	return json_integer((json_int_t)(b->w0 + (time_t)((b->w0ms + after_ms) / 1000)));
}

static json_t *
fake_openai_obj(struct fake_batch *b)
{
	size_t k, ok, bad;
	int st = fake_bnow(b, &k);
	uint64_t P = fake_bopt.pending_ms, R = fake_bopt.running_ms, F = fake_bopt.finalizing_ms;
	uint64_t el = fake_bclock() - b->t0, ex = fake_expire_at(b);
	uint64_t cel = b->cancel_t ? b->cancel_t - b->t0 : UINT64_MAX;
	json_t *o;

	fake_counts(b, k, &ok, &bad);
	o = json_pack("{s:s,s:s,s:s,s:O?,s:s,s:s,s:s}", "id", b->id, "object", "batch",
	    "endpoint", "/v1/chat/completions", "errors", st == BS_FAILED ? b->verr : NULL,
	    "input_file_id", b->input, "completion_window", "24h", "status", fake_ostate[st]);
	json_object_set_new(o, "output_file_id", b->out_id[0] ? json_string(b->out_id) : json_null());
	json_object_set_new(o, "error_file_id", b->err_id[0] ? json_string(b->err_id) : json_null());
	json_object_set_new(o, "created_at", fake_tsec(b, 1, 0));
	json_object_set_new(o, "in_progress_at", fake_tsec(b, !b->verr && el >= P && cel >= P &&
	    ex >= P, P));
	json_object_set_new(o, "expires_at", fake_tsec(b, 1, 86400000));
	json_object_set_new(o, "finalizing_at", fake_tsec(b, st == BS_FINALIZING || st == BS_DONE,
	    P + R));
	json_object_set_new(o, "completed_at", fake_tsec(b, st == BS_DONE, P + R + F));
	json_object_set_new(o, "failed_at", fake_tsec(b, st == BS_FAILED, P));
	json_object_set_new(o, "expired_at", fake_tsec(b, st == BS_EXPIRED, ex));
	json_object_set_new(o, "cancelling_at", fake_tsec(b, b->cancel_t != 0, cel));
	json_object_set_new(o, "cancelled_at", fake_tsec(b, st == BS_CANCELLED,
	    cel + fake_bopt.cancel_ms));
	json_object_set_new(o, "request_counts", json_pack("{s:I,s:I,s:I}",
	    "total", (json_int_t)b->n, "completed", (json_int_t)ok, "failed", (json_int_t)bad));
	json_object_set_new(o, "metadata", b->meta ? json_incref(b->meta) : json_null());
	json_object_set_new(o, "model", b->model ? json_string(b->model) : json_null());
	return o;
}

/* ---- the store ---- */

static struct fake_batch *
fake_batch_find(int family, const char *id, size_t idlen)
{
	size_t i;

	for (i = 0; i < fake_nbatches; i++) {
		struct fake_batch *b = fake_batches[i];

		if (b->family == family && !b->deleted && strlen(b->id) == idlen &&
		    strncmp(b->id, id, idlen) == 0)
			return b;
	}
	return NULL;
}

static struct fake_batch *
fake_batch_new(int family)
{
	struct fake_batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		fake_die("out of memory");
	b->family = family;
	if (family == FAM_GEMINI)
		fake_make_id(b->id, sizeof(b->id), "", 16, 1);
	else
		fake_make_id(b->id, sizeof(b->id), "batch_", 24, 0);
	return b;
}

static void
fake_batch_destroy(struct fake_batch *b)
{
	if (b->res_path != NULL)
		unlink(b->res_path);
	free(b->res_path);
	free(b->model);
	free(b->display);
	json_decref(b->meta);
	json_decref(b->verr);
	json_decref(b->inlined);
	free(b->recs);
	free(b->perm);
	free(b);
}

static void
fake_batch_add(struct fake_batch *b)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	b->w0 = ts.tv_sec;
	b->w0ms = (unsigned)(ts.tv_nsec / 1000000);
	b->t0 = fake_bclock();
	fake_batches = realloc(fake_batches, (fake_nbatches + 1) * sizeof(*fake_batches));
	if (fake_batches == NULL)
		fake_die("out of memory");
	fake_batches[fake_nbatches++] = b;
	fake_bc.creates++;
	/* By what names a client finds its batches again: each should be 1. */
	if (b->family == FAM_GEMINI)
		(*fake_map_get(&fake_bc.by_name, b->display ? b->display : "", 1))++;
	else {
		char *m = b->meta ? json_dumps(b->meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		(*fake_map_get(&fake_bc.by_name, m ? m : "null", 1))++;
		free(m);
	}
}

static void
fake_poll_count(const struct fake_batch *b, int st)
{
	(*fake_map_get(&fake_bc.polls, b->family == FAM_GEMINI ? fake_gstate[st]
	    : fake_ostate[st], 1))++;
}

/* ---- Gemini endpoints ---- */

/* Inline requests go to a JSONL file first so both inputs take one path. */
static int
fake_inline_file(json_t *reqs, char *path, size_t n)
{
	json_t *r;
	size_t i;
	FILE *fp;

	snprintf(path, n, "%s/inline-%llu", fake_files_dir(),
	    (unsigned long long)fake_rand(&fake_rng));
	if ((fp = fopen(path, "w")) == NULL)
		fake_die("%s: %s", path, strerror(errno));
	json_array_foreach(reqs, i, r) {
		char *s = fake_jstr(r);

		fprintf(fp, "%s\n", s);
		free(s);
	}
	if (fclose(fp) != 0)
		fake_die("%s: %s", path, strerror(errno));
	return 0;
}

static int
fake_gemini_create(struct fake_req *rq, struct fake_resp *rs, const char *model)
{
	json_t *body = json_loadb(rq->body, rq->bodylen, 0, NULL), *batch, *ic, *reqs;
	const char *fname, *dn;
	struct fake_batch *b;
	struct fake_file *f = NULL;
	struct fake_verr v;
	char path[4096], msg[600];
	int rc;

	batch = json_object_get(body, "batch");
	ic = json_object_get(batch, "input_config");
	if (ic == NULL)
		ic = json_object_get(batch, "inputConfig");
	fname = json_string_value(json_object_get(ic, "file_name"));
	if (fname == NULL)
		fname = json_string_value(json_object_get(ic, "fileName"));
	reqs = json_object_get(json_object_get(ic, "requests"), "requests");
	dn = json_string_value(json_object_get(batch, "display_name"));
	if (dn == NULL)
		dn = json_string_value(json_object_get(batch, "displayName"));
	fake_bc.create_errors++;	/* taken back below when the batch is made */
	if (!json_is_object(batch) || (fname == NULL && !json_is_array(reqs))) {
		json_decref(body);
		FAKE_GERR(rs, 400, "* BatchGenerateContentRequest.batch.input_config: "
		    "a file_name or inline requests are required");
		return 400;
	}
	if (fake_opt.nmodels > 0) {
		int i, known = 0;

		for (i = 0; i < fake_opt.nmodels; i++)
			known |= strcmp(fake_opt.models[i], model) == 0;
		if (!known) {
			snprintf(msg, sizeof(msg), "models/%.200s is not found for API version "
			    "v1beta, or is not supported for batchGenerateContent.", model);
			json_decref(body);
			FAKE_GERR(rs, 404, msg);
			return 404;
		}
	}
	if (fname != NULL && (strncmp(fname, "files/", 6) != 0 ||
	    (f = fake_file_find(FAM_GEMINI, fname + 6)) == NULL)) {
		snprintf(msg, sizeof(msg), "File %.200s not found.", fname);
		json_decref(body);
		FAKE_GERR(rs, 400, msg);
		return 400;
	}
	b = fake_batch_new(FAM_GEMINI);
	b->model = fake_xstrdup(model);
	b->display = fake_xstrdup(dn ? dn : "");
	if (f != NULL) {
		snprintf(b->input, sizeof(b->input), "%s", f->id);
		snprintf(path, sizeof(path), "%s", f->path);
	} else {
		fake_inline_file(reqs, path, sizeof(path));
	}
	json_decref(body);
	rc = fake_ingest(b, path, &v);
	if (f == NULL)
		unlink(path);
	if (rc != 0) {
		fake_batch_destroy(b);
		FAKE_GERR(rs, 400, v.msg);
		return 400;
	}
	fake_bc.create_errors--;
	fake_batch_add(b);
	fake_resp_json(rs, 200, fake_gemini_op(b));
	return 200;
}

static int
fake_gemini_list(struct fake_req *rq, struct fake_resp *rs)
{
	const char *q = strchr(rq->target, '?');
	long size = 50, from = (long)fake_nbatches - 1, i, got = 0;
	json_t *ops = json_array(), *o;
	const char *s;

	if (q && (s = strstr(q, "pageSize=")) != NULL)
		size = strtol(s + 9, NULL, 10);
	if (size <= 0)
		size = 50;
	if (size > 1000)
		size = 1000;
	if (q && (s = strstr(q, "pageToken=")) != NULL)
		from = strtol(s + 10, NULL, 10);	/* our tokens: an index */
	for (i = from; i >= 0 && i < (long)fake_nbatches; i--) {
		if (fake_batches[i]->family != FAM_GEMINI || fake_batches[i]->deleted)
			continue;
		if (got == size)
			break;
		json_array_append_new(ops, fake_gemini_op(fake_batches[i]));
		got++;
	}
	o = json_pack("{s:o}", "operations", ops);
	for (; i >= 0; i--)
		if (fake_batches[i]->family == FAM_GEMINI && !fake_batches[i]->deleted) {
			char tok[32];

			snprintf(tok, sizeof(tok), "%ld", i);
			json_object_set_new(o, "nextPageToken", json_string(tok));
			break;
		}
	fake_bc.lists++;
	fake_resp_json(rs, 200, o);
	return 200;
}

static int
fake_gemini_batches(struct fake_req *rq, struct fake_resp *rs, const char *rest)
{
	size_t n = strcspn(rest, ":"), k;
	struct fake_batch *b;
	int st;

	if (*rest == '\0' && strcmp(rq->method, "GET") == 0)
		return fake_gemini_list(rq, rs);
	if ((b = fake_batch_find(FAM_GEMINI, rest, n)) == NULL) {
		FAKE_GERR(rs, 404, NULL);
		return 404;
	}
	st = fake_bnow(b, &k);
	if (strcmp(rest + n, ":cancel") == 0 && strcmp(rq->method, "POST") == 0) {
		if (fake_terminal(st)) {
			FAKE_GERR(rs, 400, "The batch has already finished.");
			return 400;
		}
		b->cancel_t = fake_bclock();
		if (b->cancel_t == b->t0)
			b->cancel_t++;	/* 0 means "not cancelled" */
		fake_bc.cancels++;
		fake_resp_json(rs, 200, json_object());
		return 200;
	}
	if (rest[n] != '\0') {
		FAKE_GERR(rs, 404, NULL);
		return 404;
	}
	if (strcmp(rq->method, "DELETE") == 0) {
		b->deleted = 1;
		fake_resp_json(rs, 200, json_object());
		return 200;
	}
	fake_bc.gets++;
	fake_poll_count(b, st);
	fake_resp_json(rs, 200, fake_gemini_op(b));
	return 200;
}

/* ---- OpenAI endpoints ---- */

static int
fake_openai_create(struct fake_req *rq, struct fake_resp *rs)
{
	json_t *body = json_loadb(rq->body, rq->bodylen, 0, NULL), *meta;
	const char *fid = json_string_value(json_object_get(body, "input_file_id"));
	const char *ep = json_string_value(json_object_get(body, "endpoint"));
	const char *win = json_string_value(json_object_get(body, "completion_window"));
	struct fake_file *f = fid ? fake_file_find(FAM_OPENAI, fid) : NULL;
	struct fake_batch *b;
	struct fake_verr v;
	char msg[300];

	meta = json_object_get(body, "metadata");
	fake_bc.create_errors++;
	if (!json_is_object(body) || fid == NULL || ep == NULL || win == NULL) {
		json_decref(body);
		FAKE_OERR(rs, 400, "invalid_request_error", NULL, "input_file_id, endpoint and "
		    "completion_window are required.");
		return 400;
	}
	if (strcmp(ep, "/v1/chat/completions") != 0 || strcmp(win, "24h") != 0 ||
	    (meta != NULL && !json_is_null(meta) &&
	    (!json_is_object(meta) || json_object_size(meta) > 16))) {
		json_decref(body);
		FAKE_OERR(rs, 400, "invalid_request_error", NULL, "vj-fake takes endpoint "
		    "/v1/chat/completions, completion_window 24h and at most 16 metadata keys.");
		return 400;
	}
	if (f == NULL) {
		snprintf(msg, sizeof(msg), "No such File object: %.200s", fid);
		json_decref(body);
		FAKE_OERR(rs, 404, "invalid_request_error", NULL, msg);
		return 404;
	}
	b = fake_batch_new(FAM_OPENAI);
	snprintf(b->input, sizeof(b->input), "%s", f->id);
	if (json_is_object(meta))
		b->meta = json_incref(meta);
	json_decref(body);
	if (fake_ingest(b, f->path, &v) != 0) {
		/* Made, and failed after validating, like the real one. */
		json_t *e = json_pack("{s:s,s:s,s:n}", "code", v.code, "message", v.msg, "param");

		json_object_set_new(e, "line", v.line ? json_integer(v.line) : json_null());
		b->verr = json_pack("{s:s,s:[o]}", "object", "list", "data", e);
		free(b->recs);
		free(b->perm);
		b->recs = NULL;
		b->perm = NULL;
		b->n = 0;
	}
	fake_bc.create_errors--;
	fake_batch_add(b);
	fake_resp_json(rs, 200, fake_openai_obj(b));
	return 200;
}

static int
fake_openai_list(struct fake_req *rq, struct fake_resp *rs)
{
	const char *q = strchr(rq->target, '?'), *s;
	long limit = 20, i = (long)fake_nbatches - 1, got = 0;
	json_t *data = json_array(), *o;
	int more = 0;

	if (q && (s = strstr(q, "limit=")) != NULL)
		limit = strtol(s + 6, NULL, 10);
	if (limit <= 0 || limit > 100)
		limit = limit <= 0 ? 20 : 100;
	if (q && (s = strstr(q, "after=")) != NULL) {
		size_t n = strcspn(s + 6, "&");

		for (; i >= 0; i--)
			if (fake_batches[i]->family == FAM_OPENAI &&
			    strlen(fake_batches[i]->id) == n && !strncmp(fake_batches[i]->id, s + 6, n))
				break;
		i--;
	}
	for (; i >= 0; i--) {
		if (fake_batches[i]->family != FAM_OPENAI || fake_batches[i]->deleted)
			continue;
		if (got == limit) {
			more = 1;
			break;
		}
		json_array_append_new(data, fake_openai_obj(fake_batches[i]));
		got++;
	}
	o = json_pack("{s:s,s:o}", "object", "list", "data", data);
	json_object_set_new(o, "first_id", got ? json_incref(json_object_get(json_array_get(data, 0),
	    "id")) : json_null());
	json_object_set_new(o, "last_id", got ? json_incref(json_object_get(json_array_get(data,
	    (size_t)got - 1), "id")) : json_null());
	json_object_set_new(o, "has_more", json_boolean(more));
	fake_bc.lists++;
	fake_resp_json(rs, 200, o);
	return 200;
}

static int
fake_openai_batches(struct fake_req *rq, struct fake_resp *rs, const char *rest)
{
	size_t n = strcspn(rest, "/"), k;
	struct fake_batch *b;
	int st;

	if (*rest == '\0')
		return strcmp(rq->method, "POST") == 0 ? fake_openai_create(rq, rs)
		    : fake_openai_list(rq, rs);
	if ((b = fake_batch_find(FAM_OPENAI, rest, n)) == NULL) {
		FAKE_OERR(rs, 404, "invalid_request_error", NULL, "No batch found with that id.");
		return 404;
	}
	st = fake_bnow(b, &k);
	if (strcmp(rest + n, "/cancel") == 0 && strcmp(rq->method, "POST") == 0) {
		char msg[128];

		if (fake_terminal(st) || st == BS_CANCELLING) {
			snprintf(msg, sizeof(msg), "Cannot cancel a batch with status %s.",
			    fake_ostate[st]);
			FAKE_OERR(rs, 400, "invalid_request_error", NULL, msg);
			return 400;
		}
		b->cancel_t = fake_bclock();
		if (b->cancel_t == b->t0)
			b->cancel_t++;	/* 0 means "not cancelled" */
		fake_bc.cancels++;
		fake_resp_json(rs, 200, fake_openai_obj(b));
		return 200;
	}
	if (rest[n] != '\0') {
		FAKE_OERR(rs, 404, "invalid_request_error", NULL, "Unknown request URL.");
		return 404;
	}
	fake_bc.gets++;
	fake_poll_count(b, st);
	fake_resp_json(rs, 200, fake_openai_obj(b));
	return 200;
}

/* ---- dispatch, counters ---- */

static int
fake_gemini_key(struct fake_req *rq, struct fake_resp *rs)
{
	if (fake_opt.key == NULL || (rq->goog_key && strcmp(rq->goog_key, fake_opt.key) == 0))
		return 0;
	FAKE_GERR(rs, 400, NULL);
	return -1;
}

static int
fake_openai_key(struct fake_req *rq, struct fake_resp *rs)
{
	if (fake_opt.key == NULL || (rq->bearer && strcmp(rq->bearer, fake_opt.key) == 0))
		return 0;
	FAKE_OERR(rs, 401, "authentication_error", "invalid_api_key",
	    "Incorrect API key provided.");
	return -1;
}

static int
fake_batch_dispatch(struct fake_req *rq, struct fake_resp *rs)
{
	const char *p = rq->path, *o = p, *colon;
	char model[256];

	if (strcmp(p, "/upload/v1beta/files") == 0)
		return fake_files_route(rq, rs, FAM_GEMINI, "");
	if (strncmp(p, "/download/v1beta/files/", 23) == 0)
		return fake_files_route(rq, rs, FAM_GEMINI, p + 23);
	if (strcmp(p, "/v1beta/files") == 0 || strncmp(p, "/v1beta/files/", 14) == 0)
		return fake_files_route(rq, rs, FAM_GEMINI, p[13] ? p + 14 : "");
	if (strcmp(p, "/v1beta/batches") == 0 || strncmp(p, "/v1beta/batches/", 16) == 0)
		return fake_gemini_key(rq, rs) ? rs->status
		    : fake_gemini_batches(rq, rs, p[15] ? p + 16 : "");
	if (strncmp(p, "/v1beta/models/", 15) == 0 && (colon = strrchr(p, ':')) != NULL &&
	    strcmp(colon, ":batchGenerateContent") == 0) {
		size_t n = (size_t)(colon - (p + 15));

		if (n == 0 || n >= sizeof(model)) {
			FAKE_GERR(rs, 404, NULL);
			return 404;
		}
		memcpy(model, p + 15, n);
		model[n] = '\0';
		if (strcmp(rq->method, "POST") != 0) {
			FAKE_GERR(rs, 405, "Method not allowed.");
			return 405;
		}
		return fake_gemini_key(rq, rs) ? rs->status : fake_gemini_create(rq, rs, model);
	}
	if (strncmp(o, "/v1/", 4) == 0)
		o += 3;		/* OpenAI-compatible bases come with and without /v1 */
	if (strcmp(o, "/files") == 0 || strncmp(o, "/files/", 7) == 0)
		return fake_files_route(rq, rs, FAM_OPENAI, o[6] ? o + 7 : "");
	if (strcmp(o, "/batches") == 0 || strncmp(o, "/batches/", 9) == 0)
		return fake_openai_key(rq, rs) ? rs->status
		    : fake_openai_batches(rq, rs, o[8] ? o + 9 : "");
	return -1;
}

int
fake_batch_route(struct fake_req *rq, struct fake_resp *rs)
{
	int st = fake_batch_dispatch(rq, rs);

	if (st != -1)
		fake_stats_count(rq->job[0] ? rq->job : "-", -1);
	return st;
}

static json_t *
fake_map_json(struct fake_map *m)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < m->cap; i++)
		if (m->ents[i].key != NULL)
			json_object_set_new(o, m->ents[i].key, json_integer(m->ents[i].val));
	return o;
}

json_t *
fake_batch_json(void)
{
	json_t *o, *states = json_object();
	size_t i, k;

	for (i = 0; i < fake_nbatches; i++) {
		struct fake_batch *b = fake_batches[i];
		int st;
		const char *name;

		if (b->deleted)
			continue;
		st = fake_bnow(b, &k);
		name = b->family == FAM_GEMINI ? fake_gstate[st] : fake_ostate[st];
		json_object_set_new(states, name, json_integer(
		    json_integer_value(json_object_get(states, name)) + 1));
	}
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "batches", (json_int_t)fake_nbatches,
	    "uploads", (json_int_t)fake_bc.uploads, "upload_bytes", (json_int_t)fake_bc.upload_bytes,
	    "creates", (json_int_t)fake_bc.creates, "create_errors", (json_int_t)fake_bc.create_errors,
	    "gets", (json_int_t)fake_bc.gets, "lists", (json_int_t)fake_bc.lists,
	    "cancels", (json_int_t)fake_bc.cancels, "downloads", (json_int_t)fake_bc.downloads,
	    "download_bytes", (json_int_t)fake_bc.download_bytes, "lines", (json_int_t)fake_bc.lines);
	json_object_set_new(o, "states", states);
	json_object_set_new(o, "polls", fake_map_json(&fake_bc.polls));
	json_object_set_new(o, "by_job", fake_map_json(&fake_bc.by_job));
	json_object_set_new(o, "by_name", fake_map_json(&fake_bc.by_name));
	return o;
}

void
fake_batch_reset(void)
{
	fake_map_clear(&fake_bc.polls);
	fake_map_clear(&fake_bc.by_job);
	fake_map_clear(&fake_bc.by_name);
	memset(&fake_bc, 0, sizeof(fake_bc));
}

void
fake_batch_free(void)
{
	size_t i;

	for (i = 0; i < fake_nbatches; i++)
		fake_batch_destroy(fake_batches[i]);
	free(fake_batches);
	fake_batches = NULL;
	fake_nbatches = 0;
	fake_batch_reset();
	fake_files_free();
}
