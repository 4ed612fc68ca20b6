/* provshared: the parts of a provider that do not depend on its wire
 * format, and the frame of a request and its answer around one. */
#include "providers/provshared.h"
#include "content/schema.h"
#include "core/netsafe.h"
#include "core/store.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* No key vj holds and no password in a URL: a server may echo what it
 * got, and a message is printed and journaled. */
static void
redact(char *s)
{
	secret_scrub(s);
	netsafe_strip_userinfo(s);
}

void
ps_err(const struct prov_ctx *c, struct eng_err *e, enum eng_class cls, long status,
    const char *fmt, ...)
{
	char msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	eng_seterr(e, cls, "%s: %s", c && c->label ? c->label : "provider", msg);
	redact(e->msg);
	e->status = status;
	e->retry_after = -1;
	e->shed = 0;
}

static int
is_sha256(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return i == 64;
}

int
ps_image(const struct prov_ctx *c, json_t *rec, char **path, const char **mime, struct eng_err *e)
{
	json_t *img = json_object_get(rec, "image");
	const char *sha = json_string_value(json_object_get(img, "sha256"));
	struct stat st;

	*path = NULL;
	if (!sha || !is_sha256(sha)) {
		ps_err(c, e, EC_PERM, 0, "the record has no stored image (run vj-ingest first)");
		return -1;
	}
	*mime = json_string_value(json_object_get(img, "mime"));
	if (!*mime || strncmp(*mime, "image/", 6) != 0 || strpbrk(*mime, "\";\\ "))
		*mime = "image/jpeg";
	*path = store_path(c->run, sha);
	if (stat(*path, &st) < 0) {
		ps_err(c, e, EC_PERM, 0, "image %.12s is not in the object store: %s", sha,
		    strerror(errno));
		goto bad;
	}
	if (c->max_image_bytes && (size_t)st.st_size > c->max_image_bytes) {
		ps_err(c, e, EC_PERM, 0, "image is %lld bytes, over the %zu-byte cap of an inline image",
		    (long long)st.st_size, c->max_image_bytes);
		goto bad;
	}
	return 0;
bad:
	free(*path);
	*path = NULL;
	return -1;
}

/* NUL bytes cannot come from a C string, so this text cannot collide with
 * a prompt: jansson writes it as "\u0000vj-image\u0000". */
static const char slot[] = "\0vj-image\0";
static const char slot_json[] = "\"\\u0000vj-image\\u0000\"";

json_t *
ps_image_slot(void)
{
	return json_stringn(slot, sizeof(slot) - 1);
}

/* Body = doc as JSON, its image slot (if any) replaced by PREFIX and the
 * base64 of the file at PATH.  -1 when the file cannot be read. */
static int
json_body(struct body *b, json_t *doc, const char *prefix, const char *path, const char *sha)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *at;
	int r = 0;

	if (!s)
		return -1;
	if (path && (at = strstr(s, slot_json))) {
		body_add(b, s, (size_t)(at - s));
		body_adds(b, "\"");
		body_adds(b, prefix ? prefix : "");
		r = body_add_b64file(b, path, sha);
		body_adds(b, "\"");
		body_adds(b, at + sizeof(slot_json) - 1);
	} else
		body_adds(b, s);
	free(s);
	return r;
}

/* job.creativityLevel (default 1.0) as a temperature; -1 with e set. */
static int
temperature(const struct prov_ctx *c, json_t *rec, double *temp, struct eng_err *e)
{
	json_t *v = json_object_get(json_object_get(rec, "job"), "creativityLevel");

	*temp = 1.0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 2 ||
	    isnan(json_number_value(v))) {
		ps_err(c, e, EC_PERM, 0, "job.creativityLevel must be a number from 0 to 2");
		return -1;
	}
	*temp = json_number_value(v);
	return 0;
}

/* A rough token count of a request for the tokens-per-minute limiter. */
static long
tokens(const struct prov_ctx *c, const struct prompt_msg *m, int image)
{
	/* About four characters a token; an image is some hundreds of tokens
	 * (Gemini: 258 a tile); the answer is rarely near max_tokens. */
	size_t chars = strlen(m->system) + strlen(m->user);
	return (long)(chars / 4) + (image ? 1100 : 0) + c->max_tokens / 4;
}

