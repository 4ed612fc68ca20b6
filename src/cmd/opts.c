/* opts: GNU long options shared by the commands. */
#include "cmd/opts.h"
#include "core/journal.h"
#include "stages/stage.h"
#include "base/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	O_RPM = 256, O_TPM, O_RETRIES, O_TIMEOUT, O_JOBTIMEOUT, O_GRACE, O_PROVIDER, O_MODEL,
	O_BASEURL, O_KEYENV, O_PROMPT, O_PRICES, O_FSYNC, O_PENDING, O_FOLLOW, O_RETRYFAILED,
	O_STRICT, O_REJECTS, O_PARTITION, O_MAXBYTES, O_MAXCOST, O_MAXTOKENS, O_PROGRESS,
	O_NOPROGRESS, O_REPAIR, O_VERSION, O_HELP
};

static const struct option longopts[] = {
	{ "run", required_argument, NULL, 'r' },
	{ "concurrency", required_argument, NULL, 'j' },
	{ "jobs", required_argument, NULL, 'j' },
	{ "rpm", required_argument, NULL, O_RPM },
	{ "tpm", required_argument, NULL, O_TPM },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "job-timeout", required_argument, NULL, O_JOBTIMEOUT },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "provider", required_argument, NULL, O_PROVIDER },
	{ "model", required_argument, NULL, O_MODEL },
	{ "base-url", required_argument, NULL, O_BASEURL },
	{ "api-key-env", required_argument, NULL, O_KEYENV },
	{ "prompt-file", required_argument, NULL, O_PROMPT },
	{ "prices", required_argument, NULL, O_PRICES },
	{ "max-cost", required_argument, NULL, O_MAXCOST },
	{ "max-tokens", required_argument, NULL, O_MAXTOKENS },
	{ "fsync", required_argument, NULL, O_FSYNC },
	{ "pending", no_argument, NULL, O_PENDING },
	{ "follow", no_argument, NULL, O_FOLLOW },
	{ "retry-failed", no_argument, NULL, O_RETRYFAILED },
	{ "strict", no_argument, NULL, O_STRICT },
	{ "rejects", required_argument, NULL, O_REJECTS },
	{ "partition", required_argument, NULL, O_PARTITION },
	{ "max-bytes", required_argument, NULL, O_MAXBYTES },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "no-progress", no_argument, NULL, O_NOPROGRESS },
	{ "repair", no_argument, NULL, O_REPAIR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, O_VERSION },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

static unsigned
needs(int c)
{
	switch (c) {
	case 'j': case O_RPM: case O_TPM: case O_RETRIES: case O_TIMEOUT: case O_JOBTIMEOUT:
	case O_GRACE:
		return OPT_NET;
	case O_PROVIDER: case O_MODEL: case O_BASEURL: case O_KEYENV: case O_PRICES:
	case O_MAXCOST: case O_MAXTOKENS:
		return OPT_PROVIDER;
	case O_PENDING: case O_FOLLOW: case O_RETRYFAILED:
		return OPT_QUEUE;
	case O_STRICT: case O_REJECTS: case O_PARTITION: case O_MAXBYTES:
		return OPT_INGEST;
	case O_PROMPT:
		return OPT_PROMPT;
	}
	return 0;
}

static _Noreturn void
bad(const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", vj_prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	exit(VJ_EUSAGE);
}

static double
num(const char *usage, const char *name, const char *s, double lo, double hi)
{
	double v;
	if (parse_double(s, lo, hi, &v) < 0) {
		fprintf(stderr, "%s: %s: '%s' is not a number in %g..%g\n", vj_prog, name, s, lo, hi);
		exit(VJ_EUSAGE);
	}
	(void)usage;
	return v;
}

