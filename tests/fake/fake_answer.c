/*
 * fake_answer.c: the bodies the fake sends, in the Gemini and the
 * OpenAI/DeepSeek wire formats (see docs on the providers' formats).
 *
 * Success answers are a function of the job id alone, so a retried or
 * repeated request gets the same answer and tests can compare outputs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *fake_w_colors[] = { "deep navy", "warm white", "coral red",
	"sage green", "mustard yellow", "charcoal gray", "sky blue", "terracotta",
	"soft lavender", "forest green", "blush pink", "golden amber", "slate blue",
	"cream", "burnt orange", "teal" };
static const char *fake_w_objects[] = { "coffee cup", "laptop", "potted plant",
	"bicycle", "storefront", "smartphone", "notebook", "sneakers", "glass bottle",
	"city skyline", "mountain range", "dog", "wooden chair", "desk lamp",
	"stack of books", "wristwatch" };
static const char *fake_w_shapes[] = { "circles", "rectangles", "organic curves",
	"diagonal lines", "triangles", "grid", "rounded corners", "waves" };
static const char *fake_w_text[] = { "", "SALE 50% OFF", "Open daily", "Fresh & local",
	"Since 1998", "Join us today" };
static const char *fake_w_icons[] = { "arrow", "heart", "star", "leaf", "checkmark",
	"shopping cart", "location pin", "play button" };
static const char *fake_w_mood[] = { "calm", "energetic", "playful", "serious",
	"nostalgic", "luxurious", "friendly", "bold" };
static const char *fake_w_tone[] = { "warm", "cool", "neutral", "vibrant", "muted",
	"professional", "whimsical" };
static const char *fake_w_energy[] = { "low", "medium", "high" };
static const char *fake_w_layout[] = { "centered", "rule of thirds", "symmetrical",
	"grid-based", "diagonal", "asymmetrical" };
static const char *fake_w_balance[] = { "symmetrical", "asymmetrical", "radial",
	"balanced", "top-heavy" };
static const char *fake_w_space[] = { "minimal", "moderate", "generous", "dominant" };
static const char *fake_w_lighting[] = { "soft natural light", "hard studio light",
	"golden hour", "backlit", "low key", "high key", "overcast and diffuse" };
static const char *fake_w_style[] = { "flat illustration", "product photography",
	"minimalist", "vintage film", "editorial", "3D render", "lifestyle photography" };
static const char *fake_w_texture[] = { "smooth", "grainy", "matte", "glossy",
	"paper-like", "soft focus" };
static const char *fake_w_industry[] = { "food and beverage", "technology", "fashion",
	"travel", "fitness", "finance", "home decor", "education" };
static const char *fake_w_audience[] = { "young professionals", "families", "students",
	"outdoor enthusiasts", "small business owners", "retirees", "teenagers" };
static const char *fake_w_personality[] = { "approachable", "innovative", "trustworthy",
	"adventurous", "sophisticated", "playful" };
static const char *fake_w_premium[] = { "budget", "mid-range", "premium", "luxury" };

#define PICK(st, a) (a[fake_rand(st) % N(a)])

/* echokey: the key the request carried, put into the answer's text */
static const char *fake_echo;

static json_t *
fake_pick_list(uint64_t *st, const char **w, size_t nw, int min, int max)
{
	json_t *a = json_array();
	int n = min + (int)(fake_rand(st) % (uint64_t)(max - min + 1)), i;
	size_t first = fake_rand(st) % nw;

	/* Consecutive entries from a random start: no duplicates. */
	for (i = 0; i < n && (size_t)i < nw; i++)
		json_array_append_new(a, json_string(w[(first + (size_t)i) % nw]));
	return a;
}

