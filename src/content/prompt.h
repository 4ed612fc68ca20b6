/* prompt: the text sent to the models.  Built-in templates for vj-analyze
 * and for each output format of vj-generate, or a user's --prompt-file,
 * rendered with {{placeholders}} from a job's record (docs/prompts.md).
 * The version is a hash of the effective template text: it goes into the
 * provider's configuration, so editing a prompt makes new work. */
#ifndef VJ_PROMPT_H
#define VJ_PROMPT_H

#include <stddef.h>
#include <jansson.h>

#define PROMPT_DEFAULT_FORMAT "detailed_analysis"

/* A built-in output format of vj-generate. */
struct prompt_format {
	const char *name;
	int json;               /* the answer is a JSON object (content.data) */
	const char *schema;     /* JSON Schema of that object (json formats) */
	const char *example;    /* an example object shown to the model (json formats) */
};

/* The built-in format called name, or NULL. */
const struct prompt_format *prompt_format(const char *name);
/* "detailed_analysis, social_post, ...", for messages. */
const char *prompt_format_names(void);

struct prompt;

/* Load the templates of a stage ("analyze" or "generate"): the built-in
 * ones, or FILE's.  NULL with err set ("FILE:LINE: unknown placeholder
 * {{x}}", unreadable file ...). */
struct prompt *prompt_open(const char *stage, const char *file, char *err, size_t n);
void prompt_free(struct prompt *p);
/* 12 hex digits. */
const char *prompt_version(const struct prompt *p);
/* 1 when the templates came from a file. */
int prompt_custom(const struct prompt *p);

/* One rendered prompt. */
struct prompt_msg {
	char *system, *user;                 /* malloc'd; system may be "" */
	const char *format;                  /* generate: the job's format (points into rec) */
	const struct prompt_format *fmt;     /* generate: NULL for a custom format */
	int json;                            /* the answer must be a JSON object */
};

/* Render the prompt for a job's record.  -1 with err set when the record
 * cannot be served (unknown outputFormat, no analysis to write from). */
int prompt_render(const struct prompt *p, json_t *rec, struct prompt_msg *m, char *err, size_t n);
void prompt_msg_free(struct prompt_msg *m);

/* A JSON format's answer: check it (-1 with msg naming the first bad
 * path) and turn it into the plain text of content.text (malloc'd). */
int prompt_check_data(const struct prompt_format *f, json_t *data, char *msg, size_t n);
char *prompt_data_text(const struct prompt_format *f, json_t *data);

/* The outputFormat a generate job asks for (the default when absent). */
const char *prompt_job_format(json_t *rec);

/* A job field as a string ("" when absent): rec.job.KEY. */
const char *prompt_job_str(json_t *rec, const char *key);

#endif
