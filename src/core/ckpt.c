/* ckpt: write and load checkpoints of one stage's fold (docs/journal.md,
 * "Checkpoints"): its per-job state by job id, its counters, and what
 * identifies the journal prefix it was folded from. */
#include "core/ckpt.h"
#include "base/hash.h"
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CK_MAGIC "vjckpt\r\n"       /* \r\n: a text-mode copy is caught at once */
#define CK_WINDOW 4096              /* journal bytes hashed at each end of the prefix */
#define CK_BUF (1 << 20)
#define CK_MAX_ID 65536             /* the longest id a checkpoint may hold */
#define CK_MAX_RUNID 256
#define CK_ENTRY_FIXED 64           /* an entry's bytes besides its id, at most */
#define SCAN_AHEAD 16               /* slots compared before an id is looked up */

/* entry flags: which fields follow (the others are zero) */
enum { F_KEY = 1, F_OFF = 2, F_RETRY = 4, F_MS = 8, F_FKEY = 16, F_ATT = 32, F_JOBOFF = 64 };

/* ---- settings ------------------------------------------------------ */

int
ckpt_enabled(void)
{
	const char *e = getenv("VJ_CKPT");
	return !e || strcmp(e, "0") != 0;
}

uint64_t
ckpt_threshold(uint64_t dflt)
{
	const char *e = getenv("VJ_CKPT_BYTES");
	int64_t v = e && *e ? parse_size(e) : -1;
	if (v < 0)
		return dflt;
	return v < 1 ? 1 : (uint64_t)v;
}

/* ---- what a checkpoint is checked against ---------------------------- */

struct ident {
	uint64_t covers, head, tail;
};

/* Hash the first and the last CK_WINDOW bytes of the journal's first
 * covers bytes: a journal that was replaced, cut or cut and regrown no
 * longer matches. */
static int
journal_ident(int fd, uint64_t covers, struct ident *id)
{
	char b[CK_WINDOW];
	size_t w = covers < CK_WINDOW ? (size_t)covers : CK_WINDOW;
	id->covers = covers;
	if (pread(fd, b, w, 0) != (ssize_t)w)
		return -1;
	id->head = hash64(b, w);
	if (pread(fd, b, w, (off_t)(covers - w)) != (ssize_t)w)
		return -1;
	id->tail = hash64(b, w);
	return 0;
}

/* RUN/run.json's id, when the run has one ("" otherwise). */
static void
run_id(const char *dir, char out[CK_MAX_RUNID + 1])
{
	char *path = xasprintf("%s/run.json", dir);
	int fd = safefs_open(path, O_RDONLY, 0);
	size_t len;
	char *text = fd >= 0 ? read_fd(fd, &len, 65536) : NULL;
	out[0] = 0;
	if (fd >= 0)
		close(fd);
	json_t *v = text ? json_loadb(text, len, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(v, "id"));
	if (id && strlen(id) <= CK_MAX_RUNID)
		strcpy(out, id);
	json_decref(v);
	free(text);
	free(path);
}

static char *
ck_path(const struct run *r, enum stage s, const char *suffix)
{
	return xasprintf("%s/journal/%s.ckpt%s", r->dir, stage_name[s], suffix);
}

/* ---- the per-job part -------------------------------------------------- */

static int
nonempty(const struct run *r, enum stage s, uint32_t slot)
{
	static const struct jobstate zero;
	if (s == ST_INGEST && r->job_off && r->job_off[slot] != NO_OFF)
		return 1;
	return r->st[s] && memcmp(&r->st[s][slot], &zero, sizeof zero) != 0;
}

/* Entries go in the order of their ingest job lines, the order in which a
 * reader's id table is numbered (the ingest fold comes first), so that a
 * loader finds each id at its next slot instead of hashing it; those
 * without a job line follow in slot order. */
static uint64_t
order_key(const struct run *r, uint32_t slot, uint64_t none)
{
	return r->job_off && r->job_off[slot] != NO_OFF ? r->job_off[slot] : none;
}

