/* stage: the driver every processing command shares.  It takes work from
 * the pipe (records on stdin or in files) or from the run (--pending,
 * --follow), skips what the journal already holds, runs the rest through
 * the engine, journals each result before passing it downstream, and turns
 * the outcome into the exit status. */
#ifndef VJ_STAGE_H
#define VJ_STAGE_H

#include <jansson.h>
#include "core/engine.h"
#include "core/journal.h"
#include "core/run.h"

struct stage_state;

/* How a stage runs.  The command fills it from its command line (src/cmd);
 * the driver knows nothing of options. */
struct stage_config {
	const char *run;              /* the run directory */
	enum jl_fsync fsync;          /* how the stage's journal is made durable */
	int repair;                   /* cut a corrupt journal at its first bad record */
	int pending;                  /* take the work from the run, not from input */
	int follow;                   /* with pending: look at the run again until stopped */
	int retry_failed;             /* jobs failed for good get another chance */
	int progress;                 /* progress line: 1 on, 0 off, -1 when stderr is a terminal */
	int heartbeat;                /* seconds between heartbeats; 0 off, -1 the default (progress.h) */
	double max_cost;              /* budget in USD for this run; < 0: none */
	/* for the engine */
	int jobs;                     /* requests in flight at once */
	double rpm, tpm;              /* requests, tokens a minute; 0: no limit */
	int retries;                  /* retries after the first attempt */
	double timeout, job_timeout, grace;   /* seconds: a request, a job, after a signal */
	int per_host;                 /* requests to one host at once; 0: no cap */
	double wait_retries;          /* --pending: retries due within this many seconds are
	                               * taken and waited for; later ones are left (exit 75) */
	int wait_open;                /* when the stage_def says sending is closed (off-peak
	                               * hours): wait for it to open, instead of exit 75 */
	char **files;                 /* input ("-" stdin); none: stdin */
	int nfiles;
};

struct stage_def {
	enum stage s;
	const struct provider *ops;
	void *pctx;
	const char *cfg;              /* config text that goes into every cache key */
	const char *prov_name, *model;/* for prices */
	double (*cost)(const char *prov, const char *model, json_t *usage);  /* NULL: free */
	/* On the input thread: parse and check one line (no run state). */
	void *(*prepare)(void *ctx, const char *line, size_t len, const char *src,
	    char *err, size_t errlen);
	void (*free_prep)(void *prep);
	int keep_lines;               /* accept needs the text of good lines too */
	/* On the main thread: a prepared line into a record and its cache key.
	 * 0 work to do, 1 handled (skipped), -1 a bad line (reported). */
	int (*accept)(struct stage_state *x, void *prep, const char *line, size_t len, const char *src,
	    long lno, json_t **rec, char key[KEY_HEX + 1], char **raw_job);
	/* Optional: a line that was bad (already reported), e.g. for --rejects. */
	void (*reject)(struct stage_state *x, const char *line, size_t len);
	void *ctx;                    /* the command's own data */
	/* Optional, once the stage's lock is held: 0 go on, else the exit
	 * status (-1: VJ_EFATAL). */
	int (*start)(struct stage_state *x);
	int (*finish)(struct stage_state *x);  /* optional, at the end */
	/* Optional: make durable what the events about to be committed name
	 * (vj-ingest: their objects).  Called before every journal commit, so
	 * nothing is journaled before what it names is on disk.  0: all that
	 * is queued may be committed; 1: what was queued at the previous call
	 * may (the rest is being made durable meanwhile: it is committed at
	 * the next call); 2: nothing more yet, call again soon; with all set
	 * (the end, and now and then) it must return 0 or -1.  -1 with a
	 * message said: nothing more is committed, the stage stops, exit 3. */
	int (*durable)(struct stage_state *x, int all);
	/* Optional, for --max-cost: the estimated cost in USD of one request
	 * for rec, reserved when the job is handed to the engine (before its
	 * request is built) and settled by its real cost when it ends.  NULL:
	 * the average cost of a job so far. */
	double (*reserve)(struct stage_state *x, json_t *rec);
	/* Optional: 0 when requests may be sent now, else the wall time (ms)
	 * they may be sent from (INT64_MAX: never), with *now set to the time
	 * it judged by.  While it is closed no new job is taken: the stage
	 * exits 75 once what is in flight is done, or with wait_open waits. */
	int64_t (*closed)(struct stage_state *x, int64_t *now);
	/* Optional: 0 to leave the job of this id alone in this run (--batch:
	 * the jobs in a provider's batch, or those not sent online). */
	int (*want)(void *want_ctx, const char *id);
	void *want_ctx;
	/* Optional, for stage_each: the run as its caller already folded it
	 * (--batch, holding the lock), used instead of reading the journals
	 * again; left to the caller. */
	struct run *each_run;
	/* stage_each: print the records the journal already holds a result
	 * for, as stage_main does (--batch on a pipe) */
	int each_emit;
};

/* Run a stage to the end; returns the exit status. */
int stage_main(const struct stage_config *c, struct stage_def *d);
/* The jobs stage_main would send now, without sending or journaling
 * anything and without the stage's lock: fn gets each one's record (and
 * takes it).  d->start is called first, with the journals read.  Returns
 * the exit status (0, or 2 / 3 with a message said). */
int stage_each(const struct stage_config *c, struct stage_def *d,
    void (*fn)(void *ctx, json_t *rec), void *ctx);

/* For accept functions. */
struct run *stage_run(struct stage_state *x);
struct journal *stage_journal(struct stage_state *x);
void *stage_ctx(struct stage_state *x);             /* the stage_def's ctx */
void stage_io_error(struct stage_state *x, const char *id);  /* the journal failed: stop, exit 3 */
/* The key this stage uses for a record whose upstream key is up. */
void stage_key(struct stage_state *x, const char *up, char key[KEY_HEX + 1]);
/* --max-cost: spent so far, reserved for the jobs handed to the engine and
 * not yet settled, and the budget (< 0: none); for the progress line. */
void stage_budget(struct stage_state *x, double *spent, double *reserved, double *budget);

#endif
