/* batch: --batch for vj-analyze and vj-generate.
 *
 * Files, in RUN/batch/ (STAGE-NNNNNN, NNNNNN the batch's sequence number):
 *   .jsonl      the input file, one request a line, keyed "JOBID.KEY"
 *   .keys       "JOBID KEY" a line: who is in the batch (read at start)
 *   .out, .err  the results and errors downloaded (removed once journaled)
 *   *.tmp       being written; a leftover without an intent is removed
 * Steps, each journaled in the stage's journal before the next:
 *   write .jsonl and .keys, fsync, rename    (a crash: the files are removed)
 *   batch_intent                             (the batch's name carries the run id and seq)
 *   upload, create
 *   batch_created (provider id)              (a crash before it: found by listing)
 *   batch_state, as the provider's state or counts change
 *   download, done/fail per job, batch_collected
 * A job is in at most one open batch: the .keys of open batches are read
 * first and their jobs left out of new ones.  Here: gathering and writing,
 * creating, recovering, polling, the loop; collecting is batchcollect.c,
 * the control requests batchreq.c, the events' reader batchlog.c. */
#include "stages/batchint.h"
#include "content/models.h"
#include "core/runid.h"
#include "providers/batchwire.h"
#include "providers/provshared.h"
#include "stages/batchreq.h"
#include "stages/estimate.h"
#include "stages/progress.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t batch_got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	batch_got_signal++;
}

/* For the crash tests (t1320): VJ_TEST_CRASH=STEP kills the process with
 * SIGKILL at that step, as a power cut would. */
void
batch_crash_point(const char *step)
{
	const char *want = getenv("VJ_TEST_CRASH");
	if (want && !strcmp(want, step))
		kill(getpid(), SIGKILL);
}

/* ---- the state of a batch run ---- */


static long n_open(struct bstate *x);

/* The progress line: jobs journaled, and the open batches as the provider
 * counts them (a batch "finalizing" is not done: it says so). */
static void
show(struct bstate *x)
{
	struct progress_counts pc = { .ok = x->n_done, .failed = x->n_failed,
		.interrupted = batch_got_signal != 0 };
	long open = 0, answered = 0, total = 0;
	const char *least = NULL;
	int rank_least = 99;
	for (size_t i = 0; x->prog && i < x->bl.n; i++) {
		struct batch_rec *b = &x->bl.b[i];
		if (b->collected)
			continue;
		open++;
		long t = b->total ? b->total : b->n;
		total += t;
		answered += b->ok + b->failed;
		pc.in_flight += (uint64_t)(t - b->ok - b->failed > 0 ? t - b->ok - b->failed : 0);
		int rank = bw_state_parse(b->state);
		if (rank < 0)
			rank = 0;
		if (rank < rank_least) {
			rank_least = rank;
			least = b->state;
		}
	}
	if (open)
		snprintf(pc.note, sizeof pc.note, "%ld batch%s %s %ld/%ld", open, open == 1 ? "" : "es",
		    least ? least : "", answered, total);
	progress_set(x->prog, &pc);
}

void
batch_path(struct bstate *x, long seq, const char *ext, char *out, size_t n)
{
	snprintf(out, n, "%s/%s-%06ld%s", x->dir, stage_name[x->s], seq, ext);
}

int
batch_commit(struct bstate *x)
{
	if (journal_commit(x->run->own[x->s]) < 0) {
		vj_warn("cannot write %s:", run_journal_path(x->run, x->s));
		x->io_failed = 1;
		return -1;
	}
	if (x->out.len) {
		if (write_all(1, x->out.p, x->out.len) < 0) {
			vj_warn("error writing output:");
			x->io_failed = 1;
		}
		x->out.len = 0;
	}
	return x->io_failed ? -1 : 0;
}

int
batch_append(struct bstate *x)
{
	if (run_append_text(x->run, x->s, x->ev.p, x->ev.len) < 0) {
		vj_warn("cannot write %s:", run_journal_path(x->run, x->s));
		x->io_failed = 1;
		return -1;
	}
	return 0;
}

/* ---- journaling a job's outcome ---- */