/* The analysis object; `broken` makes it violate the schema on purpose. */
json_t *
fake_analysis(const char *job, int broken)
{
	uint64_t st = fake_hash(job, strlen(job));
	json_t *colors, *o = json_object();
	char desc[256];
	const char *mood = PICK(&st, fake_w_mood), *obj;

	colors = json_object();
	json_object_set_new(colors, "primary", fake_pick_list(&st, fake_w_colors, N(fake_w_colors), 1, 3));
	json_object_set_new(colors, "secondary", fake_pick_list(&st, fake_w_colors, N(fake_w_colors), 1, 3));
	json_object_set_new(colors, "accent", fake_pick_list(&st, fake_w_colors, N(fake_w_colors), 0, 2));
	snprintf(desc, sizeof(desc), "A %s palette led by %s with %s accents.%s%.100s", mood,
	    json_string_value(json_array_get(json_object_get(colors, "primary"), 0)),
	    PICK(&st, fake_w_colors), fake_echo ? " Key: " : "", fake_echo ? fake_echo : "");
	json_object_set_new(colors, "description", json_string(desc));
	if (broken)	/* the classic model mistake: a string where a list belongs */
		json_object_set_new(colors, "primary", json_string("blue"));
	json_object_set_new(o, "colors", colors);

	json_t *ve = json_object();
	json_t *objs = fake_pick_list(&st, fake_w_objects, N(fake_w_objects), 1, 4);
	obj = json_string_value(json_array_get(objs, 0));
	json_object_set_new(ve, "objects", objs);
	json_object_set_new(ve, "shapes", fake_pick_list(&st, fake_w_shapes, N(fake_w_shapes), 1, 3));
	json_object_set_new(ve, "text", json_string(PICK(&st, fake_w_text)));
	json_object_set_new(ve, "icons", fake_pick_list(&st, fake_w_icons, N(fake_w_icons), 0, 2));
	json_object_set_new(o, "visual_elements", ve);

	if (!broken)
		json_object_set_new(o, "mood_and_tone", json_pack("{s:s,s:s,s:s}",
		    "mood", mood, "tone", PICK(&st, fake_w_tone),
		    "energy_level", PICK(&st, fake_w_energy)));

	snprintf(desc, sizeof(desc), "the %s", obj);
	json_object_set_new(o, "composition", json_pack("{s:s,s:s,s:s,s:s}",
	    "layout", PICK(&st, fake_w_layout), "balance", PICK(&st, fake_w_balance),
	    "focal_point", desc, "negative_space", PICK(&st, fake_w_space)));
	json_object_set_new(o, "lighting_and_style", json_pack("{s:s,s:s,s:s}",
	    "lighting", PICK(&st, fake_w_lighting), "style", PICK(&st, fake_w_style),
	    "texture", PICK(&st, fake_w_texture)));
	json_object_set_new(o, "brand_insights", json_pack("{s:s,s:s,s:s,s:s}",
	    "perceived_industry", PICK(&st, fake_w_industry),
	    "target_audience", PICK(&st, fake_w_audience),
	    "brand_personality", PICK(&st, fake_w_personality),
	    "premium_level", PICK(&st, fake_w_premium)));
	return o;
}

static char *
fake_dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (s == NULL)
		fake_die("json_dumps failed");
	return s;
}

/* Cut a JSON text short so it no longer parses. */
static void
fake_truncate(char *s)
{
	size_t n = strlen(s);

	s[n > 8 ? n * 3 / 5 : 0] = '\0';
}


void
fake_resp_header(struct fake_resp *rs, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fake_buf_adds(&rs->hdrs, line);
	fake_buf_adds(&rs->hdrs, "\r\n");
}

void
fake_resp_json(struct fake_resp *rs, int status, json_t *j)
{
	char *s = fake_dump(j);

	rs->status = status;
	rs->ctype = "application/json; charset=UTF-8";
	rs->body.len = 0;
	fake_buf_adds(&rs->body, s);
	fake_buf_add(&rs->body, "\n", 1);
	free(s);
	json_decref(j);
}

/* The whitespace-only and empty bodies some providers send under load. */
static int
fake_answer_hollow(struct fake_resp *rs, int fault)
{
	if (fault == FAULT_EMPTY) {
		rs->status = 200;
		rs->ctype = "application/json";
		return 1;
	}
	if (fault == FAULT_SPACES) {
		rs->status = 200;
		rs->ctype = "application/json";
		fake_buf_adds(&rs->body, "   \n\n      \n  \n");
		return 1;
	}
	return 0;
}

/* ---- Gemini ---- */

