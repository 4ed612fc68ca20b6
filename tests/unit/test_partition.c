/* test_partition: --partition K/N, what --partition auto takes from each
 * scheduler's variables (and refuses), the split itself, and the run's
 * record RUN/partition.json. */
#include "tap.h"
#include "util.h"
#include "base/util.h"
#include "core/idx.h"
#include "core/run.h"
#include "stages/partition.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

static char err[2048], from[256];

/* part_auto over the variables given as "NAME=VALUE" strings (NULL-ended);
 * returns its result and leaves the part in *p. */
static int
auto_(struct part *p, long count, long base, char **env)
{
	*p = (struct part){ -7, -7 };
	err[0] = from[0] = 0;
	return part_auto(env, count, base, p, from, sizeof from, err, sizeof err);
}

/* A Slurm array as Slurm describes it to task id. */
static int
slurm(struct part *p, long id, long min, long max, long step, long count, long ocount,
    long obase)
{
	static char v[5][64];
	char *env[] = { v[0], v[1], v[2], v[3], v[4], "HOME=/root", NULL };
	snprintf(v[0], sizeof v[0], "SLURM_ARRAY_TASK_ID=%ld", id);
	snprintf(v[1], sizeof v[1], "SLURM_ARRAY_TASK_MIN=%ld", min);
	snprintf(v[2], sizeof v[2], "SLURM_ARRAY_TASK_MAX=%ld", max);
	snprintf(v[3], sizeof v[3], "SLURM_ARRAY_TASK_STEP=%ld", step);
	snprintf(v[4], sizeof v[4], "SLURM_ARRAY_TASK_COUNT=%ld", count);
	return auto_(p, ocount, obase, env);
}

static int
has(const char *needle)
{
	return strstr(err, needle) != NULL;
}

static void
test_parse(void)
{
	struct part p;
	ok(part_parse("3/8", &p, err, sizeof err) == 0 && p.k == 3 && p.n == 8, "3/8");
	ok(part_parse("1/1", &p, err, sizeof err) == 0 && p.k == 1 && p.n == 1, "1/1");
	ok(part_parse("1000000/1000000", &p, err, sizeof err) == 0, "K and N up to PART_MAX");
	static const char *const bad[] = {
		"0/8", "9/8", "8", "/8", "3/", "+3/8", "3/+8", "-1/8", "3/-8", " 3/8", "3/8 ", "3/8x",
		"3//8", "0x3/8", "3/1000001", "99999999999/1", "1/99999999999999999999", "", "auto/8",
		"3.0/8", NULL
	};
	for (int i = 0; bad[i]; i++) {
		err[0] = 0;
		ok(part_parse(bad[i], &p, err, sizeof err) < 0 && has("K/N"), "'%s' refused", bad[i]);
	}
}

