/* idx: open-addressing hash of ids into an arena of NUL-terminated strings.
 *
 * A table entry is a 32-bit tag (the hash's high half) and the 32-bit
 * address of the id's arena record, which holds the slot beside the text:
 * a probe that matches the tag reads one record (one cache miss) rather
 * than a slot array and then the text (two).  Records are laid out in slot
 * order, so walking the slots (a rehash, a checkpoint) reads the arena
 * front to back. */
#include "core/idx.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SHIFT 20
#define ARENA_BLOCK ((size_t)1 << BLOCK_SHIFT)
#define MAX_BLOCKS ((size_t)1 << (32 - BLOCK_SHIFT))
#define REC_HDR 4            /* the slot, then the id and its NUL */

struct idx {
	uint64_t *tab;       /* high 32 bits: hash tag; low: record address, 0 = empty */
	uint32_t cap;        /* power of two */
	uint32_t n;
	uint32_t indexed;    /* slots 0..indexed-1 are in the table (idx_append leaves some out) */
	uint32_t hint;       /* the slot last returned by idx_get */
	int dups;            /* idx_index found an id twice: only the table says which slot is its */
	uint32_t *addr;      /* slot -> record address */
	uint32_t addr_cap;
	char **blocks;
	size_t nblocks, used; /* bytes used in the last block */
};

static uint64_t *
new_table(uint32_t cap)
{
	return xcalloc(cap, sizeof(uint64_t));
}

struct idx *
idx_new(void)
{
	struct idx *x = xcalloc(1, sizeof *x);
	x->cap = 1024;
	x->tab = new_table(x->cap);
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
	free(x->addr);
	free(x->tab);
	free(x);
}

/* A 64-bit hash of the id, eight bytes at a time (ids are short; FNV-1a's
 * byte loop was a visible part of a replay). */
static uint64_t
idx_hash(const char *id, size_t len)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = 0x243f6a8885a308d3ull ^ (len * m), w;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, id + i, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, id + i, len - i);
		h = (h ^ w) * m;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

static char *
rec_at(const struct idx *x, uint32_t a)
{
	return x->blocks[a >> BLOCK_SHIFT] + (a & (ARENA_BLOCK - 1));
}

static uint32_t
rec_slot(const char *rec)
{
	uint32_t s;
	memcpy(&s, rec, 4);
	return s;
}

/* Store the record of a new slot; its address. */
static uint32_t
arena_put(struct idx *x, uint32_t slot, const char *s, size_t len)
{
	size_t need = (REC_HDR + len + 1 + 3) & ~(size_t)3;
	if (x->nblocks == 0 || x->used + need > ARENA_BLOCK) {
		/* an id longer than a block gets a block of its own: a record
		 * address only needs its start */
		size_t sz = need > ARENA_BLOCK ? need : ARENA_BLOCK;
		if (x->nblocks == MAX_BLOCKS)
			vj_die(VJ_EFATAL, "too many job ids (over %zu MiB of id text)", MAX_BLOCKS);
		x->blocks = xrealloc(x->blocks, (x->nblocks + 1) * sizeof *x->blocks);
		x->blocks[x->nblocks++] = xmalloc(sz);
		/* address 0 means an empty table entry: block 0 starts at 4 */
		x->used = x->nblocks == 1 ? 4 : 0;
	}
	uint32_t a = (uint32_t)((x->nblocks - 1) << BLOCK_SHIFT | x->used);
	char *p = x->blocks[x->nblocks - 1] + x->used;
	memcpy(p, &slot, 4);
	memcpy(p + REC_HDR, s, len);
	p[REC_HDR + len] = 0;
	x->used = need > ARENA_BLOCK ? ARENA_BLOCK : x->used + need;
	return a;
}

/* Put slots from..n-1 in tab (cap entries): hashes computed a few slots
 * ahead and their buckets prefetched, so that the cache misses of a big
 * table overlap instead of coming one after another.  With check set, an
 * id already in the table is not added again: returns how many were. */
#define AHEAD 16

static uint32_t
put_slots(const struct idx *x, uint64_t *tab, uint32_t cap, uint32_t from, int check)
{
	uint64_t hs[AHEAD];
	uint32_t dup = 0;
	for (uint64_t i = from; i < (uint64_t)x->n + AHEAD; i++) {
		if (i >= (uint64_t)from + AHEAD) {
			/* slot j's bucket was prefetched AHEAD slots ago */
			uint64_t j = i - AHEAD, h = hs[j % AHEAD], tag = h & 0xffffffff00000000ull;
			uint32_t k = (uint32_t)h & (cap - 1);
			int seen = 0;
			for (; tab[k]; k = (k + 1) & (cap - 1))
				if (check && (tab[k] & 0xffffffff00000000ull) == tag &&
				    strcmp(rec_at(x, (uint32_t)tab[k]) + REC_HDR, rec_at(x, x->addr[j]) + REC_HDR) == 0)
					seen = 1;
			if (seen)
				dup++;
			else
				tab[k] = tag | x->addr[j];
		}
		if (i < x->n) {
			const char *id = rec_at(x, x->addr[i]) + REC_HDR;
			uint64_t h = idx_hash(id, strlen(id));
			hs[i % AHEAD] = h;
			__builtin_prefetch(&tab[(uint32_t)h & (cap - 1)], 1);
		}
	}
	return dup;
}

