/* schema: the analysis schema and a validator for the JSON Schema subset
 * the providers need.  The schema is built from one table so the JSON
 * Schema, the prompt's example and the validator cannot disagree. */
#include "content/schema.h"
#include "base/hash.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct field {
	const char *name;
	int list;               /* array of strings, else a string */
	const char *desc;
};

struct section {
	const char *name;
	const char *desc;
	struct field f[5];      /* ends with a NULL name */
};

static const struct section sections[] = {
	{ "colors", "The palette.", {
		{ "primary", 1, "dominant colours by area, as plain colour names" },
		{ "secondary", 1, "supporting colours" },
		{ "accent", 1, "small, contrasting colours that draw the eye" },
		{ "description", 0, "one or two sentences on how the colours work together" },
		{ NULL, 0, NULL } } },
	{ "visual_elements", "What is in the picture.", {
		{ "objects", 1, "the main objects or subjects" },
		{ "shapes", 1, "dominant shapes and lines" },
		{ "text", 0, "any visible text, verbatim, or an empty string" },
		{ "icons", 1, "logos, icons or symbols" },
		{ NULL, 0, NULL } } },
	{ "mood_and_tone", "The feeling it gives.", {
		{ "mood", 0, "the overall mood, in a few words" },
		{ "tone", 0, "the tone of voice the image suggests" },
		{ "energy_level", 0, "low, medium or high, with a word on why" },
		{ NULL, 0, NULL } } },
	{ "composition", "How the picture is arranged.", {
		{ "layout", 0, "the arrangement of the elements" },
		{ "balance", 0, "symmetric, asymmetric, radial ..." },
		{ "focal_point", 0, "where the eye goes first" },
		{ "negative_space", 0, "how much empty space and how it is used" },
		{ NULL, 0, NULL } } },
	{ "lighting_and_style", "Light and visual style.", {
		{ "lighting", 0, "the quality and direction of the light" },
		{ "style", 0, "photographic or graphic style" },
		{ "texture", 0, "surface and texture qualities" },
		{ NULL, 0, NULL } } },
	{ "brand_insights", "What it suggests about a brand.", {
		{ "perceived_industry", 0, "the industry the image suggests" },
		{ "target_audience", 0, "who the image speaks to" },
		{ "brand_personality", 0, "the brand's character in a few adjectives" },
		{ "premium_level", 0, "budget, mid-range, premium or luxury, with a word on why" },
		{ NULL, 0, NULL } } },
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static json_t *analysis, *example;
static char version[13];

static json_t *
field_schema(const struct field *f)
{
	if (f->list)
		return json_pack("{s:s, s:s, s:{s:s}}", "type", "array",
		    "description", f->desc, "items", "type", "string");
	return json_pack("{s:s, s:s}", "type", "string", "description", f->desc);
}

static json_t *
section_schema(const struct section *s)
{
	json_t *props = json_object(), *req = json_array();

	for (const struct field *f = s->f; f->name; f++) {
		json_object_set_new(props, f->name, field_schema(f));
		json_array_append_new(req, json_string(f->name));
	}
	return json_pack("{s:s, s:s, s:o, s:o}", "type", "object", "description", s->desc,
	    "properties", props, "required", req);
}

static void
schema_init(void)
{
	json_t *props, *req, *sec;
	char *text;

	if (analysis)
		return;
	props = json_object();
	req = json_array();
	example = json_object();
	for (size_t i = 0; i < NSECTIONS; i++) {
		json_object_set_new(props, sections[i].name, section_schema(&sections[i]));
		json_array_append_new(req, json_string(sections[i].name));
		sec = json_object();
		for (const struct field *f = sections[i].f; f->name; f++)
			json_object_set_new(sec, f->name, f->list ?
			    json_pack("[s]", f->desc) : json_string(f->desc));
		json_object_set_new(example, sections[i].name, sec);
	}
	analysis = json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props,
	    "required", req);
	/* Sorted keys: the version must not depend on insertion order. */
	text = json_dumps(analysis, JSON_COMPACT | JSON_SORT_KEYS);
	char hex[65];
	sha256_hex(text, strlen(text), hex);
	memcpy(version, hex, 12);
	version[12] = '\0';
	free(text);
}

json_t *
schema_analysis(void)
{
	schema_init();
	return analysis;
}

json_t *
schema_example(void)
{
	schema_init();
	return example;
}

const char *
schema_version(void)
{
	schema_init();
	return version;
}

/* An analysis is a prompt for the next stage and a record in every shard:
 * a model that answers with a 10 MB string or a list of thousands must not
 * make either.  Generous for what the fields ask (a few sentences, a few
 * names). */
#define ANALYSIS_STR_MAX 4000    /* bytes in one string */
#define ANALYSIS_LIST_MAX 64     /* items in one list */

struct limits {
	size_t str_max, list_max;   /* 0: none */
	int prune;                  /* drop keys the schema does not describe */
};

static int check(json_t *schema, json_t *v, struct buf *path, const struct limits *lim,
    char *msg, size_t n);

static int
run_check(json_t *schema, json_t *v, const struct limits *lim, char *msg, size_t n)
{
	struct buf path = {0};
	int r;

	buf_adds(&path, "$");
	r = check(schema, v, &path, lim, msg, n);
	buf_free(&path);
	return r;
}

