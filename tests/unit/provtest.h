/* provtest.h: what test_gemini and test_openai share: a run with an image
 * in its store, a record, build() and parse() with canned answers. */
#ifndef VJ_PROVTEST_H
#define VJ_PROVTEST_H

#include "providers/provider.h"
#include "core/store.h"
#include "base/util.h"
#include "tap.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_KEY "sk-test-0123456789-SECRET"

static char run_dir[] = "/tmp/vj-test-prov.XXXXXX";
static char img_sha[65];
/* not a real JPEG: the providers never decode it */
static const unsigned char img_bytes[] = "\xff\xd8\xff\xe0 pretend jpeg \x00\x01\x02\xfe";

static const char good_analysis[] =
    "{\"colors\":{\"primary\":[\"red\"],\"secondary\":[],\"accent\":[\"gold\"],\"description\":\"warm\"},"
    "\"visual_elements\":{\"objects\":[\"mug\"],\"shapes\":[\"circle\"],\"text\":\"\",\"icons\":[]},"
    "\"mood_and_tone\":{\"mood\":\"calm\",\"tone\":\"soft\",\"energy_level\":\"low\"},"
    "\"composition\":{\"layout\":\"centered\",\"balance\":\"symmetric\",\"focal_point\":\"mug\","
    "\"negative_space\":\"generous\"},"
    "\"lighting_and_style\":{\"lighting\":\"soft\",\"style\":\"photo\",\"texture\":\"smooth\"},"
    "\"brand_insights\":{\"perceived_industry\":\"food\",\"target_audience\":\"adults\","
    "\"brand_personality\":\"warm\",\"premium_level\":\"mid-range\"}}";

static int
setup_run(void)
{
	if (!mkdtemp(run_dir))
		return -1;
	return store_put(run_dir, img_bytes, sizeof(img_bytes) - 1, img_sha);
}

static void
cleanup_run(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", run_dir);
	if (system(cmd) != 0)
		printf("# cleanup failed\n");
}

static char *
b64(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* A job record: format NULL for analyze. */
static json_t *
record(const char *format, double creativity)
{
	json_t *r = json_pack("{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:i}}",
	    "id", "a1",
	    "job", "imageUrl", "http://example.com/1.jpg", "imageContext", "a red mug",
	    "analysisPurpose", "catalogue",
	    "image", "sha256", img_sha, "mime", "image/jpeg", "ext", "jpg",
	    "bytes", (int)(sizeof(img_bytes) - 1));
	if (creativity >= 0)
		json_object_set_new(json_object_get(r, "job"), "creativityLevel", json_real(creativity));
	if (format) {
		json_object_set_new(json_object_get(r, "job"), "outputFormat", json_string(format));
		json_object_set_new(r, "analysis", json_loads(good_analysis, 0, NULL));
	}
	return r;
}

/* The built request of a task. */
struct built {
	int rc;
	struct eng_http h;
	json_t *body;           /* the flattened body, parsed */
	char *raw;
	struct eng_err e;
	json_t *result;
};

static void
build(struct prov *p, json_t *rec, struct built *b)
{
	struct eng_task t;
	size_t len;

	memset(&t, 0, sizeof(t));
	memset(b, 0, sizeof(*b));
	t.rec = rec;
	t.id = "a1";
	b->rc = p->ops->build(p->ctx, &t, &b->h, &b->result, &b->e);
	if (b->rc == 0 && b->h.body) {
		b->raw = body_flatten(b->h.body, &len);
		b->body = json_loadb(b->raw, len, 0, NULL);
	}
}

static void
built_free(struct built *b)
{
	free(b->h.url);
	curl_slist_free_all(b->h.headers);
	if (b->h.body)
		body_free(b->h.body);
	json_decref(b->body);
	json_decref(b->result);
	free(b->raw);
}

static const char *
header(struct curl_slist *h, const char *name)
{
	size_t n = strlen(name);

	for (; h; h = h->next)
		if (strncasecmp(h->data, name, n) == 0 && h->data[n] == ':')
			return h->data + n + 1 + (h->data[n + 1] == ' ');
	return NULL;
}

/* What parse() made of a canned answer. */
struct parsed {
	int rc;
	json_t *result, *usage;
	struct eng_err e;
};

static void
parse_full(struct prov *p, json_t *rec, long status, const char *body, double retry_after,
    int should, struct parsed *o)
{
	struct eng_task t;
	struct eng_resp r;

	memset(&t, 0, sizeof(t));
	memset(&r, 0, sizeof(r));
	memset(o, 0, sizeof(*o));
	o->e.retry_after = -2;  /* must be set by the provider */
	t.rec = rec;
	t.id = "a1";
	r.status = status;
	r.body = body;
	r.len = strlen(body);
	r.retry_after = retry_after;
	r.should_retry = should;
	o->rc = p->ops->parse(p->ctx, &t, &r, &o->result, &o->usage, &o->e);
}

static void
parse(struct prov *p, json_t *rec, long status, const char *body, struct parsed *o)
{
	parse_full(p, rec, status, body, -1, -1, o);
}

static void
parsed_free(struct parsed *o)
{
	json_decref(o->result);
	json_decref(o->usage);
	o->result = o->usage = NULL;
}

/* parse() failed with class cls and a message containing want. */
#define is_fail(o, cls_, want, ...) do { \
	ok((o)->rc < 0 && (o)->e.cls == (cls_) && strstr((o)->e.msg, (want)) && \
	    !strstr((o)->e.msg, TEST_KEY), __VA_ARGS__); \
	if (!((o)->rc < 0 && (o)->e.cls == (cls_) && strstr((o)->e.msg, (want)))) \
		printf("#   rc %d class %s msg '%s'\n", (o)->rc, eng_class_name[(o)->e.cls], (o)->e.msg); \
} while (0)

static long long
usage_n(json_t *u, const char *k)
{
	return json_integer_value(json_object_get(u, k));
}

#endif
