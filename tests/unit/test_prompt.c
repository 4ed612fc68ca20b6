/* test_prompt: built-in templates, --prompt-file sections and every
 * placeholder, errors with file:line, and the version. */
#include "content/prompt.h"
#include "content/schema.h"
#include "base/util.h"
#include "tap.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *
record(const char *format)
{
	json_t *r = json_loads(
	    "{\"id\":\"a1\",\"job\":{\"imageUrl\":\"http://x/1.jpg\",\"imageContext\":\"a blue mug\","
	    "\"analysisPurpose\":\"catalogue\",\"meta\":{\"sku\":\"M-1\"}},"
	    "\"analysis\":{\"colors\":{\"primary\":[\"blue\",\"white\"],\"secondary\":[],\"accent\":[],"
	    "\"description\":\"cool blues\"},\"mood_and_tone\":{\"mood\":\"calm\",\"tone\":\"quiet\","
	    "\"energy_level\":\"low\"}}}", 0, NULL);
	if (format)
		json_object_set_new(json_object_get(r, "job"), "outputFormat", json_string(format));
	return r;
}

/* Open FILE's text as a generate template and render rec; "" on error. */
static char *
render_text(const char *stage, const char *text, json_t *rec, char *err, size_t n)
{
	const char *path = scratch_file("t.prompt", text);
	struct prompt *p = prompt_open(stage, path, err, n);
	struct prompt_msg m;
	char *out;

	if (!p)
		return xstrdup("");
	if (prompt_render(p, rec, &m, err, n) < 0) {
		prompt_free(p);
		return xstrdup("");
	}
	out = xstrdup(m.user);
	prompt_msg_free(&m);
	prompt_free(p);
	return out;
}

static void
test_builtin(void)
{
	static const char *fmts[] = { "detailed_analysis", "social_post", "product_description",
	    "ad_copy", "alt_text" };
	struct prompt *a, *g;
	struct prompt_msg m;
	char err[512];
	json_t *rec;

	a = prompt_open("analyze", NULL, err, sizeof(err));
	ok(a != NULL, "built-in analyze templates load");
	g = prompt_open("generate", NULL, err, sizeof(err));
	ok(g != NULL, "built-in generate templates load");
	is_int(strlen(prompt_version(a)), 12, "version has 12 hex digits");
	ok(strcmp(prompt_version(a), prompt_version(g)) != 0, "stages have distinct versions");
	ok(!prompt_custom(a), "built-in is not custom");

	rec = record(NULL);
	ok(prompt_render(a, rec, &m, err, sizeof(err)) == 0, "analyze renders");
	ok(m.json, "analyze wants JSON");
	ok(strstr(m.user, "catalogue") && strstr(m.user, "a blue mug"), "purpose and context in the prompt");
	ok(strstr(m.user, "JSON") && strstr(m.user, "\"brand_insights\""), "schema example in the prompt");
	ok(strstr(m.system, "visual analyst") != NULL, "analyze system instruction");
	prompt_msg_free(&m);

	ok(prompt_render(g, rec, &m, err, sizeof(err)) == 0, "generate renders (default format)");
	is_str(m.format, "detailed_analysis", "default format");
	ok(!m.json, "detailed_analysis is text");
	ok(strstr(m.user, "\"cool blues\"") != NULL, "analysis JSON in the prompt");
	prompt_msg_free(&m);
	json_decref(rec);

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		rec = record(fmts[i]);
		ok(prompt_render(g, rec, &m, err, sizeof(err)) == 0, "%s renders", fmts[i]);
		is_int(m.json, prompt_format(fmts[i])->json, "%s json flag", fmts[i]);
		if (m.json)
			ok(strstr(m.user, "JSON") && strstr(m.user, prompt_format(fmts[i])->example),
			    "%s: the word json and an example", fmts[i]);
		else
			ok(strstr(m.user, "no JSON") != NULL, "%s: plain text asked", fmts[i]);
		ok(strstr(m.user, "{{") == NULL, "%s: nothing left unrendered", fmts[i]);
		prompt_msg_free(&m);
		json_decref(rec);
	}

	rec = record("haiku");
	ok(prompt_render(g, rec, &m, err, sizeof(err)) < 0 && strstr(err, "unknown outputFormat 'haiku'"),
	    "unknown format refused: %s", err);
	json_decref(rec);
	rec = record(NULL);
	json_object_del(rec, "analysis");
	ok(prompt_render(g, rec, &m, err, sizeof(err)) < 0 && strstr(err, "no analysis"),
	    "generate without an analysis refused");
	json_decref(rec);
	prompt_free(a);
	prompt_free(g);
}

