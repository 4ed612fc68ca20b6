/* shard: reproducible tar/jsonl shards through our own compressor.
 *
 * We frame the tar ourselves: a ustar header per member, laid out exactly
 * as libarchive's pax_restricted writer lays it out (whose output defined
 * the shards before), so the bytes did not change when we took it over.  A
 * name too long for ustar still gets its headers (pax extension and all)
 * from libarchive.  The stream ends as libarchive ends it: two zero blocks,
 * then zeros up to a multiple of 10240 bytes.
 *
 * Small pieces (headers, records, texts, padding) are gathered into one
 * buffer; big ones (images) go to the compressor as they are, so each byte
 * is copied once, into libzstd's own input buffer, and libzstd is called a
 * few times per sample rather than once per 10 KiB tar block.  zstd always
 * runs with nbWorkers >= 1: libzstd's multi-worker frames are the same for
 * any worker count and however the input is cut into calls, while
 * nbWorkers 0 makes a different one.  The workers compress while the
 * caller frames the next samples (and pack.c's reader thread reads and
 * checks the next images).
 *
 * The compressed bytes are written out by one thread and hashed (the
 * sha256 that index.json gives for the file) by another, from a ring of
 * output buffers: on incompressible images each of the two costs about as
 * much as compressing, and on the caller's thread they held up the
 * framing and the feeding of the workers.  The ring holds a whole zstd job
 * of output (8 MiB at level 3): a finished job's output comes out at once,
 * and a smaller ring made the caller wait for the writer there, with the
 * workers idle for want of input. */
#include "core/shard.h"
#include "base/hash.h"
#include "base/hashq.h"
#include "base/jscan.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

const char *const shard_format_name[] = { "wds", "jsonl" };
const char *const shard_compress_name[] = { "zstd", "gzip", "none" };

#define CHUNK (1u << 17)       /* the compressor's output buffer */
/* Written in pieces of this size: a bigger write makes the kernel (6.x, ext4
 * and others with large folios) put it in high-order page-cache folios,
 * which on a VM whose free memory is reported to the host (virtio-balloon
 * free page reporting) must first be faulted back in: 3x the system time
 * of 32 KiB writes in our measurements, with no gain elsewhere. */
#define WRITE_PIECE (1u << 15)
/* With O_DIRECT the buffers go to the device as they are, with no copy into
 * the page cache (that copy cost as much CPU as compressing incompressible
 * images, and 3-6x that where the VM had to fault the pages back in).
 * Buffers, lengths and file offsets must then be multiples of the logical
 * block size: 4096 covers 512 and 4K devices.  Up to DIRECT_RUN consecutive
 * buffers (1 MiB) go in one writev: a direct write waits for the device,
 * and on the VM we measured 1.2 GB/s in 128 KiB writes, 2.7 GB/s in 1 MiB. */
#define DIRECT_ALIGN 4096u
#define DIRECT_RUN 8
#define STAGE (1u << 16)       /* small pieces gathered before the compressor */
#define DIRECT (1u << 14)      /* a piece this big goes to the compressor as it is */
#define TAR_RECORD 10240       /* the stream is padded to a multiple of this */
#define NOUT 64                 /* output buffers (8 MiB): one filled, the others being written */

/* The output ring has two consumers, each a thread of its own: one writes
 * the buffers out, the other hashes them, both in the order they were
 * handed over; a buffer is free again once both have passed it.  Writing
 * (the kernel copying into the page cache) and hashing each cost about as
 * much as compressing incompressible images: on one thread they were the
 * longest of the pipeline's.  Wake-ups cost (a futex, in a VM an interrupt
 * to the other CPU): each side signals only when the other one sleeps. */
enum { C_WRITE, C_HASH, NCONS };

struct consumer {
	pthread_t th;
	pthread_cond_t cv;
	uint64_t done;           /* buffers this consumer is through with */
	int wait;                /* it sleeps, waiting for a buffer */
	int live;
	struct writer *w;
};

struct writer {
	int live;                /* the threads run (else all happens in line) */
	pthread_mutex_t mu;
	pthread_cond_t mcv;      /* the producer waits here for a free buffer */
	unsigned char *buf[NOUT];
	size_t len[NOUT];
	uint64_t queued;         /* buffers handed over */
	int end, mwait;
	int err;                 /* errno of the first failed write */
	int fd;
	int direct;              /* fd has O_DIRECT (cleared on the first write it refuses) */
	int inited;
	struct consumer c[NCONS];
	struct hashq *hq;        /* does C_HASH's part, when given: no thread of ours */
	struct sha256_ctx *sha;  /* of the file; NULL once shard_finish took it */
};

