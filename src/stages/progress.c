/* progress: the status file, the one line for all stages, the heartbeat.
 *
 * The status file RUN/journal/STAGE.progress holds one line framed like a
 * journal line ("<crc32c> <JSON>", core/journal.h), padded to a fixed
 * length and rewritten in place with one pwrite: a reader that catches a
 * write half done sees a bad checksum and keeps what it had.  What it says
 * is trusted only as far as it checks out: a stage is live when the pid in
 * its file holds its lock (journal_holder); a file whose writer is gone is
 * stale and never shown as running. */
#include "stages/progress.h"
#include "core/journal.h"
#include "base/hash.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_LEN 512      /* the status file's fixed size */
#define TICK_MS 100       /* the thread looks at the counts this often */
#define FILE_MS 250       /* the status file is rewritten at most this often */
#define DRAW_MS 500       /* the line is redrawn this often */

enum pstate { PS_RUNNING, PS_STOPPING, PS_DONE, PS_STOPPED, PS_N };
static const char *const pstate_name[PS_N] = { "running", "stopping", "done", "stopped" };

/* One stage as its status file (or, for this stage, its counts) says. */
struct rec {
	long pid;
	uint64_t out;         /* which stderr it writes to */
	int line;             /* it would draw the line */
	enum pstate state;
	int64_t start, t;     /* wall ms: started, written */
	struct progress_counts c;
	double rate;          /* jobs a second, since it started */
	int64_t eta;          /* seconds left; -1 not known */
};

struct progress {
	char *run;
	enum stage s;
	char *path[ST_N];     /* every stage's status file */
	int fd;               /* ours; -1: none */
	int line, hb_ms;
	uint64_t out;
	int64_t start_wall, start_mono;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct progress_counts c;   /* under mu */
	int changed, kick, ending;  /* under mu */
	/* the thread's own */
	int drawn;            /* our line stands on the screen */
	int64_t last_file, last_draw, last_hb;
	struct { long pid; int64_t start; int live; } seen[ST_N];   /* liveness found */
};

static int
tty_cols(void)
{
	struct winsize ws;
	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return isatty(2) ? 80 : 0;
}

/* "1m05s", "2h03m" */
static void
fmt_dur(int64_t s, char *out, size_t n)
{
	if (s < 3600)
		snprintf(out, n, "%dm%02ds", (int)(s / 60), (int)(s % 60));
	else
		snprintf(out, n, "%lldh%02dm", (long long)(s / 3600), (int)(s / 60 % 60));
}

static uint64_t
finished(const struct progress_counts *c)
{
	return c->ok + c->cached + c->failed;
}

/* Our own counts as a record: the rate is work done here (not what the
 * journal held), and the time left is what remains at that rate. */
static void
own_rec(const struct progress *p, const struct progress_counts *c, int64_t now_mono,
    enum pstate st, struct rec *r)
{
	double secs = (double)(now_mono - p->start_mono) / 1000;
	uint64_t fin = finished(c);
	*r = (struct rec){ .pid = (long)getpid(), .out = p->out, .line = p->line, .state = st,
		.start = p->start_wall, .t = now_ms(), .c = *c, .eta = -1 };
	r->rate = secs > 0.2 ? (double)(c->ok + c->failed) / secs : 0;
	if (c->total > fin && r->rate > 0 && st == PS_RUNNING)
		r->eta = (int64_t)((double)(c->total - fin) / r->rate + 0.5);
}

/* ---- the status file ---- */

