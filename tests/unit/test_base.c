/* test_base: what base/ does with text and numbers from outside: escaping
 * for a terminal, scrubbing secrets, the strict JSON check, numbers that
 * must not reach a cast, option numbers that are not finite. */
#include "tap.h"
#include "base/hash.h"
#include "base/hashq.h"
#include "base/jscan.h"
#include "base/sha2x.h"
#include "base/util.h"

#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>

static void
esc(const char *in, const char *want)
{
	char out[256];
	text_escape(in, strlen(in), out, sizeof out);
	is_str(out, want, "escape %s", want);
}

static int
valid(const char *s)
{
	return jscan_valid(s, strlen(s));
}

static int64_t
num_int(const char *text)
{
	struct jval v = { text, strlen(text), 'n' };
	return jval_int(&v, -7);
}

/* sha256_update2 gives what two one-stream hashes give, however the two
 * streams are cut (partial blocks before, blocks in common, tails after). */
static void
two_streams(void)
{
	enum { N = 70000 };
	unsigned char *a = malloc(N), *b = malloc(N);
	for (int i = 0; i < N; i++) {
		a[i] = (unsigned char)(i * 7 + (i >> 8));
		b[i] = (unsigned char)(i * 13 + 1);
	}
	static const size_t cuts[][4] = {
		{ 0, 0, 0, 0 }, { 0, 64, 0, 64 }, { 64, 64, 128, 128 }, { 3, 1000, 0, 997 },
		{ 63, 65, 1, 200 }, { 0, 4096, 0, 100 }, { 17, 70000 - 17, 64, 69000 },
		{ 0, 70000, 0, 70000 }, { 55, 9, 56, 8 }, { 1, 1, 1, 1 },
	};
	int bad = 0;
	for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
		/* each stream: its first cut alone, the rest together */
		size_t a0 = cuts[k][0], a1 = cuts[k][1], b0 = cuts[k][2], b1 = cuts[k][3];
		struct sha256_ctx *x = sha256_new(), *y = sha256_new();
		char hx[65], hy[65], wx[65], wy[65];
		sha256_update(x, a, a0);
		sha256_update(y, b, b0);
		sha256_update2(x, a + a0, a1, y, b + b0, b1);
		sha256_update2(x, a + a0 + a1, 0, y, b + b0 + b1, 0);
		sha256_final(x, hx);
		sha256_final(y, hy);
		sha256_hex(a, a0 + a1, wx);
		sha256_hex(b, b0 + b1, wy);
		if (strcmp(hx, wx) || strcmp(hy, wy)) {
			printf("# cut %zu: %s/%s, want %s/%s\n", k, hx, hy, wx, wy);
			bad++;
		}
	}
	ok(!bad, "sha256_update2: the digests of two sha256 streams, cut %zu ways (SHA extensions %s)",
	    sizeof cuts / sizeof cuts[0], sha2x_available() ? "used" : "absent: libcrypto alone");
	/* the known answer for "abc", through the two-stream path */
	struct sha256_ctx *x = sha256_new(), *y = sha256_new();
	char h[65], junk[65];
	unsigned char m[128];
	memset(m, 'a', sizeof m);
	sha256_update2(x, "abc", 3, y, m, sizeof m);
	sha256_final(x, h);
	sha256_final(y, junk);
	is_str(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256(abc)");
	free(a);
	free(b);
}

/* hashq: streams cut into pieces of every size, queued from two threads at
 * once, some interleaved on one thread; each stream's digest as one-shot,
 * and each stream's pieces done in order. */
enum { HQ_STREAMS = 6, HQ_BYTES = 300000 };
struct hq_stream {
	struct sha256_ctx *c;
	unsigned char *data;
	size_t put;           /* pieces queued */
	size_t done;          /* pieces done, counted by the callback */
	int order_bad;
};
struct hq_piece_arg {
	struct hq_stream *st;
	size_t index;
};
static void
hq_done(void *arg)
{
	struct hq_piece_arg *a = arg;
	if (a->index != a->st->done)
		a->st->order_bad = 1;
	a->st->done++;
	free(a);
}
struct hq_feeder {
	struct hashq *q;
	struct hq_stream *st;
	int nst;
	unsigned seed;
};
static void *
hq_feed(void *arg)
{
	struct hq_feeder *fd = arg;
	size_t off[HQ_STREAMS] = { 0 };
	int left = fd->nst;
	while (left > 0) {
		int k = (int)(rand_r(&fd->seed) % (unsigned)fd->nst);
		struct hq_stream *st = &fd->st[k];
		if (off[k] == HQ_BYTES)
			continue;
		/* 0 bytes, odd sizes, whole blocks, big pieces */
		static const size_t sizes[] = { 0, 1, 63, 64, 65, 1000, 4096, 70000, 131072 };
		size_t n = sizes[rand_r(&fd->seed) % 9];
		if (n > HQ_BYTES - off[k])
			n = HQ_BYTES - off[k];
		struct hq_piece_arg *a = malloc(sizeof *a);
		a->st = st;
		a->index = st->put++;
		hashq_put(fd->q, st->c, st->data + off[k], n, hq_done, a);
		off[k] += n;
		if (off[k] == HQ_BYTES)
			left--;
	}
	return NULL;
}
static void
hashq_streams(void)
{
	struct hq_stream st[HQ_STREAMS];
	for (int k = 0; k < HQ_STREAMS; k++) {
		st[k] = (struct hq_stream){ sha256_new(), malloc(HQ_BYTES), 0, 0, 0 };
		for (int i = 0; i < HQ_BYTES; i++)
			st[k].data[i] = (unsigned char)(i * (k + 3) + (i >> 10));
	}
	struct hashq *q = hashq_new();
	ok(q != NULL, "hashq: a thread started");
	/* two producers, three streams each */
	struct hq_feeder f0 = { q, st, 3, 1 }, f1 = { q, st + 3, 3, 2 };
	pthread_t t0, t1;
	pthread_create(&t0, NULL, hq_feed, &f0);
	pthread_create(&t1, NULL, hq_feed, &f1);
	pthread_join(t0, NULL);
	pthread_join(t1, NULL);
	hashq_free(q);
	int bad = 0, order = 0, count = 0;
	for (int k = 0; k < HQ_STREAMS; k++) {
		char got[65], want[65];
		sha256_final(st[k].c, got);
		sha256_hex(st[k].data, HQ_BYTES, want);
		bad += strcmp(got, want) != 0;
		order += st[k].order_bad;
		count += st[k].done != st[k].put;
		free(st[k].data);
	}
	ok(!bad, "hashq: six streams cut into random pieces from two threads: the one-shot digests");
	ok(!order && !count, "hashq: every piece done once, each stream's in the order queued");
	/* no thread (NULL): hashed in line, done at once */
	struct sha256_ctx *c = sha256_new();
	struct hq_stream one = { c, NULL, 1, 0, 0 };
	struct hq_piece_arg *a = malloc(sizeof *a);
	*a = (struct hq_piece_arg){ &one, 0 };
	char h[65];
	hashq_put(NULL, c, "abc", 3, hq_done, a);
	sha256_final(c, h);
	ok(one.done == 1 && strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	    "hashq_put with no queue hashes in line and calls done");
}

