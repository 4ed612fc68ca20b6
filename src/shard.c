/* shard: reproducible tar/jsonl shards through our own compressor.
 *
 * libarchive frames the tar (ustar, pax only where a name needs it) and
 * hands us its blocks; we compress them ourselves so that the parameters are
 * fixed here and not left to whichever filter libarchive was built with.
 * zstd always runs with nbWorkers >= 1: libzstd's multi-worker frames are
 * the same for any worker count, while nbWorkers 0 makes a different one. */
#include "shard.h"
#include "hash.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

const char *const shard_format_name[] = { "wds", "jsonl" };
const char *const shard_compress_name[] = { "zstd", "gzip", "none" };

#define OUTBUF (1 << 17)

struct shard {
	struct shard_opts o;
	char *path;
	int fd;
	int err;                 /* errno of the first write failure */
	uint64_t bytes;          /* compressed bytes written */
	struct sha256_ctx *sha;
	ZSTD_CCtx *zc;
	z_stream gz;
	int gz_live;
	unsigned char *out;
	struct archive *ar;
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

/* The file itself: every compressed byte goes through here. */
static int
emit(struct shard *s, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (write_all(s->fd, p, n) < 0) {
		s->err = errno;
		return -1;
	}
	sha256_update(s->sha, p, n);
	s->bytes += n;
	return 0;
}

static int
put_zstd(struct shard *s, const void *p, size_t n, int end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
	for (;;) {
		ZSTD_outBuffer out = { s->out, OUTBUF, 0 };
		size_t rem = ZSTD_compressStream2(s->zc, &out, &in, mode);
		if (ZSTD_isError(rem)) {
			s->err = EIO;
			return -1;
		}
		if (emit(s, s->out, out.pos) < 0)
			return -1;
		if (end ? rem == 0 : in.pos == in.size)
			return 0;
	}
}

static int
put_gzip(struct shard *s, const void *p, size_t n, int end)
{
	s->gz.next_in = (Bytef *)(uintptr_t)p;
	s->gz.avail_in = (uInt)n;
	for (;;) {
		s->gz.next_out = s->out;
		s->gz.avail_out = OUTBUF;
		int r = deflate(&s->gz, end ? Z_FINISH : Z_NO_FLUSH);
		if (r == Z_STREAM_ERROR) {
			s->err = EIO;
			return -1;
		}
		if (emit(s, s->out, OUTBUF - s->gz.avail_out) < 0)
			return -1;
		if (end ? r == Z_STREAM_END : s->gz.avail_in == 0 && s->gz.avail_out != 0)
			return 0;
	}
}

/* Uncompressed stream bytes in; end flushes the compressor's last frame. */
static int
put(struct shard *s, const void *p, size_t n, int end)
{
	if (s->err)
		return -1;
	switch (s->o.compress) {
	case SC_ZSTD:
		return put_zstd(s, p, n, end);
	case SC_GZIP:
		/* deflate takes uInt lengths: feed big buffers in pieces */
		while (n > (1u << 30)) {
			if (put_gzip(s, p, 1u << 30, 0) < 0)
				return -1;
			p = (const char *)p + (1u << 30);
			n -= 1u << 30;
		}
		return put_gzip(s, p, n, end);
	default:
		return emit(s, p, n);
	}
}

static la_ssize_t
ar_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct shard *s = ctx;
	if (put(s, p, n, 0) < 0) {
		archive_set_error(a, s->err, "%s: %s", s->path, strerror(s->err));
		return -1;
	}
	return (la_ssize_t)n;
}

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

static int
init_tar(struct shard *s, char *err, size_t errlen)
{
	s->ar = archive_write_new();
	if (!s->ar || archive_write_set_format_pax_restricted(s->ar) != ARCHIVE_OK ||
	    archive_write_add_filter_none(s->ar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(s->ar, 10240) != ARCHIVE_OK ||
	    archive_write_open(s->ar, s, NULL, ar_write, NULL) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: cannot start the tar stream: %s", s->path,
		    s->ar ? archive_error_string(s->ar) : "out of memory");
		return -1;
	}
	return 0;
}

