/* offline_write: sentences from an analysis.  Every value an analyser can
 * give is a phrase of unknown shape ("bright, high contrast, warm cast",
 * "centered subject"), so each sentence puts one where any phrase reads
 * right, and a field that is empty or "unknown" drops its clause. */
#include "content/offline_write.h"
#include "content/prompt.h"
#include "base/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct w {
	json_t *an, *rec;
	struct buf b;
};

/* A field of the analysis, or NULL when it says nothing. */
static const char *
fld(const struct w *w, const char *sec, const char *key)
{
	const char *s = json_string_value(json_object_get(json_object_get(w->an, sec), key));

	if (!s || !*s || strcasecmp(s, "unknown") == 0 || strcasecmp(s, "n/a") == 0 ||
	    strcasecmp(s, "none") == 0)
		return NULL;
	return s;
}

/* "#c8553d (coral)" -> "coral": the offline analyser gives hex and name. */
static void
colour_name(const char *s, char *out, size_t n)
{
	const char *o = strchr(s, '('), *c = o ? strchr(o, ')') : NULL;

	if (o && c && c > o + 1)
		snprintf(out, n, "%.*s", (int)(c - o - 1), o + 1);
	else
		snprintf(out, n, "%s", s);
}

/* "a", "a and b", "a, b and c" of the distinct names in colors.KEY. */
static int
colours(const struct w *w, const char *key, int max, struct buf *b)
{
	char names[8][64];
	int n = 0, i, j;
	size_t k;
	json_t *x;

	json_array_foreach(json_object_get(json_object_get(w->an, "colors"), key), k, x) {
		if (!json_is_string(x) || n == max || n == 8)
			continue;
		colour_name(json_string_value(x), names[n], sizeof(names[n]));
		for (j = 0; j < n && strcasecmp(names[j], names[n]) != 0; j++)
			;
		if (j == n && *names[n])
			n++;
	}
	for (i = 0; i < n; i++) {
		if (i)
			buf_adds(b, i == n - 1 ? " and " : ", ");
		buf_adds(b, names[i]);
	}
	return n;
}

static char *
colour_list(const struct w *w, const char *key, int max)
{
	struct buf b = {0};

	buf_adds(&b, "");
	colours(w, key, max, &b);
	return b.p;
}

static char *
list(json_t *arr, int max)
{
	struct buf b = {0};
	size_t i;
	json_t *x;
	int n = 0;

	buf_adds(&b, "");
	json_array_foreach(arr, i, x) {
		if (!json_is_string(x) || !*json_string_value(x) || n == max)
			continue;
		buf_adds(&b, n++ ? ", " : "");
		buf_adds(&b, json_string_value(x));
	}
	return b.p;
}

/* How many bytes of s to keep for at most max, never inside a character. */
static size_t
utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* What the picture is of: the job's context, else the objects seen. */
static char *
subject(const struct w *w, const char *fallback)
{
	const char *ctx = prompt_job_str(w->rec, "imageContext");
	char *s;
	size_t n;

	if (*ctx)
		s = xstrndup(ctx, utf8_cut(ctx, 90));
	else {
		s = list(json_object_get(json_object_get(w->an, "visual_elements"), "objects"), 3);
		if (!*s) {
			free(s);
			s = xstrdup(fallback);
		}
	}
	n = strlen(s);
	while (n && (s[n - 1] == '.' || isspace((unsigned char)s[n - 1])))
		s[--n] = '\0';
	if (*s)
		*s = (char)toupper((unsigned char)*s);
	return s;
}

