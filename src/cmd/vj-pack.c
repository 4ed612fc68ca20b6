/* vj-pack: pack finished jobs with their images into sealed shards. */
#include "stages/pack.h"
#include "base/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
"usage: vj-pack [-qv] [-r RUN] -o OUT [--pending] [--format wds|jsonl]\n"
"               [--compress zstd|gzip|none] [--level N] [--threads N]\n"
"               [--shard-records N] [--shard-bytes SIZE] [--embed-images]\n"
"               [--fsync always|batch|never] [FILE ...]\n"
"       vj-pack [-qv] --verify OUT\n"
"\n"
"Packs each job's record and image into compressed, checksummed shards\n"
"OUT/shard-NNNNNN.EXT, listed in OUT/index.json; each job once per OUT.\n"
"Records come from the FILEs (\"-\" is stdin, the default), or with\n"
"--pending from the run: every generated job not yet packed into OUT.\n"
"\n"
"  -r, --run DIR          the run directory (env VJ_RUN, default ./vj-run)\n"
"  -o, --out DIR          the output directory (required)\n"
"      --pending          pack what the run has generated and OUT lacks\n"
"      --format F         wds (tar: KEY.json, KEY.<ext>, KEY.txt) or jsonl; default wds\n"
"      --compress C       zstd, gzip or none; default zstd\n"
"      --level N          compression level (zstd 1-19, default 3; gzip 1-9, default 6)\n"
"      --threads N        zstd workers (the output is the same for any N); default: CPUs\n"
"      --shard-records N  seal a shard at N records (default 10000)\n"
"      --shard-bytes SIZE ... or at SIZE uncompressed bytes (default 1G)\n"
"      --embed-images     jsonl: the image bytes inline as base64\n"
"      --fsync MODE       always, batch (default) or never\n"
"      --verify OUT       check every shard of OUT against its index.json\n"
"  -q, --quiet            errors only\n"
"  -v, --verbose          more messages (repeatable)\n"
"      --help, --version\n"
"\n"
"Exit status: 0 ok, 1 some records left out (or --verify found bad shards),\n"
"2 usage, 3 fatal (corrupt journal, disk full), 75 locked or interrupted.\n";

enum { O_PENDING = 256, O_FORMAT, O_COMPRESS, O_LEVEL, O_THREADS, O_RECORDS, O_BYTES,
	O_EMBED, O_FSYNC, O_VERIFY, O_HELP, O_VERSION };

static const struct option longopts[] = {
	{ "run", required_argument, NULL, 'r' },
	{ "out", required_argument, NULL, 'o' },
	{ "pending", no_argument, NULL, O_PENDING },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "compress", required_argument, NULL, O_COMPRESS },
	{ "level", required_argument, NULL, O_LEVEL },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "shard-records", required_argument, NULL, O_RECORDS },
	{ "shard-bytes", required_argument, NULL, O_BYTES },
	{ "embed-images", no_argument, NULL, O_EMBED },
	{ "fsync", required_argument, NULL, O_FSYNC },
	{ "verify", required_argument, NULL, O_VERIFY },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

_Noreturn static void
usage(const char *why)
{
	if (why)
		vj_msg("%s", why);
	fputs(usage_text, stderr);
	exit(VJ_EUSAGE);
}

static int
pick(const char *arg, const char *const *names, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (strcmp(arg, names[i]) == 0)
			return i;
	vj_msg("bad %s '%s'", what, arg);
	usage(NULL);
}

static long
number(const char *arg, long lo, long hi, const char *what)
{
	long v;
	if (parse_long(arg, lo, hi, &v) < 0) {
		vj_msg("bad %s '%s' (%ld..%ld)", what, arg, lo, hi);
		usage(NULL);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const char *const fsyncs[] = { "batch", "always", "never" };
	struct pack_cfg c = { 0 };
	const char *verify = NULL;
	long level = -1, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ch;

	vj_setprog(argv[0]);
	c.run = getenv("VJ_RUN") && *getenv("VJ_RUN") ? getenv("VJ_RUN") : "vj-run";
	c.so.threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	c.shard_records = 10000;
	c.shard_bytes = (uint64_t)1 << 30;
	c.fsync = JL_FSYNC_BATCH;
	while ((ch = getopt_long(argc, argv, "r:o:qv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': c.run = optarg; break;
		case 'o': c.out = optarg; break;
		case 'q': vj_verbose = -1; break;
		case 'v': vj_verbose++; break;
		case O_PENDING: c.pending = 1; break;
		case O_FORMAT: c.so.format = pick(optarg, shard_format_name, 2, "--format"); break;
		case O_COMPRESS: c.so.compress = pick(optarg, shard_compress_name, 3, "--compress"); break;
		case O_LEVEL: level = number(optarg, 1, 19, "--level"); break;
		case O_THREADS: c.so.threads = (int)number(optarg, 1, 256, "--threads"); break;
		case O_RECORDS: c.shard_records = (uint64_t)number(optarg, 1, 100000000, "--shard-records"); break;
		case O_BYTES: {
			int64_t v = parse_size(optarg);
			if (v < 1)
				usage("bad --shard-bytes (a size such as 512M or 1G)");
			c.shard_bytes = (uint64_t)v;
			break;
		}
		case O_EMBED: c.embed_images = 1; break;
		case O_FSYNC: c.fsync = pick(optarg, fsyncs, 3, "--fsync"); break;
		case O_VERIFY: verify = optarg; break;
		case O_HELP: fputs(usage_text, stdout); return VJ_OK;
		case O_VERSION: printf("vj-pack %s\n", VJ_VERSION); return VJ_OK;
		default: usage(NULL);
		}
	}
	if (verify) {
		if (optind < argc || c.out || c.pending)
			usage("--verify takes only the output directory");
		return pack_verify(verify);
	}
	if (!c.out)
		usage("-o OUT is required");
	if (c.pending && optind < argc)
		usage("--pending packs from the run: no FILE arguments");
	if (c.embed_images && c.so.format != SF_JSONL)
		usage("--embed-images is for --format jsonl (wds shards always hold the image)");
	if (c.so.compress == SC_GZIP && level > 9)
		usage("bad --level for gzip (1..9)");
	c.so.level = level > 0 ? (int)level : c.so.compress == SC_GZIP ? 6 : 3;
	c.so.sync = c.fsync != JL_FSYNC_NEVER;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	long t;
	c.so.mtime = sde && parse_long(sde, 0, 077777777777L, &t) == 0 ? (time_t)t : 0;
	c.files = argv + optind;
	c.nfiles = argc - optind;
	int st = pack_run(&c);
	/* the shard lines are what a pipeline reads: a failed write is an error */
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		vj_warn("error writing output:");
		if (st == VJ_OK || st == VJ_EFAILED)
			st = VJ_EFATAL;
	}
	return st;
}
