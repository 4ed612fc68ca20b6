/*
 * fake.h: the fake provider server (vj-fake) shared declarations.
 *
 * One process, one epoll loop, non-blocking sockets.  The modules:
 *   fake_main.c    options and start-up
 *   fake_net.c     event loop, connections, timers, response writing
 *   fake_http.c    incremental HTTP/1.1 request parser
 *   fake_route.c   endpoint dispatch, fault choice, static files
 *   fake_answer.c  Gemini and OpenAI bodies (success and errors)
 *   fake_script.c  fault scripts, counters, the rate limiter
 *   fake_util.c    buffers, string map, PRNG, clock
 *   fake_image.c   the dimensions of inline images (--image-sizes)
 *   fake_files.c   batch input/output files: uploads, store, downloads
 *   fake_batch.c   batches: store, clock and states, output files, dispatch
 *   fake_bline.c   batch input validated and answered line by line
 *   fake_bapi.c    the Gemini and OpenAI batch endpoints
 */
#ifndef VJ_FAKE_H
#define VJ_FAKE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <jansson.h>

/* ---- fake_util.c ---- */

struct fake_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

void	 fake_buf_reserve(struct fake_buf *, size_t);
void	 fake_buf_add(struct fake_buf *, const void *, size_t);
void	 fake_buf_adds(struct fake_buf *, const char *);
void	 fake_buf_printf(struct fake_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fake_buf_consume(struct fake_buf *, size_t);
void	 fake_buf_free(struct fake_buf *);

/* A string -> long map (open addressing); keys are copied. */
struct fake_map_ent {
	char	*key;
	long	 val;
};
struct fake_map {
	struct fake_map_ent *ents;
	size_t	 cap;
	size_t	 n;
};

long	*fake_map_get(struct fake_map *, const char *, int create);
void	 fake_map_clear(struct fake_map *);

uint64_t fake_hash(const void *, size_t);
uint64_t fake_rand(uint64_t *state);
double	 fake_rand01(uint64_t *state);
uint64_t fake_now_ms(void);
void	*fake_xmalloc(size_t);
char	*fake_xstrdup(const char *);
void	 fake_die(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fake_fmt_seconds(char *, size_t, uint64_t ms);

/* ---- faults ---- */

enum fake_fault {
	FAULT_NONE = 0,		/* no scripted or random fault: answer normally */
	FAULT_OK,
	FAULT_429, FAULT_429DAY, FAULT_QUOTA,
	FAULT_401, FAULT_402, FAULT_403, FAULT_404, FAULT_408,
	FAULT_500, FAULT_502, FAULT_503, FAULT_504,
	FAULT_TIMEOUT, FAULT_DROP, FAULT_SLOW,
	FAULT_BADJSON, FAULT_SCHEMA, FAULT_BLOCKED, FAULT_SAFETY,
	FAULT_MAXTOKENS, FAULT_BLANK, FAULT_EMPTY, FAULT_SPACES,
	FAULT_BADKEY, FAULT_UNKNOWNMODEL, FAULT_RESOURCE,
	FAULT_SHOULDRETRY_FALSE, FAULT_VLLM,
	FAULT_ECHOKEY, FAULT_ECHOKEY_U, FAULT_301, FAULT_307,
	FAULT_RETRY_INF, FAULT_RETRY_E30, FAULT_RETRY_MS_E300,
	FAULT_COUNT
};

int	 fake_fault_parse(const char *, size_t);
const char *fake_fault_name(int);

/* ---- requests and responses ---- */

enum fake_family { FAM_GEMINI, FAM_OPENAI, FAM_STATIC, FAM_CONTROL };

struct fake_req {
	char	 method[16];
	char	*target;	/* as sent, with the query */
	char	*path;		/* without the query */
	int	 http11;
	int	 keepalive;
	char	 job[256];
	char	*goog_key;	/* x-goog-api-key, or ?key= */
	char	*bearer;	/* Authorization: Bearer ... */
	const char *body;
	size_t	 bodylen;
	const char *head;	/* the raw request head (fake_req_header reads it) */
	size_t	 headlen;
	char	*spool;		/* uploads: the body is in this file, body is NULL */
};

enum fake_action { ACT_SEND, ACT_HANG, ACT_DROP };

struct fake_resp {
	int	 action;
	int	 status;
	const char *ctype;
	struct fake_buf hdrs;	/* extra header lines, each ending in \r\n */
	struct fake_buf body;
	int	 blank_lines;	/* dripped "\n" lines before the body */
	uint64_t delay_ms;
	int	 close;
	int	 head;		/* HEAD: headers only */
	int	 file_fd;	/* with file_on: a file sent after the body (downloads) */
	int	 file_on;
	uint64_t file_len;
};

void	 fake_resp_header(struct fake_resp *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fake_resp_json(struct fake_resp *, int status, json_t *);	/* steals */

/* ---- fake_route.c ---- */

int	 fake_route(struct fake_req *, struct fake_resp *);	/* returns status for the log */

/* A batch line answered by the online code (no rate limit, no random faults);
 * LEN is the request's length as compact JSON. */
void	 fake_answer_line(int family, const char *model, const char *job,
	    json_t *req, size_t len, struct fake_resp *);

/* ---- fake_answer.c ---- */

struct fake_call {
	int	 family;
	const char *model;
	const char *job;
	json_t	*req;		/* parsed request body */
	size_t	 reqlen;
	uint64_t retry_ms;	/* for 429 */
	int	 rpm;
	const char *key;	/* the key the request carried, or NULL */
};

void	 fake_gemini_ok(struct fake_call *, struct fake_resp *, int fault);
void	 fake_gemini_error(struct fake_call *, struct fake_resp *, int status, const char *msg);
void	 fake_gemini_429(struct fake_call *, struct fake_resp *, int perday);
void	 fake_openai_ok(struct fake_call *, struct fake_resp *, int fault);
void	 fake_openai_error(struct fake_call *, struct fake_resp *, int status,
	    const char *type, const char *code, const char *msg);
void	 fake_openai_429(struct fake_call *, struct fake_resp *);
json_t	*fake_analysis(const char *job, int broken);
void	 fake_echo_key(struct fake_call *, struct fake_resp *, int fault);
int	 fake_odd_answer(struct fake_call *, struct fake_resp *, int fault);

/* ---- fake_script.c ---- */

int	 fake_script_load(const char *text, size_t len, char *err, size_t errlen);
int	 fake_script_next(const char *key);		/* FAULT_NONE if none */
void	 fake_stats_count(const char *job, int family);
void	 fake_stats_status(int status);
void	 fake_stats_conn(int delta);	/* a connection opened (+1) or closed (-1) */
json_t	*fake_stats_json(void);
void	 fake_stats_reset(void);
int	 fake_rpm_take(int family, uint64_t now, uint64_t *retry_ms);
void	 fake_rpm_init(int rpm);
void	 fake_rpm_reset(void);
void	 fake_rpm_headers(struct fake_resp *, int family, uint64_t now);

/* ---- fake_image.c (--image-sizes) ---- */

void	 fake_image_note(const char *job, json_t *req);
json_t	*fake_image_json(void);
void	 fake_image_reset(void);

/* Width and height from the header of a base64 image (a data: URL or
 * bare); 0 when it is not one the fake reads. */
int	 fake_image_decode(const char *b64, size_t n, long *w, long *h);

/* ---- fake_tokens.c: prompt tokens by the real rules, flex ---- */

int	 fake_tokens_rule_parse(const char *);	/* --token-rule; -1 auto */
json_int_t fake_tokens_prompt(struct fake_call *);
int	 fake_tokens_flex(struct fake_call *);	/* service_tier flex asked */
int	 fake_tokens_shed(struct fake_call *, struct fake_resp *);	/* 1: shed */
void	 fake_tokens_answer(struct fake_call *, json_t *);	/* OpenAI: tier, created */
void	 fake_tokens_after(struct fake_call *, struct fake_resp *);	/* latency, /_stats */
json_t	*fake_tokens_json(void);
void	 fake_tokens_reset(void);

/* ---- fake_batch.c, fake_files.c (the batch APIs) ---- */

int	 fake_batch_route(struct fake_req *, struct fake_resp *);	/* -1: not a batch path */
int	 fake_files_spool(const struct fake_req *, char **path);	/* fd, or -1: keep in memory */
json_t	*fake_batch_json(void);
void	 fake_batch_reset(void);	/* the counters only */
void	 fake_batch_free(void);
int	 fake_batch_option(const char *name, const char *arg);	/* 0 if NAME is not one */
void	 fake_batch_advance(uint64_t ms);	/* POST /_batch/advance?ms=N */

/* ---- fake_net.c ---- */

int	 fake_net_listen(int port);
void	 fake_net_run(int lfd);

/* ---- fake_http.c ---- */

/* Parser state for one request on one connection. */
struct fake_parse {
	int	 stage;		/* PARSE_HEAD, PARSE_BODY, PARSE_CHUNK..., PARSE_DONE */
	size_t	 scan;		/* where to resume looking for the header end */
	size_t	 head_len;
	size_t	 pos;		/* next undecoded input byte */
	int64_t	 clen;		/* Content-Length, -1 if none */
	int	 chunked;
	int	 expect100;
	uint64_t chunk_left;
	struct fake_buf body;	/* decoded chunked body */
	int	 spool_on;	/* an upload: the body goes to spool_fd as it comes */
	int	 spool_fd;
	uint64_t spooled;
	struct fake_req req;
};

enum { PARSE_MORE, PARSE_OK, PARSE_BAD, PARSE_TOOBIG };

int	 fake_http_parse(struct fake_parse *, struct fake_buf *in);
void	 fake_http_reset(struct fake_parse *);
int	 fake_http_head_done(const struct fake_parse *);
const char *fake_http_reason(int);
long	 fake_req_header(const struct fake_req *, const char *name, char *out, size_t outlen);

/* ---- globals (fake_main.c) ---- */

struct fake_opts {
	int	 port;
	const char *port_file;
	uint64_t seed;
	double	 latency_ms;
	int	 latency_dist;	/* 0 fixed, 1 exp, 2 uniform */
	int	 rpm;
	double	 p[FAULT_COUNT];	/* random fault probabilities by fault */
	const char *key;
	char	**models;
	int	 nmodels;
	const char *static_dir;
	const char *log_file;
	int	 image_sizes;	/* note the inline images' dimensions (fake_image.c) */
	int	 token_rule;	/* fake_tokens.c: -1 by model name */
	double	 flex_latency_ms, flex_unavailable;	/* flex: delay; percent shed */
	const char *serve_tier;	/* OpenAI answers' service_tier; NULL: as asked */
	uint64_t clock_ms, clock_step_ms;	/* OpenAI "created": first, step */
	uint64_t rpm_window_ms;	/* --rpm-window: the sliding window of --rpm (60 s) */
	int	 no_retry_after;	/* --no-retry-after: rate-limit 429s name no delay */
	int	 rl_headers;	/* --ratelimit-headers: x-ratelimit-*-requests on answers */
	char	*rl_values[6];	/* --ratelimit-values L,R,RESET: sent as they are;
				 * then --ratelimit-token-values' */
};

extern struct fake_opts fake_opt;
extern uint64_t fake_rng;
extern FILE *fake_logf;

#define FAKE_MAX_BODY	(64u << 20)	/* requests beyond this get 413 */
#define FAKE_MAX_UPLOAD	(4ULL << 30)	/* the same for spooled uploads */
#define FAKE_MAX_HEAD	(64u << 10)

#endif
