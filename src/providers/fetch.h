/* fetch: the ingest stage's provider: get a job's image (http(s) through
 * the engine, file:// from disk), check it is an image, store it once. */
#ifndef VJ_FETCH_H
#define VJ_FETCH_H

#include <stddef.h>
#include "core/engine.h"

struct fetch_memo;

struct fetch_ctx {
	const char *run;
	size_t max_bytes;
	int max_redirects;
	struct fetch_memo *memo;   /* local files already stored in this process */
};

void fetch_free(struct fetch_ctx *c);

extern const struct provider fetch_provider;

#endif
