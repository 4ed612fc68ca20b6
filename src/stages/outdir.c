/* outdir: the output directory of vj-pack.  Whoever packs into OUT holds
 * its lock.  OUT's own log (outlog.c) says which run, by id, sealed each
 * shard file; the run's pack journal says which of those shards it
 * committed and which jobs they hold.  OUT/index.json lists the shards of
 * every run, derived from the two.
 *
 * Opening OUT repairs what a crash or a user left (pack.c has the order of
 * a seal).  A temp file is debris of step 1.  A shard whose intent names
 * this run but whose event this run's pack journal lacks is debris of 2 or
 * 3: removed, its jobs are still unpacked, so they are packed again.  An
 * intent whose event was committed gets its sealed record (a crash in 4).
 * A journaled shard whose file is gone or changed since (OUT deleted) gets
 * an unshard event, and its jobs are packed again.  Shards that no record
 * proves to be this run's are never removed.
 *
 * Two run directories with one id (a copy of a run) would pack the same
 * jobs twice into one OUT; they are refused: when the log last saw the run
 * at another directory that still holds a run of this id, or when OUT
 * holds a shard of this id that the pack journal should have before its
 * end but does not. */
#include "stages/outdir.h"
#include "base/hash.h"
#include "base/key.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		o->pkey = xrealloc(o->pkey, n * sizeof *o->pkey);
		memset(o->pkey + o->nseen, 0, (n - o->nseen) * sizeof *o->pkey);
		o->pseal = xrealloc(o->pseal, n * sizeof *o->pseal);
		memset(o->pseal + o->nseen, 0, (n - o->nseen) * sizeof *o->pseal);
		o->nseen = n;
	}
	return &o->seen[slot];
}

uint64_t
outdir_packed_key(struct outdir *o, int64_t slot)
{
	outdir_seen(o, slot);
	return o->pkey[slot];
}

const char *
outdir_packed_seal(struct outdir *o, int64_t slot)
{
	outdir_seen(o, slot);
	return o->pseal[slot] ? json_string_value(json_array_get(o->sealv, o->pseal[slot] - 1)) : NULL;
}

uint8_t *
outdir_seen_id(struct outdir *o, const char *id)
{
	return outdir_seen(o, idx_get(o->who.r->ids, id, strlen(id), 1));
}

static const char *
str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The number of a name of ours (this run's prefix), else -1. */
static long
our_number(const struct outdir *o, const char *name)
{
	long n;
	size_t pl;
	if (!name || outlog_name(name, &n, &pl) < 0 || pl != strlen(o->prefix) ||
	    strncmp(name, o->prefix, pl) != 0)
		return -1;
	return n;
}

static void
note_number(struct outdir *o, const char *name)
{
	long n = our_number(o, name);
	if (n >= 0 && (unsigned long)n + 1 > o->next)
		o->next = (unsigned)n + 1;
}

/* Is a journaled "out" this OUT by its path?  What a shard event without a
 * record in OUT's log (vj 0.1, or a lost log) is matched by. */
static int
same_out(struct outdir *o, json_t *ev)
{
	const char *real = str(ev, "out_path");
	const char *given = str(ev, "out");
	if (real)
		return strcmp(real, o->out_real) == 0;
	return given && strcmp(given, o->out) == 0;
}

/* A shard's jobs packed here (with their generate keys, when its event
 * has them), or no longer: a job is in one live shard of the run, the
 * latest; an unshard of an older shard, which a new version of the job
 * superseded, leaves it packed. */
static void
mark_ids(struct outdir *o, json_t *ids, uint8_t state, json_t *keys, const char *seal)
{
	size_t i;
	json_t *v;
	uint32_t num = 0;
	if (state == OUTDIR_PACKED && seal) {
		json_array_append_new(o->sealv, json_string(seal));
		num = (uint32_t)json_array_size(o->sealv);
	}
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);
		if (!id)
			continue;
		int64_t slot = idx_get(o->who.r->ids, id, strlen(id), 1);
		uint8_t *st = outdir_seen(o, slot);
		if (state == OUTDIR_PACKED) {
			uint64_t k[2] = { 0, 0 };
			const char *key = json_string_value(json_array_get(keys, i));
			if (key_valid(key))
				key_parse(key, k);
			o->pkey[slot] = k[1];
			o->pseal[slot] = num;
		} else if (seal && o->pseal[slot] && strcmp(outdir_packed_seal(o, slot), seal) != 0) {
			continue;   /* a newer shard holds it */
		} else {
			o->pkey[slot] = 0;
			o->pseal[slot] = 0;
		}
		*st = state;
	}
}

