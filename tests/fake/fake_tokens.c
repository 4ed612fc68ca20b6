/*
 * fake_tokens.c: what a request costs and which tier serves it, as the
 * real providers count (the api-notes' "Vision tokens" and "Flex tier";
 * vj's own estimate is written apart from this, so the two check each
 * other).
 *
 * Prompt tokens are the prompt's text at about four characters a token
 * plus each inline image by the rule of the model named: Gemini 2.x 258
 * tokens a 768-px tile, Gemini 3 a fixed budget by media_resolution,
 * OpenAI's 512-px tiles (by detail) or 32-px patches, Qwen-VL 28-px
 * blocks.  A model none of these fits is counted the old way, a quarter
 * of the request's bytes.  --token-rule fixes the rule for every model.
 *
 * Flex (service_tier "flex" in the body): answers wait --flex-latency-ms,
 * --flex-unavailable PCT of them are shed (OpenAI: 429 "Resource
 * Unavailable"; Gemini: 429 without a quota detail, or 503, in turn);
 * OpenAI answers say the tier that served them (--serve-tier overrides)
 * and, with --clock-ms, a "created" time that steps --clock-step-ms an
 * answer.  /_stats "seen" has, per job, what its last request asked for.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake.h"

enum { R_BYTES, R_GEM_TILES, R_GEM_FIXED, R_OA_TILES, R_OA_PATCHES, R_QWEN };

static const char *const fake_rule_names[] = {
	"bytes", "gemini-tiles", "gemini-fixed", "openai-tiles", "openai-patches", "qwen-blocks"
};

struct fake_rule {
	int	 kind;
	double	 base, tile;	/* openai tiles */
	double	 mult;		/* openai patches */
};

static json_t *fake_seen;	/* job -> what its last request asked for */
static uint64_t fake_answers;	/* OpenAI answers so far, for --clock-ms */
static uint64_t fake_sheds;

int
fake_tokens_rule_parse(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return -1;
	for (size_t i = 0; i < sizeof(fake_rule_names) / sizeof(fake_rule_names[0]); i++)
		if (strcmp(s, fake_rule_names[i]) == 0)
			return (int)i;
	fake_die("--token-rule: auto, bytes, gemini-tiles, gemini-fixed, openai-tiles, "
	    "openai-patches or qwen-blocks");
}

static int
has(const char *m, const char *s)
{
	return m != NULL && strcasestr(m, s) != NULL;
}

/* The rule of a model, by its name as data/models.txt names them. */
static struct fake_rule
fake_rule_of(const char *m)
{
	struct fake_rule r = { R_BYTES, 85, 170, 1.62 };

	if (fake_opt.token_rule >= 0)
		r.kind = fake_opt.token_rule;
	else if (has(m, "gemini-1") || has(m, "gemini-2"))
		r.kind = R_GEM_TILES;
	else if (has(m, "gemini-"))
		r.kind = R_GEM_FIXED;
	else if (has(m, "gpt-4o-mini")) {
		r.kind = R_OA_TILES;
		r.base = 2833;
		r.tile = 5667;
	} else if (has(m, "nano") && (has(m, "gpt-") || has(m, "o4-"))) {
		r.kind = R_OA_PATCHES;
		r.mult = 2.46;
	} else if (has(m, "gpt-4.1-mini") || has(m, "gpt-5-mini")) {
		r.kind = R_OA_PATCHES;
	} else if (has(m, "o4-mini")) {
		r.kind = R_OA_PATCHES;
		r.mult = 1.72;
	} else if (has(m, "gpt-5")) {
		r.kind = R_OA_TILES;
		r.base = 70;
		r.tile = 140;
	} else if (has(m, "gpt-4")) {
		r.kind = R_OA_TILES;
	} else if (has(m, "qwen"))
		r.kind = R_QWEN;
	return r;
}

/* ---- the rules ---- */

static long
gem_tiles(double w, double h)
{
	if (w <= 384 && h <= 384)
		return 258;
	return (long)(ceil(w / 768) * ceil(h / 768) * 258);
}

/* MEDIA_RESOLUTION_*: the budget; HIGH when not said. */
static long
gem_fixed(const char *res)
{
	if (res == NULL)
		return 1120;
	if (strcasestr(res, "ULTRA"))
		return 2240;
	if (strcasestr(res, "LOW"))
		return 280;
	if (strcasestr(res, "MEDIUM"))
		return 560;
	return 1120;
}

static long
oa_tiles(const struct fake_rule *r, double w, double h, const char *detail)
{
	double s;

	if (detail != NULL && strcmp(detail, "low") == 0)
		return (long)r->base;
	if (w > 2048 || h > 2048) {		/* fit in 2048 x 2048 */
		s = 2048 / (w > h ? w : h);
		w = floor(w * s);
		h = floor(h * s);
	}
	if ((w < h ? w : h) > 768) {		/* the short side down to 768 */
		s = 768 / (w < h ? w : h);
		w = floor(w * s);
		h = floor(h * s);
	}
	return (long)(r->base + ceil(w / 512) * ceil(h / 512) * r->tile);
}

