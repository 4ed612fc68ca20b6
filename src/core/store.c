/* store: content-addressed objects, RUN/objects/ab/cdef...  An object's name
 * is its sha256, so whoever reads one can check it, and a damaged one is
 * replaced when the same bytes are stored again.  Nothing here follows a
 * symbolic link: the store may sit in a directory others can see. */
#include "core/store.h"
#include "base/hash.h"
#include "base/safefs.h"
#include "base/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
store_path(const char *run, const char *sha)
{
	return xasprintf("%s/objects/%.2s/%s", run, sha, sha + 2);
}

int
store_has(const char *run, const char *sha, size_t n)
{
	char *p = store_path(run, sha);
	struct stat st;
	int r = lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == n;
	free(p);
	return r;
}

/* 1 when the object at path holds exactly the bytes whose hash is sha. */
static int
object_good(const char *path, const char *sha)
{
	int fd = safefs_open(path, O_RDONLY, 0);
	if (fd < 0)
		return 0;
	char got[65];
	int r = sha256_fd_hex(fd, got, NULL) == 0 && strcmp(got, sha) == 0;
	close(fd);
	return r;
}

/* One object written and not yet durable. */
struct pend {
	char sha[65];
	int fd;               /* open until the sweep: fdatasync needs it */
	char *tmp, *path;
};

/* Objects made durable together, and the directories to fsync with them. */
struct group {
	struct pend *p;
	int n, cap;
	unsigned char dirty[256];   /* objects/XX whose entries are to be fsynced */
	int err;                    /* errno of the step that failed; 0 ok */
};

struct store_batch {
	char *run;
	int max_n, nosync;
	size_t max_bytes, bytes;
	struct group cur;           /* being added to */
	struct group fly;           /* being synced on its own thread */
	pthread_t th;
	int flying;
	atomic_int landed;          /* set by the thread when its group is done */
	int failed;                 /* errno of a sync that failed: sticky, since
	                             * results naming its objects may be queued */
};

struct store_batch *
store_batch_new(const char *run, int max_n, size_t max_bytes, int nosync)
{
	struct store_batch *b = xcalloc(1, sizeof *b);
	b->run = xstrdup(run);
	b->max_n = max_n > 0 ? max_n : 1;
	b->max_bytes = max_bytes;
	b->nosync = nosync;
	return b;
}

int
store_batch_count(const struct store_batch *b)
{
	return b->cur.n + b->fly.n;
}

static int
hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static int
dir_of(const char *sha)
{
	return hexval(sha[0]) << 4 | hexval(sha[1]);
}

/* Forget a group; the temporaries from index from on (not renamed) are
 * nobody's and go. */
static void
group_clear(struct group *g, int from)
{
	for (int i = from; i < g->n; i++) {
		if (g->p[i].fd >= 0)
			close(g->p[i].fd);
		unlink(g->p[i].tmp);
	}
	for (int i = 0; i < g->n; i++) {
		free(g->p[i].tmp);
		free(g->p[i].path);
	}
	g->n = 0;
	g->err = 0;
	memset(g->dirty, 0, sizeof g->dirty);
}

/* Make a group durable: 0, or -1 with g->err.  What was not renamed is
 * removed; names are left for group_clear to free (the adding thread may
 * be reading them). */
static int
group_sync(const char *run, int nosync, struct group *g)
{
	int i, e;
	/* 1. data: one sweep.  Writeback of each began when it was added, so
	 * most of these find their pages written; on a journaling filesystem
	 * the first one also commits the others' allocations.  Not syncfs:
	 * the store's filesystem is usually shared with everything else on
	 * the machine, whose dirty pages are not ours to wait for. */
	for (i = 0; !nosync && i < g->n; i++)
		if (fdatasync(g->p[i].fd) < 0) {
			i = 0;       /* nothing renamed: every temporary goes */
			goto fail;
		}
	/* 2. names: renamed only once durable, so an object under its final
	 * name is always whole, whatever crashes */
	for (i = 0; i < g->n; i++) {
		int fd = g->p[i].fd;
		g->p[i].fd = -1;
		if (close(fd) < 0 || rename(g->p[i].tmp, g->p[i].path) < 0)
			goto fail;   /* those before i are in place, not yet durable */
		g->dirty[dir_of(g->p[i].sha)] = 1;
	}
	i = g->n;
	/* 3. the directories: one fsync each */
	for (int d = 0; d < 256; d++) {
		if (!g->dirty[d])
			continue;
		char *dir = xasprintf("%s/objects/%02x", run, d);
		int r = nosync ? 0 : fsync_dir(dir);
		e = errno;
		free(dir);
		if (r < 0) {
			errno = e;
			goto fail;
		}
	}
	return 0;
fail:
	g->err = errno ? errno : EIO;
	for (int k = i; k < g->n; k++) {
		if (g->p[k].fd >= 0)
			close(g->p[k].fd);
		g->p[k].fd = -1;
		unlink(g->p[k].tmp);
	}
	return -1;
}

