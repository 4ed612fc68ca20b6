/* run: fold the journals of a run into per-job state. */
#include "core/run.h"
#include "core/ckpt.h"
#include "base/hash.h"
#include "base/jscan.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* docs/benchmarks.md counts on it: a fold of a large run is its size times
 * the jobs and the stages */
_Static_assert(sizeof(struct jobstate) == 40, "struct jobstate grew");

static void free_array(void *p, size_t n);
static void pf_join(struct run *r);

struct run *
run_new(const char *dir)
{
	struct run *r = xcalloc(1, sizeof *r);
	r->dir = xstrdup(dir);
	r->ids = idx_new();
	for (int s = 0; s < ST_N; s++)
		r->rd[s] = jreader_open(dir, stage_name[s]);
	int64_t now = now_ms();
	r->today_start = now - now % 86400000;
	return r;
}

void
run_free(struct run *r)
{
	if (!r)
		return;
	pf_join(r);
	for (int s = 0; s < ST_N; s++) {
		jreader_close(r->rd[s]);
		free_array(r->st[s], (size_t)r->cap * sizeof **r->st);
		if (r->own[s])
			journal_close(r->own[s]);
		free(r->batch_off[s]);
	}
	free_array(r->job_off, (size_t)r->cap * sizeof *r->job_off);
	idx_free(r->ids);
	free(r->dir);
	free(r);
}

/* The per-stage arrays and job_off grow together, to one capacity: a
 * sixty-fourth more at a time, or to exactly what a checkpoint says it
 * needs.  Each lives in a mapping of its own, grown with mremap: the pages
 * move instead of being copied, so small steps cost nothing, and a step
 * overshoots by little (realloc's copies made steps of an eighth worth
 * it, and that eighth, zeroed, was 21 of 227 bytes a job at ten million
 * jobs).  The new part is written at once (zeros, or NO_OFF): on a page
 * the fold first reads and then writes, that is one page fault, not two. */
