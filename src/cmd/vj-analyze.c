/* vj-analyze: records in, records with an analysis out (docs/vj-analyze.1). */
#include "cmd/opts.h"
#include "stages/modelstage.h"

static const struct opts_cmd cmd = {
	.name = "vj-analyze", .bit = CMD_ANALYZE, .operands = 1,
	.synopsis =
"usage: vj-analyze [-qv] [-r RUN] [-j N] [--rpm N] [--tpm N] [--retries N] [--timeout SEC]\n"
"                  [--job-timeout SEC] [--grace SEC] [--provider NAME] [--model NAME]\n"
"                  [--base-url URL] [--api-key-env NAME] [--max-tokens N] [--models FILE]\n"
"                  [--prices FILE] [--max-cost USD] [--max-side N] [--max-pixels N]\n"
"                  [--tier standard|flex] [--media-resolution low|medium|high|ultra]\n"
"                  [--detail low|high|auto]\n"
"                  [--batch [--batch-size N] [--poll SEC] [--wait] [--batch-fallback resubmit|online|none]]\n"
"                  [--cancel-batches] [--batch-export FILE | --batch-import FILE]\n"
"                  [--off-peak [--wait]] [--estimate [--json]] [--fsync always|batch|never]\n"
"                  [--repair] [--progress | --no-progress]\n"
"                  [--heartbeat SEC] [--log-format text|json]\n"
"                  [--pending [--follow] [--retry-failed] [--wait-retries SEC]]\n"
"                  [FILE...]\n"
"       vj-analyze -h | -V\n",
	.about =
"Analyse each record's image with a vision model into the fixed analysis\n"
"structure; journal it in RUN; print the record with it.\n"
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
	return modelstage_main(&c, ST_ANALYZE);
}