static long
oa_patches(const struct fake_rule *r, double w, double h)
{
	double n = ceil(w / 32) * ceil(h / 32);

	if (n > 1536) {
		/* scale so that at most 1536 patches cover it, a whole number
		 * of them across the side that binds */
		double f = sqrt(32.0 * 32.0 * 1536 / (w * h));
		double fw = floor(w * f / 32) / (w * f / 32);
		double fh = floor(h * f / 32) / (h * f / 32);
		f *= fw < fh ? fw : fh;
		n = ceil(floor(w * f) / 32) * ceil(floor(h * f) / 32);
		if (n > 1536)
			n = 1536;
	}
	return (long)ceil(n * r->mult - 1e-9);
}

/* Python's round(): half to even. */
static double
round_even(double x)
{
	double f = floor(x), d = x - f;

	if (d > 0.5 || (d == 0.5 && fmod(f, 2) != 0))
		return f + 1;
	return f;
}

static long
qwen_blocks(double w, double h)
{
	const double b = 28, lo = 4 * 28 * 28, hi = 12845056;
	double hb = round_even(h / b) * b, wb = round_even(w / b) * b;

	if (hb < b)
		hb = b;
	if (wb < b)
		wb = b;
	if (hb * wb > hi) {
		double beta = sqrt(h * w / hi);
		hb = floor(h / beta / b) * b;
		wb = floor(w / beta / b) * b;
	} else if (hb * wb < lo) {
		double beta = sqrt(lo / (h * w));
		hb = ceil(h * beta / b) * b;
		wb = ceil(w * beta / b) * b;
	}
	return (long)((hb / b) * (wb / b));
}

/* ---- reading a request ---- */

struct fake_seen_req {
	size_t	 text;		/* prompt characters (bytes) */
	int	 images;
	long	 image_tokens;
	long	 w, h;		/* the last image */
	int	 flex;
	int	 temperature;	/* a temperature was sent */
	const char *res;	/* Gemini media_resolution, as sent */
	const char *detail;	/* OpenAI image_url.detail */
};

static const char *
str(json_t *o, const char *a, const char *b)
{
	const char *s = json_string_value(json_object_get(o, a));

	return s != NULL || b == NULL ? s : json_string_value(json_object_get(o, b));
}

static void
add_text(struct fake_seen_req *q, json_t *parts)
{
	json_t *p;
	size_t i;

	if (json_is_string(parts)) {
		q->text += json_string_length(parts);
		return;
	}
	json_array_foreach(parts, i, p)
		if (json_is_string(json_object_get(p, "text")))
			q->text += json_string_length(json_object_get(p, "text"));
}

static void
add_image(struct fake_seen_req *q, const struct fake_rule *r, const char *b64, size_t n,
    const char *part_res, size_t reqlen)
{
	long w = 0, h = 0, t;

	q->images++;
	if (!fake_image_decode(b64, n, &w, &h) || w <= 0 || h <= 0) {
		t = (long)(n / 4);	/* not an image we can read: its bytes */
	} else {
		q->w = w;
		q->h = h;
		switch (r->kind) {
		case R_GEM_TILES: t = gem_tiles((double)w, (double)h); break;
		case R_GEM_FIXED: t = gem_fixed(part_res ? part_res : q->res); break;
		case R_OA_TILES: t = oa_tiles(r, (double)w, (double)h, q->detail); break;
		case R_OA_PATCHES: t = oa_patches(r, (double)w, (double)h); break;
		case R_QWEN: t = qwen_blocks((double)w, (double)h); break;
		default: t = (long)(reqlen / 4); break;
		}
	}
	q->image_tokens += t;
}

static void
fake_read(struct fake_call *call, const char *model, struct fake_seen_req *q)
{
	struct fake_rule r = fake_rule_of(model);
	json_t *req = call->req, *c, *p, *m;
	const char *tier = str(req, "service_tier", "serviceTier");
	size_t i, j;

	memset(q, 0, sizeof(*q));
	q->flex = tier != NULL && strcasecmp(tier, "flex") == 0;
	if (call->family == FAM_GEMINI) {
		json_t *g = json_object_get(req, "generationConfig");
		q->temperature = json_object_get(g, "temperature") != NULL;
		q->res = str(g, "mediaResolution", "media_resolution");
		add_text(q, json_object_get(json_object_get(req, "systemInstruction"), "parts"));
		json_array_foreach(json_object_get(req, "contents"), i, c) {
			add_text(q, json_object_get(c, "parts"));
			json_array_foreach(json_object_get(c, "parts"), j, p) {
				json_t *d = json_object_get(p, "inline_data");
				json_t *pr = json_object_get(p, "media_resolution");
				if (d == NULL)
					d = json_object_get(p, "inlineData");
				if (pr == NULL)
					pr = json_object_get(p, "mediaResolution");
				if (!json_is_string(json_object_get(d, "data")))
					continue;
				if (str(pr, "level", NULL))
					q->res = str(pr, "level", NULL);
				add_image(q, &r, json_string_value(json_object_get(d, "data")),
				    json_string_length(json_object_get(d, "data")),
				    str(pr, "level", NULL), call->reqlen);
			}
		}
		return;
	}
	q->temperature = json_object_get(req, "temperature") != NULL;
	json_array_foreach(json_object_get(req, "messages"), i, m) {
		add_text(q, json_object_get(m, "content"));
		json_array_foreach(json_object_get(m, "content"), j, p) {
			json_t *u = json_object_get(p, "image_url");
			const char *url = str(u, "url", NULL), *b;
			if (url == NULL || strncmp(url, "data:", 5) != 0 ||
			    (b = strstr(url, ";base64,")) == NULL)
				continue;
			q->detail = str(u, "detail", NULL);
			b += 8;
			add_image(q, &r, b, json_string_length(json_object_get(u, "url")) -
			    (size_t)(b - url), NULL, call->reqlen);
		}
	}
}

