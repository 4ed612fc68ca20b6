/* jobinfo: one job's story, from its manifest to its shard: each stage's
 * events in order (attempts, errors, timings, usage, cost), its cache keys
 * and state as the fold sees them, and the shards that hold it. */
#include "stages/jobinfo.h"
#include "base/jscan.h"
#include "base/util.h"
#include "content/job.h"
#include "core/journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct collect {
	const char *id;
	size_t idlen;
	int pack;          /* pack journal: match the id inside "ids" */
	json_t *events;    /* the matching events, parsed */
};

/* Does the ids array text hold "id"?  Ids need no escaping. */
static int
ids_hold(const struct jval *ids, const char *id, size_t n)
{
	const char *p = ids->p, *e = ids->p + ids->len;
	while ((p = memmem(p, (size_t)(e - p), id, n))) {
		if (p > ids->p && p[-1] == '"' && p + n < e && p[n] == '"')
			return 1;
		p += n;
	}
	return 0;
}

static int
collect_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	static const char *const keys[] = { "id", "ids" };
	struct collect *c = ctx;
	struct jval v[2];
	if (jscan(json, len, keys, v, 2) < 0)
		return 0;
	int hit = c->pack ? v[1].type == 'a' && ids_hold(&v[1], c->id, c->idlen)
	    : v[0].type == 's' && v[0].len == c->idlen && memcmp(v[0].p, c->id, c->idlen) == 0;
	if (!hit)
		return 0;
	json_t *ev = json_loadb(json, len, 0, NULL);
	if (!ev)
		return 0;   /* the fold ignores it too (and warns) */
	json_object_set_new(ev, "offset", json_integer((json_int_t)off));
	if (c->pack)
		json_object_del(ev, "ids");   /* the shard's other jobs are not this job's story */
	json_array_append_new(c->events, ev);
	return 0;
}

static const char *const state_name[] = { "pending", "done", "retrying", "failed", "withdrawn" };

static json_t *
stage_story(struct run *r, enum stage s, uint32_t slot, const char *id, char *err, size_t errlen)
{
	struct collect c = { id, strlen(id), s == ST_PACK, json_array() };
	struct jreader *rd = jreader_open(r->dir, stage_name[s]);
	int rc = jreader_poll(rd, collect_cb, &c, err, errlen);
	jreader_close(rd);
	if (rc < 0) {
		json_decref(c.events);
		return NULL;
	}
	struct jobstate *f = run_job(r, s, slot);
	json_t *o = json_object();
	json_object_set_new(o, "state", json_string(state_name[f && f->state <= JS_GONE ? f->state : 0]));
	if (f && f->state == JS_DONE && s != ST_PACK) {
		char k[KEY_HEX + 1];
		key_format(f->key, k);
		json_object_set_new(o, "key", json_string(k));
	}
	if (f && f->state == JS_RETRY && f->retry_at)
		json_object_set_new(o, "retry_at", json_integer((json_int_t)f->retry_at * 1000));
	if (f && s != ST_PACK)
		json_object_set_new(o, "attempts", json_integer(f->attempts));
	json_object_set_new(o, "events", c.events);
	return o;
}

/* One event as a line for people. */
static void
event_line(json_t *ev, struct buf *out)
{
	const char *type = json_string_value(json_object_get(ev, "ev"));
	char when[32] = "-";
	if (json_is_integer(json_object_get(ev, "t")))
		utc_iso(json_integer_value(json_object_get(ev, "t")), when, sizeof when);
	buf_addf(out, "    %s  %-7s", when, type ? type : "?");
	json_t *x;
	if ((x = json_object_get(ev, "attempt")))
		buf_addf(out, " attempt %lld", (long long)json_integer_value(x));
	if ((x = json_object_get(ev, "ms")))
		buf_addf(out, " %lld ms", (long long)json_integer_value(x));
	if ((x = json_object_get(ev, "kind")))
		buf_addf(out, " %s%s", json_string_value(x),
		    json_is_true(json_object_get(ev, "final")) ? " (final)" : "");
	if ((x = json_object_get(ev, "usage"))) {
		char *u = json_dumps(x, JSON_COMPACT);
		buf_addf(out, " usage %s", u);
		free(u);
	}
	if ((x = json_object_get(ev, "cost")))
		buf_addf(out, " $%.6f", json_number_value(x));
	if ((x = json_object_get(ev, "name")))
		buf_addf(out, " %s in %s", json_string_value(x),
		    json_string_value(json_object_get(ev, "out")) ? json_string_value(json_object_get(ev, "out")) : "?");
	if ((x = json_object_get(ev, "error"))) {
		/* a provider's words: escaped, as every message is */
		char safe[2048];
		text_escape(json_string_value(x), json_string_length(x), safe, sizeof safe);
		buf_addf(out, "\n        %s", safe);
	}
	buf_adds(out, "\n");
}

