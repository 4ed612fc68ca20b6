/* vj-report: one self-contained HTML page of a run (docs/vj-report.1).
 * Options are parsed here for now; they are the kind the shared table in
 * opts.c holds (-r, -o, a count, a cost), so they can move onto it. */
#include "stages/report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

/* Mirrors the SYNOPSIS of docs/vj-report.1. */
static const char usage_text[] =
"usage: vj-report [-q] [-r RUN] [-o OUT] [--output FILE] [--samples N]\n"
"                 [--max-cost USD]\n"
"       vj-report --help | --version\n";

static const char help_text[] =
"\n"
"Writes one HTML page about a run: jobs per stage and state, completions,\n"
"429s and failures over time, durations, tokens and cost, failures by\n"
"reason, the shards of OUT and a gallery of sample records.  The page\n"
"needs no network and no other file.\n"
"\n"
"  -r, --run DIR      the run directory (env VJ_RUN, default ./vj-run)\n"
"  -o, --out DIR      an output directory of vj-pack: list its shards\n"
"      --output FILE  where the page goes (default RUN/report.html; - is stdout)\n"
"      --samples N    records in the gallery (default 48, 0 to 10000)\n"
"      --max-cost USD draw this budget on the cost plot\n"
"  -q, --quiet        errors only\n"
"  -h, --help         this help\n"
"  -V, --version      the version\n"
"\n"
"Exit status: 0 written, 2 usage or no run, 3 corrupt journal or the page\n"
"could not be written.\n";

enum { O_OUTPUT = 256, O_SAMPLES, O_MAXCOST };

static _Noreturn void
usage(const char *why, const char *arg)
{
	if (why)
		vj_msg("%s '%s'", why, arg);
	fputs(usage_text, stderr);
	exit(VJ_EUSAGE);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "run", required_argument, NULL, 'r' }, { "out", required_argument, NULL, 'o' },
		{ "output", required_argument, NULL, O_OUTPUT },
		{ "samples", required_argument, NULL, O_SAMPLES },
		{ "max-cost", required_argument, NULL, O_MAXCOST },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
	};
	struct report_opt o = { .run = getenv("VJ_RUN"), .samples = 48, .max_cost = -1 };
	long n;
	int c;

	vj_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "r:o:qhV", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o.run = optarg; break;
		case 'o': o.out = optarg; break;
		case O_OUTPUT: o.output = optarg; break;
		case O_SAMPLES:
			if (parse_long(optarg, 0, 10000, &n) < 0)
				usage("--samples takes a count from 0 to 10000, not", optarg);
			o.samples = (int)n;
			break;
		case O_MAXCOST:
			if (parse_double(optarg, 0, 1e9, &o.max_cost) < 0)
				usage("--max-cost takes USD from 0 to 1e9, not", optarg);
			break;
		case 'q': vj_verbose = -1; break;
		case 'h': fputs(usage_text, stdout); fputs(help_text, stdout); return VJ_OK;
		case 'V': printf("vj-report %s\n", VJ_VERSION); return VJ_OK;
		default: usage(NULL, NULL);
		}
	}
	if (optind < argc)
		usage("unexpected argument", argv[optind]);
	if (!o.run || !*o.run)
		o.run = "./vj-run";
	if (o.output && !*o.output)
		usage("--output takes a file name or -, not", "");
	return report_run(&o);
}
