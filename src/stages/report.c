/* report: vj-report.  Folds a run's journals through run.c, gathering in
 * the same pass what the fold does not keep (counts per minute, failures by
 * reason, tokens and cost per hour, end-to-end times), then has the page
 * written (report_html.c) and puts it in place atomically.
 *
 * Nothing per job reaches the page but the gallery's samples: the rest is
 * bins and tables, so that a million-job run gives a page of a few hundred
 * kilobytes. */
#include "stages/report.h"
#include "base/hash.h"
#include "base/jscan.h"
#include "base/safefs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALL_STAGES ((1u << ST_N) - 1)
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL
#define MIN_BINS 30
#define MAX_BINS 720          /* bars in a plot: per minute up to 12 hours */
#define MAX_REASONS 5000      /* distinct failure reasons kept */
#define MAX_HOURS 96          /* more hours than this: the table is per day */
#define MAX_DAYS 400
#define PATTERN_MAX 200       /* bytes of a failure pattern */
#define INDEX_MAX (256u << 20)
#define MAX_T (1LL << 45)       /* ms: the year 3084 */

const uint32_t report_hist_edge[REPORT_HIST] = { 10, 20, 50, 100, 200, 500, 1000, 2000,
	5000, 10000, 30000, 60000, 300000, 1800000, 7200000, UINT32_MAX };

/* ---- a small open-addressing map: 64-bit key -> dense index ---- */

struct umap {
	uint64_t *k;
	uint32_t *v;              /* UINT32_MAX: empty */
	size_t cap, n;
};

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void umap_put_raw(struct umap *m, uint64_t key, uint32_t val);

static void
umap_grow(struct umap *m)
{
	struct umap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->n = 0;
	m->k = xmalloc(m->cap * sizeof *m->k);
	m->v = xmalloc(m->cap * sizeof *m->v);
	memset(m->v, 0xff, m->cap * sizeof *m->v);
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i] != UINT32_MAX)
			umap_put_raw(m, old.k[i], old.v[i]);
	free(old.k);
	free(old.v);
}

static void
umap_put_raw(struct umap *m, uint64_t key, uint32_t val)
{
	size_t mask = m->cap - 1, i = mix64(key) & mask;
	while (m->v[i] != UINT32_MAX)
		i = (i + 1) & mask;
	m->k[i] = key;
	m->v[i] = val;
	m->n++;
}

/* The index stored for key; a new key gets next (and the caller adds it). */
static uint32_t
umap_get(struct umap *m, uint64_t key, uint32_t next)
{
	if ((m->n + 1) * 2 > m->cap)
		umap_grow(m);
	size_t mask = m->cap - 1, i = mix64(key) & mask;
	while (m->v[i] != UINT32_MAX) {
		if (m->k[i] == key)
			return m->v[i];
		i = (i + 1) & mask;
	}
	m->k[i] = key;
	m->v[i] = next;
	m->n++;
	return next;
}

static void
umap_free(struct umap *m)
{
	free(m->k);
	free(m->v);
}

/* ---- what the fold gathers ---- */

struct minute {
	int64_t min;              /* minutes since the epoch */
	struct report_bin st[ST_N];
};

struct priv {
	struct umap mmap, hmap, rmap;
	struct minute *min;
	size_t nmin, capmin;
	struct report_hour *hr;
	size_t nhr, caphr;
	struct report_reason **rs;
	size_t nrs, caprs;
	int64_t last_min;         /* the minute of the previous line, and its index */
	uint32_t last_idx;
};

struct foldctx {
	struct report *rp;
	enum stage s;
};

static void
report_grow(struct report *rp)
{
	uint32_t n = idx_count(rp->r->ids);
	if (n <= rp->cap)
		return;
	uint32_t cap = rp->cap ? rp->cap : 1024;
	while (cap < n)
		cap *= 2;
	for (int s = 0; s < ST_PACK; s++) {
		if (!rp->fail_off[s])
			continue;
		rp->fail_off[s] = xrealloc(rp->fail_off[s], cap * sizeof **rp->fail_off);
		memset(rp->fail_off[s] + rp->cap, 0xff, (cap - rp->cap) * sizeof **rp->fail_off);
	}
	rp->job_s = xrealloc(rp->job_s, cap * sizeof *rp->job_s);
	rp->e2e_s = xrealloc(rp->e2e_s, cap * sizeof *rp->e2e_s);
	memset(rp->job_s + rp->cap, 0, (cap - rp->cap) * sizeof *rp->job_s);
	memset(rp->e2e_s + rp->cap, 0, (cap - rp->cap) * sizeof *rp->e2e_s);
	rp->cap = cap;
}

