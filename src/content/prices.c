/* prices: a small table, searched linearly: there are a few dozen rows. */
#include "content/prices.h"
#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * USD per million tokens, from the providers' price pages (see
 * docs/prices.md for the dates).  Prices change: the file overrides them.
 */
static const struct row {
	const char *provider, *model;
	struct price p;
} builtin[] = {
	{ "gemini", "gemini-2.5-flash", { 0.30, 0.03, 2.50 } },
	{ "gemini", "gemini-2.5-flash-lite", { 0.10, 0.01, 0.40 } },
	{ "gemini", "gemini-2.5-pro", { 1.25, 0.125, 10.00 } },
	{ "gemini", "gemini-2.0-flash", { 0.10, 0.025, 0.40 } },
	{ "openai", "deepseek-flash", { 0.28, 0.028, 0.42 } },
	{ "openai", "deepseek-chat", { 0.28, 0.028, 0.42 } },
	{ "openai", "deepseek-reasoner", { 0.28, 0.028, 0.42 } },
	{ "openai", "gpt-4o-mini", { 0.15, 0.075, 0.60 } },
	{ "openai", "gpt-4o", { 2.50, 1.25, 10.00 } },
	{ "openai", "gpt-4.1-mini", { 0.40, 0.10, 1.60 } },
};

struct entry {
	char *provider, *model;
	struct price p;
};

static struct entry *tab;
static size_t ntab;
static int loaded;              /* the table holds the built-ins (and a file) */
static char **warned;
static size_t nwarned;

static void
put(const char *provider, const char *model, const struct price *p)
{
	for (size_t i = 0; i < ntab; i++)
		if (strcmp(tab[i].provider, provider) == 0 && strcmp(tab[i].model, model) == 0) {
			tab[i].p = *p;
			return;
		}
	tab = xrealloc(tab, (ntab + 1) * sizeof(*tab));
	tab[ntab].provider = xstrdup(provider);
	tab[ntab].model = xstrdup(model);
	tab[ntab++].p = *p;
}

void
prices_reset(void)
{
	for (size_t i = 0; i < ntab; i++) {
		free(tab[i].provider);
		free(tab[i].model);
	}
	free(tab);
	tab = NULL;
	ntab = 0;
	for (size_t i = 0; i < nwarned; i++)
		free(warned[i]);
	free(warned);
	warned = NULL;
	nwarned = 0;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		put(builtin[i].provider, builtin[i].model, &builtin[i].p);
	loaded = 1;
}

/* One figure: a non-negative number, or absent (then *out is left). */
static int
figure(json_t *o, const char *key, double *out, const char *where, char *err, size_t n)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v))) {
		snprintf(err, n, "%s.%s: expected a number >= 0 (USD per million tokens)", where, key);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

/*
 * {"PROVIDER": {"MODEL": {"prompt": 0.3, "cached": 0.03, "completion": 2.5}}}
 * "prompt" and "completion" are required; "cached" defaults to "prompt".
 * Checked whole before anything is merged.
 */
static int
merge(json_t *doc, int apply, char *err, size_t n)
{
	const char *prov, *model;
	json_t *models, *o;
	char where[208];

	if (!json_is_object(doc)) {
		snprintf(err, n, "expected an object of providers");
		return -1;
	}
	json_object_foreach(doc, prov, models) {
		if (!json_is_object(models)) {
			snprintf(err, n, "%.100s: expected an object of models", prov);
			return -1;
		}
		json_object_foreach(models, model, o) {
			struct price p = { -1, -1, -1 };
			snprintf(where, sizeof(where), "%.100s.%.100s", prov, model);
			if (!json_is_object(o)) {
				snprintf(err, n, "%s: expected {\"prompt\", \"cached\", \"completion\"}", where);
				return -1;
			}
			if (figure(o, "prompt", &p.prompt, where, err, n) < 0 ||
			    figure(o, "cached", &p.cached, where, err, n) < 0 ||
			    figure(o, "completion", &p.completion, where, err, n) < 0)
				return -1;
			if (p.prompt < 0 || p.completion < 0) {
				snprintf(err, n, "%s: \"prompt\" and \"completion\" are required", where);
				return -1;
			}
			if (p.cached < 0)
				p.cached = p.prompt;
			if (apply)
				put(prov, model, &p);
		}
	}
	return 0;
}

int
prices_load(const char *file, char *err, size_t n)
{
	json_error_t je;
	json_t *doc;
	char why[512];

	if (!loaded)
		prices_reset();
	if (!file)
		return 0;
	if (!(doc = json_load_file(file, 0, &je))) {
		snprintf(err, n, "%s:%d: %s", file, je.line, je.text);
		return -1;
	}
	if (merge(doc, 0, why, sizeof(why)) < 0) {
		snprintf(err, n, "%s: %s", file, why);
		json_decref(doc);
		return -1;
	}
	merge(doc, 1, why, sizeof(why));
	json_decref(doc);
	return 0;
}

int
prices_get(const char *provider, const char *model, struct price *p)
{
	if (!loaded) {
		char err[512];
		const char *f = getenv("VJ_PRICES");
		if (prices_load(f && *f ? f : NULL, err, sizeof(err)) < 0)
			vj_warn("VJ_PRICES: %s (using the built-in prices)", err);
	}
	if (model && strncmp(model, "models/", 7) == 0)
		model += 7;
	for (size_t i = 0; model && i < ntab; i++)
		if (strcmp(tab[i].provider, provider) == 0 && strcmp(tab[i].model, model) == 0) {
			*p = tab[i].p;
			return 0;
		}
	return -1;
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
count(json_t *usage, const char *key)
{
	json_t *v = json_object_get(usage, key);
	double d = json_is_number(v) ? json_number_value(v) : 0;

	return d > 0 ? d : 0;
}

double
prices_cost(const char *provider, const char *model, json_t *usage)
{
	struct price p;
	double prompt, cached, completion;

	if (!provider || strcmp(provider, "offline") == 0 || !usage)
		return 0;
	if (prices_get(provider, model, &p) < 0) {
		warn_unknown(provider, model ? model : "(none)");
		return 0;
	}
	/* Every provider counts cached tokens inside the prompt tokens. */
	prompt = count(usage, "prompt");
	cached = count(usage, "cached");
	if (cached > prompt)
		cached = prompt;
	completion = count(usage, "completion");
	return ((prompt - cached) * p.prompt + cached * p.cached + completion * p.completion) / 1e6;
}
