/* shard: one compressed archive file of samples, written reproducibly.
 *
 * A shard is a ustar/pax tar (WebDataset: KEY.json, KEY.<ext>, KEY.txt per
 * sample) or a JSON-lines file, compressed with zstd, gzip or nothing.  The
 * bytes depend only on the samples and the compression settings: never on
 * the time, the user, or the number of zstd workers (docs/vj-pack.1). */
#ifndef VJ_SHARD_H
#define VJ_SHARD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum shard_format { SF_WDS, SF_JSONL };
enum shard_compress { SC_ZSTD, SC_GZIP, SC_NONE };

struct hashq;

struct shard_opts {
	enum shard_format format;
	enum shard_compress compress;
	int level;          /* zstd 1..19, gzip 1..9 */
	int threads;        /* zstd workers, >= 1 */
	time_t mtime;       /* tar header time (SOURCE_DATE_EPOCH or 0) */
	int sync;           /* fsync the file before shard_finish returns */
	int direct;         /* write with O_DIRECT where the file system allows */
	struct hashq *hq;   /* hashes the output (NULL: a thread of the shard's own) */
};

/* One member of a wds sample: KEY.ext with these bytes. */
struct shard_member {
	const char *ext;
	const void *p;
	size_t len;
};

struct shard;

extern const char *const shard_format_name[];
extern const char *const shard_compress_name[];

/* "tar.zst", "jsonl.gz", "tar" ...: the file name suffix for these options. */
const char *shard_suffix(const struct shard_opts *o);
/* Bytes a wds sample takes in the tar stream, before compression: what
 * --shard-bytes is counted in (deterministic, unlike compressed sizes). */
uint64_t shard_sample_size(const struct shard_member *m, int n, size_t keylen);

/* Create path (exclusively) and start the stream.  NULL with err set. */
struct shard *shard_create(const char *path, const struct shard_opts *o, char *err, size_t errlen);
/* Add a wds sample (n members) or, for jsonl, one line (m[0] only).
 * 0 ok, -1 with err set (and errno kept: ENOSPC, EIO ...). */
int shard_add(struct shard *s, const char *key, const struct shard_member *m, int n,
    char *err, size_t errlen);
/* End the stream, flush, fsync (per opts) and close.  sha_out gets the
 * file's sha256, *bytes its size.  The shard is freed either way. */
int shard_finish(struct shard *s, char sha_out[65], uint64_t *bytes, char *err, size_t errlen);
/* Give up: close and unlink the file, free the shard. */
void shard_abort(struct shard *s);

/* Read a whole shard back (every member or line) and count its records.
 * 0 good, -1 with err saying what is wrong. */
int shard_read_check(const char *path, enum shard_format f, uint64_t *records,
    char *err, size_t errlen);
/* The same, telling on_id each record's key (wds: the member name before
 * its first dot, of each .json member; jsonl: the "id" of each line, or an
 * empty key for a line without one).  Keys are not NUL-terminated. */
int shard_read_ids(const char *path, enum shard_format f, uint64_t *records,
    void (*on_id)(void *ctx, const char *key, size_t len), void *ctx, char *err, size_t errlen);

#endif
