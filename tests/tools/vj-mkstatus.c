/* vj-mkstatus: write a synthetic run for vj-status's tests and benchmark.
 *
 *   vj-mkstatus [-n JOBS] [--objects] [--pad BYTES] [--shard N]
 *               [--hold STAGE --hold-for SECONDS] RUN
 *
 * Job i (id "job-%07u") follows a fixed pattern, so that the tests can
 * predict every count (tests/t0200-status-report.t spells it out):
 *   ingest   i%100: 99 pending, 98 failed for good, 97 done yesterday, else done
 *   analyze  i%10 (ingested jobs only): 0 pending, 1 retry waiting,
 *            2 retry ready (i%20==2) or failed once then done (i%20==12),
 *            3 three failures, the last final, else done
 *   generate i%10 (analyzed jobs only): 4 pending, else done
 *   pack     generated jobs in shards of N (default 100); the rest pending
 * --objects stores each ingested image in RUN/objects; --hold keeps STAGE's
 * lock for a while after writing (prints "held" once it holds it). */
#include "base/hash.h"
#include "core/journal.h"
#include "core/run.h"
#include "core/store.h"
#include "base/util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct gen {
	const char *run;
	uint32_t n, shard;
	int objects;
	size_t pad;
	char *padding;
	int64_t now, t0, yesterday;
	struct journal *j[ST_N];
	struct buf line;
	uint64_t lines;
};

static void
put(struct gen *g, int s)
{
	if (journal_append(g->j[s], g->line.p, g->line.len, NULL) < 0)
		vj_die(VJ_EFATAL, "append:");
	g->line.len = 0;
	if (++g->lines % 8192 == 0)
		for (int i = 0; i < ST_N; i++)
			if (journal_commit(g->j[i]) < 0)
				vj_die(VJ_EFATAL, "commit:");
}

static void
key(char out[KEY_HEX + 1], int s, uint32_t i)
{
	snprintf(out, KEY_HEX + 1, "%08x%08x%016x", (unsigned)s + 1, (unsigned)i, 0u);
}

static void
ev_fail(struct gen *g, int s, uint32_t i, int attempt, const char *kind, int final,
    int64_t retry_at, const char *error_json)
{
	char k[KEY_HEX + 1];
	key(k, s, i);
	buf_addf(&g->line, "{\"ev\":\"fail\",\"id\":\"job-%07u\",\"t\":%lld,\"key\":\"%s\","
	    "\"attempt\":%d,\"kind\":\"%s\",\"final\":%s,\"error\":%s,\"retry_at\":%lld",
	    i, (long long)(g->t0 + i), k, attempt, kind, final ? "true" : "false", error_json,
	    (long long)retry_at);
	if (s != ST_INGEST)
		buf_adds(&g->line, ",\"usage\":{\"prompt\":1000,\"completion\":0,\"cached\":0},\"cost\":0.001");
	buf_adds(&g->line, "}");
	put(g, s);
}

static void
ingest(struct gen *g, uint32_t i)
{
	char k[KEY_HEX + 1], sha[65], img[64];
	int r = i % 100;
	key(k, ST_INGEST, i);
	buf_addf(&g->line, "{\"ev\":\"job\",\"id\":\"job-%07u\",\"t\":%lld,\"key\":\"%s\","
	    "\"job\":{\"url\":\"https://example.com/img/%u.png\"}}", i, (long long)(g->t0 + i), k, i);
	put(g, ST_INGEST);
	if (r == 99)
		return;
	if (r == 98) {
		ev_fail(g, ST_INGEST, i, 1, "permanent", 1, 0, "\"unsupported image format\"");
		return;
	}
	int n = snprintf(img, sizeof img, "vj-mkstatus image %u\n", i);
	if (g->objects) {
		if (store_put(g->run, img, (size_t)n, sha) < 0)
			vj_die(VJ_EFATAL, "store:");
	} else {
		sha256_hex(img, (size_t)n, sha);
	}
	buf_addf(&g->line, "{\"ev\":\"done\",\"id\":\"job-%07u\",\"t\":%lld,\"key\":\"%s\",\"ms\":%u,"
	    "\"attempt\":1,\"image\":{\"sha256\":\"%s\",\"mime\":\"image/png\",\"ext\":\"png\","
	    "\"bytes\":%d,\"width\":64,\"height\":48}}", i,
	    (long long)(r == 97 ? g->yesterday : g->t0 + i), k, 5 + i % 20, sha, n);
	put(g, ST_INGEST);
}

