/* pack: records in, sealed shards out, each job exactly once per OUT.
 *
 * The order of a seal is what makes a crash at any moment harmless:
 *   1. write OUT/.shard-N.tmp.PID and fsync it;
 *   2. rename it to OUT/shard-N.EXT and fsync OUT;
 *   3. journal the shard event (with its ids) and commit;
 *   4. rewrite OUT/index.json atomically.
 * At start, a temp file is debris of 1, a shard file without a journaled
 * event is debris of 2 (removed: its jobs are still unpacked, so they are
 * packed again), and index.json is rebuilt from the journal (4).  A
 * journaled shard whose file is gone or changed since (OUT deleted) gets an
 * unshard event first, and its jobs are packed again.
 *
 * While a shard is sealed, a reader thread reads the next images and
 * checks their sha256 (prefetch.c), the main thread frames the tar and feeds
 * libzstd (shard.c), whose workers compress. */
#include "stages/pack.h"
#include "stages/prefetch.h"
#include "base/hash.h"
#include "core/run.h"
#include "core/store.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per-slot state, this OUT only: packing into another OUT is independent. */
enum { SEEN_NONE, SEEN_QUEUED, SEEN_PACKED };

struct item {
	char *id;
	char *json;          /* the record without image bytes, compact */
	json_t *rec;
	uint64_t size;       /* what it adds to the uncompressed shard */
};

