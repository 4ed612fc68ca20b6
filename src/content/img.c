/*
 * img: tell what image a buffer holds, and its size, from the headers alone.
 *
 * The bytes come from the network, so every read is bounds-checked against
 * LEN before it happens: a helper never looks at b[i] unless i < len was
 * established first.  Nothing is decoded here; decode.c does that.
 */
#include "content/img.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"


static unsigned
be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const unsigned char *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static unsigned
le16(const unsigned char *p)
{
	return (unsigned)p[1] << 8 | p[0];
}

static uint32_t
le24(const unsigned char *p)
{
	return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | le24(p);
}

static int
set(struct img_info *out, const char *mime, const char *ext, uint64_t w, uint64_t h,
    char *err, size_t errlen)
{
	if (w > INT_MAX || h > INT_MAX)
		return errf(err, errlen, "%s: absurd dimensions %llux%llu", mime,
		    (unsigned long long)w, (unsigned long long)h);
	memset(out, 0, sizeof *out);
	snprintf(out->mime, sizeof out->mime, "%s", mime);
	snprintf(out->ext, sizeof out->ext, "%s", ext);
	out->width = (int)w;
	out->height = (int)h;
	return 0;
}

/* Printable rendering of up to 4 bytes (a chunk or brand name) for messages. */
static void
fourcc(const unsigned char *p, char s[5])
{
	int i;

	for (i = 0; i < 4; i++)
		s[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	s[4] = '\0';
}

/* ---- JPEG ---- */

/* C0..CF are frame headers except DHT (C4), JPG (C8) and DAC (CC). */
static int
is_sof(int m)
{
	return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

/*
 * Walk the marker segments after SOI to the first SOFn.  APPn, COM, DQT and
 * friends are skipped by their length; any number of 0xFF fill bytes may
 * precede a marker; SOS or EOI before a frame header means there is none.
 */
static int
sniff_jpeg(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	size_t p = 2, seglen;
	int m;

	for (;;) {
		if (p >= len)
			return errf(err, errlen, "truncated JPEG header");
		if (b[p] != 0xff)
			return errf(err, errlen, "corrupt JPEG: no marker at offset %zu", p);
		while (p < len && b[p] == 0xff)
			p++;
		if (p >= len)
			return errf(err, errlen, "truncated JPEG header");
		m = b[p++];
		if (m == 0x00)
			return errf(err, errlen, "corrupt JPEG: stuffed byte at offset %zu", p - 2);
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd8))
			continue;       /* TEM, RSTn, SOI: no length field */
		if (m == 0xd9 || m == 0xda)
			return errf(err, errlen, "corrupt JPEG: no frame header before %s",
			    m == 0xda ? "the scan data" : "end of image");
		if (len - p < 2)
			return errf(err, errlen, "truncated JPEG header");
		seglen = be16(b + p);
		if (seglen < 2)
			return errf(err, errlen, "corrupt JPEG: segment length %zu at offset %zu",
			    seglen, p);
		if (is_sof(m)) {
			/* length(2) precision(1) height(2) width(2) */
			if (seglen < 7)
				return errf(err, errlen, "corrupt JPEG: short frame header");
			if (len - p < 7)
				return errf(err, errlen, "truncated JPEG header");
			if (be16(b + p + 5) == 0 || be16(b + p + 3) == 0)
				return errf(err, errlen, "JPEG frame header gives no size (%ux%u)",
				    be16(b + p + 5), be16(b + p + 3));
			return set(out, "image/jpeg", "jpg", be16(b + p + 5), be16(b + p + 3),
			    err, errlen);
		}
		if (len - p < seglen)
			return errf(err, errlen, "truncated JPEG header");
		p += seglen;
	}
}

/* ---- PNG ---- */

static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

/* The signature is followed by IHDR: length(4) "IHDR" width(4) height(4). */
static int
sniff_png(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	uint32_t w, h;

	if (len < 24)
		return errf(err, errlen, "truncated PNG header");
	if (memcmp(b + 12, "IHDR", 4) != 0)
		return errf(err, errlen, "corrupt PNG: first chunk is not IHDR");
	w = be32(b + 16);
	h = be32(b + 20);
	if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX)
		return errf(err, errlen, "corrupt PNG: bad size %ux%u", (unsigned)w, (unsigned)h);
	return set(out, "image/png", "png", w, h, err, errlen);
}

/* ---- GIF ---- */

/* "GIF87a"/"GIF89a", then the logical screen width and height, little-endian. */
static int
sniff_gif(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	if (len < 10)
		return errf(err, errlen, "truncated GIF header");
	if (le16(b + 6) == 0 || le16(b + 8) == 0)
		return errf(err, errlen, "corrupt GIF: screen size %ux%u", le16(b + 6), le16(b + 8));
	return set(out, "image/gif", "gif", le16(b + 6), le16(b + 8), err, errlen);
}

