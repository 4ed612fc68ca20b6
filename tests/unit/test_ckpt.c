/* test_ckpt: the id table's bulk paths (append, index, truncate) and a
 * checkpoint's round trip: the fold loaded from one, with a journal tail
 * replayed after it, is the fold of a full replay, slot order aside. */
#include "tap.h"
#include "util.h"
#include "core/ckpt.h"
#include "core/idx.h"
#include "core/run.h"
#include "base/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
test_idx(void)
{
	struct idx *x = idx_new();
	char b[32];
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(b, sizeof b, "id-%d", i);
		idx_append(x, b, (size_t)n);
	}
	ok(idx_index(x) == 0, "5000 appended ids index without a duplicate");
	int found = 1;
	for (int i = 0; i < 5000 && found; i++) {
		int n = snprintf(b, sizeof b, "id-%d", i);
		found = idx_get(x, b, (size_t)n, 0) == i;
	}
	ok(found, "each appended id is found at its slot");
	is_int(idx_get(x, "id-5000", 7, 0), -1, "an id never added is absent");
	idx_truncate(x, 100);
	is_int(idx_count(x), 100, "truncate keeps the first slots");
	is_int(idx_get(x, "id-99", 5, 0), 99, "... and finds them");
	is_int(idx_get(x, "id-100", 6, 0), -1, "... and forgets the rest");
	is_int(idx_get(x, "id-100", 6, 1), 100, "a forgotten id comes back at the next slot");
	is_str(idx_id(x, 100), "id-100", "with its text");
	idx_append(x, "id-7", 4);
	idx_append(x, "new", 3);
	ok(idx_index(x) < 0, "an id appended twice is reported");
	is_int(idx_get(x, "id-7", 4, 0), 7, "the first slot of it is kept");
	is_int(idx_get(x, "new", 3, 0), 102, "the others are indexed");
	idx_free(x);
}

static void
append(struct run *r, enum stage s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (run_append_text(r, s, line, strlen(line)) < 0)
		printf("# append failed\n");
}

/* The two folds hold the same state for every id, and the same counters. */
static int
same_fold(struct run *a, struct run *b)
{
	if (idx_count(a->ids) != idx_count(b->ids))
		return 0;
	for (int s = 0; s < ST_N; s++)
		if (memcmp(&a->stats[s], &b->stats[s], sizeof a->stats[s]) != 0 || a->nbatch[s] != b->nbatch[s] ||
		    (a->nbatch[s] && memcmp(a->batch_off[s], b->batch_off[s], a->nbatch[s] * sizeof(uint64_t)) != 0))
			return 0;
	for (uint32_t i = 0; i < idx_count(a->ids); i++) {
		const char *id = idx_id(a->ids, i);
		int64_t j = idx_get(b->ids, id, strlen(id), 0);
		if (j < 0)
			return 0;
		for (int s = 0; s < ST_N; s++) {
			struct jobstate *fa = run_job(a, (enum stage)s, i), *fb = run_job(b, (enum stage)s, (uint32_t)j);
			if (memcmp(fa, fb, sizeof *fa) != 0)
				return 0;
		}
		uint64_t oa = a->job_off ? a->job_off[i] : NO_OFF, ob = b->job_off ? b->job_off[j] : NO_OFF;
		if (oa != ob)
			return 0;
	}
	return 1;
}

static struct run *
reader(const char *dir)
{
	char err[256];
	struct run *r = run_new(dir);
	if (run_refresh(r, (1u << ST_N) - 1, err, sizeof err) < 0)
		printf("# refresh: %s\n", err);
	return r;
}