static size_t
page_up(size_t n)
{
	size_t pg = 4096;
	return (n + pg - 1) & ~(pg - 1);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23      /* Linux 5.14 */
#endif

/* Fault in the pages of [p, p + n) writable, as zeros (they are new), in
 * one call rather than a trap a page: 0, or -1 where the kernel cannot. */
static int
populate(void *p, size_t n)
{
	return n == 0 || madvise(p, n, MADV_POPULATE_WRITE) == 0 ? 0 : -1;
}

/* lazy: leave the new pages of a zero-filled array untouched (a prefault
 * thread faults them in) */
static void *
grow_array_as(void *p, size_t old, size_t n, int fill, int lazy)
{
	size_t po = page_up(old), pn = page_up(n);
	void *q = p;
	if (pn > po || !p) {
		q = p ? mremap(p, po, pn, MREMAP_MAYMOVE) :
		    mmap(NULL, pn ? pn : 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (q == MAP_FAILED)
			vj_die(VJ_EFATAL, "out of memory (%zu bytes for the run's fold)", n);
	}
	if (fill != 0 || po >= n || !p) {
		/* the new pages of a mapping are zeros already: those are
		 * populated (or left to the thread), the rest written */
		if (!p && fill == 0 && (lazy || populate(q, pn) == 0))
			return q;
		memset((char *)q + old, fill, n - old);
		return q;
	}
	memset((char *)q + old, 0, po - old);
	if (populate((char *)q + po, pn - po) < 0)
		memset((char *)q + po, 0, n - po);
	return q;
}

static void *
grow_array(void *p, size_t old, size_t n, int fill)
{
	return grow_array_as(p, old, n, fill, 0);
}

/* ---- faulting in the arrays of a big load on another thread ----
 *
 * Loading ten million jobs from checkpoints fills about a gigabyte of
 * new per-job arrays, and zeroing those pages (the kernel's, on each
 * first touch) was half of a stage's start.  run_reserve makes the arrays
 * at their final size and a thread faults them in (MADV_POPULATE_WRITE,
 * which never changes a page already there) while the loader decodes: the
 * loader may write any of them meanwhile.  Only moving or unmapping one
 * (resize, reset, free) waits for the thread first. */
#define PF_CHUNK ((size_t)1 << 20)     /* and the least array worth a thread (26,000 jobs) */

struct prefault {
	pthread_t th;
	atomic_int stop;
	int n;
	char *p[ST_N];
	size_t len[ST_N];
};

static void *
pf_main(void *arg)
{
	struct prefault *pf = arg;
	for (int i = 0; i < pf->n; i++)
		for (size_t o = 0; o < pf->len[i] && !atomic_load(&pf->stop); o += PF_CHUNK) {
			size_t k = pf->len[i] - o < PF_CHUNK ? pf->len[i] - o : PF_CHUNK;
			if (populate(pf->p[i] + o, k) < 0)
				return NULL;   /* the loader's own faults do it then */
		}
	return NULL;
}

static void
pf_join(struct run *r)
{
	if (!r->pf)
		return;
	atomic_store(&r->pf->stop, 1);
	pthread_join(r->pf->th, NULL);
	free(r->pf);
	r->pf = NULL;
}

static void
free_array(void *p, size_t n)
{
	if (p)
		munmap(p, page_up(n) ? page_up(n) : 4096);
}

static void
resize(struct run *r, uint32_t cap)
{
	pf_join(r);
	for (int s = 0; s < ST_N; s++)
		if (r->st[s])
			r->st[s] = grow_array(r->st[s], (size_t)r->cap * sizeof **r->st,
			    (size_t)cap * sizeof **r->st, 0);
	if (r->job_off)
		r->job_off = grow_array(r->job_off, (size_t)r->cap * sizeof *r->job_off,
		    (size_t)cap * sizeof *r->job_off, 0xff);
	r->cap = cap;
}

static void
ensure_cap(struct run *r, uint32_t n)
{
	if (n <= r->cap)
		return;
	uint64_t c = r->cap < 1024 ? 1024 : (uint64_t)r->cap + r->cap / 64;
	if (c < n)
		c = n;
	resize(r, c > UINT32_MAX ? UINT32_MAX : (uint32_t)c);
}

void
run_reserve(struct run *r, uint32_t n)
{
	if (n > r->cap)
		resize(r, n);
	if (r->pf)
		return;
	struct prefault *pf = xcalloc(1, sizeof *pf);
	size_t len = (size_t)r->cap * sizeof **r->st;
	for (int s = 0; s < ST_N; s++)
		if ((r->ahead & (1u << s)) && !r->st[s] && len >= PF_CHUNK) {
			r->st[s] = grow_array_as(NULL, 0, len, 0, 1);
			pf->p[pf->n] = (char *)r->st[s];
			pf->len[pf->n++] = page_up(len);
		}
	/* the signals stay the main thread's (a stop must wake its loop) */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pf->n ? pthread_create(&pf->th, NULL, pf_main, pf) : -1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		/* no thread: the arrays fault in as they are written */
		free(pf);
		return;
	}
	r->pf = pf;
}

void
run_set_job_off(struct run *r, uint32_t slot, uint64_t off)
{
	ensure_cap(r, slot + 1);
	if (!r->job_off)
		r->job_off = grow_array(NULL, 0, (size_t)r->cap * sizeof *r->job_off, 0xff);
	r->job_off[slot] = off;
}

void
run_reset_stage(struct run *r, enum stage s)
{
	pf_join(r);
	free_array(r->st[s], (size_t)r->cap * sizeof **r->st);
	r->st[s] = NULL;
	memset(&r->stats[s], 0, sizeof r->stats[s]);
	free(r->batch_off[s]);
	r->batch_off[s] = NULL;
	r->nbatch[s] = r->batch_cap[s] = 0;
	if (s == ST_INGEST) {
		free_array(r->job_off, (size_t)r->cap * sizeof *r->job_off);
		r->job_off = NULL;
	}
}

void
run_add_batch_line(struct run *r, enum stage s, uint64_t off)
{
	if (r->nbatch[s] == r->batch_cap[s]) {
		r->batch_cap[s] = r->batch_cap[s] ? r->batch_cap[s] * 2 : 16;
		r->batch_off[s] = xrealloc(r->batch_off[s], r->batch_cap[s] * sizeof *r->batch_off[s]);
	}
	r->batch_off[s][r->nbatch[s]++] = off;
}

struct jobstate *
run_job(struct run *r, enum stage s, uint32_t slot)
{
	ensure_cap(r, idx_count(r->ids));
	if (!r->st[s])
		r->st[s] = grow_array(NULL, 0, (size_t)r->cap * sizeof **r->st, 0);
	return slot < r->cap ? &r->st[s][slot] : NULL;
}

static void
add_usage(struct stage_stats *st, const struct jval *u, const struct jval *cost)
{
	static const char *const uk[] = { "prompt", "completion", "cached" };
	struct jval v[3];
	if (u->type == 'o' && jscan(u->p, u->len, uk, v, 3) == 0) {
		st->tok_prompt += (uint64_t)jval_int(&v[0], 0);
		st->tok_completion += (uint64_t)jval_int(&v[1], 0);
		st->tok_cached += (uint64_t)jval_int(&v[2], 0);
	}
	st->cost += jval_num(cost, 0);
}

/* A shard event marks every id in it packed.  At the pack stage a job's
 * attempts count the shards (in any output directory) that hold it, so
 * that an unshard event (a shard file found lost) unmarks a job only when
 * no other shard holds it; its ms (no per-job time at this stage) is 1 when
 * the job is counted in done_today, so that unmarking takes it back. */
static void
shard_mark(struct run *r, struct jobstate *f, uint64_t off, int64_t t)
{
	struct stage_stats *st = &r->stats[ST_PACK];
	if (f->state != JS_DONE) {
		st->done++;
		f->ms = t >= r->today_start;
		st->done_today += f->ms;
	}
	f->state = JS_DONE;
	f->off = off;
	if (f->attempts < 65535)
		f->attempts++;
}

static void
shard_unmark(struct run *r, struct jobstate *f)
{
	struct stage_stats *st = &r->stats[ST_PACK];
	if (f->state != JS_DONE || f->attempts == 65535)   /* saturated: held somewhere */
		return;
	if (f->attempts > 1) {
		f->attempts--;
		return;
	}
	f->state = JS_NONE;
	f->attempts = 0;
	f->off = 0;
	if (st->done)
		st->done--;
	if (f->ms && st->done_today)
		st->done_today--;
	f->ms = 0;
}

/* A shard (add 1) or unshard (add 0) event: the shard counts, then each id. */
static void
fold_shard(struct run *r, const char *json, size_t len, uint64_t off, int64_t t, int add)
{
	json_t *ev = json_loadb(json, len, 0, NULL);
	json_t *ids = json_object_get(ev, "ids");
	uint64_t bytes = (uint64_t)json_integer_value(json_object_get(ev, "bytes"));
	struct stage_stats *st = &r->stats[ST_PACK];
	size_t i;
	json_t *v;
	if (add) {
		st->shards++;
		st->shard_bytes += bytes;
	} else {
		if (st->shards)
			st->shards--;
		st->shard_bytes -= bytes < st->shard_bytes ? bytes : st->shard_bytes;
	}
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		if (!id)
			continue;
		int64_t slot = idx_get(r->ids, id, strlen(id), 1);
		struct jobstate *f = run_job(r, ST_PACK, (uint32_t)slot);
		if (add)
			shard_mark(r, f, off, t);
		else
			shard_unmark(r, f);
	}
	json_decref(ev);
}