static void
write_status(struct progress *p, const struct rec *r)
{
	char json[FILE_LEN], line[FILE_LEN + 16];
	if (p->fd < 0)
		return;
	int n = snprintf(json, sizeof json, "{\"v\":1,\"stage\":\"%s\",\"pid\":%ld,\"out\":%llu,"
	    "\"line\":%d,\"state\":\"%s\",\"start\":%lld,\"t\":%lld,\"ok\":%llu,\"cached\":%llu,"
	    "\"failed\":%llu,\"in_flight\":%llu,\"retries\":%llu,\"total\":%llu,\"shards\":%llu,"
	    "\"rate\":%.3f,\"eta\":%lld",
	    stage_name[p->s], r->pid, (unsigned long long)r->out, r->line, pstate_name[r->state],
	    (long long)r->start, (long long)r->t, (unsigned long long)r->c.ok,
	    (unsigned long long)r->c.cached, (unsigned long long)r->c.failed,
	    (unsigned long long)r->c.in_flight, (unsigned long long)r->c.retries,
	    (unsigned long long)r->c.total, (unsigned long long)r->c.shards, r->rate,
	    (long long)r->eta);
	/* --batch: the provider's counts, for the stage that draws a pipe's line
	 * (vj's own text: no quote or backslash in it) */
	if (n > 0 && r->c.note[0] && !strpbrk(r->c.note, "\"\\") && n < FILE_LEN - 12)
		n += snprintf(json + n, sizeof json - (size_t)n, ",\"note\":\"%s\"", r->c.note);
	if (n < 0 || n > FILE_LEN - 12)
		return;
	/* padded inside the object, so the file stays one line of one size */
	memset(json + n, ' ', (size_t)(FILE_LEN - 11 - n));
	json[FILE_LEN - 11] = '}';
	json[FILE_LEN - 10] = 0;
	snprintf(line, sizeof line, "%08x %s\n", crc32c(0, json, FILE_LEN - 10), json);
	if (pwrite(p->fd, line, FILE_LEN, 0) != FILE_LEN)
		vj_debug("cannot write %s: %s", p->path[p->s], strerror(errno));
}

/* Stage t's status file: 0 with r filled, -1 when missing or not right. */
static int
read_status(const struct progress *p, enum stage t, struct rec *r)
{
	char buf[FILE_LEN + 1], name[16], state[16];
	int fd = safefs_open(p->path[t], O_RDONLY, 0);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, buf, FILE_LEN, 0);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *nl = memchr(buf, '\n', (size_t)n);
	if (!nl || journal_check_line(buf, (size_t)(nl - buf)) < 0)
		return -1;
	*nl = 0;
	unsigned long long v[10];
	long long start, tt, eta;
	int end = -1;
	memset(r, 0, sizeof *r);
	if (sscanf(buf + 9, "{\"v\":1,\"stage\":\"%15[a-z]\",\"pid\":%ld,\"out\":%llu,"
	    "\"line\":%d,\"state\":\"%15[a-z]\",\"start\":%lld,\"t\":%lld,\"ok\":%llu,\"cached\":%llu,"
	    "\"failed\":%llu,\"in_flight\":%llu,\"retries\":%llu,\"total\":%llu,\"shards\":%llu,"
	    "\"rate\":%lf,\"eta\":%lld%n",
	    name, &r->pid, &v[0], &r->line, state, &start, &tt, &v[1], &v[2], &v[3], &v[4], &v[5],
	    &v[6], &v[7], &r->rate, &eta, &end) != 16 || end < 0)
		return -1;
	const char *rest = buf + 9 + end;
	if (!strncmp(rest, ",\"note\":\"", 9)) {
		const char *q = strchr(rest + 9, '"');
		size_t k = q ? (size_t)(q - rest - 9) : 0;
		if (!q || k >= sizeof r->c.note)
			return -1;
		memcpy(r->c.note, rest + 9, k);
		r->c.note[k] = 0;
		rest = q + 1;
	}
	while (*rest == ' ')
		rest++;
	if (rest[0] != '}' || rest[1] != 0)
		return -1;
	if (strcmp(name, stage_name[t]) != 0 || r->pid <= 0 || !isfinite(r->rate) || r->rate < 0)
		return -1;
	r->state = PS_N;
	for (int i = 0; i < PS_N; i++)
		if (!strcmp(state, pstate_name[i]))
			r->state = (enum pstate)i;
	if (r->state == PS_N)
		return -1;
	r->out = v[0];
	r->start = start;
	r->t = tt;
	char note[sizeof r->c.note];
	memcpy(note, r->c.note, sizeof note);
	r->c = (struct progress_counts){ .ok = v[1], .cached = v[2], .failed = v[3],
		.in_flight = v[4], .retries = v[5], .total = v[6], .shards = v[7] };
	memcpy(r->c.note, note, sizeof note);
	r->eta = eta;
	return 0;
}

