/* test_gemini: the request gemini builds (URL, headers, streamed body) and
 * what it makes of every kind of answer in docs/providers.md. */
#include "provtest.h"
#include "content/models.h"
#include "content/schema.h"

static struct prov p;

static struct prov_config
config(const char *stage)
{
	struct prov_config c = { 0 };

	c.stage = stage;
	c.name = "gemini";
	c.run = run_dir;
	return c;
}

static void
test_open(void)
{
	struct prov_config c = config("analyze");
	struct prov q;
	char err[256];

	unsetenv("GEMINI_API_KEY");
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "no key: usage error");
	is_str(err, "GEMINI_API_KEY is not set (or use --provider offline)", "missing key message");
	c.name = NULL;
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "gemini is analyze's default");
	setenv("GEMINI_API_KEY", TEST_KEY "\n", 1);
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "opens with a key");
	is_str(q.name, "gemini", "name");
	is_str(q.model, "gemini-3.5-flash-lite", "default model");
	ok(strstr(q.cfg, TEST_KEY) == NULL, "the key is not in the config");
	ok(strstr(q.cfg, "\"model\":\"gemini-3.5-flash-lite\"") && strstr(q.cfg, "\"prompt\":\"") &&
	    strstr(q.cfg, "\"schema\":\"") && strstr(q.cfg, "\"max_tokens\":8192") &&
	    strstr(q.cfg, "\"base_url\":\"https://generativelanguage.googleapis.com\""),
	    "config: %s", q.cfg);
	ok(secret_in(TEST_KEY, strlen(TEST_KEY)), "the key is registered as a secret");
	ok(q.timeout > 0, "a default timeout");
	char cfg1[512];
	snprintf(cfg1, sizeof(cfg1), "%s", q.cfg);
	prov_close(&q);
	c.model = "models/gemini-2.5-pro";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "models/ prefix accepted");
	is_str(q.model, "gemini-2.5-pro", "prefix dropped");
	ok(strcmp(q.cfg, cfg1) != 0, "another model, another config");
	prov_close(&q);
	c.model = "gemini/../x";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "a model name that is not a name");
	c.model = NULL;
	c.api_key_env = "VJ_TEST_NO_SUCH_VAR";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "--api-key-env names an unset variable");
	is_str(err, "VJ_TEST_NO_SUCH_VAR is not set (or use --provider offline)", "named in the message");
	c.api_key_env = NULL;
	c.base_url = "ftp://x";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "a base URL must be http(s)");
	c.base_url = NULL;
	c.name = "bard";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "unknown provider");
}

