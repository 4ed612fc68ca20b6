/* resize: the downscaled copy of an image that vj-analyze --max-side sends.
 *
 * Decoding is most of the time, so a JPEG is decoded straight from its DCT
 * coefficients at the smallest n/8 scale whose result still covers the
 * target (decode.c), and only that is resampled.  The resampler is a
 * separable Lanczos-2 whose support widens with the factor (so it averages
 * what it drops instead of aliasing it), in 14-bit fixed point; a factor
 * above 4 is first brought under 4 by an exact area average over whole
 * blocks, which costs one pass and loses nothing a Lanczos that wide would
 * have kept.  PNG and WebP with real alpha keep it (premultiplied while
 * resampled, so edges take no dark fringe) and are written as PNG;
 * everything else becomes a JPEG at a fixed quality. */
#include "content/resize.h"
#include "content/decode.h"
#include "content/img.h"
#include "base/util.h"

#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

/* The decoder's limit, for the RGBA decodes done here. */
#define RESIZE_MAX_PIXELS ((int64_t)1 << 26)
#define FIX 14                  /* fixed-point bits of a filter weight */

int
resize_fit(long w, long h, const struct resize_params *p, long *nw, long *nh)
{
	double s = 1;

	*nw = w;
	*nh = h;
	if (w <= 0 || h <= 0)
		return 0;
	long big = w > h ? w : h;
	if (p->max_side > 0 && big > p->max_side)
		s = (double)p->max_side / (double)big;
	if (p->max_pixels > 0 && (double)w * (double)h * s * s > (double)p->max_pixels)
		s = sqrt((double)p->max_pixels / ((double)w * (double)h));
	if (s >= 1)
		return 0;
	*nw = (long)floor((double)w * s + 0.5);
	*nh = (long)floor((double)h * s + 0.5);
	/* rounding must not break a limit */
	while (p->max_pixels > 0 && *nw * *nh > p->max_pixels) {
		if (*nw >= *nh)
			(*nw)--;
		else
			(*nh)--;
	}
	if (p->max_side > 0 && *nw > p->max_side)
		*nw = p->max_side;
	if (p->max_side > 0 && *nh > p->max_side)
		*nh = p->max_side;
	if (*nw < 1)
		*nw = 1;
	if (*nh < 1)
		*nh = 1;
	return *nw < w || *nh < h;
}

void
resize_params_text(const struct resize_params *p, char *out, size_t n)
{
	snprintf(out, n, "s%ld-p%ld-q%d", p->max_side, p->max_pixels,
	    p->quality > 0 ? p->quality : RESIZE_QUALITY);
}

void
resize_out_free(struct resize_out *out)
{
	if (!out)
		return;
	free(out->buf);
	memset(out, 0, sizeof *out);
}

/* ---- resampling ---- */

static double
sinc(double x)
{
	if (x == 0)
		return 1;
	x *= M_PI;
	return sin(x) / x;
}

/* Lanczos-2: after the DCT scaling has done the coarse part of a JPEG's
 * reduction, what is left is at most about 2.7 to 1, where two lobes keep
 * edges as sharp as three (and cost two thirds of the taps). */
#define LOBES 2
static double
lanczos(double x)
{
	return x > -LOBES && x < LOBES ? sinc(x) * sinc(x / LOBES) : 0;
}

/* For each output position: the first source index, the number of taps and
 * their fixed-point weights (which sum to exactly 1 << FIX). */
struct taps {
	int *start, *n;
	int32_t *w;
	int stride;             /* weights per output position */
};

