/* partition: which part K of N of the jobs one vj-ingest takes, and the
 * run's record of it.  K and N come from --partition K/N or, with
 * --partition auto, from the variables a scheduler sets (Slurm job arrays,
 * Kubernetes Indexed Jobs, GNU parallel), none of which is trusted.  A run
 * holds one part for good: RUN/partition.json says which, and a later
 * ingest that asks for another K or N is refused (docs/journal.md). */
#ifndef VJ_PARTITION_H
#define VJ_PARTITION_H

#include <stddef.h>

struct run;

/* The largest N: more parts than any scheduler runs tasks. */
#define PART_MAX 1000000

/* Part k of n, 1 <= k <= n <= PART_MAX; n == 0: no partition (every job). */
struct part {
	int k, n;
};

/* "K/N" (decimal digits only) with 1 <= K <= N <= PART_MAX.  0, or -1 with
 * err saying what is wrong. */
int part_parse(const char *arg, struct part *p, char *err, size_t errlen);

/* What --partition auto takes from env (NAME=VALUE strings, NULL-ended, as
 * environ).  count and base are --partition-count and --partition-base, -1
 * when not given: then VJ_PARTITION_COUNT and VJ_PARTITION_BASE are read.
 * from gets the variables it came from, for messages (fromlen bytes).
 * 0, or -1 with err naming the variable that is missing or wrong. */
int part_auto(char *const *env, long count, long base, struct part *p, char *from,
    size_t fromlen, char *err, size_t errlen);

/* Whether job id belongs to part p (every id does when p->n == 0). */
int part_has(const struct part *p, const char *id);

/* RUN/partition.json: {"k":K,"n":N}.  part_read: 1 read into *p, 0 there
 * is none, -1 unreadable or not such a record (err).  part_write: written
 * atomically, never through a symbolic link; 0, or -1 with err. */
int part_read(const char *run, struct part *p, char *err, size_t errlen);
int part_write(const char *run, const struct part *p, char *err, size_t errlen);

/* Bind run r (its ingest journal owned and replayed) to the part an ingest
 * asks for (want->n == 0: none; from: where it came from, or NULL), with
 * pending set when it only takes work from the run.  The first time a part
 * is asked for, it is recorded, once every job the run already holds is
 * checked to be in it.  Returns VJ_OK, VJ_EUSAGE (another part than the
 * run's, or jobs of other parts) or VJ_EFATAL (the record unreadable or
 * not writable), with err. */
int part_bind(struct run *r, const struct part *want, const char *from, int pending,
    char *err, size_t errlen);

#endif
