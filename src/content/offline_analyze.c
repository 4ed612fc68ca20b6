/*
 * offline_analyze: describe an image from its pixels, with no model.
 *
 * The image is decoded small (OFF_SIDE on the longer side: enough for
 * palette and layout, and a 12 MP JPEG gets there through 1/8 DCT scaling)
 * and measured in CIELAB, where distances roughly match what people see:
 *
 *   palette      k-means over a 4096-bin colour histogram, seeded
 *                deterministically from the most populous bins
 *   focal point  centroid of saliency (gradient + colour distance from the
 *                mean colour), squared so strong features win
 *   balance      left-right mirror difference and saliency per half
 *   negative     share of 8x8 blocks with almost no lightness variation
 *   lighting     mean and spread of L*, direction of the mean a*b*
 *
 * Every threshold is below with its reason.  Nothing is random and no
 * floating-point result depends on anything but the pixels, so the same
 * bytes give the same JSON.
 */
#include "content/offline_analyze.h"
#include "content/decode.h"
#include "base/util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF_SIDE 256    /* analysis resolution, longer side */

#define K_MAX 8         /* palette clusters at most */
#define SEED_DE 20.0    /* seeds at least this far apart (a clearly different colour) */
#define KM_ITERS 16     /* Lloyd iterations; the histogram converges in a few */
#define MIN_SHARE 0.004 /* clusters under 0.4% of the area are noise (JPEG fringes) */

/* primary: the largest colour plus any other covering >= 25% of the area */
#define PRIMARY_SHARE 0.25
/* secondary: other colours covering >= 4% */
#define SECONDARY_SHARE 0.04
/* accent: a minority colour (< 25%) with chroma >= 35 and >= 15 above every primary */
#define ACCENT_CHROMA 35.0
#define ACCENT_MARGIN 15.0

/* Lighting: mean L* below 35 looks dim, above 65 bright (L* 50 is mid grey). */
#define DIM_L 35.0
#define BRIGHT_L 65.0
/* Contrast: standard deviation of L*; a black/white split is 50, fog is under 8. */
#define HIGH_CONTRAST 22.0
#define LOW_CONTRAST 8.0
/* Cast: the mean a*b* must be this far from grey to call the image warm or cool. */
#define CAST_CHROMA 5.0

/* Texture: mean |grad L*| per pixel at OFF_SIDE; a smooth gradient is ~0.2, noise 20+. */
#define SMOOTH_GRAD 1.5
#define TEXTURED_GRAD 5.0
/* A block is low-detail when its L* standard deviation is under 2 (invisible
 * ripple) and its mean gradient under 1 (no edge touches it, even on its border). */
#define BLOCK 8
#define FLAT_BLOCK_SD 2.0
#define FLAT_BLOCK_GRAD 1.0
/* Negative space: >= 60% low-detail blocks is generous, >= 30% moderate. */
#define GENEROUS_NEG 0.60
#define MODERATE_NEG 0.30

/* Balance: mean mirror deltaE under 4 is symmetrical to the eye, under 10 roughly. */
#define SYM_DE 4.0
#define ROUGH_SYM_DE 10.0
/* ... and one half holding 15% more of the saliency than the other tips it. */
#define WEIGHT_TIP 0.15
/* Focal point: saliency spread (std dev, fraction of the frame) over 0.24 on both
 * axes is nearly uniform (uniform is 0.289): no single focal point. */
#define DIFFUSE_SD 0.24

/* Style: histogram bins holding 95% of the pixels; a flat graphic needs few. */
#define FLAT_BINS 8
#define LIMITED_BINS 32
/* Saturation: mean chroma; vivid above 35, muted below 12 (C* of pure red is 104). */
#define VIVID_C 35.0
#define MUTED_C 12.0
/* Energy: e = mean chroma / 60 + L* sd / 40 (each ~1 at full strength). */
#define LOW_ENERGY 0.45
#define HIGH_ENERGY 1.0

struct lab {
	double L, a, b;
};

/* The pixels in Lab, with lightness gradient and saliency per pixel. */
struct field {
	int w, h, n;
	struct lab *lab;
	float *grad, *sal;
	struct lab mean;
	double sd_L, mean_C, mean_grad;
};

struct colour {
	struct lab lab;
	double r, g, b;         /* mean sRGB of the members */
	double share, chroma;
	const char *name;
};

