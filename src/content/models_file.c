/* models_file: reads a model table file (docs/prices.md, "The table file")
 * into records, one per "model" line, each keeping what it gives and the
 * line it came from, so that every complaint names FILE:LINE.  Also reads
 * the older JSON price file of --prices into the same records. */
#include "content/models_rec.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (16 << 20)
#define MAX_LINE 1000
#define MAX_TOK 24
#define MAX_PRICE 100000.0      /* USD per million tokens: far above any list price */

static const char *const providers[] = { "gemini", "openai", NULL };
static const char *const tier_names[] = { "standard", "flex", "batch" };
static const char *const day_names[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* The fields that may be given once per record, by MREC_* bit order. */
static const char *const once[] = { "from", "until", "checked", "vision", "temperature",
	"media_resolution", "image", NULL, "successor", "default" };

struct rd {
	const char *file;
	long line;
	char *err;
	size_t errn;
	struct models_rec *recs;
	size_t n, cap;
	long first[10];          /* line of each once-field in the current record */
};

static int __attribute__((format(printf, 2, 3)))
bad(struct rd *d, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->line > 0)
		snprintf(d->err, d->errn, "%s:%ld: %s", d->file, d->line, msg);
	else
		snprintf(d->err, d->errn, "%s: %s", d->file, msg);
	return -1;
}

/* A token from the file made safe to quote. */
static const char *
q(const char *s)
{
	static char out[4][96];
	static int k;
	char *o = out[k++ & 3];

	text_escape(s, strlen(s) > 40 ? 40 : strlen(s), o, sizeof(out[0]));
	return o;
}

static int
is_provider(const char *s)
{
	for (int i = 0; providers[i]; i++)
		if (strcmp(s, providers[i]) == 0)
			return 1;
	return 0;
}

/* Model names as --model takes them: letters, digits and ._-/:@+. */
static int
model_ok(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > 128)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-/:@+", *p))
			return 0;
	return 1;
}

static const char *
model_name(const char *provider, const char *m)
{
	return strcmp(provider, "gemini") == 0 && strncmp(m, "models/", 7) == 0 ? m + 7 : m;
}

static void
rec_init(struct models_rec *c, const char *provider, const char *model, const char *file, long line)
{
	memset(c, 0, sizeof(*c));
	c->r.provider = xstrdup(provider);
	c->r.model = xstrdup(model_name(provider, model));
	c->r.from = MODELS_OPEN_FROM;
	c->r.until = MODELS_OPEN_UNTIL;
	c->r.vision = c->r.temperature = 1;
	c->r.image.kind = MODELS_IMG_UNKNOWN;
	c->r.file = xstrdup(file);
	c->r.line = line;
}

static struct models_rec *
rec_new(struct rd *d, const char *provider, const char *model)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->recs = xrealloc(d->recs, d->cap * sizeof(*d->recs));
	}
	rec_init(&d->recs[d->n], provider, model, d->file, d->line);
	memset(d->first, 0, sizeof(d->first));
	return &d->recs[d->n++];
}

void
models_recs_free(struct models_rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(recs[i].r.provider);
		free(recs[i].r.model);
		free(recs[i].r.successor);
		free(recs[i].r.file);
	}
	free(recs);
}

/* A price: a decimal number from 0 to MAX_PRICE (no nan, inf, hex). */
static int
price_num(const char *s, double *out)
{
	return *s && strspn(s, "0123456789.eE+-") == strlen(s) &&
	    parse_double(s, 0, MAX_PRICE, out) == 0 ? 0 : -1;
}

static int
date_arg(struct rd *d, const char *key, const char *s, int open_ok, int32_t *out)
{
	if (open_ok && strcmp(s, "-") == 0) {
		*out = strcmp(key, "until") == 0 ? MODELS_OPEN_UNTIL : MODELS_OPEN_FROM;
		return 0;
	}
	if (models_date_parse(s, out) < 0)
		return bad(d, "%s: '%s' is not a date (YYYY-MM-DD%s)", key, q(s), open_ok ? ", or - for none" : "");
	return 0;
}

static int
yes_no(struct rd *d, const char *key, const char *s, int *out)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0) {
		*out = s[0] == 'y';
		return 0;
	}
	return bad(d, "%s: expected yes or no, not '%s'", key, q(s));
}

