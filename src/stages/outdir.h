/* outdir: one output directory (OUT) of vj-pack as the pack stage sees it:
 * its lock (one writer at a time), its own log (stages/outlog.h), the
 * shards this run's pack journal records in it and which jobs they hold,
 * OUT/index.json, and the repairs made when it is opened.  OUT knows runs
 * by their id (core/runid.h), not by their path.  docs/index-json.md. */
#ifndef VJ_OUTDIR_H
#define VJ_OUTDIR_H

#include <stdint.h>
#include "core/journal.h"
#include "core/run.h"
#include "core/runid.h"
#include "core/shard.h"
#include "stages/outlog.h"

/* A job's state in this OUT only: packing into another OUT is independent.
 * QUEUED is the packer's: in the batch it is sealing, not yet packed. */
enum { OUTDIR_UNPACKED, OUTDIR_QUEUED, OUTDIR_PACKED };

/* Who opens OUT: the run, as the packer knows it. */
struct outdir_run {
	struct run *r;            /* the caller's, owning the pack journal */
	const char *dir;          /* the run directory, as given */
	const char *id;           /* its id (run.json) */
	int part_k, part_n;       /* its partition (partition.json); 0/0: none */
	enum jl_fsync fsync;
	int pending;              /* --pending: lost jobs are packed again by this run */
};

struct outdir {
	const char *out;     /* as given */
	char *out_real;
	struct outdir_run who;
	char *run_real;
	char *run_rel;       /* the run's path from OUT */
	char prefix[40];     /* shard names: "shard-" or "shard-pKKofNN-" */
	int lockfd;
	uint8_t *seen;       /* by job slot: OUTDIR_* */
	uint64_t *pkey;      /* by job slot: low half of the generate key it was packed with; 0 unknown */
	uint32_t *pseal;     /* by job slot: 1 + the index in sealv of the shard holding it; 0 none */
	size_t nseen;
	json_t *sealv;       /* the seal ids pseal numbers */
	struct outlog log;
	json_t *index;       /* array of index entries */
	json_t *ours;        /* name -> {"seal", "off", "t"}: this run's shards in OUT */
	json_t *jseals;      /* seal -> [offset, live]: every shard event of the pack journal */
	json_t *legacy;      /* "OUT\nNAME" -> the seal of a vj 0.1 event (it had none) */
	json_t *unlisted;    /* names of OUT left out of the index, already reported */
	struct jreader *jr;  /* the pack journal, read at start */
	uint64_t jlen;       /* its length then */
	const char *refuse;  /* why OUT cannot be packed into by this run, once found */
	char why[2048];
	unsigned next;       /* number of the next shard */
};

/* Create OUT (as given) if need be and find its real path.  VJ_OK, or
 * VJ_EFATAL reported.  Call first: outdir_close is safe after it. */
int outdir_init(struct outdir *o, const char *out);
/* Lock OUT and load its state from its log and the run's pack journal
 * (the run has run_own'ed ST_PACK): refuse a second run with the same id,
 * finish or remove what an interrupted seal left, journal an unshard event
 * for each lost shard, keep other runs' shards, rewrite index.json.  An
 * exit status (enum vj_exit), reported. */
int outdir_open(struct outdir *o, const struct outdir_run *who);
/* At the end of a vj-pack: the run's jobs (packed here, failed for good,
 * pending, retryable) recorded in OUT's log and index.json. */
int outdir_finish(struct outdir *o);
void outdir_close(struct outdir *o);

/* The state of the job in slot (or with id) in this OUT, to read or set. */
uint8_t *outdir_seen(struct outdir *o, int64_t slot);
uint8_t *outdir_seen_id(struct outdir *o, const char *id);

/* The packed version of the job in slot: the low half of its generate
 * key (0: unknown, a shard event of vj 0.1) and the seal of its shard
 * (NULL: none). */
uint64_t outdir_packed_key(struct outdir *o, int64_t slot);
const char *outdir_packed_seal(struct outdir *o, int64_t slot);
/* Jobs withdrawn from the run (vj-ingest --forget) that a shard of this
 * run in OUT holds: recorded in OUT's log (index.json marks them), and no
 * longer counted packed.  -1 when OUT's log cannot be written. */
int outdir_withdraw(struct outdir *o);
/* Is the version of the job packed here (OUTDIR_PACKED) its current one?
 * Yes too when it cannot be told (no key journaled, a job the run's
 * journals do not hold). */
int outdir_live(struct outdir *o, uint32_t slot);

/* File names for the next shard: its name in OUT ("shard-000012.tar.zst",
 * "shard-p03of08-000012.tar.zst"), and the temp file to write it in first. */
char *outdir_shard_name(const struct outdir *o, const struct shard_opts *so);
char *outdir_temp_path(const struct outdir *o);
/* A shard is written and synced to tmp: journal its intent in OUT's log,
 * rename it to name, sync OUT, journal it in the run (ids: its jobs), mark
 * its jobs packed, record it sealed and rewrite index.json.  -1 when the
 * run must stop (reported); *entry is set, to be printed and freed by the
 * caller, once the shard is journaled. */
/* keys: each job's generate key (parallel to ids); supersedes: old seal ->
 * [ids] of this run's shards that hold an older version of a job of this
 * one (recorded in its intent; may be empty). */
int outdir_commit(struct outdir *o, const char *tmp, const char *name, json_t *ids, json_t *keys,
    json_t *supersedes, uint64_t bytes, const char *sha, const struct shard_opts *so,
    json_t **entry);

#endif
