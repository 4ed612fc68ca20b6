/* report_sample: the gallery of vj-report.  Picks its records the same
 * way every time (the smallest hashes of the ids: a fixed pseudo-random
 * draw, so two reports of one run show the same jobs, and a job stays in
 * the gallery as the run grows unless one with a smaller hash comes), and
 * makes each image's thumbnail: decoded and box-filtered down by
 * content/decode.c, encoded as a small JPEG, embedded as a data: URI. */
#include "stages/report.h"
#include "base/hash.h"
#include "content/decode.h"
#include "core/store.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#define THUMB_SIDE 200
#define THUMB_QUALITY 72
#define MAX_IMAGE (64u << 20)   /* an object larger than this gets no thumbnail */

/* ---- the draw ---- */

struct cand {
	uint64_t h;
	uint32_t slot;
};

/* A max-heap of the k smallest hashes seen. */
struct heap {
	struct cand *a;
	size_t n, k;
	uint64_t seen;
};

static void
heap_push(struct heap *hp, uint64_t h, uint32_t slot)
{
	hp->seen++;
	if (!hp->k)
		return;
	if (hp->n == hp->k) {
		if (h >= hp->a[0].h)
			return;
		/* replace the largest and sift it down */
		size_t i = 0;
		hp->a[0] = (struct cand){ h, slot };
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;
			if (l < hp->n && hp->a[l].h > hp->a[m].h)
				m = l;
			if (r < hp->n && hp->a[r].h > hp->a[m].h)
				m = r;
			if (m == i)
				break;
			struct cand t = hp->a[i];
			hp->a[i] = hp->a[m];
			hp->a[m] = t;
			i = m;
		}
		return;
	}
	size_t i = hp->n++;
	hp->a[i] = (struct cand){ h, slot };
	while (i && hp->a[(i - 1) / 2].h < hp->a[i].h) {
		struct cand t = hp->a[i];
		hp->a[i] = hp->a[(i - 1) / 2];
		hp->a[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* The draw's order: FNV-1a of the id, its bits mixed (splitmix64's
 * finaliser), since FNV alone keeps ids that differ in their last
 * characters close together: the draw would be a run of neighbours. */
static uint64_t
draw_hash(const char *id)
{
	uint64_t x = hash64(id, strlen(id));
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->h < y->h ? -1 : x->h > y->h;
}

static int
cmp_sample(const void *a, const void *b)
{
	return strcmp(((const struct report_sample *)a)->id, ((const struct report_sample *)b)->id);
}

/* The first stage where the job failed for good, else where it waits to
 * be retried; -1 when neither. */
static int
trouble(const struct run *r, uint32_t slot, int *dead)
{
	int retry = -1;
	*dead = 0;
	for (int s = 0; s < ST_PACK; s++) {
		if (!r->st[s])
			continue;
		if (r->st[s][slot].state == JS_DEAD) {
			*dead = 1;
			return s;
		}
		if (r->st[s][slot].state == JS_RETRY && retry < 0)
			retry = s;
	}
	return retry;
}

static void
fill(struct report *rp, struct report_sample *x, uint32_t slot)
{
	struct run *r = rp->r;
	int dead, s = trouble(r, slot, &dead);
	x->slot = slot;
	x->id = idx_id(r->ids, slot);
	x->fail_stage = s;
	if (dead)
		x->state = "failed";
	else if (r->st[ST_GENERATE] && r->st[ST_GENERATE][slot].state == JS_DONE)
		x->state = "done";
	else
		x->state = "pending";
	x->rec = run_record(r, slot, ST_GENERATE);
	if (s >= 0 && rp->fail_off[s] && slot < rp->cap && rp->fail_off[s][slot] != NO_OFF)
		x->fail_ev = run_line(r, (enum stage)s, rp->fail_off[s][slot]);

	json_t *img = json_object_get(x->rec, "image");
	const char *sha = json_string_value(json_object_get(img, "sha256"));
	const char *mime = json_string_value(json_object_get(img, "mime"));
	size_t len = 0;
	char why[256] = "";
	if (!img) {
		x->thumb_why = xstrdup("no image (not ingested)");
		return;
	}
	if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
		x->thumb_why = xstrdup("the record names no valid sha256");
		return;
	}
	if (json_integer_value(json_object_get(img, "bytes")) > MAX_IMAGE) {
		x->thumb_why = xstrdup("image too large for a thumbnail");
		return;
	}
	char *bytes = store_get(r->dir, sha, &len);
	if (!bytes) {
		x->thumb_why = xstrdup(errno == ENOENT ? "the image is not in the run's objects" :
		    errno == EILSEQ ? "the stored image does not match its sha256" : strerror(errno));
		return;
	}
	x->thumb = report_thumb((const unsigned char *)bytes, len, mime, THUMB_SIDE, why, sizeof why);
	if (!x->thumb)
		x->thumb_why = xstrdup(why);
	free(bytes);
}

