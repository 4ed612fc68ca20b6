/* status: vj-status's reports over the fold of a run (run.c): the text
 * and JSON report, --watch, --failed.  --check and --repair are check.c. */
#include "stages/status.h"
#include "stages/batch.h"
#include "base/jscan.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALL_STAGES ((1u << ST_N) - 1)
#define DAY_MS 86400000LL

/* ---- formatting ---------------------------------------------------- */

typedef char cell[80];

/* "35s ago", "12m ago": how stale a stage is, at a glance. */
static void
fmt_ago(int64_t ms, char *out, size_t n)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;
	if (s < 120)
		snprintf(out, n, "%llds ago", (long long)s);
	else if (s < 120 * 60)
		snprintf(out, n, "%lldm ago", (long long)(s / 60));
	else if (s < 48 * 3600)
		snprintf(out, n, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(out, n, "%lldd ago", (long long)(s / 86400));
}

static void
fmt_dur(double ms, char *out, size_t n)
{
	if (ms < 1000)
		snprintf(out, n, "%.0fms", ms);
	else if (ms < 60000)
		snprintf(out, n, "%.1fs", ms / 1000);
	else if (ms < 3600000)
		snprintf(out, n, "%lldm%02llds", (long long)(ms / 60000), (long long)((int64_t)(ms / 1000) % 60));
	else
		snprintf(out, n, "%lldh%02lldm", (long long)(ms / 3600000), (long long)((int64_t)(ms / 60000) % 60));
}

void
status_fmt_bytes(uint64_t b, char *out, size_t n)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = -1;
	if (b < 1024) {
		snprintf(out, n, "%llu B", (unsigned long long)b);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, "%.1f %s", v, unit[u]);
}

static void
fmt_cost(double usd, char *out, size_t n)
{
	snprintf(out, n, usd >= 100 ? "$%.2f" : "$%.4f", usd);
}

static void
fmt_u64(uint64_t v, char *out, size_t n)
{
	snprintf(out, n, "%llu", (unsigned long long)v);
}

/* ---- the summary --------------------------------------------------- */

static void
swap32(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;
	*a = *b;
	*b = t;
}

/* The k-th smallest of a[0..n) (quickselect, three-way so that the many
 * equal durations of a big run do not make it quadratic).  Reorders a. */
static uint32_t
select_k(uint32_t *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		uint32_t x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
		uint32_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
		size_t lt = lo, i = lo, gt = hi;
		while (i < gt) {
			if (a[i] < p)
				swap32(&a[lt++], &a[i++]);
			else if (a[i] > p)
				swap32(&a[i], &a[--gt]);
			else
				i++;
		}
		if (k < lt)
			hi = lt;
		else if (k >= gt)
			lo = gt;
		else
			return p;
	}
	return a[k];
}

/* Nearest-rank percentile: the smallest value with at least pct% at or below. */
static uint32_t
percentile(uint32_t *a, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;
	return select_k(a, n, rank ? rank - 1 : 0);
}

static int
upstream_done(struct run *r, int s, uint32_t slot)
{
	if (r->st[ST_INGEST] && r->st[ST_INGEST][slot].state == JS_GONE)
		return 0;   /* withdrawn: counted apart */
	if (s == ST_INGEST)
		return r->job_off && r->job_off[slot] != NO_OFF;
	/* the upstream result of the job's current version (a replaced job's
	 * old one is not work for this stage) */
	return r->st[s - 1] && r->st[s - 1][slot].state == JS_DONE &&
	    run_current(r, (enum stage)(s - 1), slot);
}

