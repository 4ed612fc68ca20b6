/* outdir: the output directory of vj-pack.  Whoever packs into OUT holds
 * its lock; the run's pack journal says which shards of OUT are this run's
 * and which jobs they hold; OUT/index.json lists them, with the entries
 * other runs packed into OUT.
 *
 * Opening OUT repairs what a crash or a user left (pack.c has the order of
 * a seal): a temp file is debris of step 1, a shard file without a
 * journaled event is debris of 2 (removed: its jobs are still unpacked, so
 * they are packed again), and index.json is rebuilt from the journal (4).
 * A journaled shard whose file is gone or changed since (OUT deleted) gets
 * an unshard event first, and its jobs are packed again. */
#include "stages/outdir.h"
#include "base/hash.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t *
outdir_seen(struct outdir *o, int64_t slot)
{
	if ((size_t)slot >= o->nseen) {
		size_t n = o->nseen ? o->nseen : 1024;
		while (n <= (size_t)slot)
			n *= 2;
		o->seen = xrealloc(o->seen, n);
		memset(o->seen + o->nseen, 0, n - o->nseen);
		o->nseen = n;
	}
	return &o->seen[slot];
}

uint8_t *
outdir_seen_id(struct outdir *o, const char *id)
{
	return outdir_seen(o, idx_get(o->r->ids, id, strlen(id), 1));
}

/* "shard-000012.tar.zst" -> 12; -1 when it is not one of our names. */
static long
shard_number(const char *name)
{
	if (strncmp(name, "shard-", 6) != 0)
		return -1;
	const char *d = name + 6;
	for (int i = 0; i < 6; i++)
		if (d[i] < '0' || d[i] > '9')
			return -1;
	if (d[6] != '.')
		return -1;
	return strtol(d, NULL, 10);
}

static void
note_number(struct outdir *o, const char *name)
{
	long n = shard_number(name);
	if (n >= 0 && (unsigned long)n + 1 > o->next)
		o->next = (unsigned)n + 1;
}

static long
index_pos(json_t *index, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(index, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
			return (long)i;
	return -1;
}

static int
index_has(json_t *index, const char *name)
{
	return index_pos(index, name) >= 0;
}

static json_t *
index_entry(json_t *ev, const char *run_real)
{
	static const char *const keep[] = { "name", "records", "bytes", "sha256", "first",
		"last", "format", "compress" };
	json_t *e = json_object();
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		json_t *v = json_object_get(ev, keep[i]);
		if (v)
			json_object_set(e, keep[i], v);
	}
	json_object_set_new(e, "run", json_string(run_real));
	return e;
}

/* Is a journaled "out" this OUT?  The real path decides when it was
 * recorded; the name as given is the fallback. */
static int
same_out(struct outdir *o, json_t *ev)
{
	const char *real = json_string_value(json_object_get(ev, "out_path"));
	const char *given = json_string_value(json_object_get(ev, "out"));
	if (real)
		return strcmp(real, o->out_real) == 0;
	return given && strcmp(given, o->out) == 0;
}

static void
mark_ids(struct outdir *o, json_t *ids, uint8_t state)
{
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_string_value(v))
			*outdir_seen_id(o, json_string_value(v)) = state;
}

static int
journal_cb(void *ctx, const char *js, size_t len, uint64_t off)
{
	struct outdir *o = ctx;
	json_t *ev = json_loadb(js, len, 0, NULL);
	const char *name = json_string_value(json_object_get(ev, "name"));
	const char *type = json_string_value(json_object_get(ev, "ev"));

	if (!name || !type || shard_number(name) < 0 || !same_out(o, ev)) {
		json_decref(ev);
		return 0;
	}
	long old = index_pos(o->index, name);
	if (strcmp(type, "shard") == 0) {
		if (old >= 0)   /* a later event for the same name wins */
			json_array_remove(o->index, (size_t)old);
		json_array_append_new(o->index, index_entry(ev, o->run_real));
		json_object_set_new(o->where, name, json_pack("[I,I]", (json_int_t)off,
		    json_integer_value(json_object_get(ev, "t"))));
		mark_ids(o, json_object_get(ev, "ids"), OUTDIR_PACKED);
	} else if (strcmp(type, "unshard") == 0) {
		/* the shard was found lost: its jobs are not packed here */
		if (old >= 0)
			json_array_remove(o->index, (size_t)old);
		json_object_del(o->where, name);
		mark_ids(o, json_object_get(ev, "ids"), OUTDIR_UNPACKED);
	}
	json_decref(ev);
	return 0;
}

