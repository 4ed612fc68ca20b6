/* outlog: OUT/journal/out.log, written through the journal module (the same
 * line format, checksums, group commit and torn-tail repair as a run's
 * journals), and index.json, derived from it.  Records:
 *
 *   intent    a shard about to be renamed into OUT: seal, run (id), at (the
 *             offset its shard event takes in the run's pack journal),
 *             name, records, bytes, sha256, first, last, format, compress,
 *             run_path, run_rel (the run's path from OUT), part
 *   sealed    the run's shard event is committed: seal
 *   drop      the seal's shard is not, or no longer, in OUT: seal, reason
 *   runstate  a run's jobs at the end of a vj-pack into OUT: run, run_path,
 *             run_rel, part, jobs, packed, failed, pending, retryable */
#include "stages/outlog.h"
#include "core/event.h"
#include "stages/pack.h"
#include "core/runid.h"
#include "base/safefs.h"
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

static const char *
str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static long
index_pos(json_t *index, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(index, i, e)
		if (strcmp(str(e, "name"), name) == 0)
			return (long)i;
	return -1;
}

static const char *const suffixes[] = { "tar.zst", "tar.gz", "tar", "jsonl.zst", "jsonl.gz",
	"jsonl", NULL };

static int
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

int
outlog_name(const char *name, long *num, size_t *prefix)
{
	const char *p = name;
	if (strncmp(p, "shard-", 6) != 0)
		return -1;
	p += 6;
	if (*p == 'p') {
		/* "pKKofNN-": the part of a partitioned run */
		const char *of = strstr(p, "of"), *dash = of ? strchr(of, '-') : NULL;
		if (!of || !dash || !digits(p + 1, (size_t)(of - p - 1)) ||
		    !digits(of + 2, (size_t)(dash - of - 2)) || of - p - 1 > 9 || dash - of - 2 > 9)
			return -1;
		p = dash + 1;
	}
	if (!digits(p, 6) || p[6] != '.')
		return -1;
	for (int i = 0; suffixes[i]; i++)
		if (strcmp(p + 7, suffixes[i]) == 0) {
			*prefix = (size_t)(p - name);
			*num = strtol(p, NULL, 10);
			return 0;
		}
	return -1;
}

int
outlog_name_safe(const char *name)
{
	return name && *name && !strchr(name, '/') && !strstr(name, "..");
}

/* ---- the records ---- */

static void
fold(struct outlog *l, json_t *rec)
{
	const char *ev = json_string_value(json_object_get(rec, "ev"));
	const char *seal = json_string_value(json_object_get(rec, "seal"));
	const char *run = json_string_value(json_object_get(rec, "run"));
	json_t *s = seal ? json_object_get(l->seals, seal) : NULL;
	long num;
	size_t pl;

	if (!ev)
		return;
	if (strcmp(ev, "journal") == 0) {
		json_int_t v = json_integer_value(json_object_get(rec, "version"));
		if (v > OUTLOG_VERSION || v < 1)
			l->newer = v < 1 ? LONG_MAX : (long)v;
		return;
	}
	if (strcmp(ev, "intent") == 0 || strcmp(ev, "runstate") == 0) {
		if (!runid_valid(run))
			return;
		json_t *w = json_pack("{s:O?}", "run_path", json_object_get(rec, "run_path"));
		if (json_string_value(json_object_get(rec, "run_rel")))
			json_object_set(w, "run_rel", json_object_get(rec, "run_rel"));
		json_object_set_new(l->where, run, w);
	}
	if (strcmp(ev, "intent") == 0) {
		const char *name = json_string_value(json_object_get(rec, "name"));
		if (!runid_valid(seal) || !name || outlog_name(name, &num, &pl) < 0 || s)
			return;
		json_object_set_new(l->seals, seal, json_pack("{s:i, s:O}", "state", OL_INTENT, "rec", rec));
		json_array_append_new(l->order, json_string(seal));
		if (!json_object_get(l->byname, name))
			json_object_set_new(l->byname, name, json_array());
		json_array_append_new(json_object_get(l->byname, name), json_string(seal));
	} else if (strcmp(ev, "sealed") == 0) {
		if (s && json_integer_value(json_object_get(s, "state")) == OL_INTENT)
			json_object_set_new(s, "state", json_integer(OL_SEALED));
	} else if (strcmp(ev, "drop") == 0) {
		if (s)
			json_object_set_new(s, "state", json_integer(OL_DROPPED));
	} else if (strcmp(ev, "runstate") == 0) {
		json_object_set(l->runs, run, rec);
	} else if (strcmp(ev, "withdraw") == 0) {
		json_t *ids = json_object_get(rec, "ids"), *v;
		size_t i;
		if (!runid_valid(seal) || !json_is_array(ids))
			return;
		if (!json_object_get(l->withdrawn, seal))
			json_object_set_new(l->withdrawn, seal, json_object());
		json_array_foreach(ids, i, v)
			if (json_string_value(v))
				json_object_set(json_object_get(l->withdrawn, seal), json_string_value(v),
				    json_true());
	}
}

