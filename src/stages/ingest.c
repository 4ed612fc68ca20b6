/* ingest: validate manifest lines into jobs and fetch their images, on the
 * shared stage driver with the fetch provider. */
#include "stages/ingest.h"
#include "providers/fetch.h"
#include "base/jarena.h"
#include "content/job.h"
#include "stages/input.h"
#include "stages/partition.h"
#include "stages/stage.h"
#include "core/runid.h"
#include "core/store.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <libgen.h>
#include <malloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ingest {
	const struct ingest_config *conf;
	FILE *rejects;
	char cwd[PATH_MAX];
	char basedir[PATH_MAX];
	const char *basedir_for;     /* the source basedir was computed for */
	struct buf ev;
	struct fetch_ctx *fc;
};

/* Objects are made durable in groups (core/store.h): at each journal
 * commit (every 20 ms at most, stage.c), or sooner when a group holds 64
 * objects or 64 MiB, so a result waits little and memory and open files
 * stay bounded whatever -j is. */
#define GROUP_OBJECTS 64
#define GROUP_BYTES (64u << 20)

static const char *
basedir_of(struct ingest *g, const char *src)
{
	if (!strcmp(src, "<stdin>"))
		return g->cwd;
	if (g->basedir_for != src) {
		char tmp[PATH_MAX + 2];
		if (!realpath(src, tmp)) {
			/* not there (yet): relative to the working directory */
			struct buf b = {0};
			buf_addf(&b, "%s/%s", g->cwd, src);
			memcpy(tmp, b.p, b.len + 1 < sizeof tmp ? b.len + 1 : sizeof tmp);
			tmp[sizeof tmp - 1] = 0;
			buf_free(&b);
		}
		const char *d = dirname(tmp);
		size_t n = strlen(d);
		memcpy(g->basedir, d, n + 1 < sizeof g->basedir ? n + 1 : sizeof g->basedir);
		g->basedir_for = src;
	}
	return g->basedir;
}

/* A line the stage reported as bad: keep it for --rejects. */
static void
ingest_reject(struct stage_state *x, const char *line, size_t len)
{
	struct ingest *g = stage_ctx(x);
	if (g->rejects) {
		fwrite(line, 1, len, g->rejects);
		fputc('\n', g->rejects);
		fflush(g->rejects);
	}
}

/* What the input thread hands over: text, not a JSON tree.  Memory freed
 * on another thread than the one that allocated it is slow (the arenas'
 * locks), and a tree is dozens of allocations. */
struct prepared {
	char *url;            /* the normalised imageUrl */
	char *canon;
	char id[JOB_ID_MAX + 1];
	char key[KEY_HEX + 1];
	char legacy[KEY_HEX + 1];   /* "" unless the image path was relative */
};

static void
prep_free(void *p)
{
	struct prepared *pr = p;
	free(pr->url);
	free(pr->canon);
	free(pr);
}

/* On the input thread: validate and normalise one manifest line. */
static void *
ingest_prepare(void *ctx, const char *line, size_t len, const char *src, char *err, size_t errlen)
{
	struct ingest *g = ctx;
	struct prepared *pr = xcalloc(1, sizeof *pr);
	json_t *job;
	char *canon;
	/* the parse tree lives and dies here: its nodes come from an arena
	 * emptied after the line, and only copies leave */
	jarena_begin();
	if (job_normalize(line, len, basedir_of(g, src), g->conf->strict, &job, &canon, pr->id,
	    pr->key, pr->legacy, err, errlen) < 0) {
		jarena_end();
		free(pr);
		return NULL;
	}
	pr->url = xstrdup(json_string_value(json_object_get(job, "imageUrl")));
	pr->canon = xstrdup(canon);
	json_decref(job);
	jarena_end();
	return pr;
}

/* On the main thread: journal a new job, refuse a different one under a
 * known id. */
