/* merge: vj-pack --merge OUT... -o DEST.  The output directories of the
 * parts of a partitioned run (or of any runs) become one dataset, but only
 * once it is proven whole:
 *
 *   - each OUT has its own log (outlog.c), its index.json agrees with it,
 *     and no seal in it is unfinished;
 *   - each run in them recorded its jobs at the end of its last vj-pack
 *     into that OUT (runstate), with nothing pending or retryable, and its
 *     shards there hold exactly the jobs it says it packed;
 *   - the runs' partitions agree on N and cover 1..N, each part once; no
 *     run is in two OUTs;
 *   - no two shards share a name, no job id is in two samples, and every
 *     shard has the size, sha256 and record count its index gives, read
 *     back whole.
 *
 * The cheap checks come first.  Then each shard is hard-linked (or, across
 * file systems, copied) to a temporary name in DEST and checked there: what
 * is checked is the very file DEST gets.  Only when every check passed are
 * the temporaries renamed into place, the records of DEST's own log
 * written and DEST/index.json written from it; else they are removed and
 * DEST is as it was.  The parts are only read (their locks are held, so no
 * vj-pack changes them meanwhile). */
#include "stages/pack.h"
#include "stages/outlog.h"
#include "core/idx.h"
#include "core/runid.h"
#include "base/hash.h"
#include "base/jscan.h"
#include "base/safefs.h"
#include "base/util.h"

#include <archive.h>
#include <archive_entry.h>
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

#define MAX_SAID 10      /* problems of one kind named one by one */

struct part {
	const char *out;     /* as given */
	char real[PATH_MAX];
	int lockfd;
	struct outlog log;
	json_t *entries;     /* its shards, listed from its log */
};

struct piece {           /* one shard to place in DEST */
	struct part *p;
	json_t *e;           /* its index entry (borrowed from the part) */
	json_t *intent;      /* its intent record in the part's log */
	char *src, *tmp, *dst;
	json_t *sup;         /* the ids its entry marks superseded or withdrawn: {id: true} */
	size_t sup_seen;     /* ... of them, found in the shard */
	int reuse;           /* DEST already holds this very file */
	int placed;          /* tmp exists */
};