/* Leave a job's state at ingest, as when it is replaced or withdrawn:
 * the counts its state was in give it back. */
static void
leave_state(struct run *r, struct jobstate *f)
{
	struct stage_stats *st = &r->stats[ST_INGEST];
	if (f->state == JS_DONE && st->done)
		st->done--;
	if (f->state == JS_DEAD && st->fails_final)
		st->fails_final--;
	memset(f, 0, sizeof *f);
}

static void
fold_job(struct run *r, uint32_t slot, struct jobstate *f, const char *key, uint64_t off)
{
	uint64_t k[2];
	int known = r->job_off && slot < r->cap && r->job_off[slot] != NO_OFF;
	key_parse(key, k);
	run_set_job_off(r, slot, off);
	/* the job's key, known before it is fetched: vj-ingest tells the same
	 * job from a different one under the same id by it */
	if (f->state == JS_NONE) {
		f->key[0] = k[0];
		f->key[1] = k[1];
		return;
	}
	/* a new version of a known job (vj-ingest --replace), or a withdrawn
	 * job given back: its work starts again; the old results stay in the
	 * journals, and the later stages, whose keys derive from this one,
	 * redo theirs */
	if (known && (f->state == JS_GONE || k[0] != f->key[0] || k[1] != f->key[1])) {
		leave_state(r, f);
		f->key[0] = k[0];
		f->key[1] = k[1];
	}
}

