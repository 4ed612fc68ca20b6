/* prices: the older price interface kept on top of the model table, so the
 * stages that call it need not change at once.  The table itself, its
 * file and its merging are models.c's. */
#include "content/prices.h"
#include "content/models.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

static int ready;               /* the table is loaded for prices_* */
static char **warned;
static size_t nwarned;

int
prices_load(const char *file, char *err, size_t n)
{
	if (!models_loaded() && models_load(NULL, NULL, err, n) < 0)
		return -1;
	ready = 1;
	return file ? models_merge(file, err, n) : 0;
}

/* First use without prices_load: the table, then $VJ_PRICES, as before. */
static void
ensure(void)
{
	char err[1024];
	const char *f = getenv("VJ_PRICES");

	if (ready)
		return;
	if (prices_load(NULL, err, sizeof(err)) < 0)
		vj_warn("%s (every model counts as free)", err);
	else if (f && *f && models_merge(f, err, sizeof(err)) < 0)
		vj_warn("VJ_PRICES: %s (not used)", err);
	ready = 1;
}

void
prices_reset(void)
{
	models_reset();
	ready = 0;
	for (size_t i = 0; i < nwarned; i++)
		free(warned[i]);
	free(warned);
	warned = NULL;
	nwarned = 0;
}

int
prices_get(const char *provider, const char *model, struct price *p)
{
	struct models_price mp;
	int64_t t = now_ms();

	ensure();
	if (models_price_at(models_billed(provider, model, t), MODELS_STANDARD, t, &mp) < 0)
		return -1;
	p->prompt = mp.input;
	p->cached = mp.cached;
	p->completion = mp.output;
	return 0;
}

/* Warn once per provider and model: every answer would repeat it. */
static void
warn_unknown(const char *provider, const char *model)
{
	char *k = xasprintf("%s/%s", provider, model);

	for (size_t i = 0; i < nwarned; i++)
		if (strcmp(warned[i], k) == 0) {
			free(k);
			return;
		}
	warned = xrealloc(warned, (nwarned + 1) * sizeof(*warned));
	warned[nwarned++] = k;
	vj_msg("warning: no price known for %s model %s: counting it as free "
	    "(add it with --prices FILE, see docs/prices.md)", provider, model);
}

static double
num(json_t *usage, const char *key)
{
	json_t *v = json_object_get(usage, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

double
prices_cost(const char *provider, const char *model, json_t *usage)
{
	json_t *tv;
	int tier;
	double c;

	if (!provider || strcmp(provider, "offline") == 0 || !usage)
		return 0;
	ensure();
	struct models_usage u = { num(usage, "prompt"), num(usage, "cached"), num(usage, "completion") };
	tier = models_tier_parse(json_string_value(json_object_get(usage, "tier")));
	tv = json_object_get(usage, "t");
	c = models_cost(provider, model, &u, tier < 0 ? MODELS_STANDARD : (enum models_tier)tier,
	    json_is_integer(tv) ? (int64_t)json_integer_value(tv) : now_ms());
	if (c < 0) {
		warn_unknown(provider, model ? model : "(none)");
		return 0;
	}
	return c;
}
