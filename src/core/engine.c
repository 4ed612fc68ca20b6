/* engine: the request loop shared by every network stage: libcurl multi
 * transfers, retries with backoff, per-request and per-job timeouts, the
 * three kinds of failure.  When to start a request is the limiter's call
 * (core/limiter.c); request bodies are core/body.c. */
#include "core/engine.h"
#include "base/util.h"
#include "core/limiter.h"
#include "core/netsafe.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

const char *const eng_class_name[] = { "ok", "retryable", "rate", "permanent", "fatal" };

#define DEFAULT_MAX_BYTES (64u << 20)

void
eng_seterr(struct eng_err *e, enum eng_class cls, const char *fmt, ...)
{
	va_list ap;
	e->cls = cls;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

struct engine {
	struct eng_config c;
	const struct provider *p;
	void *pctx;
	struct eng_hooks h;
	CURLM *multi;
	struct eng_task *ready, *ready_tail;   /* FIFO of tasks to start */
	struct eng_task *waiting;              /* backing off */
	struct eng_task *flying;               /* in flight */
	int nready, nwaiting, inflight;
	int input_state;                       /* 0 more now, 1 wait fd, 2 eof */
	int stopping, hard, fatal;
	char fatal_msg[512];
	int64_t stop_deadline;
	struct limiter lim;
	uint64_t n_sent, n_ok, n_failed, n_retried, n_rate;
	unsigned seed;
	/* --per-host: tasks built but not sent while their host is at the cap,
	 * and how many requests each host has in flight */
	struct eng_task *parked, *parked_tail;
	int nparked, host_freed, parked_note;
	struct host_load { uint64_t host; int n; } *hosts;
	int nhosts, hosts_cap;
};

struct engine *
eng_new(const struct eng_config *c, const struct provider *p, void *pctx, const struct eng_hooks *h)
{
	static int inited;
	struct engine *e = xcalloc(1, sizeof *e);
	if (!inited) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		inited = 1;
	}
	e->c = *c;
	if (e->c.concurrency < 1)
		e->c.concurrency = 1;
	if (e->c.backoff_base <= 0)
		e->c.backoff_base = 1;
	if (e->c.backoff_max <= 0)
		e->c.backoff_max = 60;
	e->p = p;
	e->pctx = pctx;
	e->h = *h;
	e->multi = curl_multi_init();
	curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)e->c.concurrency);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)e->c.concurrency);
	curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	/* the engine keeps to --per-host itself (below), so that a request
	 * waiting for its host waits outside curl, where CURLOPT_TIMEOUT does
	 * not run; curl's own cap is only the backstop */
	if (e->c.per_host > 0)
		curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)e->c.per_host);
	limiter_init(&e->lim, e->c.rpm, e->c.tpm, e->c.concurrency);
	e->seed = (unsigned)getpid() ^ (unsigned)mono_ms();
	return e;
}

void
eng_free(struct engine *e)
{
	if (!e)
		return;
	curl_multi_cleanup(e->multi);
	free(e->hosts);
	free(e);
}

int
eng_fatal(const struct engine *e)
{
	return e->fatal;
}

const char *
eng_fatal_msg(const struct engine *e)
{
	return e->fatal_msg;
}

void
eng_counts(const struct engine *e, struct eng_counts *c)
{
	c->sent = e->n_sent;
	c->ok = e->n_ok;
	c->failed = e->n_failed;
	c->retried = e->n_retried;
	c->rate_limited = e->n_rate;
	c->in_flight = (uint64_t)e->inflight;
	c->queued = (uint64_t)(e->nready + e->nwaiting + e->nparked);
	c->rate_now = e->lim.rate;
}

static void
push_ready(struct engine *e, struct eng_task *t)
{
	t->next = NULL;
	if (e->ready_tail)
		e->ready_tail->next = t;
	else
		e->ready = t;
	e->ready_tail = t;
	e->nready++;
}

void
eng_submit(struct engine *e, struct eng_task *t)
{
	/* the job's clock starts at its first request, not while it queues
	 * behind a slow rate limit */
	t->deadline = INT64_MAX;
	t->started = 0;
	push_ready(e, t);
}

