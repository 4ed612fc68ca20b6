/* input: a reader thread with a bounded queue. */
#include "stages/input.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 4096

struct qitem {
	struct qitem *next;
	struct input_item it;
};

struct input {
	char **files;
	int nfiles;
	input_prep_fn prep;
	void *ctx;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t space;
	struct qitem *head, *tail;
	int n, done, stop;
	int wake[2];            /* the thread writes a byte when it adds to an empty queue */
	struct qitem *bhead, *btail;   /* the batch being filled (thread only) */
	struct qitem *mine;            /* taken by the main thread, not yet handed out */
	int bn;
	int keep_lines;
};

/* Items are handed over in batches: one lock and at most one wake-up per
 * batch instead of per line. */
static void
flush(struct input *in)
{
	struct qitem *q = in->bhead;
	int n = in->bn;
	if (!q)
		return;
	in->bhead = in->btail = NULL;
	in->bn = 0;
	pthread_mutex_lock(&in->mu);
	while (in->n >= QUEUE_MAX && !in->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&in->space, &in->mu, &ts);
	}
	int was_empty = in->n == 0;
	if (in->tail)
		in->tail->next = q;
	else
		in->head = q;
	while (q->next)
		q = q->next;
	in->tail = q;
	in->n += n;
	pthread_mutex_unlock(&in->mu);
	if (was_empty) {
		char c = 1;
		if (write(in->wake[1], &c, 1) < 0) {
			/* the pipe is full: the reader is awake anyway */
		}
	}
}

static void
emit(struct input *in, const char *src, long lno, const char *p, size_t n, const char *why)
{
	struct qitem *q = xcalloc(1, sizeof *q);
	char err[1024];
	q->it.src = src;
	q->it.lno = lno;
	if (why) {
		q->it.err = xstrdup(why);
	} else {
		err[0] = 0;
		q->it.prep = in->prep(in->ctx, p, n, src, err, sizeof err);
		if (!q->it.prep)
			q->it.err = xstrdup(err[0] ? err : "rejected");
	}
	/* the text goes along only where it may be needed (--rejects) */
	if (q->it.err || in->keep_lines) {
		q->it.line = xstrndup(p, n);
		q->it.len = n;
	}
	q->next = NULL;
	if (in->btail)
		in->btail->next = q;
	else
		in->bhead = q;
	in->btail = q;
	if (++in->bn >= 64)
		flush(in);
}

