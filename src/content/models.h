/* models: the model table (data/models.txt, docs/prices.md): per provider
 * and model its prices per tier and time-of-day window, capabilities, image
 * token rule, dates and successor.  Loaded from the file shipped with vj,
 * then a user's file merged over it; every question about what a model
 * costs or can do is answered here. */
#ifndef VJ_MODELS_H
#define VJ_MODELS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum models_tier { MODELS_STANDARD, MODELS_FLEX, MODELS_BATCH, MODELS_NTIER };

/* What the request asks for an image: Gemini 3's media_resolution, or
 * OpenAI's detail (low, high, auto). */
enum models_res {
	MODELS_RES_DEFAULT, MODELS_RES_LOW, MODELS_RES_MEDIUM, MODELS_RES_HIGH, MODELS_RES_ULTRA,
	MODELS_RES_AUTO
};

/* How a model counts an image's tokens (docs/prices.md, "Image rules"). */
enum models_img {
	MODELS_IMG_UNKNOWN,       /* takes images, no rule known */
	MODELS_IMG_NONE,          /* takes no images */
	MODELS_IMG_GEMINI_TILES,  /* Gemini 2.x: tokens, tile, small */
	MODELS_IMG_GEMINI_FIXED,  /* Gemini 3: low, medium, high, ultra, default */
	MODELS_IMG_OPENAI_TILES,  /* gpt-4o, 4.1, 5: base, tile, fit, short, side */
	MODELS_IMG_OPENAI_PATCHES, /* gpt-4.1-mini, 5-mini: patch, max, mult */
	MODELS_IMG_QWEN_BLOCKS    /* Qwen2/2.5-VL: block, min, max */
};

#define MODELS_RULE_NPAR 5
struct models_rule {
	enum models_img kind;
	double p[MODELS_RULE_NPAR];   /* the rule's parameters, in the order above */
};

/* USD per million tokens. */
struct models_price {
	double input;    /* prompt tokens, cache miss */
	double cached;   /* prompt tokens served from the cache */
	double output;   /* output tokens, thinking included */
};

#define MODELS_NWIN 4
#define MODELS_NSPAN 8
/* A time-of-day window: UTC weekdays (bit 0 Monday .. bit 6 Sunday) and
 * spans of minutes of the day, [from, to). */
struct models_window {
	char name[16];
	unsigned days;
	int nspan;
	struct { int from, to; } span[MODELS_NSPAN];
};

#define MODELS_OPEN_FROM INT32_MIN
#define MODELS_OPEN_UNTIL INT32_MAX
/* One row: a provider's model over one period (from..until, inclusive UTC
 * days since the epoch).  A model whose prices change has a row per period. */
struct models_row {
	char *provider, *model;
	int32_t from, until, checked;   /* checked: 0 when never */
	int has[MODELS_NTIER];
	struct models_price price[MODELS_NTIER];
	int nwin;
	struct models_window win[MODELS_NWIN];
	int whas[MODELS_NTIER][MODELS_NWIN];
	struct models_price wprice[MODELS_NTIER][MODELS_NWIN];
	int vision, temperature, media_resolution;   /* 1 yes, 0 no */
	struct models_rule image;
	char *successor;                /* NULL: none */
	int routed;                     /* past until, the provider serves and bills the successor */
	unsigned defaults;              /* bit 0: default for analyze, bit 1: for generate */
	char *file;                     /* where the row was defined or last changed */
	long line;
};

/* Usage of one answer, in tokens; cached is counted inside prompt. */
struct models_usage {
	double prompt, cached, completion;
};

/* --- models.c: the table --- */

/* Where the shipped table is: the first of EXEDIR/../share/vj/models.txt (an
 * installed vj) and EXEDIR/../data/models.txt (the source tree), EXEDIR
 * being the running program's directory.  NULL when neither exists. */
const char *models_base_path(void);
/* Load the table afresh: base (NULL: models_base_path()), then user merged
 * over it (NULL: $VJ_MODELS when set).  A missing base is an error unless a
 * user file is given.  0, or -1 with err ("FILE:LINE: why"); on error the
 * table loaded before stays. */
int models_load(const char *base, const char *user, char *err, size_t n);
/* Merge one more file over the loaded table: a model table, or a JSON price
 * file (the --prices format, docs/prices.md).  The file is checked whole
 * before anything changes.  0, or -1 with err. */