/* Shards of OUT recorded in our pack journal. */
static int
load_journal(struct outdir *o)
{
	char err[512];
	o->jr = jreader_open(o->run, stage_name[ST_PACK]);
	int r = jreader_poll(o->jr, journal_cb, o, err, sizeof err);
	if (r < 0)
		vj_warn("%s", err);
	return r;
}

/* Is our shard entry e still the file the journal recorded?  NULL when it
 * is; else why not, *code says it in a word ("missing", "size", "sha256",
 * "replaced"), and *changed is set when a different file has the name. */
static const char *
lost_why(struct outdir *o, json_t *e, json_t *foreign, char *buf, size_t buflen,
    const char **code, int *changed)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *want = json_string_value(json_object_get(e, "sha256"));
	uint64_t bytes = (uint64_t)json_integer_value(json_object_get(e, "bytes"));
	json_t *w = json_object_get(o->where, name);
	int64_t t = json_integer_value(json_array_get(w, 1));
	char *path = xasprintf("%s/%s", o->out, name);
	const char *why = NULL;
	struct stat st;
	size_t i;
	json_t *f;

	*changed = 0;
	json_array_foreach(foreign, i, f) {
		const char *fname = json_string_value(json_object_get(f, "name"));
		const char *fsha = json_string_value(json_object_get(f, "sha256"));
		if (fname && strcmp(fname, name) == 0 && (!fsha || !want || strcmp(fsha, want) != 0)) {
			/* another run's shard took the name (after OUT was
			 * deleted): ours is gone, theirs stays */
			snprintf(buf, buflen, "was replaced by a shard of %s",
			    json_string_value(json_object_get(f, "run")));
			*code = "replaced";
			free(path);
			return buf;
		}
	}
	if (stat(path, &st) < 0) {
		if (errno == ENOENT) {
			why = "is missing";
			*code = "missing";
		}
		else   /* cannot tell: keep it */
			vj_warn("cannot check %s:", path);
	} else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != bytes) {
		snprintf(buf, buflen, "has %llu bytes, the journal says %llu",
		    (unsigned long long)st.st_size, (unsigned long long)bytes);
		why = buf;
		*code = "size";
		*changed = 1;
	} else if ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 > t) {
		/* written after it was journaled: hash it (a shard is never
		 * written after its event, so this is rare and cheap enough) */
		char sha[65];
		uint64_t size;
		if (sha256_file(path, sha, &size) < 0) {
			vj_warn("cannot read %s:", path);
		} else if (!want || strcmp(sha, want) != 0) {
			why = "does not match its sha256 in the journal";
			*code = "sha256";
			*changed = 1;
		}
	}
	free(path);
	return why;
}

/* Shards the journal records in OUT whose files are missing or changed
 * (OUT deleted or damaged since): journal an unshard event for each, so
 * the journal, the fold and index.json agree that their jobs are not
 * packed there, and pack them again.  A changed file is removed.  -1 on a
 * journal error. */
static int
forget_lost(struct outdir *o, json_t *foreign)
{
	struct buf rm = { 0 };
	size_t i = 0, nrm = 0;
	int r = 0, n = 0;
	while (i < json_array_size(o->index)) {
		json_t *e = json_array_get(o->index, i);
		const char *name = json_string_value(json_object_get(e, "name"));
		char buf[512];
		const char *code = NULL;
		int changed;
		const char *why = lost_why(o, e, foreign, buf, sizeof buf, &code, &changed);
		if (!why) {
			i++;
			continue;
		}
		json_t *w = json_object_get(o->where, name);
		json_t *old = jreader_get(o->jr, (uint64_t)json_integer_value(json_array_get(w, 0)));
		json_t *ids = json_object_get(old, "ids");
		size_t nids = json_array_size(ids);
		vj_msg("%s/%s %s: its %zu job%s will be packed again%s", o->out, name, why, nids,
		    nids == 1 ? "" : "s", o->pending ? "" : " when given again");
		json_t *ev = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O}",
		    "ev", "unshard", "t", (json_int_t)now_ms(), "name", name, "out", o->out,
		    "out_path", o->out_real, "reason", code, "records", (json_int_t)nids,
		    "bytes", json_object_get(e, "bytes"), "sha256", json_object_get(e, "sha256"),
		    "ids", ids ? ids : json_array());
		if (!ev || run_append(o->r, ST_PACK, ev) < 0) {
			vj_warn("cannot write %s:", journal_path(o->r->own[ST_PACK]));
			json_decref(ev);
			json_decref(old);
			r = -1;
			break;
		}
		json_decref(ev);
		mark_ids(o, ids, OUTDIR_UNPACKED);
		json_decref(old);
		if (changed) {
			buf_addf(&rm, "%s/%s", o->out, name);
			buf_add(&rm, "", 1);
			nrm++;
		}
		json_object_del(o->where, name);
		json_array_remove(o->index, i);
		n++;
	}
	if (n && r == 0 && journal_commit(o->r->own[ST_PACK]) < 0) {
		vj_warn("cannot write %s:", journal_path(o->r->own[ST_PACK]));
		r = -1;
	}
	/* only once the journal forgot them: a crash before leaves them
	 * journaled and changed, found again by the next vj-pack */
	for (const char *f = rm.p; r == 0 && nrm > 0; f += strlen(f) + 1, nrm--)
		if (unlink(f) < 0 && errno != ENOENT)
			vj_warn("cannot remove %s:", f);
	buf_free(&rm);
	return r;
}

