/* test_offline: the offline analyser on images with known properties, drawn by
 * scripts/vj-mkimages (built by the Makefile before the tests run). */
#include "content/offline_analyze.h"
#include "base/util.h"
#include "tap.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *
analyse(const char *name, char *err, size_t errlen)
{
	const char *path = scratch_path(name);
	unsigned char *b;
	size_t len;
	json_t *j;

	if ((b = (unsigned char *)read_file(path, &len, 0)) == NULL) {
		snprintf(err, errlen, "cannot read %.200s", path);
		return NULL;
	}
	j = offline_analyze(b, len, NULL, err, errlen);
	free(b);
	return j;
}

static const char *
field(json_t *j, const char *group, const char *key)
{
	return json_string_value(json_object_get(json_object_get(j, group), key));
}

/* 1 when some string in colors.LIST mentions NAME: "#dc141e (red)" */
static int
has_colour(json_t *j, const char *list, const char *name)
{
	json_t *a = json_object_get(json_object_get(j, "colors"), list), *v;
	char want[64];
	size_t i;

	snprintf(want, sizeof want, "(%s)", name);
	json_array_foreach(a, i, v)
		if (json_is_string(v) && strstr(json_string_value(v), want) != NULL)
			return 1;
	return 0;
}

/* Every schema field is there, with the right type. */
static int
schema_ok(json_t *j)
{
	static const char *const groups[][6] = {
		{ "colors", "[primary", "[secondary", "[accent", "description", NULL },
		{ "visual_elements", "[objects", "[shapes", "text", "[icons", NULL },
		{ "mood_and_tone", "mood", "tone", "energy_level", NULL },
		{ "composition", "layout", "balance", "focal_point", "negative_space", NULL },
		{ "lighting_and_style", "lighting", "style", "texture", NULL },
		{ "brand_insights", "perceived_industry", "target_audience",
		    "brand_personality", "premium_level", NULL },
	};
	size_t g, k, i;
	json_t *o, *v, *e;

	if (json_object_size(j) != 6)
		return 0;
	for (g = 0; g < 6; g++) {
		if (!json_is_object(o = json_object_get(j, groups[g][0])))
			return 0;
		for (k = 1; groups[g][k] != NULL; k++) {
			const char *key = groups[g][k];
			if (key[0] == '[') {
				if (!json_is_array(v = json_object_get(o, key + 1)))
					return 0;
				json_array_foreach(v, i, e)
					if (!json_is_string(e))
						return 0;
			} else if (!json_is_string(json_object_get(o, key)))
				return 0;
		}
		if (json_object_size(o) != k - 1)
			return 0;
	}
	return 1;
}

