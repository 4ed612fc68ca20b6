/* vj-ingest: job manifests in, job records out (docs/vj-ingest.1). */
#include "stages/ingest.h"
#include "cmd/opts.h"
#include "base/util.h"

#include <stdio.h>

static const char usage[] =
"usage: vj-ingest [-qv] [-r RUN] [-j N] [--rpm N] [--tpm N] [--rejects FILE] [--strict]\n"
"                 [--partition K/N] [--max-bytes SIZE] [--retries N] [--timeout SEC]\n"
"                 [--job-timeout SEC] [--grace SEC] [--fsync always|batch|never] [--repair]\n"
"                 [--progress | --no-progress] [--pending [--retry-failed]] [FILE...]\n"
"Read job manifests (JSONL) from FILEs or stdin ('-'), journal each job in RUN,\n"
"fetch and check its image into RUN/objects, and print one record per job.\n"
"Exit: 0 all done, 1 some lines or jobs failed, 2 usage, 3 fatal, 75 try again.\n";

int
main(int argc, char **argv)
{
	struct opts o;
	struct ingest_config c;
	opts_parse(&o, argc, argv, OPT_NET | OPT_QUEUE | OPT_INGEST, usage);
	if (o.follow) {
		/* vj-ingest holds the ingest lock: nothing else could add jobs */
		fprintf(stderr, "%s: --follow does not apply to vj-ingest (it is the only writer of new jobs)\n%s",
		    vj_prog, usage);
		return VJ_EUSAGE;
	}
	opts_stage_config(&o, &c.stage);
	c.rejects = o.rejects;
	c.strict = o.strict;
	c.part_k = o.part_k;
	c.part_n = o.part_n;
	c.max_bytes = (size_t)o.max_bytes;
	return ingest_main(&c);
}
