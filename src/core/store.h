/* store: the run's content-addressed object store, RUN/objects/ab/cdef...:
 * image bytes kept once by sha256, never half-written. */
#ifndef VJ_STORE_H
#define VJ_STORE_H

#include <stddef.h>

/* Path of an object (malloc'd). */
char *store_path(const char *run, const char *sha256);
/* Store bytes: tmp + fsync + rename + fsync dir; a present object is kept
 * when its bytes match its name, replaced when they do not.
 * sha_out gets the hex digest.  0 ok, -1 with errno. */
int store_put(const char *run, const void *p, size_t n, char sha_out[65]);

/* Objects made durable in groups, as the journal's events are (docs/design.md,
 * "Objects").  store_add writes a temporary and starts its writeback;
 * store_sync makes everything added since the last sync durable: one sweep
 * of fdatasync over the temporaries, the renames, one fsync per directory
 * touched.  THE INVARIANT: a caller journals a job that names an object only
 * after a store_sync that covered the object returned 0 (vj-ingest calls it
 * just before each journal commit). */
struct store_batch;
/* A batch that syncs by itself once it holds max_n objects or max_bytes
 * (max_n 1: each object on its own, as store_put).  nosync: write and
 * rename, never fsync (--fsync never). */
struct store_batch *store_batch_new(const char *run, int max_n, size_t max_bytes, int nosync);
/* Hash and write bytes, not yet durable; a present good object, or one
 * already in the batch, is not written again.  sha_out gets the digest.
 * 0 ok, -1 with errno (this object, or a sync it set off, failed). */
int store_add(struct store_batch *b, const void *p, size_t n, char sha_out[65]);
/* Make every object added so far durable.  0 ok; -1 with errno, and then
 * none of them may be journaled (the temporaries not renamed are removed):
 * the batch stays failed, every later store_add and store_sync fails too. */
int store_sync(struct store_batch *b);
/* The same, in two steps: wait until the objects added before the last
 * store_sync_start are durable (0, or -1 as store_sync), then hand those
 * added since to a thread of the store's own, which syncs them while the
 * caller goes on receiving.  A group that fills (max_n, max_bytes) is handed
 * over the same way.  So after this returns 0, what was added before the
 * previous call is durable; what was added since is not yet.  Without
 * wait, 1 when the group before is still being synced: nothing changed,
 * call again later. */
int store_sync_start(struct store_batch *b, int wait);
int store_batch_count(const struct store_batch *b);      /* added, not yet known durable */
void store_batch_free(struct store_batch *b);             /* unsynced temporaries removed */

/* Read an object back, checking it against its name.  NULL with errno
 * (EILSEQ when the bytes do not match their hash). */
char *store_get(const char *run, const char *sha256, size_t *len);
/* 1 when the object exists and its size is n (cheap check). */
int store_has(const char *run, const char *sha256, size_t n);

/* Remove temporaries a crashed writer left (call with the ingest lock held):
 * only regular files named like store_put's own. */
void store_clean(const char *run);
/* For the writer, with the ingest lock held: create or check objects/ and
 * objects/.tmp (real directories of this user), then store_clean.  0 ok,
 * -1 with a message in err. */
int store_open(const char *run, char *err, size_t errlen);

#endif