void
batch_job_done(struct bstate *x, uint32_t slot, json_t *rec, const char *id, const char *key,
    int attempt, json_t *result, json_t *usage)
{
	double cost = usage && x->d->cost ? x->d->cost(x->d->prov_name, x->d->model, usage) : 0;
	const struct stage_info *si = &stage_info[x->s];
	struct fold_hint h = { .ev = 'd', .slot = slot, .key = key, .t = now_ms(), .ms = 0,
		.cost = cost };
	if (usage) {
		h.tok[0] = (uint64_t)json_integer_value(json_object_get(usage, "prompt"));
		h.tok[1] = (uint64_t)json_integer_value(json_object_get(usage, "completion"));
		h.tok[2] = (uint64_t)json_integer_value(json_object_get(usage, "cached"));
	}
	x->ev.len = 0;
	event_done_open(&x->ev, id, h.t, key, NULL, 0, attempt, usage, cost);
	for (int i = 0; si->ev_field[i]; i++) {
		json_t *v = json_object_get(result, si->ev_field[i]);
		if (!v)
			continue;
		char *s = event_json(v);
		event_field(&x->ev, si->ev_field[i], s);
		free(s);
		json_object_set(rec, si->rec_field[i], v);
	}
	event_close(&x->ev);
	if (run_append_hint(x->run, x->s, x->ev.p, x->ev.len, &h) < 0) {
		vj_warn("job %s: cannot write %s:", id, run_journal_path(x->run, x->s));
		x->io_failed = 1;
		return;
	}
	json_t *keys = json_object_get(rec, "keys");
	if (json_is_object(keys))
		json_object_set_new(keys, stage_name[x->s], json_string(key));
	char *s = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (s) {
		buf_adds(&x->out, s);
		buf_add(&x->out, "\n", 1);
	}
	free(s);
	x->n_done++;
}

void
batch_job_fail(struct bstate *x, const char *id, const char *key, int attempt, enum eng_class cls,
    int final, long status, json_t *usage, const char *msg)
{
	double cost = usage && x->d->cost ? x->d->cost(x->d->prov_name, x->d->model, usage) : 0;
	char m[600];
	snprintf(m, sizeof m, "%s", msg);
	secret_scrub(m);
	x->ev.len = 0;
	event_fail(&x->ev, id, now_ms(), key, attempt, eng_class_name[cls], final, status, 0, usage,
	    cost, m);
	batch_append(x);
	if (final) {
		vj_msg("job %s: %s", id, m);
		x->n_failed++;
	} else
		vj_debug("job %s: %s", id, m);
}

/* ---- writing input files ---- */

static int
flush_w(struct bstate *x, int force)
{
	if (x->wb.len && (force || x->wb.len >= (256u << 10))) {
		if (write_all(x->fd, x->wb.p, x->wb.len) < 0)
			return -1;
		x->wb.len = 0;
	}
	if (x->kb.len && (force || x->kb.len >= (64u << 10))) {
		if (write_all(x->kfd, x->kb.p, x->kb.len) < 0)
			return -1;
		x->kb.len = 0;
	}
	return 0;
}