struct merge {
	const char *dest;
	char dest_real[PATH_MAX];
	int lockfd;
	struct part *parts;
	int nparts;
	struct piece *pieces;
	size_t npieces;
	json_t *runs;        /* run id -> {"part": i, "rs": runstate} */
	struct idx *ids;     /* every job id seen in a shard */
	uint32_t *owner;     /* by id slot: the piece that holds it */
	size_t nowner;
	int problems;
	int dup_said;
	json_int_t records;
	json_t *live;        /* run id -> the live job ids read back from its shards */
};

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t
num(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void
problem(struct merge *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct merge *m, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	vj_msg("%s", msg);
	m->problems++;
}

/* Open a part: its lock, its log, its shards as its log lists them, and
 * the agreement of its index.json with them. */
static int
open_part(struct merge *m, struct part *p)
{
	char err[1024];
	int exists, rc;
	if (safefs_dir(p->out, &exists, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	if (!exists || !realpath(p->out, p->real)) {
		vj_msg("%s: no such output directory", p->out);
		return VJ_EUSAGE;
	}
	if (strcmp(p->real, m->dest_real) == 0) {
		vj_msg("%s is DEST itself: merge into another directory", p->out);
		return VJ_EUSAGE;
	}
	for (struct part *q = m->parts; q < p; q++)
		if (strcmp(q->real, p->real) == 0) {
			vj_msg("%s is given twice (as %s)", p->out, q->out);
			return VJ_EUSAGE;
		}
	if ((rc = outlog_lock(p->out, 0, &p->lockfd)) != VJ_OK)
		return rc;
	if (outlog_read(&p->log, p->out, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	p->entries = json_array();
	if (!p->log.exists) {
		problem(m, "%s has no journal/out.log (it is not a vj-pack output directory, or vj 0.1 "
		    "packed it): run vj-pack into it once with this vj-pack", p->out);
		return VJ_OK;
	}
	json_t *unlisted = json_object();
	int bad = outlog_listing(&p->log, p->real, NULL, p->entries, unlisted);
	json_decref(unlisted);
	outlog_supersede(&p->log, p->entries);
	if (bad)
		problem(m, "%s: %d shard%s its log records cannot be listed (above)", p->out, bad,
		    bad == 1 ? "" : "s");
	/* the index a user sees must be the one the log proves */
	char *path = xasprintf("%s/index.json", p->out);
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je);
	json_t *have = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(doc, "shards"), i, e)
		if (str(e, "name"))
			json_object_set(have, str(e, "name"), json_object_get(e, "sha256"));
	int agree = doc != NULL && json_object_size(have) == json_array_size(p->entries);
	json_array_foreach(p->entries, i, e) {
		json_t *s = json_object_get(have, str(e, "name"));
		agree &= s && json_equal(s, json_object_get(e, "sha256"));
	}
	if (!doc)
		problem(m, "%s: %s: run vj-pack --reindex %s first", path, je.text, p->out);
	else if (!agree)
		problem(m, "%s does not list what %s/journal/out.log records: run vj-pack --reindex "
		    "%s first", path, p->out, p->out);
	json_decref(have);
	json_decref(doc);
	free(path);
	return VJ_OK;
}

/* The runs of a part, each complete and packed exactly as it says. */
static void
check_runs(struct merge *m, int pi)
{
	struct part *p = &m->parts[pi];
	json_t *sum = json_object();
	size_t i;
	json_t *e;
	json_array_foreach(p->entries, i, e) {
		const char *id = str(e, "run_id");
		json_int_t have = num(json_object_get(sum, id), "n");
		/* the live records: a superseded or withdrawn sample is not the run's */
		json_int_t live = num(e, "records") - (json_int_t)json_array_size(json_object_get(e,
		    "superseded"));
		json_object_set_new(sum, id, json_pack("{s:I}", "n", have + live));
	}
	const char *id;
	json_t *rs;
	json_object_foreach(p->log.runs, id, rs)
		if (!json_object_get(sum, id))
			json_object_set_new(sum, id, json_pack("{s:I}", "n", (json_int_t)0));
	json_t *v;
	json_object_foreach(sum, id, v) {
		const char *path = outlog_run_path(&p->log, id);
		rs = json_object_get(p->log.runs, id);
		json_t *prev = json_object_get(m->runs, id);
		char who[512];
		json_t *part = json_object_get(rs, "part");
		if (json_is_object(part))
			snprintf(who, sizeof who, "part %lld/%lld (run %s, %s, in %s)",
			    (long long)num(part, "k"), (long long)num(part, "n"), id, path ? path : "?", p->out);
		else
			snprintf(who, sizeof who, "run %s (%s, in %s)", id, path ? path : "?", p->out);
		if (prev) {
			problem(m, "run %s is in %s and in %s: its jobs would be merged twice; merge one "
			    "of them", id, m->parts[num(prev, "part")].out, p->out);
			continue;
		}
		json_object_set_new(m->runs, id, json_pack("{s:i, s:O?, s:s}", "part", pi, "rs", rs,
		    "who", who));
		if (!rs) {
			problem(m, "%s: no record of its jobs (its last vj-pack into %s did not finish): "
			    "run vj-pack -r %s -o %s --pending again", who, p->out, path ? path : "RUN",
			    p->out);
			continue;
		}
		if (num(rs, "packed") != num(v, "n"))
			problem(m, "%s: its shards hold %lld records, its last vj-pack packed %lld: run "
			    "vj-pack -r %s -o %s --pending again", who, (long long)num(v, "n"),
			    (long long)num(rs, "packed"), path ? path : "RUN", p->out);
		if (!num(rs, "pending") && !num(rs, "retryable") &&
		    num(rs, "jobs") != num(rs, "packed") + num(rs, "failed"))
			problem(m, "%s: its counts do not add up: %lld jobs, %lld packed, %lld failed for "
			    "good: run vj-pack -r %s -o %s --pending again", who, (long long)num(rs, "jobs"),
			    (long long)num(rs, "packed"), (long long)num(rs, "failed"), path ? path : "RUN",
			    p->out);
		if (num(rs, "pending") || num(rs, "retryable"))
			problem(m, "%s is incomplete: %lld jobs pending, %lld retryable (of %lld; %lld "
			    "failed for good, %lld packed)", who, (long long)num(rs, "pending"),
			    (long long)num(rs, "retryable"), (long long)num(rs, "jobs"),
			    (long long)num(rs, "failed"), (long long)num(rs, "packed"));
	}
	json_decref(sum);
}

/* Every part of 1..N once, all with one N. */
static void
check_partition(struct merge *m)
{
	json_int_t n = 0;
	const char *nfrom = NULL;
	int with = 0, without = 0;
	const char *id;
	json_t *r;
	json_object_foreach(m->runs, id, r) {
		json_t *part = json_object_get(json_object_get(r, "rs"), "part");
		if (!json_object_get(r, "rs"))
			continue;
		if (!json_is_object(part)) {
			without++;
			continue;
		}
		with++;
		if (!n) {
			n = num(part, "n");
			nfrom = str(r, "who");
		} else if (num(part, "n") != n) {
			problem(m, "%s is one of %lld parts, %s one of %lld: the parts come from different "
			    "partitions", str(r, "who"), (long long)num(part, "n"), nfrom, (long long)n);
		}
	}
	if (with && without)
		problem(m, "some runs are parts of a partition and %d %s not: merge the parts of one "
		    "partition", without, without == 1 ? "is" : "are");
	if (!with || n <= 0 || n > 1000000)
		return;
	const char **held = xcalloc((size_t)n + 1, sizeof *held);
	json_object_foreach(m->runs, id, r) {
		json_t *part = json_object_get(json_object_get(r, "rs"), "part");
		json_int_t k = num(part, "k");
		if (!json_is_object(part) || num(part, "n") != n || k < 1 || k > n)
			continue;
		if (held[k])
			problem(m, "part %lld of %lld is held twice: %s and %s", (long long)k, (long long)n,
			    held[k], str(r, "who"));
		else
			held[k] = str(r, "who");
	}
	int missing = 0;
	for (json_int_t k = 1; k <= n; k++)
		if (!held[k] && ++missing <= MAX_SAID)
			problem(m, "part %lld of %lld is missing: none of the output directories given "
			    "holds it", (long long)k, (long long)n);
	if (missing > MAX_SAID)
		problem(m, "... %d parts of %lld missing in all", missing, (long long)n);
	free(held);
}

/* The shards to place, their names unique, and what DEST holds already. */
static void
plan(struct merge *m)
{
	json_t *names = json_object();
	for (int pi = 0; pi < m->nparts; pi++) {
		struct part *p = &m->parts[pi];
		size_t i;
		json_t *e;
		json_array_foreach(p->entries, i, e) {
			const char *name = str(e, "name");
			json_t *prev = json_object_get(names, name);
			if (prev) {
				problem(m, "%s is in %s and in %s: two shards with one name", name,
				    m->parts[json_integer_value(prev)].out, p->out);
				continue;
			}
			json_object_set_new(names, name, json_integer(pi));
			m->pieces = xrealloc(m->pieces, (m->npieces + 1) * sizeof *m->pieces);
			struct piece *c = &m->pieces[m->npieces++];
			memset(c, 0, sizeof *c);
			c->p = p;
			c->e = e;
			c->src = xasprintf("%s/%s", p->out, name);
			c->dst = xasprintf("%s/%s", m->dest, name);
			c->tmp = xasprintf("%s/.merge-%s.tmp.%ld", m->dest, name, (long)getpid());
			c->sup = json_object();
			size_t si;
			json_t *sv;
			json_array_foreach(json_object_get(e, "superseded"), si, sv)
				if (json_string_value(sv))
					json_object_set(c->sup, json_string_value(sv), json_true());
			size_t k;
			json_t *v;
			json_array_foreach(outlog_named(&p->log, name), k, v) {
				int state;
				json_t *in = outlog_seal(&p->log, json_string_value(v), &state);
				if (state == OL_SEALED &&
				    json_equal(json_object_get(in, "sha256"), json_object_get(e, "sha256")))
					c->intent = in;
			}
			struct stat a, b;
			if (lstat(c->dst, &a) == 0) {
				if (stat(c->src, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
					c->reuse = 1;
				else
					problem(m, "%s exists and is not %s: merge into an empty or new directory",
					    c->dst, c->src);
			}
		}
	}
	/* DEST holds nothing else, but what an earlier merge of these put there */
	DIR *d = opendir(m->dest);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		long n;
		size_t pl;
		if (strncmp(de->d_name, ".merge-", 7) == 0) {
			/* an interrupted merge's temporary (DEST is locked) */
			char *path = xasprintf("%s/%s", m->dest, de->d_name);
			unlink(path);
			free(path);
		} else if (outlog_name(de->d_name, &n, &pl) == 0 && !json_object_get(names, de->d_name))
			problem(m, "%s/%s is not part of this merge: merge into an empty or new directory",
			    m->dest, de->d_name);
	}
	if (d)
		closedir(d);
	json_decref(names);
}

/* ---- reading a shard back: sha256 of the file, its records, its ids ---- */

struct reader {
	int fd;
	struct sha256_ctx *h;
	uint64_t size;
	char buf[65536];
};

static la_ssize_t
read_cb(struct archive *a, void *ctx, const void **out)
{
	struct reader *r = ctx;
	ssize_t n;
	do
		n = read(r->fd, r->buf, sizeof r->buf);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	sha256_update(r->h, r->buf, (size_t)n);
	r->size += (uint64_t)n;
	*out = r->buf;
	return n;
}

/* A wds key back to its job id: %XX is a byte. */
static void
unkey(const char *k, size_t n, struct buf *out)
{
	out->len = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (k[i] == '%' && i + 2 < n && sscanf(k + i + 1, "%2x", &v) == 1) {
			char c = (char)v;
			buf_add(out, &c, 1);
			i += 2;
		} else {
			buf_add(out, k + i, 1);
		}
	}
	buf_add(out, "", 1);
	out->len--;
}

static void
saw_id(struct merge *m, size_t pi, const char *id, size_t len)
{
	struct piece *c = &m->pieces[pi];
	if (json_object_size(c->sup)) {
		char *k = xmalloc(len + 1);
		memcpy(k, id, len);
		k[len] = 0;
		int skip = json_object_get(c->sup, k) != NULL;
		free(k);
		if (skip) {
			c->sup_seen++;   /* an older version, or withdrawn: readers skip it */
			return;
		}
	}
	const char *run = str(c->e, "run_id");
	if (run)
		json_object_set_new(m->live, run, json_integer(num(m->live, run) + 1));
	int64_t slot = idx_get(m->ids, id, len, 0);
	if (slot >= 0) {
		struct piece *o = &m->pieces[m->owner[slot]];
		char esc[256];
		text_escape(id, len, esc, sizeof esc);
		if (++m->dup_said <= MAX_SAID)
			problem(m, "job id %s is in %s and in %s", esc, o->src, m->pieces[pi].src);
		else
			m->problems++;
		return;
	}
	slot = idx_get(m->ids, id, len, 1);
	if ((size_t)slot >= m->nowner) {
		m->nowner = m->nowner ? m->nowner * 2 : 4096;
		m->owner = xrealloc(m->owner, m->nowner * sizeof *m->owner);
	}
	m->owner[slot] = (uint32_t)pi;
}

static int
read_wds(struct merge *m, size_t pi, struct archive *a, uint64_t *records, struct buf *id)
{
	struct archive_entry *e;
	char buf[65536];
	int r;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		size_t nl = name ? strlen(name) : 0;
		if (nl > 5 && strcmp(name + nl - 5, ".json") == 0) {
			const char *dot = strchr(name, '.');
			(*records)++;
			unkey(name, (size_t)(dot - name), id);
			saw_id(m, pi, id->p, id->len);
		}
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
			;
		if (n < 0)
			return -1;
	}
	return r == ARCHIVE_EOF ? 0 : -1;
}

static int
read_jsonl(struct merge *m, size_t pi, struct archive *a, uint64_t *records, struct buf *line,
    char *err, size_t errlen)
{
	static const char *const keys[] = { "id" };
	char buf[65536];
	la_ssize_t n;
	struct archive_entry *e;
	if (archive_read_next_header(a, &e) != ARCHIVE_OK)
		return -1;
	line->len = 0;
	while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
		for (la_ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				buf_add(line, buf + i, 1);
				continue;
			}
			struct jval v;
			(*records)++;
			if (jscan(line->p, line->len, keys, &v, 1) < 0 || v.type != 's')
				return errf(err, errlen, "line %llu is not a record with an id",
				    (unsigned long long)*records);
			saw_id(m, pi, v.p, v.len);
			line->len = 0;
		}
	}
	if (n < 0)
		return -1;
	if (line->len)
		return errf(err, errlen, "the last line is incomplete");
	return 0;
}