static void
test_build(void)
{
	struct built b;
	json_t *rec = record(NULL, 0.4), *part, *gc;
	char *want;

	build(&p, rec, &b);
	is_int(b.rc, 0, "build ok");
	is_str(b.h.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-3.5-flash-lite:generateContent",
	    "URL");
	ok(strstr(b.h.url, TEST_KEY) == NULL && strstr(b.h.url, "key=") == NULL, "no key in the URL");
	is_str(header(b.h.headers, "x-goog-api-key"), TEST_KEY, "key in x-goog-api-key");
	is_str(header(b.h.headers, "Content-Type"), "application/json", "content type");
	ok(b.body != NULL, "the flattened body is JSON");
	ok(strstr(b.raw, TEST_KEY) == NULL, "no key in the body");
	part = json_array_get(json_object_get(json_array_get(json_object_get(b.body, "contents"), 0),
	    "parts"), 0);
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(b.body, "contents"), 0),
	    "role")), "user", "role user");
	is_str(json_string_value(json_object_get(json_object_get(part, "inline_data"), "mime_type")),
	    "image/jpeg", "inline_data.mime_type");
	want = b64(img_bytes, sizeof(img_bytes) - 1);
	is_str(json_string_value(json_object_get(json_object_get(part, "inline_data"), "data")), want,
	    "inline_data.data is the stored image in base64");
	free(want);
	part = json_array_get(json_object_get(json_array_get(json_object_get(b.body, "contents"), 0),
	    "parts"), 1);
	ok(strstr(json_string_value(json_object_get(part, "text")), "catalogue") != NULL,
	    "the prompt follows the image");
	ok(strstr(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(
	    b.body, "systemInstruction"), "parts"), 0), "text")), "visual analyst") != NULL,
	    "systemInstruction");
	gc = json_object_get(b.body, "generationConfig");
	ok(json_number_value(json_object_get(gc, "temperature")) == 0.4, "temperature = creativityLevel");
	is_int(json_integer_value(json_object_get(gc, "maxOutputTokens")), 8192, "maxOutputTokens");
	is_str(json_string_value(json_object_get(gc, "responseMimeType")), "application/json",
	    "responseMimeType");
	ok(json_equal(json_object_get(gc, "responseJsonSchema"), schema_analysis()),
	    "responseJsonSchema is the analysis schema");
	ok(json_object_get(gc, "responseSchema") == NULL, "not also responseSchema");
	built_free(&b);
	json_decref(rec);

	rec = record(NULL, -1);
	build(&p, rec, &b);
	ok(json_number_value(json_object_get(json_object_get(b.body, "generationConfig"),
	    "temperature")) == 1.0, "default temperature 1.0");
	built_free(&b);
	json_object_set_new(json_object_get(rec, "job"), "creativityLevel", json_real(3));
	build(&p, rec, &b);
	ok(b.rc < 0 && b.e.cls == EC_PERM && strstr(b.e.msg, "creativityLevel"), "temperature out of range");
	built_free(&b);
	json_decref(rec);

	rec = record(NULL, 1);
	json_object_set_new(json_object_get(rec, "image"), "mime", json_string("image/gif"));
	build(&p, rec, &b);
	ok(b.rc < 0 && b.e.cls == EC_PERM && strstr(b.e.msg, "image/gif"), "GIF is not taken inline: %s", b.e.msg);
	built_free(&b);
	json_object_set_new(json_object_get(rec, "image"), "sha256",
	    json_string("0000000000000000000000000000000000000000000000000000000000000000"));
	build(&p, rec, &b);
	ok(b.rc < 0 && b.e.cls == EC_PERM && strstr(b.e.msg, "not in the object store"),
	    "a missing object: %s", b.e.msg);
	built_free(&b);
	json_object_del(rec, "image");
	build(&p, rec, &b);
	ok(b.rc < 0 && b.e.cls == EC_PERM && strstr(b.e.msg, "no stored image"), "no image");
	built_free(&b);
	json_decref(rec);
}

static void
test_cap(void)
{
	struct prov_config c = config("analyze");
	struct prov q;
	struct built b;
	char err[256];
	json_t *rec = record(NULL, 1);

	c.max_image_bytes = 8;
	prov_open(&q, &c, err, sizeof(err));
	build(&q, rec, &b);
	ok(b.rc < 0 && b.e.cls == EC_PERM && strstr(b.e.msg, "cap"), "over the inline cap: %s", b.e.msg);
	built_free(&b);
	prov_close(&q);
	json_decref(rec);
}

static void
test_generate(void)
{
	struct prov_config c = config("generate");
	struct prov q;
	struct built b;
	struct parsed o;
	char err[256];
	json_t *rec;

	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "gemini can generate");
	rec = record("alt_text", 1);
	build(&q, rec, &b);
	is_int(b.rc, 0, "generate build");
	ok(json_array_size(json_object_get(json_array_get(json_object_get(b.body, "contents"), 0),
	    "parts")) == 1, "no image for generate");
	ok(json_object_get(json_object_get(b.body, "generationConfig"), "responseMimeType") == NULL,
	    "plain text format: no JSON mode");
	built_free(&b);
	parse(&q, rec, 200, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"  A red mug.\\n\"}]},"
	    "\"finishReason\":\"STOP\"}]}", &o);
	is_int(o.rc, 0, "text answer");
	is_str(json_string_value(json_object_get(json_object_get(o.result, "content"), "text")),
	    "A red mug.", "content.text trimmed");
	is_str(json_string_value(json_object_get(json_object_get(o.result, "content"), "format")),
	    "alt_text", "content.format");
	parsed_free(&o);
	json_decref(rec);
	rec = record("ad_copy", 1);
	build(&q, rec, &b);
	ok(json_object_get(json_object_get(json_object_get(b.body, "generationConfig"), "responseJsonSchema"),
	    "properties") != NULL, "JSON format: its schema");
	built_free(&b);
	parse(&q, rec, 200, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"headline\\\":\\\"H\\\","
	    "\\\"body\\\":\\\"B\\\",\\\"call_to_action\\\":\\\"C\\\"}\"}]},\"finishReason\":\"STOP\"}]}", &o);
	is_int(o.rc, 0, "JSON answer");
	is_str(json_string_value(json_object_get(json_object_get(json_object_get(o.result, "content"),
	    "data"), "headline")), "H", "content.data");
	parsed_free(&o);
	json_decref(rec);
	prov_close(&q);
}

