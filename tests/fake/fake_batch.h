/*
 * fake_batch.h: what fake_files.c and fake_batch.c share; the rest of the
 * fake sees only the hooks in fake.h.
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

/* Provider-shaped errors without a call (fake_answer.c ignores it). */
#define FAKE_GERR(rs, code, msg) fake_gemini_error(NULL, (rs), (code), (msg))
#define FAKE_OERR(rs, st, type, code, msg) fake_openai_error(NULL, (rs), (st), (type), (code), (msg))

#endif
