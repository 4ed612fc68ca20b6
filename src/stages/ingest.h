/* ingest: the vj-ingest stage: manifests in, jobs journaled, images fetched. */
#ifndef VJ_INGEST_H
#define VJ_INGEST_H

#include <stddef.h>
#include "stages/stage.h"

struct ingest_config {
	struct stage_config stage;
	const char *rejects;          /* append bad lines to this file; NULL: none */
	int strict;                   /* fields vj does not know are errors */
	int part_k, part_n;           /* take only part K of N (stages/partition.h); 0/0: every job */
	const char *part_from;        /* the variables --partition auto read; NULL: none */
	size_t max_bytes;             /* largest image accepted */
	int deny_private;             /* no fetch from a private address */
	int no_local_files;           /* no local file read */
	const char *files_under;      /* local files only below DIR; NULL: anywhere */
	int replace;                  /* a line with a known id replaces that job */
	const char *forget;           /* withdraw this job id; NULL: none */
	const char *forget_file;      /* ... or the ids this file lists ("-" stdin) */
};

int ingest_main(const struct ingest_config *c);

#endif