/* Read path whole: its sha256 and size as a file, its records and ids. */
static int
read_shard(struct merge *m, size_t pi, const char *path, int jsonl, char sha[65], uint64_t *size,
    uint64_t *records, char *err, size_t errlen)
{
	struct reader r = { .fd = safefs_open(path, O_RDONLY, 0) };
	struct buf tmp = {0};
	int rc = -1;
	*records = 0;
	*size = 0;
	sha[0] = 0;
	if (r.fd < 0)
		return errf(err, errlen, "cannot read it: %s", safefs_why(errno));
	r.h = sha256_new();
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	if (jsonl)
		archive_read_support_format_raw(a);
	else
		archive_read_support_format_tar(a);
	if (archive_read_open(a, &r, NULL, read_cb, NULL) == ARCHIVE_OK) {
		err[0] = 0;
		rc = jsonl ? read_jsonl(m, pi, a, records, &tmp, err, errlen) :
		    read_wds(m, pi, a, records, &tmp);
		if (rc < 0 && !err[0])
			snprintf(err, errlen, "%s", archive_error_string(a) ? archive_error_string(a) :
			    "cannot read it");
	} else {
		snprintf(err, errlen, "%s", archive_error_string(a));
	}
	archive_read_free(a);
	/* what the archive did not need (padding after the end, or all that
	 * follows damage) is still the file: the sha256 is the whole file's */
	ssize_t n;
	while ((n = read(r.fd, r.buf, sizeof r.buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errf(err, errlen, "cannot read it: %s", strerror(errno));
			break;
		}
		sha256_update(r.h, r.buf, (size_t)n);
		r.size += (uint64_t)n;
	}
	sha256_final(r.h, sha);
	*size = r.size;
	close(r.fd);
	buf_free(&tmp);
	return rc;
}

/* A copy where a hard link cannot be: into tmp, synced. */
static int
copy_file(const char *src, const char *dst)
{
	int in = safefs_open(src, O_RDONLY, 0), out = -1, rc = -1;
	char buf[1 << 16];
	ssize_t n;
	if (in < 0)
		return -1;
	out = safefs_open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (out < 0)
		goto done;
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(out, buf, (size_t)n) < 0)
			goto done;
	}
	rc = fsync(out);