/* The seal of a shard or unshard event.  vj 0.1 wrote none: its shard
 * events get one derived from what they say, the same every time. */
static const char *
event_seal(struct outdir *o, json_t *ev, int shard, char buf[RUNID_HEX + 1])
{
	const char *s = str(ev, "seal");
	if (runid_valid(s))
		return s;
	const char *where = str(ev, "out_path") ? str(ev, "out_path") : str(ev, "out");
	char *key = xasprintf("%s\n%s", where ? where : "", str(ev, "name"));
	const char *seal = NULL;
	if (shard) {
		char *text = xasprintf("vj-legacy-seal\n%s\n%s\n%lld", key,
		    str(ev, "sha256") ? str(ev, "sha256") : "",
		    (long long)json_integer_value(json_object_get(ev, "t")));
		char hex[65];
		sha256_hex(text, strlen(text), hex);
		memcpy(buf, hex, RUNID_HEX);
		buf[RUNID_HEX] = 0;
		free(text);
		json_object_set_new(o->legacy, key, json_string(buf));
		seal = buf;
	} else {
		seal = str(o->legacy, key);
	}
	free(key);
	return seal;
}

static void
refuse(struct outdir *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
refuse(struct outdir *o, const char *fmt, ...)
{
	va_list ap;
	if (o->refuse)
		return;
	va_start(ap, fmt);
	vsnprintf(o->why, sizeof o->why, fmt, ap);
	va_end(ap);
	o->refuse = o->why;
}

static int
journal_cb(void *ctx, const char *js, size_t len, uint64_t off)
{
	struct outdir *o = ctx;
	json_t *ev = json_loadb(js, len, 0, NULL);
	const char *name = str(ev, "name");
	const char *type = str(ev, "ev");
	long num;
	size_t pl;
	char buf[RUNID_HEX + 1];

	if (!name || !type || outlog_name(name, &num, &pl) < 0) {
		json_decref(ev);
		return 0;
	}
	if (strcmp(type, "shard") == 0) {
		const char *seal = event_seal(o, ev, 1, buf);
		int state;
		json_t *in = outlog_seal(&o->log, seal, &state);
		int mine = in ? strcmp(str(in, "run"), o->who.id) == 0 : same_out(o, ev);
		json_object_set_new(o->jseals, seal, json_pack("[I,b]", (json_int_t)off, 1));
		if (in && !mine)
			refuse(o, "%s (the pack journal of %s) records %s/%s, which OUT's log says run %s "
			    "packed; this run's id is %s: was %s/run.json replaced or removed?  Put the "
			    "original back, or pack into another output directory",
			    jreader_path(o->jr), o->who.dir, o->out, name, str(in, "run"), o->who.id,
			    o->who.dir);
		if (mine) {
			json_object_set_new(o->ours, name, json_pack("{s:s, s:I, s:I}", "seal", seal,
			    "off", (json_int_t)off, "t", json_integer_value(json_object_get(ev, "t"))));
			mark_ids(o, json_object_get(ev, "ids"), OUTDIR_PACKED, json_object_get(ev, "keys"), seal);
		}
	} else if (strcmp(type, "unshard") == 0) {
		/* the shard was found lost: its jobs are not packed here */
		const char *seal = event_seal(o, ev, 0, buf);
		json_t *j = seal ? json_object_get(o->jseals, seal) : NULL;
		if (j)
			json_array_set_new(j, 1, json_false());
		json_t *w = json_object_get(o->ours, name);
		if (w && seal && strcmp(str(w, "seal"), seal) == 0) {
			json_object_del(o->ours, name);
			mark_ids(o, json_object_get(ev, "ids"), OUTDIR_UNPACKED, NULL, seal);
		}
	}
	json_decref(ev);
	return 0;
}

/* Shard events of our pack journal: which are in OUT, and their jobs. */
static int
load_journal(struct outdir *o)
{
	char err[512];
	o->jr = jreader_open(o->who.dir, stage_name[ST_PACK]);
	int r = jreader_poll(o->jr, journal_cb, o, err, sizeof err);
	if (r < 0)
		vj_warn("%s", err);
	o->jlen = journal_size(o->who.r->own[ST_PACK]);
	return r;
}

/* Is the file at name the one an intent or event describes (size, and
 * sha256 when check_sha or it was modified after t)?  1 yes, 0 missing,
 * -1 another file. */
static int
file_matches(struct outdir *o, const char *name, uint64_t bytes, const char *sha, int64_t t,
    int check_sha)
{
	char *path = xasprintf("%s/%s", o->out, name);
	struct stat st;
	int r = 1;
	if (lstat(path, &st) < 0)
		r = errno == ENOENT ? 0 : 1;   /* cannot tell: as if it were */
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != bytes)
		r = -1;
	else if (check_sha || (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 > t) {
		char got[65];
		uint64_t size;
		if (sha256_file(path, got, &size) == 0 && (!sha || strcmp(got, sha) != 0))
			r = -1;
	}
	free(path);
	return r;
}

/* OUT's log last saw this run's id at another directory that still holds
 * a run of this id: two run directories share one id (one is a copy). */
static void
check_twin(struct outdir *o)
{
	json_t *w = json_object_get(o->log.where, o->who.id);
	const char *rel = str(w, "run_rel");
	if (!rel)
		return;
	char *there = xasprintf("%s/%s", o->out_real, rel);
	char rp[PATH_MAX], id[RUNID_HEX + 1], err[512];
	struct stat a, b;
	if (realpath(there, rp) && stat(rp, &a) == 0 && stat(o->run_real, &b) == 0 &&
	    (a.st_dev != b.st_dev || a.st_ino != b.st_ino) &&
	    runid_get(rp, id, 0, err, sizeof err) == 0 && strcmp(id, o->who.id) == 0)
		refuse(o, "%s has run id %s, and so has %s, which packed into %s before: one is a copy "
		    "of the other (cp -a, rsync, a restored cache?).  Two copies of one run must not pack "
		    "into one output directory, their jobs would be packed twice: pack %s into an "
		    "output directory of its own", o->who.dir, o->who.id, rp, o->out, o->who.dir);
	free(there);
}

static const char *
intent_name(json_t *in)
{
	return str(in, "name");
}

static int
intent_file(struct outdir *o, json_t *in)
{
	return file_matches(o, intent_name(in), (uint64_t)json_integer_value(json_object_get(in, "bytes")),
	    str(in, "sha256"), 0, 1);
}

/* Seals OUT's log gives this run, against its pack journal.  A seal the
 * journal lacks although the journal has grown past its place is another
 * run's with our id: refused before anything is touched. */
static void
check_diverged(struct outdir *o)
{
	size_t i;
	json_t *v;
	json_array_foreach(o->log.order, i, v) {
		int state;
		json_t *in = outlog_seal(&o->log, json_string_value(v), &state);
		uint64_t at = (uint64_t)json_integer_value(json_object_get(in, "at"));
		if (state == OL_DROPPED || strcmp(str(in, "run"), o->who.id) != 0 ||
		    json_object_get(o->jseals, json_string_value(v)) || at >= o->jlen)
			continue;
		if (intent_file(o, in) == 1)
			refuse(o, "%s/%s was sealed by run id %s, and %s (the pack journal of %s, which has "
			    "that id) holds another record where its shard event should be (byte offset "
			    "%llu): %s is a copy of the run that packed it, made before that, or its pack "
			    "journal was cut since.  Two copies of one run must not pack into one output "
			    "directory: pack this one into an output directory of its own (if the journal "
			    "was cut by --repair, remove the shards it no longer records, and their jobs "
			    "are packed again)", o->out, intent_name(in), o->who.id, jreader_path(o->jr),
			    o->who.dir, (unsigned long long)at, o->who.dir);
	}
}

/* Finish or undo what an interrupted seal of this run left in OUT. */
static void
finish_own(struct outdir *o)
{
	size_t i;
	json_t *v;
	json_array_foreach(o->log.order, i, v) {
		const char *seal = json_string_value(v);
		int state;
		json_t *in = outlog_seal(&o->log, seal, &state);
		json_t *j = json_object_get(o->jseals, seal);
		const char *name = intent_name(in);
		if (state == OL_DROPPED || strcmp(str(in, "run"), o->who.id) != 0)
			continue;
		if (j) {
			if (!json_is_true(json_array_get(j, 1)))
				outlog_drop(&o->log, seal, "unshard");   /* a crash after an unshard */
			else if (state == OL_INTENT)
				outlog_sealed(&o->log, seal);   /* a crash before its sealed record */
			continue;
		}
		int f = intent_file(o, in);
		char *path = xasprintf("%s/%s", o->out, name);
		if (f == 1) {
			vj_msg("%s: not in the pack journal (vj-pack stopped while sealing it): removed, "
			    "its records are packed again", path);
			if (unlink(path) < 0)
				vj_warn("cannot remove %s:", path);
		} else if (f < 0) {
			vj_msg("%s is not the shard this run's unfinished seal wrote: left alone", path);
		}
		outlog_drop(&o->log, seal, f == 1 ? "unjournaled" : f == 0 ? "missing" : "changed");
		free(path);
	}
}

/* Another run's live shard, or an entry of index.json that no record
 * explains, holds name with other bytes than want? */
static const char *
taken_by(struct outdir *o, const char *name, const char *seal, const char *want, json_t *legacy)
{
	size_t i;
	json_t *v;
	json_array_foreach(outlog_named(&o->log, name), i, v) {
		int state;
		json_t *in = outlog_seal(&o->log, json_string_value(v), &state);
		if (state != OL_DROPPED && strcmp(json_string_value(v), seal) != 0 &&
		    (!want || strcmp(str(in, "sha256"), want) != 0))
			return outlog_run_path(&o->log, str(in, "run")) ?
			    outlog_run_path(&o->log, str(in, "run")) : str(in, "run");
	}
	json_array_foreach(legacy, i, v)
		if (strcmp(str(v, "name"), name) == 0 && (!want || !str(v, "sha256") ||
		    strcmp(str(v, "sha256"), want) != 0))
			return str(v, "run") ? str(v, "run") : "another run";
	return NULL;
}

/* Is our shard name still the file the journal recorded?  NULL when it is;
 * else why not, *code says it in a word ("missing", "size", "sha256",
 * "replaced", "dropped"), and *changed is set when a different file of
 * ours has the name. */
static const char *
lost_why(struct outdir *o, const char *name, json_t *w, json_t *ev, json_t *legacy, char *buf,
    size_t buflen, const char **code, int *changed)
{
	const char *want = str(ev, "sha256");
	uint64_t bytes = (uint64_t)json_integer_value(json_object_get(ev, "bytes"));
	int64_t t = json_integer_value(json_object_get(w, "t"));
	int state;
	outlog_seal(&o->log, str(w, "seal"), &state);
	const char *other = taken_by(o, name, str(w, "seal"), want, legacy);

	*changed = 0;
	if (other) {
		/* another run's shard took the name (after OUT was deleted):
		 * ours is gone, theirs stays */
		snprintf(buf, buflen, "was replaced by a shard of %s", other);
		*code = "replaced";
		return buf;
	}
	switch (file_matches(o, name, bytes, want, t, 0)) {
	case 0:
		*code = "missing";
		return "is missing";
	case -1:
		*code = want ? "sha256" : "size";
		*changed = 1;
		char *path = xasprintf("%s/%s", o->out, name);
		struct stat st;
		if (lstat(path, &st) == 0 && (uint64_t)st.st_size != bytes) {
			snprintf(buf, buflen, "has %llu bytes, the journal says %llu",
			    (unsigned long long)st.st_size, (unsigned long long)bytes);
			*code = "size";
		} else {
			snprintf(buf, buflen, "does not match its sha256 in the journal");
		}
		free(path);
		return buf;
	}
	if (state == OL_DROPPED) {
		*code = "dropped";
		return "was dropped from OUT's log";
	}
	return NULL;
}

/* Our shards whose files are missing or changed (OUT deleted or damaged
 * since): journal an unshard event for each, so the journal, the fold and
 * index.json agree that their jobs are not packed there, and pack them
 * again.  A changed file is removed.  -1 on a journal error. */
static int
forget_lost(struct outdir *o, json_t *legacy)
{
	struct buf rm = { 0 };
	json_t *gone = json_array();
	size_t nrm = 0;
	int r = 0;
	const char *name;
	json_t *w, *tmp;
	json_object_foreach_safe(o->ours, tmp, name, w) {
		json_t *ev = jreader_get(o->jr, (uint64_t)json_integer_value(json_object_get(w, "off")));
		char buf[1024];
		const char *code = NULL;
		int changed;
		const char *why = lost_why(o, name, w, ev, legacy, buf, sizeof buf, &code, &changed);
		if (!why) {
			json_decref(ev);
			continue;
		}
		json_t *ids = json_object_get(ev, "ids");
		size_t nids = json_array_size(ids);
		vj_msg("%s/%s %s: its %zu job%s will be packed again%s", o->out, name, why, nids,
		    nids == 1 ? "" : "s", o->who.pending ? "" : " when given again");
		json_t *un = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O}",
		    "ev", "unshard", "t", (json_int_t)now_ms(), "name", name, "seal", str(w, "seal"),
		    "out", o->out, "out_path", o->out_real, "reason", code, "records", (json_int_t)nids,
		    "bytes", json_object_get(ev, "bytes"), "sha256", json_object_get(ev, "sha256"),
		    "ids", ids ? ids : json_array());
		if (!un || run_append(o->who.r, ST_PACK, un) < 0) {
			vj_warn("cannot write %s:", journal_path(o->who.r->own[ST_PACK]));
			json_decref(un);
			json_decref(ev);
			r = -1;
			break;
		}
		json_decref(un);
		mark_ids(o, ids, OUTDIR_UNPACKED, NULL, str(w, "seal"));
		json_decref(ev);
		if (changed) {
			buf_addf(&rm, "%s/%s", o->out, name);
			buf_add(&rm, "", 1);
			nrm++;
		}
		if (strcmp(code, "dropped") != 0)
			json_array_append(gone, json_object_get(w, "seal"));
		json_object_del(o->ours, name);
	}
	if (json_array_size(gone) && r == 0 && journal_commit(o->who.r->own[ST_PACK]) < 0) {
		vj_warn("cannot write %s:", journal_path(o->who.r->own[ST_PACK]));
		r = -1;
	}
	/* only once the journal forgot them: a crash before leaves them
	 * journaled and changed, found again by the next vj-pack */
	for (const char *f = rm.p; r == 0 && nrm > 0; f += strlen(f) + 1, nrm--)
		if (unlink(f) < 0 && errno != ENOENT)
			vj_warn("cannot remove %s:", f);
	size_t i;
	json_t *s;
	json_array_foreach(gone, i, s)
		if (r == 0 && outlog_seal(&o->log, json_string_value(s), NULL))
			outlog_drop(&o->log, json_string_value(s), "lost");
	json_decref(gone);
	buf_free(&rm);
	return r;
}

