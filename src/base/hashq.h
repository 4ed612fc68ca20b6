/* hashq: a thread that hashes pieces of byte streams for other threads,
 * pairing pieces of two streams to hash them together (sha256_update2). */
#ifndef VJ_HASHQ_H
#define VJ_HASHQ_H

#include "base/hash.h"

#include <stddef.h>

struct hashq;
typedef void (*hashq_done)(void *arg);

/* NULL when no thread can be started: hashq_put then hashes in line. */
struct hashq *hashq_new(void);
/* Hash p[0, n) into c, after every piece queued before for c, then call
 * done(arg) (may be NULL) on the hashing thread, with no lock of the
 * queue's held.  p and c stay the caller's to keep valid until then; a
 * stream's pieces are done in the order they were put. */
void hashq_put(struct hashq *q, struct sha256_ctx *c, const void *p, size_t n, hashq_done done,
    void *arg);
/* Hash what is queued, call its done callbacks, stop the thread; q may be NULL. */
void hashq_free(struct hashq *q);

#endif