static void *
sync_thread(void *arg)
{
	struct store_batch *b = arg;
	group_sync(b->run, b->nosync, &b->fly);
	atomic_store(&b->landed, 1);
	return NULL;
}

/* Wait for the group on the sync thread; its failure becomes the batch's. */
static int
collect(struct store_batch *b)
{
	if (b->flying) {
		pthread_join(b->th, NULL);
		b->flying = 0;
		if (b->fly.err && !b->failed)
			b->failed = b->fly.err;
		b->fly.err = 0;
		group_clear(&b->fly, b->fly.n);
	}
	if (b->failed) {
		errno = b->failed;
		return -1;
	}
	return 0;
}

int
store_sync(struct store_batch *b)
{
	if (collect(b) < 0)
		return -1;
	if (group_sync(b->run, b->nosync, &b->cur) < 0)
		b->failed = b->cur.err;
	group_clear(&b->cur, b->cur.n);
	b->bytes = 0;
	if (b->failed) {
		errno = b->failed;
		return -1;
	}
	return 0;
}

int
store_sync_start(struct store_batch *b, int wait)
{
	/* the loop does not wait for the disk while it can receive instead */
	if (b->flying && !wait && !atomic_load(&b->landed))
		return 1;
	if (collect(b) < 0)
		return -1;
	int any = b->cur.n > 0;
	for (int d = 0; !any && d < 256; d++)
		any = b->cur.dirty[d];
	if (!any)
		return 0;
	/* the group moves to the thread; a new one starts empty */
	struct group g = b->fly;
	b->fly = b->cur;
	b->cur = g;
	b->bytes = 0;
	atomic_store(&b->landed, 0);
	if (pthread_create(&b->th, NULL, sync_thread, b) != 0) {
		/* no thread: synced here, as store_sync would */
		if (group_sync(b->run, b->nosync, &b->fly) < 0)
			b->failed = b->fly.err;
		group_clear(&b->fly, b->fly.n);
		if (b->failed) {
			errno = b->failed;
			return -1;
		}
		return 0;
	}
	b->flying = 1;
	return 0;
}