int
input_check(char **files, int nfiles, char *err, size_t errlen)
{
	struct stat st;

	for (int i = 0; i < nfiles; i++) {
		if (!strcmp(files[i], "-"))
			continue;
		/* O_NONBLOCK: a FIFO opens at once, whether a writer came yet or not */
		int fd = open(files[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return errf(err, errlen, "%s: cannot open: %s", files[i], strerror(errno));
		int dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
		close(fd);
		if (dir)
			return errf(err, errlen, "%s: is a directory", files[i]);
	}
	return 0;
}

/* Blocking read with cancellation allowed only here. */
static ssize_t
cread(int fd, char *p, size_t n)
{
	int old;
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	ssize_t r = read(fd, p, n);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return r;
}

static void
free_buf(void *b)
{
	buf_free(b);
}

static void
read_one(struct input *in, int fd, const char *src)
{
	struct buf b = {0};
	pthread_cleanup_push(free_buf, &b);
	size_t off = 0;
	long lno = 0;
	int skipping = 0, eof = 0;

	while (!in->stop) {
		char *nl = b.len > off ? memchr(b.p + off, '\n', b.len - off) : NULL;
		if (!nl && !eof) {
			/* +1: a CR before the newline still to come is not counted */
			if (b.len - off > INPUT_MAX_LINE + 1) {
				if (!skipping) {
					lno++;
					char why[96];
					snprintf(why, sizeof why, "line longer than %d bytes: skipped", INPUT_MAX_LINE);
					emit(in, src, lno, "", 0, why);
				}
				skipping = 1;
				off = b.len;
			}
			if (off) {
				memmove(b.p, b.p + off, b.len - off);
				b.len -= off;
				off = 0;
			}
			buf_grow(&b, 1 << 16);
			flush(in);    /* the read may block: hand over what we have */
			ssize_t r = cread(fd, b.p + b.len, 1 << 16);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				char why[300];
				snprintf(why, sizeof why, "read error: %s", strerror(errno));
				emit(in, src, lno + 1, "", 0, why);
				break;
			}
			if (r == 0)
				eof = 1;
			b.len += (size_t)r;
			continue;
		}
		size_t n = nl ? (size_t)(nl - (b.p + off)) : b.len - off;
		if (!nl && n == 0)
			break;
		const char *s = b.p + off;
		off += n + (nl ? 1 : 0);
		if (skipping) {
			skipping = 0;
			continue;
		}
		lno++;
		if (n && s[n - 1] == '\r')
			n--;
		/* the limit is exact: a line whose newline came in the same read
		 * as its last bytes is measured here */
		if (n > INPUT_MAX_LINE) {
			char why[96];
			snprintf(why, sizeof why, "line longer than %d bytes: skipped", INPUT_MAX_LINE);
			emit(in, src, lno, "", 0, why);
			continue;
		}
		/* a UTF-8 byte-order mark, as some editors write, is not part of the job */
		if (lno == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
			s += 3;
			n -= 3;
		}
		size_t i = 0;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			continue;   /* blank lines are allowed */
		emit(in, src, lno, s, n, NULL);
	}
	pthread_cleanup_pop(1);
}

static void *
run(void *arg)
{
	struct input *in = arg;
	int old;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	for (int i = 0; i < (in->nfiles ? in->nfiles : 1) && !in->stop; i++) {
		const char *f = in->nfiles ? in->files[i] : "-";
		if (!strcmp(f, "-")) {
			read_one(in, 0, "<stdin>");
			continue;
		}
		int fd = open(f, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			char why[600];
			snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
			emit(in, f, 0, "", 0, why);
			continue;
		}
		read_one(in, fd, f);
		close(fd);
	}
	flush(in);
	pthread_mutex_lock(&in->mu);
	in->done = 1;
	pthread_mutex_unlock(&in->mu);
	char c = 1;
	if (write(in->wake[1], &c, 1) < 0) {
		/* full pipe: the reader will look anyway */
	}
	return NULL;
}

struct input *
input_start(char **files, int nfiles, input_prep_fn prep, void *ctx, int keep_lines)
{
	struct input *in = xcalloc(1, sizeof *in);
	in->keep_lines = keep_lines;
	in->files = files;
	in->nfiles = nfiles;
	in->prep = prep;
	in->ctx = ctx;
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->space, NULL);
	if (pipe2(in->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		vj_die(VJ_EFATAL, "pipe:");
	if (pthread_create(&in->th, NULL, run, in) != 0)
		vj_die(VJ_EFATAL, "cannot start the input thread");
	return in;
}

int
input_fd(struct input *in)
{
	return in->wake[0];
}

int
input_next(struct input *in, struct input_item *it)
{
	char drain[64];
	struct qitem *q;

	/* the reader's side: take everything queued in one go, then hand it
	 * out without the lock */
	if (!in->mine) {
		pthread_mutex_lock(&in->mu);
		in->mine = in->head;
		in->head = in->tail = NULL;
		if (in->n >= QUEUE_MAX)
			pthread_cond_signal(&in->space);
		in->n = 0;
		pthread_mutex_unlock(&in->mu);
	}
	if ((q = in->mine)) {
		in->mine = q->next;
		*it = q->it;
		free(q);
		return 1;
	}
	int done;
	while (read(in->wake[0], drain, sizeof drain) > 0)
		;
	/* look again: an item may have come between the check and the drain */
	pthread_mutex_lock(&in->mu);
	int more = in->head != NULL;
	done = in->done;
	pthread_mutex_unlock(&in->mu);
	if (more)
		return input_next(in, it);
	return done ? -1 : 0;
}

void
input_item_free(struct input_item *it)
{
	free(it->line);
	free(it->err);
	it->line = it->err = NULL;
}

void
input_stop(struct input *in, void (*free_prep)(void *))
{
	if (!in)
		return;
	pthread_mutex_lock(&in->mu);
	in->stop = 1;
	int done = in->done;
	pthread_cond_broadcast(&in->space);
	pthread_mutex_unlock(&in->mu);
	if (!done)
		pthread_cancel(in->th);   /* it may be blocked reading a pipe */
	pthread_join(in->th, NULL);
	if (in->btail) {
		in->btail->next = in->head;
		in->head = in->bhead;
	}
	if (in->mine) {
		struct qitem *t = in->mine;
		while (t->next)
			t = t->next;
		t->next = in->head;
		in->head = in->mine;
	}
	struct qitem *q;
	while ((q = in->head)) {
		in->head = q->next;
		if (q->it.prep && free_prep)
			free_prep(q->it.prep);
		input_item_free(&q->it);
		free(q);
	}
	close(in->wake[0]);
	close(in->wake[1]);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->space);
	free(in);
}
