/* vj-generate: records in, records with content out (docs/vj-generate.1). */
#include "cmd/opts.h"
#include "stages/modelstage.h"
#include "base/util.h"

static const char usage[] =
"usage: vj-generate [-qv] [-r RUN] [-j N] [--rpm N] [--tpm N] [--retries N] [--timeout SEC]\n"
"                 [--job-timeout SEC] [--grace SEC] [--provider NAME] [--model NAME]\n"
"                 [--base-url URL] [--api-key-env NAME] [--max-tokens N] [--prices FILE]\n"
"                 [--max-cost USD] [--prompt-file FILE] [--fsync always|batch|never]\n"
"                 [--repair] [--progress | --no-progress]\n"
"                 [--pending [--follow] [--retry-failed]] [FILE...]\n"
"Write content from each record's analysis with a chat model (default openai:\n"
"DeepSeek); journal it in RUN; print the record with it.\n"
"Keys come from the environment only (GEMINI_API_KEY, DEEPSEEK_API_KEY, --api-key-env).\n"
"Exit: 0 all done, 1 some jobs failed for good, 2 usage, 3 fatal, 75 try again.\n";

int
main(int argc, char **argv)
{
	struct opts o;
	struct model_config c;
	opts_parse(&o, argc, argv, OPT_NET | OPT_PROVIDER | OPT_QUEUE | OPT_PROMPT, usage);
	opts_stage_config(&o, &c.stage);
	c.provider = o.provider;
	c.model = o.model;
	c.base_url = o.base_url;
	c.api_key_env = o.api_key_env;
	c.prompt_file = o.prompt_file;
	c.prices = o.prices;
	c.max_tokens = o.max_tokens;
	c.timeout_set = o.timeout_set;
	return modelstage_main(&c, ST_GENERATE);
}
