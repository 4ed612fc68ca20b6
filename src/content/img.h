/* img: identify an image from its first bytes, and check it is whole, without decoding it. */
#ifndef VJ_IMG_H
#define VJ_IMG_H

#include <stddef.h>

struct img_info {
	char mime[32];   /* "image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif" */
	char ext[8];     /* "jpg", "png", "webp", "gif", "heic", "heif" */
	int width, height;  /* pixels as displayed; 0x0 only for HEIF without a findable 'ispe' */
	int orientation;    /* EXIF orientation 1..8 (JPEG only, else 1); 5..8 turn the
	                     * stored pixels a quarter, so width and height are swapped */
};

/*
 * Sniff BUF (untrusted, LEN bytes): 0 and *OUT filled when it is a JPEG, PNG,
 * WebP, GIF or HEIC/HEIF whose dimensions could be read; -1 with a message in
 * ERR otherwise ("not an image: an HTML page, 1234 bytes" -- the kind and the
 * size, never the bytes --, "truncated JPEG header", "zero-byte file").  Never reads outside BUF[0..LEN).  Only
 * the headers are looked at: a sniffed image may still be cut short.
 */
int img_sniff(const unsigned char *buf, size_t len, struct img_info *out,
    char *err, size_t errlen);

/* What img_check found. */
enum img_whole {
	IMG_BROKEN = -1,   /* its structure is wrong: no pixel data, bad lengths */
	IMG_WHOLE = 0,
	IMG_CUT = 1        /* the bytes end before the image does (a short download looks like this) */
};

/*
 * Walk the structure of BUF, which img_sniff described as INFO, to its end:
 * JPEG segments and scan data up to EOI; PNG chunks from IHDR through IDAT
 * to IEND, with a pixel data size the dimensions allow; GIF blocks to an
 * image and the trailer; the WebP RIFF size against LEN and its chunks;
 * the top-level HEIF boxes.  Nothing is decoded and it costs one pass over
 * the bytes.  IMG_WHOLE, or IMG_CUT / IMG_BROKEN with a message in ERR that
 * names the type, the dimensions and LEN and quotes none of the bytes
 * ("truncated image/jpeg (640x480, 10240 bytes): ends inside the scan data,
 * before the end-of-image marker").
 */
int img_check(const unsigned char *buf, size_t len, const struct img_info *info,
    char *err, size_t errlen);

#endif
