/* vj-ingest: job manifests in, job records out (docs/vj-ingest.1). */
#include "cmd/opts.h"
#include "stages/ingest.h"

static const struct opts_cmd cmd = {
	.name = "vj-ingest", .bit = CMD_INGEST, .operands = 1,
	.synopsis =
"usage: vj-ingest [-qv] [-r RUN] [-j N] [--rpm N] [--tpm N] [--rejects FILE] [--strict]\n"
"                 [--partition K/N | --partition auto [--partition-count N]\n"
"                 [--partition-base 0|1]] [--max-bytes SIZE] [--deny-private]\n"
"                 [--files-under DIR | --no-local-files] [--retries N] [--timeout SEC]\n"
"                 [--job-timeout SEC] [--grace SEC] [--fsync always|batch|never] [--repair]\n"
"                 [--replace] [--per-host N] [--progress | --no-progress]\n"
"                 [--heartbeat SEC] [--log-format text|json]\n"
"                 [--pending [--retry-failed] [--wait-retries SEC]] [FILE...]\n"
"       vj-ingest [-qv] [-r RUN] --forget ID | --forget-file FILE\n"
"       vj-ingest -h | -V\n",
	.about =
"Read job manifests (JSONL) from FILEs or stdin ('-'), journal each job in RUN,\n"
"fetch and check its image into RUN/objects, and print one record per job.\n",
	.exits = "Exit status: 0 all done, 1 some lines or jobs failed, 2 usage, 3 fatal, 75 try again.\n",
};

int
main(int argc, char **argv)
{
	struct opts o;
	opts_parse(&o, argc, argv, &cmd);
	struct ingest_config c = {
		.rejects = o.rejects, .strict = o.strict, .part_k = o.part[0], .part_n = o.part[1],
		.max_bytes = (size_t)o.max_bytes, .deny_private = o.deny_private,
		.no_local_files = o.no_local_files, .files_under = o.files_under,
		.part_from = o.part_from[0] ? o.part_from : NULL,
		.replace = o.replace, .forget = o.forget, .forget_file = o.forget_file,
	};
	if ((o.forget || o.forget_file) && (o.nfiles || o.replace || o.pending || (o.forget && o.forget_file)))
		opts_usage("--forget and --forget-file withdraw jobs and read no manifest: give one of them, "
		    "alone (no FILE, --replace or --pending)");
	opts_stage_config(&o, &c.stage);
	return ingest_main(&c);
}