/* An ingest result (done or fail) of a version the job no longer has: a
 * fetch that was in flight when the job was replaced. */
static int
stale_ingest(struct run *r, enum stage s, uint32_t slot, const struct jobstate *f, const char *key)
{
	uint64_t k[2];
	if (s != ST_INGEST || (!f->key[0] && !f->key[1]) || !r->job_off || slot >= r->cap ||
	    r->job_off[slot] == NO_OFF)
		return 0;
	key_parse(key, k);
	return f->state == JS_GONE || k[0] != f->key[0] || k[1] != f->key[1];
}

int
run_gone(struct run *r, uint32_t slot)
{
	struct jobstate *f = slot < idx_count(r->ids) ? run_job(r, ST_INGEST, slot) : NULL;
	return f && f->state == JS_GONE;
}

int
run_current(struct run *r, enum stage s, uint32_t slot)
{
	if (slot >= idx_count(r->ids))
		return 0;
	for (;;) {
		struct jobstate *f = run_job(r, s, slot);
		if (!f || f->state != JS_DONE)
			return 0;
		if (s == ST_INGEST)
			return 1;
		struct jobstate *u = run_job(r, (enum stage)(s - 1), slot);
		if (!u || u->state != JS_DONE || (f->ukey && f->ukey != (uint32_t)u->key[1]))
			return 0;
		s = (enum stage)(s - 1);
	}
}

/* The low bits of an upstream key, as the fold keeps them (0: none). */
static uint32_t
ukey_of(const char *up, size_t len)
{
	char b[KEY_HEX + 1];
	uint64_t k[2];
	if (!up || len != KEY_HEX)
		return 0;
	memcpy(b, up, KEY_HEX);
	b[KEY_HEX] = 0;
	key_parse(b, k);
	return (uint32_t)k[1];
}

static void
fold_done(struct run *r, enum stage s, uint32_t slot, struct jobstate *f, const char *key,
    uint64_t off, int64_t t, int64_t ms, uint32_t ukey)
{
	struct stage_stats *st = &r->stats[s];
	st->done_ev++;
	if (stale_ingest(r, s, slot, f, key))
		return;
	if (f->state != JS_DONE) {
		st->done++;
		if (t >= r->today_start)
			st->done_today++;
	}
	f->state = JS_DONE;
	key_parse(key, f->key);
	f->off = off;
	f->ms = (uint32_t)ms;
	f->attempts = 0;
	f->retry_at = 0;
	f->ukey = ukey;
}

/* A cost as a done event's text carries it (event.c: "%.10g", and none
 * when not positive), so that the fold of what this process wrote -- and
 * a checkpoint of it -- is the fold a replay of the text makes. */
static double
cost_as_written(double cost)
{
	char b[32];
	if (!(cost > 0) || !isfinite(cost))
		return 0;
	snprintf(b, sizeof b, "%.10g", cost);
	return strtod(b, NULL);
}

/* Events this process writes itself are folded from what it knows, not
 * scanned back from their text: at a million jobs that is a tenth of
 * ingest's main thread. */
