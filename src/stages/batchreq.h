/* batchreq: one control request of a batch API (upload, create, get,
 * list, cancel, download) sent through the engine, with its retries and
 * backoff, and its answer kept (stages/batch.c). */
#ifndef VJ_BATCHREQ_H
#define VJ_BATCHREQ_H

#include <signal.h>
#include <jansson.h>
#include <stdint.h>
#include "core/engine.h"
#include "providers/provshared.h"

struct breq {
	const struct prov_ctx *pc;
	int kind;                     /* RQ_* */
	const char *path, *name, *url, *id, *file_id, *run_id, *page;
	long seq;
	int step;
	int fd;                       /* a download's file */
	uint64_t max_bytes, got;      /* a download's bound (0: none), and its bytes so far */
	const volatile sig_atomic_t *stop;   /* set: a signal came, stop now */
	/* what came back */
	json_t *doc;
	char *header;
	int done, failed;
	struct eng_err err;
};

enum { RQ_UPLOAD, RQ_CREATE, RQ_GET, RQ_LIST, RQ_CANCEL, RQ_DOWNLOAD };

/* Send q; 0 when it came back 2xx (q->doc, q->header), else -1 with
 * q->err.  what names it in the X-VJ-Job header ("batch-3"). */
int breq_run(struct breq *q, const char *what);
/* Forget q's answer. */
void breq_clear(struct breq *q);

#endif