done:
	if (out >= 0 && close(out) < 0)
		rc = -1;
	close(in);
	return rc;
}

/* Put piece c in DEST under its temporary name and check that file. */
static void
place_and_check(struct merge *m, size_t pi, int *copied)
{
	struct piece *c = &m->pieces[pi];
	const char *path = c->reuse ? c->dst : c->tmp;
	char err[1024], sha[65];
	uint64_t size, recs;
	if (!c->reuse) {
		unlink(c->tmp);
		if (link(c->src, c->tmp) < 0) {
			if (copy_file(c->src, c->tmp) < 0) {
				problem(m, "cannot put %s into %s: %s", c->src, m->dest, strerror(errno));
				unlink(c->tmp);
				return;
			}
			(*copied)++;
		}
		c->placed = 1;
	}
	int jsonl = strcmp(str(c->e, "format"), "jsonl") == 0;
	int rd = read_shard(m, pi, path, jsonl, sha, &size, &recs, err, sizeof err);
	if (rd < 0 && !sha[0])
		problem(m, "%s: %s", path, err);
	else if (size != (uint64_t)num(c->e, "bytes"))
		problem(m, "%s: damaged shard: %llu bytes, its index says %lld", c->src,
		    (unsigned long long)size, (long long)num(c->e, "bytes"));
	else if (strcmp(sha, str(c->e, "sha256")) != 0)
		problem(m, "%s: damaged shard: sha256 %s, its index says %s", c->src, sha,
		    str(c->e, "sha256"));
	else if (rd < 0)
		problem(m, "%s: damaged shard: %s", c->src, err);
	else if (recs != (uint64_t)num(c->e, "records"))
		problem(m, "%s: damaged shard: %llu records, its index says %lld", c->src,
		    (unsigned long long)recs, (long long)num(c->e, "records"));
	m->records += (json_int_t)recs;
}

