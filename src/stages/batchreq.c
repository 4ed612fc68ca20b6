/* batchreq: a batch API's control requests through the one engine. */
#include "stages/batchreq.h"
#include "providers/batchwire.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A download goes to its file, up to its bound: a server that sends more
 * than a batch's answers can hold is not filling the disk. */
static int
sink_fd(void *ud, const char *p, size_t n)
{
	struct breq *q = ud;
	q->got += n;
	if (q->max_bytes && q->got > q->max_bytes) {
		errno = EFBIG;
		return -1;
	}
	return write_all(q->fd, p, n);
}

static int
rq_build(void *ctx, struct eng_task *t, struct eng_http *h, json_t **result, struct eng_err *e)
{
	struct breq *q = ctx;
	char err[300];
	(void)result;
	switch (q->kind) {
	case RQ_UPLOAD:
		if (bw_req_upload(q->pc, q->step, q->path, q->name, q->url, h, err, sizeof err) < 0) {
			eng_seterr(e, EC_PERM, "%s", err);
			return -1;
		}
		break;
	case RQ_CREATE: bw_req_create(q->pc, q->file_id, q->name, q->run_id, q->seq, h); break;
	case RQ_GET: bw_req_get(q->pc, q->id, h); break;
	case RQ_LIST: bw_req_list(q->pc, q->page, h); break;
	case RQ_CANCEL: bw_req_cancel(q->pc, q->id, h); break;
	case RQ_DOWNLOAD:
		bw_req_download(q->pc, q->file_id, h);
		/* a retried download starts the file again */
		if (ftruncate(q->fd, 0) < 0 || lseek(q->fd, 0, SEEK_SET) < 0) {
			eng_seterr(e, EC_FATAL, "cannot write the download: %s", strerror(errno));
			return -1;
		}
		q->got = 0;
		h->sink = sink_fd;
		h->sink_ud = q;
		break;
	}
	h->low_speed_time = 120;
	t->tokens = 0;
	return 0;
}

static int
rq_parse(void *ctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e)
{
	struct breq *q = ctx;
	char msg[256];
	(void)t;
	(void)usage;
	if (r->status < 200 || r->status > 299) {
		json_t *doc = json_loadb(r->body, r->len, 0, NULL);
		json_t *err = json_object_get(doc, "error");
		const char *m = json_string_value(json_object_get(err, "message"));
		if (!m && json_is_string(err))
			m = json_string_value(err);
		ps_errtext(q->pc, m, r, msg, sizeof msg);
		char code[32];
		snprintf(code, sizeof code, "%ld", r->status);
		ps_http_err(q->pc, e, r->status, code, msg, r->status == 429 ? r->retry_after : -1,
		    r->should_retry);
		json_decref(doc);
		return -1;
	}
	if (q->kind != RQ_DOWNLOAD) {
		json_decref(q->doc);
		q->doc = r->len ? json_loadb(r->body, r->len, 0, NULL) : json_object();
		if (!q->doc) {
			ps_err(q->pc, e, EC_RETRY, r->status, "the answer is not JSON");
			return -1;
		}
	}
	free(q->header);
	q->header = r->header ? xstrdup(r->header) : NULL;
	*result = json_true();
	return 0;
}

static const struct provider rq_provider = { "batch", rq_build, rq_parse };

static int
rq_feed(void *ctx, int room)
{
	(void)ctx;
	(void)room;
	return 2;
}

static void
rq_done(void *ctx, struct eng_task *t, json_t *result, json_t *usage, long ms)
{
	struct breq *q = ctx;
	q->done = 1;
}

static void
rq_fail(void *ctx, struct eng_task *t, const struct eng_err *e, json_t *usage, int final,
    int64_t retry_at)
{
	struct breq *q = ctx;
	if (final || e->cls == EC_FATAL) {
		q->failed = 1;
		q->err = *e;
	} else
		vj_debug("%s, retrying", e->msg);
}

static int
q_stop(void *ctx)
{
	const struct breq *q = ctx;
	return q->stop && *q->stop;
}

static int
rq_tick(void *ctx, int final)
{
	(void)final;
	return q_stop(ctx) ? -1 : 1000;
}

static void
rq_drop(void *ctx, struct eng_task *t)
{
	struct breq *q = ctx;
	if (!q->done && !q->failed) {
		q->failed = 1;
		eng_seterr(&q->err, EC_RETRY, "interrupted");
	}
}

/* Send q; 0 when it came back 2xx (q->doc, q->header), else -1 with q->err. */
int
breq_run(struct breq *q, const char *what)
{
	struct eng_config ec = { .concurrency = 1, .retries = 4, .timeout = 3600, .job_timeout = 0,
		.grace = 30 };
	struct eng_hooks h = { .ctx = q, .feed = rq_feed, .input_fd = -1, .done = rq_done,
		.fail = rq_fail, .drop = rq_drop, .tick = rq_tick };
	struct eng_task t = { .id = what };
	q->done = q->failed = 0;
	struct engine *e = eng_new(&ec, &rq_provider, q, &h);
	eng_submit(e, &t);
	eng_run(e);
	eng_free(e);
	if (!q->done && !q->failed) {
		q->failed = 1;
		eng_seterr(&q->err, EC_RETRY, q_stop(q) ? "interrupted" : "no answer");
	}
	return q->done ? 0 : -1;
}

void
breq_clear(struct breq *q)
{
	json_decref(q->doc);
	free(q->header);
	q->doc = NULL;
	q->header = NULL;
}

