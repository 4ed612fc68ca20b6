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
	double timeout;            /* seconds for one local read too (0: none) */
	/* what the manifest may make vj read (docs/security.md) */
	int deny_private;          /* no connection to a private address */
	int no_local_files;        /* no file:// at all */
	const char *files_under;   /* local files only below this real directory; NULL: anywhere */
	struct fetch_memo *memo;   /* local files already stored in this process */
	struct store_batch *batch; /* objects are added to it (durable at its sync);
	                            * NULL: each stored durably on its own */
};

void fetch_free(struct fetch_ctx *c);

extern const struct provider fetch_provider;

#endif
