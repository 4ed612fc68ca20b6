/* jscan: a top-level field scanner for compact JSON objects. */
#include "base/jscan.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *
skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The first position in [p, e) holding '"' or '\\' (or, with ctl, a
 * control character), e if none: eight bytes at a time, each word's
 * special bytes flagged by the zero-byte trick (its lowest flag is
 * exact), so a long string costs a few operations per word. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static const char *
skip_plain(const char *p, const char *e, int ctl)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;
	while (e - p >= 8) {
		memcpy(&w, p, 8);
		uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
		uint64_t m = ((q - ONES) & ~q) | ((b - ONES) & ~b);
		if (ctl)
			m |= (w - ONES * 0x20) & ~w;
		m &= HIGHS;
		if (m)
			return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
#endif
	while (p < e && *p != '"' && *p != '\\' && !(ctl && (unsigned char)*p < 0x20))
		p++;
	return p;
}

/* p at the opening quote; returns the position after the closing quote. */
static const char *
skip_str(const char *p, const char *e)
{
	for (p++;; p += 2) {   /* past a backslash and what it escapes */
		p = skip_plain(p, e, 0);
		if (p >= e)
			return NULL;
		if (*p == '"')
			return p + 1;
	}
}

/* Characters that matter inside a nested value; the rest are skipped
 * without a branch each. */
static const unsigned char special[256] = {
	['"'] = 1, ['\\'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1,
};

static const char *
skip_value(const char *p, const char *e)
{
	int depth = 0, instr = 0;
	if (p >= e)
		return NULL;
	if (*p == '"')
		return skip_str(p, e);
	if (*p != '{' && *p != '[') {
		while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ')
			p++;
		return p;
	}
	for (; p < e; p++) {
		while (p < e && !special[(unsigned char)*p])
			p++;
		if (p >= e)
			break;
		if (instr) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				instr = 0;
			continue;
		}
		switch (*p) {
		case '"':
			instr = 1;
			break;
		case '{': case '[':
			depth++;
			break;
		case '}': case ']':
			if (--depth == 0)
				return p + 1;
			break;
		}
	}
	return NULL;
}

int
jscan(const char *js, size_t len, const char *const *keys, struct jval *vals, int n)
{
	return jscan_until(js, len, keys, vals, n, NULL);
}

/* key is exactly the klen bytes at k: without measuring key first (a
 * replay scans millions of lines against the same few short keys). */
static int
key_eq(const char *key, const char *k, size_t klen)
{
	if (key[0] != k[0])
		return 0;
	for (size_t i = 0; i < klen; i++)
		if (key[i] != k[i] || !key[i])
			return 0;
	return key[klen] == 0;
}

static int
is_stop(const char *k, size_t klen, const char *const *stop)
{
	for (; stop && *stop; stop++)
		if (key_eq(*stop, k, klen))
			return 1;
	return 0;
}

int
jscan_until(const char *js, size_t len, const char *const *keys, struct jval *vals, int n,
    const char *const *stop)
{
	const char *p = js, *e = js + len;
	int found = 0;

	if (n > 16)
		return -1;
	memset(vals, 0, sizeof *vals * (size_t)n);
	p = skip_ws(p, e);
	if (p >= e || *p != '{')
		return -1;
	p = skip_ws(p + 1, e);
	if (p < e && *p == '}')
		return 0;
	while (p < e) {
		if (*p != '"')
			return -1;
		const char *k = p + 1, *ke = skip_str(p, e);
		if (!ke)
			return -1;
		size_t klen = (size_t)(ke - 1 - k);
		if (stop && is_stop(k, klen, stop))
			return 0;
		p = skip_ws(ke, e);
		if (p >= e || *p != ':')
			return -1;
		p = skip_ws(p + 1, e);
		const char *v = p, *ve = skip_value(p, e);
		if (!ve || ve == v)
			return -1;
		for (int i = 0; i < n && found < n; i++) {
			if (vals[i].type || !key_eq(keys[i], k, klen))
				continue;
			switch (*v) {
			case '"': vals[i].type = 's'; vals[i].p = v + 1; vals[i].len = (size_t)(ve - v - 2); break;
			case '{': vals[i].type = 'o'; vals[i].p = v; vals[i].len = (size_t)(ve - v); break;
			case '[': vals[i].type = 'a'; vals[i].p = v; vals[i].len = (size_t)(ve - v); break;
			case 't': vals[i].type = 't'; vals[i].p = v; vals[i].len = (size_t)(ve - v); break;
			case 'f': vals[i].type = 'f'; vals[i].p = v; vals[i].len = (size_t)(ve - v); break;
			case 'n': vals[i].type = 'z'; vals[i].p = v; vals[i].len = (size_t)(ve - v); break;
			default: vals[i].type = 'n'; vals[i].p = v; vals[i].len = (size_t)(ve - v); break;
			}
			found++;
			break;
		}
		p = skip_ws(ve, e);
		if (p < e && *p == ',') {
			p = skip_ws(p + 1, e);
			continue;
		}
		if (p < e && *p == '}')
			return 0;
		return -1;
	}
	return -1;
}

