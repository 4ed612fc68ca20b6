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
user_message(const struct prov_ctx *c, const struct prompt_msg *m, int image)
{
	static const char *const detail[] = {
		[MODELS_RES_LOW] = "low", [MODELS_RES_HIGH] = "high", [MODELS_RES_AUTO] = "auto"
	};
	json_t *u;

	if (!image)
		return json_pack("{s:s, s:s}", "role", "user", "content", m->user);
	u = json_pack("{s:o}", "url", ps_image_slot());
	if ((c->res == MODELS_RES_LOW || c->res == MODELS_RES_HIGH || c->res == MODELS_RES_AUTO))
		json_object_set_new(u, "detail", json_string(detail[c->res]));
	return json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:o}]}", "role", "user", "content",
	    "type", "text", "text", m->user, "type", "image_url", "image_url", u);
}

static json_t *
request(const struct prov_ctx *c, const struct ps_req *q, struct eng_err *e)
{
	json_t *doc, *msgs = json_array();

	if (*q->m->system)
		json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
		    "content", q->m->system));
	json_array_append_new(msgs, user_message(c, q->m, q->mime != NULL));
	doc = json_pack("{s:s, s:o}", "model", c->model, "messages", msgs);
	/* a model that ignores temperature (or refuses one: gpt-5-mini) gets none */
	if (!c->no_temperature)
		json_object_set_new(doc, "temperature", json_real(q->temp));
	json_object_set_new(doc, "max_tokens", json_integer((json_int_t)c->max_tokens));
	json_object_set_new(doc, "stream", json_false());
	if (c->tier == MODELS_FLEX)
		json_object_set_new(doc, "service_tier", json_string("flex"));
	/* JSON mode only when the prompt asks for JSON: DeepSeek refuses JSON
	 * mode without the word "json" in the prompt. */
	if (q->m->json)
		json_object_set_new(doc, "response_format", json_pack("{s:s}", "type", "json_object"));
	/* Only DeepSeek knows this switch; other servers may reject it. */
	if (c->deepseek)
		json_object_set_new(doc, "thinking", json_pack("{s:s}", "type", "disabled"));
	return doc;
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

/* OpenAI's flex 429: code or type resource_unavailable, or its words. */
static int
unavailable(const struct oerr *o)
{
	return is(o->code, "resource_unavailable") || is(o->type, "resource_unavailable") ||
	    (o->message && strcasestr(o->message, "resource unavailable"));
}

static void
error(const struct prov_ctx *c, long s, const struct eng_resp *r, json_t *doc, struct eng_err *e)
{
	struct oerr o;
	char msg[256], code[96];
	const char *env = c->key_env ? c->key_env : "the key variable";

	oerr_get(doc, &o);
	ps_errtext(c, o.message, r, msg, sizeof(msg));
	snprintf(code, sizeof(code), "%ld%s%.80s", s, o.code || o.type ? " " : "",
	    o.code ? o.code : o.type ? o.type : "");
	if (s == 401 && c->key)
		ps_err(c, e, EC_FATAL, s, "invalid API key (%s)", env);
	else if (s == 401)
		ps_err(c, e, EC_FATAL, s, "the server wants an API key: name the variable "
		    "that holds it with --api-key-env (%s is sent to DeepSeek only)",
		    "DEEPSEEK_API_KEY");
	else if (s == 402)
		ps_err(c, e, EC_FATAL, s, "insufficient balance: %s", msg);
	else if (s == 429 && (is(o.code, "insufficient_quota") || is(o.type, "insufficient_quota")))
		ps_err(c, e, EC_FATAL, s, "out of credit (insufficient_quota): %s", msg);
	else if (s == 429 && unavailable(&o)) {
		/* flex's own "Resource Unavailable": no capacity for best-effort
		 * work now, which is not the account's rate limit */
		ps_err(c, e, EC_RATE, s, "%s: flex request shed (no capacity now; asked again "
		    "later, the account's rate is not cut): %s", code, msg);
		e->shed = 1;
		e->retry_after = r->retry_after;
	}
	else if (s == 404 && (is(o.code, "model_not_found") || (o.message && strstr(o.message, "model"))))
		ps_err(c, e, EC_FATAL, s, "unknown model %s (%s: %s)", c->model, code, msg);
	else if (s == 404)
		ps_err(c, e, EC_FATAL, s, "%s at %s (check --base-url): %s", code, c->base_url, msg);
	else
		ps_http_err(c, e, s, code, msg, s == 429 ? r->retry_after : -1, r->should_retry);
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

/* The first choice's text, unless it was cut or withheld. */
static char *
answer(const struct prov_ctx *c, json_t *rec, const struct eng_resp *r, json_t *doc,
    const char **finish, struct eng_err *e)
{
	json_t *choice = json_array_get(json_object_get(doc, "choices"), 0);
	const char *f;
	struct oerr o;

	if (!choice) {
		if (json_object_get(doc, "error")) {
			/* an error inside a 200: trust its numeric code if it has one */
			oerr_get(doc, &o);
			error(c, o.ncode >= 400 && o.ncode < 600 ? o.ncode : 500, r, doc, e);
		} else
			ps_err(c, e, EC_RETRY, r->status, "the answer has no choices");
		return NULL;
	}
	f = json_string_value(json_object_get(choice, "finish_reason"));
	if (is(f, "content_filter")) {
		ps_err(c, e, EC_PERM, r->status, "answer withheld by the content filter");
		return NULL;
	}
	/* cut off is not done, JSON or text: the same as Gemini's MAX_TOKENS */
	if (is(f, "length")) {
		ps_err(c, e, EC_RETRY, r->status, "answer truncated at max_tokens (%ld): the output "
		    "limit; raise it with --max-tokens", c->max_tokens);
		return NULL;
	}
	if (is(f, "insufficient_system_resource")) {
		ps_err(c, e, EC_RETRY, r->status,
		    "the server ran out of resources mid-answer (insufficient_system_resource)");
		return NULL;
	}
	*finish = f ? f : "stop";
	return content_text(json_object_get(choice, "message"));
}

/* OpenAI echoes the tier that served the request ("default", "flex",
 * "priority"); servers that do not, leave it to the tier asked for. */
static const char *
served(json_t *doc)
{
	return json_string_value(json_object_get(doc, "service_tier"));
}

/* "created": seconds since the epoch, when the server made the answer:
 * DeepSeek bills by the hour it did. */
static int64_t
made(json_t *doc)
{
	json_t *v = json_object_get(doc, "created");
	json_int_t s = json_is_integer(v) ? json_integer_value(v) : 0;
	return s > 0 && s < 253402300799 ? (int64_t)s * 1000 : 0;
}

const struct ps_wire openai_wire = {
	.request = request, .data_url = 1, .url = endpoint, .key_header = "Authorization: Bearer ",
	/* a held request gets blank lines before the body, or only them */
	.empty = "empty response body (the server held the request and gave up)",
	.error = error, .usage = usage_of, .answer = answer, .model_field = "model",
	.served = served, .made = made,
};

const struct provider openai_provider = {
	"openai", ps_build, ps_parse,
};
