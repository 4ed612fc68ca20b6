/*
 * fake_route.c: which endpoint a request is for, which fault it gets,
 * and the small endpoints (static files, redirects, control).
 *
 * The order for the API endpoints follows a real provider: the key is
 * checked first, then the body, then the model; then a scripted fault,
 * the rate limit, and last the random faults.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fake.h"

#define FAKE_SLOW_MS	5000

static uint64_t
fake_latency(void)
{
	double m = fake_opt.latency_ms, u;

	if (m <= 0)
		return 0;
	u = fake_rand01(&fake_rng);
	switch (fake_opt.latency_dist) {
	case 0:  return (uint64_t)m;
	case 2:  return (uint64_t)(u * 2 * m);
	default: return (uint64_t)(-m * log1p(-u));
	}
}

/* One uniform draw against the cumulative fault probabilities. */
static int
fake_random_fault(void)
{
	double u, acc = 0;
	int f;

	if (fake_opt.p[0] <= 0)		/* p[0] holds the sum: skip the draw */
		return FAULT_NONE;
	u = fake_rand01(&fake_rng);
	for (f = 1; f < FAULT_COUNT; f++) {
		acc += fake_opt.p[f];
		if (u < acc)
			return f;
	}
	return FAULT_NONE;
}

static void
fake_text(struct fake_resp *rs, int status, const char *ctype, const char *body)
{
	rs->status = status;
	rs->ctype = ctype;
	fake_buf_adds(&rs->body, body);
}

static int
fake_model_known(const char *m)
{
	int i;

	if (fake_opt.nmodels == 0)
		return 1;
	for (i = 0; i < fake_opt.nmodels; i++)
		if (strcmp(fake_opt.models[i], m) == 0)
			return 1;
	return 0;
}

static int
fake_key_ok(const char *got)
{
	return fake_opt.key == NULL || (got != NULL && strcmp(got, fake_opt.key) == 0);
}

/* The timeout/drop/slow/blank faults are the same for every family. */
static int
fake_transport_fault(struct fake_resp *rs, int fault)
{
	if (fault == FAULT_TIMEOUT) {
		rs->action = ACT_HANG;
		return 1;
	}
	if (fault == FAULT_DROP) {
		rs->action = ACT_DROP;
		return 1;
	}
	return 0;
}

/* ---- Gemini ---- */

static int
fake_gemini_check(struct fake_call *call, const char *model, struct fake_resp *rs)
{
	json_t *c, *parts;

	if (!json_is_object(call->req)) {
		fake_gemini_error(call, rs, 400, "Invalid JSON payload received.");
		return -1;
	}
	c = json_object_get(call->req, "contents");
	parts = json_object_get(json_array_get(c, 0), "parts");
	if (!json_is_array(c) || json_array_size(c) == 0 || !json_is_array(parts) ||
	    json_array_size(parts) == 0) {
		fake_gemini_error(call, rs, 400, "* GenerateContentRequest.contents: contents "
		    "is not specified");
		return -1;
	}
	if (!fake_model_known(model)) {
		char msg[512];

		snprintf(msg, sizeof(msg), "models/%s is not found for API version v1beta, "
		    "or is not supported for generateContent.", model);
		fake_gemini_error(call, rs, 404, msg);
		return -1;
	}
	return 0;
}

static void
fake_gemini_fault(struct fake_call *call, struct fake_resp *rs, int fault)
{
	switch (fault) {
	case FAULT_429:
		call->retry_ms = 1500;
		fake_gemini_429(call, rs, 0);
		break;
	case FAULT_429DAY: case FAULT_QUOTA:
		fake_gemini_429(call, rs, 1);
		break;
	case FAULT_BADKEY:
		fake_gemini_error(call, rs, 400, NULL);
		break;
	case FAULT_UNKNOWNMODEL: case FAULT_404:
		fake_gemini_error(call, rs, 404, NULL);
		break;
	case FAULT_401: case FAULT_402: case FAULT_403: case FAULT_408:
	case FAULT_500: case FAULT_502: case FAULT_503: case FAULT_504:
		fake_gemini_error(call, rs, atoi(fake_fault_name(fault)), NULL);
		break;
	case FAULT_SHOULDRETRY_FALSE:
		fake_gemini_error(call, rs, 500, NULL);
		fake_resp_header(rs, "x-should-retry: false");
		break;
	case FAULT_VLLM:
		fake_gemini_error(call, rs, 400, "Request contains an invalid argument.");
		break;
	case FAULT_ECHOKEY: case FAULT_ECHOKEY_U:
		fake_echo_key(call, rs, fault);
		break;
	default:
		if (!fake_odd_answer(call, rs, fault))
			fake_gemini_ok(call, rs, fault);
		break;
	}
}