/* A sentence ends; the next starts after a space. */
static void
sentence(struct w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
sentence(struct w *w, const char *fmt, ...)
{
	va_list ap;
	char s[1024];

	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (w->b.len && w->b.p[w->b.len - 1] != '\n')
		buf_adds(&w->b, " ");
	buf_adds(&w->b, s);
}

static void
paragraph(struct w *w)
{
	if (w->b.len && w->b.p[w->b.len - 1] != '\n')
		buf_adds(&w->b, "\n\n");
}

static void
para_colours(struct w *w)
{
	char *p = colour_list(w, "primary", 3), *s = colour_list(w, "secondary", 3);
	char *a = colour_list(w, "accent", 2);
	const char *d = fld(w, "colors", "description");
	struct buf b = {0};

	if (*p) {
		buf_addf(&b, "The palette is led by %s", p);
		if (*s)
			buf_addf(&b, ", supported by %s", s);
		if (*a)
			buf_addf(&b, ", with %s as %s", a, strchr(a, ' ') ? "accents" : "an accent");
		sentence(w, "%s.", b.p);
	}
	if (d)
		sentence(w, "%s", d);
	buf_free(&b);
	free(p);
	free(s);
	free(a);
}

static void
para_elements(struct w *w)
{
	json_t *ve = json_object_get(w->an, "visual_elements");
	char *o = list(json_object_get(ve, "objects"), 5), *sh = list(json_object_get(ve, "shapes"), 4);
	char *ic = list(json_object_get(ve, "icons"), 4);
	const char *t = fld(w, "visual_elements", "text");

	if (*o)
		sentence(w, "Visible in the frame: %s.", o);
	if (*sh)
		sentence(w, "The dominant shapes are %s.", sh);
	if (*ic)
		sentence(w, "It carries these marks or icons: %s.", ic);
	if (t)
		sentence(w, "The image shows the text \"%s\".", t);
	free(o);
	free(sh);
	free(ic);
}

static void
para_composition(struct w *w)
{
	const char *l = fld(w, "composition", "layout"), *b = fld(w, "composition", "balance");
	const char *f = fld(w, "composition", "focal_point");
	const char *n = fld(w, "composition", "negative_space");

	if (l && b)
		sentence(w, "The composition is %s, and its balance is %s.", l, b);
	else if (l || b)
		sentence(w, "The composition is %s.", l ? l : b);
	if (f && strncasecmp(f, "no ", 3) == 0)
		sentence(w, "There is %s.", f);
	else if (f)
		sentence(w, "The eye goes first to the %s.", f);
	if (n)
		sentence(w, "Negative space is %s.", n);
}

static void
para_light(struct w *w)
{
	const char *l = fld(w, "lighting_and_style", "lighting");
	const char *s = fld(w, "lighting_and_style", "style");
	const char *t = fld(w, "lighting_and_style", "texture");

	if (l)
		sentence(w, "The lighting is %s.", l);
	if (s && t)
		sentence(w, "The style reads as %s, with a %s texture.", s, t);
	else if (s || t)
		sentence(w, "The %s reads as %s.", s ? "style" : "texture", s ? s : t);
}

static void
para_mood(struct w *w)
{
	const char *m = fld(w, "mood_and_tone", "mood"), *t = fld(w, "mood_and_tone", "tone");
	const char *e = fld(w, "mood_and_tone", "energy_level");

	if (m && t)
		sentence(w, "The mood is %s and the tone %s.", m, t);
	else if (m || t)
		sentence(w, "The %s is %s.", m ? "mood" : "tone", m ? m : t);
	if (e)
		sentence(w, "Its energy level is %s.", e);
}

static void
para_brand(struct w *w)
{
	const char *i = fld(w, "brand_insights", "perceived_industry");
	const char *a = fld(w, "brand_insights", "target_audience");
	const char *p = fld(w, "brand_insights", "brand_personality");
	const char *l = fld(w, "brand_insights", "premium_level");

	if (i)
		sentence(w, "It suggests a brand in %s.", i);
	if (a)
		sentence(w, "It speaks to %s.", a);
	if (p)
		sentence(w, "The brand comes across as %s.", p);
	if (l)
		sentence(w, "Its price position reads as %s.", l);
}

static void
para_job(struct w *w)
{
	const char *p = prompt_job_str(w->rec, "analysisPurpose");
	const char *c = prompt_job_str(w->rec, "imageContext");

	if (*c)
		sentence(w, "The image came with this context: %s%s", c,
		    c[strlen(c) - 1] == '.' ? "" : ".");
	if (*p)
		sentence(w, "This analysis was prepared for the following purpose: %s%s", p,
		    p[strlen(p) - 1] == '.' ? "" : ".");
}

static json_t *
detailed_analysis(struct w *w)
{
	void (*const paras[])(struct w *) = { para_job, para_colours, para_elements,
	    para_composition, para_light, para_mood, para_brand };

	for (size_t i = 0; i < sizeof(paras) / sizeof(paras[0]); i++) {
		paragraph(w);
		paras[i](w);
	}
	return NULL;
}

static json_t *
product_description(struct w *w)
{
	char *subj = subject(w, "This piece"), *p = colour_list(w, "primary", 2);
	char *s = colour_list(w, "secondary", 2);
	const char *st = fld(w, "lighting_and_style", "style");
	const char *tx = fld(w, "lighting_and_style", "texture");
	const char *m = fld(w, "mood_and_tone", "mood");
	const char *a = fld(w, "brand_insights", "target_audience");
	const char *pu = prompt_job_str(w->rec, "analysisPurpose");

	if (*p && *s)
		sentence(w, "%s, shown in %s with touches of %s.", subj, p, s);
	else if (*p)
		sentence(w, "%s, shown in %s.", subj, p);
	else
		sentence(w, "%s.", subj);
	if (st && tx)
		sentence(w, "Its look is %s and its finish %s.", st, tx);
	else if (st || tx)
		sentence(w, "Its %s is %s.", st ? "look" : "finish", st ? st : tx);
	if (m)
		sentence(w, "The overall feel is %s.", m);
	if (a)
		sentence(w, "It is made for %s.", a);
	if (*pu)
		sentence(w, "Written with this purpose in mind: %s%s", pu,
		    pu[strlen(pu) - 1] == '.' ? "" : ".");
	free(subj);
	free(p);
	free(s);
	return NULL;
}

static json_t *
alt_text(struct w *w)
{
	char *subj = subject(w, "An image"), *p = colour_list(w, "primary", 2);
	const char *l = fld(w, "composition", "layout");
	const char *t = fld(w, "visual_elements", "text");
	char s[512];
	size_t n;

	n = (size_t)snprintf(s, sizeof(s), "%s%s%s%s%s%s%s", subj, *p ? " in " : "", p,
	    l ? ", " : "", l ? l : "", t ? ", with the text " : "", t ? t : "");
	/* screen readers prefer short alt text: cut at a word, at most 125 */
	if (n > 124) {
		s[utf8_cut(s, 124)] = '\0';
		char *sp = strrchr(s, ' ');
		if (sp && sp > s)
			*sp = '\0';
	}
	n = strlen(s);
	while (n && (s[n - 1] == ',' || s[n - 1] == '.' || s[n - 1] == ' '))
		s[--n] = '\0';
	sentence(w, "%s.", s);
	free(subj);
	free(p);
	return NULL;
}

/* A hashtag from a phrase: letters and digits only, lower case. */
static void
hashtag(json_t *tags, const char *phrase)
{
	char t[40] = "#";
	size_t n = 1, i;
	json_t *x;

	if (!phrase)
		return;
	for (; *phrase && *phrase != ',' && *phrase != '(' && n + 1 < sizeof(t); phrase++)
		if (isalnum((unsigned char)*phrase))
			t[n++] = (char)tolower((unsigned char)*phrase);
	t[n] = '\0';
	if (n < 3 || json_array_size(tags) >= 5)
		return;
	json_array_foreach(tags, i, x)
		if (strcmp(json_string_value(x), t) == 0)
			return;
	json_array_append_new(tags, json_string(t));
}

static json_t *
social_post(struct w *w)
{
	char *subj = subject(w, "A new look"), *p = colour_list(w, "primary", 2);
	const char *m = fld(w, "mood_and_tone", "mood"), *t = fld(w, "mood_and_tone", "tone");
	json_t *tags = json_array(), *x;
	size_t i;

	if (*p)
		sentence(w, "%s in %s.", subj, p);
	else
		sentence(w, "%s.", subj);
	if (m && t)
		sentence(w, "The feeling: %s, %s.", m, t);
	else if (m || t)
		sentence(w, "The feeling: %s.", m ? m : t);
	json_array_foreach(json_object_get(json_object_get(w->an, "colors"), "primary"), i, x) {
		char name[64];
		if (i < 2 && json_is_string(x)) {
			colour_name(json_string_value(x), name, sizeof(name));
			hashtag(tags, name);
		}
	}
	hashtag(tags, m);
	hashtag(tags, fld(w, "lighting_and_style", "style"));
	hashtag(tags, fld(w, "brand_insights", "perceived_industry"));
	if (json_array_size(tags) == 0)
		hashtag(tags, "photography");
	free(subj);
	free(p);
	return json_pack("{s:s, s:o}", "caption", w->b.p, "hashtags", tags);
}

static json_t *
ad_copy(struct w *w)
{
	char *subj = subject(w, "Your next favourite"), *p = colour_list(w, "primary", 2);
	const char *m = fld(w, "mood_and_tone", "mood"), *a = fld(w, "brand_insights", "target_audience");
	const char *st = fld(w, "lighting_and_style", "style");
	const char *l = fld(w, "lighting_and_style", "lighting");
	struct buf h = {0};
	json_t *o;

	if (m)
		buf_addf(&h, "%c%s", toupper((unsigned char)*m), m + 1);
	if (*p)
		buf_addf(&h, "%s%s", h.len ? " in " : "In ", p);
	if (!h.len)
		buf_adds(&h, "Made to be seen");
	sentence(w, "%s", subj);
	if (st)
		sentence(w, "with a %s look", st);
	if (l)
		sentence(w, "%s %s light", st ? "and" : "in", l);
	if (a)
		sentence(w, "for %s", a);
	buf_adds(&w->b, ".");
	o = json_pack("{s:s, s:s, s:s}", "headline", h.p, "body", w->b.p,
	    "call_to_action", "Discover it today");
	buf_free(&h);
	free(subj);
	free(p);
	return o;
}

/* The writers by format: each puts its text in w->b, and a JSON format
 * returns its data too.  A format missing here is refused, never written
 * as another. */
static const struct writer {
	const char *format;
	json_t *(*write)(struct w *w);
} writers[] = {
	{ "detailed_analysis", detailed_analysis },
	{ "social_post", social_post },
	{ "product_description", product_description },
	{ "ad_copy", ad_copy },
	{ "alt_text", alt_text },
};

static const struct writer *
writer(const char *format)
{
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (strcmp(writers[i].format, format) == 0)
			return &writers[i];
	return NULL;
}

int
offline_write(json_t *rec, const char *format, json_t **content, char *err, size_t n)
{
	const struct prompt_format *f = prompt_format(format);
	const struct writer *wr = writer(format);
	struct w w = { json_object_get(rec, "analysis"), rec, {0} };
	json_t *data;
	char *text;

	if (!f) {
		snprintf(err, n, "unknown outputFormat '%.64s' (one of: %s)", format,
		    prompt_format_names());
		return -1;
	}
	if (!wr) {
		snprintf(err, n, "outputFormat '%.64s' has no offline writer (give it a "
		    "--prompt-file, or use a model provider)", format);
		return -1;
	}
	if (!json_is_object(w.an)) {
		snprintf(err, n, "the record has no analysis to write from (run vj-analyze first)");
		return -1;
	}
	buf_adds(&w.b, "");
	data = wr->write(&w);
	while (w.b.len && isspace((unsigned char)w.b.p[w.b.len - 1]))
		w.b.p[--w.b.len] = '\0';
	*content = json_pack("{s:s}", "format", format);
	if (data) {
		text = prompt_data_text(f, data);
		json_object_set_new(*content, "text", json_string(text));
		json_object_set_new(*content, "data", data);
		free(text);
	} else
		json_object_set_new(*content, "text", json_string(w.b.p));
	buf_free(&w.b);
	return 0;
}
