/* test_schema: the analysis schema object and the first-offending-path
 * validator. */
#include "content/schema.h"
#include "base/util.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Validate good_analysis with one edit made by a jansson path set; return the message. */
static const char *
edited(const char *sec, const char *key, json_t *val, char *msg, size_t n)
{
	json_t *v = json_loads(good_analysis, 0, NULL);
	json_t *s = json_object_get(v, sec);
	int r;

	if (key) {
		if (val)
			json_object_set_new(s, key, val);
		else
			json_object_del(s, key);
	} else if (val)
		json_object_set_new(v, sec, val);
	else
		json_object_del(v, sec);
	strcpy(msg, "(valid)");
	r = schema_validate(v, msg, n);
	json_decref(v);
	return r == 0 ? "(valid)" : msg;
}

int
main(void)
{
	char msg[256];
	json_t *sch = schema_analysis(), *v;
	const char *sections[] = { "colors", "visual_elements", "mood_and_tone", "composition",
	    "lighting_and_style", "brand_insights" };

	/* the schema object itself */
	is_str(json_string_value(json_object_get(sch, "type")), "object", "schema is an object");
	is_int(json_array_size(json_object_get(sch, "required")), 6, "six required sections");
	for (size_t i = 0; i < 6; i++)
		ok(json_object_get(json_object_get(sch, "properties"), sections[i]), "section %s", sections[i]);
	is_str(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(
	    json_object_get(json_object_get(sch, "properties"), "colors"), "properties"), "primary"),
	    "items"), "type")), "string", "colors.primary is an array of strings");
	is_int(json_array_size(json_object_get(json_object_get(json_object_get(sch, "properties"),
	    "brand_insights"), "required")), 4, "brand_insights requires 4 keys");
	is_int(strlen(schema_version()), 12, "version is 12 hex digits");
	ok(schema_validate(schema_example(), msg, sizeof(msg)) == 0, "the example validates");

	v = json_loads(good_analysis, 0, NULL);
	ok(schema_validate(v, msg, sizeof(msg)) == 0, "a good analysis validates");
	json_object_set_new(v, "extra", json_string("ignored"));
	json_object_set_new(json_object_get(v, "colors"), "extra", json_integer(1));
	ok(schema_validate(v, msg, sizeof(msg)) == 0, "extra keys are ignored");
	json_decref(v);

	is_str(edited("colors", "primary", json_string("red"), msg, sizeof(msg)),
	    "$.colors.primary: expected an array of strings", "string for an array");
	is_str(edited("colors", "primary", json_pack("[s,i]", "red", 3), msg, sizeof(msg)),
	    "$.colors.primary: expected an array of strings (item 1 is not a string)",
	    "a number in an array of strings");
	is_str(edited("colors", "description", json_pack("[s]", "x"), msg, sizeof(msg)),
	    "$.colors.description: expected a string", "array for a string");
	is_str(edited("colors", "description", json_null(), msg, sizeof(msg)),
	    "$.colors.description: expected a string", "null for a string");
	is_str(edited("mood_and_tone", "energy_level", NULL, msg, sizeof(msg)),
	    "$.mood_and_tone.energy_level: missing", "missing key");
	is_str(edited("brand_insights", NULL, NULL, msg, sizeof(msg)),
	    "$.brand_insights: missing", "missing section");
	is_str(edited("composition", NULL, json_string("centered"), msg, sizeof(msg)),
	    "$.composition: expected an object", "string for a section");

	/* the first offender in schema order wins */
	v = json_loads(good_analysis, 0, NULL);
	json_object_del(json_object_get(v, "brand_insights"), "premium_level");
	json_object_set_new(json_object_get(v, "colors"), "accent", json_integer(1));
	schema_validate(v, msg, sizeof(msg));
	is_str(msg, "$.colors.accent: expected an array of strings", "first offender reported");
	json_object_del(json_object_get(v, "colors"), "primary");
	schema_validate(v, msg, sizeof(msg));
	is_str(msg, "$.colors.primary: missing", "missing before wrong, in schema order");
	json_decref(v);

	v = json_pack("[]");
	schema_validate(v, msg, sizeof(msg));
	is_str(msg, "$: expected an object", "root not an object");
	json_decref(v);

	/* a small message buffer is cut, not overrun */
	char tiny[8];
	v = json_pack("{}");
	ok(schema_validate(v, tiny, sizeof(tiny)) < 0 && strlen(tiny) == 7, "short buffer");
	json_decref(v);

	/* the generic checker on a nested schema */
	json_t *s = json_loads("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\","
	    "\"items\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},"
	    "\"required\":[\"n\"]}}},\"required\":[\"a\"]}", JSON_PRESERVE_ORDER, NULL);
	v = json_loads("{\"a\":[{\"n\":1},{\"n\":\"2\"}]}", 0, NULL);
	schema_check(s, v, msg, sizeof(msg));
	is_str(msg, "$.a[1].n: expected an integer", "nested path with an index");
	json_decref(v);
	json_decref(s);
	return done_testing();
}