/* The intent record of a shard: what OUT's log knows of it. */
static json_t *
intent_of(struct outdir *o, const char *seal, uint64_t at, const char *name, json_t *ids,
    uint64_t records, uint64_t bytes, const char *sha, const char *format, const char *compress,
    json_t *supersedes)
{
	size_t n = json_array_size(ids);
	json_t *in = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:O?, s:O?, s:s, s:s,"
	    " s:s, s:s}", "ev", "intent", "t", (json_int_t)now_ms(), "seal", seal, "run", o->who.id,
	    "at", (json_int_t)at, "name", name, "records", (json_int_t)records, "bytes",
	    (json_int_t)bytes, "sha256", sha, "first", json_array_get(ids, 0), "last",
	    json_array_get(ids, n ? n - 1 : 0), "format", format, "compress", compress,
	    "run_path", o->run_real, "run_rel", o->run_rel);
	if (o->who.part_n)
		json_object_set_new(in, "part", json_pack("{s:i, s:i}", "k", o->who.part_k, "n",
		    o->who.part_n));
	/* in the intent, before the rename: from then on the old versions
	 * are marked superseded in index.json, even if this seal is undone
	 * (its jobs are then packed again): a job may be missing until its
	 * run's next vj-pack, never there twice */
	if (json_object_size(supersedes))
		json_object_set(in, "supersedes", supersedes);
	return in;
}

