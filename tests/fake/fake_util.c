/* fake_util.c: growable buffers, a string map, a PRNG and the clock. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake.h"

void
fake_die(const char *fmt, ...)
{
	va_list ap;

	fputs("vj-fake: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *
fake_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fake_die("out of memory");
	return p;
}

char *
fake_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(fake_xmalloc(n), s, n);
}

void
fake_buf_reserve(struct fake_buf *b, size_t extra)
{
	size_t want = b->len + extra + 1;	/* room for a terminating NUL */
	size_t cap;
	char *p;

	if (want <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		fake_die("out of memory");
	b->p = p;
	b->cap = cap;
}

void
fake_buf_add(struct fake_buf *b, const void *p, size_t n)
{
	fake_buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
fake_buf_adds(struct fake_buf *b, const char *s)
{
	fake_buf_add(b, s, strlen(s));
}

void
fake_buf_printf(struct fake_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	fake_buf_reserve(b, 128);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		fake_buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Drop the first n bytes; keeps any pipelined bytes that follow. */
void
fake_buf_consume(struct fake_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	if (b->p)
		b->p[b->len] = '\0';
}

void
fake_buf_free(struct fake_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* FNV-1a: stable across runs, which the deterministic answers rely on. */
uint64_t
fake_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;

	while (n--) {
		h ^= *s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* splitmix64: tiny, good enough, and the same everywhere. */
uint64_t
fake_rand(uint64_t *st)
{
	uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double
fake_rand01(uint64_t *st)
{
	return (double)(fake_rand(st) >> 11) / 9007199254740992.0;
}

uint64_t
fake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* "12.5s", "47s", "0.25s": the protobuf Duration style Gemini uses. */
void
fake_fmt_seconds(char *dst, size_t n, uint64_t ms)
{
	size_t len;

	snprintf(dst, n, "%llu.%03llu", (unsigned long long)(ms / 1000),
	    (unsigned long long)(ms % 1000));
	len = strlen(dst);
	while (len > 0 && dst[len - 1] == '0')
		dst[--len] = '\0';
	if (len > 0 && dst[len - 1] == '.')
		dst[--len] = '\0';
	if (len + 1 < n) {
		dst[len] = 's';
		dst[len + 1] = '\0';
	}
}

static void
fake_map_grow(struct fake_map *m)
{
	struct fake_map old = *m;
	size_t i;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->ents = calloc(m->cap, sizeof(*m->ents));
	if (m->ents == NULL)
		fake_die("out of memory");
	m->n = 0;
	for (i = 0; i < old.cap; i++) {
		if (old.ents[i].key == NULL)
			continue;
		size_t j = fake_hash(old.ents[i].key, strlen(old.ents[i].key)) & (m->cap - 1);
		while (m->ents[j].key != NULL)
			j = (j + 1) & (m->cap - 1);
		m->ents[j] = old.ents[i];
		m->n++;
	}
	free(old.ents);
}

long *
fake_map_get(struct fake_map *m, const char *key, int create)
{
	size_t j;

	if (m->cap == 0 || (create && (m->n + 1) * 2 > m->cap)) {
		if (!create)
			return NULL;
		fake_map_grow(m);
	}
	j = fake_hash(key, strlen(key)) & (m->cap - 1);
	while (m->ents[j].key != NULL) {
		if (strcmp(m->ents[j].key, key) == 0)
			return &m->ents[j].val;
		j = (j + 1) & (m->cap - 1);
	}
	if (!create)
		return NULL;
	m->ents[j].key = fake_xstrdup(key);
	m->ents[j].val = 0;
	m->n++;
	return &m->ents[j].val;
}

void
fake_map_clear(struct fake_map *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->ents[i].key);
	free(m->ents);
	m->ents = NULL;
	m->cap = m->n = 0;
}