/* Is stage t, as r says, running now?  Its pid must hold its lock.  A file
 * found stale stays stale (a new run of the stage writes a new pid), so the
 * lock of a stage that is not running is looked at once, not every draw. */
static int
is_live(struct progress *p, enum stage t, const struct rec *r)
{
	if (r->state >= PS_DONE)
		return 0;
	if (p->seen[t].pid == r->pid && p->seen[t].start == r->start && !p->seen[t].live)
		return 0;
	int live = kill((pid_t)r->pid, 0) == 0 || errno == EPERM;
	if (live)
		live = journal_holder(p->run, stage_name[t]) == r->pid;
	p->seen[t].pid = r->pid;
	p->seen[t].start = r->start;
	p->seen[t].live = live;
	return live;
}

/* ---- the line ---- */

/* "analyze 246/400 3 failed 12 in flight 16/s ETA 0m48s": short, so that
 * four stages fit a terminal's width. */
static void
segment(struct buf *b, enum stage s, const struct rec *r)
{
	char d[32];
	buf_addf(b, "%s %llu", stage_name[s], (unsigned long long)finished(&r->c));
	if (r->c.total)
		buf_addf(b, "/%llu", (unsigned long long)r->c.total);
	if (s == ST_PACK && r->c.shards)
		buf_addf(b, " (%llu shard%s)", (unsigned long long)r->c.shards, r->c.shards == 1 ? "" : "s");
	if (r->c.failed)
		buf_addf(b, " %llu failed", (unsigned long long)r->c.failed);
	if (r->state == PS_DONE || r->state == PS_STOPPED) {
		buf_adds(b, r->state == PS_DONE ? " done" : " interrupted");
		return;
	}
	if (r->c.in_flight)
		buf_addf(b, " %llu in flight", (unsigned long long)r->c.in_flight);
	if (r->c.retries)
		buf_addf(b, " %llu retries", (unsigned long long)r->c.retries);
	if (r->c.note[0])
		buf_addf(b, " %s", r->c.note);
	if (r->rate > 0)
		buf_addf(b, r->rate < 10 ? " %.1f/s" : " %.0f/s", r->rate);
	if (r->state == PS_RUNNING && r->eta >= 0) {
		fmt_dur(r->eta, d, sizeof d);
		buf_addf(b, " ETA %s", d);
	}
}

/* Draw the line for every stage of the run, unless a later stage on the
 * same stderr draws it. */
static void
draw(struct progress *p, const struct rec *mine)
{
	struct rec r[ST_N];
	int shown[ST_N] = { 0 };
	uint64_t finishing = 0;
	int stopping = 0;

	for (int t = 0; t < ST_N; t++) {
		if (t == (int)p->s) {
			r[t] = *mine;
			shown[t] = 1;
			continue;
		}
		if (read_status(p, (enum stage)t, &r[t]) < 0)
			continue;
		int live = is_live(p, (enum stage)t, &r[t]);
		if (live && t > (int)p->s && r[t].line && r[t].out == p->out) {
			p->drawn = 0;   /* it draws, and its line covers ours */
			return;
		}
		/* a stage that ended since we started is part of our pipeline */
		shown[t] = live || (r[t].state >= PS_DONE && r[t].t >= p->start_wall);
	}
	struct buf b = {0};
	for (int t = 0; t < ST_N; t++)
		if (shown[t] && r[t].state == PS_STOPPING) {
			stopping = 1;
			finishing += r[t].c.in_flight;
		}
	buf_adds(&b, "\r");
	if (stopping)
		buf_addf(&b, "interrupted, finishing %llu in flight | ", (unsigned long long)finishing);
	int first = 1;
	for (int t = 0; t < ST_N; t++) {
		if (!shown[t])
			continue;
		if (!first)
			buf_adds(&b, " | ");
		first = 0;
		segment(&b, (enum stage)t, &r[t]);
	}
	int cols = tty_cols();
	if (cols > 1 && b.len > (size_t)cols)    /* a wrapped line cannot be redrawn */
		b.len = (size_t)cols;             /* the "\r" is counted: cols - 1 shown */
	buf_add(&b, "\033[K", 3);
	write_all(2, b.p, b.len);
	buf_free(&b);
	p->drawn = 1;
}

