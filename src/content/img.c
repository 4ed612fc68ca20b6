/*
 * img: tell what image a buffer holds, and its size, from the headers alone.
 *
 * The bytes come from the network, so every read is bounds-checked against
 * LEN before it happens: a helper never looks at b[i] unless i < len was
 * established first.  Nothing is decoded here; decode.c does that.
 *
 * img_sniff reads the headers; img_check (below the sniffers) then walks
 * the whole structure, so that a file cut short or holding no pixels is
 * refused at ingest rather than found out by a decoder much later.
 */
#include "content/img.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
	out->orientation = 1;
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
 * The orientation tag (0x0112, a SHORT) of IFD0 in an Exif APP1 payload:
 * "Exif\0\0", then a TIFF header ("II" or "MM", 42, IFD0 offset).  1 when
 * there is none or it is out of range.
 */
static int
exif_orientation(const unsigned char *t, size_t n)
{
	unsigned (*u16)(const unsigned char *);
	uint32_t (*u32)(const unsigned char *);
	uint64_t ifd, e;
	unsigned i, count, v;

	if (n < 6 + 8 || memcmp(t, "Exif\0\0", 6) != 0)
		return 1;
	t += 6;
	n -= 6;
	if (t[0] == 'I' && t[1] == 'I') {
		u16 = le16;
		u32 = le32;
	} else if (t[0] == 'M' && t[1] == 'M') {
		u16 = be16;
		u32 = be32;
	} else
		return 1;
	if (u16(t + 2) != 42)
		return 1;
	ifd = u32(t + 4);
	if (ifd + 2 > n)
		return 1;
	count = u16(t + ifd);
	for (i = 0; i < count; i++) {
		e = ifd + 2 + 12 * (uint64_t)i;
		if (e + 12 > n)
			break;
		if (u16(t + e) != 0x0112)
			continue;
		/* type 3 (SHORT), count 1: the value sits in the first 2 bytes */
		if (u16(t + e + 2) != 3 || u32(t + e + 4) != 1)
			return 1;
		v = u16(t + e + 8);
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

/*
 * Walk the marker segments after SOI to the first SOFn.  APPn, COM, DQT and
 * friends are skipped by their length; any number of 0xFF fill bytes may
 * precede a marker; SOS or EOI before a frame header means there is none.
 * An Exif APP1 on the way gives the orientation: 5..8 display the frame
 * turned a quarter, so its width and height are swapped.
 */
static int
sniff_jpeg(const unsigned char *b, size_t len, struct img_info *out, char *err, size_t errlen)
{
	size_t p = 2, seglen;
	int m, orient = 0, rc;

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
			unsigned w, h;
			/* length(2) precision(1) height(2) width(2) */
			if (seglen < 7)
				return errf(err, errlen, "corrupt JPEG: short frame header");
			if (len - p < 7)
				return errf(err, errlen, "truncated JPEG header");
			w = be16(b + p + 5);
			h = be16(b + p + 3);
			if (w == 0 || h == 0)
				return errf(err, errlen, "JPEG frame header gives no size (%ux%u)", w, h);
			if (orient == 0)
				orient = 1;
			rc = orient >= 5 ? set(out, "image/jpeg", "jpg", h, w, err, errlen) :
			    set(out, "image/jpeg", "jpg", w, h, err, errlen);
			out->orientation = orient;
			return rc;
		}
		if (len - p < seglen)
			return errf(err, errlen, "truncated JPEG header");
		/* the first Exif APP1 counts; XMP and others also use APP1 */
		if (m == 0xe1 && orient == 0 && seglen >= 8 && memcmp(b + p + 2, "Exif", 4) == 0)
			orient = exif_orientation(b + p + 2, seglen - 2);
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
 * Say what the bytes seem to be, and how many: never the bytes themselves.
 * A manifest may name any file (a key, a password file) or any URL, and
 * the message goes to the terminal and the journal.
 */
static int
not_image(const unsigned char *b, size_t len, char *err, size_t errlen)
{
	size_t i, n = len < 512 ? len : 512, text = 0, skip = 0;
	const char *what;

	for (i = 0; i < n; i++)
		if ((b[i] >= 0x20 && b[i] < 0x7f) || b[i] == '\n' || b[i] == '\r' || b[i] == '\t' ||
		    b[i] >= 0x80)
			text++;
	while (skip < n && (b[skip] == ' ' || b[skip] == '\n' || b[skip] == '\r' || b[skip] == '\t'))
		skip++;
	if (text * 10 < n * 9)
		what = "binary data of an unknown kind";
	else if (skip < n && (b[skip] == '<') && n - skip >= 5 &&
	    (!strncasecmp((const char *)b + skip, "<!doc", 5) || !strncasecmp((const char *)b + skip, "<html", 5)))
		what = "an HTML page";
	else if (skip < n && b[skip] == '<')
		what = "XML or other markup";
	else if (skip < n && (b[skip] == '{' || b[skip] == '['))
		what = "JSON text";
	else
		what = "text";
	return errf(err, errlen, "not an image: %s, %zu bytes", what, len);
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

/* ---- whole-file checks ---- */

/*
 * Each checker returns IMG_WHOLE, or IMG_CUT / IMG_BROKEN with the reason
 * in WHY.  Reasons name structure (markers, chunk types the format
 * defines, offsets), never bytes of the file.
 */
static int
why(int rc, char *w, size_t wl, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
why(int rc, char *w, size_t wl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w, wl, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * From P, just after an SOS header, to the 0xFF of the marker that ends
 * the entropy-coded data (LEN when the bytes end first).  Inside the data
 * 0xFF is followed by 00 (a stuffed byte), D0..D7 (a restart marker) or
 * more 0xFF (fill); anything else is a marker.
 */
static size_t
scan_end(const unsigned char *b, size_t len, size_t p)
{
	const unsigned char *q;
	size_t i;

	while (p < len && (q = memchr(b + p, 0xff, len - p)) != NULL) {
		i = (size_t)(q - b);
		if (i + 1 >= len)
			return len;
		if (b[i + 1] == 0x00 || (b[i + 1] >= 0xd0 && b[i + 1] <= 0xd7))
			p = i + 2;
		else if (b[i + 1] == 0xff)
			p = i + 1;
		else
			return i;
	}
	return len;
}

/* Segments, then scans and the tables between them (progressive), to EOI. */
static int
check_jpeg(const unsigned char *b, size_t len, char *w, size_t wl)
{
	size_t p = 2, seglen;
	unsigned scans = 0;
	int m;

	for (;;) {
		if (p >= len)
			return why(IMG_CUT, w, wl, scans ? "ends after the scan data, before the "
			    "end-of-image marker" : "ends before the scan data");
		if (b[p] != 0xff)
			return why(IMG_BROKEN, w, wl, "no marker at offset %zu", p);
		while (p < len && b[p] == 0xff)
			p++;
		if (p >= len)
			continue;
		m = b[p++];
		if (m == 0x00)
			return why(IMG_BROKEN, w, wl, "stuffed byte outside the scan data at offset %zu",
			    p - 2);
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd8))
			continue;
		if (m == 0xd9) {
			if (scans == 0)
				return why(IMG_BROKEN, w, wl, "end-of-image marker before any scan data");
			return IMG_WHOLE;       /* what follows EOI (maker data) is not ours */
		}
		if (len - p < 2)
			return why(IMG_CUT, w, wl, "ends inside a marker segment at offset %zu", p - 2);
		seglen = be16(b + p);
		if (seglen < 2)
			return why(IMG_BROKEN, w, wl, "segment length %zu at offset %zu", seglen, p);
		if (len - p < seglen)
			return why(IMG_CUT, w, wl, "ends inside a marker segment at offset %zu", p - 2);
		p += seglen;
		if (m == 0xda) {
			scans++;
			p = scan_end(b, len, p);
			if (p >= len)
				return why(IMG_CUT, w, wl, "ends inside the scan data, before the "
				    "end-of-image marker");
		}
	}
}

/* The channels of a valid PNG bit depth and colour type; 0 for an invalid pair. */
static unsigned
png_channels(unsigned depth, unsigned type)
{
	int d8 = depth == 8 || depth == 16, any = d8 || depth == 1 || depth == 2 || depth == 4;

	switch (type) {
	case 0: return any ? 1 : 0;
	case 2: return d8 ? 3 : 0;
	case 3: return any && depth != 16 ? 1 : 0;
	case 4: return d8 ? 2 : 0;
	case 6: return d8 ? 4 : 0;
	default: return 0;
	}
}

/*
 * Deflate cannot expand data more than 1032 times (a 258-byte match in two
 * one-bit codes); 1100 leaves room for the stream's own overhead.
 */
#define PNG_MAX_INFLATE 1100

static int
is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * Chunks are length(4) type(4) data crc(4): IHDR (13 bytes) first, one or
 * more IDAT, IEND (empty).  The IDAT data must be able to inflate to the
 * rows IHDR promises, so a 45-byte file claiming 100000x100000 is refused.
 */
static int
check_png(const unsigned char *b, size_t len, char *w, size_t wl)
{
	size_t p = 8;
	uint64_t idat = 0, rowbytes, w_px, h_px;
	unsigned nidat = 0, ch, i;
	uint32_t clen;
	const unsigned char *type;

	if (len < 33)
		return why(IMG_CUT, w, wl, "ends inside the IHDR chunk");
	if (be32(b + 8) != 13 || memcmp(b + 12, "IHDR", 4) != 0)
		return why(IMG_BROKEN, w, wl, "no IHDR chunk of 13 bytes first");
	w_px = be32(b + 16);
	h_px = be32(b + 20);
	if (w_px == 0 || h_px == 0)
		return why(IMG_BROKEN, w, wl, "no pixels in IHDR");
	if ((ch = png_channels(b[24], b[25])) == 0)
		return why(IMG_BROKEN, w, wl, "bit depth %u with colour type %u", b[24], b[25]);
	if (b[26] != 0 || b[27] != 0 || b[28] > 1)
		return why(IMG_BROKEN, w, wl, "unknown compression, filter or interlace method");
	/* filter bytes left out: a lower bound for interlaced images too */
	rowbytes = (w_px * ch * b[24] + 7) / 8;
	for (;;) {
		if (p == len)
			return why(IMG_CUT, w, wl, "ends before the IEND chunk");
		if (len - p < 12)
			return why(IMG_CUT, w, wl, "ends inside a chunk at offset %zu", p);
		clen = be32(b + p);
		type = b + p + 4;
		if (clen > 0x7fffffffu)
			return why(IMG_BROKEN, w, wl, "chunk length over 2^31-1 at offset %zu", p);
		for (i = 0; i < 4; i++)
			if (!is_letter(type[i]))
				return why(IMG_BROKEN, w, wl, "chunk type not made of letters at offset %zu",
				    p);
		if (len - p - 12 < clen)
			return why(IMG_CUT, w, wl, "ends inside %s chunk at offset %zu",
			    memcmp(type, "IDAT", 4) == 0 ? "an IDAT" : "a", p);
		if (p > 8 && memcmp(type, "IHDR", 4) == 0)
			return why(IMG_BROKEN, w, wl, "a second IHDR chunk at offset %zu", p);
		if (memcmp(type, "IDAT", 4) == 0) {
			nidat++;
			idat += clen;
		}
		if (memcmp(type, "IEND", 4) == 0) {
			if (clen != 0)
				return why(IMG_BROKEN, w, wl, "IEND chunk of length %u", (unsigned)clen);
			if (nidat == 0)
				return why(IMG_BROKEN, w, wl, "no pixel data (no IDAT chunk)");
			if (idat * PNG_MAX_INFLATE / rowbytes < h_px)
				return why(IMG_BROKEN, w, wl, "%llu bytes of compressed pixel data "
				    "cannot hold the rows its size needs", (unsigned long long)idat);
			return IMG_WHOLE;
		}
		p += 12 + (size_t)clen;
	}
}

/*
 * Data sub-blocks from P: size(1) data, ended by a zero size.  The offset
 * after the terminator, or 0 when the bytes end first.
 */
static size_t
gif_blocks(const unsigned char *b, size_t len, size_t p)
{
	while (p < len) {
		unsigned n = b[p];
		if (n == 0)
			return p + 1;
		if (len - p - 1 < n)
			return 0;
		p += 1 + n;
	}
	return 0;
}

/*
 * Header(6), logical screen(7), global colour table, then blocks:
 * extensions (0x21), images (0x2C: descriptor(10), local colour table,
 * LZW code size(1), data sub-blocks), and the trailer (0x3B).  At least
 * one image must be there.  Some encoders leave the trailer out: a file
 * that ends right after a complete image block is taken as whole.
 */
static int
check_gif(const unsigned char *b, size_t len, char *w, size_t wl)
{
	size_t p = 13, q;
	unsigned images = 0, lzw;

	if (len < 13)
		return why(IMG_CUT, w, wl, "ends inside the logical screen descriptor");
	if (b[10] & 0x80)
		p += (size_t)3 << ((b[10] & 7) + 1);
	for (;;) {
		if (p >= len) {
			if (images > 0 && p == len && b[len - 1] == 0)
				return IMG_WHOLE;
			return why(IMG_CUT, w, wl, images ? "ends before the trailer" :
			    "ends before the first image");
		}
		switch (b[p]) {
		case 0x3b:
			if (images == 0)
				return why(IMG_BROKEN, w, wl, "no image (no image descriptor) before the "
				    "trailer");
			return IMG_WHOLE;
		case 0x21:
			if (len - p < 2 || (q = gif_blocks(b, len, p + 2)) == 0)
				return why(IMG_CUT, w, wl, "ends inside an extension at offset %zu", p);
			p = q;
			break;
		case 0x2c:
			if (len - p < 11)
				return why(IMG_CUT, w, wl, "ends inside an image descriptor at offset %zu",
				    p);
			q = p + 10;
			if (b[p + 9] & 0x80)
				q += (size_t)3 << ((b[p + 9] & 7) + 1);
			if (q >= len)
				return why(IMG_CUT, w, wl, "ends inside a colour table at offset %zu", p);
			lzw = b[q];
			if (lzw < 1 || lzw > 11)
				return why(IMG_BROKEN, w, wl, "LZW code size %u at offset %zu", lzw, q);
			if ((q = gif_blocks(b, len, q + 1)) == 0)
				return why(IMG_CUT, w, wl, "ends inside the image data at offset %zu", p);
			images++;
			p = q;
			break;
		default:
			return why(IMG_BROKEN, w, wl, "unknown block at offset %zu", p);
		}
	}
}

/*
 * The RIFF size is the file's size less 8.  Its chunks, fourcc(4) size(4)
 * data and a pad byte to an even size, fill it, and one of them holds an
 * image (VP8, VP8L, or ANMF frames).
 */
static int
check_webp(const unsigned char *b, size_t len, char *w, size_t wl)
{
	uint64_t total = (uint64_t)le32(b + 4) + 8, p = 12, csize;
	unsigned images = 0;

	if (total > len)
		return why(IMG_CUT, w, wl, "the RIFF header says %llu bytes",
		    (unsigned long long)total);
	if (total < len)
		return why(IMG_BROKEN, w, wl, "%llu bytes past the end that the RIFF header gives",
		    (unsigned long long)(len - total));
	while (p < total) {
		if (total - p < 8)
			return why(IMG_BROKEN, w, wl, "a chunk header runs past the RIFF data at "
			    "offset %llu", (unsigned long long)p);
		csize = le32(b + p + 4);
		if (csize > total - p - 8)
			return why(IMG_BROKEN, w, wl, "a chunk runs past the RIFF data at offset %llu",
			    (unsigned long long)p);
		if (memcmp(b + p, "VP8 ", 4) == 0 || memcmp(b + p, "VP8L", 4) == 0 ||
		    memcmp(b + p, "ANMF", 4) == 0)
			images++;
		/* a writer may leave out the last chunk's pad byte */
		p += 8 + csize + (csize & 1);
	}
	if (images == 0)
		return why(IMG_BROKEN, w, wl, "no image data (no VP8, VP8L or ANMF chunk)");
	return IMG_WHOLE;
}

/* Top-level boxes: each within the file, a 'meta' among them. */
static int
check_heif(const unsigned char *b, size_t len, char *w, size_t wl)
{
	size_t p = 0;
	uint64_t size, hdr;
	int meta = 0;

	while (p < len) {
		if (len - p < 8)
			return why(IMG_CUT, w, wl, "ends inside a box header at offset %zu", p);
		size = be32(b + p);
		hdr = 8;
		if (size == 1) {
			if (len - p < 16)
				return why(IMG_CUT, w, wl, "ends inside a box header at offset %zu", p);
			size = be64(b + p + 8);
			hdr = 16;
		} else if (size == 0)
			size = len - p;
		if (size < hdr)
			return why(IMG_BROKEN, w, wl, "box size %llu at offset %zu",
			    (unsigned long long)size, p);
		if (size > len - p)
			return why(IMG_CUT, w, wl, "a box at offset %zu runs past the end", p);
		if (memcmp(b + p + 4, "meta", 4) == 0)
			meta = 1;
		p += (size_t)size;
	}
	if (!meta)
		return why(IMG_BROKEN, w, wl, "no 'meta' box");
	return IMG_WHOLE;
}

int
img_check(const unsigned char *b, size_t len, const struct img_info *ii, char *err, size_t errlen)
{
	char w[160] = "", dims[40];
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (b == NULL || ii == NULL || len < 12)
		rc = why(IMG_CUT, w, sizeof w, "too short to hold an image");
	else if (strcmp(ii->ext, "jpg") == 0)
		rc = check_jpeg(b, len, w, sizeof w);
	else if (strcmp(ii->ext, "png") == 0)
		rc = check_png(b, len, w, sizeof w);
	else if (strcmp(ii->ext, "gif") == 0)
		rc = check_gif(b, len, w, sizeof w);
	else if (strcmp(ii->ext, "webp") == 0)
		rc = check_webp(b, len, w, sizeof w);
	else if (strcmp(ii->ext, "heic") == 0 || strcmp(ii->ext, "heif") == 0)
		rc = check_heif(b, len, w, sizeof w);
	else
		rc = why(IMG_BROKEN, w, sizeof w, "unknown type");
	if (rc == IMG_WHOLE)
		return IMG_WHOLE;
	if (ii != NULL && ii->width > 0)
		snprintf(dims, sizeof dims, "%dx%d, ", ii->width, ii->height);
	else
		dims[0] = '\0';
	errf(err, errlen, "%s %s (%s%zu bytes): %s", rc == IMG_CUT ? "truncated" : "corrupt",
	    ii != NULL ? ii->mime : "image", dims, len, w);
	return rc;
}
