/* test_openai: chat completions for DeepSeek and OpenAI-compatible servers:
 * the requests built, and every kind of answer classified. */
#include "provtest.h"

static struct prov_config
config(const char *stage, const char *base)
{
	struct prov_config c = { 0 };

	c.stage = stage;
	c.name = "openai";
	c.base_url = base;
	c.run = run_dir;
	return c;
}

static const char *
user_text(json_t *body)
{
	json_t *msgs = json_object_get(body, "messages");
	json_t *u = json_array_get(msgs, json_array_size(msgs) - 1);
	return json_string_value(json_object_get(u, "content"));
}

static void
test_open(void)
{
	struct prov_config c = config("generate", NULL);
	struct prov q;
	char err[256];

	unsetenv("DEEPSEEK_API_KEY");
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "DeepSeek without a key");
	is_str(err, "DEEPSEEK_API_KEY is not set (or use --provider offline)", "message");
	c.name = NULL;
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "openai is generate's default");
	c.base_url = "http://127.0.0.1:8000/v1/";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "a local server needs no key");
	is_str(q.name, "openai", "default provider name");
	is_str(q.model, "deepseek-flash", "default model");
	prov_close(&q);
	c.api_key_env = "VJ_TEST_UNSET_KEY";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "but a named key variable must be set");
	c.api_key_env = NULL;
	c = config("analyze", NULL);
	setenv("DEEPSEEK_API_KEY", TEST_KEY, 1);
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_EUSAGE, "analyze needs a vision server's --base-url");
	ok(strstr(err, "--base-url") != NULL, "and says so");
}

static void
test_build_deepseek(void)
{
	struct prov_config c = config("generate", NULL);
	struct prov q;
	struct built b;
	char err[256];
	json_t *rec, *msgs;

	setenv("DEEPSEEK_API_KEY", TEST_KEY, 1);
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "DeepSeek opens");
	ok(strstr(q.cfg, TEST_KEY) == NULL && strstr(q.cfg, "https://api.deepseek.com"), "config: %s", q.cfg);
	rec = record("detailed_analysis", 0.7);
	build(&q, rec, &b);
	is_int(b.rc, 0, "build");
	is_str(b.h.url, "https://api.deepseek.com/chat/completions", "URL");
	is_str(header(b.h.headers, "Authorization"), "Bearer " TEST_KEY, "bearer key");
	ok(!strstr(b.h.url, TEST_KEY) && !strstr(b.raw, TEST_KEY), "key only in the header");
	is_str(json_string_value(json_object_get(b.body, "model")), "deepseek-flash", "model");
	msgs = json_object_get(b.body, "messages");
	is_int(json_array_size(msgs), 2, "system and user messages");
	is_str(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system", "system first");
	is_str(json_string_value(json_object_get(json_array_get(msgs, 1), "role")), "user", "user second");
	ok(strstr(user_text(b.body), "\"warm\"") != NULL, "the analysis is in the prompt");
	ok(json_number_value(json_object_get(b.body, "temperature")) == 0.7, "temperature");
	is_int(json_integer_value(json_object_get(b.body, "max_tokens")), 2048, "max_tokens");
	ok(json_is_false(json_object_get(b.body, "stream")), "stream false");
	ok(json_object_get(b.body, "response_format") == NULL, "no JSON mode for text");
	is_str(json_string_value(json_object_get(json_object_get(b.body, "thinking"), "type")), "disabled",
	    "thinking disabled on DeepSeek");
	built_free(&b);
	json_decref(rec);

	rec = record("social_post", 1);
	build(&q, rec, &b);
	is_str(json_string_value(json_object_get(json_object_get(b.body, "response_format"), "type")),
	    "json_object", "JSON mode for a JSON format");
	ok(strstr(user_text(b.body), "JSON") && strstr(user_text(b.body), "\"hashtags\""),
	    "the prompt says json and shows an example");
	built_free(&b);
	json_decref(rec);
	rec = record("limerick", 1);
	build(&q, rec, &b);
	ok(b.rc < 0 && b.e.cls == EC_PERM && strstr(b.e.msg, "unknown outputFormat"), "unknown format: %s", b.e.msg);
	built_free(&b);
	json_decref(rec);
	prov_close(&q);
}