static void
done(struct gen *g, int s, uint32_t i, unsigned ms, int attempt, const char *payload,
    unsigned prompt, unsigned completion, unsigned cached, const char *cost)
{
	char k[KEY_HEX + 1];
	key(k, s, i);
	buf_addf(&g->line, "{\"ev\":\"done\",\"id\":\"job-%07u\",\"t\":%lld,\"key\":\"%s\",\"ms\":%u,"
	    "\"attempt\":%d,\"usage\":{\"prompt\":%u,\"completion\":%u,\"cached\":%u},\"cost\":%s,"
	    "%s,\"meta\":{\"model\":\"fake-1\"}}", i, (long long)(g->t0 + i), k, ms, attempt,
	    prompt, completion, cached, cost, payload);
	put(g, s);
}

/* Returns whether job i ends up analyzed. */
static int
analyze(struct gen *g, uint32_t i)
{
	struct buf p = {0};
	int q = i % 10, ok = 1;
	buf_addf(&p, "\"analysis\":{\"caption\":\"a test image %u%s\"}", i, g->padding);
	switch (q) {
	case 0:
		ok = 0;
		break;
	case 1:
		ev_fail(g, ST_ANALYZE, i, 1, "rate", 0, g->now + 3600000, "\"HTTP 429: rate limited\"");
		ok = 0;
		break;
	case 2:
		ev_fail(g, ST_ANALYZE, i, 1, "retryable", 0, g->now - 1000, "\"HTTP 503: upstream unavailable\"");
		if (i % 20 == 2) {
			ok = 0;
			break;
		}
		done(g, ST_ANALYZE, i, 900, 2, p.p, 1000, 200, 100, "0.0012");
		break;
	case 3:
		ev_fail(g, ST_ANALYZE, i, 1, "retryable", 0, g->now - 5000, "\"timeout\"");
		ev_fail(g, ST_ANALYZE, i, 2, "retryable", 0, g->now - 1000, "\"timeout\"");
		ev_fail(g, ST_ANALYZE, i, 3, "permanent", 1, 0,
		    "\"model refused: \\\"unsafe\\\"\\nsee policy\"");
		ok = 0;
		break;
	default:
		done(g, ST_ANALYZE, i, 800 + (i * 37) % 1000, 1, p.p, 1000, 200, 100, "0.0012");
	}
	buf_free(&p);
	return ok;
}

static int
generate(struct gen *g, uint32_t i)
{
	struct buf p = {0};
	if (i % 10 == 4)
		return 0;
	buf_addf(&p, "\"content\":{\"text\":\"generated for %u%s\"}", i, g->padding);
	done(g, ST_GENERATE, i, 1500 + (i * 53) % 2000, 1, p.p, 2000, 500, 0, "0.003");
	buf_free(&p);
	return 1;
}

static void
shard(struct gen *g, const uint32_t *ids, uint32_t k, unsigned no)
{
	buf_addf(&g->line, "{\"ev\":\"shard\",\"t\":%lld,\"name\":\"shard-%05u\",\"out\":"
	    "\"shards/shard-%05u.tar\",\"records\":%u,\"bytes\":%llu,\"sha256\":\"%064x\","
	    "\"first\":\"job-%07u\",\"last\":\"job-%07u\",\"format\":\"webdataset\","
	    "\"compress\":\"none\",\"ids\":[", (long long)g->t0 + ids[k - 1], no, no, k,
	    (unsigned long long)k * 1000, no, ids[0], ids[k - 1]);
	for (uint32_t x = 0; x < k; x++)
		buf_addf(&g->line, "%s\"job-%07u\"", x ? "," : "", ids[x]);
	buf_adds(&g->line, "]}");
	put(g, ST_PACK);
}

