/* estimate: the cost of requests before they are sent.  A job's prompt
 * tokens are its rendered prompt's characters over four (what providers'
 * tokenizers average for English and JSON) plus its image's tokens by the
 * model's rule; its output tokens are learned from the answers.  Cached
 * input is never assumed: an estimate errs high, not low. */
#include "stages/estimate.h"
#include "content/models.h"
#include "content/prompt.h"
#include "content/resize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVAR 3                  /* full size and up to two downscaled sizes */

struct variant {
	struct resize_params rp;      /* all 0: full size */
	double image;                 /* image tokens, summed over the jobs */
};

struct estimate {
	struct estimate_config c;
	struct prompt *prompt;
	/* output tokens: the journal's answers and this run's */
	uint64_t hist_n, run_n;
	double hist_out, run_out, run_out_max;
	double prompt_ratio;          /* most an answer's prompt exceeded its estimate */
	/* --estimate */
	uint64_t jobs, no_size, no_render;
	double text;
	int nvar, rule_known, images;
	struct variant v[NVAR];
};

int64_t
estimate_now(void)
{
	return price_now_ms();
}

struct estimate *
estimate_new(const struct estimate_config *c, char *err, size_t n)
{
	struct estimate *e = xcalloc(1, sizeof *e);
	e->c = *c;
	if (!(e->prompt = prompt_open(stage_name[c->stage], c->prompt_file, err, n))) {
		free(e);
		return NULL;
	}
	e->prompt_ratio = 1;
	e->images = c->stage == ST_ANALYZE;
	e->nvar = 1;
	if (e->images && (c->max_side || c->max_pixels)) {
		e->v[1].rp = (struct resize_params){ c->max_side, c->max_pixels, 0 };
		e->nvar = 2;
	} else if (e->images) {
		/* what --max-side would save, at the two sizes docs/prices.md suggests */
		e->v[1].rp.max_side = 1024;
		e->v[2].rp.max_side = 768;
		e->nvar = 3;
	}
	return e;
}

void
estimate_free(struct estimate *e)
{
	if (!e)
		return;
	prompt_free(e->prompt);
	free(e);
}

void
estimate_history(struct estimate *e, uint64_t answers, uint64_t completion)
{
	e->hist_n = answers;
	e->hist_out = (double)completion;
}

static const struct models_row *
row_now(const struct estimate *e)
{
	if (!e->c.provider || !strcmp(e->c.provider, "offline"))
		return NULL;
	return models_billed(e->c.provider, e->c.model, estimate_now());
}

/* Prompt tokens of rec's text; -1 when the prompt cannot be rendered (the
 * job would fail before any request). */
static double
text_tokens(struct estimate *e, json_t *rec)
{
	struct prompt_msg m;
	char err[256];
	if (prompt_render(e->prompt, rec, &m, err, sizeof err) < 0)
		return -1;
	double t = ceil((double)(strlen(m.system) + strlen(m.user)) / 4);
	prompt_msg_free(&m);
	return t;
}

/* Image tokens of rec at rp; -1 when the size or the rule is unknown. */
static double
image_tokens(const struct models_row *r, json_t *rec, const struct resize_params *rp,
    enum models_res res)
{
	json_t *img = json_object_get(rec, "image");
	json_int_t w = json_integer_value(json_object_get(img, "width"));
	json_int_t h = json_integer_value(json_object_get(img, "height"));
	long nw, nh;
	if (!r || w <= 0 || h <= 0 || w > 1000000 || h > 1000000)
		return -1;
	resize_fit((long)w, (long)h, rp, &nw, &nh);
	long t = models_image_tokens(&r->image, nw, nh, res);
	return t < 0 ? -1 : (double)t;
}

/* Output tokens a request is expected to take, and where the figure comes
 * from. */
static double
output_tokens(const struct estimate *e, const char **from)
{
	uint64_t n = e->hist_n + e->run_n;
	if (n) {
		*from = "the run's average";
		return ceil((e->hist_out + e->run_out) / (double)n);
	}
	*from = "max_tokens: no answers yet";
	return (double)e->c.max_tokens;
}

static struct resize_params
sent_params(const struct estimate *e)
{
	return (struct resize_params){ e->c.max_side, e->c.max_pixels, 0 };
}

void
estimate_learn(struct estimate *e, json_t *rec, json_t *usage)
{
	json_t *c = json_object_get(usage, "completion"), *p = json_object_get(usage, "prompt");
	if (!json_is_integer(c) || json_integer_value(c) < 0)
		return;
	double out = (double)json_integer_value(c);
	e->run_n++;
	e->run_out += out;
	if (out > e->run_out_max)
		e->run_out_max = out;
	double text = text_tokens(e, rec);
	if (text < 0 || !json_is_integer(p))
		return;
	struct resize_params rp = sent_params(e);
	double img = e->images ? image_tokens(row_now(e), rec, &rp, (enum models_res)e->c.res)
	    : 0;
	double est = text + (img > 0 ? img : 0);
	double got = (double)json_integer_value(p);
	if (est > 0 && got / est > e->prompt_ratio && got / est < 1000)
		e->prompt_ratio = got / est;
}