/* "price TIER[@WINDOW] INPUT CACHED OUTPUT"; CACHED "-" is the input price. */
static int
price_line(struct rd *d, struct models_rec *c, char **tok, int nt)
{
	struct models_price p;
	char tier[32], *at;
	int t;

	if (nt != 5)
		return bad(d, "price: expected TIER INPUT CACHED OUTPUT (USD per million tokens; CACHED may be -)");
	snprintf(tier, sizeof(tier), "%s", tok[1]);
	if ((at = strchr(tier, '@')))
		*at++ = 0;
	for (t = 0; t < MODELS_NTIER && strcmp(tier, tier_names[t]) != 0; t++)
		;
	if (t == MODELS_NTIER)
		return bad(d, "price: unknown tier '%s' (standard, flex or batch, with @WINDOW for a window's price)",
		    q(tier));
	const char *what[3] = { "input", "cached", "output" };
	double *v[3] = { &p.input, &p.cached, &p.output };
	for (int i = 0; i < 3; i++) {
		if (i == 1 && strcmp(tok[3], "-") == 0)
			continue;
		if (price_num(tok[2 + i], v[i]) < 0)
			return bad(d, "price %s: %s price '%s' is not a number from 0 to %.0f (USD per million tokens)",
			    tok[1], what[i], q(tok[2 + i]), MAX_PRICE);
	}
	if (strcmp(tok[3], "-") == 0)
		p.cached = p.input;
	if (!at) {
		if (c->tiers & (1u << t))
			return bad(d, "price %s given twice for %s", tier, c->r.model);
		c->tiers |= 1u << t;
		c->r.has[t] = 1;
		c->r.price[t] = p;
		return 0;
	}
	for (int i = 0; i < c->nwp; i++)
		if (c->wp[i].tier == t && strcmp(c->wp[i].win, at) == 0)
			return bad(d, "price %s given twice for %s", q(tok[1]), c->r.model);
	if (c->nwp == MREC_NWP)
		return bad(d, "price: at most %d window prices", MREC_NWP);
	if (!*at || strlen(at) >= sizeof(c->wp[0].win))
		return bad(d, "price: '%s': bad window name", q(tok[1]));
	c->wp[c->nwp].tier = t;
	snprintf(c->wp[c->nwp].win, sizeof(c->wp[0].win), "%s", at);
	c->wp[c->nwp].p = p;
	c->wp[c->nwp++].line = d->line;
	return 0;
}

static int
day_of(const char *s, size_t len)
{
	for (int i = 0; i < 7; i++)
		if (len == 3 && strncmp(s, day_names[i], 3) == 0)
			return i;
	return -1;
}

/* "mon-fri", "sat,sun", "fri-mon" (wrapping): a weekday mask. */
static int
days_arg(const char *s, unsigned *mask)
{
	*mask = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		const char *dash = memchr(s, '-', len);
		int a = day_of(s, dash ? (size_t)(dash - s) : len);
		int b = dash ? day_of(dash + 1, len - (size_t)(dash - s) - 1) : a;
		if (a < 0 || b < 0)
			return -1;
		for (int i = a;; i = (i + 1) % 7) {
			*mask |= 1u << i;
			if (i == b)
				break;
		}
		s += len;
		if (*s == ',' && !*++s)
			return -1;
	}
	return *mask ? 0 : -1;
}

/* "HH:MM-HH:MM", from before to, to at most 24:00: minutes of the day. */
static int
span_arg(const char *s, int *from, int *to)
{
	int h1, m1, h2, m2, k = 0;

	if (strlen(s) != 11 || sscanf(s, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &k) != 4 || k != 11)
		return -1;
	for (int i = 0; i < 11; i++)
		if (!(i == 2 || i == 8 ? s[i] == ':' : i == 5 ? s[i] == '-' : isdigit((unsigned char)s[i])))
			return -1;
	*from = h1 * 60 + m1;
	*to = h2 * 60 + m2;
	return m1 < 60 && m2 < 60 && *from < *to && *to <= 24 * 60 ? 0 : -1;
}

