/* prefetch: the images of a batch are read and their hashes checked on a
 * thread of their own, a few samples ahead of the main thread, which frames
 * and compresses them meanwhile.  The reader touches no JSON and reports
 * nothing: a job's problem is reported by the main thread, in order, when
 * it takes that job's image.
 *
 * An object of 64 KiB or more is mapped rather than read: the hash and the
 * compressor then read the page cache itself, and the kernel copies
 * nothing (on this project's benchmark VM that copy was a third of the
 * reader's time).  The hashes are computed by a hashq (base/hashq.c),
 * the caller's (shared with the shard's own hash, so that the two pair up)
 * or one of our own, which pairs the images with one another.  A
 * mapped object that another process truncates while it is packed kills
 * vj-pack with SIGBUS before the shard is committed (docs/security.md):
 * objects are read-only files of a run directory only its owner writes. */
#include "stages/prefetch.h"
#include "base/hash.h"
#include "base/hashq.h"
#include "base/util.h"
#include "core/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read ahead: up to this many images, or bytes.  Far enough ahead that
 * the hashing thread has images to pair with the shard's output, which
 * comes in bursts of a zstd job (8 MiB); at 64 images half the hashing
 * was done alone. */
#define PREFETCH_DEPTH 256
#define PREFETCH_AHEAD (64u << 20)
#define PREFETCH_KEEP (8u << 20)        /* a bigger buffer is not kept for reuse */
#define PREFETCH_MAP (64u << 10)        /* a file this big is mapped, not read */

/* An image's hash being computed on the hashq. */
struct check {
	struct prefetch *f;
	size_t slot;
	struct sha256_ctx *c;
	char want[65];
};

struct prefetch {
	const char *run;
	struct hashq *hq, *own_hq;   /* own_hq: ours to free */
	struct check chk[PREFETCH_DEPTH];
	int ready[PREFETCH_DEPTH];   /* slot read and checked (under mu) */
	size_t nput, nchecked;       /* hashes asked for and done (under mu) */
	char (*sha)[65];             /* the images to read, in order (under mu) */
	size_t n, cap;
	size_t nread;                /* images read (slots filled) */
	size_t nfree;                /* images taken and released by the main thread */
	uint64_t ahead;              /* bytes of the images read and not released */
	int stop;
	int rwait, mwait;            /* the reader / the main thread is waiting */
	struct prefetch_img slot[PREFETCH_DEPTH];
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void
unmap(struct prefetch_img *sl)
{
	if (sl->map) {
		munmap(sl->map, sl->len);
		sl->map = NULL;
	}
}

static const char *
bytes_of(const struct prefetch_img *sl)
{
	return sl->map ? sl->map : sl->p;
}

/* Read an object into sl (mapped, when it is big enough for that to save
 * the copy), not yet checked. */
static void
read_one(const char *run, const char *sha, struct prefetch_img *sl)
{
	char *path = store_path(run, sha);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	free(path);
	unmap(sl);   /* before len is reset: the mapping's length is len */
	sl->len = 0;
	sl->err = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		sl->err = errno;
		if (fd >= 0)
			close(fd);
		return;
	}
	if (S_ISREG(st.st_mode) && st.st_size >= PREFETCH_MAP && (uint64_t)st.st_size < SIZE_MAX / 2) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (m != MAP_FAILED) {
			close(fd);
			sl->map = m;
			sl->len = (size_t)st.st_size;
			return;
		}
	}
	size_t want = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	for (;;) {
		if (sl->cap < want) {
			free(sl->p);
			sl->cap = want;
			sl->p = xmalloc(sl->cap);
		}
		ssize_t r = read(fd, sl->p + sl->len, sl->cap - sl->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sl->err = errno;
			break;
		}
		if (r == 0)
			break;
		sl->len += (size_t)r;
		if (sl->len == sl->cap) {   /* it grew since the fstat */
			char *np = xmalloc(sl->cap * 2);
			memcpy(np, sl->p, sl->len);
			free(sl->p);
			sl->p = np;
			sl->cap *= 2;
			want = sl->cap;
		}
	}
	close(fd);
}

