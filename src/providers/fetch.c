/* fetch: images into the object store. */
#include "providers/fetch.h"
#include "content/img.h"
#include "core/store.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/idx.h"

/* The file is still the one we read (no writer changed it meanwhile). */
static int
fstat_ok(int fd, struct stat *st, size_t n)
{
	return fstat(fd, st) == 0 && (size_t)st->st_size == n;
}

static const char *
kind_of(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
	    S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

/* Is the file open on FD below DIR?  Judged by the path the kernel
 * opened, after every symbolic link and "..", not by what the manifest
 * wrote. */
static int
under(int fd, const char *path, const char *dir)
{
	char proc[64], real[PATH_MAX];
	ssize_t n;
	size_t dl = strlen(dir);

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	n = readlink(proc, real, sizeof real - 1);
	if (n > 0)
		real[n] = '\0';
	else if (!realpath(path, real))    /* no /proc: the path as resolved now */
		return 0;
	if (dl == 1 && dir[0] == '/')
		return 1;
	return strncmp(real, dir, dl) == 0 && real[dl] == '/';
}

/* Errors worth another try: the system, not the file. */
static enum eng_class
io_class(int err)
{
	return err == EINTR || err == EAGAIN || err == EIO || err == ENFILE || err == EMFILE ||
	    err == ENOMEM || err == ETIMEDOUT || err == ESTALE ? EC_RETRY : EC_PERM;
}

/* A local file a manifest names: opened without blocking (a FIFO would
 * stall the stage), a regular file only, below --files-under when given,
 * no larger than the cap, read within DEADLINE (mono ms).  Ctrl-C or a
 * slow disk leave the job retryable.  NULL with e set. */
static char *
read_local(const struct fetch_ctx *c, const char *path, int64_t deadline, size_t *len,
    struct stat *st, struct eng_err *e)
{
	struct buf b = {0};
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), err;

	if (fd < 0) {
		err = errno;
		eng_seterr(e, io_class(err), "cannot read %s: %s", path, strerror(err));
		return NULL;
	}
	if (fstat(fd, st) < 0) {
		err = errno;
		eng_seterr(e, io_class(err), "cannot read %s: %s", path, strerror(err));
		goto bad;
	}
	if (!S_ISREG(st->st_mode)) {
		eng_seterr(e, EC_PERM, "%s is %s, not a regular file: not read", path,
		    kind_of(st->st_mode));
		goto bad;
	}
	if (c->files_under && !under(fd, path, c->files_under)) {
		eng_seterr(e, EC_PERM, "%s is not under %s (--files-under): not read", path,
		    c->files_under);
		goto bad;
	}
	if (c->max_bytes && (size_t)st->st_size > c->max_bytes) {
		eng_seterr(e, EC_PERM, "%s: larger than the cap of %zu bytes (--max-bytes)", path,
		    c->max_bytes);
		goto bad;
	}
	for (;;) {
		if (mono_ms() > deadline) {
			eng_seterr(e, EC_RETRY, "reading %s took too long (timeout)", path);
			goto bad;
		}
		buf_grow(&b, 1 << 16);
		ssize_t r = read(fd, b.p + b.len, b.cap - b.len - 1);
		if (r < 0) {
			err = errno;
			if (err == EINTR)
				continue;       /* the deadline above still holds */
			eng_seterr(e, io_class(err), "cannot read %s: %s", path, strerror(err));
			goto bad;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		if (c->max_bytes && b.len > c->max_bytes) {
			eng_seterr(e, EC_PERM, "%s: larger than the cap of %zu bytes (--max-bytes)", path,
			    c->max_bytes);
			goto bad;
		}
	}
	if (!fstat_ok(fd, st, b.len))
		st->st_ino = 0;         /* changed while read: not remembered */
	close(fd);
	buf_grow(&b, 0);
	b.p[b.len] = '\0';
	*len = b.len;
	return b.p;
bad:
	buf_free(&b);
	close(fd);
	return NULL;
}

/* A manifest often names the same local file for many jobs: remember what
 * each file (by device, inode, size and mtime) stored as, so it is read and
 * hashed once per process, not once per job. */
struct memo_ent {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int64_t checked;      /* mono ms of the last stat that matched */
	json_t *image;
};

struct fetch_memo {
	struct idx *paths;
	struct memo_ent *e;
	uint32_t n, cap;
};

/* A file looked at less than a second ago is taken as unchanged: a stat
 * per job is a tenth of ingest's time on a million-line manifest. */
static json_t *
memo_get(struct fetch_ctx *c, const char *path)
{
	struct stat stb, *st = &stb;
	if (!c->memo)
		return NULL;
	int64_t slot = idx_get(c->memo->paths, path, strlen(path), 0);
	if (slot < 0)
		return NULL;
	struct memo_ent *m = &c->memo->e[slot];
	int64_t now = mono_ms();
	if (now - m->checked < 1000)
		return m->image;
	if (stat(path, st) < 0)
		return NULL;
	if (m->dev != st->st_dev || m->ino != st->st_ino || m->size != st->st_size ||
	    m->mtime.tv_sec != st->st_mtim.tv_sec || m->mtime.tv_nsec != st->st_mtim.tv_nsec)
		return NULL;
	m->checked = now;
	return m->image;
}

static void
memo_put(struct fetch_ctx *c, const char *path, const struct stat *st, json_t *image)
{
	if (!c->memo) {
		c->memo = xcalloc(1, sizeof *c->memo);
		c->memo->paths = idx_new();
	}
	struct fetch_memo *mm = c->memo;
	int64_t slot = idx_get(mm->paths, path, strlen(path), 1);
	if ((uint32_t)slot >= mm->cap) {
		uint32_t cap = mm->cap ? mm->cap * 2 : 256;
		mm->e = xrealloc(mm->e, cap * sizeof *mm->e);
		memset(mm->e + mm->cap, 0, (cap - mm->cap) * sizeof *mm->e);
		mm->cap = cap;
	}
	struct memo_ent *m = &mm->e[slot];
	json_decref(m->image);
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->size = st->st_size;
	m->mtime = st->st_mtim;
	m->checked = mono_ms();
	m->image = json_incref(image);
}

void
fetch_free(struct fetch_ctx *c)
{
	if (!c->memo)
		return;
	for (uint32_t i = 0; i < c->memo->cap; i++)
		json_decref(c->memo->e[i].image);
	free(c->memo->e);
	idx_free(c->memo->paths);
	free(c->memo);
	c->memo = NULL;
}

/* Check the bytes, store them, describe them.  The caller says where they
 * came from in messages.  An image cut short is retried when it came over
 * HTTP (REMOTE): a connection closed early, with no Content-Length to
 * tell, looks just like that.  A local file is what it is. */
static int
keep(struct fetch_ctx *c, const char *p, size_t n, int remote, json_t **result, struct eng_err *e)
{
	struct img_info ii;
	char why[256], sha[65];
	int whole;

	if (img_sniff((const unsigned char *)p, n, &ii, why, sizeof why) < 0) {
		eng_seterr(e, EC_PERM, "%s", why);
		return -1;
	}
	if ((whole = img_check((const unsigned char *)p, n, &ii, why, sizeof why)) != IMG_WHOLE) {
		eng_seterr(e, whole == IMG_CUT && remote ? EC_RETRY : EC_PERM, "%s", why);
		return -1;
	}
	if ((c->batch ? store_add(c->batch, p, n, sha) : store_put(c->run, p, n, sha)) < 0) {
		/* a full disk or an I/O error is the run's problem, not the job's */
		eng_seterr(e, EC_FATAL, "cannot store the image in %s/objects: %s", c->run, safefs_why(errno));
		return -1;
	}
	/* width and height as displayed; orientation only when the file turns
	 * or mirrors its pixels for display (docs/journal.md) */
	*result = json_pack("{s:{s:s, s:s, s:s, s:I, s:i, s:i}}", "image", "sha256", sha,
	    "mime", ii.mime, "ext", ii.ext, "bytes", (json_int_t)n, "width", ii.width,
	    "height", ii.height);
	if (ii.orientation != 1)
		json_object_set_new(json_object_get(*result, "image"), "orientation",
		    json_integer(ii.orientation));
	return 0;
}

static int
fetch_build(void *pctx, struct eng_task *t, struct eng_http *h, json_t **result, struct eng_err *e)
{
	struct fetch_ctx *c = pctx;
	const char *url = json_string_value(json_object_get(json_object_get(t->rec, "job"), "imageUrl"));
	if (!url) {
		eng_seterr(e, EC_PERM, "record has no job.imageUrl");
		return -1;
	}
	if (!strncmp(url, "file://", 7)) {
		size_t n;
		const char *path = url + 7;
		struct stat st;
		json_t *img;
		if (c->no_local_files) {
			eng_seterr(e, EC_PERM, "%s is a local file, and local files are not read "
			    "(--no-local-files)", path);
			return -1;
		}
		/* stored by this process, under the lock: no need to look again */
		if ((img = memo_get(c, path))) {
			*result = json_pack("{s:O}", "image", img);
			return 1;
		}
		int64_t deadline = t->deadline;
		if (c->timeout > 0 && mono_ms() + (int64_t)(c->timeout * 1000) < deadline)
			deadline = mono_ms() + (int64_t)(c->timeout * 1000);
		char *p = read_local(c, path, deadline, &n, &st, e);
		if (!p)
			return -1;
		int r = keep(c, p, n, 0, result, e);
		if (r == 0 && st.st_ino)
			memo_put(c, path, &st, json_object_get(*result, "image"));
		if (r < 0 && e->cls == EC_PERM) {
			size_t l = strlen(e->msg);
			snprintf(e->msg + l, sizeof e->msg - l, " (%s)", path);
		}
		free(p);
		return r < 0 ? -1 : 1;
	}
	h->url = xstrdup(url);
	h->deny_private = c->deny_private;
	h->max_redirects = c->max_redirects;
	h->max_bytes = c->max_bytes;
	h->low_speed_time = 30;
	return 0;
}

static int
fetch_parse(void *pctx, struct eng_task *t, const struct eng_resp *r, json_t **result, json_t **usage,
    struct eng_err *e)
{
	struct fetch_ctx *c = pctx;
	long s = r->status;
	if (s == 200 || s == 203) {
		if (keep(c, r->body, r->len, 1, result, e) < 0) {
			if (e->cls == EC_PERM && r->content_type) {
				size_t l = strlen(e->msg);
				snprintf(e->msg + l, sizeof e->msg - l, " (served as %s)", r->content_type);
			}
			return -1;
		}
		return 0;
	}
	if (s == 408 || s == 425 || s == 429 || s >= 500)
		eng_seterr(e, EC_RETRY, "HTTP %ld from the image server", s);
	else
		eng_seterr(e, EC_PERM, "HTTP %ld from the image server", s);
	e->retry_after = r->retry_after;
	return -1;
}

const struct provider fetch_provider = {
	.name = "fetch",
	.build = fetch_build,
	.parse = fetch_parse,
};
