/* netsafe: what vj needs to decide where it may connect and what of a URL
 * it may show.  An address is classed as private (loopback, link-local,
 * private, CGNAT, unique-local and the other ranges no public server
 * lives in) for vj-ingest --deny-private, and the userinfo of a URL
 * ("user:password@") is cut out of any text before it is printed or
 * journaled (docs/security.md). */
#ifndef VJ_NETSAFE_H
#define VJ_NETSAFE_H

#include <stddef.h>
#include <sys/socket.h>

/* The kind of range SA is in ("loopback", "private", ...), or NULL when
 * it is a public address.  An IPv4 address inside IPv6 (::ffff:a.b.c.d,
 * NAT64, 6to4) is judged by the IPv4 address.  An address of a family
 * other than IPv4 or IPv6 is "not an IP address". */
const char *netsafe_private(const struct sockaddr *sa, socklen_t len);
/* The address of SA as text ("127.0.0.1", "::1") into out. */
void netsafe_addr_text(const struct sockaddr *sa, char *out, size_t n);
/* Cut the userinfo out of every URL in S, in place:
 * "http://u:p@host/x" becomes "http://host/x" (the text only shrinks). */
void netsafe_strip_userinfo(char *s);

#endif