struct shard {
	struct shard_opts o;
	char *path;
	int fd;
	int err;                 /* errno of the first failure, as the caller sees it */
	ZSTD_CCtx *zc;
	z_stream gz;
	int gz_live;
	int wds;
	uint64_t raw;            /* uncompressed stream bytes so far */
	unsigned char *stage;
	size_t nstage;
	unsigned char *out;      /* the compressor's output, CHUNK bytes: w.buf[w.queued % NOUT] */
	size_t fill;
	uint64_t bytes;          /* compressed bytes written */
	struct writer w;         /* writes out and hashes the file (w.sha) */
};

const char *
shard_suffix(const struct shard_opts *o)
{
	static const char *const sfx[2][3] = {
		{ "tar.zst", "tar.gz", "tar" },
		{ "jsonl.zst", "jsonl.gz", "jsonl" },
	};
	return sfx[o->format][o->compress];
}

static uint64_t
round512(uint64_t n)
{
	return (n + 511) & ~(uint64_t)511;
}

uint64_t
shard_sample_size(const struct shard_member *m, int n, size_t keylen)
{
	uint64_t sz = 0;
	for (int i = 0; i < n; i++) {
		sz += 512 + round512(m[i].len);
		/* a name beyond ustar's 100 bytes costs a pax header */
		if (keylen + 1 + strlen(m[i].ext) > 99)
			sz += 1024;
	}
	return sz;
}

/* ---- output: every compressed byte is written and hashed here */

/* Leave direct I/O for good: for a last, unaligned buffer, or when the file
 * system refuses a direct write (EINVAL: a device whose logical blocks are
 * over 4 KiB, or a file it will not write directly).  Only the writer's thread writes, so the flag
 * needs no lock. */
static int
direct_off(struct writer *w)
{
	int fl = fcntl(w->fd, F_GETFL);
	w->direct = 0;
	if (fl < 0 || fcntl(w->fd, F_SETFL, fl & ~O_DIRECT) < 0)
		return errno ? errno : EIO;
	return 0;
}

/* Write iov[0..n) with O_DIRECT, in order; 0, or an errno.  What a write
 * the file system refuses, or one cut short at an unaligned length, left is
 * written buffered. */
static int
write_direct(struct writer *w, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t k = writev(w->fd, iov, n);
		if (k < 0 && errno == EINTR)
			continue;
		if ((k < 0 && errno != EINVAL) || k == 0)
			return k ? errno : EIO;
		size_t done = k < 0 ? 0 : (size_t)k;
		for (; n > 0 && done >= iov->iov_len; n--, iov++)
			done -= iov->iov_len;
		if (n > 0 && done) {     /* it stopped inside a buffer */
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= done;
		}
		if (k < 0 || done % DIRECT_ALIGN) {
			int e = direct_off(w);
			for (; !e && n > 0; n--, iov++)
				if (write_all(w->fd, iov->iov_base, iov->iov_len) < 0)
					e = errno ? errno : EIO;
			return e;
		}
	}
	return 0;
}

/* Write one buffer: 0, or an errno. */
static int
write_out(struct writer *w, const unsigned char *p, size_t n)
{
	if (w->direct) {
		if (n % DIRECT_ALIGN == 0) {
			struct iovec v = { (void *)p, n };
			return write_direct(w, &v, 1);
		}
		int e = direct_off(w);
		if (e)
			return e;
	}
	for (size_t o = 0; o < n; o += WRITE_PIECE) {
		size_t k = n - o < WRITE_PIECE ? n - o : WRITE_PIECE;
		if (write_all(w->fd, p + o, k) < 0)
			return errno ? errno : EIO;
	}
	return 0;
}

/* Consumer i's part of one buffer. */
static int
consume(struct writer *w, int i, const unsigned char *p, size_t n)
{
	if (i == C_HASH) {
		sha256_update(w->sha, p, n);
		return 0;
	}
	return write_out(w, p, n);
}

static uint64_t
freed(const struct writer *w)
{
	uint64_t f = w->c[0].done;
	for (int i = 1; i < NCONS; i++)
		if (w->c[i].done < f)
			f = w->c[i].done;
	return f;
}

