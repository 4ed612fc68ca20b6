/* recost: the journals' usage priced again.  Each done and fail event that
 * carries usage is priced under the table at the tier it names (standard
 * when it names none) and at its time: the usage's own "t" when the
 * provider said when it processed the request, else the event's "t" (when
 * it was journaled, at most a request's time later).  A model whose
 * prices vary by the hour is priced again at its dearest hour of the same
 * tier: the difference is what sending at the cheaper hours saved. */
#include "stages/recost.h"
#include "content/models.h"
#include "core/event.h"
#include "core/journal.h"
#include "core/run.h"
#include "stages/status.h"
#include "base/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tally {
	uint64_t requests;
	double prompt, cached, completion;
	double recorded, cost, peak;   /* peak: the same usage at the dearest hour */
	uint64_t unpriced;             /* requests of a model the table does not know */
};

struct pass {
	int stage;
	char *provider, *model;        /* of the stage's first answer with meta */
	struct tally t[MODELS_NTIER];
	int find_model;                /* the first pass: only the model is looked for */
};

static double
num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
}

/* The cost of u at the dearest hour of tier under r. */
static double
peak_cost(const struct models_row *r, const struct models_usage *u, enum models_tier tier,
    double at_t)
{
	double most = at_t;
	if (!models_offers(r, tier))
		tier = MODELS_STANDARD;
	for (int w = 0; w < r->nwin; w++) {
		if (!r->whas[tier][w])
			continue;
		const struct models_price *p = &r->wprice[tier][w];
		double prompt = u->prompt, cached = u->cached > u->prompt ? u->prompt : u->cached;
		double c = ((prompt - cached) * p->input + cached * p->cached + u->completion * p->output) / 1e6;
		if (c > most)
			most = c;
	}
	if (r->nwin) {
		const struct models_price *p = &r->price[tier];
		double cached = u->cached > u->prompt ? u->prompt : u->cached;
		double c = ((u->prompt - cached) * p->input + cached * p->cached + u->completion * p->output) / 1e6;
		if (c > most)
			most = c;
	}
	return most;
}

static int
line_cb(void *ctx, const char *text, size_t len, uint64_t off)
{
	struct pass *p = ctx;
	json_t *ev = json_loadb(text, len, 0, NULL);
	const char *k = json_string_value(json_object_get(ev, "ev"));
	json_t *usage = json_object_get(ev, "usage");

	(void)off;
	if (!k || (strcmp(k, "done") && strcmp(k, "fail")))
		goto out;
	if (p->find_model) {
		json_t *meta = json_object_get(ev, "meta");
		const char *pr = json_string_value(json_object_get(meta, "provider"));
		const char *mo = json_string_value(json_object_get(meta, "model"));
		if (!p->provider && pr && mo) {
			p->provider = xstrdup(pr);
			p->model = xstrdup(mo);
		}
		goto out;
	}
	if (!json_is_object(usage))
		goto out;
	int tier = models_tier_parse(json_string_value(json_object_get(usage, "tier")));
	if (tier < 0)
		tier = MODELS_STANDARD;
	json_t *tv = json_object_get(usage, "t");
	if (!json_is_integer(tv))
		tv = json_object_get(ev, "t");
	int64_t t = json_is_integer(tv) ? (int64_t)json_integer_value(tv) : now_ms();
	struct models_usage u = { num(usage, "prompt"), num(usage, "cached"), num(usage, "completion") };
	struct tally *ta = &p->t[tier];
	ta->requests++;
	ta->prompt += u.prompt;
	ta->cached += u.cached;
	ta->completion += u.completion;
	ta->recorded += num(ev, "cost");
	if (!p->provider || !strcmp(p->provider, "offline"))
		goto out;
	const struct models_row *r = models_billed(p->provider, p->model, t);
	if (!r) {
		ta->unpriced++;
		goto out;
	}
	double c = models_cost_row(r, &u, (enum models_tier)tier, t);
	ta->cost += c;
	ta->peak += peak_cost(r, &u, (enum models_tier)tier, c);
out:
	json_decref(ev);
	return 0;
}

static int
read_stage(const char *run, struct pass *p, char *err, size_t n)
{
	for (int k = 0; k < 2; k++) {
		struct jreader *rd = jreader_open(run, stage_name[p->stage]);
		p->find_model = k == 0;
		int r = jreader_poll(rd, line_cb, p, err, n);
		jreader_close(rd);
		if (r < 0)
			return -1;
	}
	return 0;
}

static void
cost_text(double usd, char *out, size_t n)
{
	snprintf(out, n, usd >= 100 ? "$%.2f" : "$%.4f", usd);
}

