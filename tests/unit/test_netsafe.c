/* test_netsafe: the address classes of --deny-private, the userinfo cut
 * out of URLs in messages, and the server delays the engine accepts. */
#include "core/engine.h"
#include "core/netsafe.h"
#include "tap.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const char *
class_of(const char *text)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, text, &s4.sin_addr) == 1)
		return netsafe_private((struct sockaddr *)&s4, sizeof s4);
	if (inet_pton(AF_INET6, text, &s6.sin6_addr) == 1)
		return netsafe_private((struct sockaddr *)&s6, sizeof s6);
	return "(not parsed)";
}

static void
is_class(const char *addr, const char *want)
{
	const char *got = class_of(addr);

	if (!want) {
		if (!ok(got == NULL, "%s is public", addr))
			printf("#   got %s\n", got);
		return;
	}
	is_str(got, want, "%s is %s", addr, want);
}

static void
test_classes(void)
{
	is_class("127.0.0.1", "loopback");
	is_class("127.255.1.2", "loopback");
	is_class("10.1.2.3", "private");
	is_class("172.16.0.1", "private");
	is_class("172.31.255.255", "private");
	is_class("192.168.1.1", "private");
	is_class("100.64.0.1", "carrier-grade NAT");
	is_class("100.127.255.255", "carrier-grade NAT");
	is_class("169.254.169.254", "link-local");
	is_class("0.0.0.0", "this network");
	is_class("224.0.0.1", "multicast");
	is_class("255.255.255.255", "reserved");
	is_class("::1", "loopback");
	is_class("::", "unspecified");
	is_class("fe80::1", "link-local");
	is_class("fc00::1", "unique-local");
	is_class("fd12:3456::1", "unique-local");
	is_class("::ffff:127.0.0.1", "loopback");
	is_class("::ffff:10.0.0.1", "private");
	is_class("64:ff9b::a9fe:a9fe", "link-local");
	is_class("2002:7f00:1::", "loopback");
	is_class("ff02::1", "multicast");
	/* the neighbours of the ranges are public */
	is_class("8.8.8.8", NULL);
	is_class("172.32.0.1", NULL);
	is_class("172.15.255.255", NULL);
	is_class("100.128.0.1", NULL);
	is_class("11.0.0.1", NULL);
	is_class("2001:4860:4860::8888", NULL);
	is_class("::ffff:8.8.8.8", NULL);
	struct sockaddr sa = { .sa_family = AF_UNIX };
	ok(netsafe_private(&sa, sizeof sa) != NULL, "a socket that is not IP is not public");
}

static void
is_stripped(const char *in, const char *want)
{
	char *s = strdup(in);

	netsafe_strip_userinfo(s);
	is_str(s, want, "stripped: %s", in);
	free(s);
}

static void
test_strip(void)
{
	is_stripped("http://u:p@host/x", "http://host/x");
	is_stripped("see https://api.deepseek.com:x@127.0.0.1:8080/v1 now",
	    "see https://127.0.0.1:8080/v1 now");
	is_stripped("a http://u:p@ss@h?q=1 and ftp://me@f/", "a http://h?q=1 and ftp://f/");
	is_stripped("mail me@example.com, http://example.com/a@b", "mail me@example.com, http://example.com/a@b");
	is_stripped("://u@h", "://u@h");
	is_stripped("no urls", "no urls");
}

static void
test_delays(void)
{
	ok(eng_parse_delay("2") == 2, "2");
	ok(eng_parse_delay("1.5s") == 1.5, "1.5s");
	ok(eng_parse_delay("90000ms") == 90, "90000ms");
	ok(eng_parse_delay("86400") == 86400, "a day is the most");
	ok(eng_parse_delay("86401") < 0, "more than a day is refused");
	ok(eng_parse_delay("1e30") < 0, "1e30 is refused");
	ok(eng_parse_delay("1e300ms") < 0, "1e300ms is refused");
	ok(eng_parse_delay("1e999") < 0, "1e999 is refused");
	ok(eng_parse_delay("inf") < 0, "inf is refused");
	ok(eng_parse_delay("nan") < 0, "nan is refused");
	ok(eng_parse_delay("0x10") < 0, "hex is refused");
	ok(eng_parse_delay("-1") < 0, "negative is refused");
	ok(eng_parse_delay("9999h") < 0, "a sum over a day is refused");
	ok(eng_parse_delay("1e2") == 100, "1e2 is 100");
}

int
main(void)
{
	test_classes();
	test_strip();
	test_delays();
	return done_testing();
}
