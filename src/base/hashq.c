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
 * Two threads take from one queue, which keeps the order of the pieces of
 * each stream: a piece is taken only when no earlier piece of its stream
 * is queued (or being hashed).  A thread takes the first such piece and
 * pairs it with the next such piece of another stream; of two paired
 * pieces the common length is hashed, and the longer one goes back to its
 * place with the rest.  One thread was not enough: vj-pack's main thread
 * waited for it a third of the time. */
#include "base/hashq.h"
#include "base/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PAIR_SCAN 16      /* pieces looked at for a partner */
#define ALONE (32u << 10) /* hashed at a time when there is none */
#define THREADS 2

struct piece {
	struct piece *next;
	int busy;             /* a thread is hashing it */
	struct sha256_ctx *c;
	const unsigned char *p;
	size_t n;
	hashq_done done;
	void *arg;
};

struct hashq {
	pthread_t th[THREADS];
	int nth;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct piece *head, *tail;
	int wait;             /* threads asleep for want of a piece they may take */
	int stop;
};

/* May x be taken: not being hashed, and no earlier piece of its stream
 * queued?  (Pieces before x, from the head, are the ones to look at.) */
static int
takeable(const struct hashq *q, const struct piece *x)
{
	if (x->busy)
		return 0;
	for (const struct piece *e = q->head; e != x; e = e->next)
		if (e->c == x->c)
			return 0;
	return 1;
}

/* The first piece that may be taken, and the next one of another stream
 * that may be taken with it (or NULL), looking at the first PAIR_SCAN. */
static struct piece *
pick(const struct hashq *q, struct piece **partner)
{
	struct piece *a = NULL;
	int k = 0;
	*partner = NULL;
	for (struct piece *x = q->head; x && k < PAIR_SCAN; x = x->next, k++) {
		if (!takeable(q, x))
			continue;
		if (!a) {
			a = x;
		} else if (x->c != a->c) {
			*partner = x;
			break;
		}
	}
	return a;
}

/* Take piece x off the queue. */
static void
unlink_piece(struct hashq *q, struct piece *x)
{
	struct piece *prev = NULL;
	for (struct piece *e = q->head; e != x; e = e->next)
		prev = e;
	if (prev)
		prev->next = x->next;
	else
		q->head = x->next;
	if (q->tail == x)
		q->tail = prev;
}

static void *
hashq_main(void *arg)
{
	struct hashq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct piece *b, *a = pick(q, &b);
		if (!a) {
			if (q->stop && !q->head)
				break;
			q->wait++;
			pthread_cond_wait(&q->cv, &q->mu);
			q->wait--;
			continue;
		}
		a->busy = 1;
		if (b)
			b->busy = 1;
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
		/* a finished piece stays queued (busy) until its callback has
		 * returned, so that the next piece of its stream is not taken,
		 * finished and called back before it */
		struct piece *fa = a->n == 0 ? a : NULL, *fb = b && b->n == 0 ? b : NULL;
		if (fa && fa->done)
			fa->done(fa->arg);
		if (fb && fb->done)
			fb->done(fb->arg);
		pthread_mutex_lock(&q->mu);
		a->busy = 0;
		if (b)
			b->busy = 0;
		struct piece *mine = fa ? NULL : a;   /* what this thread goes on with */
		if (fa) {
			unlink_piece(q, fa);
			free(fa);
		}
		if (fb) {
			unlink_piece(q, fb);
			free(fb);
		}
		/* a piece may now be free for the other thread: wake it only
		 * then (wake-ups cost a futex each) */
		if (q->wait) {
			struct piece *b2, *a2 = pick(q, &b2);
			if (q->stop && !q->head)
				pthread_cond_broadcast(&q->cv);   /* all done: let it end */
			else if (a2 && (a2 != mine || b2))
				pthread_cond_signal(&q->cv);
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
	for (int i = 0; i < THREADS; i++) {
		int e = pthread_create(&q->th[i], NULL, hashq_main, q);
		if (e) {
			vj_debug("cannot start a hashing thread (%s)", strerror(e));
			break;
		}
		q->nth++;
	}
	if (q->nth == 0) {
		vj_debug("hashing in line");
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
	*x = (struct piece){ .c = c, .p = p, .n = n, .done = done, .arg = arg };
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
	if (q->wait && takeable(q, x))
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
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nth; i++)
		pthread_join(q->th[i], NULL);   /* they hash what is queued first */
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}
