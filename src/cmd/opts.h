/* opts: the command line shared by the vj commands.  Parsing only fills a
 * struct; each command's main checks what applies to it (docs/vj-*.1). */
#ifndef VJ_OPTS_H
#define VJ_OPTS_H

#include <stddef.h>

struct stage_config;

struct opts {
	const char *run;
	int jobs;                 /* -j */
	double rpm, tpm;
	int retries;
	double timeout, job_timeout, grace;
	int timeout_set;          /* --timeout given: the provider's default does not apply */
	const char *provider, *model, *base_url, *api_key_env, *prompt_file, *prices;
	int fsync;                /* enum jl_fsync, from --fsync's name */
	int pending, follow, retry_failed, strict, repair;
	double max_cost;          /* < 0: none */
	const char *rejects;
	int part_k, part_n;       /* --partition K/N, 0/0 none */
	long long max_bytes;      /* --max-bytes image cap */
	long max_tokens;
	int progress;             /* -1 auto, 0 off, 1 on */
	char **files;
	int nfiles;
};

/* Which options a command takes. */
enum {
	OPT_NET = 1,       /* -j --rpm --tpm --retries --timeout --job-timeout --grace */
	OPT_PROVIDER = 2,  /* --provider --model --base-url --api-key-env --max-tokens --prices --max-cost */
	OPT_QUEUE = 4,     /* --pending --follow --retry-failed */
	OPT_INGEST = 8,    /* --rejects --strict --partition --max-bytes */
	OPT_PROMPT = 16    /* --prompt-file */
};

/* Parse argv.  On --help prints usage and exits 0; --version exits 0; a bad
 * option prints usage to stderr and exits 2. */
void opts_parse(struct opts *o, int argc, char **argv, unsigned which, const char *usage);
/* The part of the command line every stage driver takes. */
void opts_stage_config(const struct opts *o, struct stage_config *c);

#endif