struct palette {
	struct colour c[K_MAX];
	int n;
	int bins95;
};

/* ---- colour science ---- */

static double
srgb_to_linear(double c)
{
	c /= 255.0;
	return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double
lab_f(double t)
{
	return t > 0.008856 ? cbrt(t) : 7.787 * t + 16.0 / 116.0;
}

static struct lab
lab_from_linear(double r, double g, double b)
{
	/* sRGB -> XYZ (D65), normalised by the white point */
	double x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
	double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
	double z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
	struct lab o;

	x = lab_f(x);
	y = lab_f(y);
	z = lab_f(z);
	o.L = 116.0 * y - 16.0;
	o.a = 500.0 * (x - y);
	o.b = 200.0 * (y - z);
	return o;
}

static struct lab
lab_from_rgb(double r, double g, double b)
{
	return lab_from_linear(srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b));
}

static double
delta_e(struct lab p, struct lab q)
{
	return sqrt((p.L - q.L) * (p.L - q.L) + (p.a - q.a) * (p.a - q.a) +
	    (p.b - q.b) * (p.b - q.b));
}

static double
chroma(struct lab p)
{
	return sqrt(p.a * p.a + p.b * p.b);
}

static const struct named {
	const char *name;
	unsigned char r, g, b;
} names[] = {
	{ "black", 0, 0, 0 }, { "charcoal", 54, 69, 79 }, { "dark gray", 80, 80, 80 },
	{ "gray", 128, 128, 128 }, { "silver", 192, 192, 192 }, { "light gray", 220, 220, 220 },
	{ "white", 255, 255, 255 }, { "cream", 255, 250, 220 }, { "beige", 230, 215, 185 },
	{ "red", 220, 20, 30 }, { "dark red", 139, 0, 0 }, { "maroon", 110, 20, 40 },
	{ "crimson", 190, 20, 60 }, { "coral", 255, 127, 80 }, { "salmon", 250, 128, 114 },
	{ "orange", 255, 140, 0 }, { "light orange", 255, 190, 110 }, { "gold", 255, 200, 0 },
	{ "yellow", 255, 240, 40 }, { "pale yellow", 255, 235, 150 },
	{ "olive", 128, 128, 0 }, { "lime", 150, 230, 30 }, { "green", 30, 150, 50 },
	{ "dark green", 0, 90, 30 }, { "mint", 170, 240, 200 }, { "teal", 0, 128, 128 },
	{ "turquoise", 64, 224, 208 }, { "cyan", 0, 230, 255 }, { "sky blue", 135, 206, 235 },
	{ "blue", 20, 40, 230 }, { "royal blue", 65, 105, 225 }, { "navy", 0, 0, 110 },
	{ "indigo", 75, 0, 130 }, { "purple", 128, 0, 128 }, { "violet", 170, 90, 220 },
	{ "lavender", 210, 200, 245 }, { "magenta", 230, 0, 200 }, { "pink", 255, 180, 200 },
	{ "hot pink", 255, 80, 160 }, { "brown", 130, 70, 20 }, { "tan", 210, 180, 140 },
};
#define NNAMES (sizeof names / sizeof names[0])

static const char *
colour_name(struct lab p)
{
	double best = 1e30, d;
	size_t i, bi = 0;

	for (i = 0; i < NNAMES; i++) {
		d = delta_e(p, lab_from_rgb(names[i].r, names[i].g, names[i].b));
		if (d < best) {
			best = d;
			bi = i;
		}
	}
	return names[bi].name;
}

/* ---- per-pixel measures ---- */

static void
field_lab(struct field *f, const struct pixmap *pm)
{
	double lin[256], sL = 0, sa = 0, sb = 0, sC = 0, var = 0;
	const unsigned char *p = pm->rgb;
	int i;

	for (i = 0; i < 256; i++)
		lin[i] = srgb_to_linear(i);
	for (i = 0; i < f->n; i++, p += 3) {
		f->lab[i] = lab_from_linear(lin[p[0]], lin[p[1]], lin[p[2]]);
		sL += f->lab[i].L;
		sa += f->lab[i].a;
		sb += f->lab[i].b;
		sC += chroma(f->lab[i]);
	}
	f->mean.L = sL / f->n;
	f->mean.a = sa / f->n;
	f->mean.b = sb / f->n;
	f->mean_C = sC / f->n;
	for (i = 0; i < f->n; i++)
		var += (f->lab[i].L - f->mean.L) * (f->lab[i].L - f->mean.L);
	f->sd_L = sqrt(var / f->n);
}

