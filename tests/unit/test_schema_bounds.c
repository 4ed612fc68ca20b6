/* test_schema_bounds: an analysis is bounded (strings, lists) and carries
 * only the keys the schema has, so a model cannot make a 10 MB prompt for
 * the next stage or smuggle fields into the shards. */
#include "content/schema.h"
#include "base/util.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static json_t *
good(void)
{
	/* every section and field, the right types (borrowed: copied) */
	return json_deep_copy(schema_example());
}

int
main(void)
{
	char msg[512];
	json_t *v = good();
	ok(schema_validate(v, msg, sizeof msg) == 0, "the example validates");
	json_decref(v);

	v = good();
	char *big = malloc(10 * 1024 * 1024 + 1);
	memset(big, 'a', 10 * 1024 * 1024);
	big[10 * 1024 * 1024] = 0;
	json_object_set_new(json_object_get(v, "colors"), "description", json_string(big));
	free(big);
	ok(schema_validate(v, msg, sizeof msg) < 0 && strstr(msg, "$.colors.description: a string of 10485760 bytes"),
	    "a 10 MB string is refused: %s", msg);
	json_decref(v);

	v = good();
	json_t *list = json_array();
	for (int i = 0; i < 1000; i++)
		json_array_append_new(list, json_string("red"));
	json_object_set_new(json_object_get(v, "colors"), "primary", list);
	ok(schema_validate(v, msg, sizeof msg) < 0 && strstr(msg, "$.colors.primary: a list of 1000 items"),
	    "a list of 1000 is refused: %s", msg);
	json_decref(v);

	v = good();
	json_object_set_new(v, "extra", json_string("smuggled"));
	json_object_set_new(json_object_get(v, "mood_and_tone"), "secret", json_integer(1));
	ok(schema_validate(v, msg, sizeof msg) == 0, "extra keys are no error");
	ok(!json_object_get(v, "extra") && !json_object_get(json_object_get(v, "mood_and_tone"), "secret"),
	    "but they are dropped");
	json_decref(v);

	json_t *sch = json_pack("{s:s}", "type", "object");
	v = json_pack("{s:s}", "kept", "yes");
	ok(schema_check(sch, v, msg, sizeof msg) == 0 && json_object_get(v, "kept"),
	    "a prompt file's own schema keeps extra keys");
	json_decref(v);
	json_decref(sch);
	return done_testing();
}