/* ---- the heartbeat ---- */

static void
heartbeat(struct progress *p, const struct rec *r)
{
	char stamp[32] = "", total[32] = "", eta[48] = "", extra[640], d[32];
	const struct progress_counts *c = &r->c;
	int pack = p->s == ST_PACK;
	if (vj_log_format != VJ_LOG_JSON) {
		utc_stamp(now_ms(), 0, stamp);
		strcat(stamp, " ");
	}
	if (c->total)
		snprintf(total, sizeof total, "/%llu", (unsigned long long)c->total);
	if (r->eta >= 0) {
		fmt_dur(r->eta, d, sizeof d);
		snprintf(eta, sizeof eta, ", ETA %s", d);
	}
	snprintf(extra, sizeof extra, "\"stage\":\"%s\",\"finished\":%llu,\"total\":%llu,\"done\":%llu,"
	    "\"cached\":%llu,\"failed\":%llu,\"in_flight\":%llu,\"retries\":%llu,\"shards\":%llu,"
	    "\"rate\":%.3f,\"eta_s\":%lld,\"interrupted\":%s",
	    stage_name[p->s], (unsigned long long)finished(c), (unsigned long long)c->total,
	    (unsigned long long)c->ok, (unsigned long long)c->cached, (unsigned long long)c->failed,
	    (unsigned long long)c->in_flight, (unsigned long long)c->retries,
	    (unsigned long long)c->shards, r->rate, (long long)r->eta,
	    c->interrupted ? "true" : "false");
	if (pack)
		vj_event("heartbeat", extra, "%s%llu%s (%llu packed into %llu shards, %llu already in OUT, "
		    "%llu left out), %.1f/s%s%s", stamp, (unsigned long long)finished(c), total,
		    (unsigned long long)c->ok, (unsigned long long)c->shards,
		    (unsigned long long)c->cached, (unsigned long long)c->failed, r->rate, eta,
		    c->interrupted ? ", interrupted" : "");
	else
		vj_event("heartbeat", extra, "%s%llu%s (%llu done, %llu from the journal, %llu failed), "
		    "%llu in flight, %.1f/s%s%s%s%s", stamp, (unsigned long long)finished(c), total,
		    (unsigned long long)c->ok, (unsigned long long)c->cached,
		    (unsigned long long)c->failed, (unsigned long long)c->in_flight, r->rate, eta,
		    c->interrupted ? ", interrupted, finishing what is in flight" : "",
		    c->note[0] ? ", " : "", c->note);
}

/* ---- the thread ---- */