void
eng_submit_at(struct engine *e, struct eng_task *t, int64_t wall_ms)
{
	int64_t wait = wall_ms - now_ms();
	if (wait <= 0) {
		eng_submit(e, t);
		return;
	}
	/* a retry a crash interrupted: it waits its turn like any backoff */
	t->deadline = INT64_MAX;
	t->started = 0;
	t->not_before = mono_ms() + wait;
	t->next = e->waiting;
	e->waiting = t;
	e->nwaiting++;
}

void
eng_stop(struct engine *e, int hard)
{
	if (!e->stopping) {
		e->stopping = 1;
		e->stop_deadline = mono_ms() + (int64_t)(e->c.grace * 1000);
	}
	if (hard)
		e->hard = 1;
}

double
eng_parse_delay(const char *s)
{
	double total = 0, v;
	char *end;
	int any = 0;
	if (!s)
		return -1;
	while (*s == ' ')
		s++;
	while (*s) {
		/* a decimal number: strtod would take "inf", "nan" and hex too */
		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return -1;
		errno = 0;
		v = strtod(s, &end);
		if (end == s || errno || !isfinite(v) || v < 0)
			return -1;
		for (const char *q = s; q < end; q++)
			if (!strchr("0123456789.eE+-", *q))
				return -1;
		s = end;
		any = 1;
		if (*s == 'm' && s[1] == 's') { total += v / 1000; s += 2; }
		else if (*s == 'h') { total += v * 3600; s++; }
		else if (*s == 'm') { total += v * 60; s++; }
		else if (*s == 's') { total += v; s++; }
		else if (*s == 0 || *s == ' ') { total += v; }
		else return -1;
		while (*s == ' ')
			s++;
	}
	/* "1e30", "9999h": out of range is no delay, not a wait for ever */
	if (!any || !isfinite(total) || total > ENG_MAX_DELAY)
		return -1;
	return total;
}

static double
jitter(struct engine *e)
{
	return (double)rand_r(&e->seed) / RAND_MAX;
}

static size_t
read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
	size_t r = body_read(ud, dst, size * nmemb);
	return r == (size_t)-1 ? CURL_READFUNC_ABORT : r;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct eng_task *t = ud;
	size_t n = size * nmemb;
	size_t cap = t->http.max_bytes ? t->http.max_bytes : DEFAULT_MAX_BYTES;
	if (t->http.sink) {
		long st = 0;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &st);
		if (st >= 200 && st <= 299)
			return t->http.sink(t->http.sink_ud, p, n) < 0 ? 0 : n;
	}
	if (t->resp->len + n > cap)
		return 0;     /* CURLE_WRITE_ERROR: over the cap */
	/* one allocation, not a dozen copies; a length the server claims is
	 * believed only up to 8 MiB before the bytes come */
	curl_off_t cl;
	if (!t->resp->cap && curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) ==
	    CURLE_OK && cl > 0 && (uint64_t)cl <= cap)
		buf_grow(t->resp, (size_t)cl < (8u << 20) ? (size_t)cl : (8u << 20));
	buf_add(t->resp, p, n);
	return n;
}

static void
hdr_copy(char *dst, size_t n, const char *v, size_t len)
{
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	while (len && *v == ' ') {
		v++;
		len--;
	}
	if (len >= n)
		len = n - 1;
	memcpy(dst, v, len);
	dst[len] = 0;
}