static void
test_placeholders(void)
{
	char err[512], *s;
	json_t *rec = record("social_post");

	s = render_text("generate", "P={{purpose}}|C={{context}}|F={{format}}|I={{id}}|M={{meta}}\n", rec,
	    err, sizeof(err));
	is_str(s, "P=catalogue|C=a blue mug|F=social_post|I=a1|M={\"sku\":\"M-1\"}\n\n"
	    "Answer in JSON: a single object with the same keys and types as this example,\n"
	    "with your own values, and nothing outside it:\n"
	    "{\"caption\": \"Morning light, slow coffee, and a table set for two.\",\n"
	    " \"hashtags\": [\"#slowmorning\", \"#coffeetime\", \"#homedecor\"]}",
	    "job placeholders; JSON instructions added for a JSON format");
	free(s);
	s = render_text("generate", "{{ analysis.colors.primary }}/{{analysis.mood_and_tone.mood}}", rec,
	    err, sizeof(err));
	ok(strncmp(s, "blue, white/calm", 16) == 0, "fields: lists joined, spaces trimmed");
	free(s);
	s = render_text("generate", "{{analysis.mood_and_tone}}", rec, err, sizeof(err));
	ok(strstr(s, "\"mood\": \"calm\"") && strstr(s, "\"energy_level\": \"low\""), "a section as JSON");
	free(s);
	s = render_text("generate", "{{analysis}}", rec, err, sizeof(err));
	ok(strstr(s, "\"colors\"") && strstr(s, "\"mood_and_tone\""), "the whole analysis");
	free(s);
	s = render_text("generate", "[{{analysis.brand_insights}}]", rec, err, sizeof(err));
	ok(strncmp(s, "Answer in JSON", 14) == 0, "an absent section is empty and its line goes");
	free(s);
	s = render_text("generate", "{{format_instructions}}", rec, err, sizeof(err));
	ok(strncmp(s, "Answer in JSON", 14) == 0, "format_instructions for a JSON format");
	free(s);
	s = render_text("generate", "{{schema}}", rec, err, sizeof(err));
	ok(strstr(s, "\"lighting_and_style\"") != NULL, "schema example");
	free(s);
	json_decref(rec);

	/* line dropping, escapes, plain text */
	rec = record("detailed_analysis");
	json_object_del(json_object_get(rec, "job"), "imageContext");
	s = render_text("generate", "a\nContext: {{context}}\nb {{context}} {{purpose}}\n\\{{literal}}\n", rec,
	    err, sizeof(err));
	is_str(s, "a\nb  catalogue\n{{literal}}", "empty-only line dropped, mixed kept, escape");
	free(s);
	json_decref(rec);
}

