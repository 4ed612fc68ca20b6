/* provshared: what the providers (gemini, openai, offline) share: their
 * context, the streamed JSON body with an image inside, error messages
 * that never carry the key, and the common end of parsing an answer. */
#ifndef VJ_PROVSHARED_H
#define VJ_PROVSHARED_H

#include <stddef.h>
#include <jansson.h>
#include "core/engine.h"
#include "content/prompt.h"

/* One opened provider (filled by prov_open, read by the tables). */
struct prov_ctx {
	const char *name;         /* gemini | openai | offline: meta.provider */
	const char *label;        /* prefix of messages: gemini, deepseek, openai, offline */
	int analyze;              /* stage analyze, else generate */
	char *model;
	char *base_url;           /* without a trailing slash */
	char *key;                /* NULL: no key (a local server) */
	char *key_env;            /* the variable it came from, for messages */
	char *run;
	long max_tokens;
	size_t max_image_bytes;
	int deepseek;             /* openai: the base is DeepSeek's own API */
	struct prompt *prompt;
};

/* The providers' tables. */
extern const struct provider gemini_provider;
extern const struct provider openai_provider;
extern const struct provider offline_analyze_provider;
extern const struct provider offline_generate_provider;

/* Set every field of e; the message gets the label and loses the key. */
void ps_err(const struct prov_ctx *c, struct eng_err *e, enum eng_class cls, long status,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The job's image: its object path (malloc'd) and MIME type, checked
 * against the size cap.  -1 with e set (EC_PERM). */
int ps_image(const struct prov_ctx *c, json_t *rec, char **path, const char **mime,
    struct eng_err *e);
/* A JSON string that ps_body_json replaces with the streamed image. */
json_t *ps_image_slot(void);
/* Body = doc as JSON, its image slot (if any) replaced by PREFIX and the
 * base64 of the file at PATH.  -1 when the file cannot be read. */
int ps_body_json(struct body *b, json_t *doc, const char *prefix, const char *path);

/* job.creativityLevel (default 1.0) as a temperature; -1 with e set. */
int ps_temperature(const struct prov_ctx *c, json_t *rec, double *temp, struct eng_err *e);
/* A rough token count of a request for the tokens-per-minute limiter. */
long ps_tokens(const struct prov_ctx *c, const struct prompt_msg *m, int image);

/* 1 when the body holds only whitespace. */
int ps_blank(const char *p, size_t len);
/* Server text fit for a one-line message: printable, short, no key. */
void ps_clip(const struct prov_ctx *c, const char *s, size_t len, char *out, size_t n);
/* Parse a response body, leading whitespace allowed.  NULL when not JSON. */
json_t *ps_load(const char *p, size_t len);

/* meta of a result. */
json_t *ps_meta(const struct prov_ctx *c, const char *model_version, const char *finish);
/* usage of a result: {"prompt","completion","cached"}. */
json_t *ps_usage(json_int_t prompt, json_int_t completion, json_int_t cached);

/* The common end: the model's TEXT becomes the result (analysis checked
 * against the schema, a JSON format against its own), or EC_RETRY naming
 * what was wrong.  meta is taken. */
int ps_finish(const struct prov_ctx *c, json_t *rec, const char *text, json_t *meta,
    json_t **result, struct eng_err *e);

#endif
