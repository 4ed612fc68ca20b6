/* util.h: what the C unit tests share besides TAP: a scratch directory under
 * /tmp, files written into it, the test images of scripts/vj-mkimages, and an
 * analysis that passes the schema.  Everything is static inline or marked
 * unused, so a test includes it whole and uses what it needs. */
#ifndef VJ_TEST_UTIL_H
#define VJ_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The scratch directory, once scratch_make has made it. */
static char scratch[64];

/* Make a fresh /tmp/vj-test-NAME.XXXXXX: 0, or -1 with errno set. */
static inline int
scratch_make(const char *name)
{
	snprintf(scratch, sizeof scratch, "/tmp/vj-test-%s.XXXXXX", name);
	return mkdtemp(scratch) ? 0 : -1;
}

/* The path of NAME in the scratch directory, in a buffer the next call reuses. */
static inline const char *
scratch_path(const char *name)
{
	static char path[sizeof scratch + 256];

	snprintf(path, sizeof path, "%s/%s", scratch, name);
	return path;
}

/* Write TEXT to the file NAME in the scratch directory; its path, as
 * scratch_path gives it (a file that cannot be written is left missing, for
 * the test to notice). */
static inline const char *
scratch_file(const char *name, const char *text)
{
	const char *path = scratch_path(name);
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

/* Draw the test images into the scratch directory with scripts/vj-mkimages
 * (the Makefile builds it before the tests): 0, or -1. */
static inline int
scratch_images(void)
{
	char cmd[sizeof scratch + 64];

	snprintf(cmd, sizeof cmd, "scripts/vj-mkimages %s >/dev/null", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* Remove the scratch directory and everything in it: 0, or -1. */
static inline int
scratch_remove(void)
{
	char cmd[sizeof scratch + 16];

	snprintf(cmd, sizeof cmd, "rm -rf %s", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* An analysis with every field of the schema, each of the right type. */
static const char good_analysis[] __attribute__((unused)) =
    "{\"colors\":{\"primary\":[\"red\"],\"secondary\":[],\"accent\":[\"gold\"],\"description\":\"warm\"},"
    "\"visual_elements\":{\"objects\":[\"mug\"],\"shapes\":[\"circle\"],\"text\":\"\",\"icons\":[]},"
    "\"mood_and_tone\":{\"mood\":\"calm\",\"tone\":\"soft\",\"energy_level\":\"low\"},"
    "\"composition\":{\"layout\":\"centered\",\"balance\":\"symmetric\",\"focal_point\":\"mug\","
    "\"negative_space\":\"generous\"},"
    "\"lighting_and_style\":{\"lighting\":\"soft\",\"style\":\"photo\",\"texture\":\"smooth\"},"
    "\"brand_insights\":{\"perceived_industry\":\"food\",\"target_audience\":\"adults\","
    "\"brand_personality\":\"warm\",\"premium_level\":\"mid-range\"}}";

#endif