/* A table of cap entries over every slot. */
static void
rehash(struct idx *x, uint32_t cap)
{
	uint64_t *tab = new_table(cap);
	put_slots(x, tab, cap, 0, 0);
	free(x->tab);
	x->tab = tab;
	x->cap = cap;
	x->indexed = x->n;
}

/* The table stays at most 70% full: linear probing with tags stays short. */
static uint32_t
cap_for(uint32_t n)
{
	uint64_t c = 1024;
	while ((uint64_t)n * 10 > c * 7)
		c *= 2;
	return c > (1ull << 31) ? 1u << 31 : (uint32_t)c;
}

void
idx_reserve(struct idx *x, uint32_t n)
{
	uint32_t c = cap_for(n);
	if (c > x->cap)
		rehash(x, c);
	if (n > x->addr_cap) {
		x->addr = xrealloc(x->addr, (size_t)n * sizeof *x->addr);
		x->addr_cap = n;
	}
}

int
idx_index(struct idx *x)
{
	uint32_t from = x->indexed;
	if (from == x->n)
		return 0;
	uint32_t c = cap_for(x->n);
	if (c > x->cap) {
		/* regrow from scratch: the new slots go in with the old */
		uint64_t *tab = new_table(c);
		free(x->tab);
		x->tab = tab;
		x->cap = c;
		from = 0;
	}
	x->indexed = x->n;
	uint32_t dup = put_slots(x, x->tab, x->cap, from, 1);
	if (dup)
		x->dups = 1;
	if (dup)
		vj_warn("%u job ids were given two slots by a checkpoint that was not written by vj: "
		    "the first kept; remove RUN/journal/*.ckpt to fold the journals afresh", dup);
	return dup ? -1 : 0;
}

static uint32_t
new_slot(struct idx *x, const char *id, size_t len)
{
	if (x->n == UINT32_MAX - 1)
		vj_die(VJ_EFATAL, "too many job ids");
	if (x->n == x->addr_cap) {
		/* an eighth more: at ten million jobs doubling would leave
		 * tens of megabytes unused */
		uint32_t c = x->addr_cap < 1024 ? 1024 : x->addr_cap + x->addr_cap / 8;
		x->addr = xrealloc(x->addr, (size_t)c * sizeof *x->addr);
		x->addr_cap = c;
	}
	x->addr[x->n] = arena_put(x, x->n, id, len);
	return x->n++;
}

uint32_t
idx_append(struct idx *x, const char *id, size_t len)
{
	return new_slot(x, id, len);
}

static int64_t
idx_get_hashed(struct idx *x, const char *id, size_t len, uint64_t h, int create)
{
	if (x->indexed < x->n)
		idx_index(x);
	uint64_t tag = h & 0xffffffff00000000ull;
	uint32_t i = (uint32_t)h & (x->cap - 1);
	/* compare the stored tag first: most probes then never touch the
	 * record, which is a cache miss away */
	while (x->tab[i]) {
		uint64_t ent = x->tab[i];
		if ((ent & 0xffffffff00000000ull) == tag) {
			const char *rec = rec_at(x, (uint32_t)ent);
			if (memcmp(rec + REC_HDR, id, len) == 0 && rec[REC_HDR + len] == 0)
				return rec_slot(rec);
		}
		i = (i + 1) & (x->cap - 1);
	}
	if (!create)
		return -1;
	uint32_t slot = new_slot(x, id, len);
	x->tab[i] = tag | x->addr[slot];
	x->indexed = x->n;
	if ((uint64_t)x->n * 10 > (uint64_t)x->cap * 7)
		rehash(x, x->cap * 2);
	return slot;
}

/* A journal mostly names the job it named last or the next one (a job
 * line, then its done; a stage takes the jobs in order): those two are
 * compared first, records next to each other in the arena, before the
 * id is hashed and looked up in the table (a cache miss or two away on a
 * big run: the lookup was a quarter of a replay). */
int64_t
idx_get(struct idx *x, const char *id, size_t len, int create)
{
	if (x->indexed == x->n && !x->dups)
		for (uint32_t k = x->hint; k < x->n && k - x->hint < 2; k++) {
			const char *rec = rec_at(x, x->addr[k]);
			if (memcmp(rec + REC_HDR, id, len) == 0 && rec[REC_HDR + len] == 0) {
				x->hint = k;
				return k;
			}
		}
	int64_t slot = idx_get_hashed(x, id, len, idx_hash(id, len), create);
	if (slot >= 0)
		x->hint = (uint32_t)slot;
	return slot;
}

const char *
idx_id(const struct idx *x, uint32_t slot)
{
	return slot < x->n ? rec_at(x, x->addr[slot]) + REC_HDR : NULL;
}

uint32_t
idx_count(const struct idx *x)
{
	return x->n;
}

void
idx_truncate(struct idx *x, uint32_t n)
{
	if (n >= x->n)
		return;
	/* the rare undo of a checkpoint that turned out bad: the arena keeps
	 * the dropped text, the table is rebuilt without it */
	x->n = n;
	x->hint = 0;
	rehash(x, cap_for(n) > x->cap ? cap_for(n) : x->cap);
}

size_t
idx_memory(const struct idx *x)
{
	return x->cap * sizeof *x->tab + x->addr_cap * sizeof *x->addr + x->nblocks * ARENA_BLOCK;
}
