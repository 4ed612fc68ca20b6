/* batchwire: the batch APIs of Gemini and of OpenAI (and servers that copy
 * it) on the wire (docs/providers.md, "Batch mode").  It builds the text
 * around each request line of an input file, the control requests (upload,
 * create, get, list, cancel, download) as eng_http for the one engine, and
 * reads the providers' answers into one shape.  Each line's request body is
 * the provider's own (ps_build), and each answer line is checked by its own
 * ps_parse: this module only unwraps them.  The providers' limits are data
 * (data/batch.txt). */
#ifndef VJ_BATCHWIRE_H
#define VJ_BATCHWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/engine.h"
#include "providers/provshared.h"

enum bw_state {
	BW_UNKNOWN, BW_PENDING, BW_RUNNING, BW_FINALIZING, BW_SUCCEEDED, BW_FAILED,
	BW_CANCELLING, BW_CANCELLED, BW_EXPIRED, BW_NSTATE
};
extern const char *const bw_state_name[BW_NSTATE];
int bw_state_parse(const char *s);        /* one of bw_state_name; -1 else */
int bw_terminal(enum bw_state s);         /* succeeded, failed, cancelled, expired */

/* What the provider says of one batch. */
struct bw_info {
	char id[200];             /* "batches/ID" (Gemini), "batch_ID" (OpenAI) */
	char name[160];           /* the display name (Gemini) or metadata.vj_name */
	enum bw_state state;
	long total, ok, failed, pending;
	char out_file[200], err_file[200];   /* to download; "" none */
	int64_t end_t;            /* ms since the epoch it ended (0: not said) */
	char msg[300];            /* why a batch failed, from its errors */
};

struct bw_limits {
	long long max_bytes;      /* of one input file */
	long max_requests;        /* lines of one input file; 0: no limit */
	long long answer_max;     /* bytes a request may take in a result file */
};
/* The limits of provider (gemini, openai) from data/batch.txt beside the
 * model table, or from $VJ_BATCH_LIMITS.  0, or -1 with err. */
int bw_limits(const char *provider, struct bw_limits *l, char *err, size_t n);

/* 1 when the opened provider has a batch API here (gemini, openai). */
int bw_supported(const struct prov_ctx *c);

/* The text of an input line before the request body (key: [A-Za-z0-9_.-]),
 * and after it (with the newline). */
void bw_line_open(const struct prov_ctx *c, const char *key, struct buf *b);
const char *bw_line_close(const struct prov_ctx *c);

/* Control requests.  Each fills h (url, headers, body); the engine sends
 * it.  Upload: OpenAI in one multipart request; Gemini in two (step 0
 * starts, h->want_header gets the upload URL; step 1 sends the bytes to
 * it).  -1 with err when the provider gave something unusable. */
int bw_req_upload(const struct prov_ctx *c, int step, const char *path, const char *name,
    const char *upload_url, struct eng_http *h, char *err, size_t n);
int bw_upload_steps(const struct prov_ctx *c);
/* The file id of an upload's answer, or -1. */
int bw_upload_id(const struct prov_ctx *c, json_t *doc, char *id, size_t n);
void bw_req_create(const struct prov_ctx *c, const char *file_id, const char *name,
    const char *run_id, long seq, struct eng_http *h);
void bw_req_get(const struct prov_ctx *c, const char *id, struct eng_http *h);
void bw_req_list(const struct prov_ctx *c, const char *page, struct eng_http *h);
void bw_req_cancel(const struct prov_ctx *c, const char *id, struct eng_http *h);
void bw_req_download(const struct prov_ctx *c, const char *file_id, struct eng_http *h);

/* A batch object (create's or get's answer, a list's item).  -1 when it
 * is not one. */
int bw_parse_batch(const struct prov_ctx *c, json_t *doc, struct bw_info *b);
/* A list's items (fn for each) and the next page's token ("" none). */
void bw_parse_list(const struct prov_ctx *c, json_t *doc,
    void (*fn)(void *ctx, const struct bw_info *b), void *ctx, char *next, size_t n);

/* One line of a results or errors file: its key (malloc'd), and what it
 * holds as an HTTP answer for ps_parse: *status and *body (malloc'd JSON
 * text).  *missing: the request was not run (expired, cancelled).  -1 when
 * the line is not one (no key, not JSON). */
int bw_result_line(const struct prov_ctx *c, const char *line, size_t len, char **key,
    long *status, char **body, int *missing);

#endif
