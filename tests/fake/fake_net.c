/*
 * fake_net.c: the epoll loop, connections, timers and response writing.
 *
 * Level-triggered epoll; a connection serves one request at a time (later
 * pipelined requests wait in its input buffer).  A prepared response sits
 * in the output buffer and `out_limit` says how much of it may be sent
 * yet: latency, "slow" and the dripped blank lines just move that limit
 * from a timer, so nothing ever sleeps.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"

enum { CONN_READ, CONN_SEND, CONN_HANG };

#define FAKE_DRIP_MS	50	/* gap between dripped blank lines */

struct fake_conn {
	int	 fd;
	uint64_t id;		/* unique; stale timers compare it */
	int	 state;
	int	 want_out;	/* EPOLLOUT registered */
	int	 close_after;
	int	 timer_pending;
	int	 drip_left;
	size_t	 drip_next;
	int	 sent100;
	struct fake_buf in;
	struct fake_buf out;
	size_t	 out_off;
	size_t	 out_limit;
	int	 file_fd;	/* a download sent from its file after out (-1 none) */
	off_t	 file_off, file_end;
	struct fake_parse ps;
	uint64_t t_start;
	struct fake_buf logpre;	/* "METHOD path job status", ms is added at the end */
};

struct fake_timer {
	uint64_t when;
	uint64_t id;
	int	 fd;
};

static int fake_ep = -1;
static struct fake_conn **fake_conns;
static size_t fake_nconns;
static uint64_t fake_next_id = 1;
static struct fake_timer *fake_heap;
static size_t fake_heap_n, fake_heap_cap;
static int fake_spare_fd = -1;
static volatile sig_atomic_t fake_stop;

static void fake_conn_progress(struct fake_conn *);

/* ---- timers: a binary min-heap keyed on the deadline ---- */

static void
fake_timer_add(struct fake_conn *c, uint64_t when)
{
	size_t i, p;
	struct fake_timer t = { when, c->id, c->fd };

	if (fake_heap_n == fake_heap_cap) {
		fake_heap_cap = fake_heap_cap ? fake_heap_cap * 2 : 256;
		fake_heap = realloc(fake_heap, fake_heap_cap * sizeof(*fake_heap));
		if (fake_heap == NULL)
			fake_die("out of memory");
	}
	for (i = fake_heap_n++; i > 0; i = p) {
		p = (i - 1) / 2;
		if (fake_heap[p].when <= when)
			break;
		fake_heap[i] = fake_heap[p];
	}
	fake_heap[i] = t;
	c->timer_pending = 1;
}

static struct fake_timer
fake_timer_pop(void)
{
	struct fake_timer top = fake_heap[0], last = fake_heap[--fake_heap_n];
	size_t i = 0, k;

	for (;;) {
		k = 2 * i + 1;
		if (k >= fake_heap_n)
			break;
		if (k + 1 < fake_heap_n && fake_heap[k + 1].when < fake_heap[k].when)
			k++;
		if (last.when <= fake_heap[k].when)
			break;
		fake_heap[i] = fake_heap[k];
		i = k;
	}
	if (fake_heap_n > 0)
		fake_heap[i] = last;
	return top;
}

/* ---- connections ---- */