/*
 * Gradient: central differences of L*, halved to a per-pixel slope.
 * Saliency: gradient plus half the pixel's colour rarity (see palette_build),
 * so both edges and a region that stands out from the whole attract the eye.
 */
static void
field_saliency(struct field *f, const float *rarity)
{
	int x, y, w = f->w, h = f->h;
	double sg = 0;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			int i = y * w + x;
			double gx = f->lab[y * w + (x + 1 < w ? x + 1 : x)].L -
			    f->lab[y * w + (x > 0 ? x - 1 : x)].L;
			double gy = f->lab[(y + 1 < h ? y + 1 : y) * w + x].L -
			    f->lab[(y > 0 ? y - 1 : y) * w + x].L;
			f->grad[i] = (float)(sqrt(gx * gx + gy * gy) / 2.0);
			f->sal[i] = (float)(f->grad[i] + 0.5 * rarity[i]);
			sg += f->grad[i];
		}
	f->mean_grad = sg / f->n;
}

/* ---- palette ---- */

struct bin {
	double n, L, a, b, r, g, bl;
	int cl;
};

/*
 * Seed order: most populous bin first, ties to the lower index, so the
 * seeds never depend on qsort's whims.  Sorting packed keys keeps the
 * comparator free of globals (callers may analyse in threads).
 */
static int
by_key_desc(const void *p, const void *q)
{
	uint64_t a = *(const uint64_t *)p, b = *(const uint64_t *)q;

	return a < b ? 1 : a > b ? -1 : 0;
}

static void
bins_by_count(const struct bin *bins, int *order, int nb)
{
	uint64_t *key = xmalloc(sizeof *key * (nb > 0 ? nb : 1));
	int i;

	for (i = 0; i < nb; i++)
		key[i] = (uint64_t)bins[order[i]].n << 12 | (uint64_t)(4095 - order[i]);
	qsort(key, nb, sizeof *key, by_key_desc);
	for (i = 0; i < nb; i++)
		order[i] = 4095 - (int)(key[i] & 4095);
	free(key);
}

static int
by_share(const void *p, const void *q)
{
	const struct colour *a = p, *b = q;

	if (a->share != b->share)
		return a->share > b->share ? -1 : 1;
	return a->lab.L < b->lab.L ? -1 : a->lab.L > b->lab.L;
}

static int
nearest(const struct colour *c, int k, struct lab p)
{
	double best = 1e30, d;
	int i, bi = 0;

	for (i = 0; i < k; i++) {
		d = delta_e(c[i].lab, p);
		if (d < best) {
			best = d;
			bi = i;
		}
	}
	return bi;
}

static void
kmeans(struct bin *bins, const int *order, int nb, struct colour *c, int k)
{
	double s[K_MAX][7];
	int it, i, j, changed = 1;

	for (it = 0; it < KM_ITERS && changed; it++) {
		changed = 0;
		memset(s, 0, sizeof s);
		for (i = 0; i < nb; i++) {
			struct bin *b = &bins[order[i]];
			j = nearest(c, k, (struct lab){ b->L, b->a, b->b });
			changed |= j != b->cl;
			b->cl = j;
			s[j][0] += b->n;
			s[j][1] += b->L * b->n;
			s[j][2] += b->a * b->n;
			s[j][3] += b->b * b->n;
			s[j][4] += b->r * b->n;
			s[j][5] += b->g * b->n;
			s[j][6] += b->bl * b->n;
		}
		for (j = 0; j < k; j++) {
			if (s[j][0] == 0)
				continue;
			c[j].lab = (struct lab){ s[j][1] / s[j][0], s[j][2] / s[j][0],
			    s[j][3] / s[j][0] };
			c[j].r = s[j][4] / s[j][0];
			c[j].g = s[j][5] / s[j][0];
			c[j].b = s[j][6] / s[j][0];
			c[j].share = s[j][0];
		}
	}
}

/*
 * Build the palette, and RARITY per pixel: the area-weighted colour distance
 * from its cluster to all clusters (histogram-contrast saliency).  A small
 * white square on black scores ~89, the black around it ~11.
 */
