/* outlog: the log an output directory keeps of its own shards,
 * OUT/journal/out.log (docs/journal.md, "The output directory's log").
 *
 * Whoever seals a shard into OUT journals an intent here before the
 * rename: the shard's name, size and sha256, the id of the run that packs
 * it, a random seal id that the run's own pack journal repeats in its
 * shard event, and the offset that event will take there.  Once the run's
 * event is committed, a sealed record follows.  So a shard's owner is
 * proven by the shard's bytes, this log and the owner's journal together,
 * never guessed from index.json; and index.json can be rebuilt from this
 * log and the files at any time.  Also here: each run's completeness at
 * the end of its last vj-pack into OUT (runstate), which vj-pack --merge
 * reads, shard names, and index.json itself. */
#ifndef VJ_OUTLOG_H
#define VJ_OUTLOG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/journal.h"

#define OUTLOG_VERSION 1

/* A seal's state in the log. */
enum { OL_INTENT, OL_SEALED, OL_DROPPED };

struct outlog {
	const char *out;       /* OUT as given */
	struct journal *j;     /* open for writing (OUT is locked), or NULL */
	int exists;            /* the log file was there when read */
	json_t *seals;         /* seal id -> {"state": OL_*, "rec": the intent record} */
	json_t *order;         /* seal ids in the order of their intents */
	json_t *byname;        /* shard name -> [seal id, ...], in that order */
	json_t *runs;          /* run id -> its latest runstate record */
	json_t *where;         /* run id -> {"run_path", "run_rel"?}: where it was last */
	json_t *withdrawn;     /* seal id -> {job id: true}: jobs withdrawn from that shard */
	long newer;            /* the header names this newer format: refused */
};

/* Open OUT's log for writing (the caller holds OUT's lock) and replay it.
 * VJ_OK, or an exit status with err set. */
int outlog_open(struct outlog *l, const char *out, enum jl_fsync mode, char *err, size_t errlen);
/* Read it only (no lock, nothing written).  0, or -1 with err set. */
int outlog_read(struct outlog *l, const char *out, char *err, size_t errlen);
void outlog_close(struct outlog *l);
/* Append a record (borrowed) and fold it; outlog_commit makes the records
 * durable.  -1 with errno. */
int outlog_add(struct outlog *l, json_t *rec);
int outlog_commit(struct outlog *l);
const char *outlog_path(const struct outlog *l);

/* The log's record of a seal, or NULL; its state and intent record. */
json_t *outlog_seal(struct outlog *l, const char *seal, int *state);
/* The seals whose intents named this shard name (borrowed), or NULL. */
json_t *outlog_named(struct outlog *l, const char *name);
/* Append a drop record for a seal: its shard is not (or no longer) in OUT. */
int outlog_drop(struct outlog *l, const char *seal, const char *reason);
/* ... and a sealed record: the owner's shard event is committed. */
int outlog_sealed(struct outlog *l, const char *seal);

/* A withdraw record: jobs of a shard withdrawn (vj-ingest --forget), so
 * that index.json marks them; and whether one was recorded. */
int outlog_withdraw(struct outlog *l, const char *run_id, const char *seal, json_t *ids);
int outlog_is_withdrawn(struct outlog *l, const char *seal, const char *id);
/* Mark in index entries the samples readers skip: the ids of an entry's
 * shard that a later listed shard of the log supersedes (its intent's
 * "supersedes": a new version of the job), or that were withdrawn.  The
 * entry gets "superseded": [ids], sorted, and "withdrawn": those of them
 * that were withdrawn; nothing when there are none. */
void outlog_supersede(struct outlog *l, json_t *entries);

/* A name vj-pack gives a shard: "shard-" ["pKKofNN-"] 6 digits "." and a
 * known suffix.  0 with *num and *prefix (the length of the part before
 * the digits) set; -1 for any other name. */
int outlog_name(const char *name, long *num, size_t *prefix);
/* Is name safe to join to a directory: not empty, no '/', no ".."? */
int outlog_name_safe(const char *name);

/* to (absolute) relative to the directory from (absolute), both real paths. */
char *outlog_relpath(const char *from, const char *to);

/* The index entry of a seal's intent record; run_path: where its run is. */
json_t *outlog_entry(json_t *intent, const char *run_path);
/* Where the run was last, by the log: its real path, or NULL. */
const char *outlog_run_path(struct outlog *l, const char *run_id);

/* The shards of every run but skip_run (NULL: all) that OUT holds, as
 * index entries appended to entries.  A listed file that is gone gets a
 * drop record (with l open for writing); an unfinished seal of another run
 * is finished when that run's pack journal, found where the log last saw
 * it, has its event, else it is left unlisted (and named in unlisted).
 * Returns how many shards the log records that could not be listed. */
int outlog_listing(struct outlog *l, const char *out_real, const char *skip_run, json_t *entries,
    json_t *unlisted);

/* The "runs" summary of index.json for the runs of these entries (and
 * also_run, if any): id, path, partition, and the counts of its runstate. */
json_t *outlog_runs(struct outlog *l, json_t *entries, const char *also_run);
/* Take OUT/.vj-pack.lock (created with create; else a missing one is no
 * lock, *fd = -1): VJ_OK, VJ_ETEMP when another process holds it, or
 * VJ_EFATAL; reported. */
int outlog_lock(const char *out, int create, int *fd);
/* Entries of OUT's old index.json that no record of the log explains
 * (listed by vj 0.1, or the log was lost), but those of run_id (or of
 * run_real, in vj 0.1's entries): that run's journal decides for it. */
json_t *outlog_legacy(const char *out, struct outlog *l, const char *run_id, const char *run_real);
/* ... appended to index unless their file is gone (reported). */
void outlog_keep_legacy(const char *out, json_t *index, json_t *legacy);
/* Remove what an interrupted vj-pack left that is no shard (temp files);
 * name each shard file that neither index nor unlisted holds (and add it
 * to unlisted); present (if not NULL) gets every shard file's name. */
void outlog_scan(const char *out, json_t *index, json_t *unlisted, json_t *present);

/* Write OUT/index.json atomically: version, shards (sorted by name) and
 * runs.  0, or -1 with errno. */
int outlog_write_index(const char *out, json_t *entries, json_t *runs);

#endif
