/* key: cache keys.  A stage's result for a job is found again by a key that
 * hashes the stage, its configuration and the upstream result's key, so a
 * change anywhere upstream makes a new key and an unchanged job costs nothing. */
#include "base/key.h"
#include "base/hash.h"

#include <stdio.h>
#include <string.h>

static uint64_t
hex64(const char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int c = p[i];
		v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
	}
	return v;
}

void
key_parse(const char *hex, uint64_t out[2])
{
	size_t n = strlen(hex);
	out[0] = n >= 16 ? hex64(hex, 16) : 0;
	out[1] = n >= 32 ? hex64(hex + 16, 16) : 0;
}

void
key_format(const uint64_t k[2], char out[KEY_HEX + 1])
{
	snprintf(out, KEY_HEX + 1, "%016llx%016llx", (unsigned long long)k[0], (unsigned long long)k[1]);
}

void
key_derive(const char *what, const char *cfg, const char *up, char out[KEY_HEX + 1])
{
	struct sha256_ctx *c = sha256_new();
	char full[65];
	sha256_update(c, what, strlen(what));
	sha256_update(c, "\n", 1);
	sha256_update(c, cfg, strlen(cfg));
	sha256_update(c, "\n", 1);
	sha256_update(c, up, strlen(up));
	sha256_final(c, full);
	memcpy(out, full, KEY_HEX);
	out[KEY_HEX] = 0;
}

int
key_valid(const char *s)
{
	size_t n = 0;
	if (!s)
		return 0;
	for (; s[n]; n++)
		if (n >= KEY_HEX || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n == KEY_HEX;
}