static void
palette_build(struct palette *pal, const struct field *f, const struct pixmap *pm,
    float *rarity)
{
	double rare[K_MAX];
	struct bin *bins = xcalloc(4096, sizeof *bins);
	int *order = xmalloc(4096 * sizeof *order);
	int i, nb = 0, k = 0, n;
	double acc;

	/* 4 bits per channel: fine enough for palettes, coarse enough to be quick */
	for (i = 0; i < f->n; i++) {
		const unsigned char *p = pm->rgb + 3 * i;
		struct bin *b = &bins[(p[0] >> 4) << 8 | (p[1] >> 4) << 4 | p[2] >> 4];
		b->n++;
		b->L += f->lab[i].L;
		b->a += f->lab[i].a;
		b->b += f->lab[i].b;
		b->r += p[0];
		b->g += p[1];
		b->bl += p[2];
	}
	for (i = 0; i < 4096; i++) {
		if (bins[i].n == 0)
			continue;
		bins[i].L /= bins[i].n;
		bins[i].a /= bins[i].n;
		bins[i].b /= bins[i].n;
		bins[i].r /= bins[i].n;
		bins[i].g /= bins[i].n;
		bins[i].bl /= bins[i].n;
		bins[i].cl = -1;
		order[nb++] = i;
	}
	bins_by_count(bins, order, nb);
	for (acc = 0, pal->bins95 = 0; pal->bins95 < nb && acc < 0.95 * f->n; pal->bins95++)
		acc += bins[order[pal->bins95]].n;

	/* seeds: populous bins that differ clearly from every seed chosen so far */
	for (i = 0; i < nb && k < K_MAX; i++) {
		struct lab p = { bins[order[i]].L, bins[order[i]].a, bins[order[i]].b };
		if (k > 0 && delta_e(pal->c[nearest(pal->c, k, p)].lab, p) < SEED_DE)
			continue;
		pal->c[k].lab = p;
		pal->c[k].share = 0;
		k++;
	}
	kmeans(bins, order, nb, pal->c, k);

	for (i = 0; i < k; i++)
		for (rare[i] = 0, n = 0; n < k; n++)
			rare[i] += pal->c[n].share / f->n * delta_e(pal->c[i].lab, pal->c[n].lab);
	for (i = 0; i < f->n; i++) {
		const unsigned char *p = pm->rgb + 3 * i;
		rarity[i] = (float)rare[bins[(p[0] >> 4) << 8 | (p[1] >> 4) << 4 | p[2] >> 4].cl];
	}
	for (i = n = 0; i < k; i++) {
		pal->c[i].share /= f->n;
		if (pal->c[i].share < MIN_SHARE)
			continue;
		pal->c[i].chroma = chroma(pal->c[i].lab);
		pal->c[i].name = colour_name(pal->c[i].lab);
		pal->c[n++] = pal->c[i];
	}
	pal->n = n;
	qsort(pal->c, n, sizeof pal->c[0], by_share);
	free(bins);
	free(order);
}

static json_t *
colour_str(const struct colour *c)
{
	char s[64];

	snprintf(s, sizeof s, "#%02x%02x%02x (%s)", (int)lround(c->r), (int)lround(c->g),
	    (int)lround(c->b), c->name);
	return json_string(s);
}

/*
 * Append the names of C[0..N) not already in SEEN ("red", "red and blue",
 * "red, blue and white"): two shades of coral are one word in a sentence.
 * Returns how many were added.
 */
static int
name_list(struct buf *b, const struct colour *const *c, int n, const char **seen, int *nseen)
{
	const char *add[K_MAX];
	int i, j, na = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < *nseen && strcmp(seen[j], c[i]->name) != 0; j++)
			;
		if (j == *nseen) {
			seen[(*nseen)++] = c[i]->name;
			add[na++] = c[i]->name;
		}
	}
	for (i = 0; i < na; i++) {
		if (i > 0)
			buf_adds(b, i == na - 1 ? " and " : ", ");
		buf_adds(b, add[i]);
	}
	return na;
}

static const char *cast_word(const struct field *f);

