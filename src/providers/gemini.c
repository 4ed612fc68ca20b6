/* gemini: the Gemini API's generateContent (docs/providers.md).  The image
 * goes inline, streamed from the object store as base64; the analysis
 * comes back as JSON constrained by responseJsonSchema. */
#include "providers/provshared.h"
#include "content/schema.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The image types the API takes inline. */
static int
mime_ok(const char *m)
{
	static const char *const ok[] = { "image/png", "image/jpeg", "image/webp", "image/heic",
	    "image/heif" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return 1;
	return 0;
}

/* media_resolution as the API spells it: low, medium and high for the
 * whole request (generationConfig), ultra for the image part only. */
static const char *
resolution(enum models_res r)
{
	switch (r) {
	case MODELS_RES_LOW: return "MEDIA_RESOLUTION_LOW";
	case MODELS_RES_MEDIUM: return "MEDIA_RESOLUTION_MEDIUM";
	case MODELS_RES_HIGH: return "MEDIA_RESOLUTION_HIGH";
	case MODELS_RES_ULTRA: return "MEDIA_RESOLUTION_ULTRA_HIGH";
	default: return NULL;
	}
}

static json_t *
gen_config(const struct prov_ctx *c, const struct prompt_msg *m, double temp)
{
	json_t *g = json_pack("{s:I}", "maxOutputTokens", (json_int_t)c->max_tokens);

	/* a model that ignores temperature is not sent one (models.txt) */
	if (!c->no_temperature)
		json_object_set_new(g, "temperature", json_real(temp));
	if (c->analyze && c->res != MODELS_RES_ULTRA && resolution(c->res))
		json_object_set_new(g, "mediaResolution", json_string(resolution(c->res)));

	if (!m->json)
		return g;
	json_object_set_new(g, "responseMimeType", json_string("application/json"));
	if (c->analyze)
		json_object_set(g, "responseJsonSchema", schema_analysis());
	else if (m->fmt && m->fmt->schema)
		json_object_set_new(g, "responseJsonSchema", json_loads(m->fmt->schema,
		    JSON_PRESERVE_ORDER, NULL));
	return g;
}

/* generateContent's body: the image first, then the text. */
static json_t *
request(const struct prov_ctx *c, const struct ps_req *q, struct eng_err *e)
{
	json_t *doc, *parts;

	if (q->mime && !mime_ok(q->mime)) {
		ps_err(c, e, EC_PERM, 0, "%s is not an image type Gemini takes inline", q->mime);
		return NULL;
	}
	parts = json_array();
	if (q->mime) {
		json_t *img = json_pack("{s:{s:s, s:o}}", "inline_data", "mime_type", q->mime, "data",
		    ps_image_slot());
		if (c->res == MODELS_RES_ULTRA)
			json_object_set_new(img, "media_resolution", json_pack("{s:s}", "level",
			    resolution(c->res)));
		json_array_append_new(parts, img);
	}
	json_array_append_new(parts, json_pack("{s:s}", "text", q->m->user));
	doc = json_object();
	if (*q->m->system)
		json_object_set_new(doc, "systemInstruction", json_pack("{s:[{s:s}]}", "parts",
		    "text", q->m->system));
	json_object_set_new(doc, "contents", json_pack("[{s:s, s:o}]", "role", "user",
	    "parts", parts));
	json_object_set_new(doc, "generationConfig", gen_config(c, q->m, q->temp));
	/* flex: best effort at half price (docs/providers.md, "Tiers") */
	if (c->tier == MODELS_FLEX)
		json_object_set_new(doc, "service_tier", json_string("flex"));
	return doc;
}

static char *
url(const struct prov_ctx *c)
{
	return xasprintf("%s/v1beta/models/%s:generateContent", c->base_url, c->model);
}

/* ---- errors ---- */

/* The details of an error body: google.rpc.* objects by their @type. */
static json_t *
detail(json_t *err, const char *type)
{
	json_t *d;
	size_t i;
	const char *t;

	json_array_foreach(json_object_get(err, "details"), i, d) {
		t = json_string_value(json_object_get(d, "@type"));
		if (t && strstr(t, type))
			return d;
	}
	return NULL;
}

/* A QuotaFailure violation whose quotaId is a daily one. */
static const char *
daily_quota(json_t *err)
{
	json_t *v;
	size_t i;
	const char *q;

	json_array_foreach(json_object_get(detail(err, "google.rpc.QuotaFailure"), "violations"),
	    i, v) {
		q = json_string_value(json_object_get(v, "quotaId"));
		if (q && strstr(q, "PerDay"))
			return q;
	}
	return NULL;
}

static int
key_invalid(json_t *err)
{
	const char *reason = json_string_value(json_object_get(detail(err, "google.rpc.ErrorInfo"),
	    "reason"));
	const char *msg = json_string_value(json_object_get(err, "message"));

	return (reason && strcmp(reason, "API_KEY_INVALID") == 0) ||
	    (msg && strstr(msg, "API key not valid"));
}

static void
error(const struct prov_ctx *c, long s, const struct eng_resp *r, json_t *doc, struct eng_err *e)
{
	json_t *err = json_object_get(doc, "error");
	const char *status = json_string_value(json_object_get(err, "status"));
	const char *q;
	char msg[256], code[80];
	double delay;

	ps_errtext(c, json_string_value(json_object_get(err, "message")), r, msg, sizeof(msg));
	/* "429 RESOURCE_EXHAUSTED", or just "502" from a proxy's HTML page */
	snprintf(code, sizeof(code), "%ld%s%.60s", s, status ? " " : "", status ? status : "");
	if (s == 400 && key_invalid(err))
		ps_err(c, e, EC_FATAL, s, "invalid API key (%s)", c->key_env ? c->key_env : "no key");
	else if (s == 404)
		ps_err(c, e, EC_FATAL, s, "unknown model %s (%s)", c->model, code);
	else if (s == 429 && (q = daily_quota(err)))
		ps_err(c, e, EC_FATAL, s, "daily quota exhausted (%s); it resets at midnight Pacific time", q);
	else if (c->tier == MODELS_FLEX && (s == 503 ||
	    (s == 429 && !detail(err, "google.rpc.QuotaFailure")))) {
		/* flex is best effort: shed under load, which says nothing of
		 * the account's quota (that 429 names its QuotaFailure) */
		ps_err(c, e, EC_RATE, s, "%s: flex request shed (no capacity now; asked again "
		    "later, the account's rate is not cut): %s", code, msg);
		e->shed = 1;
		e->retry_after = eng_parse_delay(json_string_value(json_object_get(
		    detail(err, "google.rpc.RetryInfo"), "retryDelay")));
		if (e->retry_after < 0)
			e->retry_after = r->retry_after;
	} else {
		/* a 429 waits for RetryInfo, else Retry-After; Gemini sends no x-should-retry */
		delay = s != 429 ? -1 : eng_parse_delay(json_string_value(json_object_get(
		    detail(err, "google.rpc.RetryInfo"), "retryDelay")));
		if (s == 429 && delay < 0)
			delay = r->retry_after;
		ps_http_err(c, e, s, code, msg, delay, -1);
	}
}

/* ---- answers ---- */

/* Finish reasons that withhold the text for good: asking again gives the same. */
static int
withheld(const char *f)
{
	static const char *const perm[] = { "SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "SPII",
	    "RECITATION", "BLOCKLIST" };

	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
		if (strcmp(f, perm[i]) == 0)
			return 1;
	return 0;
}

static json_t *
usage_of(json_t *doc)
{
	json_t *u = json_object_get(doc, "usageMetadata");

	if (!json_is_object(u))
		return NULL;
	/* Thinking tokens are billed as output. */
	return ps_usage(json_integer_value(json_object_get(u, "promptTokenCount")),
	    json_integer_value(json_object_get(u, "candidatesTokenCount")) +
	    json_integer_value(json_object_get(u, "thoughtsTokenCount")),
	    json_integer_value(json_object_get(u, "cachedContentTokenCount")));
}

/* The text of a candidate: every part's, thoughts left out. */
static char *
cand_text(json_t *cand)
{
	struct buf b = {0};
	json_t *p;
	size_t i;
	const char *s;

	buf_adds(&b, "");
	json_array_foreach(json_object_get(json_object_get(cand, "content"), "parts"), i, p) {
		if (json_is_true(json_object_get(p, "thought")))
			continue;
		if ((s = json_string_value(json_object_get(p, "text"))))
			buf_adds(&b, s);
	}
	return b.p;
}

/* The text of the first candidate, unless it was cut or withheld. */
static char *
answer(const struct prov_ctx *c, json_t *rec, const struct eng_resp *r, json_t *doc,
    const char **finish, struct eng_err *e)
{
	json_t *cand = json_array_get(json_object_get(doc, "candidates"), 0);
	const char *block, *f;

	if (!cand) {
		block = json_string_value(json_object_get(json_object_get(doc, "promptFeedback"),
		    "blockReason"));
		if (block)
			ps_err(c, e, EC_PERM, r->status, "blocked by safety filters (%s)", block);
		else
			ps_err(c, e, EC_RETRY, r->status, "the answer has no candidates");
		return NULL;
	}
	f = json_string_value(json_object_get(cand, "finishReason"));
	if (f && strcmp(f, "STOP") != 0) {
		if (strcmp(f, "MAX_TOKENS") == 0)
			ps_err(c, e, EC_RETRY, r->status, "answer truncated at maxOutputTokens (%ld): "
			    "the output limit; raise it with --max-tokens", c->max_tokens);
		else if (withheld(f))
			ps_err(c, e, EC_PERM, r->status, "answer withheld (finishReason %s)", f);
		else
			ps_err(c, e, EC_RETRY, r->status, "answer incomplete (finishReason %s)", f);
		return NULL;
	}
	*finish = f ? f : "STOP";
	return cand_text(cand);
}

/* Gemini's answers name no tier today: the tier asked for is the one
 * billed.  Should one come to echo the request's field (service_tier, or
 * its camel-case spelling, in any case), it is believed. */
static const char *
served(json_t *doc)
{
	const char *t = json_string_value(json_object_get(doc, "serviceTier"));

	if (!t)
		t = json_string_value(json_object_get(doc, "service_tier"));
	if (!t)
		return NULL;
	if (!strcasecmp(t, "flex"))
		return "flex";
	if (!strcasecmp(t, "standard"))
		return "standard";
	return t;
}

const struct ps_wire gemini_wire = {
	.request = request, .data_url = 0, .url = url, .key_header = "x-goog-api-key: ",
	.empty = "empty response body", .error = error, .usage = usage_of, .answer = answer,
	.model_field = "modelVersion", .served = served,
};

const struct provider gemini_provider = {
	"gemini", ps_build, ps_parse,
};
