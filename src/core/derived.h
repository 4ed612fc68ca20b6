/* derived: objects made from other objects of the store (the downscaled
 * copy vj-analyze --max-side sends), found again by what they were made
 * from and how: RUN/derived/SRCSHA-PARAMS names the derived object, so a
 * retry or a later run reuses it instead of making it again.  The source
 * stays what the record names (and what vj-pack packs). */
#ifndef VJ_DERIVED_H
#define VJ_DERIVED_H

#include <stddef.h>

struct derived_obj {
	char sha256[65];
	char mime[32];
	long long bytes;
	int width, height;
};

/* PARAMS: 1..64 of [A-Za-z0-9._-] (resize_params_text).  1 with *o filled
 * when (src, params) has a derived object and the store still holds it
 * whole in size; 0 when not (or the index entry is unreadable or names a
 * missing object: it is made again). */
int derived_get(const char *run, const char *src, const char *params, struct derived_obj *o);
/* Store bytes as the derived object of (src, params) and index it: the
 * object through store_put, the index entry written to a temporary and
 * renamed, neither following a symbolic link.  0 with *o filled, or -1
 * with err set. */
int derived_put(const char *run, const char *src, const char *params, const void *p, size_t n,
    const char *mime, int width, int height, struct derived_obj *o, char *err, size_t errlen);

#endif