int
main(void)
{
	static const char *all[] = { "half-red-half-blue.png", "white-square-on-black.png",
	    "subject-left.png", "dark.jpg", "bright.jpg", "gradient.jpg", "stripes.png",
	    "palette.gif", "small.webp", "sunset.jpg", "poster-teal-orange.png",
	    "checkerboard.png", "noise.png", "shapes.webp" };
	char err[256];
	json_t *j, *j2;
	char *s1, *s2;
	size_t i;

	if (scratch_make("offline") != 0) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	if (!ok(scratch_images() == 0, "scripts/vj-mkimages wrote the test images"))
		return done_testing();

	for (i = 0; i < sizeof all / sizeof all[0]; i++) {
		j = analyse(all[i], err, sizeof err);
		ok(j != NULL && schema_ok(j), "%s: analysed, full schema (%s)", all[i],
		    j ? "ok" : err);
		if (j == NULL)
			continue;
		is_str(json_string_value(json_object_get(json_object_get(j, "brand_insights"),
		    "premium_level")), "unknown", "%s: brand is not invented", all[i]);
		ok(json_array_size(json_object_get(json_object_get(j, "visual_elements"),
		    "objects")) == 0, "%s: objects are not invented", all[i]);
		j2 = analyse(all[i], err, sizeof err);
		s1 = json_dumps(j, JSON_COMPACT);
		s2 = j2 ? json_dumps(j2, JSON_COMPACT) : NULL;
		is_str(s1, s2, "%s: two runs give identical JSON", all[i]);
		free(s1);
		free(s2);
		json_decref(j);
		json_decref(j2);
	}

	j = analyse("half-red-half-blue.png", err, sizeof err);
	ok(has_colour(j, "primary", "red"), "half red/half blue: red is primary");
	ok(has_colour(j, "primary", "blue"), "half red/half blue: blue is primary");
	json_decref(j);

	j = analyse("white-square-on-black.png", err, sizeof err);
	is_str(field(j, "composition", "focal_point"), "center", "white square: focal point");
	is_str(field(j, "composition", "balance"), "symmetrical", "white square: balance");
	ok(field(j, "composition", "negative_space") != NULL &&
	    strncmp(field(j, "composition", "negative_space"), "generous", 8) == 0,
	    "white square: generous negative space (%s)", field(j, "composition", "negative_space"));
	ok(has_colour(j, "primary", "black"), "white square: black primary");
	json_decref(j);

	j = analyse("subject-left.png", err, sizeof err);
	is_str(field(j, "composition", "balance"), "asymmetrical, weighted to the left",
	    "subject on the left: balance");
	ok(field(j, "composition", "focal_point") != NULL &&
	    strstr(field(j, "composition", "focal_point"), "left") != NULL,
	    "subject on the left: focal point on the left (%s)",
	    field(j, "composition", "focal_point"));
	json_decref(j);

	j = analyse("dark.jpg", err, sizeof err);
	ok(field(j, "lighting_and_style", "lighting") != NULL &&
	    strstr(field(j, "lighting_and_style", "lighting"), "dim") != NULL,
	    "dark.jpg: lighting dim (%s)", field(j, "lighting_and_style", "lighting"));
	is_str(field(j, "mood_and_tone", "energy_level"), "low", "dark.jpg: low energy");
	json_decref(j);

	j = analyse("bright.jpg", err, sizeof err);
	ok(field(j, "lighting_and_style", "lighting") != NULL &&
	    strstr(field(j, "lighting_and_style", "lighting"), "bright") != NULL,
	    "bright.jpg: lighting bright (%s)", field(j, "lighting_and_style", "lighting"));
	json_decref(j);

	j = analyse("gradient.jpg", err, sizeof err);
	is_str(field(j, "lighting_and_style", "texture"), "smooth", "gradient: smooth");
	ok(field(j, "lighting_and_style", "lighting") != NULL &&
	    strstr(field(j, "lighting_and_style", "lighting"), "warm") != NULL,
	    "gradient: warm cast");
	json_decref(j);

	j = analyse("stripes.png", err, sizeof err);
	is_str(field(j, "lighting_and_style", "texture"), "highly textured", "stripes: texture");
	ok(field(j, "composition", "negative_space") != NULL &&
	    strncmp(field(j, "composition", "negative_space"), "minimal", 7) == 0,
	    "stripes: minimal negative space");
	json_decref(j);

	j = analyse("poster-teal-orange.png", err, sizeof err);
	ok(has_colour(j, "primary", "teal"), "poster: teal primary");
	ok(has_colour(j, "accent", "orange"), "poster: orange accent");
	ok(field(j, "composition", "layout") != NULL &&
	    strncmp(field(j, "composition", "layout"), "portrait", 8) == 0, "poster: portrait");
	json_decref(j);

	j = analyse("palette.gif", err, sizeof err);
	is_str(field(j, "lighting_and_style", "style"), "flat graphic", "palette.gif: flat graphic");
	json_decref(j);
	j = analyse("noise.png", err, sizeof err);
	is_str(field(j, "lighting_and_style", "style"), "photographic", "noise: photographic");
	json_decref(j);

	j = analyse("truncated.jpg", err, sizeof err);
	ok(j == NULL, "truncated JPEG is refused");
	ok(strncmp(err, "truncated JPEG", 14) == 0, "truncated JPEG error: %s", err);
	json_decref(j);
	j = analyse("empty.png", err, sizeof err);
	ok(j == NULL, "zero-byte PNG is refused");
	is_str(err, "zero-byte file", "zero-byte error");
	json_decref(j);
	j = offline_analyze((const unsigned char *)"<html>", 6, "image/png", err, sizeof err);
	ok(j == NULL && strstr(err, "not an image") != NULL, "HTML refused: %s", err);
	json_decref(j);

	if (scratch_remove() != 0)
		ok(0, "cleanup");
	return done_testing();
}