/* ---- WebP ---- */

/*
 * "RIFF" size "WEBP", then the first chunk: fourcc(4) size(4) data.  Its
 * data starts at offset 20; where the size lives depends on the chunk kind.
 */
static int
sniff_webp(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	const unsigned char *d = b + 20;
	uint32_t bits;
	char cc[5];

	if (len < 20)
		return errf(err, errlen, "truncated WebP header");
	if (memcmp(b + 12, "VP8 ", 4) == 0) {
		/* frame tag(3), start code 9d 01 2a, 14-bit width and height */
		if (len < 30)
			return errf(err, errlen, "truncated WebP header");
		if (d[3] != 0x9d || d[4] != 0x01 || d[5] != 0x2a)
			return errf(err, errlen, "corrupt WebP: bad VP8 start code");
		if ((le16(d + 6) & 0x3fff) == 0 || (le16(d + 8) & 0x3fff) == 0)
			return errf(err, errlen, "corrupt WebP: zero VP8 size");
		return set(out, "image/webp", "webp", le16(d + 6) & 0x3fff, le16(d + 8) & 0x3fff,
		    err, errlen);
	}
	if (memcmp(b + 12, "VP8L", 4) == 0) {
		/* signature 0x2f, then 14 bits width-1, 14 bits height-1 */
		if (len < 25)
			return errf(err, errlen, "truncated WebP header");
		if (d[0] != 0x2f)
			return errf(err, errlen, "corrupt WebP: bad VP8L signature");
		bits = le32(d + 1);
		return set(out, "image/webp", "webp", (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1,
		    err, errlen);
	}
	if (memcmp(b + 12, "VP8X", 4) == 0) {
		/* flags(4), canvas width-1 (24 bits), canvas height-1 (24 bits) */
		if (len < 30)
			return errf(err, errlen, "truncated WebP header");
		return set(out, "image/webp", "webp", (uint64_t)le24(d + 4) + 1,
		    (uint64_t)le24(d + 7) + 1, err, errlen);
	}
	fourcc(b + 12, cc);
	return errf(err, errlen, "corrupt WebP: unknown first chunk '%s'", cc);
}

/* ---- HEIC/HEIF (ISO base media file format) ---- */

/*
 * Step over one box in b[*p..end): 1 with its type at b[*start - 8 or -16]
 * and payload [*start, *stop), 0 at the end.  A box claiming to run past END
 * is clamped to END, so a cut-off file still yields what it holds.
 */
static int
next_box(const unsigned char *b, size_t *p, size_t end, const unsigned char **type,
    size_t *start, size_t *stop)
{
	uint64_t size;
	size_t hdr = 8;

	if (*p > end || end - *p < 8)
		return 0;
	size = be32(b + *p);
	if (size == 1) {        /* 64-bit size follows the type */
		if (end - *p < 16)
			return 0;
		size = be64(b + *p + 8);
		hdr = 16;
	} else if (size == 0)   /* box runs to the end of its parent */
		size = end - *p;
	if (size < hdr)
		return 0;
	if (size > end - *p)
		size = end - *p;
	*type = b + *p + 4;
	*start = *p + hdr;
	*stop = *p + (size_t)size;
	*p = *stop;
	return 1;
}

static int
find_box(const unsigned char *b, size_t from, size_t end, const char *want,
    size_t *start, size_t *stop)
{
	const unsigned char *type;
	size_t p = from;

	while (next_box(b, &p, end, &type, start, stop))
		if (memcmp(type, want, 4) == 0)
			return 0;
	return -1;
}

/*
 * meta (full box) > iprp > ipco > ispe (full box: width(4) height(4)).  A
 * file may hold several ispe (grid tiles, thumbnails); the largest is the
 * full image, as tiles and thumbnails are by construction smaller.
 */
static void
heif_size(const unsigned char *b, size_t len, uint64_t *w, uint64_t *h)
{
	const unsigned char *type;
	size_t s, e, p, cs, ce;

	*w = *h = 0;
	if (find_box(b, 0, len, "meta", &s, &e) != 0 || e - s < 4)
		return;
	if (find_box(b, s + 4, e, "iprp", &s, &e) != 0)
		return;
	if (find_box(b, s, e, "ipco", &s, &e) != 0)
		return;
	for (p = s; next_box(b, &p, e, &type, &cs, &ce); ) {
		if (memcmp(type, "ispe", 4) != 0 || ce - cs < 12)
			continue;
		if ((uint64_t)be32(b + cs + 4) * be32(b + cs + 8) > *w * *h) {
			*w = be32(b + cs + 4);
			*h = be32(b + cs + 8);
		}
	}
}

static int
brand_in(const unsigned char *brand, const char *const *list)
{
	for (; *list != NULL; list++)
		if (memcmp(brand, *list, 4) == 0)
			return 1;
	return 0;
}

static int
sniff_heif(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	static const char *const heic[] = { "heic", "heix", "heim", "heis", "hevc", "hevx", NULL };
	static const char *const heif[] = { "mif1", "msf1", "heif", "mif2", NULL };
	static const char *const avif[] = { "avif", "avis", NULL };
	int is_heic = 0, is_heif = 0, is_avif = 0;
	uint64_t w, h;
	size_t size, p;
	char cc[5];

	size = be32(b);
	if (size < 16 || size % 4 != 0)
		return errf(err, errlen, "corrupt ISO media file: ftyp box size %zu", size);
	if (len < size)
		return errf(err, errlen, "truncated HEIF header");
	/* major brand at 8, minor version at 12, compatible brands from 16 */
	for (p = 8; p + 4 <= size; p += p == 8 ? 8 : 4) {
		is_heic |= brand_in(b + p, heic);
		is_heif |= brand_in(b + p, heif);
		is_avif |= brand_in(b + p, avif);
	}
	if (is_avif && !is_heic)
		return errf(err, errlen, "unsupported image format: AVIF");
	if (!is_heic && !is_heif) {
		fourcc(b + 8, cc);
		return errf(err, errlen, "not an image: ISO media file of brand '%s'", cc);
	}
	heif_size(b, len, &w, &h);
	return set(out, is_heic ? "image/heic" : "image/heif", is_heic ? "heic" : "heif",
	    w, h, err, errlen);
}

/* ---- everything else ---- */

/*
 * Show what the bytes are instead: text (an HTML error page, JSON from an
 * API) is quoted, up to 16 characters; binary is shown as hex.
 */
static int
not_image(const unsigned char *b, size_t len, char *err, size_t errlen)
{
	char s[17], hex[3 * 8 + 1];
	size_t i, n = len < 16 ? len : 16, text = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = b[i];
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		if (c >= 0x20 && c < 0x7f)
			text++;
		else
			c = '.';
		s[i] = (char)c;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	s[n] = '\0';
	if (text * 4 >= (len < 16 ? len : 16) * 3)
		return errf(err, errlen, "not an image: starts with '%s'", s);
	for (i = 0; i < len && i < 8; i++)
		snprintf(hex + 3 * i, sizeof hex - 3 * i, "%02x ", b[i]);
	hex[3 * i - 1] = '\0';
	return errf(err, errlen, "not an image: unrecognised data starting with %s", hex);
}

/* 1 when all LEN bytes of B are a prefix of the signature SIG. */
static int
prefix_of(const unsigned char *b, size_t len, const void *sig, size_t siglen)
{
	return len < siglen && memcmp(b, sig, len) == 0;
}

int
img_sniff(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	struct img_info dummy;

	if (out == NULL)
		out = &dummy;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (b == NULL || len == 0)
		return errf(err, errlen, "zero-byte file");
	if (len >= 2 && b[0] == 0xff && b[1] == 0xd8)
		return sniff_jpeg(b, len, out, err, errlen);
	if (len >= 8 && memcmp(b, png_sig, 8) == 0)
		return sniff_png(b, len, out, err, errlen);
	if (len >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
		return sniff_gif(b, len, out, err, errlen);
	if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
		return sniff_webp(b, len, out, err, errlen);
	if (len >= 12 && memcmp(b + 4, "ftyp", 4) == 0)
		return sniff_heif(b, len, out, err, errlen);

	/* A cut-off signature is a truncated image, not some other file. */
	if (len >= 2) {
		if (prefix_of(b, len, png_sig, 8))
			return errf(err, errlen, "truncated PNG header");
		if (prefix_of(b, len, "GIF87a", 6) || prefix_of(b, len, "GIF89a", 6))
			return errf(err, errlen, "truncated GIF header");
		if (len < 12 && memcmp(b, "RIFF", len < 4 ? len : 4) == 0 &&
		    (len <= 8 || memcmp(b + 8, "WEBP", len - 8) == 0))
			return errf(err, errlen, "truncated WebP header");
		if (len > 4 && len < 12 && memcmp(b + 4, "ftyp", len - 4 < 4 ? len - 4 : 4) == 0)
			return errf(err, errlen, "truncated HEIF header");
	} else if (b[0] == 0xff)
		return errf(err, errlen, "truncated JPEG header");
	return not_image(b, len, err, errlen);
}
