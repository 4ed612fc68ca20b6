/* util: messages, memory, buffers, files, time. */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *vj_prog = "vj";
int vj_verbose = 0;

void
vj_setprog(const char *argv0)
{
	const char *s = strrchr(argv0, '/');
	vj_prog = s ? s + 1 : argv0;
}

int vj_log_format = VJ_LOG_TEXT;

void
utc_stamp(int64_t t, int with_ms, char out[32])
{
	time_t sec = (time_t)(t / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (with_ms)
		snprintf(out + n, 32 - n, ".%03dZ", (int)(t % 1000));
	else
		snprintf(out + n, 32 - n, "Z");
}

/* Write one finished message line.  As text: "PROG: msg"; on a terminal
 * it first clears the line, where a progress line (of this process or of
 * another stage on the same terminal) may stand unfinished.  As JSON: one
 * object a line; msg is already free of control characters and invalid
 * UTF-8 (text_escape), so only quotes and backslashes need escaping.  One
 * write(2), so that lines of threads and processes sharing stderr do not
 * interleave. */
static void
put_line(const char *level, const char *kind, const char *extra, const char *msg)
{
	char out[4096 * 8 + 512];
	size_t o = 0, n = strlen(msg);

	if (vj_log_format != VJ_LOG_JSON) {
		int w = snprintf(out, sizeof out, "%s%s: %s\n", isatty(2) ? "\r\033[K" : "", vj_prog, msg);
		o = w < 0 ? 0 : (size_t)w < sizeof out ? (size_t)w : sizeof out - 1;
		write_all(2, out, o);
		return;
	}
	char stamp[32], prog[256];
	utc_stamp(now_ms(), 1, stamp);
	text_escape(vj_prog, strlen(vj_prog), prog, sizeof prog);
	o = (size_t)snprintf(out, sizeof out, "{\"time\":\"%s\",\"prog\":\"", stamp);
	for (const char *s = prog; *s && o < 300; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	o += (size_t)snprintf(out + o, sizeof out - o, "\",\"level\":\"%s\"", level);
	if (kind)
		o += (size_t)snprintf(out + o, sizeof out - o, ",\"kind\":\"%s\"", kind);
	o += (size_t)snprintf(out + o, sizeof out - o, ",\"msg\":\"");
	for (size_t i = 0; i < n && o < sizeof out - 256; i++) {
		if (msg[i] == '"' || msg[i] == '\\')
			out[o++] = '\\';
		out[o++] = msg[i];
	}
	out[o++] = '"';
	if (extra && *extra && strlen(extra) < 1024)
		o += (size_t)snprintf(out + o, sizeof out - o, ",%s", extra);
	out[o++] = '}';
	out[o++] = '\n';
	write_all(2, out, o);
}

/* A message is one line on a terminal: whatever came from outside (an id, a
 * URL, a provider's error text) may hold ESC sequences, newlines or C1
 * controls, so every control character is shown escaped, and a secret this
 * process holds is never shown at all. */
static void
vmsg_as(const char *level, const char *kind, const char *extra, const char *fmt, va_list ap,
    int witherr)
{
	int e = errno;
	char line[4096], clean[4096 * 4 + 1];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	if (witherr && n > 0 && line[n - 1] == ':')
		snprintf(line + n, sizeof line - n, " %s", strerror(e));
	secret_scrub(line);
	text_escape(line, strlen(line), clean, sizeof clean);
	put_line(level, kind, extra, clean);
	errno = e;
}

static void
vmsg(const char *level, const char *fmt, va_list ap, int witherr)
{
	vmsg_as(level, NULL, NULL, fmt, ap, witherr);
}

void
vj_event(const char *kind, const char *extra, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg_as("info", kind, extra, fmt, ap, 0);
	va_end(ap);
}

size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t k;
	unsigned c = p[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4;
	else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f) ||
	    (c == 0xed && p[1] > 0x9f))
		return 0;   /* overlong, beyond U+10FFFF, or a surrogate */
	return k;
}

size_t
text_escape(const char *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;
	if (!outlen)
		return 0;
	for (size_t i = 0; i < n;) {
		char tmp[8];
		const char *add = tmp;
		size_t k = utf8_len(p + i, n - i), alen;
		if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f) {
			tmp[0] = (char)p[i];
			alen = 1;
		} else if (k == 1) {
			switch (p[i]) {
			case '\n': add = "\\n"; break;
			case '\r': add = "\\r"; break;
			case '\t': add = "\\t"; break;
			default: snprintf(tmp, sizeof tmp, "\\x%02x", p[i]); break;
			}
			alen = strlen(add);
		} else if (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
			/* U+0080..U+009F: C1 controls, CSI among them */
			snprintf(tmp, sizeof tmp, "\\u%04x", p[i + 1]);
			alen = strlen(tmp);
		} else if (k == 0) {
			snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
			alen = 4;
			k = 1;
		} else {
			add = in + i;
			alen = k;
		}
		if (o + alen >= outlen)
			break;
		memcpy(out + o, add, alen);
		o += alen;
		i += k ? k : 1;
	}
	out[o] = 0;
	return o;
}

