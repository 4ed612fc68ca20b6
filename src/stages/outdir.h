/* outdir: one output directory (OUT) of vj-pack as the pack stage sees it:
 * its lock (one writer at a time), the shards the run's pack journal
 * records in it and which jobs they hold, OUT/index.json, and the repairs
 * made when it is opened (lost shards forgotten, other runs' shards kept,
 * what an interrupted seal left removed).  docs/index-json.md. */
#ifndef VJ_OUTDIR_H
#define VJ_OUTDIR_H

#include <stdint.h>
#include "core/journal.h"
#include "core/run.h"
#include "core/shard.h"

/* A job's state in this OUT only: packing into another OUT is independent.
 * QUEUED is the packer's: in the batch it is sealing, not yet packed. */
enum { OUTDIR_UNPACKED, OUTDIR_QUEUED, OUTDIR_PACKED };

struct outdir {
	const char *out;     /* as given */
	char *out_real;
	const char *run;     /* the run directory, as given */
	char *run_real;
	struct run *r;       /* the caller's, owning the pack journal */
	enum jl_fsync fsync;
	int pending;         /* --pending: lost jobs are packed again by this run */
	int lockfd;
	uint8_t *seen;       /* by job slot: OUTDIR_* */
	size_t nseen;
	json_t *index;       /* array of index entries, by name */
	json_t *where;       /* name -> [offset, t] of the shard event of each of our entries */
	struct jreader *jr;  /* the pack journal, read at start */
	unsigned next;       /* number of the next shard */
};

/* Create OUT (as given) if need be and find its real path.  VJ_OK, or
 * VJ_EFATAL reported.  Call first: outdir_close is safe after it. */
int outdir_init(struct outdir *o, const char *out);
/* Lock OUT and load its state from r's pack journal (r has run_own'ed
 * ST_PACK): journal an unshard event for each lost shard, keep other
 * runs' entries, remove debris, rewrite index.json.  An exit status
 * (enum vj_exit), reported. */
int outdir_open(struct outdir *o, struct run *r, const char *run, enum jl_fsync fsync,
    int pending);
void outdir_close(struct outdir *o);

/* The state of the job in slot (or with id) in this OUT, to read or set. */
uint8_t *outdir_seen(struct outdir *o, int64_t slot);
uint8_t *outdir_seen_id(struct outdir *o, const char *id);

/* File names for the next shard: its name in OUT ("shard-000012.tar.zst"),
 * and the path of the temp file to write it in first. */
char *outdir_shard_name(const struct outdir *o, const struct shard_opts *so);
char *outdir_temp_path(const struct outdir *o);
/* A shard is written and synced to tmp: rename it to name, sync OUT,
 * journal it (ids: its jobs), mark its jobs packed and rewrite index.json.
 * -1 when the run must stop (reported); *entry is set, to be printed and
 * freed by the caller, once the shard is journaled. */
int outdir_commit(struct outdir *o, const char *tmp, const char *name, json_t *ids,
    uint64_t bytes, const char *sha, const struct shard_opts *so, json_t **entry);

#endif
