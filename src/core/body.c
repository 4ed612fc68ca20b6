/* body: request bodies made of pieces (docs/design.md, "The engine").  A
 * piece is bytes held in memory or a file streamed as base64 while curl
 * reads the body, so an image goes from the object store to the wire in
 * 48 KB steps and never sits whole in memory. */
#include "core/body.h"
#include "base/hash.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

struct seg {
	char *mem;            /* owned bytes, or NULL for a file */
	size_t len;           /* bytes this segment contributes to the body */
	char *path;           /* file streamed as base64 */
	size_t flen;
	char sha[65];         /* what the file's bytes must hash to; "" no check */
	int raw;              /* the file as it is, not as base64 */
};

struct body {
	struct seg *s;
	size_t n, cap, total;
	/* read cursor */
	size_t cur, off;      /* segment, offset in its output */
	int fd;
	char carry[4];
	size_t ncarry, cpos;
	size_t foff;          /* read offset in the file being encoded */
	struct sha256_ctx *h; /* hashing the file as it is encoded */
	char *damage;         /* set when a file's bytes did not match its hash */
};

struct body *
body_new(void)
{
	struct body *b = xcalloc(1, sizeof *b);
	b->fd = -1;
	return b;
}

static struct seg *
body_seg(struct body *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->s = xrealloc(b->s, b->cap * sizeof *b->s);
	}
	memset(&b->s[b->n], 0, sizeof b->s[b->n]);
	return &b->s[b->n++];
}

void
body_add(struct body *b, const void *p, size_t n)
{
	/* coalesce with a preceding memory segment */
	if (b->n && b->s[b->n - 1].mem) {
		struct seg *s = &b->s[b->n - 1];
		s->mem = xrealloc(s->mem, s->len + n);
		memcpy(s->mem + s->len, p, n);
		s->len += n;
	} else {
		struct seg *s = body_seg(b);
		s->mem = xmalloc(n);
		memcpy(s->mem, p, n);
		s->len = n;
	}
	b->total += n;
}

void
body_adds(struct body *b, const char *s)
{
	body_add(b, s, strlen(s));
}

int
body_add_b64file(struct body *b, const char *path, const char *sha)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	struct seg *s = body_seg(b);
	s->path = xstrdup(path);
	if (sha && strlen(sha) == 64)
		memcpy(s->sha, sha, 65);
	s->flen = (size_t)st.st_size;
	s->len = (s->flen + 2) / 3 * 4;
	b->total += s->len;
	return 0;
}

int
body_add_file(struct body *b, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	struct seg *s = body_seg(b);
	s->path = xstrdup(path);
	s->raw = 1;
	s->flen = s->len = (size_t)st.st_size;
	b->total += s->len;
	return 0;
}

/* Up to n bytes of a raw file segment; -1 when it cannot be read or shrank. */
static ssize_t
raw_chunk(struct body *b, struct seg *s, char *dst, size_t n)
{
	ssize_t r;
	if (n > s->flen - b->foff)
		n = s->flen - b->foff;
	do
		r = pread(b->fd, dst, n, (off_t)b->foff);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	b->foff += (size_t)r;
	return r;
}

size_t
body_size(const struct body *b)
{
	return b->total;
}

/* Base64 of n > 0 bytes into exactly 4 * ceil(n / 3) chars at out, padded
 * when n is not a multiple of 3.  EVP_EncodeBlock writes a NUL after its
 * output, and out (curl's buffer) has no room for one: the last group is
 * encoded into tmp and copied over the NUL the full groups left. */
static size_t
b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t head = (n - 1) / 3 * 3;
	size_t o = head ? (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)head) : 0;
	unsigned char tmp[5];
	int k = EVP_EncodeBlock(tmp, in + head, (int)(n - head));
	memcpy(out + o, tmp, (size_t)k);
	return o + (size_t)k;
}

/* Encode up to want bytes of the file at b->foff into dst (a multiple of
 * 4 chars); the last group is padded only at the end of the file. */
