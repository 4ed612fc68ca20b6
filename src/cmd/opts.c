/* opts: one table of every option of the five commands.  From it come the
 * getopt_long array, the --help text (each option on one line with its
 * default), the check of each value, and the defaults themselves: where a
 * default is a value, it is parsed from the table's text, so --help cannot
 * say one thing while the command does another. */
#include "cmd/opts.h"
#include "content/models.h"
#include "core/journal.h"
#include "core/shard.h"
#include "stages/modelstage.h"
#include "stages/partition.h"
#include "stages/stage.h"
#include "base/util.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OPTS_PART_AUTO (-1)   /* in part[0]: --partition auto */

enum {
	STAGES = CMD_INGEST | CMD_ANALYZE | CMD_GENERATE,
	MODEL = CMD_ANALYZE | CMD_GENERATE,
	ALL = STAGES | CMD_PACK | CMD_STATUS | CMD_REPORT,
};

/* By bit number of CMD_*. */
static const char *const cmd_names[] = {
	"vj-ingest", "vj-analyze", "vj-generate", "vj-pack", "vj-status", "vj-report"
};

enum kind {
	K_FLAG,       /* int = 1 */
	K_CONST,      /* int = .value */
	K_STR,        /* const char * */
	K_INT,        /* long, lo..hi */
	K_NUM,        /* double, lo..hi */
	K_SIZE,       /* long long > 0: 512K, 20M, 1G */
	K_CHOICE,     /* int: the value of the name given */
	K_PART,       /* int[2]: K/N with 1 <= K <= N, or auto (OPTS_PART_AUTO) */
	K_QUIET, K_VERBOSE, K_HELP, K_VERSION
};

struct choice {
	const char *name;
	int value;
};

/* Choices are parsed by name: their order here is only the order --help
 * shows them in. */
static const struct choice fsyncs[] = {
	{ "always", JL_FSYNC_ALWAYS }, { "batch", JL_FSYNC_BATCH }, { "never", JL_FSYNC_NEVER },
	{ NULL, 0 }
};
static const struct choice formats[] = { { "wds", SF_WDS }, { "jsonl", SF_JSONL }, { NULL, 0 } };
static const struct choice compressors[] = {
	{ "zstd", SC_ZSTD }, { "gzip", SC_GZIP }, { "none", SC_NONE }, { NULL, 0 }
};
static const struct choice fallbacks[] = {
	{ "resubmit", BF_RESUBMIT }, { "online", BF_ONLINE }, { "none", BF_NONE }, { NULL, 0 }
};
static const struct choice log_formats[] = {
	{ "text", VJ_LOG_TEXT }, { "json", VJ_LOG_JSON }, { NULL, 0 }
};
static const struct choice tiers[] = {
	{ "standard", MODELS_STANDARD }, { "flex", MODELS_FLEX }, { NULL, 0 }
};
static const struct choice media_res[] = {
	{ "low", MODELS_RES_LOW }, { "medium", MODELS_RES_MEDIUM }, { "high", MODELS_RES_HIGH },
	{ "ultra", MODELS_RES_ULTRA }, { NULL, 0 }
};
static const struct choice details[] = {
	{ "low", MODELS_RES_LOW }, { "high", MODELS_RES_HIGH }, { "auto", MODELS_RES_AUTO },
	{ NULL, 0 }
};

#define INIT 1        /* .def is also the initial value, parsed as if given */
#define REQUIRED 2    /* no default: the command needs it (--help says so) */

struct opt {
	char shortc;                  /* 0: none */
	const char *name, *alias;     /* long names */
	unsigned cmds;                /* the CMD_* it is for */
	enum kind kind;
	size_t off;                   /* the field of struct opts it sets (not -q -v -h -V) */
	const char *arg;              /* its argument in --help; NULL: none (choices: their names) */
	double lo, hi;                /* K_INT, K_NUM */
	const struct choice *choices; /* K_CHOICE */
	int value;                    /* K_CONST */
	const char *help;             /* one line */
	const char *def;              /* the default, as --help says it; NULL for a flag: off */
	int flags;                    /* INIT, REQUIRED */
};

#define AT(field) offsetof(struct opts, field)

/* An option may appear twice for different commands (--repair is a flag
 * for the stages and takes a STAGE for vj-status), never twice for one.
 * The order is --help's. */