int
recost_show(const struct recost_opt *o)
{
	char err[1024];
	struct pass ps[ST_N];
	struct buf b = { 0 };
	int st = VJ_OK;

	if (!status_run_exists(o->run))
		return VJ_EUSAGE;
	if (models_load(NULL, o->models, err, sizeof err) < 0 ||
	    (o->prices && models_merge(o->prices, err, sizeof err) < 0)) {
		vj_msg("%s", err);
		return VJ_EUSAGE;
	}
	memset(ps, 0, sizeof ps);
	for (int s = ST_ANALYZE; s <= ST_GENERATE; s++) {
		ps[s].stage = s;
		if (read_stage(o->run, &ps[s], err, sizeof err) < 0) {
			vj_msg("%s", err);
			st = VJ_EFATAL;
			goto out;
		}
	}
	json_t *js = o->json ? json_object() : NULL;
	json_t *jst = js ? json_object() : NULL;
	struct tally all = { 0 };
	char c1[32], c2[32], c3[32];
	if (!js)
		buf_addf(&b, "cost of %s, priced again%s%s%s%s\n", o->run,
		    o->models || o->prices ? " under " : " under the shipped table",
		    o->models ? o->models : "", o->models && o->prices ? " and " : "",
		    o->prices ? o->prices : "");
	if (!js)
		buf_addf(&b, "%-9s %-9s %9s %11s %11s %11s %11s %11s\n", "stage", "tier", "requests",
		    "prompt", "cached", "completion", "journaled", "priced");
	for (int s = ST_ANALYZE; s <= ST_GENERATE; s++) {
		json_t *jt = js ? json_object() : NULL;
		for (int t = 0; t < MODELS_NTIER; t++) {
			struct tally *ta = &ps[s].t[t];
			if (!ta->requests)
				continue;
			all.requests += ta->requests;
			all.recorded += ta->recorded;
			all.cost += ta->cost;
			all.peak += ta->peak;
			all.unpriced += ta->unpriced;
			if (jt) {
				json_object_set_new(jt, models_tier_name((enum models_tier)t), json_pack(
				    "{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:I}", "requests", (json_int_t)ta->requests,
				    "prompt", ta->prompt, "cached", ta->cached, "completion", ta->completion,
				    "journaled_usd", ta->recorded, "cost_usd", ta->cost,
				    "offpeak_saved_usd", ta->peak - ta->cost, "unpriced", (json_int_t)ta->unpriced));
				continue;
			}
			cost_text(ta->recorded, c1, sizeof c1);
			cost_text(ta->cost, c2, sizeof c2);
			buf_addf(&b, "%-9s %-9s %9llu %11.0f %11.0f %11.0f %11s %11s\n", stage_name[s],
			    models_tier_name((enum models_tier)t), (unsigned long long)ta->requests,
			    ta->prompt, ta->cached, ta->completion, c1, c2);
			if (ta->peak - ta->cost > 1e-12) {
				cost_text(ta->peak - ta->cost, c3, sizeof c3);
				cost_text(ta->peak, c1, sizeof c1);
				buf_addf(&b, "%-9s %-9s off-peak hours saved %s (the same usage at peak: %s)\n",
				    "", "", c3, c1);
			}
			if (ta->unpriced)
				buf_addf(&b, "%-9s %-9s %llu requests of %s, which the table does not price: counted as free\n",
				    "", "", (unsigned long long)ta->unpriced, ps[s].model);
		}
		if (jst && json_object_size(jt))
			json_object_set_new(jt, "model", json_string(ps[s].model ? ps[s].model : ""));
		if (jst)
			json_object_set_new(jst, stage_name[s], jt);
	}
	if (js) {
		json_object_set_new(js, "stages", jst);
		json_object_set_new(js, "journaled_usd", json_real(all.recorded));
		json_object_set_new(js, "cost_usd", json_real(all.cost));
		json_object_set_new(js, "offpeak_saved_usd", json_real(all.peak - all.cost));
		char *s = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
		buf_adds(&b, s);
		buf_adds(&b, "\n");
		free(s);
		json_decref(js);
	} else {
		cost_text(all.recorded, c1, sizeof c1);
		cost_text(all.cost, c2, sizeof c2);
		buf_addf(&b, "%-9s %-9s %9llu %11s %11s %11s %11s %11s\n", "total", "",
		    (unsigned long long)all.requests, "", "", "", c1, c2);
	}
	fwrite(b.p ? b.p : "", 1, b.len, stdout);
out:
	for (int s = 0; s < ST_N; s++) {
		free(ps[s].provider);
		free(ps[s].model);
	}
	buf_free(&b);
	return st;
}
