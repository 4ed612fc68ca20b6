/* status: what a run is doing, for vj-status.  A presentation of the fold
 * in run.c (per-job state per stage, per-stage stats): the report, its
 * JSON, --watch and --failed.  The integrity check and the journal repair
 * are check.h's.  docs/vj-status.1, docs/status-json.md */
#ifndef VJ_STATUS_H
#define VJ_STATUS_H

#include <stdint.h>
#include <stdio.h>
#include "core/run.h"
#include "base/util.h"

/* One stage, summarised. */
struct status_stage {
	uint64_t pending;        /* ready for this stage: done upstream, nothing here */
	uint64_t retry_ready;    /* retryable failure whose retry time has come */
	uint64_t retry_waiting;  /* retryable failure still waiting */
	uint64_t done, failed, done_today;
	uint64_t fails, requests;  /* fail events; done + fail events */
	uint64_t nms;            /* jobs behind the ms figures */
	double ms_avg;
	uint32_t ms_p50, ms_p95;
	int64_t last_t;          /* ms; 0 = never */
	long running_pid;        /* 0 = not running */
	uint64_t tok_prompt, tok_completion, tok_cached;
	double cost;
	uint64_t shards, shard_bytes;
};

struct status {
	const char *run;
	int64_t now;             /* ms, when computed */
	uint64_t jobs;           /* jobs accepted by ingest */
	uint64_t withdrawn;      /* ... of them, withdrawn (vj-ingest --forget) */
	struct status_stage st[ST_N];
	double cost;
};

/* Options shared by the modes. */
struct status_opt {
	const char *run;
	int json, verbose, quiet;
};

/* Summarise r as of now (ms since the epoch). */
void status_compute(struct run *r, struct status *s, int64_t now);
/* The default report, and its --json form (one line, newline-terminated). */
void status_text(const struct status *s, int quiet, struct buf *out);
void status_json(const struct status *s, struct buf *out);

/* The modes; each returns the process exit status (enum vj_exit).
 * --check and --repair are check.h's. */
int status_show(const struct status_opt *o);
int status_watch(const struct status_opt *o, int interval_ms);
int status_failed(const struct status_opt *o);

/* "stage" -> enum stage, or -1. */
int status_stage_parse(const char *name);
/* Is dir a directory?  If not, says "no run at DIR" and returns 0. */
int status_run_exists(const char *dir);
/* "812 B", "96.2 KiB": a size for people. */
void status_fmt_bytes(uint64_t b, char *out, size_t n);

#endif