static void
generate_run(struct gen *g)
{
	uint32_t *batch = xmalloc(g->shard * sizeof *batch), k = 0;
	unsigned shards = 0;
	for (uint32_t i = 0; i < g->n; i++) {
		ingest(g, i);
		if (i % 100 >= 98 || !analyze(g, i) || !generate(g, i))
			continue;
		batch[k++] = i;
		if (k == g->shard) {
			shard(g, batch, k, shards++);
			k = 0;
		}
	}
	free(batch);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "objects", no_argument, NULL, 'o' }, { "pad", required_argument, NULL, 'p' },
		{ "shard", required_argument, NULL, 's' }, { "hold", required_argument, NULL, 'H' },
		{ "hold-for", required_argument, NULL, 'F' }, { NULL, 0, NULL, 0 }
	};
	struct gen g = { .n = 200, .shard = 100 };
	const char *hold = NULL;
	long v, hold_for = 5;
	char err[1024];
	int c;

	vj_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_long(optarg, 1, 100000000, &v) < 0)
				vj_die(VJ_EUSAGE, "-n: bad count");
			g.n = (uint32_t)v;
			break;
		case 'o': g.objects = 1; break;
		case 'p':
			if (parse_long(optarg, 0, 1 << 20, &v) < 0)
				vj_die(VJ_EUSAGE, "--pad: bad size");
			g.pad = (size_t)v;
			break;
		case 's':
			if (parse_long(optarg, 1, 1000000, &v) < 0)
				vj_die(VJ_EUSAGE, "--shard: bad size");
			g.shard = (uint32_t)v;
			break;
		case 'H': hold = optarg; break;
		case 'F':
			if (parse_long(optarg, 0, 3600, &hold_for) < 0)
				vj_die(VJ_EUSAGE, "--hold-for: bad seconds");
			break;
		default:
			fprintf(stderr, "usage: vj-mkstatus [-n JOBS] [--objects] [--pad BYTES] "
			    "[--shard N] [--hold STAGE [--hold-for S]] RUN\n");
			return VJ_EUSAGE;
		}
	}
	if (optind != argc - 1)
		vj_die(VJ_EUSAGE, "which run?");
	g.run = argv[optind];
	g.now = now_ms();
	g.t0 = g.now - 60000 - (int64_t)g.n;   /* every event in the past */
	g.yesterday = g.now - g.now % 86400000 - 3600000;
	g.padding = xmalloc(g.pad + 1);
	memset(g.padding, 'x', g.pad);
	g.padding[g.pad] = 0;
	for (int s = 0; s < ST_N; s++)
		if (journal_open(&g.j[s], g.run, stage_name[s], JL_FSYNC_NEVER, 0, NULL, NULL,
		    err, sizeof err) != VJ_OK)
			vj_die(VJ_EFATAL, "%s", err);
	generate_run(&g);
	for (int s = 0; s < ST_N; s++) {
		if (hold && strcmp(hold, stage_name[s]) == 0) {
			if (journal_commit(g.j[s]) < 0)
				vj_die(VJ_EFATAL, "commit:");
			continue;
		}
		if (journal_close(g.j[s]) < 0)
			vj_die(VJ_EFATAL, "close:");
		g.j[s] = NULL;
	}
	if (hold) {
		printf("held\n");
		fflush(stdout);
		sleep((unsigned)hold_for);
		for (int s = 0; s < ST_N; s++)
			journal_close(g.j[s]);
	}
	buf_free(&g.line);
	free(g.padding);
	return 0;
}