static int fake_openai_check(struct fake_call *, struct fake_resp *);
static void fake_openai_fault(struct fake_call *, struct fake_resp *, int);

/* Everything after the key check, for either family; batch lines (online
 * 0) skip the rate limit, flex shedding and the random faults but get the
 * scripted ones. */
static void
fake_answer(struct fake_call *call, struct fake_resp *rs, const char *body, size_t len,
    int online)
{
	json_error_t jerr;
	int gem = call->family == FAM_GEMINI, fault;

	/* a batch line comes parsed (body NULL): borrowed, hence the incref */
	call->req = body ? json_loadb(body, len, 0, &jerr) : json_incref(call->req);
	fake_image_note(call->job, call->req);
	if ((gem ? fake_gemini_check(call, call->model, rs) : fake_openai_check(call, rs)) == 0) {
		fault = fake_script_next(call->job);
		uint64_t at = fake_now_ms();
		if (online && fault == FAULT_NONE && fake_rpm_take(call->family, at, &call->retry_ms)) {
			if (gem)
				fake_gemini_429(call, rs, 0);
			else
				fake_openai_429(call, rs);
		} else if (online && fault == FAULT_NONE && fake_tokens_shed(call, rs)) {
			;	/* flex, shed */
		} else {
			if (online && fault == FAULT_NONE)
				fault = fake_random_fault();
			if (!fake_transport_fault(rs, fault)) {
				if (gem)
					fake_gemini_fault(call, rs, fault);
				else
					fake_openai_fault(call, rs, fault);
			}
			if (fault == FAULT_SLOW)
				rs->delay_ms = FAKE_SLOW_MS;
		}
		fake_tokens_after(call, rs);
		if (online)
			fake_rpm_headers(rs, call->family, at);
	}
	json_decref(call->req);
	call->req = NULL;
}

static int
fake_route_gemini(struct fake_req *rq, struct fake_resp *rs, const char *rest)
{
	struct fake_call call;
	char model[256];
	const char *colon = strrchr(rest, ':');

	memset(&call, 0, sizeof(call));
	call.family = FAM_GEMINI;
	call.job = rq->job[0] ? rq->job : "-";
	call.reqlen = rq->bodylen;
	call.rpm = fake_opt.rpm;
	call.model = model;
	if (colon == NULL || (size_t)(colon - rest) >= sizeof(model) || colon == rest) {
		snprintf(model, sizeof(model), "%s", "unknown");
		fake_gemini_error(&call, rs, 404, "Requested entity was not found.");
		return rs->status;
	}
	memcpy(model, rest, (size_t)(colon - rest));
	model[colon - rest] = '\0';
	if (strcmp(colon + 1, "generateContent") != 0) {
		fake_gemini_error(&call, rs, 400, "vj-fake only implements generateContent.");
		return rs->status;
	}
	call.key = rq->goog_key;
	if (!fake_key_ok(rq->goog_key)) {
		fake_gemini_error(&call, rs, 400, NULL);
		return rs->status;
	}
	fake_answer(&call, rs, rq->body, rq->bodylen, 1);
	return rs->action == ACT_SEND ? rs->status : 0;
}

/* ---- OpenAI / DeepSeek ---- */

static int
fake_openai_check(struct fake_call *call, struct fake_resp *rs)
{
	const char *model = json_string_value(json_object_get(call->req, "model"));
	json_t *msgs = json_object_get(call->req, "messages");
	char msg[512];

	if (!json_is_object(call->req)) {
		fake_openai_error(call, rs, 400, "invalid_request_error", "invalid_json",
		    "Failed to parse the request body as JSON");
		return -1;
	}
	if (model == NULL || !json_is_array(msgs) || json_array_size(msgs) == 0) {
		fake_openai_error(call, rs, 400, "invalid_request_error", NULL,
		    model == NULL ? "you must provide a model parameter"
		    : "'messages' must be a non-empty array");
		return -1;
	}
	call->model = model;
	if (!fake_model_known(model)) {
		snprintf(msg, sizeof(msg), "The model `%s` does not exist or you do not have "
		    "access to it.", model);
		fake_openai_error(call, rs, 404, "invalid_request_error", "model_not_found", msg);
		return -1;
	}
	return 0;
}

