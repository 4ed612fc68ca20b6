/* test_offline_write: the offline providers: the writer's text for every
 * format (real sentences, deterministic, JSON formats valid), a writer for
 * each built-in format and a refusal of any other, a template as the
 * writer, and the analyser wrapped as a provider. */
#include "content/offline_write.h"
#include "content/prompt.h"
#include "providers/provider.h"
#include "content/schema.h"
#include "core/store.h"
#include "base/util.h"
#include "tap.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/vj-test-offline-w.XXXXXX";

/* What the offline analyser gives: hex and name, phrases. */
static const char analysis[] =
    "{\"colors\":{\"primary\":[\"#c8553d (coral)\",\"#f4e9d8 (cream)\"],\"secondary\":[\"#2d3047 (navy)\"],"
    "\"accent\":[\"#e0a100 (gold)\"],\"description\":\"Dominated by coral and cream, accented by gold.\"},"
    "\"visual_elements\":{\"objects\":[],\"shapes\":[],\"text\":\"\",\"icons\":[]},"
    "\"mood_and_tone\":{\"mood\":\"inviting\",\"tone\":\"balanced and warm\",\"energy_level\":\"medium\"},"
    "\"composition\":{\"layout\":\"landscape, centered subject\",\"balance\":\"roughly symmetrical\","
    "\"focal_point\":\"center\",\"negative_space\":\"moderate (40% low-detail)\"},"
    "\"lighting_and_style\":{\"lighting\":\"bright, medium contrast, warm cast\",\"style\":\"photographic\","
    "\"texture\":\"smooth\"},"
    "\"brand_insights\":{\"perceived_industry\":\"unknown\",\"target_audience\":\"unknown\","
    "\"brand_personality\":\"unknown\",\"premium_level\":\"unknown\"}}";

static json_t *
record(const char *format)
{
	json_t *r = json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "id", "j1", "job",
	    "imageContext", "a ceramic coffee mug on a table", "analysisPurpose", "a product catalogue",
	    "outputFormat", format, "analysis", json_loads(analysis, 0, NULL));
	return r;
}

static void
test_formats(void)
{
	static const char *fmts[] = { "detailed_analysis", "social_post", "product_description",
	    "ad_copy", "alt_text" };
	char err[256], msg[256];
	json_t *c, *c2, *rec;
	const char *t;

	for (size_t i = 0; i < 5; i++) {
		rec = record(fmts[i]);
		is_int(offline_write(rec, fmts[i], &c, err, sizeof(err)), 0, "%s written", fmts[i]);
		t = json_string_value(json_object_get(c, "text"));
		ok(t && strlen(t) > 20 && !strstr(t, "{{") && !strstr(t, "unknown") && !strstr(t, "#c8553d"),
		    "%s: real text", fmts[i]);
		ok(t && t[strlen(t) - 1] != ' ' && t[strlen(t) - 1] != '\n', "%s: no trailing space", fmts[i]);
		is_str(json_string_value(json_object_get(c, "format")), fmts[i], "%s: format", fmts[i]);
		if (prompt_format(fmts[i])->json)
			ok(prompt_check_data(prompt_format(fmts[i]), json_object_get(c, "data"), msg,
			    sizeof(msg)) == 0, "%s: data fits its schema", fmts[i]);
		else
			ok(json_object_get(c, "data") == NULL, "%s: no data", fmts[i]);
		offline_write(rec, fmts[i], &c2, err, sizeof(err));
		ok(json_equal(c, c2), "%s: deterministic", fmts[i]);
		json_decref(c);
		json_decref(c2);
		json_decref(rec);
	}
	rec = record("detailed_analysis");
	offline_write(rec, "detailed_analysis", &c, err, sizeof(err));
	t = json_string_value(json_object_get(c, "text"));
	ok(strstr(t, "coral") && strstr(t, "cream") && strstr(t, "gold") && strstr(t, "inviting") &&
	    strstr(t, "bright, medium contrast, warm cast") && strstr(t, "catalogue") &&
	    strstr(t, "coffee mug"), "detailed analysis uses colours, light, mood, purpose, context");
	json_decref(c);
	json_decref(rec);
	rec = record("alt_text");
	offline_write(rec, "alt_text", &c, err, sizeof(err));
	t = json_string_value(json_object_get(c, "text"));
	ok(strlen(t) <= 125, "alt text at most 125 characters: %s", t);
	json_decref(c);
	ok(offline_write(rec, "sonnet", &c, err, sizeof(err)) < 0 && strstr(err, "unknown outputFormat"),
	    "unknown format");
	json_object_del(rec, "analysis");
	ok(offline_write(rec, "alt_text", &c, err, sizeof(err)) < 0 && strstr(err, "no analysis"),
	    "no analysis");
	json_decref(rec);
	/* a bare analysis: clauses drop, text remains */
	rec = json_pack("{s:{}, s:{}}", "job", "analysis");
	is_int(offline_write(rec, "detailed_analysis", &c, err, sizeof(err)), 0, "an empty analysis");
	json_decref(c);
	is_int(offline_write(rec, "social_post", &c, err, sizeof(err)), 0, "an empty analysis, JSON format");
	ok(prompt_check_data(prompt_format("social_post"), json_object_get(c, "data"), msg, sizeof(msg)) == 0,
	    "still valid");
	json_decref(c);
	json_decref(rec);
}

/* Every format vj-generate knows has a writer of its own; one without is
 * refused by name, never written as another. */
