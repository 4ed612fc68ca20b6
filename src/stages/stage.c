/* stage: one driver for vj-ingest, vj-analyze and vj-generate. */
#include "stages/stage.h"
#include "stages/input.h"
#include "stages/progress.h"
#include "base/jarena.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* One job handed to the engine: its task (and record), where it is in
 * the run, the key its result is journaled under. */
struct job_task {
	struct eng_task t;
	uint32_t slot;                /* the job's slot in the run */
	char key[KEY_HEX + 1];        /* this stage's key for it */
	char *raw_job;                /* rec.job as text, when the input gave it */
	int64_t due;                  /* wall ms it may be sent at (a retry time); 0 now */
	double reserved;              /* --max-cost: its estimated cost, held until it ends */
};

/* Why a stage stops before its work is done: the first reason is kept, and
 * says both the exit status and the summary's words. */
enum stop_reason {
	STOP_NONE = 0,
	STOP_SIGNAL,      /* SIGINT/SIGTERM: finish what is in flight, exit 75 */
	STOP_BUDGET,      /* --max-cost reached: exit 75 */
	STOP_CLOSED,      /* sending is closed (--off-peak in peak hours): exit 75 */
	STOP_OUTPUT,      /* stdout is gone: finish and journal what is in flight, exit 3 */
	STOP_JOURNAL,     /* this stage's journal cannot be written: stop now, exit 3 */
	STOP_UPSTREAM,    /* an upstream journal cannot be read (--follow): exit 3 */
	STOP_FINISH,      /* the stage's own finishing step failed: exit 3 */
	STOP_DURABLE,     /* what the results name could not be made durable: exit 3 */
};

struct stage_state {
	const struct stage_config *conf;   /* from the command line, by the command */
	struct stage_def *d;
	struct run *run;
	struct engine *eng;
	/* input */
	struct input *inq;
	uint32_t scan;                /* --pending: next slot to look at */
	int64_t last_poll;
	/* state */
	unsigned char *busy;
	uint32_t busy_cap;
	struct buf out, evbuf;
	enum stop_reason stop;        /* why the stage stopped before the end, if it did */
	int io_failed;                /* the journal could not be written */
	int durable_failed;           /* nor what its results name made durable */
	size_t mark_j, mark_out;      /* journal and output queued at the last durable call */
	int64_t last_full;            /* mono ms of the last round that committed all */
	uint64_t n_done, n_cached, n_dead, n_retry_left, n_bad, n_skipped_dead, n_waiting;
	double cost;
	int64_t last_commit;
	uint64_t total;               /* what there is to do, when known (progress.h) */
	int count_later;              /* --pending: total still to count (1), at the next tick (2) */
	int64_t due;                  /* wall ms the job being taken may be retried at; 0 now */
	uint64_t n_waiting_open;      /* feeds that found sending closed, in a row */
	/* --max-cost: what the jobs handed to the engine are expected to cost
	 * until each is settled by its real cost; a job that does not fit
	 * waits in held until enough is settled */
	double reserved;
	struct job_task *held;
	int each;                     /* stage_each: nothing goes to the engine */
	void (*each_fn)(void *ctx, json_t *rec);
	void *each_ctx;
	struct progress *prog;
};

static volatile sig_atomic_t got_signal;

static const char *const stop_words[] = {
	[STOP_NONE] = "", [STOP_SIGNAL] = ", interrupted", [STOP_BUDGET] = ", stopped at the budget",
	[STOP_CLOSED] = ", stopped: peak hours (--off-peak)",
	[STOP_OUTPUT] = ", stopped: the output could not be written (what was in flight is journaled)",
	[STOP_JOURNAL] = ", stopped: the journal could not be written",
	[STOP_UPSTREAM] = ", stopped: an upstream journal could not be read",
	[STOP_FINISH] = ", stopped: the stage could not finish",
	[STOP_DURABLE] = ", stopped: the images could not be made durable",
};

static void
stop(struct stage_state *x, enum stop_reason why)
{
	int io = why == STOP_JOURNAL || why == STOP_DURABLE;
	if (x->stop == STOP_NONE || (io && x->stop != STOP_JOURNAL && x->stop != STOP_DURABLE))
		x->stop = why;   /* a journal or store that fails outranks any other reason */
}

static void
on_signal(int sig)
{
	got_signal++;
}

struct run *stage_run(struct stage_state *x) { return x->run; }
struct journal *stage_journal(struct stage_state *x) { return x->run->own[x->d->s]; }
void *stage_ctx(struct stage_state *x) { return x->d->ctx; }

/* The journal cannot be written: say so once, stop at once (nothing may be
 * passed on unjournaled), exit 3. */
void
stage_io_error(struct stage_state *x, const char *id)
{
	if (!x->io_failed) {
		if (id)
			vj_warn("job %s: cannot write %s:", id, journal_path(stage_journal(x)));
		else
			vj_warn("cannot write %s:", journal_path(stage_journal(x)));
	}
	x->io_failed = 1;
	stop(x, STOP_JOURNAL);
}

/* The stage's durable hook before a commit: when it fails nothing more is
 * committed (the results would name what may not be on disk). */
