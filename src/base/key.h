/* key: cache keys, 128 bits of sha256 shown as 32 hex digits. */
#ifndef VJ_KEY_H
#define VJ_KEY_H

#include <stdint.h>

#define KEY_HEX 32          /* a cache key: 128 bits of sha256, in hex */

/* Hex to two words and back; a short or empty string parses as zeros. */
void key_parse(const char *hex, uint64_t out[2]);
void key_format(const uint64_t k[2], char out[KEY_HEX + 1]);
/* Is s a key as vj writes them: exactly 32 lowercase hex digits? */
int key_valid(const char *s);
/* H128(stage name, config string, upstream key hex). */
void key_derive(const char *what, const char *cfg, const char *up, char out[KEY_HEX + 1]);

#endif
