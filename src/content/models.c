/* models: the model table in memory: loading and merging files (read by
 * models_file.c), finding the row in force at a time, prices per tier and
 * window, cost, retirement and the warnings a run owes its user.  A few
 * dozen rows, searched linearly. */
#include "content/models.h"
#include "content/models_rec.h"
#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS 86400000LL
#define MIN_MS 60000LL

struct tabv {
	struct models_row *row;
	size_t n;
};

static struct tabv tab;
static int loaded;
static char **warned;            /* "provider/model" already warned about */
static size_t nwarned;

/* --- dates: days since 1970-01-01, proleptic Gregorian, UTC --- */

static int32_t
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468);
}

int
models_date_parse(const char *s, int32_t *day)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	*day = days_from_civil(y, m, d);
	return 0;
}

void
models_date_str(int32_t day, char out[11])
{
	int64_t z = (int64_t)day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);

	if (y < 0 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		snprintf(out, 11, "%s", "unknown");
	else
		snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000, (unsigned)m % 100, (unsigned)d % 100);
}

static int32_t
day_of(int64_t t)
{
	int64_t d = t >= 0 ? t / DAY_MS : -((-t + DAY_MS - 1) / DAY_MS);
	return d > INT32_MAX - 1 ? INT32_MAX - 1 : d < INT32_MIN + 1 ? INT32_MIN + 1 : (int32_t)d;
}

/* --- tiers --- */

static const char *const tier_names[] = { "standard", "flex", "batch" };

int
models_tier_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < MODELS_NTIER; i++)
		if (strcmp(s, tier_names[i]) == 0)
			return i;
	/* OpenAI echoes service_tier "default" for the standard tier */
	return strcmp(s, "default") == 0 || strcmp(s, "auto") == 0 ? MODELS_STANDARD : -1;
}

const char *
models_tier_name(enum models_tier tier)
{
	return tier >= 0 && tier < MODELS_NTIER ? tier_names[tier] : "?";
}

/* --- rows and tables --- */

static void
row_free(struct models_row *r)
{
	free(r->provider);
	free(r->model);
	free(r->successor);
	free(r->file);
}

static void
row_copy(struct models_row *dst, const struct models_row *src)
{
	*dst = *src;
	dst->provider = xstrdup(src->provider);
	dst->model = xstrdup(src->model);
	dst->successor = src->successor ? xstrdup(src->successor) : NULL;
	dst->file = xstrdup(src->file);
}

static void
tab_free(struct tabv *t)
{
	for (size_t i = 0; i < t->n; i++)
		row_free(&t->row[i]);
	free(t->row);
	t->row = NULL;
	t->n = 0;
}

static void
tab_copy(struct tabv *dst, const struct tabv *src)
{
	dst->n = src->n;
	dst->row = src->n ? xcalloc(src->n, sizeof(*dst->row)) : NULL;
	for (size_t i = 0; i < src->n; i++)
		row_copy(&dst->row[i], &src->row[i]);
}

/* r may point into t: its fields are taken before the array moves (the
 * strings it points to do not move). */
static struct models_row *
tab_add(struct tabv *t, const struct models_row *r)
{
	struct models_row src = *r;

	t->row = xrealloc(t->row, (t->n + 1) * sizeof(*t->row));
	row_copy(&t->row[t->n], &src);
	return &t->row[t->n++];
}

static int
same_model(const struct models_row *r, const char *provider, const char *model)
{
	return strcmp(r->provider, provider) == 0 && strcmp(r->model, model) == 0;
}

static int
win_index(const struct models_row *r, const char *name)
{
	for (int i = 0; i < r->nwin; i++)
		if (strcmp(r->win[i].name, name) == 0)
			return i;
	return -1;
}

static int __attribute__((format(printf, 5, 6)))
rec_err(const struct models_rec *c, long line, char *err, size_t n, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		return errf(err, n, "%s:%ld: %s model %s: %s", c->r.file, line, c->r.provider, c->r.model, msg);
	return errf(err, n, "%s: %s model %s: %s", c->r.file, c->r.provider, c->r.model, msg);
}