static void
sort_entries(const struct run *r, uint32_t *e, uint32_t n)
{
	uint64_t max = 0, prev = 0;
	int sorted = 1;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t k = order_key(r, e[i], 0);
		if (k > max)
			max = k;
	}
	uint64_t none = max + 1;
	for (uint32_t i = 0; i < n && sorted; i++) {
		uint64_t k = order_key(r, e[i], none);
		sorted = i == 0 || k >= prev;
		prev = k;
	}
	if (sorted)
		return;
	/* LSD radix sort, 16 bits a pass: stable, so the slot order stays
	 * among equal keys */
	uint32_t *tmp = xmalloc((size_t)n * sizeof *tmp), *cnt = xmalloc(65536 * sizeof *cnt);
	for (int shift = 0; shift < 64 && (none >> shift); shift += 16) {
		memset(cnt, 0, 65536 * sizeof *cnt);
		for (uint32_t i = 0; i < n; i++)
			cnt[order_key(r, e[i], none) >> shift & 0xffff]++;
		uint32_t sum = 0;
		for (int d = 0; d < 65536; d++) {
			uint32_t c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (uint32_t i = 0; i < n; i++)
			tmp[cnt[order_key(r, e[i], none) >> shift & 0xffff]++] = e[i];
		memcpy(e, tmp, (size_t)n * sizeof *e);
	}
	free(tmp);
	free(cnt);
}

/* ---- writing ----------------------------------------------------------- */

/* The header's fields after magic, version and length: stage, covers,
 * head and tail hashes, today_start, entries, ids, batch lines, 13
 * counters, the run id's length (then the run id).  The entries follow,
 * then the batch lines' offsets (varints, each the step from the last). */
#define HDR_FIXED (4 + 4 * 8 + 4 + 4 + 4 + 13 * 8 + 4)
#define HDR_MAX (HDR_FIXED + CK_MAX_RUNID)

struct wr {
	int fd, bad;
	uint32_t crc;
	struct buf b;
};

static void
wr_flush(struct wr *w)
{
	if (!w->bad && write_all(w->fd, w->b.p, w->b.len) < 0)
		w->bad = errno;
	w->crc = crc32c(w->crc, w->b.p, w->b.len);
	w->b.len = 0;
}