static void
taps_make(struct taps *t, int in, int out)
{
	double scale = (double)in / out, fs = scale > 1 ? scale : 1, support = LOBES * fs;
	double *f;

	t->stride = (int)ceil(support) * 2 + 2;
	t->start = xmalloc(sizeof *t->start * (size_t)out);
	t->n = xmalloc(sizeof *t->n * (size_t)out);
	t->w = xcalloc((size_t)out * (size_t)t->stride, sizeof *t->w);
	f = xmalloc(sizeof *f * (size_t)t->stride);
	for (int i = 0; i < out; i++) {
		double center = (i + 0.5) * scale, sum = 0;
		int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
		if (lo < 0)
			lo = 0;
		if (hi > in)
			hi = in;
		if (hi - lo > t->stride)
			hi = lo + t->stride;
		for (int x = lo; x < hi; x++)
			sum += f[x - lo] = lanczos((x + 0.5 - center) / fs);
		int32_t *w = t->w + (size_t)i * t->stride, tot = 0, big = 0;
		for (int k = 0; k < hi - lo; k++) {
			w[k] = (int32_t)lrint(f[k] / (sum != 0 ? sum : 1) * (1 << FIX));
			tot += w[k];
			if (w[k] > w[big])
				big = k;
		}
		w[big] += (1 << FIX) - tot;   /* rounding: flat areas stay exact */
		t->start[i] = lo;
		t->n[i] = hi - lo;
	}
	free(f);
}

static void
taps_free(struct taps *t)
{
	free(t->start);
	free(t->n);
	free(t->w);
}

/* Exact area average over k x k blocks (the edges take partial blocks). */
static unsigned char *
box_shrink(const unsigned char *src, int sw, int sh, int ch, int k, int *dw, int *dh)
{
	int ow = (sw + k - 1) / k, oh = (sh + k - 1) / k;
	unsigned char *dst = xmalloc((size_t)ow * oh * ch);
	uint32_t *acc = xmalloc(sizeof *acc * (size_t)ow * ch);

	for (int oy = 0; oy < oh; oy++) {
		int y0 = oy * k, y1 = y0 + k < sh ? y0 + k : sh;
		memset(acc, 0, sizeof *acc * (size_t)ow * ch);
		for (int y = y0; y < y1; y++) {
			const unsigned char *s = src + (size_t)y * sw * ch;
			for (int x = 0; x < sw; x++)
				for (int c = 0; c < ch; c++)
					acc[(x / k) * ch + c] += s[x * ch + c];
		}
		for (int ox = 0; ox < ow; ox++) {
			int x0 = ox * k, x1 = x0 + k < sw ? x0 + k : sw;
			uint32_t n = (uint32_t)((x1 - x0) * (y1 - y0));
			for (int c = 0; c < ch; c++)
				dst[((size_t)oy * ow + ox) * ch + c] =
				    (unsigned char)((acc[ox * ch + c] + n / 2) / n);
		}
	}
	free(acc);
	*dw = ow;
	*dh = oh;
	return dst;
}

/* The row loops below are most of the resampling time.  Written so that
 * they vectorize; GCC's -O2 cost model leaves them scalar (a row's length
 * is not a multiple of the vector), so it is told to, and x86-64's
 * baseline SSE2 has no 32-bit vector multiply, so an AVX2 copy is built
 * beside the baseline one and chosen at load time where the CPU has it
 * (the results are the same to the bit). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VJ_VECTOR __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"), \
    target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define VJ_VECTOR __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define VJ_VECTOR
#endif

/* acc[j] += s[j] * w over a row. */
VJ_VECTOR
static void
row_madd(int32_t *restrict acc, const unsigned char *restrict s, size_t n, int32_t w)
{
	for (size_t j = 0; j < n; j++)
		acc[j] += s[j] * w;
}

/* The same for the first tap: no clearing pass. */
VJ_VECTOR
static void
row_mul(int32_t *restrict acc, const unsigned char *restrict s, size_t n, int32_t w)
{
	for (size_t j = 0; j < n; j++)
		acc[j] = s[j] * w;
}