/* One pass over the stage's jobs; ms is scratch for idx_count entries. */
static void
compute_stage(struct run *r, int s, struct status_stage *o, int64_t now, uint32_t *ms)
{
	const struct stage_stats *st = &r->stats[s];
	uint32_t n = idx_count(r->ids), now_s = (uint32_t)(now / 1000);
	uint64_t sum = 0;
	size_t nms = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct jobstate *f = r->st[s] ? &r->st[s][i] : NULL;
		switch (f ? f->state : JS_NONE) {
		case JS_NONE:
			if (upstream_done(r, s, i))
				o->pending++;
			break;
		case JS_RETRY:
			if (f->retry_at <= now_s)
				o->retry_ready++;
			else
				o->retry_waiting++;
			break;
		case JS_DEAD:
			o->failed++;
			break;
		case JS_DONE:
			o->done++;
			/* pack records no per-job time: its unit of work is a shard */
			if (s != ST_PACK) {
				ms[nms++] = f->ms;
				sum += f->ms;
			}
			break;
		}
	}
	o->nms = nms;
	if (nms) {
		o->ms_avg = (double)sum / (double)nms;
		o->ms_p50 = percentile(ms, nms, 50);
		o->ms_p95 = percentile(ms, nms, 95);
	}
	o->done_today = st->done_today;
	o->fails = st->fails;
	o->requests = st->done_ev + st->fails;
	o->last_t = st->last_t;
	o->tok_prompt = st->tok_prompt;
	o->tok_completion = st->tok_completion;
	o->tok_cached = st->tok_cached;
	o->cost = st->cost;
	o->shards = st->shards;
	o->shard_bytes = st->shard_bytes;
	o->running_pid = journal_holder(r->dir, stage_name[s]);
}

void
status_compute(struct run *r, struct status *s, int64_t now)
{
	uint32_t n = idx_count(r->ids);
	uint32_t *ms = xmalloc(((size_t)n + 1) * sizeof *ms);

	memset(s, 0, sizeof *s);
	s->run = r->dir;
	s->now = now;
	for (uint32_t i = 0; i < n && r->job_off; i++) {
		s->jobs += r->job_off[i] != NO_OFF;
		s->withdrawn += r->st[ST_INGEST] && r->st[ST_INGEST][i].state == JS_GONE;
	}
	for (int i = 0; i < ST_N; i++) {
		compute_stage(r, i, &s->st[i], now, ms);
		s->cost += s->st[i].cost;
	}
	free(ms);
}

/* ---- text ---------------------------------------------------------- */

#define TAB_ROWS (ST_N + 2)
#define TAB_COLS 8

/* A small aligned table: the first column left-aligned, the rest right,
 * except columns flagged left (free text such as times). */
struct table {
	int rows, cols;
	unsigned left;           /* bit per column */
	cell c[TAB_ROWS][TAB_COLS];
};

static void
table_render(const struct table *t, struct buf *out)
{
	int w[TAB_COLS] = {0};
	for (int r = 0; r < t->rows; r++)
		for (int c = 0; c < t->cols; c++) {
			int l = (int)strlen(t->c[r][c]);
			if (l > w[c])
				w[c] = l;
		}
	for (int r = 0; r < t->rows; r++) {
		struct buf line = {0};
		for (int c = 0; c < t->cols; c++) {
			int left = c == 0 || (t->left >> c & 1);
			buf_addf(&line, "%s%*s", c ? "  " : "", left ? -w[c] : w[c], t->c[r][c]);
		}
		while (line.len && line.p[line.len - 1] == ' ')
			line.len--;
		buf_add(out, line.p, line.len);
		buf_add(out, "\n", 1);
		buf_free(&line);
	}
}

static void
table_head(struct table *t, const char *const *names)
{
	t->rows = 1;
	for (t->cols = 0; names[t->cols]; t->cols++)
		snprintf(t->c[0][t->cols], sizeof(cell), "%s", names[t->cols]);
}

