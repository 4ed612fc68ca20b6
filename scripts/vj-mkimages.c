/*
 * vj-mkimages: draw test images with known properties.
 *
 *   vj-mkimages DIR                          the standard set, into DIR
 *   vj-mkimages --one WxH KIND FORMAT OUT [--orientation N]
 *                                            one image, for benchmarks and tests
 *                                            KIND: noise gradient shapes left grey corner
 *                                            FORMAT: jpg png png16 webp gif
 *
 * png16 is 16 bits per sample with no gAMA, sRGB or iCCP chunk (as many
 * scanners write them); --orientation N (jpg only) adds an Exif APP1 whose
 * orientation tag is N, and WxH is the size as stored.
 *
 * Everything is drawn here from code; the noise comes from a fixed LCG, so
 * the same invocation writes the same bytes every time.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

struct rgb {
	unsigned char r, g, b;
};

struct canvas {
	int w, h;
	unsigned char *p;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vj-mkimages: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
emalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

/* ---- drawing ---- */

static struct canvas
canvas_new(int w, int h)
{
	struct canvas c = { w, h, emalloc((size_t)w * h * 3) };

	return c;
}

static void
put(struct canvas *c, int x, int y, struct rgb k, double cover)
{
	unsigned char *p;

	if (x < 0 || y < 0 || x >= c->w || y >= c->h || cover <= 0)
		return;
	if (cover > 1)
		cover = 1;
	p = c->p + ((size_t)y * c->w + x) * 3;
	p[0] = (unsigned char)lround(p[0] + (k.r - p[0]) * cover);
	p[1] = (unsigned char)lround(p[1] + (k.g - p[1]) * cover);
	p[2] = (unsigned char)lround(p[2] + (k.b - p[2]) * cover);
}

static void
rect(struct canvas *c, int x0, int y0, int x1, int y1, struct rgb k)
{
	int x, y;

	for (y = y0; y < y1; y++)
		for (x = x0; x < x1; x++)
			put(c, x, y, k, 1);
}

static void
fill(struct canvas *c, struct rgb k)
{
	rect(c, 0, 0, c->w, c->h, k);
}

/* Antialiased: edge pixels get the share of them the circle covers, roughly. */
static void
disc(struct canvas *c, double cx, double cy, double r, struct rgb k)
{
	int x, y;

	for (y = (int)(cy - r - 1); y <= (int)(cy + r + 1); y++)
		for (x = (int)(cx - r - 1); x <= (int)(cx + r + 1); x++)
			put(c, x, y, k, r + 0.5 - hypot(x + 0.5 - cx, y + 0.5 - cy));
}

static struct rgb
mix(struct rgb a, struct rgb b, double t)
{
	struct rgb o = {
		(unsigned char)lround(a.r + (b.r - a.r) * t),
		(unsigned char)lround(a.g + (b.g - a.g) * t),
		(unsigned char)lround(a.b + (b.b - a.b) * t),
	};

	return o;
}

/* Linear gradient from A to B across the rows [y0, y1) (vertical) or all columns. */
static void
vgrad(struct canvas *c, int y0, int y1, struct rgb a, struct rgb b)
{
	int y;

	for (y = y0; y < y1; y++)
		rect(c, 0, y, c->w, y + 1, mix(a, b, (double)(y - y0) / (y1 - y0 > 1 ? y1 - y0 - 1 : 1)));
}

static void
hgrad(struct canvas *c, struct rgb a, struct rgb b)
{
	int x;

	for (x = 0; x < c->w; x++)
		rect(c, x, 0, x + 1, c->h, mix(a, b, (double)x / (c->w > 1 ? c->w - 1 : 1)));
}

static unsigned rng_state = 1;

