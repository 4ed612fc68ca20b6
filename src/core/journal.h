/* journal: one append-only, self-checking log per stage; the run's queue.
 *
 * A line is "<crc32c of JSON, 8 lowercase hex> <compact JSON>\n".  One writer
 * per stage, held by an exclusive lock for the life of the process; any number
 * of readers, which never modify a journal they do not own (docs/journal.md). */
#ifndef VJ_JOURNAL_H
#define VJ_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum jl_fsync { JL_FSYNC_BATCH = 0, JL_FSYNC_ALWAYS, JL_FSYNC_NEVER };

/* Called for each valid line in order: the JSON text (not NUL-terminated),
 * and the byte offset where its line starts.  Return non-zero to stop. */
typedef int (*jl_cb)(void *ctx, const char *json, size_t len, uint64_t off);

struct journal;

/* Open STAGE's journal in RUN for writing: create RUN/journal/, take the lock
 * (held until journal_close or exit), repair a torn last line (saving it aside
 * with a warning), and replay every line through cb.  Returns VJ_OK, or
 * VJ_ETEMP when another process holds the lock, VJ_EFATAL on corruption or an
 * I/O error; err says which file, pid or offset.  With repair set, corruption
 * before the last line is cut off after the file is backed up. */
int journal_open(struct journal **jp, const char *run, const char *stage,
    enum jl_fsync mode, int repair, jl_cb cb, void *ctx, char *err, size_t errlen);

/* The same, replaying from the offset start returns rather than from 0:
 * start is called once the lock is held, with the journal's descriptor
 * and size, and returns where a checkpoint of the caller's fold ends (a
 * line boundary, at most size; 0 replays everything). */
typedef uint64_t (*jl_start)(void *ctx, int fd, uint64_t size);
int journal_open_at(struct journal **jp, const char *run, const char *stage,
    enum jl_fsync mode, int repair, jl_start start, jl_cb cb, void *ctx, char *err, size_t errlen);

/* Queue one event (compact JSON, no newline inside); *off gets its offset.
 * Nothing is durable until journal_commit.  -1 on error (errno). */
int journal_append(struct journal *j, const char *json, size_t len, uint64_t *off);
/* Write what is queued and fsync it (per mode): group commit.  Call before
 * passing any result downstream.  -1 on error: the journal is left at its
 * last good length. */
int journal_commit(struct journal *j);
/* The same for the first n bytes queued only (a line boundary: what
 * journal_pending said at some moment); the rest stays queued. */
int journal_commit_upto(struct journal *j, size_t n);
size_t journal_pending(const struct journal *j);
const char *journal_path(const struct journal *j);
uint64_t journal_size(const struct journal *j);   /* bytes written, pending ones included */
/* Read back a line this writer appended (pending or written). */
json_t *journal_get(struct journal *j, uint64_t off);
int journal_close(struct journal *j);   /* commits, unlocks; -1 if the commit failed */
void journal_abandon(struct journal *j);  /* unlocks, dropping what was not written */

/* Who holds STAGE's lock in RUN: its pid, or 0 when nobody does. */
long journal_holder(const char *run, const char *stage);

/* Incremental reader of another stage's journal. */
struct jreader;
struct jreader *jreader_open(const char *run, const char *stage);
/* Read the complete, valid lines appended since the last call; an incomplete
 * or not-yet-valid last line is left for next time (its writer may be in the
 * middle of it).  0 ok, -1 corruption or I/O error (err names file:offset). */
int jreader_poll(struct jreader *r, jl_cb cb, void *ctx, char *err, size_t errlen);
/* Read and parse the line at off (from a reader's file). */
json_t *jreader_get(struct jreader *r, uint64_t off);
const char *jreader_path(const struct jreader *r);
/* Where the next poll starts; set it to skip what a checkpoint covers. */
uint64_t jreader_offset(const struct jreader *r);
void jreader_seek(struct jreader *r, uint64_t off);
void jreader_close(struct jreader *r);

/* Check one line (len bytes up to, not including, its newline): framing
 * and crc.  0 good, -1 bad.  The only line check; replay and readers use it. */
int journal_check_line(const char *line, size_t len);
/* Verify every line of a journal file: 0 good; else -1, *bad_off set. */
int journal_verify(const char *path, uint64_t *nlines, uint64_t *bad_off, char *err, size_t errlen);
/* Records whose checksum is right but whose text is not JSON: how many, and
 * the byte offset of the first.  0, or -1 with errno. */
int journal_notjson(const char *path, uint64_t *count, uint64_t *first);
/* How many valid lines follow the bad line at off in path: 0 for a torn
 * last write, else corruption in the middle (vj-status --check). */
uint64_t journal_valid_after(const char *path, uint64_t off);

#endif