static int
replay_cb(void *ctx, const char *js, size_t len, uint64_t off)
{
	struct outlog *l = ctx;
	json_t *rec = json_loadb(js, len, 0, NULL);
	if (json_is_object(rec))
		fold(l, rec);
	else
		vj_warn("%s/journal/out.log: byte offset %llu: a record that is not valid JSON: ignored",
		    l->out, (unsigned long long)off);
	json_decref(rec);
	return 0;
}

static void
init(struct outlog *l, const char *out)
{
	memset(l, 0, sizeof *l);
	l->out = out;
	l->seals = json_object();
	l->order = json_array();
	l->byname = json_object();
	l->runs = json_object();
	l->where = json_object();
	l->withdrawn = json_object();
}

static int
too_new(struct outlog *l, char *err, size_t errlen)
{
	if (!l->newer)
		return 0;
	snprintf(err, errlen, "%s/journal/out.log: format version %ld, this vj reads version %d "
	    "only: use the vj that wrote it (or a newer one)", l->out, l->newer, OUTLOG_VERSION);
	return 1;
}

int
outlog_open(struct outlog *l, const char *out, enum jl_fsync mode, char *err, size_t errlen)
{
	init(l, out);
	int rc = journal_open(&l->j, out, "out", mode, 0, replay_cb, l, err, errlen);
	if (rc != VJ_OK) {
		l->j = NULL;
		return rc;
	}
	if (too_new(l, err, errlen))
		return VJ_EFATAL;
	l->exists = journal_size(l->j) > 0;
	if (!l->exists) {
		json_t *h = json_pack("{s:s, s:i, s:I}", "ev", "journal", "version", OUTLOG_VERSION,
		    "t", (json_int_t)now_ms());
		int r = outlog_add(l, h);
		json_decref(h);
		if (r < 0) {
			snprintf(err, errlen, "cannot write %s: %s", outlog_path(l), strerror(errno));
			return VJ_EFATAL;
		}
	}
	return VJ_OK;
}

int
outlog_read(struct outlog *l, const char *out, char *err, size_t errlen)
{
	init(l, out);
	struct jreader *r = jreader_open(out, "out");
	struct stat st;
	l->exists = lstat(jreader_path(r), &st) == 0;
	int rc = jreader_poll(r, replay_cb, l, err, errlen);
	jreader_close(r);
	if (rc == 0 && too_new(l, err, errlen))
		rc = -1;
	return rc;
}

void
outlog_close(struct outlog *l)
{
	if (l->j && journal_close(l->j) < 0)
		vj_warn("cannot write %s/journal/out.log:", l->out);
	l->j = NULL;
	json_decref(l->seals);
	json_decref(l->order);
	json_decref(l->byname);
	json_decref(l->runs);
	json_decref(l->where);
	json_decref(l->withdrawn);
	l->seals = l->order = l->byname = l->runs = l->where = l->withdrawn = NULL;
}

int
outlog_add(struct outlog *l, json_t *rec)
{
	char *js = event_json(rec);
	int rc = js ? journal_append(l->j, js, strlen(js), NULL) : -1;
	free(js);
	if (rc < 0)
		return -1;
	fold(l, rec);
	return 0;
}

int
outlog_commit(struct outlog *l)
{
	return journal_commit(l->j);
}

const char *
outlog_path(const struct outlog *l)
{
	return l->j ? journal_path(l->j) : "journal/out.log";
}