/* Entries of the old index.json that another run wrote: kept as they are,
 * so several runs can pack into one OUT (unless their file is gone). */
static json_t *
foreign_entries(struct outdir *o)
{
	char *path = xasprintf("%s/index.json", o->out);
	json_t *old = json_load_file(path, 0, NULL);
	json_t *keep = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(old, "shards"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *run = json_string_value(json_object_get(e, "run"));
		if (name && run && shard_number(name) >= 0 && strcmp(run, o->run_real) != 0)
			json_array_append(keep, e);
	}
	json_decref(old);
	free(path);
	return keep;
}

static void
keep_foreign(struct outdir *o, json_t *foreign)
{
	size_t i;
	json_t *e;
	json_array_foreach(foreign, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (index_has(o->index, name))
			continue;
		char *path = xasprintf("%s/%s", o->out, name);
		if (access(path, F_OK) < 0 && errno == ENOENT)
			vj_msg("%s is missing: dropped from the index (it was packed from %s, whose "
			    "next vj-pack -o %s packs its jobs again)", path,
			    json_string_value(json_object_get(e, "run")), o->out);
		else
			json_array_append(o->index, e);
		free(path);
	}
}

static int
by_name(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	return strcmp(json_string_value(json_object_get(*x, "name")),
	    json_string_value(json_object_get(*y, "name")));
}

static int
write_index(struct outdir *o)
{
	size_t n = json_array_size(o->index);
	json_t **v = xcalloc(n, sizeof *v);
	json_t *sorted = json_array();
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(o->index, i);
	qsort(v, n, sizeof *v, by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_t *doc = json_pack("{s:i, s:o}", "version", 1, "shards", sorted);
	char *js = json_dumps(doc, JSON_INDENT(1));
	char *path = xasprintf("%s/index.json", o->out);
	size_t len = strlen(js);
	js = xrealloc(js, len + 2);
	memcpy(js + len, "\n", 2);
	int r = write_file_atomic(path, js, len + 1);
	if (r < 0)
		vj_warn("cannot write %s (the shards stay sealed and journaled; the index is "
		    "rebuilt by the next vj-pack):", path);
	free(path);
	free(js);
	json_decref(doc);
	return r;
}

/* Remove what an interrupted seal left: temp files, and shard files whose
 * event never reached the journal. */
static void
clean_out(struct outdir *o)
{
	DIR *d = opendir(o->out);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		char *path;
		if (strncmp(n, ".shard-", 7) == 0 || strncmp(n, "index.json.tmp.", 15) == 0) {
			path = xasprintf("%s/%s", o->out, n);
			vj_debug("removing %s, left by an interrupted vj-pack", path);
		} else if (shard_number(n) >= 0 && !index_has(o->index, n)) {
			path = xasprintf("%s/%s", o->out, n);
			vj_msg("%s: not in the pack journal (vj-pack stopped while sealing it): "
			    "removed, its records are packed again", path);
		} else {
			continue;
		}
		if (unlink(path) < 0)
			vj_warn("cannot remove %s:", path);
		free(path);
	}
	closedir(d);
}

