/*
 * fake_http.c: an incremental HTTP/1.1 request parser.
 *
 * It is called each time bytes arrive and resumes where it stopped, so a
 * 30 MB upload read in 64 KB pieces costs linear time.  Content-Length
 * bodies are used in place; chunked bodies are decoded into parse->body.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fake.h"

enum { PARSE_HEAD, PARSE_BODY, PARSE_CSIZE, PARSE_CDATA, PARSE_CCRLF,
	PARSE_TRAILER, PARSE_DONE };

void
fake_http_reset(struct fake_parse *ps)
{
	struct fake_buf body = ps->body;

	free(ps->req.target);
	free(ps->req.path);
	free(ps->req.goog_key);
	free(ps->req.bearer);
	if (ps->spool_on)
		close(ps->spool_fd);
	if (ps->req.spool != NULL)
		unlink(ps->req.spool);	/* a handler that keeps it renamed it */
	free(ps->req.spool);
	memset(ps, 0, sizeof(*ps));
	body.len = 0;
	ps->body = body;	/* keep the allocation for the next request */
	ps->clen = -1;
}

const char *
fake_http_reason(int st)
{
	switch (st) {
	case 100: return "Continue";
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Unknown";
	}
}

static char *
fake_http_dup(const char *s, size_t n)
{
	char *p = fake_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int
fake_http_has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i;

	for (i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, tok, tl) == 0)
			return 1;
	return 0;
}

/* One header line; name and value are trimmed, not NUL-terminated. */
static int
fake_http_header(struct fake_parse *ps, const char *name, size_t nl,
    const char *v, size_t vl)
{
	struct fake_req *r = &ps->req;

#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(name, s, nl) == 0)
	if (IS("content-length")) {
		char *end;
		char tmp[32];

		if (vl == 0 || vl >= sizeof(tmp))
			return -1;
		memcpy(tmp, v, vl);
		tmp[vl] = '\0';
		ps->clen = strtoll(tmp, &end, 10);
		if (*end != '\0' || ps->clen < 0)
			return -1;
	} else if (IS("transfer-encoding")) {
		if (fake_http_has_token(v, vl, "chunked"))
			ps->chunked = 1;
	} else if (IS("expect")) {
		if (fake_http_has_token(v, vl, "100-continue"))
			ps->expect100 = 1;
	} else if (IS("connection")) {
		if (fake_http_has_token(v, vl, "close"))
			r->keepalive = 0;
		else if (fake_http_has_token(v, vl, "keep-alive"))
			r->keepalive = 1;
	} else if (IS("x-vj-job")) {
		if (vl >= sizeof(r->job))
			vl = sizeof(r->job) - 1;
		memcpy(r->job, v, vl);
		r->job[vl] = '\0';
	} else if (IS("x-goog-api-key")) {
		free(r->goog_key);
		r->goog_key = fake_http_dup(v, vl);
	} else if (IS("authorization")) {
		if (vl > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
			free(r->bearer);
			r->bearer = fake_http_dup(v + 7, vl - 7);
		}
	}
#undef IS
	return 0;
}

/* A ?key= query parameter is how some Gemini clients authenticate. */
static void
fake_http_query_key(struct fake_req *r)
{
	const char *q = strchr(r->target, '?');
	const char *k, *e;

	if (q == NULL || r->goog_key != NULL)
		return;
	for (k = q + 1; k && *k; k = strchr(k, '&') ? strchr(k, '&') + 1 : NULL) {
		if (strncmp(k, "key=", 4) == 0) {
			e = strchr(k, '&');
			r->goog_key = fake_http_dup(k + 4, e ? (size_t)(e - k - 4) : strlen(k + 4));
			return;
		}
	}
}

static int
fake_http_reqline(struct fake_parse *ps, const char *s, size_t n)
{
	struct fake_req *r = &ps->req;
	const char *sp1, *sp2, *q;

	sp1 = memchr(s, ' ', n);
	if (sp1 == NULL || sp1 == s || (size_t)(sp1 - s) >= sizeof(r->method))
		return -1;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return -1;
	memcpy(r->method, s, (size_t)(sp1 - s));
	r->method[sp1 - s] = '\0';
	r->target = fake_http_dup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	q = strchr(r->target, '?');
	r->path = fake_http_dup(r->target, q ? (size_t)(q - r->target) : strlen(r->target));
	if (n - (size_t)(sp2 + 1 - s) < 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -1;
	r->http11 = sp2[8] != '0';
	r->keepalive = r->http11;
	return 0;
}

/* The head is complete in in->p[0..head_len): parse every line. */
static int
fake_http_head(struct fake_parse *ps, const char *p, size_t n)
{
	const char *line = p, *end = p + n, *eol, *colon, *v, *ve;
	int first = 1;

	for (; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL)
			eol = end;
		ve = eol;
		if (ve > line && ve[-1] == '\r')
			ve--;
		if (ve == line)
			break;
		if (first) {
			if (fake_http_reqline(ps, line, (size_t)(ve - line)) == -1)
				return -1;
			first = 0;
			continue;
		}
		if ((colon = memchr(line, ':', (size_t)(ve - line))) == NULL)
			return -1;
		v = colon + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (fake_http_header(ps, line, (size_t)(colon - line), v, (size_t)(ve - v)) == -1)
			return -1;
	}
	if (first)
		return -1;
	fake_http_query_key(&ps->req);
	return 0;
}

