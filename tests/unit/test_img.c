/* test_img: img_sniff on hand-made headers of every format, and on every
 * prefix and many mutations of them (run under ASan to catch overreads). */
#include "content/img.h"
#include "content/decode.h"
#include "base/util.h"
#include "tap.h"
#include "util.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sample {
	const char *name, *mime, *ext;
	int w, h;
	const unsigned char *b;
	size_t len;
};

/* SOI, APP0 (JFIF), fill bytes, COM, SOF0 640x480, then SOS */
static const unsigned char jpeg[] = {
	0xff, 0xd8,
	0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
	0xff, 0xff, 0xff, 0xfe, 0x00, 0x05, 'h', 'i', '!',
	0xff, 0xc0, 0x00, 0x11, 8, 0x01, 0xe0, 0x02, 0x80, 3,
	1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
	0xff, 0xda, 0x00, 0x0c, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0,
};
/* progressive (SOF2) 1x65535 after an APP1 */
static const unsigned char jpeg_prog[] = {
	0xff, 0xd8, 0xff, 0xe1, 0x00, 0x04, 0, 0,
	0xff, 0xc2, 0x00, 0x0b, 8, 0xff, 0xff, 0x00, 0x01, 1, 1, 0x11, 0,
};
static const unsigned char png[] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
	0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0x03, 0x20, 0, 0, 0x02, 0x58,
	8, 6, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef,
};
static const unsigned char gif[] = {
	'G', 'I', 'F', '8', '9', 'a', 0x90, 0x01, 0x2c, 0x01, 0xf7, 0, 0,
};
static const unsigned char webp_lossy[] = {
	'R', 'I', 'F', 'F', 0x24, 0, 0, 0, 'W', 'E', 'B', 'P',
	'V', 'P', '8', ' ', 0x18, 0, 0, 0,
	0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00,
};
/* VP8L 100x50: bits = (100-1) | (50-1) << 14 */
static const unsigned char webp_lossless[] = {
	'R', 'I', 'F', 'F', 0x1a, 0, 0, 0, 'W', 'E', 'B', 'P',
	'V', 'P', '8', 'L', 0x0d, 0, 0, 0,
	0x2f, 0x63, 0x40, 0x0c, 0x00,
};
/* VP8X canvas 1920x1080 */
static const unsigned char webp_ext[] = {
	'R', 'I', 'F', 'F', 0x24, 0, 0, 0, 'W', 'E', 'B', 'P',
	'V', 'P', '8', 'X', 0x0a, 0, 0, 0,
	0x10, 0, 0, 0, 0x7f, 0x07, 0x00, 0x37, 0x04, 0x00,
};
/* ftyp heic + meta > hdlr, iprp > ipco > (ispe 512x512 tile, ispe 4032x3024) */
static const unsigned char heic[] = {
	0, 0, 0, 24, 'f', 't', 'y', 'p', 'h', 'e', 'i', 'c', 0, 0, 0, 0,
	'm', 'i', 'f', '1', 'h', 'e', 'i', 'c',
	0, 0, 0, 86, 'm', 'e', 't', 'a', 0, 0, 0, 0,
	0, 0, 0, 8, 'h', 'd', 'l', 'r',
	0, 0, 0, 70, 'i', 'p', 'r', 'p',
	0, 0, 0, 62, 'i', 'p', 'c', 'o',
	0, 0, 0, 8, 'c', 'o', 'l', 'r',
	0, 0, 0, 20, 'i', 's', 'p', 'e', 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0,
	0, 0, 0, 20, 'i', 's', 'p', 'e', 0, 0, 0, 0, 0, 0, 0x0f, 0xc0, 0, 0, 0x0b, 0xd0,
};
/* ftyp mif1 only, no meta: HEIF with unknown size */
static const unsigned char heif[] = {
	0, 0, 0, 16, 'f', 't', 'y', 'p', 'm', 'i', 'f', '1', 0, 0, 0, 0,
};

