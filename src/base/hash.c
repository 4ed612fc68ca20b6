/* hash: sha256 through libcrypto (and sha2x for two messages at once); crc32c in software (slicing by 8). */
#include "base/hash.h"
#include "base/sha2x.h"
#include "base/util.h"

#include <errno.h>
#include <unistd.h>

#include <fcntl.h>
/* SHA256_CTX is deprecated in OpenSSL 3 but is the one way to copy a
 * digest state without an allocation (sha256_pre below) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE4.2 has a CRC-32C instruction: 8 bytes a cycle or so, several times the
 * table.  Replaying a journal checks every line, so it shows. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *b, size_t n)
{
	uint64_t c = ~crc;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, b, 8);
		c = __builtin_ia32_crc32di(c, v);
		b += 8;
		n -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *b++);
	return ~c32;
}

static int
have_hw(void)
{
	static int have = -1;
	if (have < 0)
		have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	return have;
}
#else
static int have_hw(void) { return 0; }
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *b, size_t n) { return crc; }
#endif

uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	if (have_hw())
		return crc32c_hw(crc, b, n);
	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		      crc_tab[3][b[4]] ^ crc_tab[2][b[5]] ^ crc_tab[1][b[6]] ^ crc_tab[0][b[7]];
		b += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *b++) & 0xff];
	return ~crc;
}

static void
tohex(const unsigned char *d, unsigned n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * n] = 0;
}

void
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned dl = 32;
	if (!EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL))
		vj_die(VJ_EFATAL, "sha256 failed");
	tohex(d, 32, out);
}

struct sha256_pre {
	SHA256_CTX c;
};

struct sha256_pre *
sha256_pre_new(const void *p, size_t n)
{
	struct sha256_pre *pre = xmalloc(sizeof *pre);
	if (!SHA256_Init(&pre->c) || !SHA256_Update(&pre->c, p, n))
		vj_die(VJ_EFATAL, "sha256 failed");
	return pre;
}

void
sha256_pre_digest(const struct sha256_pre *pre, const void *p, size_t n, unsigned char out[32])
{
	SHA256_CTX c = pre->c;
	SHA256_Update(&c, p, n);
	SHA256_Final(out, &c);
}

void
sha256_pre_free(struct sha256_pre *pre)
{
	free(pre);
}

/* The low-level state, not EVP's: sha256_update2 runs two of them through
 * sha2x's compression function between libcrypto's own updates. */
struct sha256_ctx {
	SHA256_CTX c;
};

struct sha256_ctx *
sha256_new(void)
{
	struct sha256_ctx *c = xmalloc(sizeof *c);
	if (!SHA256_Init(&c->c))
		vj_die(VJ_EFATAL, "sha256 init failed");
	return c;
}

void
sha256_update(struct sha256_ctx *c, const void *p, size_t n)
{
	SHA256_Update(&c->c, p, n);
}

/* Whole blocks of p into c's state by sha2x, counted as SHA256_Update
 * counts them (bits, in Nh:Nl). */
static void
count_blocks(SHA256_CTX *c, size_t blocks)
{
	uint64_t bits = ((uint64_t)c->Nh << 32 | c->Nl) + (uint64_t)blocks * 512;
	c->Nl = (SHA_LONG)bits;
	c->Nh = (SHA_LONG)(bits >> 32);
}

void
sha256_update2(struct sha256_ctx *a, const void *pa, size_t na, struct sha256_ctx *b,
    const void *pb, size_t nb)
{
	const unsigned char *p = pa, *q = pb;
	if (sha2x_available() && a != b) {
		/* first each to a block boundary, on its own ... */
		size_t ta = a->c.num ? 64 - a->c.num : 0, tb = b->c.num ? 64 - b->c.num : 0;
		ta = ta < na ? ta : na;
		tb = tb < nb ? tb : nb;
		SHA256_Update(&a->c, p, ta);
		SHA256_Update(&b->c, q, tb);
		p += ta, na -= ta, q += tb, nb -= tb;
		/* ... then the blocks both have, together */
		size_t blocks = (na < nb ? na : nb) / 64;
		if (blocks && a->c.num == 0 && b->c.num == 0) {
			sha2x_blocks(a->c.h, p, b->c.h, q, blocks);
			count_blocks(&a->c, blocks);
			count_blocks(&b->c, blocks);
			p += blocks * 64, na -= blocks * 64;
			q += blocks * 64, nb -= blocks * 64;
		}
	}
	SHA256_Update(&a->c, p, na);
	SHA256_Update(&b->c, q, nb);
}

void
sha256_final(struct sha256_ctx *c, char out[65])
{
	unsigned char d[32];
	SHA256_Final(d, &c->c);
	free(c);
	tohex(d, 32, out);
}

int
sha256_file(const char *path, char out[65], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = sha256_fd_hex(fd, out, size);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

uint64_t
hash64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	while (n--) {
		h ^= *b++;
		h *= 1099511628211ull;
	}
	return h;
}

int
sha256_fd_hex(int fd, char out[65], uint64_t *size)
{
	struct sha256_ctx *c = sha256_new();
	char b[65536];
	uint64_t n = 0;
	for (;;) {
		ssize_t r = read(fd, b, sizeof b);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			sha256_final(c, out);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		sha256_update(c, b, (size_t)r);
		n += (uint64_t)r;
	}
	sha256_final(c, out);
	if (size)
		*size = n;
	return 0;
}

int
hex_lower(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == 0;
}