static const struct opt table[] = {
	{ 'r', "run", NULL, ALL, K_STR, AT(run), "DIR", .help = "the run directory",
	  .def = "$VJ_RUN, else " OPTS_RUN_DEFAULT },
	{ 'o', "out", NULL, CMD_PACK, K_STR, AT(out), "DIR",
	  .help = "the output directory, created if needed", .flags = REQUIRED },
	{ 'o', "out", NULL, CMD_REPORT, K_STR, AT(out), "DIR",
	  .help = "an output directory of vj-pack: list its shards", .def = "none" },
	{ 0, "output", NULL, CMD_REPORT, K_STR, AT(output), "FILE",
	  .help = "where the page goes; - is standard output", .def = "RUN/report.html" },
	{ 0, "samples", NULL, CMD_REPORT, K_INT, AT(samples), "N", .lo = 0, .hi = 10000,
	  .help = "records in the gallery", .def = "48", .flags = INIT },
	{ 0, "max-cost", NULL, CMD_REPORT, K_NUM, AT(max_cost), "USD", .lo = 0, .hi = 1e9,
	  .help = "draw this budget on the cost plot (a run does not record its budget)",
	  .def = "none" },
	{ 'j', "concurrency", "jobs", STAGES, K_INT, AT(jobs), "N", .lo = 1, .hi = 4096,
	  .help = "requests in flight at once", .def = "8", .flags = INIT },
	{ 0, "rpm", NULL, STAGES, K_NUM, AT(rpm), "N", .lo = 0, .hi = 1e7,
	  .help = "at most N requests in any minute: -j at once, the rest spaced evenly; 0: no limit", .def = "0", .flags = INIT },
	{ 0, "tpm", NULL, MODEL, K_NUM, AT(tpm), "N", .lo = 0, .hi = 1e12,
	  .help = "at most about N tokens a minute; 0: no limit", .def = "0", .flags = INIT },
	{ 0, "tpm", NULL, CMD_INGEST, K_NUM, AT(tpm), "N", .lo = 0, .hi = 1e12,
	  .help = "no effect: fetches carry no token estimate", .def = "0", .flags = INIT },
	{ 0, "retries", NULL, STAGES, K_INT, AT(retries), "N", .lo = 0, .hi = 1000,
	  .help = "retries after the first attempt, counted across runs", .def = "3", .flags = INIT },
	{ 0, "timeout", NULL, STAGES, K_NUM, AT(timeout), "SEC", .lo = 0.001, .hi = 86400,
	  .help = "longest time for one request", .def = "60", .flags = INIT },
	{ 0, "job-timeout", NULL, STAGES, K_NUM, AT(job_timeout), "SEC", .lo = 0.001, .hi = 864000,
	  .help = "longest time for one job in this run, retries included", .def = "600",
	  .flags = INIT },
	{ 0, "grace", NULL, STAGES, K_NUM, AT(grace), "SEC", .lo = 0, .hi = 86400,
	  .help = "after SIGINT or SIGTERM, time for requests in flight", .def = "30", .flags = INIT },
	{ 0, "provider", NULL, CMD_ANALYZE, K_STR, AT(provider), "NAME",
	  .help = "gemini, openai or offline", .def = "gemini" },
	{ 0, "provider", NULL, CMD_GENERATE, K_STR, AT(provider), "NAME",
	  .help = "openai (DeepSeek or --base-url), gemini or offline", .def = "openai" },
	{ 0, "model", NULL, MODEL, K_STR, AT(model), "NAME", .help = "the model",
	  .def = "the provider's" },
	{ 0, "base-url", NULL, MODEL, K_STR, AT(base_url), "URL", .help = "the server, http or https",
	  .def = "the provider's" },
	{ 0, "api-key-env", NULL, MODEL, K_STR, AT(api_key_env), "NAME",
	  .help = "the environment variable that holds the key", .def = "the provider's" },
	{ 0, "max-tokens", NULL, MODEL, K_INT, AT(max_tokens), "N", .lo = 1, .hi = 1e7,
	  .help = "output token cap (part of the cache key)", .def = "the provider's" },
	{ 0, "prices", NULL, MODEL, K_STR, AT(prices), "FILE",
	  .help = "a model table or JSON price file merged over it all", .def = "$VJ_PRICES" },
	{ 0, "models", NULL, MODEL, K_STR, AT(models), "FILE",
	  .help = "a model table merged over the shipped one (docs/prices.md)", .def = "$VJ_MODELS" },
	{ 0, "models", NULL, CMD_STATUS, K_STR, AT(models), "FILE",
	  .help = "--cost under this model table merged over the shipped one", .def = "$VJ_MODELS" },
	{ 0, "max-cost", NULL, MODEL, K_NUM, AT(max_cost), "USD", .lo = 0, .hi = 1e9,
	  .help = "reserve each request's estimated cost; send none that would pass USD",
	  .def = "none" },
	{ 0, "estimate", NULL, MODEL, K_FLAG, AT(estimate),
	  .help = "send nothing: print the jobs, tokens and cost the run would take" },
	{ 0, "json", NULL, MODEL, K_FLAG, AT(json),
	  .help = "with --estimate: one JSON object" },
	{ 0, "off-peak", NULL, MODEL, K_FLAG, AT(off_peak),
	  .help = "send only in the model's cheapest hours; else exit 75 (or --wait)" },
	{ 0, "wait", NULL, MODEL, K_FLAG, AT(wait),
	  .help = "with --off-peak: wait for the cheap hours; with --batch: until all is in" },
	{ 0, "tier", NULL, MODEL, K_CHOICE, AT(tier), .choices = tiers,
	  .help = "flex: half price, best effort, slower (Gemini, OpenAI)", .def = "standard",
	  .flags = INIT },
	{ 0, "media-resolution", NULL, CMD_ANALYZE, K_CHOICE, AT(media_res), .choices = media_res,
	  .help = "Gemini 3: the fixed token budget of an image", .def = "the model's" },
	{ 0, "detail", NULL, CMD_ANALYZE, K_CHOICE, AT(detail), .choices = details,
	  .help = "OpenAI vision: how closely the model looks at the image", .def = "the model's" },
	{ 0, "batch", NULL, MODEL, K_FLAG, AT(batch),
	  .help = "send through the provider's batch API (half price, answers within 24 h)" },
	{ 0, "batches", NULL, CMD_STATUS, K_FLAG, AT(batch),
	  .help = "list the run's provider batches and their states" },
	{ 0, "batch-size", NULL, MODEL, K_INT, AT(batch_size), "N", .lo = 1, .hi = 1e7,
	  .help = "with --batch: at most N requests a batch", .def = "the provider's limit" },
	{ 0, "poll", NULL, MODEL, K_NUM, AT(poll), "SEC", .lo = 0.01, .hi = 86400,
	  .help = "with --batch: look at a batch every SEC at most (backing off up to it)",
	  .def = "60", .flags = INIT },
	{ 0, "batch-fallback", NULL, MODEL, K_CHOICE, AT(batch_fallback), .choices = fallbacks,
	  .help = "what a batch left unanswered: resubmit once then online, online, or none",
	  .def = "resubmit", .flags = INIT },
	{ 0, "cancel-batches", NULL, MODEL, K_FLAG, AT(cancel_batches),
	  .help = "cancel the run's open batches, collect what they answered" },
	{ 0, "batch-export", NULL, MODEL, K_STR, AT(batch_export), "FILE",
	  .help = "write an OpenAI batch input file of the jobs ready (vllm run-batch)",
	  .def = "none" },
	{ 0, "batch-import", NULL, MODEL, K_STR, AT(batch_import), "FILE",
	  .help = "journal the results of an exported file", .def = "none" },
	{ 0, "max-side", NULL, CMD_ANALYZE, K_INT, AT(max_side), "N", .lo = 1, .hi = 65535,
	  .help = "send a copy downscaled to at most N pixels a side", .def = "full size" },
	{ 0, "max-pixels", NULL, CMD_ANALYZE, K_INT, AT(max_pixels), "N", .lo = 1, .hi = 1e9,
	  .help = "... and to at most N pixels in all", .def = "full size" },
	{ 0, "prompt-file", NULL, CMD_GENERATE, K_STR, AT(prompt_file), "FILE",
	  .help = "prompt templates of your own", .def = "the built-in ones" },
	{ 0, "rejects", NULL, CMD_INGEST, K_STR, AT(rejects), "FILE",
	  .help = "append every rejected line to FILE", .def = "none" },
	{ 0, "strict", NULL, CMD_INGEST, K_FLAG, AT(strict),
	  .help = "reject lines with fields vj does not know" },
	{ 0, "replace", NULL, CMD_INGEST, K_FLAG, AT(replace),
	  .help = "a line whose id the run holds is a new version of that job" },
	{ 0, "forget", NULL, CMD_INGEST, K_STR, AT(forget), "ID",
	  .help = "withdraw job ID from the run (vj-pack leaves it out); reads no manifest",
	  .def = "none" },
	{ 0, "forget-file", NULL, CMD_INGEST, K_STR, AT(forget_file), "FILE",
	  .help = "withdraw the jobs whose ids FILE lists, one a line ('-': stdin)",
	  .def = "none" },
	{ 0, "partition", NULL, CMD_INGEST, K_PART, AT(part), "K/N",
	  .help = "take only the jobs of part K of N, by id; 'auto': K/N from the scheduler",
	  .def = "every job" },
	{ 0, "partition-count", NULL, CMD_INGEST, K_INT, AT(part_count), "N", .lo = 1, .hi = PART_MAX,
	  .help = "with --partition auto: the number of parts", .def = "$VJ_PARTITION_COUNT" },
	{ 0, "partition-base", NULL, CMD_INGEST, K_INT, AT(part_base), "0|1", .lo = 0, .hi = 1,
	  .help = "with auto: a Slurm array of some parts counts from 0 or 1",
	  .def = "$VJ_PARTITION_BASE" },
	{ 0, "max-bytes", NULL, CMD_INGEST, K_SIZE, AT(max_bytes), "SIZE",
	  .help = "largest image accepted, such as 512K, 20M or 1G", .def = "20M", .flags = INIT },
	{ 0, "per-host", NULL, CMD_INGEST, K_INT, AT(per_host), "N", .lo = 0, .hi = 4096,
	  .help = "at most N requests to one host at once; 0: no cap", .def = "8", .flags = INIT },
	{ 0, "deny-private", NULL, CMD_INGEST, K_FLAG, AT(deny_private),
	  .help = "fetch nothing from loopback, private or link-local addresses" },
	{ 0, "files-under", NULL, CMD_INGEST, K_STR, AT(files_under), "DIR",
	  .help = "read local image files only below DIR", .def = "anywhere" },
	{ 0, "no-local-files", NULL, CMD_INGEST, K_FLAG, AT(no_local_files),
	  .help = "read no local image files, only http(s) URLs" },
	{ 0, "pending", NULL, STAGES, K_FLAG, AT(pending),
	  .help = "take the work from the run, not from input" },
	{ 0, "pending", NULL, CMD_PACK, K_FLAG, AT(pending),
	  .help = "pack what the run has generated and OUT lacks" },
	{ 0, "follow", NULL, MODEL, K_FLAG, AT(follow),
	  .help = "with --pending: look at the run every 2 s until stopped" },
	{ 0, "wait-retries", NULL, STAGES, K_NUM, AT(wait_retries), "SEC", .lo = 0, .hi = 864000,
	  .help = "with --pending: take retries due within SEC and wait for them; 0: skip them",
	  .def = "the job timeout" },
	{ 0, "retry-failed", NULL, STAGES, K_FLAG, AT(retry_failed),
	  .help = "give jobs failed for good another chance" },
	{ 0, "repair", NULL, STAGES, K_FLAG, AT(repair),
	  .help = "cut a corrupt journal at its first bad record" },
	{ 0, "format", NULL, CMD_PACK, K_CHOICE, AT(format), .choices = formats,
	  .help = "wds (tar: KEY.json, KEY.<ext>, KEY.txt) or jsonl", .def = "wds", .flags = INIT },
	{ 0, "compress", NULL, CMD_PACK, K_CHOICE, AT(compress), .choices = compressors,
	  .help = "shard compression", .def = "zstd", .flags = INIT },
	{ 0, "level", NULL, CMD_PACK, K_INT, AT(level), "N", .lo = 1, .hi = 19,
	  .help = "compression level: zstd 1-19, gzip 1-9", .def = "zstd 3, gzip 6" },
	{ 0, "threads", NULL, CMD_PACK, K_INT, AT(threads), "N", .lo = 1, .hi = 256,
	  .help = "zstd workers; the output is the same for any N", .def = "one per CPU" },
	{ 0, "shard-records", NULL, CMD_PACK, K_INT, AT(shard_records), "N", .lo = 1, .hi = 1e8,
	  .help = "seal a shard at N records", .def = "10000", .flags = INIT },
	{ 0, "shard-bytes", NULL, CMD_PACK, K_SIZE, AT(shard_bytes), "SIZE",
	  .help = "... or at SIZE uncompressed bytes", .def = "1G", .flags = INIT },
	{ 0, "embed-images", NULL, CMD_PACK, K_FLAG, AT(embed_images),
	  .help = "with --format jsonl: the image bytes inline, base64" },
	{ 0, "fsync", NULL, STAGES, K_CHOICE, AT(fsync), .choices = fsyncs,
	  .help = "how the journal is made durable", .def = "batch", .flags = INIT },
	{ 0, "buffered", NULL, CMD_PACK, K_FLAG, AT(buffered),
	  .help = "write shards through the page cache",
	  .def = "off: past it, with O_DIRECT, on a local file system" },
	{ 0, "fsync", NULL, CMD_PACK, K_CHOICE, AT(fsync), .choices = fsyncs,
	  .help = "how shards, OUT and the journal are synced", .def = "batch",
	  .flags = INIT },
	{ 0, "verify", NULL, CMD_PACK, K_STR, AT(verify), "OUT",
	  .help = "check every shard of OUT against its index.json", .def = "off" },
	{ 0, "reindex", NULL, CMD_PACK, K_STR, AT(reindex), "OUT",
	  .help = "rebuild OUT/index.json from OUT's log and files", .def = "off" },
	{ 0, "merge", NULL, CMD_PACK, K_FLAG, AT(merge),
	  .help = "check the OUTs given and merge them into -o DEST" },
	{ 0, "json", NULL, CMD_STATUS, K_FLAG, AT(json),
	  .help = "one JSON object (docs/status-json.md)" },
	{ 0, "cost", NULL, CMD_STATUS, K_FLAG, AT(cost),
	  .help = "the run's cost per stage and tier, priced again from its usage" },
	{ 0, "prices", NULL, CMD_STATUS, K_STR, AT(prices), "FILE",
	  .help = "--cost under this table merged over the model table", .def = "off" },
	{ 0, "watch", NULL, CMD_STATUS, K_FLAG, AT(watch),
	  .help = "redraw the report every 2 s until interrupted" },
	{ 0, "failed", NULL, CMD_STATUS, K_FLAG, AT(failed),
	  .help = "list the jobs failed for good (-v: retryable ones too)" },
	{ 0, "check", NULL, CMD_STATUS, K_FLAG, AT(check),
	  .help = "verify journals and objects; exit 3 if anything is bad" },
	{ 0, "job", NULL, CMD_STATUS, K_STR, AT(job), "ID",
	  .help = "everything the journals say of one job: manifest, attempts, keys, shards",
	  .def = "off" },
	{ 0, "repair", NULL, CMD_STATUS, K_STR, AT(repair_stage), "STAGE",
	  .help = "cut STAGE's journal at its first bad record", .def = "off" },
	/* what a running stage shows of itself (stages/progress.h) */
	{ 0, "progress", NULL, STAGES | CMD_PACK, K_CONST, AT(progress), .value = 1,
	  .help = "a progress line on stderr, for every stage of the run", .def = "on a terminal, without -q" },
	{ 0, "no-progress", NULL, STAGES | CMD_PACK, K_CONST, AT(progress), .value = 0,
	  .help = "no progress line" },
	{ 0, "heartbeat", NULL, STAGES | CMD_PACK, K_INT, AT(heartbeat), "SEC", .lo = 0, .hi = 86400,
	  .help = "where no progress line is shown, a time-stamped status line every SEC s; 0: none",
	  .def = "60, none with -q" },
	{ 0, "log-format", NULL, STAGES | CMD_PACK, K_CHOICE, AT(log_format), .choices = log_formats,
	  .help = "messages as text, or as one JSON object a line", .def = "text", .flags = INIT },
	{ 'q', "quiet", NULL, STAGES | CMD_PACK, K_QUIET, 0,
	  .help = "errors and warnings only" },
	{ 'q', "quiet", NULL, CMD_REPORT, K_QUIET, 0,
	  .help = "errors only" },
	{ 'q', "quiet", NULL, CMD_STATUS, K_QUIET, 0,
	  .help = "no hints; with --check, only the problems" },
	{ 'v', "verbose", NULL, ALL, K_VERBOSE, 0, .help = "more messages; repeat for more" },
	{ 'h', "help", NULL, ALL, K_HELP, 0, .help = "print this help and exit" },
	{ 'V', "version", NULL, ALL, K_VERSION, 0, .help = "print the version and exit" },
};