static void
test_roundtrip(void)
{
	char err[256];
	const char *dir = scratch_path("run");
	int64_t t = now_ms();
	struct run *w = run_new(dir);

	ok(run_own(w, ST_INGEST, JL_FSYNC_NEVER, 0, err, sizeof err) == VJ_OK, "own ingest");
	ok(run_own(w, ST_ANALYZE, JL_FSYNC_NEVER, 0, err, sizeof err) == VJ_OK, "own analyze");
	for (int i = 0; i < 300; i++) {
		append(w, ST_INGEST, "{\"ev\":\"job\",\"id\":\"j%d\",\"t\":%lld,\"key\":\"%032x\",\"job\":{}}", i,
		    (long long)t, i);
		append(w, ST_INGEST, "{\"ev\":\"done\",\"id\":\"j%d\",\"t\":%lld,\"key\":\"%032x\",\"ms\":%d,"
		    "\"attempt\":1,\"image\":{}}", i, (long long)t, i, i % 7);
		if (i % 3)   /* analyze: in an order of its own */
			append(w, ST_ANALYZE, "{\"ev\":\"fail\",\"id\":\"j%d\",\"t\":%lld,\"key\":\"%032x\","
			    "\"attempt\":1,\"kind\":\"transient\",\"final\":false,\"retry_at\":%lld,"
			    "\"usage\":{\"prompt\":3,\"completion\":0,\"cached\":0},\"cost\":0.25}",
			    299 - i, (long long)t, 299 - i, (long long)t + 5000);
		if (i % 100 == 50)   /* batch lines: their offsets go in the checkpoint */
			append(w, ST_ANALYZE, "{\"ev\":\"batch_intent\",\"t\":%lld,\"batch\":%d,\"n\":3}",
			    (long long)t, i / 100 + 1);
	}
	ok(journal_commit(w->own[ST_INGEST]) == 0 && journal_commit(w->own[ST_ANALYZE]) == 0, "committed");
	ok(ckpt_write(w, ST_INGEST, journal_size(w->own[ST_INGEST])) == 0, "ingest checkpoint written");
	ok(ckpt_write(w, ST_ANALYZE, journal_size(w->own[ST_ANALYZE])) == 0, "analyze checkpoint written");
	/* a tail after the checkpoints */
	for (int i = 0; i < 20; i++)
		append(w, ST_ANALYZE, "{\"ev\":\"done\",\"id\":\"j%d\",\"t\":%lld,\"key\":\"%032x\",\"ms\":9,"
		    "\"attempt\":2,\"usage\":{\"prompt\":5,\"completion\":1,\"cached\":0},\"cost\":0.5,"
		    "\"analysis\":{}}", i * 5, (long long)t, i * 5);
	append(w, ST_ANALYZE, "{\"ev\":\"batch_created\",\"t\":%lld,\"batch\":1,\"pid\":\"b1\"}",
	    (long long)t);
	append(w, ST_INGEST, "{\"ev\":\"job\",\"id\":\"late\",\"t\":%lld,\"key\":\"%032x\",\"job\":{}}",
	    (long long)t, 999);
	journal_commit(w->own[ST_INGEST]);
	journal_commit(w->own[ST_ANALYZE]);
	uint64_t isize = journal_size(w->own[ST_INGEST]);
	run_free(w);

	struct run *c = reader(dir);
	ok(c->ck_off[ST_INGEST] > 0 && c->ck_off[ST_INGEST] < isize, "the reader started after the ingest checkpoint");
	ok(c->ck_off[ST_ANALYZE] > 0, "... and after the analyze checkpoint");
	setenv("VJ_CKPT", "0", 1);
	struct run *f = reader(dir);
	unsetenv("VJ_CKPT");
	ok(f->ck_off[ST_INGEST] == 0, "VJ_CKPT=0 reads the whole journal");
	ok(same_fold(f, c), "checkpoint + tail is the fold of a full replay");
	ok(same_fold(c, f), "... both ways");
	is_int(c->nbatch[ST_ANALYZE], 4, "the batch lines: three from the checkpoint, one from the tail");
	run_free(c);

	/* the reader's own checkpoints, of idle stages, give the same again */
	setenv("VJ_CKPT_BYTES", "1", 1);
	c = reader(dir);
	run_ckpt_idle(c, (1u << ST_N) - 1);
	unsetenv("VJ_CKPT_BYTES");
	ok(c->ck_off[ST_INGEST] == isize, "a reader wrote the ingest checkpoint up to the end");
	run_free(c);
	c = reader(dir);
	ok(same_fold(f, c), "and the fold read from it is the same");
	run_free(c);

	/* another day: a checkpoint with events of the reader's day is stale;
	 * one whose events are all older is used, nothing in it "today" */
	char err2[64];
	c = run_new(dir);
	c->today_start -= 86400000;
	run_refresh(c, 1u << ST_INGEST, err2, sizeof err2);
	ok(c->ck_off[ST_INGEST] == 0, "a checkpoint of another day with events of the reader's day is stale");
	is_int(c->stats[ST_INGEST].done_today, 300, "and the replay counts from the reader's midnight");
	run_free(c);
	c = run_new(dir);
	c->today_start += 86400000;
	run_refresh(c, 1u << ST_INGEST, err2, sizeof err2);
	ok(c->ck_off[ST_INGEST] > 0, "one whose events are all before the reader's day is used");
	is_int(c->stats[ST_INGEST].done_today, 0, "with nothing done today");
	run_free(c);
	run_free(f);
}