static int64_t
slot_of(struct report *rp, const struct jval *id)
{
	if (id->type != 's' || !id->len)
		return -1;
	int64_t slot = idx_get(rp->r->ids, id->p, id->len, 0);
	if (slot >= 0)
		report_grow(rp);
	return slot;
}

static struct report_bin *
bin_at(struct priv *p, enum stage s, int64_t t)
{
	int64_t m = t / MIN_MS;
	if (p->nmin && m == p->last_min)
		return &p->min[p->last_idx].st[s];
	uint32_t i = umap_get(&p->mmap, (uint64_t)m, (uint32_t)p->nmin);
	if (i == p->nmin) {
		if (p->nmin == p->capmin) {
			p->capmin = p->capmin ? p->capmin * 2 : 256;
			p->min = xrealloc(p->min, p->capmin * sizeof *p->min);
		}
		memset(&p->min[i], 0, sizeof *p->min);
		p->min[i].min = m;
		p->nmin++;
	}
	p->last_min = m;
	p->last_idx = i;
	return &p->min[i].st[s];
}

static struct report_hour *
hour_at(struct priv *p, int64_t t)
{
	int64_t h = t / HOUR_MS;
	uint32_t i = umap_get(&p->hmap, (uint64_t)h, (uint32_t)p->nhr);
	if (i == p->nhr) {
		if (p->nhr == p->caphr) {
			p->caphr = p->caphr ? p->caphr * 2 : 64;
			p->hr = xrealloc(p->hr, p->caphr * sizeof *p->hr);
		}
		memset(&p->hr[i], 0, sizeof *p->hr);
		p->hr[i].start = h * HOUR_MS;
		p->nhr++;
	}
	return &p->hr[i];
}

static void
add_tokens(struct report_hour *h, enum stage s, const struct jval *usage, double cost)
{
	static const char *const uk[] = { "prompt", "completion", "cached" };
	struct jval u[3];
	if (usage->type == 'o' && jscan(usage->p, usage->len, uk, u, 3) == 0)
		for (int i = 0; i < 3; i++) {
			int64_t v = jval_int(&u[i], 0);
			h->tok[s][i] += v > 0 ? (uint64_t)v : 0;
		}
	h->cost[s] += cost;
}