static void
jobs_table(const struct status *s, struct buf *out)
{
	static const char *const head[] = { "stage", "pending", "retry ready", "retry wait",
		"done", "failed", "today", "running", NULL };
	struct table t = {0};
	table_head(&t, head);
	for (int i = 0; i < ST_N; i++) {
		const struct status_stage *g = &s->st[i];
		cell *c = t.c[t.rows++];
		snprintf(c[0], sizeof(cell), "%s", stage_name[i]);
		fmt_u64(g->pending, c[1], sizeof(cell));
		fmt_u64(g->done, c[4], sizeof(cell));
		fmt_u64(g->done_today, c[6], sizeof(cell));
		if (i == ST_PACK) {
			/* packing has no per-job failures */
			strcpy(c[2], "-"), strcpy(c[3], "-"), strcpy(c[5], "-");
		} else {
			fmt_u64(g->retry_ready, c[2], sizeof(cell));
			fmt_u64(g->retry_waiting, c[3], sizeof(cell));
			fmt_u64(g->failed, c[5], sizeof(cell));
		}
		if (g->running_pid)
			snprintf(c[7], sizeof(cell), "pid %ld", g->running_pid);
		else
			strcpy(c[7], "-");
	}
	t.left = 1u << 7;
	table_render(&t, out);
}

static void
time_table(const struct status *s, struct buf *out)
{
	static const char *const head[] = { "stage", "avg", "p50", "p95", "fail%",
		"last activity", NULL };
	struct table t = {0};
	table_head(&t, head);
	for (int i = 0; i < ST_N; i++) {
		const struct status_stage *g = &s->st[i];
		cell *c = t.c[t.rows++];
		snprintf(c[0], sizeof(cell), "%s", stage_name[i]);
		if (g->nms) {
			fmt_dur(g->ms_avg, c[1], sizeof(cell));
			fmt_dur(g->ms_p50, c[2], sizeof(cell));
			fmt_dur(g->ms_p95, c[3], sizeof(cell));
		} else {
			strcpy(c[1], "-"), strcpy(c[2], "-"), strcpy(c[3], "-");
		}
		if (g->requests)
			snprintf(c[4], sizeof(cell), "%.1f%%", 100.0 * (double)g->fails / (double)g->requests);
		else
			strcpy(c[4], "-");
		if (g->last_t) {
			char iso[32], ago[32];
			utc_iso(g->last_t, iso, sizeof iso);
			fmt_ago(s->now - g->last_t, ago, sizeof ago);
			snprintf(c[5], sizeof(cell), "%s (%s)", iso, ago);
		} else {
			strcpy(c[5], "-");
		}
	}
	t.left = 1u << 5;
	table_render(&t, out);
}

/* Shown once some stage has recorded tokens or cost. */
static void
usage_table(const struct status *s, struct buf *out)
{
	static const char *const head[] = { "stage", "prompt", "completion", "cached", "cost", NULL };
	struct table t = {0};
	uint64_t tp = 0, tc = 0, tk = 0;
	table_head(&t, head);
	for (int i = 0; i < ST_N; i++) {
		const struct status_stage *g = &s->st[i];
		if (!g->tok_prompt && !g->tok_completion && !g->tok_cached && g->cost == 0)
			continue;
		cell *c = t.c[t.rows++];
		snprintf(c[0], sizeof(cell), "%s", stage_name[i]);
		fmt_u64(g->tok_prompt, c[1], sizeof(cell));
		fmt_u64(g->tok_completion, c[2], sizeof(cell));
		fmt_u64(g->tok_cached, c[3], sizeof(cell));
		fmt_cost(g->cost, c[4], sizeof(cell));
		tp += g->tok_prompt, tc += g->tok_completion, tk += g->tok_cached;
	}
	if (t.rows == 1)
		return;
	cell *c = t.c[t.rows++];
	strcpy(c[0], "total");
	fmt_u64(tp, c[1], sizeof(cell));
	fmt_u64(tc, c[2], sizeof(cell));
	fmt_u64(tk, c[3], sizeof(cell));
	fmt_cost(s->cost, c[4], sizeof(cell));
	buf_adds(out, "\n");
	table_render(&t, out);
}