int
jval_is(const struct jval *v, const char *s)
{
	if (v->type != 's')
		return 0;
	/* no strlen: s is short, and mostly differs at its first byte */
	for (size_t i = 0; i < v->len; i++)
		if (s[i] != v->p[i] || !s[i])
			return 0;
	return s[v->len] == 0;
}

int64_t
jval_int(const struct jval *v, int64_t dflt)
{
	char tmp[32];
	if (v->type != 'n' || v->len >= sizeof tmp)
		return dflt;
	/* plain integers, the journal's common case, without strtoll */
	size_t i = v->p[0] == '-';
	int64_t x = 0;
	for (; i < v->len && v->p[i] >= '0' && v->p[i] <= '9' && i < 18; i++)
		x = x * 10 + (v->p[i] - '0');
	if (i == v->len)
		return v->p[0] == '-' ? -x : x;
	memcpy(tmp, v->p, v->len);
	tmp[v->len] = 0;
	/* A number from a file: 1e999, a 20-digit integer or garbage must not
	 * reach the cast, whose overflow is undefined.  Clamp the finite, and a
	 * value that is no number at all gives the default. */
	double d = strtod(tmp, NULL);
	if (isnan(d))
		return dflt;
	if (d >= 9.2e18)
		return INT64_MAX;
	if (d <= -9.2e18)
		return INT64_MIN;
	return (int64_t)d;
}

/* 10^0 .. 10^22: exact as doubles */
static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

double
jval_num(const struct jval *v, double dflt)
{
	char tmp[64];
	if (v->type != 'n' || v->len >= sizeof tmp)
		return dflt;
	/* [-]digits[.digits] with at most 15 digits: the digits as an integer
	 * and a power of ten are both exact doubles, so one division rounds
	 * correctly -- the value strtod gives, without its cost */
	size_t i = v->p[0] == '-', nd = 0, frac = 0;
	int dot = 0;
	uint64_t m = 0;
	for (; i < v->len; i++) {
		char c = v->p[i];
		if (c >= '0' && c <= '9') {
			m = m * 10 + (uint64_t)(c - '0');
			nd++;
			frac += dot;
		} else if (c == '.' && !dot) {
			dot = 1;
		} else {
			break;
		}
	}
	if (i == v->len && nd > 0 && nd <= 15 && !(dot && frac == 0)) {
		double d = (double)m / pow10[frac];
		return v->p[0] == '-' ? -d : d;
	}
	memcpy(tmp, v->p, v->len);
	tmp[v->len] = 0;
	double d = strtod(tmp, NULL);
	return isfinite(d) ? d : dflt;   /* 1e999 is no usable number */
}

/* The strict grammar of RFC 8259, without building anything: a journal line
 * whose CRC is right but whose text is not JSON (a bug, or an edit by hand)
 * must not count as a result.  Nesting is bounded as jansson bounds it. */
#define JV_DEPTH 2048

static const char *
valid_str(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		p = skip_plain(p, e, 1);
		if (p >= e)
			break;
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c != '\\')
			continue;
		if (++p >= e)
			return NULL;
		switch (*p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			break;
		case 'u':
			for (int i = 0; i < 4; i++)
				if (++p >= e || !strchr("0123456789abcdefABCDEF", *p) || !*p)
					return NULL;
			break;
		default:
			return NULL;
		}
	}
	return NULL;
}

static const char *
valid_num(const char *p, const char *e)
{
	const char *s;
	if (p < e && *p == '-')
		p++;
	if (p < e && *p == '0')
		p++;
	else if (p < e && *p >= '1' && *p <= '9')
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (p < e && *p == '.') {
		s = ++p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		s = p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

static const char *
valid_word(const char *p, const char *e, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(e - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

int
jscan_valid(const char *js, size_t len)
{
	const char *p = js, *e = js + len;
	char stack[JV_DEPTH];   /* '{' or '[' per open container */
	int depth = 0;

	for (;;) {
		/* a value */
		p = skip_ws(p, e);
		if (p >= e)
			return 0;
		switch (*p) {
		case '{': case '[':
			if (depth == JV_DEPTH)
				return 0;
			stack[depth++] = *p++;
			p = skip_ws(p, e);
			if (p < e && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
				p++;
				depth--;
				goto after;
			}
			if (stack[depth - 1] == '{')
				goto key;
			continue;
		case '"': p = valid_str(p, e); break;
		case 't': p = valid_word(p, e, "true"); break;
		case 'f': p = valid_word(p, e, "false"); break;
		case 'n': p = valid_word(p, e, "null"); break;
		default: p = valid_num(p, e); break;
		}
		if (!p)
			return 0;
after:
		/* after a value: close containers, or a comma and the next one */
		for (;;) {
			p = skip_ws(p, e);
			if (depth == 0)
				return p == e;
			if (p >= e)
				return 0;
			if (*p == ',') {
				p++;
				if (stack[depth - 1] == '{')
					goto key;
				break;
			}
			if (*p != (stack[depth - 1] == '{' ? '}' : ']'))
				return 0;
			p++;
			depth--;
		}
		continue;
key:
		p = skip_ws(p, e);
		if (p >= e || *p != '"' || !(p = valid_str(p, e)))
			return 0;
		p = skip_ws(p, e);
		if (p >= e || *p != ':')
			return 0;
		p++;
	}
}