static int
fake_spool_write(struct fake_parse *ps, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(ps->spool_fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		ps->spooled += (uint64_t)w;
	}
	return 0;
}

/* Spooling: drop the body bytes already written, so `in` stays small.
 * The head stays where it is (fake_req_header reads it). */
static void
fake_spool_drop(struct fake_parse *ps, struct fake_buf *in)
{
	size_t gone = ps->pos - ps->head_len;

	if (gone == 0)
		return;
	memmove(in->p + ps->head_len, in->p + ps->pos, in->len - ps->pos);
	in->len -= gone;
	in->p[in->len] = '\0';
	ps->pos = ps->head_len;
}

/* The body is on disk now: the request carries the file's name. */
static int
fake_spool_done(struct fake_parse *ps, struct fake_buf *in)
{
	close(ps->spool_fd);
	ps->spool_on = 0;
	ps->req.body = NULL;
	ps->req.bodylen = (size_t)ps->spooled;
	ps->req.head = in->p;
	ps->req.headlen = ps->head_len;
	ps->stage = PARSE_DONE;
	return PARSE_OK;
}

/* Chunked decoding; returns PARSE_MORE, PARSE_OK or an error. */
static int
fake_http_chunks(struct fake_parse *ps, struct fake_buf *in)
{
	char *nl, *end;
	size_t avail;

	for (;;) {
		avail = in->len - ps->pos;
		switch (ps->stage) {
		case PARSE_CSIZE:
			if ((nl = memchr(in->p + ps->pos, '\n', avail)) == NULL)
				return avail > 1024 ? PARSE_BAD : PARSE_MORE;
			if (!isxdigit((unsigned char)in->p[ps->pos]))
				return PARSE_BAD;
			ps->chunk_left = strtoull(in->p + ps->pos, &end, 16);
			if (ps->chunk_left > FAKE_MAX_UPLOAD || (!ps->spool_on &&
			    ps->body.len + ps->chunk_left > FAKE_MAX_BODY) ||
			    ps->spooled + ps->chunk_left > FAKE_MAX_UPLOAD)
				return PARSE_TOOBIG;
			ps->pos = (size_t)(nl + 1 - in->p);
			ps->stage = ps->chunk_left ? PARSE_CDATA : PARSE_TRAILER;
			break;
		case PARSE_CDATA: {
			size_t take = avail < ps->chunk_left ? avail : (size_t)ps->chunk_left;

			if (take == 0)
				return PARSE_MORE;
			if (ps->spool_on) {
				if (fake_spool_write(ps, in->p + ps->pos, take) == -1)
					return PARSE_BAD;
			} else
				fake_buf_add(&ps->body, in->p + ps->pos, take);
			ps->pos += take;
			ps->chunk_left -= take;
			if (ps->chunk_left == 0)
				ps->stage = PARSE_CCRLF;
			break;
		}
		case PARSE_CCRLF:
			if ((nl = memchr(in->p + ps->pos, '\n', avail)) == NULL)
				return avail > 2 ? PARSE_BAD : PARSE_MORE;
			ps->pos = (size_t)(nl + 1 - in->p);
			ps->stage = PARSE_CSIZE;
			break;
		case PARSE_TRAILER:
			/* Trailer lines until an empty one. */
			if ((nl = memchr(in->p + ps->pos, '\n', avail)) == NULL)
				return avail > 8192 ? PARSE_BAD : PARSE_MORE;
			end = in->p + ps->pos;
			ps->pos = (size_t)(nl + 1 - in->p);
			if (nl == end || (nl == end + 1 && *end == '\r')) {
				ps->stage = PARSE_DONE;
				return PARSE_OK;
			}
			break;
		default:
			return PARSE_BAD;
		}
	}
}

