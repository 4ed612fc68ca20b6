/* test_imgcheck: img_check on hand-made images of every format, whole, cut
 * and broken; EXIF orientation in img_sniff and decode_image; 16-bit PNG
 * grey; and every prefix of real files from scripts/vj-mkimages. */
#include "content/img.h"
#include "content/decode.h"
#include "base/util.h"
#include "tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- building images in memory ---- */

struct img {
	unsigned char b[4096];
	size_t n;
};

static void
put(struct img *m, const void *p, size_t n)
{
	if (m->n + n > sizeof m->b)
		n = sizeof m->b - m->n;
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put_be32(struct img *m, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };
	put(m, x, 4);
}

static void
put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void
png_chunk(struct img *m, const char *type, const void *data, uint32_t n)
{
	uLong crc = crc32(0, (const Bytef *)type, 4);

	put_be32(m, n);
	put(m, type, 4);
	put(m, data, n);
	crc = crc32(crc, data, n);
	put_be32(m, (uint32_t)crc);
}

/* A W x H 8-bit grey PNG: signature, IHDR, and the chunks FLAGS ask for. */
enum { P_TEXT = 1, P_IDAT = 2, P_IEND = 4, P_ALL = 7 };

static void
png_make(struct img *m, uint32_t w, uint32_t h, int flags)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char ihdr[13] = { 0 }, raw[2048], z[2048];
	uLongf zn = sizeof z;
	size_t rn = (size_t)(w + 1) * h;

	m->n = 0;
	put(m, sig, 8);
	ihdr[0] = w >> 24; ihdr[1] = w >> 16; ihdr[2] = w >> 8; ihdr[3] = w;
	ihdr[4] = h >> 24; ihdr[5] = h >> 16; ihdr[6] = h >> 8; ihdr[7] = h;
	ihdr[8] = 8;            /* depth 8, colour type 0 (grey) */
	png_chunk(m, "IHDR", ihdr, 13);
	if (flags & P_TEXT)
		png_chunk(m, "tEXt", "Comment\0SECRETWORD", 18);
	if (flags & P_IDAT) {
		if (rn > sizeof raw)
			rn = sizeof raw;
		memset(raw, 0x80, rn);
		compress(z, &zn, raw, rn);
		png_chunk(m, "IDAT", z, (uint32_t)zn);
	}
	if (flags & P_IEND)
		png_chunk(m, "IEND", "", 0);
}

/*
 * A small baseline JPEG structure: SOI, a COM holding a word, SOF0 WxH,
 * DHT, SOS, scan data with a stuffed byte, a restart marker and fill, EOI.
 * Decoders would choke on the made-up data; img_check only walks it.
 */
static void
jpeg_make(struct img *m, const unsigned char *app1, size_t app1n, int w, int h)
{
	static const unsigned char soi[] = { 0xff, 0xd8 };
	static const unsigned char com[] = { 0xff, 0xfe, 0x00, 0x0c, 'S', 'E', 'C', 'R', 'E', 'T',
	    'W', 'O', 'R', 'D' };
	unsigned char sof[] = { 0xff, 0xc0, 0x00, 0x0b, 8, h >> 8, h, w >> 8, w, 1, 1, 0x11, 0 };
	static const unsigned char dht[] = { 0xff, 0xc4, 0x00, 0x04, 0, 0 };
	static const unsigned char sos[] = { 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 0x3f, 0 };
	static const unsigned char data[] = { 0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd0, 0x78,
	    0xff, 0xff, 0xd1, 0x9a };
	static const unsigned char eoi[] = { 0xff, 0xd9 };

	m->n = 0;
	put(m, soi, sizeof soi);
	if (app1 != NULL)
		put(m, app1, app1n);
	put(m, com, sizeof com);
	put(m, sof, sizeof sof);
	put(m, dht, sizeof dht);
	put(m, sos, sizeof sos);
	put(m, data, sizeof data);
	put(m, eoi, sizeof eoi);
}