/* The hashq's callback: an image hashed; compare, and hand it over. */
static void
checked(void *arg)
{
	struct check *k = arg;
	struct prefetch *f = k->f;
	char got[65];
	sha256_final(k->c, got);
	k->c = NULL;
	if (strcmp(got, k->want) != 0)
		f->slot[k->slot].err = EILSEQ;
	pthread_mutex_lock(&f->mu);
	f->ready[k->slot] = 1;
	f->nchecked++;
	if (f->mwait)
		pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Read image i into its slot and have it hashed; nread = i + 1 after. */
static void
fill(struct prefetch *f, size_t i, const char *sha)
{
	size_t s = i % PREFETCH_DEPTH;
	struct prefetch_img *sl = &f->slot[s];
	pthread_mutex_lock(&f->mu);
	f->ready[s] = 0;
	pthread_mutex_unlock(&f->mu);
	read_one(f->run, sha, sl);
	int hash = !sl->err;
	pthread_mutex_lock(&f->mu);
	f->nread = i + 1;
	f->ahead += sl->len;
	if (hash)
		f->nput++;
	else
		f->ready[s] = 1;
	if (f->mwait)
		pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (hash) {
		struct check *k = &f->chk[s];
		k->f = f;
		k->slot = s;
		k->c = sha256_new();
		snprintf(k->want, sizeof k->want, "%s", sha);
		hashq_put(f->hq, k->c, bytes_of(sl), sl->len, checked, k);
	}
}

/* The ring, with the reader at image i, is too full to go on from the
 * wait that a full ring started: half of it must be free again. */
static int
room_short(const struct prefetch *f, size_t i)
{
	return i + 1 - f->nfree > PREFETCH_DEPTH / 2 ||
	    (f->ahead > PREFETCH_AHEAD / 2 && i > f->nfree);
}

/* Wake-ups cost (a futex and, in a VM, an interrupt to the other CPU):
 * the reader, once the ring is full, sleeps until half of it is free, and
 * either side signals only when the other one sleeps. */
static void *
prefetch_main(void *arg)
{
	struct prefetch *f = arg;
	char sha[65];
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0;;) {
		/* an image to read and room for it */
		int full = i + 1 - f->nfree > PREFETCH_DEPTH ||
		    (f->ahead > PREFETCH_AHEAD && i > f->nfree);
		if (f->stop)
			break;
		if (i >= f->n || full) {
			f->rwait = 1;
			/* a full ring: wait until half of it is free */
			while (!f->stop && (full ? room_short(f, i) : i >= f->n))
				pthread_cond_wait(&f->cv, &f->mu);
			f->rwait = 0;
			continue;
		}
		memcpy(sha, f->sha[i], 65);
		pthread_mutex_unlock(&f->mu);
		/* slot i % PREFETCH_DEPTH is ours until nread passes i */
		fill(f, i, sha);
		i++;
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

struct prefetch *
prefetch_open(const char *run, struct hashq *hq)
{
	struct prefetch *f = xcalloc(1, sizeof *f);
	f->run = run;
	f->hq = hq;
	if (!hq)
		f->hq = f->own_hq = hashq_new();
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	int e = pthread_create(&f->th, NULL, prefetch_main, f);
	if (e) {
		/* no thread: read each image when it is needed */
		vj_debug("cannot start the reader thread (%s); reading in line", strerror(e));
		f->stop = -1;
	}
	return f;
}

void
prefetch_add(struct prefetch *f, const char *sha)
{
	pthread_mutex_lock(&f->mu);
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 256;
		f->sha = xrealloc(f->sha, f->cap * sizeof *f->sha);
	}
	snprintf(f->sha[f->n], sizeof f->sha[f->n], "%s", sha);
	f->n++;
	if (f->rwait)
		pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int
prefetch_take(struct prefetch *f, size_t i, struct prefetch_img **img)
{
	struct prefetch_img *sl = &f->slot[i % PREFETCH_DEPTH];
	if (f->stop < 0)
		fill(f, i, f->sha[i]);
	pthread_mutex_lock(&f->mu);
	if (f->nread <= i || !f->ready[i % PREFETCH_DEPTH]) {
		f->mwait = 1;
		while (f->nread <= i || !f->ready[i % PREFETCH_DEPTH])
			pthread_cond_wait(&f->cv, &f->mu);
		f->mwait = 0;
	}
	pthread_mutex_unlock(&f->mu);
	*img = sl;
	errno = sl->err;
	return sl->err ? -1 : 0;
}

void
prefetch_release(struct prefetch *f, size_t i)
{
	struct prefetch_img *sl = &f->slot[i % PREFETCH_DEPTH];
	if (sl->cap > PREFETCH_KEEP) {
		free(sl->p);
		sl->p = NULL;
		sl->cap = 0;
	}
	if (f->stop < 0)
		return;
	pthread_mutex_lock(&f->mu);
	f->nfree = i + 1;
	f->ahead -= sl->len;
	/* wake the reader only once it has the room it waits for */
	if (f->rwait && f->nread < f->n && !room_short(f, f->nread))
		pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void
prefetch_end(struct prefetch *f)
{
	if (!f)
		return;
	if (f->stop >= 0) {
		pthread_mutex_lock(&f->mu);
		f->stop = 1;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->th, NULL);
	}
	/* the hashq's callbacks name f: wait for those still to come */
	pthread_mutex_lock(&f->mu);
	while (f->nchecked < f->nput) {
		f->mwait = 1;
		pthread_cond_wait(&f->cv, &f->mu);
	}
	f->mwait = 0;
	pthread_mutex_unlock(&f->mu);
	hashq_free(f->own_hq);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	for (int i = 0; i < PREFETCH_DEPTH; i++) {
		unmap(&f->slot[i]);
		free(f->slot[i].p);
	}
	free(f->sha);
	free(f);
}