/*
 * Parse what is in `in`.  PARSE_OK: ps->req is complete and ps->pos is the
 * number of input bytes it used.  PARSE_MORE with ps->expect100 still set
 * and the head parsed means the caller may owe a "100 Continue".
 */
int
fake_http_parse(struct fake_parse *ps, struct fake_buf *in)
{
	char *e;

	if (ps->stage == PARSE_HEAD) {
		size_t from = ps->scan > 3 ? ps->scan - 3 : 0;

		if (in->len == 0)
			return PARSE_MORE;
		e = memmem(in->p + from, in->len - from, "\r\n\r\n", 4);
		if (e == NULL) {
			ps->scan = in->len;
			return in->len > FAKE_MAX_HEAD ? PARSE_TOOBIG : PARSE_MORE;
		}
		ps->head_len = (size_t)(e + 4 - in->p);
		if (ps->head_len > FAKE_MAX_HEAD)
			return PARSE_TOOBIG;
		if (fake_http_head(ps, in->p, ps->head_len) == -1)
			return PARSE_BAD;
		ps->pos = ps->head_len;
		/* Uploads go to a file as they arrive (fake_files.c says which). */
		if ((ps->chunked || ps->clen > 0) &&
		    (ps->spool_fd = fake_files_spool(&ps->req, &ps->req.spool)) >= 0)
			ps->spool_on = 1;
		if (ps->chunked) {
			ps->clen = -1;
			ps->stage = PARSE_CSIZE;
		} else {
			if (ps->clen > (int64_t)(ps->spool_on ? FAKE_MAX_UPLOAD : FAKE_MAX_BODY))
				return PARSE_TOOBIG;
			ps->stage = PARSE_BODY;
			/* Reserve once so a big upload is not copied on each doubling. */
			if (ps->clen > 0 && !ps->spool_on)
				fake_buf_reserve(in, (size_t)ps->clen);
		}
	}
	if (ps->stage == PARSE_BODY && ps->spool_on) {
		size_t avail = in->len - ps->head_len;
		uint64_t left = (uint64_t)ps->clen - ps->spooled;
		size_t take = avail < left ? avail : (size_t)left;

		if (fake_spool_write(ps, in->p + ps->head_len, take) == -1)
			return PARSE_BAD;
		ps->pos = ps->head_len + take;
		fake_spool_drop(ps, in);
		if (ps->spooled < (uint64_t)ps->clen)
			return PARSE_MORE;
		return fake_spool_done(ps, in);
	}
	if (ps->stage == PARSE_BODY) {
		size_t need = ps->clen > 0 ? (size_t)ps->clen : 0;

		if (in->len - ps->head_len < need)
			return PARSE_MORE;
		ps->req.body = in->p + ps->head_len;
		ps->req.bodylen = need;
		ps->req.head = in->p;
		ps->req.headlen = ps->head_len;
		ps->pos = ps->head_len + need;
		ps->stage = PARSE_DONE;
		return PARSE_OK;
	}
	if (ps->stage == PARSE_DONE)
		return PARSE_OK;
	{
		int rc = fake_http_chunks(ps, in);

		if (ps->spool_on) {
			fake_spool_drop(ps, in);
			return rc == PARSE_OK ? fake_spool_done(ps, in) : rc;
		}
		if (rc == PARSE_OK) {
			fake_buf_reserve(&ps->body, 0);
			ps->req.body = ps->body.p;
			ps->req.bodylen = ps->body.len;
			ps->req.head = in->p;
			ps->req.headlen = ps->head_len;
		}
		return rc;
	}
}

int
fake_http_head_done(const struct fake_parse *ps)
{
	return ps->stage != PARSE_HEAD;
}

/* The value of header NAME (trimmed, the first one) into OUT; its full
 * length, or -1 if the request has no such header. */
long
fake_req_header(const struct fake_req *r, const char *name, char *out, size_t outlen)
{
	const char *line, *end, *eol, *colon, *v, *ve;
	size_t nl = strlen(name), n;

	if (r->head == NULL)
		return -1;
	end = r->head + r->headlen;
	line = memchr(r->head, '\n', r->headlen);	/* skip the request line */
	for (; line != NULL && line < end; line = eol) {
		line++;
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL || (size_t)(colon - line) != nl || strncasecmp(line, name, nl) != 0)
			continue;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		n = (size_t)(ve - v);
		if (outlen > 0) {
			size_t c = n < outlen - 1 ? n : outlen - 1;

			memcpy(out, v, c);
			out[c] = '\0';
		}
		return (long)n;
	}
	return -1;
}