int
run_append_hint(struct run *r, enum stage s, const char *json, size_t len, const struct fold_hint *h)
{
	uint64_t off;
	if (journal_append(r->own[s], json, len, &off) < 0)
		return -1;
	struct stage_stats *st = &r->stats[s];
	struct jobstate *f = run_job(r, s, h->slot);
	st->events++;
	if (h->t > st->last_t)
		st->last_t = h->t;
	if (h->ev == 'j') {
		fold_job(r, h->slot, f, h->key, off);
	} else {
		fold_done(r, s, h->slot, f, h->key, off, h->t, h->ms,
		    h->up ? ukey_of(h->up, strlen(h->up)) : 0);
		st->tok_prompt += h->tok[0];
		st->tok_completion += h->tok[1];
		st->tok_cached += h->tok[2];
		st->cost += cost_as_written(h->cost);
	}
	return 0;
}

/* known: the slot of the line's job when the caller has it (checked
 * against the line's id), else -1 */
static void
fold_at(struct run *r, enum stage s, const char *json, size_t len, uint64_t off, int64_t known)
{
	/* the payload comes after every field the fold reads (event.h): not
	 * scanning it is most of the replay's time on a large run */
	const char *const *keys = event_fields, *const *payload = event_payload;
	struct jval v[12];
	struct stage_stats *st = &r->stats[s];

	if (jscan_until(json, len, keys, v, 12, payload) < 0 ||
	    (jval_is(&v[0], "job") && !jscan_valid(json, len)) ||
	    (jval_is(&v[0], "done") && !jscan_valid(json, len))) {
		/* Its CRC is right but its text is not JSON: a result that cannot
		 * be read is no result, and the job stays pending. */
		vj_warn("%s: byte offset %llu: a record that is not valid JSON (its checksum is right): "
		    "ignored; 'vj-status --check' lists such records", run_journal_path(r, s),
		    (unsigned long long)off);
		return;
	}
	if (jval_is(&v[0], "journal")) {
		/* the header a writer puts first: a newer format is refused by
		 * run_own and run_refresh, never half-understood */
		int64_t ver = jval_int(&v[10], 0);
		if (ver > RUN_JOURNAL_VERSION || ver < 1)
			r->newer[s] = ver < 1 ? INT32_MAX : (int32_t)ver;
		return;
	}
	/* batch_* lines name no job: their offsets are kept (and go in the
	 * checkpoint), for the batch driver and the guard of an online start
	 * (stages/batchlog.c looks at lines that begin so, and only those) */
	static const char bpre[] = "{\"ev\":\"batch_";
	if (len >= sizeof bpre - 1 && memcmp(json, bpre, sizeof bpre - 1) == 0)
		run_add_batch_line(r, s, off);
	int64_t t = jval_int(&v[3], 0);
	st->events++;
	if (t > st->last_t)
		st->last_t = t;
	if (s == ST_PACK) {
		if (jval_is(&v[0], "shard"))
			fold_shard(r, json, len, off, t, 1);
		else if (jval_is(&v[0], "unshard"))
			fold_shard(r, json, len, off, t, 0);
		return;
	}
	if (v[1].type != 's' || v[1].len == 0)
		return;
	/* a known slot is not looked up: on a table loaded from a checkpoint
	 * the first lookup hashes every id (a second at ten million jobs),
	 * which a stage's first failure need not wait for */
	const char *kid = known >= 0 ? idx_id(r->ids, (uint32_t)known) : NULL;
	int64_t slot = kid && strncmp(kid, v[1].p, v[1].len) == 0 && kid[v[1].len] == 0 ? known :
	    idx_get(r->ids, v[1].p, v[1].len, 1);
	struct jobstate *f = run_job(r, s, (uint32_t)slot);

	char kbuf[KEY_HEX + 1] = {0};
	if (v[2].type == 's' && v[2].len == KEY_HEX)
		memcpy(kbuf, v[2].p, KEY_HEX);
	if (jval_is(&v[0], "job")) {
		fold_job(r, (uint32_t)slot, f, kbuf, off);
		return;
	}
	if (jval_is(&v[0], "done")) {
		fold_done(r, s, (uint32_t)slot, f, kbuf, off, t, jval_int(&v[4], 0),
		    v[11].type == 's' ? ukey_of(v[11].p, v[11].len) : 0);
		add_usage(st, &v[8], &v[9]);
	} else if (jval_is(&v[0], "fail")) {
		uint64_t k[2];
		key_parse(kbuf, k);
		st->fails++;
		add_usage(st, &v[8], &v[9]);
		if (stale_ingest(r, s, (uint32_t)slot, f, kbuf))
			return;   /* a failure of a version since replaced */
		if (f->state == JS_DONE && k[0] == f->key[0] && k[1] == f->key[1])
			return;   /* a stale failure of a key already done */
		if ((uint32_t)k[1] != f->fkey)
			f->attempts = 0;
		f->fkey = (uint32_t)k[1];
		int64_t a = jval_int(&v[5], f->attempts + 1);
		f->attempts = (uint16_t)(a > 65535 ? 65535 : a);
		if (f->state == JS_DONE) {
			/* a failure under a new key: the old result stays, but the new
			 * work is what the state tracks from now on */
			st->done--;
		}
		if (v[6].type == 't') {
			if (f->state != JS_DEAD)
				st->fails_final++;
			f->state = JS_DEAD;
		} else {
			if (f->state == JS_DEAD)
				st->fails_final--;
			f->state = JS_RETRY;
		}
		/* seconds, rounded up: a retry is never taken before its time */
		int64_t ra = jval_int(&v[7], 0);
		f->retry_at = ra <= 0 ? 0 : ra >= (int64_t)UINT32_MAX * 1000 ? UINT32_MAX :
		    (uint32_t)((ra + 999) / 1000);
	} else if (jval_is(&v[0], "forget") && s == ST_INGEST) {
		/* vj-ingest --forget: withdrawn; the stages skip it, vj-pack
		 * leaves it out (and marks it withdrawn where it is packed) */
		uint64_t k0 = f->key[0], k1 = f->key[1];
		leave_state(r, f);
		f->key[0] = k0;
		f->key[1] = k1;
		f->state = JS_GONE;
	} else if (jval_is(&v[0], "retry")) {
		/* --retry-failed: a job failed for good gets another chance */
		if (f->state == JS_DEAD) {
			st->fails_final--;
			f->state = JS_RETRY;
			f->attempts = 0;
			f->retry_at = 0;
		}
	}
}