#define NOPT (sizeof table / sizeof table[0])

static const struct opts_cmd *cur;    /* the command being parsed */

static _Noreturn void
synopsis_exit(void)
{
	if (cur)
		fputs(cur->synopsis, stderr);
	exit(VJ_EUSAGE);
}

void
opts_usage(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", vj_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	synopsis_exit();
}

static int
takes_arg(const struct opt *d)
{
	return d->kind == K_STR || d->kind == K_INT || d->kind == K_NUM || d->kind == K_SIZE ||
	    d->kind == K_CHOICE || d->kind == K_PART;
}

/* "a|b|c" for --help, or with last "a, b or c" for a message. */
static void
choice_names(const struct opt *d, const char *sep, const char *last, struct buf *b)
{
	for (const struct choice *c = d->choices; c->name; c++)
		buf_addf(b, "%s%s", c == d->choices ? "" : c[1].name ? sep : last, c->name);
}

/* Set the field d is for from arg; as is the option as given, for messages. */
static void
apply(struct opts *o, const struct opt *d, const char *arg, const char *as)
{
	char *p = (char *)o + d->off;

	switch (d->kind) {
	case K_FLAG: *(int *)p = 1; break;
	case K_CONST: *(int *)p = d->value; break;
	case K_STR: *(const char **)p = arg; break;
	case K_INT: {
		long v;
		if (parse_long(arg, (long)d->lo, (long)d->hi, &v) < 0)
			opts_usage("%s: '%s' is not a whole number in %.0f..%.0f", as, arg, d->lo, d->hi);
		*(long *)p = v;
		break;
	}
	case K_NUM: {
		double v;
		if (parse_double(arg, d->lo, d->hi, &v) < 0 || v != v)
			opts_usage("%s: '%s' is not a number in %g..%g", as, arg, d->lo, d->hi);
		*(double *)p = v;
		break;
	}
	case K_SIZE: {
		long long v = parse_size(arg);
		if (v < 1)
			opts_usage("%s: '%s' is not a size (such as 512K, 20M or 1G)", as, arg);
		*(long long *)p = v;
		break;
	}
	case K_CHOICE: {
		const struct choice *c = d->choices;
		while (c->name && strcmp(c->name, arg) != 0)
			c++;
		if (!c->name) {
			static struct buf b;    /* until exit */
			choice_names(d, ", ", " or ", &b);
			opts_usage("%s takes %s, not '%s'", as, b.p, arg);
		}
		*(int *)p = c->value;
		break;
	}
	case K_PART: {
		struct part pt = { OPTS_PART_AUTO, 0 };
		char err[128];
		if (strcmp(arg, "auto") != 0 && part_parse(arg, &pt, err, sizeof err) < 0)
			opts_usage("%s %s or auto, not '%s'", as, err, arg);
		((int *)p)[0] = pt.k;
		((int *)p)[1] = pt.n;
		break;
	}
	/* -q and -v act in the order given: "-v -q" is quiet */
	case K_QUIET: o->quiet = 1; vj_verbose = -1; break;
	case K_VERBOSE: o->verbose++; vj_verbose++; break;
	case K_HELP: case K_VERSION: break;   /* opts_parse's */
	}
}

