/* vj-pack: pack finished jobs with their images into sealed shards (docs/vj-pack.1). */
#include "cmd/opts.h"
#include "stages/pack.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const struct opts_cmd cmd = {
	.name = "vj-pack", .bit = CMD_PACK, .operands = 1,
	.synopsis =
"usage: vj-pack [-qv] [-r RUN] -o OUT [--pending] [--format wds|jsonl]\n"
"               [--compress zstd|gzip|none] [--level N] [--threads N]\n"
"               [--shard-records N] [--shard-bytes SIZE] [--embed-images]\n"
"               [--buffered] [--fsync always|batch|never]\n"
"               [--progress | --no-progress]\n"
"               [--heartbeat SEC] [--log-format text|json] [FILE ...]\n"
"       vj-pack [-qv] --verify OUT\n"
"       vj-pack [-qv] --reindex OUT\n"
"       vj-pack [-qv] --merge OUT ... -o DEST\n"
"       vj-pack -h | -V\n",
	.about =
"Packs each job's record and image into compressed, checksummed shards\n"
"OUT/shard-NNNNNN.EXT, listed in OUT/index.json; each job once per OUT.\n"
"Records come from the FILEs (\"-\" is stdin, the default), or with\n"
"--pending from the run: every generated job not yet packed into OUT.\n"
"--merge checks that the OUTs of a partitioned run hold every part,\n"
"complete, each job once, every shard whole, and merges them into DEST.\n",
	.exits =
"Exit status: 0 ok, 1 some records left out (or --verify found bad shards,\n"
"--reindex could not list some, --merge refused), 2 usage, 3 fatal (corrupt\n"
"journal, disk full, a copy of a run packing into its original's OUT),\n"
"75 locked or interrupted.\n",
};

/* What only vj-pack checks, and what its defaults depend on. */
static void
pack_config(const struct opts *o, struct pack_cfg *c)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), t;
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	if (!o->out)
		opts_usage("-o OUT is required");
	if (o->embed_images && o->format != SF_JSONL)
		opts_usage("--embed-images is for --format jsonl (wds shards always hold the image)");
	if (o->compress == SC_GZIP && o->level > 9)
		opts_usage("--level: %ld is over 9, the highest for gzip", o->level);
	*c = (struct pack_cfg){
		.run = o->run, .out = o->out, .pending = o->pending, .files = o->files,
		.nfiles = o->nfiles, .shard_records = (uint64_t)o->shard_records,
		.shard_bytes = (uint64_t)o->shard_bytes, .embed_images = o->embed_images,
		.fsync = (enum jl_fsync)o->fsync,
		.progress = o->progress, .heartbeat = (int)o->heartbeat,
	};
	c->so.format = (enum shard_format)o->format;
	c->so.compress = (enum shard_compress)o->compress;
	c->so.level = o->level ? (int)o->level : o->compress == SC_GZIP ? 6 : 3;
	c->so.threads = o->threads ? (int)o->threads : ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
	c->so.sync = c->fsync != JL_FSYNC_NEVER;
	c->so.direct = !o->buffered;
	c->so.mtime = sde && parse_long(sde, 0, 077777777777L, &t) == 0 ? (time_t)t : 0;
}

/* The shard lines are what a pipeline reads: a failed write is an error. */
static int
close_stdout(int st)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		vj_warn("error writing output:");
		if (st == VJ_OK || st == VJ_EFAILED)
			st = VJ_EFATAL;
	}
	return st;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct pack_cfg c;

	opts_parse(&o, argc, argv, &cmd);
	if ((o.verify != NULL) + (o.reindex != NULL) + o.merge > 1)
		opts_usage("--verify, --reindex and --merge go alone");
	if (o.verify || o.reindex) {
		if (o.nfiles || o.out || o.pending)
			opts_usage("--%s takes only the output directory", o.verify ? "verify" : "reindex");
		return o.verify ? pack_verify(o.verify) : pack_reindex(o.reindex, (enum jl_fsync)o.fsync);
	}
	if (o.merge) {
		if (!o.out)
			opts_usage("--merge needs -o DEST, the directory to merge into");
		if (!o.nfiles)
			opts_usage("--merge needs the output directories to merge");
		if (o.pending)
			opts_usage("--merge takes output directories, not --pending");
		return close_stdout(pack_merge(o.files, o.nfiles, o.out, (enum jl_fsync)o.fsync));
	}
	pack_config(&o, &c);
	return close_stdout(pack_run(&c));
}
