/* vj-generate: records in, records with content out (docs/vj-generate.1). */
#include "cmd/opts.h"
#include "stages/modelstage.h"

static const struct opts_cmd cmd = {
	.name = "vj-generate", .bit = CMD_GENERATE, .operands = 1,
	.synopsis =
"usage: vj-generate [-qv] [-r RUN] [-j N] [--rpm N] [--tpm N] [--retries N] [--timeout SEC]\n"
"                   [--job-timeout SEC] [--grace SEC] [--provider NAME] [--model NAME]\n"
"                   [--base-url URL] [--api-key-env NAME] [--max-tokens N] [--models FILE]\n"
"                   [--prices FILE] [--max-cost USD] [--tier standard|flex]\n"
"                   [--batch [--batch-size N] [--poll SEC] [--wait] [--batch-fallback resubmit|online|none]]\n"
"                   [--cancel-batches] [--batch-export FILE | --batch-import FILE]\n"
"                   [--off-peak [--wait]] [--estimate [--json]]\n"
"                   [--prompt-file FILE] [--fsync always|batch|never]\n"
"                   [--repair] [--progress | --no-progress]\n"
"                   [--heartbeat SEC] [--log-format text|json]\n"
"                   [--pending [--follow] [--retry-failed] [--wait-retries SEC]]\n"
"                   [FILE...]\n"
"       vj-generate -h | -V\n",
	.about =
"Write content from each record's analysis with a chat model; journal it in\n"
"RUN; print the record with it.\n"
"Keys come from the environment only (GEMINI_API_KEY, DEEPSEEK_API_KEY, --api-key-env).\n",
	.exits = "Exit status: 0 all done, 1 some jobs failed for good, 2 usage, 3 fatal, 75 try again.\n",
};

int
main(int argc, char **argv)
{
	struct opts o;
	struct model_config c;
	opts_parse(&o, argc, argv, &cmd);
	opts_model_config(&o, &c);
	return modelstage_main(&c, ST_GENERATE);
}