static void *
loop(void *arg)
{
	struct progress *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->ending) {
		struct progress_counts c = p->c;
		int changed = p->changed, kick = p->kick;
		p->changed = p->kick = 0;
		pthread_mutex_unlock(&p->mu);

		int64_t now = mono_ms();
		struct rec r;
		own_rec(p, &c, now, c.interrupted ? PS_STOPPING : PS_RUNNING, &r);
		if (kick || (changed && now - p->last_file >= FILE_MS)) {
			write_status(p, &r);
			p->last_file = now;
		} else if (changed) {
			pthread_mutex_lock(&p->mu);
			p->changed = 1;   /* written at the next turn that may */
			pthread_mutex_unlock(&p->mu);
		}
		if (p->line && (kick || now - p->last_draw >= DRAW_MS)) {
			draw(p, &r);
			p->last_draw = now;
		}
		if (p->hb_ms && now - p->last_hb >= p->hb_ms) {
			heartbeat(p, &r);
			p->last_hb = now;
		}

		pthread_mutex_lock(&p->mu);
		if (!p->ending && !p->kick) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += TICK_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int
open_status(struct progress *p)
{
	int fd = safefs_open(p->path[p->s], O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		/* a link or a FIFO planted there is worth a word; a file we may
		 * not write (a run shared read-only) is not */
		if (errno == ELOOP || errno == EINVAL)
			vj_msg("%s: %s; the other stages will not see this one's progress",
			    p->path[p->s], safefs_why(errno));
		else
			vj_debug("cannot open %s: %s", p->path[p->s], strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size != FILE_LEN && ftruncate(fd, FILE_LEN) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct progress *
progress_start(const char *run, enum stage s, const struct progress_opts *o)
{
	struct progress *p = xcalloc(1, sizeof *p);
	struct stat st;
	int tty = isatty(2);

	p->run = xstrdup(run);
	p->s = s;
	for (int t = 0; t < ST_N; t++)
		p->path[t] = xasprintf("%s/journal/%s.progress", run, stage_name[t]);
	/* a JSON log is for programs: no line in it */
	p->line = vj_log_format == VJ_LOG_JSON ? 0 :
	    o->line < 0 ? tty && vj_verbose >= 0 : o->line;
	int hb = o->heartbeat < 0 ? (vj_verbose >= 0 ? 60 : 0) : o->heartbeat;
	p->hb_ms = p->line ? 0 : hb * 1000;
	if (fstat(2, &st) == 0) {
		uint64_t id[2] = { (uint64_t)st.st_dev, (uint64_t)st.st_ino };
		p->out = hash64(id, sizeof id) >> 1;   /* fits a JSON number reader's int64 */
	}
	p->start_wall = now_ms();
	p->start_mono = p->last_draw = p->last_hb = mono_ms();
	p->fd = open_status(p);

	struct rec r;
	own_rec(p, &p->c, p->start_mono, PS_RUNNING, &r);
	write_status(p, &r);   /* at once: an upstream stage stops drawing before its first line */
	p->last_file = p->start_mono;

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->mu, NULL);
	/* signals are for the main thread, whose blocking calls they interrupt */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	p->started = pthread_create(&p->th, NULL, loop, p) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!p->started)
		vj_debug("no progress thread: %s", strerror(errno));
	return p;
}

int
progress_shown(const struct progress *p)
{
	return p && (p->line || p->hb_ms);
}

void
progress_set(struct progress *p, const struct progress_counts *c)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	if (memcmp(&p->c, c, sizeof *c) != 0) {
		if (c->interrupted && !p->c.interrupted) {
			p->kick = 1;    /* say so now, not at the next redraw */
			pthread_cond_signal(&p->cv);
		}
		p->c = *c;
		p->changed = 1;
	}
	pthread_mutex_unlock(&p->mu);
}

void
progress_end(struct progress *p, const struct progress_counts *c)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->ending = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->th, NULL);
	struct rec r;
	own_rec(p, c, mono_ms(), c->interrupted ? PS_STOPPED : PS_DONE, &r);
	write_status(p, &r);
	/* no stale ETA stays on the screen: the summary line comes next */
	if (p->drawn)
		write_all(2, "\r\033[K", 4);
	if (p->fd >= 0)
		close(p->fd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	for (int t = 0; t < ST_N; t++)
		free(p->path[t]);
	free(p->run);
	free(p);
}

uint64_t
progress_count_lines(char **files, int nfiles)
{
	uint64_t n = 0;
	char buf[1 << 16];
	if (nfiles == 0)
		return 0;   /* standard input */
	for (int i = 0; i < nfiles; i++) {
		if (!strcmp(files[i], "-"))
			return 0;
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;   /* no records: the input thread says why */
		int text = 0;   /* the line so far has more than blanks */
		ssize_t k;
		while ((k = read(fd, buf, sizeof buf)) > 0) {
			for (ssize_t j = 0; j < k; j++) {
				char ch = buf[j];
				if (ch == '\n') {
					n += (uint64_t)text;
					text = 0;
				} else if (ch != ' ' && ch != '\t' && ch != '\r') {
					text = 1;
				}
			}
		}
		close(fd);
		if (k < 0)
			return 0;
		n += (uint64_t)text;
	}
	return n;
}
