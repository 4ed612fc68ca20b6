/* modelstage: vj-analyze and vj-generate share everything but their provider
 * and the fields of the record they fill.  Between the stage driver and the
 * provider sits a thin provider of its own: before a request is built it
 * puts the downscaled copy of the image in the record the provider reads
 * (--max-side), and puts the original back before anything is journaled
 * or printed; after an answer it feeds the estimates and notes in the
 * result's meta what the model table says of the model. */
#include "stages/modelstage.h"
#include "content/job.h"
#include "content/models.h"
#include "content/prices.h"
#include "content/resize.h"
#include "core/derived.h"
#include "core/store.h"
#include "providers/provider.h"
#include "providers/provshared.h"
#include "stages/estimate.h"
#include "stages/stage.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pctx {
	enum stage s;
	const struct model_config *c;
	const struct provider *ops;   /* the provider's own */
	void *pctx;
	struct provider wrap;
	struct estimate *est;
	unsigned warn;                /* MODELS_W_* of the model */
	char until[11];               /* retired: its last day */
	const char *successor;
	struct resize_params rp;      /* --max-side, --max-pixels */
	char rp_text[48];
	int shrink, heic_said;
	struct stage_def *d;          /* an online run's (stage_main): the batch guard goes on it */
	void *guard;                  /* batch_guard's */
};

/* On the input thread: a record from upstream must parse, carry an id and
 * the upstream key, and what this stage works from. */
static void *
modelstage_prepare(void *ctx, const char *line, size_t len, const char *src, char *err, size_t errlen)
{
	struct pctx *c = ctx;
	const char *need = stage_info[c->s].needs;
	const char *up = stage_name[stage_info[c->s].up];
	json_error_t je;
	json_t *rec = json_loadb(line, len, 0, &je);

	if (!rec) {
		snprintf(err, errlen, "malformed JSON at column %d: %s", je.column, je.text);
		return NULL;
	}
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *k = json_string_value(json_object_get(json_object_get(rec, "keys"), up));
	if (!json_is_object(rec) || !id || !*id) {
		snprintf(err, errlen, "not a vj record (no \"id\")");
		goto bad;
	}
	if (!job_id_valid(id, strlen(id))) {
		snprintf(err, errlen, "id '%.40s' must match [A-Za-z0-9_-]{1,%d}", id, JOB_ID_MAX);
		goto bad;
	}
	if (!json_is_object(json_object_get(rec, need)) || !k || strlen(k) != KEY_HEX) {
		snprintf(err, errlen, "job %s: record has no %s from vj-%s (keys.%s, %s)", id,
		    need, up, up, need);
		goto bad;
	}
	return rec;
bad:
	json_decref(rec);
	return NULL;
}

static void
modelstage_free(void *p)
{
	json_decref(p);
}

static int
modelstage_accept(struct stage_state *x, void *prep, const char *line, size_t len, const char *src,
    long lno, json_t **recp, char key[KEY_HEX + 1], char **raw_job)
{
	struct pctx *c = stage_ctx(x);
	json_t *rec = prep;
	const char *k = json_string_value(json_object_get(json_object_get(rec, "keys"),
	    stage_name[c->s - 1]));
	stage_key(x, k, key);
	*recp = rec;
	return 0;
}


/* ---- --max-side: the image the provider sends ---- */

/* A copy of the record's image object naming the derived object. */
static json_t *
image_as(json_t *img, const struct derived_obj *o)
{
	json_t *sub = json_deep_copy(img);
	json_object_set_new(sub, "sha256", json_string(o->sha256));
	json_object_set_new(sub, "mime", json_string(o->mime));
	json_object_set_new(sub, "bytes", json_integer(o->bytes));
	json_object_set_new(sub, "width", json_integer(o->width));
	json_object_set_new(sub, "height", json_integer(o->height));
	if (json_object_get(sub, "orientation"))
		json_object_set_new(sub, "orientation", json_integer(1));   /* turned when made */
	return sub;
}

/* The image to send for img: *sub the derived one, or NULL to send the
 * original (it fits, or it is not ours to judge: the provider reports a
 * missing image).  -1 with e set. */