static void
test_build_local(void)
{
	struct prov_config c = config("analyze", "http://127.0.0.1:8000/v1");
	struct prov q;
	struct built b;
	char err[256], *want;
	json_t *rec, *content;

	unsetenv("DEEPSEEK_API_KEY");
	c.model = "Qwen/Qwen2.5-VL-7B-Instruct";
	is_int(prov_open(&q, &c, err, sizeof(err)), VJ_OK, "a vision server opens: %s", err);
	rec = record(NULL, 1);
	build(&q, rec, &b);
	is_int(b.rc, 0, "vision build");
	is_str(b.h.url, "http://127.0.0.1:8000/v1/chat/completions", "base with /v1 joined");
	ok(header(b.h.headers, "Authorization") == NULL, "no key, no Authorization");
	ok(json_object_get(b.body, "thinking") == NULL, "no DeepSeek switch elsewhere");
	is_str(json_string_value(json_object_get(b.body, "model")), "Qwen/Qwen2.5-VL-7B-Instruct", "model kept");
	is_str(json_string_value(json_object_get(json_object_get(b.body, "response_format"), "type")),
	    "json_object", "JSON mode for the analysis");
	content = json_object_get(json_array_get(json_object_get(b.body, "messages"), 1), "content");
	is_str(json_string_value(json_object_get(json_array_get(content, 0), "type")), "text", "text part");
	ok(strstr(json_string_value(json_object_get(json_array_get(content, 0), "text")), "JSON") != NULL,
	    "the prompt asks for JSON");
	is_str(json_string_value(json_object_get(json_array_get(content, 1), "type")), "image_url", "image part");
	char *b64s = b64(img_bytes, sizeof(img_bytes) - 1);
	want = xasprintf("data:image/jpeg;base64,%s", b64s);
	is_str(json_string_value(json_object_get(json_object_get(json_array_get(content, 1), "image_url"),
	    "url")), want, "data URL streamed from the store");
	free(want);
	free(b64s);
	built_free(&b);

	struct parsed o;
	json_t *ga = json_string(good_analysis);
	char *gs = json_dumps(ga, JSON_ENCODE_ANY);
	char *body = xasprintf("{\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":"
	    "{\"role\":\"assistant\",\"content\":%s}}],\"usage\":{\"prompt_tokens\":900,"
	    "\"completion_tokens\":120,\"prompt_tokens_details\":{\"cached_tokens\":512}}}",
	    gs);
	free(gs);
	json_decref(ga);
	parse(&q, rec, 200, body, &o);
	is_int(o.rc, 0, "a vision analysis parses");
	ok(json_object_get(json_object_get(o.result, "analysis"), "brand_insights") != NULL, "analysis kept");
	is_int(usage_n(o.usage, "cached"), 512, "cached from prompt_tokens_details");
	parsed_free(&o);
	free(body);
	parse(&q, rec, 200, "{\"choices\":[{\"finish_reason\":\"stop\",\"message\":{\"content\":"
	    "\"{\\\"colors\\\":{}}\"}}]}", &o);
	is_fail(&o, EC_RETRY, "$.colors.primary: missing", "schema violation retried with the path");
	parsed_free(&o);
	parse(&q, rec, 200, "{\"choices\":[{\"finish_reason\":\"length\",\"message\":{\"content\":"
	    "\"{\\\"colors\\\":\"}}]}", &o);
	is_fail(&o, EC_RETRY, "truncated at max_tokens (4096)", "a cut analysis is retried");
	parsed_free(&o);
	json_decref(rec);
	prov_close(&q);

	c = config("generate", "http://localhost:11434/v1/chat/completions");
	prov_open(&q, &c, err, sizeof(err));
	rec = record("alt_text", 1);
	build(&q, rec, &b);
	is_str(b.h.url, "http://localhost:11434/v1/chat/completions", "a full endpoint is kept");
	built_free(&b);
	json_decref(rec);
	prov_close(&q);
}