static int
file_open(struct bstate *x)
{
	char tmp[PATH_MAX + 8];
	if (x->export_mode) {
		x->fd = open(x->bc->export_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		x->kfd = -1;
		if (x->fd < 0) {
			vj_warn("cannot write %s:", x->bc->export_file);
			return -1;
		}
		x->n = 0;
		x->bytes = 0;
		return 0;
	}
	x->seq = 1;
	for (size_t i = 0; i < x->bl.n; i++)
		if (x->bl.b[i].seq >= x->seq)
			x->seq = x->bl.b[i].seq + 1;
	batch_path(x, x->seq, ".jsonl", x->path, sizeof x->path);
	batch_path(x, x->seq, ".keys", x->kpath, sizeof x->kpath);
	snprintf(tmp, sizeof tmp, "%s.tmp", x->path);
	x->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	snprintf(tmp, sizeof tmp, "%s.tmp", x->kpath);
	x->kfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (x->fd < 0 || x->kfd < 0) {
		vj_warn("cannot write %s:", tmp);
		if (x->fd >= 0)
			close(x->fd);
		if (x->kfd >= 0)
			close(x->kfd);
		x->fd = x->kfd = -1;
		x->io_failed = 1;
		return -1;
	}
	x->n = 0;
	x->bytes = 0;
	return 0;
}

static int submit(struct bstate *x, struct batch_rec *b);

/* The file is whole: durable under its name, then its intent, then it is
 * sent. */
static int
file_close(struct bstate *x)
{
	char tmp[PATH_MAX + 8];
	int bad = flush_w(x, 1) < 0;
	if (x->export_mode) {
		bad |= fsync(x->fd) < 0;
		bad |= close(x->fd) < 0;
		x->fd = -1;
		if (bad)
			vj_warn("cannot write %s:", x->bc->export_file);
		return bad ? -1 : 0;
	}
	bad |= fsync(x->fd) < 0 || fsync(x->kfd) < 0;
	bad |= close(x->fd) < 0;
	bad |= close(x->kfd) < 0;
	x->fd = x->kfd = -1;
	snprintf(tmp, sizeof tmp, "%s.tmp", x->path);
	bad |= rename(tmp, x->path) < 0;
	snprintf(tmp, sizeof tmp, "%s.tmp", x->kpath);
	bad |= rename(tmp, x->kpath) < 0;
	bad |= fsync_dir(x->dir) < 0;
	if (bad) {
		vj_warn("cannot write %s:", x->path);
		x->io_failed = 1;
		return -1;
	}
	struct batch_rec *b = batch_list_get(&x->bl, x->seq, 1);
	snprintf(b->name, sizeof b->name, "vj-%s-%s-%06ld", x->run_id, stage_name[x->s], x->seq);
	snprintf(b->provider, sizeof b->provider, "%s", x->pc->name);
	snprintf(b->model, sizeof b->model, "%s", x->pc->model);
	b->n = x->n;
	b->bytes = x->bytes;
	b->t_intent = now_ms();
	x->ev.len = 0;
	event_batch_open(&x->ev, "batch_intent", b->t_intent, b->seq);
	event_int(&x->ev, "n", b->n);
	event_int(&x->ev, "bytes", b->bytes);
	event_str(&x->ev, "name", b->name);
	event_str(&x->ev, "provider", b->provider);
	event_str(&x->ev, "model", b->model);
	event_close(&x->ev);
	if (batch_append(x) < 0 || batch_commit(x) < 0)
		return -1;
	vj_info("batch %ld: %ld requests, %lld bytes in %s", b->seq, b->n, b->bytes, x->path);
	return submit(x, b);
}

/* One ready job into the file being written (a new one when it is full). */
static void
gather_one(void *ctx, json_t *rec)
{
	struct bstate *x = ctx;
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *up = json_string_value(json_object_get(json_object_get(rec, "keys"),
	    stage_name[stage_info[x->s].up]));
	char key[KEY_HEX + 1], jkey[256];
	struct eng_task t = { .rec = rec, .id = id };
	struct eng_http h = { 0 };
	struct eng_err e = { .retry_after = -1 };
	json_t *result = NULL;

	if (x->io_failed || x->fatal || batch_got_signal || !id || !up)
		goto out;
	key_derive(stage_name[x->s], x->d->cfg, up, key);
	int64_t slot = idx_get(x->run->ids, id, strlen(id), 1);
	struct jobstate *f = run_job(x->run, x->s, (uint32_t)slot);
	uint64_t k[2];
	key_parse(key, k);
	int misses = f->state == JS_RETRY && f->fkey == (uint32_t)k[1] ? f->attempts : 0;
	if (!x->export_mode && (x->bc->fallback == BF_ONLINE ? misses >= 1 : misses >= 2)) {
		/* what the batches did not answer goes online */
		idx_get(x->online, id, strlen(id), 1);
		goto out;
	}
	int r = x->d->ops->build(x->d->pctx, &t, &h, &result, &e);
	if (r != 0) {
		if (r < 0)
			batch_job_fail(x, id, key, misses + (e.cls == EC_PERM || e.cls == EC_RETRY), e.cls,
			    e.cls == EC_PERM, e.status, NULL, e.msg);
		if (r < 0 && e.cls == EC_FATAL) {
			/* a damaged store, say: every job would meet it */
			vj_msg("stopped: %s", e.msg);
			x->fatal = 1;
		}
		json_decref(result);
		goto out;
	}
	snprintf(jkey, sizeof jkey, "%s.%s", id, key);
	struct buf pre = { 0 };
	bw_line_open(x->pc, jkey, &pre);
	const char *post = bw_line_close(x->pc);
	long long size = (long long)(pre.len + body_size(h.body) + strlen(post));
	long long maxb = x->export_mode ? LLONG_MAX : x->lim.max_bytes;
	long maxn = x->bc->size > 0 ? x->bc->size : 0;
	if (!x->export_mode && x->lim.max_requests && (!maxn || maxn > x->lim.max_requests))
		maxn = x->lim.max_requests;
	if (size > maxb) {
		batch_job_fail(x, id, key, misses + 1, EC_PERM, 1, 0, NULL,
		    "the request is over the provider's batch file limit");
		buf_free(&pre);
		goto out_h;
	}
	if (x->fd >= 0 && !x->export_mode &&
	    (x->bytes + size > maxb || (maxn && x->n + 1 > maxn)))
		file_close(x);
	if (x->fd < 0 && (x->io_failed || x->fatal || file_open(x) < 0)) {
		buf_free(&pre);
		goto out_h;
	}
	buf_add(&x->wb, pre.p, pre.len);
	buf_free(&pre);
	char chunk[64 << 10];
	for (;;) {
		size_t got = body_read(h.body, chunk, sizeof chunk);
		if (got == (size_t)-1) {
			/* half a line is in the file: it is not sent (the next run
			 * writes it again); a damaged store stops the run, as online */
			const char *dmg = body_damage(h.body);
			if (dmg) {
				batch_job_fail(x, id, key, misses, EC_FATAL, 0, 0, NULL, dmg);
				vj_msg("stopped: %s", dmg);
			} else
				vj_msg("job %s: its image could not be read while the batch file was "
				    "written: nothing sent", id);
			x->fatal = 1;
			x->discard = 1;
			goto out_h;
		}
		if (got == 0)
			break;
		buf_add(&x->wb, chunk, got);
		if (flush_w(x, 0) < 0) {
			vj_warn("cannot write %s:", x->export_mode ? x->bc->export_file : x->path);
			x->io_failed = 1;
			goto out_h;
		}
	}
	buf_adds(&x->wb, post);
	if (!x->export_mode)
		buf_addf(&x->kb, "%s %s\n", id, key);
	if (x->n == 1 && !x->export_mode) {
		flush_w(x, 1);
		batch_crash_point("file");
	}
	x->n++;
	x->bytes += size;
	x->n_submitted++;
	if (flush_w(x, 0) < 0) {
		vj_warn("cannot write %s:", x->path);
		x->io_failed = 1;
	}
out_h:
	free(h.url);
	curl_slist_free_all(h.headers);
	body_free(h.body);
out:
	json_decref(rec);
}

/* ---- creating ---- */

static int
journal_created(struct bstate *x, struct batch_rec *b, const struct bw_info *i)
{
	snprintf(b->pid, sizeof b->pid, "%s", i->id);
	b->t_created = now_ms();
	snprintf(b->state, sizeof b->state, "%s", bw_state_name[i->state]);
	x->ev.len = 0;
	event_batch_open(&x->ev, "batch_created", b->t_created, b->seq);
	event_str(&x->ev, "pid", b->pid);
	event_close(&x->ev);
	if (batch_append(x) < 0 || batch_commit(x) < 0)
		return -1;
	vj_info("batch %ld: created as %s", b->seq, b->pid);
	return 0;
}

/* A provider error that is the run's end (key, model, quota), not the batch's. */
void
batch_ctl_error(struct bstate *x, const struct batch_rec *b, const char *what, const struct breq *q)
{
	/* a provider that stays unreachable or busy through the retries is
	 * a reason to try later (exit 75); a refusal is the run's end (3) */
	int later = q->err.cls == EC_RETRY || q->err.cls == EC_RATE;
	vj_msg("batch %ld (%s): %s: %s%s", b->seq, b->name, what, q->err.msg,
	    later ? " (the next run tries again)" : "");
	if (later)
		x->later = 1;
	else
		x->fatal = 1;
}

static int
submit(struct bstate *x, struct batch_rec *b)
{
	struct breq q = { .pc = x->pc, .stop = &batch_got_signal, .path = x->path, .name = b->name, .run_id = x->run_id,
		.seq = b->seq };
	char fid[200], path[PATH_MAX], what[64];

	batch_path(x, b->seq, ".jsonl", path, sizeof path);
	q.path = path;
	snprintf(what, sizeof what, "batch-%ld", b->seq);
	for (q.step = 0; q.step < bw_upload_steps(x->pc); q.step++) {
		q.kind = RQ_UPLOAD;
		if (breq_run(&q, what) < 0) {
			if (!batch_got_signal)
				batch_ctl_error(x, b, "upload failed", &q);
			breq_clear(&q);
			return -1;
		}
		if (q.step + 1 < bw_upload_steps(x->pc)) {
			static char url[8192];
			snprintf(url, sizeof url, "%s", q.header ? q.header : "");
			q.url = url;
		}
	}
	if (bw_upload_id(x->pc, q.doc, fid, sizeof fid) < 0) {
		vj_msg("batch %ld: the upload's answer names no file", b->seq);
		x->fatal = 1;
		breq_clear(&q);
		return -1;
	}
	breq_clear(&q);
	batch_crash_point("upload");
	q.kind = RQ_CREATE;
	q.file_id = fid;
	if (breq_run(&q, what) < 0) {
		/* a create refused at validation names the file and the reason */
		if (!batch_got_signal)
			batch_ctl_error(x, b, path, &q);
		breq_clear(&q);
		if (q.err.cls == EC_PERM) {
			/* refused for good: the batch is closed, its jobs go by the
			 * fallback, and the next run does not try this file again */
			struct bw_info i = { .state = BW_FAILED };
			batch_collect(x, b, &i);
		}
		return -1;
	}
	struct bw_info i;
	if (bw_parse_batch(x->pc, q.doc, &i) < 0) {
		vj_msg("batch %ld: the create's answer names no batch", b->seq);
		x->fatal = 1;
		breq_clear(&q);
		return -1;
	}
	breq_clear(&q);
	batch_crash_point("create");
	return journal_created(x, b, &i);
}

/* ---- recovery: an intent without its id ---- */

struct find {
	const char *name;
	struct bw_info hit;
	int found;
};

static void
find_cb(void *ctx, const struct bw_info *b)
{
	struct find *f = ctx;
	if (!f->found && !strcmp(b->name, f->name)) {
		f->hit = *b;
		f->found = 1;
	}
}

/* The provider's batch of that name: 1 found, 0 none, -1 the list failed. */
static int
find_batch(struct bstate *x, struct batch_rec *b, struct bw_info *out)
{
	struct find f = { .name = b->name };
	char page[256] = "", what[64];
	snprintf(what, sizeof what, "batch-%ld", b->seq);
	for (int pages = 0; pages < 1000; pages++) {
		struct breq q = { .pc = x->pc, .stop = &batch_got_signal, .kind = RQ_LIST, .page = page };
		if (breq_run(&q, what) < 0) {
			if (!batch_got_signal)
				batch_ctl_error(x, b, "listing the provider's batches failed", &q);
			breq_clear(&q);
			return -1;
		}
		char next[256];
		bw_parse_list(x->pc, q.doc, find_cb, &f, next, sizeof next);
		breq_clear(&q);
		if (f.found || !next[0] || !strcmp(next, page))
			break;
		snprintf(page, sizeof page, "%s", next);
	}
	if (f.found)
		*out = f.hit;
	return f.found;
}

static int
recover(struct bstate *x, struct batch_rec *b)
{
	struct bw_info i;
	char path[PATH_MAX];
	int r = find_batch(x, b, &i);
	if (r < 0)
		return -1;
	if (r == 1) {
		vj_info("batch %ld: found at the provider as %s (created before a crash)", b->seq, i.id);
		return journal_created(x, b, &i);
	}
	batch_path(x, b->seq, ".jsonl", path, sizeof path);
	if (access(path, R_OK) < 0) {
		vj_msg("batch %ld: never created, and its file %s is gone: its jobs are pending again",
		    b->seq, path);
		b->collected = 1;
		x->ev.len = 0;
		event_batch_open(&x->ev, "batch_collected", now_ms(), b->seq);
		event_int(&x->ev, "done", 0);
		event_int(&x->ev, "failed", 0);
		event_int(&x->ev, "missing", b->n);
		event_close(&x->ev);
		return batch_append(x) < 0 || batch_commit(x) < 0 ? -1 : 0;
	}
	vj_info("batch %ld: not created before a crash; creating it now", b->seq);
	return submit(x, b);
}

/* ---- polling ---- */

static int
poll_one(struct bstate *x, struct batch_rec *b)
{
	struct breq q = { .pc = x->pc, .stop = &batch_got_signal, .kind = RQ_GET, .id = b->pid };
	struct bw_info i;
	char what[64];
	snprintf(what, sizeof what, "batch-%ld", b->seq);
	if (breq_run(&q, what) < 0) {
		if (q.err.status == 404) {
			/* deleted at the provider: nothing will come; its jobs are redone */
			vj_msg("batch %ld (%s): the provider no longer knows it: %s", b->seq, b->pid,
			    q.err.msg);
			memset(&i, 0, sizeof i);
			i.state = BW_FAILED;
			breq_clear(&q);
			return batch_collect(x, b, &i);
		}
		if (!batch_got_signal)
			batch_ctl_error(x, b, "polling failed", &q);
		breq_clear(&q);
		return -1;
	}
	int r = bw_parse_batch(x->pc, q.doc, &i);
	breq_clear(&q);
	if (r < 0) {
		vj_msg("batch %ld: the provider's answer is not a batch", b->seq);
		return -1;
	}
	if (strcmp(b->state, bw_state_name[i.state]) || b->total != i.total || b->ok != i.ok ||
	    b->failed != i.failed || b->pending != i.pending) {
		snprintf(b->state, sizeof b->state, "%s", bw_state_name[i.state]);
		b->total = i.total;
		b->ok = i.ok;
		b->failed = i.failed;
		b->pending = i.pending;
		b->t_state = now_ms();
		x->ev.len = 0;
		event_batch_open(&x->ev, "batch_state", b->t_state, b->seq);
		event_str(&x->ev, "state", b->state);
		event_int(&x->ev, "total", i.total);
		event_int(&x->ev, "ok", i.ok);
		event_int(&x->ev, "failed", i.failed);
		event_int(&x->ev, "pending", i.pending);
		event_close(&x->ev);
		if (batch_append(x) < 0 || batch_commit(x) < 0)
			return -1;
		batch_crash_point("poll");
		show(x);
		vj_info("batch %ld: %s, %ld of %ld answered (%ld failed, %ld pending)", b->seq,
		    b->state, i.ok + i.failed, i.total, i.failed, i.pending);
	}
	/* peers' users found batches pending for over a day: say so once a run */
	int64_t age = estimate_now() - b->t_created;
	if ((i.state == BW_PENDING || i.state == BW_RUNNING) && b->t_created &&
	    age > 24 * 3600 * 1000LL && !x->said_old++)
		vj_warn("batch %ld (%s) has been %s for %lld h (the provider expires it at 24-48 h; "
		    "--cancel-batches with --batch-fallback online sends its jobs online)", b->seq,
		    b->pid, bw_state_name[i.state], (long long)(age / 3600000));
	if (bw_terminal(i.state))
		return batch_collect(x, b, &i);
	return 0;
}

static int
cancel_one(struct bstate *x, struct batch_rec *b)
{
	struct breq q = { .pc = x->pc, .stop = &batch_got_signal, .kind = RQ_CANCEL, .id = b->pid };
	char what[64];
	snprintf(what, sizeof what, "batch-%ld", b->seq);
	int r = breq_run(&q, what);
	if (r < 0)
		vj_msg("batch %ld: cancel failed: %s", b->seq, q.err.msg);
	else
		vj_info("batch %ld (%s): cancelled", b->seq, b->pid);
	breq_clear(&q);
	return r;
}

/* ---- the run ---- */

static int
is_open(const struct batch_rec *b)
{
	return !b->collected;
}

static long
n_open(struct bstate *x)
{
	long n = 0;
	for (size_t i = 0; i < x->bl.n; i++)
		n += is_open(&x->bl.b[i]);
	return n;
}

/* The jobs of open batches, kept out of new ones. */
static void
mark_open(struct bstate *x)
{
	for (size_t i = 0; i < x->bl.n; i++) {
		struct members ms;
		if (!is_open(&x->bl.b[i]))
			continue;
		if (batch_members_load(x, x->bl.b[i].seq, &ms) == 0)
			for (size_t k = 0; k < ms.n; k++)
				idx_get(x->in_batch, ms.m[k].id, strlen(ms.m[k].id), 1);
		batch_members_free(&ms);
	}
}

/* An online run beside open batches: their jobs are left to them. */
struct guard {
	struct idx *ids;
};

static int
want_guard(void *ctx, const char *id)
{
	struct guard *g = ctx;
	return idx_get(g->ids, id, strlen(id), 0) < 0;
}

void *
batch_guard(struct run *r, struct stage_def *d)
{
	struct bstate x = { .s = d->s };
	struct batch_rec *b;
	size_t n;
	if (batch_scan_run(r, d->s, &b, &n) < 0 || !n) {
		free(b);
		return NULL;
	}
	x.bl = (struct batch_list){ b, n, n };
	snprintf(x.dir, sizeof x.dir, "%s/batch", r->dir);
	x.in_batch = idx_new();
	mark_open(&x);
	long open = n_open(&x);
	free(b);
	if (!idx_count(x.in_batch)) {
		idx_free(x.in_batch);
		return NULL;
	}
	vj_info("%ld %s batch%s in progress: %u jobs left to %s (--batch collects them; "
	    "--cancel-batches cancels them)", open, stage_name[d->s], open == 1 ? "" : "es",
	    idx_count(x.in_batch), open == 1 ? "it" : "them");
	struct guard *g = xcalloc(1, sizeof *g);
	g->ids = x.in_batch;
	d->want = want_guard;
	d->want_ctx = g;
	return g;
}

void
batch_guard_free(void *p)
{
	struct guard *g = p;
	if (g) {
		idx_free(g->ids);
		free(g);
	}
}

/* Files of batches that never got an intent (a crash while writing). */
static void
clean_dir(struct bstate *x)
{
	char p[PATH_MAX], q[PATH_MAX + 8];
	for (long seq = 1;; seq++) {
		struct batch_rec *b = batch_list_get(&x->bl, seq, 0);
		int any = 0;
		const char *ext[] = { ".jsonl", ".keys", ".out", ".err" };
		for (int e = 0; e < 4; e++) {
			batch_path(x, seq, ext[e], p, sizeof p);
			snprintf(q, sizeof q, "%s.tmp", p);
			if (unlink(q) == 0)
				any = 1;
			if (!b && unlink(p) == 0)
				any = 1;
		}
		if (!any && !b && seq > (long)x->bl.n + 1)
			break;
	}
}

static int
want_not_in_batch(void *ctx, const char *id)
{
	struct bstate *x = ctx;
	return idx_get(x->in_batch, id, strlen(id), 0) < 0 &&
	    idx_get(x->online, id, strlen(id), 0) < 0;
}

static int
want_online(void *ctx, const char *id)
{
	struct bstate *x = ctx;
	return idx_get(x->online, id, strlen(id), 0) >= 0;
}

/* Write and send batches of the jobs ready now. */
static int
gather(struct bstate *x)
{
	struct stage_def d = *x->d;
	d.want = want_not_in_batch;
	d.want_ctx = x;
	d.each_run = x->run;    /* one fold, and it holds what this process journaled */
	d.each_emit = 1;        /* records given that the journal has: passed on */
	x->fd = x->kfd = -1;
	char err[512];
	/* what upstream finished since the last look (--wait) */
	if (run_refresh(x->run, (1u << x->s) - 1, err, sizeof err) < 0) {
		vj_msg("%s", err);
		x->fatal = 1;
		return VJ_EFATAL;
	}
	idx_free(x->in_batch);
	x->in_batch = idx_new();
	mark_open(x);
	int st = stage_each(x->c, &d, gather_one, x);
	if (st == VJ_EFATAL)
		x->io_failed = 1;   /* the output could not be written */
	if (x->fd >= 0 && x->n > 0 && !x->io_failed && !x->discard && !x->fatal)
		file_close(x);
	else if (x->fd >= 0) {
		char tmp[PATH_MAX + 8];
		close(x->fd);
		if (x->kfd >= 0)
			close(x->kfd);
		snprintf(tmp, sizeof tmp, "%s.tmp", x->path);
		unlink(tmp);
		snprintf(tmp, sizeof tmp, "%s.tmp", x->kpath);
		unlink(tmp);
	}
	x->fd = x->kfd = -1;
	x->wb.len = x->kb.len = 0;
	batch_commit(x);
	return st;
}

static void
sleep_s(double s)
{
	int64_t end = mono_ms() + (int64_t)(s * 1000);
	while (!batch_got_signal && mono_ms() < end) {
		int64_t left = end - mono_ms();
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (left > 200 ? 200 : left) * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* A model without the batch tier is the user's mistake: name those with it. */
static int
check_model(const struct prov_ctx *pc)
{
	const struct models_row *r = models_lookup(pc->name, pc->model, now_ms());
	if (r && models_offers(r, MODELS_BATCH))
		return 0;
	size_t n;
	const struct models_row *rows = models_rows(&n);
	struct buf b = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].provider, pc->name) || !models_offers(&rows[i], MODELS_BATCH))
			continue;
		if (b.p && strstr(b.p, rows[i].model))
			continue;
		buf_addf(&b, "%s%s", b.len ? ", " : "", rows[i].model);
	}
	vj_msg("--batch: %s model %s has no batch tier in the model table%s%s", pc->name,
	    pc->model, b.len ? "; these have: " : "", b.len ? b.p : "");
	buf_free(&b);
	return -1;
}

