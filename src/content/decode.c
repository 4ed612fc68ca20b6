/*
 * decode: JPEG (libjpeg-turbo), PNG (libpng), WebP (libwebp) and GIF
 * (giflib) from memory to 8-bit RGB, scaled down to a maximum side.
 *
 * The analyser needs small images fast, so the expensive part is avoided
 * where the codec allows it: JPEG decodes at 1/8..8/8 scale straight from
 * the DCT coefficients, WebP through its built-in rescaler.  PNG and GIF
 * decode at full size and are box-filtered down afterwards.
 */
#include "content/decode.h"
#include "content/img.h"
#include "base/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>

/*
 * Refuse to allocate more than this many decoded pixels (3 bytes each):
 * 64 M pixels is ~190 MB, above any photo we take and well below what a
 * decompression bomb claiming 65535x65535 would need.
 */
#define DECODE_MAX_PIXELS ((int64_t)1 << 26)


static int
too_big(int64_t w, int64_t h, char *err, size_t errlen)
{
	if (w <= 0 || h <= 0)
		return errf(err, errlen, "image has no pixels (%lldx%lld)", (long long)w,
		    (long long)h);
	if (w * h > DECODE_MAX_PIXELS)
		return errf(err, errlen, "image too large to decode (%lldx%lld)", (long long)w,
		    (long long)h);
	return 0;
}

void
pixmap_free(struct pixmap *pm)
{
	if (pm == NULL)
		return;
	free(pm->rgb);
	pm->rgb = NULL;
	pm->w = pm->h = 0;
}

/* The size that fits W x H into MAX_SIDE, keeping the aspect ratio. */
static void
fit(int w, int h, int max_side, int *nw, int *nh)
{
	*nw = w;
	*nh = h;
	if (max_side <= 0 || (w <= max_side && h <= max_side))
		return;
	if (w >= h) {
		*nw = max_side;
		*nh = (int)(((int64_t)h * max_side + w / 2) / w);
	} else {
		*nh = max_side;
		*nw = (int)(((int64_t)w * max_side + h / 2) / h);
	}
	if (*nw < 1)
		*nw = 1;
	if (*nh < 1)
		*nh = 1;
}

/*
 * Box filter down to MAX_SIDE: each output pixel is the mean of the source
 * rectangle it covers, so thin detail is averaged rather than aliased.
 */
static void
shrink(struct pixmap *pm, int max_side)
{
	unsigned char *dst, *d;
	int nw, nh, x, y, sx, sy, *x0;

	fit(pm->w, pm->h, max_side, &nw, &nh);
	if (nw == pm->w && nh == pm->h)
		return;
	x0 = xmalloc(sizeof *x0 * (size_t)(nw + 1));
	for (x = 0; x <= nw; x++)
		x0[x] = (int)((int64_t)x * pm->w / nw);
	d = dst = xmalloc((size_t)nw * nh * 3);
	for (y = 0; y < nh; y++) {
		int y0 = (int)((int64_t)y * pm->h / nh), y1 = (int)((int64_t)(y + 1) * pm->h / nh);
		for (x = 0; x < nw; x++) {
			uint32_t r = 0, g = 0, b = 0, n = (uint32_t)(x0[x + 1] - x0[x]) * (y1 - y0);
			for (sy = y0; sy < y1; sy++) {
				const unsigned char *s = pm->rgb + ((size_t)sy * pm->w + x0[x]) * 3;
				for (sx = x0[x]; sx < x0[x + 1]; sx++, s += 3) {
					r += s[0];
					g += s[1];
					b += s[2];
				}
			}
			*d++ = (unsigned char)((r + n / 2) / n);
			*d++ = (unsigned char)((g + n / 2) / n);
			*d++ = (unsigned char)((b + n / 2) / n);
		}
	}
	free(x0);
	free(pm->rgb);
	pm->rgb = dst;
	pm->w = nw;
	pm->h = nh;
}

/* ---- JPEG ---- */

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int finishing;          /* all scanlines read: a missing EOI is harmless */
	char *err;
	size_t errlen;
};

/* libjpeg's default error_exit calls exit(): report and unwind instead. */
static void
j_error_exit(j_common_ptr c)
{
	struct jerr *je = (struct jerr *)c->err;
	char msg[JMSG_LENGTH_MAX];

	c->err->format_message(c, msg);
	errf(je->err, je->errlen, "corrupt JPEG: %s", msg);
	longjmp(je->jb, 1);
}

