/*
 * fake_image.c: with --image-sizes, the fake looks at the images that API
 * requests carry inline (Gemini inline_data, OpenAI data: URLs) and keeps,
 * per job, the last one's type, size in bytes and dimensions from its
 * header; /_stats shows them under "images".  Tests check with it what a
 * client sent (vj-analyze --max-side).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

static json_t *fake_images;	/* job -> {mime, bytes, width, height} */

static int
fake_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode base64 (padding and anything else skipped); malloc'd. */
static unsigned char *
fake_b64dec(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out = fake_xmalloc(n / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int v = fake_b64val((unsigned char)s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return out;
}

/* The type and dimensions from an image's header; 0 when not known. */
static int
fake_dims(const unsigned char *p, size_t n, const char **mime, long *w, long *h)
{
	if (n >= 24 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
		*mime = "image/png";
		*w = (long)p[16] << 24 | (long)p[17] << 16 | p[18] << 8 | p[19];
		*h = (long)p[20] << 24 | (long)p[21] << 16 | p[22] << 8 | p[23];
		return 1;
	}
	if (n >= 10 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) {
		*mime = "image/gif";
		*w = p[6] | p[7] << 8;
		*h = p[8] | p[9] << 8;
		return 1;
	}
	if (n >= 4 && p[0] == 0xff && p[1] == 0xd8) {
		size_t i = 2;
		*mime = "image/jpeg";
		while (i + 9 < n) {
			if (p[i] != 0xff) {
				i++;
				continue;
			}
			int m = p[i + 1];
			size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
			if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
				*h = p[i + 5] << 8 | p[i + 6];
				*w = p[i + 7] << 8 | p[i + 8];
				return 1;
			}
			if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7) || m == 0xff) {
				i += m == 0xff ? 1 : 2;
				continue;
			}
			i += 2 + len;
		}
	}
	return 0;
}

/* Every inline image in a request document, the last one kept. */
static void
fake_walk(json_t *v, const char *job, int depth)
{
	const char *k;
	json_t *c;
	size_t i;

	if (depth > 16)
		return;
	if (json_is_array(v)) {
		json_array_foreach(v, i, c)
			fake_walk(c, job, depth + 1);
		return;
	}
	json_object_foreach(v, k, c) {
		const char *s = json_string_value(c);
		if (s == NULL) {
			fake_walk(c, job, depth + 1);
			continue;
		}
		size_t n = json_string_length(c);
		if (strcmp(k, "url") == 0 && strncmp(s, "data:", 5) == 0 && strstr(s, ";base64,")) {
			const char *b = strstr(s, ";base64,") + 8;
			n -= (size_t)(b - s);
			s = b;
		} else if (strcmp(k, "data") != 0)
			continue;
		size_t len;
		unsigned char *img = fake_b64dec(s, n, &len);
		const char *mime = "unknown";
		long w = 0, h = 0;
		fake_dims(img, len, &mime, &w, &h);
		free(img);
		if (fake_images == NULL)
			fake_images = json_object();
		json_object_set_new(fake_images, job, json_pack("{s:s,s:I,s:I,s:I}", "mime", mime,
		    "bytes", (json_int_t)len, "width", (json_int_t)w, "height", (json_int_t)h));
	}
}

int
fake_image_decode(const char *s, size_t n, long *w, long *h)
{
	const char *b = n > 5 && strncmp(s, "data:", 5) == 0 ? strstr(s, ";base64,") : NULL;
	const char *mime;
	unsigned char *img;
	size_t len;
	int r;

	if (b != NULL) {
		n -= (size_t)(b + 8 - s);
		s = b + 8;
	}
	/* the header is near the start: a JPEG's SOF may follow its EXIF */
	img = fake_b64dec(s, n < 1u << 20 ? n : 1u << 20, &len);
	r = fake_dims(img, len, &mime, w, h);
	free(img);
	return r;
}

void
fake_image_note(const char *job, json_t *req)
{
	if (fake_opt.image_sizes && req != NULL)
		fake_walk(req, job, 0);
}

json_t *
fake_image_json(void)
{
	return fake_images ? json_incref(fake_images) : json_object();
}

void
fake_image_reset(void)
{
	json_decref(fake_images);
	fake_images = NULL;
}
