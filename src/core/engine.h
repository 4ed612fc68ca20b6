/* engine: the one request loop shared by every network stage (fetching an
 * image, analysing, generating).  libcurl multi with N transfers in flight,
 * an even-spacing limiter for requests and tokens per minute that backs off
 * on 429 and recovers step by step (core/limiter.h), retries with exponential backoff and
 * jitter that honour the server's delay, per-request and per-job timeouts,
 * and three kinds of failure (docs/design.md, "The engine"). */
#ifndef VJ_ENGINE_H
#define VJ_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include "base/util.h"
#include "core/body.h"   /* struct body, in struct eng_http; the providers build them */

enum eng_class {
	EC_OK = 0,
	EC_RETRY,    /* transient: retried with backoff (408, 5xx, timeouts, bad model output) */
	EC_RATE,     /* 429 rate limit: retried, slows the limiter, not counted as an attempt */
	EC_PERM,     /* permanent for this job: 400 on this input, blocked, 404, not an image */
	EC_FATAL     /* fatal for the run: bad key, no balance, unknown model, daily quota */
};
extern const char *const eng_class_name[];

struct eng_err {
	enum eng_class cls;
	double retry_after;   /* seconds the server asked for; < 0 when it did not say */
	long status;          /* HTTP status, 0 for transport errors */
	int shed;             /* EC_RATE: the provider shed a best-effort (flex)
	                       * request; retried, the account's rate not cut */
	char msg[512];
};
void eng_seterr(struct eng_err *e, enum eng_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a provider builds for one attempt. */
struct eng_http {
	char *url;                      /* malloc'd */
	struct curl_slist *headers;
	struct body *body;              /* NULL: GET */
	long max_redirects;             /* 0: do not follow */
	size_t max_bytes;               /* response cap; 0: engine default */
	double low_speed_time;          /* seconds under 1 byte/s that abort; 0: off */
	int deny_private;               /* refuse to connect to a private address
	                                 * (core/netsafe.h), every redirect hop too */
	/* A 2xx answer's body goes to sink (a download streamed to a file), not
	 * to memory nor under max_bytes; sink returns -1 to abort. */
	int (*sink)(void *ud, const char *p, size_t n);
	void *sink_ud;
	const char *want_header;        /* a response header to keep (eng_resp.header) */
};

/* What came back. */
struct eng_resp {
	long status;
	const char *body;
	size_t len;
	const char *content_type;       /* may be NULL */
	double retry_after;             /* from retry-after / retry-after-ms; < 0 absent */
	int should_retry;               /* x-should-retry: 1 true, 0 false, -1 absent */
	long ms;                        /* time of this attempt */
	const char *location;           /* a 3xx's Location, made absolute; may be NULL */
	const char *header;             /* the value of eng_http.want_header; may be NULL */
};

struct eng_task {
	void *ud;                       /* the stage's data for this job */
	json_t *rec;                    /* the job's record as far as upstream stages made it */
	const char *id;                 /* job id, for messages and the X-VJ-Job header */
	int attempts;                   /* counted attempts so far, journal included */
	int tries;                      /* requests sent in this run, rate limits included */
	int64_t deadline;               /* mono ms: the job timeout */
	int64_t not_before;             /* mono ms: backoff */
	int64_t started;                /* mono ms of the first attempt in this run */
	long tokens;                    /* estimate for the tokens-per-minute limiter */
	/* engine internals */
	struct eng_task *next;
	struct body *body;
	struct buf *resp;
	struct eng_http http;
	char hdr_retry[32], hdr_retry_ms[32], hdr_ctype[128];
	char *hdr_want;                 /* malloc'd: the value of http.want_header */
	int hdr_should;
	char hdr_rl[6][32];             /* x-ratelimit-{limit,remaining,reset}-requests,
	                                 * then the same -tokens */
	int64_t sent;
	long tmo_ms;                    /* the timeout this attempt was given */
	char refused[96];               /* the private address a connection was refused to */
	CURL *easy;
	char curl_err[CURL_ERROR_SIZE];
	uint64_t host;                  /* --per-host: hash of the URL's host and port */
};

/* A provider is a small table of functions. */
struct provider {
	const char *name;
	/* Build the request for t.  Return 0 (h filled), 1 when the work was done
	 * locally (*result set, no request), -1 with e set. */
	int (*build)(void *pctx, struct eng_task *t, struct eng_http *h, json_t **result, struct eng_err *e);
	/* Turn a response into a result, or classify it.  0 ok, -1 with e set.
	 * *usage (optional) gets the token usage even of a failed answer. */
	int (*parse)(void *pctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
	    json_t **usage, struct eng_err *e);
};

struct eng_config {
	int concurrency;        /* -j: requests in flight */
	double rpm, tpm;        /* 0: no limit */
	int retries;            /* retries after the first attempt, journal included */
	double timeout;         /* seconds, one request */
	double job_timeout;     /* seconds, one job in this run */
	double grace;           /* seconds to finish in-flight work on SIGINT/SIGTERM */
	double backoff_base;    /* seconds (default 1) */
	double backoff_max;     /* seconds (default 60) */
	int per_host;           /* requests to one host (name and port) in flight at
	                         * once; 0: no cap.  A task over it waits, built, its
	                         * job clock not running, and takes no -j slot */
	int verbose;
	int ignore_rate_headers;   /* x-ratelimit-* are one host's (image servers) */
};

/* How the engine reports to the stage that drives it. */
struct eng_hooks {
	void *ctx;
	/* Give the engine more tasks with eng_submit.  Called when it has room.
	 * Return 0 more may come now, 1 to wait for input_fd to be readable,
	 * 2 when there is no more input. */
	int (*feed)(void *ctx, int room);
	int input_fd;           /* -1: none */
	void (*done)(void *ctx, struct eng_task *t, json_t *result, json_t *usage, long ms);
	/* A failed attempt.  final: no more tries for this job in this run;
	 * retry_at: wall ms when it may be tried again (0 when final). */
	void (*fail)(void *ctx, struct eng_task *t, const struct eng_err *e, json_t *usage,
	    int final, int64_t retry_at);
	/* An unfinished task handed back when the loop ends (may be NULL). */
	void (*drop)(void *ctx, struct eng_task *t);
	/* Called once per loop turn: a place to group-commit and flush output. */
	/* Once per loop turn: the stage group-commits and prints.  Returns
	 * the longest the loop may now wait (ms), or -1 on a fatal error.
	 * final is set on the last call. */
	int (*tick)(void *ctx, int final);
	/* Called when idle and waiting, to see if new work appeared (--follow). */
	int64_t poll_ms;
};

struct engine;
struct engine *eng_new(const struct eng_config *c, const struct provider *p, void *pctx,
    const struct eng_hooks *h);
void eng_submit(struct engine *e, struct eng_task *t);
/* The same, not sent before wall time wall_ms (a retry time from the journal). */
void eng_submit_at(struct engine *e, struct eng_task *t, int64_t wall_ms);
/* Run until input ends and every task is finished, or stopped.  Returns
 * VJ_OK, VJ_EFATAL after a fatal answer, VJ_ETEMP when interrupted. */
int eng_run(struct engine *e);
/* Ask the loop to stop: soft (finish in-flight within grace) or hard. */
void eng_stop(struct engine *e, int hard);
int eng_fatal(const struct engine *e);
const char *eng_fatal_msg(const struct engine *e);
void eng_free(struct engine *e);

struct eng_counts {
	uint64_t sent, ok, failed, retried, rate_limited, in_flight, queued;
	double rate_now;        /* the limiter's current requests per minute */
};
void eng_counts(const struct engine *e, struct eng_counts *c);

/* Helpers for providers. */
/* "47s", "12.5s", "1m30s", "2" -> seconds; < 0 bad, and so is anything not
 * finite or over ENG_MAX_DELAY (a server's "1e30" is no delay at all). */
double eng_parse_delay(const char *s);
#define ENG_MAX_DELAY 86400.0

#endif
