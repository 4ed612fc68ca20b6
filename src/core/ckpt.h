/* ckpt: checkpoints of a stage's fold, so that opening a large run reads
 * the journal's tail rather than all of it (docs/journal.md,
 * "Checkpoints").  A checkpoint is a cache: the journal stays the only
 * truth, and one that is missing, stale, damaged, foreign or of a newer
 * format is ignored and the fold rebuilt from the journal. */
#ifndef VJ_CKPT_H
#define VJ_CKPT_H

#include <stdint.h>
#include "core/run.h"

/* The checkpoint format this vj writes and reads (2: with the offsets of
 * the stage's batch lines; one of format 1 is ignored, the fold rebuilt). */
#define CKPT_VERSION 2

/* Load stage s's checkpoint into r, whose fold of s must be empty, after
 * checking it against the journal it claims to cover (open on jfd, size
 * bytes).  Returns the journal offset it covers, where replay goes on; 0
 * when there was none to use (a note under -v says why, a warning when it
 * was damaged), the fold of s then as empty as before. */
uint64_t ckpt_load(struct run *r, enum stage s, int jfd, uint64_t size);

/* Write stage s's checkpoint: its fold, which must be exactly that of the
 * journal's first covers bytes.  The caller holds the stage's lock.
 * Atomic (a temporary, fsync, rename, directory fsync).  0, or -1 with a
 * note under -v (a checkpoint that cannot be written costs time only). */
int ckpt_write(struct run *r, enum stage s, uint64_t covers);

/* VJ_CKPT=0 turns checkpoints off (neither read nor written). */
int ckpt_enabled(void);
/* How many journal bytes past its checkpoint make a new one worth
 * writing: dflt, or VJ_CKPT_BYTES when set (at least 1). */
uint64_t ckpt_threshold(uint64_t dflt);

#endif