static int
make_durable(struct stage_state *x, int all)
{
	if (x->durable_failed)
		return -1;      /* and stays so: what is queued may name what is lost */
	int r = x->d->durable ? x->d->durable(x, all) : 0;
	if (r >= 0)
		return all ? 0 : r;
	x->durable_failed = x->io_failed = 1;
	stop(x, STOP_DURABLE);
	return -1;
}

void
stage_key(struct stage_state *x, const char *up, char key[KEY_HEX + 1])
{
	key_derive(stage_name[x->d->s], x->d->cfg, up, key);
}

void
stage_budget(struct stage_state *x, double *spent, double *reserved, double *budget)
{
	*spent = x->cost;
	*reserved = x->reserved;
	*budget = x->conf->max_cost;
}

static void admit(struct stage_state *x, struct job_task *jt);

/* Print a record.  With raw_job, the job is spliced in as text rather than
 * dumped again: at a million lines, dumping is most of ingest's time. */
struct emit_cache {
	const char *name[8];
	char *text[8];
	int n;
};

static void
emit_raw(struct stage_state *x, json_t *rec, const char *raw_job, const struct emit_cache *c)
{
	const char *k;
	json_t *v;
	int first = 1;
	if (!raw_job && !c) {
		char *s = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (!s)
			return;
		buf_adds(&x->out, s);
		buf_add(&x->out, "\n", 1);
		free(s);
		return;
	}
	buf_add(&x->out, "{", 1);
	json_object_foreach(rec, k, v) {
		/* the record's keys are vj's own names: nothing to escape */
		buf_addf(&x->out, "%s\"%s\":", first ? "" : ",", k);
		first = 0;
		if (raw_job && !strcmp(k, "job")) {
			buf_adds(&x->out, raw_job);
			continue;
		}
		/* ids ([A-Za-z0-9_-]) and keys (hex) need no escaping */
		if (!strcmp(k, "id") && json_is_string(v)) {
			buf_addf(&x->out, "\"%s\"", json_string_value(v));
			continue;
		}
		if (!strcmp(k, "keys") && json_is_object(v)) {
			const char *kk;
			json_t *kv;
			int f1 = 1;
			buf_add(&x->out, "{", 1);
			json_object_foreach(v, kk, kv) {
				buf_addf(&x->out, "%s\"%s\":\"%s\"", f1 ? "" : ",", kk,
				    json_string_value(kv) ? json_string_value(kv) : "");
				f1 = 0;
			}
			buf_add(&x->out, "}", 1);
			continue;
		}
		int i;
		for (i = 0; c && i < c->n; i++)
			if (!strcmp(c->name[i], k))
				break;
		if (c && i < c->n) {
			buf_adds(&x->out, c->text[i]);
			continue;
		}
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		if (s)
			buf_adds(&x->out, s);
		free(s);
	}
	buf_add(&x->out, "}\n", 2);
}

static int
is_busy(struct stage_state *x, uint32_t slot)
{
	return slot < x->busy_cap && x->busy[slot];
}

static void
set_busy(struct stage_state *x, uint32_t slot, int v)
{
	x->busy = grow_slots(x->busy, &x->busy_cap, slot, 1, 1024, 0);
	x->busy[slot] = (unsigned char)v;
}

/* Put the stage's stored result into rec from its done line. */
static int
merge_done(struct stage_state *x, json_t *rec, uint64_t off, const char *key)
{
	json_t *ev = run_line(x->run, x->d->s, off);
	if (!ev)
		return -1;
	for (int i = 0; stage_info[x->d->s].ev_field[i]; i++) {
		json_t *v = json_object_get(ev, stage_info[x->d->s].ev_field[i]);
		if (v)
			json_object_set(rec, stage_info[x->d->s].rec_field[i], v);
	}
	json_t *keys = json_object_get(rec, "keys");
	if (!json_is_object(keys)) {
		keys = json_object();
		json_object_set_new(rec, "keys", keys);
	}
	json_object_set_new(keys, stage_name[x->d->s], json_string(key));
	json_decref(ev);
	return 0;
}

/* A record with its key: emit it from the journal, skip it, or make it a
 * task.  slot: the job's, when the caller knows it (the queue), else -1:
 * on a run loaded from checkpoints, the first lookup of an id hashes every
 * id into the table (a second at ten million jobs), which a --pending
 * stage need not wait for. */
