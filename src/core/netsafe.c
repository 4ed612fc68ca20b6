/* netsafe: classing addresses as private or public (vj-ingest
 * --deny-private checks every address it connects to, so a name that
 * resolves to 127.0.0.1 and a redirect to 10.0.0.1 are caught where the
 * connection is made), and cutting credentials out of URLs in messages. */
#include "core/netsafe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Ranges of IPv4 no public server is reached at (RFC 6890 and friends). */
static const struct v4range {
	uint32_t net;
	int bits;
	const char *what;
} v4[] = {
	{ 0x00000000, 8, "this network" },
	{ 0x0a000000, 8, "private" },
	{ 0x64400000, 10, "carrier-grade NAT" },
	{ 0x7f000000, 8, "loopback" },
	{ 0xa9fe0000, 16, "link-local" },
	{ 0xac100000, 12, "private" },
	{ 0xc0000000, 24, "reserved" },
	{ 0xc0000200, 24, "documentation" },
	{ 0xc0a80000, 16, "private" },
	{ 0xc6120000, 15, "benchmarking" },
	{ 0xc6336400, 24, "documentation" },
	{ 0xcb007100, 24, "documentation" },
	{ 0xe0000000, 4, "multicast" },
	{ 0xf0000000, 4, "reserved" },
};

static const char *
private4(uint32_t a)
{
	for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
		uint32_t mask = v4[i].bits ? ~(uint32_t)0 << (32 - v4[i].bits) : 0;
		if ((a & mask) == v4[i].net)
			return v4[i].what;
	}
	return NULL;
}

static uint32_t
be32at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *
private6(const unsigned char *b)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };

	if (!memcmp(b, zero, 15))
		return b[15] == 1 ? "loopback" : b[15] == 0 ? "unspecified" : "IPv4-compatible";
	/* an IPv4 address carried in IPv6 reaches that IPv4 address */
	if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12) || !memcmp(b, zero, 12))
		return private4(be32at(b + 12));
	if (b[0] == 0x20 && b[1] == 0x02)          /* 6to4: 2002:a.b.c.d::/48 */
		return private4(be32at(b + 2));
	if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1)
		return "private";                  /* 64:ff9b:1::/48, local NAT64 */
	if ((b[0] & 0xfe) == 0xfc)
		return "unique-local";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "link-local";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return "site-local";
	if (b[0] == 0xff)
		return "multicast";
	if (b[0] == 0x01 && b[1] == 0 && !memcmp(b + 2, zero, 6))
		return "reserved";                 /* 100::/64, discard */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return "documentation";
	return NULL;
}

const char *
netsafe_private(const struct sockaddr *sa, socklen_t len)
{
	if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return private4(ntohl(s4->sin_addr.s_addr));
	}
	if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return private6(s6->sin6_addr.s6_addr);
	}
	return "not an IP address";
}

void
netsafe_addr_text(const struct sockaddr *sa, char *out, size_t n)
{
	const void *a = NULL;

	if (sa && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!n)
		return;
	if (!a || !inet_ntop(sa->sa_family, a, out, (socklen_t)n))
		snprintf(out, n, "(address of family %d)", sa ? sa->sa_family : -1);
}

/* A scheme: a letter, then letters, digits, + - . */
static int
scheme_char(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

void
netsafe_strip_userinfo(char *s)
{
	char *p = s;

	while (s && (p = strstr(p, "://"))) {
		char *b = p, *auth = p + 3;
		/* only after a scheme: a letter, then scheme characters */
		while (b > s && scheme_char(b[-1], 0))
			b--;
		while (b < p && !scheme_char(*b, 1))
			b++;
		p = auth;
		if (b == auth - 3)
			continue;
		/* the authority ends at the path, query, fragment or a space */
		size_t alen = strcspn(auth, "/?#\\ \t\r\n\"'<>");
		char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;    /* the last @ ends the userinfo */
		if (at)
			memmove(auth, at + 1, strlen(at + 1) + 1);
	}
}