/*
 * Warnings are level -1.  "Premature end of JPEG file" means the decoder
 * made up the missing data (grey blocks): for a dataset that is a broken
 * image, so it becomes an error.  So does scan data ended by the EOI marker
 * before the last row of MCUs: a file cut short and closed again, which the
 * structural check at ingest cannot tell from a whole one.  A few bits
 * missing in the last row are common and harmless, and other warnings are
 * recoverable: they pass.
 */
static void
j_emit(j_common_ptr c, int level)
{
	struct jerr *je = (struct jerr *)c->err;
	j_decompress_ptr d = (j_decompress_ptr)c;
	char msg[JMSG_LENGTH_MAX];

	if (level != -1)
		return;
	c->err->num_warnings++;
	if (c->err->msg_code == JWRN_JPEG_EOF && !je->finishing) {
		c->err->format_message(c, msg);
		errf(je->err, je->errlen, "truncated JPEG: %s", msg);
		longjmp(je->jb, 1);
	}
	if (c->err->msg_code == JWRN_HIT_MARKER && c->is_decompressor &&
	    d->unread_marker == JPEG_EOI && d->input_iMCU_row + 1 < d->total_iMCU_rows) {
		errf(je->err, je->errlen, "truncated JPEG: the scan data ends at MCU row %u of %u",
		    (unsigned)d->input_iMCU_row + 1, (unsigned)d->total_iMCU_rows);
		longjmp(je->jb, 1);
	}
}

/* Adobe CMYK JPEGs store inverted ink values: R = C * K / 255 on the raw bytes. */
static void
cmyk_row(unsigned char *dst, const unsigned char *src, int w)
{
	int x;

	for (x = 0; x < w; x++, src += 4) {
		*dst++ = (unsigned char)(src[0] * src[3] / 255);
		*dst++ = (unsigned char)(src[1] * src[3] / 255);
		*dst++ = (unsigned char)(src[2] * src[3] / 255);
	}
}

/* The smallest scale n/8 whose output's longer side still reaches MAX_SIDE. */
static void
jpeg_pick_scale(struct jpeg_decompress_struct *c, int max_side)
{
	unsigned num;

	if (max_side <= 0)
		return;
	for (num = 1; num <= 8; num++) {
		c->scale_num = num;
		c->scale_denom = 8;
		jpeg_calc_output_dimensions(c);
		if (c->output_width >= (unsigned)max_side || c->output_height >= (unsigned)max_side)
			return;
	}
	c->scale_num = c->scale_denom = 1;
}

static int
decode_jpeg(const unsigned char *buf, size_t len, int max_side, struct pixmap *out,
    char *err, size_t errlen)
{
	struct jpeg_decompress_struct c;
	struct jerr je;
	unsigned char *volatile rgb = NULL;
	unsigned char *volatile cmyk = NULL;
	JSAMPROW row;
	size_t stride;

	memset(&je, 0, sizeof je);
	c.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = j_error_exit;
	je.pub.emit_message = j_emit;
	je.err = err;
	je.errlen = errlen;
	if (setjmp(je.jb)) {
		jpeg_destroy_decompress(&c);
		free(rgb);
		free(cmyk);
		return -1;
	}
	jpeg_create_decompress(&c);
	jpeg_mem_src(&c, buf, (unsigned long)len);
	jpeg_read_header(&c, TRUE);
	if (c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK)
		c.out_color_space = JCS_CMYK;
	else
		c.out_color_space = JCS_RGB;
	/* the result is averaged down anyway: speed over the last bit of accuracy */
	c.dct_method = JDCT_IFAST;
	c.do_fancy_upsampling = FALSE;
	jpeg_pick_scale(&c, max_side);
	jpeg_start_decompress(&c);
	if (too_big(c.output_width, c.output_height, err, errlen) != 0) {
		jpeg_destroy_decompress(&c);
		return -1;
	}
	stride = (size_t)c.output_width * 3;
	rgb = xmalloc(stride * c.output_height);
	if (c.out_color_space == JCS_CMYK)
		cmyk = xmalloc((size_t)c.output_width * 4);
	while (c.output_scanline < c.output_height) {
		unsigned char *dst = rgb + stride * c.output_scanline;
		row = cmyk != NULL ? cmyk : dst;
		if (jpeg_read_scanlines(&c, &row, 1) != 1)
			break;
		if (cmyk != NULL)
			cmyk_row(dst, cmyk, (int)c.output_width);
	}
	je.finishing = 1;
	jpeg_finish_decompress(&c);
	out->w = (int)c.output_width;
	out->h = (int)c.output_height;
	out->rgb = rgb;
	jpeg_destroy_decompress(&c);
	free(cmyk);
	return 0;
}

