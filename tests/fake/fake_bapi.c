/*
 * fake_bapi.c: the batch endpoints in both wire formats: Gemini's
 * batchGenerateContent operations and OpenAI's batch objects (create, get,
 * list, cancel).
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
		if (st == BS_FAILED)	/* --batch-fail-after: a google.rpc.Status */
			json_object_set_new(op, "error", json_pack("{s:i,s:s}", "code", 13,
			    "message", "The batch failed: an internal error has occurred."));
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

int
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
	if (from >= (long)fake_nbatches)
		from = (long)fake_nbatches - 1;
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

int
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

int
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

