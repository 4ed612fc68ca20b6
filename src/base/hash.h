/* hash: sha256 (libcrypto) and crc32c (journal line checks). */
#ifndef VJ_HASH_H
#define VJ_HASH_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* One-shot sha256 as 64 lowercase hex digits + NUL. */
void sha256_hex(const void *p, size_t n, char out[65]);

/* Streaming sha256. */
struct sha256_ctx;
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *p, size_t n);
void sha256_final(struct sha256_ctx *c, char out[65]);  /* frees c */
/* Two different streams, na bytes into a and nb into b, at once where the
 * CPU can (SHA extensions: about 1.4x the bytes per second of one at a
 * time); the same digests as two sha256_update calls. */
void sha256_update2(struct sha256_ctx *a, const void *pa, size_t na, struct sha256_ctx *b,
    const void *pb, size_t nb);
/* Many short messages after one common prefix (cache keys: stage, config,
 * then a job's upstream key): the prefix is hashed once, each message
 * then costs only its own block or two.  A prefix state is read-only once
 * made, so threads may share it. */
struct sha256_pre;
struct sha256_pre *sha256_pre_new(const void *p, size_t n);
void sha256_pre_digest(const struct sha256_pre *pre, const void *p, size_t n, unsigned char out[32]);
void sha256_pre_free(struct sha256_pre *pre);
/* sha256 of what is left to read on fd, *size (if not NULL) its length.
 * 0 ok, -1 with errno. */
int sha256_fd_hex(int fd, char out[65], uint64_t *size);
/* sha256 of the file at path, *size its length: 0, or -1 with errno. */
int sha256_file(const char *path, char out[65], uint64_t *size);

/* 64-bit FNV-1a, for hash tables and partitions (not for security). */
uint64_t hash64(const void *p, size_t n);

/* 1 when s is exactly n lowercase hex digits (then a NUL): how vj writes
 * every hash and key, so anything else is not one of them. */
int hex_lower(const char *s, size_t n);

#endif