/* "  -r, --run DIR           the run directory (default: ...)" */
static void
help_line(const struct opt *d, struct buf *b)
{
	size_t start = b->len;
	if (d->shortc)
		buf_addf(b, "  -%c, --%s", d->shortc, d->name);
	else
		buf_addf(b, "      --%s", d->name);
	if (d->alias)
		buf_addf(b, ", --%s", d->alias);
	if (d->kind == K_CHOICE) {
		buf_adds(b, " ");
		choice_names(d, "|", "|", b);
	} else if (d->arg) {
		buf_addf(b, " %s", d->arg);
	}
	size_t w = b->len - start;
	buf_addf(b, "%*s%s", w < 30 ? (int)(30 - w) : 2, "", d->help);
	if (d->flags & REQUIRED)
		buf_adds(b, " (required)");
	else if (d->def)
		buf_addf(b, " (default: %s)", d->def);
	else if (!takes_arg(d) && d->kind != K_HELP && d->kind != K_VERSION)
		buf_adds(b, " (default: off)");   /* a flag not given */
	buf_adds(b, "\n");
}

/* Help and version go to stdout, and a failed write is an error. */
static _Noreturn void
print_exit(const struct buf *b)
{
	if (fwrite(b->p, 1, b->len, stdout) != b->len || fflush(stdout) != 0 || ferror(stdout)) {
		vj_warn("error writing output:");
		exit(VJ_EFATAL);
	}
	exit(VJ_OK);
}