/* A row of sums back to bytes, rounded and clamped. */
VJ_VECTOR
static void
row_pack(unsigned char *restrict d, const int32_t *restrict acc, size_t n)
{
	for (size_t j = 0; j < n; j++) {
		int32_t v = (acc[j] + (1 << (FIX - 1))) >> FIX;
		d[j] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
}

/* Rows of n bytes (row apart) filtered down to nout rows by t, into dst:
 * each output row a weighted sum of whole input rows, taps outside and
 * pixels inside, so that the work is the row loops above. */
static void
filter_rows(const unsigned char *src, size_t n, const struct taps *t, int nout,
    unsigned char *dst)
{
	int32_t *acc = xmalloc(sizeof *acc * n);

	for (int y = 0; y < nout; y++) {
		const int32_t *w = t->w + (size_t)y * t->stride;
		const unsigned char *s = src + (size_t)t->start[y] * n;
		row_mul(acc, s, n, w[0]);
		for (int i = 1; i < t->n[y]; i++)
			row_madd(acc, s + (size_t)i * n, n, w[i]);
		row_pack(dst + (size_t)y * n, acc, n);
	}
	free(acc);
}

/* dst (cols rows of rows pixels) = src (rows rows of cols pixels) turned,
 * pixels of ch bytes kept whole; in 16 x 16 blocks, for the cache. */
static void
transpose(unsigned char *dst, const unsigned char *src, int rows, int cols, int ch)
{
	for (int y0 = 0; y0 < rows; y0 += 16)
		for (int x0 = 0; x0 < cols; x0 += 16)
			for (int y = y0; y < y0 + 16 && y < rows; y++)
				for (int x = x0; x < x0 + 16 && x < cols; x++) {
					const unsigned char *s = src + ((size_t)y * cols + x) * ch;
					unsigned char *d = dst + ((size_t)x * rows + y) * ch;
					d[0] = s[0];
					d[1] = s[1];
					d[2] = s[2];
					if (ch == 4)
						d[3] = s[3];
				}
}

unsigned char *
resize_pixels(const unsigned char *src, int sw, int sh, int ch, int dw, int dh)
{
	unsigned char *pre = NULL, *tmp, *turned, *out, *dst;
	struct taps tx, ty;
	int k = sw / dw < sh / dh ? sw / dw : sh / dh;

	/* a large factor: whole blocks averaged first, leaving at most 4 to the filter */
	if (k > 4) {
		int pw, ph;
		pre = box_shrink(src, sw, sh, ch, k / 2, &pw, &ph);
		src = pre;
		sw = pw;
		sh = ph;
	}
	taps_make(&tx, sw, dw);
	taps_make(&ty, sh, dh);
	/* vertical: dh rows of the full width */
	tmp = xmalloc((size_t)sw * ch * dh);
	filter_rows(src, (size_t)sw * ch, &ty, dh, tmp);
	/* horizontal: the same over the transpose (columns as rows), turned back */
	turned = xmalloc((size_t)sw * ch * dh);
	transpose(turned, tmp, dh, sw, ch);
	out = xmalloc((size_t)dw * ch * dh);
	filter_rows(turned, (size_t)dh * ch, &tx, dw, out);
	dst = xmalloc((size_t)dw * ch * dh);
	transpose(dst, out, dw, dh, ch);
	free(out);
	free(turned);
	free(tmp);
	free(pre);
	taps_free(&tx);
	taps_free(&ty);
	return dst;
}

/* ---- decoding with alpha (PNG, WebP) ---- */

/* 1 when any pixel is not fully opaque. */
static int
has_alpha(const unsigned char *rgba, size_t npix)
{
	for (size_t i = 0; i < npix; i++)
		if (rgba[i * 4 + 3] != 255)
			return 1;
	return 0;
}

static void
premultiply(unsigned char *p, size_t npix, int undo)
{
	for (size_t i = 0; i < npix; i++, p += 4) {
		unsigned a = p[3];
		for (int c = 0; c < 3; c++) {
			unsigned v = undo ? (a ? (p[c] * 255u + a / 2) / a : 0) : (p[c] * a + 127) / 255;
			p[c] = (unsigned char)(v > 255 ? 255 : v);
		}
	}
}

/* RGBA pixels of a PNG or WebP that has an alpha channel: 1 with *rgba set
 * when some pixel is not opaque; 0 when the image is opaque (decode it as
 * RGB); -1 with err. */
static int
decode_rgba(const unsigned char *buf, size_t len, const char *ext, unsigned char **rgba,
    int *w, int *h, char *err, size_t errlen)
{
	*rgba = NULL;
	if (strcmp(ext, "png") == 0) {
		png_image img;
		memset(&img, 0, sizeof img);
		img.version = PNG_IMAGE_VERSION;
		if (!png_image_begin_read_from_memory(&img, buf, len))
			return errf(err, errlen, "corrupt PNG: %s", img.message);
		if (!(img.format & PNG_FORMAT_FLAG_ALPHA)) {
			png_image_free(&img);
			return 0;
		}
		if ((int64_t)img.width * img.height > RESIZE_MAX_PIXELS || !img.width || !img.height) {
			png_image_free(&img);
			return errf(err, errlen, "image too large to decode (%ux%u)", img.width, img.height);
		}
		img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;   /* as decode.c: 16-bit is sRGB */
		img.format = PNG_FORMAT_RGBA;
		*rgba = xmalloc(PNG_IMAGE_SIZE(img));
		if (!png_image_finish_read(&img, NULL, *rgba, 0, NULL)) {
			errf(err, errlen, "truncated or corrupt PNG: %s", img.message);
			png_image_free(&img);
			free(*rgba);
			*rgba = NULL;
			return -1;
		}
		*w = (int)img.width;
		*h = (int)img.height;
		png_image_free(&img);
	} else if (strcmp(ext, "webp") == 0) {
		WebPBitstreamFeatures f;
		if (WebPGetFeatures(buf, len, &f) != VP8_STATUS_OK)
			return errf(err, errlen, "corrupt WebP");
		if (!f.has_alpha)
			return 0;
		if ((int64_t)f.width * f.height > RESIZE_MAX_PIXELS || f.width <= 0 || f.height <= 0)
			return errf(err, errlen, "image too large to decode (%dx%d)", f.width, f.height);
		if (!(*rgba = WebPDecodeRGBA(buf, len, w, h)))
			return errf(err, errlen, "corrupt WebP");
		/* WebP's allocator, not ours: copy into memory free() may take */
		unsigned char *c = xmalloc((size_t)*w * *h * 4);
		memcpy(c, *rgba, (size_t)*w * *h * 4);
		WebPFree(*rgba);
		*rgba = c;
	} else {
		return 0;
	}
	if (!has_alpha(*rgba, (size_t)*w * *h)) {
		free(*rgba);
		*rgba = NULL;
		return 0;
	}
	return 1;
}

/* ---- encoding ---- */

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
};