/* GIF89a 4x2, a 2-colour table, a GCE, one image of one data block, the trailer. */
static void
gif_make(struct img *m, int frames)
{
	static const unsigned char head[] = { 'G', 'I', 'F', '8', '9', 'a', 4, 0, 2, 0, 0x80, 0, 0,
	    0, 0, 0, 255, 255, 255 };
	static const unsigned char gce[] = { 0x21, 0xf9, 4, 0, 0, 0, 0, 0 };
	static const unsigned char image[] = { 0x2c, 0, 0, 0, 0, 4, 0, 2, 0, 0, 2, 3, 0x84, 0x8f,
	    0x50, 0 };

	m->n = 0;
	put(m, head, sizeof head);
	put(m, gce, sizeof gce);
	while (frames-- > 0)
		put(m, image, sizeof image);
	put(m, ";", 1);
}

/* RIFF WEBP with a VP8L chunk (100x50) of DATA_N bytes, then an EXIF chunk of 3 (padded). */
static void
webp_make(struct img *m, size_t data_n, const char *first)
{
	unsigned char hdr[20];
	static const unsigned char vp8l[5] = { 0x2f, 0x63, 0x40, 0x0c, 0x00 };
	unsigned char pad[64] = { 0 };

	memcpy(hdr, "RIFF\0\0\0\0WEBP", 12);
	memcpy(hdr + 12, first, 4);
	put_le32(hdr + 16, (uint32_t)data_n);
	m->n = 0;
	put(m, hdr, 20);
	memcpy(pad, vp8l, 5);
	put(m, pad, data_n + (data_n & 1));
	put(m, "EXIF\3\0\0\0abc\0", 12);
	put_le32(m->b + 4, (uint32_t)(m->n - 8));
}

/* Sniff and check an exactly-sized private copy, so ASan sees any overread. */
static int
check(const unsigned char *b, size_t n, struct img_info *ii, char *err, size_t errlen)
{
	unsigned char *c = xmalloc(n ? n : 1);
	struct img_info dummy;
	int rc;

	if (ii == NULL)
		ii = &dummy;
	memcpy(c, b, n);
	err[0] = '\0';
	if (img_sniff(c, n, ii, err, errlen) != 0)
		rc = 99;
	else
		rc = img_check(c, n, ii, err, errlen);
	free(c);
	return rc;
}

static int
has(const char *s, const char *want)
{
	if (strstr(s, want) != NULL)
		return 1;
	printf("#   '%s' does not say '%s'\n", s, want);
	return 0;
}

/* ---- the formats ---- */

static void
png_cases(void)
{
	struct img m;
	char err[256], want[128];
	int rc;

	png_make(&m, 3, 2, P_ALL);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "PNG: whole (%s)", err);

	/* signature, IHDR 100000x100000, IEND: 45 bytes and no pixel data */
	png_make(&m, 100000, 100000, P_IEND);
	is_int(m.n, 45, "PNG: the 45-byte file");
	is_int(check(m.b, m.n, NULL, err, sizeof err) , IMG_BROKEN, "PNG: no IDAT is broken");
	snprintf(want, sizeof want, "corrupt image/png (100000x100000, %zu bytes): no pixel data", m.n);
	ok(has(err, want), "PNG: the message names type, size and bytes");

	png_make(&m, 60000, 60000, P_IDAT | P_IEND);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN,
	    "PNG: 60000x60000 from a few bytes of IDAT is broken");
	ok(has(err, "cannot hold the rows"), "PNG: the IDAT size message");

	png_make(&m, 3, 2, P_TEXT | P_IDAT);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_CUT, "PNG: no IEND is cut");
	ok(has(err, "truncated image/png (3x2, ") && has(err, "ends before the IEND chunk"),
	    "PNG: cut message");
	png_make(&m, 3, 2, P_ALL);
	rc = check(m.b, m.n - 14, NULL, err, sizeof err);
	is_int(rc, IMG_CUT, "PNG: cut inside IDAT");
	ok(has(err, "inside an IDAT chunk"), "PNG: says where");

	png_make(&m, 3, 2, P_ALL);
	m.b[33 + 4] = '1';      /* tEXt -> 1EXt */
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "PNG: a chunk type with a digit");
	png_make(&m, 3, 2, P_ALL);
	m.b[33] = 0x80;         /* tEXt's length over 2^31 */
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "PNG: a chunk length over 2^31");
	png_make(&m, 3, 2, P_ALL);
	m.b[24] = 3;            /* depth 3 */
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "PNG: bit depth 3");
	ok(has(err, "bit depth 3 with colour type 0"), "PNG: depth message");
	png_make(&m, 3, 2, P_ALL);
	m.b[m.n - 12 + 3] = 1;  /* IEND of length 1 */
	ok(check(m.b, m.n, NULL, err, sizeof err) != IMG_WHOLE, "PNG: IEND with data");
	png_make(&m, 3, 2, P_ALL);
	put(&m, "trailing", 8);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "PNG: bytes after IEND are not ours");
	png_make(&m, 3, 2, P_TEXT | P_IEND);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "PNG: small, no IDAT");
	ok(strstr(err, "SECRET") == NULL, "PNG: no file content in the message");
}

