/* vj-status: where a run stands, checked and repaired (docs/vj-status.1). */
#include "cmd/opts.h"
#include "stages/batch.h"
#include "stages/check.h"
#include "stages/jobinfo.h"
#include "stages/recost.h"
#include "stages/status.h"

#include <stdio.h>

static const struct opts_cmd cmd = {
	.name = "vj-status", .bit = CMD_STATUS,
	.synopsis =
"usage: vj-status [-qv] [-r RUN] [--json] [--watch]\n"
"       vj-status [-qv] [-r RUN] --failed [--json]\n"
"       vj-status [-qv] [-r RUN] --job ID [--json]\n"
"       vj-status [-qv] [-r RUN] --cost [--models FILE] [--prices FILE] [--json]\n"
"       vj-status [-qv] [-r RUN] --batches [--json]\n"
"       vj-status [-qv] [-r RUN] --check\n"
"       vj-status [-qv] [-r RUN] --repair STAGE\n"
"       vj-status -h | -V\n",
	.about = "Show how far a vj run has come, stage by stage.\n",
	.exits =
"Exit status: 0 fine, 2 usage or no run, 3 corrupt journal or failed check,\n"
"75 --repair of a stage that is running.\n",
};

/* stdout is the product: a failed write must not pass for success. */
static int
close_stdout(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout) || fclose(stdout) == EOF) {
		vj_warn("error writing output");
		return VJ_EFATAL;
	}
	return rc;
}

/* One mode at most; the report is the default. */
static int
run_mode(const struct opts *o)
{
	struct status_opt so = { .run = o->run, .json = o->json, .verbose = o->verbose,
		.quiet = o->quiet };
	int cost = o->cost || o->prices || !!o->models;
	if (o->failed + o->check + !!o->repair_stage + o->watch + !!o->job + cost + o->batch > 1)
		opts_usage("--failed, --job, --check, --repair, --watch, --cost and --batches do not go together");
	if (o->batch)
		return batch_show(o->run, o->json);
	if (cost) {
		struct recost_opt ro = { .run = o->run, .models = o->models, .prices = o->prices,
			.json = o->json };
		return recost_show(&ro);
	}
	if (o->json && (o->check || o->repair_stage))
		opts_usage("--json goes with the report, --watch, --failed or --job");
	if (o->failed)
		return status_failed(&so);
	if (o->job)
		return jobinfo_show(&so, o->job);
	if (o->check)
		return check_run(&so);
	if (o->repair_stage)
		return check_repair(&so, o->repair_stage);
	if (o->watch)
		return status_watch(&so, 2000);
	return status_show(&so);
}

int
main(int argc, char **argv)
{
	struct opts o;
	opts_parse(&o, argc, argv, &cmd);
	return close_stdout(run_mode(&o));
}