/* git-status-like advice: what would move the run forward. */
static void
hints(const struct status *s, struct buf *out)
{
	struct buf h = {0};
	uint64_t dead = 0;
	for (int i = 0; i < ST_N; i++) {
		const struct status_stage *g = &s->st[i];
		uint64_t ready = g->pending + g->retry_ready;
		dead += g->failed;
		if (ready && !g->running_pid)
			buf_addf(&h, "  %llu job%s ready for %s: run vj-%s\n", (unsigned long long)ready,
			    ready == 1 ? "" : "s", stage_name[i], stage_name[i]);
	}
	if (dead)
		buf_addf(&h, "  %llu job%s failed for good: 'vj-status --failed' lists them\n",
		    (unsigned long long)dead, dead == 1 ? "" : "s");
	if (h.len) {
		buf_adds(out, "\n");
		buf_add(out, h.p, h.len);
	} else if (s->jobs && s->st[ST_PACK].done >= s->jobs) {
		buf_adds(out, "\nnothing to do: every job is packed\n");
	}
	buf_free(&h);
}

void
status_text(const struct status *s, int quiet, struct buf *out)
{
	const struct status_stage *pk = &s->st[ST_PACK];
	buf_addf(out, "run %s: %llu job%s", s->run, (unsigned long long)s->jobs,
	    s->jobs == 1 ? "" : "s");
	if (s->withdrawn)
		buf_addf(out, " (%llu withdrawn: vj-ingest --forget)", (unsigned long long)s->withdrawn);
	buf_adds(out, "\n\n");
	jobs_table(s, out);
	buf_adds(out, "\n");
	time_table(s, out);
	usage_table(s, out);
	if (pk->shards) {
		char b[32];
		status_fmt_bytes(pk->shard_bytes, b, sizeof b);
		buf_addf(out, "\npack: %llu shard%s, %s\n", (unsigned long long)pk->shards,
		    pk->shards == 1 ? "" : "s", b);
	}
	if (!quiet)
		hints(s, out);
}

/* ---- JSON (docs/status-json.md) ------------------------------------ */

static json_t *
json_iso(int64_t ms)
{
	char iso[32];
	if (!ms)
		return json_null();
	utc_iso(ms, iso, sizeof iso);
	return json_string(iso);
}

/* Rounded so that the output stays short and diff-friendly. */
static json_t *
json_round(double v, double unit)
{
	return json_real((double)(int64_t)(v / unit + 0.5) * unit);
}

static json_t *
stage_json(int i, const struct status_stage *g)
{
	json_t *o = json_object(), *tok = json_object();
	json_object_set_new(o, "pending", json_integer((json_int_t)g->pending));
	json_object_set_new(o, "done", json_integer((json_int_t)g->done));
	json_object_set_new(o, "retry_ready", json_integer((json_int_t)g->retry_ready));
	json_object_set_new(o, "retry_waiting", json_integer((json_int_t)g->retry_waiting));
	json_object_set_new(o, "failed", json_integer((json_int_t)g->failed));
	json_object_set_new(o, "done_today", json_integer((json_int_t)g->done_today));
	json_object_set_new(o, "ms_avg", g->nms ? json_round(g->ms_avg, 0.1) : json_null());
	json_object_set_new(o, "ms_p50", g->nms ? json_integer(g->ms_p50) : json_null());
	json_object_set_new(o, "ms_p95", g->nms ? json_integer(g->ms_p95) : json_null());
	json_object_set_new(o, "requests", json_integer((json_int_t)g->requests));
	json_object_set_new(o, "fails", json_integer((json_int_t)g->fails));
	json_object_set_new(o, "failure_rate", g->requests ?
	    json_round((double)g->fails / (double)g->requests, 0.0001) : json_null());
	json_object_set_new(o, "last_activity", json_iso(g->last_t));
	json_object_set_new(o, "running_pid", g->running_pid ? json_integer(g->running_pid) : json_null());
	json_object_set_new(tok, "prompt", json_integer((json_int_t)g->tok_prompt));
	json_object_set_new(tok, "completion", json_integer((json_int_t)g->tok_completion));
	json_object_set_new(tok, "cached", json_integer((json_int_t)g->tok_cached));
	json_object_set_new(o, "tokens", tok);
	json_object_set_new(o, "cost_usd", json_round(g->cost, 1e-6));
	if (i == ST_PACK) {
		json_object_set_new(o, "shards", json_integer((json_int_t)g->shards));
		json_object_set_new(o, "bytes", json_integer((json_int_t)g->shard_bytes));
	}
	return o;
}