/* Our shards that OUT's log does not record (packed by vj 0.1, or its log
 * was lost) are recorded now, by this run's id: from here on OUT knows
 * them by id, not by path. */
static int
adopt(struct outdir *o)
{
	const char *name;
	json_t *w;
	int r = 0;
	json_object_foreach(o->ours, name, w) {
		const char *seal = str(w, "seal");
		if (outlog_seal(&o->log, seal, NULL))
			continue;
		uint64_t off = (uint64_t)json_integer_value(json_object_get(w, "off"));
		json_t *ev = jreader_get(o->jr, off);
		json_t *in = intent_of(o, seal, off, name, json_object_get(ev, "ids"),
		    (uint64_t)json_integer_value(json_object_get(ev, "records")),
		    (uint64_t)json_integer_value(json_object_get(ev, "bytes")),
		    str(ev, "sha256") ? str(ev, "sha256") : "", str(ev, "format") ? str(ev, "format") : "wds",
		    str(ev, "compress") ? str(ev, "compress") : "zstd", NULL);
		vj_debug("%s/%s: recorded in OUT's log under run id %s", o->out, name, o->who.id);
		if (outlog_add(&o->log, in) < 0 || outlog_sealed(&o->log, seal) < 0)
			r = -1;
		json_decref(in);
		json_decref(ev);
	}
	return r;
}

