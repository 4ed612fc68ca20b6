/* journal: the append-only, self-checking stage logs (docs/journal.md). */
#include "core/journal.h"
#include "base/hash.h"
#include "base/jscan.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)

struct journal {
	char *path, *lockpath;
	int fd, lockfd;
	enum jl_fsync mode;
	uint64_t written;      /* bytes durable (or at least written) in the file */
	struct buf pend;       /* queued lines, not yet written */
};

struct jreader {
	char *path;
	int fd;
	uint64_t off;          /* start of the first line not yet delivered */
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* The one check of a line (docs/journal.md, "Line format"): everything
 * that reads a journal -- replay, readers, --check -- goes through it. */
int
journal_check_line(const char *line, size_t len)
{
	uint32_t want = 0;
	/* "xxxxxxxx {...}" at the least */
	if (len < 11 || line[8] != ' ' || line[9] != '{' || line[len - 1] != '}')
		return -1;
	for (int i = 0; i < 8; i++) {
		int v = hexval((unsigned char)line[i]);
		if (v < 0)
			return -1;
		want = want << 4 | (uint32_t)v;
	}
	return crc32c(0, line + 9, len - 9) == want ? 0 : -1;
}

/* Scan a buffer of lines starting at file offset base.  Delivers valid
 * complete lines to cb.  Sets *used to the bytes consumed (up to the end of
 * the last good line).  Returns 0 when it stopped at an incomplete tail or the
 * end, 1 at a bad complete line (at base + *used), 2 when cb asked to stop. */
static int
scan(const char *p, size_t n, uint64_t base, jl_cb cb, void *ctx, size_t *used)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (p + i));
		if (journal_check_line(p + i, len) < 0) {
			*used = i;
			return 1;
		}
		if (cb && cb(ctx, p + i + 9, len - 9, base + i)) {
			*used = i + len + 1;
			return 2;
		}
		i += len + 1;
	}
	*used = i;
	return 0;
}

/* Valid lines after the bad line at off, counted up to max: none means a
 * torn last write, some mean corruption in the middle (and are what a cut
 * there would drop). */
static uint64_t
count_after(int fd, uint64_t off, uint64_t max)
{
	struct buf b = {0};
	uint64_t n = 0;
	int skipped = 0;   /* the first line is the bad one itself */
	ssize_t r;

	while (n < max) {
		buf_grow(&b, 65536);
		if ((r = pread(fd, b.p + b.len, 65536, (off_t)off)) <= 0)
			break;
		off += (uint64_t)r;
		b.len += (size_t)r;
		size_t s = 0;
		char *nl;
		while (n < max && (nl = memchr(b.p + s, '\n', b.len - s))) {
			size_t len = (size_t)(nl - (b.p + s));
			if (skipped)
				n += journal_check_line(b.p + s, len) == 0;
			skipped = 1;
			s += len + 1;
		}
		memmove(b.p, b.p + s, b.len - s);
		b.len -= s;
	}
	buf_free(&b);
	return n;
}

uint64_t
journal_valid_after(const char *path, uint64_t off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t n;
	if (fd < 0)
		return 0;
	n = count_after(fd, off, UINT64_MAX);
	close(fd);
	return n;
}