/* The aligned buffers queued from buffer `from` on, up to DIRECT_RUN, as
 * one direct write's iov; 0 when the first is not aligned (the last of the
 * shard: write_out writes it buffered).  Under w->mu. */
static int
direct_run(const struct writer *w, uint64_t from, struct iovec *v)
{
	int k = 0;
	for (; k < DIRECT_RUN && from + (uint64_t)k < w->queued; k++) {
		size_t j = (from + (uint64_t)k) % NOUT;
		if (w->len[j] % DIRECT_ALIGN)
			break;
		v[k] = (struct iovec){ w->buf[j], w->len[j] };
	}
	return k;
}

static void *
consumer_main(void *arg)
{
	struct consumer *c = arg;
	struct writer *w = c->w;
	int role = (int)(c - w->c);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (c->done == w->queued && !w->end) {
			c->wait = 1;
			pthread_cond_wait(&c->cv, &w->mu);
			c->wait = 0;
		}
		if (c->done == w->queued)
			break;
		/* buffer done % NOUT stays put until every consumer passed it */
		size_t i = c->done % NOUT, n = w->len[i];
		int bad = w->err, e = 0;
		struct iovec v[DIRECT_RUN];
		int k = role == C_WRITE && w->direct ? direct_run(w, c->done, v) : 0;
		pthread_mutex_unlock(&w->mu);
		if (!bad)
			e = k ? write_direct(w, v, k) : consume(w, role, w->buf[i], n);
		pthread_mutex_lock(&w->mu);
		if (e && !w->err)
			w->err = e;
		c->done += (uint64_t)(k ? k : 1);
		if (w->mwait)
			pthread_cond_signal(&w->mcv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void
writer_stop(struct writer *w);

/* A buffer direct I/O can write from. */
static void *
alloc_aligned(size_t n)
{
	void *p;
	if (posix_memalign(&p, DIRECT_ALIGN, n) != 0)
		vj_die(VJ_EFATAL, "out of memory");
	return p;
}

/* Direct I/O is used on the local block file systems only: on NFS, SMB or
 * FUSE each direct write is a round trip to a server or a daemon, much
 * slower than the page cache, and on tmpfs it saves nothing. */
static int
direct_fs(int fd)
{
	static const long local[] = {
		0xEF53,         /* ext2, ext3, ext4 */
		0x58465342,     /* xfs */
		0x9123683E,     /* btrfs */
		0xF2F52010,     /* f2fs */
	};
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
		if ((long)sf.f_type == local[i])
			return 1;
	return 0;
}

/* Start writing to fd; direct: with O_DIRECT where that pays. */
static void
writer_start(struct writer *w, int fd, int direct, struct hashq *hq)
{
	int fl;
	w->fd = fd;
	w->direct = direct && direct_fs(fd) && (fl = fcntl(fd, F_GETFL)) >= 0 &&
	    fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
	w->hq = hq;
	w->inited = 1;
	w->sha = sha256_new();
	for (int i = 0; i < NOUT; i++)
		w->buf[i] = alloc_aligned(CHUNK);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->mcv, NULL);
	for (int i = 0; i < NCONS; i++) {
		w->c[i].w = w;
		pthread_cond_init(&w->c[i].cv, NULL);
	}
	w->live = 1;
	for (int i = 0; i < NCONS; i++) {
		struct consumer *c = &w->c[i];
		if (i == C_HASH && w->hq)
			continue;
		int e = pthread_create(&c->th, NULL, consumer_main, c);
		if (e) {
			vj_debug("cannot start the output threads (%s); writing in line", strerror(e));
			writer_stop(w);
			return;
		}
		c->live = 1;
	}
}

/* The hashq's callback: the oldest buffer not yet hashed is. */
static void
hashed(void *arg)
{
	struct writer *w = arg;
	pthread_mutex_lock(&w->mu);
	w->c[C_HASH].done++;
	if (w->mwait)
		pthread_cond_signal(&w->mcv);
	pthread_mutex_unlock(&w->mu);
}

/* Hand buffer queued % NOUT (n bytes) over; 0, or the errno of a write
 * that failed (this one, in line, or an earlier one). */
static int
writer_put(struct writer *w, size_t n)
{
	if (!w->live) {
		for (int i = 0; i < NCONS && !w->err; i++)
			w->err = consume(w, i, w->buf[0], n);
		return w->err;
	}
	pthread_mutex_lock(&w->mu);
	size_t b = w->queued % NOUT;
	w->len[b] = n;
	w->queued++;
	for (int i = 0; i < NCONS; i++)
		if (w->c[i].wait)
			pthread_cond_signal(&w->c[i].cv);
	if (w->hq) {
		/* buffer b stays put until hashed(): hashq_put takes its own lock */
		pthread_mutex_unlock(&w->mu);
		hashq_put(w->hq, w->sha, w->buf[b], n, hashed, w);
		pthread_mutex_lock(&w->mu);
	}
	/* the next buffer to fill must be free */
	while (w->queued - freed(w) >= NOUT) {
		w->mwait = 1;
		pthread_cond_wait(&w->mcv, &w->mu);
		w->mwait = 0;
	}
	int e = w->err;
	pthread_mutex_unlock(&w->mu);
	return e;
}

/* Wait for everything handed over to be written and hashed; stop the
 * threads.  (When a thread could not be started, those that were are
 * stopped, and the rest happens in line: nothing was queued yet.) */
static void
writer_stop(struct writer *w)
{
	if (!w->live)
		return;
	pthread_mutex_lock(&w->mu);
	w->end = 1;
	for (int i = 0; i < NCONS; i++)
		if (w->c[i].wait)
			pthread_cond_signal(&w->c[i].cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < NCONS; i++)
		if (w->c[i].live) {
			pthread_join(w->c[i].th, NULL);
			w->c[i].live = 0;
		}
	/* the hashq's callbacks name w and read its buffers: wait for them */
	pthread_mutex_lock(&w->mu);
	while (w->hq && w->c[C_HASH].done < w->queued) {
		w->mwait = 1;
		pthread_cond_wait(&w->mcv, &w->mu);
	}
	w->mwait = 0;
	pthread_mutex_unlock(&w->mu);
	w->live = 0;
}

static void
writer_free(struct writer *w)
{
	if (!w->inited)
		return;
	writer_stop(w);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->mcv);
	for (int i = 0; i < NCONS; i++)
		pthread_cond_destroy(&w->c[i].cv);
	for (int i = 0; i < NOUT; i++)
		free(w->buf[i]);
	if (w->sha) {
		char junk[65];
		sha256_final(w->sha, junk);
		w->sha = NULL;
	}
}

