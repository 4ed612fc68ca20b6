/* vj-status: where a run stands, checked and repaired (docs/vj-status.1). */
#include "stages/check.h"
#include "stages/status.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* Mirrors the SYNOPSIS of docs/vj-status.1. */
static const char usage_text[] =
    "usage: vj-status [-qv] [-r RUN] [--json] [--watch]\n"
    "       vj-status [-qv] [-r RUN] --failed [--json]\n"
    "       vj-status [-qv] [-r RUN] --check\n"
    "       vj-status [-qv] [-r RUN] --repair STAGE\n"
    "       vj-status --help | --version\n";

static const char help_text[] =
    "Show how far a vj run has come, stage by stage.\n\n"
    "  -r, --run DIR     the run directory (default $VJ_RUN, else ./vj-run)\n"
    "      --json        one JSON object (docs/status-json.md)\n"
    "      --watch       redraw every 2 s until interrupted\n"
    "      --failed      list jobs failed for good (with -v, retryable ones too)\n"
    "      --check       verify journals and objects; exit 3 if anything is bad\n"
    "      --repair STAGE  cut STAGE's journal at its first bad record (backup kept)\n"
    "  -q, --quiet       no hints\n"
    "  -v, --verbose     more detail\n"
    "  -h, --help        this help\n"
    "  -V, --version     the version\n\n"
    "Exit status: 0 fine, 2 usage or no run, 3 corrupt journal or failed check,\n"
    "75 --repair of a stage that is running.\n";

enum { O_JSON = 256, O_FAILED, O_CHECK, O_REPAIR, O_WATCH };

static _Noreturn void
usage(void)
{
	fputs(usage_text, stderr);
	exit(VJ_EUSAGE);
}

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

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "run", required_argument, NULL, 'r' }, { "json", no_argument, NULL, O_JSON },
		{ "failed", no_argument, NULL, O_FAILED }, { "check", no_argument, NULL, O_CHECK },
		{ "repair", required_argument, NULL, O_REPAIR }, { "watch", no_argument, NULL, O_WATCH },
		{ "quiet", no_argument, NULL, 'q' }, { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct status_opt o = { getenv("VJ_RUN"), 0, 0, 0 };
	const char *repair = NULL;
	int c, mode = 0, rc;

	vj_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "r:qvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o.run = optarg; break;
		case O_JSON: o.json = 1; break;
		case O_REPAIR: repair = optarg; /* FALLTHROUGH */
		case O_FAILED: case O_CHECK: case O_WATCH:
			if (mode && mode != c)
				vj_die(VJ_EUSAGE, "--failed, --check, --repair and --watch do not go together");
			mode = c;
			break;
		case 'q': o.quiet = 1; vj_verbose = -1; break;
		case 'v': o.verbose++; vj_verbose = o.verbose; break;
		case 'h': fputs(usage_text, stdout); fputs(help_text, stdout); return close_stdout(VJ_OK);
		case 'V': printf("vj-status %s\n", VJ_VERSION); return close_stdout(VJ_OK);
		default: usage();
		}
	}
	if (optind < argc)
		usage();
	if (!o.run || !*o.run)
		o.run = "./vj-run";
	if (o.json && (mode == O_CHECK || mode == O_REPAIR))
		vj_die(VJ_EUSAGE, "--json goes with the report, --watch or --failed");

	switch (mode) {
	case O_FAILED: rc = status_failed(&o); break;
	case O_CHECK:  rc = check_run(&o); break;
	case O_REPAIR: rc = check_repair(&o, repair); break;
	case O_WATCH:  rc = status_watch(&o, 2000); break;
	default:       rc = status_show(&o); break;
	}
	return close_stdout(rc);
}