static void
fake_gemini_usage(json_t *o, json_int_t prompt, json_int_t cand)
{
	json_object_set_new(o, "usageMetadata", json_pack("{s:I,s:I,s:I,s:I}",
	    "promptTokenCount", prompt, "candidatesTokenCount", cand,
	    "thoughtsTokenCount", (json_int_t)0, "totalTokenCount", prompt + cand));
}

static void
fake_gemini_ids(struct fake_call *call, json_t *o, uint64_t h)
{
	char id[32];

	snprintf(id, sizeof(id), "vjf%016llx", (unsigned long long)h);
	json_object_set_new(o, "modelVersion", json_string(call->model));
	json_object_set_new(o, "responseId", json_string(id));
}

static json_t *
fake_gemini_candidate(const char *text, uint64_t h, const char *finish)
{
	json_t *parts = json_array();
	size_t n = strlen(text);

	/* Sometimes two parts: clients must join them. */
	if ((h >> 7) & 1 && n > 16) {
		json_array_append_new(parts, json_pack("{s:s%}", "text", text, n / 2));
		json_array_append_new(parts, json_pack("{s:s}", "text", text + n / 2));
	} else {
		json_array_append_new(parts, json_pack("{s:s}", "text", text));
	}
	return json_pack("{s:{s:s,s:o},s:s,s:i}", "content", "role", "model",
	    "parts", parts, "finishReason", finish, "index", 0);
}

void
fake_gemini_ok(struct fake_call *call, struct fake_resp *rs, int fault)
{
	uint64_t h = fake_hash(call->job, strlen(call->job));
	json_int_t pt = fake_tokens_prompt(call), ct;
	json_t *o = json_object(), *an;
	const char *finish = "STOP";
	char *text;

	if (fake_answer_hollow(rs, fault)) {
		json_decref(o);
		return;
	}
	if (fault == FAULT_BLOCKED) {
		json_object_set_new(o, "promptFeedback", json_pack("{s:s,s:[{s:s,s:s}]}",
		    "blockReason", "SAFETY", "safetyRatings",
		    "category", "HARM_CATEGORY_DANGEROUS_CONTENT", "probability", "HIGH"));
		fake_gemini_usage(o, pt, 0);
		fake_gemini_ids(call, o, h);
		fake_resp_json(rs, 200, o);
		return;
	}
	if (fault == FAULT_SAFETY || fault == FAULT_RESOURCE) {
		json_object_set_new(o, "candidates", json_pack("[{s:s,s:i,s:[{s:s,s:s,s:b}]}]",
		    "finishReason", fault == FAULT_SAFETY ? "SAFETY" : "OTHER", "index", 0,
		    "safetyRatings", "category", "HARM_CATEGORY_HARASSMENT",
		    "probability", "HIGH", "blocked", 1));
		fake_gemini_usage(o, pt, 0);
		fake_gemini_ids(call, o, h);
		fake_resp_json(rs, 200, o);
		return;
	}
	an = fake_analysis(call->job, fault == FAULT_SCHEMA);
	text = fake_dump(an);
	json_decref(an);
	if (fault == FAULT_BADJSON || fault == FAULT_MAXTOKENS)
		fake_truncate(text);
	if (fault == FAULT_MAXTOKENS)
		finish = "MAX_TOKENS";
	ct = (json_int_t)(strlen(text) / 4 + 1);
	json_object_set_new(o, "candidates", json_pack("[o]", fake_gemini_candidate(text, h, finish)));
	fake_gemini_usage(o, pt, ct);
	fake_gemini_ids(call, o, h);
	free(text);
	fake_resp_json(rs, 200, o);
	if (fault == FAULT_BLANK)
		rs->blank_lines = 6;
}

static const char *
fake_gemini_status(int code)
{
	switch (code) {
	case 400: return "INVALID_ARGUMENT";
	case 401: return "UNAUTHENTICATED";
	case 402: return "FAILED_PRECONDITION";
	case 403: return "PERMISSION_DENIED";
	case 404: return "NOT_FOUND";
	case 408: return "DEADLINE_EXCEEDED";
	case 429: return "RESOURCE_EXHAUSTED";
	case 500: return "INTERNAL";
	case 502: return "UNAVAILABLE";
	case 503: return "UNAVAILABLE";
	case 504: return "DEADLINE_EXCEEDED";
	default:  return "UNKNOWN";
	}
}