/* Hand the buffer the compressor filled to the writer; fill the next one. */
static int
drain(struct shard *s)
{
	if (s->fill == 0)
		return 0;
	int e = writer_put(&s->w, s->fill);
	s->bytes += s->fill;
	s->fill = 0;
	s->out = s->w.buf[s->w.live ? s->w.queued % NOUT : 0];
	if (e) {
		s->err = e;
		return -1;
	}
	return 0;
}

/* Bytes out of the compressor (or uncompressed, with none) into the file. */
static int
emit(struct shard *s, const void *p, size_t n)
{
	while (n > 0) {
		size_t k = CHUNK - s->fill < n ? CHUNK - s->fill : n;
		memcpy(s->out + s->fill, p, k);
		s->fill += k;
		p = (const char *)p + k;
		n -= k;
		if (s->fill == CHUNK && drain(s) < 0)
			return -1;
	}
	return 0;
}

static int
feed_zstd(struct shard *s, const void *p, size_t n, int end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
	for (;;) {
		ZSTD_outBuffer out = { s->out, CHUNK, s->fill };
		size_t rem = ZSTD_compressStream2(s->zc, &out, &in, mode);
		if (ZSTD_isError(rem)) {
			s->err = EIO;
			return -1;
		}
		s->fill = out.pos;
		if (s->fill == CHUNK && drain(s) < 0)
			return -1;
		if (end ? rem == 0 : in.pos == in.size)
			return 0;
	}
}

static int
feed_gzip(struct shard *s, const void *p, size_t n, int end)
{
	s->gz.next_in = (Bytef *)(uintptr_t)p;
	s->gz.avail_in = (uInt)n;
	for (;;) {
		s->gz.next_out = s->out + s->fill;
		s->gz.avail_out = (uInt)(CHUNK - s->fill);
		int r = deflate(&s->gz, end ? Z_FINISH : Z_NO_FLUSH);
		if (r == Z_STREAM_ERROR) {
			s->err = EIO;
			return -1;
		}
		int full = s->gz.avail_out == 0;
		s->fill = CHUNK - s->gz.avail_out;
		if (full && drain(s) < 0)
			return -1;
		if (end ? r == Z_STREAM_END : s->gz.avail_in == 0 && !full)
			return 0;
	}
}