json_t *
outlog_seal(struct outlog *l, const char *seal, int *state)
{
	json_t *s = seal ? json_object_get(l->seals, seal) : NULL;
	if (state)
		*state = s ? (int)json_integer_value(json_object_get(s, "state")) : -1;
	return s ? json_object_get(s, "rec") : NULL;
}

json_t *
outlog_named(struct outlog *l, const char *name)
{
	return name ? json_object_get(l->byname, name) : NULL;
}

int
outlog_drop(struct outlog *l, const char *seal, const char *reason)
{
	json_t *rec = json_pack("{s:s, s:I, s:s, s:s}", "ev", "drop", "t", (json_int_t)now_ms(),
	    "seal", seal, "reason", reason);
	int r = outlog_add(l, rec);
	json_decref(rec);
	return r;
}

int
outlog_sealed(struct outlog *l, const char *seal)
{
	json_t *rec = json_pack("{s:s, s:I, s:s}", "ev", "sealed", "t", (json_int_t)now_ms(),
	    "seal", seal);
	int r = outlog_add(l, rec);
	json_decref(rec);
	return r;
}

/* ---- paths ---- */

char *
outlog_relpath(const char *from, const char *to)
{
	size_t i = 0, common = 0;
	/* the longest common prefix that ends at a component boundary */
	while (from[i] && from[i] == to[i]) {
		i++;
		if ((from[i] == '/' || !from[i]) && (to[i] == '/' || !to[i]))
			common = i;
	}
	struct buf b = {0};
	for (const char *p = from + common; *p; p++)
		if (*p == '/' && p[1])
			buf_adds(&b, b.len ? "/.." : "..");
	const char *rest = to + common;
	while (*rest == '/')
		rest++;
	if (*rest)
		buf_addf(&b, "%s%s", b.len ? "/" : "", rest);
	if (!b.len)
		buf_adds(&b, ".");
	buf_add(&b, "", 1);
	return b.p;
}

const char *
outlog_run_path(struct outlog *l, const char *run_id)
{
	return json_string_value(json_object_get(json_object_get(l->where, run_id), "run_path"));
}

int
outlog_withdraw(struct outlog *l, const char *run_id, const char *seal, json_t *ids)
{
	json_t *rec = json_pack("{s:s, s:I, s:s, s:s, s:O}", "ev", "withdraw", "t",
	    (json_int_t)now_ms(), "run", run_id, "seal", seal, "ids", ids);
	int r = rec ? outlog_add(l, rec) : -1;
	json_decref(rec);
	return r;
}

int
outlog_is_withdrawn(struct outlog *l, const char *seal, const char *id)
{
	return json_object_get(json_object_get(l->withdrawn, seal), id) != NULL;
}

/* The seal of an index entry: the latest seal of its name that is not
 * dropped and has its sha256 (what outlog_listing lists); NULL for an
 * entry the log does not explain (vj 0.1's). */
static const char *
entry_seal(struct outlog *l, json_t *e)
{
	json_t *seals = outlog_named(l, str(e, "name"));
	for (size_t i = json_array_size(seals); i-- > 0;) {
		const char *seal = json_string_value(json_array_get(seals, i));
		int state;
		json_t *in = outlog_seal(l, seal, &state);
		if (state != OL_DROPPED && str(in, "sha256") && str(e, "sha256") &&
		    strcmp(str(in, "sha256"), str(e, "sha256")) == 0)
			return seal;
	}
	return NULL;
}

static json_t *sorted_keys(json_t *set);

