/* check: vj-status --check and --repair.  The check reads every journal
 * through the journal's own verifier, every object through the store, and
 * every ingest done's image; the repair has the stage's own journal_open
 * (via run_own) cut a journal at its first bad record, after a backup. */
#include "stages/check.h"
#include "base/hash.h"
#include "base/jscan.h"
#include "core/store.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- --check ------------------------------------------------------- */

struct check {
	const char *run;
	int verbose;
	unsigned problems;
	uint64_t records, objects, object_bytes, images;
};

#define SHOW_PROBLEMS 50

/* Print a problem; past SHOW_PROBLEMS (a store gone missing makes one per
 * job) only count them, unless -v. */
static void __attribute__((format(printf, 2, 3)))
problem(struct check *c, const char *fmt, ...)
{
	va_list ap;
	if (c->problems++ >= SHOW_PROBLEMS && c->verbose <= 0)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int
verify_stage(struct check *c, int s)
{
	char *path = xasprintf("%s/journal/%s.log", c->run, stage_name[s]);
	char err[1024] = "";
	uint64_t n = 0, bad = 0;
	struct stat st;
	int rc = journal_verify(path, &n, &bad, err, sizeof err);

	/* a running stage may be caught mid-write: look again before blaming it */
	if (rc < 0 && journal_holder(c->run, stage_name[s]) && journal_valid_after(path, bad) == 0) {
		poll(NULL, 0, 300);
		rc = journal_verify(path, &n, &bad, err, sizeof err);
	}
	c->records += n;
	uint64_t nj = 0, njoff = 0;
	if (rc == 0 && journal_notjson(path, &nj, &njoff) == 0 && nj) {
		problem(c, "%s:%llu: a record that is not valid JSON though its checksum is right "
		    "(%llu such records); the fold ignores them, so their jobs stay pending",
		    path, (unsigned long long)njoff, (unsigned long long)nj);
		rc = -1;
	} else if (rc == 0) {
		if (c->verbose > 0 && stat(path, &st) == 0)
			printf("%s: %llu records ok\n", path, (unsigned long long)n);
	} else if (!err[0] || stat(path, &st) < 0) {
		problem(c, "%s", err);
	} else {
		uint64_t after = journal_valid_after(path, bad);
		if (after)
			problem(c, "%s:%llu: corrupt record (%llu valid records follow it); "
			    "'vj-status --repair %s' cuts the journal there after a backup", path,
			    (unsigned long long)bad, (unsigned long long)after, stage_name[s]);
		else
			problem(c, "%s:%llu: torn last record (%llu bytes); the next vj-%s cuts it off",
			    path, (unsigned long long)bad, (unsigned long long)((uint64_t)st.st_size - bad),
			    stage_name[s]);
	}
	free(path);
	return rc;
}


static void
check_object(struct check *c, const char *sub, const char *name)
{
	char sha[65], *path = xasprintf("%s/objects/%s/%s", c->run, sub, name);
	size_t len;

	if (strncmp(name, ".tmp.", 5) == 0) {
		/* a write that crashed before its rename: garbage, not damage */
		if (c->verbose > 0)
			printf("%s: leftover temporary file\n", path);
	} else if (strlen(name) != 62 || !hex_lower(name, 62)) {
		problem(c, "%s: not an object (name is not a sha256)", path);
	} else {
		memcpy(sha, sub, 2);
		memcpy(sha + 2, name, 62);
		sha[64] = 0;
		char *p = store_get(c->run, sha, &len);
		if (p) {
			c->objects++;
			c->object_bytes += len;
		} else if (errno == EILSEQ) {
			problem(c, "%s: content does not match its sha256 name", path);
		} else {
			problem(c, "%s: cannot read: %s", path, strerror(errno));
		}
		free(p);
	}
	free(path);
}

static void
check_objects(struct check *c)
{
	char *top = xasprintf("%s/objects", c->run);
	DIR *d = opendir(top), *sd;
	struct dirent *e, *f;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", top, e->d_name);
		if (strlen(e->d_name) != 2 || !hex_lower(e->d_name, 2) || !(sd = opendir(sub))) {
			problem(c, "%s: not an object directory", sub);
			free(sub);
			continue;
		}
		while ((f = readdir(sd)))
			if (strcmp(f->d_name, ".") && strcmp(f->d_name, ".."))
				check_object(c, e->d_name, f->d_name);
		closedir(sd);
		free(sub);
	}
	if (!d && errno != ENOENT)
		problem(c, "%s: cannot read: %s", top, strerror(errno));
	if (d)
		closedir(d);
	free(top);
}

struct imgscan {
	struct check *c;
	const char *path;
};