static json_t *
fake_gemini_errbody(int code, const char *msg, json_t *details)
{
	json_t *e = json_pack("{s:i,s:s,s:s}", "code", code, "message", msg,
	    "status", fake_gemini_status(code));

	if (details != NULL)
		json_object_set_new(e, "details", details);
	return json_pack("{s:o}", "error", e);
}

void
fake_gemini_error(struct fake_call *call, struct fake_resp *rs, int code, const char *msg)
{
	json_t *details = NULL;

	(void)call;	/* same signature as the other answers */
	if (msg == NULL && code == 400) {
		/* The invalid-key answer: 400, not 401, with an ErrorInfo reason. */
		msg = "API key not valid. Please pass a valid API key.";
		details = json_pack("[{s:s,s:s,s:s,s:{s:s}}]",
		    "@type", "type.googleapis.com/google.rpc.ErrorInfo",
		    "reason", "API_KEY_INVALID", "domain", "googleapis.com",
		    "metadata", "service", "generativelanguage.googleapis.com");
	}
	if (msg == NULL) {
		switch (code) {
		case 401: msg = "Request had invalid authentication credentials."; break;
		case 402: msg = "Billing is not enabled for this project."; break;
		case 403: msg = "The caller does not have permission"; break;
		case 404: msg = "Requested entity was not found."; break;
		case 503: msg = "The model is overloaded. Please try again later."; break;
		case 504: msg = "Deadline expired before operation could complete."; break;
		default:  msg = "An internal error has occurred. Please retry or report in "
		    "https://developers.generativeai.google/guide/troubleshooting"; break;
		}
	}
	fake_resp_json(rs, code, fake_gemini_errbody(code, msg, details));
}

/* Seconds to the next midnight, Pacific standard time, when day quotas reset. */
static uint64_t
fake_until_pacific_midnight_ms(void)
{
	time_t now = time(NULL) - 8 * 3600;

	return (uint64_t)(86400 - (now % 86400)) * 1000;
}

void
fake_gemini_429(struct fake_call *call, struct fake_resp *rs, int perday)
{
	char delay[32], msg[256], val[16];
	const char *quota = perday ? "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
	    : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";
	uint64_t ms = perday ? fake_until_pacific_midnight_ms() : call->retry_ms;
	json_t *details;

	fake_fmt_seconds(delay, sizeof(delay), ms);
	snprintf(val, sizeof(val), "%d", perday ? 250 : call->rpm > 0 ? call->rpm : 10);
	snprintf(msg, sizeof(msg), "You exceeded your current quota, please check your plan "
	    "and billing details. Quota exceeded for metric: "
	    "generativelanguage.googleapis.com/generate_content_free_tier_requests, "
	    "limit: %s, model: %s\nPlease retry in %s.", val, call->model, delay);
	if (fake_opt.no_retry_after && !perday && call->rpm > 0) {
		/* --no-retry-after: the quota failure alone, no RetryInfo */
		details = json_pack("[{s:s,s:[{s:s,s:s,s:{s:s,s:s},s:s}]}]",
		    "@type", "type.googleapis.com/google.rpc.QuotaFailure",
		    "violations",
		    "quotaMetric", "generativelanguage.googleapis.com/generate_content_free_tier_requests",
		    "quotaId", quota,
		    "quotaDimensions", "location", "global", "model", call->model,
		    "quotaValue", val);
		fake_resp_json(rs, 429, fake_gemini_errbody(429, msg, details));
		return;
	}
	details = json_pack("[{s:s,s:[{s:s,s:s,s:{s:s,s:s},s:s}]},{s:s,s:s}]",
	    "@type", "type.googleapis.com/google.rpc.QuotaFailure",
	    "violations",
	    "quotaMetric", "generativelanguage.googleapis.com/generate_content_free_tier_requests",
	    "quotaId", quota,
	    "quotaDimensions", "location", "global", "model", call->model,
	    "quotaValue", val,
	    "@type", "type.googleapis.com/google.rpc.RetryInfo", "retryDelay", delay);
	fake_resp_json(rs, 429, fake_gemini_errbody(429, msg, details));
}

