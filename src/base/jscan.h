/* jscan: pull top-level fields out of one compact JSON object without
 * building a tree.  Replaying millions of journal lines is dominated by this,
 * so it only skips over nested values. */
#ifndef VJ_JSCAN_H
#define VJ_JSCAN_H

#include <stddef.h>
#include <stdint.h>

struct jval {
	const char *p;   /* raw value text (strings: between the quotes, escapes kept) */
	size_t len;
	char type;       /* 's' string, 'n' number, 'o' object, 'a' array, 't' 'f' 'z' (null), 0 absent */
};

/* Fill vals[i] for keys[i] (n of them).  Returns 0, or -1 if the text is not
 * a well-formed object at the top level. */
int jscan(const char *js, size_t len, const char *const *keys, struct jval *vals, int n);
/* The same, but stop at the first key named in stop (NULL-terminated): the
 * rest of the object is not looked at.  For lines whose large fields come
 * last. */
int jscan_until(const char *js, size_t len, const char *const *keys, struct jval *vals, int n,
    const char *const *stop);

/* 1 when the text is exactly one well-formed JSON value (RFC 8259). */
int jscan_valid(const char *js, size_t len);

/* Convenience: a string value equal to s; a number as int64/double. */
int jval_is(const struct jval *v, const char *s);
int64_t jval_int(const struct jval *v, int64_t dflt);   /* clamped to int64; NaN: dflt */
double jval_num(const struct jval *v, double dflt);     /* non-finite: dflt */

#endif