int
main(void)
{
	two_streams();
	hashq_streams();
	esc("plain text, é and 漢字", "plain text, é and 漢字");
	esc("a\nb\rc\td", "a\\nb\\rc\\td");
	esc("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
	esc("del\x7f", "del\\x7f");
	esc("c1 \xc2\x9b" "2J", "c1 \\u009b2J");
	esc("lone \x9b byte", "lone \\x9b byte");
	esc("overlong \xc0\xaf", "overlong \\xc0\\xaf");
	{
		char small[6];
		text_escape("\x1b\x1b\x1b", 3, small, sizeof small);
		is_str(small, "\\x1b", "a full buffer cuts before an escape, never inside it");
	}

	secret_register("sk-test-0123456789abcdef");
	secret_register("abc");
	char s[128] = "key sk-test-0123456789abcdef and sk-test-0123456789abcdef, abc";
	secret_scrub(s);
	is_str(s, "key [redacted] and [redacted], ***", "secrets scrubbed, long and short");
	ok(!secret_in(s, strlen(s)), "none left");

	ok(valid("{\"a\":[1,2.5e3,-0,\"x\\u00e9\"],\"b\":{},\"c\":true,\"d\":null}"), "valid object");
	ok(valid(" [ ] "), "empty array with spaces");
	ok(!valid("{\"a\":[1,2}"), "mismatched bracket");
	ok(!valid("{\"a\":1,}"), "trailing comma");
	ok(!valid("{\"a\" 1}"), "missing colon");
	ok(!valid("{\"a\":01}"), "leading zero");
	ok(!valid("{\"a\":\"tab\there\"}"), "raw control character in a string");
	ok(!valid("{\"a\":\"\\q\"}"), "bad escape");
	ok(!valid("{\"a\":tru}"), "cut word");
	ok(!valid("{\"a\":1} x"), "text after the value");
	ok(!valid("{\"a\":1"), "unclosed");
	ok(!valid("{\"a\":1.}"), "number without fraction digits");
	/* long strings take the 16-bytes-at-a-time path: every position */
	for (int at = 0; at < 40; at++) {
		char t[128], u[128];
		snprintf(t, sizeof t, "{\"k\":\"%s\"}", "0123456789abcdef0123456789ABCDEF\xc3\xa9\xe6\xbc\xa2tail");
		strcpy(u, t);
		u[6 + at] = '\x01';
		if (!valid(t) || valid(u)) {
			ok(0, "a control character at %d of a long string", at);
			break;
		}
		if (at == 39)
			ok(1, "a control character anywhere in a long string is refused; UTF-8 passes");
	}
	ok(valid("{\"k\":\"0123456789abcdef0123456789\\\"quoted\\\" and \\u00e9 more text here\"}"),
	    "escapes after 16 plain bytes");

	is_int(num_int("12"), 12, "an integer");
	is_int(num_int("1e999"), INT64_MAX, "1e999 clamps");
	is_int(num_int("-1e999"), INT64_MIN, "-1e999 clamps");
	is_int(num_int("99999999999999999999"), INT64_MAX, "20 digits clamp");
	is_int(num_int("2.5"), 2, "a fraction truncates");
	{
		struct jval v = { "1e999", 5, 'n' };
		ok(jval_num(&v, 3.0) == 3.0, "jval_num: inf is no number");
	}

	double d;
	ok(parse_double("nan", 0, 100, &d) < 0, "nan refused");
	ok(parse_double("inf", 0, INFINITY, &d) < 0, "inf refused");
	ok(parse_double("1e308", 0, 1e9, &d) < 0, "out of range refused");
	ok(parse_double("2.5", 0, 10, &d) == 0 && d == 2.5, "2.5 taken");
	return done_testing();
}