/* 1 when the body holds only whitespace. */
static int
blank(const char *p, size_t len)
{
	for (size_t i = 0; p && i < len; i++)
		if (!isspace((unsigned char)p[i]))
			return 0;
	return 1;
}

/* Server text fit for a one-line message: printable, short, no key and
 * no password.  They are taken out before the text is cut short, so that
 * no part of one is left at the cut. */
static void
clip(const struct prov_ctx *c, const char *s, size_t len, char *out, size_t n)
{
	size_t o = 0, i, max = n > 200 ? 200 : n, take = len < 65536 ? len : 65536;
	char *t;
	int sp = 0, cut = len > take;

	if (n < 8) {
		if (n)
			*out = '\0';
		return;
	}
	t = xmalloc(take + 1);
	for (i = 0; i < take; i++)
		t[i] = s[i] ? s[i] : ' ';
	t[take] = '\0';
	redact(t);
	take = strlen(t);
	for (i = 0; i < take; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (isspace(ch) || ch < 32 || ch == 127) {
			sp = o > 0;
			continue;
		}
		if (o + sp + 1 > max - 4)
			break;
		if (sp)
			out[o++] = ' ';
		sp = 0;
		out[o++] = (char)ch;
	}
	if (i < take || cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	free(t);
}

/* Parse a response body, leading whitespace allowed.  NULL when not JSON. */
static json_t *
load(const char *p, size_t len)
{
	while (len && isspace((unsigned char)*p))
		p++, len--;
	return len ? json_loadb(p, len, 0, NULL) : NULL;
}

json_t *
ps_meta(const struct prov_ctx *c, const char *model_version, const char *finish)
{
	json_t *m = json_pack("{s:s, s:s}", "provider", c->name, "model", c->model);

	if (model_version && *model_version)
		json_object_set_new(m, "model_version", json_string(model_version));
	if (finish && *finish)
		json_object_set_new(m, "finish_reason", json_string(finish));
	return m;
}

json_t *
ps_usage(json_int_t prompt, json_int_t completion, json_int_t cached)
{
	return json_pack("{s:I, s:I, s:I}", "prompt", prompt, "completion", completion,
	    "cached", cached);
}

/* The JSON object in a model's text: fences and chatter around it are
 * tolerated, a model may add them even in JSON mode. */
static json_t *
text_json(const char *text, char *why, size_t n)
{
	const char *b = strchr(text, '{'), *e = strrchr(text, '}');
	json_error_t je;
	json_t *v;

	if (!b || !e || e < b) {
		snprintf(why, n, "the answer holds no JSON object");
		return NULL;
	}
	if (!(v = json_loadb(b, (size_t)(e - b + 1), 0, &je)))
		snprintf(why, n, "the answer is not valid JSON (%s at column %d)", je.text, je.column);
	return v;
}

static char *
trim(const char *s)
{
	const char *e = s + strlen(s);

	while (isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	return xstrndup(s, (size_t)(e - s));
}

/* The common end: the model's TEXT becomes the result (analysis checked
 * against the schema, a JSON format against its own), or EC_RETRY naming
 * what was wrong.  meta is taken. */
static int
finish_text(const struct prov_ctx *c, json_t *rec, const char *text, json_t *meta, json_t **result,
    struct eng_err *e)
{
	const char *format;
	const struct prompt_format *f;
	char why[320];
	json_t *v, *content;
	char *s;

	if (blank(text, strlen(text))) {
		ps_err(c, e, EC_RETRY, 200, "the answer is empty");
		goto bad;
	}
	if (c->analyze) {
		if (!(v = text_json(text, why, sizeof(why)))) {
			ps_err(c, e, EC_RETRY, 200, "%s", why);
			goto bad;
		}
		if (schema_validate(v, why, sizeof(why)) < 0) {
			ps_err(c, e, EC_RETRY, 200, "the answer violates the analysis schema: %s", why);
			json_decref(v);
			goto bad;
		}
		*result = json_pack("{s:o, s:o}", "analysis", v, "meta", meta);
		return 0;
	}
	format = prompt_job_format(rec);
	f = prompt_format(format);
	content = json_pack("{s:s}", "format", format);
	if (f && f->json) {
		if (!(v = text_json(text, why, sizeof(why))) ||
		    prompt_check_data(f, v, why, sizeof(why)) < 0) {
			ps_err(c, e, EC_RETRY, 200, "%s answer: %s", format, why);
			json_decref(v);
			json_decref(content);
			goto bad;
		}
		json_object_set_new(content, "text", json_string(s = prompt_data_text(f, v)));
		json_object_set_new(content, "data", v);
	} else
		json_object_set_new(content, "text", json_string(s = trim(text)));
	free(s);
	*result = json_pack("{s:o, s:o}", "content", content, "meta", meta);
	return 0;
bad:
	json_decref(meta);
	return -1;
}

void
ps_errtext(const struct prov_ctx *c, const char *message, const struct eng_resp *r, char *out,
    size_t n)
{
	if (message)
		clip(c, message, strlen(message), out, n);
	else
		clip(c, r->body, r->len, out, n);
	if (!*out)
		snprintf(out, n, "no details");
}

void
ps_http_err(const struct prov_ctx *c, struct eng_err *e, long s, const char *code,
    const char *msg, double delay, int should_retry)
{
	enum eng_class cls;

	if (s == 401 || s == 403) {
		ps_err(c, e, EC_FATAL, s, "%s: %s", code, msg);
		return;
	}
	if (s == 429) {
		if (delay >= 0)
			ps_err(c, e, EC_RATE, s, "%s", code);   /* the stage says when */
		else
			ps_err(c, e, EC_RATE, s, "%s: %s", code, msg);
		e->retry_after = delay;
		return;
	}
	cls = s == 408 || s >= 500 ? EC_RETRY : EC_PERM;
	/* x-should-retry is the server's word on this very answer. */
	if (should_retry == 1)
		cls = EC_RETRY;
	else if (should_retry == 0)
		cls = EC_PERM;
	ps_err(c, e, cls, s, "%s: %s", code, msg);
}

/* ---- the frame around a wire format ---- */

int
ps_build(void *ctx, struct eng_task *t, struct eng_http *h, json_t **result, struct eng_err *e)
{
	const struct prov_ctx *c = ctx;
	const struct ps_wire *w = c->wire;
	struct prompt_msg m;
	struct ps_req q = { &m, 1.0, NULL };
	char err[400], *img = NULL, *hdr, *prefix = NULL;
	json_t *doc;
	int r = -1;

	if (prompt_render(c->prompt, t->rec, &m, err, sizeof(err)) < 0) {
		ps_err(c, e, EC_PERM, 0, "%s", err);
		return -1;
	}
	if (temperature(c, t->rec, &q.temp, e) < 0)
		goto out;
	if (c->analyze && ps_image(c, t->rec, &img, &q.mime, e) < 0)
		goto out;
	if (!(doc = w->request(c, &q, e)))
		goto out;
	h->body = body_new();
	if (img && w->data_url)
		prefix = xasprintf("data:%s;base64,", q.mime);
	if (json_body(h->body, doc, prefix, img,
	    json_string_value(json_object_get(json_object_get(t->rec, "image"), "sha256"))) < 0) {
		ps_err(c, e, EC_PERM, 0, "cannot read the image from the object store");
		json_decref(doc);
		body_free(h->body);
		h->body = NULL;
		goto out;
	}
	json_decref(doc);
	h->url = w->url(c);
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* The key goes in a header, never the URL: URLs end up in logs. */
	if (c->key) {
		hdr = xasprintf("%s%s", w->key_header, c->key);
		h->headers = curl_slist_append(h->headers, hdr);
		free(hdr);
	}
	t->tokens = tokens(c, &m, img != NULL);
	r = 0;
out:
	free(prefix);
	free(img);
	prompt_msg_free(&m);
	return r;
}

/* The usage gets what bills it: the tier that served the answer (as the
 * answer says, else the one asked for) and when the provider made it (as
 * the answer says, unless that is a day or more off this clock, else now). */
static void
stamp(const struct prov_ctx *c, json_t *doc, json_t *usage)
{
	const struct ps_wire *w = c->wire;
	const char *s = w->served ? w->served(doc) : NULL;
	int tier = s ? models_tier_parse(s) : -1;
	int64_t now = price_now_ms(), t = w->made ? w->made(doc) : 0;
	char raw[24];
	size_t i;

	if (tier < 0 && s && *s) {
		/* a tier the table has no price for (OpenAI's "priority"): kept
		 * as the server named it, billed as standard */
		for (i = 0; s[i] && i < sizeof raw - 1; i++)
			raw[i] = (s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ? s[i] : '_';
		raw[i] = '\0';
		json_object_set_new(usage, "tier", json_string(raw));
	} else
		json_object_set_new(usage, "tier", json_string(models_tier_name(
		    tier < 0 ? c->tier : (enum models_tier)tier)));
	if (t <= 0 || t > now + 86400000 || t < now - 86400000)
		t = now;
	json_object_set_new(usage, "t", json_integer(t));
}

static const char echo_msg[] = "the answer contains the API key vj sent (the server echoes "
    "it): nothing of the answer is kept";

/* 1 when the result, as it would be journaled, holds a secret: a key
 * written with JSON escapes in the answer is one once decoded. */
static int
echoed(json_t *result)
{
	char *s = json_dumps(result, JSON_COMPACT);
	int r = !s || secret_in(s, strlen(s));

	free(s);
	return r;
}

/* Seconds before asking again for a request shed on its tries'th send:
 * 1, 2, 4 ... 60, as the engine's own backoff. */
static double
shed_delay(int tries)
{
	double d = 1;
	for (int i = 1; i < tries && d < 60; i++)
		d *= 2;
	return d < 60 ? d : 60;
}

int
ps_parse(void *ctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e)
{
	const struct prov_ctx *c = ctx;
	const struct ps_wire *w = c->wire;
	const char *finish;
	json_t *doc;
	char *text, why[128];
	int rc;

	if (r->status >= 300 && r->status <= 399) {
		/* a moved gateway, or http to https: every request would get the
		 * same, so it is the configuration that is wrong, not the job */
		char where[256];
		clip(c, r->location ? r->location : "", r->location ? strlen(r->location) : 0,
		    where, sizeof(where));
		ps_err(c, e, EC_FATAL, r->status, "the server answers HTTP %ld, a redirect to %s: "
		    "vj does not follow a provider's redirects; check --base-url (%s)", r->status,
		    *where ? where : "(no Location)", c->base_url);
		return -1;
	}
	if (r->status < 200 || r->status > 299) {
		doc = load(r->body, r->len);
		w->error(c, r->status, r, doc, e);
		json_decref(doc);
		/* a shed request is asked again later, later each time (it is
		 * not an attempt, and the limiter is not slowed for it) */
		if (e->shed && e->retry_after < 0)
			e->retry_after = shed_delay(t->tries);
		return -1;
	}
	if (blank(r->body, r->len)) {
		ps_err(c, e, EC_RETRY, r->status, "%s", w->empty);
		return -1;
	}
	/* an answer that holds a key would put it in the journal, the records
	 * and the shards: none of it is kept */
	if (secret_in(r->body, r->len)) {
		ps_err(c, e, EC_PERM, r->status, "%s", echo_msg);
		return -1;
	}
	if (!(doc = load(r->body, r->len))) {
		clip(c, r->body, r->len, why, sizeof(why));
		ps_err(c, e, EC_RETRY, r->status, "response is not JSON: %s", why);
		return -1;
	}
	if (usage && (*usage = w->usage(doc)))
		stamp(c, doc, *usage);
	if (!(text = w->answer(c, t->rec, r, doc, &finish, e))) {
		json_decref(doc);
		return -1;
	}
	rc = finish_text(c, t->rec, text, ps_meta(c, json_string_value(json_object_get(doc,
	    w->model_field)), finish), result, e);
	free(text);
	json_decref(doc);
	if (rc == 0 && echoed(*result)) {
		json_decref(*result);
		*result = NULL;
		ps_err(c, e, EC_PERM, r->status, "%s", echo_msg);
		return -1;
	}
	return rc;
}
