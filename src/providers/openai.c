/* openai: chat completions, for DeepSeek and any OpenAI-compatible server
 * (vLLM, llama.cpp, Ollama, OpenAI).  Text for vj-generate; an image as a
 * data URL for vj-analyze (docs/providers.md). */
#include "providers/provshared.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {base}/chat/completions, as the OpenAI SDKs do: the base carries any
 * version path (http://localhost:8000/v1); a full endpoint is kept. */
static char *
endpoint(const struct prov_ctx *c)
{
	static const char tail[] = "/chat/completions";
	size_t n = strlen(c->base_url);

	if (n >= sizeof(tail) - 1 && strcmp(c->base_url + n - (sizeof(tail) - 1), tail) == 0)
		return xstrdup(c->base_url);
	return xasprintf("%s%s", c->base_url, tail);
}

static json_t *
user_message(const struct prompt_msg *m, int image)
{
	if (!image)
		return json_pack("{s:s, s:s}", "role", "user", "content", m->user);
	return json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:{s:o}}]}", "role", "user", "content",
	    "type", "text", "text", m->user,
	    "type", "image_url", "image_url", "url", ps_image_slot());
}

static int
openai_build(void *pctx, struct eng_task *t, struct eng_http *h, json_t **result,
    struct eng_err *e)
{
	struct prov_ctx *c = pctx;
	struct prompt_msg m;
	char err[400], *img = NULL, *hdr, *prefix = NULL;
	const char *mime = NULL;
	json_t *doc, *msgs;
	double temp;
	int r = -1;

	if (prompt_render(c->prompt, t->rec, &m, err, sizeof(err)) < 0) {
		ps_err(c, e, EC_PERM, 0, "%s", err);
		return -1;
	}
	if (ps_temperature(c, t->rec, &temp, e) < 0)
		goto out;
	if (c->analyze && ps_image(c, t->rec, &img, &mime, e) < 0)
		goto out;
	msgs = json_array();
	if (*m.system)
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
		    "content", m.system));
	json_array_append_new(msgs, user_message(&m, img != NULL));
	doc = json_pack("{s:s, s:o, s:f, s:I, s:b}", "model", c->model, "messages", msgs,
	    "temperature", temp, "max_tokens", (json_int_t)c->max_tokens, "stream", 0);
	/* JSON mode only when the prompt asks for JSON: DeepSeek refuses JSON
	 * mode without the word "json" in the prompt. */
	if (m.json)
		json_object_set_new(doc, "response_format", json_pack("{s:s}", "type", "json_object"));
	/* Only DeepSeek knows this switch; other servers may reject it. */
	if (c->deepseek)
		json_object_set_new(doc, "thinking", json_pack("{s:s}", "type", "disabled"));

	h->body = body_new();
	if (img)
		prefix = xasprintf("data:%s;base64,", mime);
	if (ps_body_json(h->body, doc, prefix, img) < 0) {
		ps_err(c, e, EC_PERM, 0, "cannot read the image from the object store");
		json_decref(doc);
		body_free(h->body);
		h->body = NULL;
		goto out;
	}
	json_decref(doc);
	h->url = endpoint(c);
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (c->key) {
		hdr = xasprintf("Authorization: Bearer %s", c->key);
		h->headers = curl_slist_append(h->headers, hdr);
		free(hdr);
	}
	t->tokens = ps_tokens(c, &m, img != NULL);
	r = 0;
out:
	free(prefix);
	free(img);
	prompt_msg_free(&m);
	return r;
}

/* ---- errors ---- */

/* The error bodies met in the wild: OpenAI's and DeepSeek's {"error":
 * {message, type, code}}, llama.cpp's numeric code, vLLM's flat
 * {"object":"error", ...}, Ollama's {"error":"text"}, FastAPI's detail. */
struct oerr {
	const char *message, *type, *code;
	long ncode;
};

static void
oerr_get(json_t *doc, struct oerr *o)
{
	json_t *err = json_object_get(doc, "error"), *src = NULL, *code;
	const char *obj = json_string_value(json_object_get(doc, "object"));

	memset(o, 0, sizeof(*o));
	if (json_is_object(err))
		src = err;
	else if (json_is_string(err))
		o->message = json_string_value(err);
	else if (obj && strcmp(obj, "error") == 0)
		src = doc;
	else if (json_is_string(json_object_get(doc, "detail")))
		o->message = json_string_value(json_object_get(doc, "detail"));
	if (!src)
		return;
	o->message = json_string_value(json_object_get(src, "message"));
	o->type = json_string_value(json_object_get(src, "type"));
	code = json_object_get(src, "code");
	if (json_is_string(code))
		o->code = json_string_value(code);
	else if (json_is_integer(code))
		o->ncode = (long)json_integer_value(code);
}

static int
is(const char *s, const char *want)
{
	return s && strcmp(s, want) == 0;
}

static void
openai_error(const struct prov_ctx *c, long s, const struct eng_resp *r, json_t *doc,
    struct eng_err *e)
{
	struct oerr o;
	char msg[256], code[96];
	const char *env = c->key_env ? c->key_env : "the key variable";
	enum eng_class cls;