void
opts_parse(struct opts *o, int argc, char **argv, unsigned which, const char *usage)
{
	int c;
	memset(o, 0, sizeof *o);
	o->run = getenv("VJ_RUN");
	if (!o->run || !*o->run)
		o->run = "vj-run";
	o->jobs = 8;
	o->retries = 3;
	o->timeout = 60;
	o->job_timeout = 600;
	o->grace = 30;
	o->max_cost = -1;
	o->max_bytes = 20LL << 20;
	o->progress = -1;
	o->prices = getenv("VJ_PRICES");
	vj_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "r:j:qv", longopts, NULL)) != -1) {
		if (needs(c) && !(needs(c) & which))
			bad(usage, "option '%s' does not apply to this command", argv[optind - 1]);
		switch (c) {
		case 'r': o->run = optarg; break;
		case 'j': o->jobs = (int)num(usage, "-j", optarg, 1, 4096); break;
		case O_RPM: o->rpm = num(usage, "--rpm", optarg, 0, 1e7); break;
		case O_TPM: o->tpm = num(usage, "--tpm", optarg, 0, 1e12); break;
		case O_RETRIES: o->retries = (int)num(usage, "--retries", optarg, 0, 1000); break;
		case O_TIMEOUT: o->timeout = num(usage, "--timeout", optarg, 0.001, 86400); o->timeout_set = 1; break;
		case O_JOBTIMEOUT: o->job_timeout = num(usage, "--job-timeout", optarg, 0.001, 864000); break;
		case O_GRACE: o->grace = num(usage, "--grace", optarg, 0, 86400); break;
		case O_PROVIDER: o->provider = optarg; break;
		case O_MODEL: o->model = optarg; break;
		case O_BASEURL: o->base_url = optarg; break;
		case O_KEYENV: o->api_key_env = optarg; break;
		case O_PROMPT: o->prompt_file = optarg; break;
		case O_PRICES: o->prices = optarg; break;
		case O_MAXCOST: o->max_cost = num(usage, "--max-cost", optarg, 0, 1e9); break;
		case O_MAXTOKENS: o->max_tokens = (long)num(usage, "--max-tokens", optarg, 1, 1e7); break;
		case O_FSYNC:
			if (!strcmp(optarg, "always")) o->fsync = JL_FSYNC_ALWAYS;
			else if (!strcmp(optarg, "batch")) o->fsync = JL_FSYNC_BATCH;
			else if (!strcmp(optarg, "never")) o->fsync = JL_FSYNC_NEVER;
			else bad(usage, "--fsync takes always, batch or never, not '%s'", optarg);
			break;
		case O_PENDING: o->pending = 1; break;
		case O_FOLLOW: o->follow = 1; break;
		case O_RETRYFAILED: o->retry_failed = 1; break;
		case O_STRICT: o->strict = 1; break;
		case O_REJECTS: o->rejects = optarg; break;
		case O_PARTITION:
			if (sscanf(optarg, "%d/%d", &o->part_k, &o->part_n) != 2 || o->part_n < 1 ||
			    o->part_k < 1 || o->part_k > o->part_n)
				bad(usage, "--partition takes K/N with 1 <= K <= N, not '%s'", optarg);
			break;
		case O_MAXBYTES:
			o->max_bytes = parse_size(optarg);
			if (o->max_bytes <= 0)
				bad(usage, "--max-bytes: '%s' is not a size", optarg);
			break;
		case O_PROGRESS: o->progress = 1; break;
		case O_NOPROGRESS: o->progress = 0; break;
		case O_REPAIR: o->repair = 1; break;
		case 'q': vj_verbose = -1; break;
		case 'v': vj_verbose++; break;
		case O_VERSION: printf("%s %s\n", vj_prog, VJ_VERSION); exit(0);
		case O_HELP: fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(VJ_EUSAGE);
		}
	}
	if (o->follow && !o->pending)
		bad(usage, "%s needs --pending", "--follow");
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->pending && o->nfiles)
		bad(usage, "--pending reads the run, not files (%s)", o->files[0]);
}

void
opts_stage_config(const struct opts *o, struct stage_config *c)
{
	*c = (struct stage_config){
		.run = o->run, .fsync = (enum jl_fsync)o->fsync, .repair = o->repair,
		.pending = o->pending, .follow = o->follow, .retry_failed = o->retry_failed,
		.progress = o->progress, .max_cost = o->max_cost,
		.jobs = o->jobs, .rpm = o->rpm, .tpm = o->tpm, .retries = o->retries,
		.timeout = o->timeout, .job_timeout = o->job_timeout, .grace = o->grace,
		.files = o->files, .nfiles = o->nfiles,
	};
}