static json_t *
colours_json(const struct palette *pal, const struct field *f)
{
	const struct colour *prim[K_MAX], *sec[K_MAX], *acc = NULL;
	json_t *o = json_object(), *jp = json_array(), *js = json_array(), *ja = json_array();
	const char *seen[3 * K_MAX];
	double maxpc = 0;
	struct buf d = { 0 };
	size_t mark;
	int i, np = 0, ns = 0, nseen = 0;

	for (i = 0; i < pal->n; i++)
		if (i == 0 || pal->c[i].share >= PRIMARY_SHARE) {
			prim[np++] = &pal->c[i];
			if (pal->c[i].chroma > maxpc)
				maxpc = pal->c[i].chroma;
		}
	for (i = np; i < pal->n; i++) {
		const struct colour *c = &pal->c[i];
		if (c->chroma >= ACCENT_CHROMA && c->chroma >= maxpc + ACCENT_MARGIN &&
		    (acc == NULL || c->chroma > acc->chroma))
			acc = c;
	}
	for (i = np; i < pal->n; i++)
		if (&pal->c[i] != acc && pal->c[i].share >= SECONDARY_SHARE)
			sec[ns++] = &pal->c[i];
	for (i = 0; i < np; i++)
		json_array_append_new(jp, colour_str(prim[i]));
	for (i = 0; i < ns; i++)
		json_array_append_new(js, colour_str(sec[i]));
	if (acc != NULL)
		json_array_append_new(ja, colour_str(acc));

	buf_adds(&d, "Dominated by ");
	name_list(&d, prim, np, seen, &nseen);
	mark = d.len;
	buf_adds(&d, ", with ");
	if (name_list(&d, sec, ns, seen, &nseen) == 0)
		d.len = mark;
	mark = d.len;
	buf_adds(&d, ", accented by ");
	if (name_list(&d, &acc, acc != NULL, seen, &nseen) == 0)
		d.len = mark;
	buf_addf(&d, "; a %s, %s palette of %d distinct colour%s.",
	    f->mean_C >= VIVID_C ? "vivid" : f->mean_C < MUTED_C ? "muted" : "moderately saturated",
	    cast_word(f), pal->n, pal->n == 1 ? "" : "s");
	buf_add(&d, "", 1);

	json_object_set_new(o, "primary", jp);
	json_object_set_new(o, "secondary", js);
	json_object_set_new(o, "accent", ja);
	json_object_set_new(o, "description", json_string(d.p));
	buf_free(&d);
	return o;
}

/* ---- lighting, texture, style ---- */

/*
 * Hue of the mean a*b*: reds through yellows (-45..105 degrees) read warm,
 * greens-cyans-blues-violets cool; near-grey means no cast.
 */
static const char *
cast_word(const struct field *f)
{
	double c = sqrt(f->mean.a * f->mean.a + f->mean.b * f->mean.b);
	double hue = atan2(f->mean.b, f->mean.a) * 180.0 / M_PI;

	if (c < CAST_CHROMA)
		return "neutral";
	return hue >= -45.0 && hue < 105.0 ? "warm" : "cool";
}

static const char *
light_word(const struct field *f)
{
	return f->mean.L < DIM_L ? "dim" : f->mean.L > BRIGHT_L ? "bright" : "moderate";
}

static const char *
contrast_word(const struct field *f)
{
	return f->sd_L >= HIGH_CONTRAST ? "high contrast" :
	    f->sd_L < LOW_CONTRAST ? "low contrast" : "medium contrast";
}

static const char *
texture_word(const struct field *f)
{
	return f->mean_grad < SMOOTH_GRAD ? "smooth" :
	    f->mean_grad < TEXTURED_GRAD ? "moderately textured" : "highly textured";
}

/* Share of BLOCK x BLOCK tiles whose L* hardly varies. */
static double
low_detail_share(const struct field *f)
{
	int bx, by, x, y, n, flat = 0, total = 0;
	double s, s2, g, m, L;

	for (by = 0; by < f->h; by += BLOCK)
		for (bx = 0; bx < f->w; bx += BLOCK) {
			s = s2 = g = 0;
			n = 0;
			for (y = by; y < by + BLOCK && y < f->h; y++)
				for (x = bx; x < bx + BLOCK && x < f->w; x++, n++) {
					L = f->lab[y * f->w + x].L;
					s += L;
					s2 += L * L;
					g += f->grad[y * f->w + x];
				}
			m = s / n;
			flat += sqrt(fmax(0.0, s2 / n - m * m)) < FLAT_BLOCK_SD &&
			    g / n < FLAT_BLOCK_GRAD;
			total++;
		}
	return total ? (double)flat / total : 1.0;
}