/* New windows keep the prices of the windows of the same name. */
static void
set_windows(struct models_row *r, const struct models_row *src)
{
	int whas[MODELS_NTIER][MODELS_NWIN] = { { 0 } };
	struct models_price wp[MODELS_NTIER][MODELS_NWIN];

	for (int j = 0; j < src->nwin; j++) {
		int i = win_index(r, src->win[j].name);
		for (int t = 0; i >= 0 && t < MODELS_NTIER; t++) {
			whas[t][j] = r->whas[t][i];
			wp[t][j] = r->wprice[t][i];
		}
	}
	r->nwin = src->nwin;
	memcpy(r->win, src->win, sizeof(r->win));
	memcpy(r->whas, whas, sizeof(whas));
	memcpy(r->wprice, wp, sizeof(wp));
}

/* What a record gives, over a row.  A tier's own price replaces the tier
 * wholly (its window prices go unless the record gives them too): a file
 * that says what a tier costs means at every hour. */
static int
apply_fields(struct models_row *r, const struct models_rec *c, char *err, size_t n)
{
	unsigned g = c->given;

	if (g & MREC_FROM)
		r->from = c->r.from;
	if (g & MREC_UNTIL)
		r->until = c->r.until;
	if (g & MREC_CHECKED)
		r->checked = c->r.checked;
	if (g & MREC_VISION)
		r->vision = c->r.vision;
	if (g & MREC_TEMPERATURE)
		r->temperature = c->r.temperature;
	if (g & MREC_MEDIA)
		r->media_resolution = c->r.media_resolution;
	if (g & MREC_IMAGE)
		r->image = c->r.image;
	if (g & MREC_WINDOWS)
		set_windows(r, &c->r);
	for (int t = 0; t < MODELS_NTIER; t++)
		if (c->tiers & (1u << t)) {
			r->has[t] = 1;
			r->price[t] = c->r.price[t];
			memset(r->whas[t], 0, sizeof(r->whas[t]));
		}
	for (int i = 0; i < c->nwp; i++) {
		int w = win_index(r, c->wp[i].win);
		if (w < 0)
			return rec_err(c, c->wp[i].line, err, n, "price %s@%s: no window %s (give a window line)",
			    models_tier_name(c->wp[i].tier), c->wp[i].win, c->wp[i].win);
		r->whas[c->wp[i].tier][w] = 1;
		r->wprice[c->wp[i].tier][w] = c->wp[i].p;
	}
	if (g & MREC_SUCCESSOR) {
		free(r->successor);
		r->successor = xstrdup(c->r.successor);
		r->routed = c->r.routed;
	}
	if (g & MREC_DEFAULT)
		r->defaults |= c->r.defaults;
	free(r->file);
	r->file = xstrdup(c->r.file);
	r->line = c->r.line;
	if (!r->has[MODELS_STANDARD])
		return rec_err(c, c->r.line, err, n, "no \"price standard\" line (every model needs one)");
	for (int t = 0; t < MODELS_NTIER; t++)
		for (int w = 0; w < r->nwin; w++)
			if (r->whas[t][w] && !r->has[t]) {
				long line = c->r.line;
				for (int i = 0; i < c->nwp; i++)
					if (c->wp[i].tier == t)
						line = c->wp[i].line;
				return rec_err(c, line, err, n, "price %s@%s but no price %s", tier_names[t],
				    r->win[w].name, tier_names[t]);
			}
	if (r->from != MODELS_OPEN_FROM && r->until != MODELS_OPEN_UNTIL && r->until < r->from)
		return rec_err(c, c->r.line, err, n, "until is before from");
	return 0;
}

/*
 * One record over a table.  With "from", it is the row of that period (a
 * new period starts as a copy of the model's latest one, dates aside);
 * without, it changes every period of the model.  A model the table does
 * not have becomes a new row.
 */