static void
dump_json(json_t *v, struct buf *out)
{
	char *js = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
	if (!js)
		vj_die(VJ_EFATAL, "out of memory");
	buf_adds(out, js);
	buf_adds(out, "\n");
	free(js);
}

void
status_json(const struct status *s, struct buf *out)
{
	json_t *o = json_object(), *stages = json_object();
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "run", json_string(s->run));
	json_object_set_new(o, "time", json_iso(s->now));
	json_object_set_new(o, "jobs", json_integer((json_int_t)s->jobs));
	json_object_set_new(o, "withdrawn", json_integer((json_int_t)s->withdrawn));
	for (int i = 0; i < ST_N; i++)
		json_object_set_new(stages, stage_name[i], stage_json(i, &s->st[i]));
	json_object_set_new(o, "stages", stages);
	json_object_set_new(o, "cost_usd", json_round(s->cost, 1e-6));
	dump_json(o, out);
	json_decref(o);
}

/* ---- opening a run ------------------------------------------------- */

int
status_stage_parse(const char *name)
{
	for (int i = 0; i < ST_N; i++)
		if (strcmp(name, stage_name[i]) == 0)
			return i;
	return -1;
}

int
status_run_exists(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 1;
	vj_warn("no run at %s", dir);
	return 0;
}

/* The run folded from every journal, or NULL with *rc the exit status. */
static struct run *
open_run(const char *dir, int *rc)
{
	char err[1024] = "";
	if (!status_run_exists(dir)) {
		*rc = VJ_EUSAGE;
		return NULL;
	}
	struct run *r = run_new(dir);
	if (run_refresh(r, ALL_STAGES, err, sizeof err) < 0) {
		vj_warn("%s", err);
		vj_msg("'vj-status --check' lists the damage; '--repair STAGE' cuts a journal at it");
		run_free(r);
		*rc = VJ_EFATAL;
		return NULL;
	}
	run_ckpt_idle(r, ALL_STAGES);   /* so that the next look at a big idle run is quick */
	*rc = VJ_OK;
	return r;
}

static int
emit(struct buf *b)
{
	size_t n = fwrite(b->p, 1, b->len, stdout);
	int bad = n != b->len || fflush(stdout) == EOF;
	b->len = 0;
	return bad ? -1 : 0;
}

/* The model stages' provider batches (--batch), if any: a line of text,
 * or "batches" in the JSON object (the list is vj-status --batches'). */
static void
render_batches(const struct status_opt *o, struct buf *out)
{
	struct buf t = { 0 };
	char err[256];
	for (enum stage s = ST_ANALYZE; s <= ST_GENERATE; s++) {
		struct batch_rec *b;
		size_t n;
		long open = 0, done = 0, answered = 0, total = 0;
		if (batch_scan(o->run, s, &b, &n, err, sizeof err) < 0 || !n) {
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (b[i].collected) {
				done++;
				continue;
			}
			open++;
			answered += b[i].ok + b[i].failed;
			total += b[i].total ? b[i].total : b[i].n;
		}
		if (o->json)
			buf_addf(&t, "%s\"%s\":{\"open\":%ld,\"collected\":%ld,\"answered\":%ld,"
			    "\"requests\":%ld}", t.len ? "," : "", stage_name[s], open, done, answered, total);
		else
			buf_addf(&t, "%s%s %ld open (%ld/%ld answered), %ld collected", t.len ? "; " : "",
			    stage_name[s], open, answered, total, done);
		free(b);
	}
	if (!t.len)
		return;
	if (o->json) {
		/* into the report's object, before its closing brace */
		size_t e = out->len;
		while (e && out->p[e - 1] != '}')
			e--;
		if (!e) {
			buf_free(&t);
			return;
		}
		char *tail = xstrdup(out->p + e - 1);
		out->len = e - 1;
		buf_addf(out, ",\"batches\":{%s}%s", t.p, tail);
		free(tail);
	} else
		buf_addf(out, "batches: %s (vj-status --batches lists them)\n", t.p);
	buf_free(&t);
}

