/* hashq: one thread hashing pieces of byte streams for others, two
 * streams at a time (sha256_update2).
 *
 * Why a thread of its own rather than each producer hashing its own bytes:
 * two SHA-256 chains interleaved on the SHA extensions cost about 0.7 of
 * two chains one after the other, but only when there are two chains to
 * interleave.  vj-pack has them on different threads (the image reader
 * checks each object it reads, the shard writer hashes its output); here
 * the output's pieces are paired with the images'.
 *
 * The queue keeps the order of the pieces of each stream: a piece is
 * hashed only once every earlier piece of its stream is.  The head is
 * always worked on, paired with the first later piece of another stream
 * that has no earlier piece still queued; of two paired pieces the common
 * length is hashed, and the longer one stays at its place with the rest. */
#include "base/hashq.h"
#include "base/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PAIR_SCAN 16      /* pieces looked at for a partner */
#define ALONE (32u << 10) /* hashed at a time when there is none */

struct piece {
	struct piece *next;
	struct sha256_ctx *c;
	const unsigned char *p;
	size_t n;
	hashq_done done;
	void *arg;
};

struct hashq {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct piece *head, *tail;
	int wait;             /* the thread sleeps for want of pieces */
	int stop;
};

/* The partner for the head: the first later piece of another stream with
 * none of its stream before it.  *prev is the piece before it. */
static struct piece *
partner(struct piece *head, struct piece **prev)
{
	struct piece *before = head;
	int k = 0;
	for (struct piece *b = head->next; b && k < PAIR_SCAN; before = b, b = b->next, k++) {
		if (b->c == head->c)
			continue;
		int blocked = 0;
		for (struct piece *e = head->next; e != b; e = e->next)
			if (e->c == b->c) {
				blocked = 1;
				break;
			}
		if (!blocked) {
			*prev = before;
			return b;
		}
	}
	return NULL;
}

/* Take piece x (after prev, or the head when prev is NULL) off the queue. */
static void
unlink_piece(struct hashq *q, struct piece *prev, struct piece *x)
{
	if (prev)
		prev->next = x->next;
	else
		q->head = x->next;
	if (q->tail == x)
		q->tail = prev;
}

static void
finish(struct piece *x)
{
	if (x->done)
		x->done(x->arg);
	free(x);
}

static void *
hashq_main(void *arg)
{
	struct hashq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->stop) {
			q->wait = 1;
			pthread_cond_wait(&q->cv, &q->mu);
			q->wait = 0;
		}
		if (!q->head)
			break;
		/* the head and its partner are only ever changed here: work
		 * on them unlocked while producers append */
		struct piece *a = q->head, *bprev = NULL, *b = partner(a, &bprev);
		pthread_mutex_unlock(&q->mu);
		/* alone, a little at a time: a partner may come meanwhile */
		size_t m = b ? (a->n < b->n ? a->n : b->n) : a->n < ALONE ? a->n : ALONE;
		if (b)
			sha256_update2(a->c, a->p, m, b->c, b->p, m);
		else
			sha256_update(a->c, a->p, m);
		a->p += m;
		a->n -= m;
		if (b) {
			b->p += m;
			b->n -= m;
		}
		pthread_mutex_lock(&q->mu);
		struct piece *fa = NULL, *fb = NULL;
		/* b first: taking a off may make b the head (then bprev is a) */
		if (b && b->n == 0) {
			unlink_piece(q, bprev, b);
			fb = b;
		}
		if (a->n == 0) {
			unlink_piece(q, NULL, a);
			fa = a;
		}
		if (fa || fb) {
			pthread_mutex_unlock(&q->mu);
			/* a's stream before b's: the order they were queued in */
			if (fa)
				finish(fa);
			if (fb)
				finish(fb);
			pthread_mutex_lock(&q->mu);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct hashq *
hashq_new(void)
{
	struct hashq *q = xcalloc(1, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	int e = pthread_create(&q->th, NULL, hashq_main, q);
	if (e) {
		vj_debug("cannot start the hashing thread (%s); hashing in line", strerror(e));
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->cv);
		free(q);
		return NULL;
	}
	return q;
}

void
hashq_put(struct hashq *q, struct sha256_ctx *c, const void *p, size_t n, hashq_done done,
    void *arg)
{
	if (!q) {
		sha256_update(c, p, n);
		if (done)
			done(arg);
		return;
	}
	struct piece *x = xmalloc(sizeof *x);
	*x = (struct piece){ NULL, c, p, n, done, arg };
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
	if (q->wait)
		pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
hashq_free(struct hashq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);   /* it hashes what is queued first */
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
