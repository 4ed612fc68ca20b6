/* provider: choosing and configuring the provider of a network stage.  Each
 * provider is a table of functions (struct provider in engine.h); this is
 * the one place that knows their names and defaults (docs/providers.md). */
#ifndef VJ_PROVIDER_H
#define VJ_PROVIDER_H

#include <stddef.h>
#include <jansson.h>
#include "core/engine.h"

struct prov_config {
	const char *stage;        /* "analyze" or "generate" */
	const char *name;         /* gemini | openai | offline; NULL: the stage's default */
	const char *model;        /* NULL: the provider's default */
	const char *base_url;     /* NULL: the provider's default */
	const char *api_key_env;  /* NULL: the provider's default variable */
	const char *run;          /* run directory (object store) */
	const char *prompt_file;  /* generate: custom template */
	long max_tokens;          /* 0: default */
	size_t max_image_bytes;   /* inline image cap; 0: default 20 MiB */
	int tier;                 /* enum models_tier asked for: 0 standard */
	int res;                  /* enum models_res: --media-resolution or --detail; 0 none */
};

struct prov {
	const struct provider *ops;
	void *ctx;
	char *name, *model;
	char *cfg;                /* canonical text of everything that shapes a result: part of the cache key */
	double timeout;           /* the provider's advised request timeout, seconds (0: none) */
};

/* VJ_OK, or VJ_EUSAGE with err set (unknown provider, missing key, bad prompt file). */
int prov_open(struct prov *p, const struct prov_config *c, char *err, size_t errlen);
void prov_close(struct prov *p);

#endif