static json_t *
lighting_json(const struct field *f, const struct palette *pal, double lowdetail)
{
	json_t *o = json_object();
	char s[128];
	const char *style;

	snprintf(s, sizeof s, "%s, %s, %s cast", light_word(f), contrast_word(f), cast_word(f));
	json_object_set_new(o, "lighting", json_string(s));
	if (pal->bins95 <= FLAT_BINS)
		style = "flat graphic";
	else if (pal->bins95 <= LIMITED_BINS)
		style = "graphic, limited palette";
	else if (lowdetail >= 0.75 && f->mean_grad < SMOOTH_GRAD)
		style = "soft gradients, illustration-like";
	else
		style = "photographic";
	snprintf(s, sizeof s, "%s%s", style, f->mean_C < 4.0 ? ", monochrome" : "");
	json_object_set_new(o, "style", json_string(s));
	json_object_set_new(o, "texture", json_string(texture_word(f)));
	return o;
}

/* ---- composition ---- */

struct focus {
	double x, y, sdx, sdy;  /* centroid and spread, fractions of the frame */
	int diffuse;
	const char *where;
};

/* Thirds of the frame, named the way a photographer would. */
static const char *
third_name(double x, double y)
{
	static const char *const grid[3][3] = {
		{ "upper left", "upper center", "upper right" },
		{ "left third", "center", "right third" },
		{ "lower left", "lower center", "lower right" },
	};
	int col = x < 1.0 / 3 ? 0 : x > 2.0 / 3 ? 2 : 1;
	int row = y < 1.0 / 3 ? 0 : y > 2.0 / 3 ? 2 : 1;

	return grid[row][col];
}

/* Weighted by saliency squared, so one strong feature beats a busy background. */
static void
focus_find(struct focus *fo, const struct field *f)
{
	double sw = 0, sx = 0, sy = 0, sxx = 0, syy = 0, w, px, py;
	int x, y;

	for (y = 0; y < f->h; y++)
		for (x = 0; x < f->w; x++) {
			w = (double)f->sal[y * f->w + x] * f->sal[y * f->w + x];
			px = (x + 0.5) / f->w;
			py = (y + 0.5) / f->h;
			sw += w;
			sx += w * px;
			sy += w * py;
			sxx += w * px * px;
			syy += w * py * py;
		}
	if (sw <= 1e-9) {       /* a single flat colour: nothing stands out */
		fo->x = fo->y = 0.5;
		fo->sdx = fo->sdy = 0.289;
	} else {
		fo->x = sx / sw;
		fo->y = sy / sw;
		fo->sdx = sqrt(fmax(0.0, sxx / sw - fo->x * fo->x));
		fo->sdy = sqrt(fmax(0.0, syy / sw - fo->y * fo->y));
	}
	fo->diffuse = fo->sdx > DIFFUSE_SD && fo->sdy > DIFFUSE_SD;
	fo->where = third_name(fo->x, fo->y);
}

static const char *
balance_str(const struct field *f, char *s, size_t n)
{
	double mirror = 0, left = 0, right = 0, tip;
	int x, y, w = f->w;

	for (y = 0; y < f->h; y++)
		for (x = 0; x < w; x++) {
			const int i = y * w + x;
			if (x < w / 2) {
				mirror += delta_e(f->lab[i], f->lab[y * w + w - 1 - x]);
				left += f->sal[i];
			} else if (x >= w - w / 2)
				right += f->sal[i];
		}
	mirror /= (double)(w / 2 > 0 ? w / 2 : 1) * f->h;
	tip = left + right > 0 ? (left - right) / (left + right) : 0;
	if (mirror < SYM_DE)
		snprintf(s, n, "symmetrical");
	else if (fabs(tip) >= WEIGHT_TIP)
		snprintf(s, n, "asymmetrical, weighted to the %s", tip > 0 ? "left" : "right");
	else if (mirror < ROUGH_SYM_DE)
		snprintf(s, n, "roughly symmetrical");
	else
		snprintf(s, n, "asymmetrical but evenly weighted");
	return s;
}