/* ---- PNG ---- */

/* The simplified API handles every bit depth, palette, grey and alpha. */
static int
decode_png(const unsigned char *buf, size_t len, struct pixmap *out, char *err, size_t errlen)
{
	png_image img;
	png_color white = { 255, 255, 255 };
	unsigned char *rgb;

	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, buf, len))
		return errf(err, errlen, "corrupt PNG: %s", img.message);
	/* 16-bit samples with no gAMA or sRGB chunk are sRGB, like 8-bit ones:
	 * libpng would take them as linear light (mid-grey out as #bababa).
	 * A file that says gAMA 1.0 is still linear. */
	img.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
	if (too_big(img.width, img.height, err, errlen) != 0) {
		png_image_free(&img);
		return -1;
	}
	img.format = PNG_FORMAT_RGB;
	rgb = xmalloc(PNG_IMAGE_SIZE(img));
	/* with alpha in the file and none in the output, libpng composites on WHITE */
	if (!png_image_finish_read(&img, &white, rgb, 0, NULL)) {
		errf(err, errlen, "truncated or corrupt PNG: %s", img.message);
		png_image_free(&img);
		free(rgb);
		return -1;
	}
	out->w = (int)img.width;
	out->h = (int)img.height;
	out->rgb = rgb;
	png_image_free(&img);
	return 0;
}

/* ---- WebP ---- */

static void
composite_on_white(unsigned char *rgb, const unsigned char *rgba, size_t npix)
{
	size_t i;

	for (i = 0; i < npix; i++, rgba += 4) {
		unsigned a = rgba[3];
		*rgb++ = (unsigned char)((rgba[0] * a + 255 * (255 - a) + 127) / 255);
		*rgb++ = (unsigned char)((rgba[1] * a + 255 * (255 - a) + 127) / 255);
		*rgb++ = (unsigned char)((rgba[2] * a + 255 * (255 - a) + 127) / 255);
	}
}

static const char *
webp_status(VP8StatusCode s)
{
	switch (s) {
	case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
	case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
	case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
	case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
	case VP8_STATUS_SUSPENDED: return "suspended";
	case VP8_STATUS_USER_ABORT: return "aborted";
	case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
	default: return "unknown error";
	}
}

/* libwebp's own rescaler (area-averaging) does the downscale while decoding. */
static int
decode_webp(const unsigned char *buf, size_t len, int max_side, struct pixmap *out,
    char *err, size_t errlen)
{
	WebPDecoderConfig cfg;
	VP8StatusCode st;
	unsigned char *px;
	int w, h, bpp;

	if (!WebPInitDecoderConfig(&cfg))
		return errf(err, errlen, "WebP: library version mismatch");
	st = WebPGetFeatures(buf, len, &cfg.input);
	if (st != VP8_STATUS_OK)
		return errf(err, errlen, "%s WebP: %s",
		    st == VP8_STATUS_NOT_ENOUGH_DATA ? "truncated" : "corrupt", webp_status(st));
	if (cfg.input.has_animation)
		return errf(err, errlen, "animated WebP is not supported");
	fit(cfg.input.width, cfg.input.height, max_side, &w, &h);
	if (too_big(w, h, err, errlen) != 0)
		return -1;
	if (w != cfg.input.width || h != cfg.input.height) {
		cfg.options.use_scaling = 1;
		cfg.options.scaled_width = w;
		cfg.options.scaled_height = h;
	}
	bpp = cfg.input.has_alpha ? 4 : 3;
	px = xmalloc((size_t)w * h * bpp);
	cfg.output.colorspace = cfg.input.has_alpha ? MODE_RGBA : MODE_RGB;
	cfg.output.is_external_memory = 1;
	cfg.output.u.RGBA.rgba = px;
	cfg.output.u.RGBA.stride = w * bpp;
	cfg.output.u.RGBA.size = (size_t)w * h * bpp;
	st = WebPDecode(buf, len, &cfg);
	WebPFreeDecBuffer(&cfg.output);
	if (st != VP8_STATUS_OK) {
		free(px);
		return errf(err, errlen, "%s WebP: %s",
		    st == VP8_STATUS_NOT_ENOUGH_DATA ? "truncated" : "corrupt", webp_status(st));
	}
	if (bpp == 4) {
		out->rgb = xmalloc((size_t)w * h * 3);
		composite_on_white(out->rgb, px, (size_t)w * h);
		free(px);
	} else
		out->rgb = px;
	out->w = w;
	out->h = h;
	return 0;
}