static void
consider(struct stage_state *x, json_t *rec, const char *key, char *raw_job, int64_t slot)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	if (slot < 0)
		slot = idx_get(x->run->ids, id, strlen(id), 1);
	struct jobstate *f = run_job(x->run, x->d->s, (uint32_t)slot);
	uint64_t k[2];

	key_parse(key, k);
	if (x->d->s != ST_INGEST && run_gone(x->run, (uint32_t)slot) && !x->conf->pending) {
		/* a record in a pipe: vj-ingest may have given the job back
		 * (--replace) after this stage last read its journal */
		char err[512];
		if (run_refresh(x->run, 1u << ST_INGEST, err, sizeof err) < 0)
			vj_msg("%s", err);
		f = run_job(x->run, x->d->s, (uint32_t)slot);
	}
	if (x->d->s != ST_INGEST && run_gone(x->run, (uint32_t)slot)) {
		vj_info("job %s: withdrawn (vj-ingest --forget): skipped", id);
		json_decref(rec);
		free(raw_job);
		return;
	}
	if (f->state == JS_DONE && f->key[0] == k[0] && f->key[1] == k[1]) {
		if (merge_done(x, rec, f->off, key) == 0) {
			x->n_cached++;
			if (!x->each || x->d->each_emit)
				emit_raw(x, rec, raw_job, NULL);
			vj_debug("job %s: already done (key %.12s), from the journal", id, key);
			json_decref(rec);
			free(raw_job);
			return;
		}
	}
	if (x->d->want && !x->d->want(x->d->want_ctx, id)) {
		json_decref(rec);   /* another way is taking care of it (--batch) */
		free(raw_job);
		return;
	}
	if (is_busy(x, (uint32_t)slot)) {
		json_decref(rec);   /* the same job twice in one input: once is enough */
		free(raw_job);
		return;
	}
	if (f->state == JS_DEAD && !x->conf->retry_failed && f->fkey == (uint32_t)k[1]) {
		x->n_skipped_dead++;
		vj_debug("job %s: failed for good earlier; --retry-failed tries it again", id);
		json_decref(rec);
		free(raw_job);
		return;
	}
	if (f->state == JS_DEAD && x->conf->retry_failed && !x->each) {
		struct buf *ev = &x->evbuf;
		ev->len = 0;
		event_retry(ev, id, now_ms());
		if (run_append_slot(x->run, x->d->s, ev->p, ev->len, slot) < 0)
			stage_io_error(x, id);
	}
	struct job_task *jt = xcalloc(1, sizeof *jt);
	jt->raw_job = raw_job;
	jt->slot = (uint32_t)slot;
	memcpy(jt->key, key, KEY_HEX + 1);
	jt->t.ud = jt;
	jt->t.rec = rec;
	jt->t.id = json_string_value(json_object_get(rec, "id"));
	jt->t.attempts = (f->fkey == (uint32_t)k[1] && f->state == JS_RETRY) ? f->attempts : 0;
	jt->due = x->due;
	x->due = 0;
	set_busy(x, (uint32_t)slot, 1);
	if (x->each) {
		/* stage_each: the job is what the caller wanted to hear of */
		x->each_fn(x->each_ctx, rec);
		free(raw_job);
		free(jt);
		return;
	}
	admit(x, jt);
}

static void
free_task(struct stage_state *x, struct job_task *jt)
{
	/* the job has ended (or is left for another run): its reserve is
	 * settled, its real cost is in x->cost */
	x->reserved -= jt->reserved;
	if (x->reserved < 1e-12)
		x->reserved = 0;
	set_busy(x, jt->slot, 0);
	json_decref(jt->t.rec);
	free(jt->raw_job);
	free(jt);
}

/* ---- input: lines from files or stdin, prepared on the input thread ---- */

static int
feed_lines(struct stage_state *x, int room)
{
	struct input_item it;
	while (room > 0 && !x->held && x->stop == STOP_NONE) {
		int r = input_next(x->inq, &it);
		if (r == 0)
			return 1;
		if (r < 0)
			return 2;
		if (it.err) {
			if (it.lno)
				vj_msg("%s:%ld: %s", it.src, it.lno, it.err);
			else
				vj_msg("%s: %s", it.src, it.err);
			x->n_bad++;
			if (x->d->reject && it.lno && it.len)
				x->d->reject(x, it.line, it.len);
		} else {
			json_t *rec = NULL;
			char key[KEY_HEX + 1];
			char *raw = NULL;
			int a = x->d->accept(x, it.prep, it.line, it.len, it.src, it.lno, &rec, key, &raw);
			if (a == 0)
				consider(x, rec, key, raw, -1);
			else if (a < 0)
				x->n_bad++;
		}
		input_item_free(&it);
		room--;
	}
	return 0;
}

/* ---- input: the run's queue ---- */

/* Is slot ready for this stage now?  0 yes, with its key; 1 no (done,
 * failed for good, not ready upstream, or waiting: *waiting is counted). */
static int
pending_check(struct stage_state *x, uint32_t slot, char key[KEY_HEX + 1], uint64_t *waiting)
{
	enum stage s = x->d->s;
	struct run *r = x->run;
	char up[KEY_HEX + 1];
	struct jobstate *f = run_job(r, s, slot);

	x->due = 0;
	if (s == ST_INGEST) {
		if (!r->job_off || slot >= r->cap || r->job_off[slot] == NO_OFF || f->state == JS_GONE)
			return 1;
		key_format(f->key, key);      /* the job's key, from its job event */
	} else {
		/* the upstream result of the job's current version: after a
		 * --replace, not the old one, even where a crash left it */
		struct jobstate *u = run_job(r, (enum stage)(s - 1), slot);
		if (!u || !run_current(r, (enum stage)(s - 1), slot))
			return 1;
		key_format(u->key, up);
		stage_key(x, up, key);
	}
	uint64_t k[2];
	key_parse(key, k);
	if (f->state == JS_DONE && f->key[0] == k[0] && f->key[1] == k[1])
		return 1;
	if (f->state == JS_DEAD && !x->conf->retry_failed && (s == ST_INGEST || f->fkey == (uint32_t)k[1]))
		return 1;
	if (f->state == JS_RETRY && (s == ST_INGEST || f->fkey == (uint32_t)k[1])) {
		/* a retry the last run left: due soon, it is taken and waited for
		 * (a crash must not leave a night's work undone); due later, it
		 * is counted as waiting and the stage exits 75 */
		int64_t at = (int64_t)f->retry_at * 1000, now = now_ms();
		if (at > now && (double)(at - now) > x->conf->wait_retries * 1000) {
			(*waiting)++;
			return 1;
		}
		x->due = at > now ? at : 0;
	}
	return 0;
}

