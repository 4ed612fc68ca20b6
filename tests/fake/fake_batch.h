/*
 * fake_batch.h: what the batch modules (fake_files.c, fake_batch.c,
 * fake_bline.c, fake_bapi.c) share; the rest of the fake sees only the
 * hooks in fake.h.
 */
#ifndef VJ_FAKE_BATCH_H
#define VJ_FAKE_BATCH_H

#include <time.h>

#include "fake.h"

/* A stored file: an upload, or a batch's output or error file. */
struct fake_file {
	char	 id[48];	/* Gemini: the part after "files/"; OpenAI: "file-..." */
	int	 family;
	char	*name;		/* display name or filename */
	char	*mime;
	char	*purpose;	/* OpenAI: "batch" or "batch_output" */
	char	*path;		/* on disk, in the batch directory */
	uint64_t size;
	time_t	 created;
	int	 deleted;
};

/* The knobs (fake_batch_option) and the counters (/_stats "batch"). */
struct fake_bopts {
	uint64_t pending_ms, running_ms, finalizing_ms, cancel_ms;
	double	 expire_after;	/* < 0: never; with expire_pct a share */
	int	 expire_pct;
	double	 fail_after;	/* the same for Gemini's FAILED */
	int	 fail_pct;
	double	 perror;
	long	 max_requests;	/* 0: the provider's limit */
	uint64_t max_bytes;	/* 0: the provider's limit */
	uint64_t upload_max;	/* 0: none beyond FAKE_MAX_BODY */
	const char *dir;
};

struct fake_bcount {
	long	 uploads, upload_bytes, creates, create_errors, gets, lists, cancels;
	long	 downloads, download_bytes, lines;
	struct fake_map polls;	/* state name -> GETs answered in it */
	struct fake_map by_job;	/* job -> batch lines answered */
	struct fake_map by_name;	/* display name / metadata -> batches made */
};

extern struct fake_bopts fake_bopt;
extern struct fake_bcount fake_bc;

/* fake_files.c */
const char *fake_files_dir(void);
struct fake_file *fake_file_new(int family, const char *id, const char *name,
	    const char *mime, const char *purpose);
struct fake_file *fake_file_find(int family, const char *id);
json_t	*fake_file_json(const struct fake_file *);
void	 fake_make_id(char *out, size_t outlen, const char *prefix, int len, int lower);
int	 fake_files_route(struct fake_req *, struct fake_resp *, int family, const char *rest);
void	 fake_files_free(void);
void	 fake_rfc3339(char *out, size_t n, time_t t, unsigned ms);

/* The batches (fake_batch.c) */

enum { BS_PENDING, BS_RUNNING, BS_FINALIZING, BS_DONE, BS_FAILED, BS_EXPIRED,
	BS_CANCELLING, BS_CANCELLED, BS_COUNT };

extern const char *fake_gstate[BS_COUNT], *fake_ostate[BS_COUNT];

struct fake_rec {
	uint64_t off;		/* in the results file */
	uint32_t len;
	uint8_t	 ok;
};

struct fake_batch {
	char	 id[64];	/* Gemini: after "batches/"; OpenAI "batch_..." */
	int	 family;
	char	*model;
	char	*display;	/* Gemini display_name */
	json_t	*meta;		/* OpenAI metadata */
	char	 input[64];	/* the input file id; "" for inline requests */
	json_t	*verr;		/* OpenAI: the validation errors (status failed) */
	size_t	 n;
	struct fake_rec *recs;	/* input order */
	uint32_t *perm;		/* the order answers "finish" and are listed in */
	char	*res_path;
	uint64_t t0;		/* fake_bclock() at create */
	time_t	 w0;		/* wall clock at create */
	unsigned w0ms;
	uint64_t cancel_t;	/* 0: not cancelled */
	size_t	 stop_k;	/* answered when it expires or fails; n: never */
	int	 stop_st;	/* BS_EXPIRED or BS_FAILED */
	int	 assembled;
	char	 out_id[64], err_id[64];
	json_t	*inlined;	/* Gemini inline input: the responses */
	int	 deleted;
};

extern struct fake_batch **fake_batches;
extern size_t fake_nbatches;

uint64_t fake_bclock(void);
uint64_t fake_expire_at(const struct fake_batch *);
int	 fake_terminal(int state);
void	 fake_counts(const struct fake_batch *, size_t k, size_t *ok, size_t *bad);
int	 fake_bnow(struct fake_batch *, size_t *answered);
struct fake_batch *fake_batch_find(int family, const char *id, size_t idlen);
struct fake_batch *fake_batch_new(int family);
void	 fake_batch_destroy(struct fake_batch *);
void	 fake_batch_add(struct fake_batch *);
void	 fake_poll_count(const struct fake_batch *, int state);

/* fake_bline.c */
struct fake_verr {
	const char *code;	/* OpenAI error code */
	char	 msg[512];
	long	 line;		/* 0: the file as a whole */
};

char	*fake_jstr(json_t *);
int	 fake_ingest(struct fake_batch *, const char *path, struct fake_verr *);

/* fake_bapi.c */
int	 fake_gemini_create(struct fake_req *, struct fake_resp *, const char *model);
int	 fake_gemini_batches(struct fake_req *, struct fake_resp *, const char *rest);
int	 fake_openai_batches(struct fake_req *, struct fake_resp *, const char *rest);

/* Provider-shaped errors without a call (fake_answer.c ignores it). */
#define FAKE_GERR(rs, code, msg) fake_gemini_error(NULL, (rs), (code), (msg))
#define FAKE_OERR(rs, st, type, code, msg) fake_openai_error(NULL, (rs), (st), (type), (code), (msg))

#endif