void
vj_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("error", fmt, ap, 0);
	va_end(ap);
}

void
vj_info(const char *fmt, ...)
{
	va_list ap;
	if (vj_verbose < 0)
		return;
	va_start(ap, fmt);
	vmsg("info", fmt, ap, 0);
	va_end(ap);
}

void
vj_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning", fmt, ap, 1);
	va_end(ap);
}

void
vj_debug(const char *fmt, ...)
{
	va_list ap;
	if (vj_verbose < 1)
		return;
	va_start(ap, fmt);
	vmsg("debug", fmt, ap, 0);
	va_end(ap);
}

void
vj_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("error", fmt, ap, 1);
	va_end(ap);
	exit(status);
}

int
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		vj_die(VJ_EFATAL, "out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		vj_die(VJ_EFATAL, "out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		vj_die(VJ_EFATAL, "out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		vj_die(VJ_EFATAL, "out of memory");
	va_end(ap);
	return s;
}

void
buf_grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	/* format straight into the free space; only a miss formats twice */
	buf_grow(b, 128);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if ((size_t)n >= b->cap - b->len) {
		buf_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
price_now_ms(void)
{
	static int64_t base = -1, mono0;
	if (base < 0) {
		const char *s = getenv("VJ_NOW_MS");
		long v;
		base = 0;
		if (s && *s && parse_long(s, 0, 253402300799999L, &v) == 0) {
			base = v;
			mono0 = mono_ms();
		}
	}
	return base ? base + (mono_ms() - mono0) : now_ms();
}

int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *
read_fd(int fd, size_t *len, size_t max)
{
	struct buf b = {0};
	for (;;) {
		buf_grow(&b, 65536);
		ssize_t r = read(fd, b.p + b.len, b.cap - b.len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			buf_free(&b);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		if (max && b.len > max) {
			buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
	}
	buf_grow(&b, 0);
	b.p[b.len] = 0;
	*len = b.len;
	return b.p;
}

char *
read_file(const char *path, size_t *len, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *p = read_fd(fd, len, max);
	int e = errno;
	close(fd);
	errno = e;
	return p;
}

int
write_file_atomic(const char *path, const void *p, size_t n)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *dcopy = xstrdup(path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r = -1, e = 0;
	if (fd < 0)
		goto out;
	if (write_all(fd, p, n) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		goto out;
	}
	r = fsync_dir(dirname(dcopy));
out:
	e = errno;
	free(tmp);
	free(dcopy);
	errno = e;
	return r;
}

int64_t
parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': v *= 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (*end == 'i' && end[-1] != *s)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	return (int64_t)v;
}

int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	/* NaN compares false with everything, so it is refused by name */
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static char *secrets[8];
static int nsecrets;

void
secret_register(const char *value)
{
	if (value && *value && nsecrets < 8)
		secrets[nsecrets++] = xstrdup(value);
	/* a process that holds a key writes no core dump (and cannot be
	 * attached to by other processes of the same user) */
	if (value && *value)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void
secret_scrub(char *s)
{
	static const char mask[] = "[redacted]";
	for (int i = 0; i < nsecrets; i++) {
		size_t sl = strlen(secrets[i]);
		char *p;
		/* the mask is never longer than a key worth hiding: shrink in place */
		while (sl >= sizeof mask - 1 && (p = strstr(s, secrets[i]))) {
			memcpy(p, mask, sizeof mask - 1);
			memmove(p + sizeof mask - 1, p + sl, strlen(p + sl) + 1);
		}
		while (sl < sizeof mask - 1 && (p = strstr(s, secrets[i])))
			memset(p, '*', sl);
	}
}

int
secret_in(const char *text, size_t len)
{
	for (int i = 0; i < nsecrets; i++)
		if (memmem(text, len, secrets[i], strlen(secrets[i])))
			return 1;
	return 0;
}

uint32_t
grow_cap(uint32_t cap, uint32_t i, uint32_t first)
{
	uint32_t c = cap ? cap : first;
	while (c <= i)
		c *= 2;
	return c;
}

void *
grow_slots(void *p, uint32_t *cap, uint32_t i, size_t elem, uint32_t first, int fill)
{
	if (i < *cap)
		return p;
	uint32_t c = grow_cap(*cap, i, first);
	p = xrealloc(p, (size_t)c * elem);
	memset((char *)p + (size_t)*cap * elem, fill, (size_t)(c - *cap) * elem);
	*cap = c;
	return p;
}

void
vj_stop_signals(void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void
utc_iso(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