/* A job to redo with --pending: the upstream record, or for ingest the
 * journaled job.  A job whose image path is relative is fetched from the
 * event's "src" and printed as journaled (*raw_job). */
static int
pending_record(struct stage_state *x, uint32_t slot, json_t **rec, char key[KEY_HEX + 1],
    char **raw_job)
{
	struct run *r = x->run;
	*raw_job = NULL;
	if (pending_check(x, slot, key, &x->n_waiting))
		return 1;
	if (x->d->s != ST_INGEST) {
		*rec = run_record(r, slot, (enum stage)(x->d->s - 1));
		return *rec ? 0 : 1;
	}
	json_t *ev = run_line(r, ST_INGEST, r->job_off[slot]);
	if (!ev)
		return 1;
	json_t *job = json_object_get(ev, "job"), *src = json_object_get(ev, "src");
	if (json_is_string(src) && json_is_object(job)) {
		*raw_job = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
		*rec = json_pack("{s:s, s:{}, s:{s:O}}", "id", idx_id(r->ids, slot), "keys", "job",
		    "imageUrl", src);
	} else {
		*rec = json_pack("{s:s, s:{}, s:O}", "id", idx_id(r->ids, slot), "keys", "job", job);
	}
	json_decref(ev);
	return *rec ? 0 : 1;
}

/* How much --pending has to do from slot from on, for the progress line. */
static uint64_t
count_pending(struct stage_state *x, uint32_t from)
{
	uint64_t n = 0, waiting = 0;
	int64_t due = x->due;
	char key[KEY_HEX + 1];
	for (uint32_t slot = from; slot < idx_count(x->run->ids); slot++)
		if (pending_check(x, slot, key, &waiting) == 0)
			n++;
	x->due = due;
	return n;
}

/* The total of a --pending run is counted once the first jobs are on their
 * way, not before: it derives every job's key (ten million of them on a
 * big run, a second or more) and the first request should not wait for a
 * figure only the progress line shows.  What the scan has passed is
 * handled, queued, in flight or held; the rest is counted. */
static void
count_total(struct stage_state *x)
{
	struct eng_counts c;
	eng_counts(x->eng, &c);
	uint64_t handled = x->n_done + x->n_cached + x->n_dead + x->n_bad + x->n_skipped_dead;
	if (x->count_later == 1) {
		if (c.in_flight > 0 || handled > 0 || x->scan >= idx_count(x->run->ids))
			x->count_later = 2;   /* the next turn: the requests are sent */
		return;
	}
	x->count_later = 0;
	x->total = handled + c.in_flight + c.queued + (x->held != NULL) + count_pending(x, x->scan);
}

static void
scan_some(struct stage_state *x, int *room)
{
	while (*room > 0 && x->scan < idx_count(x->run->ids) && !x->held && x->stop == STOP_NONE) {
		uint32_t slot = x->scan++;
		json_t *rec = NULL;
		char key[KEY_HEX + 1];
		if (is_busy(x, slot))
			continue;
		char *raw_job;
		if (pending_record(x, slot, &rec, key, &raw_job) == 0) {
			consider(x, rec, key, raw_job, slot);
			(*room)--;
		}
	}
}

static int
feed_pending(struct stage_state *x, int room)
{
	char err[512];

	scan_some(x, &room);
	if (room == 0 || x->held)
		return 0;
	if (!x->conf->follow)
		return 2;
	/* --follow: look at the run again every 2 s, reading only what was
	 * appended since the last look */
	int64_t now = mono_ms();
	if (now - x->last_poll < 2000)
		return 1;
	x->last_poll = now;
	if (run_refresh(x->run, ~(1u << x->d->s), err, sizeof err) < 0) {
		vj_msg("%s", err);
		stop(x, STOP_UPSTREAM);
		return 2;
	}
	x->scan = 0;
	x->n_waiting = 0;
	scan_some(x, &room);
	return room == 0 ? 0 : 1;
}

/* ---- engine hooks ---- */

/* The budget: every job handed to the engine reserves its estimated cost
 * (d->reserve) until it ends and its real cost is known; a job is handed
 * over only while what is spent, what is reserved and its own estimate
 * stay within --max-cost, or alone when nothing else is in flight.  So a
 * run passes its budget by at most one request (plus what the estimates of
 * the requests in flight fall short of their real cost) -- not by a whole
 * queue or a round of -j. */
static void
budget_stop(struct stage_state *x)
{
	if (x->stop == STOP_BUDGET)
		return;
	vj_msg("budget of $%.4f reached ($%.4f spent, $%.4f reserved for requests in flight): taking no new work; run again with a higher --max-cost to continue",
	    x->conf->max_cost, x->cost, x->reserved);
	stop(x, STOP_BUDGET);
	/* start nothing more: what is in flight finishes and is journaled,
	 * what is queued stays pending for the next run */
	eng_stop(x->eng, 0);
}

