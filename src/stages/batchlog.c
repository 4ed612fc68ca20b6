/* batchlog: what a stage's journal says of its provider batches (the
 * batch_* events, docs/journal.md), for the batch driver and vj-status. */
#include "stages/batch.h"
#include "core/journal.h"
#include "core/run.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct batch_rec *
batch_list_get(struct batch_list *l, long seq, int create)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->b[i].seq == seq)
			return &l->b[i];
	if (!create)
		return NULL;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->b = xrealloc(l->b, l->cap * sizeof *l->b);
	}
	struct batch_rec *b = &l->b[l->n++];
	memset(b, 0, sizeof *b);
	b->seq = seq;
	snprintf(b->state, sizeof b->state, "intent");
	return b;
}

static void
cpy(char *dst, size_t n, json_t *v)
{
	const char *s = json_string_value(v);
	snprintf(dst, n, "%s", s ? s : "");
}

static long
geti(json_t *ev, const char *k)
{
	return (long)json_integer_value(json_object_get(ev, k));
}

/* One batch_* event applied to the list (ev: its parsed line). */
static void
apply(struct batch_list *l, json_t *ev)
{
	const char *k = json_string_value(json_object_get(ev, "ev"));
	json_t *sq = json_object_get(ev, "batch");
	if (!k || !json_is_integer(sq))
		return;
	int64_t t = json_integer_value(json_object_get(ev, "t"));
	struct batch_rec *b = batch_list_get(l, (long)json_integer_value(sq), 1);
	if (!strcmp(k, "batch_intent")) {
		cpy(b->name, sizeof b->name, json_object_get(ev, "name"));
		cpy(b->provider, sizeof b->provider, json_object_get(ev, "provider"));
		cpy(b->model, sizeof b->model, json_object_get(ev, "model"));
		b->n = geti(ev, "n");
		b->bytes = json_integer_value(json_object_get(ev, "bytes"));
		b->t_intent = t;
	} else if (!strcmp(k, "batch_created")) {
		cpy(b->pid, sizeof b->pid, json_object_get(ev, "pid"));
		b->t_created = t;
		if (!strcmp(b->state, "intent"))
			snprintf(b->state, sizeof b->state, "pending");
	} else if (!strcmp(k, "batch_state")) {
		cpy(b->state, sizeof b->state, json_object_get(ev, "state"));
		b->total = geti(ev, "total");
		b->ok = geti(ev, "ok");
		b->failed = geti(ev, "failed");
		b->pending = geti(ev, "pending");
		b->t_state = t;
	} else if (!strcmp(k, "batch_collected")) {
		b->collected = 1;
		b->done = geti(ev, "done");
		b->fails = geti(ev, "failed");
		b->missing = geti(ev, "missing");
		b->t_collected = t;
	}
}

static int
scan_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	static const char pre[] = "{\"ev\":\"batch_";
	(void)off;
	if (len < sizeof pre || memcmp(json, pre, sizeof pre - 1) != 0)
		return 0;
	json_t *ev = json_loadb(json, len, 0, NULL);
	if (ev)
		apply(ctx, ev);
	json_decref(ev);
	return 0;
}

int
batch_scan(const char *run, enum stage s, struct batch_rec **out, size_t *n, char *err,
    size_t errlen)
{
	struct batch_list l = { 0 };
	struct jreader *r = jreader_open(run, stage_name[s]);
	*out = NULL;
	*n = 0;
	if (!r)
		return 0;
	int rc = jreader_poll(r, scan_cb, &l, err, errlen);
	jreader_close(r);
	if (rc < 0) {
		free(l.b);
		return -1;
	}
	*out = l.b;
	*n = l.n;
	return 0;
}

int
batch_scan_run(struct run *r, enum stage s, struct batch_rec **out, size_t *n)
{
	struct batch_list l = { 0 };
	for (uint32_t i = 0; i < r->nbatch[s]; i++) {
		json_t *ev = run_line(r, s, r->batch_off[s][i]);
		if (ev)
			apply(&l, ev);
		json_decref(ev);
	}
	*out = l.b;
	*n = l.n;
	return 0;
}

/* ---- vj-status --batches ---- */

static json_t *
rec_json(enum stage s, const struct batch_rec *b)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:b, "
	    "s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "stage", stage_name[s], "seq", (json_int_t)b->seq, "name", b->name, "pid", b->pid,
	    "provider", b->provider, "model", b->model, "requests", (json_int_t)b->n,
	    "bytes", (json_int_t)b->bytes, "state", b->collected ? "collected" : b->state,
	    "total", (json_int_t)b->total, "ok", (json_int_t)b->ok,
	    "failed", (json_int_t)b->failed, "pending", (json_int_t)b->pending,
	    "collected", b->collected, "done", (json_int_t)b->done,
	    "failed_jobs", (json_int_t)b->fails, "missing", (json_int_t)b->missing,
	    "t_intent", (json_int_t)b->t_intent, "t_created", (json_int_t)b->t_created,
	    "t_state", (json_int_t)b->t_state, "t_collected", (json_int_t)b->t_collected);
}

int
batch_show(const char *run, int json)
{
	json_t *all = json_array();
	char err[512];
	int any = 0;
	if (!run_exists(run)) {
		vj_msg("no run at %s (check -r or $VJ_RUN)", run);
		json_decref(all);
		return VJ_EUSAGE;
	}
	for (enum stage s = ST_ANALYZE; s <= ST_GENERATE; s++) {
		struct batch_rec *b;
		size_t n;
		if (batch_scan(run, s, &b, &n, err, sizeof err) < 0) {
			vj_msg("%s", err);
			json_decref(all);
			return VJ_EFATAL;
		}
		for (size_t i = 0; i < n; i++) {
			if (json) {
				json_array_append_new(all, rec_json(s, &b[i]));
				continue;
			}
			if (!any++)
				printf("%-9s %5s  %-8s %-24s %7s  %-10s %7s %7s %7s %7s  %s\n", "stage", "batch",
				    "provider", "model", "jobs", "state", "total", "ok", "failed", "pending",
				    "provider id");
			printf("%-9s %5ld  %-8s %-24s %7ld  %-10s %7ld %7ld %7ld %7ld  %s\n", stage_name[s],
			    b[i].seq, b[i].provider, b[i].model, b[i].n,
			    b[i].collected ? "collected" : b[i].state, b[i].total, b[i].ok, b[i].failed,
			    b[i].pending, b[i].pid[0] ? b[i].pid : "(not created yet)");
		}
		free(b);
	}
	if (json) {
		json_t *o = json_pack("{s:o}", "batches", all);
		char *t = json_dumps(o, JSON_COMPACT);
		printf("%s\n", t ? t : "{}");
		free(t);
		json_decref(o);
	} else {
		json_decref(all);
		if (!any)
			printf("no batches\n");
	}
	return VJ_OK;
}