static int
derived_image(struct pctx *c, const char *id, json_t *img, json_t **sub, struct eng_err *e)
{
	const char *run = c->c->stage.run, *sha = json_string_value(json_object_get(img, "sha256"));
	const char *mime = json_string_value(json_object_get(img, "mime"));
	json_int_t w = json_integer_value(json_object_get(img, "width"));
	json_int_t h = json_integer_value(json_object_get(img, "height"));
	struct derived_obj o;
	struct resize_out out;
	char err[512];
	long nw, nh;
	size_t len;

	*sub = NULL;
	if (!sha)
		return 0;
	if (w > 0 && h > 0 && !resize_fit((long)w, (long)h, &c->rp, &nw, &nh))
		return 0;
	if (mime && (!strcmp(mime, "image/heic") || !strcmp(mime, "image/heif"))) {
		if (!c->heic_said++)
			vj_info("%s images are sent at full size: vj does not decode them (job %s)", mime, id);
		return 0;
	}
	if (derived_get(run, sha, c->rp_text, &o)) {
		vj_debug("job %s: the downscaled image %.12s from the store", id, o.sha256);
		*sub = image_as(img, &o);
		return 0;
	}
	unsigned char *buf = (unsigned char *)store_get(run, sha, &len);
	if (!buf)
		return 0;
	int r = resize_image(buf, len, mime, &c->rp, &out, err, sizeof err);
	free(buf);
	if (r == 1)
		return 0;
	if (r < 0) {
		eng_seterr(e, EC_PERM, "image %.12s cannot be downscaled: %s", sha, err);
		return -1;
	}
	r = derived_put(run, sha, c->rp_text, out.buf, out.len, out.mime, out.w, out.h, &o, err,
	    sizeof err);
	resize_out_free(&out);
	if (r < 0) {
		eng_seterr(e, EC_RETRY, "%s", err);
		return -1;
	}
	vj_debug("job %s: image %.12s downscaled to %dx%d (%lld bytes) as %.12s", id, sha, o.width,
	    o.height, o.bytes, o.sha256);
	*sub = image_as(img, &o);
	return 0;
}

static int
wrap_build(void *ctx, struct eng_task *t, struct eng_http *h, json_t **result, struct eng_err *e)
{
	struct pctx *c = ctx;
	json_t *orig = NULL, *sub = NULL;

	if (c->shrink) {
		json_t *img = json_object_get(t->rec, "image");
		if (img && derived_image(c, t->id, img, &sub, e) < 0)
			return -1;
		if (sub) {
			orig = json_incref(img);
			json_object_set_new(t->rec, "image", sub);
		}
	}
	int r = c->ops->build(c->pctx, t, h, result, e);
	/* the original goes back at once: the record printed and journaled,
	 * and what vj-pack packs, name the image the job was given */
	if (orig)
		json_object_set_new(t->rec, "image", orig);
	return r;
}

/* What the model table says of the model, in the result's meta. */
static void
note_meta(struct pctx *c, json_t *result)
{
	json_t *m = json_object_get(result, "meta");
	if (!json_is_object(m))
		return;
	if (c->warn & MODELS_W_NO_TEMPERATURE)
		json_object_set_new(m, "temperature_ignored", json_true());
	if (c->warn & MODELS_W_RETIRED) {
		json_object_set_new(m, "model_served_until", json_string(c->until));
		if (c->successor)
			json_object_set_new(m, "model_successor", json_string(c->successor));
	}
}

static int
wrap_parse(void *ctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e)
{
	struct pctx *c = ctx;
	int rc = c->ops->parse(c->pctx, t, r, result, usage, e);
	if (usage && *usage)
		estimate_learn(c->est, t->rec, *usage);
	if (rc == 0 && *result)
		note_meta(c, *result);
	return rc;
}

/* ---- the stage driver's hooks ---- */

static double
ms_reserve(struct stage_state *x, json_t *rec)
{
	struct pctx *c = stage_ctx(x);
	return estimate_reserve(c->est, rec);
}

static int64_t
ms_closed(struct stage_state *x, int64_t *now)
{
	struct pctx *c = stage_ctx(x);
	int64_t at;
	*now = estimate_now();
	estimate_offpeak(c->est, *now, &at);
	return at;
}

static int
ms_start(struct stage_state *x)
{
	struct pctx *c = stage_ctx(x);
	const struct stage_stats *st = &stage_run(x)->stats[c->s];
	estimate_history(c->est, st->done_ev, st->tok_completion);
	/* the jobs of open batches, from the fold just read (its checkpoint
	 * keeps where the batch lines are): not a scan of the whole journal
	 * before the first request */
	if (c->d && !c->guard)
		c->guard = batch_guard(stage_run(x), c->d);
	return 0;
}

