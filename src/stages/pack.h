/* pack: the pack stage.  Packs finished jobs with their images into sealed,
 * checksummed shards in an output directory, each job exactly once per
 * output directory, recorded in the run's pack journal (docs/vj-pack.1,
 * docs/index-json.md). */
#ifndef VJ_PACK_H
#define VJ_PACK_H

#include <stdint.h>
#include "core/journal.h"
#include "core/shard.h"

struct pack_cfg {
	const char *run;            /* run directory */
	const char *out;            /* output directory, as given */
	int pending;                /* pack every generated, unpacked job of the run */
	char **files;               /* record files ("-" is stdin); none: stdin */
	int nfiles;
	struct shard_opts so;
	uint64_t shard_records;     /* seal after this many records */
	uint64_t shard_bytes;       /* ... or this many uncompressed bytes */
	int embed_images;           /* jsonl: image bytes inline, base64 */
	enum jl_fsync fsync;
	int progress, heartbeat;    /* as struct progress_opts (stages/progress.h) */
};

/* Pack; returns an exit status (enum vj_exit). */
int pack_run(const struct pack_cfg *c);
/* vj-pack --verify (packverify.c): check every shard listed in
 * OUT/index.json, and that OUT holds no shard file it does not list; 0 all
 * good, 1 some bad. */
int pack_verify(const char *out);
/* vj-pack --reindex OUT (outlog.c): rebuild OUT/index.json from OUT's log
 * and files. */
int pack_reindex(const char *out, enum jl_fsync fsync);
/* vj-pack --merge OUT... -o DEST (merge.c): the parts of a partitioned run
 * into one dataset, once every check passed; an exit status. */
int pack_merge(char **outs, int nouts, const char *dest, enum jl_fsync fsync);

#endif