void
run_fold(struct run *r, enum stage s, const char *json, size_t len, uint64_t off)
{
	fold_at(r, s, json, len, off, -1);
}

const char *
run_journal_path(const struct run *r, enum stage s)
{
	return r->own[s] ? journal_path(r->own[s]) : jreader_path(r->rd[s]);
}

/* A journal written by a newer vj: refuse it, naming both versions. */
static int
too_new(struct run *r, enum stage s, char *err, size_t errlen)
{
	if (!r->newer[s])
		return 0;
	snprintf(err, errlen, "%s: journal format version %ld, this vj reads version %d only: "
	    "use the vj that wrote it (or a newer one)", run_journal_path(r, s),
	    (long)r->newer[s], RUN_JOURNAL_VERSION);
	return 1;
}

static int
fold_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	void **a = ctx;
	run_fold(a[0], (enum stage)(intptr_t)a[1], json, len, off);
	return 0;
}

/* The fold of s holds nothing yet: a checkpoint may be loaded into it.
 * (Every line folded counts in events; its array may exist, made ahead by
 * run_reserve, and still be all zeros.) */
static int
fold_empty(const struct run *r, enum stage s)
{
	return r->stats[s].events == 0 && r->nbatch[s] == 0 && (s != ST_INGEST || !r->job_off);
}

/* Before a reader's first look at a journal: its checkpoint, and the
 * reader on past what it covers. */
