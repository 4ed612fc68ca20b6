/*
 * fake_batch.c: the batch store, its clock and states, the output files,
 * the knobs, the counters and the dispatch of the batch paths.  The lines
 * are answered in fake_bline.c, the endpoints are in fake_bapi.c, the
 * files in fake_files.c.
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

struct fake_bopts fake_bopt = { .pending_ms = 200, .running_ms = 200, .finalizing_ms = 200,
	.cancel_ms = 200, .expire_after = -1, .fail_after = -1 };
struct fake_bcount fake_bc;

const char *fake_gstate[BS_COUNT] = { "BATCH_STATE_PENDING", "BATCH_STATE_RUNNING",
	"BATCH_STATE_RUNNING", "BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED",
	"BATCH_STATE_EXPIRED", "BATCH_STATE_CANCELLED", "BATCH_STATE_CANCELLED" };
const char *fake_ostate[BS_COUNT] = { "validating", "in_progress", "finalizing",
	"completed", "failed", "expired", "cancelling", "cancelled" };

struct fake_batch **fake_batches;
size_t fake_nbatches;
static uint64_t fake_skew;	/* POST /_batch/advance moves the batches' clock */

uint64_t
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
	if (strcmp(name, "batch-fail-after") == 0 && *end == '%') {
		fake_bopt.fail_pct = 1;
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
	} else if (strcmp(name, "batch-fail-after") == 0) {
		if (fake_bopt.fail_pct && v > 100)
			fake_die("--%s: at most 100%%", name);
		fake_bopt.fail_after = v;
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
uint64_t
fake_expire_at(const struct fake_batch *b)
{
	if (b->stop_k >= b->n)
		return UINT64_MAX;
	return fake_bopt.pending_ms + (b->n ? (uint64_t)ceil((double)fake_bopt.running_ms *
	    (double)b->stop_k / (double)b->n) : 0);
}

static int
fake_bstate(const struct fake_batch *b, uint64_t now, size_t *answered)
{
	uint64_t el = now - b->t0, P = fake_bopt.pending_ms, R = fake_bopt.running_ms;
	uint64_t F = fake_bopt.finalizing_ms, ex = fake_expire_at(b);
	size_t k;

	*answered = 0;
	if (b->cancel_t) {	/* only ever set before the batch ended */
		uint64_t cel = b->cancel_t - b->t0;

		k = fake_progress(b, cel);
		*answered = k < b->stop_k ? k : b->stop_k;
		if (b->family == FAM_GEMINI || now - b->cancel_t >= fake_bopt.cancel_ms)
			return BS_CANCELLED;
		return BS_CANCELLING;
	}
	if (b->verr != NULL)
		return el < P ? BS_PENDING : BS_FAILED;
	if (el >= ex) {
		*answered = b->stop_k;
		return b->stop_st;
	}
	k = fake_progress(b, el);
	*answered = k < b->stop_k ? k : b->stop_k;
	if (el < P)
		return BS_PENDING;
	if (el < P + R)
		return BS_RUNNING;
	if (el < P + R + F)
		return BS_FINALIZING;
	return BS_DONE;
}

int
fake_terminal(int st)
{
	return st == BS_DONE || st == BS_FAILED || st == BS_EXPIRED || st == BS_CANCELLED;
}

void
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
	/* nothing answered: a failed validation (maybe cancelled), a Gemini expiry */
	if (b->res_path == NULL || st == BS_FAILED || (b->family == FAM_GEMINI && st == BS_EXPIRED))
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
int
fake_bnow(struct fake_batch *b, size_t *k)
{
	int st = fake_bstate(b, fake_bclock(), k);

	if (fake_terminal(st) && !b->assembled)
		fake_assemble(b, st, *k);
	return st;
}

/* ---- the store ---- */

struct fake_batch *
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

struct fake_batch *
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

void
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

void
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

void
fake_poll_count(const struct fake_batch *b, int st)
{
	(*fake_map_get(&fake_bc.polls, b->family == FAM_GEMINI ? fake_gstate[st]
	    : fake_ostate[st], 1))++;
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