static void
jpeg_cases(void)
{
	struct img m;
	unsigned char *p;
	char err[256];
	size_t i;

	jpeg_make(&m, NULL, 0, 640, 480);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "JPEG: whole (%s)", err);
	is_int(check(m.b, m.n - 2, NULL, err, sizeof err), IMG_CUT, "JPEG: no EOI is cut");
	is_str(err, "truncated image/jpeg (640x480, 57 bytes): ends inside the scan data, "
	    "before the end-of-image marker", "JPEG: cut message");
	is_int(check(m.b, m.n - 1, NULL, err, sizeof err), IMG_CUT, "JPEG: half an EOI is cut");
	for (i = 2; i < m.n - 1; i++)
		if (check(m.b, i, NULL, err, sizeof err) == IMG_WHOLE)
			break;
	ok(i == m.n - 1, "JPEG: no prefix is whole");
	put(&m, "\0\1\2 maker notes", 16);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "JPEG: data after EOI is allowed");

	/* a second scan after more tables (progressive), then EOI */
	jpeg_make(&m, NULL, 0, 8, 8);
	m.n -= 2;
	put(&m, "\xff\xc4\x00\x04\x00\x00\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x11\x22\xff\xd9", 20);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "JPEG: two scans");

	/* EOI straight after the frame header: no scan data */
	jpeg_make(&m, NULL, 0, 8, 8);
	p = memmem(m.b, m.n, "\xff\xc4", 2);
	p[0] = 0xff;
	p[1] = 0xd9;
	is_int(check(m.b, (size_t)(p - m.b) + 2, NULL, err, sizeof err), IMG_BROKEN,
	    "JPEG: EOI before any scan");
	ok(has(err, "before any scan data"), "JPEG: no-scan message");
	/* a segment whose length runs past the end */
	jpeg_make(&m, NULL, 0, 8, 8);
	p = memmem(m.b, m.n, "\xff\xc4", 2);
	p[3] = 0xff;
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_CUT, "JPEG: a segment past the end");
	ok(strstr(err, "SECRET") == NULL, "JPEG: no file content in the message");
	/* junk where a marker should be */
	jpeg_make(&m, NULL, 0, 8, 8);
	p = memmem(m.b, m.n, "\xff\xc4", 2);
	p[0] = 'x';
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "JPEG: no marker after a segment");
}

