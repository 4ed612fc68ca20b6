/* idx: interns job ids into dense slot numbers 0..n-1, so every per-job
 * state can live in plain arrays (millions of jobs in little memory). */
#ifndef VJ_IDX_H
#define VJ_IDX_H

#include <stddef.h>
#include <stdint.h>

struct idx;
struct idx *idx_new(void);
void idx_free(struct idx *x);
/* Slot of id, created when create is set; -1 when absent. */
int64_t idx_get(struct idx *x, const char *id, size_t len, int create);
const char *idx_id(const struct idx *x, uint32_t slot);  /* NUL-terminated */
uint32_t idx_count(const struct idx *x);
size_t idx_memory(const struct idx *x);

/* For loading many ids at once (a checkpoint): room for n ids without
 * regrowing. */
void idx_reserve(struct idx *x, uint32_t n);
/* A new slot for an id the caller knows is not in the table (the first
 * checkpoint read numbers an empty one), left out of the hash table until
 * idx_index puts the new slots in, all at once (-1, with a warning, when
 * an id was there twice: the first is kept).  The first lookup indexes:
 * a reader that needs none never hashes the ids at all. */
uint32_t idx_append(struct idx *x, const char *id, size_t len);
int idx_index(struct idx *x);
/* Forget the slots from n on (undoing a load that turned out bad). */
void idx_truncate(struct idx *x, uint32_t n);

#endif