void
outlog_supersede(struct outlog *l, json_t *entries)
{
	json_t *acc = json_object();   /* seal -> {id: true} */
	size_t i;
	json_t *e;
	/* every intent's supersedes count, also of a seal since undone (its
	 * jobs are then packed again by its run): a job may be missing from
	 * the dataset until its run's next vj-pack, never in it twice */
	json_array_foreach(l->order, i, e) {
		json_t *sup = json_object_get(outlog_seal(l, json_string_value(e), NULL), "supersedes");
		const char *old;
		json_t *ids;
		if (!json_is_object(sup))
			continue;
		json_object_foreach(sup, old, ids) {
			size_t k;
			json_t *v;
			if (!json_object_get(acc, old))
				json_object_set_new(acc, old, json_object());
			json_array_foreach(ids, k, v)
				if (json_string_value(v))
					json_object_set(json_object_get(acc, old), json_string_value(v),
					    json_true());
		}
	}
	json_array_foreach(entries, i, e) {
		const char *seal = entry_seal(l, e);
		json_object_del(e, "superseded");
		json_object_del(e, "withdrawn");
		if (!seal)
			continue;
		json_t *set = json_object(), *w = json_object_get(l->withdrawn, seal);
		if (w)
			json_object_update(set, w);
		if (json_object_get(acc, seal))
			json_object_update(set, json_object_get(acc, seal));
		if (json_object_size(set))
			json_object_set_new(e, "superseded", sorted_keys(set));
		json_decref(set);
		/* which of them were withdrawn, rather than replaced: to say so */
		if (json_object_size(w))
			json_object_set_new(e, "withdrawn", sorted_keys(w));
	}
	json_decref(acc);
}

static int
by_string(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of a JSON object as a sorted array of strings. */
static json_t *
sorted_keys(json_t *set)
{
	size_t n = json_object_size(set), k = 0;
	const char **ids = xcalloc(n ? n : 1, sizeof *ids);
	const char *id;
	json_t *v, *arr = json_array();
	json_object_foreach(set, id, v)
		ids[k++] = id;
	qsort(ids, n, sizeof *ids, by_string);
	for (k = 0; k < n; k++)
		json_array_append_new(arr, json_string(ids[k]));
	free(ids);
	return arr;
}

/* ---- index.json ---- */

json_t *
outlog_entry(json_t *intent, const char *run_path)
{
	static const char *const keep[] = { "name", "records", "bytes", "sha256", "first",
		"last", "format", "compress" };
	json_t *e = json_object();
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		json_t *v = json_object_get(intent, keep[i]);
		if (v)
			json_object_set(e, keep[i], v);
	}
	if (run_path)
		json_object_set_new(e, "run", json_string(run_path));
	json_object_set(e, "run_id", json_object_get(intent, "run"));
	return e;
}

/* Does the run at path (its id run_id) hold a shard event for seal in its
 * pack journal?  1 yes, 0 no, -1 no such run there (or unreadable). */
struct find_ctx {
	const char *seal;
	int found;
};

static int
find_cb(void *ctx, const char *js, size_t len, uint64_t off)
{
	struct find_ctx *f = ctx;
	if (!memmem(js, len, f->seal, RUNID_HEX))
		return 0;
	json_t *ev = json_loadb(js, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "ev"));
	const char *seal = json_string_value(json_object_get(ev, "seal"));
	if (type && seal && strcmp(seal, f->seal) == 0)
		f->found = strcmp(type, "shard") == 0;
	json_decref(ev);
	return 0;
}

static int
run_has_seal(const char *path, const char *run_id, const char *seal)
{
	char id[RUNID_HEX + 1], err[512];
	if (!path || runid_get(path, id, 0, err, sizeof err) != 0 || strcmp(id, run_id) != 0)
		return -1;
	struct find_ctx f = { seal, 0 };
	struct jreader *r = jreader_open(path, "pack");
	int rc = jreader_poll(r, find_cb, &f, err, sizeof err);
	jreader_close(r);
	return rc < 0 ? -1 : f.found;
}

/* An unfinished seal of another run: ask that run's journal, where the log
 * saw the run last (its path from OUT first: OUT and the run may have
 * moved together). */
static int
resolve(struct outlog *l, const char *out_real, json_t *intent, const char **where)
{
	const char *run = json_string_value(json_object_get(intent, "run"));
	const char *seal = json_string_value(json_object_get(intent, "seal"));
	json_t *w = json_object_get(l->where, run);
	const char *rel = json_string_value(json_object_get(w, "run_rel"));
	const char *abs = json_string_value(json_object_get(w, "run_path"));
	int r = -1;
	*where = abs;
	if (rel) {
		char *p = xasprintf("%s/%s", out_real, rel);
		r = run_has_seal(p, run, seal);
		free(p);
	}
	if (r < 0)
		r = run_has_seal(abs, run, seal);
	return r;
}