/* A success answer around TEXT (a JSON string literal's inside). */
static char *
answer(const char *parts, const char *finish)
{
	return xasprintf("{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[%s]},"
	    "\"finishReason\":\"%s\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":270,"
	    "\"candidatesTokenCount\":80,\"thoughtsTokenCount\":20,\"cachedContentTokenCount\":100,"
	    "\"totalTokenCount\":370},\"modelVersion\":\"gemini-2.5-flash-001\",\"responseId\":\"r\"}",
	    parts, finish);
}

static char *
part_of(const char *text)
{
	json_t *s = json_pack("{s:s}", "text", text);
	char *r = json_dumps(s, JSON_COMPACT);

	json_decref(s);
	return r;
}

static void
test_parse_ok(json_t *rec)
{
	struct parsed o;
	size_t n = strlen(good_analysis) / 2;
	char *first = xstrndup(good_analysis, n), *a = part_of(first), *b = part_of(good_analysis + n);
	char *parts = xasprintf("%s,{\"text\":\"thinking...\",\"thought\":true},%s", a, b);
	char *body = answer(parts, "STOP");
	json_t *want = json_loads(good_analysis, 0, NULL), *meta;

	parse(&p, rec, 200, body, &o);
	is_int(o.rc, 0, "a good answer parses");
	ok(json_equal(json_object_get(o.result, "analysis"), want), "text joined over parts, thoughts skipped");
	meta = json_object_get(o.result, "meta");
	is_str(json_string_value(json_object_get(meta, "provider")), "gemini", "meta.provider");
	is_str(json_string_value(json_object_get(meta, "model")), "gemini-3.5-flash-lite", "meta.model");
	is_str(json_string_value(json_object_get(meta, "model_version")), "gemini-2.5-flash-001",
	    "meta.model_version");
	is_str(json_string_value(json_object_get(meta, "finish_reason")), "STOP", "meta.finish_reason");
	is_int(usage_n(o.usage, "prompt"), 270, "usage.prompt");
	is_int(usage_n(o.usage, "completion"), 100, "usage.completion counts thoughts");
	is_int(usage_n(o.usage, "cached"), 100, "usage.cached");
	parsed_free(&o);
	free(body);

	/* leading whitespace and a fenced answer are tolerated */
	free(a);
	a = xasprintf("```json\n%s\n```", good_analysis);
	free(parts);
	parts = part_of(a);
	body = answer(parts, "STOP");
	char *spaced = xasprintf("\n\n  %s", body);
	parse(&p, rec, 200, spaced, &o);
	is_int(o.rc, 0, "fenced JSON after blank lines");
	parsed_free(&o);
	free(spaced);
	free(body);
	free(parts);
	free(a);
	free(b);
	free(first);
	json_decref(want);
}