static size_t
header_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct eng_task *t = ud;
	size_t n = size * nmemb;
	const char *c = memchr(p, ':', n);
	if (!c)
		return n;
	size_t kl = (size_t)(c - p);
	const char *v = c + 1;
	size_t vl = n - kl - 1;
	if (kl == 11 && !strncasecmp(p, "retry-after", 11))
		hdr_copy(t->hdr_retry, sizeof t->hdr_retry, v, vl);
	else if (kl == 14 && !strncasecmp(p, "retry-after-ms", 14))
		hdr_copy(t->hdr_retry_ms, sizeof t->hdr_retry_ms, v, vl);
	else if (kl == 12 && !strncasecmp(p, "content-type", 12))
		hdr_copy(t->hdr_ctype, sizeof t->hdr_ctype, v, vl);
	else if (kl == 14 && !strncasecmp(p, "x-should-retry", 14))
		t->hdr_should = (vl >= 5 && memmem(v, vl, "true", 4)) ? 1 : 0;
	else if (kl == 26 && !strncasecmp(p, "x-ratelimit-limit-requests", 26))
		hdr_copy(t->hdr_rl[0], sizeof t->hdr_rl[0], v, vl);
	else if (kl == 30 && !strncasecmp(p, "x-ratelimit-remaining-requests", 30))
		hdr_copy(t->hdr_rl[1], sizeof t->hdr_rl[1], v, vl);
	else if (kl == 26 && !strncasecmp(p, "x-ratelimit-reset-requests", 26))
		hdr_copy(t->hdr_rl[2], sizeof t->hdr_rl[2], v, vl);
	else if (kl == 24 && !strncasecmp(p, "x-ratelimit-limit-tokens", 24))
		hdr_copy(t->hdr_rl[3], sizeof t->hdr_rl[3], v, vl);
	else if (kl == 28 && !strncasecmp(p, "x-ratelimit-remaining-tokens", 28))
		hdr_copy(t->hdr_rl[4], sizeof t->hdr_rl[4], v, vl);
	else if (kl == 24 && !strncasecmp(p, "x-ratelimit-reset-tokens", 24))
		hdr_copy(t->hdr_rl[5], sizeof t->hdr_rl[5], v, vl);
	else if (t->http.want_header && kl == strlen(t->http.want_header) &&
	    !strncasecmp(p, t->http.want_header, kl) && vl < 8192) {
		free(t->hdr_want);
		t->hdr_want = xmalloc(vl + 1);
		hdr_copy(t->hdr_want, vl + 1, v, vl);
	}
	return n;
}

/* --deny-private: every connection, redirects included, is to an address
 * looked at here, after the name was resolved and before anything is sent.
 * Refusing one address lets curl try the next; the task keeps what was
 * refused for the message. */