int
schema_validate(json_t *v, char *msg, size_t n)
{
	static const struct limits lim = { ANALYSIS_STR_MAX, ANALYSIS_LIST_MAX, 1 };
	return run_check(schema_analysis(), v, &lim, msg, n);
}

/* ---- the validator ---- */

/* What a type is called in a message. */
static const char *
type_phrase(json_t *schema)
{
	const char *t = json_string_value(json_object_get(schema, "type"));
	const char *it;

	if (!t)
		return "a value";
	if (strcmp(t, "array") == 0) {
		it = json_string_value(json_object_get(json_object_get(schema, "items"), "type"));
		if (it && strcmp(it, "string") == 0)
			return "an array of strings";
		if (it && strcmp(it, "object") == 0)
			return "an array of objects";
		return "an array";
	}
	if (strcmp(t, "object") == 0)
		return "an object";
	if (strcmp(t, "string") == 0)
		return "a string";
	if (strcmp(t, "integer") == 0)
		return "an integer";
	if (strcmp(t, "number") == 0)
		return "a number";
	if (strcmp(t, "boolean") == 0)
		return "a boolean";
	return "a value";
}

static int
type_ok(json_t *schema, json_t *v)
{
	const char *t = json_string_value(json_object_get(schema, "type"));

	if (!t)
		return 1;
	if (strcmp(t, "object") == 0)
		return json_is_object(v);
	if (strcmp(t, "array") == 0)
		return json_is_array(v);
	if (strcmp(t, "string") == 0)
		return json_is_string(v);
	if (strcmp(t, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(t, "number") == 0)
		return json_is_number(v);
	if (strcmp(t, "boolean") == 0)
		return json_is_boolean(v);
	return 1;
}

static int
required(json_t *req, const char *key)
{
	size_t i;
	json_t *x;

	json_array_foreach(req, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), key) == 0)
			return 1;
	return 0;
}

static int
missing(const struct buf *path, const char *key, char *msg, size_t n)
{
	snprintf(msg, n, "%.*s.%s: missing", (int)path->len, path->p, key);
	return -1;
}

/*
 * An array of strings whose element is wrong is reported at the array
 * ("expected an array of strings"): that is the type the model must fix.
 * Deeper structures are reported at the element.
 */
static int
check(json_t *schema, json_t *v, struct buf *path, const struct limits *lim, char *msg, size_t n)
{
	json_t *props, *req, *items, *sub, *x;
	const char *key;
	size_t i, mark = path->len;
	void *it;

	if (!type_ok(schema, v)) {
		snprintf(msg, n, "%.*s: expected %s", (int)path->len, path->p, type_phrase(schema));
		return -1;
	}
	if (lim->str_max && json_is_string(v) && json_string_length(v) > lim->str_max) {
		snprintf(msg, n, "%.*s: a string of %zu bytes (at most %zu)", (int)path->len, path->p,
		    json_string_length(v), lim->str_max);
		return -1;
	}
	if (lim->list_max && json_is_array(v) && json_array_size(v) > lim->list_max) {
		snprintf(msg, n, "%.*s: a list of %zu items (at most %zu)", (int)path->len, path->p,
		    json_array_size(v), lim->list_max);
		return -1;
	}
	if (json_is_object(v)) {
		props = json_object_get(schema, "properties");
		req = json_object_get(schema, "required");
		/* Keys the schema does not have would ride along into the next
		 * prompt and every shard: dropped, and said under -v. */
		for (it = lim->prune && props ? json_object_iter(v) : NULL; it;) {
			key = json_object_iter_key(it);
			void *next = json_object_iter_next(v, it);
			if (!json_object_get(props, key)) {
				vj_debug("%.*s.%.200s: not in the analysis schema: dropped", (int)path->len, path->p, key);
				json_object_del(v, key);
			}
			it = next;
		}
		/* Walk the properties in schema order so "first" is stable. */
		json_object_foreach(props, key, sub) {
			x = json_object_get(v, key);
			if (!x) {
				if (required(req, key))
					return missing(path, key, msg, n);
				continue;
			}
			buf_addf(path, ".%s", key);
			if (check(sub, x, path, lim, msg, n) < 0)
				return -1;
			path->len = mark;
		}
		/* Required keys the schema describes no further. */
		json_array_foreach(req, i, x) {
			key = json_string_value(x);
			if (key && !json_object_get(v, key))
				return missing(path, key, msg, n);
		}
	} else if (json_is_array(v) && (items = json_object_get(schema, "items"))) {
		json_array_foreach(v, i, x) {
			if (!type_ok(items, x) && json_is_string(json_object_get(items, "type")) &&
			    strcmp(json_string_value(json_object_get(items, "type")), "string") == 0) {
				snprintf(msg, n, "%.*s: expected %s (item %zu is not a string)",
				    (int)path->len, path->p, type_phrase(schema), i);
				return -1;
			}
			buf_addf(path, "[%zu]", i);
			if (check(items, x, path, lim, msg, n) < 0)
				return -1;
			path->len = mark;
		}
	}
	return 0;
}

int
schema_check(json_t *schema, json_t *v, char *msg, size_t n)
{
	static const struct limits none = { 0, 0, 0 };
	return run_check(schema, v, &none, msg, n);
}