static json_t *
composition_json(const struct field *f, const struct focus *fo, double lowdetail)
{
	json_t *o = json_object();
	const char *orient;
	char s[160];
	double aspect = (double)f->w / f->h;

	/* within 15% of square reads as square */
	orient = aspect > 1.15 ? "landscape" : aspect < 1 / 1.15 ? "portrait" : "square";
	if (fo->diffuse)
		snprintf(s, sizeof s, "%s, detail spread across the frame", orient);
	else if (strcmp(fo->where, "center") == 0)
		snprintf(s, sizeof s, "%s, centered subject", orient);
	else
		snprintf(s, sizeof s, "%s, subject in the %s", orient, fo->where);
	json_object_set_new(o, "layout", json_string(s));
	json_object_set_new(o, "balance", json_string(balance_str(f, s, sizeof s)));
	if (fo->diffuse)
		snprintf(s, sizeof s, "no single focal point (detail spread evenly)");
	else
		snprintf(s, sizeof s, "%s", fo->where);
	json_object_set_new(o, "focal_point", json_string(s));
	snprintf(s, sizeof s, "%s (%d%% low-detail)",
	    lowdetail >= GENEROUS_NEG ? "generous" : lowdetail >= MODERATE_NEG ? "moderate" : "minimal",
	    (int)lround(lowdetail * 100));
	json_object_set_new(o, "negative_space", json_string(s));
	return o;
}

/* ---- mood ---- */

static const char *
mood_word(const struct field *f)
{
	const char *cast = cast_word(f);
	int warm = strcmp(cast, "warm") == 0, cool = strcmp(cast, "cool") == 0;

	if (f->mean.L < DIM_L)
		return f->mean_C >= VIVID_C ? "dramatic" : warm ? "intimate" : "somber";
	if (f->mean.L > BRIGHT_L)
		return f->mean_C >= VIVID_C ? (warm ? "cheerful" : "fresh") :
		    cool ? "serene" : "airy";
	if (f->mean_C >= VIVID_C)
		return "energetic";
	return warm ? "inviting" : cool ? "calm" : "neutral";
}

static json_t *
mood_json(const struct field *f)
{
	json_t *o = json_object();
	double e = f->mean_C / 60.0 + f->sd_L / 40.0;
	char s[96];

	json_object_set_new(o, "mood", json_string(mood_word(f)));
	snprintf(s, sizeof s, "%s and %s",
	    f->mean_C >= VIVID_C ? "vibrant" : f->mean_C < MUTED_C ? "muted" : "balanced",
	    cast_word(f));
	json_object_set_new(o, "tone", json_string(s));
	json_object_set_new(o, "energy_level", json_string(e < LOW_ENERGY ? "low" :
	    e >= HIGH_ENERGY ? "high" : "medium"));
	return o;
}

/* ---- the schema ---- */

static json_t *
unknowns_json(void)
{
	return json_pack("{s:[],s:[],s:s,s:[]}", "objects", "shapes", "text", "", "icons");
}

static json_t *
brand_json(void)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "perceived_industry", "unknown",
	    "target_audience", "unknown", "brand_personality", "unknown",
	    "premium_level", "unknown");
}

json_t *
offline_analyze(const unsigned char *buf, size_t len, const char *mime, char *err,
    size_t errlen)
{
	struct pixmap pm;
	struct field f;
	struct palette pal;
	struct focus fo;
	double lowdetail;
	json_t *o;

	if (decode_image(buf, len, mime, OFF_SIDE, &pm, err, errlen) != 0)
		return NULL;
	memset(&f, 0, sizeof f);
	f.w = pm.w;
	f.h = pm.h;
	f.n = pm.w * pm.h;
	f.lab = xmalloc(sizeof *f.lab * f.n);
	f.grad = xmalloc(sizeof *f.grad * f.n);
	f.sal = xmalloc(sizeof *f.sal * f.n);
	field_lab(&f, &pm);
	memset(&pal, 0, sizeof pal);
	palette_build(&pal, &f, &pm, f.sal);   /* rarity, into sal until ... */
	field_saliency(&f, f.sal);             /* ... it is folded in here */
	focus_find(&fo, &f);
	lowdetail = low_detail_share(&f);

	o = json_object();
	json_object_set_new(o, "colors", colours_json(&pal, &f));
	json_object_set_new(o, "visual_elements", unknowns_json());
	json_object_set_new(o, "mood_and_tone", mood_json(&f));
	json_object_set_new(o, "composition", composition_json(&f, &fo, lowdetail));
	json_object_set_new(o, "lighting_and_style", lighting_json(&f, &pal, lowdetail));
	json_object_set_new(o, "brand_insights", brand_json());
	free(f.lab);
	free(f.grad);
	free(f.sal);
	pixmap_free(&pm);
	return o;
}