static _Noreturn void
help(const struct opts_cmd *cmd)
{
	static struct buf b;            /* until exit */
	buf_addf(&b, "%s\n%s\nOptions:\n", cmd->synopsis, cmd->about);
	for (size_t i = 0; i < NOPT; i++)
		if (table[i].cmds & cmd->bit)
			help_line(&table[i], &b);
	buf_addf(&b, "\n%s", cmd->exits);
	print_exit(&b);
}

static _Noreturn void
version(const struct opts_cmd *cmd)
{
	static struct buf b;            /* until exit */
	buf_addf(&b, "%s %s\n", cmd->name, VJ_VERSION);
	print_exit(&b);
}

/* An option of other commands: say which. */
static _Noreturn void
not_here(const struct opt *d, const char *as, const struct opts_cmd *cmd)
{
	unsigned bits = 0;
	int n = 0, k = 0;
	static struct buf b;            /* until exit */

	for (size_t i = 0; i < NOPT; i++)
		if (!strcmp(table[i].name, d->name))
			bits |= table[i].cmds;
	for (int i = 0; i < (int)(sizeof cmd_names / sizeof cmd_names[0]); i++)
		n += (bits >> i) & 1;
	for (int i = 0; i < (int)(sizeof cmd_names / sizeof cmd_names[0]); i++)
		if ((bits >> i) & 1)
			buf_addf(&b, "%s%s", k++ == 0 ? "" : k == n ? " and " : ", ", cmd_names[i]);
	opts_usage("option '%s' does not apply to %s (it is for %s)", as, cmd->name, b.p);
}