static curl_socket_t
open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct eng_task *t = ud;
	const char *why = netsafe_private(&a->addr, a->addrlen);

	if (purpose == CURLSOCKTYPE_IPCXN && why) {
		char text[64];
		netsafe_addr_text(&a->addr, text, sizeof text);
		snprintf(t->refused, sizeof t->refused, "%s (%s)", text, why);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void
http_clear(struct eng_http *h)
{
	free(h->url);
	curl_slist_free_all(h->headers);
	body_free(h->body);
	memset(h, 0, sizeof *h);
}

static void host_add(struct engine *e, uint64_t host, int d);

static void
task_cleanup(struct engine *e, struct eng_task *t)
{
	if (t->easy) {
		if (e->c.per_host > 0)
			host_add(e, t->host, -1);
		curl_multi_remove_handle(e->multi, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	if (t->resp) {
		buf_free(t->resp);
		free(t->resp);
		t->resp = NULL;
	}
	free(t->hdr_want);
	t->hdr_want = NULL;
	http_clear(&t->http);
}

static int64_t
wall_at(int64_t mono_when)
{
	return now_ms() + (mono_when - mono_ms());
}

/* Decide what a failed attempt means and tell the stage. */
static void unlink_flying(struct engine *e, struct eng_task *t);

static void
failed(struct engine *e, struct eng_task *t, struct eng_err *err, json_t *usage)
{
	int64_t now = mono_ms();
	int final = 0;
	int64_t retry_at = 0;

	/* what is journaled and printed holds no key and no password, whoever
	 * wrote the message (a provider, curl, a server's words) */
	secret_scrub(err->msg);
	netsafe_strip_userinfo(err->msg);
	e->n_failed++;
	if (err->cls == EC_FATAL) {
		if (!e->fatal) {
			e->fatal = 1;
			snprintf(e->fatal_msg, sizeof e->fatal_msg, "%s", err->msg);
		}
		eng_stop(e, 0);
		final = 0;   /* the job is not to blame: it stays pending */
	} else if (err->cls == EC_PERM) {
		t->attempts++;    /* an attempt all the same: the journal counts it */
		final = 1;
	} else {
		if (err->cls == EC_RATE) {
			e->n_rate++;
			if (!err->shed)
				limiter_cut(&e->lim, mono_ms(), t->sent, err->retry_after, e->n_ok);
		} else
			t->attempts++;
		double delay;
		if (err->retry_after >= 0)
			delay = err->retry_after + jitter(e) * 0.25;
		else {
			/* exponential with full jitter, at least half the step */
			double step = e->c.backoff_base * pow(2, t->attempts > 0 ? t->attempts - 1 : 0);
			if (step > e->c.backoff_max)
				step = e->c.backoff_max;
			delay = step * (0.5 + 0.5 * jitter(e));
		}
		/* no later than just past the job's deadline: a wait that long
		 * ends the job here, and the sum cannot overflow */
		double wait_ms = delay * 1000, left = (double)(t->deadline - now) + 1;
		if (!(wait_ms >= 0))
			wait_ms = 0;
		if (wait_ms > left)
			wait_ms = left;
		if (wait_ms > ENG_MAX_DELAY * 1000)
			wait_ms = ENG_MAX_DELAY * 1000;
		t->not_before = now + (int64_t)wait_ms;
		retry_at = wall_at(t->not_before);
		if (err->cls != EC_RATE && t->attempts > e->c.retries) {
			final = 1;
			size_t l = strlen(err->msg);
			snprintf(err->msg + l, sizeof err->msg - l, " (attempt %d/%d, giving up)",
			    t->attempts, e->c.retries + 1);
		} else if (t->not_before > t->deadline) {
			final = 1;
			size_t l = strlen(err->msg);
			snprintf(err->msg + l, sizeof err->msg - l, " (job timeout of %.0fs reached)",
			    e->c.job_timeout);
		} else if (e->stopping) {
			final = 0;   /* left retryable for the next run */
		}
	}
	if (final || err->cls == EC_FATAL)
		retry_at = 0;
	e->h.fail(e->h.ctx, t, err, usage, final, retry_at);
	if (final || err->cls == EC_FATAL)
		return;     /* the stage is done with t (and may have freed it) */
	if (e->stopping) {
		if (e->h.drop)
			e->h.drop(e->h.ctx, t);   /* retryable: left for the next run */
		return;
	}
	e->n_retried++;
	t->next = e->waiting;
	e->waiting = t;
	e->nwaiting++;
}

/* ---- --per-host: requests in flight to one host ---- */

/* The host and port of a URL, lower case, hashed (FNV-1a); the scheme's
 * own port counts as none.  A redirect is counted against the host first
 * asked. */
static uint64_t
host_key(const char *url)
{
	const char *p = strstr(url, "://"), *q;
	int https = !strncasecmp(url, "https:", 6);
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	for (q = p; q < p + n; q++)
		if (*q == '@')      /* userinfo: not part of the host */
			n -= (size_t)(q + 1 - p), p = q + 1, q = p - 1;
	if (n > 3 && !https && !strncmp(p + n - 3, ":80", 3))
		n -= 3;
	else if (n > 4 && https && !strncmp(p + n - 4, ":443", 4))
		n -= 4;
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i])) * 1099511628211ull;
	return h;
}

/* The hosts with requests in flight: as many as -j at most, so a list. */
static struct host_load *
host_slot(struct engine *e, uint64_t host, int make)
{
	for (int i = 0; i < e->nhosts; i++)
		if (e->hosts[i].host == host)
			return &e->hosts[i];
	if (!make)
		return NULL;
	if (e->nhosts == e->hosts_cap) {
		e->hosts_cap = e->hosts_cap ? e->hosts_cap * 2 : 16;
		e->hosts = xrealloc(e->hosts, (size_t)e->hosts_cap * sizeof *e->hosts);
	}
	e->hosts[e->nhosts] = (struct host_load){ host, 0 };
	return &e->hosts[e->nhosts++];
}

static int
host_busy(struct engine *e, uint64_t host)
{
	struct host_load *l = host_slot(e, host, 0);
	return l && l->n >= e->c.per_host;
}

static void
host_add(struct engine *e, uint64_t host, int d)
{
	struct host_load *l = host_slot(e, host, 1);
	l->n += d;
	if (d < 0)
		e->host_freed = 1;   /* a parked task may go now */
	if (l->n <= 0)
		*l = e->hosts[--e->nhosts];
}