static void
test_parse_bad(json_t *rec)
{
	static const char *const perm[] = { "SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "SPII",
	    "RECITATION", "BLOCKLIST" };
	struct parsed o;
	char *body, *part;
	json_t *v;

	parse(&p, rec, 200, "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":"
	    "{\"promptTokenCount\":9}}", &o);
	is_fail(&o, EC_PERM, "gemini: blocked by safety filters (SAFETY)", "blocked prompt");
	is_int(usage_n(o.usage, "prompt"), 9, "usage of a blocked prompt");
	parsed_free(&o);
	for (size_t i = 0; i < sizeof(perm) / sizeof(perm[0]); i++) {
		body = answer("{\"text\":\"\"}", perm[i]);
		parse(&p, rec, 200, body, &o);
		is_fail(&o, EC_PERM, perm[i], "finishReason %s is permanent", perm[i]);
		parsed_free(&o);
		free(body);
	}
	body = answer("{\"text\":\"{\\\"colors\\\":\"}", "MAX_TOKENS");
	parse(&p, rec, 200, body, &o);
	is_fail(&o, EC_RETRY, "truncated at maxOutputTokens", "MAX_TOKENS retried");
	ok(o.usage != NULL, "usage of a truncated answer");
	parsed_free(&o);
	free(body);
	body = answer("{\"text\":\"x\"}", "OTHER");
	parse(&p, rec, 200, body, &o);
	is_fail(&o, EC_RETRY, "OTHER", "finishReason OTHER retried");
	parsed_free(&o);
	free(body);

	body = answer("{\"text\":\"{not json}\"}", "STOP");
	parse(&p, rec, 200, body, &o);
	is_fail(&o, EC_RETRY, "not valid JSON", "invalid JSON retried");
	parsed_free(&o);
	free(body);
	body = answer("{\"text\":\"Sorry, I cannot.\"}", "STOP");
	parse(&p, rec, 200, body, &o);
	is_fail(&o, EC_RETRY, "holds no JSON object", "prose instead of JSON retried");
	parsed_free(&o);
	free(body);

	v = json_loads(good_analysis, 0, NULL);
	json_object_set_new(json_object_get(v, "composition"), "balance", json_integer(5));
	char *t = json_dumps(v, JSON_COMPACT);
	part = part_of(t);
	body = answer(part, "STOP");
	parse(&p, rec, 200, body, &o);
	is_fail(&o, EC_RETRY, "$.composition.balance: expected a string", "schema violation names the path");
	is_int(usage_n(o.usage, "completion"), 100, "usage of a schema violation is kept");
	parsed_free(&o);
	free(body);
	free(part);
	free(t);
	json_decref(v);

	parse(&p, rec, 200, "", &o);
	is_fail(&o, EC_RETRY, "empty", "empty body retried");
	parse(&p, rec, 200, "\n\n \r\n", &o);
	is_fail(&o, EC_RETRY, "empty", "whitespace body retried");
	parse(&p, rec, 200, "<html>oops</html>", &o);
	is_fail(&o, EC_RETRY, "not JSON", "HTML body retried");
	parse(&p, rec, 200, "{\"candidates\":[]}", &o);
	is_fail(&o, EC_RETRY, "no candidates", "no candidates, no block reason");
	body = answer("{\"text\":\"   \"}", "STOP");
	parse(&p, rec, 200, body, &o);
	is_fail(&o, EC_RETRY, "empty", "blank text retried");
	parsed_free(&o);
	free(body);
}

static char *
gerr(int code, const char *status, const char *msg, const char *details)
{
	return xasprintf("{\"error\":{\"code\":%d,\"message\":\"%s\",\"status\":\"%s\",\"details\":[%s]}}",
	    code, msg, status, details ? details : "");
}