static unsigned char *
wr_room(struct wr *w, size_t n)
{
	if (w->b.len + n > CK_BUF)
		wr_flush(w);
	buf_grow(&w->b, n);
	return (unsigned char *)w->b.p + w->b.len;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static size_t
put_var(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static uint64_t
zigzag(uint64_t delta)
{
	int64_t d = (int64_t)delta;
	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static void
w_u64(struct wr *w, uint64_t v)
{
	put_u64(wr_room(w, 8), v);
	w->b.len += 8;
}

static void
w_u32(struct wr *w, uint32_t v)
{
	put_u32(wr_room(w, 4), v);
	w->b.len += 4;
}

static void
w_bytes(struct wr *w, const void *p, size_t n)
{
	memcpy(wr_room(w, n), p, n);
	w->b.len += n;
}

/* The stage's counters, in a fixed order (load reads them back so). */
static void
w_stats(struct wr *w, const struct stage_stats *st)
{
	uint64_t cost;
	memcpy(&cost, &st->cost, 8);
	const uint64_t v[] = { st->events, st->done, st->fails, st->fails_final, st->done_today,
		st->tok_prompt, st->tok_completion, st->tok_cached, cost, (uint64_t)st->last_t,
		st->shards, st->shard_bytes, st->done_ev };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		w_u64(w, v[i]);
}

struct prev {
	const char *id;
	size_t len;
	uint64_t off, job_off;
};

static int
w_entry(struct wr *w, const struct run *r, enum stage s, uint32_t slot, struct prev *pv)
{
	const char *id = idx_id(r->ids, slot);
	size_t len = strlen(id), shared = 0;
	if (len > CK_MAX_ID)
		return -1;
	while (shared < len && shared < pv->len && id[shared] == pv->id[shared])
		shared++;
	static const struct jobstate zero;
	const struct jobstate *f = r->st[s] ? &r->st[s][slot] : &zero;
	uint64_t jo = s == ST_INGEST && r->job_off ? r->job_off[slot] : NO_OFF;
	unsigned char *p = wr_room(w, CK_ENTRY_FIXED + 20 + len - shared), *q = p, *fl;

	q += put_var(q, shared);
	q += put_var(q, len - shared);
	memcpy(q, id + shared, len - shared);
	q += len - shared;
	fl = q++;
	*q++ = f->state;
	*fl = 0;
	if (f->key[0] || f->key[1]) {
		*fl |= F_KEY;
		put_u64(q, f->key[0]);
		put_u64(q + 8, f->key[1]);
		q += 16;
	}
	if (f->off) {
		*fl |= F_OFF;
		q += put_var(q, zigzag(f->off - pv->off));
		pv->off = f->off;
	}
	if (f->retry_at) {
		*fl |= F_RETRY;
		q += put_var(q, f->retry_at);
	}
	if (f->ms) {
		*fl |= F_MS;
		q += put_var(q, f->ms);
	}
	if (f->fkey) {
		*fl |= F_FKEY;
		put_u32(q, f->fkey);
		q += 4;
	}
	if (f->attempts) {
		*fl |= F_ATT;
		q += put_var(q, f->attempts);
	}
	if (jo != NO_OFF) {
		*fl |= F_JOBOFF;
		q += put_var(q, zigzag(jo - pv->job_off));
		pv->job_off = jo;
	}
	w->b.len += (size_t)(q - p);
	pv->id = id;
	pv->len = len;
	return 0;
}

int
ckpt_write(struct run *r, enum stage s, uint64_t covers)
{
	char *path = ck_path(r, s, ""), *tmp = ck_path(r, s, ".tmp");
	char *jdir = xasprintf("%s/journal", r->dir), runid[CK_MAX_RUNID + 1];
	const char *jpath = run_journal_path(r, s);
	struct ident ident;
	struct wr w = { .fd = -1 };
	uint32_t *e = NULL, ne = 0, n = idx_count(r->ids);
	int rc = -1, jfd = -1, exists;
	const char *why = NULL;
	int64_t t0 = mono_ms();

	if (!ckpt_enabled() || r->newer[s] || covers == 0)
		goto out;
	if (safefs_dir(jdir, &exists, NULL, 0) < 0 || !exists) {
		why = "the journal directory is not one vj writes in";
		goto out;
	}
	jfd = safefs_open(jpath, O_RDONLY, 0);
	struct stat st;
	if (jfd < 0 || fstat(jfd, &st) < 0 || (uint64_t)st.st_size < covers ||
	    journal_ident(jfd, covers, &ident) < 0) {
		why = "cannot read the journal";
		goto out;
	}
	e = xmalloc(((size_t)n + 1) * sizeof *e);
	for (uint32_t i = 0; i < n; i++)
		if (nonempty(r, s, i))
			e[ne++] = i;
	sort_entries(r, e, ne);
	run_id(r->dir, runid);

	/* only the stage's lock holder writes it: a leftover temporary is a
	 * crashed writer's, and O_EXCL refuses anything planted meanwhile */
	if (unlink(tmp) < 0 && errno != ENOENT) {
		why = strerror(errno);
		goto out;
	}
	w.fd = safefs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (w.fd < 0) {
		why = safefs_why(errno);
		goto out;
	}
	/* the header: magic, version, its length, its fields, its own CRC
	 * (so that a damaged header is told from a newer format) */
	struct wr hw = { .fd = -1 };
	size_t rl = strlen(runid);
	w_bytes(&hw, CK_MAGIC, 8);
	w_u32(&hw, CKPT_VERSION);
	w_u32(&hw, (uint32_t)(HDR_FIXED + rl));
	w_u32(&hw, (uint32_t)s);
	w_u64(&hw, ident.covers);
	w_u64(&hw, ident.head);
	w_u64(&hw, ident.tail);
	w_u64(&hw, (uint64_t)r->today_start);
	w_u32(&hw, ne);
	w_u32(&hw, n);
	w_u32(&hw, r->nbatch[s]);
	w_stats(&hw, &r->stats[s]);
	w_u32(&hw, (uint32_t)rl);
	w_bytes(&hw, runid, rl);
	w_bytes(&w, hw.b.p, hw.b.len);
	w_u32(&w, crc32c(0, hw.b.p, hw.b.len));
	buf_free(&hw.b);
	struct prev pv = { "", 0, 0, 0 };
	for (uint32_t i = 0; i < ne; i++)
		if (w_entry(&w, r, s, e[i], &pv) < 0) {
			why = "a job id longer than 64 KiB";
			goto out;
		}
	for (uint32_t i = 0; i < r->nbatch[s]; i++) {
		uint64_t d = r->batch_off[s][i] - (i ? r->batch_off[s][i - 1] : 0);
		w.b.len += put_var(wr_room(&w, 10), d);
	}
	wr_flush(&w);
	w_u32(&w, w.crc);
	wr_flush(&w);
	if (w.bad || fsync(w.fd) < 0) {
		why = strerror(w.bad ? w.bad : errno);
		goto out;
	}
	if (close(w.fd) < 0) {
		w.fd = -1;
		why = strerror(errno);
		goto out;
	}
	w.fd = -1;
	if (rename(tmp, path) < 0 || fsync_dir(jdir) < 0) {
		why = strerror(errno);
		goto out;
	}
	rc = 0;
	r->ck_off[s] = covers;
	vj_debug("%s: checkpoint of %u jobs at byte offset %llu written in %lld ms", path, ne,
	    (unsigned long long)covers, (long long)(mono_ms() - t0));
out:
	if (why)
		vj_debug("%s: no checkpoint written: %s", path, why);
	if (w.fd >= 0) {
		close(w.fd);
		unlink(tmp);
	}
	if (jfd >= 0)
		close(jfd);
	buf_free(&w.b);
	free(e);
	free(jdir);
	free(tmp);
	free(path);
	return rc;
}

/* ---- loading ----------------------------------------------------------- */

struct rd {
	int fd, eof, err;
	unsigned char *b;
	size_t len, pos;
	uint32_t crc;        /* of the bytes before pos that have left the buffer */
};

/* Make need bytes readable at pos (fewer only at the end of the file). */
static size_t
rd_fill(struct rd *r, size_t need)
{
	while (r->len - r->pos < need && !r->eof && !r->err) {
		r->crc = crc32c(r->crc, r->b, r->pos);
		memmove(r->b, r->b + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		ssize_t n = read(r->fd, r->b + r->len, CK_BUF + CK_MAX_ID + 256 - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r->err = errno;
		else if (n == 0)
			r->eof = 1;
		else
			r->len += (size_t)n;
	}
	return r->len - r->pos;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* A varint from [*q, e): 0, or -1 when it runs past e or over 64 bits. */
static int
get_var(const unsigned char **q, const unsigned char *e, uint64_t *v)
{
	uint64_t x = 0;
	for (int sh = 0; sh < 64; sh += 7) {
		if (*q >= e)
			return -1;
		unsigned c = *(*q)++;
		x |= (uint64_t)(c & 0x7f) << sh;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static uint64_t
unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}


struct hdr {
	uint32_t version, stage, nent, nids, nbatch, runid_len;
	struct ident ident;
	int64_t today_start;
	struct stage_stats st;
};

/* p: the header fields, after magic, version and length. */
static void
get_hdr(const unsigned char *p, struct hdr *h)
{
	h->stage = get_u32(p);
	h->ident.covers = get_u64(p + 4);
	h->ident.head = get_u64(p + 12);
	h->ident.tail = get_u64(p + 20);
	h->today_start = (int64_t)get_u64(p + 28);
	h->nent = get_u32(p + 36);
	h->nids = get_u32(p + 40);
	h->nbatch = get_u32(p + 44);
	const unsigned char *q = p + 48;
	uint64_t v[13];
	for (int i = 0; i < 13; i++, q += 8)
		v[i] = get_u64(q);
	struct stage_stats *st = &h->st;
	st->events = v[0], st->done = v[1], st->fails = v[2], st->fails_final = v[3];
	st->done_today = v[4], st->tok_prompt = v[5], st->tok_completion = v[6];
	st->tok_cached = v[7];
	memcpy(&st->cost, &v[8], 8);
	st->last_t = (int64_t)v[9], st->shards = v[10], st->shard_bytes = v[11], st->done_ev = v[12];
	h->runid_len = get_u32(q);
}

/* One entry at [*q, e) applied to the fold: 0, or -1 when it is not one
 * this vj wrote (bad fields, an id twice). */
struct ld {
	struct run *r;
	enum stage s;
	uint64_t covers;
	int zero_ms;            /* pack on a new day: no job is "today" any more */
	int fresh;              /* the id table was empty: this checkpoint numbers it */
	uint32_t cursor;
	uint64_t lookups;       /* ids not found at the cursor (-v says how many) */
	char id[CK_MAX_ID + 1];
	size_t idlen;
	uint64_t off, job_off;
};

static int
get_entry(struct ld *l, const unsigned char **qp, const unsigned char *e)
{
	const unsigned char *q = *qp;
	uint64_t shared, suf, v;
	struct jobstate f = {0};
	struct run *r = l->r;

	if (get_var(&q, e, &shared) < 0 || get_var(&q, e, &suf) < 0 || shared > l->idlen ||
	    suf > CK_MAX_ID - shared || shared + suf == 0 || (uint64_t)(e - q) < suf + 2)
		return -1;
	memcpy(l->id + shared, q, suf);
	q += suf;
	size_t len = (size_t)(shared + suf);
	l->id[len] = 0;
	for (size_t i = shared; i < len; i++)
		if (!l->id[i])
			return -1;
	l->idlen = len;
	unsigned fl = *q++;
	f.state = *q++;
	if (fl > 127 || f.state > JS_GONE || (f.state == JS_GONE && l->s != ST_INGEST) ||
	    (fl == 0 && f.state == JS_NONE))
		return -1;
	if (fl & F_KEY) {
		if (e - q < 16)
			return -1;
		f.key[0] = get_u64(q);
		f.key[1] = get_u64(q + 8);
		q += 16;
	}
	if (fl & F_OFF) {
		if (get_var(&q, e, &v) < 0)
			return -1;
		f.off = l->off += unzigzag(v);
		if (f.off == 0 || f.off >= l->covers)
			return -1;
	}
	if (fl & F_RETRY) {
		if (get_var(&q, e, &v) < 0 || v == 0 || v > UINT32_MAX)
			return -1;
		f.retry_at = (uint32_t)v;
	}
	if (fl & F_MS) {
		if (get_var(&q, e, &v) < 0 || v == 0 || v > UINT32_MAX)
			return -1;
		f.ms = l->zero_ms ? 0 : (uint32_t)v;
	}
	if (fl & F_FKEY) {
		if (e - q < 4)
			return -1;
		f.fkey = get_u32(q);
		q += 4;
	}
	if (fl & F_ATT) {
		if (get_var(&q, e, &v) < 0 || v == 0 || v > 65535)
			return -1;
		f.attempts = (uint16_t)v;
	}
	uint64_t jo = NO_OFF;
	if (fl & F_JOBOFF) {
		if (l->s != ST_INGEST || get_var(&q, e, &v) < 0)
			return -1;
		jo = l->job_off += unzigzag(v);
		if (jo >= l->covers)
			return -1;
	}
	*qp = q;

	/* its slot: the next one when the reader's table is numbered as the
	 * writer's was (the usual case), else looked up or added */
	int64_t slot = -1;
	uint32_t n = idx_count(r->ids);
	if (l->fresh)
		slot = idx_append(r->ids, l->id, len);   /* hashed when first looked up */
	/* a few slots on: the jobs this stage has no state for (the arena
	 * is read in order, so this costs far less than a hash probe) */
	for (uint32_t c = l->cursor; slot < 0 && c < n && c - l->cursor < SCAN_AHEAD; c++) {
		const char *have = idx_id(r->ids, c);
		if (memcmp(have, l->id, len) == 0 && have[len] == 0)
			slot = c;
	}
	if (slot < 0) {
		slot = idx_get(r->ids, l->id, len, 1);
		l->lookups++;
	}
	/* an id new to the table went to its end: the ids after it are
	 * still to be found where the cursor is */
	if (slot < n)
		l->cursor = (uint32_t)slot + 1;
	static const struct jobstate zero;
	struct jobstate *t = run_job(r, l->s, (uint32_t)slot);
	if (!t || memcmp(t, &zero, sizeof zero) != 0 ||
	    (l->s == ST_INGEST && r->job_off && r->job_off[slot] != NO_OFF))
		return -1;   /* the same id twice */
	*t = f;
	if (jo != NO_OFF)
		run_set_job_off(r, (uint32_t)slot, jo);
	return 0;
}

enum ld_rc { LD_OK, LD_IGNORED, LD_DAMAGED };

static enum ld_rc
load(struct run *r, enum stage s, int jfd, uint64_t size, int fd, uint64_t *covers, const char **why)
{
	struct rd rd = { .fd = fd };
	struct hdr h;
	char runid[CK_MAX_RUNID + 1], want[CK_MAX_RUNID + 1];
	struct ident ident;
	enum ld_rc rc = LD_DAMAGED;

	rd.b = xmalloc(CK_BUF + CK_MAX_ID + 256);
	if (rd_fill(&rd, 16) < 16 || memcmp(rd.b, CK_MAGIC, 8) != 0) {
		*why = rd.err ? strerror(rd.err) : "not a vj checkpoint, or cut short";
		goto out;
	}
	h.version = get_u32(rd.b + 8);
	uint32_t hlen = get_u32(rd.b + 12);
	if (hlen > 65536 || rd_fill(&rd, 16 + hlen + 4) < 16 + hlen + 4 ||
	    crc32c(0, rd.b, 16 + hlen) != get_u32(rd.b + 16 + hlen)) {
		*why = rd.err ? strerror(rd.err) : "its header is damaged, or cut short";
		goto out;
	}
	if (h.version > CKPT_VERSION) {
		*why = "written by a newer vj";
		rc = LD_IGNORED;
		goto out;
	}
	if (h.version >= 1 && h.version < CKPT_VERSION) {
		/* format 1 kept no batch lines: the fold would lack them */
		*why = "an older format, without the batch lines";
		rc = LD_IGNORED;
		goto out;
	}
	if (hlen < HDR_FIXED || hlen > HDR_MAX)
		h.version = 0;
	else
		get_hdr(rd.b + 16, &h);
	if (h.version < 1 || h.stage != (uint32_t)s || h.runid_len != hlen - HDR_FIXED) {
		*why = "a header this vj did not write";
		goto out;
	}
	memcpy(runid, rd.b + 16 + HDR_FIXED, h.runid_len);
	runid[h.runid_len] = 0;
	rd.pos = 16 + hlen + 4;
	run_id(r->dir, want);
	if (want[0] && runid[0] && strcmp(want, runid) != 0) {
		*why = "made for another run (its run.json id differs)";
		rc = LD_IGNORED;
		goto out;
	}
	if (h.ident.covers == 0 || h.ident.covers > size) {
		*why = "stale: the journal is shorter than what it covers";
		rc = LD_IGNORED;
		goto out;
	}
	if (journal_ident(jfd, h.ident.covers, &ident) < 0 || ident.head != h.ident.head ||
	    ident.tail != h.ident.tail) {
		*why = "stale: the journal is not the one it was made from";
		rc = LD_IGNORED;
		goto out;
	}
	/* done_today counts from the midnight the fold started at: a
	 * checkpoint of another day is good only when none of its events is
	 * of today (then nothing it folded is "today") */
	int zero_today = h.today_start != r->today_start;
	if (zero_today && h.st.last_t >= r->today_start) {
		*why = "stale: made on another day";
		rc = LD_IGNORED;
		goto out;
	}
	/* a job takes at least 4 bytes of journal (a quoted id and a comma in
	 * a shard's list): a count beyond that is damage, and must not size an
	 * allocation */
	if (h.nent > h.ident.covers / 4 || h.nent > h.nids || h.nbatch > h.ident.covers / 16) {
		*why = "impossible counts";
		goto out;
	}

	uint32_t n0 = idx_count(r->ids);
	if (n0 == 0) {
		/* the first checkpoint read numbers the table: exactly its size */
		idx_reserve(r->ids, h.nent);
		run_reserve(r, h.nent);
	}
	struct ld *l = xcalloc(1, sizeof *l);
	l->r = r;
	l->s = s;
	l->covers = h.ident.covers;
	l->zero_ms = zero_today && s == ST_PACK;
	l->fresh = n0 == 0;
	*why = NULL;
	for (uint32_t i = 0; i < h.nent; i++) {
		rd_fill(&rd, CK_ENTRY_FIXED + 20);
		const unsigned char *q = rd.b + rd.pos, *e = rd.b + rd.len;
		/* the id may need more than the fixed part: look ahead */
		uint64_t shared, suf;
		const unsigned char *t = q;
		if (get_var(&t, e, &shared) == 0 && get_var(&t, e, &suf) == 0 && suf <= CK_MAX_ID &&
		    (size_t)(e - q) < suf + CK_ENTRY_FIXED + 20) {
			rd_fill(&rd, (size_t)suf + CK_ENTRY_FIXED + 20);
			q = rd.b + rd.pos;
			e = rd.b + rd.len;
		}
		if (get_entry(l, &q, e) < 0) {
			*why = rd.err ? strerror(rd.err) : "a bad entry, or cut short";
			break;
		}
		rd.pos = (size_t)(q - rd.b);
	}
	vj_debug("%s: %llu of %u ids out of order", stage_name[s], (unsigned long long)l->lookups, h.nent);
	free(l);
	/* the batch lines: increasing offsets inside what it covers, each
	 * more than a line's least length past the last */
	for (uint64_t i = 0, o = 0; !*why && i < h.nbatch; i++) {
		rd_fill(&rd, 10);
		const unsigned char *q = rd.b + rd.pos;
		uint64_t d;
		if (get_var(&q, rd.b + rd.len, &d) < 0 || (i > 0 && d < 11) || d >= h.ident.covers - o)
			*why = rd.err ? strerror(rd.err) : "a bad batch line offset, or cut short";
		else {
			o += d;
			run_add_batch_line(r, s, o);
			rd.pos = (size_t)(q - rd.b);
		}
	}
	if (!*why) {
		if (rd_fill(&rd, 5) != 4)
			*why = "cut short, or bytes after its end";
		else {
			uint32_t stored = get_u32(rd.b + rd.pos);
			if (crc32c(rd.crc, rd.b, rd.pos) != stored)
				*why = "checksum mismatch";
		}
	}
	if (*why) {
		/* undo what was applied: the fold of s is rebuilt from the journal */
		run_reset_stage(r, s);
		idx_truncate(r->ids, n0);
		goto out;
	}
	if (zero_today)
		h.st.done_today = 0;
	r->stats[s] = h.st;
	*covers = h.ident.covers;
	rc = LD_OK;
out:
	free(rd.b);
	return rc;
}

uint64_t
ckpt_load(struct run *r, enum stage s, int jfd, uint64_t size)
{
	if (!ckpt_enabled())
		return 0;
	char *path = ck_path(r, s, "");
	const char *why = NULL;
	uint64_t covers = 0;
	int64_t t0 = mono_ms();
	int fd = safefs_open(path, O_RDONLY, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			vj_debug("%s: no checkpoint: the fold is read from the journal", path);
		else
			vj_warn("%s: cannot open the checkpoint (%s): ignored, the fold is read from the journal",
			    path, safefs_why(errno));
		free(path);
		return 0;
	}
	switch (load(r, s, jfd, size, fd, &covers, &why)) {
	case LD_OK:
		vj_debug("%s: checkpoint loaded in %lld ms, the journal read from byte offset %llu",
		    path, (long long)(mono_ms() - t0), (unsigned long long)covers);
		break;
	case LD_DAMAGED:
		vj_warn("%s: damaged checkpoint (%s): ignored, the fold is rebuilt from the journal", path, why);
		break;
	default:
		vj_debug("%s: checkpoint not used (%s): the fold is read from the journal", path, why);
		break;
	}
	close(fd);
	free(path);
	return covers;
}