static void
park(struct engine *e, struct eng_task *t)
{
	if (!e->parked_note++)
		vj_info("at most %d requests at once to one host (--per-host): the others wait "
		    "their turn, their job timeout not running", e->c.per_host);
	t->next = NULL;
	if (e->parked_tail)
		e->parked_tail->next = t;
	else
		e->parked = t;
	e->parked_tail = t;
	e->nparked++;
}

/* The job's clock starts at its first request (not while it queued); a
 * job past its deadline fails here.  0 when t was failed (and may be gone). */
static int
clock_ok(struct engine *e, struct eng_task *t, int64_t now)
{
	if (!t->started) {
		t->started = now;
		if (e->c.job_timeout > 0)
			t->deadline = now + (int64_t)(e->c.job_timeout * 1000);
	}
	if (now <= t->deadline)
		return 1;
	struct eng_err err = { .cls = EC_PERM, .retry_after = -1 };
	eng_seterr(&err, EC_PERM, "job timeout of %.0fs reached", e->c.job_timeout);
	e->n_failed++;
	http_clear(&t->http);
	e->h.fail(e->h.ctx, t, &err, NULL, 1, 0);
	return 0;
}

static int send_task(struct engine *e, struct eng_task *t);

/* Send the parked tasks whose host has room now, oldest first. */
static void
unpark(struct engine *e, int64_t now)
{
	struct eng_task **pp = &e->parked, *prev = NULL;
	if (!e->host_freed)
		return;
	e->host_freed = 0;
	while (*pp && !e->stopping) {
		if (e->inflight >= e->c.concurrency || now < limiter_ready_at(&e->lim)) {
			e->host_freed = 1;   /* look again when that has passed */
			return;
		}
		struct eng_task *t = *pp;
		if (host_busy(e, t->host)) {
			prev = t;
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		if (e->parked_tail == t)
			e->parked_tail = prev;
		e->nparked--;
		if (clock_ok(e, t, now)) {
			send_task(e, t);
			limiter_started(&e->lim, now, t->sent, t->tokens);
		}
	}
}

/* Build and send one attempt.  1 when a request went out; 2 when it waits
 * for its host (--per-host); 0 when the work was done locally or failed
 * before sending (t may be gone then). */
static int
start(struct engine *e, struct eng_task *t)
{
	struct eng_err err = { .retry_after = -1 };
	json_t *result = NULL;
	int r = e->p->build(e->pctx, t, &t->http, &result, &err);
	if (r == 1) {
		http_clear(&t->http);
		e->n_ok++;
		e->h.done(e->h.ctx, t, result, NULL, (long)(mono_ms() - t->started));
		json_decref(result);
		return 0;
	}
	if (r < 0) {
		http_clear(&t->http);
		failed(e, t, &err, NULL);
		return 0;
	}
	if (e->c.per_host > 0) {
		t->host = host_key(t->http.url);
		if (host_busy(e, t->host)) {
			park(e, t);
			return 2;
		}
	}
	return send_task(e, t);
}

/* Send an attempt built by start. */
static int
send_task(struct engine *e, struct eng_task *t)
{
	CURL *c = curl_easy_init();
	t->easy = c;
	t->resp = xcalloc(1, sizeof *t->resp);
	t->hdr_retry[0] = t->hdr_retry_ms[0] = t->hdr_ctype[0] = 0;
	t->hdr_should = -1;
	for (int i = 0; i < 6; i++)
		t->hdr_rl[i][0] = 0;
	t->curl_err[0] = 0;
	t->refused[0] = 0;
	char hdr[200];
	snprintf(hdr, sizeof hdr, "X-VJ-Job: %s", t->id);
	t->http.headers = curl_slist_append(t->http.headers, hdr);
	t->http.headers = curl_slist_append(t->http.headers, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, t->http.url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->http.headers);
	curl_easy_setopt(c, CURLOPT_PRIVATE, t);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->curl_err);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vj/" VJ_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	/* Waiting to multiplex only makes sense where HTTP/2 may come (TLS):
	 * on plain HTTP/1.1 it queues every new transfer behind the first
	 * answer on the one connection, so a slow answer stalls -j N. */
	if (!strncasecmp(t->http.url, "https://", 8))
		curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (t->http.deny_private) {
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, t);
	}
	if (t->http.max_redirects > 0) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, t->http.max_redirects);
	}
	int64_t left = t->deadline - mono_ms();
	int64_t tmo = (int64_t)(e->c.timeout * 1000);
	if (left < tmo)
		tmo = left > 1 ? left : 1;
	t->tmo_ms = (long)tmo;
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)tmo);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(tmo < 30000 ? tmo : 30000));
	if (t->http.low_speed_time > 0) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)t->http.low_speed_time);
	}
	if (t->http.body) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, t->http.body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size(t->http.body));
	}
	t->sent = mono_ms();
	t->tries++;
	e->n_sent++;
	e->inflight++;
	if (e->c.per_host > 0)
		host_add(e, t->host, 1);
	t->next = e->flying;
	e->flying = t;
	curl_multi_add_handle(e->multi, c);
	if (e->c.verbose > 1)
		vj_debug("job %s: %s attempt %d", t->id, e->p->name, t->tries);
	return 1;
}

