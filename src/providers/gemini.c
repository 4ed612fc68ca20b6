/* gemini: the Gemini API's generateContent (docs/providers.md).  The image
 * goes inline, streamed from the object store as base64; the analysis
 * comes back as JSON constrained by responseJsonSchema. */
#include "providers/provshared.h"
#include "content/schema.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static json_t *
gen_config(const struct prov_ctx *c, const struct prompt_msg *m, double temp)
{
	json_t *g = json_pack("{s:f, s:I}", "temperature", temp, "maxOutputTokens",
	    (json_int_t)c->max_tokens);

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

static int
gemini_build(void *pctx, struct eng_task *t, struct eng_http *h, json_t **result,
    struct eng_err *e)
{
	struct prov_ctx *c = pctx;
	struct prompt_msg m;
	char err[400], *img = NULL, *hdr;
	const char *mime = NULL;
	json_t *doc, *parts;
	double temp;
	int r = -1;

	if (prompt_render(c->prompt, t->rec, &m, err, sizeof(err)) < 0) {
		ps_err(c, e, EC_PERM, 0, "%s", err);
		return -1;
	}
	if (ps_temperature(c, t->rec, &temp, e) < 0)
		goto out;
	if (c->analyze) {
		if (ps_image(c, t->rec, &img, &mime, e) < 0)
			goto out;
		if (!mime_ok(mime)) {
			ps_err(c, e, EC_PERM, 0, "%s is not an image type Gemini takes inline", mime);
			goto out;
		}
	}
	parts = json_array();
	if (img)
		json_array_append_new(parts, json_pack("{s:{s:s, s:o}}", "inline_data",
		    "mime_type", mime, "data", ps_image_slot()));
	json_array_append_new(parts, json_pack("{s:s}", "text", m.user));
	doc = json_object();
	if (*m.system)
		json_object_set_new(doc, "systemInstruction", json_pack("{s:[{s:s}]}", "parts",
		    "text", m.system));
	json_object_set_new(doc, "contents", json_pack("[{s:s, s:o}]", "role", "user",
	    "parts", parts));
	json_object_set_new(doc, "generationConfig", gen_config(c, &m, temp));

	h->body = body_new();
	if (ps_body_json(h->body, doc, NULL, img) < 0) {
		ps_err(c, e, EC_PERM, 0, "cannot read the image from the object store");
		json_decref(doc);
		body_free(h->body);
		h->body = NULL;
		goto out;
	}
	json_decref(doc);
	/* The key goes in a header, never the URL: URLs end up in logs. */
	h->url = xasprintf("%s/v1beta/models/%s:generateContent", c->base_url, c->model);
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (c->key) {
		hdr = xasprintf("x-goog-api-key: %s", c->key);
		h->headers = curl_slist_append(h->headers, hdr);
		free(hdr);
	}
	t->tokens = ps_tokens(c, &m, img != NULL);
	r = 0;
out:
	free(img);
	prompt_msg_free(&m);
	return r;
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
gemini_error(const struct prov_ctx *c, const struct eng_resp *r, struct eng_err *e)
{
	json_t *doc = ps_load(r->body, r->len), *err = json_object_get(doc, "error");
	const char *status = json_string_value(json_object_get(err, "status"));
	const char *m = json_string_value(json_object_get(err, "message"));
	const char *q;
	char msg[256], code[80];
	long s = r->status;
	double delay;

	if (m)
		ps_clip(c, m, strlen(m), msg, sizeof(msg));
	else
		ps_clip(c, r->body, r->len, msg, sizeof(msg));
	if (!*msg)
		snprintf(msg, sizeof(msg), "no details");
	/* "429 RESOURCE_EXHAUSTED", or just "502" from a proxy's HTML page */
	snprintf(code, sizeof(code), "%ld%s%.60s", s, status ? " " : "", status ? status : "");
	if (s == 400 && key_invalid(err))
		ps_err(c, e, EC_FATAL, s, "invalid API key (%s)", c->key_env ? c->key_env : "no key");
	else if (s == 401 || s == 403)
		ps_err(c, e, EC_FATAL, s, "%s: %s", code, msg);
	else if (s == 404)
		ps_err(c, e, EC_FATAL, s, "unknown model %s (%s)", c->model, code);
	else if (s == 429 && (q = daily_quota(err)))
		ps_err(c, e, EC_FATAL, s, "daily quota exhausted (%s); it resets at midnight Pacific time", q);
	else if (s == 429) {
		delay = eng_parse_delay(json_string_value(json_object_get(
		    detail(err, "google.rpc.RetryInfo"), "retryDelay")));
		if (delay < 0)
			delay = r->retry_after;
		if (delay >= 0)
			ps_err(c, e, EC_RATE, s, "%s", code);   /* the stage says when */
		else
			ps_err(c, e, EC_RATE, s, "%s: %s", code, msg);
		e->retry_after = delay;
	} else if (s == 408 || s >= 500)
		ps_err(c, e, EC_RETRY, s, "%s: %s", code, msg);
	else
		ps_err(c, e, EC_PERM, s, "%s: %s", code, msg);
	json_decref(doc);
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

static int
gemini_parse(void *pctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e)
{
	struct prov_ctx *c = pctx;
	json_t *doc, *cand;
	const char *finish, *block;
	char *text;
	int rc;

	if (r->status < 200 || r->status > 299) {
		gemini_error(c, r, e);
		return -1;
	}
	if (ps_blank(r->body, r->len)) {
		ps_err(c, e, EC_RETRY, r->status, "empty response body");
		return -1;
	}
	if (!(doc = ps_load(r->body, r->len))) {
		char clip[128];
		ps_clip(c, r->body, r->len, clip, sizeof(clip));
		ps_err(c, e, EC_RETRY, r->status, "response is not JSON: %s", clip);
		return -1;
	}
	if (usage)
		*usage = usage_of(doc);
	cand = json_array_get(json_object_get(doc, "candidates"), 0);
	if (!cand) {
		block = json_string_value(json_object_get(json_object_get(doc, "promptFeedback"),
		    "blockReason"));
		if (block)
			ps_err(c, e, EC_PERM, r->status, "blocked by safety filters (%s)", block);
		else
			ps_err(c, e, EC_RETRY, r->status, "the answer has no candidates");
		json_decref(doc);
		return -1;
	}
	finish = json_string_value(json_object_get(cand, "finishReason"));
	if (finish && strcmp(finish, "STOP") != 0) {
		if (strcmp(finish, "MAX_TOKENS") == 0)
			ps_err(c, e, EC_RETRY, r->status, "answer truncated at maxOutputTokens (%ld)",
			    c->max_tokens);
		else if (withheld(finish))
			ps_err(c, e, EC_PERM, r->status, "answer withheld (finishReason %s)", finish);
		else
			ps_err(c, e, EC_RETRY, r->status, "answer incomplete (finishReason %s)", finish);
		json_decref(doc);
		return -1;
	}
	text = cand_text(cand);
	rc = ps_finish(c, t->rec, text, ps_meta(c, json_string_value(json_object_get(doc,
	    "modelVersion")), finish ? finish : "STOP"), result, e);
	free(text);
	json_decref(doc);
	return rc;
}

const struct provider gemini_provider = {
	"gemini", gemini_build, gemini_parse,
};