static void
test_errors(json_t *rec)
{
	static const int retry[] = { 408, 500, 502, 503, 504 };
	struct parsed o;
	char *b;

	b = gerr(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
	    "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\","
	    "\"domain\":\"googleapis.com\"}");
	parse(&p, rec, 400, b, &o);
	is_fail(&o, EC_FATAL, "gemini: invalid API key (GEMINI_API_KEY)", "API_KEY_INVALID is fatal");
	is_int(o.e.status, 400, "status kept");
	free(b);
	b = gerr(400, "INVALID_ARGUMENT", "Unable to process input image.", NULL);
	parse(&p, rec, 400, b, &o);
	is_fail(&o, EC_PERM, "gemini: 400 INVALID_ARGUMENT: Unable to process input image.", "other 400 permanent");
	free(b);
	b = gerr(400, "INVALID_ARGUMENT", "bad key " TEST_KEY " given", NULL);
	parse(&p, rec, 400, b, &o);
	ok(o.e.cls == EC_PERM && !strstr(o.e.msg, TEST_KEY) && strstr(o.e.msg, "[redacted]"),
	    "an echoed key is redacted: %s", o.e.msg);
	free(b);
	b = gerr(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.", NULL);
	parse(&p, rec, 403, b, &o);
	is_fail(&o, EC_FATAL, "gemini: 403 PERMISSION_DENIED", "403 fatal");
	free(b);
	b = gerr(404, "NOT_FOUND", "models/x is not found for API version v1beta", NULL);
	parse(&p, rec, 404, b, &o);
	is_fail(&o, EC_FATAL, "gemini: unknown model gemini-3.5-flash-lite", "404 fatal: unknown model");
	free(b);

	b = gerr(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
	    "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":\"m\","
	    "\"quotaId\":\"GenerateRequestsPerMinutePerProjectPerModel-FreeTier\"}]},"
	    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"47s\"}");
	parse(&p, rec, 429, b, &o);
	/* the delay is said once, by the stage: "..., retry in 47s (attempt 2/4)" */
	is_fail(&o, EC_RATE, "gemini: 429 RESOURCE_EXHAUSTED", "429 rate limit");
	ok(o.e.retry_after == 47, "retry_after from RetryInfo");
	free(b);
	b = gerr(429, "RESOURCE_EXHAUSTED", "quota",
	    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"12.5s\"}");
	parse(&p, rec, 429, b, &o);
	ok(o.e.cls == EC_RATE && o.e.retry_after == 12.5,
	    "fractional retryDelay: %s", o.e.msg);
	free(b);
	b = gerr(429, "RESOURCE_EXHAUSTED", "quota", NULL);
	parse(&p, rec, 429, b, &o);
	ok(o.e.cls == EC_RATE && o.e.retry_after < 0, "429 without a delay");
	free(b);
	b = gerr(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
	    "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":\"m\","
	    "\"quotaId\":\"GenerateRequestsPerDayPerProjectPerModel-FreeTier\"}]},"
	    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"3s\"}");
	parse(&p, rec, 429, b, &o);
	is_fail(&o, EC_FATAL, "daily quota exhausted (GenerateRequestsPerDayPerProjectPerModel-FreeTier)",
	    "a per-day quota is fatal");
	free(b);

	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
		b = gerr(retry[i], "UNAVAILABLE", "The model is overloaded.", NULL);
		parse(&p, rec, retry[i], b, &o);
		is_fail(&o, EC_RETRY, "overloaded", "%d retried", retry[i]);
		free(b);
	}
	parse(&p, rec, 502, "<html><body>Bad Gateway</body></html>", &o);
	is_fail(&o, EC_RETRY, "gemini: 502: <html><body>Bad Gateway</body></html>", "a proxy's page");
	parse(&p, rec, 503, "", &o);
	is_fail(&o, EC_RETRY, "503: no details", "503 with an empty body");
	parse(&p, rec, 418, "{}", &o);
	is_fail(&o, EC_PERM, "418", "another 4xx is permanent");
}

/* --tier flex, --media-resolution and a model that ignores temperature,
 * with the shipped model table loaded. */
