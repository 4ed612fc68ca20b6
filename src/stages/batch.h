/* batch: the model stages through the providers' batch APIs (--batch;
 * docs/providers.md, "Batch mode").  Ready jobs go into JSONL input files
 * in RUN/batch/, each request built by the provider as for an online call;
 * a batch's intent is journaled before it is created and its provider id
 * after, so that a crash between the two is found by listing the
 * provider's batches, never created twice.  Batches are polled, their
 * results downloaded, joined by key and checked by the provider's own
 * parse, journaled as done or failed; what a batch did not answer is
 * redone by the fallback policy.  vj-status reads the same events
 * (batch_scan). */
#ifndef VJ_BATCH_H
#define VJ_BATCH_H

#include <stdint.h>
#include <stdio.h>
#include "core/event.h"
#include "stages/stage.h"

enum batch_fallback { BF_RESUBMIT, BF_ONLINE, BF_NONE };

struct batch_config {
	int on;                       /* --batch */
	long size;                    /* --batch-size: requests per batch; 0 the provider's limit */
	double poll;                  /* --poll: seconds between looks at a batch, at most */
	int wait;                     /* --wait: poll until every batch is in */
	int fallback;                 /* enum batch_fallback */
	int cancel;                   /* --cancel-batches */
	const char *export_file;      /* --batch-export FILE */
	const char *import_file;      /* --batch-import FILE */
};

/* What the journal says of one batch (batch_scan). */
struct batch_rec {
	long seq;
	char name[160], pid[200], provider[16], model[96], state[16];
	long n, total, ok, failed, pending;
	long long bytes;
	int64_t t_intent, t_created, t_state, t_collected;
	int collected;
	long done, fails, missing;    /* what collecting it journaled */
};

/* batchlog.c: a growing list of them, and the one of seq (made when
 * create is set; NULL when absent). */
struct batch_list {
	struct batch_rec *b;
	size_t n, cap;
};
struct batch_rec *batch_list_get(struct batch_list *l, long seq, int create);

/* The batches of stage s in RUN, in sequence order (malloc'd array, *n of
 * them).  0, or -1 with err.  A stage's journal that does not exist has
 * none. */
int batch_scan(const char *run, enum stage s, struct batch_rec **out, size_t *n, char *err,
    size_t errlen);
/* The same from r's fold of s, which has every batch line's offset (a
 * checkpoint keeps them): a few lines read, not the whole journal. */
int batch_scan_run(struct run *r, enum stage s, struct batch_rec **out, size_t *n);

/* vj-status --batches: the batches of the run's model stages, as a table
 * or (json) {"batches": [...]}; the exit status. */
int batch_show(const char *run, int json);

/* An online run of stage d->s beside open batches leaves their jobs to
 * them (sending them again would pay twice): sets d->want to skip them and
 * says so.  NULL when none is open; else free with batch_guard_free. */
void *batch_guard(struct run *r, struct stage_def *d);
void batch_guard_free(void *g);

/* Run a model stage in batch mode (or export / import); the exit status.
 * d is the stage as modelstage made it; pctx is the provider's own
 * context (struct prov_ctx). */
int batch_main(const struct stage_config *c, struct stage_def *d, const struct batch_config *bc,
    void *pctx);

#endif
