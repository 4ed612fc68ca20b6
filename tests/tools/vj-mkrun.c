/* vj-mkrun: a synthetic run of N finished jobs, written through the real
 * run/journal/store API, so vj-pack can be tested without the network
 * stages.  Everything but the journal timestamps is deterministic.
 *
 *   vj-mkrun RUN N [--images DIR] [--image-bytes N] [--prefix P] [--start K] [--print]
 *
 * Images are small PNGs made here (different for every job), or about
 * --image-bytes of noisy pixels, or the files of DIR in turn.  --print
 * writes each job's record on stdout, as vj-generate would. */
#include "core/run.h"
#include "core/store.h"
#include "base/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct img {
	char *p;
	size_t len;
	int w, h;
	const char *mime, *ext;
};

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: cheap, and the same bytes on every machine */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
chunk(struct buf *b, const char *type, const void *p, size_t n)
{
	unsigned char len[4] = { n >> 24, n >> 16 & 255, n >> 8 & 255, n & 255 };
	buf_add(b, len, 4);
	size_t at = b->len;
	buf_add(b, type, 4);
	buf_add(b, p, n);
	uLong crc = crc32(0, (const Bytef *)b->p + at, (uInt)(n + 4));
	unsigned char c[4] = { crc >> 24, crc >> 16 & 255, crc >> 8 & 255, crc & 255 };
	buf_add(b, c, 4);
}

/* An RGB PNG: a gradient for small images, noise (which compresses
 * badly, like photographs) when big ones are asked for. */