int
outlog_listing(struct outlog *l, const char *out_real, const char *skip_run, json_t *entries,
    json_t *unlisted)
{
	json_t *seen = json_object();
	int bad = 0;
	/* latest first: a name held twice (never by vj's own choice) is the
	 * later seal's */
	for (size_t i = json_array_size(l->order); i-- > 0;) {
		const char *seal = json_string_value(json_array_get(l->order, i));
		int state;
		json_t *in = outlog_seal(l, seal, &state);
		const char *run = json_string_value(json_object_get(in, "run"));
		const char *name = json_string_value(json_object_get(in, "name"));
		const char *rpath = outlog_run_path(l, run);
		if (state == OL_DROPPED || (skip_run && strcmp(run, skip_run) == 0) ||
		    json_object_get(seen, name))
			continue;
		if (state == OL_INTENT) {
			const char *where;
			int r = resolve(l, out_real, in, &where);
			if (r == 1 && l->j && outlog_sealed(l, seal) == 0)
				vj_debug("%s/%s: its run's pack journal has it: sealed", l->out, name);
			if (r != 1) {
				vj_msg("%s/%s: its seal by run %s (last at %s) is unfinished, and %s: not "
				    "listed; that run's next vj-pack -o %s finishes or removes it", l->out, name,
				    run, where ? where : "an unknown path", r == 0 ? "not in that run's pack "
				    "journal" : "that run is not found there", l->out);
				json_object_set_new(unlisted, name, json_true());
				bad++;
				continue;
			}
		}
		json_object_set_new(seen, name, json_true());
		char *path = xasprintf("%s/%s", l->out, name);
		struct stat st;
		uint64_t want = (uint64_t)json_integer_value(json_object_get(in, "bytes"));
		if (lstat(path, &st) < 0 && errno == ENOENT) {
			vj_msg("%s is missing: dropped from the index (it was packed from %s, whose next "
			    "vj-pack -o %s packs its jobs again)", path, rpath ? rpath : run, l->out);
			if (l->j)
				outlog_drop(l, seal, "missing");
			bad++;
		} else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != want) {
			vj_msg("%s has %llu bytes, OUT's log says %llu: not listed (the next vj-pack -o %s "
			    "of %s packs its jobs again)", path, (unsigned long long)st.st_size,
			    (unsigned long long)want, l->out, rpath ? rpath : run);
			json_object_set_new(unlisted, name, json_true());
			bad++;
		} else {
			json_array_append_new(entries, outlog_entry(in, rpath));
		}
		free(path);
	}
	json_decref(seen);
	return bad;
}

static int
by_field(json_t *a, json_t *b, const char *f)
{
	const char *x = json_string_value(json_object_get(a, f));
	const char *y = json_string_value(json_object_get(b, f));
	return strcmp(x ? x : "", y ? y : "");
}

static int
by_name(const void *a, const void *b)
{
	return by_field(*(json_t *const *)a, *(json_t *const *)b, "name");
}

static int
by_id(const void *a, const void *b)
{
	return by_field(*(json_t *const *)a, *(json_t *const *)b, "id");
}

static json_t *
sorted(json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr);
	json_t **v = xcalloc(n ? n : 1, sizeof *v);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof *v, cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

json_t *
outlog_runs(struct outlog *l, json_t *entries, const char *also_run)
{
	static const char *const counts[] = { "jobs", "packed", "failed", "pending", "retryable" };
	json_t *ids = json_object(), *runs = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e)
		if (json_string_value(json_object_get(e, "run_id")))
			json_object_set_new(ids, json_string_value(json_object_get(e, "run_id")), json_true());
	if (also_run)
		json_object_set_new(ids, also_run, json_true());
	const char *id;
	json_t *v;
	json_object_foreach(ids, id, v) {
		json_t *rs = json_object_get(l->runs, id);
		json_t *o = json_pack("{s:s}", "id", id);
		const char *path = outlog_run_path(l, id);
		if (path)
			json_object_set_new(o, "path", json_string(path));
		if (json_is_object(json_object_get(rs, "part")))
			json_object_set(o, "partition", json_object_get(rs, "part"));
		for (size_t k = 0; rs && k < sizeof counts / sizeof *counts; k++)
			json_object_set(o, counts[k], json_object_get(rs, counts[k]));
		if (json_integer_value(json_object_get(rs, "withdrawn")))   /* only when some are */
			json_object_set(o, "withdrawn", json_object_get(rs, "withdrawn"));
		json_array_append_new(runs, o);
	}
	json_decref(ids);
	json_t *s = sorted(runs, by_id);
	json_decref(runs);
	return s;
}

