/* opts: the command line of the five vj commands.  One table of options
 * (opts.c) gives getopt_long its array, --help its text and every option
 * its check and its default.  Parsing only fills a struct opts; each
 * command's main turns it into the configuration of its stage, and checks
 * what only it knows (docs/vj-*.1 say the same). */
#ifndef VJ_OPTS_H
#define VJ_OPTS_H

struct stage_config;
struct model_config;

/* The run directory when neither -r nor VJ_RUN names one. */
#define OPTS_RUN_DEFAULT "./vj-run"

/* The commands, as bits: the ones an option is for. */
enum {
	CMD_INGEST = 1, CMD_ANALYZE = 2, CMD_GENERATE = 4, CMD_PACK = 8, CMD_STATUS = 16,
	CMD_REPORT = 32
};

/* What a command says of itself in --help, around its options. */
struct opts_cmd {
	const char *name;             /* "vj-ingest" */
	unsigned bit;                 /* CMD_* */
	const char *synopsis;         /* the "usage: ..." lines, as in its man page */
	const char *about;            /* what it does, in a few lines */
	const char *exits;            /* its exit statuses */
	int operands;                 /* takes FILE arguments */
};

/* The command line, as given or defaulted.  A choice (--fsync, --format,
 * --compress) is kept as the value of its enum (opts.c names them). */
struct opts {
	const char *run;
	int quiet, verbose;           /* -q given; -v count */
	/* the stages: vj-ingest, vj-analyze, vj-generate */
	long jobs, retries;
	double rpm, tpm, timeout, job_timeout, grace;
	double wait_retries;          /* --wait-retries; < 0: the job timeout */
	int timeout_set;              /* --timeout given */
	int wait_retries_set;         /* --wait-retries given */
	int fsync;                    /* enum jl_fsync (vj-pack too) */
	int pending;                  /* (vj-pack too) */
	int follow, retry_failed, repair;
	int progress;                 /* -1 auto, 0 off, 1 on (vj-pack too) */
	long heartbeat;               /* seconds; -1 the default (vj-pack too) */
	int log_format;               /* VJ_LOG_TEXT or VJ_LOG_JSON (vj-pack too) */
	/* the model stages */
	const char *provider, *model, *base_url, *api_key_env, *prompt_file, *prices;
	long max_tokens;              /* 0: the provider's */
	double max_cost;              /* < 0: none */
	const char *models;           /* --models, else $VJ_MODELS */
	long max_side, max_pixels;    /* vj-analyze: 0 full size */
	int estimate, off_peak, wait;
	int tier;                     /* enum models_tier: --tier */
	int media_res, detail;        /* enum models_res: --media-resolution, --detail */
	int job_timeout_set;          /* --job-timeout given */
	int batch, cancel_batches;    /* --batch, --cancel-batches (vj-status: --batches) */
	long batch_size;              /* 0: the provider's limit */
	double poll;                  /* --poll SEC */
	int batch_fallback;           /* enum batch_fallback */
	const char *batch_export, *batch_import;
	/* vj-ingest */
	const char *rejects;
	int strict;
	int replace;                  /* --replace */
	const char *forget, *forget_file;   /* --forget ID, --forget-file FILE */
	int part[2];                  /* --partition K/N; 0/0: none (auto: resolved by opts_parse) */
	long part_count, part_base;   /* --partition-count, --partition-base; -1: not given */
	char part_from[256];          /* what --partition auto read; "": not auto */
	long long max_bytes;
	int deny_private, no_local_files;
	const char *files_under;
	long per_host;                /* --per-host; 0: no cap */
	/* vj-pack */
	const char *out, *verify, *reindex;
	int merge;                    /* --merge: the operands are OUTs, -o the DEST */
	int format, compress;         /* enum shard_format, enum shard_compress */
	long level;                   /* 0: the compressor's default */
	long threads;                 /* 0: the number of CPUs */
	long shard_records;
	long long shard_bytes;
	int embed_images;
	int buffered;                 /* vj-pack --buffered: no O_DIRECT */
	/* vj-status */
	int json, watch, failed, check;
	int cost;                     /* vj-status --cost (also implied by --prices, --models) */
	const char *repair_stage;
	const char *job;              /* vj-status --job */
	const char *output;           /* vj-report --output */
	long samples;                 /* vj-report --samples */
	/* the operands */
	char **files;
	int nfiles;
};

/* Parse argv for cmd.  -h/--help prints the help and -V/--version the
 * version (exit 0); anything wrong is a usage error (exit 2). */
void opts_parse(struct opts *o, int argc, char **argv, const struct opts_cmd *cmd);
/* A usage error the command found: "PROG: why", the synopsis, exit 2. */
_Noreturn void opts_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The part of the command line the stage driver takes. */
void opts_stage_config(const struct opts *o, struct stage_config *c);
/* ... and what the model stages add to it. */
void opts_model_config(const struct opts *o, struct model_config *c);

#endif