static void
fake_openai_fault(struct fake_call *call, struct fake_resp *rs, int fault)
{
	switch (fault) {
	case FAULT_429:
		call->retry_ms = 1000;
		fake_openai_429(call, rs);
		break;
	case FAULT_429DAY: case FAULT_QUOTA:
		fake_openai_error(call, rs, 429, "insufficient_quota", "insufficient_quota",
		    "You exceeded your current quota, please check your plan and billing details.");
		break;
	case FAULT_BADKEY: case FAULT_401:
		fake_openai_error(call, rs, 401, "authentication_error", "invalid_api_key",
		    "Authentication Fails, Your api key is invalid");
		break;
	case FAULT_402:
		fake_openai_error(call, rs, 402, "unknown_error", "invalid_request_error",
		    "Insufficient Balance");
		break;
	case FAULT_403:
		fake_openai_error(call, rs, 403, "permission_error", "permission_denied",
		    "You are not allowed to use this model.");
		break;
	case FAULT_UNKNOWNMODEL: case FAULT_404:
		fake_openai_error(call, rs, 404, "invalid_request_error", "model_not_found",
		    "The model does not exist or you do not have access to it.");
		break;
	case FAULT_408:
		fake_openai_error(call, rs, 408, "timeout", NULL, "Request timed out.");
		break;
	case FAULT_500: case FAULT_SHOULDRETRY_FALSE:
		fake_openai_error(call, rs, 500, "server_error", NULL, "The server had an error "
		    "while processing your request. Sorry about that!");
		if (fault == FAULT_SHOULDRETRY_FALSE)
			fake_resp_header(rs, "x-should-retry: false");
		break;
	case FAULT_502:
		fake_openai_error(call, rs, 502, "server_error", NULL, "Bad gateway.");
		break;
	case FAULT_503:
		fake_openai_error(call, rs, 503, "server_error", "service_unavailable",
		    "Service Unavailable: the server is overloaded, please try again later.");
		break;
	case FAULT_504:
		fake_openai_error(call, rs, 504, "server_error", NULL, "Gateway timeout.");
		break;
	case FAULT_VLLM:
		fake_resp_json(rs, 400, json_pack("{s:s,s:s,s:s,s:n,s:i}", "object", "error",
		    "message", "This model's maximum context length is 4096 tokens.",
		    "type", "BadRequestError", "param", "code", 400));
		break;
	case FAULT_ECHOKEY: case FAULT_ECHOKEY_U:
		fake_echo_key(call, rs, fault);
		break;
	default:
		if (!fake_odd_answer(call, rs, fault))
			fake_openai_ok(call, rs, fault);
		break;
	}
}


static int
fake_route_openai(struct fake_req *rq, struct fake_resp *rs)
{
	struct fake_call call;

	memset(&call, 0, sizeof(call));
	call.family = FAM_OPENAI;
	call.job = rq->job[0] ? rq->job : "-";
	call.reqlen = rq->bodylen;
	call.rpm = fake_opt.rpm;
	call.key = rq->bearer;
	if (!fake_key_ok(rq->bearer)) {
		fake_openai_fault(&call, rs, FAULT_BADKEY);
		return rs->status;
	}
	fake_answer(&call, rs, rq->body, rq->bodylen, 1);
	return rs->action == ACT_SEND ? rs->status : 0;
}

/* A batch line, answered like its online request (see fake_answer). */
void
fake_answer_line(int family, const char *model, const char *job, json_t *req,
    size_t len, struct fake_resp *rs)
{
	struct fake_call call;

	memset(&call, 0, sizeof(call));
	call.family = family;
	call.model = model;
	call.job = job;
	call.reqlen = len;
	call.req = req;
	if (family == FAM_GEMINI)
		fake_answer(&call, rs, NULL, len, 0);
	else
		fake_answer(&call, rs, NULL, len, 0);
}

/* ---- static files and redirects ---- */

