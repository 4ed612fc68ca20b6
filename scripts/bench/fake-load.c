/*
 * fake-load: a small closed-loop HTTP/1.1 load generator for vj-fake.
 *
 *   fake-load PORT CONNECTIONS SECONDS [gemini|openai|stats]
 *
 * Each connection sends one request, waits for the whole answer, and
 * sends the next on the same keep-alive connection.  Prints requests/s,
 * the answer count by status class, and latency percentiles.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct lconn {
	int	 fd;
	size_t	 sent;
	char	 in[65536];
	size_t	 inlen;
	double	 t0;
	int	 n;
};

static char reqbuf[2048];
static size_t reqlen;
static double *lat;
static size_t nlat, caplat;
static long ok2xx, other, dropped;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
dial(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 && errno != EINPROGRESS) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void
build_request(const char *kind, int port)
{
	const char *body, *path;

	if (strcmp(kind, "openai") == 0) {
		path = "/chat/completions";
		body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
	} else if (strcmp(kind, "stats") == 0) {
		reqlen = (size_t)snprintf(reqbuf, sizeof(reqbuf), "GET /html HTTP/1.1\r\n"
		    "Host: 127.0.0.1:%d\r\n\r\n", port);
		return;
	} else {
		path = "/v1beta/models/m:generateContent";
		body = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"describe\"}]}]}";
	}
	reqlen = (size_t)snprintf(reqbuf, sizeof(reqbuf), "POST %s HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nContent-Type: application/json\r\nX-VJ-Job: bench\r\n"
	    "Content-Length: %zu\r\n\r\n%s", path, port, strlen(body), body);
}

/* Returns 1 once a whole answer is in c->in. */
static int
answer_done(struct lconn *c)
{
	char *e, *cl;
	size_t head, len;

	c->in[c->inlen < sizeof(c->in) ? c->inlen : sizeof(c->in) - 1] = '\0';
	if ((e = strstr(c->in, "\r\n\r\n")) == NULL)
		return 0;
	head = (size_t)(e + 4 - c->in);
	cl = strcasestr(c->in, "\r\nContent-Length:");
	len = cl && cl < e ? strtoul(cl + 17, NULL, 10) : 0;
	if (c->inlen < head + len)
		return 0;
	if (c->in[9] == '2')
		ok2xx++;
	else
		other++;
	return 1;
}

static void
record(double v)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 65536;
		if ((lat = realloc(lat, caplat * sizeof(*lat))) == NULL)
			exit(1);
	}
	lat[nlat++] = v;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, evs[256];
	struct lconn *cs;
	int port, nc, i, ep;
	double secs, start, end;

	if (argc < 4) {
		fprintf(stderr, "usage: fake-load PORT CONNECTIONS SECONDS [gemini|openai|stats]\n");
		return 2;
	}
	port = atoi(argv[1]);
	nc = atoi(argv[2]);
	secs = atof(argv[3]);
	build_request(argc > 4 ? argv[4] : "gemini", port);
	cs = calloc((size_t)nc, sizeof(*cs));
	ep = epoll_create1(0);
	start = now_s();
	end = start + secs;
	for (i = 0; i < nc; i++) {
		cs[i].fd = dial(port);
		cs[i].t0 = now_s();
		ev.events = EPOLLOUT | EPOLLIN;
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	while (now_s() < end) {
		int n = epoll_wait(ep, evs, 256, 100);

		for (int k = 0; k < n; k++) {
			struct lconn *c = &cs[evs[k].data.u32];
			ssize_t r;

			if (c->sent < reqlen && (evs[k].events & EPOLLOUT)) {
				r = write(c->fd, reqbuf + c->sent, reqlen - c->sent);
				if (r > 0)
					c->sent += (size_t)r;
				if (c->sent == reqlen) {
					ev.events = EPOLLIN;
					ev.data.u32 = evs[k].data.u32;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen - 1);
			if (r <= 0) {
				if (r == -1 && errno == EAGAIN)
					continue;
				/* A dropped connection (--pdrop): count it, dial again. */
				dropped++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = dial(port);
				c->inlen = c->sent = 0;
				c->t0 = now_s();
				ev.events = EPOLLOUT | EPOLLIN;
				ev.data.u32 = evs[k].data.u32;
				epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
				continue;
			}
			c->inlen += (size_t)r;
			if (!answer_done(c))
				continue;
			double t = now_s();
			record(t - c->t0);
			c->t0 = t;
			c->inlen = 0;
			c->sent = 0;
			ev.events = EPOLLOUT | EPOLLIN;
			ev.data.u32 = evs[k].data.u32;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
	secs = now_s() - start;
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("connections %d  seconds %.1f  answers %zu  (2xx %ld, other %ld, dropped %ld)\n",
	    nc, secs, nlat, ok2xx, other, dropped);
	printf("requests/s %.0f\n", nlat / secs);
	if (nlat > 0)
		printf("latency ms p50 %.2f  p99 %.2f  max %.2f\n", lat[nlat / 2] * 1e3,
		    lat[nlat * 99 / 100] * 1e3, lat[nlat - 1] * 1e3);
	return 0;
}