static void
destroy(struct shard *s)
{
	if (s->ar)
		archive_write_free(s->ar);
	if (s->zc)
		ZSTD_freeCCtx(s->zc);
	if (s->gz_live)
		deflateEnd(&s->gz);
	if (s->sha) {
		char junk[65];
		sha256_final(s->sha, junk);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s->out);
	free(s->path);
	free(s);
}

struct shard *
shard_create(const char *path, const struct shard_opts *o, char *err, size_t errlen)
{
	struct shard *s = xcalloc(1, sizeof *s);
	s->o = *o;
	s->path = xstrdup(path);
	s->out = xmalloc(OUTBUF);
	s->sha = sha256_new();
	s->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		destroy(s);
		return NULL;
	}
	if ((o->compress == SC_ZSTD && init_zstd(s, err, errlen) < 0) ||
	    (o->compress == SC_GZIP && init_gzip(s, err, errlen) < 0) ||
	    (o->format == SF_WDS && init_tar(s, err, errlen) < 0)) {
		shard_abort(s);
		return NULL;
	}
	return s;
}

static int
add_member(struct shard *s, const char *key, const struct shard_member *m)
{
	struct archive_entry *e = archive_entry_new();
	char *name = xasprintf("%s.%s", key, m->ext);
	int r = -1;

	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)m->len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, s->o.mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(s->ar, e) != ARCHIVE_OK)
		goto out;
	const char *p = m->p;
	size_t left = m->len;
	while (left > 0) {
		la_ssize_t w = archive_write_data(s->ar, p, left);
		if (w <= 0)
			goto out;
		p += w;
		left -= (size_t)w;
	}
	r = 0;
out:
	free(name);
	archive_entry_free(e);
	return r;
}

static void
fail_msg(struct shard *s, char *err, size_t errlen)
{
	if (s->err)
		snprintf(err, errlen, "cannot write %s: %s", s->path, strerror(s->err));
	else
		snprintf(err, errlen, "%s: %s", s->path,
		    s->ar ? archive_error_string(s->ar) : "compression failed");
}

int
shard_add(struct shard *s, const char *key, const struct shard_member *m, int n,
    char *err, size_t errlen)
{
	if (s->o.format == SF_JSONL) {
		if (put(s, m[0].p, m[0].len, 0) == 0 && put(s, "\n", 1, 0) == 0)
			return 0;
	} else {
		int i;
		for (i = 0; i < n; i++)
			if (add_member(s, key, &m[i]) < 0)
				break;
		if (i == n)
			return 0;
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
	if (s->ar) {
		bad = archive_write_close(s->ar) != ARCHIVE_OK;
	}
	if (!bad)
		bad = put(s, NULL, 0, 1) < 0;
	if (!bad && s->o.sync && fsync(s->fd) < 0) {
		s->err = errno;
		bad = 1;
	}
	if (!bad && close(s->fd) < 0) {
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
	sha256_final(s->sha, sha_out);
	s->sha = NULL;
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
static int
read_lines(struct archive *a, uint64_t *records, char *err, size_t errlen, const char *path)
{
	char buf[65536];
	la_ssize_t n;
	char last = '\n';
	while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
		for (la_ssize_t i = 0; i < n; i++)
			*records += buf[i] == '\n';
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
read_members(struct archive *a, uint64_t *records, char *err, size_t errlen, const char *path)
{
	struct archive_entry *e;
	char buf[65536];
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		size_t nl = strlen(name);
		la_ssize_t n;
		if (nl > 5 && strcmp(name + nl - 5, ".json") == 0)
			(*records)++;
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
		r = read_members(a, records, err, errlen, path);
	} else if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		r = read_lines(a, records, err, errlen, path);
	} else {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
	}
out:
	archive_read_free(a);
	return r;
}
