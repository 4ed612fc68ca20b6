/* modelstage: vj-analyze and vj-generate share everything but their provider
 * and the fields of the record they fill. */
#include "stages/modelstage.h"
#include "content/job.h"
#include "content/prices.h"
#include "providers/provider.h"
#include "stages/stage.h"
#include "base/util.h"

#include <stdio.h>
#include <string.h>

struct pctx {
	enum stage s;
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


int
modelstage_main(const struct model_config *c, enum stage s)
{
	struct prov p;
	char err[1024];
	struct pctx ctx = { .s = s };
	struct prov_config pc = {
		.stage = stage_name[s], .name = c->provider, .model = c->model, .base_url = c->base_url,
		.api_key_env = c->api_key_env, .run = c->stage.run, .prompt_file = c->prompt_file,
		.max_tokens = c->max_tokens,
	};
	if (prices_load(c->prices, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EUSAGE;
	}
	if (prov_open(&p, &pc, err, sizeof err) != VJ_OK) {
		vj_msg("%s", err);
		return VJ_EUSAGE;
	}
	struct stage_def d = {
		.s = s, .ops = p.ops, .pctx = p.ctx, .cfg = p.cfg, .prov_name = p.name, .model = p.model,
		.cost = prices_cost, .prepare = modelstage_prepare, .free_prep = modelstage_free,
		.accept = modelstage_accept,
		.ctx = &ctx,
	};
	vj_debug("%s with %s, model %s", stage_name[s], p.name, p.model ? p.model : "-");
	/* --timeout defaults to 60 s for every provider, as documented; the
	 * provider table's advice (docs/providers.md) is for the user to take */
	if (!c->timeout_set && p.timeout > c->stage.timeout)
		vj_debug("%s: its answers can take up to %.0f s under load; --timeout %.0f applies",
		    p.name, p.timeout, c->stage.timeout);
	int st = stage_main(&c->stage, &d);
	prov_close(&p);
	return st;
}