int
store_add(struct store_batch *b, const void *buf, size_t n, char sha[65])
{
	char err[512];
	if (b->failed) {
		errno = b->failed;
		return -1;
	}
	/* the bytes are hashed where they lie, once: in memory, as received */
	sha256_hex(buf, n, sha);
	/* the same image twice in a group, or once in the group being synced
	 * (which is durable before the next sync returns) */
	for (int i = 0; i < b->cur.n; i++)
		if (!strcmp(b->cur.p[i].sha, sha))
			return 0;
	for (int i = 0; b->flying && i < b->fly.n; i++)
		if (!strcmp(b->fly.p[i].sha, sha))
			return 0;
	char *dir = xasprintf("%s/objects/%.2s", b->run, sha);
	char *path = store_path(b->run, sha);
	/* temporaries live in one place, so a crashed writer's leftovers are
	 * found without walking the store (store_clean) */
	char *tdir = xasprintf("%s/objects/.tmp", b->run);
	char *tmp = xasprintf("%s/%ld.%s", tdir, (long)getpid(), sha);
	int fd = -1, r = -1, e;
	if (store_has(b->run, sha, n)) {
		/* The right size is not the right bytes: check, and replace a
		 * damaged object with the bytes we were given. */
		if (object_good(path, sha)) {
			/* whole, since only durable bytes are renamed; but a writer
			 * killed before its directory fsync may have left the name
			 * itself not durable: it is fsynced with this group */
			b->cur.dirty[dir_of(sha)] = 1;
			r = b->max_n == 1 ? store_sync(b) : 0;
			goto out;
		}
		vj_warn("object store damaged: %s does not hold the bytes its name says; "
		    "replaced by the ones just stored", path);
	}
	if (mkdir_p(tdir, 0755) < 0 || safefs_dir(tdir, NULL, err, sizeof err) < 0 ||
	    safefs_mkdir(dir, err, sizeof err) < 0)
		goto out;
	unlink(tmp);   /* our own leftover from an earlier attempt, never followed */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	if (write_all(fd, buf, n) < 0)
		goto out;
#ifdef SYNC_FILE_RANGE_WRITE
	/* start the writeback now, while the network keeps the loop busy:
	 * the sweep then mostly waits for nothing */
	if (!b->nosync)
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	struct group *g = &b->cur;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->p = xrealloc(g->p, (size_t)g->cap * sizeof *g->p);
	}
	struct pend *pe = &g->p[g->n++];
	memcpy(pe->sha, sha, 65);
	pe->fd = fd;
	pe->tmp = tmp;
	pe->path = path;
	tmp = path = NULL;
	fd = -1;
	b->bytes += n;
	r = 0;
	/* a full group: one object alone is synced here (--fsync always);
	 * a larger one goes to the sync thread, after the one before it */
	if (b->max_n == 1)
		r = store_sync(b);
	else if (g->n >= b->max_n || (b->max_bytes && b->bytes >= b->max_bytes))
		r = store_sync_start(b, 1);
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (r < 0 && tmp)
		unlink(tmp);
	free(dir);
	free(tdir);
	free(path);
	free(tmp);
	errno = e;
	return r;
}

void
store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	collect(b);
	group_clear(&b->cur, 0);
	free(b->cur.p);
	free(b->fly.p);
	free(b->run);
	free(b);
}

int
store_put(const char *run, const void *buf, size_t n, char sha[65])
{
	struct store_batch *b = store_batch_new(run, 1, 0, 0);
	int r = store_add(b, buf, n, sha);
	int e = errno;
	store_batch_free(b);
	errno = e;
	return r;
}

/* A name store_put gives its temporaries: PID.SHA256HEX. */
static int
is_our_tmp(const char *name)
{
	const char *p = name;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '.' && hex_lower(p + 1, 64);
}

void
store_clean(const char *run)
{
	char *tdir = xasprintf("%s/objects/.tmp", run);
	int dfd = open(tdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	struct stat st;
	if (!d && dfd >= 0)
		close(dfd);
	if (d) {
		/* Only regular files named like our own temporaries: whatever else
		 * is there was not put there by vj and is not ours to delete. */
		while ((de = readdir(d))) {
			if (!is_our_tmp(de->d_name))
				continue;
			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
				unlinkat(dfd, de->d_name, 0);
		}
		closedir(d);
	}
	free(tdir);
}

int
store_open(const char *run, char *err, size_t errlen)
{
	char *obj = xasprintf("%s/objects", run);
	char *tdir = xasprintf("%s/objects/.tmp", run);
	int r = safefs_mkdir(obj, err, errlen) < 0 || safefs_mkdir(tdir, err, errlen) < 0 ? -1 : 0;
	free(obj);
	free(tdir);
	if (r == 0)
		store_clean(run);
	return r;
}

char *
store_get(const char *run, const char *sha, size_t *len)
{
	char *path = store_path(run, sha);
	char got[65];
	int fd = safefs_open(path, O_RDONLY, 0);
	char *p = fd >= 0 ? read_fd(fd, len, 0) : NULL;
	int e = errno;
	if (fd >= 0)
		close(fd);
	free(path);
	if (!p) {
		errno = e;
		return NULL;
	}
	sha256_hex(p, *len, got);
	if (strcmp(got, sha) != 0) {
		free(p);
		errno = EILSEQ;
		return NULL;
	}
	return p;
}