	oerr_get(doc, &o);
	if (o.message)
		ps_clip(c, o.message, strlen(o.message), msg, sizeof(msg));
	else
		ps_clip(c, r->body, r->len, msg, sizeof(msg));
	if (!*msg)
		snprintf(msg, sizeof(msg), "no details");
	snprintf(code, sizeof(code), "%ld%s%.80s", s, o.code || o.type ? " " : "",
	    o.code ? o.code : o.type ? o.type : "");
	if (s == 401) {
		if (c->key)
			ps_err(c, e, EC_FATAL, s, "invalid API key (%s)", env);
		else
			ps_err(c, e, EC_FATAL, s, "the server wants an API key: name the variable "
			    "that holds it with --api-key-env (%s is sent to DeepSeek only)",
			    "DEEPSEEK_API_KEY");
		return;
	}
	if (s == 402) {
		ps_err(c, e, EC_FATAL, s, "insufficient balance: %s", msg);
		return;
	}
	if (s == 429 && (is(o.code, "insufficient_quota") || is(o.type, "insufficient_quota"))) {
		ps_err(c, e, EC_FATAL, s, "out of credit (insufficient_quota): %s", msg);
		return;
	}
	if (s == 429) {
		if (r->retry_after >= 0)
			ps_err(c, e, EC_RATE, s, "%s", code);   /* the stage says when */
		else
			ps_err(c, e, EC_RATE, s, "%s: %s", code, msg);
		e->retry_after = r->retry_after;
		return;
	}
	if (s == 404) {
		if (is(o.code, "model_not_found") || (o.message && strstr(o.message, "model")))
			ps_err(c, e, EC_FATAL, s, "unknown model %s (%s: %s)", c->model, code, msg);
		else
			ps_err(c, e, EC_FATAL, s, "%s at %s (check --base-url): %s", code, c->base_url, msg);
		return;
	}
	if (s == 403) {
		ps_err(c, e, EC_FATAL, s, "%s: %s", code, msg);
		return;
	}
	cls = s == 408 || s >= 500 ? EC_RETRY : EC_PERM;
	/* x-should-retry is the server's word on this very answer. */
	if (r->should_retry == 1)
		cls = EC_RETRY;
	else if (r->should_retry == 0)
		cls = EC_PERM;
	ps_err(c, e, cls, s, "%s: %s", code, msg);
}

/* ---- answers ---- */

static json_t *
usage_of(json_t *doc)
{
	json_t *u = json_object_get(doc, "usage"), *hit;

	if (!json_is_object(u))
		return NULL;
	/* DeepSeek names its cache hits; OpenAI and vLLM put them in details. */
	hit = json_object_get(u, "prompt_cache_hit_tokens");
	if (!hit)
		hit = json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens");
	return ps_usage(json_integer_value(json_object_get(u, "prompt_tokens")),
	    json_integer_value(json_object_get(u, "completion_tokens")), json_integer_value(hit));
}

/* message.content: a string, or (some servers) an array of text parts. */
static char *
content_text(json_t *msg)
{
	json_t *v = json_object_get(msg, "content"), *p;
	struct buf b = {0};
	size_t i;
	const char *s;

	buf_adds(&b, "");
	if (json_is_string(v))
		buf_adds(&b, json_string_value(v));
	else
		json_array_foreach(v, i, p)
			if ((s = json_string_value(json_object_get(p, "text"))))
				buf_adds(&b, s);
	return b.p;
}

/* The answer must be a JSON object: a cut one is useless. */
static int
wants_json(const struct prov_ctx *c, json_t *rec)
{
	const struct prompt_format *f = prompt_format(prompt_job_format(rec));
	return c->analyze || (f && f->json);
}

static int
openai_parse(void *pctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e)
{
	struct prov_ctx *c = pctx;
	json_t *doc, *choice;
	const char *finish;
	char *text;
	int rc;

	/* A held request gets blank lines before the body, or only them. */
	if ((r->status >= 200 && r->status < 300) && ps_blank(r->body, r->len)) {
		ps_err(c, e, EC_RETRY, r->status, "empty response body (the server held the request and gave up)");
		return -1;
	}
	doc = ps_load(r->body, r->len);
	if (r->status < 200 || r->status > 299) {
		openai_error(c, r->status, r, doc, e);
		json_decref(doc);
		return -1;
	}
	if (!doc) {
		char clip[128];
		ps_clip(c, r->body, r->len, clip, sizeof(clip));
		ps_err(c, e, EC_RETRY, r->status, "response is not JSON: %s", clip);
		return -1;
	}
	if (usage)
		*usage = usage_of(doc);
	choice = json_array_get(json_object_get(doc, "choices"), 0);
	if (!choice) {
		if (json_object_get(doc, "error")) {
			/* an error inside a 200: trust its numeric code if it has one */
			struct oerr o;
			oerr_get(doc, &o);
			openai_error(c, o.ncode >= 400 && o.ncode < 600 ? o.ncode : 500, r, doc, e);
		} else
			ps_err(c, e, EC_RETRY, r->status, "the answer has no choices");
		json_decref(doc);
		return -1;
	}
	finish = json_string_value(json_object_get(choice, "finish_reason"));
	if (is(finish, "insufficient_system_resource") || is(finish, "content_filter") ||
	    (is(finish, "length") && wants_json(c, t->rec))) {
		if (is(finish, "content_filter"))
			ps_err(c, e, EC_PERM, r->status, "answer withheld by the content filter");
		else if (is(finish, "length"))
			ps_err(c, e, EC_RETRY, r->status, "answer truncated at max_tokens (%ld)",
			    c->max_tokens);
		else
			ps_err(c, e, EC_RETRY, r->status,
			    "the server ran out of resources mid-answer (insufficient_system_resource)");
		json_decref(doc);
		return -1;
	}
	text = content_text(json_object_get(choice, "message"));
	rc = ps_finish(c, t->rec, text, ps_meta(c, json_string_value(json_object_get(doc, "model")),
	    finish ? finish : "stop"), result, e);
	free(text);
	json_decref(doc);
	return rc;
}

const struct provider openai_provider = {
	"openai", openai_build, openai_parse,
};
