/* ingest: the vj-ingest stage: manifests in, jobs journaled, images fetched. */
#ifndef VJ_INGEST_H
#define VJ_INGEST_H

#include "cmd/opts.h"

int ingest_main(const struct opts *o);

#endif