static struct img
make_png(uint64_t seed, size_t want)
{
	struct img im = { 0 };
	int side = 8 + (int)(seed % 9);
	if (want > 0)
		for (side = 16; (size_t)side * side * 3 < want; side++)
			;
	im.w = im.h = side;
	size_t row = (size_t)side * 3 + 1, raw = row * (size_t)side;
	unsigned char *px = xmalloc(raw);
	uint64_t s = seed;
	for (int y = 0; y < side; y++) {
		px[(size_t)y * row] = 0;
		for (size_t x = 1; x < row; x++) {
			uint64_t v = want > 0 ? rnd(&s) & 0x3f : (uint64_t)(x * 7 + (size_t)y * 13);
			px[(size_t)y * row + x] = (unsigned char)(v + seed * 31);
		}
	}
	uLongf zlen = compressBound(raw);
	unsigned char *z = xmalloc(zlen);
	compress2(z, &zlen, px, raw, want > 0 ? 1 : 9);
	struct buf b = { 0 };
	unsigned char ihdr[13] = { side >> 24, side >> 16 & 255, side >> 8 & 255, side & 255,
		side >> 24, side >> 16 & 255, side >> 8 & 255, side & 255, 8, 2, 0, 0, 0 };
	buf_add(&b, "\x89PNG\r\n\x1a\n", 8);
	chunk(&b, "IHDR", ihdr, 13);
	chunk(&b, "IDAT", z, zlen);
	chunk(&b, "IEND", "", 0);
	free(px);
	free(z);
	im.p = b.p;
	im.len = b.len;
	im.mime = "image/png";
	im.ext = "png";
	return im;
}

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **
list_images(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	*n = 0;
	if (!d)
		vj_die(VJ_EUSAGE, "cannot open %s:", dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		v = xrealloc(v, (size_t)(*n + 1) * sizeof *v);
		v[(*n)++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*n == 0)
		vj_die(VJ_EUSAGE, "no images in %s", dir);
	qsort(v, (size_t)*n, sizeof *v, by_str);
	return v;
}

static struct img
file_image(const char *path)
{
	struct img im = { 0 };
	const char *dot = strrchr(path, '.');
	im.p = read_file(path, &im.len, 0);
	if (!im.p)
		vj_die(VJ_EFATAL, "cannot read %s:", path);
	im.ext = dot ? dot + 1 : "bin";
	im.mime = strcmp(im.ext, "png") == 0 ? "image/png" :
	    strcmp(im.ext, "webp") == 0 ? "image/webp" : "image/jpeg";
	if (strcmp(im.ext, "jpeg") == 0)
		im.ext = "jpg";
	return im;
}

static void
append(struct run *r, enum stage s, json_t *ev)
{
	if (run_append(r, s, ev) < 0)
		vj_die(VJ_EFATAL, "cannot append to the %s journal:", stage_name[s]);
	json_decref(ev);
}

static void
one_job(struct run *r, const char *id, long i, struct img *im, int print)
{
	char sha[65], k1[KEY_HEX + 1], k2[KEY_HEX + 1], k3[KEY_HEX + 1];
	json_int_t t = 1700000000000LL + i;
	char *url = xasprintf("https://img.example/%s.%s", id, im->ext);
	char *text = xasprintf("Job %s shows test pattern %ld: a %dx%d picture.", id, i, im->w, im->h);

	if (store_put(r->dir, im->p, im->len, sha) < 0)
		vj_die(VJ_EFATAL, "cannot store the image of %s:", id);
	key_derive("ingest", "", url, k1);
	key_derive("analyze", "fake-vision", k1, k2);
	key_derive("generate", "fake-writer", k2, k3);
	append(r, ST_INGEST, json_pack("{s:s,s:s,s:I,s:s,s:{s:s,s:s,s:s,s:s,s:f,s:{s:I}}}",
	    "ev", "job", "id", id, "t", t, "key", k1, "job", "imageUrl", url,
	    "imageContext", "a synthetic test image", "analysisPurpose", "testing vj-pack",
	    "outputFormat", "detailed_analysis", "creativityLevel", 1.0, "meta", "n", (json_int_t)i));
	append(r, ST_INGEST, json_pack("{s:s,s:s,s:I,s:s,s:i,s:i,s:{s:s,s:s,s:s,s:I,s:i,s:i}}",
	    "ev", "done", "id", id, "t", t + 1, "key", k1, "ms", 3, "attempt", 1,
	    "image", "sha256", sha, "mime", im->mime, "ext", im->ext, "bytes", (json_int_t)im->len,
	    "width", im->w, "height", im->h));
	append(r, ST_ANALYZE, json_pack("{s:s,s:s,s:I,s:s,s:i,s:i,s:{s:s,s:[s,s]},s:{s:s}}",
	    "ev", "done", "id", id, "t", t + 2, "key", k2, "ms", 40, "attempt", 1,
	    "analysis", "description", "a test pattern", "objects", "gradient", "square",
	    "meta", "model", "fake-vision"));
	append(r, ST_GENERATE, json_pack("{s:s,s:s,s:I,s:s,s:i,s:i,s:{s:s,s:s},s:{s:s}}",
	    "ev", "done", "id", id, "t", t + 3, "key", k3, "ms", 80, "attempt", 1,
	    "content", "format", "detailed_analysis", "text", text, "meta", "model", "fake-writer"));
	if (print) {
		int64_t slot = idx_get(r->ids, id, strlen(id), 0);
		json_t *rec = run_record(r, (uint32_t)slot, ST_GENERATE);
		char *js = json_dumps(rec, JSON_COMPACT);
		printf("%s\n", js);
		free(js);
		json_decref(rec);
	}
	free(url);
	free(text);
}

int
main(int argc, char **argv)
{
	const char *run, *dir = NULL, *prefix = "j";
	long n, start = 0, want = 0;
	int print = 0, nfiles = 0;
	char **files = NULL, err[1024];

	vj_setprog(argv[0]);
	if (argc < 3 || parse_long(argv[2], 0, 100000000, &n) < 0)
		vj_die(VJ_EUSAGE, "usage: vj-mkrun RUN N [--images DIR] [--image-bytes N] "
		    "[--prefix P] [--start K] [--print]");
	run = argv[1];
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--print") == 0)
			print = 1;
		else if (i + 1 < argc && strcmp(argv[i], "--images") == 0)
			dir = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--prefix") == 0)
			prefix = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--start") == 0)
			parse_long(argv[++i], 0, 100000000, &start);
		else if (i + 1 < argc && strcmp(argv[i], "--image-bytes") == 0)
			want = (long)parse_size(argv[++i]);
		else
			vj_die(VJ_EUSAGE, "unknown argument %s", argv[i]);
	}
	if (dir)
		files = list_images(dir, &nfiles);
	if (mkdir_p(run, 0755) < 0)
		vj_die(VJ_EFATAL, "cannot create %s:", run);
	struct run *r = run_new(run);
	for (int s = ST_INGEST; s <= ST_GENERATE; s++)
		if (run_own(r, (enum stage)s, JL_FSYNC_NEVER, 0, err, sizeof err) != VJ_OK)
			vj_die(VJ_EFATAL, "%s", err);
	for (long i = start; i < start + n; i++) {
		char *id = xasprintf("%s%07ld", prefix, i);
		struct img im = files ? file_image(files[i % nfiles]) :
		    make_png((uint64_t)i + 1, want > 0 ? (size_t)want : 0);
		one_job(r, id, i, &im, print);
		free(im.p);
		free(id);
		if (i % 1000 == 999)
			for (int s = ST_INGEST; s <= ST_GENERATE; s++)
				journal_commit(r->own[s]);
	}
	for (int s = ST_INGEST; s <= ST_GENERATE; s++)
		if (journal_commit(r->own[s]) < 0)
			vj_die(VJ_EFATAL, "cannot write the %s journal:", stage_name[s]);
	run_free(r);
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return 0;
}