static char *
chat(const char *content_json, const char *finish)
{
	return xasprintf("\n\n\n{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"deepseek-flash-0501\","
	    "\"choices\":[{\"index\":0,\"finish_reason\":\"%s\",\"message\":{\"role\":\"assistant\","
	    "\"content\":%s,\"reasoning_content\":null}}],\"usage\":{\"prompt_tokens\":16,"
	    "\"prompt_cache_hit_tokens\":6,\"prompt_cache_miss_tokens\":10,\"completion_tokens\":10,"
	    "\"total_tokens\":26}}", finish, content_json);
}

static void
test_parse(struct prov *q)
{
	struct parsed o;
	json_t *text = record("product_description", 1), *js = record("social_post", 1), *meta;
	char *b;

	b = chat("\"  A red mug for the morning.  \"", "stop");
	parse(q, text, 200, b, &o);
	is_int(o.rc, 0, "blank lines before the JSON tolerated");
	is_str(json_string_value(json_object_get(json_object_get(o.result, "content"), "text")),
	    "A red mug for the morning.", "content.text");
	is_str(json_string_value(json_object_get(json_object_get(o.result, "content"), "format")),
	    "product_description", "content.format");
	meta = json_object_get(o.result, "meta");
	is_str(json_string_value(json_object_get(meta, "provider")), "openai", "meta.provider");
	is_str(json_string_value(json_object_get(meta, "model")), "deepseek-flash", "meta.model");
	is_str(json_string_value(json_object_get(meta, "finish_reason")), "stop", "meta.finish_reason");
	is_int(usage_n(o.usage, "prompt"), 16, "usage.prompt");
	is_int(usage_n(o.usage, "completion"), 10, "usage.completion");
	is_int(usage_n(o.usage, "cached"), 6, "usage.cached from prompt_cache_hit_tokens");
	is_str(json_string_value(json_object_get(o.usage, "tier")), "standard",
	    "usage.tier: the one asked for when the answer does not say");
	ok(llabs((long long)usage_n(o.usage, "t") - (long long)now_ms()) < 60000, "usage.t: now");
	parsed_free(&o);
	free(b);

	/* the answer says which tier served it and when it was made */
	b = xasprintf("{\"id\":\"x\",\"model\":\"gpt-5-mini\",\"created\":%lld,\"service_tier\":\"flex\","
	    "\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\","
	    "\"content\":\"A mug.\"}}],\"usage\":{\"prompt_tokens\":16,\"completion_tokens\":4}}",
	    (long long)(now_ms() / 1000 - 3600));
	parse(q, text, 200, b, &o);
	is_str(json_string_value(json_object_get(o.usage, "tier")), "flex", "usage.tier: served flex");
	is_int(usage_n(o.usage, "t") % 1000, 0, "usage.t: the answer's created");
	ok(now_ms() - usage_n(o.usage, "t") > 3500000, "... an hour ago");
	parsed_free(&o);
	free(b);
	b = xasprintf("{\"id\":\"x\",\"model\":\"m\",\"created\":1000,\"service_tier\":\"Prio!ty\","
	    "\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":\"assistant\","
	    "\"content\":\"A mug.\"}}],\"usage\":{\"prompt_tokens\":16,\"completion_tokens\":4}}");
	parse(q, text, 200, b, &o);
	is_str(json_string_value(json_object_get(o.usage, "tier")), "_rio_ty",
	    "an unknown tier kept, cleaned");
	ok(llabs((long long)usage_n(o.usage, "t") - (long long)now_ms()) < 60000,
	    "a created far from this clock is not believed");
	parsed_free(&o);
	free(b);

	b = chat("\"A red mug for the mor\"", "length");
	parse(q, text, 200, b, &o);
	/* cut off is not done, text or JSON, as Gemini's MAX_TOKENS */
	is_fail(&o, EC_RETRY, "truncated at max_tokens (2048): the output limit",
	    "length retried for plain text, naming the limit");
	parsed_free(&o);
	free(b);
	b = chat("\"{\\\"caption\\\": \\\"A red\"", "length");
	parse(q, js, 200, b, &o);
	is_fail(&o, EC_RETRY, "truncated", "length retried for JSON");
	ok(o.usage != NULL, "usage of a truncated answer");
	parsed_free(&o);
	free(b);
	b = chat("\"{\\\"caption\\\":\\\"Hi.\\\",\\\"hashtags\\\":[\\\"mug\\\",\\\"#red\\\"]}\"", "stop");
	parse(q, js, 200, b, &o);
	is_int(o.rc, 0, "a JSON format parses");
	is_str(json_string_value(json_object_get(json_object_get(o.result, "content"), "text")),
	    "Hi.\n\n#mug #red", "its text");
	ok(json_is_array(json_object_get(json_object_get(json_object_get(o.result, "content"), "data"),
	    "hashtags")), "content.data kept");
	parsed_free(&o);
	free(b);
	b = chat("\"{\\\"caption\\\":\\\"Hi.\\\"}\"", "stop");
	parse(q, js, 200, b, &o);
	is_fail(&o, EC_RETRY, "social_post answer: $.hashtags: missing", "a JSON format's schema");
	is_int(usage_n(o.usage, "prompt"), 16, "usage kept on a schema violation");
	parsed_free(&o);
	free(b);
	b = chat("\"          \"", "stop");
	parse(q, js, 200, b, &o);
	is_fail(&o, EC_RETRY, "empty", "content of only spaces retried");
	parsed_free(&o);
	free(b);
	b = chat("null", "stop");
	parse(q, text, 200, b, &o);
	is_fail(&o, EC_RETRY, "empty", "null content retried");
	parsed_free(&o);
	free(b);
	b = chat("\"\"", "insufficient_system_resource");
	parse(q, text, 200, b, &o);
	is_fail(&o, EC_RETRY, "insufficient_system_resource", "insufficient_system_resource retried");
	parsed_free(&o);
	free(b);
	b = chat("\"\"", "content_filter");
	parse(q, text, 200, b, &o);
	is_fail(&o, EC_PERM, "content filter", "content_filter permanent");
	parsed_free(&o);
	free(b);

	parse(q, text, 200, "", &o);
	is_fail(&o, EC_RETRY, "empty response body", "empty body retried");
	parse(q, text, 200, "\n\n\n\n", &o);
	is_fail(&o, EC_RETRY, "empty response body", "blank lines only retried");
	parse(q, text, 200, "\n\n{\"choices\": [", &o);
	is_fail(&o, EC_RETRY, "not JSON", "cut body retried");
	parse(q, text, 200, "{\"error\":{\"code\":503,\"message\":\"busy\"}}", &o);
	is_fail(&o, EC_RETRY, "503", "an error inside a 200");
	json_decref(text);
	json_decref(js);
}