static void
test_files(void)
{
	char err[512], err2[512];
	struct prompt *p, *q;
	struct prompt_msg m;
	const char *path;
	json_t *rec;
	char v1[13];

	/* errors name file:line */
	path = scratch_file("bad.prompt", "line one\nline two {{purpose}}\nthree {{porpose}}\n");
	ok(prompt_open("generate", path, err, sizeof(err)) == NULL, "unknown placeholder refused");
	snprintf(err2, sizeof(err2), "%s:3: unknown placeholder {{porpose}}", path);
	is_str(err, err2, "file:line named");
	path = scratch_file("bad2.prompt", "@system\nsys\n@user\nx {{analysis.colours}}\n");
	ok(prompt_open("generate", path, err, sizeof(err)) == NULL, "unknown section refused");
	snprintf(err2, sizeof(err2), "%s:4: unknown placeholder {{analysis.colours}}", path);
	is_str(err, err2, "line counted across sections");
	path = scratch_file("bad3.prompt", "{{analysis.colors.hue}}");
	ok(prompt_open("generate", path, err, sizeof(err)) == NULL, "unknown field refused");
	path = scratch_file("bad4.prompt", "x {{purpose\n");
	ok(prompt_open("generate", path, err, sizeof(err)) == NULL && strstr(err, ":1: unterminated"),
	    "unterminated placeholder: %s", err);
	path = scratch_file("bad5.prompt", "{{analysis}}");
	ok(prompt_open("analyze", path, err, sizeof(err)) == NULL && strstr(err, "not available"),
	    "no analysis placeholder for analyze");
	path = scratch_file("bad6.prompt", "@system\nonly a system\n");
	ok(prompt_open("generate", path, err, sizeof(err)) == NULL && strstr(err, "no user template"),
	    "a file without a user template");
	path = scratch_file("bad7.prompt", "@user\na\n@user\nb\n");
	ok(prompt_open("generate", path, err, sizeof(err)) == NULL && strstr(err, "second @user"),
	    "two generic user sections");
	ok(prompt_open("generate", "/nonexistent/x", err, sizeof(err)) == NULL &&
	    strstr(err, "/nonexistent/x: "), "unreadable file named");

	/* sections: system, generic user, per-format user */
	path = scratch_file("ok.prompt",
	    "@system\nYou write for {{id}}.\n@user\nGeneric {{format}}.\n@user alt_text\nAlt for {{context}}.\n");
	p = prompt_open("generate", path, err, sizeof(err));
	ok(p && prompt_custom(p), "sections load");
	rec = record("alt_text");
	prompt_render(p, rec, &m, err, sizeof(err));
	is_str(m.system, "You write for a1.", "system section");
	is_str(m.user, "Alt for a blue mug.", "per-format section wins");
	prompt_msg_free(&m);
	json_decref(rec);
	rec = record("haiku");
	ok(prompt_render(p, rec, &m, err, sizeof(err)) == 0, "a custom format is allowed with a file");
	is_str(m.user, "Generic haiku.", "generic section for other formats");
	ok(!m.json && m.fmt == NULL, "a custom format is plain text");
	prompt_msg_free(&m);
	json_decref(rec);
	rec = record("ad_copy");
	prompt_render(p, rec, &m, err, sizeof(err));
	ok(m.json && strstr(m.user, "Answer in JSON"), "a JSON format keeps its instructions");
	prompt_msg_free(&m);
	json_decref(rec);

	/* the version follows the text */
	snprintf(v1, sizeof(v1), "%s", prompt_version(p));
	q = prompt_open("generate", path, err, sizeof(err));
	is_str(prompt_version(q), v1, "same text, same version");
	prompt_free(q);
	path = scratch_file("ok.prompt",
	    "@system\nYou write for {{id}}.\n@user\nGeneric {{format}}!\n@user alt_text\nAlt for {{context}}.\n");
	q = prompt_open("generate", path, err, sizeof(err));
	ok(strcmp(prompt_version(q), v1) != 0, "one character changed, new version");
	prompt_free(q);
	q = prompt_open("analyze", path, err, sizeof(err));
	ok(q && strcmp(prompt_version(q), v1) != 0, "same file, other stage, other version");
	prompt_free(q);
	prompt_free(p);

	/* a file without directives is the user template; the built-in system stays */
	path = scratch_file("plain.prompt", "Describe it for {{purpose}}.");
	p = prompt_open("analyze", path, err, sizeof(err));
	rec = record(NULL);
	prompt_render(p, rec, &m, err, sizeof(err));
	ok(strstr(m.system, "visual analyst") != NULL, "built-in system kept");
	ok(strncmp(m.user, "Describe it for catalogue.\n\nAnswer in JSON", 42) == 0,
	    "analyze always asks for JSON");
	prompt_msg_free(&m);
	json_decref(rec);
	prompt_free(p);
}

static void
test_data(void)
{
	const struct prompt_format *f = prompt_format("social_post");
	json_t *d = json_pack("{s:s, s:[s,s]}", "caption", "Hello.", "hashtags", "#a", "b");
	char msg[256], *t;

	ok(prompt_check_data(f, d, msg, sizeof(msg)) == 0, "social_post data checks");
	t = prompt_data_text(f, d);
	is_str(t, "Hello.\n\n#a #b", "social_post text");
	free(t);
	json_object_del(d, "hashtags");
	ok(prompt_check_data(f, d, msg, sizeof(msg)) < 0, "missing hashtags");
	is_str(msg, "$.hashtags: missing", "path named");
	json_decref(d);
	f = prompt_format("ad_copy");
	d = json_pack("{s:s, s:s, s:s}", "headline", "H", "body", "B", "call_to_action", "C");
	t = prompt_data_text(f, d);
	is_str(t, "H\n\nB\n\nC", "ad_copy text");
	free(t);
	json_decref(d);
	ok(prompt_format("nope") == NULL, "unknown format");
}

int
main(void)
{
	if (scratch_make("prompt") != 0) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_builtin();
	test_placeholders();
	test_files();
	test_data();
	if (scratch_remove() != 0)
		ok(0, "cleanup");
	return done_testing();
}