static int
setup(struct bstate *x)
{
	char err[1024];
	int rc;
	if (x->c->pending && !run_exists(x->c->run)) {
		vj_msg("no run at %s (--pending works on a run that vj-ingest made; check -r or $VJ_RUN)",
		    x->c->run);
		return VJ_EUSAGE;
	}
	x->run = run_new(x->c->run);
	if ((rc = run_own(x->run, x->s, x->c->fsync, x->c->repair, err, sizeof err)) != VJ_OK) {
		vj_msg("%s", err);
		return rc;
	}
	if (runid_get(x->c->run, x->run_id, 1, err, sizeof err) != 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	if (run_refresh(x->run, (1u << x->s) - 1, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	struct batch_rec *b;
	size_t n;
	if (batch_scan_run(x->run, x->s, &b, &n) < 0)
		return VJ_EFATAL;
	x->bl = (struct batch_list){ b, n, n };
	snprintf(x->dir, sizeof x->dir, "%s/batch", x->c->run);
	if (mkdir_p(x->dir, 0755) < 0) {
		vj_warn("cannot make %s:", x->dir);
		return VJ_EFATAL;
	}
	return 0;
}

/* --batch-import FILE: results of an exported file, joined and checked. */
static int
import(struct bstate *x)
{
	if (access(x->bc->import_file, R_OK) < 0) {
		vj_warn("cannot read %s:", x->bc->import_file);
		return VJ_EUSAGE;
	}
	x->export_mode = 1;   /* OpenAI's format, no batch of ours */
	batch_read_results(x, x->bc->import_file, NULL, now_ms());
	return x->io_failed ? VJ_EFATAL : x->n_failed ? VJ_EFAILED : VJ_OK;
}

static int
run_batches(struct bstate *x)
{
	int first = 1;
	double wait = x->bc->poll / 8 > 1 ? x->bc->poll / 8 : x->bc->poll;
	for (;;) {
		/* intents a crash left without an id */
		for (size_t i = 0; i < x->bl.n && !x->fatal && !batch_got_signal; i++)
			if (is_open(&x->bl.b[i]) && !x->bl.b[i].pid[0])
				recover(x, &x->bl.b[i]);
		if (first && x->bc->cancel)
			for (size_t i = 0; i < x->bl.n; i++)
				if (is_open(&x->bl.b[i]) && x->bl.b[i].pid[0])
					cancel_one(x, &x->bl.b[i]);
		for (size_t i = 0; i < x->bl.n && !x->fatal && !batch_got_signal && !x->io_failed; i++)
			if (is_open(&x->bl.b[i]) && x->bl.b[i].pid[0])
				poll_one(x, &x->bl.b[i]);
		if (x->fatal || x->io_failed || batch_got_signal || (x->later && !x->bc->wait))
			break;
		x->later = 0;
		/* what is ready now, what the batches left included */
		if (!x->bc->cancel && (first || x->c->pending)) {
			idx_free(x->online);
			x->online = idx_new();
			gather(x);
		}
		first = 0;
		show(x);
		if (x->fatal || x->io_failed || batch_got_signal || !x->bc->wait || !n_open(x))
			break;
		sleep_s(wait);
		if (wait < x->bc->poll)
			wait = wait * 2 < x->bc->poll ? wait * 2 : x->bc->poll;
	}
	return 0;
}

int
batch_main(const struct stage_config *c, struct stage_def *d, const struct batch_config *bc,
    void *pctx)
{
	struct bstate x = { .c = c, .d = d, .bc = bc, .pc = pctx, .s = d->s, .fd = -1, .kfd = -1 };
	char err[512];
	int st = VJ_OK;

	if (!bw_supported(x.pc)) {
		vj_msg("--batch%s: provider %s has no batch API (gemini and openai have)",
		    bc->export_file || bc->import_file ? "-export/--batch-import" : "", x.pc->name);
		return VJ_EUSAGE;
	}
	if ((bc->export_file || bc->import_file) && strcmp(x.pc->name, "openai")) {
		vj_msg("--batch-export and --batch-import write and read OpenAI's batch format: "
		    "use --provider openai");
		return VJ_EUSAGE;
	}
	if (bc->on && check_model(x.pc) < 0)
		return VJ_EUSAGE;
	if (bc->on && bw_limits(x.pc->name, &x.lim, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EUSAGE;
	}
	vj_stop_signals(on_signal);
	x.in_batch = idx_new();
	x.online = idx_new();
	if ((st = setup(&x)) != 0)
		goto out;
	if (bc->import_file) {
		st = import(&x);
		goto out;
	}
	if (bc->export_file) {
		struct stage_def dd = *d;
		x.export_mode = 1;
		dd.want = want_not_in_batch;
		dd.want_ctx = &x;
		dd.each_run = x.run;
		if (file_open(&x) == 0) {
			st = stage_each(c, &dd, gather_one, &x);
			if (file_close(&x) < 0)
				x.io_failed = 1;
			vj_info("%llu requests written to %s", (unsigned long long)x.n_submitted,
			    bc->export_file);
		}
		batch_commit(&x);
		st = x.io_failed ? VJ_EFATAL : st;
		goto out;
	}
	clean_dir(&x);
	x.prog = progress_start(c->run, x.s, &(struct progress_opts){ c->progress, c->heartbeat });
	show(&x);
	run_batches(&x);
	batch_commit(&x);
	show(&x);
	{
		struct progress_counts pc = { .ok = x.n_done, .failed = x.n_failed,
			.interrupted = batch_got_signal != 0 };
		progress_end(x.prog, &pc);
		x.prog = NULL;
	}
	long open = n_open(&x);
	if (!x.io_failed)
		run_ckpt(x.run, x.s);   /* the fold, for the next start */
	journal_close(x.run->own[x.s]);
	x.run->own[x.s] = NULL;
	/* what the batches left for the online fallback: the stage's own
	 * driver, on these jobs only */
	if (!x.fatal && !x.io_failed && !batch_got_signal && !x.later && idx_count(x.online) > 0) {
		struct stage_def dd = *d;
		struct stage_config cc = *c;
		vj_info("%u jobs the batches did not answer: sent online", idx_count(x.online));
		dd.want = want_online;
		dd.want_ctx = &x;
		cc.pending = 1;
		st = stage_main(&cc, &dd);
	}
	if (x.fatal || x.io_failed)
		st = VJ_EFATAL;
	else if (open || batch_got_signal || x.later) {
		char when[32];
		utc_stamp(now_ms(), 0, when);
		if (open)
			vj_msg("%ld batch%s in progress, checked at %s", open, open == 1 ? "" : "es", when);
		if (st != VJ_EFATAL)
			st = VJ_ETEMP;
	} else if (st == VJ_OK && x.n_failed)
		st = VJ_EFAILED;
	if (vj_verbose >= 0) {
		char extra[256];
		snprintf(extra, sizeof extra, "\"stage\":\"%s\",\"done\":%llu,\"failed\":%llu,"
		    "\"batched\":%llu,\"missing\":%llu,\"open\":%ld,\"status\":%d", stage_name[x.s],
		    (unsigned long long)x.n_done, (unsigned long long)x.n_failed,
		    (unsigned long long)x.n_submitted, (unsigned long long)x.n_missing, open, st);
		vj_event("summary", extra, "batch: %llu done, %llu failed for good, %llu put in "
		    "batches, %llu not answered", (unsigned long long)x.n_done,
		    (unsigned long long)x.n_failed, (unsigned long long)x.n_submitted,
		    (unsigned long long)x.n_missing);
	}
out:
	if (x.run) {
		if (x.run->own[x.s]) {
			batch_commit(&x);
			journal_close(x.run->own[x.s]);
			x.run->own[x.s] = NULL;
		}
		run_free(x.run);
	}
	idx_free(x.in_batch);
	idx_free(x.online);
	free(x.bl.b);
	buf_free(&x.out);
	buf_free(&x.ev);
	buf_free(&x.wb);
	buf_free(&x.kb);
	return st;
}
