/* Core helpers: the field scanner, the id table, streamed base64 bodies,
 * retry delays, parse helpers. */
#include "tap.h"
#include "core/engine.h"
#include "base/hash.h"
#include "core/idx.h"
#include "base/jarena.h"
#include "base/jscan.h"
#include "core/run.h"
#include "core/store.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
test_jscan(void)
{
	static const char *const keys[] = { "ev", "id", "t", "usage", "cost", "nope" };
	struct jval v[6];
	const char *js = "{\"ev\":\"done\",\"id\":\"a1\",\"nested\":{\"id\":\"x\",\"s\":\"}{\\\"\"},"
	    "\"arr\":[1,[2,{\"t\":3}]],\"t\":1795973942640,\"usage\":{\"prompt\":10},\"cost\":0.5}";
	ok(jscan(js, strlen(js), keys, v, 6) == 0, "jscan parses a nested line");
	ok(jval_is(&v[0], "done"), "top-level string");
	ok(v[1].type == 's' && v[1].len == 2 && !memcmp(v[1].p, "a1", 2), "top-level id, not the nested one");
	is_int(jval_int(&v[2], 0), 1795973942640LL, "integer");
	ok(v[3].type == 'o', "object value");
	ok(jval_num(&v[4], 0) == 0.5, "real value");
	ok(v[5].type == 0, "absent key");
	ok(jscan("[1]", 3, keys, v, 6) < 0, "not an object");
	ok(jscan("{\"a\":\"x", 7, keys, v, 6) < 0, "unterminated string");
	ok(jscan("{}", 2, keys, v, 6) == 0 && v[0].type == 0, "empty object");
}

static void
test_idx(void)
{
	struct idx *x = idx_new();
	char id[32];
	int okk = 1;
	for (int i = 0; i < 200000; i++) {
		snprintf(id, sizeof id, "job%07d", i);
		if (idx_get(x, id, strlen(id), 1) != i)
			okk = 0;
	}
	ok(okk, "200,000 ids get dense slots in order");
	okk = 1;
	for (int i = 0; i < 200000; i += 7) {
		snprintf(id, sizeof id, "job%07d", i);
		if (idx_get(x, id, strlen(id), 0) != i || strcmp(idx_id(x, (uint32_t)i), id))
			okk = 0;
	}
	ok(okk, "lookups find them again");
	ok(idx_get(x, "job", 3, 0) == -1, "a prefix of an id is not the id");
	ok(idx_get(x, "job00000001", 11, 0) == -1, "a longer id is not the id");
	is_int(idx_count(x), 200000, "count");
	ok(idx_memory(x) < 200000 * 64, "memory stays small: %zu bytes", idx_memory(x));
	idx_free(x);
}

static void
test_body(void)
{
	char path[] = "/tmp/vj-test-body.XXXXXX";
	int fd = mkstemp(path);
	int okk = 1;
	/* every length around the 3-byte groups and the read buffer */
	for (size_t n = 0; n < 200; n++) {
		unsigned char *d = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++)
			d[i] = (unsigned char)(i * 37 + n);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, d, n, 0) != (ssize_t)n)
			okk = 0;
		struct body *b = body_new();
		body_adds(b, "<");
		body_add_b64file(b, path, NULL);
		body_adds(b, ">");
		size_t len;
		char *got = body_flatten(b, &len);
		/* reference: encode in memory */
		struct buf want = {0};
		static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		buf_adds(&want, "<");
		for (size_t i = 0; i < n; i += 3) {
			uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
			    (i + 2 < n ? d[i + 2] : 0);
			char q[4] = { t[v >> 18], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=',
			    i + 2 < n ? t[v & 63] : '=' };
			buf_add(&want, q, 4);
		}
		buf_adds(&want, ">");
		if (len != body_size(b) || len != want.len || memcmp(got, want.p, len)) {
			printf("# length %zu: got %zu bytes, want %zu\n", n, len, want.len);
			okk = 0;
		}
		free(got);
		buf_free(&want);
		body_free(b);
		free(d);
	}
	ok(okk, "a file streams as exact base64 for every length 0..199");
	/* a large file through small reads */
	size_t big = 3 * 1000 * 1000 + 1;
	unsigned char *d = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		d[i] = (unsigned char)(i * 131);
	ok(ftruncate(fd, 0) == 0 && pwrite(fd, d, big, 0) == (ssize_t)big, "write 3 MB");
	struct body *b = body_new();
	body_add_b64file(b, path, NULL);
	size_t len;
	char *got = body_flatten(b, &len);
	is_int(len, (big + 2) / 3 * 4, "3 MB streams to the right length");
	ok(got[len - 1] == '=' && got[len - 2] == '=', "padding at the end");
	free(got);
	body_free(b);
	free(d);
	close(fd);
	unlink(path);
}