static void
test_slurm(void)
{
	struct part p;
	int all = 1;

	/* --array=0-7: task 0 is part 1, task 7 part 8 */
	for (long id = 0; id <= 7; id++)
		all &= slurm(&p, id, 0, 7, 1, 8, -1, -1) == 0 && p.k == id + 1 && p.n == 8;
	ok(all, "--array=0-7: task ID is part ID+1 of 8");
	ok(strstr(from, "SLURM_ARRAY_TASK_ID=7") && strstr(from, "SLURM_ARRAY_TASK_COUNT=8"),
	    "it says where it came from: %s", from);
	/* --array=1-8 */
	all = 1;
	for (long id = 1; id <= 8; id++)
		all &= slurm(&p, id, 1, 8, 1, 8, -1, -1) == 0 && p.k == id && p.n == 8;
	ok(all, "--array=1-8: task ID is part ID of 8");
	/* --array=5-12, and with a step: --array=0-14:2, --array=1-15:2 */
	all = 1;
	for (long id = 5; id <= 12; id++)
		all &= slurm(&p, id, 5, 12, 1, 8, -1, -1) == 0 && p.k == id - 4 && p.n == 8;
	ok(all, "--array=5-12: from the array's first index");
	all = 1;
	for (long id = 0; id <= 14; id += 2)
		all &= slurm(&p, id, 0, 14, 2, 8, -1, -1) == 0 && p.k == id / 2 + 1 && p.n == 8;
	ok(all, "--array=0-14:2: parts 1..8 by the step");
	ok(slurm(&p, 15, 1, 15, 2, 8, -1, -1) == 0 && p.k == 8 && p.n == 8, "--array=1-15:2: 15 is 8/8");
	ok(slurm(&p, 3, 0, 14, 2, 8, -1, -1) < 0 && has("not in the array"), "an id off the step: refused");
	ok(slurm(&p, 9, 1, 8, 1, 8, -1, -1) < 0 && has("SLURM_ARRAY_TASK_ID=9"), "an id past MAX: refused");
	ok(slurm(&p, 0, 1, 8, 1, 8, -1, -1) < 0 && has("not in the array"), "an id before MIN: refused");
	ok(slurm(&p, 5, 5, 5, 1, 1, -1, -1) == 0 && p.k == 1 && p.n == 1, "--array=5: part 1/1");
	ok(slurm(&p, 4, 8, 1, 1, 8, -1, -1) < 0, "MIN above MAX: refused");

	/* gaps: --array=1,3,7 as Slurm describes it */
	ok(slurm(&p, 3, 1, 7, 1, 3, -1, -1) < 0 && has("gaps") && has("--partition-base"),
	    "--array=1,3,7 alone: refused, saying what it needs");
	ok(slurm(&p, 3, 1, 7, 1, 3, 8, -1) < 0 && has("SLURM_ARRAY_TASK_COUNT=3") &&
	    has("--partition-count 8") && has("--partition-base"),
	    "... with a count but no base: still refused");
	ok(slurm(&p, 3, 1, 7, 1, 3, 8, 1) == 0 && p.k == 3 && p.n == 8, "... with count 8, base 1: 3/8");
	ok(slurm(&p, 3, 1, 7, 1, 3, 8, 0) == 0 && p.k == 4 && p.n == 8, "... base 0: 4/8");
	ok(slurm(&p, 7, 1, 7, 1, 3, 8, 0) == 0 && p.k == 8 && p.n == 8, "... base 0, id 7: 8/8");
	ok(slurm(&p, 8, 1, 8, 1, 3, 8, 0) < 0 && has("SLURM_ARRAY_TASK_ID=8 is not a part of 8"),
	    "... base 0, id 8: past the count, refused");
	ok(slurm(&p, 0, 0, 7, 1, 3, 8, 1) < 0 && has("counted from 1"), "... base 1, id 0: refused");
	ok(slurm(&p, 3, 1, 7, 1, 3, -1, 1) < 0 && has("number of parts"), "a base without a count: refused");
	/* a contiguous part of an array: --array=3-4 of 8 parts */
	ok(slurm(&p, 4, 3, 4, 1, 2, 8, -1) < 0 && has("SLURM_ARRAY_TASK_COUNT=2"),
	    "--array=3-4 with count 8 and no base: refused");
	ok(slurm(&p, 4, 3, 4, 1, 2, 8, 0) == 0 && p.k == 5 && p.n == 8, "... with base 0: 5/8");
	/* a count that agrees, and one that does not (the 8-then-4 case) */
	ok(slurm(&p, 2, 0, 7, 1, 8, 8, -1) == 0 && p.k == 3 && p.n == 8, "count 8 on an array of 8: agrees");
	ok(slurm(&p, 2, 0, 3, 1, 4, 8, -1) < 0 && has("SLURM_ARRAY_TASK_COUNT=4") &&
	    has("--partition-count 8"), "count 8 on an array of 4: refused, naming both");

	/* what Slurm would never say, or someone else set */
	char *e1[] = { "SLURM_ARRAY_TASK_ID=2", NULL };
	ok(auto_(&p, -1, -1, e1) < 0 && has("SLURM_ARRAY_TASK_COUNT is not set"), "no COUNT: refused");
	char *e2[] = { "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=8", "SLURM_ARRAY_TASK_MIN=0",
		"SLURM_ARRAY_TASK_MAX=7", NULL };
	ok(auto_(&p, -1, -1, e2) < 0 && has("SLURM_ARRAY_TASK_STEP is not set"), "no STEP: refused");
	ok(slurm(&p, 0, 0, 0, 1, 0, -1, -1) < 0 && has("SLURM_ARRAY_TASK_COUNT='0'"), "COUNT 0: refused");
	ok(slurm(&p, 0, 0, 7, 0, 8, -1, -1) < 0 && has("SLURM_ARRAY_TASK_STEP='0'"), "STEP 0: refused");
	ok(slurm(&p, 0, 0, 1999999, 1, 2000000, -1, -1) < 0 && has("SLURM_ARRAY_TASK_COUNT"),
	    "a count over PART_MAX: refused");
	static const char *const bad[] = {
		"", "abc", "-1", "+1", " 1", "1 ", "1e3", "0x10", "3.0", "99999999999", "4000001",
		"18446744073709551617", "1\n2", NULL
	};
	for (int i = 0; bad[i]; i++) {
		char v[64];
		snprintf(v, sizeof v, "SLURM_ARRAY_TASK_ID=%s", bad[i]);
		char *e[] = { v, "SLURM_ARRAY_TASK_COUNT=8", "SLURM_ARRAY_TASK_MIN=0",
			"SLURM_ARRAY_TASK_MAX=7", "SLURM_ARRAY_TASK_STEP=1", NULL };
		char shown[64];
		text_escape(bad[i], strlen(bad[i]), shown, sizeof shown);
		ok(auto_(&p, -1, -1, e) < 0 && has("SLURM_ARRAY_TASK_ID=") && has("not a whole number") &&
		    !strchr(err, '\n'), "SLURM_ARRAY_TASK_ID='%s': refused, on one line", shown);
	}
	char *e3[] = { "SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=8", "SLURM_ARRAY_TASK_MIN=x",
		"SLURM_ARRAY_TASK_MAX=7", "SLURM_ARRAY_TASK_STEP=1", NULL };
	ok(auto_(&p, -1, -1, e3) < 0 && has("SLURM_ARRAY_TASK_MIN='x'"), "a bad MIN: named");
	char *e4[] = { "SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1",
		"SLURM_ARRAY_TASK_MAX=7", "SLURM_ARRAY_TASK_STEP=1", "VJ_PARTITION_COUNT=8",
		"VJ_PARTITION_BASE=1", NULL };
	ok(auto_(&p, -1, -1, e4) == 0 && p.k == 3 && p.n == 8 && strstr(from, "VJ_PARTITION_COUNT=8"),
	    "VJ_PARTITION_COUNT and VJ_PARTITION_BASE stand for the options");
	ok(auto_(&p, 8, 0, e4) == 0 && p.k == 4 && p.n == 8 && strstr(from, "--partition-base 0"),
	    "... and the options win over them");
	char *e5[] = { "SLURM_ARRAY_TASK_ID=3", "VJ_PARTITION_COUNT=8", "VJ_PARTITION_BASE=2", NULL };
	ok(auto_(&p, -1, -1, e5) < 0 && has("VJ_PARTITION_BASE='2'"), "VJ_PARTITION_BASE=2: refused");
	char *e6[] = { "SLURM_ARRAY_TASK_ID=3", "VJ_PARTITION_COUNT=-8", "VJ_PARTITION_BASE=1", NULL };
	ok(auto_(&p, -1, -1, e6) < 0 && has("VJ_PARTITION_COUNT='-8'"), "VJ_PARTITION_COUNT=-8: refused");
	char *e7[] = { "SLURM_ARRAY_TASK_ID=3", "VJ_PARTITION_COUNT=0", NULL };
	ok(auto_(&p, -1, -1, e7) < 0 && has("VJ_PARTITION_COUNT='0'"), "VJ_PARTITION_COUNT=0: refused");
}