static const char *
fake_model(struct fake_call *call)
{
	return call->model ? call->model : str(call->req, "model", NULL);
}

/* ---- the hooks ---- */

json_int_t
fake_tokens_prompt(struct fake_call *call)
{
	struct fake_seen_req q;
	struct fake_rule r = fake_rule_of(fake_model(call));

	if (r.kind == R_BYTES || !json_is_object(call->req)) {
		/* about 4 bytes a token, capped so a big inline image stays plausible */
		size_t t = call->reqlen / 4 + 1;
		return (json_int_t)(t > 16384 ? 16384 : t);
	}
	fake_read(call, fake_model(call), &q);
	return (json_int_t)((q.text + 3) / 4 + (size_t)q.image_tokens);
}

int
fake_tokens_flex(struct fake_call *call)
{
	const char *t = str(call->req, "service_tier", "serviceTier");

	return t != NULL && strcasecmp(t, "flex") == 0;
}

int
fake_tokens_shed(struct fake_call *call, struct fake_resp *rs)
{
	if (!fake_tokens_flex(call) || fake_opt.flex_unavailable <= 0 ||
	    fake_rand01(&fake_rng) * 100 >= fake_opt.flex_unavailable)
		return 0;
	fake_sheds++;
	if (call->family == FAM_OPENAI)
		fake_openai_error(call, rs, 429, "resource_unavailable", "resource_unavailable",
		    "Resource Unavailable: there is no capacity for flex processing right now. "
		    "Please try again later.");
	else if (fake_sheds % 2)
		fake_gemini_error(call, rs, 429, "Resource has been exhausted (e.g. check quota).");
	else
		fake_gemini_error(call, rs, 503, "The model is overloaded. Please try again later.");
	return 1;
}

void
fake_tokens_answer(struct fake_call *call, json_t *o)
{
	const char *tier = fake_opt.serve_tier ? fake_opt.serve_tier :
	    fake_tokens_flex(call) ? "flex" : "default";

	json_object_set_new(o, "service_tier", json_string(tier));
	if (fake_opt.clock_ms > 0)
		json_object_set_new(o, "created", json_integer((json_int_t)((fake_opt.clock_ms +
		    fake_answers * fake_opt.clock_step_ms) / 1000)));
	fake_answers++;
}

void
fake_tokens_after(struct fake_call *call, struct fake_resp *rs)
{
	struct fake_seen_req q;
	const char *tier;
	json_t *o;

	if (!json_is_object(call->req))
		return;
	fake_read(call, fake_model(call), &q);
	if (q.flex && rs->action == ACT_SEND && rs->delay_ms == 0 && fake_opt.flex_latency_ms > 0)
		rs->delay_ms = (uint64_t)fake_opt.flex_latency_ms;
	tier = str(call->req, "service_tier", "serviceTier");
	o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:i}", "tier", tier ? tier : "standard",
	    "temperature", q.temperature, "text_tokens", (json_int_t)((q.text + 3) / 4),
	    "image_tokens", (json_int_t)q.image_tokens, "images", (json_int_t)q.images,
	    "width", (json_int_t)q.w, "height", (json_int_t)q.h, "status", rs->status);
	if (q.res)
		json_object_set_new(o, "media_resolution", json_string(q.res));
	if (q.detail)
		json_object_set_new(o, "detail", json_string(q.detail));
	json_object_set_new(o, "rule", json_string(fake_rule_names[fake_rule_of(
	    fake_model(call)).kind]));
	if (fake_seen == NULL)
		fake_seen = json_object();
	json_object_set_new(fake_seen, call->job, o);
}

json_t *
fake_tokens_json(void)
{
	return fake_seen ? json_incref(fake_seen) : json_object();
}

void
fake_tokens_reset(void)
{
	json_decref(fake_seen);
	fake_seen = NULL;
	fake_answers = 0;
	fake_sheds = 0;
}