static const char *
fake_ctype(const char *name)
{
	static const struct { const char *ext, *type; } t[] = {
		{ ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" }, { ".png", "image/png" },
		{ ".webp", "image/webp" }, { ".gif", "image/gif" }, { ".heic", "image/heic" },
		{ ".heif", "image/heif" }, { ".avif", "image/avif" }, { ".bmp", "image/bmp" },
		{ ".tif", "image/tiff" }, { ".tiff", "image/tiff" }, { ".svg", "image/svg+xml" },
		{ ".html", "text/html" }, { ".txt", "text/plain" }, { ".json", "application/json" },
	};
	const char *dot = strrchr(name, '.');
	size_t i;

	for (i = 0; dot && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(dot, t[i].ext) == 0)
			return t[i].type;
	return "application/octet-stream";
}

static int
fake_read_file(const char *name, struct fake_buf *out)
{
	char path[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	/* Names only: no way out of the --static directory. */
	if (fake_opt.static_dir == NULL || name[0] == '\0' || name[0] == '.' ||
	    strchr(name, '/') != NULL || strchr(name, '\\') != NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", fake_opt.static_dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -1;
	}
	fake_buf_reserve(out, (size_t)sb.st_size);
	while ((n = read(fd, out->p + out->len, out->cap - out->len - 1)) > 0) {
		out->len += (size_t)n;
		fake_buf_reserve(out, 4096);
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

static void
fake_static_fault(struct fake_resp *rs, int fault)
{
	int code = atoi(fake_fault_name(fault));
	char line[64];

	rs->body.len = 0;
	if (fault == FAULT_429)
		fake_resp_header(rs, "Retry-After: 1");
	if (code < 400)
		code = 500;
	snprintf(line, sizeof(line), "%d %s\n", code, fake_http_reason(code));
	fake_text(rs, code, "text/plain", line);
}

static int
fake_route_img(struct fake_resp *rs, const char *name, int fault)
{
	if (fake_transport_fault(rs, fault))
		return 0;
	switch (fault) {
	case FAULT_NONE: case FAULT_OK: case FAULT_SLOW: case FAULT_BLANK:
	case FAULT_BADJSON: case FAULT_MAXTOKENS: case FAULT_SCHEMA:
		break;
	case FAULT_EMPTY: case FAULT_SPACES:
		rs->status = 200;
		rs->ctype = fake_ctype(name);
		return 200;
	default:
		fake_static_fault(rs, fault);
		return rs->status;
	}
	if (fake_read_file(name, &rs->body) == -1) {
		rs->body.len = 0;
		fake_text(rs, 404, "text/plain", "404 Not Found\n");
		return 404;
	}
	rs->status = 200;
	rs->ctype = fake_ctype(name);
	/* A cut-off download: half the bytes, honestly labelled. */
	if (fault == FAULT_BADJSON || fault == FAULT_MAXTOKENS)
		rs->body.len /= 2;
	if (fault == FAULT_SLOW)
		rs->delay_ms = FAKE_SLOW_MS;
	if (fake_opt.rl_values[0])
		fake_rpm_headers(rs, -1, 0);	/* an image host's limit, for vj-ingest */
	return 200;
}

static int
fake_redirect(struct fake_resp *rs, const char *loc)
{
	fake_resp_header(rs, "Location: %s", loc);
	fake_text(rs, 302, "text/html", "<html><body>Moved</body></html>\n");
	return 302;
}

static int
fake_route_get(struct fake_req *rq, struct fake_resp *rs, const char *key)
{
	const char *p = rq->path;
	char loc[1024];
	int fault = fake_script_next(key);

	if (strncmp(p, "/img/", 5) == 0)
		return fake_route_img(rs, p + 5, fault);
	if (fake_transport_fault(rs, fault))
		return 0;
	if (fault != FAULT_NONE && fault != FAULT_OK && fault != FAULT_SLOW) {
		fake_static_fault(rs, fault);
		return rs->status;
	}
	if (fault == FAULT_SLOW)
		rs->delay_ms = FAKE_SLOW_MS;
	if (strncmp(p, "/redirect/", 10) == 0) {
		char *end;
		long n = strtol(p + 10, &end, 10);

		if (end == p + 10 || *end != '/' || n < 0)
			return fake_redirect(rs, "/img/");
		if (n == 0)
			snprintf(loc, sizeof(loc), "/img/%s", end + 1);
		else
			snprintf(loc, sizeof(loc), "/redirect/%ld/%s", n - 1, end + 1);
		return fake_redirect(rs, loc);
	}
	if (strcmp(p, "/loop") == 0)
		return fake_redirect(rs, "/loop");
	if (strcmp(p, "/to-file") == 0)
		return fake_redirect(rs, "file:///etc/passwd");
	if (strcmp(p, "/html") == 0) {
		fake_text(rs, 200, "text/html; charset=utf-8", "<!DOCTYPE html>\n<html><head>"
		    "<title>vj-fake</title></head><body><p>Not an image.</p></body></html>\n");
		return 200;
	}
	if (strcmp(p, "/hang") == 0) {
		rs->action = ACT_HANG;
		return 0;
	}
	fake_text(rs, 404, "text/plain", "404 Not Found\n");
	return 404;
}

/* ---- control ---- */

static int
fake_route_control(struct fake_req *rq, struct fake_resp *rs)
{
	char err[256];

	if (strcmp(rq->path, "/_stats") == 0) {
		json_t *st = fake_stats_json();
		if (fake_opt.image_sizes)
			json_object_set_new(st, "images", fake_image_json());
		json_object_set_new(st, "seen", fake_tokens_json());
		json_object_set_new(st, "batch", fake_batch_json());
		fake_resp_json(rs, 200, st);
	} else if (strcmp(rq->path, "/_reset") == 0) {
		fake_stats_reset();
		fake_image_reset();
		fake_tokens_reset();
		fake_rpm_reset();
		fake_batch_reset();
		fake_resp_json(rs, 200, json_pack("{s:b}", "ok", 1));
	} else if (strcmp(rq->path, "/_script") == 0 && strcmp(rq->method, "POST") == 0) {
		if (fake_script_load(rq->body, rq->bodylen, err, sizeof(err)) == -1)
			fake_resp_json(rs, 400, json_pack("{s:s}", "error", err));
		else
			fake_resp_json(rs, 200, json_pack("{s:b}", "ok", 1));
	} else if (strcmp(rq->path, "/_batch/advance") == 0 && strcmp(rq->method, "POST") == 0) {
		const char *ms = strstr(rq->target, "ms=");	/* fake_batch.c */

		fake_batch_advance(ms ? strtoull(ms + 3, NULL, 10) : 0);
		fake_resp_json(rs, 200, json_pack("{s:b}", "ok", 1));
	} else {
		fake_text(rs, 404, "text/plain", "404 Not Found\n");
	}
	return rs->status;
}

int
fake_route(struct fake_req *rq, struct fake_resp *rs)
{
	const char *p = rq->path, *key;
	int post = strcmp(rq->method, "POST") == 0, family, status;

	if (strncmp(p, "/_", 2) == 0)
		return fake_route_control(rq, rs);	/* never counted */
	if ((status = fake_batch_route(rq, rs)) != -1) {	/* fake_batch.c */
		if (rs->action == ACT_SEND && rs->delay_ms == 0)
			rs->delay_ms = fake_latency();
		fake_stats_status(status);
		return status;
	}

	if (post && (strncmp(p, "/v1beta/models/", 15) == 0 || strncmp(p, "/v1/models/", 11) == 0))
		family = FAM_GEMINI;
	else if (post && (strcmp(p, "/chat/completions") == 0 ||
	    strcmp(p, "/v1/chat/completions") == 0))
		family = FAM_OPENAI;
	else
		family = FAM_STATIC;
	/* Images are counted by path: the downloader is not tied to one job. */
	if (strncmp(p, "/img/", 5) == 0)
		key = p;
	else if (rq->job[0])
		key = rq->job;
	else
		key = family == FAM_STATIC ? p : "-";
	fake_stats_count(key, family);

	if (family == FAM_GEMINI)
		status = fake_route_gemini(rq, rs, strstr(p, "/models/") + 8);
	else if (family == FAM_OPENAI)
		status = fake_route_openai(rq, rs);
	else if (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0)
		status = fake_route_get(rq, rs, key);
	else {
		fake_text(rs, 405, "text/plain", "405 Method Not Allowed\n");
		status = 405;
	}
	if (rs->action == ACT_SEND && rs->delay_ms == 0)
		rs->delay_ms = fake_latency();
	rs->head = strcmp(rq->method, "HEAD") == 0;
	fake_stats_status(rs->action == ACT_SEND ? status : 0);
	return status;
}