int models_merge(const char *file, char *err, size_t n);
/* 1 when a table is loaded. */
int models_loaded(void);
/* Forget the table and the warnings given (for tests). */
void models_reset(void);

/* The row of (provider, model) in force at t (ms since the epoch): the one
 * whose period holds t (the latest-starting if several), else the last
 * one before t, else the first.  "models/" is dropped from Gemini names.
 * NULL when the table does not know the model. */
const struct models_row *models_lookup(const char *provider, const char *model, int64_t t);
/* The row that bills a request sent at t: models_lookup's, or, when that
 * row is past its until date and the provider routes the model to its
 * successor, the successor's row (followed up to 4 times). */
const struct models_row *models_billed(const char *provider, const char *model, int64_t t);
/* The table's default model of a provider for a stage ("analyze",
 * "generate"), or NULL. */
const char *models_default(const char *provider, const char *stage);
/* The rows, in table order (for listings). */
const struct models_row *models_rows(size_t *n);

/* The window of r holding t, or -1; *next (if not NULL) gets the first time
 * after t at which the window in force changes (INT64_MAX when never). */
int models_window_at(const struct models_row *r, int64_t t, int64_t *next);
/* The price of tier at t: the window's price when r has one for the window
 * in force, else the tier's own.  0, or -1 when r does not offer the tier. */
int models_price_at(const struct models_row *r, enum models_tier tier, int64_t t,
    struct models_price *p);
/* 1 when r offers the tier (has a price for it). */
int models_offers(const struct models_row *r, enum models_tier tier);
/* Cost in USD of u at tier and t under r; a tier r does not offer is billed
 * at its standard price. */
double models_cost_row(const struct models_row *r, const struct models_usage *u,
    enum models_tier tier, int64_t t);
/* Cost in USD of u for (provider, model) sent at t, through models_billed.
 * -1 when the table does not know the model. */
double models_cost(const char *provider, const char *model, const struct models_usage *u,
    enum models_tier tier, int64_t t);

/* 1 when r's until date is before t's day. */
int models_past(const struct models_row *r, int64_t t);
/* When (provider, model) is past its until date at t: 1, *successor (may be
 * NULL) and *until (the last day served, days since the epoch) set.  0 when
 * it is served (or unknown). */
int models_retired(const char *provider, const char *model, int64_t t, const char **successor,
    int32_t *until);

#define MODELS_W_RETIRED 1       /* past its until date */
#define MODELS_W_NO_TEMPERATURE 2 /* the model that answers ignores temperature */
/* What a run should be told about (provider, model) at t: MODELS_W_* bits.
 * Each is said once per run and model (vj_msg), however often this is
 * called; the bits are returned every time (for the records' meta). */
unsigned models_warn_once(const char *provider, const char *model, int64_t t);

/* "standard", "flex", "batch" (and OpenAI's "default", "auto", which are
 * standard) to a tier; -1 when unknown.  models_tier_name: the reverse. */
int models_tier_parse(const char *s);
const char *models_tier_name(enum models_tier tier);
/* Days since the epoch <-> "YYYY-MM-DD" (out: 11 bytes).  -1 when bad. */
int models_date_parse(const char *s, int32_t *day);
void models_date_str(int32_t day, char out[11]);

/* --- models_img.c: image tokens --- */

/* Tokens one image of w x h pixels costs under the rule, with res the
 * request's media_resolution or detail (rules that take neither ignore it).
 * -1 when the rule is unknown or "none", or w or h is not in 1..1000000. */
long models_image_tokens(const struct models_rule *rule, long w, long h, enum models_res res);
/* A rule by name ("gemini-tiles", ...) with its default parameters; -1 when
 * the name is unknown.  models_rule_name: the reverse. */
int models_rule_init(const char *name, struct models_rule *rule);
const char *models_rule_name(enum models_img kind);
/* Set one parameter "key=value" of a rule: 0, or -1 with err. */
int models_rule_param(struct models_rule *rule, const char *kv, char *err, size_t n);
/* "low", "medium", "high", "ultra", "auto" (and "default") to a resolution; -1 when unknown. */
int models_res_parse(const char *s);

#endif