static void
test_flex(void)
{
	struct prov_config c = config("analyze");
	struct prov q;
	struct built b;
	struct parsed o;
	char err[256], *body;
	json_t *rec = record(NULL, 0.4), *gc, *part;

	if (models_load("data/models.txt", NULL, err, sizeof err) < 0) {
		ok(0, "the model table: %s", err);
		return;
	}
	c.tier = MODELS_FLEX;
	c.res = MODELS_RES_LOW;
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "opens for flex");
	build(&q, rec, &b);
	is_str(json_string_value(json_object_get(b.body, "service_tier")), "flex", "service_tier flex");
	gc = json_object_get(b.body, "generationConfig");
	ok(json_object_get(gc, "temperature") == NULL,
	    "no temperature for gemini-3.5-flash-lite, which ignores it");
	is_str(json_string_value(json_object_get(gc, "mediaResolution")), "MEDIA_RESOLUTION_LOW",
	    "generationConfig.mediaResolution");
	ok(strstr(q.cfg, "\"image_detail\":\"low\"") != NULL, "the resolution is in the cache key");
	built_free(&b);

	/* the usage: the tier asked for, unless the answer names one */
	body = xasprintf("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
	    "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":10,"
	    "\"candidatesTokenCount\":2}%s}", "");
	parse(&q, rec, 200, body, &o);
	is_str(json_string_value(json_object_get(o.usage, "tier")), "flex", "usage.tier: flex as asked");
	ok(json_is_integer(json_object_get(o.usage, "t")), "usage.t stamped");
	parsed_free(&o);
	free(body);
	body = xasprintf("{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
	    "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":10,"
	    "\"candidatesTokenCount\":2},\"serviceTier\":\"STANDARD\"}");
	parse(&q, rec, 200, body, &o);
	is_str(json_string_value(json_object_get(o.usage, "tier")), "standard",
	    "usage.tier: the one the answer names");
	parsed_free(&o);
	free(body);

	/* shed: a 429 without a quota detail, a 503; a quota 429 is the account's */
	body = gerr(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", NULL);
	parse(&q, rec, 429, body, &o);
	ok(o.e.cls == EC_RATE && o.e.shed && o.e.retry_after == 1, "flex 429: shed, 1 s: %s", o.e.msg);
	free(body);
	body = gerr(503, "UNAVAILABLE", "The model is overloaded.", NULL);
	parse(&q, rec, 503, body, &o);
	ok(o.e.cls == EC_RATE && o.e.shed, "flex 503: shed");
	free(body);
	body = gerr(429, "RESOURCE_EXHAUSTED", "Quota exceeded",
	    "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{\"quotaMetric\":\"m\","
	    "\"quotaId\":\"GenerateRequestsPerMinutePerProjectPerModel\"}]}");
	parse(&q, rec, 429, body, &o);
	ok(o.e.cls == EC_RATE && !o.e.shed, "flex, a quota 429: the account's rate");
	free(body);
	prov_close(&q);

	c.tier = MODELS_STANDARD;
	c.res = MODELS_RES_ULTRA;
	c.model = "gemini-2.5-flash-lite";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "opens for standard");
	build(&q, rec, &b);
	ok(json_object_get(b.body, "service_tier") == NULL, "standard: no service_tier");
	gc = json_object_get(b.body, "generationConfig");
	ok(json_number_value(json_object_get(gc, "temperature")) == 0.4, "temperature for a model that honours it");
	ok(json_object_get(gc, "mediaResolution") == NULL, "ultra is not a request-wide resolution");
	part = json_array_get(json_object_get(json_array_get(json_object_get(b.body, "contents"), 0),
	    "parts"), 0);
	is_str(json_string_value(json_object_get(json_object_get(part, "media_resolution"), "level")),
	    "MEDIA_RESOLUTION_ULTRA_HIGH", "ultra on the image part");
	built_free(&b);
	body = gerr(503, "UNAVAILABLE", "The model is overloaded.", NULL);
	parse(&q, rec, 503, body, &o);
	ok(o.e.cls == EC_RETRY && !o.e.shed, "standard 503: retried as ever");
	free(body);
	prov_close(&q);
	json_decref(rec);
	models_reset();
}

int
main(void)
{
	struct prov_config c;
	char err[256];
	json_t *rec;

	if (setup_run() < 0) {
		ok(0, "setup");
		return done_testing();
	}
	test_open();
	c = config("analyze");
	if (prov_open(&p, &c, err, sizeof(err)) != VJ_OK) {
		ok(0, "prov_open: %s", err);
		return done_testing();
	}
	test_build();
	test_cap();
	rec = record(NULL, 1);
	test_parse_ok(rec);
	test_parse_bad(rec);
	test_errors(rec);
	json_decref(rec);
	test_generate();
	prov_close(&p);
	test_flex();
	cleanup_run();
	return done_testing();
}