/* "window NAME DAYS HH:MM-HH:MM...": UTC. */
static int
window_line(struct rd *d, struct models_rec *c, char **tok, int nt)
{
	struct models_window *w;
	const char *nm = nt > 1 ? tok[1] : "";

	if (nt < 4)
		return bad(d, "window: expected NAME DAYS HH:MM-HH:MM... (UTC)");
	if (!*nm || strlen(nm) >= sizeof(w->name) || strspn(nm, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(nm))
		return bad(d, "window: '%s': a name is 1 to 15 of a-z, 0-9, _ and -", q(nm));
	if (!(c->given & MREC_WINDOWS))
		c->r.nwin = 0;
	c->given |= MREC_WINDOWS;
	for (int i = 0; i < c->r.nwin; i++)
		if (strcmp(c->r.win[i].name, nm) == 0)
			return bad(d, "window %s given twice for %s", nm, c->r.model);
	if (c->r.nwin == MODELS_NWIN)
		return bad(d, "window: at most %d windows per model", MODELS_NWIN);
	w = &c->r.win[c->r.nwin];
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", nm);
	if (days_arg(tok[2], &w->days) < 0)
		return bad(d, "window %s: '%s' is not a list of days (mon..sun, as mon-fri or sat,sun)", nm, q(tok[2]));
	if (nt - 3 > MODELS_NSPAN)
		return bad(d, "window %s: at most %d spans", nm, MODELS_NSPAN);
	for (int i = 3; i < nt; i++)
		if (span_arg(tok[i], &w->span[w->nspan].from, &w->span[w->nspan].to) < 0)
			return bad(d, "window %s: '%s' is not a span HH:MM-HH:MM within a day (UTC)", nm, q(tok[i]));
		else
			w->nspan++;
	c->r.nwin++;
	return 0;
}

static int
image_line(struct rd *d, struct models_rec *c, char **tok, int nt)
{
	char why[200];

	if (nt < 2 || models_rule_init(tok[1], &c->r.image) < 0)
		return bad(d, "image: expected a rule: gemini-tiles, gemini-fixed, openai-tiles, openai-patches, "
		    "qwen-blocks, unknown or none");
	for (int i = 2; i < nt; i++)
		if (models_rule_param(&c->r.image, tok[i], why, sizeof(why)) < 0)
			return bad(d, "image: %s", why);
	if (c->r.image.kind == MODELS_IMG_QWEN_BLOCKS && c->r.image.p[1] > c->r.image.p[2])
		return bad(d, "image: qwen-blocks: min= is above max=");
	return 0;
}

/* One field line of the current record. */
static int
field(struct rd *d, struct models_rec *c, char **tok, int nt)
{
	const char *k = tok[0];
	int f;

	for (f = 0; f < 10 && (!once[f] || strcmp(k, once[f]) != 0); f++)
		;
	if (f < 10) {
		if (d->first[f])
			return bad(d, "%s given twice for %s (line %ld)", k, c->r.model, d->first[f]);
		d->first[f] = d->line;
		c->given |= 1u << f;
		if (nt < 2 || (nt > 2 && f < 6))
			return bad(d, "%s: expected one value", k);
	}
	switch (f) {
	case 0: return date_arg(d, k, tok[1], 1, &c->r.from);
	case 1: return date_arg(d, k, tok[1], 1, &c->r.until);
	case 2: return date_arg(d, k, tok[1], 0, &c->r.checked);
	case 3: return yes_no(d, k, tok[1], &c->r.vision);
	case 4: return yes_no(d, k, tok[1], &c->r.temperature);
	case 5: return yes_no(d, k, tok[1], &c->r.media_resolution);
	case 6: return image_line(d, c, tok, nt);
	case 8:
		if (!model_ok(tok[1]) || nt > 3 || (nt == 3 && strcmp(tok[2], "routed") != 0))
			return bad(d, "successor: expected MODEL [routed]");
		c->r.successor = xstrdup(model_name(c->r.provider, tok[1]));
		c->r.routed = nt == 3;
		return 0;
	case 9:
		for (int i = 1; i < nt; i++)
			if (strcmp(tok[i], "analyze") == 0 || strcmp(tok[i], "generate") == 0)
				c->r.defaults |= tok[i][0] == 'a' ? 1u : 2u;
			else
				return bad(d, "default: expected analyze and/or generate, not '%s'", q(tok[i]));
		return 0;
	}
	if (strcmp(k, "price") == 0)
		return price_line(d, c, tok, nt);
	if (strcmp(k, "window") == 0)
		return window_line(d, c, tok, nt);
	return bad(d, "unknown field '%s' (model, from, until, checked, vision, temperature, "
	    "media_resolution, image, price, window, successor, default)", q(k));
}

static int
line_of(struct rd *d, char *s)
{
	char *tok[MAX_TOK], *save = NULL;
	int nt = 0;
	char *h = strchr(s, '#');
	struct models_rec *c = d->n ? &d->recs[d->n - 1] : NULL;

	if (h)
		*h = 0;
	for (char *p = strtok_r(s, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (nt == MAX_TOK)
			return bad(d, "more than %d words", MAX_TOK);
		tok[nt++] = p;
	}
	if (!nt)
		return 0;
	if (strcmp(tok[0], "model") == 0) {
		if (nt != 3)
			return bad(d, "model: expected PROVIDER MODEL");
		if (!is_provider(tok[1]))
			return bad(d, "model: unknown provider '%s' (gemini or openai)", q(tok[1]));
		if (!model_ok(tok[2]) || !*model_name(tok[1], tok[2]))
			return bad(d, "model: '%s' is not a model name (letters, digits and ._-/:@+)", q(tok[2]));
		rec_new(d, tok[1], tok[2]);
		return 0;
	}
	if (!c)
		return bad(d, "%s before the first model line", q(tok[0]));
	return field(d, c, tok, nt);
}

static int
same_key(const struct models_rec *a, const struct models_rec *b)
{
	return strcmp(a->r.provider, b->r.provider) == 0 && strcmp(a->r.model, b->r.model) == 0 &&
	    ((a->given & MREC_FROM) == (b->given & MREC_FROM)) && a->r.from == b->r.from;
}

static int
read_lines(struct rd *d, char *text, size_t len)
{
	char *p = text, *end = text + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		d->line++;
		if (n && p[n - 1] == '\r')
			p[--n] = 0;
		p[n] = 0;
		if (n > MAX_LINE)
			return bad(d, "line longer than %d bytes", MAX_LINE);
		for (size_t i = 0; i < n; i++)
			if (((unsigned char)p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
				return bad(d, "control character 0x%02x", (unsigned char)p[i]);
		if (line_of(d, p) < 0)
			return -1;
		if (!nl)
			break;
		p = nl + 1;
	}
	for (size_t i = 0; i < d->n; i++)
		for (size_t j = 0; j < i; j++)
			if (same_key(&d->recs[i], &d->recs[j])) {
				d->line = d->recs[i].r.line;
				return bad(d, "%s model %s given twice%s (line %ld)", d->recs[i].r.provider,
				    d->recs[i].r.model, d->recs[i].given & MREC_FROM ? " with the same from" : "",
				    d->recs[j].r.line);
			}
	return 0;
}

/* A figure of the JSON price file: a number >= 0, or absent. */
static int
json_fig(struct rd *d, json_t *o, const char *key, double *out, const char *where)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < 0 || !(json_number_value(v) <= MAX_PRICE))
		return bad(d, "%s.%s: expected a number >= 0 and <= %.0f (USD per million tokens)", where, key,
		    MAX_PRICE);
	*out = json_number_value(v);
	return 0;
}

/* {"PROVIDER": {"MODEL": {"prompt": P, "cached": C, "completion": O}}}:
 * each a record that sets the standard price; cached defaults to prompt. */
static int
read_json(struct rd *d, const char *text, size_t len)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, 0, &je), *models, *o;
	const char *prov, *model;
	char where[300];
	int r = 0;

	if (!doc) {
		d->line = je.line;
		return bad(d, "%s", je.text);
	}
	if (!json_is_object(doc))
		r = bad(d, "expected an object of providers");
	json_object_foreach(doc, prov, models) {
		if (r < 0)
			break;
		if (!is_provider(prov)) {
			r = bad(d, "unknown provider '%s' (gemini or openai)", q(prov));
			break;
		}
		if (!json_is_object(models)) {
			r = bad(d, "%s: expected an object of models", prov);
			break;
		}
		json_object_foreach(models, model, o) {
			struct models_price p = { -1, -1, -1 };
			snprintf(where, sizeof(where), "%s.%s", prov, q(model));
			if (!model_ok(model) || !*model_name(prov, model))
				r = bad(d, "%s: not a model name (letters, digits and ._-/:@+)", where);
			else if (!json_is_object(o))
				r = bad(d, "%s: expected {\"prompt\", \"cached\", \"completion\"}", where);
			else if (json_fig(d, o, "prompt", &p.input, where) < 0 ||
			    json_fig(d, o, "cached", &p.cached, where) < 0 ||
			    json_fig(d, o, "completion", &p.output, where) < 0)
				r = -1;
			else if (p.input < 0 || p.output < 0)
				r = bad(d, "%s: \"prompt\" and \"completion\" are required", where);
			if (r < 0)
				break;
			struct models_rec *c = rec_new(d, prov, model);
			c->r.line = 0;
			c->tiers = 1u << MODELS_STANDARD;
			c->r.has[MODELS_STANDARD] = 1;
			c->r.price[MODELS_STANDARD] = p;
			if (p.cached < 0)
				c->r.price[MODELS_STANDARD].cached = p.input;
		}
	}
	json_decref(doc);
	return r;
}

int
models_file_read(const char *file, struct models_rec **recs, size_t *n, char *err, size_t errn)
{
	struct rd d = { .file = file, .err = err, .errn = errn };
	size_t len;
	char *text = read_file(file, &len, MAX_FILE);
	int r;

	*recs = NULL;
	*n = 0;
	if (!text)
		return bad(&d, "%s", errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
	if (memchr(text, 0, len))
		r = bad(&d, "a NUL byte: not a text file");
	else if (text[strspn(text, " \t\r\n")] == '{')
		r = read_json(&d, text, len);
	else
		r = read_lines(&d, text, len);
	free(text);
	if (r < 0) {
		models_recs_free(d.recs, d.n);
		return -1;
	}
	*recs = d.recs;
	*n = d.n;
	return 0;
}