/* OUT has one writer at a time, whichever run it packs. */
static int
lock_out(struct outdir *o)
{
	char *path = xasprintf("%s/.vj-pack.lock", o->out);
	char pid[32] = {0};
	int r = VJ_OK;
	o->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (o->lockfd < 0) {
		vj_warn("cannot open %s:", path);
		r = VJ_EFATAL;
	} else if (flock(o->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (pread(o->lockfd, pid, sizeof pid - 1, 0) < 0)
			pid[0] = 0;
		vj_msg("%s is locked by pid %ld (another vj-pack is packing into it)",
		    o->out, strtol(pid, NULL, 10));
		r = VJ_ETEMP;
	} else {
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (ftruncate(o->lockfd, 0) < 0 || pwrite(o->lockfd, pid, (size_t)n, 0) != n)
			vj_warn("cannot write %s:", path);
	}
	free(path);
	return r;
}

int
outdir_init(struct outdir *o, const char *out)
{
	char rp[PATH_MAX];
	memset(o, 0, sizeof *o);
	o->out = out;
	o->lockfd = -1;
	if (mkdir_p(o->out, 0755) < 0 || !realpath(o->out, rp)) {
		vj_warn("cannot create %s:", o->out);
		return VJ_EFATAL;
	}
	o->out_real = xstrdup(rp);
	return VJ_OK;
}

int
outdir_open(struct outdir *o, struct run *r, const char *run, enum jl_fsync fsync, int pending)
{
	char rp[PATH_MAX];
	int rc;

	o->r = r;
	o->run = run;
	o->fsync = fsync;
	o->pending = pending;
	o->run_real = xstrdup(realpath(o->run, rp) ? rp : o->run);
	if ((rc = lock_out(o)) != VJ_OK)
		return rc;
	o->index = json_array();
	o->where = json_object();
	if (load_journal(o) < 0)
		return VJ_EFATAL;
	json_t *foreign = foreign_entries(o);
	if (forget_lost(o, foreign) < 0) {
		json_decref(foreign);
		return VJ_EFATAL;
	}
	keep_foreign(o, foreign);
	json_decref(foreign);
	/* numbers continue after the largest listed: after a loss (OUT
	 * deleted) the same jobs get the same names again */
	size_t i;
	json_t *e;
	json_array_foreach(o->index, i, e)
		note_number(o, json_string_value(json_object_get(e, "name")));
	clean_out(o);
	if (write_index(o) < 0)
		return VJ_EFATAL;
	return VJ_OK;
}

void
outdir_close(struct outdir *o)
{
	if (o->lockfd > 0)
		close(o->lockfd);
	json_decref(o->index);
	json_decref(o->where);
	if (o->jr)
		jreader_close(o->jr);
	free(o->seen);
	free(o->out_real);
	free(o->run_real);
}

char *
outdir_shard_name(const struct outdir *o, const struct shard_opts *so)
{
	return xasprintf("shard-%06u.%s", o->next, shard_suffix(so));
}

char *
outdir_temp_path(const struct outdir *o)
{
	return xasprintf("%s/.shard-%06u.tmp.%ld", o->out, o->next, (long)getpid());
}

static json_t *
shard_event(struct outdir *o, const char *name, json_t *ids, uint64_t bytes, const char *sha,
    const struct shard_opts *so)
{
	size_t n = json_array_size(ids);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:O, s:O, s:s, s:s, s:O}",
	    "ev", "shard", "t", (json_int_t)now_ms(), "name", name, "out", o->out,
	    "out_path", o->out_real, "records", (json_int_t)n, "bytes", (json_int_t)bytes,
	    "sha256", sha, "first", json_array_get(ids, 0), "last", json_array_get(ids, n - 1),
	    "format", shard_format_name[so->format],
	    "compress", shard_compress_name[so->compress], "ids", ids);
}

/* Steps 2 to 4 of a seal (pack.c): a crash between any two of them is
 * repaired by the next outdir_open. */
static int
commit_shard(struct outdir *o, const char *tmp, const char *final, const char *name,
    json_t *ids, uint64_t bytes, const char *sha, const struct shard_opts *so, json_t **entry)
{
	if (rename(tmp, final) < 0) {
		vj_warn("cannot rename %s to %s:", tmp, final);
		unlink(tmp);
		return -1;
	}
	if (o->fsync != JL_FSYNC_NEVER && fsync_dir(o->out) < 0) {
		vj_warn("cannot sync %s (the shard %s is removed):", o->out, final);
		unlink(final);
		return -1;
	}
	json_t *ev = shard_event(o, name, ids, bytes, sha, so);
	if (run_append(o->r, ST_PACK, ev) < 0 || journal_commit(o->r->own[ST_PACK]) < 0) {
		vj_warn("cannot write %s (the shard %s is removed, its records stay unpacked):",
		    journal_path(o->r->own[ST_PACK]), final);
		unlink(final);
		json_decref(ev);
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		*outdir_seen_id(o, json_string_value(v)) = OUTDIR_PACKED;
	*entry = index_entry(ev, o->run_real);
	json_array_append(o->index, *entry);
	json_decref(ev);
	o->next++;
	return write_index(o);
}

int
outdir_commit(struct outdir *o, const char *tmp, const char *name, json_t *ids,
    uint64_t bytes, const char *sha, const struct shard_opts *so, json_t **entry)
{
	char *final = xasprintf("%s/%s", o->out, name);
	*entry = NULL;
	int r = commit_shard(o, tmp, final, name, ids, bytes, sha, so, entry);
	free(final);
	return r;
}
