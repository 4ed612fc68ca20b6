/* img: identify an image from its first bytes, without decoding it. */
#ifndef VJ_IMG_H
#define VJ_IMG_H

#include <stddef.h>

struct img_info {
	char mime[32];   /* "image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "image/heif" */
	char ext[8];     /* "jpg", "png", "webp", "gif", "heic", "heif" */
	int width, height;  /* pixels; 0x0 only for HEIF without a findable 'ispe' */
};

/*
 * Sniff BUF (untrusted, LEN bytes): 0 and *OUT filled when it is a JPEG, PNG,
 * WebP, GIF or HEIC/HEIF whose dimensions could be read; -1 with a message in
 * ERR otherwise ("not an image: starts with '<!DOCTYPE html>'", "truncated
 * JPEG header", "zero-byte file").  Never reads outside BUF[0..LEN).
 */
int img_sniff(const unsigned char *buf, size_t len, struct img_info *out,
    char *err, size_t errlen);

#endif