/* A record of a part's log for DEST's: the run's path from DEST. */
static json_t *
rebased(struct merge *m, json_t *rec)
{
	json_t *c = json_deep_copy(rec);
	json_object_set_new(c, "t", json_integer(now_ms()));
	json_object_del(c, "run_rel");
	if (str(c, "run_path") && str(c, "run_path")[0] == '/') {
		char *rel = outlog_relpath(m->dest_real, str(c, "run_path"));
		json_object_set_new(c, "run_rel", json_string(rel));
		free(rel);
	}
	return c;
}

/* Everything checked: the shards into place, DEST's log, DEST/index.json. */
static int
commit(struct merge *m, enum jl_fsync fsync)
{
	char err[1024];
	struct outlog l;
	for (size_t i = 0; i < m->npieces; i++) {
		struct piece *c = &m->pieces[i];
		if (c->placed && rename(c->tmp, c->dst) < 0) {
			vj_warn("cannot rename %s to %s:", c->tmp, c->dst);
			return VJ_EFATAL;
		}
		c->placed = 0;
	}
	if (fsync != JL_FSYNC_NEVER && fsync_dir(m->dest) < 0) {
		vj_warn("cannot sync %s:", m->dest);
		return VJ_EFATAL;
	}
	int rc = outlog_open(&l, m->dest, fsync, err, sizeof err);
	if (rc != VJ_OK) {
		vj_msg("%s", err);
		outlog_close(&l);
		return rc;
	}
	int bad = 0;
	for (size_t i = 0; i < m->npieces; i++) {
		json_t *in = m->pieces[i].intent;
		int state;
		if (!in || outlog_seal(&l, str(in, "seal"), &state))
			continue;
		json_t *c = rebased(m, in);
		bad |= outlog_add(&l, c) < 0 || outlog_sealed(&l, str(in, "seal")) < 0;
		json_decref(c);
		/* its withdrawn jobs stay withdrawn in DEST */
		json_t *w = json_object_get(m->pieces[i].p->log.withdrawn, str(in, "seal"));
		if (json_object_size(w)) {
			json_t *ids = json_array();
			const char *wid;
			json_t *wv;
			json_object_foreach(w, wid, wv)
				json_array_append_new(ids, json_string(wid));
			bad |= outlog_withdraw(&l, str(in, "run"), str(in, "seal"), ids) < 0;
			json_decref(ids);
		}
	}
	const char *id;
	json_t *r;
	json_object_foreach(m->runs, id, r) {
		json_t *c = rebased(m, json_object_get(r, "rs"));
		bad |= outlog_add(&l, c) < 0;
		json_decref(c);
	}
	json_t *entries = json_array(), *unlisted = json_object();
	if (!bad && outlog_commit(&l) == 0) {
		outlog_listing(&l, m->dest_real, NULL, entries, unlisted);
		outlog_supersede(&l, entries);
		json_t *runs = outlog_runs(&l, entries, NULL);
		bad = outlog_commit(&l) < 0 || outlog_write_index(m->dest, entries, runs) < 0;
		json_decref(runs);
	} else {
		bad = 1;
	}
	if (bad) {
		vj_warn("cannot write %s's log or index.json:", m->dest);
		rc = VJ_EFATAL;
	}
	json_decref(entries);
	json_decref(unlisted);
	outlog_close(&l);
	return rc;
}