/* Stream bytes into the compressor; end flushes its last frame. */
static int
feed(struct shard *s, const void *p, size_t n, int end)
{
	switch (s->o.compress) {
	case SC_ZSTD:
		return feed_zstd(s, p, n, end);
	case SC_GZIP:
		/* deflate takes uInt lengths: feed big buffers in pieces */
		while (n > (1u << 30)) {
			if (feed_gzip(s, p, 1u << 30, 0) < 0)
				return -1;
			p = (const char *)p + (1u << 30);
			n -= 1u << 30;
		}
		return feed_gzip(s, p, n, end);
	default:
		return emit(s, p, n);
	}
}

static int
flush_stage(struct shard *s)
{
	size_t n = s->nstage;
	s->nstage = 0;
	return n ? feed(s, s->stage, n, 0) : 0;
}

/* Uncompressed stream bytes in. */
static int
put(struct shard *s, const void *p, size_t n)
{
	if (s->err)
		return -1;
	s->raw += n;
	if (n >= DIRECT) {
		if (flush_stage(s) < 0)
			return -1;
		return feed(s, p, n, 0);
	}
	if (s->nstage + n > STAGE && flush_stage(s) < 0)
		return -1;
	memcpy(s->stage + s->nstage, p, n);
	s->nstage += n;
	return 0;
}

static const unsigned char zeros[1024];

static int
put_zeros(struct shard *s, uint64_t n)
{
	while (n > 0) {
		size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
		if (put(s, zeros, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

/* ---- tar framing */

/* An octal field as libarchive writes it: digits, zero-padded. */
static int
octal(char *f, int digits, uint64_t v)
{
	for (int i = digits - 1; i >= 0; i--) {
		f[i] = (char)('0' + (v & 7));
		v >>= 3;
	}
	return v == 0 ? 0 : -1;
}

/* The ustar header libarchive's pax_restricted writer makes for a regular
 * file: 0644, uid/gid 0, no user or group names.  -1 when the entry needs
 * more than ustar has (then libarchive writes it). */
static int
ustar_header(unsigned char h[512], const char *name, size_t namelen, uint64_t size, time_t mtime)
{
	char *f = (char *)h;
	if (namelen == 0 || namelen > 99 || mtime < 0)
		return -1;
	memset(h, 0, 512);
	memcpy(f, name, namelen);
	memcpy(f + 100, "000644 ", 7);
	memcpy(f + 108, "000000 ", 7);
	memcpy(f + 116, "000000 ", 7);
	if (octal(f + 124, 11, size) < 0 || octal(f + 136, 11, (uint64_t)mtime) < 0)
		return -1;
	f[135] = ' ';
	f[147] = ' ';
	f[156] = '0';
	memcpy(f + 257, "ustar\0" "00", 8);
	memcpy(f + 329, "000000 ", 7);
	memcpy(f + 337, "000000 ", 7);
	unsigned sum = 8 * ' ';
	for (int i = 0; i < 512; i++)
		if (i < 148 || i >= 156)
			sum += h[i];
	octal(f + 148, 6, sum);
	f[154] = 0;
	f[155] = ' ';
	return 0;
}

struct capture {
	struct buf b;
	int stop;
};

static la_ssize_t
capture_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct capture *c = ctx;
	if (!c->stop)
		buf_add(&c->b, p, n);
	return (la_ssize_t)n;
}

/* The headers libarchive writes for a member ustar cannot describe (a long
 * name: pax extension + ustar header).  NULL with err set. */
static char *
libarchive_header(struct shard *s, const char *name, uint64_t size, size_t *len,
    char *err, size_t errlen)
{
	struct capture c = { { 0 }, 0 };
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char *h = NULL;
	if (!a || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
	    archive_write_open(a, &c, NULL, capture_write, NULL) != ARCHIVE_OK)
		goto out;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, s->o.mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK || c.b.len == 0 || c.b.len % 512)
		goto out;
	h = c.b.p;
	*len = c.b.len;
	c.b.p = NULL;
out:
	if (!h)
		snprintf(err, errlen, "%s: member %s: %s", s->path, name,
		    a ? archive_error_string(a) : "out of memory");
	c.stop = 1;
	archive_entry_free(e);
	if (a)
		archive_write_free(a);
	buf_free(&c.b);
	return h;
}

static int
add_member(struct shard *s, const char *key, const struct shard_member *m, char *err, size_t errlen)
{
	char name[128];
	unsigned char h[512];
	int n = snprintf(name, sizeof name, "%s.%s", key, m->ext);
	if (n > 0 && (size_t)n < sizeof name && ustar_header(h, name, (size_t)n, m->len, s->o.mtime) == 0) {
		if (put(s, h, 512) < 0)
			return -1;
	} else {
		char *full = xasprintf("%s.%s", key, m->ext);
		size_t hl;
		char *hp = libarchive_header(s, full, m->len, &hl, err, errlen);
		free(full);
		if (!hp)
			return -2;
		int r = put(s, hp, hl);
		free(hp);
		if (r < 0)
			return -1;
	}
	if (put(s, m->p, m->len) < 0 || put_zeros(s, round512(m->len) - m->len) < 0)
		return -1;
	return 0;
}

/* ---- setup and teardown */

static int
init_zstd(struct shard *s, char *err, size_t errlen)
{
	s->zc = ZSTD_createCCtx();
	if (!s->zc ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, s->o.level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1))) {
		snprintf(err, errlen, "cannot set up zstd level %d", s->o.level);
		return -1;
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_nbWorkers,
	    s->o.threads < 1 ? 1 : s->o.threads))) {
		/* a libzstd without threads: still the same frame for every
		 * --threads value, just not the multi-worker one */
		vj_debug("libzstd has no worker threads; compressing in one thread");
	}
	return 0;
}

