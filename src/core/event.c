/* event: the stage table and the writers of the journal's events. */
#include "core/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const stage_name[ST_N] = { "ingest", "analyze", "generate", "pack" };

const struct stage_info stage_info[ST_N] = {
	[ST_INGEST] = { "ingest", -1, NULL, { "image", NULL }, { "image", NULL } },
	[ST_ANALYZE] = { "analyze", ST_INGEST, "image", { "analysis", "meta", NULL },
		{ "analysis", "analysis_meta", NULL } },
	[ST_GENERATE] = { "generate", ST_ANALYZE, "analysis", { "content", "meta", NULL },
		{ "content", "content_meta", NULL } },
	[ST_PACK] = { "pack", ST_GENERATE, "content", { NULL }, { NULL } },
};

const char *const event_fields[] = { "ev", "id", "key", "t", "ms", "attempt", "final",
	"retry_at", "usage", "cost", "version", "up", NULL };
const char *const event_payload[] = { "job", "image", "analysis", "content", "meta", "ids",
	NULL };

char *
event_json(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

static void
head(struct buf *b, const char *ev, const char *id, int64_t t, const char *key)
{
	buf_addf(b, "{\"ev\":\"%s\",\"id\":\"%s\",\"t\":%lld,\"key\":\"%s\"", ev, id, (long long)t, key);
}

static void
usage_cost(struct buf *b, json_t *usage, double cost)
{
	if (usage) {
		char *s = event_json(usage);
		buf_addf(b, ",\"usage\":%s", s);
		free(s);
	}
	if (cost > 0)
		buf_addf(b, ",\"cost\":%.10g", cost);
}

void
event_header(struct buf *b, int version, int64_t t)
{
	buf_addf(b, "{\"ev\":\"journal\",\"version\":%d,\"t\":%lld}", version, (long long)t);
}

void
event_job(struct buf *b, const char *id, int64_t t, const char *key, const char *job_json,
    const char *src)
{
	head(b, "job", id, t, key);
	buf_addf(b, ",\"job\":%s", job_json);
	if (src) {
		json_t *s = json_string(src);
		char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		if (q)
			buf_addf(b, ",\"src\":%s", q);
		free(q);
		json_decref(s);
	}
	buf_add(b, "}", 1);
}

void
event_done_open(struct buf *b, const char *id, int64_t t, const char *key, const char *up, long ms,
    int attempt, json_t *usage, double cost)
{
	head(b, "done", id, t, key);
	if (up)
		buf_addf(b, ",\"up\":\"%s\"", up);
	buf_addf(b, ",\"ms\":%ld,\"attempt\":%d", ms, attempt);
	usage_cost(b, usage, cost);
}

void
event_field(struct buf *b, const char *name, const char *json_text)
{
	buf_addf(b, ",\"%s\":%s", name, json_text);
}

void
event_close(struct buf *b)
{
	buf_add(b, "}", 1);
}

void
event_fail(struct buf *b, const char *id, int64_t t, const char *key, int attempt, const char *kind,
    int final, long status, int64_t retry_at, json_t *usage, double cost, const char *msg)
{
	head(b, "fail", id, t, key);
	buf_addf(b, ",\"attempt\":%d,\"kind\":\"%s\",\"final\":%s", attempt, kind,
	    final ? "true" : "false");
	if (status)
		buf_addf(b, ",\"status\":%ld", status);
	if (retry_at)
		buf_addf(b, ",\"retry_at\":%lld", (long long)retry_at);
	usage_cost(b, usage, cost);
	/* the message is text from outside: last, and escaped by the encoder */
	json_t *m = json_string(msg ? msg : "");
	if (!m)   /* not UTF-8: jansson refuses it; keep what is safe */
		m = json_string("(a message that is not UTF-8)");
	char *s = event_json(m);
	json_decref(m);
	buf_addf(b, ",\"error\":%s}", s);
	free(s);
}

void
event_retry(struct buf *b, const char *id, int64_t t)
{
	buf_addf(b, "{\"ev\":\"retry\",\"id\":\"%s\",\"t\":%lld}", id, (long long)t);
}

void
event_forget(struct buf *b, const char *id, int64_t t)
{
	buf_addf(b, "{\"ev\":\"forget\",\"id\":\"%s\",\"t\":%lld}", id, (long long)t);
}

void
event_batch_open(struct buf *b, const char *ev, int64_t t, long seq)
{
	buf_addf(b, "{\"ev\":\"%s\",\"t\":%lld,\"batch\":%ld", ev, (long long)t, seq);
}

void
event_int(struct buf *b, const char *name, long long v)
{
	buf_addf(b, ",\"%s\":%lld", name, v);
}

void
event_str(struct buf *b, const char *name, const char *s)
{
	/* provider ids and states are text from outside: escaped */
	json_t *m = json_string(s ? s : "");
	if (!m)
		m = json_string("?");
	char *t = event_json(m);
	json_decref(m);
	buf_addf(b, ",\"%s\":%s", name, t);
	free(t);
}
