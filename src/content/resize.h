/* resize: a smaller copy of an image for a vision model (vj-analyze
 * --max-side, --max-pixels).  Most of an image's cost is its size: a model
 * bills image tokens by it, and every byte is uploaded.  The copy is
 * decoded at the smallest JPEG DCT scale that still covers the target,
 * resampled with a Lanczos-3 filter (after an area-averaging pre-shrink
 * when the factor is large), and encoded again: JPEG for an opaque image,
 * PNG where there is alpha. */
#ifndef VJ_RESIZE_H
#define VJ_RESIZE_H

#include <stddef.h>

#define RESIZE_QUALITY 85       /* JPEG quality of a downscaled copy */

struct resize_params {
	long max_side;          /* longest side in pixels; 0: no limit */
	long max_pixels;        /* width x height; 0: no limit */
	int quality;            /* JPEG quality 1..100; 0: RESIZE_QUALITY */
};

/* The size a w x h image is brought to under p (never up, aspect kept):
 * 1 with *nw, *nh set when it must shrink, 0 when it fits as it is. */
int resize_fit(long w, long h, const struct resize_params *p, long *nw, long *nh);

/* The parameters as text for names and cache keys: "s1024-p0-q85". */
void resize_params_text(const struct resize_params *p, char *out, size_t n);

struct resize_out {
	unsigned char *buf;     /* the encoded copy (malloc'd) */
	size_t len;
	const char *mime;       /* "image/jpeg" or "image/png" */
	int w, h;               /* its pixels, as displayed */
};

/* Downscale the image buf (len bytes, untrusted; mime NULL: sniffed) to fit
 * p.  0 with *out filled; 1 when the image fits already (nothing made);
 * -1 with err set when it cannot be decoded (a broken or unsupported
 * image: HEIC/HEIF are not decoded). */
int resize_image(const unsigned char *buf, size_t len, const char *mime,
    const struct resize_params *p, struct resize_out *out, char *err, size_t errlen);
void resize_out_free(struct resize_out *out);

/* Resample pixels (ch 3 or 4 bytes a pixel, rows packed) from sw x sh to
 * dw x dh (each no larger than the source): Lanczos-3, after a box
 * pre-shrink by a whole factor when shrinking more than 4 times.  Returns
 * malloc'd pixels.  For the benchmark and tests too. */
unsigned char *resize_pixels(const unsigned char *src, int sw, int sh, int ch, int dw, int dh);

#endif