/* Like write_file_atomic, but the temporary is created exclusively and
 * without following a link: OUT may be shared. */
static int
write_safe(const char *dir, const char *path, const char *p, size_t n)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int r = -1, e;
	unlink(tmp);
	int fd = safefs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		if (write_all(fd, p, n) == 0 && fsync(fd) == 0 && close(fd) == 0) {
			fd = -1;
			if (rename(tmp, path) == 0)
				r = fsync_dir(dir);
		}
		if (fd >= 0)
			close(fd);
	}
	e = errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	errno = e;
	return r;
}

int
outlog_write_index(const char *out, json_t *entries, json_t *runs)
{
	json_t *doc = json_pack("{s:i, s:o, s:O}", "version", 1, "shards", sorted(entries, by_name),
	    "runs", runs);
	char *js = json_dumps(doc, JSON_INDENT(1));
	char *path = xasprintf("%s/index.json", out);
	size_t len = strlen(js);
	js = xrealloc(js, len + 2);
	memcpy(js + len, "\n", 2);
	int r = write_safe(out, path, js, len + 1);
	free(path);
	free(js);
	json_decref(doc);
	return r;
}

/* ---- what OUT holds besides the log, and --reindex ---- */

/* OUT has one writer at a time, whichever run it packs. */
int
outlog_lock(const char *out, int create, int *fd)
{
	char *path = xasprintf("%s/.vj-pack.lock", out);
	char pid[32] = {0};
	int r = VJ_OK;
	*fd = safefs_open(path, create ? O_RDWR | O_CREAT : O_RDONLY, 0644);
	if (*fd < 0) {
		if (create || errno != ENOENT) {
			vj_msg("cannot open %s: %s", path, safefs_why(errno));
			r = VJ_EFATAL;
		}
	} else if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		if (pread(*fd, pid, sizeof pid - 1, 0) < 0)
			pid[0] = 0;
		vj_msg("%s is locked by pid %ld (another vj-pack is packing into it)",
		    out, strtol(pid, NULL, 10));
		r = VJ_ETEMP;
	} else if (create) {
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (ftruncate(*fd, 0) < 0 || pwrite(*fd, pid, (size_t)n, 0) != n)
			vj_warn("cannot write %s:", path);
	}
	free(path);
	return r;
}

/* Entries of the old index.json that no record of OUT's log explains
 * (listed by vj 0.1, or the log was lost): kept as they are, so several
 * runs can pack into one OUT, unless their file is gone or they are this
 * run's (then its journal decides). */
json_t *
outlog_legacy(const char *out, struct outlog *l, const char *run_id, const char *run_real)
{
	char *path = xasprintf("%s/index.json", out);
	json_t *old = json_load_file(path, 0, NULL);
	json_t *keep = json_array(), *names = json_object();
	size_t i;
	json_t *e, *v;
	json_array_foreach(l->order, i, v)
		json_object_set_new(names, str(outlog_seal(l, json_string_value(v), NULL), "name"),
		    json_true());
	json_array_foreach(json_object_get(old, "shards"), i, e) {
		const char *name = str(e, "name"), *run = str(e, "run"), *id = str(e, "run_id");
		long n;
		size_t pl;
		if (!name || outlog_name(name, &n, &pl) < 0 || json_object_get(names, name) ||
		    (id && run_id && strcmp(id, run_id) == 0) ||
		    (!id && run && run_real && strcmp(run, run_real) == 0))
			continue;
		json_array_append(keep, e);
	}
	json_decref(names);
	json_decref(old);
	free(path);
	return keep;
}

void
outlog_keep_legacy(const char *out, json_t *index, json_t *legacy)
{
	size_t i;
	json_t *e;
	json_array_foreach(legacy, i, e) {
		const char *name = str(e, "name");
		if (index_pos(index, name) >= 0)
			continue;
		char *path = xasprintf("%s/%s", out, name);
		if (access(path, F_OK) < 0 && errno == ENOENT)
			vj_msg("%s is missing: dropped from the index (it was packed from %s, whose "
			    "next vj-pack -o %s packs its jobs again)", path,
			    str(e, "run") ? str(e, "run") : "another run", out);
		else
			json_array_append(index, e);
		free(path);
	}
}