/* ---- GIF ---- */

struct gifsrc {
	const unsigned char *b;
	size_t len, pos;
};

static int
gif_read(GifFileType *g, GifByteType *dst, int n)
{
	struct gifsrc *s = g->UserData;
	size_t k = n > 0 ? (size_t)n : 0;

	if (k > s->len - s->pos)
		k = s->len - s->pos;
	memcpy(dst, s->b + s->pos, k);
	s->pos += k;
	return (int)k;
}

/* Frame rows in file order: interlaced GIFs store rows 0,8,16.. then 4,12.. and so on. */
static int
gif_row(int i, int h, int interlaced)
{
	static const int start[] = { 0, 4, 2, 1 }, step[] = { 8, 8, 4, 2 };
	int pass, n;

	if (!interlaced)
		return i;
	for (pass = 0; pass < 4; pass++) {
		n = h > start[pass] ? (h - start[pass] + step[pass] - 1) / step[pass] : 0;
		if (i < n)
			return start[pass] + i * step[pass];
		i -= n;
	}
	return -1;
}

/* Paint the current image descriptor's pixels onto the white canvas. */
static int
gif_frame(GifFileType *g, unsigned char *canvas, int transparent, char *err, size_t errlen)
{
	const GifImageDesc *d = &g->Image;
	const ColorMapObject *map = d->ColorMap != NULL ? d->ColorMap : g->SColorMap;
	GifPixelType *line;
	int i, x, y;

	if (map == NULL || map->Colors == NULL)
		return errf(err, errlen, "corrupt GIF: no colour map");
	if (d->Width <= 0 || d->Height <= 0 || too_big(d->Width, d->Height, err, errlen) != 0)
		return errf(err, errlen, "corrupt GIF: frame size %dx%d", d->Width, d->Height);
	line = xmalloc((size_t)d->Width);
	for (i = 0; i < d->Height; i++) {
		if (DGifGetLine(g, line, d->Width) == GIF_ERROR) {
			free(line);
			return errf(err, errlen, "truncated or corrupt GIF: %s",
			    GifErrorString(g->Error));
		}
		y = d->Top + gif_row(i, d->Height, d->Interlace);
		if (y < d->Top || y >= g->SHeight)
			continue;
		for (x = 0; x < d->Width; x++) {
			int cx = d->Left + x, idx = line[x];
			unsigned char *p;
			if (cx < 0 || cx >= g->SWidth || idx == transparent || idx >= map->ColorCount)
				continue;
			p = canvas + ((size_t)y * g->SWidth + cx) * 3;
			p[0] = map->Colors[idx].Red;
			p[1] = map->Colors[idx].Green;
			p[2] = map->Colors[idx].Blue;
		}
	}
	free(line);
	return 0;
}

/* Read records up to the first image, noting its transparency on the way. */
static int
gif_first(GifFileType *g, unsigned char *canvas, char *err, size_t errlen)
{
	GifRecordType rt;
	GifByteType *ext;
	GraphicsControlBlock gcb;
	int code, transparent = NO_TRANSPARENT_COLOR;

	for (;;) {
		if (DGifGetRecordType(g, &rt) == GIF_ERROR)
			return errf(err, errlen, "truncated or corrupt GIF: %s", GifErrorString(g->Error));
		switch (rt) {
		case EXTENSION_RECORD_TYPE:
			if (DGifGetExtension(g, &code, &ext) == GIF_ERROR)
				return errf(err, errlen, "truncated or corrupt GIF: %s",
				    GifErrorString(g->Error));
			if (code == GRAPHICS_EXT_FUNC_CODE && ext != NULL && ext[0] >= 4 &&
			    DGifExtensionToGCB(ext[0], ext + 1, &gcb) == GIF_OK)
				transparent = gcb.TransparentColor;
			while (ext != NULL)
				if (DGifGetExtensionNext(g, &ext) == GIF_ERROR)
					return errf(err, errlen, "truncated or corrupt GIF: %s",
					    GifErrorString(g->Error));
			break;
		case IMAGE_DESC_RECORD_TYPE:
			if (DGifGetImageDesc(g) == GIF_ERROR)
				return errf(err, errlen, "truncated or corrupt GIF: %s",
				    GifErrorString(g->Error));
			return gif_frame(g, canvas, transparent, err, errlen);
		case TERMINATE_RECORD_TYPE:
			return errf(err, errlen, "corrupt GIF: no image in the file");
		default:
			return errf(err, errlen, "corrupt GIF: unknown record");
		}
	}
}

