/* batchint: what the batch driver's files (batch.c, batchcollect.c)
 * share: the state of a batch run and the steps both use. */
#ifndef VJ_BATCHINT_H
#define VJ_BATCHINT_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include "core/runid.h"
#include "providers/batchwire.h"
#include "stages/batch.h"
#include "stages/batchreq.h"
#include "stages/progress.h"

extern volatile sig_atomic_t batch_got_signal;   /* SIGINT, SIGTERM came */

struct bstate {
	const struct stage_config *c;
	struct stage_def *d;
	const struct batch_config *bc;
	const struct prov_ctx *pc;
	enum stage s;
	struct run *run;
	char run_id[RUNID_HEX + 1];
	char dir[PATH_MAX / 2];
	struct bw_limits lim;
	struct batch_list bl;
	struct idx *in_batch;         /* ids in open batches */
	struct idx *online;           /* ids the fallback sends online */
	struct buf out, ev;
	int io_failed, fatal, later, export_mode, said_old;
	int discard;                  /* the file being written holds half a line */
	/* the file being written */
	int fd, kfd;
	long seq, n;
	long long bytes;
	struct buf wb, kb;
	char path[PATH_MAX], kpath[PATH_MAX];
	uint64_t n_done, n_failed, n_missing, n_submitted;
	struct progress *prog;
};

/* A batch's jobs, from its .keys file. */
struct member {
	char *id, *key;
	int answered;
};

struct members {
	struct member *m;
	size_t n, cap;
	struct idx *ix;               /* "ID.KEY" -> index */
};

/* batch.c */
void batch_path(struct bstate *x, long seq, const char *ext, char *out, size_t n);
int batch_commit(struct bstate *x);       /* journal durable, then records printed */
int batch_append(struct bstate *x);       /* x->ev to the journal */
void batch_job_done(struct bstate *x, uint32_t slot, json_t *rec, const char *id,
    const char *key, int attempt, json_t *result, json_t *usage);
void batch_job_fail(struct bstate *x, const char *id, const char *key, int attempt,
    enum eng_class cls, int final, long status, json_t *usage, const char *msg);
void batch_crash_point(const char *step);
void batch_ctl_error(struct bstate *x, const struct batch_rec *b, const char *what,
    const struct breq *q);
/* batchcollect.c */
int batch_members_load(struct bstate *x, long seq, struct members *ms);
void batch_members_free(struct members *ms);
/* Journal every answer of a results file (ms: the batch's jobs, NULL for
 * --batch-import); end_t: when the batch ran, for its price. */
void batch_read_results(struct bstate *x, const char *path, struct members *ms, int64_t end_t);
/* Download a finished batch's results, journal each answer, redo what it
 * left by the fallback, journal batch_collected.  0, or -1. */
int batch_collect(struct bstate *x, struct batch_rec *b, const struct bw_info *i);

#endif