static void
gif_cases(void)
{
	struct img m;
	char err[256];
	size_t i;

	gif_make(&m, 1);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "GIF: whole (%s)", err);
	gif_make(&m, 3);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "GIF: three frames");
	is_int(check(m.b, m.n - 1, NULL, err, sizeof err), IMG_WHOLE,
	    "GIF: no trailer after a complete image is taken");
	is_int(check(m.b, m.n - 3, NULL, err, sizeof err), IMG_CUT, "GIF: cut in the last frame");
	ok(has(err, "truncated image/gif (4x2, "), "GIF: cut message");
	gif_make(&m, 1);
	for (i = 6; i < m.n - 1; i++)
		if (check(m.b, i, NULL, err, sizeof err) == IMG_WHOLE)
			break;
	ok(i == m.n - 1, "GIF: no shorter prefix is whole");
	gif_make(&m, 0);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "GIF: no frame is broken");
	ok(has(err, "corrupt image/gif (4x2, 28 bytes): no image"), "GIF: no-frame message");
	is_int(check(m.b, m.n - 1, NULL, err, sizeof err), IMG_CUT, "GIF: no frame, no trailer");
	gif_make(&m, 1);
	m.b[19 + 8] = 0x99;     /* the image's introducer */
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "GIF: an unknown block");
	gif_make(&m, 1);
	m.b[19 + 8 + 10] = 0;   /* LZW code size 0 */
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "GIF: LZW code size 0");
}

static void
webp_cases(void)
{
	struct img m;
	char err[256];

	webp_make(&m, 13, "VP8L");
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_WHOLE, "WebP: whole (%s)", err);
	put_le32(m.b + 4, (uint32_t)(m.n - 8 + 100));
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_CUT, "WebP: RIFF size over the file");
	ok(has(err, "truncated image/webp (100x50, ") && has(err, "the RIFF header says"),
	    "WebP: RIFF message");
	put_le32(m.b + 4, (uint32_t)(m.n - 8 - 12));
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "WebP: RIFF size under the file");
	ok(has(err, "12 bytes past the end"), "WebP: trailing bytes message");
	webp_make(&m, 13, "VP8L");
	is_int(check(m.b, m.n - 4, NULL, err, sizeof err), IMG_CUT, "WebP: cut");
	webp_make(&m, 13, "VP8L");
	put_le32(m.b + 16, 500);
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "WebP: a chunk past the RIFF data");
	/* VP8X then only metadata: nothing to show */
	webp_make(&m, 10, "VP8X");
	is_int(check(m.b, m.n, NULL, err, sizeof err), IMG_BROKEN, "WebP: no image chunk");
	ok(has(err, "no image data"), "WebP: no-image message");
}

static void
heif_cases(void)
{
	static const unsigned char heic[] = {
		0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0,
		'm', 'i', 'f', '1', 'h', 'e', 'i', 'c',
		0, 0, 0, 36, 'm', 'e', 't', 'a', 0, 0, 0, 0,
		0, 0, 0, 24, 'i', 'p', 'r', 'p', 0, 0, 0, 16, 'i', 'p', 'c', 'o',
		0, 0, 0, 8, 'c', 'o', 'l', 'r',
		0, 0, 0, 12, 'm', 'd', 'a', 't', 1, 2, 3, 4,
	};
	char err[256];

	is_int(check(heic, sizeof heic, NULL, err, sizeof err), IMG_WHOLE, "HEIF: whole (%s)", err);
	is_int(check(heic, sizeof heic - 2, NULL, err, sizeof err), IMG_CUT, "HEIF: mdat cut");
	ok(has(err, "truncated image/heic ("), "HEIF: cut message");
	is_int(check(heic, 24, NULL, err, sizeof err), IMG_BROKEN, "HEIF: ftyp alone has no meta");
}

/* ---- EXIF orientation ---- */

/* An APP1 segment: "Exif\0\0", a TIFF header in ORDER, IFD0 with one entry. */
static size_t
app1(unsigned char *a, const char *order, unsigned tag, unsigned type, unsigned value)
{
	int le = order[0] == 'I';
	unsigned char *t = a + 4 + 6;
	size_t n = 2 + 2 + 6 + 8 + 2 + 12 + 4;

#define W16(p, v) do { if (le) { (p)[0] = (v); (p)[1] = (v) >> 8; } else { (p)[0] = (v) >> 8; (p)[1] = (v); } } while (0)
	memset(a, 0, n);
	a[0] = 0xff;
	a[1] = 0xe1;
	a[2] = (unsigned char)((n - 2) >> 8);
	a[3] = (unsigned char)(n - 2);
	memcpy(a + 4, "Exif\0\0", 6);
	memcpy(t, order, 2);
	W16(t + 2, 42u);
	W16(t + (le ? 4 : 6), 8u);       /* IFD0 at 8 */
	W16(t + 8, 1u);                  /* one entry */
	W16(t + 10, tag);
	W16(t + 12, type);
	W16(t + (le ? 14 : 16), 1u);     /* count 1 */
	W16(t + 18, value);
#undef W16
	return n;
}