static void
test_kubernetes(void)
{
	struct part p;
	char *e0[] = { "JOB_COMPLETION_INDEX=0", NULL };
	char *e3[] = { "JOB_COMPLETION_INDEX=3", NULL };
	char *e4[] = { "JOB_COMPLETION_INDEX=4", NULL };
	char *ev[] = { "JOB_COMPLETION_INDEX=2", "VJ_PARTITION_COUNT=4", NULL };
	char *eb[] = { "JOB_COMPLETION_INDEX=02", NULL };
	char *en[] = { "JOB_COMPLETION_INDEX=-1", NULL };

	ok(auto_(&p, 4, -1, e0) == 0 && p.k == 1 && p.n == 4, "index 0 of 4: part 1/4");
	ok(auto_(&p, 4, -1, e3) == 0 && p.k == 4 && p.n == 4, "index 3 of 4: part 4/4");
	ok(auto_(&p, 4, -1, e4) < 0 && has("JOB_COMPLETION_INDEX=4 is not a part of 4"),
	    "index 4 of 4: refused");
	ok(auto_(&p, -1, -1, e3) < 0 && has("JOB_COMPLETION_INDEX") && has("--partition-count"),
	    "no count: refused, saying how to give it");
	ok(auto_(&p, -1, -1, ev) == 0 && p.k == 3 && p.n == 4, "the count from VJ_PARTITION_COUNT");
	ok(auto_(&p, 4, 0, e3) == 0 && p.k == 4, "base 0: agrees");
	ok(auto_(&p, 4, 1, e3) < 0 && has("counts from 0"), "base 1: refused");
	ok(auto_(&p, 4, -1, eb) == 0 && p.k == 3, "a leading zero is still decimal");
	ok(auto_(&p, 4, -1, en) < 0 && has("JOB_COMPLETION_INDEX='-1'"), "a negative index: refused");
}