static void
text(json_t *doc, struct buf *out)
{
	buf_addf(out, "job %s in run %s\n", json_string_value(json_object_get(doc, "id")),
	    json_string_value(json_object_get(doc, "run")));
	char *job = json_dumps(json_object_get(doc, "job"), JSON_COMPACT | JSON_PRESERVE_ORDER);
	buf_addf(out, "  manifest: %s\n", job ? job : "-");
	free(job);
	json_t *stages = json_object_get(doc, "stages");
	for (int s = 0; s < ST_N; s++) {
		json_t *st = json_object_get(stages, stage_name[s]);
		const char *key = json_string_value(json_object_get(st, "key"));
		buf_addf(out, "  %s: %s", stage_name[s], json_string_value(json_object_get(st, "state")));
		if (key)
			buf_addf(out, ", key %s", key);
		if (json_object_get(st, "attempts"))
			buf_addf(out, ", %lld failed attempts since the last result",
			    (long long)json_integer_value(json_object_get(st, "attempts")));
		buf_adds(out, "\n");
		size_t i;
		json_t *ev;
		json_array_foreach(json_object_get(st, "events"), i, ev)
			event_line(ev, out);
	}
}

int
jobinfo_show(const struct status_opt *o, const char *id)
{
	char err[1024] = "";
	if (!job_id_valid(id, strlen(id))) {
		vj_msg("--job: '%.140s' is not a job id ([A-Za-z0-9_-], 1 to 128 characters)", id);
		return VJ_EUSAGE;
	}
	if (!status_run_exists(o->run))
		return VJ_EUSAGE;
	struct run *r = run_new(o->run);
	if (run_refresh(r, (1u << ST_N) - 1, err, sizeof err) < 0) {
		vj_msg("%s", err);
		run_free(r);
		return VJ_EFATAL;
	}
	int64_t slot = idx_get(r->ids, id, strlen(id), 0);
	if (slot < 0 || !r->job_off || (uint32_t)slot >= r->cap || r->job_off[slot] == NO_OFF) {
		vj_msg("run %s has no job %s", o->run, id);
		run_free(r);
		return VJ_EUSAGE;
	}
	json_t *doc = json_object(), *stages = json_object();
	json_object_set_new(doc, "id", json_string(id));
	json_object_set_new(doc, "run", json_string(o->run));
	json_t *jobev = run_line(r, ST_INGEST, r->job_off[slot]);
	json_object_set(doc, "job", json_object_get(jobev, "job") ? json_object_get(jobev, "job") : json_null());
	json_decref(jobev);
	json_object_set_new(doc, "stages", stages);
	int rc = VJ_OK;
	for (int s = 0; s < ST_N && rc == VJ_OK; s++) {
		json_t *st = stage_story(r, (enum stage)s, (uint32_t)slot, id, err, sizeof err);
		if (!st) {
			vj_msg("%s", err);
			rc = VJ_EFATAL;
			break;
		}
		json_object_set_new(stages, stage_name[s], st);
	}
	if (rc == VJ_OK) {
		struct buf out = {0};
		if (o->json) {
			char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
			buf_adds(&out, s);
			buf_adds(&out, "\n");
			free(s);
		} else
			text(doc, &out);
		fwrite(out.p, 1, out.len, stdout);
		buf_free(&out);
	}
	json_decref(doc);
	run_free(r);
	return rc;
}
