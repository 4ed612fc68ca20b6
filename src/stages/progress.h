/* progress: what a running stage shows of itself, from one set of counters
 * the stage hands over as it goes (progress_set):
 *  - RUN/journal/STAGE.progress, a status file of one line rewritten in
 *    place a few times a second, which the other stages of the run read;
 *  - on a terminal, one line for every stage of the run, drawn by the last
 *    stage in pipeline order (ingest, analyze, generate, pack) that writes
 *    to the same standard error; the others only write their status file;
 *  - where no line is shown, a heartbeat line every N seconds.
 * A thread of its own writes all three, so work that keeps the stage's
 * loop busy (local analysis, a shard being sealed, a read that waits for
 * upstream) does not freeze them (docs/design.md, "Progress"). */
#ifndef VJ_PROGRESS_H
#define VJ_PROGRESS_H

#include <stdint.h>
#include "core/event.h"

struct progress_counts {
	uint64_t ok;          /* done by this run */
	uint64_t cached;      /* already done: in the journal (vj-pack: in OUT) */
	uint64_t failed;      /* failed for good, bad input lines, records left out */
	uint64_t in_flight;   /* started and not finished */
	uint64_t retries;     /* retries scheduled so far */
	uint64_t total;       /* what there is to do; 0: not known */
	uint64_t shards;      /* vj-pack: shards sealed */
	int interrupted;      /* a signal came: finishing what is in flight */
	char note[96];        /* --batch: the provider's counts ("1 batch finalizing
	                       * 480/500"), in the line and the status file */
};

struct progress_opts {
	int line;             /* 1 on, 0 off, -1 when stderr is a terminal, the
	                       * log format is text and -q is not given */
	int heartbeat;        /* seconds between heartbeats where no line is shown;
	                       * 0 none; -1: 60 when stderr is not a terminal, without -q */
};

struct progress;

/* Start reporting for stage s of run (its lock held: the lock is what
 * tells the other stages this one is live).  Never fails: without a status
 * file (a planted link, a full disk) the stage only shows its own counts. */
struct progress *progress_start(const char *run, enum stage s, const struct progress_opts *o);
/* Will a line or heartbeats be shown?  (Then a total is worth counting.) */
int progress_shown(const struct progress *p);
/* The latest counts; cheap enough to call after every job. */
void progress_set(struct progress *p, const struct progress_counts *c);
/* The last counts: the status file says finished (or interrupted), the
 * line, if this process drew it, is cleared, the thread is stopped and p
 * freed.  The stage prints its summary after this. */
void progress_end(struct progress *p, const struct progress_counts *c);

/* The records the files hold (lines that are not blank), for a total; 0
 * (not known) when one is standard input ("-") or a read fails midway.  A
 * file that cannot be opened holds none. */
uint64_t progress_count_lines(char **files, int nfiles);

#endif
