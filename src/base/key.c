/* key: cache keys.  A stage's result for a job is found again by a key that
 * hashes the stage, its configuration and the upstream result's key, so a
 * change anywhere upstream makes a new key and an unchanged job costs nothing.
 *
 * A --pending stage derives the key of every job in the run when it starts
 * (ten million at a time), so this is written for speed: the hash state
 * after "stage\nconfig\n" is kept (a few of them), and hex goes through
 * tables rather than printf. */
#include "base/key.h"
#include "base/hash.h"
#include "base/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

/* A hex digit's value (anything else counts as 0: keys are checked where
 * they come in), by table: parsing keys is a visible part of a replay. */
static unsigned char hexval_tab[256];
static pthread_once_t hexval_once = PTHREAD_ONCE_INIT;

static void
hexval_init(void)
{
	for (int i = 0; i < 10; i++)
		hexval_tab['0' + i] = (unsigned char)i;
	for (int i = 0; i < 6; i++)
		hexval_tab['a' + i] = hexval_tab['A' + i] = (unsigned char)(10 + i);
}

static uint64_t
hex64(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 4 | hexval_tab[(unsigned char)p[i]];
	return v;
}

void
key_parse(const char *hex, uint64_t out[2])
{
	/* no strlen: only whether 16 and 32 digits are there matters */
	pthread_once(&hexval_once, hexval_init);
	size_t n = 0;
	while (n < 32 && hex[n])
		n++;
	out[0] = n >= 16 ? hex64(hex) : 0;
	out[1] = n >= 32 ? hex64(hex + 16) : 0;
}

static void
hex_word(uint64_t v, char *out)
{
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = hexdig[v & 15];
}

void
key_format(const uint64_t k[2], char out[KEY_HEX + 1])
{
	hex_word(k[0], out);
	hex_word(k[1], out + 16);
	out[KEY_HEX] = 0;
}

/* The hash states after "what\ncfg\n" last used, shared by the threads
 * (the input thread derives ingest keys, the main thread a stage's). */
#define PRE_CACHE 4
static struct pre_ent {
	char *what, *cfg;
	struct sha256_pre *pre;
} pre_cache[PRE_CACHE];
static unsigned pre_next;
static pthread_mutex_t pre_mu = PTHREAD_MUTEX_INITIALIZER;

/* sha256("what\ncfg\nup") into d. */
static void
derive(const char *what, const char *cfg, const char *up, unsigned char d[32])
{
	struct pre_ent *e;
	pthread_mutex_lock(&pre_mu);
	for (int i = 0; i < PRE_CACHE; i++) {
		e = &pre_cache[i];
		if (e->pre && strcmp(e->what, what) == 0 && strcmp(e->cfg, cfg) == 0)
			goto out;
	}
	e = &pre_cache[pre_next++ % PRE_CACHE];
	free(e->what);
	free(e->cfg);
	sha256_pre_free(e->pre);
	char *text = xasprintf("%s\n%s\n", what, cfg);
	e->pre = sha256_pre_new(text, strlen(text));
	free(text);
	e->what = xstrdup(what);
	e->cfg = xstrdup(cfg);
out:
	/* under the lock: another thread may replace the state (it costs a
	 * block or two of hashing, and the lock is not contended) */
	sha256_pre_digest(e->pre, up, strlen(up), d);
	pthread_mutex_unlock(&pre_mu);
}

void
key_derive(const char *what, const char *cfg, const char *up, char out[KEY_HEX + 1])
{
	unsigned char d[32];
	derive(what, cfg, up, d);
	for (int i = 0; i < KEY_HEX / 2; i++) {
		out[2 * i] = hexdig[d[i] >> 4];
		out[2 * i + 1] = hexdig[d[i] & 15];
	}
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
