/* models_img: what an image costs in prompt tokens under each provider's
 * published rule (docs/prices.md, "Image rules"), so vj can say it before
 * sending.  The rules are named here; their figures are the table's. */
#include "content/models.h"
#include "base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each rule's parameters: names, defaults, and whether a value must be a
 * whole number of at least lo. */
static const struct rule_def {
	const char *name;
	enum models_img kind;
	const char *par[MODELS_RULE_NPAR];
	double def[MODELS_RULE_NPAR];
	double lo[MODELS_RULE_NPAR];
} rules[] = {
	{ "unknown", MODELS_IMG_UNKNOWN, { 0 }, { 0 }, { 0 } },
	{ "none", MODELS_IMG_NONE, { 0 }, { 0 }, { 0 } },
	{ "gemini-tiles", MODELS_IMG_GEMINI_TILES, { "tokens", "tile", "small" }, { 258, 768, 384 },
	  { 0, 1, 0 } },
	{ "gemini-fixed", MODELS_IMG_GEMINI_FIXED, { "low", "medium", "high", "ultra", "default" },
	  { 280, 560, 1120, 2240, MODELS_RES_HIGH }, { 0, 0, 0, 0, 0 } },
	{ "openai-tiles", MODELS_IMG_OPENAI_TILES, { "base", "tile", "fit", "short", "side" },
	  { 85, 170, 2048, 768, 512 }, { 0, 0, 1, 1, 1 } },
	{ "openai-patches", MODELS_IMG_OPENAI_PATCHES, { "patch", "max", "mult" }, { 32, 1536, 1.62 },
	  { 1, 1, 0 } },
	{ "qwen-blocks", MODELS_IMG_QWEN_BLOCKS, { "block", "min", "max" }, { 28, 3136, 12845056 },
	  { 1, 1, 1 } },
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static const char *const res_names[] = { "default", "low", "medium", "high", "ultra", "auto" };

int
models_res_parse(const char *s)
{
	for (int i = 0; s && i < (int)(sizeof(res_names) / sizeof(res_names[0])); i++)
		if (strcmp(s, res_names[i]) == 0)
			return i;
	return -1;
}

int
models_rule_init(const char *name, struct models_rule *rule)
{
	for (size_t i = 0; i < NRULES; i++)
		if (strcmp(rules[i].name, name) == 0) {
			rule->kind = rules[i].kind;
			memcpy(rule->p, rules[i].def, sizeof(rule->p));
			return 0;
		}
	return -1;
}

static const struct rule_def *
def_of(enum models_img kind)
{
	for (size_t i = 0; i < NRULES; i++)
		if (rules[i].kind == kind)
			return &rules[i];
	return &rules[0];
}

const char *
models_rule_name(enum models_img kind)
{
	return def_of(kind)->name;
}

int
models_rule_param(struct models_rule *rule, const char *kv, char *err, size_t n)
{
	const struct rule_def *d = def_of(rule->kind);
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	int i;
	double v;

	for (i = 0; i < MODELS_RULE_NPAR && d->par[i]; i++)
		if (strlen(d->par[i]) == klen && strncmp(d->par[i], kv, klen) == 0)
			break;
	if (i == MODELS_RULE_NPAR || !d->par[i]) {
		struct buf b = { 0 };
		for (int j = 0; j < MODELS_RULE_NPAR && d->par[j]; j++)
			buf_addf(&b, "%s%s", j ? ", " : "", d->par[j]);
		errf(err, n, "%s takes %s%s, not '%.*s'", d->name, b.len ? "" : "no parameters",
		    b.len ? b.p : "", (int)(klen > 40 ? 40 : klen), kv);
		buf_free(&b);
		return -1;
	}
	if (!eq)
		return errf(err, n, "%s: expected %s=VALUE", d->name, d->par[i]);
	if (rule->kind == MODELS_IMG_GEMINI_FIXED && strcmp(d->par[i], "default") == 0) {
		int r = models_res_parse(eq + 1);
		if (r < MODELS_RES_LOW || r > MODELS_RES_ULTRA)
			return errf(err, n, "%s: default= takes low, medium, high or ultra", d->name);
		rule->p[i] = r;
		return 0;
	}
	/* decimal only: no hex, no nan or inf spelled out */
	if (!eq[1] || strspn(eq + 1, "0123456789.eE+-") != strlen(eq + 1) ||
	    parse_double(eq + 1, d->lo[i], 1e9, &v) < 0 ||
	    (strcmp(d->par[i], "mult") != 0 && v != floor(v)) ||
	    (strcmp(d->par[i], "mult") == 0 && (v <= 0 || v > 100)))
		return errf(err, n, "%s: %s= takes a %s from %g", d->name, d->par[i],
		    strcmp(d->par[i], "mult") == 0 ? "number up to 100, above" : "whole number",
		    d->lo[i]);
	rule->p[i] = v;
	return 0;
}

/* ceil and floor of quotients that float arithmetic may put a hair off a
 * whole number: the rules are defined on exact arithmetic. */
static double
ceil_q(double x)
{
	return ceil(x - 1e-9);
}

static double
floor_q(double x)
{
	return floor(x + 1e-9);
}

/* Gemini 2.x: an image with both sides up to "small" is one tile; a larger
 * one is cut into tile x tile pieces, each "tokens". */
static long
gemini_tiles(const double *p, double w, double h)
{
	if (w <= p[2] && h <= p[2])
		return (long)p[0];
	return (long)(ceil_q(w / p[1]) * ceil_q(h / p[1]) * p[0]);
}

/* Gemini 3: a fixed budget per image, by media_resolution. */
static long
gemini_fixed(const double *p, enum models_res res)
{
	int r = res >= MODELS_RES_LOW && res <= MODELS_RES_ULTRA ? (int)res : (int)p[4];
	return (long)p[r - MODELS_RES_LOW];
}

/* OpenAI tiles: detail low is the base cost; otherwise fit in fit x fit,
 * bring the shorter side down to "short", and count side x side tiles.
 * auto is counted as high (the most it can cost). */
static long
openai_tiles(const double *p, double w, double h, enum models_res res)
{
	if (res == MODELS_RES_LOW)
		return (long)p[0];
	double m = w > h ? w : h;
	if (m > p[2]) {
		w = floor_q(w * p[2] / m);
		h = floor_q(h * p[2] / m);
	}
	double s = w < h ? w : h;
	if (s > p[3]) {
		w = floor_q(w * p[3] / s);
		h = floor_q(h * p[3] / s);
	}
	if (w < 1)
		w = 1;
	if (h < 1)
		h = 1;
	return (long)(p[0] + ceil_q(w / p[4]) * ceil_q(h / p[4]) * p[1]);
}

/* OpenAI patches: patch x patch pieces; above max, the image is scaled so
 * that a whole number of patches spans its limiting side and at most max
 * cover it; the count times mult, rounded up. */
static long
openai_patches(const double *p, double w, double h)
{
	double sz = p[0], max = p[1];
	double n = ceil_q(w / sz) * ceil_q(h / sz);

	if (n > max) {
		double f = sqrt(sz * sz * max / (w * h));
		double fw = floor_q(w * f / sz) / (w * f / sz), fh = floor_q(h * f / sz) / (h * f / sz);
		f *= fw < fh ? fw : fh;
		double w2 = floor_q(w * f), h2 = floor_q(h * f);
		n = ceil_q((w2 < 1 ? 1 : w2) / sz) * ceil_q((h2 < 1 ? 1 : h2) / sz);
		if (n > max)
			n = max;
	}
	return (long)ceil_q(n * p[2]);
}

/* Qwen2/2.5-VL: sides rounded to multiples of the block (half to even, as
 * the reference processor's Python round does), the pixel count brought
 * into [min, max] keeping the aspect; one token per block. */
static long
qwen_blocks(const double *p, double w, double h)
{
	double b = p[0], lo = p[1], hi = p[2];
	double hb = rint(h / b) * b, wb = rint(w / b) * b;

	if (hb < b)
		hb = b;
	if (wb < b)
		wb = b;
	if (hb * wb > hi) {
		double beta = sqrt(h * w / hi);
		hb = floor_q(h / beta / b) * b;
		wb = floor_q(w / beta / b) * b;
		if (hb < b)
			hb = b;
		if (wb < b)
			wb = b;
	} else if (hb * wb < lo) {
		double beta = sqrt(lo / (h * w));
		hb = ceil_q(h * beta / b) * b;
		wb = ceil_q(w * beta / b) * b;
	}
	return (long)((hb / b) * (wb / b));
}

long
models_image_tokens(const struct models_rule *rule, long w, long h, enum models_res res)
{
	/* a million pixels a side is past any real image, and keeps every
	 * count well inside a long */
	if (!rule || w <= 0 || h <= 0 || w > 1000000 || h > 1000000)
		return -1;
	switch (rule->kind) {
	case MODELS_IMG_GEMINI_TILES:
		return gemini_tiles(rule->p, (double)w, (double)h);
	case MODELS_IMG_GEMINI_FIXED:
		return gemini_fixed(rule->p, res);
	case MODELS_IMG_OPENAI_TILES:
		return openai_tiles(rule->p, (double)w, (double)h, res);
	case MODELS_IMG_OPENAI_PATCHES:
		return openai_patches(rule->p, (double)w, (double)h);
	case MODELS_IMG_QWEN_BLOCKS:
		return qwen_blocks(rule->p, (double)w, (double)h);
	default:
		return -1;
	}
}