static void
test_arena(void)
{
	jarena_install();
	/* a tree parsed and dumped inside the arena: the copy out survives
	 * the reset, and the arena's memory is reused line after line */
	char *copy = NULL;
	void *first = NULL;
	int same = 1;
	for (int i = 0; i < 2000; i++) {
		char line[128];
		snprintf(line, sizeof line, "{\"a\":%d,\"b\":[1,2,{\"c\":\"x%d\"}],\"d\":{\"e\":null}}", i, i);
		jarena_begin();
		json_t *v = json_loads(line, 0, NULL);
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		if (i == 0)
			first = v;
		else if ((void *)v != first)
			same = 0;
		free(copy);
		copy = xstrdup(s);
		jarena_free(s);
		json_decref(v);
		jarena_end();
	}
	ok(same, "the arena is reused from the start for every line");
	is_str(copy, "{\"a\":1999,\"b\":[1,2,{\"c\":\"x1999\"}],\"d\":{\"e\":null}}",
	    "what was copied out is intact after the reset");
	free(copy);
	/* outside an arena jansson allocates as usual */
	json_t *o = json_pack("{s:s}", "k", "v");
	char *t = json_dumps(o, 0);
	is_str(t, "{\"k\": \"v\"}", "plain allocations outside the arena");
	free(t);
	json_decref(o);
}

static void
test_misc(void)
{
	ok(eng_parse_delay("47s") == 47, "47s");
	ok(eng_parse_delay("12.5s") == 12.5, "12.5s");
	ok(eng_parse_delay("1m30s") == 90, "1m30s");
	ok(eng_parse_delay("2") == 2, "plain seconds (retry-after)");
	ok(eng_parse_delay("250ms") == 0.25, "250ms");
	ok(eng_parse_delay("soon") < 0, "nonsense is refused");
	is_int(parse_size("20M"), 20 << 20, "20M");
	is_int(parse_size("1.5K"), 1536, "1.5K");
	is_int(parse_size("1GiB"), 1LL << 30, "1GiB");
	ok(parse_size("x") < 0, "bad size");
	char k1[KEY_HEX + 1], k2[KEY_HEX + 1];
	key_derive("analyze", "cfg", "up", k1);
	key_derive("analyze", "cfg", "up", k2);
	is_str(k1, k2, "keys are stable");
	key_derive("analyze", "cfg2", "up", k2);
	ok(strcmp(k1, k2) != 0, "a config change makes a new key");
	uint64_t kk[2];
	char back[KEY_HEX + 1];
	key_parse(k1, kk);
	key_format(kk, back);
	is_str(back, k1, "key text round-trips through its binary form");
	is_int(crc32c(0, "123456789", 9), 0xe3069283, "crc32c check value");
}

/* The fold of --replace and --forget: a job's new version starts its
 * ingest state again, a late result of the old one is ignored, a later
 * stage's result is current only when made from the current upstream one. */
static void
fold_line(struct run *r, enum stage s, uint64_t off, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	run_fold(r, s, b, strlen(b), off);
}