static double
reserve_of(struct stage_state *x, json_t *rec)
{
	if (x->d->reserve)
		return x->d->reserve(x, rec);
	return x->n_done ? x->cost / (double)x->n_done : 0;
}

static void
send_task(struct stage_state *x, struct job_task *jt)
{
	if (jt->due)
		eng_submit_at(x->eng, &jt->t, jt->due);
	else
		eng_submit(x->eng, &jt->t);
}

/* Hand jt to the engine if the budget has room for it; else hold it until
 * reserves are settled, or stop when nothing is left to settle. */
static void
admit(struct stage_state *x, struct job_task *jt)
{
	if (x->conf->max_cost < 0) {
		send_task(x, jt);
		return;
	}
	if (!jt->reserved)
		jt->reserved = reserve_of(x, jt->t.rec);
	/* a job that fits; or, with nothing in flight and money left, one job
	 * alone: the budget is passed by at most that one request, and an
	 * estimate that errs high (max_tokens before any answer) cannot stall
	 * a run that has the money for it */
	if (x->cost + x->reserved + jt->reserved <= x->conf->max_cost ||
	    (x->reserved == 0 && x->cost < x->conf->max_cost)) {
		x->reserved += jt->reserved;
		send_task(x, jt);
		return;
	}
	if (x->reserved > 0 && x->stop == STOP_NONE) {
		if (!x->held)
			vj_debug("budget: $%.4f spent, $%.4f reserved, job %s needs $%.4f of $%.4f: waiting for answers",
			    x->cost, x->reserved, jt->t.id, jt->reserved, x->conf->max_cost);
		x->held = jt;
		return;
	}
	jt->reserved = 0;
	free_task(x, jt);
	budget_stop(x);
}