static int
ingest_accept(struct stage_state *x, void *prep, const char *line, size_t len, const char *src, long lno,
    json_t **rec, char key[KEY_HEX + 1], char **raw_job)
{
	struct run *r = stage_run(x);
	struct ingest *g = stage_ctx(x);
	const struct ingest_config *c = g->conf;
	struct prepared *pr = prep;
	const char *id = pr->id;

	memcpy(key, pr->key, KEY_HEX + 1);
	if (!part_has(&(struct part){ c->part_k, c->part_n }, id)) {
		prep_free(pr);
		return 1;   /* another machine's part */
	}
	int64_t slot = idx_get(r->ids, id, strlen(id), 1);
	struct jobstate *f = run_job(r, ST_INGEST, (uint32_t)slot);
	uint64_t k[2];
	key_parse(key, k);
	int known = r->job_off && (uint32_t)slot < r->cap && r->job_off[slot] != NO_OFF;
	uint64_t l[2] = { 0, 0 };
	if (*pr->legacy)
		key_parse(pr->legacy, l);
	if (known && *pr->legacy && f->key[0] == l[0] && f->key[1] == l[1]) {
		/* ingested before relative paths were kept: the same job, under
		 * the key its results already carry */
		key_format(f->key, key);
		k[0] = l[0], k[1] = l[1];
	}
	int same = known && f->key[0] == k[0] && f->key[1] == k[1];
	const char *why = NULL;
	if (c->replace && !known)
		why = "--replace: the run holds no job with this id (drop --replace to add it)";
	else if (!c->replace && known && f->state == JS_GONE)
		why = "was withdrawn from this run (vj-ingest --forget); --replace gives it back";
	else if (!c->replace && known && !same)
		why = "already holds a different job in this run (give this one another id, drop the id "
		    "to derive one, or give it with --replace to replace that job)";
	if (why) {
		vj_msg("%s:%ld: id %s: %s", src, lno, id, why);
		ingest_reject(x, line, len);
		prep_free(pr);
		return -1;
	}
	if (!known || !same || f->state == JS_GONE) {
		/* a new job, or a new version of one (--replace): its job event
		 * resets the job's state (core/run.c), and the later stages,
		 * whose keys derive from its key, redo their work */
		if (known)
			vj_info("job %s: replaced by %s:%ld", id, src, lno);
		/* ids and keys need no escaping: [A-Za-z0-9_-] and hex */
		struct fold_hint h = { .ev = 'j', .slot = (uint32_t)slot, .key = key, .t = now_ms() };
		g->ev.len = 0;
		event_job(&g->ev, id, h.t, key, pr->canon, *pr->legacy ? pr->url : NULL);
		if (run_append_hint(r, ST_INGEST, g->ev.p, g->ev.len, &h) < 0) {
			stage_io_error(x, id);
			prep_free(pr);
			return 1;
		}
	}
	/* the record's job holds what fetching needs; it is printed from the
	 * canonical text (raw_job) */
	*rec = json_pack("{s:s, s:{}, s:{s:s}}", "id", id, "keys", "job", "imageUrl", pr->url);
	*raw_job = pr->canon;
	pr->canon = NULL;
	prep_free(pr);
	return 0;
}

/* With the ingest lock held, the object store's temporaries are ours, and
 * the run's partition is checked or recorded before any job is taken,
 * and a run without an id gets one (core/runid.h). */