/* A count in a rate-limit header: digits only, at most `most` (10
 * million requests, 1e12 tokens; a server's word, so checked: "1e9", "-1",
 * "12abc" are no count). */
static double
rate_count(const char *s, double most)
{
	double v = 0;
	if (!*s || strlen(s) > 13)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= most ? v : -1;
}

/* x-ratelimit-*-requests and -tokens (OpenAI's): the limit, what is left,
 * when the window is full again ("1s", "6m0s", "120ms").  All three of a
 * kind or none of it. */
static void
rate_headers(struct engine *e, struct eng_task *t)
{
	if (e->c.ignore_rate_headers)
		return;
	for (int k = 0; k < 2; k++) {
		char (*h)[32] = t->hdr_rl + 3 * k;
		if (!h[0][0] || !h[1][0] || !h[2][0])
			continue;
		double most = k ? 1e12 : 1e7;
		double limit = rate_count(h[0], most), left = rate_count(h[1], most);
		double reset = eng_parse_delay(h[2]);
		if (limit < 1 || left < 0 || left > limit || reset < 0)
			continue;
		if (k)
			limiter_tok_headers(&e->lim, mono_ms(), t->sent, limit, left, (int64_t)(reset * 1000));
		else
			limiter_headers(&e->lim, mono_ms(), t->sent, limit, left, (int64_t)(reset * 1000));
	}
}

