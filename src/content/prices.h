/* prices: what a request cost, from its token usage and a price table per
 * provider and model (docs/prices.md).  Built-in figures, overridden by a
 * JSON file (--prices FILE or VJ_PRICES). */
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

/* Merge a price file over the built-in table.  0, or -1 with err set.
 * Without a call, the first prices_cost loads $VJ_PRICES if set. */
int prices_load(const char *file, char *err, size_t n);
/* The price of a model: 0, or -1 when the table does not know it. */
int prices_get(const char *provider, const char *model, struct price *p);
/* Cost in USD of one answer's usage {"prompt","completion","cached"}.
 * offline is free; an unknown model costs 0 and is warned about once. */
double prices_cost(const char *provider, const char *model, json_t *usage);
/* Back to the built-in table (for tests). */
void prices_reset(void);

#endif