static void
reader_start(struct run *r, enum stage s)
{
	r->ck_tried[s] = 1;
	if (jreader_offset(r->rd[s]) != 0 || !fold_empty(r, s) || !ckpt_enabled())
		return;
	int fd = safefs_open(jreader_path(r->rd[s]), O_RDONLY, 0);
	struct stat st;
	if (fd < 0)
		return;   /* the poll says why, if it matters */
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		r->ck_off[s] = ckpt_load(r, s, fd, (uint64_t)st.st_size);
		jreader_seek(r->rd[s], r->ck_off[s]);
	}
	close(fd);
}

/* journal_open's start: under the lock, the stage's checkpoint, unless
 * --repair asked for the whole journal to be read (and so checked). */
static uint64_t
own_start(void *ctx, int fd, uint64_t size)
{
	void **a = ctx;
	struct run *r = a[0];
	enum stage s = (enum stage)(intptr_t)a[1];
	r->ck_tried[s] = 1;
	r->ck_ms[s] = mono_ms();
	if (a[2] || !fold_empty(r, s))
		return 0;
	return r->ck_off[s] = ckpt_load(r, s, fd, size);
}

int
run_own(struct run *r, enum stage s, enum jl_fsync mode, int repair, char *err, size_t errlen)
{
	void *a[3] = { r, (void *)(intptr_t)s, (void *)(intptr_t)repair };
	r->ahead = (2u << s) - 1;   /* the stage folds itself and those before it */
	/* a downstream stage numbers its table by the ingest checkpoint first
	 * (its tail is read later, with the other upstream journals): its own
	 * checkpoint then finds nearly every id in place instead of hashing */
	if (s != ST_INGEST && !repair && !r->ck_tried[ST_INGEST])
		reader_start(r, ST_INGEST);
	int rc = journal_open_at(&r->own[s], r->dir, stage_name[s], mode, repair, own_start, fold_cb, a,
	    err, errlen);
	if (rc != VJ_OK)
		return rc;
	if (too_new(r, s, err, errlen)) {
		journal_abandon(r->own[s]);
		r->own[s] = NULL;
		return VJ_EFATAL;
	}
	if (journal_size(r->own[s]) == 0) {
		/* a new journal starts with its format version */
		struct buf hdr = {0};
		uint64_t off;
		event_header(&hdr, RUN_JOURNAL_VERSION, now_ms());
		int rc2 = journal_append(r->own[s], hdr.p, hdr.len, &off);
		buf_free(&hdr);
		if (rc2 < 0) {
			snprintf(err, errlen, "%s: %s", journal_path(r->own[s]), strerror(errno));
			return VJ_EFATAL;
		}
	}
	return VJ_OK;
}

int
run_refresh(struct run *r, unsigned mask, char *err, size_t errlen)
{
	for (int s = 0; s < ST_N; s++) {
		if (!(mask & (1u << s)) || r->own[s])
			continue;
		if (!r->ck_tried[s])
			reader_start(r, (enum stage)s);
		void *a[2] = { r, (void *)(intptr_t)s };
		if (jreader_poll(r->rd[s], fold_cb, a, err, errlen) < 0 || too_new(r, s, err, errlen))
			return -1;
	}
	return 0;
}

int
run_append_text(struct run *r, enum stage s, const char *json, size_t len)
{
	return run_append_slot(r, s, json, len, -1);
}

int
run_append_slot(struct run *r, enum stage s, const char *json, size_t len, int64_t slot)
{
	uint64_t off;
	int rc = journal_append(r->own[s], json, len, &off);
	if (rc == 0)
		fold_at(r, s, json, len, off, slot);
	return rc;
}

int
run_append(struct run *r, enum stage s, json_t *ev)
{
	char *js = event_json(ev);
	if (!js)
		return -1;
	int rc = run_append_text(r, s, js, strlen(js));
	free(js);
	return rc;
}

json_t *
run_line(struct run *r, enum stage s, uint64_t off)
{
	if (off == NO_OFF)
		return NULL;
	if (r->own[s])
		return journal_get(r->own[s], off);
	return jreader_get(r->rd[s], off);
}