static int
write_index(struct outdir *o)
{
	outlog_supersede(&o->log, o->index);
	json_t *runs = outlog_runs(&o->log, o->index, o->who.id);
	int r = outlog_write_index(o->out, o->index, runs);
	json_decref(runs);
	if (r < 0)
		vj_warn("cannot write %s/index.json (the shards stay sealed and journaled; the index "
		    "is rebuilt by the next vj-pack):", o->out);
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

/* Load and repair; the order matters: nothing is removed or journaled
 * before every refusal had its chance. */
static int
load(struct outdir *o)
{
	if (load_journal(o) < 0)
		return VJ_EFATAL;
	check_twin(o);
	check_diverged(o);
	if (o->refuse) {
		vj_msg("%s", o->refuse);
		return VJ_EFATAL;
	}
	finish_own(o);
	json_t *legacy = outlog_legacy(o->out, &o->log, o->who.id, o->run_real);
	int r = forget_lost(o, legacy);
	if (r == 0)
		r = adopt(o);
	if (r == 0) {
		const char *name;
		json_t *w;
		json_object_foreach(o->ours, name, w)
			json_array_append_new(o->index, outlog_entry(outlog_seal(&o->log, str(w, "seal"),
			    NULL), o->run_real));
		outlog_listing(&o->log, o->out_real, o->who.id, o->index, o->unlisted);
		outlog_keep_legacy(o->out, o->index, legacy);
	}
	json_decref(legacy);
	if (r == 0 && outlog_commit(&o->log) < 0) {
		vj_warn("cannot write %s:", outlog_path(&o->log));
		r = -1;
	}
	return r < 0 ? VJ_EFATAL : VJ_OK;
}

int
outdir_open(struct outdir *o, const struct outdir_run *who)
{
	char rp[PATH_MAX];
	int rc;

	o->who = *who;
	o->run_real = xstrdup(realpath(who->dir, rp) ? rp : who->dir);
	o->run_rel = outlog_relpath(o->out_real, o->run_real);
	if (who->part_n) {
		/* as wide as N, at least 2: "shard-p03of08-", "shard-p003of100-" */
		int w = snprintf(rp, sizeof rp, "%d", who->part_n);
		w = w < 2 ? 2 : w;
		snprintf(o->prefix, sizeof o->prefix, "shard-p%0*dof%0*d-", w, who->part_k, w,
		    who->part_n);
	} else {
		strcpy(o->prefix, "shard-");
	}
	o->index = json_array();
	o->ours = json_object();
	o->jseals = json_object();
	o->legacy = json_object();
	o->unlisted = json_object();
	o->sealv = json_array();
	char err[1024];
	if ((rc = outlog_lock(o->out, 1, &o->lockfd)) != VJ_OK)
		return rc;
	if ((rc = outlog_open(&o->log, o->out, who->fsync, err, sizeof err)) != VJ_OK) {
		vj_msg("%s", err);
		return rc;
	}
	if ((rc = load(o)) != VJ_OK)
		return rc;
	/* numbers continue after the largest one of ours listed, recorded or
	 * present: after a loss (OUT deleted) the same jobs get the same
	 * names again, and no name is ever taken twice */
	size_t i;
	json_t *e;
	json_array_foreach(o->index, i, e)
		note_number(o, str(e, "name"));
	json_array_foreach(o->log.order, i, e) {
		int state;
		json_t *in = outlog_seal(&o->log, json_string_value(e), &state);
		if (state != OL_DROPPED)
			note_number(o, intent_name(in));
	}
	json_t *present = json_object();
	const char *name;
	json_t *v;
	outlog_scan(o->out, o->index, o->unlisted, present);
	json_object_foreach(present, name, v)
		note_number(o, name);
	json_decref(present);
	if (write_index(o) < 0)
		return VJ_EFATAL;
	return VJ_OK;
}

/* Is the version of the job packed here its current one?  Unknown (a
 * shard event of vj 0.1) counts as current. */
int
outdir_live(struct outdir *o, uint32_t slot)
{
	struct run *r = o->who.r;
	uint64_t pk = outdir_packed_key(o, slot);
	if (!pk || !r->job_off || slot >= r->cap || r->job_off[slot] == NO_OFF)
		return 1;   /* packed by a vj without keys, or records of jobs the run does not hold */
	struct jobstate *g = run_job(r, ST_GENERATE, slot);
	return g && run_current(r, ST_GENERATE, slot) && g->key[1] == pk;
}

int
outdir_withdraw(struct outdir *o)
{
	struct run *r = o->who.r;
	json_t *by = json_object();   /* seal -> [ids] */
	int rc = 0;
	for (uint32_t s = 0; s < o->nseen && s < idx_count(r->ids); s++) {
		const char *seal = o->seen[s] == OUTDIR_PACKED ? outdir_packed_seal(o, s) : NULL;
		if (!seal)
			continue;
		const char *id = idx_id(r->ids, s);
		int done = outlog_is_withdrawn(&o->log, seal, id);
		if (!done && !run_gone(r, s))
			continue;
		if (!done) {
			if (!json_object_get(by, seal))
				json_object_set_new(by, seal, json_array());
			json_array_append_new(json_object_get(by, seal), json_string(id));
		}
		/* the shard holds it no more, as readers see it: given back
		 * (vj-ingest --replace), it is packed again */
		o->seen[s] = OUTDIR_UNPACKED;
		o->pseal[s] = 0;
		o->pkey[s] = 0;
	}
	const char *seal;
	json_t *ids;
	json_object_foreach(by, seal, ids) {
		vj_info("%s: %zu withdrawn job%s marked in index.json", o->out, json_array_size(ids),
		    json_array_size(ids) == 1 ? "" : "s");
		if (outlog_withdraw(&o->log, o->who.id, seal, ids) < 0)
			rc = -1;
	}
	if (json_object_size(by) && (rc < 0 || outlog_commit(&o->log) < 0 || write_index(o) < 0)) {
		vj_warn("cannot write %s:", outlog_path(&o->log));
		rc = -1;
	}
	json_decref(by);
	return rc;
}

/* A job's place in the run: what a merge needs to know it is complete. */
static void
count_jobs(struct outdir *o, json_int_t c[5])
{
	struct run *r = o->who.r;
	uint32_t n = idx_count(r->ids);
	memset(c, 0, 6 * sizeof *c);
	for (uint32_t s = 0; s < n; s++) {
		int job = r->job_off && s < r->cap && r->job_off[s] != NO_OFF;
		if (job && run_gone(r, s)) {
			c[5]++;   /* withdrawn: not a job of the dataset */
			continue;
		}
		int packed = s < o->nseen && o->seen[s] == OUTDIR_PACKED && outdir_live(o, s);
		c[1] += packed;
		if (!job)
			continue;
		c[0]++;
		if (packed)
			continue;
		int dead = 0, retry = 0;
		for (int st = ST_INGEST; st < ST_PACK; st++) {
			struct jobstate *f = r->st[st] && s < r->cap ? &r->st[st][s] : NULL;
			dead |= f && f->state == JS_DEAD;
			retry |= f && f->state == JS_RETRY;
		}
		c[dead ? 2 : retry ? 4 : 3]++;
	}
}

int
outdir_finish(struct outdir *o)
{
	char err[1024];
	if (run_refresh(o->who.r, 1u << ST_INGEST | 1u << ST_ANALYZE | 1u << ST_GENERATE, err,
	    sizeof err) < 0) {
		vj_msg("%s (the run's jobs are not counted in %s)", err, o->out);
		return -1;
	}
	json_int_t c[6];
	count_jobs(o, c);
	json_t *rs = json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "ev", "runstate",
	    "t", (json_int_t)now_ms(), "run", o->who.id, "run_path", o->run_real, "run_rel",
	    o->run_rel, "jobs", c[0], "packed", c[1], "failed", c[2], "pending", c[3],
	    "retryable", c[4]);
	if (c[5])
		json_object_set_new(rs, "withdrawn", json_integer(c[5]));
	if (o->who.part_n)
		json_object_set_new(rs, "part", json_pack("{s:i, s:i}", "k", o->who.part_k, "n",
		    o->who.part_n));
	int r = outlog_add(&o->log, rs) < 0 || outlog_commit(&o->log) < 0 ? -1 : 0;
	json_decref(rs);
	if (r < 0)
		vj_warn("cannot write %s:", outlog_path(&o->log));
	if (write_index(o) < 0)
		r = -1;
	return r;
}

