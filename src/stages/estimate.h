/* estimate: what a model stage's requests will cost before they are sent
 * (docs/prices.md, "Estimates").  One job's prompt tokens come from its
 * rendered prompt (about four characters a token) and its image's
 * dimensions through the model's image rule (content/models.h), its output
 * tokens from the run's own answers, else max_tokens.  Used by --estimate
 * (the whole report), by --max-cost (each request's reserve) and by
 * --off-peak (the model's cheap hours). */
#ifndef VJ_ESTIMATE_H
#define VJ_ESTIMATE_H

#include <stdint.h>
#include <jansson.h>
#include "core/event.h"
#include "base/util.h"

struct estimate_config {
	enum stage stage;             /* ST_ANALYZE or ST_GENERATE */
	const char *provider, *model;
	const char *prompt_file;      /* NULL: the built-in templates */
	long max_tokens;              /* the request's output cap */
	long max_side, max_pixels;    /* --max-side, --max-pixels (0: full size) */
	int tier;                     /* enum models_tier the requests ask for */
	int res;                      /* enum models_res: --media-resolution or --detail */
};

struct estimate;

/* NULL with err when the prompt cannot be loaded.  The model table must be
 * loaded. */
struct estimate *estimate_new(const struct estimate_config *c, char *err, size_t n);
void estimate_free(struct estimate *e);

/* Now, for prices and windows: ms since the epoch.  VJ_NOW_MS=T (a test
 * hook, docs/prices.md) makes the clock start at T when first asked. */
int64_t estimate_now(void);

/* What earlier runs answered: answers and their output tokens (the stage's
 * journal). */
void estimate_history(struct estimate *e, uint64_t answers, uint64_t completion);
/* An answer of this run, for the output average and the reserve. */
void estimate_learn(struct estimate *e, json_t *rec, json_t *usage);
/* The cost in USD to reserve for one request of rec (--max-cost): its
 * prompt as estimated, scaled up by the most the answers so far exceeded
 * their estimates, and the most output an answer has had (max_tokens
 * before any), at the standard price of now. */
double estimate_reserve(struct estimate *e, json_t *rec);

/* --off-peak: 1 when the model has time-of-day prices; *open_at gets 0
 * when now is among its cheapest hours, else when they next begin
 * (INT64_MAX: never). */
int estimate_offpeak(struct estimate *e, int64_t now, int64_t *open_at);

/* --estimate: count one job to do; print the whole (text, or one JSON
 * object) to out. */
void estimate_add(struct estimate *e, json_t *rec);
void estimate_report(struct estimate *e, int json, struct buf *out);

#endif