/* A stage's start on a run big enough for its arrays to be made ahead and
 * faulted in on a thread (core/run.c, run_reserve): the ingest checkpoint
 * numbers the table, the stage's own still loads into its array made
 * ahead, and the fold is that of a full replay. */
static void
test_ahead(void)
{
	char err[256];
	const char *dir = scratch_path("big");
	int64_t t = now_ms();
	enum { N = 40000 };
	struct run *w = run_new(dir);
	ok(run_own(w, ST_INGEST, JL_FSYNC_NEVER, 0, err, sizeof err) == VJ_OK &&
	    run_own(w, ST_ANALYZE, JL_FSYNC_NEVER, 0, err, sizeof err) == VJ_OK, "own ingest and analyze");
	for (int i = 0; i < N; i++) {
		append(w, ST_INGEST, "{\"ev\":\"job\",\"id\":\"b%d\",\"t\":%lld,\"key\":\"%032x\",\"job\":{}}", i,
		    (long long)t, i);
		append(w, ST_INGEST, "{\"ev\":\"done\",\"id\":\"b%d\",\"t\":%lld,\"key\":\"%032x\",\"ms\":1,"
		    "\"attempt\":1,\"image\":{}}", i, (long long)t, i);
		if (i % 4)
			append(w, ST_ANALYZE, "{\"ev\":\"done\",\"id\":\"b%d\",\"t\":%lld,\"key\":\"%032x\",\"ms\":2,"
			    "\"attempt\":1,\"analysis\":{}}", i, (long long)t, i + 7);
	}
	journal_commit(w->own[ST_INGEST]);
	journal_commit(w->own[ST_ANALYZE]);
	ok(ckpt_write(w, ST_INGEST, journal_size(w->own[ST_INGEST])) == 0 &&
	    ckpt_write(w, ST_ANALYZE, journal_size(w->own[ST_ANALYZE])) == 0, "checkpoints written");
	append(w, ST_ANALYZE, "{\"ev\":\"fail\",\"id\":\"b4\",\"t\":%lld,\"key\":\"%032x\","
	    "\"attempt\":1,\"kind\":\"transient\",\"final\":true}", (long long)t, 11);
	journal_commit(w->own[ST_ANALYZE]);
	run_free(w);

	struct run *a = run_new(dir);
	ok(run_own(a, ST_ANALYZE, JL_FSYNC_NEVER, 0, err, sizeof err) == VJ_OK, "a stage's start");
	ok(a->pf != NULL, "its arrays were made ahead, faulted in on a thread");
	ok(a->ck_off[ST_INGEST] > 0 && a->ck_off[ST_ANALYZE] > 0, "both checkpoints loaded");
	run_refresh(a, 1u << ST_INGEST, err, sizeof err);
	setenv("VJ_CKPT", "0", 1);
	struct run *f = reader(dir);
	unsetenv("VJ_CKPT");
	ok(same_fold(f, a) && same_fold(a, f), "the fold of a full replay");
	is_int(run_job(a, ST_ANALYZE, 4)->state, JS_DEAD, "the tail folded after the checkpoint");
	run_free(a);
	run_free(f);
}

int
main(void)
{
	if (scratch_make("ckpt") < 0)
		return 1;
	test_idx();
	test_roundtrip();
	test_ahead();
	scratch_remove();
	return done_testing();
}