static void
take(json_t *rec, const char *name, json_t *ev, const char *field)
{
	json_t *v = json_object_get(ev, field);
	if (v)
		json_object_set(rec, name, v);
}

json_t *
run_record(struct run *r, uint32_t slot, enum stage upto)
{
	if (slot >= idx_count(r->ids) || !r->job_off || r->job_off[slot] == NO_OFF)
		return NULL;
	json_t *jobev = run_line(r, ST_INGEST, r->job_off[slot]);
	if (!jobev)
		return NULL;
	json_t *rec = json_object();
	json_t *keys = json_object();
	json_object_set_new(rec, "id", json_string(idx_id(r->ids, slot)));
	json_object_set_new(rec, "keys", keys);
	take(rec, "job", jobev, "job");
	json_decref(jobev);
	for (int s = ST_INGEST; s <= (int)upto && s < ST_PACK; s++) {
		struct jobstate *f = run_job(r, (enum stage)s, slot);
		if (!f || f->state != JS_DONE)
			break;
		json_t *ev = run_line(r, (enum stage)s, f->off);
		if (!ev)
			break;
		take(keys, stage_name[s], ev, "key");
		const struct stage_info *si = &stage_info[s];
		for (int i = 0; si->ev_field[i]; i++)
			take(rec, si->rec_field[i], ev, si->ev_field[i]);
		json_decref(ev);
	}
	return rec;
}

int
run_exists(const char *dir)
{
	char *j = xasprintf("%s/journal", dir);
	struct stat st;
	int r = stat(j, &st) == 0 && S_ISDIR(st.st_mode);
	free(j);
	return r;
}

/* ---- checkpoints --------------------------------------------------- */

#define MiB (1ull << 20)
#define CK_EXIT (1 * MiB)        /* at a clean exit: past this much unread journal */
#define CK_TICK (128 * MiB)      /* while running: this much ... */
#define CK_TICK_MS (5 * 60000)   /* ... or CK_EXIT after this long */
#define CK_IDLE (4 * MiB)       /* a reader, for a stage nobody runs */

static void
own_ckpt(struct run *r, enum stage s, uint64_t min)
{
	if (!r->own[s] || journal_pending(r->own[s]))
		return;   /* the fold is a checkpoint of the journal only once it is all written */
	uint64_t size = journal_size(r->own[s]);
	if (size - r->ck_off[s] < min)
		return;
	ckpt_write(r, s, size);
	r->ck_ms[s] = mono_ms();
}

void
run_ckpt(struct run *r, enum stage s)
{
	own_ckpt(r, s, ckpt_threshold(CK_EXIT));
}

void
run_ckpt_tick(struct run *r, enum stage s)
{
	if (!r->own[s])
		return;
	uint64_t unread = journal_size(r->own[s]) - r->ck_off[s];
	if (unread >= ckpt_threshold(CK_TICK) ||
	    (unread >= ckpt_threshold(CK_EXIT) && mono_ms() - r->ck_ms[s] >= CK_TICK_MS))
		own_ckpt(r, s, 1);
}

void
run_ckpt_idle(struct run *r, unsigned mask)
{
	if (!ckpt_enabled())
		return;
	for (int s = 0; s < ST_N; s++) {
		if (!(mask & (1u << s)) || r->own[s] || r->newer[s])
			continue;
		uint64_t covers = jreader_offset(r->rd[s]);
		if (covers <= r->ck_off[s] || covers - r->ck_off[s] < ckpt_threshold(CK_IDLE))
			continue;
		/* the writer's lock, so that no writer runs meanwhile; one that
		 * holds it is running, and writes its own */
		char *lp = xasprintf("%s/journal/%s.lock", r->dir, stage_name[s]);
		int fd = safefs_open(lp, O_RDWR, 0);
		free(lp);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* a stage that starts meanwhile names who holds the lock */
			char pid[32];
			int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
			if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)pl, 0) == pl)
				ckpt_write(r, (enum stage)s, covers);
		}
		close(fd);   /* and the lock with it */
	}
}