static void
orientation_cases(void)
{
	unsigned char a[64];
	struct img m;
	struct img_info ii;
	char err[256];
	size_t n;
	unsigned o;

	for (o = 1; o <= 8; o++) {
		n = app1(a, o % 2 ? "II" : "MM", 0x0112, 3, o);
		jpeg_make(&m, a, n, 200, 100);
		is_int(check(m.b, m.n, &ii, err, sizeof err), IMG_WHOLE, "orientation %u: whole", o);
		is_int(ii.orientation, o, "orientation %u read (%s)", o, o % 2 ? "II" : "MM");
		ok(o >= 5 ? ii.width == 100 && ii.height == 200 : ii.width == 200 && ii.height == 100,
		    "orientation %u: displayed %dx%d", o, ii.width, ii.height);
	}
	n = app1(a, "MM", 0x0112, 3, 9);
	jpeg_make(&m, a, n, 200, 100);
	check(m.b, m.n, &ii, err, sizeof err);
	ok(ii.orientation == 1 && ii.width == 200, "orientation 9 is ignored");
	n = app1(a, "MM", 0x0112, 4, 6);
	jpeg_make(&m, a, n, 200, 100);
	check(m.b, m.n, &ii, err, sizeof err);
	ok(ii.orientation == 1, "orientation as a LONG is ignored");
	n = app1(a, "MM", 0x0110, 3, 6);
	jpeg_make(&m, a, n, 200, 100);
	check(m.b, m.n, &ii, err, sizeof err);
	ok(ii.orientation == 1, "another tag is not the orientation");
	n = app1(a, "MM", 0x0112, 3, 6);
	a[4 + 6 + 7] = 200;     /* IFD0 offset past the segment */
	jpeg_make(&m, a, n, 200, 100);
	check(m.b, m.n, &ii, err, sizeof err);
	ok(ii.orientation == 1 && ii.width == 200, "an IFD offset past the segment is ignored");
	n = app1(a, "XX", 0x0112, 3, 6);
	jpeg_make(&m, a, n, 200, 100);
	check(m.b, m.n, &ii, err, sizeof err);
	ok(ii.orientation == 1, "an unknown byte order is ignored");
	png_make(&m, 3, 2, P_ALL);
	check(m.b, m.n, &ii, err, sizeof err);
	is_int(ii.orientation, 1, "a PNG has orientation 1");
}

/* ---- real files ---- */

static int
run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		printf("# '%s' failed\n", cmd);
	return rc == 0;
}

/* The quarter (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) holding most light. */
static int
bright_quarter(const struct pixmap *pm)
{
	double q[4] = { 0 };
	int x, y, best = 0;

	for (y = 0; y < pm->h; y++)
		for (x = 0; x < pm->w; x++)
			q[(y >= pm->h / 2) * 2 + (x >= pm->w / 2)] += pm->rgb[((size_t)y * pm->w + x) * 3];
	for (x = 1; x < 4; x++)
		if (q[x] > q[best])
			best = x;
	return best;
}

static unsigned char *
slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return (unsigned char *)read_file(path, len, 0);
}

/*
 * A disc in the top-left quarter of a 200x100 image, tagged with each
 * orientation: decoded, it shows where EXIF says (5..8 also turn the
 * frame to 100x200), which pins down every one of the eight.
 */