double
estimate_reserve(struct estimate *e, json_t *rec)
{
	const struct models_row *r = row_now(e);
	if (!r)
		return 0;
	struct resize_params rp = sent_params(e);
	double text = text_tokens(e, rec);
	double img = e->images ? image_tokens(r, rec, &rp, (enum models_res)e->c.res) : 0;
	const char *from;
	double out = output_tokens(e, &from);
	if (e->run_n && e->run_out_max > out)
		out = e->run_out_max;
	if (text < 0)
		return 0;   /* it fails before any request */
	struct models_usage u = { (text + (img > 0 ? img : 0)) * e->prompt_ratio, 0, out };
	return models_cost_row(r, &u, (enum models_tier)e->c.tier, estimate_now());
}

/* ---- time-of-day prices ---- */

/* How dear a price is, for comparing hours: a request of equal input and
 * output (every window of the shipped table scales all three alike). */
static double
dearness(const struct models_row *r, int64_t t)
{
	struct models_price p;
	if (models_price_at(r, MODELS_STANDARD, t, &p) < 0)
		return 0;
	return p.input + p.cached + p.output;
}

int
estimate_offpeak(struct estimate *e, int64_t now, int64_t *open_at)
{
	const struct models_row *r = models_billed(e->c.provider, e->c.model, now);
	double least = INFINITY, most = 0;
	*open_at = 0;
	if (!r || !r->nwin)
		return 0;
	/* the cheapest and dearest hours of the coming week */
	int64_t t = now, next;
	for (int i = 0; i < 64 && t != INT64_MAX; i++) {
		double d = dearness(r, t);
		least = d < least ? d : least;
		most = d > most ? d : most;
		models_window_at(r, t, &next);
		t = next;
	}
	if (!(most > least))
		return 0;
	t = now;
	for (int i = 0; i < 64 && t != INT64_MAX; i++) {
		const struct models_row *rt = models_billed(e->c.provider, e->c.model, t);
		if (rt && dearness(rt, t) <= least) {
			*open_at = t == now ? 0 : t;
			return 1;
		}
		models_window_at(rt ? rt : r, t, &next);
		t = next;
	}
	*open_at = INT64_MAX;
	return 1;
}

/* ---- --estimate ---- */

void
estimate_add(struct estimate *e, json_t *rec)
{
	const struct models_row *r = row_now(e);
	double text = text_tokens(e, rec);
	if (text < 0) {
		e->no_render++;   /* fails before any request: costs nothing */
		return;
	}
	e->jobs++;
	e->text += text;
	if (!e->images)
		return;
	e->rule_known = r && r->image.kind != MODELS_IMG_UNKNOWN && r->image.kind != MODELS_IMG_NONE;
	for (int i = 0; i < e->nvar; i++) {
		double t = image_tokens(r, rec, &e->v[i].rp, (enum models_res)e->c.res);
		if (t < 0 && i == 0 && e->rule_known)
			e->no_size++;
		if (t > 0)
			e->v[i].image += t;
	}
}

static void
variant_name(const struct variant *v, char *out, size_t n)
{
	if (v->rp.max_side && v->rp.max_pixels)
		snprintf(out, n, "--max-side %ld --max-pixels %ld", v->rp.max_side, v->rp.max_pixels);
	else if (v->rp.max_side)
		snprintf(out, n, "--max-side %ld", v->rp.max_side);
	else if (v->rp.max_pixels)
		snprintf(out, n, "--max-pixels %ld", v->rp.max_pixels);
	else
		snprintf(out, n, "full size");
}

/* The prices a request may be billed at: each tier the model offers, at
 * its own price and at each window's. */
struct price_line {
	char name[48];
	struct models_price p;
};

static int
price_lines(const struct models_row *r, struct price_line *pl, int max)
{
	int n = 0;
	for (int t = 0; r && t < MODELS_NTIER; t++) {
		if (!r->has[t])
			continue;
		if (n < max) {
			snprintf(pl[n].name, sizeof pl[n].name, "%s", models_tier_name((enum models_tier)t));
			pl[n++].p = r->price[t];
		}
		for (int w = 0; w < r->nwin && n < max; w++)
			if (r->whas[t][w]) {
				snprintf(pl[n].name, sizeof pl[n].name, "%s@%s",
				    models_tier_name((enum models_tier)t), r->win[w].name);
				pl[n++].p = r->wprice[t][w];
			}
	}
	return n;
}

