/*
 * vj-fake: a fake Gemini and OpenAI/DeepSeek server for vj's tests and
 * benchmarks.  Listens on 127.0.0.1 only.  See fake.h for the modules.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"

struct fake_opts fake_opt = { .latency_dist = 1, .token_rule = -1, .rpm_window_ms = 60000 };
uint64_t fake_rng;
FILE *fake_logf;

static void
fake_usage(void)
{
	fputs("usage: vj-fake [--port N] [--port-file FILE] [--seed N]\n"
	    "\t[--latency-ms MEAN] [--latency-dist fixed|exp|uniform] [--rpm N]\n"
	    "\t[--p429 F] [--p500 F] [--p503 F] [--p504 F] [--ptimeout F] [--pdrop F]\n"
	    "\t[--pbadjson F] [--pschema F] [--pblank F] [--pempty F]\n"
	    "\t[--key KEY] [--models a,b,c] [--static DIR] [--script FILE] [--log FILE]\n"
	    "\t[--image-sizes] [--token-rule auto|bytes|RULE] [--flex-latency-ms MS]\n"
	    "\t[--flex-unavailable PCT] [--serve-tier NAME] [--clock-ms T [--clock-step-ms S]]\n"
	    "\t[--rpm-window SECONDS] [--no-retry-after] [--ratelimit-headers]\n"
	    "\t[--ratelimit-values LIMIT,REMAINING,RESET]\n"
	    "\t[--ratelimit-token-values LIMIT,REMAINING,RESET]\n"
	    "\t[--batch-pending-ms N] [--batch-running-ms N] [--batch-finalizing-ms N]\n"
	    "\t[--batch-cancel-ms N] [--batch-expire-after N|N%] [--batch-fail-after N|N%]\n"
	    "\t[--batch-perror F]\n"
	    "\t[--batch-max-requests N] [--batch-max-bytes N] [--upload-max-bytes N]\n"
	    "\t[--batch-dir DIR]\n"
	    "The key may also come from the environment variable VJ_FAKE_KEY.\n", stderr);
	exit(2);
}

static double
fake_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		fake_die("--%s: bad value '%s'", opt, s);
	return v;
}

static void
fake_models(const char *list)
{
	char *dup = fake_xstrdup(list), *tok, *save = NULL;

	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		fake_opt.models = realloc(fake_opt.models,
		    (size_t)(fake_opt.nmodels + 1) * sizeof(char *));
		if (fake_opt.models == NULL)
			fake_die("out of memory");
		fake_opt.models[fake_opt.nmodels++] = fake_xstrdup(tok);
	}
	free(dup);
}

static void
fake_load_script(const char *file)
{
	struct fake_buf b = { 0 };
	char chunk[8192], err[256];
	size_t n;
	FILE *f = fopen(file, "r");

	if (f == NULL)
		fake_die("%s: %s", file, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fake_buf_add(&b, chunk, n);
	fclose(f);
	if (fake_script_load(b.p ? b.p : "", b.len, err, sizeof(err)) == -1)
		fake_die("%s: %s", file, err);
	fake_buf_free(&b);
}

/* Written to a temporary name and renamed, so a poller never reads half. */
static void
fake_write_port(const char *file)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", file, (long)getpid());
	if ((f = fopen(tmp, "w")) == NULL)
		fake_die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%d\n", fake_opt.port);
	if (fclose(f) != 0 || rename(tmp, file) == -1)
		fake_die("%s: %s", file, strerror(errno));
}

enum { O_PORT = 256, O_PORTFILE, O_SEED, O_LAT, O_DIST, O_RPM, O_KEY, O_MODELS,
	O_STATIC, O_SCRIPT, O_LOG, O_P429, O_P500, O_P503, O_P504, O_PTIMEOUT,
	O_PDROP, O_PBADJSON, O_PSCHEMA, O_PBLANK, O_PEMPTY, O_IMGSIZES,
	O_TOKRULE, O_FLEXLAT, O_FLEXUNAV, O_SERVETIER, O_CLOCK, O_CLOCKSTEP,
	O_RPMWIN, O_NORA, O_RLHDR, O_RLVAL, O_RLTOK, O_BATCH };