static void
cleanup(struct merge *m)
{
	for (size_t i = 0; i < m->npieces; i++) {
		struct piece *c = &m->pieces[i];
		if (c->placed)
			unlink(c->tmp);
		free(c->src);
		free(c->tmp);
		free(c->dst);
		json_decref(c->sup);
	}
	free(m->pieces);
	for (int i = 0; i < m->nparts; i++) {
		outlog_close(&m->parts[i].log);
		json_decref(m->parts[i].entries);
		if (m->parts[i].lockfd >= 0)
			close(m->parts[i].lockfd);
	}
	free(m->parts);
	json_decref(m->runs);
	json_decref(m->live);
	idx_free(m->ids);
	free(m->owner);
	if (m->lockfd >= 0)
		close(m->lockfd);
}

static int
refused(struct merge *m)
{
	vj_msg("merge into %s refused: %d problem%s (each named above); nothing was merged", m->dest,
	    m->problems, m->problems == 1 ? "" : "s");
	return VJ_EFAILED;
}

/* What the shards hold, read back, against what the runs say: each run's
 * live job ids (not superseded, not withdrawn) are as many as its last
 * vj-pack counted packed, and what an entry marks superseded is in it. */
static void
check_read(struct merge *m)
{
	for (size_t i = 0; i < m->npieces; i++) {
		struct piece *c = &m->pieces[i];
		if (c->sup_seen != json_object_size(c->sup))
			problem(m, "%s: its index entry marks %zu ids superseded or withdrawn, the shard "
			    "holds %zu of them", c->src, json_object_size(c->sup), c->sup_seen);
	}
	const char *id;
	json_t *r;
	json_object_foreach(m->runs, id, r) {
		json_t *rs = json_object_get(r, "rs");
		if (rs && num(m->live, id) != num(rs, "packed"))
			problem(m, "%s: its shards hold %lld live job ids (read back), its last vj-pack "
			    "counted %lld packed", str(r, "who"), (long long)num(m->live, id),
			    (long long)num(rs, "packed"));
	}
}

