/* fuzz_answer: a provider's answer body, through both wire formats' parse
 * (Gemini and OpenAI-compatible), for analyze and generate, at 200 and at
 * an error status. */
#include "content/schema.h"
#include "providers/provider.h"
#include "base/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct prov provs[4];
static json_t *recs[2];

static void
setup(void)
{
	static const char *const names[2] = { "gemini", "openai" };
	static const char *const stages[2] = { "analyze", "generate" };
	vj_verbose = -1;
	setenv("GEMINI_API_KEY", "fuzz-key-0123456789", 1);
	setenv("DEEPSEEK_API_KEY", "fuzz-key-0123456789", 1);
	setenv("OPENAI_API_KEY", "fuzz-key-0123456789", 1);
	for (int i = 0; i < 4; i++) {
		/* an OpenAI-compatible vision server for analyze (DeepSeek takes no
		 * images); its key variable named, as a user would */
		struct prov_config c = { .stage = stages[i / 2], .name = names[i % 2], .run = "/tmp",
			.base_url = i == 1 ? "http://127.0.0.1:9/v1" : NULL,
			.api_key_env = i == 1 ? "OPENAI_API_KEY" : NULL };
		char err[512];
		if (prov_open(&provs[i], &c, err, sizeof err) != VJ_OK) {
			fprintf(stderr, "fuzz_answer: %s\n", err);
			abort();
		}
	}
	recs[0] = json_pack("{s:s, s:{s:s}, s:{s:s, s:s, s:s, s:i}}", "id", "f1",
	    "job", "imageUrl", "http://example.com/1.jpg",
	    "image", "sha256", "00", "mime", "image/jpeg", "ext", "jpg", "bytes", 1);
	recs[1] = json_deep_copy(recs[0]);
	json_object_set_new(json_object_get(recs[1], "job"), "outputFormat", json_string("ad_copy"));
	json_object_set(recs[1], "analysis", schema_example());
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long status[] = { 200, 429, 500, 400 };
	if (!provs[0].ops)
		setup();
	char *body = malloc(size + 1);
	memcpy(body, data, size);
	body[size] = 0;
	for (int i = 0; i < 4; i++) {
		struct eng_task t = { .rec = recs[i / 2], .id = "f1" };
		struct eng_resp r = { .status = status[size % 4], .body = body, .len = size,
			.retry_after = -1, .should_retry = -1 };
		json_t *result = NULL, *usage = NULL;
		struct eng_err e;
		memset(&e, 0, sizeof e);
		provs[i].ops->parse(provs[i].ctx, &t, &r, &result, &usage, &e);
		json_decref(result);
		json_decref(usage);
	}
	free(body);
	return 0;
}