/* Every ingest done names the object holding its image: it must be there. */
static int
image_cb(void *ctx, const char *json, size_t len, uint64_t off)
{
	static const char *const keys[] = { "ev", "id", "image" };
	static const char *const ikeys[] = { "sha256", "bytes" };
	struct imgscan *is = ctx;
	struct jval v[3], iv[2];
	char sha[65];

	if (jscan(json, len, keys, v, 3) < 0 || !jval_is(&v[0], "done"))
		return 0;
	is->c->images++;
	if (v[2].type != 'o' || jscan(v[2].p, v[2].len, ikeys, iv, 2) < 0 ||
	    iv[0].type != 's' || iv[0].len != 64 || (memcpy(sha, iv[0].p, 64), sha[64] = 0, !hex_lower(sha, 64))) {
		problem(is->c, "%s:%llu: job %.*s: done without an image sha256", is->path,
		    (unsigned long long)off, (int)v[1].len, v[1].p);
		return 0;
	}
	int64_t want = jval_int(&iv[1], -1);
	char *obj = store_path(is->c->run, sha);
	struct stat st;
	if (stat(obj, &st) < 0)
		problem(is->c, "%s:%llu: job %.*s: image object %s is missing", is->path,
		    (unsigned long long)off, (int)v[1].len, v[1].p, sha);
	else if (want >= 0 && st.st_size != want)
		problem(is->c, "%s:%llu: job %.*s: image object %s has %lld bytes, the journal says %lld",
		    is->path, (unsigned long long)off, (int)v[1].len, v[1].p, sha,
		    (long long)st.st_size, (long long)want);
	free(obj);
	return 0;
}

static void
check_images(struct check *c)
{
	char err[1024] = "";
	struct jreader *rd = jreader_open(c->run, stage_name[ST_INGEST]);
	struct imgscan is = { c, jreader_path(rd) };
	/* a corrupt line stops the scan; verify_stage has reported it */
	jreader_poll(rd, image_cb, &is, err, sizeof err);
	jreader_close(rd);
}

int
check_run(const struct status_opt *o)
{
	struct check c = { o->run, o->verbose, 0, 0, 0, 0, 0 };
	char b[32];
	if (!status_run_exists(o->run))
		return VJ_EUSAGE;
	for (int s = 0; s < ST_N; s++)
		verify_stage(&c, s);
	check_objects(&c);
	check_images(&c);
	status_fmt_bytes(c.object_bytes, b, sizeof b);
	if (!o->quiet || c.problems) {
		printf("check %s: %llu journal records, %llu objects (%s), %llu images: ",
		    o->run, (unsigned long long)c.records, (unsigned long long)c.objects, b,
		    (unsigned long long)c.images);
		if (!c.problems)
			printf("ok\n");
		else
			printf("%u problem%s\n", c.problems, c.problems == 1 ? "" : "s");
		if (c.problems > SHOW_PROBLEMS && o->verbose <= 0)
			printf("(only the first %d shown; -v shows all)\n", SHOW_PROBLEMS);
	}
	return c.problems ? VJ_EFATAL : VJ_OK;
}

/* ---- --repair ------------------------------------------------------ */

/* The journal's side files (STAGE.log.*: backups, torn tails).  First call
 * records them in *seen; the second prints those that are new, which are
 * what journal_open saved (their naming is its business, not ours). */
static void
list_backups(const char *run, const char *stage, struct buf *seen, int print)
{
	char *dir = xasprintf("%s/journal", run), *pre = xasprintf("%s.log.", stage);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, pre, strlen(pre)) != 0)
			continue;
		char *key = xasprintf("/%s/", e->d_name);
		if (!print)
			buf_adds(seen, key);
		else if (!seen->p || !strstr(seen->p, key))
			printf("the original is saved as %s/%s\n", dir, e->d_name);
		free(key);
	}
	if (d)
		closedir(d);
	free(dir);
	free(pre);
}

int
check_repair(const struct status_opt *o, const char *stage)
{
	int s = status_stage_parse(stage), rc;
	char err[1024] = "", *path;
	struct buf before = {0};
	uint64_t n = 0, bad = 0, after;
	struct stat st;
	long pid;

	if (s < 0) {
		vj_warn("--repair: unknown stage '%s' (ingest, analyze, generate or pack)", stage);
		return VJ_EUSAGE;
	}
	if (!status_run_exists(o->run))
		return VJ_EUSAGE;
	path = xasprintf("%s/journal/%s.log", o->run, stage);
	if (stat(path, &st) < 0) {
		printf("%s: no journal, nothing to repair\n", path);
		free(path);
		return VJ_OK;
	}
	if ((pid = journal_holder(o->run, stage))) {
		vj_warn("stage %s is running (pid %ld): stop it before repairing its journal", stage, pid);
		free(path);
		return VJ_ETEMP;
	}
	if (journal_verify(path, &n, &bad, err, sizeof err) == 0) {
		printf("%s: %llu records, clean: nothing to repair\n", path, (unsigned long long)n);
		free(path);
		return VJ_OK;
	}
	after = journal_valid_after(path, bad);
	list_backups(o->run, stage, &before, 0);
	/* run_own takes the lock (so no stage can start meanwhile), saves the
	 * original aside and cuts the journal at the first bad record */
	struct run *r = run_new(o->run);
	rc = run_own(r, (enum stage)s, JL_FSYNC_ALWAYS, 1, err, sizeof err);
	if (rc != VJ_OK) {
		vj_warn("%s", err);
	} else {
		printf("%s: cut at byte offset %llu: kept %llu records, dropped %llu bytes "
		    "(the bad record and %llu valid records after it)\n",
		    path, (unsigned long long)bad, (unsigned long long)n,
		    (unsigned long long)((uint64_t)st.st_size - bad), (unsigned long long)after);
		list_backups(o->run, stage, &before, 1);
		if (after)
			printf("the jobs whose records were dropped are done again by the next vj-%s\n", stage);
	}
	run_free(r);
	buf_free(&before);
	free(path);
	return rc;
}