void
outdir_close(struct outdir *o)
{
	outlog_close(&o->log);
	if (o->lockfd >= 0)
		close(o->lockfd);
	json_decref(o->index);
	json_decref(o->ours);
	json_decref(o->jseals);
	json_decref(o->legacy);
	json_decref(o->unlisted);
	if (o->jr)
		jreader_close(o->jr);
	free(o->seen);
	free(o->pkey);
	free(o->pseal);
	json_decref(o->sealv);
	free(o->out_real);
	free(o->run_real);
	free(o->run_rel);
}

char *
outdir_shard_name(const struct outdir *o, const struct shard_opts *so)
{
	return xasprintf("%s%06u.%s", o->prefix, o->next, shard_suffix(so));
}

char *
outdir_temp_path(const struct outdir *o)
{
	return xasprintf("%s/.%s%06u.tmp.%ld", o->out, o->prefix, o->next, (long)getpid());
}

static json_t *
shard_event(struct outdir *o, const char *name, const char *seal, json_t *ids, json_t *keys,
    uint64_t bytes, const char *sha, const struct shard_opts *so)
{
	size_t n = json_array_size(ids);
	json_t *ev = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:O, s:O, s:s, s:s, s:O}",
	    "ev", "shard", "t", (json_int_t)now_ms(), "name", name, "seal", seal, "out", o->out,
	    "out_path", o->out_real, "records", (json_int_t)n, "bytes", (json_int_t)bytes,
	    "sha256", sha, "first", json_array_get(ids, 0), "last", json_array_get(ids, n - 1),
	    "format", shard_format_name[so->format],
	    "compress", shard_compress_name[so->compress], "ids", ids);
	/* each job's generate key, last (after the ids, which the fold reads
	 * first): which version of a job the shard holds */
	if (ev && keys)
		json_object_set(ev, "keys", keys);
	return ev;
}