static void
test_errors(struct prov *q)
{
	static const int retry[] = { 500, 502, 503, 504, 408 };
	struct parsed o;
	json_t *rec = record("alt_text", 1);

#define OAI(msg, type, code) "{\"error\":{\"message\":\"" msg "\",\"type\":\"" type "\",\"param\":null,\"code\":" code "}}"
	parse(q, rec, 401, OAI("Authentication Fails, Your api key: ****3456 is invalid",
	    "authentication_error", "\"invalid_request_error\""), &o);
	is_fail(&o, EC_FATAL, "deepseek: invalid API key (DEEPSEEK_API_KEY)", "401 fatal");
	parse(q, rec, 402, OAI("Insufficient Balance", "unknown_error", "\"invalid_request_error\""), &o);
	is_fail(&o, EC_FATAL, "insufficient balance", "402 fatal");
	parse(q, rec, 429, OAI("You exceeded your current quota", "insufficient_quota",
	    "\"insufficient_quota\""), &o);
	is_fail(&o, EC_FATAL, "insufficient_quota", "429 insufficient_quota fatal");
	parse_full(q, rec, 429, OAI("Rate limit reached", "requests", "\"rate_limit_exceeded\""), 3, -1, &o);
	is_fail(&o, EC_RATE, "deepseek: 429 rate_limit_exceeded", "429 rate limited");
	ok(o.e.retry_after == 3, "retry-after honoured");
	parse_full(q, rec, 429, OAI("Rate limit reached", "requests", "null"), 0.25, -1, &o);
	ok(o.e.cls == EC_RATE && o.e.retry_after == 0.25, "retry-after-ms honoured");
	parse(q, rec, 429, "", &o);
	ok(o.e.cls == EC_RATE && o.e.retry_after < 0, "429 without a delay: %s", o.e.msg);
	ok(!o.e.shed, "an account's 429 is not shed: it cuts the rate");
	/* flex's own 429: retried, not the account's rate, later each time */
	parse(q, rec, 429, OAI("Resource Unavailable: no capacity for flex", "invalid_request_error",
	    "\"resource_unavailable\""), &o);
	ok(o.e.cls == EC_RATE && o.e.shed, "429 resource_unavailable: shed: %s", o.e.msg);
	ok(o.e.retry_after == 1, "the first shed waits 1 s (%g)", o.e.retry_after);
	parse(q, rec, 429, OAI("Resource unavailable, please retry", "server_error", "null"), &o);
	ok(o.e.cls == EC_RATE && o.e.shed, "429 by its words: shed");
	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++) {
		parse(q, rec, retry[i], OAI("Server busy", "server_error", "null"), &o);
		is_fail(&o, EC_RETRY, "Server busy", "%d retried", retry[i]);
	}
	parse(q, rec, 400, OAI("Invalid request", "invalid_request_error", "null"), &o);
	is_fail(&o, EC_PERM, "400 invalid_request_error: Invalid request", "400 permanent");
	parse(q, rec, 422, "{\"detail\":\"bad parameter\"}", &o);
	is_fail(&o, EC_PERM, "422: bad parameter", "422 permanent");
	parse(q, rec, 404, OAI("The model `x` does not exist", "invalid_request_error",
	    "\"model_not_found\""), &o);
	is_fail(&o, EC_FATAL, "unknown model deepseek-flash", "404 model_not_found fatal");

	/* x-should-retry overrides the status rule, one way and the other */
	parse_full(q, rec, 400, OAI("Try again", "invalid_request_error", "null"), -1, 1, &o);
	is_fail(&o, EC_RETRY, "Try again", "x-should-retry: true on a 400");
	parse_full(q, rec, 500, OAI("Do not", "server_error", "null"), -1, 0, &o);
	is_fail(&o, EC_PERM, "Do not", "x-should-retry: false on a 500");
	parse_full(q, rec, 401, OAI("bad", "authentication_error", "null"), -1, 1, &o);
	is_fail(&o, EC_FATAL, "invalid API key", "but not over a bad key");

	/* other servers' error shapes */
	parse(q, rec, 404, "{\"object\":\"error\",\"message\":\"The model `llava` does not exist.\","
	    "\"type\":\"NotFoundError\",\"param\":null,\"code\":404}", &o);
	is_fail(&o, EC_FATAL, "unknown model", "vLLM's flat error body");
	parse(q, rec, 400, "{\"object\":\"error\",\"message\":\"max_tokens is too large\","
	    "\"type\":\"BadRequestError\",\"param\":null,\"code\":400}", &o);
	is_fail(&o, EC_PERM, "400 BadRequestError: max_tokens is too large", "vLLM 400");
	parse(q, rec, 503, "{\"error\":{\"code\":503,\"message\":\"Loading model\",\"type\":\"unavailable_error\"}}", &o);
	is_fail(&o, EC_RETRY, "503 unavailable_error: Loading model", "llama.cpp loading");
	parse(q, rec, 404, "{\"error\":\"model \\\"llava\\\" not found, try pulling it first\"}", &o);
	is_fail(&o, EC_FATAL, "unknown model", "Ollama's string error");
	parse(q, rec, 404, "404 page not found", &o);
	is_fail(&o, EC_FATAL, "check --base-url", "a wrong path");
	parse(q, rec, 400, OAI("your key " TEST_KEY " is odd", "x", "null"), &o);
	ok(!strstr(o.e.msg, TEST_KEY), "an echoed key is redacted");
	json_decref(rec);
}

int
main(void)
{
	struct prov_config c;
	struct prov q;
	char err[256];

	if (setup_run() < 0) {
		ok(0, "setup");
		return done_testing();
	}
	test_open();
	test_build_deepseek();
	test_build_local();
	setenv("DEEPSEEK_API_KEY", TEST_KEY, 1);
	c = config("generate", NULL);
	if (prov_open(&q, &c, err, sizeof(err)) != VJ_OK) {
		ok(0, "open: %s", err);
		return done_testing();
	}
	test_parse(&q);
	test_errors(&q);
	prov_close(&q);
	cleanup_run();
	return done_testing();
}
