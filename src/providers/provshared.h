/* provshared: what the providers (gemini, openai, offline) share: their
 * context, error messages that never carry the key, the job's image, and
 * the one frame of building a request and parsing its answer into which
 * a JSON-over-HTTP wire format (gemini, openai) plugs as a table. */
#ifndef VJ_PROVSHARED_H
#define VJ_PROVSHARED_H

#include <stddef.h>
#include <jansson.h>
#include "core/engine.h"
#include "content/models.h"
#include "content/prompt.h"

struct ps_wire;

/* One opened provider (filled by prov_open, read by the tables). */
struct prov_ctx {
	const char *name;         /* gemini | openai | offline: meta.provider */
	const char *label;        /* prefix of messages: gemini, deepseek, openai, offline */
	const struct ps_wire *wire; /* gemini, openai: the wire format; offline: NULL */
	int analyze;              /* stage analyze, else generate */
	char *model;
	char *base_url;           /* without a trailing slash */
	char *key;                /* NULL: no key (a local server) */
	char *key_env;            /* the variable it came from, for messages */
	char *run;
	long max_tokens;
	size_t max_image_bytes;
	int deepseek;             /* openai: the base is DeepSeek's own API */
	enum models_tier tier;    /* the tier asked for (--tier) */
	enum models_res res;      /* --media-resolution (gemini) or --detail (openai) */
	int no_temperature;       /* the model ignores temperature: none is sent */
	struct prompt *prompt;
};

/* What a request is made of, for a wire format to dress. */
struct ps_req {
	const struct prompt_msg *m;
	double temp;              /* job.creativityLevel */
	const char *mime;         /* the image's type; NULL: no image */
};

/* A wire format: only what differs between APIs.  ps_build and ps_parse
 * do the rest: render the prompt, check the image, stream it into the
 * body, set the headers; classify a blank, non-JSON or failed answer, and
 * check the model's text (ps_finish). */
struct ps_wire {
	/* The request document, the image (when q->mime) as ps_image_slot().
	 * NULL with e set. */
	json_t *(*request)(const struct prov_ctx *c, const struct ps_req *q, struct eng_err *e);
	int data_url;             /* the image goes as a data: URL, not bare base64 */
	char *(*url)(const struct prov_ctx *c);
	const char *key_header;   /* the key's header up to the key: "x-goog-api-key: " */
	const char *empty;        /* what a blank 2xx body is called */
	/* A non-2xx answer: e set.  doc: the body as JSON, or NULL. */
	void (*error)(const struct prov_ctx *c, long status, const struct eng_resp *r, json_t *doc,
	    struct eng_err *e);
	/* The usage member of an answer (NULL: none). */
	json_t *(*usage)(json_t *doc);
	/* The model's text of a 2xx answer (malloc'd) and its finish reason
	 * (into doc, never NULL), or NULL with e set. */
	char *(*answer)(const struct prov_ctx *c, json_t *rec, const struct eng_resp *r,
	    json_t *doc, const char **finish, struct eng_err *e);
	const char *model_field;  /* the member naming the model that answered */
	/* The tier the answer says served it, or NULL when it does not say
	 * (then it is the tier asked for).  May be NULL. */
	const char *(*served)(json_t *doc);
	/* When the provider made the answer, ms since the epoch; 0 when it
	 * does not say.  May be NULL. */
	int64_t (*made)(json_t *doc);
};

/* The providers' tables. */
extern const struct provider gemini_provider;
extern const struct provider openai_provider;
extern const struct provider offline_analyze_provider;
extern const struct provider offline_generate_provider;
extern const struct ps_wire gemini_wire;
extern const struct ps_wire openai_wire;

/* struct provider's build and parse for a context with a wire format. */
int ps_build(void *ctx, struct eng_task *t, struct eng_http *h, json_t **result,
    struct eng_err *e);
int ps_parse(void *ctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e);

/* Set every field of e; the message gets the label and loses the key. */
void ps_err(const struct prov_ctx *c, struct eng_err *e, enum eng_class cls, long status,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The failures every HTTP API shares: 401 and 403 fatal, 429 a rate
 * limit (delay: the server's, < 0 none), 408 and 5xx retryable, the rest
 * permanent unless should_retry (x-should-retry, -1 absent) says otherwise.
 * code: "429 RESOURCE_EXHAUSTED"; msg: the server's words (ps_errtext). */
void ps_http_err(const struct prov_ctx *c, struct eng_err *e, long status, const char *code,
    const char *msg, double delay, int should_retry);
/* The server's words for a message: MESSAGE from its error body, else
 * the body itself, clipped to one line without the key. */
void ps_errtext(const struct prov_ctx *c, const char *message, const struct eng_resp *r,
    char *out, size_t n);

/* The job's image: its object path (malloc'd) and MIME type, checked
 * against the size cap.  -1 with e set (EC_PERM). */
int ps_image(const struct prov_ctx *c, json_t *rec, char **path, const char **mime,
    struct eng_err *e);
/* A JSON string that ps_build replaces with the streamed image. */
json_t *ps_image_slot(void);

/* meta of a result. */
json_t *ps_meta(const struct prov_ctx *c, const char *model_version, const char *finish);
/* usage of a result: {"prompt","completion","cached"}; ps_parse adds
 * "tier" (what served it) and "t" (ms since the epoch, when it was made). */
json_t *ps_usage(json_int_t prompt, json_int_t completion, json_int_t cached);

#endif