static void
finish(struct engine *e, struct eng_task *t, CURLcode cc)
{
	struct eng_err err = { .retry_after = -1 };
	json_t *result = NULL, *usage = NULL;
	long status = 0;
	long ms = (long)(mono_ms() - t->sent);

	e->inflight--;
	unlink_flying(e, t);
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK) {
		const char *why = t->curl_err[0] ? t->curl_err : curl_easy_strerror(cc);
		const char *damage = t->http.body ? body_damage(t->http.body) : NULL;
		if (damage)
			cc = CURLE_ABORTED_BY_CALLBACK;
		if (t->refused[0]) {
			/* the user's rule, not the network's mood: asking again
			 * gets the same answer */
			eng_seterr(&err, EC_PERM, "refused to connect to %s: a private address "
			    "(--deny-private)", t->refused);
			cc = CURLE_OK;
		}
		switch (cc) {
		case CURLE_OK:
			break;
		case CURLE_ABORTED_BY_CALLBACK:
			/* a stored image whose bytes are not its hash: the store is
			 * damaged, and every job may be sending the wrong image */
			if (damage) {
				eng_seterr(&err, EC_FATAL, "%s", damage);
				break;
			}
			eng_seterr(&err, EC_RETRY, "%s: connection failed: %s", e->p->name, why);
			break;
		case CURLE_OPERATION_TIMEDOUT:
			/* the limit it was given, not the time it took to notice */
			eng_seterr(&err, EC_RETRY, "%s: no answer within %gs (timeout)", e->p->name,
			    (double)t->tmo_ms / 1000);
			break;
		case CURLE_TOO_MANY_REDIRECTS:
			eng_seterr(&err, EC_PERM, "too many redirects (more than %ld)", t->http.max_redirects);
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
			eng_seterr(&err, EC_PERM, "refused: a redirect or URL to a scheme other than http(s) (%s)", why);
			break;
		case CURLE_WRITE_ERROR:
			eng_seterr(&err, EC_PERM, "answer larger than the cap of %zu bytes",
			    t->http.max_bytes ? t->http.max_bytes : DEFAULT_MAX_BYTES);
			break;
		case CURLE_URL_MALFORMAT:
			eng_seterr(&err, EC_PERM, "malformed URL");
			break;
		default:
			eng_seterr(&err, EC_RETRY, "%s: connection failed: %s", e->p->name, why);
			break;
		}
		err.status = 0;
		/* the hooks may free t: clean up first */
		task_cleanup(e, t);
		failed(e, t, &err, NULL);
		return;
	}
	struct eng_resp r = {
		.status = status,
		.body = t->resp->p ? t->resp->p : "",
		.len = t->resp->len,
		.content_type = t->hdr_ctype[0] ? t->hdr_ctype : NULL,
		.retry_after = -1,
		.should_retry = t->hdr_should,
		.ms = ms,
		.header = t->hdr_want,
	};
	char *loc = NULL;
	if (status >= 300 && status < 400 &&
	    curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK)
		r.location = loc;
	if (t->hdr_retry_ms[0]) {
		char ms[sizeof t->hdr_retry_ms + 2];
		snprintf(ms, sizeof ms, "%sms", t->hdr_retry_ms);
		r.retry_after = eng_parse_delay(ms);
	}
	/* an unusable retry-after-ms leaves Retry-After to say */
	if (r.retry_after < 0 && t->hdr_retry[0])
		r.retry_after = eng_parse_delay(t->hdr_retry);
	err.retry_after = r.retry_after;
	err.status = status;
	rate_headers(e, t);
	int ok = e->p->parse(e->pctx, t, &r, &result, &usage, &err) == 0;
	limiter_answer(&e->lim, ms, !ok && err.cls == EC_RATE && !err.shed);
	/* the hooks may free t: the transfer is cleaned up first */
	task_cleanup(e, t);
	if (ok) {
		e->n_ok++;
		limiter_ok(&e->lim, mono_ms());
		e->h.done(e->h.ctx, t, result, usage, (long)(mono_ms() - t->started));
	} else {
		failed(e, t, &err, usage);
	}
	json_decref(result);
	json_decref(usage);
}

/* Move waiting tasks whose backoff has passed to the ready queue. */
static int64_t
wake(struct engine *e, int64_t now)
{
	int64_t next = INT64_MAX;
	struct eng_task **pp = &e->waiting;
	while (*pp) {
		struct eng_task *t = *pp;
		if (t->not_before <= now) {
			*pp = t->next;
			e->nwaiting--;
			push_ready(e, t);
		} else {
			if (t->not_before < next)
				next = t->not_before;
			pp = &t->next;
		}
	}
	return next;
}

/* The feed's high-water mark: tasks queued, waiting and in flight. */
static int
feed_want(const struct engine *e)
{
	return e->c.concurrency * 2 + 16;
}

static void
feed(struct engine *e, int readable)
{
	int want = feed_want(e);
	if (e->stopping || e->input_state == 2)
		return;
	if (e->input_state == 1 && !readable)
		return;
	int have = e->nready + e->nwaiting + e->inflight + e->nparked;
	if (have >= want)
		return;
	e->input_state = e->h.feed(e->h.ctx, want - have);
}

static void
unlink_flying(struct engine *e, struct eng_task *t)
{
	for (struct eng_task **pp = &e->flying; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			t->next = NULL;
			return;
		}
}

/* Hand every unfinished task back to the stage.  What was in flight is
 * dropped unjournaled: it stays pending for the next run. */
static void
drop_all(struct engine *e)
{
	struct eng_task *t;
	while ((t = e->flying)) {
		e->flying = t->next;
		e->inflight--;
		task_cleanup(e, t);
		if (e->h.drop)
			e->h.drop(e->h.ctx, t);
	}
	while ((t = e->ready)) {
		e->ready = t->next;
		if (e->h.drop)
			e->h.drop(e->h.ctx, t);
	}
	while ((t = e->parked)) {
		e->parked = t->next;
		task_cleanup(e, t);
		if (e->h.drop)
			e->h.drop(e->h.ctx, t);
	}
	e->parked_tail = NULL;
	e->nparked = 0;
	e->ready_tail = NULL;
	e->nready = 0;
	while ((t = e->waiting)) {
		e->waiting = t->next;
		if (e->h.drop)
			e->h.drop(e->h.ctx, t);
	}
	e->nwaiting = 0;
}

