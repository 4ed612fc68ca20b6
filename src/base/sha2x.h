/* sha2x: SHA-256's compression function run on two messages at once with
 * the x86 SHA extensions, for hash.c's sha256_update2. */
#ifndef VJ_SHA2X_H
#define VJ_SHA2X_H

#include <stddef.h>
#include <stdint.h>

/* 1 when this CPU has the SHA extensions (and SSSE3, SSE4.1). */
int sha2x_available(void);
/* n 64-byte blocks of each message into its state (h as in FIPS 180-4:
 * h[0] is a).  Only when sha2x_available(). */
void sha2x_blocks(uint32_t ha[8], const unsigned char *pa, uint32_t hb[8], const unsigned char *pb,
    size_t n);

#endif