static int
init_gzip(struct shard *s, char *err, size_t errlen)
{
	/* windowBits 15 + 16: a gzip wrapper with mtime 0 and no name */
	if (deflateInit2(&s->gz, s->o.level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		snprintf(err, errlen, "cannot set up gzip level %d", s->o.level);
		return -1;
	}
	s->gz_live = 1;
	return 0;
}

static void
destroy(struct shard *s)
{
	if (s->zc)
		ZSTD_freeCCtx(s->zc);
	if (s->gz_live)
		deflateEnd(&s->gz);
	writer_free(&s->w);   /* before the file is closed: it may still write */
	if (s->fd >= 0)
		close(s->fd);
	free(s->stage);
	free(s->path);
	free(s);
}

struct shard *
shard_create(const char *path, const struct shard_opts *o, char *err, size_t errlen)
{
	struct shard *s = xcalloc(1, sizeof *s);
	s->o = *o;
	s->wds = o->format == SF_WDS;
	s->path = xstrdup(path);
	s->stage = xmalloc(STAGE);
	s->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		destroy(s);
		return NULL;
	}
	writer_start(&s->w, s->fd, o->direct, o->hq);
	s->out = s->w.buf[0];
	if ((o->compress == SC_ZSTD && init_zstd(s, err, errlen) < 0) ||
	    (o->compress == SC_GZIP && init_gzip(s, err, errlen) < 0)) {
		shard_abort(s);
		return NULL;
	}
	return s;
}

static void
fail_msg(struct shard *s, char *err, size_t errlen)
{
	if (s->err)
		snprintf(err, errlen, "cannot write %s: %s", s->path, strerror(s->err));
	else
		snprintf(err, errlen, "%s: compression failed", s->path);
}

int
shard_add(struct shard *s, const char *key, const struct shard_member *m, int n,
    char *err, size_t errlen)
{
	if (!s->wds) {
		if (put(s, m[0].p, m[0].len) == 0 && put(s, "\n", 1) == 0)
			return 0;
	} else {
		int i, r = 0;
		for (i = 0; i < n; i++)
			if ((r = add_member(s, key, &m[i], err, errlen)) < 0)
				break;
		if (i == n)
			return 0;
		if (r == -2) {
			errno = EINVAL;
			return -1;
		}
	}
	fail_msg(s, err, errlen);
	if (s->err)
		errno = s->err;
	return -1;
}