static void
test_writers(void)
{
	char names[256], err[256], *name, *save;
	json_t *c, *rec;
	int rc;

	snprintf(names, sizeof(names), "%s", prompt_format_names());
	for (name = strtok_r(names, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
		rec = record(name);
		c = NULL;
		*err = '\0';
		rc = offline_write(rec, name, &c, err, sizeof(err));
		ok(rc == 0 && strcmp(json_string_value(json_object_get(c, "format")), name) == 0,
		    "built-in format %s has an offline writer %s", name, err);
		json_decref(c);
		json_decref(rec);
	}
	rec = record("limerick");
	c = NULL;
	ok(offline_write(rec, "limerick", &c, err, sizeof(err)) < 0 && c == NULL &&
	    strstr(err, "'limerick'"), "a format with no writer is refused by name: %s", err);
	json_decref(rec);
}

/* A 32x32 PNG, left half red, right half blue. */
static int
write_png(const char *path)
{
	FILE *f = fopen(path, "wb");
	png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(p);
	unsigned char row[32 * 3];

	if (!f || !p || !info || setjmp(png_jmpbuf(p)))
		return -1;
	png_init_io(p, f);
	png_set_IHDR(p, info, 32, 32, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
	    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(p, info);
	for (int x = 0; x < 32; x++) {
		row[3 * x] = x < 16 ? 220 : 20;
		row[3 * x + 1] = 30;
		row[3 * x + 2] = x < 16 ? 30 : 200;
	}
	for (int y = 0; y < 32; y++)
		png_write_row(p, row);
	png_write_end(p, NULL);
	png_destroy_write_struct(&p, &info);
	fclose(f);
	return 0;
}

static void
build(struct prov *p, json_t *rec, int *rc, json_t **res, struct eng_err *e)
{
	struct eng_task t;
	struct eng_http h;

	memset(&t, 0, sizeof(t));
	memset(&h, 0, sizeof(h));
	t.rec = rec;
	*res = NULL;
	*rc = p->ops->build(p->ctx, &t, &h, res, e);
}

static void
test_providers(void)
{
	struct prov_config c = { 0 };
	struct prov p;
	struct eng_err e;
	char err[256], sha[65], path[300], msg[256], *buf;
	size_t len;
	json_t *rec, *res;
	int rc;

	c.stage = "analyze";
	c.name = "offline";
	c.run = dir;
	is_int(prov_open(&p, &c, err, sizeof(err)), VJ_OK, "offline analyze opens without a key");
	ok(strstr(p.cfg, "\"provider\":\"offline\"") != NULL, "config: %s", p.cfg);
	snprintf(path, sizeof(path), "%s/img.png", dir);
	write_png(path);
	buf = read_file(path, &len, 0);
	store_put(dir, buf, len, sha);
	free(buf);
	rec = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "id", "x", "job", "image", "sha256", sha,
	    "mime", "image/png");
	build(&p, rec, &rc, &res, &e);
	is_int(rc, 1, "analysed locally");
	ok(schema_validate(json_object_get(res, "analysis"), msg, sizeof(msg)) == 0, "analysis fits the schema");
	is_str(json_string_value(json_object_get(json_object_get(res, "meta"), "provider")), "offline",
	    "meta.provider");
	json_decref(res);
	store_put(dir, "not an image at all", 19, sha);
	json_object_set_new(json_object_get(rec, "image"), "sha256", json_string(sha));
	build(&p, rec, &rc, &res, &e);
	ok(rc < 0 && e.cls == EC_PERM && strncmp(e.msg, "offline: ", 9) == 0, "undecodable: %s", e.msg);
	json_decref(rec);
	prov_close(&p);

	c.model = "x";
	is_int(prov_open(&p, &c, err, sizeof(err)), VJ_EUSAGE, "offline takes no --model");
	c.model = NULL;

	c.stage = "generate";
	is_int(prov_open(&p, &c, err, sizeof(err)), VJ_OK, "offline generate opens");
	rec = record("ad_copy");
	build(&p, rec, &rc, &res, &e);
	is_int(rc, 1, "written locally");
	ok(json_object_get(json_object_get(res, "content"), "data") != NULL, "ad_copy data");
	json_decref(res);
	json_decref(rec);
	rec = record("limerick");
	build(&p, rec, &rc, &res, &e);
	ok(rc < 0 && res == NULL && e.cls == EC_PERM && strncmp(e.msg, "offline: ", 9) == 0 &&
	    strstr(e.msg, "outputFormat 'limerick'"), "no writer: that job fails for good: %s", e.msg);
	json_decref(rec);
	prov_close(&p);

	snprintf(path, sizeof(path), "%s/t.prompt", dir);
	FILE *f = fopen(path, "w");
	fputs("@user\nFor {{purpose}}: {{analysis.colors.primary}}, {{analysis.mood_and_tone.mood}}.\n", f);
	fclose(f);
	c.prompt_file = path;
	prov_open(&p, &c, err, sizeof(err));
	rec = record("caption");
	build(&p, rec, &rc, &res, &e);
	is_str(json_string_value(json_object_get(json_object_get(res, "content"), "text")),
	    "For a product catalogue: #c8553d (coral), #f4e9d8 (cream), inviting.",
	    "a template is the offline writer");
	json_decref(res);
	json_decref(rec);
	prov_close(&p);
}

int
main(void)
{
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_formats();
	test_writers();
	test_providers();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	return done_testing();
}