/* ---- OpenAI / DeepSeek ---- */

static int
fake_openai_is_vision(json_t *req)
{
	json_t *msgs = json_object_get(req, "messages"), *m, *c, *part;
	size_t i, j;

	json_array_foreach(msgs, i, m) {
		c = json_object_get(m, "content");
		if (!json_is_array(c))
			continue;
		json_array_foreach(c, j, part) {
			const char *t = json_string_value(json_object_get(part, "type"));
			if (t != NULL && strcmp(t, "image_url") == 0)
				return 1;
		}
	}
	return 0;
}

static int
fake_openai_is_json_mode(json_t *req)
{
	const char *t = json_string_value(json_object_get(
	    json_object_get(req, "response_format"), "type"));

	return t != NULL && strcmp(t, "json_object") == 0;
}

static char *
fake_openai_text(struct fake_call *call, int fault)
{
	static const char *open[] = { "Here is a short note", "A brief answer follows",
	    "This is the reply" };
	static const char *mid[] = { "The image set looks consistent and well lit.",
	    "The captions should stay short and concrete.",
	    "Each picture shows one clear subject against a simple background.",
	    "The colors are warm and the mood is friendly." };
	uint64_t st = fake_hash(call->job, strlen(call->job));
	char buf[1024];
	json_t *o;
	char *s;

	snprintf(buf, sizeof(buf), "%s for job %s. %s %s Nothing else stands out.%s%.100s",
	    PICK(&st, open), call->job, PICK(&st, mid), PICK(&st, mid),
	    fake_echo ? " Your key is " : "", fake_echo ? fake_echo : "");
	if (!fake_openai_is_json_mode(call->req))
		return fake_xstrdup(buf);
	o = fault == FAULT_SCHEMA ? json_pack("{s:i}", "unexpected", 42)
	    : json_pack("{s:s}", "text", buf);
	s = fake_dump(o);
	json_decref(o);
	return s;
}

void
fake_openai_ok(struct fake_call *call, struct fake_resp *rs, int fault)
{
	uint64_t h = fake_hash(call->job, strlen(call->job));
	json_int_t pt = fake_tokens_prompt(call), ct, hit;
	const char *finish = "stop", *model;
	char *text, id[48];
	json_t *an, *o;

	if (fake_answer_hollow(rs, fault))
		return;
	if (fake_openai_is_vision(call->req)) {
		an = fake_analysis(call->job, fault == FAULT_SCHEMA);
		text = fake_dump(an);
		json_decref(an);
	} else {
		text = fake_openai_text(call, fault);
	}
	if (fault == FAULT_BADJSON || fault == FAULT_MAXTOKENS)
		fake_truncate(text);
	if (fault == FAULT_MAXTOKENS)
		finish = "length";
	if (fault == FAULT_RESOURCE || fault == FAULT_SAFETY || fault == FAULT_BLOCKED) {
		text[0] = '\0';
		finish = fault == FAULT_RESOURCE ? "insufficient_system_resource" : "content_filter";
	}
	ct = (json_int_t)(strlen(text) / 4 + (text[0] != '\0'));
	hit = (h & 1) ? pt / 2 / 64 * 64 : 0;	/* a plausible context-cache hit */
	model = json_string_value(json_object_get(call->req, "model"));
	snprintf(id, sizeof(id), "chatcmpl-vjf%016llx", (unsigned long long)h);
	o = json_pack(
	    "{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:{s:s,s:s,s:n},s:n,s:s}],"
	    "s:{s:I,s:I,s:I,s:I,s:I}}",
	    "id", id, "object", "chat.completion",
	    "created", (json_int_t)(1700000000 + (h % 10000000)),
	    "model", model, "system_fingerprint", "fp_vjfake",
	    "choices", "index", 0, "message", "role", "assistant", "content", text,
	    "reasoning_content", "logprobs", "finish_reason", finish,
	    "usage", "prompt_tokens", pt, "completion_tokens", ct, "total_tokens", pt + ct,
	    "prompt_cache_hit_tokens", hit, "prompt_cache_miss_tokens", pt - hit);
	fake_tokens_answer(call, o);
	fake_resp_json(rs, 200, o);
	free(text);
	if (fault == FAULT_BLANK)
		rs->blank_lines = 6;
}