/* The getopt_long array: the command's own options, then the others'
 * under the names still free, so that an option of another command is
 * taken with its argument and reported by its name.  An option's val is
 * 256 + its index in the table; by_short maps a short option to it. */
static void
build(unsigned bit, struct option *lo, char *shorts, int *by_short)
{
	int n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < NOPT; i++) {
			const struct opt *d = &table[i];
			int own = (d->cmds & bit) != 0;
			if (own != (pass == 0))
				continue;
			int has = takes_arg(d) ? required_argument : no_argument;
			const char *names[2] = { d->name, d->alias };
			for (int k = 0; k < 2 && names[k]; k++) {
				int dup = 0;
				for (int m = 0; m < n; m++)
					dup |= !strcmp(lo[m].name, names[k]);
				if (!dup)
					lo[n++] = (struct option){ names[k], has, NULL, 256 + (int)i };
			}
			if (d->shortc && by_short[(unsigned char)d->shortc] < 0) {
				by_short[(unsigned char)d->shortc] = (int)i;
				*shorts++ = d->shortc;
				if (has)
					*shorts++ = ':';
			}
		}
	}
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	*shorts = 0;
}

/* What is not in the table's text: read from the environment, or "none". */
static void
defaults(struct opts *o, unsigned bit)
{
	const char *run = getenv("VJ_RUN");
	memset(o, 0, sizeof *o);
	o->run = run && *run ? run : OPTS_RUN_DEFAULT;
	/* vj-status: --prices and --models are a table to price the run
	 * under, given or not (the report uses $VJ_MODELS itself) */
	if (bit != CMD_STATUS) {
		o->prices = getenv("VJ_PRICES");
		o->models = getenv("VJ_MODELS");
	}
	o->max_cost = -1;
	o->progress = -1;
	o->part_count = o->part_base = -1;
	o->heartbeat = -1;
	for (size_t i = 0; i < NOPT; i++)
		if ((table[i].flags & INIT) && (table[i].cmds & bit))
			apply(o, &table[i], table[i].def, table[i].name);
}

