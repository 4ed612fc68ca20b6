/* prices: what a request cost, from its token usage: the interface the
 * stages have used since before the model table, now a thin layer over
 * models.h (docs/prices.md).  New code should call models_* directly. */
#ifndef VJ_PRICES_H
#define VJ_PRICES_H

#include <stddef.h>
#include <jansson.h>

/* USD per million tokens. */
struct price {
	double prompt;          /* prompt tokens, cache miss */
	double cached;          /* prompt tokens served from the cache */
	double completion;      /* output tokens, thinking included */
};

/* Load the model table (the shipped one, then $VJ_MODELS) unless loaded,
 * and merge file over it (a JSON price file or a model table; NULL: none).
 * 0, or -1 with err set ("FILE:LINE: why").  Without a call, the first
 * prices_get or prices_cost loads the table and $VJ_PRICES if set. */
int prices_load(const char *file, char *err, size_t n);
/* The standard price of a model now (through a routed successor when it is
 * retired): 0, or -1 when the table does not know it. */
int prices_get(const char *provider, const char *model, struct price *p);
/* Cost in USD of one answer's usage {"prompt", "completion", "cached"},
 * at usage's "tier" (default standard) and "t" (ms since the epoch, when
 * the provider processed it; default now).  offline is free; an unknown
 * model costs 0 and is warned about once. */
double prices_cost(const char *provider, const char *model, json_t *usage);
/* Forget the table and the warnings: the next use loads afresh (for tests). */
void prices_reset(void);

#endif
