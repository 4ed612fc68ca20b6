/* decode: turn a JPEG, PNG, WebP or GIF in memory into 8-bit RGB pixels. */
#ifndef VJ_DECODE_H
#define VJ_DECODE_H

#include <stddef.h>

struct pixmap {
	int w, h;
	unsigned char *rgb;     /* w * h * 3 bytes, rows top to bottom */
};

/*
 * Decode BUF as MIME ("image/jpeg"...; NULL: sniff it) into *OUT, scaled
 * down (never up) so that the longer side is at most MAX_SIDE (<= 0: full
 * size).  JPEGs use DCT scaling to get there cheaply; alpha is composited on
 * white; a GIF gives its first frame; a JPEG's EXIF orientation is applied,
 * so the pixels are as displayed.  16-bit PNGs without gamma information
 * are taken as sRGB.  0 on success; -1 with ERR set, *OUT zeroed.
 * Truncated images are errors.
 */
int decode_image(const unsigned char *buf, size_t len, const char *mime, int max_side,
    struct pixmap *out, char *err, size_t errlen);
void pixmap_free(struct pixmap *);

#endif