void
opts_parse(struct opts *o, int argc, char **argv, const struct opts_cmd *cmd)
{
	struct option lo[2 * NOPT + 1];
	char shorts[2 * NOPT + 1];
	int by_short[128];
	int c, li;

	cur = cmd;
	vj_setprog(argv[0]);
	defaults(o, cmd->bit);
	for (int i = 0; i < 128; i++)
		by_short[i] = -1;
	build(cmd->bit, lo, shorts, by_short);
	while (li = -1, (c = getopt_long(argc, argv, shorts, lo, &li)) != -1) {
		int i = c >= 256 ? c - 256 : c > 0 && c < 128 ? by_short[c] : -1;
		if (i < 0)
			synopsis_exit();    /* getopt said what is wrong */
		const struct opt *d = &table[i];
		char as[64];
		if (li >= 0)
			snprintf(as, sizeof as, "--%s", lo[li].name);
		else
			snprintf(as, sizeof as, "-%c", c);
		if (!(d->cmds & cmd->bit))
			not_here(d, as, cmd);
		if (d->kind == K_HELP)
			help(cmd);
		if (d->kind == K_VERSION)
			version(cmd);
		if (d->kind == K_NUM && d->off == AT(timeout))
			o->timeout_set = 1;   /* a provider's advice is only for the default */
		if (d->kind == K_NUM && d->off == AT(job_timeout))
			o->job_timeout_set = 1;   /* flex has its own default */
		if (d->kind == K_NUM && d->off == AT(wait_retries))
			o->wait_retries_set = 1;   /* else it follows --job-timeout */
		apply(o, d, optarg, as);
	}
	vj_log_format = o->log_format;
	if (o->follow && !o->pending)
		opts_usage("--follow needs --pending");
	if (o->part[0] == OPTS_PART_AUTO) {
		struct part pt;
		char err[1024];
		if (part_auto(environ, o->part_count, o->part_base, &pt, o->part_from,
		    sizeof o->part_from, err, sizeof err) < 0)
			opts_usage("--partition auto: %s", err);
		o->part[0] = pt.k;
		o->part[1] = pt.n;
	} else if (o->part_count >= 0 || o->part_base >= 0) {
		opts_usage("--partition-count and --partition-base go with --partition auto");
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles && !cmd->operands)
		opts_usage("takes no arguments ('%s')", o->files[0]);
	if (o->nfiles && o->pending)
		opts_usage("--pending takes the work from the run, not from files ('%s')", o->files[0]);
}