/* The error text as UTF-8 (escapes decoded by jansson), malloc'd. */
static char *
error_text(const struct jval *v)
{
	if (v->type != 's')
		return xstrdup("(no error recorded)");
	if (!memchr(v->p, '\\', v->len))
		return xstrndup(v->p, v->len);
	char *q = xmalloc(v->len + 3);
	q[0] = '"';
	memcpy(q + 1, v->p, v->len);
	q[v->len + 1] = '"';
	json_t *j = json_loadb(q, v->len + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	free(q);
	char *s = json_is_string(j) ? xstrdup(json_string_value(j)) : xstrndup(v->p, v->len);
	json_decref(j);
	return s;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A message's pattern: what varies between jobs masked, so that the same
 * failure groups together.  Paths and URLs become <path>, runs of 8 or more
 * hex digits <hex>, other numbers '#' except a lone three-digit one (an HTTP
 * status is worth keeping); whitespace runs become one space. */
static void
mask_message(const char *m, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p = m;
	while (*p && o + 8 < outlen) {
		const char *w = p;
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				p++;
			if (o && out[o - 1] != ' ')
				out[o++] = ' ';
			continue;
		}
		/* a word: up to whitespace */
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		size_t wl = (size_t)(p - w), lead = 0, trail = 0;
		/* the punctuation around a path is kept: "(/a/b.jpg)" "x.jpg:" */
		while (lead < wl && strchr("(\"'", w[lead]))
			lead++;
		const char *q = w + lead;
		size_t ql = wl - lead;
		int path = (ql > 1 && q[0] == '/') || memmem(q, ql, "://", 3) ||
		    (ql > 2 && !memcmp(q, "./", 2)) || (ql > 3 && !memcmp(q, "../", 3));
		if (path) {
			while (trail < ql && strchr(":),;\"'", q[ql - 1 - trail]))
				trail++;
			if (o + lead + trail + 7 >= outlen)
				break;
			memcpy(out + o, w, lead), o += lead;
			memcpy(out + o, "<path>", 6), o += 6;
			memcpy(out + o, w + wl - trail, trail), o += trail;
			continue;
		}
		for (size_t i = 0; i < wl && o + 6 < outlen;) {
			size_t h = i;
			while (h < wl && is_hex(w[h]))
				h++;
			if (h - i >= 8) {
				memcpy(out + o, "<hex>", 5), o += 5;
				i = h;
				continue;
			}
			if (w[i] >= '0' && w[i] <= '9') {
				size_t d = i;
				while (d < wl && w[d] >= '0' && w[d] <= '9')
					d++;
				int alone = d - i == 3 && (i == 0 || !is_hex(w[i - 1])) &&
				    (d == wl || !(w[d] >= '0' && w[d] <= '9'));
				if (alone) {
					memcpy(out + o, w + i, 3), o += 3;
				} else {
					out[o++] = '#';
				}
				i = d;
				continue;
			}
			out[o++] = w[i++];
		}
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = 0;
}

static int
add_example(struct report_reason *x, const struct jval *id)
{
	if (x->nex >= REPORT_EXAMPLES || id->type != 's')
		return 0;
	for (int i = 0; i < x->nex; i++)
		if (strlen(x->ex[i]) == id->len && !memcmp(x->ex[i], id->p, id->len))
			return 0;
	x->ex[x->nex++] = xstrndup(id->p, id->len);
	return 1;
}

static void
add_reason(struct report *rp, enum stage s, const struct jval *kind, int64_t status,
    const struct jval *error, const struct jval *id, int final, int64_t t)
{
	struct priv *p = rp->priv;
	char k[12] = "unknown", pat[PATTERN_MAX + 8];
	char *msg = error_text(error);
	if (kind->type == 's' && kind->len < sizeof k)
		memcpy(k, kind->p, kind->len), k[kind->len] = 0;
	mask_message(msg, pat, sizeof pat);
	free(msg);
	if (status < 0 || status > 999)
		status = 0;

	struct buf key = {0};
	buf_addf(&key, "%d %s %d %s", (int)s, k, (int)status, pat);
	uint64_t h = hash64(key.p, key.len);
	buf_free(&key);
	uint32_t i = umap_get(&p->rmap, h, (uint32_t)p->nrs);
	if (i == p->nrs) {
		if (p->nrs >= MAX_REASONS) {
			/* an unbounded variety of messages is not let grow the page
			 * or the memory: the rest is counted, not listed */
			rp->reasons_dropped++;
			return;
		}
		if (p->nrs == p->caprs) {
			p->caprs = p->caprs ? p->caprs * 2 : 32;
			p->rs = xrealloc(p->rs, p->caprs * sizeof *p->rs);
		}
		struct report_reason *x = xcalloc(1, sizeof *x);
		x->stage = s;
		memcpy(x->kind, k, sizeof k);
		x->status = (int)status;
		x->pattern = xstrdup(pat);
		p->rs[p->nrs++] = x;
	}
	struct report_reason *x = p->rs[i];
	x->events++;
	x->final += final;
	if (t > x->last_t)
		x->last_t = t;
	add_example(x, id);
}

/* The event type from the line's start, where writers put it: the field
 * scan then looks for the fields of that type only.  0: scan for "ev". */
static char
ev_type(const char *json, size_t len)
{
	static const char pre[] = "{\"ev\":\"";
	size_t n = sizeof pre - 1;
	if (len < n + 6 || memcmp(json, pre, n) != 0)
		return 0;
	json += n;
	if (!memcmp(json, "job\"", 4))
		return 'j';
	if (!memcmp(json, "done\"", 5))
		return 'd';
	if (!memcmp(json, "fail\"", 5))
		return 'f';
	if (!memcmp(json, "shard\"", 6))
		return 's';
	return 'o';
}

/* One journal line: the fold's own work first, then the report's. */
static int
fold_line(void *ctx, const char *json, size_t len, uint64_t off)
{
	/* ordered so that each event type needs a prefix of them */
	static const char *const keys[] = { "t", "id", "usage", "cost", "records", "kind", "final",
		"status", "error", "ev" };
	static const char *const payload[] = { "job", "image", "analysis", "content", "meta",
		"ids", NULL };
	enum { K_T, K_ID, K_USAGE, K_COST, K_RECORDS, K_KIND, K_FINAL, K_STATUS, K_ERROR, K_EV };
	struct foldctx *c = ctx;
	struct report *rp = c->rp;
	struct priv *p = rp->priv;
	enum stage s = c->s;
	struct jval v[10];
	uint64_t before = rp->r->stats[s].events;
	uint32_t ids_before = idx_count(rp->r->ids);

	run_fold(rp->r, s, json, len, off);
	/* a header, or a line the fold refused (it said why): not counted */
	if (rp->r->stats[s].events == before)
		return 0;
	char ev = ev_type(json, len);
	int nk = ev == 'j' ? 2 : ev == 'd' ? 4 : ev == 's' ? 5 : ev == 'f' ? 9 : ev == 'o' ? 0 : 10;
	if (!nk || jscan_until(json, len, keys, v, nk, payload) < 0)
		return 0;
	if (!ev) {
		ev = jval_is(&v[K_EV], "job") ? 'j' : jval_is(&v[K_EV], "done") ? 'd' :
		    jval_is(&v[K_EV], "fail") ? 'f' : jval_is(&v[K_EV], "shard") ? 's' : 'o';
	}
	/* a time from a journal is kept to years 1970..3084: every sum and
	 * date below stays in range whatever a line says */
	int64_t t = jval_int(&v[K_T], 0);
	t = t < 0 ? 0 : t > MAX_T ? MAX_T : t;
	if (ev == 'j' && s == ST_INGEST) {
		/* a new id is the fold's newest slot: no second lookup */
		int64_t slot = idx_count(rp->r->ids) == ids_before + 1 ? (int64_t)ids_before : -2;
		if (slot == -2)
			slot = slot_of(rp, &v[K_ID]);
		else
			report_grow(rp);
		if (slot >= 0 && !rp->job_s[slot])
			rp->job_s[slot] = (uint32_t)(t / 1000 > UINT32_MAX ? UINT32_MAX : t / 1000);
	} else if (ev == 'd' && s != ST_PACK) {
		double cost = jval_num(&v[K_COST], 0);
		struct report_bin *b = bin_at(p, s, t);
		b->done++;
		b->cost += cost;
		struct report_hour *h = hour_at(p, t);
		h->done[s]++;
		add_tokens(h, s, &v[K_USAGE], cost);
		if (s == ST_GENERATE) {
			int64_t slot = slot_of(rp, &v[K_ID]);
			if (slot >= 0 && rp->job_s[slot]) {
				int64_t d = t / 1000 - rp->job_s[slot];
				rp->e2e_s[slot] = (uint32_t)(d < 0 ? 1 : d >= UINT32_MAX ? UINT32_MAX : d + 1);
			}
		}
	} else if (ev == 'f' && s != ST_PACK) {
		double cost = jval_num(&v[K_COST], 0);
		struct report_bin *b = bin_at(p, s, t);
		if (jval_is(&v[K_KIND], "rate"))
			b->rate++;
		else
			b->fail++;
		b->cost += cost;
		add_tokens(hour_at(p, t), s, &v[K_USAGE], cost);
		add_reason(rp, s, &v[K_KIND], jval_int(&v[K_STATUS], 0), &v[K_ERROR], &v[K_ID],
		    v[K_FINAL].type == 't', t);
		int64_t slot = slot_of(rp, &v[K_ID]);
		if (slot >= 0) {
			if (!rp->fail_off[s]) {
				rp->fail_off[s] = xmalloc(rp->cap * sizeof **rp->fail_off);
				memset(rp->fail_off[s], 0xff, rp->cap * sizeof **rp->fail_off);
			}
			rp->fail_off[s][slot] = off;
		}
	} else if (ev == 's' && s == ST_PACK) {
		int64_t n = jval_int(&v[K_RECORDS], 0);
		struct report_bin *b = bin_at(p, s, t);
		b->done += (uint32_t)(n < 0 ? 0 : n > UINT32_MAX - b->done ? UINT32_MAX - b->done : n);
	}
	return 0;
}

int
report_fold(struct report *rp, char *err, size_t errlen)
{
	if (!rp->priv)
		rp->priv = xcalloc(1, sizeof(struct priv));
	for (int s = 0; s < ST_N; s++) {
		struct foldctx c = { rp, (enum stage)s };
		if (rp->r->own[s])
			continue;
		if (jreader_poll(rp->r->rd[s], fold_line, &c, err, errlen) < 0)
			return -1;
		if (rp->r->newer[s])
			return errf(err, errlen, "%s: journal format version %ld, this vj reads version %d "
			    "only: use the vj that wrote it (or a newer one)", run_journal_path(rp->r, s),
			    (long)rp->r->newer[s], RUN_JOURNAL_VERSION);
	}
	report_grow(rp);
	return 0;
}

/* ---- after the fold: bins, tables, durations ---- */

/* Minutes per bin: the first of these that keeps the plot to MAX_BINS bars. */
static int64_t
bin_width(int64_t span_min)
{
	static const int64_t w[] = { 1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10080 };
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		if (span_min / w[i] < MAX_BINS)
			return w[i];
	return (span_min / MAX_BINS + 1440) / 1440 * 1440;
}

static void
make_bins(struct report *rp)
{
	struct priv *p = rp->priv;
	if (!p->nmin)
		return;
	int64_t lo = p->min[0].min, hi = lo;
	for (size_t i = 1; i < p->nmin; i++) {
		lo = p->min[i].min < lo ? p->min[i].min : lo;
		hi = p->min[i].min > hi ? p->min[i].min : hi;
	}
	int64_t w = bin_width(hi - lo + 1);
	rp->first_min = lo;
	rp->last_min = hi;
	lo -= lo % w;   /* bins start on round times: 10:00, 10:05 ... */
	rp->nbins = (int)((hi - lo) / w + 1);
	if (rp->nbins < MIN_BINS) {
		/* a short run is not one wide bar: the plot starts earlier (the
		 * time after the last event may not have come yet) */
		lo -= (MIN_BINS - rp->nbins) * w;
		rp->nbins = MIN_BINS;
	}
	rp->t0 = lo * MIN_MS;
	rp->bin_ms = w * MIN_MS;
	for (int s = 0; s < ST_N; s++)
		rp->bins[s] = xcalloc((size_t)rp->nbins, sizeof **rp->bins);
	for (size_t i = 0; i < p->nmin; i++) {
		size_t b = (size_t)((p->min[i].min - lo) / w);
		for (int s = 0; s < ST_N; s++) {
			struct report_bin *d = &rp->bins[s][b];
			const struct report_bin *m = &p->min[i].st[s];
			d->done = m->done > UINT32_MAX - d->done ? UINT32_MAX : d->done + m->done;
			d->fail = m->fail > UINT32_MAX - d->fail ? UINT32_MAX : d->fail + m->fail;
			d->rate = m->rate > UINT32_MAX - d->rate ? UINT32_MAX : d->rate + m->rate;
			d->cost += m->cost;
		}
	}
}

static int
cmp_hour(const void *a, const void *b)
{
	const struct report_hour *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Hours, oldest first; by day when there are too many to read. */
static void
make_hours(struct report *rp)
{
	struct priv *p = rp->priv;
	if (p->nhr)
		qsort(p->hr, p->nhr, sizeof *p->hr, cmp_hour);
	if (p->nhr > MAX_HOURS) {
		size_t n = 0;
		for (size_t i = 0; i < p->nhr; i++) {
			int64_t day = p->hr[i].start - p->hr[i].start % DAY_MS;
			if (!n || p->hr[n - 1].start != day) {
				p->hr[n] = p->hr[i];
				p->hr[n++].start = day;
				continue;
			}
			struct report_hour *d = &p->hr[n - 1];
			for (int s = 0; s < ST_N; s++) {
				for (int k = 0; k < 3; k++)
					d->tok[s][k] += p->hr[i].tok[s][k];
				d->cost[s] += p->hr[i].cost[s];
				d->done[s] += p->hr[i].done[s];
			}
		}
		p->nhr = n;
		rp->by_day = 1;
	}
	rp->hours = p->hr;
	rp->nhours = p->nhr;
	if (rp->nhours > MAX_DAYS) {   /* the latest ones */
		rp->hours += rp->nhours - MAX_DAYS;
		rp->nhours = MAX_DAYS;
	}
}

static int
cmp_reason(const void *a, const void *b)
{
	const struct report_reason *x = *(const struct report_reason *const *)a;
	const struct report_reason *y = *(const struct report_reason *const *)b;
	if (x->events != y->events)
		return x->events > y->events ? -1 : 1;
	if (x->stage != y->stage)
		return x->stage - y->stage;
	return strcmp(x->pattern, y->pattern);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles and a histogram of v[0..n), which is sorted. */
static void
lat_of(uint32_t *v, size_t n, struct report_lat *l)
{
	memset(l, 0, sizeof *l);
	if (!n)
		return;
	qsort(v, n, sizeof *v, cmp_u32);
	double sum = 0;
	int b = 0;
	for (size_t i = 0; i < n; i++) {
		sum += v[i];
		while (v[i] > report_hist_edge[b])
			b++;
		l->hist[b]++;
	}
	l->n = n;
	l->avg = sum / (double)n;
#define RANK(p) v[((n * (p) + 99) / 100 ? (n * (p) + 99) / 100 - 1 : 0)]
	l->p50 = RANK(50);
	l->p90 = RANK(90);
	l->p95 = RANK(95);
	l->p99 = RANK(99);
#undef RANK
	l->max = v[n - 1];
}

static void
make_latency(struct report *rp)
{
	struct run *r = rp->r;
	uint32_t n = idx_count(r->ids);
	uint32_t *v = xmalloc(((size_t)n + 1) * sizeof *v);
	for (int s = 0; s < ST_PACK; s++) {
		size_t k = 0;
		for (uint32_t i = 0; r->st[s] && i < n; i++)
			if (r->st[s][i].state == JS_DONE)
				v[k++] = r->st[s][i].ms;
		lat_of(v, k, &rp->lat[s]);
	}
	/* end to end: accepted by ingest to the latest generate result */
	size_t k = 0;
	for (uint32_t i = 0; r->st[ST_GENERATE] && i < n && i < rp->cap; i++)
		if (r->st[ST_GENERATE][i].state == JS_DONE && rp->e2e_s[i]) {
			uint64_t ms = (uint64_t)(rp->e2e_s[i] - 1) * 1000;
			v[k++] = ms > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)ms;
		}
	lat_of(v, k, &rp->e2e);
	free(v);
}

/* ---- OUT/index.json ---- */

static char *
jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return xstrdup(s ? s : "");
}

static uint64_t
juint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static void
read_index(struct report *rp)
{
	char *path = xasprintf("%s/index.json", rp->o->out);
	size_t len = 0;
	json_error_t je;
	int fd = safefs_open(path, O_RDONLY, 0);
	char *text = fd < 0 ? NULL : read_fd(fd, &len, INDEX_MAX);
	int e = errno;
	if (fd >= 0)
		close(fd);
	json_t *doc = text ? json_loadb(text, len, 0, &je) : NULL;
	json_t *list = json_object_get(doc, "shards");
	char real[PATH_MAX];
	const char *run = realpath(rp->o->run, real) ? real : rp->o->run;

	if (!text)
		rp->index_err = xasprintf("%s: %s", path, e == ENOENT ? "none (nothing packed there yet)" :
		    safefs_why(e));
	else if (!doc)
		rp->index_err = xasprintf("%s:%d: not JSON: %s", path, je.line, je.text);
	else if (json_integer_value(json_object_get(doc, "version")) != 1 || !json_is_array(list))
		rp->index_err = xasprintf("%s: not an index.json of version 1 (docs/index-json.md)", path);
	if (rp->index_err) {
		vj_msg("%s", rp->index_err);
	} else {
		size_t i;
		json_t *sh;
		rp->shards = xcalloc(json_array_size(list) + 1, sizeof *rp->shards);
		json_array_foreach(list, i, sh) {
			if (!json_is_object(sh))
				continue;
			struct report_shard *d = &rp->shards[rp->nshards++];
			d->name = jstr(sh, "name");
			d->first = jstr(sh, "first");
			d->last = jstr(sh, "last");
			d->format = jstr(sh, "format");
			d->compress = jstr(sh, "compress");
			d->records = juint(sh, "records");
			d->bytes = juint(sh, "bytes");
			const char *from = json_string_value(json_object_get(sh, "run"));
			d->other_run = from && strcmp(from, run) != 0;
		}
	}
	json_decref(doc);
	free(text);
	free(path);
}

/* ---- putting it together ---- */

void
report_free(struct report *rp)
{
	struct priv *p = rp->priv;
	for (int s = 0; s < ST_N; s++)
		free(rp->bins[s]);
	for (int s = 0; s < ST_PACK; s++)
		free(rp->fail_off[s]);
	free(rp->job_s);
	free(rp->e2e_s);
	for (size_t i = 0; p && i < p->nrs; i++) {
		for (int k = 0; k < p->rs[i]->nex; k++)
			free(p->rs[i]->ex[k]);
		free(p->rs[i]->pattern);
		free(p->rs[i]);
	}
	for (size_t i = 0; i < rp->nshards; i++) {
		struct report_shard *d = &rp->shards[i];
		free(d->name), free(d->first), free(d->last), free(d->format), free(d->compress);
	}
	free(rp->shards);
	free(rp->index_err);
	for (int i = 0; i < rp->nsamples; i++) {
		json_decref(rp->samples[i].rec);
		json_decref(rp->samples[i].fail_ev);
		free(rp->samples[i].thumb);
		free(rp->samples[i].thumb_why);
	}
	free(rp->samples);
	if (p) {
		umap_free(&p->mmap), umap_free(&p->hmap), umap_free(&p->rmap);
		free(p->min), free(p->hr), free(p->rs);
		free(p);
	}
	run_free(rp->r);
}

/* The page, in place at once: a temporary beside it (never through a
 * link), synced, renamed. */
static int
put_file(const char *path, const struct buf *b)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int rc = -1, e;
	int fd = safefs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 && errno == EEXIST) {
		/* left by a killed vj-report that had our pid: the name is ours */
		unlink(tmp);
		fd = safefs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	}
	if (slash)
		slash[slash == dir] = 0;
	else
		strcpy(dir, ".");
	if (fd >= 0) {
		if (write_all(fd, b->p, b->len) < 0 || fsync(fd) < 0) {
			e = errno;
			close(fd);
		} else if (close(fd) < 0 || rename(tmp, path) < 0) {
			e = errno;
		} else {
			rc = fsync_dir(dir);
			e = errno;
		}
		if (rc < 0)
			unlink(tmp);
	} else {
		e = errno;
	}
	if (rc < 0)
		vj_msg("cannot write %s: %s", path, fd < 0 ? safefs_why(e) : strerror(e));
	free(tmp);
	free(dir);
	return rc;
}