int
shard_finish(struct shard *s, char sha_out[65], uint64_t *bytes, char *err, size_t errlen)
{
	int bad = 0;
	if (s->wds) {
		/* the end-of-archive blocks, then a whole last record */
		uint64_t end = s->raw + 1024;
		bad = put_zeros(s, 1024 + (TAR_RECORD - end % TAR_RECORD) % TAR_RECORD) < 0;
	}
	if (!bad)
		bad = s->err || flush_stage(s) < 0 ||
		    (s->o.compress != SC_NONE && feed(s, NULL, 0, 1) < 0);
	if (!bad)
		bad = drain(s) < 0;
	if (!bad) {
		writer_stop(&s->w);
		if (s->w.err) {
			s->err = s->w.err;
			bad = 1;
		}
	}
	if (!bad && s->o.sync && fsync(s->fd) < 0) {
		s->err = errno;
		bad = 1;
	}
	if (!bad && close(s->fd) < 0) {
		s->fd = -1;
		s->err = errno;
		bad = 1;
	}
	if (bad) {
		int e = s->err ? s->err : EIO;
		fail_msg(s, err, errlen);
		shard_abort(s);
		errno = e;
		return -1;
	}
	s->fd = -1;
	sha256_final(s->w.sha, sha_out);
	s->w.sha = NULL;
	*bytes = s->bytes;
	destroy(s);
	return 0;
}

void
shard_abort(struct shard *s)
{
	if (!s)
		return;
	int e = errno;
	unlink(s->path);
	destroy(s);
	errno = e;
}

/* Count newlines of the decompressed jsonl; a last line without one is bad. */
struct ids_cb {
	void (*fn)(void *ctx, const char *key, size_t len);
	void *ctx;
	struct buf line;
};

static void
line_id(struct ids_cb *cb)
{
	static const char *const keys[] = { "id" };
	struct jval v;
	if (jscan(cb->line.p ? cb->line.p : "", cb->line.len, keys, &v, 1) == 0 && v.type == 's')
		cb->fn(cb->ctx, v.p, v.len);
	else
		cb->fn(cb->ctx, "", 0);
	cb->line.len = 0;
}

static int
read_lines(struct archive *a, uint64_t *records, char *err, size_t errlen, const char *path,
    struct ids_cb *cb)
{
	char buf[65536];
	la_ssize_t n;
	char last = '\n';
	while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
		la_ssize_t from = 0;
		for (la_ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n')
				continue;
			(*records)++;
			if (cb) {
				buf_add(&cb->line, buf + from, (size_t)(i - from));
				line_id(cb);
			}
			from = i + 1;
		}
		if (cb && from < n)
			buf_add(&cb->line, buf + from, (size_t)(n - from));
		last = buf[n - 1];
	}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		return -1;
	}
	if (last != '\n') {
		snprintf(err, errlen, "%s: the last line is incomplete", path);
		return -1;
	}
	return 0;
}

static int
read_members(struct archive *a, uint64_t *records, char *err, size_t errlen, const char *path,
    struct ids_cb *cb)
{
	struct archive_entry *e;
	char buf[65536];
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		size_t nl = strlen(name);
		la_ssize_t n;
		if (nl > 5 && strcmp(name + nl - 5, ".json") == 0) {
			(*records)++;
			if (cb)
				cb->fn(cb->ctx, name, strcspn(name, "."));
		}
		while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
			;
		if (n < 0) {
			snprintf(err, errlen, "%s: member %s: %s", path, name, archive_error_string(a));
			return -1;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		return -1;
	}
	return 0;
}

int
shard_read_check(const char *path, enum shard_format f, uint64_t *records, char *err, size_t errlen)
{
	return shard_read_ids(path, f, records, NULL, NULL, err, errlen);
}

int
shard_read_ids(const char *path, enum shard_format f, uint64_t *records,
    void (*on_id)(void *ctx, const char *key, size_t len), void *ctx, char *err, size_t errlen)
{
	struct ids_cb cbs = { on_id, ctx, { 0 } }, *cb = on_id ? &cbs : NULL;
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r = -1;

	*records = 0;
	archive_read_support_filter_all(a);
	if (f == SF_WDS)
		archive_read_support_format_tar(a);
	else
		archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		goto out;
	}
	if (f == SF_WDS) {
		r = read_members(a, records, err, errlen, path, cb);
	} else if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		r = read_lines(a, records, err, errlen, path, cb);
	} else {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
	}
out:
	archive_read_free(a);
	buf_free(&cbs.line);
	return r;
}