static void
test_parallel(void)
{
	struct part p;
	char *e1[] = { "PARALLEL_SEQ=1", NULL };
	char *e3[] = { "PARALLEL_SEQ=3", NULL };
	char *e0[] = { "PARALLEL_SEQ=0", NULL };
	char *e4[] = { "PARALLEL_SEQ=4", NULL };
	char *eh[] = { "PARALLEL_SEQ=12345678901234", NULL };

	ok(auto_(&p, 3, -1, e1) == 0 && p.k == 1 && p.n == 3, "seq 1 of 3: part 1/3");
	ok(auto_(&p, 3, -1, e3) == 0 && p.k == 3 && p.n == 3, "seq 3 of 3: part 3/3");
	ok(auto_(&p, 3, -1, e0) < 0 && has("PARALLEL_SEQ='0'"), "seq 0: refused (it counts from 1)");
	ok(auto_(&p, 3, -1, e4) < 0 && has("PARALLEL_SEQ=4 is not a part of 3"), "seq 4 of 3: refused");
	ok(auto_(&p, -1, -1, e3) < 0 && has("PARALLEL_SEQ") && has("VJ_PARTITION_COUNT"),
	    "no count: refused");
	ok(auto_(&p, 3, 0, e3) < 0 && has("counts from 1"), "base 0: refused");
	ok(auto_(&p, 3, -1, eh) < 0 && has("not a whole number"), "a huge seq: refused");
}

static void
test_which(void)
{
	struct part p;
	char *none[] = { "HOME=/root", "SLURM_JOB_ID=12", "SLURM_ARRAY_TASK_IDX=1", NULL };
	char *two[] = { "SLURM_ARRAY_TASK_ID=1", "PARALLEL_SEQ=2", NULL };
	char *k8p[] = { "JOB_COMPLETION_INDEX=1", "PARALLEL_SEQ=2", NULL };
	char *empty[] = { NULL };

	ok(auto_(&p, 4, -1, none) < 0 && has("no scheduler found"), "no scheduler: refused");
	ok(auto_(&p, 4, -1, empty) < 0 && has("no scheduler found"), "an empty environment: refused");
	ok(auto_(&p, 4, -1, NULL) < 0 && has("no scheduler found"), "no environment: refused");
	ok(auto_(&p, 4, -1, two) < 0 && has("SLURM_ARRAY_TASK_ID and PARALLEL_SEQ"),
	    "Slurm and parallel both: refused, naming both");
	ok(auto_(&p, 4, -1, k8p) < 0 && has("JOB_COMPLETION_INDEX and PARALLEL_SEQ"),
	    "Kubernetes and parallel both: refused");
}

static void
test_split(void)
{
	enum { N = 7, IDS = 5000 };
	int count[N + 1] = {0}, once = 1;
	char id[32];

	for (int i = 0; i < IDS; i++) {
		snprintf(id, sizeof id, "job-%06d", i);
		int in = 0;
		for (int k = 1; k <= N; k++)
			if (part_has(&(struct part){ k, N }, id)) {
				in++;
				count[k]++;
			}
		once &= in == 1;
	}
	ok(once, "every id in exactly one of 7 parts");
	int even = 1;
	for (int k = 1; k <= N; k++)
		even &= count[k] > IDS / N / 2 && count[k] < IDS / N * 2;
	ok(even, "and the parts about even (%d %d %d %d %d %d %d)", count[1], count[2], count[3],
	    count[4], count[5], count[6], count[7]);
	ok(part_has(&(struct part){ 0, 0 }, "any"), "no partition: every id");
	ok(part_has(&(struct part){ 1, 1 }, "any"), "1/1: every id");
}