int
eng_run(struct engine *e)
{
	int running = 0;
	e->input_state = 0;
	for (;;) {
		int64_t now = mono_ms();
		int64_t next_wake = wake(e, now);

		feed(e, 0);
		/* start what the limits allow; local work finishes at once, so
		 * a turn is bounded (256 tasks, 100 ms) to let the stage commit,
		 * print, report progress and see a signal */
		int turn = 0;
		int64_t turn_end = now + 100;
		unpark(e, now);
		while (!e->stopping && e->ready && e->inflight < e->c.concurrency && turn++ < 256 &&
		    (turn == 1 || now < turn_end)) {
			if (now < limiter_ready_at(&e->lim))
				break;
			struct eng_task *t = e->ready;
			e->ready = t->next;
			if (!e->ready)
				e->ready_tail = NULL;
			e->nready--;
			int fresh = !t->started;
			if (!clock_ok(e, t, now))
				continue;
			/* the gap is taken after building: only then is the token
			 * estimate known, and local work takes no slot at all */
			int sr = start(e, t);
			if (sr == 1)
				limiter_started(&e->lim, now, t->sent, t->tokens);
			else if (sr == 2 && fresh)
				t->started = 0, t->deadline = INT64_MAX;   /* parked: not yet */
			feed(e, 0);
			now = mono_ms();
		}
		/* done? */
		int idle = e->inflight == 0;
		if (e->stopping && (idle || e->hard || now >= e->stop_deadline)) {
			break;
		}
		if (!e->stopping && idle && !e->ready && !e->waiting && !e->parked && e->input_state == 2)
			break;

		/* wait for sockets, input, the limiter or a backoff */
		int64_t wait = 1000;
		if ((e->ready || (e->parked && e->host_freed)) && e->inflight < e->c.concurrency &&
		    !e->stopping)
			wait = limiter_ready_at(&e->lim) - now;
		if (next_wake != INT64_MAX && next_wake - now < wait)
			wait = next_wake - now;
		if (e->stopping && e->stop_deadline - now < wait)
			wait = e->stop_deadline - now;   /* the grace ends on time */
		/* more input may come now: look at once, unless the queue is at
		 * its high-water mark (then only a finished transfer makes room,
		 * and spinning on a zero timeout burns a core) */
		if (e->input_state == 0 && !e->stopping &&
		    e->nready + e->nwaiting + e->inflight + e->nparked < feed_want(e))
			wait = 0;
		if (e->h.poll_ms > 0 && e->input_state == 1 && e->h.input_fd < 0 && wait > e->h.poll_ms)
			wait = e->h.poll_ms;
		if (wait < 0)
			wait = 0;
		/* the stage group-commits; it may ask to be called again soon */
		if (e->h.tick) {
			int most = e->h.tick(e->h.ctx, 0);
			if (most < 0) {
				e->fatal = 1;
				eng_stop(e, 1);
				continue;
			}
			if (wait > most)
				wait = most;
		}
		struct curl_waitfd wfd = { .fd = e->h.input_fd, .events = CURL_WAIT_POLLIN };
		int nfd = (e->input_state == 1 && e->h.input_fd >= 0 && !e->stopping) ? 1 : 0;
		wfd.revents = 0;
		curl_multi_poll(e->multi, nfd ? &wfd : NULL, (unsigned)nfd, (int)wait, NULL);
		if (nfd && wfd.revents)
			feed(e, 1);
		else if (e->input_state == 1 && e->h.input_fd < 0)
			feed(e, 1);   /* polled source (--follow): look again */
		curl_multi_perform(e->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(e->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct eng_task *t;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			finish(e, t, m->data.result);
		}
	}
	drop_all(e);
	if (e->h.tick)
		e->h.tick(e->h.ctx, 1);   /* the last commit */
	if (e->fatal)
		return VJ_EFATAL;
	if (e->stopping)
		return VJ_ETEMP;
	return VJ_OK;
}