static unsigned
rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/* Add +-AMP to every channel: film grain, or full noise with AMP 255. */
static void
grain(struct canvas *c, int amp)
{
	size_t i, n = (size_t)c->w * c->h * 3;
	int v;

	for (i = 0; i < n; i++) {
		v = c->p[i] + (int)(rnd() % (2 * amp + 1)) - amp;
		c->p[i] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
}

/* ---- writers ---- */

static void
write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	if ((n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die("%s: write failed", path);
}

/*
 * An Exif APP1 payload holding only IFD0 with the orientation tag:
 * "Exif\0\0", a big-endian TIFF header, one entry (0x0112, SHORT, 1, N),
 * no next IFD.
 */
static const unsigned char *
exif_orientation(int n, unsigned *len)
{
	static unsigned char e[] = {
		'E', 'x', 'i', 'f', 0, 0,
		'M', 'M', 0, 42, 0, 0, 0, 8,
		0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0,
		0, 0, 0, 0,
	};

	e[6 + 8 + 2 + 8 + 1] = (unsigned char)n;
	*len = sizeof e;
	return e;
}

static unsigned char *
jpeg_encode(const struct canvas *c, int quality, int orientation, unsigned long *len)
{
	struct jpeg_compress_struct j;
	struct jpeg_error_mgr je;
	unsigned char *out = NULL;
	JSAMPROW row;

	j.err = jpeg_std_error(&je);
	jpeg_create_compress(&j);
	jpeg_mem_dest(&j, &out, len);
	j.image_width = (JDIMENSION)c->w;
	j.image_height = (JDIMENSION)c->h;
	j.input_components = 3;
	j.in_color_space = JCS_RGB;
	jpeg_set_defaults(&j);
	jpeg_set_quality(&j, quality, TRUE);
	/* an Exif file has its APP1 first, instead of JFIF's APP0 */
	if (orientation > 0)
		j.write_JFIF_header = FALSE;
	jpeg_start_compress(&j, TRUE);
	if (orientation > 0) {
		unsigned n;
		const unsigned char *e = exif_orientation(orientation, &n);
		jpeg_write_marker(&j, JPEG_APP0 + 1, e, n);
	}
	while (j.next_scanline < j.image_height) {
		row = c->p + (size_t)j.next_scanline * c->w * 3;
		jpeg_write_scanlines(&j, &row, 1);
	}
	jpeg_finish_compress(&j);
	jpeg_destroy_compress(&j);
	return out;
}

static void
write_jpeg(const struct canvas *c, const char *path, int orientation)
{
	unsigned long len = 0;
	unsigned char *b = jpeg_encode(c, 90, orientation, &len);

	write_bytes(path, b, len);
	free(b);
}

static void
write_png(const struct canvas *c, const char *path)
{
	png_image img;

	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)c->w;
	img.height = (png_uint_32)c->h;
	img.format = PNG_FORMAT_RGB;
	if (!png_image_write_to_file(&img, path, 0, c->p, 0, NULL))
		die("%s: %s", path, img.message);
}

/* 16-bit RGB through libpng's own writer: the simplified API always adds gAMA. */
static void
write_png16(const struct canvas *c, const char *path)
{
	png_structp png;
	png_infop info;
	unsigned char *row = emalloc((size_t)c->w * 6);
	FILE *f = fopen(path, "wb");
	int x, y;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png != NULL ? png_create_info_struct(png) : NULL;
	if (info == NULL)
		die("%s: libpng could not start", path);
	if (setjmp(png_jmpbuf(png)))
		die("%s: PNG write failed", path);
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 16, PNG_COLOR_TYPE_RGB,
	    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (y = 0; y < c->h; y++) {
		const unsigned char *p = c->p + (size_t)y * c->w * 3;
		/* v * 257: the 8-bit value scaled to 16 bits, big-endian */
		for (x = 0; x < c->w * 3; x++)
			row[2 * x] = row[2 * x + 1] = p[x];
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	if (fclose(f) != 0)
		die("%s: write failed", path);
}

static void
write_webp(const struct canvas *c, const char *path)
{
	uint8_t *out = NULL;
	size_t n = WebPEncodeRGB(c->p, c->w, c->h, c->w * 3, 90, &out);

	if (n == 0)
		die("%s: WebP encoding failed", path);
	write_bytes(path, out, n);
	WebPFree(out);
}

/* GIF: the 6x6x6 web-safe cube as palette, each pixel to its nearest level. */
static void
write_gif(const struct canvas *c, const char *path)
{
	GifColorType pal[256];
	ColorMapObject *map;
	GifFileType *g;
	GifPixelType *line;
	int i, x, y, e = 0;

	memset(pal, 0, sizeof pal);
	for (i = 0; i < 216; i++) {
		pal[i].Red = (GifByteType)(i / 36 * 51);
		pal[i].Green = (GifByteType)(i / 6 % 6 * 51);
		pal[i].Blue = (GifByteType)(i % 6 * 51);
	}
	if ((map = GifMakeMapObject(256, pal)) == NULL)
		die("GifMakeMapObject failed");
	if ((g = EGifOpenFileName(path, false, &e)) == NULL)
		die("%s: %s", path, GifErrorString(e));
	if (EGifPutScreenDesc(g, c->w, c->h, 8, 0, map) == GIF_ERROR ||
	    EGifPutImageDesc(g, 0, 0, c->w, c->h, false, NULL) == GIF_ERROR)
		die("%s: %s", path, GifErrorString(g->Error));
	line = emalloc((size_t)c->w);
	for (y = 0; y < c->h; y++) {
		const unsigned char *p = c->p + (size_t)y * c->w * 3;
		for (x = 0; x < c->w; x++, p += 3)
			line[x] = (GifPixelType)(((p[0] + 25) / 51) * 36 + ((p[1] + 25) / 51) * 6 +
			    (p[2] + 25) / 51);
		if (EGifPutLine(g, line, c->w) == GIF_ERROR)
			die("%s: %s", path, GifErrorString(g->Error));
	}
	if (EGifCloseFile(g, &e) == GIF_ERROR)
		die("%s: %s", path, GifErrorString(e));
	GifFreeMapObject(map);
	free(line);
	chmod(path, 0644);      /* giflib creates the file 0600 */
}

static void
write_any(const struct canvas *c, const char *fmt, const char *path, int orientation)
{
	if (orientation > 0 && strcmp(fmt, "jpg") != 0 && strcmp(fmt, "jpeg") != 0)
		die("--orientation is for jpg only");
	if (strcmp(fmt, "jpg") == 0 || strcmp(fmt, "jpeg") == 0)
		write_jpeg(c, path, orientation);
	else if (strcmp(fmt, "png") == 0)
		write_png(c, path);
	else if (strcmp(fmt, "png16") == 0)
		write_png16(c, path);
	else if (strcmp(fmt, "webp") == 0)
		write_webp(c, path);
	else if (strcmp(fmt, "gif") == 0)
		write_gif(c, path);
	else
		die("unknown format '%s' (jpg, png, png16, webp, gif)", fmt);
}

/* ---- the pictures ---- */

static const struct rgb BLACK = { 0, 0, 0 }, WHITE = { 255, 255, 255 };
/* red and blue exactly as in the analyser's colour-name table */
static const struct rgb RED = { 220, 20, 30 }, BLUE = { 20, 40, 230 };
static const struct rgb TEAL = { 0, 128, 128 }, ORANGE = { 255, 140, 0 };
static const struct rgb NAVY = { 0, 0, 110 };

static void
half_red_half_blue(struct canvas *c)
{
	rect(c, 0, 0, c->w / 2, c->h, RED);
	rect(c, c->w / 2, 0, c->w, c->h, BLUE);
}

static void
white_square_on_black(struct canvas *c)
{
	int s = c->w / 3;

	fill(c, BLACK);
	rect(c, (c->w - s) / 2, (c->h - s) / 2, (c->w + s) / 2, (c->h + s) / 2, WHITE);
}

static void
subject_left(struct canvas *c)
{
	fill(c, (struct rgb){ 18, 20, 28 });
	disc(c, c->w / 6.0, c->h / 2.0, c->h * 0.18, (struct rgb){ 245, 230, 200 });
}

static void
dark(struct canvas *c)
{
	vgrad(c, 0, c->h, (struct rgb){ 8, 10, 18 }, (struct rgb){ 30, 26, 24 });
	disc(c, c->w * 0.6, c->h * 0.45, c->h * 0.15, (struct rgb){ 48, 42, 36 });
	rect(c, c->w / 8, c->h * 3 / 4, c->w / 3, c->h * 7 / 8, (struct rgb){ 20, 24, 34 });
	grain(c, 2);
}

static void
bright(struct canvas *c)
{
	vgrad(c, 0, c->h, (struct rgb){ 250, 250, 255 }, (struct rgb){ 240, 236, 225 });
	rect(c, c->w / 4, c->h / 3, c->w * 3 / 4, c->h * 2 / 3, (struct rgb){ 222, 234, 250 });
	disc(c, c->w * 0.7, c->h * 0.3, c->h * 0.08, (struct rgb){ 255, 214, 120 });
}

static void
gradient(struct canvas *c)
{
	hgrad(c, (struct rgb){ 250, 200, 80 }, (struct rgb){ 215, 70, 40 });
}

static void
stripes(struct canvas *c)
{
	int x, y;

	for (y = 0; y < c->h; y++)
		for (x = 0; x < c->w; x++)
			put(c, x, y, (x + y) / 8 % 2 ? WHITE : NAVY, 1);
}

static void
palette_picture(struct canvas *c)
{
	/* every colour is a level of the GIF's 6x6x6 cube, so it survives exactly */
	fill(c, (struct rgb){ 255, 255, 204 });
	rect(c, c->w / 10, c->h / 5, c->w / 2, c->h * 4 / 5, (struct rgb){ 0, 102, 204 });
	disc(c, c->w * 0.72, c->h * 0.5, c->h * 0.25, (struct rgb){ 255, 102, 0 });
	rect(c, 0, c->h - c->h / 12, c->w, c->h, (struct rgb){ 51, 51, 51 });
}

static void
small_picture(struct canvas *c)
{
	fill(c, TEAL);
	disc(c, c->w * 0.35, c->h * 0.5, c->h * 0.3, ORANGE);
}

static void
sunset(struct canvas *c)
{
	int horizon = c->h * 3 / 4;

	vgrad(c, 0, horizon, (struct rgb){ 70, 40, 120 }, (struct rgb){ 255, 150, 60 });
	disc(c, c->w / 2.0, horizon - c->h * 0.08, c->h * 0.13, (struct rgb){ 255, 226, 150 });
	vgrad(c, horizon, c->h, (struct rgb){ 40, 24, 36 }, (struct rgb){ 16, 10, 18 });
}

static void
poster(struct canvas *c)
{
	fill(c, TEAL);
	disc(c, c->w / 2.0, c->h * 0.35, c->w * 0.28, ORANGE);
	rect(c, c->w / 6, c->h * 3 / 4, c->w * 5 / 6, c->h * 3 / 4 + c->h / 16, WHITE);
}

static void
checkerboard(struct canvas *c)
{
	int x, y, s = c->w / 8;

	for (y = 0; y < c->h; y++)
		for (x = 0; x < c->w; x++)
			put(c, x, y, (x / s + y / s) % 2 ? BLACK : WHITE, 1);
}

static void
noise(struct canvas *c)
{
	fill(c, (struct rgb){ 128, 128, 128 });
	grain(c, 127);
}

static void
shapes(struct canvas *c)
{
	double u = c->w < c->h ? c->w : c->h;

	vgrad(c, 0, c->h, (struct rgb){ 120, 170, 220 }, (struct rgb){ 230, 220, 200 });
	rect(c, 0, c->h * 2 / 3, c->w, c->h, (struct rgb){ 70, 110, 50 });
	disc(c, c->w * 0.3, c->h * 0.45, u * 0.2, (struct rgb){ 200, 60, 50 });
	disc(c, c->w * 0.7, c->h * 0.6, u * 0.12, (struct rgb){ 240, 200, 60 });
	rect(c, c->w * 11 / 20, c->h / 5, c->w * 9 / 10, c->h * 2 / 5, (struct rgb){ 60, 60, 90 });
	grain(c, 6);    /* some sensor-like grain so JPEGs are photo-sized */
}

struct std_image {
	const char *name;
	int w, h;
	void (*draw)(struct canvas *);
};

static const struct std_image standard[] = {
	{ "half-red-half-blue.png", 480, 320, half_red_half_blue },
	{ "white-square-on-black.png", 480, 480, white_square_on_black },
	{ "subject-left.png", 640, 400, subject_left },
	{ "dark.jpg", 640, 480, dark },
	{ "bright.jpg", 640, 480, bright },
	{ "gradient.jpg", 640, 400, gradient },
	{ "stripes.png", 480, 480, stripes },
	{ "palette.gif", 400, 300, palette_picture },
	{ "small.webp", 320, 240, small_picture },
	{ "sunset.jpg", 800, 500, sunset },
	{ "poster-teal-orange.png", 600, 800, poster },
	{ "checkerboard.png", 480, 480, checkerboard },
	{ "noise.png", 400, 400, noise },
	{ "shapes.webp", 720, 480, shapes },
};

static void
write_standard(const char *dir)
{
	char path[4096];
	struct canvas c;
	unsigned char *b;
	unsigned long len = 0;
	size_t i;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		die("%s: %s", dir, strerror(errno));
	for (i = 0; i < sizeof standard / sizeof standard[0]; i++) {
		const struct std_image *s = &standard[i];
		rng_state = 1;
		c = canvas_new(s->w, s->h);
		memset(c.p, 0, (size_t)s->w * s->h * 3);
		s->draw(&c);
		snprintf(path, sizeof path, "%s/%s", dir, s->name);
		write_any(&c, strrchr(s->name, '.') + 1, path, 0);
		printf("%s\n", path);
		free(c.p);
	}
	/*
	 * A valid JPEG cut in half and closed again with an end-of-image
	 * marker: whole to the structural check at ingest, truncated to the
	 * decoder (the analysis fails).  And an empty file.
	 */
	rng_state = 1;
	c = canvas_new(640, 480);
	shapes(&c);
	b = jpeg_encode(&c, 90, 0, &len);
	b[len / 2] = 0xff;
	b[len / 2 + 1] = 0xd9;
	snprintf(path, sizeof path, "%s/truncated.jpg", dir);
	write_bytes(path, b, len / 2 + 2);
	printf("%s\n", path);
	free(b);
	free(c.p);
	snprintf(path, sizeof path, "%s/empty.png", dir);
	write_bytes(path, "", 0);
	printf("%s\n", path);
}

static void
grey(struct canvas *c)
{
	fill(c, (struct rgb){ 128, 128, 128 });
}

/* A white disc in the top-left quarter on black: where it lands shows how the image was turned. */
static void
corner(struct canvas *c)
{
	double u = c->w < c->h ? c->w : c->h;

	fill(c, BLACK);
	disc(c, c->w / 4.0, c->h / 4.0, u / 6, WHITE);
}

static void
write_one(const char *size, const char *kind, const char *fmt, const char *out, int orientation)
{
	struct canvas c;
	int w, h;
	char x;

	if (sscanf(size, "%d%c%d", &w, &x, &h) != 3 || (x != 'x' && x != 'X') ||
	    w < 1 || h < 1 || w > 30000 || h > 30000)
		die("bad size '%s' (want WxH, e.g. 4000x3000)", size);
	rng_state = 1;
	c = canvas_new(w, h);
	memset(c.p, 0, (size_t)w * h * 3);
	if (strcmp(kind, "noise") == 0)
		noise(&c);
	else if (strcmp(kind, "gradient") == 0)
		gradient(&c);
	else if (strcmp(kind, "shapes") == 0)
		shapes(&c);
	else if (strcmp(kind, "left") == 0)
		subject_left(&c);
	else if (strcmp(kind, "grey") == 0)
		grey(&c);
	else if (strcmp(kind, "corner") == 0)
		corner(&c);
	else
		die("unknown kind '%s' (noise, gradient, shapes, left, grey, corner)", kind);
	write_any(&c, fmt, out, orientation);
	free(c.p);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: vj-mkimages DIR\n"
	    "       vj-mkimages --one WxH noise|gradient|shapes|left|grey|corner "
	    "jpg|png|png16|webp|gif OUT [--orientation 1-8]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int orientation = 0;
	char *end;

	if (argc == 8 && strcmp(argv[6], "--orientation") == 0) {
		orientation = (int)strtol(argv[7], &end, 10);
		if (*end != '\0' || orientation < 1 || orientation > 8)
			die("bad orientation '%s' (want 1 to 8)", argv[7]);
		argc = 6;
	}
	if (argc == 2 && argv[1][0] != '-')
		write_standard(argv[1]);
	else if (argc == 6 && strcmp(argv[1], "--one") == 0)
		write_one(argv[2], argv[3], argv[4], argv[5], orientation);
	else
		usage();
	return 0;
}