static void
render(struct run *r, const struct status_opt *o, struct buf *out)
{
	struct status s;
	status_compute(r, &s, now_ms());
	s.run = o->run;
	if (o->json)
		status_json(&s, out);
	else
		status_text(&s, o->quiet, out);
	render_batches(o, out);
}

int
status_show(const struct status_opt *o)
{
	int rc;
	struct buf out = {0};
	struct run *r = open_run(o->run, &rc);
	if (!r)
		return rc;
	render(r, o, &out);
	emit(&out);   /* write errors are caught when stdout is closed */
	buf_free(&out);
	run_free(r);
	return VJ_OK;
}

/* ---- --watch ------------------------------------------------------- */

static volatile sig_atomic_t stop_sig;

static void
on_stop(int sig)
{
	stop_sig = sig;
}

/* Sleep ms, waking early for SIGINT/SIGTERM.  The signals stay blocked
 * except inside ppoll, so one arriving between frames is not lost. */
static void
nap(int ms, const sigset_t *open)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	if (!stop_sig)
		ppoll(NULL, 0, &ts, open);
}

int
status_watch(const struct status_opt *o, int interval_ms)
{
	int rc = VJ_OK, tty = isatty(STDOUT_FILENO);
	char err[1024] = "";
	struct buf out = {0};
	sigset_t block, open;

	if (!status_run_exists(o->run))
		return VJ_EUSAGE;
	vj_stop_signals(on_stop);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &open);
	sigdelset(&open, SIGINT);
	sigdelset(&open, SIGTERM);

	struct run *r = run_new(o->run);
	for (int frame = 0; !stop_sig; frame++) {
		/* done_today counts from the midnight the fold started at: on a
		 * new day, fold again from scratch (the one full re-read a day) */
		if (now_ms() >= r->today_start + DAY_MS) {
			run_free(r);
			r = run_new(o->run);
		}
		/* incremental: only what was appended since the last frame */
		if (run_refresh(r, ALL_STAGES, err, sizeof err) < 0) {
			vj_warn("%s", err);
			rc = VJ_EFATAL;
			break;
		}
		if (o->json) {
			/* one object per line: a stream for jq or a log */
		} else if (tty) {
			buf_adds(&out, "\033[H\033[2J");
		} else if (frame) {
			buf_adds(&out, "\n");
		}
		if (!o->json) {
			char iso[32];
			utc_iso(now_ms(), iso, sizeof iso);
			buf_addf(&out, "every %gs, %s\n", interval_ms / 1000.0, iso);
		}
		render(r, o, &out);
		if (emit(&out) < 0) {
			rc = VJ_EFATAL;
			break;
		}
		nap(interval_ms, &open);
	}
	buf_free(&out);
	run_free(r);
	return rc;
}

/* ---- --failed ------------------------------------------------------ */

struct failscan {
	struct idx *ids;
	uint64_t *off;           /* latest fail line per slot, NO_OFF if none */
};

