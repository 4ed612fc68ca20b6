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