static const char *
slurp(const char *path)
{
	static char b[256];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(b, 1, sizeof b - 1, f) : 0;
	if (f)
		fclose(f);
	b[n] = 0;
	return b;
}

static void
test_record(void)
{
	struct part p = { 0, 0 };
	char dir[128], rec[160], tmp[170];

	snprintf(dir, sizeof dir, "%s/run", scratch);
	mkdir(dir, 0755);
	snprintf(rec, sizeof rec, "%s/partition.json", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", rec);
	ok(part_read(dir, &p, err, sizeof err) == 0, "no record: 0");
	ok(part_write(dir, &(struct part){ 3, 8 }, err, sizeof err) == 0, "written");
	is_str(slurp(rec), "{\"k\":3,\"n\":8}\n", "as {\"k\":K,\"n\":N}");
	ok(part_read(dir, &p, err, sizeof err) == 1 && p.k == 3 && p.n == 8, "read back: 3/8");
	ok(access(tmp, F_OK) < 0, "no temporary left");

	static const char *const bad[] = {
		"{\"k\":0,\"n\":8}", "{\"k\":9,\"n\":8}", "{\"k\":\"3\",\"n\":8}", "{\"k\":3}",
		"{\"k\":3,\"n\":8,\"x\":1}", "{\"k\":3,\"k\":3,\"n\":8}", "[3,8]", "3/8", "",
		"{\"k\":3.0,\"n\":8}", "{\"k\":1,\"n\":1000001}", "{\"k\":-1,\"n\":8}", NULL
	};
	for (int i = 0; bad[i]; i++) {
		FILE *f = fopen(rec, "w");
		fputs(bad[i], f);
		fclose(f);
		err[0] = 0;
		ok(part_read(dir, &p, err, sizeof err) < 0 && has("partition.json") &&
		    has("not a partition record"), "'%s': refused", bad[i]);
	}
	FILE *f = fopen(rec, "w");
	for (int i = 0; i < 1000; i++)
		fputs("          ", f);
	fclose(f);
	ok(part_read(dir, &p, err, sizeof err) < 0 && has("too big"), "a big file: refused unread");

	/* a link under the record's name, or the temporary's, is not followed */
	char outside[200];
	snprintf(outside, sizeof outside, "%s", scratch_file("outside", "keep\n"));
	unlink(rec);
	ok(symlink(outside, rec) == 0, "a link planted as partition.json");
	ok(part_read(dir, &p, err, sizeof err) < 0 && has("symbolic link"), "read refuses it: %s", err);
	unlink(rec);
	ok(symlink(outside, tmp) == 0, "a link planted as the temporary");
	ok(part_write(dir, &(struct part){ 2, 4 }, err, sizeof err) == 0, "write goes on");
	is_str(slurp(outside), "keep\n", "and leaves what the link points to alone");
	is_str(slurp(rec), "{\"k\":2,\"n\":4}\n", "the record is the new one");
	struct stat st;
	ok(lstat(rec, &st) == 0 && S_ISREG(st.st_mode), "a regular file");
	unlink(rec);
	mkdir(rec, 0755);
	ok(part_read(dir, &p, err, sizeof err) < 0, "a directory as the record: refused");
	rmdir(rec);
}

/* A run as part_bind sees it: ids interned, jobs journaled at offsets. */
static struct run *
fake_run(const char *name, const char *const *ids)
{
	struct run *r = xcalloc(1, sizeof *r);
	r->dir = xasprintf("%s/%s", scratch, name);
	mkdir(r->dir, 0755);
	r->ids = idx_new();
	r->cap = 64;
	r->job_off = xcalloc(r->cap, sizeof *r->job_off);
	for (uint32_t i = 0; i < r->cap; i++)
		r->job_off[i] = NO_OFF;
	for (int i = 0; ids && ids[i]; i++)
		r->job_off[idx_get(r->ids, ids[i], strlen(ids[i]), 1)] = 100u * (unsigned)i;
	/* an id known from another stage's journal, not ingested here */
	idx_get(r->ids, "other-stage", 11, 1);
	return r;
}

static void
fake_free(struct run *r)
{
	idx_free(r->ids);
	free(r->job_off);
	free(r->dir);
	free(r);
}

static void
test_bind(void)
{
	struct part p;
	struct run *r = fake_run("bind", NULL);
	const struct part p38 = { 3, 8 }, p34 = { 3, 4 }, p48 = { 4, 8 }, none = { 0, 0 };

	is_int(part_bind(r, &none, NULL, 0, err, sizeof err), VJ_OK, "no partition on a new run: fine");
	ok(part_read(r->dir, &p, err, sizeof err) == 0, "and nothing recorded");
	is_int(part_bind(r, &p38, NULL, 0, err, sizeof err), VJ_OK, "3/8 the first time: fine");
	ok(part_read(r->dir, &p, err, sizeof err) == 1 && p.k == 3 && p.n == 8, "recorded");
	is_int(part_bind(r, &p38, NULL, 0, err, sizeof err), VJ_OK, "3/8 again: fine");
	is_int(part_bind(r, &p34, "SLURM_ARRAY_TASK_COUNT=4", 0, err, sizeof err), VJ_EUSAGE,
	    "3/4 later (the 8-then-4 case): refused");
	ok(has("part 3/8") && has("not part 3/4") && has("SLURM_ARRAY_TASK_COUNT=4"),
	    "naming both, and where 3/4 came from: %s", err);
	is_int(part_bind(r, &p48, NULL, 0, err, sizeof err), VJ_EUSAGE, "4/8: refused");
	is_int(part_bind(r, &none, NULL, 0, err, sizeof err), VJ_EUSAGE, "no partition: refused");
	ok(has("--partition 3/8"), "saying which to give");
	is_int(part_bind(r, &none, NULL, 1, err, sizeof err), VJ_OK, "no partition with --pending: fine");
	is_int(part_bind(r, &p34, NULL, 1, err, sizeof err), VJ_EUSAGE, "3/4 with --pending: refused");
	ok(part_read(r->dir, &p, err, sizeof err) == 1 && p.k == 3 && p.n == 8, "the record unchanged");

	/* runs that hold jobs and no record */
	const char *mixed[65];
	int k1 = 0, n = 0;
	char ids[64][16];
	for (int i = 0; i < 60; i++) {
		snprintf(ids[i], sizeof ids[i], "j%02d", i);
		mixed[n++] = ids[i];
		k1 += part_has(&(struct part){ 1, 2 }, ids[i]);
	}
	mixed[n] = NULL;
	ok(k1 > 0 && k1 < 60, "the ids fall into both halves");
	struct run *m = fake_run("mixed", mixed);
	is_int(part_bind(m, &(struct part){ 1, 2 }, NULL, 0, err, sizeof err), VJ_EUSAGE,
	    "a run with jobs of every part takes none: refused");
	ok(has("holds") && has("other parts") && has("(such as j"), "naming a job: %s", err);
	ok(part_read(m->dir, &p, err, sizeof err) == 0, "and nothing recorded");
	const char *mine[65];
	n = 0;
	for (int i = 0; i < 60; i++)
		if (part_has(&(struct part){ 1, 2 }, ids[i]))
			mine[n++] = ids[i];
	mine[n] = NULL;
	struct run *o = fake_run("mine", mine);
	is_int(part_bind(o, &(struct part){ 1, 2 }, NULL, 0, err, sizeof err), VJ_OK,
	    "a run with jobs of part 1/2 only takes part 1/2");
	ok(part_read(o->dir, &p, err, sizeof err) == 1 && p.k == 1 && p.n == 2, "and records it");

	/* a damaged record stops the ingest: exit 3 */
	scratch_file("bind/partition.json", "{\"k\":3,");
	is_int(part_bind(r, &p38, NULL, 0, err, sizeof err), VJ_EFATAL, "a damaged record: fatal");
	ok(has("not a partition record"), "%s", err);
	fake_free(r);
	fake_free(m);
	fake_free(o);
}

int
main(void)
{
	if (scratch_make("partition") < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_parse();
	test_slurm();
	test_kubernetes();
	test_parallel();
	test_which();
	test_split();
	test_record();
	test_bind();
	scratch_remove();
	return done_testing();
}