static void
test_replace(void)
{
	const char *k1 = "11111111111111111111111111111111", *k2 = "22222222222222222222222222222222";
	const char *a1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", *a2 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2";
	struct run *r = run_new("/nonexistent/vj-test-run");
	fold_line(r, ST_INGEST, 10, "{\"ev\":\"job\",\"id\":\"a\",\"t\":1,\"key\":\"%s\",\"job\":{}}", k1);
	fold_line(r, ST_INGEST, 20, "{\"ev\":\"done\",\"id\":\"a\",\"t\":2,\"key\":\"%s\",\"ms\":1}", k1);
	fold_line(r, ST_ANALYZE, 10, "{\"ev\":\"done\",\"id\":\"a\",\"t\":3,\"key\":\"%s\",\"up\":\"%s\",\"ms\":1}", a1, k1);
	uint32_t slot = (uint32_t)idx_get(r->ids, "a", 1, 0);
	ok(run_current(r, ST_ANALYZE, slot), "an analysis of the job's version is current");
	fold_line(r, ST_INGEST, 30, "{\"ev\":\"job\",\"id\":\"a\",\"t\":4,\"key\":\"%s\",\"job\":{}}", k2);
	ok(run_job(r, ST_INGEST, slot)->state == JS_NONE && r->stats[ST_INGEST].done == 0,
	    "a new version starts the job's ingest state again");
	ok(!run_current(r, ST_ANALYZE, slot), "... and the old analysis is no longer current");
	ok(r->job_off[slot] == 30, "... its record is the new job line");
	fold_line(r, ST_INGEST, 40, "{\"ev\":\"done\",\"id\":\"a\",\"t\":5,\"key\":\"%s\",\"ms\":1}", k1);
	ok(run_job(r, ST_INGEST, slot)->state == JS_NONE, "a late result of the old version is ignored");
	fold_line(r, ST_INGEST, 50, "{\"ev\":\"done\",\"id\":\"a\",\"t\":6,\"key\":\"%s\",\"ms\":1}", k2);
	ok(run_current(r, ST_INGEST, slot) && !run_current(r, ST_ANALYZE, slot),
	    "the new version fetched: the old analysis still is not current");
	fold_line(r, ST_ANALYZE, 60, "{\"ev\":\"done\",\"id\":\"a\",\"t\":7,\"key\":\"%s\",\"up\":\"%s\",\"ms\":1}", a2, k2);
	ok(run_current(r, ST_ANALYZE, slot), "the new analysis is");
	fold_line(r, ST_INGEST, 60, "{\"ev\":\"forget\",\"id\":\"a\",\"t\":8}");
	ok(run_gone(r, slot) && !run_current(r, ST_ANALYZE, slot) && r->stats[ST_INGEST].done == 0,
	    "forget withdraws it: nothing of it is current");
	fold_line(r, ST_INGEST, 70, "{\"ev\":\"job\",\"id\":\"a\",\"t\":9,\"key\":\"%s\",\"job\":{}}", k2);
	ok(!run_gone(r, slot) && run_job(r, ST_INGEST, slot)->state == JS_NONE,
	    "the same job given again (--replace) comes back, to be fetched again");
	run_free(r);
}

/* The object store in groups: nothing under its final name before a sync
 * covers it, duplicates written once, store_sync_start one round behind. */
static void
test_store_batch(void)
{
	char dir[] = "/tmp/vj-test-store.XXXXXX", sha[65], sha2[65], err[256];
	ok(mkdtemp(dir) != NULL, "a scratch run");
	ok(store_open(dir, err, sizeof err) == 0, "store_open");
	struct store_batch *b = store_batch_new(dir, 64, 64u << 20, 0);
	ok(store_add(b, "first image", 11, sha) == 0, "store_add");
	ok(!store_has(dir, sha, 11), "not in place before a sync");
	ok(store_add(b, "first image", 11, sha2) == 0 && !strcmp(sha, sha2) &&
	    store_batch_count(b) == 1, "the same bytes twice: one object");
	ok(store_sync_start(b, 1) == 0, "handed to the sync thread");
	ok(store_add(b, "second image", 12, sha2) == 0, "another, meanwhile");
	ok(store_sync_start(b, 1) == 0 && store_has(dir, sha, 11),
	    "the next round: what came before the last one is in place");
	ok(store_sync(b) == 0 && store_has(dir, sha2, 12) && store_batch_count(b) == 0,
	    "store_sync: everything in place");
	size_t n;
	char *p = store_get(dir, sha2, &n);
	ok(p && n == 12 && !memcmp(p, "second image", 12), "read back whole");
	free(p);
	store_batch_free(b);
	/* a group of one (--fsync always): in place at once */
	b = store_batch_new(dir, 1, 0, 0);
	ok(store_add(b, "third", 5, sha) == 0 && store_has(dir, sha, 5), "max_n 1: synced at once");
	store_batch_free(b);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	ok(system(cmd) == 0, "cleaned up");
	free(cmd);
}

int
main(void)
{
	test_replace();
	test_jscan();
	test_idx();
	test_body();
	test_arena();
	test_misc();
	test_store_batch();
	return done_testing();
}