static int
copy_range(int fd, uint64_t from, uint64_t to, char **dstp)
{
	/* a new file, never one planted under the name: a name taken (by a
	 * link, or an earlier cut in the same millisecond) gets a suffix */
	int out = open(*dstp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	for (int k = 1; out < 0 && errno == EEXIST && k < 100; k++) {
		char *alt = xasprintf("%s.%d", *dstp, k);
		out = open(alt, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (out >= 0) {
			free(*dstp);
			*dstp = alt;
		} else
			free(alt);
	}
	char tmp[65536];
	if (out < 0)
		return -1;
	while (from < to) {
		size_t want = to - from < sizeof tmp ? (size_t)(to - from) : sizeof tmp;
		ssize_t r = pread(fd, tmp, want, (off_t)from);
		if (r <= 0 || write_all(out, tmp, (size_t)r) < 0) {
			close(out);
			return -1;
		}
		from += (uint64_t)r;
	}
	if (fsync(out) < 0) {
		close(out);
		return -1;
	}
	return close(out);
}

/* Replay fd from offset from (0, or where a checkpoint of the fold ends):
 * deliver good lines, return the offset after the last good
 * line in *good, and 0 (clean or only a bad tail) / 1 (bad line with valid
 * lines after it) / -1 (I/O error). */
static int
replay(int fd, uint64_t from, jl_cb cb, void *ctx, uint64_t *good, uint64_t *size)
{
	struct buf b = {0};
	uint64_t base = from, rd = from;
	struct stat st;
	int rc = 0;

	if (fstat(fd, &st) < 0)
		return -1;
	*size = (uint64_t)st.st_size;
	for (;;) {
		buf_grow(&b, CHUNK);
		ssize_t r = pread(fd, b.p + b.len, CHUNK, (off_t)rd);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		rd += (uint64_t)r;
		b.len += (size_t)r;
		size_t used;
		int s = scan(b.p, b.len, base, cb, ctx, &used);
		base += used;
		memmove(b.p, b.p + used, b.len - used);
		b.len -= used;
		if (s == 1) {
			rc = count_after(fd, base, 1) ? 1 : 0;
			break;
		}
		if (r == 0)
			break;
	}
	buf_free(&b);
	*good = base;
	if (rd > *size)
		*size = rd;
	return rc;
}

static long
read_pid(int fd)
{
	char s[32] = {0};
	if (pread(fd, s, sizeof s - 1, 0) <= 0)
		return 0;
	return strtol(s, NULL, 10);
}

long
journal_holder(const char *run, const char *stage)
{
	char *lp = xasprintf("%s/journal/%s.lock", run, stage);
	int fd = open(lp, O_RDONLY | O_CLOEXEC);
	long pid = 0;
	free(lp);
	if (fd < 0)
		return 0;
	/* A shared lock that fails means a writer holds the exclusive one. */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		pid = read_pid(fd);
	else
		flock(fd, LOCK_UN);
	close(fd);
	return pid;
}

int
journal_open(struct journal **jp, const char *run, const char *stage,
    enum jl_fsync mode, int repair, jl_cb cb, void *ctx, char *err, size_t errlen)
{
	return journal_open_at(jp, run, stage, mode, repair, NULL, cb, ctx, err, errlen);
}

int
journal_open_at(struct journal **jp, const char *run, const char *stage,
    enum jl_fsync mode, int repair, jl_start start, jl_cb cb, void *ctx, char *err, size_t errlen)
{
	struct journal *j = xcalloc(1, sizeof *j);
	char *dir = xasprintf("%s/journal", run);
	uint64_t good = 0, size = 0;
	int rc;

	j->fd = j->lockfd = -1;
	j->mode = mode;
	j->path = xasprintf("%s/%s.log", dir, stage);
	j->lockpath = xasprintf("%s/%s.lock", dir, stage);
	/* The run and its journal/ must be real directories of ours, and the
	 * lock and log real files: a planted symbolic link would otherwise get
	 * its target truncated, "repaired" or appended to. */
	if (mkdir_p(run, 0755) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", run, strerror(errno));
		goto fatal;
	}
	if (safefs_mkdir(run, err, errlen) < 0 || safefs_mkdir(dir, err, errlen) < 0)
		goto fatal;
	j->lockfd = safefs_open(j->lockpath, O_RDWR | O_CREAT, 0644);
	if (j->lockfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", j->lockpath, safefs_why(errno));
		goto fatal;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK) {
			snprintf(err, errlen, "run %s: stage %s is locked by pid %ld (another vj-%s is running)",
			    run, stage, read_pid(j->lockfd), stage);
			free(dir);
			journal_close(j);
			return VJ_ETEMP;
		}
		snprintf(err, errlen, "cannot lock %s: %s", j->lockpath, strerror(errno));
		goto fatal;
	}
	char pid[32];
	int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(j->lockfd, 0) < 0 || pwrite(j->lockfd, pid, (size_t)pl, 0) != pl) {
		snprintf(err, errlen, "cannot write %s: %s", j->lockpath, strerror(errno));
		goto fatal;
	}

	j->fd = safefs_open(j->path, O_RDWR | O_CREAT | O_APPEND, 0644);
	if (j->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", j->path, safefs_why(errno));
		goto fatal;
	}
	uint64_t from = 0;
	if (start) {
		struct stat st;
		if (fstat(j->fd, &st) < 0) {
			snprintf(err, errlen, "cannot read %s: %s", j->path, strerror(errno));
			goto fatal;
		}
		from = start(ctx, j->fd, (uint64_t)st.st_size);
		if (from > (uint64_t)st.st_size)
			from = 0;
	}
	rc = replay(j->fd, from, cb, ctx, &good, &size);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", j->path, strerror(errno));
		goto fatal;
	}
	if (rc == 1 && !repair) {
		snprintf(err, errlen, "%s: corrupt record at byte offset %llu (records follow it); "
		    "'vj-status --check' shows the damage, '--repair' cuts the journal there after a backup",
		    j->path, (unsigned long long)good);
		goto fatal;
	}
	if (good < size) {
		char *aside = xasprintf("%s.%s.%lld.%ld", j->path, rc == 1 ? "bak" : "torn", (long long)now_ms(), (long)getpid());
		/* Keep what we cut: the torn tail, or with --repair the whole file. */
		if (copy_range(j->fd, rc == 1 ? 0 : good, size, &aside) < 0 ||
		    ftruncate(j->fd, (off_t)good) < 0 || fsync(j->fd) < 0) {
			snprintf(err, errlen, "cannot repair %s: %s", j->path, strerror(errno));
			free(aside);
			goto fatal;
		}
		if (rc == 1)
			vj_warn("%s: corrupt record at byte offset %llu: journal cut there, the original saved as %s",
			    j->path, (unsigned long long)good, aside);
		else
			vj_warn("%s: torn last record at byte offset %llu (%llu bytes) cut off, saved as %s",
			    j->path, (unsigned long long)good, (unsigned long long)(size - good), aside);
		free(aside);
	}
	j->written = good;
	free(dir);
	*jp = j;
	return VJ_OK;
