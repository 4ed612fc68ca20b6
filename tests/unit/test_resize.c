/* test_resize: the downscaled copies of vj-analyze --max-side (content/resize.c)
 * and their index (core/derived.c): sizes under both limits, a flat image
 * stays flat, alpha kept as PNG, an opaque PNG made a JPEG, a broken image
 * refused, and the derived index found again, with a bad entry ignored. */
#include "tap.h"
#include "util.h"
#include "content/img.h"
#include "content/resize.h"
#include "core/derived.h"
#include "core/store.h"
#include "base/util.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned char *
png_of(int w, int h, int alpha, size_t *len)
{
	png_image img;
	png_alloc_size_t size = 0;
	unsigned char *px = xmalloc((size_t)w * h * 4), *out;
	for (int i = 0; i < w * h; i++) {
		px[i * 4] = 200;
		px[i * 4 + 1] = 100;
		px[i * 4 + 2] = 50;
		px[i * 4 + 3] = alpha ? (unsigned char)(i % w < w / 2 ? 0 : 255) : 255;
	}
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)w;
	img.height = (png_uint_32)h;
	img.format = PNG_FORMAT_RGBA;
	png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL);
	out = xmalloc(size);
	png_image_write_to_memory(&img, out, &size, 0, px, 0, NULL);
	free(px);
	*len = size;
	return out;
}

static void
test_fit(void)
{
	struct resize_params p = { 1024, 0, 0 };
	long w, h;
	ok(resize_fit(4000, 3000, &p, &w, &h) && w == 1024 && h == 768, "4000x3000 at 1024: 1024x768");
	ok(resize_fit(3000, 4000, &p, &w, &h) && w == 768 && h == 1024, "portrait: 768x1024");
	ok(!resize_fit(800, 600, &p, &w, &h) && w == 800 && h == 600, "a small image fits as it is");
	p = (struct resize_params){ 0, 30000, 0 };
	ok(resize_fit(1600, 1200, &p, &w, &h) && w == 200 && h == 150, "30000 pixels: 200x150");
	p = (struct resize_params){ 100, 1000, 0 };
	int r = resize_fit(1600, 1200, &p, &w, &h);
	ok(r && w * h <= 1000 && w <= 100 && w >= 30, "both limits hold: %ldx%ld", w, h);
	p = (struct resize_params){ 1, 0, 0 };
	ok(resize_fit(5000, 2, &p, &w, &h) && w == 1 && h == 1, "never below one pixel");
	char t[48];
	resize_params_text(&(struct resize_params){ 768, 0, 0 }, t, sizeof t);
	is_str(t, "s768-p0-q85", "the parameters' name");
}

static void
test_pixels(void)
{
	int sw = 997, sh = 601;
	unsigned char *src = xmalloc((size_t)sw * sh * 3);
	for (int i = 0; i < sw * sh * 3; i++)
		src[i] = (unsigned char)(i % 3 == 0 ? 17 : i % 3 == 1 ? 128 : 240);
	unsigned char *d = resize_pixels(src, sw, sh, 3, 101, 61), *e;
	int flat = 1;
	for (int i = 0; i < 101 * 61 * 3; i++)
		flat &= d[i] == src[i % 3];
	ok(flat, "a flat image stays exactly flat (factor ~10: box pre-shrink, then Lanczos)");
	free(d);
	/* a step: the filter rings a little but stays within the two levels' range */
	for (int y = 0; y < sh; y++)
		for (int x = 0; x < sw; x++)
			memset(src + ((size_t)y * sw + x) * 3, x < sw / 2 ? 0 : 255, 3);
	e = resize_pixels(src, sw, sh, 3, 300, 181);
	ok(e[0] == 0 && e[(300 * 90 + 299) * 3] == 255, "the two sides of a step keep their levels");
	free(e);
	free(src);
}

static void
test_images(void)
{
	struct resize_params p = { 64, 0, 0 };
	struct resize_out out;
	struct img_info info;
	char err[256];
	size_t len;
	unsigned char *png = png_of(400, 300, 1, &len);

	ok(resize_image(png, len, NULL, &p, &out, err, sizeof err) == 0, "an alpha PNG is downscaled");
	is_str(out.mime, "image/png", "... and stays a PNG");
	ok(out.w == 64 && out.h == 48, "... of 64x48");
	ok(img_sniff(out.buf, out.len, &info, err, sizeof err) == 0 && info.width == 64, "... that is a PNG");
	resize_out_free(&out);
	free(png);
	png = png_of(400, 300, 0, &len);
	ok(resize_image(png, len, NULL, &p, &out, err, sizeof err) == 0, "an opaque RGBA PNG");
	is_str(out.mime, "image/jpeg", "... becomes a JPEG");
	ok(img_sniff(out.buf, out.len, &info, err, sizeof err) == 0 && info.width == 64 &&
	    info.height == 48 && !strcmp(info.mime, "image/jpeg"), "... of 64x48");
	resize_out_free(&out);
	p.max_side = 1000;
	ok(resize_image(png, len, NULL, &p, &out, err, sizeof err) == 1, "an image that fits: nothing made");
	resize_out_free(&out);
	p.max_side = 64;
	ok(resize_image(png, len / 2, NULL, &p, &out, err, sizeof err) == -1, "a cut PNG is refused: %s", err);
	ok(resize_image((const unsigned char *)"not an image", 12, NULL, &p, &out, err, sizeof err) == -1,
	    "text is refused: %s", err);
	free(png);
}

static void
test_derived(void)
{
	struct derived_obj o, g;
	char err[256], src[65];
	const char *run = scratch;

	memset(src, 'a', 64);
	src[64] = 0;
	mkdir(scratch_path("objects"), 0755);
	ok(derived_get(run, src, "s64-p0-q85", &g) == 0, "nothing derived yet");
	ok(derived_put(run, src, "s64-p0-q85", "bytes", 5, "image/jpeg", 8, 6, &o, err, sizeof err) == 0,
	    "derived_put: %s", err);
	ok(derived_get(run, src, "s64-p0-q85", &g) == 1 && !strcmp(g.sha256, o.sha256) &&
	    g.width == 8 && g.height == 6 && g.bytes == 5 && !strcmp(g.mime, "image/jpeg"), "found again");
	ok(derived_get(run, src, "s32-p0-q85", &g) == 0, "other parameters: another entry");
	ok(derived_get(run, src, "../x", &g) == 0, "parameters that are not a name are refused");
	scratch_file("derived/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-s9-p0-q85",
	    "{\"sha256\":\"../../etc\",\"mime\":\"image/jpeg\",\"bytes\":5,\"width\":1,\"height\":1}");
	ok(derived_get(run, src, "s9-p0-q85", &g) == 0, "an entry naming no object is ignored");
	char *path = store_path(run, o.sha256);
	unlink(path);
	free(path);
	ok(derived_get(run, src, "s64-p0-q85", &g) == 0, "an entry whose object is gone is made again");
}

int
main(void)
{
	if (scratch_make("resize") < 0)
		return 1;
	test_fit();
	test_pixels();
	test_images();
	test_derived();
	scratch_remove();
	return done_testing();
}