static void
j_error_exit(j_common_ptr c)
{
	longjmp(((struct jerr *)c->err)->jb, 1);
}

static int
encode_jpeg(const unsigned char *rgb, int w, int h, int quality, struct resize_out *out,
    char *err, size_t errlen)
{
	struct jpeg_compress_struct c;
	struct jerr je;
	unsigned char *volatile mem = NULL;
	unsigned long size = 0;

	c.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = j_error_exit;
	if (setjmp(je.jb)) {
		jpeg_destroy_compress(&c);
		free(mem);
		return errf(err, errlen, "cannot encode the downscaled JPEG");
	}
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, (unsigned char **)&mem, &size);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	c.optimize_coding = TRUE;   /* smaller uploads for a few percent of the time */
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	/* libjpeg's memory came from malloc: it is ours now */
	out->buf = mem;
	out->len = size;
	out->mime = "image/jpeg";
	out->w = w;
	out->h = h;
	return 0;
}

static int
encode_png(const unsigned char *rgba, int w, int h, struct resize_out *out, char *err,
    size_t errlen)
{
	png_image img;
	png_alloc_size_t size = 0;

	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)w;
	img.height = (png_uint_32)h;
	img.format = PNG_FORMAT_RGBA;
	if (!png_image_write_to_memory(&img, NULL, &size, 0, rgba, 0, NULL))
		return errf(err, errlen, "cannot encode the downscaled PNG: %s", img.message);
	out->buf = xmalloc(size);
	if (!png_image_write_to_memory(&img, out->buf, &size, 0, rgba, 0, NULL)) {
		free(out->buf);
		out->buf = NULL;
		return errf(err, errlen, "cannot encode the downscaled PNG: %s", img.message);
	}
	out->len = size;
	out->mime = "image/png";
	out->w = w;
	out->h = h;
	return 0;
}

