/* test_batchwire: the batch APIs' wire (providers/batchwire.c): input line
 * frames, batch objects in both providers' spellings, list pages, result
 * lines, the upload URL check and the limits file. */
#include "providers/batchwire.h"
#include "providers/provider.h"
#include "base/util.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct prov gem, oai;

static json_t *
J(const char *s)
{
	json_t *v = json_loads(s, 0, NULL);
	if (!v)
		printf("# bad test JSON: %s\n", s);
	return v;
}

static void
test_lines(void)
{
	struct buf b = { 0 };
	bw_line_open(gem.ctx, "j1.0123", &b);
	is_str(b.p, "{\"key\":\"j1.0123\",\"request\":", "gemini line");
	b.len = 0;
	bw_line_open(oai.ctx, "j1.0123", &b);
	buf_add(&b, "", 1);
	ok(strstr(b.p, "\"custom_id\":\"j1.0123\"") && strstr(b.p, "\"url\":\"/v1/chat/completions\""),
	    "openai line");
	is_str(bw_line_close(gem.ctx), "}\n", "closed with a newline");
	buf_free(&b);
}

static void
test_batch(void)
{
	struct bw_info i;
	json_t *d = J("{\"name\":\"batches/abc\",\"metadata\":{\"displayName\":\"vj-x-analyze-000001\","
	    "\"state\":\"JOB_STATE_RUNNING\",\"batchStats\":{\"requestCount\":\"10\","
	    "\"successfulRequestCount\":\"4\",\"pendingRequestCount\":\"6\"}}}");
	is_int(bw_parse_batch(gem.ctx, d, &i), 0, "a gemini operation");
	is_str(i.id, "batches/abc", "its id");
	is_str(i.name, "vj-x-analyze-000001", "its display name");
	is_int(i.state, BW_RUNNING, "JOB_STATE_ spelling");
	is_int(i.total, 10, "int64 counts as strings");
	is_int(i.ok, 4, "succeeded");
	is_int(i.failed, 0, "a count left out is 0");
	json_decref(d);
	d = J("{\"name\":\"batches/abc\",\"metadata\":{\"state\":\"BATCH_STATE_RUNNING\","
	    "\"batchStats\":{\"requestCount\":\"3\",\"successfulRequestCount\":\"3\"}}}");
	bw_parse_batch(gem.ctx, d, &i);
	is_int(i.state, BW_FINALIZING, "running with nothing pending: finalizing");
	json_decref(d);
	d = J("{\"name\":\"batches/abc\",\"done\":true,\"metadata\":{\"state\":\"BATCH_STATE_SUCCEEDED\","
	    "\"endTime\":\"2026-12-02T06:00:00.5Z\"},\"response\":{\"responsesFile\":\"files/out-1\"}}");
	bw_parse_batch(gem.ctx, d, &i);
	is_int(i.state, BW_SUCCEEDED, "succeeded");
	is_str(i.out_file, "files/out-1", "its results file");
	is_int(i.end_t, 1796191200000LL, "endTime in ms");
	json_decref(d);
	d = J("{\"id\":\"batch_1\",\"status\":\"finalizing\",\"request_counts\":{\"total\":5,"
	    "\"completed\":4,\"failed\":1},\"metadata\":{\"vj_name\":\"vj-x-generate-000002\"},"
	    "\"output_file_id\":\"file-o\",\"error_file_id\":null}");
	is_int(bw_parse_batch(oai.ctx, d, &i), 0, "an openai batch");
	is_int(i.state, BW_FINALIZING, "finalizing is its own state");
	ok(!bw_terminal(i.state), "and not done");
	is_str(i.name, "vj-x-generate-000002", "metadata.vj_name");
	is_int(i.pending, 0, "nothing pending");
	is_str(i.out_file, "file-o", "output file");
	is_str(i.err_file, "", "no error file");
	json_decref(d);
	d = J("{\"id\":\"batch_2\",\"status\":\"failed\",\"errors\":{\"data\":[{\"code\":"
	    "\"duplicate_custom_id\",\"message\":\"dup\",\"line\":3}]}}");
	bw_parse_batch(oai.ctx, d, &i);
	is_str(i.msg, "duplicate_custom_id: dup (line 3)", "a validation failure's words");
	json_decref(d);
	d = J("{\"id\":\"../../etc\",\"status\":\"completed\"}");
	is_int(bw_parse_batch(oai.ctx, d, &i), -1, "an id that is no token is refused");
	json_decref(d);
}

static int seen;
static void
count_cb(void *ctx, const struct bw_info *b)
{
	seen++;
}

static void
test_list(void)
{
	char next[64];
	json_t *d = J("{\"data\":[{\"id\":\"batch_a\",\"status\":\"completed\"},{\"id\":\"batch_b\","
	    "\"status\":\"expired\"}],\"has_more\":true,\"last_id\":\"batch_b\"}");
	seen = 0;
	bw_parse_list(oai.ctx, d, count_cb, NULL, next, sizeof next);
	is_int(seen, 2, "two batches");
	is_str(next, "batch_b", "the next page after the last id");
	json_decref(d);
	d = J("{\"operations\":[{\"name\":\"batches/x\",\"metadata\":{\"state\":\"BATCH_STATE_PENDING\"}}]}");
	seen = 0;
	bw_parse_list(gem.ctx, d, count_cb, NULL, next, sizeof next);
	is_int(seen, 1, "gemini operations");
	is_str(next, "", "no next page");
	json_decref(d);
}