static int
ingest_start(struct stage_state *x)
{
	struct ingest *g = stage_ctx(x);
	const struct ingest_config *c = g->conf;
	char err[1024], id[RUNID_HEX + 1];
	if (store_open(c->stage.run, err, sizeof err) < 0 ||
	    runid_get(c->stage.run, id, 1, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return -1;
	}
	/* --fsync always journals each result as it comes: each object is then
	 * durable on its own before it; never: nothing is fsynced at all */
	g->fc->batch = store_batch_new(c->stage.run, c->stage.fsync == JL_FSYNC_ALWAYS ? 1 :
	    GROUP_OBJECTS, GROUP_BYTES, c->stage.fsync == JL_FSYNC_NEVER);
	int st = part_bind(stage_run(x), &(struct part){ c->part_k, c->part_n }, c->part_from,
	    c->stage.pending, err, sizeof err);
	if (st != VJ_OK) {
		vj_msg("%s", err);
		return st;
	}
	if (c->part_n)
		vj_debug("part %d/%d%s%s%s", c->part_k, c->part_n, c->part_from ? " (from " : "",
		    c->part_from ? c->part_from : "", c->part_from ? ")" : "");
	return 0;
}


/* Before each journal commit: the objects its results name, durable first.
 * This is what keeps a journaled job's object on disk whatever crashes. */
static int
ingest_durable(struct stage_state *x, int all)
{
	struct ingest *g = stage_ctx(x);
	if (!g->fc->batch)
		return 0;
	/* on the store's thread while the loop receives more, except when
	 * all is asked for (the end, and once a minute) */
	int r = all ? store_sync(g->fc->batch) : store_sync_start(g->fc->batch, 0);
	if (r >= 0)
		return all ? 0 : r == 1 ? 2 : 1;
	vj_msg("cannot make the images durable in %s/objects: %s (the jobs they belong to "
	    "are not journaled as done: run the same command again)", g->conf->stage.run,
	    safefs_why(errno));
	return -1;
}


/* --files-under DIR as the real directory it names (what opened files are
 * compared with), or NULL with a message. */
static char *
files_under(const char *dir)
{
	char real[PATH_MAX];
	struct stat st;

	if (!realpath(dir, real) || stat(real, &st) < 0) {
		vj_warn("--files-under %s:", dir);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		vj_msg("--files-under %s: not a directory", dir);
		return NULL;
	}
	return xstrdup(real);
}

/* ---- --forget: withdraw jobs ---- */

/* The ids to withdraw: --forget ID, or --forget-file FILE (one a line;
 * blank lines and lines starting with '#' are skipped).  Every one is
 * checked before any is journaled: all or nothing. */
static int
forget_ids(const struct ingest_config *c, struct run *r, json_t *ids)
{
	const char *src = c->forget_file;
	int bad = 0;
	if (c->forget) {
		if (!job_id_valid(c->forget, strlen(c->forget))) {
			vj_msg("--forget %.200s: not a job id ([A-Za-z0-9_-], 1 to %d characters)", c->forget,
			    JOB_ID_MAX);
			return -1;
		}
		json_array_append_new(ids, json_string(c->forget));
	} else {
		int is_stdin = !strcmp(src, "-");
		FILE *f = is_stdin ? stdin : fopen(src, "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		long lno = 0;
		if (!f) {
			vj_warn("--forget-file %s:", src);
			return -1;
		}
		if (is_stdin)
			src = "<stdin>";
		while ((n = getline(&line, &cap, f)) >= 0) {
			lno++;
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = 0;
			if (n == 0 || line[0] == '#')
				continue;
			if ((size_t)n != strlen(line) || !job_id_valid(line, (size_t)n)) {
				vj_msg("%s:%ld: not a job id ([A-Za-z0-9_-], 1 to %d characters, one a line)", src,
				    lno, JOB_ID_MAX);
				bad++;
				continue;
			}
			json_array_append_new(ids, json_string(line));
		}
		int err = ferror(f);
		free(line);
		if (!is_stdin)
			fclose(f);
		if (err) {
			vj_warn("cannot read %s:", src);
			return -1;
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		int64_t slot = idx_get(r->ids, id, strlen(id), 0);
		if (slot < 0 || !r->job_off || (uint32_t)slot >= r->cap || r->job_off[slot] == NO_OFF) {
			vj_msg("job %s: the run %s holds no job with this id: nothing withdrawn", id,
			    c->stage.run);
			bad++;
		}
	}
	return bad ? -1 : 0;
}

static int
forget_main(const struct ingest_config *c)
{
	char err[1024];
	if (!run_exists(c->stage.run)) {
		vj_msg("no run at %s (check -r or $VJ_RUN)", c->stage.run);
		return VJ_EUSAGE;
	}
	struct run *r = run_new(c->stage.run);
	int rc = run_own(r, ST_INGEST, c->stage.fsync, c->stage.repair, err, sizeof err);
	if (rc != VJ_OK) {
		vj_msg("%s", err);
		run_free(r);
		return rc;
	}
	json_t *ids = json_array();
	struct buf ev = {0};
	size_t n = 0, already = 0, i;
	json_t *v;
	if (forget_ids(c, r, ids) < 0) {
		rc = VJ_EUSAGE;
		goto out;
	}
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		uint32_t slot = (uint32_t)idx_get(r->ids, id, strlen(id), 0);
		if (run_gone(r, slot)) {
			already++;
			continue;
		}
		ev.len = 0;
		event_forget(&ev, id, now_ms());
		if (run_append_text(r, ST_INGEST, ev.p, ev.len) < 0) {
			vj_warn("cannot write %s:", journal_path(r->own[ST_INGEST]));
			rc = VJ_EFATAL;
			goto out;
		}
		vj_debug("job %s: withdrawn", id);
		n++;
	}
	if (journal_commit(r->own[ST_INGEST]) < 0) {
		vj_warn("cannot write %s:", journal_path(r->own[ST_INGEST]));
		rc = VJ_EFATAL;
		goto out;
	}
	run_ckpt(r, ST_INGEST);
	vj_info("%zu job%s withdrawn%s%zu already withdrawn", n, n == 1 ? "" : "s", ", ", already);
out:
	if (rc == VJ_EFATAL) {
		journal_abandon(r->own[ST_INGEST]);
		r->own[ST_INGEST] = NULL;
	}
	json_decref(ids);
	buf_free(&ev);
	run_free(r);
	return rc;
}

int
ingest_main(const struct ingest_config *c)
{
	if (c->forget || c->forget_file)
		return forget_main(c);
	struct ingest g = { .conf = c };
	struct fetch_ctx fc = { .run = c->stage.run, .max_bytes = c->max_bytes, .max_redirects = 5,
	    .timeout = c->stage.timeout, .deny_private = c->deny_private,
	    .no_local_files = c->no_local_files };
	char *under = NULL;
	struct stage_def d = {
		.s = ST_INGEST, .ops = &fetch_provider, .pctx = &fc, .cfg = "fetch/v1",
		.prepare = ingest_prepare, .free_prep = prep_free, .reject = ingest_reject,
		.keep_lines = c->rejects != NULL,
		.accept = ingest_accept, .ctx = &g, .start = ingest_start,
		.durable = ingest_durable,
	};
	g.fc = &fc;
	if (!getcwd(g.cwd, sizeof g.cwd)) {
		vj_warn("cannot get the working directory:");
		return VJ_EUSAGE;
	}
#ifdef M_TRIM_THRESHOLD
	/* Every image is received into a buffer of its size and freed once
	 * stored: left to itself, malloc maps or trims those each time, and
	 * the page faults of touching fresh memory were about 8% of vj-ingest's
	 * CPU fetching 200 KB images (docs/benchmarks.md).  Kept instead: at
	 * most about -j buffers are live at once. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
	if (c->files_under && c->no_local_files) {
		vj_msg("--files-under and --no-local-files contradict each other: give one");
		return VJ_EUSAGE;
	}
	if (c->files_under && !(fc.files_under = under = files_under(c->files_under)))
		return VJ_EUSAGE;
	if (c->rejects) {
		g.rejects = fopen(c->rejects, "a");
		if (!g.rejects) {
			vj_warn("%s:", c->rejects);
			free(under);
			return VJ_EUSAGE;
		}
	}
	int st = stage_main(&c->stage, &d);
	store_batch_free(fc.batch);
	fetch_free(&fc);
	free(under);
	buf_free(&g.ev);
	if (g.rejects && fclose(g.rejects) != 0) {
		vj_warn("%s:", c->rejects);
		if (st == VJ_OK)
			st = VJ_EFATAL;
	}
	return st;
}