/* Steps 2 to 5 of a seal (pack.c): a crash between any two of them is
 * repaired by the next outdir_open. */
static int
commit_shard(struct outdir *o, const char *tmp, const char *final, const char *name,
    json_t *ids, json_t *keys, json_t *supersedes, uint64_t bytes, const char *sha,
    const struct shard_opts *so, json_t **entry)
{
	char seal[RUNID_HEX + 1];
	struct journal *pj = o->who.r->own[ST_PACK];
	if (runid_new(seal) < 0) {
		vj_warn("cannot make a seal id (the shard %s is removed):", final);
		unlink(tmp);
		return -1;
	}
	/* nothing else is appended to the pack journal until the shard event:
	 * this is where it goes */
	uint64_t at = journal_size(pj);
	json_t *in = intent_of(o, seal, at, name, ids, json_array_size(ids), bytes,
	    sha, shard_format_name[so->format], shard_compress_name[so->compress], supersedes);
	int r = outlog_add(&o->log, in) < 0 || outlog_commit(&o->log) < 0 ? -1 : 0;
	if (r < 0) {
		vj_warn("cannot write %s (the shard %s is removed):", outlog_path(&o->log), final);
		unlink(tmp);
		json_decref(in);
		return -1;
	}
	if (rename(tmp, final) < 0) {
		vj_warn("cannot rename %s to %s:", tmp, final);
		unlink(tmp);
		json_decref(in);
		return -1;
	}
	if (o->who.fsync != JL_FSYNC_NEVER && fsync_dir(o->out) < 0) {
		vj_warn("cannot sync %s (the shard %s is removed):", o->out, final);
		unlink(final);
		json_decref(in);
		return -1;
	}
	json_t *ev = shard_event(o, name, seal, ids, keys, bytes, sha, so);
	if (run_append(o->who.r, ST_PACK, ev) < 0 || journal_commit(pj) < 0) {
		vj_warn("cannot write %s (the shard %s is removed, its records stay unpacked):",
		    journal_path(pj), final);
		unlink(final);
		json_decref(ev);
		json_decref(in);
		return -1;
	}
	json_decref(ev);
	mark_ids(o, ids, OUTDIR_PACKED, keys, seal);
	json_object_set_new(o->ours, name, json_pack("{s:s, s:I, s:I}", "seal", seal, "off",
	    (json_int_t)at, "t", (json_int_t)now_ms()));
	if (outlog_sealed(&o->log, seal) < 0 || outlog_commit(&o->log) < 0) {
		vj_warn("cannot write %s (the shard %s is sealed; the next vj-pack records it):",
		    outlog_path(&o->log), final);
		r = -1;
	}
	*entry = outlog_entry(in, o->run_real);
	json_decref(in);
	json_array_append(o->index, *entry);
	o->next++;
	if (write_index(o) < 0)
		r = -1;
	return r;
}

int
outdir_commit(struct outdir *o, const char *tmp, const char *name, json_t *ids, json_t *keys,
    json_t *supersedes, uint64_t bytes, const char *sha, const struct shard_opts *so,
    json_t **entry)
{
	char *final = xasprintf("%s/%s", o->out, name);
	*entry = NULL;
	int r = commit_shard(o, tmp, final, name, ids, keys, supersedes, bytes, sha, so, entry);
	free(final);
	return r;
}