void
fake_openai_error(struct fake_call *call, struct fake_resp *rs, int status,
    const char *type, const char *code, const char *msg)
{
	json_t *e = json_pack("{s:s,s:s,s:n}", "message", msg, "type", type, "param");

	(void)call;

	json_object_set_new(e, "code", code ? json_string(code) : json_null());
	fake_resp_json(rs, status, json_pack("{s:o}", "error", e));
}

void
fake_openai_429(struct fake_call *call, struct fake_resp *rs)
{
	uint64_t ms = call->retry_ms;
	char msg[256];

	snprintf(msg, sizeof(msg), "Rate limit reached for requests per min (RPM): "
	    "Limit %d. Please try again in %llums.", call->rpm > 0 ? call->rpm : 60,
	    (unsigned long long)ms);
	fake_openai_error(call, rs, 429, "requests", "rate_limit_exceeded", msg);
	/* --no-retry-after: like the OpenAI-compatible servers that name no
	 * delay; the x-ratelimit-* headers come with --ratelimit-headers
	 * (fake_rpm_headers) */
	if (fake_opt.no_retry_after && call->rpm > 0)
		return;
	fake_resp_header(rs, "retry-after: %llu", (unsigned long long)((ms + 999) / 1000));
	fake_resp_header(rs, "retry-after-ms: %llu", (unsigned long long)ms);
}

/* ---- answers that test a client's trust ---- */

/* A successful answer whose text holds the key the request carried;
 * echokey-u writes its first character as a JSON \u escape, so only a
 * client that looks at the decoded text sees it. */
void
fake_echo_key(struct fake_call *call, struct fake_resp *rs, int fault)
{
	char *at;

	fake_echo = call->key && *call->key ? call->key : "no-key-was-sent";
	if (call->family == FAM_GEMINI)
		fake_gemini_ok(call, rs, FAULT_NONE);
	else
		fake_openai_ok(call, rs, FAULT_NONE);
	if (fault == FAULT_ECHOKEY_U && rs->body.len &&
	    (at = memmem(rs->body.p, rs->body.len, fake_echo, strlen(fake_echo)))) {
		struct fake_buf b = { NULL, 0, 0 };
		size_t off = (size_t)(at - rs->body.p);

		fake_buf_add(&b, rs->body.p, off);
		fake_buf_printf(&b, "\\u%04x", (unsigned char)*at);
		fake_buf_add(&b, at + 1, rs->body.len - off - 1);
		fake_buf_free(&rs->body);
		rs->body = b;
	}
	fake_echo = NULL;
}

/* Redirects from the API and 429s with delays no client should believe.
 * 0 when FAULT is none of these. */
int
fake_odd_answer(struct fake_call *call, struct fake_resp *rs, int fault)
{
	const char *hdr;

	switch (fault) {
	case FAULT_301: case FAULT_307:
		/* a moved gateway (its login in the URL), or a relative move */
		fake_resp_header(rs, "Location: %s", fault == FAULT_301 ?
		    "https://gw-user:gw-pass@new-gateway.invalid/v2/" : "/moved/here");
		rs->status = fault == FAULT_301 ? 301 : 307;
		rs->ctype = "text/html";
		fake_buf_adds(&rs->body, "<html><body>Moved</body></html>\n");
		return 1;
	case FAULT_RETRY_INF: hdr = "Retry-After: inf"; break;
	case FAULT_RETRY_E30: hdr = "Retry-After: 1e30"; break;
	case FAULT_RETRY_MS_E300: hdr = "retry-after-ms: 1e300"; break;
	default: return 0;
	}
	if (call->family == FAM_GEMINI)
		fake_gemini_error(call, rs, 429, "Resource has been exhausted (e.g. check quota).");
	else
		fake_openai_error(call, rs, 429, "requests", "rate_limit_exceeded",
		    "Rate limit reached for requests per min (RPM).");
	fake_resp_header(rs, "%s", hdr);
	return 1;
}
