/*
 * fuzz_img: a libFuzzer harness for the image sniffers.  Every input goes
 * through img_sniff and, when that accepts it, img_check; the answers must
 * keep their promises (a message on every refusal, printable and quoting
 * nothing; sizes and orientation in range), or the harness aborts.
 *
 * Build and run from the top of the tree (seeds in tests/fuzz/corpus/img,
 * made by tests/fuzz/mkcorpus.sh):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -D_GNU_SOURCE \
 *       tests/fuzz/fuzz_img.c src/content/img.c src/base/util.c -o fuzz_img
 *   mkdir -p /tmp/fuzz-img && ./fuzz_img -max_total_time=60 /tmp/fuzz-img tests/fuzz/corpus/img
 *
 * (img.c needs only errf from base/util.c; linking all of src/base also
 * needs $(pkg-config --cflags --libs jansson libcrypto) -lpthread.)
 *
 * With -DFUZZ_DECODE (add src/content/decode.c and the codecs:
 * $(pkg-config --cflags --libs libjpeg libpng libwebp) -lgif) the bytes
 * are also decoded, small, as the offline analyser does.
 */
#include "content/img.h"
#ifdef FUZZ_DECODE
#include "content/decode.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
expect(int cond, const char *what, const char *msg)
{
	if (!cond) {
		fprintf(stderr, "fuzz_img: broken promise: %s (message: '%s')\n", what, msg);
		abort();
	}
}

/* A message is there, fits, and is printable ASCII: no file bytes leak into it. */
static void
check_msg(const char *m, size_t cap)
{
	size_t i, n = strnlen(m, cap);

	expect(n > 0, "a refusal without a message", m);
	expect(n < cap, "an unterminated message", "");
	for (i = 0; i < n; i++)
		expect(m[i] >= 0x20 && m[i] < 0x7f, "a non-printable byte in a message", m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_info ii;
	char err[256];
	int rc;

	memset(err, 'x', sizeof err);
	if (img_sniff(data, size, &ii, err, sizeof err) != 0) {
		check_msg(err, sizeof err);
		return 0;
	}
	expect(ii.mime[0] != '\0' && ii.ext[0] != '\0', "no type", ii.mime);
	expect(ii.orientation >= 1 && ii.orientation <= 8, "orientation out of range", ii.mime);
	if (strcmp(ii.ext, "heic") == 0 || strcmp(ii.ext, "heif") == 0)
		expect(ii.width >= 0 && ii.height >= 0, "negative size", ii.mime);
	else
		expect(ii.width > 0 && ii.height > 0, "no size", ii.mime);
	memset(err, 'x', sizeof err);
	rc = img_check(data, size, &ii, err, sizeof err);
	expect(rc == IMG_WHOLE || rc == IMG_CUT || rc == IMG_BROKEN, "an unknown verdict", "");
	if (rc != IMG_WHOLE)
		check_msg(err, sizeof err);
#ifdef FUZZ_DECODE
	{
		struct pixmap pm;
		if (decode_image(data, size, NULL, 64, &pm, err, sizeof err) == 0) {
			expect(pm.w > 0 && pm.h > 0 && pm.w <= 64 && pm.h <= 64, "a bad pixmap size", "");
			pixmap_free(&pm);
		} else
			check_msg(err, sizeof err);
	}
#endif
	return 0;
}