static int
apply(struct tabv *t, const struct models_rec *c, char *err, size_t n)
{
	struct models_row *latest = NULL;
	int hit = 0;

	if (c->given & MREC_DEFAULT)
		for (size_t i = 0; i < t->n; i++)
			if (strcmp(t->row[i].provider, c->r.provider) == 0)
				t->row[i].defaults &= ~c->r.defaults;
	for (size_t i = 0; i < t->n; i++) {
		struct models_row *r = &t->row[i];
		if (!same_model(r, c->r.provider, c->r.model))
			continue;
		if (!latest || r->from > latest->from)
			latest = r;
		if ((c->given & MREC_FROM) && r->from != c->r.from)
			continue;
		if (apply_fields(r, c, err, n) < 0)
			return -1;
		hit = 1;
	}
	if (hit)
		return 0;
	if (latest) {
		struct models_row *r = tab_add(t, latest);   /* latest moved: not used after */
		r->until = MODELS_OPEN_UNTIL;
		return apply_fields(r, c, err, n);
	}
	struct models_row fresh = c->r;
	memset(fresh.has, 0, sizeof(fresh.has));
	memset(fresh.whas, 0, sizeof(fresh.whas));
	fresh.nwin = 0;
	fresh.successor = NULL;
	fresh.defaults = 0;
	struct models_row *r = tab_add(t, &fresh);
	return apply_fields(r, c, err, n);
}

/* Merge a file into t: checked whole on a copy, t changed only on success. */
static int
merge_into(struct tabv *t, const char *file, char *err, size_t n)
{
	struct models_rec *recs;
	size_t nrec;
	struct tabv next;

	if (models_file_read(file, &recs, &nrec, err, n) < 0)
		return -1;
	tab_copy(&next, t);
	for (size_t i = 0; i < nrec; i++)
		if (apply(&next, &recs[i], err, n) < 0) {
			models_recs_free(recs, nrec);
			tab_free(&next);
			return -1;
		}
	models_recs_free(recs, nrec);
	tab_free(t);
	*t = next;
	return 0;
}

static void
forget_warnings(void)
{
	for (size_t i = 0; i < nwarned; i++)
		free(warned[i]);
	free(warned);
	warned = NULL;
	nwarned = 0;
}

void
models_reset(void)
{
	tab_free(&tab);
	forget_warnings();
	loaded = 0;
}

int
models_loaded(void)
{
	return loaded;
}

/* The running program's directory, from /proc/self/exe (links resolved). */
static int
exe_dir(char *out, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", out, n - 1);
	char *slash;

	if (len <= 0 || (size_t)len >= n - 1)
		return -1;
	out[len] = 0;
	if (!(slash = strrchr(out, '/')))
		return -1;
	*slash = 0;
	return 0;
}

/* An installed vj keeps the table in PREFIX/share/vj beside PREFIX/bin; a
 * source tree in data/ beside bin/ (and tests/unit/ for the unit tests). */
static const char *const base_rel[] = {
	"/../share/vj/models.txt", "/../data/models.txt", "/../../data/models.txt"
};