static const struct { int opt; int fault; } fake_pmap[] = {
	{ O_P429, FAULT_429 }, { O_P500, FAULT_500 }, { O_P503, FAULT_503 },
	{ O_P504, FAULT_504 }, { O_PTIMEOUT, FAULT_TIMEOUT }, { O_PDROP, FAULT_DROP },
	{ O_PBADJSON, FAULT_BADJSON }, { O_PSCHEMA, FAULT_SCHEMA },
	{ O_PBLANK, FAULT_BLANK }, { O_PEMPTY, FAULT_EMPTY },
};

static const struct option fake_longopts[] = {
	{ "port", required_argument, NULL, O_PORT },
	{ "port-file", required_argument, NULL, O_PORTFILE },
	{ "seed", required_argument, NULL, O_SEED },
	{ "latency-ms", required_argument, NULL, O_LAT },
	{ "latency-dist", required_argument, NULL, O_DIST },
	{ "rpm", required_argument, NULL, O_RPM },
	{ "key", required_argument, NULL, O_KEY },
	{ "models", required_argument, NULL, O_MODELS },
	{ "static", required_argument, NULL, O_STATIC },
	{ "script", required_argument, NULL, O_SCRIPT },
	{ "log", required_argument, NULL, O_LOG },
	{ "p429", required_argument, NULL, O_P429 },
	{ "p500", required_argument, NULL, O_P500 },
	{ "p503", required_argument, NULL, O_P503 },
	{ "p504", required_argument, NULL, O_P504 },
	{ "ptimeout", required_argument, NULL, O_PTIMEOUT },
	{ "pdrop", required_argument, NULL, O_PDROP },
	{ "pbadjson", required_argument, NULL, O_PBADJSON },
	{ "pschema", required_argument, NULL, O_PSCHEMA },
	{ "pblank", required_argument, NULL, O_PBLANK },
	{ "pempty", required_argument, NULL, O_PEMPTY },
	{ "image-sizes", no_argument, NULL, O_IMGSIZES },
	{ "token-rule", required_argument, NULL, O_TOKRULE },
	{ "flex-latency-ms", required_argument, NULL, O_FLEXLAT },
	{ "flex-unavailable", required_argument, NULL, O_FLEXUNAV },
	{ "serve-tier", required_argument, NULL, O_SERVETIER },
	{ "clock-ms", required_argument, NULL, O_CLOCK },
	{ "clock-step-ms", required_argument, NULL, O_CLOCKSTEP },
	{ "rpm-window", required_argument, NULL, O_RPMWIN },
	{ "no-retry-after", no_argument, NULL, O_NORA },
	{ "ratelimit-headers", no_argument, NULL, O_RLHDR },
	{ "ratelimit-values", required_argument, NULL, O_RLVAL },
	{ "ratelimit-token-values", required_argument, NULL, O_RLTOK },
	/* the batch APIs' knobs, parsed in fake_batch.c */
	{ "batch-pending-ms", required_argument, NULL, O_BATCH },
	{ "batch-running-ms", required_argument, NULL, O_BATCH },
	{ "batch-finalizing-ms", required_argument, NULL, O_BATCH },
	{ "batch-cancel-ms", required_argument, NULL, O_BATCH },
	{ "batch-expire-after", required_argument, NULL, O_BATCH },
	{ "batch-fail-after", required_argument, NULL, O_BATCH },
	{ "batch-perror", required_argument, NULL, O_BATCH },
	{ "batch-max-requests", required_argument, NULL, O_BATCH },
	{ "batch-max-bytes", required_argument, NULL, O_BATCH },
	{ "upload-max-bytes", required_argument, NULL, O_BATCH },
	{ "batch-dir", required_argument, NULL, O_BATCH },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
fake_option(int c, const char *arg, int li)
{
	size_t i;

	switch (c) {
	case O_BATCH:
		if (!fake_batch_option(fake_longopts[li].name, arg))
			fake_usage();
		return;
	case O_PORT: fake_opt.port = (int)fake_num("port", arg, 0, 65535); return;
	case O_PORTFILE: fake_opt.port_file = arg; return;
	case O_SEED: fake_opt.seed = strtoull(arg, NULL, 0); return;
	case O_LAT: fake_opt.latency_ms = fake_num("latency-ms", arg, 0, 3600000); return;
	case O_DIST:
		if (strcmp(arg, "fixed") == 0)
			fake_opt.latency_dist = 0;
		else if (strcmp(arg, "exp") == 0)
			fake_opt.latency_dist = 1;
		else if (strcmp(arg, "uniform") == 0)
			fake_opt.latency_dist = 2;
		else
			fake_die("--latency-dist: fixed, exp or uniform");
		return;
	case O_RPM: fake_opt.rpm = (int)fake_num("rpm", arg, 0, 10000000); return;
	case O_KEY: fake_opt.key = arg; return;
	case O_MODELS: fake_models(arg); return;
	case O_STATIC: fake_opt.static_dir = arg; return;
	case O_SCRIPT: fake_load_script(arg); return;
	case O_LOG: fake_opt.log_file = arg; return;
	case O_IMGSIZES: fake_opt.image_sizes = 1; return;
	case O_TOKRULE: fake_opt.token_rule = fake_tokens_rule_parse(arg); return;
	case O_FLEXLAT:
		fake_opt.flex_latency_ms = fake_num("flex-latency-ms", arg, 0, 3600000);
		return;
	case O_FLEXUNAV:
		fake_opt.flex_unavailable = fake_num("flex-unavailable", arg, 0, 100);
		return;
	case O_SERVETIER: fake_opt.serve_tier = arg; return;
	case O_CLOCK:
		fake_opt.clock_ms = (uint64_t)fake_num("clock-ms", arg, 0, 253402300799999.0);
		return;
	case O_CLOCKSTEP:
		fake_opt.clock_step_ms = (uint64_t)fake_num("clock-step-ms", arg, 0, 1e12);
		return;
	case O_RPMWIN:
		fake_opt.rpm_window_ms = (uint64_t)(fake_num("rpm-window", arg, 0.001, 86400) * 1000);
		return;
	case O_NORA: fake_opt.no_retry_after = 1; return;
	case O_RLHDR: fake_opt.rl_headers = 1; return;
	case O_RLVAL:
	case O_RLTOK: {
		/* three values, any text (a test of what a client believes) */
		char *d = fake_xstrdup(arg), *save = NULL;
		int at = c == O_RLTOK ? 3 : 0;
		for (int i = 0; i < 3; i++) {
			char *v = strtok_r(i ? NULL : d, ",", &save);
			if (v == NULL)
				fake_die(at ? "--ratelimit-token-values: LIMIT,REMAINING,RESET" :
				    "--ratelimit-values: LIMIT,REMAINING,RESET");
			free(fake_opt.rl_values[at + i]);
			fake_opt.rl_values[at + i] = fake_xstrdup(v);
		}
		free(d);
		fake_opt.rl_headers = 1;
		return;
	}
	}
	for (i = 0; i < sizeof(fake_pmap) / sizeof(fake_pmap[0]); i++)
		if (fake_pmap[i].opt == c) {
			fake_opt.p[fake_pmap[i].fault] = fake_num("p", arg, 0, 1);
			return;
		}
	fake_usage();
}

int
main(int argc, char **argv)
{
	int c, lfd, f, li = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "h", fake_longopts, &li)) != -1)
		fake_option(c, optarg, li);
	if (optind != argc)
		fake_usage();
	if (fake_opt.key == NULL && getenv("VJ_FAKE_KEY") && *getenv("VJ_FAKE_KEY"))
		fake_opt.key = getenv("VJ_FAKE_KEY");
	/* p[0] (FAULT_NONE) holds the total so requests skip the draw when 0. */
	for (f = 1; f < FAULT_COUNT; f++)
		fake_opt.p[0] += fake_opt.p[f];
	if (fake_opt.p[0] > 1.0)
		fake_die("the fault probabilities add up to more than 1");
	fake_rng = fake_opt.seed ^ 0x766a2d66616b65ULL;
	fake_rpm_init(fake_opt.rpm);
	if (fake_opt.log_file && (fake_logf = fopen(fake_opt.log_file, "a")) == NULL)
		fake_die("%s: %s", fake_opt.log_file, strerror(errno));
	lfd = fake_net_listen(fake_opt.port);
	if (fake_opt.port_file)
		fake_write_port(fake_opt.port_file);
	fake_net_run(lfd);
	if (fake_logf != NULL)
		fclose(fake_logf);
	fake_script_load("", 0, NULL, 0);
	fake_stats_reset();
	fake_image_reset();
	fake_tokens_reset();
	fake_batch_free();
	fake_rpm_init(0);
	for (f = 0; f < fake_opt.nmodels; f++)
		free(fake_opt.models[f]);
	free(fake_opt.models);
	for (f = 0; f < 6; f++)
		free(fake_opt.rl_values[f]);
	return 0;
}