void
report_pick_samples(struct report *rp)
{
	struct run *r = rp->r;
	uint32_t n = idx_count(r->ids);
	size_t want = rp->o->samples > 0 ? (size_t)rp->o->samples : 0;
	struct heap bad = { xmalloc((want + 1) * sizeof(struct cand)), 0, want, 0 };
	struct heap good = { xmalloc((want + 1) * sizeof(struct cand)), 0, want, 0 };

	for (uint32_t i = 0; i < n && r->job_off; i++) {
		if (r->job_off[i] == NO_OFF)
			continue;
		const char *id = idx_id(r->ids, i);
		int dead;
		uint64_t h = draw_hash(id);
		trouble(r, i, &dead);
		heap_push(dead ? &bad : &good, h, i);
	}
	rp->sample_pool = bad.seen + good.seen;
	/* failures get up to a quarter of the gallery, more when the rest
	 * cannot fill it: a run with 1% failures still shows some */
	size_t nb = want / 4 > bad.n ? bad.n : want / 4;
	if (good.n < want - nb)
		nb = want - good.n < bad.n ? want - good.n : bad.n;
	size_t ng = want - nb < good.n ? want - nb : good.n;
	qsort(bad.a, bad.n, sizeof *bad.a, cmp_cand);
	qsort(good.a, good.n, sizeof *good.a, cmp_cand);

	rp->samples = xcalloc(nb + ng + 1, sizeof *rp->samples);
	for (size_t i = 0; i < nb; i++)
		fill(rp, &rp->samples[rp->nsamples++], bad.a[i].slot);
	for (size_t i = 0; i < ng; i++)
		fill(rp, &rp->samples[rp->nsamples++], good.a[i].slot);
	qsort(rp->samples, (size_t)rp->nsamples, sizeof *rp->samples, cmp_sample);
	free(bad.a);
	free(good.a);
}

/* ---- thumbnails ---- */

struct enc_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char *why;
	size_t whylen;
};

static void
enc_error_exit(j_common_ptr c)
{
	struct enc_err *e = (struct enc_err *)c->err;
	char msg[JMSG_LENGTH_MAX];
	c->err->format_message(c, msg);
	errf(e->why, e->whylen, "cannot encode the thumbnail: %s", msg);
	longjmp(e->jb, 1);
}

struct enc_out {
	unsigned char *mem;
	unsigned long len;
};

static int
encode_jpeg(const struct pixmap *pm, struct enc_out *o, char *why, size_t whylen)
{
	struct jpeg_compress_struct c;
	struct enc_err e;
	memset(&e, 0, sizeof e);
	c.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = enc_error_exit;
	e.why = why;
	e.whylen = whylen;
	if (setjmp(e.jb)) {
		jpeg_destroy_compress(&c);
		free(o->mem);
		o->mem = NULL;
		return -1;
	}
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &o->mem, &o->len);
	c.image_width = (JDIMENSION)pm->w;
	c.image_height = (JDIMENSION)pm->h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, THUMB_QUALITY, TRUE);
	c.optimize_coding = TRUE;   /* a few percent smaller, and thumbnails are tiny */
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = pm->rgb + (size_t)c.next_scanline * (size_t)pm->w * 3;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return 0;
}

static void
base64_add(struct buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	buf_grow(b, (n + 2) / 3 * 4 + 1);
	char *o = b->p + b->len;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = tab[v >> 18], *o++ = tab[v >> 12 & 63], *o++ = tab[v >> 6 & 63], *o++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = tab[v >> 18], *o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	b->len = (size_t)(o - b->p);
	b->p[b->len] = 0;
}

char *
report_thumb(const unsigned char *img, size_t len, const char *mime, int side, char *why,
    size_t whylen)
{
	struct pixmap pm;
	struct enc_out o = { NULL, 0 };
	char err[256];
	if (decode_image(img, len, mime, side, &pm, err, sizeof err) < 0) {
		snprintf(why, whylen, "cannot decode the image: %s", err);
		return NULL;
	}
	int rc = encode_jpeg(&pm, &o, why, whylen);
	pixmap_free(&pm);
	if (rc < 0)
		return NULL;
	struct buf b = {0};
	buf_adds(&b, "data:image/jpeg;base64,");
	base64_add(&b, o.mem, o.len);
	free(o.mem);
	return b.p;
}