static int
run_merge(struct merge *m, enum jl_fsync fsync)
{
	char err[1024];
	int rc;
	if (mkdir_p(m->dest, 0755) < 0 || safefs_dir(m->dest, NULL, err, sizeof err) < 0 ||
	    !realpath(m->dest, m->dest_real)) {
		vj_warn("cannot create %s:", m->dest);
		return VJ_EFATAL;
	}
	if ((rc = outlog_lock(m->dest, 1, &m->lockfd)) != VJ_OK)
		return rc;
	for (int i = 0; i < m->nparts; i++)
		if ((rc = open_part(m, &m->parts[i])) != VJ_OK)
			return rc;
	for (int i = 0; i < m->nparts; i++)
		check_runs(m, i);
	check_partition(m);
	plan(m);
	if (m->problems)
		return refused(m);
	/* the costly part: every byte of every shard, as DEST gets it */
	int copied = 0;
	for (size_t i = 0; i < m->npieces; i++)
		place_and_check(m, i, &copied);
	if (m->dup_said > MAX_SAID)
		vj_msg("... %d job ids are in more than one shard in all", m->dup_said);
	check_read(m);
	if (m->problems)
		return refused(m);
	if ((rc = commit(m, fsync)) != VJ_OK)
		return rc;
	vj_info("merged %zu shards, %lld records, of %zu runs into %s (%d copied, the rest linked)",
	    m->npieces, (long long)m->records, json_object_size(m->runs), m->dest, copied);
	return VJ_OK;
}

int
pack_merge(char **outs, int nouts, const char *dest, enum jl_fsync fsync)
{
	struct merge m = { .dest = dest, .lockfd = -1, .nparts = nouts };
	m.parts = xcalloc((size_t)nouts, sizeof *m.parts);
	for (int i = 0; i < nouts; i++) {
		m.parts[i].out = outs[i];
		m.parts[i].lockfd = -1;
	}
	m.runs = json_object();
	m.ids = idx_new();
	m.live = json_object();
	int rc = run_merge(&m, fsync);
	cleanup(&m);
	return rc;
}