/* ---- the whole ---- */

/* The longer side decode.c's JPEG path gives at the smallest n/8 DCT scale
 * whose longer side reaches want: passed as its max_side, it decodes at
 * that scale and shrinks no further (the filter here does the rest).  A
 * scale that falls short of want by at most DCT_SLACK of it is taken as
 * the result: still within the limit asked for, and the decoder's own
 * scaling is all the work (a 4000-px photo at --max-side 1024 decodes at
 * 2/8 to 1000 px, in libjpeg-turbo's SIMD 2x2 IDCT, instead of at 3/8 to
 * 1500, which has no SIMD path, and a resample).  The image tokens do not
 * change with it (tiles and patches round up; Gemini 3 counts none). */
#define DCT_SLACK 0.05
static int
dct_side(long w, long h, long want)
{
	long big = w > h ? w : h;
	for (long num = 1; num <= 8; num++) {
		long s = (big * num + 7) / 8;
		if (s >= want || (double)s >= (1 - DCT_SLACK) * (double)want)
			return (int)s;
	}
	return 0;
}

int
resize_image(const unsigned char *buf, size_t len, const char *mime,
    const struct resize_params *p, struct resize_out *out, char *err, size_t errlen)
{
	struct img_info info;
	struct pixmap pm = { 0 };
	unsigned char *rgba = NULL, *px;
	long nw, nh;
	int w, h, r;

	(void)mime;
	memset(out, 0, sizeof *out);
	if (img_sniff(buf, len, &info, err, errlen) != 0)
		return -1;
	if (!strcmp(info.ext, "heic") || !strcmp(info.ext, "heif"))
		return errf(err, errlen, "%s images cannot be downscaled here", info.mime);
	if (!resize_fit(info.width, info.height, p, &nw, &nh))
		return 1;
	r = decode_rgba(buf, len, info.ext, &rgba, &w, &h, err, errlen);
	if (r < 0)
		return -1;
	if (r == 1) {
		premultiply(rgba, (size_t)w * h, 0);
		px = resize_pixels(rgba, w, h, 4, (int)nw, (int)nh);
		free(rgba);
		premultiply(px, (size_t)nw * nh, 1);
		r = encode_png(px, (int)nw, (int)nh, out, err, errlen);
		free(px);
		return r;
	}
	int side = strcmp(info.ext, "jpg") == 0 ? dct_side(info.width, info.height, nw > nh ? nw : nh) : 0;
	if (decode_image(buf, len, info.mime, side, &pm, err, errlen) != 0)
		return -1;
	/* the decoder turns the pixels as displayed; the size is the one the
	 * header's dimensions give (resize_fit), what vj-analyze --estimate
	 * says, or up to DCT_SLACK smaller where the DCT scale lands there */
	if (pm.w >= nw && pm.h >= nh && (pm.w > nw || pm.h > nh))
		px = resize_pixels(pm.rgb, pm.w, pm.h, 3, (int)nw, (int)nh);
	else {
		px = pm.rgb;
		pm.rgb = NULL;
		nw = pm.w;
		nh = pm.h;
	}
	pixmap_free(&pm);
	r = encode_jpeg(px, (int)nw, (int)nh, p->quality > 0 ? p->quality : RESIZE_QUALITY, out,
	    err, errlen);
	free(px);
	return r;
}
