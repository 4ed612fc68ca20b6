/* vj-report: one self-contained HTML page of a run (docs/vj-report.1). */
#include "cmd/opts.h"
#include "stages/report.h"


static const struct opts_cmd cmd = {
	.name = "vj-report", .bit = CMD_REPORT,
	.synopsis =
"usage: vj-report [-qv] [-r RUN] [-o OUT] [--output FILE] [--samples N]\n"
"                 [--max-cost USD]\n"
"       vj-report -h | -V\n",
	.about =
"Write one HTML page about a run: jobs per stage and state, completions,\n"
"429s and failures over time, durations, tokens and cost, failures by\n"
"reason, the shards of OUT and a gallery of sample records.  The page\n"
"needs no network and no other file.\n",
	.exits = "Exit status: 0 written, 2 usage or no run, 3 corrupt journal or the page\n"
"could not be written.\n",
};

int
main(int argc, char **argv)
{
	struct opts o;
	opts_parse(&o, argc, argv, &cmd);
	if (o.output && !*o.output)
		opts_usage("--output takes a file name or -");
	struct report_opt r = { .run = o.run, .out = o.out, .output = o.output,
		.samples = (int)o.samples, .max_cost = o.max_cost };
	return report_run(&r);
}