#define S(n, m, e, w, h, a) { n, m, e, w, h, a, sizeof a }
static const struct sample samples[] = {
	S("jpeg", "image/jpeg", "jpg", 640, 480, jpeg),
	S("progressive jpeg", "image/jpeg", "jpg", 1, 65535, jpeg_prog),
	S("png", "image/png", "png", 800, 600, png),
	S("gif", "image/gif", "gif", 400, 300, gif),
	S("webp VP8", "image/webp", "webp", 320, 240, webp_lossy),
	S("webp VP8L", "image/webp", "webp", 100, 50, webp_lossless),
	S("webp VP8X", "image/webp", "webp", 1920, 1080, webp_ext),
	S("heic", "image/heic", "heic", 4032, 3024, heic),
	S("heif", "image/heif", "heif", 0, 0, heif),
};
#define NSAMPLES (sizeof samples / sizeof samples[0])

static uint32_t rng = 12345;

static uint32_t
rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/* Sniff a private, exactly-sized copy so ASan sees any read past the end. */
static int
sniff_copy(const unsigned char *b, size_t len, struct img_info *info, char *err, size_t errlen)
{
	unsigned char *c = xmalloc(len ? len : 1);
	int rc;

	memcpy(c, b, len);
	rc = img_sniff(c, len, info, err, errlen);
	free(c);
	return rc;
}

static void
formats(void)
{
	struct img_info info;
	char err[256];
	size_t i;

	for (i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		int rc = sniff_copy(s->b, s->len, &info, err, sizeof err);
		ok(rc == 0, "%s sniffed (%s)", s->name, rc ? err : "ok");
		is_str(info.mime, s->mime, "%s mime", s->name);
		is_str(info.ext, s->ext, "%s ext", s->name);
		is_int(info.width, s->w, "%s width", s->name);
		is_int(info.height, s->h, "%s height", s->name);
	}
}

static void
errors(void)
{
	static const char html[] = "<!DOCTYPE html>\n<html><body>Not found</body></html>";
	static const unsigned char bin[] = { 0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1, 1, 0x89, 0xc3 };
	static const unsigned char avif[] = {
		0, 0, 0, 28, 'f', 't', 'y', 'p', 'a', 'v', 'i', 'f', 0, 0, 0, 0,
		'a', 'v', 'i', 'f', 'm', 'i', 'f', '1', 'm', 'i', 'a', 'f',
	};
	static const unsigned char sos_first[] = { 0xff, 0xd8, 0xff, 0xda, 0, 2 };
	struct img_info info;
	char err[256];

	ok(img_sniff((const unsigned char *)html, strlen(html), &info, err, sizeof err) == -1,
	    "HTML is not an image");
	/* the kind and the size, never the bytes: a manifest may name any file */
	ok(strstr(err, "not an image: an HTML page, ") == err && strstr(err, " bytes") &&
	    !strstr(err, "DOCTYPE"), "HTML error says the kind and size, not the text: %s", err);
	ok(img_sniff((const unsigned char *)"", 0, &info, err, sizeof err) == -1, "empty fails");
	is_str(err, "zero-byte file", "empty error");
	ok(img_sniff(bin, sizeof bin, &info, err, sizeof err) == -1, "binary junk fails");
	is_str(err, "not an image: binary data of an unknown kind, 13 bytes",
	    "binary junk: its size, not its bytes");
	ok(img_sniff((const unsigned char *)"root:$6$salt$hash:19000:0:99999:7:::\n", 38, &info, err,
	    sizeof err) == -1 && !strstr(err, "root"), "a password file is not quoted: %s", err);
	ok(img_sniff(jpeg, 30, &info, err, sizeof err) == -1, "JPEG cut before SOF fails");
	is_str(err, "truncated JPEG header", "truncated JPEG error");
	ok(img_sniff(png, 5, &info, err, sizeof err) == -1, "cut PNG signature fails");
	is_str(err, "truncated PNG header", "truncated PNG signature error");
	ok(img_sniff(avif, sizeof avif, &info, err, sizeof err) == -1, "AVIF refused");
	ok(img_sniff(sos_first, sizeof sos_first, &info, err, sizeof err) == -1, "SOS before SOF");
	ok(img_sniff(png, sizeof png, &info, NULL, 0) == 0, "NULL err is allowed");
	{
		struct pixmap pm;
		ok(decode_image(heic, sizeof heic, "image/heic", 256, &pm, err, sizeof err) == -1,
		    "HEIC is not decoded");
		is_str(err, "HEIC decoding is not supported by the offline analyser", "HEIC error");
	}
}