int
report_run(const struct report_opt *o)
{
	struct stat sb;
	char err[1024] = "";
	if (stat(o->run, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		vj_msg("no run at %s", o->run);
		return VJ_EUSAGE;
	}
	if (o->out && (stat(o->out, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
		vj_msg("no output directory at %s (-o OUT: where vj-pack wrote the shards)", o->out);
		return VJ_EUSAGE;
	}
	struct report rp = { .o = o, .now = now_ms() };
	rp.r = run_new(o->run);
	if (report_fold(&rp, err, sizeof err) < 0) {
		vj_msg("%s", err);
		vj_msg("'vj-status --check' lists the damage; '--repair STAGE' cuts a journal at it");
		report_free(&rp);
		return VJ_EFATAL;
	}
	status_compute(rp.r, &rp.st, rp.now);
	rp.st.run = o->run;
	make_bins(&rp);
	make_hours(&rp);
	struct priv *p = rp.priv;
	if (p->nrs)   /* qsort's base may not be NULL, even for no items */
		qsort(p->rs, p->nrs, sizeof *p->rs, cmp_reason);
	rp.reasons = p->rs;
	rp.nreasons = p->nrs;
	make_latency(&rp);
	if (o->out)
		read_index(&rp);
	report_pick_samples(&rp);

	struct buf page = {0};
	report_html(&rp, &page);
	int rc = VJ_OK;
	if (o->output && strcmp(o->output, "-") == 0) {
		if (fwrite(page.p, 1, page.len, stdout) != page.len || fflush(stdout) == EOF) {
			vj_warn("error writing the page to standard output:");
			rc = VJ_EFATAL;
		}
	} else {
		char *path = o->output ? xstrdup(o->output) : xasprintf("%s/report.html", o->run);
		if (put_file(path, &page) < 0)
			rc = VJ_EFATAL;
		else
			vj_info("%s: %llu jobs, %d samples, %zu KiB", path, (unsigned long long)rp.st.jobs,
			    rp.nsamples, (page.len + 1023) / 1024);
		free(path);
	}
	buf_free(&page);
	report_free(&rp);
	return rc;
}
