/* partition: part K of N of the jobs for one vj-ingest.  From the command
 * line (--partition K/N) or from a scheduler's variables (--partition
 * auto), each checked as text from outside; and the run's record of its
 * part, RUN/partition.json, written the first time and held to after. */
#include "stages/partition.h"
#include "base/hash.h"
#include "base/safefs.h"
#include "base/util.h"
#include "core/run.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Slurm caps an array index below MaxArraySize, itself at most 4000001. */
#define SLURM_INDEX_MAX 4000000L

#define PART_FILE "partition.json"

/* One decimal number: digits only (no sign, space or 0x), within lo..hi.
 * Longer than 10 digits is out of range without overflowing. */
static int
num(const char *s, long lo, long hi, long *out)
{
	long v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
part_parse(const char *arg, struct part *p, char *err, size_t errlen)
{
	const char *slash = strchr(arg, '/');
	char k[16];
	long vk, vn;
	size_t n = slash ? (size_t)(slash - arg) : 0;

	if (!slash || n >= sizeof k)
		return errf(err, errlen, "takes K/N");
	memcpy(k, arg, n);
	k[n] = 0;
	if (num(k, 1, PART_MAX, &vk) < 0 || num(slash + 1, 1, PART_MAX, &vn) < 0 || vk > vn)
		return errf(err, errlen, "takes K/N with 1 <= K <= N <= %d", PART_MAX);
	p->k = (int)vk;
	p->n = (int)vn;
	return 0;
}

/* ---- --partition auto ---- */

struct env {
	char *const *env;
	char *err;
	size_t errlen;
};

static const char *
env_get(const struct env *e, const char *name)
{
	size_t n = strlen(name);
	for (char *const *v = e->env; v && *v; v++)
		if (!strncmp(*v, name, n) && (*v)[n] == '=')
			return *v + n + 1;
	return NULL;
}

/* NAME, which must be set, as a number in lo..hi.  The value is shown
 * escaped: it comes from outside. */
static int
env_num(const struct env *e, const char *name, long lo, long hi, long *out)
{
	const char *s = env_get(e, name);
	char shown[48];
	if (!s)
		return errf(e->err, e->errlen, "%s is not set", name);
	if (num(s, lo, hi, out) == 0)
		return 0;
	text_escape(s, strnlen(s, 40), shown, sizeof shown);
	return errf(e->err, e->errlen, "%s='%s'%s is not a whole number in %ld..%ld", name, shown,
	    strlen(s) > 40 ? "..." : "", lo, hi);
}

/* The count and base an option gave, else their variables; -1 when
 * neither.  what gets how to name it in messages. */
static int
given(const struct env *e, long opt, const char *optname, const char *var, long lo, long hi,
    long *out, char *what, size_t whatlen)
{
	*out = -1;
	if (opt >= 0) {
		*out = opt;
		snprintf(what, whatlen, "%s %ld", optname, opt);
	} else if (env_get(e, var)) {
		if (env_num(e, var, lo, hi, out) < 0)
			return -1;
		snprintf(what, whatlen, "%s=%ld", var, *out);
	}
	return 0;
}

static int
need_count(const struct env *e, long count, const char *var, const char *what_count)
{
	if (count >= 0)
		return 0;
	return errf(e->err, e->errlen, "%s gives this task's index but not the number of parts %s: "
	    "give it with --partition-count N or VJ_PARTITION_COUNT", var, what_count);
}

/* A Slurm job array.  A whole array, contiguous from any first index with
 * any step (--array=0-7, 1-8, 0-14:2), numbers its parts itself.  One with
 * gaps (--array=1,3,7: a resubmission of the parts not yet done) has no
 * such numbering: it needs the count and the first index of the original
 * array, and its indexes are then the part numbers. */
static int
from_slurm(const struct env *e, long count, const char *cwhat, long base, const char *bwhat,
    struct part *p, char *from, size_t fromlen)
{
	long id, tcount, tmin, tmax, step;
	if (env_num(e, "SLURM_ARRAY_TASK_ID", 0, SLURM_INDEX_MAX, &id) < 0)
		return -1;
	if (base >= 0) {
		if (count < 0)
			return errf(e->err, e->errlen, "%s needs the number of parts too: "
			    "--partition-count N or VJ_PARTITION_COUNT", bwhat);
		if (id < base || id - base >= count)
			return errf(e->err, e->errlen, "SLURM_ARRAY_TASK_ID=%ld is not a part of %ld counted "
			    "from %ld (%s, %s): submit the array with indexes %ld-%ld", id, count, base,
			    cwhat, bwhat, base, base + count - 1);
		p->k = (int)(id - base + 1);
		p->n = (int)count;
		snprintf(from, fromlen, "SLURM_ARRAY_TASK_ID=%ld, %s, %s", id, cwhat, bwhat);
		return 0;
	}
	if (env_num(e, "SLURM_ARRAY_TASK_COUNT", 1, PART_MAX, &tcount) < 0 ||
	    env_num(e, "SLURM_ARRAY_TASK_MIN", 0, SLURM_INDEX_MAX, &tmin) < 0 ||
	    env_num(e, "SLURM_ARRAY_TASK_MAX", 0, SLURM_INDEX_MAX, &tmax) < 0 ||
	    env_num(e, "SLURM_ARRAY_TASK_STEP", 1, SLURM_INDEX_MAX, &step) < 0)
		return -1;
	if (tmin > tmax || id < tmin || id > tmax || (id - tmin) % step)
		return errf(e->err, e->errlen, "SLURM_ARRAY_TASK_ID=%ld is not in the array "
		    "SLURM_ARRAY_TASK_MIN=%ld..SLURM_ARRAY_TASK_MAX=%ld, SLURM_ARRAY_TASK_STEP=%ld",
		    id, tmin, tmax, step);
	if ((tmax - tmin) / step + 1 != tcount || (tmax - tmin) % step) {
		if (count >= 0)
			return errf(e->err, e->errlen, "the Slurm array %ld-%ld:%ld has gaps "
			    "(SLURM_ARRAY_TASK_COUNT=%ld, %s): an array of some of the parts needs the "
			    "first index of the whole array too: --partition-base 0|1 or "
			    "VJ_PARTITION_BASE", tmin, tmax, step, tcount, cwhat);
		return errf(e->err, e->errlen, "the Slurm array %ld-%ld:%ld has gaps "
		    "(SLURM_ARRAY_TASK_COUNT=%ld): an array of some parts only (such as "
		    "--array=1,3,7) needs the number of parts and the first index of the whole "
		    "array: --partition-count N --partition-base 0|1, or VJ_PARTITION_COUNT and "
		    "VJ_PARTITION_BASE", tmin, tmax, step, tcount);
	}
	if (count >= 0 && count != tcount)
		return errf(e->err, e->errlen, "SLURM_ARRAY_TASK_COUNT=%ld but %s: if this array "
		    "runs only some of the parts, give its first index too (--partition-base 0|1 or "
		    "VJ_PARTITION_BASE)", tcount, cwhat);
	p->k = (int)((id - tmin) / step + 1);
	p->n = (int)tcount;
	snprintf(from, fromlen, "SLURM_ARRAY_TASK_ID=%ld of SLURM_ARRAY_TASK_MIN=%ld"
	    "..SLURM_ARRAY_TASK_MAX=%ld, SLURM_ARRAY_TASK_STEP=%ld, SLURM_ARRAY_TASK_COUNT=%ld",
	    id, tmin, tmax, step, tcount);
	return 0;
}

/* A scheduler with one index and no count: Kubernetes' Indexed Job
 * (JOB_COMPLETION_INDEX, from 0) or GNU parallel (PARALLEL_SEQ, from 1). */
static int
from_index(const struct env *e, const char *var, long first, const char *what_count,
    long count, const char *cwhat, long base, const char *bwhat, struct part *p, char *from,
    size_t fromlen)
{
	long i;
	if (env_num(e, var, first, PART_MAX, &i) < 0 || need_count(e, count, var, what_count) < 0)
		return -1;
	if (base >= 0 && base != first)
		return errf(e->err, e->errlen, "%s counts from %ld, not from %ld (%s)", var, first,
		    base, bwhat);
	if (i < first || i - first >= count)
		return errf(e->err, e->errlen, "%s=%ld is not a part of %ld (%s), counted from %ld",
		    var, i, count, cwhat, first);
	p->k = (int)(i - first + 1);
	p->n = (int)count;
	snprintf(from, fromlen, "%s=%ld, %s", var, i, cwhat);
	return 0;
}

int
part_auto(char *const *env, long count, long base, struct part *p, char *from,
    size_t fromlen, char *err, size_t errlen)
{
	struct env e = { env, err, errlen };
	static const char *const vars[] = { "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "PARALLEL_SEQ" };
	char cwhat[64] = "", bwhat[64] = "";
	int which = -1;

	for (int i = 0; i < 3; i++) {
		if (!env_get(&e, vars[i]))
			continue;
		if (which >= 0)
			return errf(err, errlen, "both %s and %s are set: cannot tell which scheduler's "
			    "part this is; give --partition K/N", vars[which], vars[i]);
		which = i;
	}
	if (which < 0)
		return errf(err, errlen, "no scheduler found: none of SLURM_ARRAY_TASK_ID (a Slurm job "
		    "array), JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) and PARALLEL_SEQ (GNU "
		    "parallel) is set; give --partition K/N");
	if (given(&e, count, "--partition-count", "VJ_PARTITION_COUNT", 1, PART_MAX, &count,
	    cwhat, sizeof cwhat) < 0 ||
	    given(&e, base, "--partition-base", "VJ_PARTITION_BASE", 0, 1, &base, bwhat,
	    sizeof bwhat) < 0)
		return -1;
	switch (which) {
	case 0:
		return from_slurm(&e, count, cwhat, base, bwhat, p, from, fromlen);
	case 1:
		return from_index(&e, vars[1], 0, "(the Job's completions)", count, cwhat, base, bwhat,
		    p, from, fromlen);
	default:
		return from_index(&e, vars[2], 1, "(the number of inputs given to parallel)", count,
		    cwhat, base, bwhat, p, from, fromlen);
	}
}

int
part_has(const struct part *p, const char *id)
{
	return p->n <= 0 || hash64(id, strlen(id)) % (uint64_t)p->n == (uint64_t)(p->k - 1);
}

/* ---- RUN/partition.json ---- */

int
part_read(const char *run, struct part *p, char *err, size_t errlen)
{
	char *path = xasprintf("%s/" PART_FILE, run);
	size_t len;
	char *text = NULL;
	json_t *j = NULL;
	json_error_t je;
	int r = -1;
	int fd = safefs_open(path, O_RDONLY, 0);

	if (fd < 0) {
		if (errno == ENOENT)
			r = 0;
		else
			errf(err, errlen, "%s: %s", path, safefs_why(errno));
		goto out;
	}
	text = read_fd(fd, &len, 4096);
	close(fd);
	if (!text) {
		errf(err, errlen, "%s: %s", path, errno == EFBIG ? "too big for a partition record" :
		    strerror(errno));
		goto out;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	json_t *k = json_object_get(j, "k"), *n = json_object_get(j, "n");
	if (!json_is_object(j) || json_object_size(j) != 2 || !json_is_integer(k) ||
	    !json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > PART_MAX ||
	    json_integer_value(k) < 1 || json_integer_value(k) > json_integer_value(n)) {
		errf(err, errlen, "%s: not a partition record {\"k\":K,\"n\":N} with 1 <= K <= N <= %d: "
		    "damaged, or not written by vj (restore it, or ingest into a new run)", path, PART_MAX);
		goto out;
	}
	p->k = (int)json_integer_value(k);
	p->n = (int)json_integer_value(n);
	r = 1;
out:
	json_decref(j);
	free(text);
	free(path);
	return r;
}

int
part_write(const char *run, const struct part *p, char *err, size_t errlen)
{
	char *path = xasprintf("%s/" PART_FILE, run);
	char *tmp = xasprintf("%s.tmp", path);
	char text[64];
	int n = snprintf(text, sizeof text, "{\"k\":%d,\"n\":%d}\n", p->k, p->n);
	int r = safefs_write_small(run, tmp, path, text, (size_t)n, 1, err, errlen);
	free(tmp);
	free(path);
	return r;
}

int
part_bind(struct run *r, const struct part *want, const char *from, int pending,
    char *err, size_t errlen)
{
	struct part have;
	char asked[256];
	int got = part_read(r->dir, &have, err, errlen);

	if (got < 0)
		return VJ_EFATAL;
	snprintf(asked, sizeof asked, "part %d/%d%s%s%s", want->k, want->n, from ? " (from " : "",
	    from ? from : "", from ? ")" : "");
	if (got) {
		if (want->n == 0 && pending)
			return VJ_OK;   /* takes only the run's own jobs */
		if (want->n == 0) {
			errf(err, errlen, "%s holds part %d/%d of the jobs (%s/" PART_FILE "): ingest "
			    "into it with --partition %d/%d (or --partition auto in the same array), "
			    "or into another run", r->dir, have.k, have.n, r->dir, have.k, have.n);
			return VJ_EUSAGE;
		}
		if (have.k != want->k || have.n != want->n) {
			errf(err, errlen, "%s holds part %d/%d of the jobs (%s/" PART_FILE "), not %s: "
			    "a run keeps the partition it was started with; split another way into "
			    "new run directories", r->dir, have.k, have.n, r->dir, asked);
			return VJ_EUSAGE;
		}
		return VJ_OK;
	}
	if (want->n == 0)
		return VJ_OK;
	/* a run from before the record, or from an ingest without a partition:
	 * it takes a part only if all it holds is of that part */
	uint32_t others = 0;
	const char *first = NULL;
	for (uint32_t s = 0; r->job_off && s < r->cap && s < idx_count(r->ids); s++) {
		if (r->job_off[s] == NO_OFF)
			continue;
		const char *id = idx_id(r->ids, s);
		if (!part_has(want, id)) {
			if (!first)
				first = id;
			others++;
		}
	}
	if (others) {
		errf(err, errlen, "%s already holds %u job%s of other parts than %s (such as %s): it was "
		    "ingested without --partition or with another; use a new run directory for "
		    "each part", r->dir, others, others == 1 ? "" : "s", asked, first);
		return VJ_EUSAGE;
	}
	if (part_write(r->dir, want, err, errlen) < 0)
		return VJ_EFATAL;
	return VJ_OK;
}
