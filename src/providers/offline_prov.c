/* offline_prov: the providers that need no network.  Both do their work in
 * build() and return 1, so the engine never sends a request for them. */
#include "providers/provshared.h"
#include "core/store.h"
#include "content/offline_analyze.h"
#include "content/offline_write.h"
#include "content/schema.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
analyze_build(void *pctx, struct eng_task *t, struct eng_http *h, json_t **result,
    struct eng_err *e)
{
	struct prov_ctx *c = pctx;
	const char *mime;
	char *path, *buf, err[256], why[256];
	size_t len;
	json_t *an;

	if (ps_image(c, t->rec, &path, &mime, e) < 0)
		return -1;
	/* read through the store, which checks the bytes against their name */
	const char *sha = json_string_value(json_object_get(json_object_get(t->rec, "image"), "sha256"));
	buf = store_get(c->run, sha, &len);
	if (!buf) {
		if (errno == EILSEQ)
			ps_err(c, e, EC_FATAL, 0, "object store damaged: %s does not hold the bytes its "
			    "name says (re-ingest the job's image to replace it)", path);
		else
			ps_err(c, e, EC_PERM, 0, "cannot read the image: %s", strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	*err = '\0';
	an = offline_analyze((const unsigned char *)buf, len, mime, err, sizeof(err));
	free(buf);
	if (!an) {
		ps_err(c, e, EC_PERM, 0, "%s", *err ? err : "cannot decode the image");
		return -1;
	}
	/* Our own analyser must keep to the schema as much as a model must. */
	if (schema_validate(an, why, sizeof(why)) < 0) {
		ps_err(c, e, EC_PERM, 0, "the offline analysis violates the schema: %s", why);
		json_decref(an);
		return -1;
	}
	*result = json_pack("{s:o, s:o}", "analysis", an, "meta", ps_meta(c, NULL, "stop"));
	return 1;
}

/* With --prompt-file the template is the writer: its rendering is the text. */
static int
generate_build(void *pctx, struct eng_task *t, struct eng_http *h, json_t **result,
    struct eng_err *e)
{
	struct prov_ctx *c = pctx;
	struct prompt_msg m;
	char err[400];
	json_t *content;

	if (prompt_custom(c->prompt)) {
		if (prompt_render(c->prompt, t->rec, &m, err, sizeof(err)) < 0) {
			ps_err(c, e, EC_PERM, 0, "%s", err);
			return -1;
		}
		content = json_pack("{s:s, s:s}", "format", m.format, "text", m.user);
		prompt_msg_free(&m);
	} else if (offline_write(t->rec, prompt_job_format(t->rec), &content, err, sizeof(err)) < 0) {
		ps_err(c, e, EC_PERM, 0, "%s", err);
		return -1;
	}
	*result = json_pack("{s:o, s:o}", "content", content, "meta", ps_meta(c, NULL, "stop"));
	return 1;
}

static int
offline_parse(void *pctx, struct eng_task *t, const struct eng_resp *r, json_t **result,
    json_t **usage, struct eng_err *e)
{
	ps_err(pctx, e, EC_FATAL, r->status, "no request was sent, yet an answer came");
	return -1;
}

const struct provider offline_analyze_provider = {
	"offline", analyze_build, offline_parse,
};

const struct provider offline_generate_provider = {
	"offline", generate_build, offline_parse,
};
