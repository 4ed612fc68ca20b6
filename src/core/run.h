/* run: a run directory seen through its journals.  Folds every stage's
 * events into compact per-job state (docs/journal.md), incrementally, and
 * assembles a job's record from the journal lines on demand. */
#ifndef VJ_RUN_H
#define VJ_RUN_H

#include <stdint.h>
#include <jansson.h>
#include "base/key.h"
#include "core/event.h"
#include "core/idx.h"
#include "core/journal.h"

/* The journal format this vj writes and reads (docs/journal.md, "Format
 * version"): the first line of a new journal says it. */
#define RUN_JOURNAL_VERSION 1


/* JS_GONE is ingest's only: the job was withdrawn (vj-ingest --forget). */
enum jstate { JS_NONE = 0, JS_DONE, JS_RETRY, JS_DEAD, JS_GONE };

#define NO_OFF UINT64_MAX

/* One job at one stage: the fold of its events. */
struct jobstate {       /* what the fold keeps of one job in one stage */
	uint64_t key[2];     /* cache key of the latest done */
	uint64_t off;        /* offset of the latest done (or shard) line */
	uint32_t retry_at;   /* seconds since the epoch: a retryable failure waits until then */
	uint32_t ms;         /* duration of the latest done */
	union {              /* one word, so that the fold stays 40 bytes a job and stage: */
		uint32_t fkey;   /* not done: low bits of the key the failures were counted for */
		uint32_t ukey;   /* done: low bits of the upstream key it was made from; 0 unknown
		                  * (a failure after a done starts its count again either way) */
	};
	uint16_t attempts;   /* failures counted since the latest done */
	uint8_t state;       /* enum jstate */
};

struct stage_stats {
	uint64_t events, done, fails, fails_final, done_today;
	uint64_t tok_prompt, tok_completion, tok_cached;
	double cost;
	int64_t last_t;      /* ms of the latest event */
	uint64_t shards, shard_bytes;
	uint64_t done_ev;    /* done events (successful requests), for the failure rate */
};

struct run {
	char *dir;
	struct idx *ids;
	struct jobstate *st[ST_N];      /* per stage, indexed by slot; NULL until needed */
	uint64_t *job_off;          /* ingest "job" line offset by slot */
	uint32_t cap;               /* allocated slots */
	struct stage_stats stats[ST_N];
	struct jreader *rd[ST_N];
	struct journal *own[ST_N];  /* the journal this process writes, if any */
	int64_t today_start;        /* ms: midnight UTC today, for done_today */
	int32_t newer[ST_N];        /* a journal's header named this newer format */
	/* checkpoints (core/ckpt.h) */
	uint64_t ck_off[ST_N];      /* journal bytes the latest checkpoint read or written covers */
	int64_t ck_ms[ST_N];        /* when this process last wrote one (mono ms) */
	uint8_t ck_tried[ST_N];     /* the stage's checkpoint was looked for */
	/* where the stage's batch_* lines are (stages/batchlog.c): a stage's
	 * start reads those few lines instead of its whole journal */
	uint64_t *batch_off[ST_N];
	uint32_t nbatch[ST_N], batch_cap[ST_N];
	/* the stages whose per-job arrays run_reserve makes at once, their
	 * pages faulted in on a thread of their own (run_own sets it: the
	 * stage and those it reads) */
	unsigned ahead;
	struct prefault *pf;
};

struct run *run_new(const char *dir);
/* 1 when dir holds a run (its journal/ directory). */
int run_exists(const char *dir);
void run_free(struct run *r);
/* Take STAGE's journal for writing (lock, repair, replay into the fold). */
int run_own(struct run *r, enum stage s, enum jl_fsync mode, int repair, char *err, size_t errlen);
/* Read what other processes appended to the stages in mask (1 << stage). */
int run_refresh(struct run *r, unsigned mask, char *err, size_t errlen);
/* The journal file of stage s, for messages. */
const char *run_journal_path(const struct run *r, enum stage s);
/* Fold one line of stage s at off (used for lines this process appends). */
void run_fold(struct run *r, enum stage s, const char *json, size_t len, uint64_t off);
/* Append an event to the owned journal of s and fold it. -1 on I/O error. */
int run_append(struct run *r, enum stage s, json_t *ev);
/* The same for an event already written as text (core/event.h). */
int run_append_text(struct run *r, enum stage s, const char *json, size_t len);
/* The same for an event of the job at slot (-1: unknown): its id is not
 * looked up. */
int run_append_slot(struct run *r, enum stage s, const char *json, size_t len, int64_t slot);
/* Append a "job" or "done" event this process wrote, folding it from what
 * the caller knows rather than scanning the text back. */
struct fold_hint {
	char ev;                  /* 'j' job, 'd' done */
	uint32_t slot;
	const char *key;
	const char *up;           /* done: the upstream key (or NULL) */
	int64_t t, ms;
	uint64_t tok[3];          /* prompt, completion, cached */
	double cost;
};
int run_append_hint(struct run *r, enum stage s, const char *json, size_t len, const struct fold_hint *h);

struct jobstate *run_job(struct run *r, enum stage s, uint32_t slot);
/* Is the job's result at stage s (< ST_PACK) the one of its current
 * version: done there, made from its upstream's current result, and so on
 * up to a job that is not withdrawn?  A result whose done event names no
 * upstream key (vj 0.1) is taken as current. */
int run_current(struct run *r, enum stage s, uint32_t slot);
/* Was the job withdrawn (vj-ingest --forget)? */
int run_gone(struct run *r, uint32_t slot);
/* For loading a checkpoint (core/ckpt.c): room for n slots in every
 * per-job array (and the arrays of the stages in r->ahead made, their
 * pages faulted in meanwhile on another thread); an ingest job line's
 * offset; forget a stage's fold. */
void run_reserve(struct run *r, uint32_t n);
void run_set_job_off(struct run *r, uint32_t slot, uint64_t off);
void run_reset_stage(struct run *r, enum stage s);
/* A batch_* line of stage s at off (the fold, and a checkpoint's list). */
void run_add_batch_line(struct run *r, enum stage s, uint64_t off);

/* Checkpoints of the fold (docs/journal.md, "Checkpoints").  The owner of
 * a journal writes its stage's: run_ckpt at a clean exit (after the last
 * commit), run_ckpt_tick after a commit (now and then).  run_ckpt_idle,
 * for readers, writes those of the stages in mask that nobody runs,
 * holding each one's lock meanwhile.  A checkpoint is only worth its
 * writing when enough journal was read past the last one; they say
 * nothing when skipped, and a failure costs only time (-v says why). */
void run_ckpt(struct run *r, enum stage s);
void run_ckpt_tick(struct run *r, enum stage s);
void run_ckpt_idle(struct run *r, unsigned mask);
/* The stage's line at off, parsed. */
json_t *run_line(struct run *r, enum stage s, uint64_t off);
/* A job's record as far as stage upto (inclusive) is done: id, keys, job,
 * image, analysis(+meta), content(+meta).  NULL if the job is unknown. */
json_t *run_record(struct run *r, uint32_t slot, enum stage upto);

#endif