void
opts_stage_config(const struct opts *o, struct stage_config *c)
{
	*c = (struct stage_config){
		.run = o->run, .fsync = (enum jl_fsync)o->fsync, .repair = o->repair,
		.pending = o->pending, .follow = o->follow, .retry_failed = o->retry_failed,
		.progress = o->progress, .heartbeat = (int)o->heartbeat, .max_cost = o->max_cost,
		.jobs = (int)o->jobs, .rpm = o->rpm, .tpm = o->tpm, .retries = (int)o->retries,
		.timeout = o->timeout, .job_timeout = o->job_timeout, .grace = o->grace,
		.per_host = (int)o->per_host,
		.wait_retries = o->wait_retries_set ? o->wait_retries : o->job_timeout,
		.files = o->files, .nfiles = o->nfiles,
	};
}

void
opts_model_config(const struct opts *o, struct model_config *c)
{
	opts_stage_config(o, &c->stage);
	c->provider = o->provider;
	c->model = o->model;
	c->base_url = o->base_url;
	c->api_key_env = o->api_key_env;
	c->prompt_file = o->prompt_file;
	c->prices = o->prices;
	c->models = o->models;
	c->max_side = o->max_side;
	c->max_pixels = o->max_pixels;
	c->estimate = o->estimate;
	c->json = o->json;
	c->off_peak = o->off_peak;
	c->wait = o->wait;
	if (o->json && !o->estimate)
		opts_usage("--json goes with --estimate");
	if (o->wait && !o->off_peak && !o->batch)
		opts_usage("--wait goes with --off-peak or --batch");
	c->batch = (struct batch_config){ .on = o->batch || o->cancel_batches,
		.size = o->batch_size, .poll = o->poll, .wait = o->wait && o->batch,
		.fallback = o->batch_fallback, .cancel = o->cancel_batches,
		.export_file = o->batch_export, .import_file = o->batch_import };
	if (!!o->batch + !!o->batch_export + !!o->batch_import > 1)
		opts_usage("--batch, --batch-export and --batch-import do not go together");
	if (o->batch && (o->estimate || o->follow || o->off_peak))
		opts_usage("--batch does not go with --estimate, --follow or --off-peak");
	if (o->batch && o->tier == MODELS_FLEX)
		opts_usage("--batch is a tier of its own: it does not go with --tier flex");
	c->max_tokens = o->max_tokens;
	c->timeout_set = o->timeout_set;
	c->job_timeout_set = o->job_timeout_set;
	c->tier = o->tier;
	if (o->media_res && o->detail)
		opts_usage("--media-resolution is Gemini's, --detail OpenAI's: give one");
	c->res = o->media_res ? o->media_res : o->detail;
	c->res_opt = o->media_res ? "--media-resolution" : o->detail ? "--detail" : NULL;
}