static void
test_results(void)
{
	char *key, *body;
	long st;
	int miss;
	const char *l = "{\"key\":\"j1.k\",\"response\":{\"candidates\":[]}}";
	is_int(bw_result_line(gem.ctx, l, strlen(l), &key, &st, &body, &miss), 0, "gemini answer");
	is_str(key, "j1.k", "its key");
	is_int(st, 200, "as a 200");
	is_str(body, "{\"candidates\":[]}", "its body");
	free(key);
	free(body);
	l = "{\"key\":\"j2.k\",\"error\":{\"code\":8,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\"}}";
	bw_result_line(gem.ctx, l, strlen(l), &key, &st, &body, &miss);
	is_int(st, 429, "gRPC 8 is a 429");
	ok(strstr(body, "\"error\"") != NULL, "the error for the provider's parse");
	free(key);
	free(body);
	l = "{\"custom_id\":\"j3.k\",\"response\":{\"status_code\":400,\"body\":{\"error\":{}}},\"error\":null}";
	bw_result_line(oai.ctx, l, strlen(l), &key, &st, &body, &miss);
	is_int(st, 400, "openai status_code");
	is_int(miss, 0, "answered");
	free(key);
	free(body);
	l = "{\"custom_id\":\"j4.k\",\"response\":null,\"error\":{\"code\":\"batch_expired\",\"message\":\"x\"}}";
	is_int(bw_result_line(oai.ctx, l, strlen(l), &key, &st, &body, &miss), 0, "expired line");
	is_int(miss, 1, "is not answered");
	free(key);
	free(body);
	l = "{\"custom_id\":\"a b\",\"response\":{\"status_code\":200,\"body\":{}}}";
	is_int(bw_result_line(oai.ctx, l, strlen(l), &key, &st, &body, &miss), -1, "a key with a space");
	l = "not json";
	is_int(bw_result_line(oai.ctx, l, strlen(l), &key, &st, &body, &miss), -1, "not JSON");
}

static void
test_upload_url(void)
{
	struct eng_http h = { 0 };
	char err[200], path[] = "/tmp/vj-test-bw.XXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	is_int(bw_req_upload(gem.ctx, 1, path, "n", "http://evil.example/up?x", &h, err, sizeof err), -1,
	    "an upload URL on another host is refused");
	is_int(bw_req_upload(gem.ctx, 1, path, "n", "http://127.0.0.1:9/upload/v1beta/files?id=1", &h,
	    err, sizeof err), 0, "one on the provider's origin is taken");
	is_int(bw_req_upload(gem.ctx, 1, path, "n", "http://127.0.0.1:99/upload", &h, err, sizeof err),
	    -1, "another port is another origin");
	free(h.url);
	curl_slist_free_all(h.headers);
	body_free(h.body);
	unlink(path);
}

static void
test_limits(void)
{
	char path[] = "/tmp/vj-test-lim.XXXXXX", err[300];
	struct bw_limits l;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("# comment\nopenai 1000 7\n", f);
	fclose(f);
	setenv("VJ_BATCH_LIMITS", path, 1);
	is_int(bw_limits("openai", &l, err, sizeof err), 0, "limits from VJ_BATCH_LIMITS");
	is_int(l.max_bytes, 1000, "bytes");
	is_int(l.max_requests, 7, "requests");
	is_int(bw_limits("gemini", &l, err, sizeof err), -1, "a provider it lacks");
	ok(strstr(err, "no batch limits for gemini") != NULL, "is named");
	unsetenv("VJ_BATCH_LIMITS");
	unlink(path);
}

int
main(void)
{
	char err[256];
	struct prov_config g = { .stage = "analyze", .name = "gemini", .base_url = "http://127.0.0.1:9",
		.run = "/tmp" };
	struct prov_config o = { .stage = "generate", .name = "openai",
		.base_url = "http://127.0.0.1:9/v1", .run = "/tmp" };
	setenv("GEMINI_API_KEY", "test-key-0123456789", 1);
	if (prov_open(&gem, &g, err, sizeof err) != VJ_OK || prov_open(&oai, &o, err, sizeof err) != VJ_OK) {
		ok(0, "open: %s", err);
		return done_testing();
	}
	ok(bw_supported(gem.ctx) && bw_supported(oai.ctx), "both have a batch API");
	test_lines();
	test_batch();
	test_list();
	test_results();
	test_upload_url();
	test_limits();
	struct prov full;
	struct prov_config f = o;
	f.base_url = "http://127.0.0.1:9/v1/chat/completions";
	if (prov_open(&full, &f, err, sizeof err) == VJ_OK) {
		struct eng_http h = { 0 };
		bw_req_get(full.ctx, "batch_x", &h);
		is_str(h.url, "http://127.0.0.1:9/v1/batches/batch_x", "a full chat endpoint as --base-url");
		free(h.url);
		curl_slist_free_all(h.headers);
		prov_close(&full);
	}
	prov_close(&gem);
	prov_close(&oai);
	return done_testing();
}