static ssize_t
b64_chunk(struct body *b, struct seg *s, char *dst, size_t groups)
{
	unsigned char in[48 * 1024];
	size_t want = groups * 3;
	if (want > sizeof in)
		want = sizeof in;
	if (want > s->flen - b->foff)
		want = s->flen - b->foff;
	ssize_t r;
	do
		r = pread(b->fd, in, want, (off_t)b->foff);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;   /* an error, or the file shrank under us */
	size_t use = (size_t)r;
	int last = b->foff + use == s->flen;
	if (!last)
		use -= use % 3;    /* keep a partial group for the next read */
	if (use == 0)
		return -1;
	b->foff += use;
	if (b->h) {
		/* the object's name is its hash: the bytes sent must be those,
		 * or the wrong image would be paid for and journaled as done */
		sha256_update(b->h, in, use);
		if (last) {
			char got[65];
			sha256_final(b->h, got);
			b->h = NULL;
			if (strcmp(got, s->sha) != 0) {
				free(b->damage);
				b->damage = xasprintf("object store damaged: %s does not hold the bytes "
				    "its name says (re-ingest the job's image to replace it)", s->path);
				return -1;
			}
		}
	}
	return (ssize_t)b64_encode(in, use, dst);
}

size_t
body_read(struct body *b, char *dst, size_t n)
{
	size_t got = 0;
	while (got < n && b->cur < b->n) {
		struct seg *s = &b->s[b->cur];
		if (s->mem) {
			size_t k = s->len - b->off < n - got ? s->len - b->off : n - got;
			memcpy(dst + got, s->mem + b->off, k);
			got += k;
			b->off += k;
		} else if (b->cpos < b->ncarry) {
			/* the rest of a group that did not fit last time */
			size_t k = b->ncarry - b->cpos < n - got ? b->ncarry - b->cpos : n - got;
			memcpy(dst + got, b->carry + b->cpos, k);
			b->cpos += k;
			got += k;
			b->off += k;
		} else {
			if (b->fd < 0) {
				b->fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
				if (b->fd < 0)
					return (size_t)-1;
				b->foff = 0;
				if (s->sha[0])
					b->h = sha256_new();
			}
			if (b->off >= s->len)
				goto next;
			if (s->raw) {
				ssize_t k = raw_chunk(b, s, dst + got, n - got);
				if (k < 0)
					return (size_t)-1;
				got += (size_t)k;
				b->off += (size_t)k;
				goto next;
			}
			size_t groups = (n - got) / 4;
			ssize_t o;
			if (groups == 0) {
				/* less room than a group: encode one into the carry */
				char tmp[4];
				o = b64_chunk(b, s, tmp, 1);
				if (o < 0)
					return (size_t)-1;
				memcpy(b->carry, tmp, (size_t)o);
				b->ncarry = (size_t)o;
				b->cpos = 0;
				continue;
			}
			o = b64_chunk(b, s, dst + got, groups);
			if (o < 0)
				return (size_t)-1;
			got += (size_t)o;
			b->off += (size_t)o;
		}
next:
		if (b->off >= s->len) {
			if (b->fd >= 0) {
				close(b->fd);
				b->fd = -1;
			}
			b->cur++;
			b->off = 0;
			b->ncarry = b->cpos = 0;
		}
	}
	return got;
}

static void
drop_hash(struct body *b)
{
	char dummy[65];
	if (b->h)
		sha256_final(b->h, dummy);
	b->h = NULL;
}

const char *
body_damage(const struct body *b)
{
	return b->damage;
}

static void
body_rewind(struct body *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	drop_hash(b);
	b->cur = b->off = b->ncarry = b->cpos = 0;
}

char *
body_flatten(struct body *b, size_t *len)
{
	char *p = xmalloc(b->total + 1);
	size_t n = 0, r;
	body_rewind(b);
	while (n < b->total && (r = body_read(b, p + n, b->total - n)) != (size_t)-1 && r > 0)
		n += r;
	body_rewind(b);
	p[n] = 0;
	if (len)
		*len = n;
	return p;
}

void
body_free(struct body *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->s[i].mem);
		free(b->s[i].path);
	}
	if (b->fd >= 0)
		close(b->fd);
	drop_hash(b);
	free(b->damage);
	free(b->s);
	free(b);
}