static void
fake_conn_close(struct fake_conn *c)
{
	epoll_ctl(fake_ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	fake_stats_conn(-1);
	if (c->file_fd >= 0)
		close(c->file_fd);
	fake_conns[c->fd] = NULL;
	fake_http_reset(&c->ps);
	fake_buf_free(&c->ps.body);
	fake_buf_free(&c->in);
	fake_buf_free(&c->out);
	fake_buf_free(&c->logpre);
	free(c);
}

static void
fake_conn_want_out(struct fake_conn *c, int on)
{
	struct epoll_event ev;

	if (c->want_out == on)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.fd = c->fd;
	epoll_ctl(fake_ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = on;
}

static void
fake_conn_new(int fd)
{
	struct epoll_event ev;
	struct fake_conn *c;
	int one = 1;

	if ((size_t)fd >= fake_nconns) {
		size_t n = fake_nconns ? fake_nconns : 1024;

		while (n <= (size_t)fd)
			n *= 2;
		fake_conns = realloc(fake_conns, n * sizeof(*fake_conns));
		if (fake_conns == NULL)
			fake_die("out of memory");
		memset(fake_conns + fake_nconns, 0, (n - fake_nconns) * sizeof(*fake_conns));
		fake_nconns = n;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		fake_die("out of memory");
	c->fd = fd;
	c->file_fd = -1;
	c->id = fake_next_id++;
	fake_stats_conn(1);
	fake_http_reset(&c->ps);
	fake_conns[fd] = c;
	/* Small answers and dripped lines must leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	if (epoll_ctl(fake_ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		fake_conn_close(c);
}

static void
fake_log_finish(struct fake_conn *c)
{
	if (fake_logf != NULL && c->logpre.len > 0)
		fprintf(fake_logf, "%s %llu\n", c->logpre.p,
		    (unsigned long long)(fake_now_ms() - c->t_start));
	c->logpre.len = 0;
}

/* Write what may be written.  Returns -1 if the connection was closed. */
static int
fake_conn_flush(struct fake_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_limit) {
		n = send(c->fd, c->out.p + c->out_off, c->out_limit - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			fake_conn_want_out(c, 1);
			return 0;
		}
		fake_conn_close(c);
		return -1;
	}
	/* The buffered head and body are out: now the file, if any. */
	while (c->file_fd >= 0 && c->out_off == c->out.len && c->file_off < c->file_end) {
		n = sendfile(c->fd, c->file_fd, &c->file_off, (size_t)(c->file_end - c->file_off));
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			fake_conn_want_out(c, 1);
			return 0;
		}
		fake_conn_close(c);	/* an error, or the file shrank */
		return -1;
	}
	if (c->file_fd >= 0 && c->out_off == c->out.len) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	fake_conn_want_out(c, 0);
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = c->out_limit = 0;
	}
	return 0;
}

static void
fake_conn_serialize(struct fake_conn *c, struct fake_resp *rs, int keepalive, int http11)
{
	struct fake_buf *o = &c->out;
	size_t start = o->len;
	int i;

	fake_buf_reserve(o, rs->body.len + rs->hdrs.len + 256);
	fake_buf_printf(o, "HTTP/1.1 %d %s\r\nServer: vj-fake\r\n", rs->status,
	    fake_http_reason(rs->status));
	if (rs->ctype != NULL)
		fake_buf_printf(o, "Content-Type: %s\r\n", rs->ctype);
	fake_buf_printf(o, "Content-Length: %zu\r\n", rs->body.len + (size_t)rs->blank_lines +
	    (rs->file_on ? (size_t)rs->file_len : 0));
	if (rs->hdrs.len)
		fake_buf_add(o, rs->hdrs.p, rs->hdrs.len);
	if (!keepalive)
		fake_buf_adds(o, "Connection: close\r\n");
	else if (!http11)
		fake_buf_adds(o, "Connection: keep-alive\r\n");
	fake_buf_adds(o, "\r\n");
	c->drip_next = o->len;
	c->drip_left = rs->blank_lines;
	if (rs->head)
		rs->blank_lines = c->drip_left = 0;
	for (i = 0; i < rs->blank_lines; i++)
		fake_buf_add(o, "\n", 1);
	if (rs->body.len && !rs->head)
		fake_buf_add(o, rs->body.p, rs->body.len);
	if (rs->file_on && !rs->head) {
		c->file_fd = rs->file_fd;
		c->file_off = 0;
		c->file_end = (off_t)rs->file_len;
		rs->file_on = 0;	/* the connection owns it now */
	}
	if (rs->delay_ms > 0 || rs->blank_lines > 0) {
		c->out_limit = start;
		fake_timer_add(c, fake_now_ms() + rs->delay_ms);
	} else {
		c->out_limit = o->len;
	}
}

/* Answer a request the parser could not take, then hang up. */
static void
fake_conn_reject(struct fake_conn *c, int status)
{
	struct fake_resp rs;

	memset(&rs, 0, sizeof(rs));
	rs.status = status;
	rs.ctype = "text/plain";
	fake_buf_printf(&rs.body, "%d %s\n", status, fake_http_reason(status));
	c->out.len = c->out_off = 0;
	fake_conn_serialize(c, &rs, 0, 1);
	fake_buf_free(&rs.body);
	fake_stats_status(status);
	c->close_after = 1;
	c->state = CONN_SEND;
	c->in.len = 0;
}

static void
fake_conn_dispatch(struct fake_conn *c)
{
	struct fake_req *rq = &c->ps.req;
	struct fake_resp rs;
	int status;

	memset(&rs, 0, sizeof(rs));
	c->t_start = fake_now_ms();
	status = fake_route(rq, &rs);
	if (fake_logf != NULL && strncmp(rq->path, "/_", 2) != 0) {
		const char *j = rq->job[0] ? rq->job : "-";
		size_t at;

		c->logpre.len = 0;
		fake_buf_printf(&c->logpre, "%s %s ", rq->method, rq->path);
		at = c->logpre.len;
		fake_buf_adds(&c->logpre, j);
		/* Keep the log one-record-a-line whatever the client sent. */
		for (; at < c->logpre.len; at++)
			if ((unsigned char)c->logpre.p[at] <= ' ')
				c->logpre.p[at] = '_';
		fake_buf_printf(&c->logpre, " %d", status);
	}
	if (rs.action == ACT_SEND)
		fake_conn_serialize(c, &rs, rq->keepalive && !rs.close, rq->http11);
	c->close_after = !rq->keepalive || rs.close || rs.action == ACT_DROP;
	c->state = rs.action == ACT_HANG ? CONN_HANG : CONN_SEND;
	if (rs.action != ACT_SEND)
		fake_log_finish(c);
	if (rs.file_on)
		close(rs.file_fd);	/* not sent: a HEAD, a drop or a hang */
	fake_buf_free(&rs.hdrs);
	fake_buf_free(&rs.body);
	/* The request is answered: its bytes (and body) are no longer needed. */
	fake_buf_consume(&c->in, c->ps.pos);
	fake_http_reset(&c->ps);
	c->sent100 = 0;
	if (rs.action == ACT_DROP)
		c->out.len = c->out_off = c->out_limit = 0;
	if (c->state == CONN_HANG)
		c->in.len = 0;
}

/* Drive a connection as far as it can go without waiting. */
static void
fake_conn_progress(struct fake_conn *c)
{
	int rc;

	for (;;) {
		if (c->state == CONN_HANG)
			return;
		if (c->state == CONN_SEND) {
			if (fake_conn_flush(c) == -1)
				return;
			if (c->out.len > 0 || c->timer_pending)
				return;
			fake_log_finish(c);
			if (c->close_after) {
				fake_conn_close(c);
				return;
			}
			c->state = CONN_READ;
		}
		rc = fake_http_parse(&c->ps, &c->in);
		if (rc == PARSE_MORE) {
			if (c->ps.expect100 && !c->sent100 && fake_http_head_done(&c->ps)) {
				/* The client waits for this before sending the body. */
				c->sent100 = 1;
				fake_buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
				c->out_limit = c->out.len;
				fake_conn_flush(c);
			}
			return;
		}
		if (rc == PARSE_BAD)
			fake_conn_reject(c, 400);
		else if (rc == PARSE_TOOBIG)
			fake_conn_reject(c, fake_http_head_done(&c->ps) ? 413 : 431);
		else
			fake_conn_dispatch(c);
		if (c->state == CONN_SEND && c->close_after && c->out.len == 0 &&
		    !c->timer_pending) {
			fake_conn_close(c);	/* a drop */
			return;
		}
	}
}

static void
fake_conn_readable(struct fake_conn *c)
{
	char sink[4096];
	ssize_t n;

	for (;;) {
		if (c->state == CONN_HANG) {
			n = recv(c->fd, sink, sizeof(sink), 0);
		} else {
			if (c->in.len > FAKE_MAX_BODY + 2 * FAKE_MAX_HEAD) {
				fake_conn_close(c);	/* flooding while we answer */
				return;
			}
			fake_buf_reserve(&c->in, 65536);
			n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
			if (n > 0) {
				c->in.len += (size_t)n;
				c->in.p[c->in.len] = '\0';
			}
		}
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		fake_conn_close(c);	/* EOF or error */
		return;
	}
	if (c->state == CONN_READ)
		fake_conn_progress(c);
}

static void
fake_conn_timer(struct fake_conn *c)
{
	c->timer_pending = 0;
	if (c->drip_left > 0) {
		c->drip_left--;
		c->out_limit = ++c->drip_next;
		fake_timer_add(c, fake_now_ms() + FAKE_DRIP_MS);
	} else {
		c->out_limit = c->out.len;
	}
	fake_conn_progress(c);
}

/* ---- listening and the loop ---- */

static void
fake_accept(int lfd)
{
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			fake_conn_new(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if ((errno == EMFILE || errno == ENFILE) && fake_spare_fd >= 0) {
			/* Out of descriptors: take the client and hang up so the
			 * listening socket does not stay readable forever. */
			close(fake_spare_fd);
			fd = accept(lfd, NULL, NULL);
			if (fd >= 0)
				close(fd);
			fake_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		return;
	}
}

int
fake_net_listen(int port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct rlimit rl;
	int fd, one = 1;

	/* 1,000+ concurrent clients need more than the usual 1024 descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fake_die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);	/* never anything but loopback */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		fake_die("bind 127.0.0.1:%d: %s", port, strerror(errno));
	if (listen(fd, 4096) == -1)
		fake_die("listen: %s", strerror(errno));
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == -1)
		fake_die("getsockname: %s", strerror(errno));
	fake_opt.port = ntohs(sa.sin_port);
	return fd;
}

static void
fake_fire_timers(void)
{
	uint64_t now = fake_now_ms();
	struct fake_timer t;
	struct fake_conn *c;

	while (fake_heap_n > 0 && fake_heap[0].when <= now) {
		t = fake_timer_pop();
		if ((size_t)t.fd >= fake_nconns || (c = fake_conns[t.fd]) == NULL ||
		    c->id != t.id)
			continue;	/* that connection is gone */
		fake_conn_timer(c);
	}
}

static void
fake_on_signal(int sig)
{
	(void)sig;
	fake_stop = 1;
}

/* Free every connection: a clean exit lets the leak checker vouch for us. */
static void
fake_net_shutdown(int lfd)
{
	size_t i;

	for (i = 0; i < fake_nconns; i++)
		if (fake_conns[i] != NULL)
			fake_conn_close(fake_conns[i]);
	free(fake_conns);
	free(fake_heap);
	close(lfd);
	close(fake_ep);
	if (fake_spare_fd >= 0)
		close(fake_spare_fd);
}

void
fake_net_run(int lfd)
{
	struct sigaction sa;
	struct epoll_event ev, evs[512];
	struct fake_conn *c;
	int i, n, timeout;
	uint64_t now;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fake_on_signal;	/* no SA_RESTART: epoll_wait must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((fake_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fake_die("epoll_create1: %s", strerror(errno));
	fake_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(fake_ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!fake_stop) {
		timeout = -1;
		if (fake_heap_n > 0) {
			now = fake_now_ms();
			timeout = fake_heap[0].when > now ? (int)(fake_heap[0].when - now) : 0;
		}
		n = epoll_wait(fake_ep, evs, 512, timeout);
		if (n == -1 && errno != EINTR)
			fake_die("epoll_wait: %s", strerror(errno));
		if (fake_stop)
			break;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				fake_accept(lfd);
				continue;
			}
			if ((size_t)fd >= fake_nconns || (c = fake_conns[fd]) == NULL)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				fake_conn_readable(c);
				if ((c = fake_conns[fd]) == NULL)
					continue;
			}
			if (evs[i].events & EPOLLOUT)
				fake_conn_progress(c);
		}
		fake_fire_timers();
		if (fake_logf != NULL)
			fflush(fake_logf);
	}
	fake_net_shutdown(lfd);
}