static int
decode_gif(const unsigned char *buf, size_t len, struct pixmap *out, char *err, size_t errlen)
{
	struct gifsrc src = { buf, len, 0 };
	GifFileType *g;
	unsigned char *canvas;
	int e = 0, rc;

	if ((g = DGifOpen(&src, gif_read, &e)) == NULL)
		return errf(err, errlen, "corrupt GIF: %s", GifErrorString(e));
	if (too_big(g->SWidth, g->SHeight, err, errlen) != 0) {
		DGifCloseFile(g, &e);
		return -1;
	}
	canvas = xmalloc((size_t)g->SWidth * g->SHeight * 3);
	memset(canvas, 255, (size_t)g->SWidth * g->SHeight * 3);
	rc = gif_first(g, canvas, err, errlen);
	out->w = g->SWidth;
	out->h = g->SHeight;
	DGifCloseFile(g, &e);
	if (rc != 0) {
		free(canvas);
		out->w = out->h = 0;
		return -1;
	}
	out->rgb = canvas;
	return 0;
}

/* ---- EXIF orientation ---- */

/*
 * Turn the stored pixels into the displayed ones for EXIF orientation O
 * (2..8; 1 is as stored).  For each displayed pixel (x, y) the stored one
 * it shows: 2 mirrors left-right, 3 turns half, 4 mirrors top-bottom, 5
 * transposes, 6 turns a quarter clockwise, 7 transposes the other way, 8
 * turns a quarter anticlockwise.
 */
static void
orient(struct pixmap *pm, int o)
{
	int w = pm->w, h = pm->h, dw = o >= 5 ? h : w, dh = o >= 5 ? w : h, x, y, sx, sy;
	unsigned char *dst, *d;

	if (o < 2 || o > 8)
		return;
	d = dst = xmalloc((size_t)w * h * 3);
	for (y = 0; y < dh; y++)
		for (x = 0; x < dw; x++, d += 3) {
			switch (o) {
			case 2: sx = w - 1 - x; sy = y; break;
			case 3: sx = w - 1 - x; sy = h - 1 - y; break;
			case 4: sx = x; sy = h - 1 - y; break;
			case 5: sx = y; sy = x; break;
			case 6: sx = y; sy = h - 1 - x; break;
			case 7: sx = w - 1 - y; sy = h - 1 - x; break;
			default: sx = w - 1 - y; sy = x; break;
			}
			memcpy(d, pm->rgb + ((size_t)sy * w + sx) * 3, 3);
		}
	free(pm->rgb);
	pm->rgb = dst;
	pm->w = dw;
	pm->h = dh;
}

/*
 * The bytes decide the format: a MIME that disagrees with them (a server
 * calling a PNG image/jpeg) is ignored rather than fed to the wrong codec.
 * The result is the image as displayed: turned by its EXIF orientation.
 */
int
decode_image(const unsigned char *buf, size_t len, const char *mime, int max_side,
    struct pixmap *out, char *err, size_t errlen)
{
	struct img_info info;
	int rc;

	(void)mime;
	memset(out, 0, sizeof *out);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (img_sniff(buf, len, &info, err, errlen) != 0)
		return -1;
	if (strcmp(info.ext, "jpg") == 0)
		rc = decode_jpeg(buf, len, max_side, out, err, errlen);
	else if (strcmp(info.ext, "png") == 0)
		rc = decode_png(buf, len, out, err, errlen);
	else if (strcmp(info.ext, "webp") == 0)
		rc = decode_webp(buf, len, max_side, out, err, errlen);
	else if (strcmp(info.ext, "gif") == 0)
		rc = decode_gif(buf, len, out, err, errlen);
	else
		return errf(err, errlen, "HEIC decoding is not supported by the offline analyser");
	if (rc != 0) {
		pixmap_free(out);
		return -1;
	}
	shrink(out, max_side);
	orient(out, info.orientation);
	return 0;
}