static int
failscan_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	static const char *const keys[] = { "ev", "id" };
	struct failscan *fs = ctx;
	struct jval v[2];
	/* most lines are "done": skip them without scanning */
	if (!memmem(json, len, "\"fail\"", 6))
		return 0;
	if (jscan(json, len, keys, v, 2) < 0 || !jval_is(&v[0], "fail") || v[1].type != 's')
		return 0;
	int64_t slot = idx_get(fs->ids, v[1].p, v[1].len, 0);
	if (slot >= 0)
		fs->off[slot] = off;
	return 0;
}

/* The fold keeps no error text (it would cost memory in every tool), so
 * --failed reads the stage's journal once more for the latest fail lines. */
static int
fail_offsets(struct run *r, int s, uint64_t *off, char *err, size_t errlen)
{
	struct failscan fs = { r->ids, off };
	struct jreader *rd = jreader_open(r->dir, stage_name[s]);
	memset(off, 0xff, idx_count(r->ids) * sizeof *off);
	int rc = jreader_poll(rd, failscan_cb, &fs, err, errlen);
	jreader_close(rd);
	return rc;
}

static int
listed(const struct jobstate *f, int verbose)
{
	return f->state == JS_DEAD || (verbose > 0 && f->state == JS_RETRY);
}

/* One line, whatever the message holds. */
static void
flatten(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			*s = ' ';
}

static void
fail_line(struct run *r, const struct status_opt *o, int s, uint32_t slot,
    const struct jobstate *f, uint64_t off, int idw, int *first)
{
	json_t *ev = run_line(r, (enum stage)s, off);
	const char *id = idx_id(r->ids, slot);
	char *msg = xstrdup(json_string_value(json_object_get(ev, "error")) ?
	    json_string_value(json_object_get(ev, "error")) : "(no error recorded)");
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	int retry = f->state == JS_RETRY;

	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:o, s:s, s:o}", "id", id,
		    "stage", stage_name[s], "state", retry ? "retry" : "failed",
		    "attempts", (int)f->attempts, "kind", kind ? json_string(kind) : json_null(),
		    "error", msg, "retry_at", retry ? json_iso((int64_t)f->retry_at * 1000) : json_null());
		char *js = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s%s", *first ? "" : ",", js);
		free(js);
		json_decref(j);
	} else {
		char when[48] = "";
		flatten(msg);
		if (retry) {
			char iso[32];
			utc_iso((int64_t)f->retry_at * 1000, iso, sizeof iso);
			snprintf(when, sizeof when, "[retry %s] ", f->retry_at ? iso : "now");
		}
		printf("%-*s  %-8s  attempts %u  %s%s\n", idw, id, stage_name[s],
		    (unsigned)f->attempts, when, msg);
	}
	*first = 0;
	free(msg);
	json_decref(ev);
}

int
status_failed(const struct status_opt *o)
{
	int rc, idw = 2, first = 1;
	char err[1024] = "";
	struct run *r = open_run(o->run, &rc);
	if (!r)
		return rc;
	uint32_t n = idx_count(r->ids);
	uint64_t *off = xmalloc(((size_t)n + 1) * sizeof *off);

	/* the ids' width first, so that the columns line up */
	for (int s = 0; s < ST_PACK; s++)
		for (uint32_t i = 0; r->st[s] && i < n; i++)
			if (listed(&r->st[s][i], o->verbose)) {
				int l = (int)strlen(idx_id(r->ids, i));
				idw = l > idw ? l : idw;
			}
	if (o->json)
		printf("{\"version\":1,\"jobs\":[");
	for (int s = 0; s < ST_PACK && rc == VJ_OK; s++) {
		if (!r->st[s] || !(r->stats[s].fails))
			continue;
		if (fail_offsets(r, s, off, err, sizeof err) < 0) {
			vj_warn("%s", err);
			rc = VJ_EFATAL;
			break;
		}
		for (uint32_t i = 0; i < n; i++)
			if (listed(&r->st[s][i], o->verbose))
				fail_line(r, o, s, i, &r->st[s][i], off[i], idw, &first);
	}
	if (o->json)
		printf("]}\n");
	free(off);
	run_free(r);
	return rc;
}
