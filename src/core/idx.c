/* idx: open-addressing hash of ids into an arena of NUL-terminated strings. */
#include "core/idx.h"
#include "base/hash.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (1 << 20)

struct idx {
	uint64_t *tab;       /* high 32 bits: hash tag; low: slot + 1, 0 = empty */
	uint32_t cap;        /* power of two */
	uint32_t n;
	char **ids;          /* slot -> string in an arena block */
	uint32_t ids_cap;
	char **blocks;
	size_t nblocks, used; /* bytes used in the last block */
};

struct idx *
idx_new(void)
{
	struct idx *x = xcalloc(1, sizeof *x);
	x->cap = 1024;
	x->tab = xcalloc(x->cap, sizeof *x->tab);
	return x;
}

void
idx_free(struct idx *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nblocks; i++)
		free(x->blocks[i]);
	free(x->blocks);
	free(x->ids);
	free(x->tab);
	free(x);
}

static char *
arena_put(struct idx *x, const char *s, size_t len)
{
	if (x->nblocks == 0 || x->used + len + 1 > ARENA_BLOCK) {
		size_t sz = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
		x->blocks = xrealloc(x->blocks, (x->nblocks + 1) * sizeof *x->blocks);
		x->blocks[x->nblocks++] = xmalloc(sz);
		x->used = 0;
	}
	char *p = x->blocks[x->nblocks - 1] + x->used;
	memcpy(p, s, len);
	p[len] = 0;
	x->used += len + 1;
	return p;
}

static void
grow(struct idx *x)
{
	uint32_t cap = x->cap * 2;
	uint64_t *tab = xcalloc(cap, sizeof *tab);
	for (uint32_t c = 0; c < x->cap; c++) {
		uint64_t ent = x->tab[c];
		if (!ent)
			continue;
		/* the tag is the hash's high half, the position its low bits */
		const char *s = x->ids[(uint32_t)ent - 1];
		uint32_t i = (uint32_t)hash64(s, strlen(s)) & (cap - 1);
		while (tab[i])
			i = (i + 1) & (cap - 1);
		tab[i] = ent;
	}
	free(x->tab);
	x->tab = tab;
	x->cap = cap;
}

int64_t
idx_get(struct idx *x, const char *id, size_t len, int create)
{
	uint64_t h = hash64(id, len);
	uint64_t tag = h & 0xffffffff00000000ull;
	uint32_t i = (uint32_t)h & (x->cap - 1);
	/* compare the stored tag first: most probes then never touch the
	 * string, which is a cache miss away */
	while (x->tab[i]) {
		uint64_t ent = x->tab[i];
		if ((ent & 0xffffffff00000000ull) == tag) {
			const char *s = x->ids[(uint32_t)ent - 1];
			if (strncmp(s, id, len) == 0 && s[len] == 0)
				return (uint32_t)ent - 1;
		}
		i = (i + 1) & (x->cap - 1);
	}
	if (!create)
		return -1;
	if (x->n == x->ids_cap) {
		x->ids_cap = x->ids_cap ? x->ids_cap * 2 : 1024;
		x->ids = xrealloc(x->ids, x->ids_cap * sizeof *x->ids);
	}
	x->ids[x->n] = arena_put(x, id, len);
	x->tab[i] = tag | ++x->n;
	if (x->n * 2 > x->cap)
		grow(x);
	return x->n - 1;
}

const char *
idx_id(const struct idx *x, uint32_t slot)
{
	return slot < x->n ? x->ids[slot] : NULL;
}

uint32_t
idx_count(const struct idx *x)
{
	return x->n;
}

size_t
idx_memory(const struct idx *x)
{
	return x->cap * sizeof *x->tab + x->ids_cap * sizeof *x->ids + x->nblocks * ARENA_BLOCK;
}