static double
cost_at(const struct models_price *p, double prompt, double output)
{
	return (prompt * p->input + output * p->output) / 1e6;
}

void
estimate_report(struct estimate *e, int json, struct buf *out)
{
	const struct models_row *r = row_now(e);
	struct price_line pl[MODELS_NTIER * (MODELS_NWIN + 1)];
	int npl = price_lines(r, pl, (int)(sizeof pl / sizeof pl[0]));
	const char *from;
	double per = output_tokens(e, &from), outt = per * (double)e->jobs;
	const char *stage = stage_name[e->c.stage];
	char name[80];

	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:I}", "stage", stage,
		    "provider", e->c.provider, "model", e->c.model, "billed_model", r ? r->model : NULL,
		    "jobs", (json_int_t)e->jobs, "images_without_size", (json_int_t)e->no_size,
		    "unrenderable", (json_int_t)e->no_render);
		json_object_set_new(o, "tokens", json_pack("{s:f, s:f, s:s, s:I, s:b}",
		    "text", e->text, "output", outt, "output_from", e->hist_n + e->run_n ? "run" : "max_tokens",
		    "output_answers", (json_int_t)(e->hist_n + e->run_n),
		    "image_rule_known", e->images && e->rule_known));
		json_t *va = json_array();
		for (int i = 0; i < (e->images ? e->nvar : 1); i++) {
			double prompt = e->text + e->v[i].image;
			json_t *c = json_object();
			for (int k = 0; k < npl; k++)
				json_object_set_new(c, pl[k].name, json_real(cost_at(&pl[k].p, prompt, outt)));
			json_array_append_new(va, json_pack("{s:I, s:I, s:f, s:f, s:o}",
			    "max_side", (json_int_t)e->v[i].rp.max_side,
			    "max_pixels", (json_int_t)e->v[i].rp.max_pixels,
			    "image_tokens", e->v[i].image, "prompt_tokens", prompt, "cost_usd", c));
		}
		json_object_set_new(o, "variants", va);
		json_object_set_new(o, "known_price", json_boolean(r != NULL));
		char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
		buf_adds(out, s);
		buf_adds(out, "\n");
		free(s);
		json_decref(o);
		return;
	}
	buf_addf(out, "vj-%s --estimate: %llu jobs to do with %s model %s; nothing was sent\n", stage,
	    (unsigned long long)e->jobs, e->c.provider, e->c.model);
	if (r && strcmp(r->model, e->c.model))
		buf_addf(out, "billed as %s (the model is retired and routed to it)\n", r->model);
	if (e->no_render)
		buf_addf(out, "%llu more jobs would fail before any request (their prompt cannot be rendered)\n",
		    (unsigned long long)e->no_render);
	if (!e->jobs) {
		buf_adds(out, "nothing to do: no cost\n");
		return;
	}
	double n = (double)e->jobs;
	buf_addf(out, "tokens a job: prompt text %.0f; output %.0f (%s", e->text / n, per, from);
	if (e->hist_n + e->run_n)
		buf_addf(out, " over %llu answers", (unsigned long long)(e->hist_n + e->run_n));
	buf_adds(out, ")\n");
	if (e->images && !e->rule_known)
		buf_adds(out, "image tokens: unknown (the model table has no image rule for this model): not counted\n");
	else if (e->images) {
		buf_adds(out, "image tokens a job:");
		for (int i = 0; i < e->nvar; i++) {
			variant_name(&e->v[i], name, sizeof name);
			buf_addf(out, "%s %.0f at %s", i ? "," : "", e->v[i].image / n, name);
		}
		buf_adds(out, "\n");
		if (e->no_size)
			buf_addf(out, "%llu images have no dimensions in their record: counted as none\n",
			    (unsigned long long)e->no_size);
	}
	if (!r) {
		buf_addf(out, "cost: unknown (the model table has no price for %s; add it with --models FILE)\n",
		    e->c.model);
		return;
	}
	int nv = e->images && e->rule_known ? e->nvar : 1;
	buf_addf(out, "cost of the %llu jobs, USD (no cache hits counted):\n", (unsigned long long)e->jobs);
	buf_addf(out, "  %-18s", "tier");
	for (int i = 0; i < nv; i++) {
		variant_name(&e->v[i], name, sizeof name);
		buf_addf(out, " %16s", e->images ? name : "cost");
	}
	buf_adds(out, "\n");
	for (int k = 0; k < npl; k++) {
		buf_addf(out, "  %-18s", pl[k].name);
		for (int i = 0; i < nv; i++)
			buf_addf(out, " %16.4f", cost_at(&pl[k].p, e->text + e->v[i].image, outt));
		buf_adds(out, "\n");
	}
}