static void
ms_each(void *ctx, json_t *rec)
{
	struct pctx *c = ctx;
	estimate_add(c->est, rec);
	json_decref(rec);
}

/* The provider's cfg with the resize parameters: they shape the result,
 * so they are part of every cache key (and only when given: runs without
 * --max-side keep their keys). */
static char *
cfg_with(const char *cfg, const char *rp)
{
	json_t *o = json_loads(cfg, 0, NULL);
	char *s;
	if (!json_is_object(o)) {
		json_decref(o);
		return xasprintf("%s resize=%s", cfg, rp);
	}
	json_object_set_new(o, "resize", json_string(rp));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* The models of provider that offer tier and are served at t, for a
 * message: "a, b and c" (or "none"). */
static void
models_with(const char *provider, enum models_tier tier, int64_t t, struct buf *b)
{
	size_t n, k = 0;
	const struct models_row *r = models_rows(&n);
	const char *names[64];
	for (size_t i = 0; i < n && k < 64; i++) {
		if (strcmp(r[i].provider, provider) || models_past(&r[i], t) ||
		    models_lookup(provider, r[i].model, t) != &r[i] || !models_offers(&r[i], tier))
			continue;
		names[k++] = r[i].model;
	}
	for (size_t i = 0; i < k; i++)
		buf_addf(b, "%s%s", i == 0 ? "" : i + 1 == k ? " and " : ", ", names[i]);
	if (!k)
		buf_adds(b, "none");
}

/* What the model table says the model cannot take: --tier flex,
 * --media-resolution, --detail.  A model the table does not know is let
 * through (a local server's): the server is the judge.  -1 said. */
static int
check_model(const struct model_config *c, const struct prov *p, int64_t now)
{
	const struct models_row *r = models_billed(p->name, p->model, now);
	int gemini = !strcmp(p->name, "gemini");
	struct buf b = { 0 };
	if (c->res_opt && gemini != !strcmp(c->res_opt, "--media-resolution")) {
		vj_msg("%s is for %s models; %s takes %s", c->res_opt, gemini ? "OpenAI-compatible" :
		    "Gemini", p->name, gemini ? "--media-resolution" : "--detail");
		return -1;
	}
	if (!r)
		return 0;
	if (c->tier == MODELS_FLEX && !models_offers(r, MODELS_FLEX)) {
		models_with(p->name, MODELS_FLEX, now, &b);
		vj_msg("--tier flex: %s model %s has no flex tier (docs/prices.md); %s models with it: %s",
		    p->name, r->model, p->name, b.p);
		buf_free(&b);
		return -1;
	}
	int takes = gemini ? r->media_resolution == 1 :
	    r->image.kind == MODELS_IMG_OPENAI_TILES || r->image.kind == MODELS_IMG_OPENAI_PATCHES;
	if (c->res_opt && !takes) {
		vj_msg("%s: %s model %s does not take it (data/models.txt: %s)", c->res_opt, p->name,
		    r->model, gemini ? "media_resolution no" : "its image rule is not OpenAI's");
		return -1;
	}
	return 0;
}

/* Flex answers may take up to about 15 minutes (docs/providers.md,
 * "Tiers"): a request and a job get that long unless told otherwise. */
#define FLEX_TIMEOUT 900
#define FLEX_JOB_TIMEOUT 3600
static void
flex_timeouts(const struct model_config *c, struct stage_config *sc)
{
	if (!c->timeout_set && sc->timeout < FLEX_TIMEOUT)
		sc->timeout = FLEX_TIMEOUT;
	if (!c->job_timeout_set && sc->job_timeout < FLEX_JOB_TIMEOUT) {
		/* --wait-retries follows the job timeout unless given */
		if (sc->wait_retries == sc->job_timeout)
			sc->wait_retries = FLEX_JOB_TIMEOUT;
		sc->job_timeout = FLEX_JOB_TIMEOUT;
	}
	vj_debug("--tier flex: a request may take %.0f s, a job %.0f s", sc->timeout, sc->job_timeout);
}

/* The model table: the shipped one with --models (or $VJ_MODELS) merged
 * over it, then --prices. */
static int
load_table(const struct model_config *c)
{
	char err[1024];
	if (models_load(NULL, c->models && *c->models ? c->models : NULL, err, sizeof err) < 0 ||
	    prices_load(c->prices, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return -1;
	}
	return 0;
}

static int
write_out(struct buf *b)
{
	if (write_all(1, b->p ? b->p : "", b->len) < 0) {
		vj_warn("error writing output:");
		return -1;
	}
	return 0;
}

int
modelstage_main(const struct model_config *c, enum stage s)
{
	struct prov p;
	char err[1024];
	struct pctx ctx = { .s = s, .c = c,
		.rp = { .max_side = c->max_side, .max_pixels = c->max_pixels } };
	struct prov_config pc = {
		.stage = stage_name[s], .name = c->provider, .model = c->model, .base_url = c->base_url,
		.api_key_env = c->api_key_env, .run = c->stage.run, .prompt_file = c->prompt_file,
		.max_tokens = c->max_tokens, .tier = c->tier, .res = c->res,
	};
	struct stage_config sc = c->stage;
	char *cfg = NULL;
	int st;

	if (load_table(c) < 0)
		return VJ_EUSAGE;
	if (prov_open(&p, &pc, err, sizeof err) != VJ_OK) {
		vj_msg("%s", err);
		return VJ_EUSAGE;
	}
	int offline = !strcmp(p.name, "offline");
	int64_t now = estimate_now();
	if (!offline) {
		int32_t until;
		ctx.warn = models_warn_once(p.name, p.model, now);
		if (models_retired(p.name, p.model, now, &ctx.successor, &until))
			models_date_str(until, ctx.until);
	}
	if (!offline && check_model(c, &p, now) < 0) {
		prov_close(&p);
		return VJ_EUSAGE;
	}
	if (c->tier == MODELS_FLEX)
		flex_timeouts(c, &sc);
	struct estimate_config ec = {
		.stage = s, .provider = p.name, .model = p.model, .prompt_file = c->prompt_file,
		.max_tokens = ((struct prov_ctx *)p.ctx)->max_tokens,
		.max_side = c->max_side, .max_pixels = c->max_pixels,
		.tier = c->tier, .res = c->res,
	};
	if (!(ctx.est = estimate_new(&ec, err, sizeof err))) {
		vj_msg("%s", err);
		prov_close(&p);
		return VJ_EUSAGE;
	}
	if (c->off_peak) {
		int64_t at;
		if (offline || !estimate_offpeak(ctx.est, now, &at)) {
			vj_msg("--off-peak: %s model %s has the same price at every hour (docs/prices.md)",
			    p.name, p.model);
			st = VJ_EUSAGE;
			goto out;
		}
		sc.wait_open = c->wait;
	}
	ctx.shrink = c->max_side > 0 || c->max_pixels > 0;
	resize_params_text(&ctx.rp, ctx.rp_text, sizeof ctx.rp_text);
	ctx.ops = p.ops;
	ctx.pctx = p.ctx;
	ctx.wrap = (struct provider){ p.ops->name, wrap_build, wrap_parse };
	cfg = ctx.shrink ? cfg_with(p.cfg, ctx.rp_text) : xstrdup(p.cfg);
	struct stage_def d = {
		.s = s, .ops = &ctx.wrap, .pctx = &ctx, .cfg = cfg, .prov_name = p.name, .model = p.model,
		.cost = prices_cost, .prepare = modelstage_prepare, .free_prep = modelstage_free,
		.accept = modelstage_accept, .start = ms_start, .reserve = ms_reserve,
		.closed = c->off_peak ? ms_closed : NULL,
		.ctx = &ctx,
	};
	vj_debug("%s with %s, model %s", stage_name[s], p.name, p.model ? p.model : "-");
	if (c->estimate) {
		struct buf b = { 0 };
		st = stage_each(&sc, &d, ms_each, &ctx);
		if (st == VJ_OK || st == VJ_EFAILED) {
			estimate_report(ctx.est, c->json, &b);
			if (write_out(&b) < 0)
				st = VJ_EFATAL;
		}
		buf_free(&b);
		goto out;
	}
	if (c->batch.on || c->batch.export_file || c->batch.import_file) {
		st = batch_main(&sc, &d, &c->batch, p.ctx);
		goto out;
	}
	/* --timeout defaults to 60 s for every provider, as documented; the
	 * provider table's advice (docs/providers.md) is for the user to take */
	if (!c->timeout_set && p.timeout > c->stage.timeout)
		vj_debug("%s: its answers can take up to %.0f s under load; --timeout %.0f applies",
		    p.name, p.timeout, c->stage.timeout);
	ctx.d = &d;
	st = stage_main(&sc, &d);
	batch_guard_free(ctx.guard);
out:
	estimate_free(ctx.est);
	free(cfg);
	prov_close(&p);
	return st;
}