const char *
models_base_path(void)
{
	static char path[PATH_MAX + 64];
	char dir[PATH_MAX];

	if (exe_dir(dir, sizeof(dir)) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(base_rel) / sizeof(base_rel[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, base_rel[i]);
		if (access(path, R_OK) == 0)
			return path;
	}
	return NULL;
}

int
models_load(const char *base, const char *user, char *err, size_t n)
{
	struct tabv t = { 0 };
	const char *env = getenv("VJ_MODELS");
	char dir[PATH_MAX];

	if (!user && env && *env)
		user = env;
	if (!base)
		base = models_base_path();
	if (!base && !user) {
		if (exe_dir(dir, sizeof(dir)) < 0)
			snprintf(dir, sizeof(dir), "(the program's directory)");
		return errf(err, n, "no model table: none at %s%s or %s%s (install vj with make install, "
		    "or set VJ_MODELS=FILE)", dir, base_rel[0], dir, base_rel[1]);
	}
	if ((base && merge_into(&t, base, err, n) < 0) || (user && merge_into(&t, user, err, n) < 0)) {
		tab_free(&t);
		return -1;
	}
	models_reset();
	tab = t;
	loaded = 1;
	return 0;
}

int
models_merge(const char *file, char *err, size_t n)
{
	if (merge_into(&tab, file, err, n) < 0)
		return -1;
	loaded = 1;
	return 0;
}

const struct models_row *
models_rows(size_t *n)
{
	*n = tab.n;
	return tab.row;
}

/* --- lookup --- */

const struct models_row *
models_lookup(const char *provider, const char *model, int64_t t)
{
	const struct models_row *cover = NULL, *first = NULL, *last = NULL;
	int32_t day = day_of(t);

	if (!provider || !model)
		return NULL;
	if (strcmp(provider, "gemini") == 0 && strncmp(model, "models/", 7) == 0)
		model += 7;
	for (size_t i = 0; i < tab.n; i++) {
		const struct models_row *r = &tab.row[i];
		if (!same_model(r, provider, model))
			continue;
		if (r->from <= day && day <= r->until && (!cover || r->from > cover->from))
			cover = r;
		if (!first || r->from < first->from)
			first = r;
		if (r->until < day && (!last || r->until > last->until))
			last = r;
	}
	return cover ? cover : last ? last : first;
}

int
models_past(const struct models_row *r, int64_t t)
{
	return r && r->until != MODELS_OPEN_UNTIL && day_of(t) > r->until;
}

const struct models_row *
models_billed(const char *provider, const char *model, int64_t t)
{
	const struct models_row *r = models_lookup(provider, model, t), *s;

	for (int hop = 0; r && hop < 4 && r->routed && r->successor && models_past(r, t); hop++) {
		if (!(s = models_lookup(provider, r->successor, t)))
			break;
		r = s;
	}
	return r;
}

const char *
models_default(const char *provider, const char *stage)
{
	unsigned bit = stage && strcmp(stage, "analyze") == 0 ? 1u : stage && strcmp(stage, "generate") == 0 ? 2u : 0;

	for (size_t i = 0; bit && provider && i < tab.n; i++)
		if ((tab.row[i].defaults & bit) && strcmp(tab.row[i].provider, provider) == 0)
			return tab.row[i].model;
	return NULL;
}

int
models_retired(const char *provider, const char *model, int64_t t, const char **successor,
    int32_t *until)
{
	const struct models_row *r = models_lookup(provider, model, t);

	if (!models_past(r, t))
		return 0;
	if (successor)
		*successor = r->successor;
	if (until)
		*until = r->until;
	return 1;
}

/* --- windows, prices, cost --- */

static int
win_at(const struct models_row *r, int64_t t)
{
	int32_t day = day_of(t);
	int wd = (int)((((int64_t)day % 7) + 7 + 3) % 7);   /* 1970-01-01 was a Thursday */
	int min = (int)((t - (int64_t)day * DAY_MS) / MIN_MS);

	for (int i = 0; i < r->nwin; i++) {
		if (!(r->win[i].days & (1u << wd)))
			continue;
		for (int s = 0; s < r->win[i].nspan; s++)
			if (r->win[i].span[s].from <= min && min < r->win[i].span[s].to)
				return i;
	}
	return -1;
}

int
models_window_at(const struct models_row *r, int64_t t, int64_t *next)
{
	int cur = win_at(r, t);

	if (!next)
		return cur;
	*next = INT64_MAX;
	/* the window in force is constant between span edges and midnights:
	 * the first edge where it differs is the change (a week covers all) */
	for (int64_t d = day_of(t); r->nwin && d <= (int64_t)day_of(t) + 8; d++) {
		int64_t b0 = d * DAY_MS;
		if (b0 > t && b0 < *next && win_at(r, b0) != cur)
			*next = b0;
		for (int i = 0; i < r->nwin; i++)
			for (int s = 0; s < r->win[i].nspan; s++) {
				int64_t e[2] = { b0 + r->win[i].span[s].from * MIN_MS, b0 + r->win[i].span[s].to * MIN_MS };
				for (int k = 0; k < 2; k++)
					if (e[k] > t && e[k] < *next && win_at(r, e[k]) != cur)
						*next = e[k];
			}
	}
	return cur;
}

int
models_offers(const struct models_row *r, enum models_tier tier)
{
	return r && tier >= 0 && tier < MODELS_NTIER && r->has[tier];
}

int
models_price_at(const struct models_row *r, enum models_tier tier, int64_t t, struct models_price *p)
{
	int w;

	if (!models_offers(r, tier))
		return -1;
	w = win_at(r, t);
	*p = w >= 0 && r->whas[tier][w] ? r->wprice[tier][w] : r->price[tier];
	return 0;
}

static double
count(double v)
{
	return isfinite(v) && v > 0 ? v : 0;
}

double
models_cost_row(const struct models_row *r, const struct models_usage *u, enum models_tier tier,
    int64_t t)
{
	struct models_price p;
	double prompt, cached, completion;

	if (!r || !u)
		return 0;
	if (models_price_at(r, tier, t, &p) < 0 && models_price_at(r, MODELS_STANDARD, t, &p) < 0)
		return 0;
	/* every provider counts cached tokens inside the prompt tokens */
	prompt = count(u->prompt);
	cached = count(u->cached);
	if (cached > prompt)
		cached = prompt;
	completion = count(u->completion);
	return ((prompt - cached) * p.input + cached * p.cached + completion * p.output) / 1e6;
}

double
models_cost(const char *provider, const char *model, const struct models_usage *u,
    enum models_tier tier, int64_t t)
{
	const struct models_row *r = models_billed(provider, model, t);

	return r ? models_cost_row(r, u, tier, t) : -1;
}

/* --- warnings --- */

static int
first_time(const char *provider, const char *model)
{
	char *k = xasprintf("%s/%s", provider, model);

	for (size_t i = 0; i < nwarned; i++)
		if (strcmp(warned[i], k) == 0) {
			free(k);
			return 0;
		}
	warned = xrealloc(warned, (nwarned + 1) * sizeof(*warned));
	warned[nwarned++] = k;
	return 1;
}

unsigned
models_warn_once(const char *provider, const char *model, int64_t t)
{
	const struct models_row *r = models_lookup(provider, model, t), *b;
	unsigned bits = 0;
	char day[11];

	if (!r)
		return 0;
	b = models_billed(provider, model, t);
	if (models_past(r, t))
		bits |= MODELS_W_RETIRED;
	if (b && !b->temperature)
		bits |= MODELS_W_NO_TEMPERATURE;
	if (!bits || !first_time(provider, r->model))
		return bits;
	models_date_str(r->until, day);
	if ((bits & MODELS_W_RETIRED) && b != r)
		vj_msg("warning: %s model %s was served until %s: requests to it now go to %s, billed at its "
		    "rates (use --model %s)", provider, r->model, day, b->model, b->model);
	else if ((bits & MODELS_W_RETIRED) && r->successor)
		vj_msg("warning: %s model %s was served until %s: requests to it may fail; its successor is %s "
		    "(--model %s)", provider, r->model, day, r->successor, r->successor);
	else if (bits & MODELS_W_RETIRED)
		vj_msg("warning: %s model %s was served until %s: requests to it may fail", provider, r->model, day);
	if (bits & MODELS_W_NO_TEMPERATURE)
		vj_msg("warning: %s model %s ignores temperature: creativityLevel has no effect", provider,
		    b->model);
	return bits;
}
