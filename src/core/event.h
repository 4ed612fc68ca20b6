/* event: the journal's vocabulary.  The stages, what each takes from the
 * one before and adds to a record, and the writers of every event a stage
 * journals (docs/journal.md, "Events").  They live here, beside the fold
 * that reads them (run.c), so the rule the fold relies on -- the small
 * fields first, the payload last -- is kept in one place. */
#ifndef VJ_EVENT_H
#define VJ_EVENT_H

#include <stdint.h>
#include <jansson.h>
#include "base/util.h"

enum stage { ST_INGEST, ST_ANALYZE, ST_GENERATE, ST_PACK, ST_N };
extern const char *const stage_name[ST_N];

/* What a stage is to the others. */
struct stage_info {
	const char *name;
	int up;                         /* the stage whose results it works from; -1 none */
	const char *needs;              /* the record field it needs from upstream */
	const char *ev_field[3];        /* result fields a done event keeps, NULL-ended */
	const char *rec_field[3];       /* ... and their names in the record */
};
extern const struct stage_info stage_info[ST_N];

/* The fields the fold reads, in the order every event writes them; a
 * payload (job, image, analysis, content, meta, ids) comes after all of
 * them, so a replay stops scanning a line where its payload starts. */
extern const char *const event_fields[];
extern const char *const event_payload[];

/* Each writer appends one event's JSON text (no newline) to b.  Ids and
 * keys are [A-Za-z0-9_-] and hex: they need no escaping. */
void event_header(struct buf *b, int version, int64_t t);
/* src: where the image is read from when job.imageUrl is a relative path
 * (file:///absolute), else NULL. */
void event_job(struct buf *b, const char *id, int64_t t, const char *key, const char *job_json,
    const char *src);
/* A done event: open it, add its payload fields, close it. */
/* up: the upstream result's key it was made from (NULL at ingest), so
 * that a later stage can tell a result of a job's current version from
 * one of a version since replaced (vj-ingest --replace). */
void event_done_open(struct buf *b, const char *id, int64_t t, const char *key, const char *up,
    long ms, int attempt, json_t *usage, double cost);
void event_field(struct buf *b, const char *name, const char *json_text);
void event_close(struct buf *b);
void event_fail(struct buf *b, const char *id, int64_t t, const char *key, int attempt,
    const char *kind, int final, long status, int64_t retry_at, json_t *usage, double cost,
    const char *msg);
void event_retry(struct buf *b, const char *id, int64_t t);
/* vj-ingest --forget: the job is withdrawn (an ingest event). */
void event_forget(struct buf *b, const char *id, int64_t t);
/* The batch events (batch_intent, batch_created, batch_state,
 * batch_collected): no job id, so the fold passes them by; "batch" (the
 * run's sequence number of the batch) follows ev and t, then small fields
 * added with event_int and event_str, closed with event_close.  Every
 * field is small: the jobs of a batch are in its .keys file, not here. */
void event_batch_open(struct buf *b, const char *ev, int64_t t, long seq);
void event_int(struct buf *b, const char *name, long long v);
void event_str(struct buf *b, const char *name, const char *s);   /* escaped */

/* A JSON value as the journal writes it: compact, 15 significant digits
 * (malloc'd). */
char *event_json(json_t *v);

#endif