struct packer {
	const struct pack_cfg *c;
	struct run *r;
	char *out_real, *run_real;
	int lockfd;
	uint8_t *seen;
	size_t nseen;
	json_t *index;       /* array of index entries, by name */
	json_t *where;       /* name -> [offset, t] of the shard event of each of our entries */
	struct jreader *jr;  /* the pack journal, read at start */
	unsigned next;       /* number of the next shard */
	struct item *batch;
	size_t nbatch, capbatch;
	uint64_t batch_bytes;
	int left_out;        /* records reported and not packed */
	int status;          /* VJ_EFATAL / VJ_ETEMP once something ended the run */
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a read of stdin must return so we can stop */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static uint8_t *
seen_at(struct packer *p, int64_t slot)
{
	if ((size_t)slot >= p->nseen) {
		size_t n = p->nseen ? p->nseen : 1024;
		while (n <= (size_t)slot)
			n *= 2;
		p->seen = xrealloc(p->seen, n);
		memset(p->seen + p->nseen, 0, n - p->nseen);
		p->nseen = n;
	}
	return &p->seen[slot];
}

static uint8_t *
seen_id(struct packer *p, const char *id)
{
	return seen_at(p, idx_get(p->r->ids, id, strlen(id), 1));
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
note_number(struct packer *p, const char *name)
{
	long n = shard_number(name);
	if (n >= 0 && (unsigned long)n + 1 > p->next)
		p->next = (unsigned)n + 1;
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
same_out(struct packer *p, json_t *ev)
{
	const char *real = json_string_value(json_object_get(ev, "out_path"));
	const char *given = json_string_value(json_object_get(ev, "out"));
	if (real)
		return strcmp(real, p->out_real) == 0;
	return given && strcmp(given, p->c->out) == 0;
}

static void
mark_ids(struct packer *p, json_t *ids, uint8_t state)
{
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (json_string_value(v))
			*seen_id(p, json_string_value(v)) = state;
}

static int
journal_cb(void *ctx, const char *js, size_t len, uint64_t off)
{
	struct packer *p = ctx;
	json_t *ev = json_loadb(js, len, 0, NULL);
	const char *name = json_string_value(json_object_get(ev, "name"));
	const char *type = json_string_value(json_object_get(ev, "ev"));

	if (!name || !type || shard_number(name) < 0 || !same_out(p, ev)) {
		json_decref(ev);
		return 0;
	}
	long old = index_pos(p->index, name);
	if (strcmp(type, "shard") == 0) {
		if (old >= 0)   /* a later event for the same name wins */
			json_array_remove(p->index, (size_t)old);
		json_array_append_new(p->index, index_entry(ev, p->run_real));
		json_object_set_new(p->where, name, json_pack("[I,I]", (json_int_t)off,
		    json_integer_value(json_object_get(ev, "t"))));
		mark_ids(p, json_object_get(ev, "ids"), SEEN_PACKED);
	} else if (strcmp(type, "unshard") == 0) {
		/* the shard was found lost: its jobs are not packed here */
		if (old >= 0)
			json_array_remove(p->index, (size_t)old);
		json_object_del(p->where, name);
		mark_ids(p, json_object_get(ev, "ids"), SEEN_NONE);
	}
	json_decref(ev);
	return 0;
}

/* Shards of OUT recorded in our pack journal. */
static int
load_journal(struct packer *p)
{
	char err[512];
	p->jr = jreader_open(p->c->run, stage_name[ST_PACK]);
	int r = jreader_poll(p->jr, journal_cb, p, err, sizeof err);
	if (r < 0)
		vj_warn("%s", err);
	return r;
}

/* Is our shard entry e still the file the journal recorded?  NULL when it
 * is; else why not, *code says it in a word ("missing", "size", "sha256",
 * "replaced"), and *changed is set when a different file has the name. */
static const char *
lost_why(struct packer *p, json_t *e, json_t *foreign, char *buf, size_t buflen,
    const char **code, int *changed)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *want = json_string_value(json_object_get(e, "sha256"));
	uint64_t bytes = (uint64_t)json_integer_value(json_object_get(e, "bytes"));
	json_t *w = json_object_get(p->where, name);
	int64_t t = json_integer_value(json_array_get(w, 1));
	char *path = xasprintf("%s/%s", p->c->out, name);
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
forget_lost(struct packer *p, json_t *foreign)
{
	struct buf rm = { 0 };
	size_t i = 0, nrm = 0;
	int r = 0, n = 0;
	while (i < json_array_size(p->index)) {
		json_t *e = json_array_get(p->index, i);
		const char *name = json_string_value(json_object_get(e, "name"));
		char buf[512];
		const char *code = NULL;
		int changed;
		const char *why = lost_why(p, e, foreign, buf, sizeof buf, &code, &changed);
		if (!why) {
			i++;
			continue;
		}
		json_t *w = json_object_get(p->where, name);
		json_t *old = jreader_get(p->jr, (uint64_t)json_integer_value(json_array_get(w, 0)));
		json_t *ids = json_object_get(old, "ids");
		size_t nids = json_array_size(ids);
		vj_msg("%s/%s %s: its %zu job%s will be packed again%s", p->c->out, name, why, nids,
		    nids == 1 ? "" : "s", p->c->pending ? "" : " when given again");
		json_t *ev = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O}",
		    "ev", "unshard", "t", (json_int_t)now_ms(), "name", name, "out", p->c->out,
		    "out_path", p->out_real, "reason", code, "records", (json_int_t)nids,
		    "bytes", json_object_get(e, "bytes"), "sha256", json_object_get(e, "sha256"),
		    "ids", ids ? ids : json_array());
		if (!ev || run_append(p->r, ST_PACK, ev) < 0) {
			vj_warn("cannot write %s:", journal_path(p->r->own[ST_PACK]));
			json_decref(ev);
			json_decref(old);
			r = -1;
			break;
		}
		json_decref(ev);
		mark_ids(p, ids, SEEN_NONE);
		json_decref(old);
		if (changed) {
			buf_addf(&rm, "%s/%s", p->c->out, name);
			buf_add(&rm, "", 1);
			nrm++;
		}
		json_object_del(p->where, name);
		json_array_remove(p->index, i);
		n++;
	}
	if (n && r == 0 && journal_commit(p->r->own[ST_PACK]) < 0) {
		vj_warn("cannot write %s:", journal_path(p->r->own[ST_PACK]));
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
foreign_entries(struct packer *p)
{
	char *path = xasprintf("%s/index.json", p->c->out);
	json_t *old = json_load_file(path, 0, NULL);
	json_t *keep = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(old, "shards"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *run = json_string_value(json_object_get(e, "run"));
		if (name && run && shard_number(name) >= 0 && strcmp(run, p->run_real) != 0)
			json_array_append(keep, e);
	}
	json_decref(old);
	free(path);
	return keep;
}

static void
keep_foreign(struct packer *p, json_t *foreign)
{
	size_t i;
	json_t *e;
	json_array_foreach(foreign, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (index_has(p->index, name))
			continue;
		char *path = xasprintf("%s/%s", p->c->out, name);
		if (access(path, F_OK) < 0 && errno == ENOENT)
			vj_msg("%s is missing: dropped from the index (it was packed from %s, whose "
			    "next vj-pack -o %s packs its jobs again)", path,
			    json_string_value(json_object_get(e, "run")), p->c->out);
		else
			json_array_append(p->index, e);
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
write_index(struct packer *p)
{
	size_t n = json_array_size(p->index);
	json_t **v = xcalloc(n, sizeof *v);
	json_t *sorted = json_array();
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(p->index, i);
	qsort(v, n, sizeof *v, by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_t *doc = json_pack("{s:i, s:o}", "version", 1, "shards", sorted);
	char *js = json_dumps(doc, JSON_INDENT(1));
	char *path = xasprintf("%s/index.json", p->c->out);
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
clean_out(struct packer *p)
{
	DIR *d = opendir(p->c->out);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		char *path;
		if (strncmp(n, ".shard-", 7) == 0 || strncmp(n, "index.json.tmp.", 15) == 0) {
			path = xasprintf("%s/%s", p->c->out, n);
			vj_debug("removing %s, left by an interrupted vj-pack", path);
		} else if (shard_number(n) >= 0 && !index_has(p->index, n)) {
			path = xasprintf("%s/%s", p->c->out, n);
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
lock_out(struct packer *p)
{
	char *path = xasprintf("%s/.vj-pack.lock", p->c->out);
	char pid[32] = {0};
	int r = VJ_OK;
	p->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (p->lockfd < 0) {
		vj_warn("cannot open %s:", path);
		r = VJ_EFATAL;
	} else if (flock(p->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (pread(p->lockfd, pid, sizeof pid - 1, 0) < 0)
			pid[0] = 0;
		vj_msg("%s is locked by pid %ld (another vj-pack is packing into it)",
		    p->c->out, strtol(pid, NULL, 10));
		r = VJ_ETEMP;
	} else {
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		if (ftruncate(p->lockfd, 0) < 0 || pwrite(p->lockfd, pid, (size_t)n, 0) != n)
			vj_warn("cannot write %s:", path);
	}
	free(path);
	return r;
}

static int
setup(struct packer *p)
{
	char err[1024];
	char rp[PATH_MAX];
	int rc;

	if (mkdir_p(p->c->out, 0755) < 0 || !realpath(p->c->out, rp)) {
		vj_warn("cannot create %s:", p->c->out);
		return VJ_EFATAL;
	}
	p->out_real = xstrdup(rp);
	p->r = run_new(p->c->run);
	rc = run_own(p->r, ST_PACK, p->c->fsync, 0, err, sizeof err);
	if (rc != VJ_OK) {
		vj_msg("%s", err);
		return rc;
	}
	p->run_real = xstrdup(realpath(p->c->run, rp) ? rp : p->c->run);
	if ((rc = lock_out(p)) != VJ_OK)
		return rc;
	p->index = json_array();
	p->where = json_object();
	if (load_journal(p) < 0)
		return VJ_EFATAL;
	json_t *foreign = foreign_entries(p);
	if (forget_lost(p, foreign) < 0) {
		json_decref(foreign);
		return VJ_EFATAL;
	}
	keep_foreign(p, foreign);
	json_decref(foreign);
	/* numbers continue after the largest listed: after a loss (OUT
	 * deleted) the same jobs get the same names again */
	size_t i;
	json_t *e;
	json_array_foreach(p->index, i, e)
		note_number(p, json_string_value(json_object_get(e, "name")));
	clean_out(p);
	if (write_index(p) < 0)
		return VJ_EFATAL;
	if (p->c->pending && run_refresh(p->r, 1u << ST_INGEST | 1u << ST_ANALYZE | 1u << ST_GENERATE,
	    err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	return VJ_OK;
}

/* WebDataset keys end at the first dot, and a key is also a file name:
 * anything but [A-Za-z0-9_-] becomes %XX, which keeps keys distinct. */
static char *
wds_key(const char *id)
{
	struct buf b = {0};
	for (const unsigned char *s = (const unsigned char *)id; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')
			buf_add(&b, s, 1);
		else
			buf_addf(&b, "%%%02X", *s);
	}
	buf_add(&b, "", 0);
	return b.p;
}

/* One extension per field: the image's, if it is a plain short word. */
static const char *
image_ext(json_t *img)
{
	const char *e = json_string_value(json_object_get(img, "ext"));
	size_t n = e ? strlen(e) : 0;
	if (n == 0 || n > 8)
		return "img";
	for (size_t i = 0; i < n; i++)
		if (!((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9')))
			return "img";
	return e;
}

static int
is_sha(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void
left_out(struct packer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
left_out(struct packer *p, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	vj_warn("%s; left out", msg);
	p->left_out++;
}

/* Does this record have what a sample needs?  Reports it when not. */
static int
usable(struct packer *p, json_t *rec, const char *id)
{
	json_t *img = json_object_get(rec, "image");
	const char *sha = json_string_value(json_object_get(img, "sha256"));
	int need_image = p->c->so.format == SF_WDS || p->c->embed_images;

	if (!json_is_string(json_object_get(json_object_get(rec, "content"), "text"))) {
		left_out(p, "job %s: the record has no content.text (not generated?)", id);
		return 0;
	}
	if (!is_sha(sha)) {
		left_out(p, "job %s: the record has no image.sha256", id);
		return 0;
	}
	if (need_image) {
		char *path = store_path(p->c->run, sha);
		int ok = access(path, R_OK) == 0;
		if (!ok)
			left_out(p, "job %s: image object %s is missing", id, path);
		free(path);
		if (!ok)
			return 0;
	}
	return 1;
}

static int seal(struct packer *p);

/* Take one record into the current shard; seal it when full. */
static int
add_record(struct packer *p, json_t *rec)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	if (!id || !*id) {
		left_out(p, "a record without an id");
		json_decref(rec);
		return 0;
	}
	uint8_t *st = seen_id(p, id);
	if (*st != SEEN_NONE) {
		vj_debug("job %s: %s, skipped", id, *st == SEEN_PACKED ?
		    "already packed into this OUT" : "given twice, packed once");
		json_decref(rec);
		return 0;
	}
	if (!usable(p, rec, id)) {
		json_decref(rec);
		return 0;
	}
	*st = SEEN_QUEUED;
	json_object_del(json_object_get(rec, "image"), "data");

	struct item it = { xstrdup(id), json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15)), rec, 0 };
	json_t *img = json_object_get(rec, "image");
	size_t ibytes = (size_t)json_integer_value(json_object_get(img, "bytes"));
	const char *text = json_string_value(json_object_get(json_object_get(rec, "content"), "text"));
	if (p->c->so.format == SF_WDS) {
		struct shard_member m[3] = { { "json", NULL, strlen(it.json) },
			{ image_ext(img), NULL, ibytes }, { "txt", NULL, strlen(text) } };
		it.size = shard_sample_size(m, 3, strlen(id));
	} else {
		it.size = strlen(it.json) + 80 + (p->c->embed_images ? ibytes / 3 * 4 + 4 : 0);
	}
	if (p->nbatch == p->capbatch) {
		p->capbatch = p->capbatch ? p->capbatch * 2 : 256;
		p->batch = xrealloc(p->batch, p->capbatch * sizeof *p->batch);
	}
	p->batch[p->nbatch++] = it;
	p->batch_bytes += it.size;
	if (p->nbatch >= p->c->shard_records || p->batch_bytes >= p->c->shard_bytes)
		return seal(p);
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return strcmp(x->id, y->id);
}

static void
free_batch(struct packer *p)
{
	for (size_t i = 0; i < p->nbatch; i++) {
		free(p->batch[i].id);
		free(p->batch[i].json);
		json_decref(p->batch[i].rec);
	}
	p->nbatch = 0;
	p->batch_bytes = 0;
}

static char *
base64(const unsigned char *s, size_t n)
{
	static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc(n / 3 * 4 + 5), *o = out;
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = tb[v >> 18]; *o++ = tb[v >> 12 & 63]; *o++ = tb[v >> 6 & 63]; *o++ = tb[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = tb[v >> 18]; *o++ = tb[v >> 12 & 63];
		*o++ = i + 1 < n ? tb[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = 0;
	return out;
}

static const char *
item_sha(const struct item *it)
{
	const char *sha = json_string_value(json_object_get(json_object_get(it->rec, "image"), "sha256"));
	return sha ? sha : "";
}

/* Start reading the batch's images; NULL when the format needs none. */
static struct fetcher *
start_images(struct packer *p)
{
	if (p->c->so.format != SF_WDS && !p->c->embed_images)
		return NULL;
	const char **sha = xcalloc(p->nbatch ? p->nbatch : 1, sizeof *sha);
	for (size_t i = 0; i < p->nbatch; i++)
		sha[i] = item_sha(&p->batch[i]);
	struct fetcher *f = fetch_start(p->c->run, sha, p->nbatch);
	free(sha);
	return f;
}

/* A job's image, read and checked by the fetcher; NULL reported. */
static struct fslot *
get_image(struct packer *p, struct fetcher *f, size_t i)
{
	struct fslot *sl;
	if (fetch_take(f, i, &sl) == 0)
		return sl;
	struct item *it = &p->batch[i];
	if (sl->err == ENOENT) {
		char *path = store_path(p->c->run, item_sha(it));
		left_out(p, "job %s: image object %s is missing", it->id, path);
		free(path);
	} else {
		left_out(p, "job %s: image object %s: %s", it->id, item_sha(it),
		    sl->err == EILSEQ ? "its bytes do not match its hash" : strerror(sl->err));
	}
	return NULL;
}

/* jsonl: the record with image.url (and image.data with --embed-images). */
static char *
jsonl_line(struct packer *p, struct fetcher *f, size_t i, int *bad)
{
	struct item *it = &p->batch[i];
	json_t *img = json_object_get(it->rec, "image");
	const char *url = json_string_value(json_object_get(json_object_get(it->rec, "job"), "imageUrl"));
	*bad = 0;
	if (!json_is_object(img))
		return xstrdup(it->json);
	if (url)
		json_object_set_new(img, "url", json_string(url));
	if (p->c->embed_images) {
		struct fslot *bytes = get_image(p, f, i);
		if (!bytes) {
			*bad = 1;
			return NULL;
		}
		char *b64 = base64((unsigned char *)bytes->p, bytes->len);
		json_object_set_new(img, "data", json_string(b64));
		free(b64);
	}
	char *s = json_dumps(it->rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_object_del(img, "data");
	return s;
}

/* Write sample i of the batch; 1 when the job had to be left out, -1 on a
 * write error. */
static int
write_item(struct packer *p, struct fetcher *f, struct shard *s, size_t i, char *err, size_t errlen)
{
	struct item *it = &p->batch[i];
	int r;
	if (p->c->so.format == SF_JSONL) {
		int bad;
		char *line = jsonl_line(p, f, i, &bad);
		if (bad)
			return 1;
		struct shard_member m = { "jsonl", line, strlen(line) };
		r = shard_add(s, it->id, &m, 1, err, errlen);
		free(line);
		return r;
	}
	struct fslot *img = get_image(p, f, i);
	if (!img)
		return 1;
	const char *text = json_string_value(json_object_get(json_object_get(it->rec, "content"), "text"));
	struct shard_member m[3] = { { "json", it->json, strlen(it->json) },
		{ image_ext(json_object_get(it->rec, "image")), img->p, img->len },
		{ "txt", text, strlen(text) } };
	char *key = wds_key(it->id);
	r = shard_add(s, key, m, 3, err, errlen);
	free(key);
	return r;
}

static json_t *
shard_event(struct packer *p, const char *name, json_t *ids, uint64_t bytes, const char *sha)
{
	size_t n = json_array_size(ids);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:O, s:O, s:s, s:s, s:O}",
	    "ev", "shard", "t", (json_int_t)now_ms(), "name", name, "out", p->c->out,
	    "out_path", p->out_real, "records", (json_int_t)n, "bytes", (json_int_t)bytes,
	    "sha256", sha, "first", json_array_get(ids, 0), "last", json_array_get(ids, n - 1),
	    "format", shard_format_name[p->c->so.format],
	    "compress", shard_compress_name[p->c->so.compress], "ids", ids);
}

/* After the rename: journal it, then index it.  Returns -1 (fatal). */
static int
commit_shard(struct packer *p, const char *final, const char *name, json_t *ids,
    uint64_t bytes, const char *sha)
{
	if (p->c->fsync != JL_FSYNC_NEVER && fsync_dir(p->c->out) < 0) {
		vj_warn("cannot sync %s (the shard %s is removed):", p->c->out, final);
		unlink(final);
		return -1;
	}
	json_t *ev = shard_event(p, name, ids, bytes, sha);
	if (run_append(p->r, ST_PACK, ev) < 0 || journal_commit(p->r->own[ST_PACK]) < 0) {
		vj_warn("cannot write %s (the shard %s is removed, its records stay unpacked):",
		    journal_path(p->r->own[ST_PACK]), final);
		unlink(final);
		json_decref(ev);
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		*seen_id(p, json_string_value(v)) = SEEN_PACKED;
	json_t *entry = index_entry(ev, p->run_real);
	json_array_append(p->index, entry);
	json_decref(ev);
	p->next++;
	int r = write_index(p);
	char *line = json_dumps(entry, JSON_COMPACT | JSON_REAL_PRECISION(15));
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(entry);
	return r;
}

static int
fatal(struct packer *p, int status)
{
	p->status = status;
	return -1;
}

/* Seal the current batch as the next shard.  -1 when the run must stop. */
static int
seal(struct packer *p)
{
	char err[1024];
	char sha[65];
	uint64_t bytes;
	if (p->nbatch == 0)
		return 0;
	qsort(p->batch, p->nbatch, sizeof *p->batch, by_id);
	char *name = xasprintf("shard-%06u.%s", p->next, shard_suffix(&p->c->so));
	char *tmp = xasprintf("%s/.shard-%06u.tmp.%ld", p->c->out, p->next, (long)getpid());
	char *final = xasprintf("%s/%s", p->c->out, name);
	json_t *ids = json_array();
	struct shard *s = shard_create(tmp, &p->c->so, err, sizeof err);
	struct fetcher *f = NULL;
	int r = 0;

	if (!s) {
		vj_msg("%s", err);
		r = fatal(p, VJ_EFATAL);
		goto out;
	}
	f = start_images(p);
	for (size_t i = 0; i < p->nbatch && !interrupted; i++) {
		int w = write_item(p, f, s, i, err, sizeof err);
		if (f)
			fetch_release(f, i);
		if (w < 0) {
			vj_msg("%s (sealing %s; the temp file is removed)", err, name);
			shard_abort(s);
			r = fatal(p, VJ_EFATAL);
			goto out;
		}
		if (w == 0)
			json_array_append_new(ids, json_string(p->batch[i].id));
		else
			*seen_id(p, p->batch[i].id) = SEEN_NONE;
	}
	fetch_end(f);
	f = NULL;
	if (interrupted || json_array_size(ids) == 0) {
		shard_abort(s);
		if (interrupted)
			r = fatal(p, VJ_ETEMP);
		goto out;
	}
	if (shard_finish(s, sha, &bytes, err, sizeof err) < 0) {
		vj_msg("%s (sealing %s; the temp file is removed)", err, name);
		r = fatal(p, VJ_EFATAL);
		goto out;
	}
	if (interrupted) {
		unlink(tmp);
		r = fatal(p, VJ_ETEMP);
		goto out;
	}
	if (rename(tmp, final) < 0) {
		vj_warn("cannot rename %s to %s:", tmp, final);
		unlink(tmp);
		r = fatal(p, VJ_EFATAL);
		goto out;
	}
	if (commit_shard(p, final, name, ids, bytes, sha) < 0)
		r = fatal(p, VJ_EFATAL);
	else
		vj_debug("sealed %s: %zu records", final, json_array_size(ids));
out:
	fetch_end(f);
	json_decref(ids);
	free(name);
	free(tmp);
	free(final);
	free_batch(p);
	return r;
}

static int
feed_file(struct packer *p, const char *file)
{
	int is_stdin = strcmp(file, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int r = 0;

	if (!f) {
		vj_warn("cannot open %s:", file);
		p->left_out++;
		return 0;
	}
	while (!interrupted && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		json_error_t je;
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue;
		json_t *rec = json_loadb(line, (size_t)n, 0, &je);
		if (!json_is_object(rec)) {
			left_out(p, "%s:%ld: not a JSON record: %s", is_stdin ? "stdin" : file, lineno,
			    rec ? "not an object" : je.text);
			json_decref(rec);
			continue;
		}
		if ((r = add_record(p, rec)) < 0)
			break;
	}
	if (!interrupted && r == 0 && ferror(f)) {
		vj_warn("cannot read %s:", is_stdin ? "stdin" : file);
		r = fatal(p, VJ_EFATAL);
	}
	free(line);
	if (!is_stdin)
		fclose(f);
	return r;
}

static struct idx *pend_idx;   /* qsort has no context argument */

static int
by_slot_id(const void *a, const void *b)
{
	return strcmp(idx_id(pend_idx, *(const uint32_t *)a), idx_id(pend_idx, *(const uint32_t *)b));
}

/* Every generated job not yet packed into OUT, in id order: so the same
 * run always splits into the same shards. */
static int
feed_pending(struct packer *p)
{
	uint32_t n = idx_count(p->r->ids), k = 0;
	uint32_t *slots = xcalloc(n, sizeof *slots);
	int r = 0;
	for (uint32_t s = 0; s < n; s++) {
		struct jobstate *g = run_job(p->r, ST_GENERATE, s);
		if (g && g->state == JS_DONE && *seen_at(p, s) == SEEN_NONE)
			slots[k++] = s;
	}
	pend_idx = p->r->ids;
	qsort(slots, k, sizeof *slots, by_slot_id);
	for (uint32_t i = 0; i < k && !interrupted && r == 0; i++) {
		json_t *rec = run_record(p->r, slots[i], ST_GENERATE);
		if (!rec) {
			left_out(p, "job %s: its record cannot be read from the journals",
			    idx_id(p->r->ids, slots[i]));
			continue;
		}
		r = add_record(p, rec);
	}
	free(slots);
	return r;
}

static void
teardown(struct packer *p)
{
	free_batch(p);
	free(p->batch);
	run_free(p->r);
	if (p->lockfd > 0)
		close(p->lockfd);
	json_decref(p->index);
	json_decref(p->where);
	if (p->jr)
		jreader_close(p->jr);
	free(p->seen);
	free(p->out_real);
	free(p->run_real);
}

int
pack_run(const struct pack_cfg *c)
{
	struct packer p = { .c = c, .lockfd = -1 };
	int rc = setup(&p);
	if (rc != VJ_OK) {
		teardown(&p);
		return rc;
	}
	catch_signals();
	int r = 0;
	if (c->pending)
		r = feed_pending(&p);
	else if (c->nfiles == 0)
		r = feed_file(&p, "-");
	for (int i = 0; i < c->nfiles && r == 0 && !interrupted; i++)
		r = feed_file(&p, c->files[i]);
	if (r == 0 && !interrupted)
		seal(&p);
	if (interrupted && !p.status) {
		free_batch(&p);
		p.status = VJ_ETEMP;
	}
	if (p.status == VJ_ETEMP)
		vj_msg("interrupted by signal %d: sealed shards are kept, the rest is packed by the next run",
		    (int)interrupted);
	rc = p.status ? p.status : p.left_out ? VJ_EFAILED : VJ_OK;
	if (p.left_out)
		vj_msg("%d record%s left out", p.left_out, p.left_out == 1 ? "" : "s");
	teardown(&p);
	return rc;
}