fatal:
	free(dir);
	journal_close(j);
	return VJ_EFATAL;
}

int
journal_append(struct journal *j, const char *json, size_t len, uint64_t *off)
{
	char hdr[10];
	if (memchr(json, '\n', len)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(hdr, sizeof hdr, "%08x ", crc32c(0, json, len));
	if (off)
		*off = j->written + j->pend.len;
	buf_add(&j->pend, hdr, 9);
	buf_add(&j->pend, json, len);
	buf_add(&j->pend, "\n", 1);
	if (j->mode == JL_FSYNC_ALWAYS)
		return journal_commit(j);
	return 0;
}

int
journal_commit(struct journal *j)
{
	if (j->pend.len == 0)
		return 0;
	if (write_all(j->fd, j->pend.p, j->pend.len) < 0 ||
	    (j->mode != JL_FSYNC_NEVER && fdatasync(j->fd) < 0)) {
		int e = errno;
		/* Leave no torn line behind: back to the last good length. */
		if (ftruncate(j->fd, (off_t)j->written) < 0) {
			/* the torn tail is cut on the next open */
		}
		errno = e;
		return -1;
	}
	j->written += j->pend.len;
	j->pend.len = 0;
	return 0;
}

int
journal_commit_upto(struct journal *j, size_t n)
{
	if (n >= j->pend.len)
		return journal_commit(j);
	if (n == 0)
		return 0;
	if (write_all(j->fd, j->pend.p, n) < 0 ||
	    (j->mode != JL_FSYNC_NEVER && fdatasync(j->fd) < 0)) {
		int e = errno;
		if (ftruncate(j->fd, (off_t)j->written) < 0) {
			/* the torn tail is cut on the next open */
		}
		errno = e;
		return -1;
	}
	j->written += n;
	memmove(j->pend.p, j->pend.p + n, j->pend.len - n);
	j->pend.len -= n;
	return 0;
}

size_t
journal_pending(const struct journal *j)
{
	return j->pend.len;
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

static json_t *
parse_line(const char *line, size_t len)
{
	if (journal_check_line(line, len) < 0)
		return NULL;
	return json_loadb(line + 9, len - 9, 0, NULL);
}

/* pread the line at off. */
static json_t *
get_at(int fd, uint64_t off)
{
	struct buf b = {0};
	json_t *v = NULL;
	for (;;) {
		buf_grow(&b, 65536);
		ssize_t r = pread(fd, b.p + b.len, 65536, (off_t)(off + b.len));
		if (r <= 0)
			break;
		size_t from = b.len;
		b.len += (size_t)r;
		char *nl = memchr(b.p + from, '\n', (size_t)r);
		if (nl) {
			v = parse_line(b.p, (size_t)(nl - b.p));
			break;
		}
	}
	buf_free(&b);
	return v;
}

json_t *
journal_get(struct journal *j, uint64_t off)
{
	if (off >= j->written) {
		size_t o = (size_t)(off - j->written);
		if (o >= j->pend.len)
			return NULL;
		char *nl = memchr(j->pend.p + o, '\n', j->pend.len - o);
		return nl ? parse_line(j->pend.p + o, (size_t)(nl - (j->pend.p + o))) : NULL;
	}
	return get_at(j->fd, off);
}

int
journal_close(struct journal *j)
{
	int r = 0;
	if (!j)
		return 0;
	if (j->fd >= 0) {
		r = journal_commit(j);
		close(j->fd);
	}
	if (j->lockfd >= 0)
		close(j->lockfd);   /* releases the flock */
	buf_free(&j->pend);
	free(j->path);
	free(j->lockpath);
	free(j);
	return r;
}

void
journal_abandon(struct journal *j)
{
	if (j)
		j->pend.len = 0;
	journal_close(j);
}

struct jreader *
jreader_open(const char *run, const char *stage)
{
	struct jreader *r = xcalloc(1, sizeof *r);
	r->path = xasprintf("%s/journal/%s.log", run, stage);
	r->fd = -1;
	return r;
}

int
jreader_poll(struct jreader *r, jl_cb cb, void *ctx, char *err, size_t errlen)
{
	struct buf b = {0};
	int rc = 0;

	if (r->fd < 0) {
		r->fd = safefs_open(r->path, O_RDONLY, 0);
		if (r->fd < 0)
			return errno == ENOENT ? 0 : (snprintf(err, errlen, "cannot open %s: %s",
			    r->path, safefs_why(errno)), -1);
	}
	uint64_t rd = r->off;
	for (;;) {
		buf_grow(&b, CHUNK);
		ssize_t n = pread(r->fd, b.p + b.len, CHUNK, (off_t)rd);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot read %s: %s", r->path, strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		rd += (uint64_t)n;
		b.len += (size_t)n;
		size_t used;
		int s = scan(b.p, b.len, r->off, cb, ctx, &used);
		r->off += used;
		memmove(b.p, b.p + used, b.len - used);
		b.len -= used;
		if (s == 2)
			break;
		if (s == 1) {
			/* A bad last line may be a write in progress; one with good
			 * lines after it is corruption. */
			if (count_after(r->fd, r->off, 1)) {
				snprintf(err, errlen, "%s: corrupt record at byte offset %llu",
				    r->path, (unsigned long long)r->off);
				rc = -1;
			}
			break;
		}
	}
	buf_free(&b);
	return rc;
}

json_t *
jreader_get(struct jreader *r, uint64_t off)
{
	if (r->fd < 0)
		return NULL;
	return get_at(r->fd, off);
}

uint64_t
jreader_offset(const struct jreader *r)
{
	return r->off;
}

void
jreader_seek(struct jreader *r, uint64_t off)
{
	r->off = off;
}

const char *
jreader_path(const struct jreader *r)
{
	return r->path;
}

void
jreader_close(struct jreader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r);
}

static int
count_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

int
journal_verify(const char *path, uint64_t *nlines, uint64_t *bad_off, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t good, size;
	*nlines = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = replay(fd, 0, count_cb, nlines, &good, &size);
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (good < size) {
		*bad_off = good;
		snprintf(err, errlen, "%s: %s at byte offset %llu", path,
		    rc == 1 ? "corrupt record" : "torn last record", (unsigned long long)good);
		return -1;
	}
	return 0;
}

uint64_t
journal_size(const struct journal *j)
{
	return j->written + j->pend.len;
}

struct notjson {
	uint64_t n, first;
};

static int
notjson_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	struct notjson *nj = ctx;
	if (!jscan_valid(json, len) && nj->n++ == 0)
		nj->first = off;
	return 0;
}

int
journal_notjson(const char *path, uint64_t *count, uint64_t *first)
{
	struct notjson nj = { 0, 0 };
	uint64_t good, size;
	int fd = safefs_open(path, O_RDONLY, 0);
	*count = *first = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	int rc = replay(fd, 0, notjson_cb, &nj, &good, &size);
	close(fd);
	*count = nj.n;
	*first = nj.first;
	return rc < 0 ? -1 : 0;
}