/* Remove what an interrupted vj-pack left that is no shard (temp files),
 * and name the shard files nothing lists.  Those are never removed here:
 * only a record that proves a file is this run's debris does that. */
void
outlog_scan(const char *out, json_t *index, json_t *unlisted, json_t *present)
{
	DIR *d = opendir(out);
	struct dirent *de;
	json_t *listed = json_object();
	size_t i;
	json_t *e;
	if (!d)
		return;
	json_array_foreach(index, i, e)
		json_object_set_new(listed, str(e, "name"), json_true());
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		long num;
		size_t pl;
		if (strncmp(n, ".shard-", 7) == 0 || strncmp(n, ".merge-", 7) == 0 ||
		    strncmp(n, "index.json.tmp.", 15) == 0) {
			char *path = xasprintf("%s/%s", out, n);
			vj_debug("removing %s, left by an interrupted vj-pack", path);
			if (unlink(path) < 0)
				vj_warn("cannot remove %s:", path);
			free(path);
		} else if (outlog_name(n, &num, &pl) == 0) {
			if (present)
				json_object_set_new(present, n, json_true());
			if (!json_object_get(listed, n) && !json_object_get(unlisted, n)) {
				vj_msg("%s/%s: no record in %s/journal/out.log or index.json says whose "
				    "shard it is: left alone, not listed", out, n, out);
				json_object_set_new(unlisted, n, json_true());
			}
		}
	}
	closedir(d);
	json_decref(listed);
}


static int
open_log(struct outlog *l, const char *out, enum jl_fsync fsync)
{
	char err[1024];
	int rc = outlog_open(l, out, fsync, err, sizeof err);
	if (rc != VJ_OK)
		vj_msg("%s", err);
	return rc;
}

/* vj-pack --reindex OUT: no run, only OUT's log and files.  0, 1 when
 * some shard files could not be listed (each named), 75 locked, 3 fatal. */
int
pack_reindex(const char *out, enum jl_fsync fsync)
{
	char rp[PATH_MAX];
	struct outlog l;
	int lockfd = -1, exists, rc;
	char err[1024];

	memset(&l, 0, sizeof l);
	if (safefs_dir(out, &exists, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	if (!exists || !realpath(out, rp)) {
		vj_msg("%s: no such output directory", out);
		return VJ_EUSAGE;
	}
	if ((rc = outlog_lock(out, 1, &lockfd)) != VJ_OK || (rc = open_log(&l, out, fsync)) != VJ_OK) {
		if (lockfd >= 0)
			close(lockfd);
		outlog_close(&l);
		return rc;
	}
	json_t *index = json_array(), *unlisted = json_object();
	json_t *legacy = outlog_legacy(out, &l, NULL, NULL);
	outlog_listing(&l, rp, NULL, index, unlisted);
	outlog_keep_legacy(out, index, legacy);
	outlog_scan(out, index, unlisted, NULL);
	outlog_supersede(&l, index);
	json_t *runs = outlog_runs(&l, index, NULL);
	rc = VJ_OK;
	if (outlog_commit(&l) < 0) {
		vj_warn("cannot write %s:", outlog_path(&l));
		rc = VJ_EFATAL;
	} else if (outlog_write_index(out, index, runs) < 0) {
		vj_warn("cannot write %s/index.json:", out);
		rc = VJ_EFATAL;
	} else {
		json_int_t recs = 0;
		size_t i;
		json_t *e;
		json_array_foreach(index, i, e)
			recs += json_integer_value(json_object_get(e, "records"));
		vj_info("%s/index.json rebuilt: %zu shards, %lld records%s", out, json_array_size(index),
		    (long long)recs, json_object_size(unlisted) ? "; some shard files are not listed" : "");
		if (json_object_size(unlisted))
			rc = VJ_EFAILED;
	}
	json_decref(runs);
	json_decref(legacy);
	json_decref(unlisted);
	json_decref(index);
	outlog_close(&l);
	close(lockfd);
	return rc;
}