static void
decode_orientation(const char *dir)
{
	static const int quarter[9] = { 0, 0, 1, 3, 2, 0, 1, 3, 2 };
	char cmd[1024], name[32], err[256];
	struct pixmap pm;
	unsigned char *b;
	size_t len;
	int o;

	for (o = 1; o <= 8; o++) {
		snprintf(name, sizeof name, "o%d.jpg", o);
		snprintf(cmd, sizeof cmd, "scripts/vj-mkimages --one 200x100 corner jpg %s/%s "
		    "--orientation %d", dir, name, o);
		if (!ok(run(cmd), "made %s", name))
			continue;
		b = slurp(dir, name, &len);
		if (!ok(b != NULL && decode_image(b, len, "image/jpeg", 0, &pm, err, sizeof err) == 0,
		    "%s decoded", name)) {
			free(b);
			continue;
		}
		ok(o >= 5 ? pm.w == 100 && pm.h == 200 : pm.w == 200 && pm.h == 100,
		    "orientation %d: decoded as displayed, %dx%d", o, pm.w, pm.h);
		is_int(bright_quarter(&pm), quarter[o], "orientation %d: the disc is where it shows", o);
		pixmap_free(&pm);
		/* scaled down too */
		ok(decode_image(b, len, "image/jpeg", 50, &pm, err, sizeof err) == 0 &&
		    (o >= 5 ? pm.h == 50 && pm.w == 25 : pm.w == 50 && pm.h == 25),
		    "orientation %d: scaled to %dx%d", o, pm.w, pm.h);
		pixmap_free(&pm);
		free(b);
	}
}

static void
png16_grey(const char *dir)
{
	char cmd[1024], err[256];
	struct pixmap pm;
	unsigned char *b;
	size_t len;

	snprintf(cmd, sizeof cmd, "scripts/vj-mkimages --one 8x8 grey png16 %s/g16.png", dir);
	if (!ok(run(cmd), "made a 16-bit PNG"))
		return;
	b = slurp(dir, "g16.png", &len);
	ok(b != NULL && decode_image(b, len, "image/png", 0, &pm, err, sizeof err) == 0,
	    "16-bit PNG decoded");
	if (pm.rgb != NULL)
		ok(abs(pm.rgb[0] - 128) <= 1 && abs(pm.rgb[1] - 128) <= 1,
		    "16-bit mid-grey without gAMA stays mid-grey (%d)", pm.rgb[0]);
	pixmap_free(&pm);
	free(b);
}

/* Every standard image is whole; none of its prefixes is (a GIF may lose its trailer). */
static void
real_files(void)
{
	static const char *names[] = { "half-red-half-blue.png", "dark.jpg", "palette.gif",
	    "small.webp", "shapes.webp", "sunset.jpg", "checkerboard.png", "truncated.jpg" };
	char dir[] = "/tmp/vj-test-imgcheck.XXXXXX", cmd[600], err[256];
	unsigned char *b;
	size_t i, n, len, step, bad;

	if (access("scripts/vj-mkimages", X_OK) != 0 || mkdtemp(dir) == NULL) {
		ok(1, "# SKIP scripts/vj-mkimages not built");
		return;
	}
	snprintf(cmd, sizeof cmd, "scripts/vj-mkimages %s >/dev/null", dir);
	ok(run(cmd), "vj-mkimages ran");
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!ok((b = slurp(dir, names[i], &len)) != NULL, "read %s", names[i]))
			continue;
		/* truncated.jpg is closed with EOI on purpose: only the decoder can tell */
		is_int(check(b, len, NULL, err, sizeof err), IMG_WHOLE, "%s is whole (%s)", names[i],
		    err);
		step = len / 3000 + 1;
		bad = 0;
		for (n = 0; n < len - (strstr(names[i], ".gif") ? 1 : 0); n += step)
			if (check(b, n, NULL, err, sizeof err) == IMG_WHOLE || err[0] == '\0')
				bad++;
		ok(bad == 0, "%s: no prefix is whole, each has a message (%zu bad)", names[i], bad);
		free(b);
	}
	decode_orientation(dir);
	png16_grey(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	run(cmd);
}

int
main(void)
{
	png_cases();
	jpeg_cases();
	gif_cases();
	webp_cases();
	heif_cases();
	orientation_cases();
	real_files();
	return done_testing();
}