/* Every prefix must fail cleanly or succeed; none may crash or overread. */
static void
prefixes(const unsigned char *b, size_t len, const char *name)
{
	struct img_info info;
	char err[256];
	size_t n, bad = 0;

	for (n = 0; n < len; n++) {
		err[0] = '\0';
		if (sniff_copy(b, n, &info, err, sizeof err) != 0 && err[0] == '\0')
			bad++;
	}
	ok(bad == 0, "%s: every prefix handled (%zu without a message)", name, bad);
}

static void
mutations(const unsigned char *b, size_t len, const char *name, int rounds)
{
	unsigned char *c = xmalloc(len);
	struct img_info info;
	char err[256];
	int i, j, good = 0;

	for (i = 0; i < rounds; i++) {
		memcpy(c, b, len);
		for (j = 1 + rnd() % 4; j > 0; j--) {
			size_t at = rnd() % len;
			c[at] = rnd() % 3 == 0 ? 0xff : (unsigned char)rnd();
		}
		if (sniff_copy(c, len - rnd() % (len / 4 + 1), &info, err, sizeof err) == 0) {
			good++;
			if (info.width < 0 || info.height < 0)
				break;
		}
	}
	ok(i == rounds, "%s: %d mutations, %d still sniff", name, rounds, good);
	free(c);
}

/* Real files from scripts/vj-mkimages, when it has been built. */
static void
real_files(void)
{
	static const char *names[] = { "half-red-half-blue.png", "dark.jpg", "palette.gif",
	    "small.webp" };
	static const char *mimes[] = { "image/png", "image/jpeg", "image/gif", "image/webp" };
	struct img_info info;
	struct pixmap pm;
	char err[256];
	unsigned char *b, *c;
	size_t i, len, n;
	int j, crashes = 0;

	if (access("scripts/vj-mkimages", X_OK) != 0 || scratch_make("img") != 0) {
		ok(1, "# SKIP scripts/vj-mkimages not built");
		return;
	}
	ok(scratch_images() == 0, "vj-mkimages ran");
	for (i = 0; i < 4; i++) {
		b = (unsigned char *)read_file(scratch_path(names[i]), &len, 0);
		if (!ok(b != NULL, "read %s", names[i]))
			continue;
		ok(img_sniff(b, len, &info, err, sizeof err) == 0, "%s sniffed", names[i]);
		is_str(info.mime, mimes[i], "%s mime", names[i]);
		ok(info.width >= 320 && info.height >= 200, "%s is %dx%d", names[i],
		    info.width, info.height);
		prefixes(b, len < 4096 ? len : 4096, names[i]);
		/* the decoders get the same treatment: prefixes and flipped bytes */
		c = xmalloc(len);
		for (j = 0; j < 60; j++) {
			memcpy(c, b, len);
			n = j < 20 ? len * (size_t)j / 20 : len;
			if (j >= 20) {
				int k;
				for (k = 0; k < 8; k++)
					c[rnd() % len] = (unsigned char)rnd();
			}
			if (decode_image(c, n, mimes[i], 64, &pm, err, sizeof err) == 0) {
				if (pm.w <= 0 || pm.h <= 0 || pm.w > 64 || pm.h > 64)
					crashes++;
				pixmap_free(&pm);
			} else if (err[0] == '\0')
				crashes++;
		}
		ok(crashes == 0, "%s: cut and mutated copies decode or fail with a message",
		    names[i]);
		free(c);
		free(b);
	}
	if (scratch_remove() != 0)
		ok(0, "cleanup %s", scratch);
}

int
main(void)
{
	size_t i;

	formats();
	errors();
	for (i = 0; i < NSAMPLES; i++) {
		prefixes(samples[i].b, samples[i].len, samples[i].name);
		mutations(samples[i].b, samples[i].len, samples[i].name, 20000);
	}
	real_files();
	return done_testing();
}
