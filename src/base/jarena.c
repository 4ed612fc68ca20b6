/* jarena: jansson allocations from a per-thread arena. */
#include "base/jarena.h"
#include "base/util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCK (256 * 1024)

struct block {
	struct block *next;
	size_t size, used;
	max_align_t data[];
};

struct arena {
	struct block *head;   /* the block being filled; older ones follow */
	int active;
};

static _Thread_local struct arena ar;
static pthread_key_t exit_key;     /* frees a thread's arena when it ends */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void
release(void *unused)
{
	struct block *b = ar.head;
	while (b) {
		struct block *n = b->next;
		free(b);
		b = n;
	}
	ar.head = NULL;
}

static void
make_key(void)
{
	pthread_key_create(&exit_key, release);
}

static int
owned(const void *p)
{
	for (struct block *b = ar.head; b; b = b->next)
		if ((const char *)p >= (const char *)b->data && (const char *)p < (const char *)b->data + b->size)
			return 1;
	return 0;
}

static void *
j_malloc(size_t n)
{
	if (!ar.active)
		return malloc(n);
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct block *b = ar.head;
	if (!b || b->used + n > b->size) {
		size_t size = n > BLOCK ? n : BLOCK;
		b = malloc(sizeof *b + size);
		if (!b)
			return NULL;
		b->size = size;
		b->used = 0;
		if (!ar.head)
			pthread_setspecific(exit_key, &ar);   /* any non-NULL value arms it */
		b->next = ar.head;
		ar.head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static void
j_free(void *p)
{
	/* arena memory goes all at once at jarena_end */
	if (!p || (ar.head && owned(p)))
		return;
	free(p);
}

void
jarena_free(void *p)
{
	j_free(p);
}

void
jarena_install(void)
{
	pthread_once(&key_once, make_key);
	json_set_alloc_funcs(j_malloc, j_free);
}

void
jarena_begin(void)
{
	ar.active = 1;
}

void
jarena_end(void)
{
	ar.active = 0;
	/* keep one block for the next line, free the rest */
	struct block *b = ar.head;
	if (!b)
		return;
	struct block *rest = b->next;
	b->next = NULL;
	b->used = 0;
	if (b->size > BLOCK) {
		free(b);
		ar.head = NULL;
		pthread_setspecific(exit_key, NULL);
	}
	while (rest) {
		struct block *n = rest->next;
		free(rest);
		rest = n;
	}
}
