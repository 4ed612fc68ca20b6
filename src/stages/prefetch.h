/* prefetch: reads the images of a batch from the run's object store on a
 * thread of their own, ahead of the caller, each checked against its
 * sha256 name (used by pack.c while it writes a shard). */
#ifndef VJ_PREFETCH_H
#define VJ_PREFETCH_H

#include <stddef.h>

/* One image read: its bytes, or why not. */
struct prefetch_img {
	char *p;
	size_t len, cap;
	char *map;                   /* the file mapped: the bytes are here, not at p */
	int err;                     /* 0, or errno (EILSEQ: bytes not matching the hash) */
};

struct prefetch;
struct hashq;

/* Start reading images of the run directory run (which must outlive f)'s
 * object store, in the order prefetch_add names them (the names are
 * copied); more may be added while the first are read and taken.  hq:
 * where the images are hashed (shared with the shard's writer, so their
 * hashes pair up); NULL: a hashq of the reader's own. */
struct prefetch *prefetch_open(const char *run, struct hashq *hq);
void prefetch_add(struct prefetch *f, const char *sha);
/* Image i (i < the images added): 0 with *img set, or -1 with errno set
 * (EILSEQ: the bytes do not match the hash); *img is the caller's until prefetch_release(f, i).
 * Take them in order, releasing each when done with it. */
int prefetch_take(struct prefetch *f, size_t i, struct prefetch_img **img);
void prefetch_release(struct prefetch *f, size_t i);
/* Stop the reader and free everything; f may be NULL. */
void prefetch_end(struct prefetch *f);

#endif