static void
fmt_when(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms == INT64_MAX) {
		snprintf(out, n, "never (no cheaper hours in the table)");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Nothing to do until something changes: at most ms, woken early by a
 * signal.  The engine calls feed again at once (it was told more may
 * come), so this is what keeps a held or closed stage from spinning. */
static void
pause_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Sending is closed (off-peak hours): 1 when no job may be taken now. */
static int
closed_now(struct stage_state *x)
{
	int64_t now = now_ms(), at;
	char when[64];
	if (!x->d->closed || !(at = x->d->closed(x, &now)))
		return 0;
	struct eng_counts c;
	eng_counts(x->eng, &c);
	if (!x->conf->wait_open) {
		fmt_when(at, when, sizeof when);
		vj_msg("peak hours: no request is sent before the cheap hours open at %s; "
		    "%s (exit 75; --wait waits for them)", when,
		    c.in_flight + c.queued ? "finishing what is in flight" : "nothing sent");
		stop(x, STOP_CLOSED);
		eng_stop(x->eng, 0);
		return 1;
	}
	if (!x->n_waiting_open++) {
		fmt_when(at, when, sizeof when);
		vj_info("peak hours: waiting for the cheap hours to open at %s", when);
	}
	pause_ms(c.in_flight || at - now < 10 ? 10 : at - now < 1000 ? at - now : 1000);
	return 1;
}

static int
hook_feed(void *ctx, int room)
{
	struct stage_state *x = ctx;
	if (x->stop == STOP_BUDGET || x->stop == STOP_CLOSED || x->io_failed)
		return 2;
	if (closed_now(x))
		return x->stop == STOP_CLOSED ? 2 : 0;
	x->n_waiting_open = 0;
	if (x->held) {
		struct job_task *jt = x->held;
		x->held = NULL;
		admit(x, jt);
		if (x->stop == STOP_BUDGET)
			return 2;
		if (x->held) {
			pause_ms(10);   /* the answers in flight settle reserves */
			return 0;
		}
		room--;
	}
	int r = x->conf->pending ? feed_pending(x, room) : feed_lines(x, room);
	if (x->stop == STOP_BUDGET)
		return 2;
	return x->held ? 0 : r;
}

static double
cost_of(struct stage_state *x, json_t *usage)
{
	if (!usage || !x->d->cost)
		return 0;
	return x->d->cost(x->d->prov_name, x->d->model, usage);
}

/* The result is journaled, then printed.  Each result field is turned into
 * text once and used for both (ids and keys need no escaping). */
static void
hook_done(void *ctx, struct eng_task *t, json_t *result, json_t *usage, long ms)
{
	struct stage_state *x = ctx;
	struct job_task *jt = t->ud;
	double c = cost_of(x, usage);
	struct emit_cache ec = { .n = 0 };
	struct buf *ev = &x->evbuf;

	struct fold_hint h = { .ev = 'd', .slot = jt->slot, .key = jt->key, .t = now_ms(), .ms = ms,
		.cost = c };
	if (usage) {
		h.tok[0] = (uint64_t)json_integer_value(json_object_get(usage, "prompt"));
		h.tok[1] = (uint64_t)json_integer_value(json_object_get(usage, "completion"));
		h.tok[2] = (uint64_t)json_integer_value(json_object_get(usage, "cached"));
	}
	const struct stage_info *si = &stage_info[x->d->s];
	/* the upstream result it was made from: a later stage tells by it a
	 * result of the job's current version from one of a replaced version */
	const char *up = si->up < 0 ? NULL :
	    json_string_value(json_object_get(json_object_get(t->rec, "keys"), stage_name[si->up]));
	if (up && !key_valid(up))
		up = NULL;
	h.up = up;
	ev->len = 0;
	event_done_open(ev, t->id, h.t, jt->key, up, ms, t->attempts + 1, usage, c);
	for (int i = 0; si->ev_field[i] && ec.n < 8; i++) {
		json_t *v = json_object_get(result, si->ev_field[i]);
		if (!v)
			continue;
		char *s = event_json(v);
		event_field(ev, si->ev_field[i], s);
		json_object_set(t->rec, si->rec_field[i], v);
		ec.name[ec.n] = si->rec_field[i];
		ec.text[ec.n++] = s;
	}
	event_close(ev);
	x->cost += c;
	if (run_append_hint(x->run, x->d->s, ev->p, ev->len, &h) < 0) {
		stage_io_error(x, t->id);
	} else {
		json_t *keys = json_object_get(t->rec, "keys");
		if (!json_is_object(keys)) {
			keys = json_object();
			json_object_set_new(t->rec, "keys", keys);
		}
		json_object_set_new(keys, stage_name[x->d->s], json_string(jt->key));
		emit_raw(x, t->rec, jt->raw_job, &ec);
		x->n_done++;
		vj_debug("job %s: done in %ld ms (attempt %d)", t->id, ms, t->attempts + 1);
	}
	for (int i = 0; i < ec.n; i++)
		free(ec.text[i]);
	free_task(x, jt);
	/* the estimates fell short: what is queued is not sent */
	if (x->conf->max_cost >= 0 && c > 0 && x->cost >= x->conf->max_cost)
		budget_stop(x);
}

static void
hook_fail(void *ctx, struct eng_task *t, const struct eng_err *e, json_t *usage, int final, int64_t retry_at)
{
	struct stage_state *x = ctx;
	struct job_task *jt = t->ud;
	double c = cost_of(x, usage);
	struct buf *ev = &x->evbuf;
	ev->len = 0;
	event_fail(ev, t->id, now_ms(), jt->key, t->attempts, eng_class_name[e->cls], final,
	    e->status, retry_at, usage, c, e->msg);
	x->cost += c;
	if (x->conf->max_cost >= 0 && c > 0 && x->cost >= x->conf->max_cost)
		budget_stop(x);
	if (run_append_slot(x->run, x->d->s, ev->p, ev->len, jt->slot) < 0)
		stage_io_error(x, t->id);
	if (final) {
		vj_msg("job %s: %s", t->id, e->msg);
		x->n_dead++;
		free_task(x, jt);
	} else if (e->cls == EC_FATAL) {
		free_task(x, jt);
	} else if (retry_at) {
		if (vj_verbose > 0 || e->cls != EC_RATE)
			/* a rate limit does not use up an attempt: the one refused is tried again */
			vj_debug("job %s: %s, retry in %.1fs (attempt %d/%d)", t->id, e->msg,
			    (double)(retry_at - now_ms()) / 1000, t->attempts + (e->cls == EC_RATE),
			    x->conf->retries + 1);
	}
}

static void
hook_drop(void *ctx, struct eng_task *t)
{
	struct stage_state *x = ctx;
	x->n_retry_left++;
	free_task(x, t->ud);
}

/* The counts for the progress line, status file and heartbeat. */
static void
progress_counts(struct stage_state *x, struct progress_counts *pc)
{
	struct eng_counts c;
	eng_counts(x->eng, &c);
	*pc = (struct progress_counts){ .ok = x->n_done, .cached = x->n_cached,
		.failed = x->n_dead + x->n_bad + x->n_skipped_dead, .in_flight = c.in_flight,
		.retries = c.retried, .total = x->total, .interrupted = got_signal != 0 };
}

static void
progress(struct stage_state *x)
{
	struct progress_counts pc;
	progress_counts(x, &pc);
	progress_set(x->prog, &pc);
}

/* Group commit: one write and one fsync for everything finished in the
 * last 20 ms (or 1 MiB), and at the end.  A result waits at most 20 ms to be
 * passed on: the loop is told not to sleep past that.  Nothing is printed
 * before it is durable. */
#define COMMIT_MS 20
#define DURABLE_POLL_MS 5
/* a commit behind the durable hook always leaves something queued while
 * work keeps coming, and the fold is checkpointed only with nothing
 * queued: once a minute a round makes all durable and commits all */
#define FULL_ROUND_MS 60000

static int
hook_tick(void *ctx, int urgent)
{
	struct stage_state *x = ctx;
	struct journal *j = stage_journal(x);
	int64_t now = mono_ms();

	if (got_signal) {
		stop(x, STOP_SIGNAL);
		eng_stop(x->eng, got_signal > 1);
	}
	if (x->count_later)
		count_total(x);
	/* a journal that fails stops everything at once: nothing may be passed
	 * on unjournaled; a reader that went away or an unreadable upstream
	 * stops new work, and what is in flight (already paid for) is finished
	 * and journaled within --grace */
	if (x->stop == STOP_JOURNAL || x->stop == STOP_DURABLE)
		eng_stop(x->eng, 1);
	else if (x->stop == STOP_OUTPUT || x->stop == STOP_UPSTREAM)
		eng_stop(x->eng, 0);
	if (journal_pending(j) == 0 && x->out.len == 0) {
		x->last_commit = now;   /* the next result starts a new window */
		goto out;
	}
	if (!urgent && journal_pending(j) < (1u << 20) && now - x->last_commit < COMMIT_MS) {
		progress(x);
		return (int)(COMMIT_MS - (now - x->last_commit));
	}
	x->last_commit = now;
	/* group commit: durable before anything is passed downstream, and
	 * what the results name (objects) durable before the results; when
	 * the stage makes those durable on another thread, the commit is one
	 * round behind: what was queued at the last round */
	int all = urgent || now - x->last_full >= FULL_ROUND_MS;
	int lag = make_durable(x, all);
	if (lag < 0)
		return -1;
	if (all)
		x->last_full = now;
	if (lag == 2) {
		/* the objects are still syncing: look again at the next turn */
		x->last_commit = now - COMMIT_MS;
		progress(x);
		return DURABLE_POLL_MS;
	}
	size_t jn = lag ? x->mark_j : journal_pending(j), on = lag ? x->mark_out : x->out.len;
	if (journal_commit_upto(j, jn) < 0) {
		stage_io_error(x, NULL);
		return -1;
	}
	if (on > x->out.len)
		on = x->out.len;
	if (on && x->stop != STOP_OUTPUT) {
		if (write_all(1, x->out.p, on) < 0) {
			vj_warn("error writing output:");
			stop(x, STOP_OUTPUT);
			eng_stop(x->eng, 0);
		}
	}
	if (on) {
		memmove(x->out.p, x->out.p + on, x->out.len - on);
		x->out.len -= on;
	}
	x->mark_j = journal_pending(j);
	x->mark_out = x->out.len;
	run_ckpt_tick(x->run, x->d->s);
	if (x->mark_j || x->mark_out) {
		progress(x);
		return COMMIT_MS;   /* the rest goes at the next round */
	}
out:
	progress(x);
	return 1000;    /* nothing waits to be committed */
}

static int
exit_status(struct stage_state *x, int rc)
{
	if (x->stop >= STOP_OUTPUT)
		return VJ_EFATAL;
	if (rc == VJ_EFATAL)
		return VJ_EFATAL;
	if (rc == VJ_ETEMP || x->stop == STOP_BUDGET || x->stop == STOP_CLOSED || x->n_retry_left ||
	    x->n_waiting)
		return VJ_ETEMP;
	if (x->n_dead || x->n_bad || x->n_skipped_dead)
		return VJ_EFAILED;
	return VJ_OK;
}

int
stage_main(const struct stage_config *c, struct stage_def *d)
{
	struct stage_state x = { .conf = c, .d = d };
	char err[1024];
	int rc;

	vj_stop_signals(on_signal);

	/* an input file that is not there is the command line's mistake,
	 * found before anything is done (not a bad line) */
	if (!c->pending && input_check(c->files, c->nfiles, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EUSAGE;
	}
	if (c->pending && !run_exists(c->run)) {
		/* a mistyped -r under cron must not make an empty run that is
		 * "done" every night: only vj-ingest reading a manifest makes runs */
		vj_msg("no run at %s (--pending works on a run that vj-ingest made; check -r or $VJ_RUN)",
		    c->run);
		return VJ_EUSAGE;
	}
	x.run = run_new(c->run);
	rc = run_own(x.run, d->s, c->fsync, c->repair, err, sizeof err);
	if (rc != VJ_OK) {
		vj_msg("%s", err);
		run_free(x.run);
		return rc;
	}
	if (d->start && (rc = d->start(&x)) != 0) {
		run_free(x.run);
		return rc < 0 ? VJ_EFATAL : rc;
	}
	if (d->s != ST_INGEST && run_refresh(x.run, (1u << d->s) - 1, err, sizeof err) < 0) {
		vj_msg("%s", err);
		run_free(x.run);
		return VJ_EFATAL;
	}
	struct eng_config ec = {
		.concurrency = c->jobs, .rpm = c->rpm, .tpm = c->tpm, .retries = c->retries,
		.timeout = c->timeout, .job_timeout = c->job_timeout, .grace = c->grace,
		.per_host = c->per_host, .verbose = vj_verbose,
		.ignore_rate_headers = d->s == ST_INGEST,   /* an image host's limit is not the account's */
	};
	struct eng_hooks h = {
		.ctx = &x, .feed = hook_feed, .input_fd = -1, .done = hook_done,
		.fail = hook_fail, .drop = hook_drop, .tick = hook_tick,
		.poll_ms = c->follow ? 2000 : 0,
	};
	if (!c->pending) {
		json_object_seed(0);   /* before a second thread makes objects */
		jarena_install();
		x.inq = input_start(c->files, c->nfiles, d->prepare, d->ctx, d->keep_lines);
		h.input_fd = input_fd(x.inq);
	}
	x.eng = eng_new(&ec, d->ops, d->pctx, &h);
	x.prog = progress_start(c->run, d->s, &(struct progress_opts){ c->progress, c->heartbeat });
	if (progress_shown(x.prog)) {
		if (!c->pending)
			x.total = progress_count_lines(c->files, c->nfiles);
		else if (!c->follow)
			x.count_later = 1;
	}
	progress(&x);
	rc = eng_run(x.eng);
	if (x.held) {
		/* a job the budget or a signal kept back: pending for the next run */
		free_task(&x, x.held);
		x.held = NULL;
		x.n_retry_left++;
	}
	if (eng_fatal(x.eng) && eng_fatal_msg(x.eng)[0])
		vj_msg("stopped: %s", eng_fatal_msg(x.eng));
	if (d->finish && d->finish(&x) < 0)
		stop(&x, STOP_FINISH);
	struct progress_counts pc;
	progress_counts(&x, &pc);
	progress_end(x.prog, &pc);
	make_durable(&x, 1);
	if (journal_pending(x.run->own[d->s]) && x.io_failed) {
		/* what could not be written stays unwritten: its jobs are redone */
	} else if (journal_commit(x.run->own[d->s]) < 0) {
		stage_io_error(&x, NULL);
	}
	if (!x.io_failed) {
		run_ckpt(x.run, d->s);   /* the fold, for the next start */
		journal_close(x.run->own[d->s]);
	}
	else
		journal_abandon(x.run->own[d->s]);
	x.run->own[d->s] = NULL;
	int st = exit_status(&x, rc);
	if (got_signal && st == VJ_OK)
		st = VJ_ETEMP;
	if (vj_verbose >= 0) {
		char extra[256];
		snprintf(extra, sizeof extra, "\"stage\":\"%s\",\"done\":%llu,\"cached\":%llu,"
		    "\"failed\":%llu,\"bad\":%llu,\"status\":%d", stage_name[d->s],
		    (unsigned long long)(x.n_done + x.n_cached), (unsigned long long)x.n_cached,
		    (unsigned long long)(x.n_dead + x.n_skipped_dead), (unsigned long long)x.n_bad, st);
		vj_event("summary", extra,
		    "%llu done (%llu already in the journal), %llu failed for good%s%s, %llu bad input lines%s",
		    (unsigned long long)(x.n_done + x.n_cached), (unsigned long long)x.n_cached,
		    (unsigned long long)(x.n_dead + x.n_skipped_dead),
		    x.n_retry_left ? ", some left to retry" : "", x.n_waiting ? ", some waiting to retry" : "",
		    (unsigned long long)x.n_bad, stop_words[got_signal && !x.stop ? STOP_SIGNAL : x.stop]);
	}
	input_stop(x.inq, d->free_prep);
	eng_free(x.eng);
	run_free(x.run);
	buf_free(&x.out);
	buf_free(&x.evbuf);
	free(x.busy);
	return st;
}

/* ---- stage_each: the jobs a run would take, for --estimate ---- */

int
stage_each(const struct stage_config *c, struct stage_def *d,
    void (*fn)(void *ctx, json_t *rec), void *ctx)
{
	struct stage_state x = { .conf = c, .d = d, .each = 1, .each_fn = fn, .each_ctx = ctx };
	char err[1024];
	int st = VJ_OK;

	if (c->pending && !run_exists(c->run)) {
		vj_msg("no run at %s (--pending works on a run that vj-ingest made; check -r or $VJ_RUN)",
		    c->run);
		return VJ_EUSAGE;
	}
	x.run = d->each_run ? d->each_run : run_new(c->run);
	/* read, never written: the stage may be running, its journal is only looked at */
	if (!d->each_run && run_exists(c->run) &&
	    run_refresh(x.run, (2u << d->s) - 1, err, sizeof err) < 0) {
		vj_msg("%s", err);
		run_free(x.run);
		return VJ_EFATAL;
	}
	if (d->start && d->start(&x) < 0) {
		if (!d->each_run)
			run_free(x.run);
		return VJ_EFATAL;
	}
	if (c->pending) {
		int room = INT32_MAX;
		scan_some(&x, &room);
	} else {
		json_object_seed(0);
		jarena_install();
		x.inq = input_start(c->files, c->nfiles, d->prepare, d->ctx, d->keep_lines);
		for (int r; (r = feed_lines(&x, 1024)) != 2;) {
			if (r == 1) {
				struct pollfd p = { .fd = input_fd(x.inq), .events = POLLIN };
				poll(&p, 1, 1000);
			}
			if (x.out.len > (1u << 20) && st == VJ_OK) {
				if (write_all(1, x.out.p, x.out.len) < 0)
					st = VJ_EFATAL;
				x.out.len = 0;
			}
		}
		input_stop(x.inq, d->free_prep);
	}
	if (x.out.len && st == VJ_OK && write_all(1, x.out.p, x.out.len) < 0)
		st = VJ_EFATAL;
	if (st == VJ_EFATAL)
		vj_warn("error writing output:");
	if (st == VJ_OK && x.n_bad)
		st = VJ_EFAILED;
	if (!d->each_run)
		run_free(x.run);
	buf_free(&x.out);
	buf_free(&x.evbuf);
	free(x.busy);
	return st;
}
