/* prompt: templates and their rendering.  The template language is only
 * {{name}} placeholders (docs/prompts.md): no logic, so a template reads as
 * the prompt it produces. */
#include "content/prompt.h"
#include "content/schema.h"
#include "base/hash.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- built-in formats and templates ---- */

static const struct prompt_format formats[] = {
	{ "detailed_analysis", 0, NULL, NULL },
	{ "social_post", 1,
	  "{\"type\":\"object\",\"properties\":{"
	  "\"caption\":{\"type\":\"string\"},"
	  "\"hashtags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
	  "\"required\":[\"caption\",\"hashtags\"]}",
	  "{\"caption\": \"Morning light, slow coffee, and a table set for two.\",\n"
	  " \"hashtags\": [\"#slowmorning\", \"#coffeetime\", \"#homedecor\"]}" },
	{ "product_description", 0, NULL, NULL },
	{ "ad_copy", 1,
	  "{\"type\":\"object\",\"properties\":{"
	  "\"headline\":{\"type\":\"string\"},"
	  "\"body\":{\"type\":\"string\"},"
	  "\"call_to_action\":{\"type\":\"string\"}},"
	  "\"required\":[\"headline\",\"body\",\"call_to_action\"]}",
	  "{\"headline\": \"Made for the first cup of the day\",\n"
	  " \"body\": \"Warm tones, honest materials and room to breathe.\",\n"
	  " \"call_to_action\": \"Shop the collection\"}" },
	{ "alt_text", 0, NULL, NULL },
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static const char analyze_system[] =
    "You are a careful visual analyst who prepares image descriptions for brand and\n"
    "marketing datasets. Describe only what the image shows; when something cannot be\n"
    "told from the image, say so briefly instead of guessing. Answer with a single JSON\n"
    "object in the requested structure: every key present, strings where strings are\n"
    "asked for, arrays of strings where lists are asked for. No markdown, no code\n"
    "fences, no text outside the JSON.\n";

static const char analyze_user[] =
    "Analyse the attached image.\n"
    "Purpose of the analysis: {{purpose}}\n"
    "Context supplied with the image: {{context}}\n"
    "Extra information about the job: {{meta}}\n"
    "\n"
    "{{format_instructions}}\n";

static const char generate_system[] =
    "You are a senior copywriter and visual communicator. You write from a structured\n"
    "analysis of an image and stay faithful to it: do not invent objects, text, claims\n"
    "or prices the analysis does not support. Write clear, natural English in the tone\n"
    "the analysis suggests.\n";

/* Every generate template starts from the same facts. */
#define FACTS \
    "Here is a structured analysis of an image, as JSON:\n" \
    "{{analysis}}\n" \
    "\n" \
    "Purpose: {{purpose}}\n" \
    "Context supplied with the image: {{context}}\n" \
    "Extra information about the job: {{meta}}\n" \
    "\n"

static const struct {
	const char *format, *text;
} generate_user[] = {
	{ "detailed_analysis", FACTS
	    "Write a detailed analysis of this image in flowing prose, one short paragraph\n"
	    "each for: the colours, the visual elements, the composition, the lighting and\n"
	    "style, the mood and tone, and what the image says about the brand. Relate the\n"
	    "observations to the purpose where one is given.\n"
	    "{{format_instructions}}\n" },
	{ "social_post", FACTS
	    "Write a social media post for this image: a caption of one to three short\n"
	    "sentences in the image's tone, speaking to its target audience, and three to\n"
	    "six relevant hashtags given separately.\n"
	    "{{format_instructions}}\n" },
	{ "product_description", FACTS
	    "Write a product description of 80 to 150 words for what the image shows:\n"
	    "what it is, how it looks and feels (colours, materials, style), and who it is\n"
	    "for. Use only what the analysis supports.\n"
	    "{{format_instructions}}\n" },
	{ "ad_copy", FACTS
	    "Write advertising copy for this image: a headline of at most eight words, a\n"
	    "body of one or two sentences, and a short call to action.\n"
	    "{{format_instructions}}\n" },
	{ "alt_text", FACTS
	    "Write alternative text for this image for people using a screen reader: one\n"
	    "sentence of at most 125 characters saying what is shown and, if it matters,\n"
	    "any visible text. Do not start with \"Image of\" or \"Picture of\".\n"
	    "{{format_instructions}}\n" },
};

static const char json_instructions[] =
    "Answer in JSON: a single object with the same keys and types as this example,\n"
    "with your own values, and nothing outside it:\n";
static const char analysis_instructions[] =
    "Answer in JSON: a single object with exactly this structure (each value says\n"
    "what the field should hold):\n";
static const char text_instructions[] =
    "Answer with the text only: no JSON, no markdown, no preamble or closing remarks.";

const struct prompt_format *
prompt_format(const char *name)
{
	for (size_t i = 0; name && i < NFORMATS; i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

const char *
prompt_format_names(void)
{
	return "detailed_analysis, social_post, product_description, ad_copy, alt_text";
}

/* ---- templates ---- */

struct tpl {
	char *format;           /* NULL: every format */
	char *text;
	int line;               /* first line in the file, for messages */
};

struct prompt {
	int analyze;
	char *file;             /* NULL: built-in */
	struct tpl system;
	struct tpl *user;
	size_t nuser;
	char version[13];
};

/* What a render sees. */
struct rctx {
	const struct prompt *p;
	json_t *rec;            /* NULL: only check the names */
	const char *format;
	const struct prompt_format *fmt;
	int json;
};

static int
is_section(const char *s)
{
	return json_object_get(json_object_get(schema_analysis(), "properties"), s) != NULL;
}

/* 0 when NAME is a placeholder this stage knows, else -1 with why. */
static int
name_ok(const char *name, int analyze, char *why, size_t n)
{
	static const char *const plain[] = { "purpose", "context", "format", "id", "meta",
	    "schema", "format_instructions" };
	char sec[64];
	const char *dot, *field;
	json_t *props;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(name, plain[i]) == 0)
			return 0;
	if (strcmp(name, "analysis") != 0 && strncmp(name, "analysis.", 9) != 0) {
		snprintf(why, n, "unknown placeholder {{%s}}", name);
		return -1;
	}
	if (analyze) {
		snprintf(why, n, "{{%s}} is not available to vj-analyze (there is no analysis yet)", name);
		return -1;
	}
	if (strcmp(name, "analysis") == 0)
		return 0;
	/* analysis.SECTION or analysis.SECTION.FIELD, checked against the schema */
	name += 9;
	dot = strchr(name, '.');
	if ((dot ? (size_t)(dot - name) : strlen(name)) >= sizeof(sec))
		goto bad;
	snprintf(sec, sizeof(sec), "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
	if (!is_section(sec))
		goto bad;
	if (!dot)
		return 0;
	field = dot + 1;
	props = json_object_get(json_object_get(json_object_get(
	    json_object_get(schema_analysis(), "properties"), sec), "properties"), field);
	if (props)
		return 0;
bad:
	snprintf(why, n, "unknown placeholder {{analysis.%s}}", name);
	return -1;
}

/* A JSON value as prompt text: strings as they are, lists joined. */
static char *
value_text(json_t *v, int pretty)
{
	struct buf b = {0};
	size_t i;
	json_t *x;

	if (!v || json_is_null(v))
		return xstrdup("");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_array(v)) {
		int strings = 1;
		json_array_foreach(v, i, x)
			strings &= json_is_string(x);
		if (strings) {
			buf_adds(&b, "");
			json_array_foreach(v, i, x) {
				if (i)
					buf_adds(&b, ", ");
				buf_adds(&b, json_string_value(x));
			}
			return b.p;
		}
	}
	if (json_is_object(v) && json_object_size(v) == 0)
		return xstrdup("");
	char *s = json_dumps(v, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY);
	return s ? s : xstrdup("");
}

const char *
prompt_job_str(json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(json_object_get(rec, "job"), key));
	return s ? s : "";
}

const char *
prompt_job_format(json_t *rec)
{
	const char *f = json_string_value(json_object_get(json_object_get(rec, "job"), "outputFormat"));
	return f && *f ? f : PROMPT_DEFAULT_FORMAT;
}

static char *
instructions(const struct rctx *r)
{
	struct buf b = {0};
	char *ex;

	if (r->p->analyze) {
		ex = value_text(schema_example(), 1);
		buf_adds(&b, analysis_instructions);
		buf_adds(&b, ex);
		free(ex);
	} else if (r->fmt && r->fmt->json) {
		buf_adds(&b, json_instructions);
		buf_adds(&b, r->fmt->example);
	} else
		buf_adds(&b, text_instructions);
	return b.p;
}

/* The text of one placeholder for a record (malloc'd). */
static char *
value(const struct rctx *r, const char *name)
{
	json_t *an = json_object_get(r->rec, "analysis");
	char sec[64];
	const char *dot;

	if (strcmp(name, "purpose") == 0)
		return xstrdup(prompt_job_str(r->rec, "analysisPurpose"));
	if (strcmp(name, "context") == 0)
		return xstrdup(prompt_job_str(r->rec, "imageContext"));
	if (strcmp(name, "format") == 0)
		return xstrdup(r->format ? r->format : "");
	if (strcmp(name, "id") == 0)
		return value_text(json_object_get(r->rec, "id"), 0);
	if (strcmp(name, "meta") == 0)
		return value_text(json_object_get(json_object_get(r->rec, "job"), "meta"), 0);
	if (strcmp(name, "schema") == 0)
		return value_text(schema_example(), 1);
	if (strcmp(name, "format_instructions") == 0)
		return instructions(r);
	if (strcmp(name, "analysis") == 0)
		return value_text(an, 1);
	name += 9;      /* analysis. (name_ok let nothing else through) */
	dot = strchr(name, '.');
	snprintf(sec, sizeof(sec), "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
	an = json_object_get(an, sec);
	return value_text(dot ? json_object_get(an, dot + 1) : an, 1);
}

/*
 * Walk a template: check its placeholders (r->rec NULL) or render it into
 * out.  A line whose placeholders all came out empty is left out, so
 * "Context: {{context}}" disappears for a job without context.
 */
static int
walk(const struct rctx *r, const struct tpl *t, struct buf *out, char *err, size_t n)
{
	const char *s = t->text, *q, *file = r->p->file ? r->p->file : "(built-in)";
	struct buf line = {0};
	int lno = t->line, nph = 0, nempty = 0, rc = -1;
	char name[128], why[256];

	buf_adds(&line, "");
	for (;;) {
		if (*s == '\n' || *s == '\0') {
			if (!(nph > 0 && nempty == nph) && out) {
				buf_add(out, line.p, line.len);
				if (*s)
					buf_adds(out, "\n");
			}
			line.len = 0;
			nph = nempty = 0;
			if (!*s)
				break;
			s++;
			lno++;
			continue;
		}
		if (s[0] == '\\' && s[1] == '{' && s[2] == '{') {
			buf_adds(&line, "{{");
			s += 3;
			continue;
		}
		if (s[0] != '{' || s[1] != '{') {
			buf_add(&line, s++, 1);
			continue;
		}
		q = strstr(s + 2, "}}");
		if (!q || memchr(s + 2, '\n', (size_t)(q - s - 2))) {
			snprintf(err, n, "%s:%d: unterminated {{ (write \\{{ for literal braces)", file, lno);
			goto out;
		}
		const char *b = s + 2, *e = q;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		snprintf(name, sizeof(name), "%.*s", (int)(e - b), b);
		if (name_ok(name, r->p->analyze, why, sizeof(why)) < 0) {
			snprintf(err, n, "%s:%d: %s", file, lno, why);
			goto out;
		}
		if (r->rec) {
			char *v = value(r, name);
			nph++;
			nempty += *v == '\0';
			buf_adds(&line, v);
			free(v);
		}
		s = q + 2;
	}
	rc = 0;
out:
	buf_free(&line);
	return rc;
}

static void
tpl_set(struct tpl *t, const char *format, const char *text, size_t len, int line)
{
	free(t->format);
	free(t->text);
	t->format = format ? xstrdup(format) : NULL;
	t->text = xstrndup(text, len);
	t->line = line;
}

static struct tpl *
user_add(struct prompt *p)
{
	p->user = xrealloc(p->user, (p->nuser + 1) * sizeof(*p->user));
	memset(&p->user[p->nuser], 0, sizeof(p->user[0]));
	return &p->user[p->nuser++];
}

static void
load_builtin(struct prompt *p)
{
	if (p->analyze) {
		tpl_set(&p->system, NULL, analyze_system, strlen(analyze_system), 1);
		tpl_set(user_add(p), NULL, analyze_user, strlen(analyze_user), 1);
		return;
	}
	tpl_set(&p->system, NULL, generate_system, strlen(generate_system), 1);
	for (size_t i = 0; i < sizeof(generate_user) / sizeof(generate_user[0]); i++)
		tpl_set(user_add(p), generate_user[i].format, generate_user[i].text,
		    strlen(generate_user[i].text), 1);
}

/* A line that looks like a directive: "@" and a letter at its start, and
 * at most two words ("@sytem", "@User", "@assistant x").  Longer lines
 * starting with "@" are text ("@brand loves you"). */
static int
looks_like_directive(const char *l, const char *e)
{
	int words = 0;

	if (e - l < 2 || l[0] != '@' || !isalpha((unsigned char)l[1]))
		return 0;
	for (const char *p = l; p < e; ) {
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p < e)
			words++;
		while (p < e && *p != ' ' && *p != '\t')
			p++;
	}
	return words <= 2;
}

/* "@system", "@user" or "@user FORMAT" on a line of its own: 1.  A line
 * that looks like a directive but is none of them: -1 (a misspelling would
 * otherwise become prompt text, and a section silently the wrong one). */
static int
directive(const char *l, size_t len, char *fmt, size_t n, int *sys)
{
	const char *e = l + len;

	while (e > l && isspace((unsigned char)e[-1]))
		e--;
	len = (size_t)(e - l);
	*fmt = '\0';
	if (len == 7 && memcmp(l, "@system", 7) == 0) {
		*sys = 1;
		return 1;
	}
	if (len < 5 || memcmp(l, "@user", 5) != 0 || (len > 5 && l[5] != ' ' && l[5] != '\t'))
		return looks_like_directive(l, e) ? -1 : 0;
	*sys = 0;
	l += 5;
	while (l < e && isspace((unsigned char)*l))
		l++;
	snprintf(fmt, n, "%.*s", (int)(e - l), l);
	return 1;
}

static int
blank(const char *s, const char *e)
{
	for (; s < e; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* Close the section from start to stop: the system or a user template. */
static int
section_end(struct prompt *p, int sys, const char *fmt, const char *start, const char *stop,
    int line, char *err, size_t n)
{
	if (sys) {
		if (p->system.text) {
			snprintf(err, n, "%s:%d: a second @system section", p->file, line - 1);
			return -1;
		}
		tpl_set(&p->system, NULL, start, (size_t)(stop - start), line);
		return 0;
	}
	for (size_t i = 0; i < p->nuser; i++)
		if ((!*fmt && !p->user[i].format) ||
		    (*fmt && p->user[i].format && strcmp(p->user[i].format, fmt) == 0)) {
			snprintf(err, n, "%s:%d: a second @user%s%s section", p->file, line - 1,
			    *fmt ? " " : "", fmt);
			return -1;
		}
	tpl_set(user_add(p), *fmt ? fmt : NULL, start, (size_t)(stop - start), line);
	return 0;
}

/* Split a file into its @system and @user sections; text before any
 * directive is the user template for every format. */
static int
load_file(struct prompt *p, const char *text, size_t len, char *err, size_t n)
{
	const char *s, *nl, *end = text + len, *start = text;
	char fmt[64], cur[64] = "";
	int lno = 1, startline = 1, cursys = 0, sys, implicit = 1;

	if (memchr(text, '\0', len)) {
		snprintf(err, n, "%s: not a text file", p->file);
		return -1;
	}
	for (s = text; s < end; s = nl + 1, lno++) {
		if (!(nl = memchr(s, '\n', (size_t)(end - s))))
			nl = end;
		int dir = directive(s, (size_t)(nl - s), fmt, sizeof(fmt), &sys);
		if (dir < 0) {
			size_t w = strcspn(s, " \t\r\n");
			snprintf(err, n, "%s:%d: unknown directive %.*s (the directives are @system, "
			    "@user and @user FORMAT)", p->file, lno, (int)(w < 40 ? w : 40), s);
			return -1;
		}
		if (!dir)
			continue;
		if (!(implicit && blank(start, s)) &&
		    section_end(p, cursys, cur, start, s, startline, err, n) < 0)
			return -1;
		implicit = 0;
		cursys = sys;
		snprintf(cur, sizeof(cur), "%s", fmt);
		start = nl < end ? nl + 1 : end;
		startline = lno + 1;
		if (nl == end)
			break;
	}
	if (!(implicit && blank(start, end)) &&
	    section_end(p, cursys, cur, start, end, startline, err, n) < 0)
		return -1;
	if (p->nuser == 0) {
		snprintf(err, n, "%s: no user template (text before any @system, or an @user section)",
		    p->file);
		return -1;
	}
	if (!p->system.text)
		tpl_set(&p->system, NULL, p->analyze ? analyze_system : generate_system,
		    strlen(p->analyze ? analyze_system : generate_system), 1);
	return 0;
}

/* The hash of everything that shapes the text a model sees. */
static void
set_version(struct prompt *p)
{
	struct buf b = {0};
	char hex[65];

	buf_addf(&b, "vj-prompt/1 %s\n@system\n%s\n", p->analyze ? "analyze" : "generate",
	    p->system.text);
	for (size_t i = 0; i < p->nuser; i++)
		buf_addf(&b, "@user %s\n%s\n", p->user[i].format ? p->user[i].format : "",
		    p->user[i].text);
	buf_addf(&b, "%s\n%s\n%s\n", json_instructions, analysis_instructions, text_instructions);
	for (size_t i = 0; !p->analyze && i < NFORMATS; i++)
		buf_addf(&b, "%s %d %s %s\n", formats[i].name, formats[i].json,
		    formats[i].schema ? formats[i].schema : "", formats[i].example ? formats[i].example : "");
	sha256_hex(b.p, b.len, hex);
	memcpy(p->version, hex, 12);
	p->version[12] = '\0';
	buf_free(&b);
}

struct prompt *
prompt_open(const char *stage, const char *file, char *err, size_t n)
{
	struct prompt *p = xcalloc(1, sizeof(*p));
	struct rctx r = { p, NULL, NULL, NULL, 0 };
	char *text = NULL;
	size_t len;

	if (strcmp(stage, "analyze") != 0 && strcmp(stage, "generate") != 0) {
		snprintf(err, n, "unknown stage %s", stage);
		goto bad;
	}
	p->analyze = strcmp(stage, "analyze") == 0;
	if (file) {
		p->file = xstrdup(file);
		if (!(text = read_file(file, &len, 1 << 20))) {
			snprintf(err, n, "%s: %s", file, errno == EFBIG ? "larger than 1 MiB" :
			    strerror(errno));
			goto bad;
		}
		if (load_file(p, text, len, err, n) < 0)
			goto bad;
	} else
		load_builtin(p);
	if (walk(&r, &p->system, NULL, err, n) < 0)
		goto bad;
	for (size_t i = 0; i < p->nuser; i++)
		if (walk(&r, &p->user[i], NULL, err, n) < 0)
			goto bad;
	set_version(p);
	free(text);
	return p;
bad:
	free(text);
	prompt_free(p);
	return NULL;
}

void
prompt_free(struct prompt *p)
{
	if (!p)
		return;
	free(p->system.format);
	free(p->system.text);
	for (size_t i = 0; i < p->nuser; i++) {
		free(p->user[i].format);
		free(p->user[i].text);
	}
	free(p->user);
	free(p->file);
	free(p);
}

const char *
prompt_version(const struct prompt *p)
{
	return p->version;
}

int
prompt_custom(const struct prompt *p)
{
	return p->file != NULL;
}

static const struct tpl *
user_for(const struct prompt *p, const char *format)
{
	const struct tpl *any = NULL;

	for (size_t i = 0; i < p->nuser; i++) {
		if (!p->user[i].format)
			any = &p->user[i];
		else if (format && strcmp(p->user[i].format, format) == 0)
			return &p->user[i];
	}
	return any;
}

static char *
trimmed(struct buf *b)
{
	size_t s = 0;

	buf_adds(b, "");
	while (b->len && isspace((unsigned char)b->p[b->len - 1]))
		b->p[--b->len] = '\0';
	while (s < b->len && (b->p[s] == '\n' || b->p[s] == '\r'))
		s++;
	memmove(b->p, b->p + s, b->len - s + 1);
	return b->p;
}

static int
has_json_word(const char *s)
{
	for (; *s; s++)
		if (strncasecmp(s, "json", 4) == 0)
			return 1;
	return 0;
}

int
prompt_render(const struct prompt *p, json_t *rec, struct prompt_msg *m, char *err, size_t n)
{
	struct rctx r = { p, rec, NULL, NULL, 1 };
	struct buf sys = {0}, user = {0};
	const struct tpl *t;
	json_t *f;

	memset(m, 0, sizeof(*m));
	if (!p->analyze) {
		f = json_object_get(json_object_get(rec, "job"), "outputFormat");
		if (f && !json_is_string(f) && !json_is_null(f)) {
			snprintf(err, n, "job.outputFormat is not a string");
			return -1;
		}
		r.format = prompt_job_format(rec);
		r.fmt = prompt_format(r.format);
		if (!r.fmt && !p->file) {
			snprintf(err, n, "unknown outputFormat '%.64s' (one of: %s)", r.format,
			    prompt_format_names());
			return -1;
		}
		r.json = r.fmt && r.fmt->json;
		if (!json_is_object(json_object_get(rec, "analysis"))) {
			snprintf(err, n, "the record has no analysis to write from (run vj-analyze first)");
			return -1;
		}
	}
	if (!(t = user_for(p, r.format))) {
		snprintf(err, n, "%s has no @user template for outputFormat '%.64s'", p->file, r.format);
		return -1;
	}
	if (walk(&r, &p->system, &sys, err, n) < 0 || walk(&r, t, &user, err, n) < 0) {
		buf_free(&sys);
		buf_free(&user);
		return -1;
	}
	trimmed(&user);
	/* JSON mode needs the word and an example in the prompt: a custom
	 * template that forgot them gets the standard instructions. */
	if (r.json && !has_json_word(user.p)) {
		char *ins = instructions(&r);
		buf_addf(&user, "%s%s", user.len ? "\n\n" : "", ins);
		free(ins);
	}
	m->system = trimmed(&sys);
	m->user = user.p;
	m->format = r.format;
	m->fmt = r.fmt;
	m->json = r.json;
	return 0;
}

void
prompt_msg_free(struct prompt_msg *m)
{
	free(m->system);
	free(m->user);
	memset(m, 0, sizeof(*m));
}

/* ---- the answers of JSON formats ---- */

int
prompt_check_data(const struct prompt_format *f, json_t *data, char *msg, size_t n)
{
	json_t *schema = json_loads(f->schema, JSON_PRESERVE_ORDER, NULL);
	int r;

	if (!schema) {          /* cannot happen: the text is ours */
		snprintf(msg, n, "bad built-in schema for %s", f->name);
		return -1;
	}
	r = schema_check(schema, data, msg, n);
	json_decref(schema);
	return r;
}

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

char *
prompt_data_text(const struct prompt_format *f, json_t *data)
{
	struct buf b = {0};
	size_t i;
	json_t *x;

	buf_adds(&b, "");
	if (strcmp(f->name, "social_post") == 0) {
		buf_adds(&b, str(data, "caption"));
		json_array_foreach(json_object_get(data, "hashtags"), i, x) {
			const char *h = json_string_value(x);
			if (!h || !*h)
				continue;
			buf_adds(&b, i ? " " : "\n\n");
			buf_addf(&b, "%s%s", *h == '#' ? "" : "#", h);
		}
	} else if (strcmp(f->name, "ad_copy") == 0) {
		buf_addf(&b, "%s\n\n%s\n\n%s", str(data, "headline"), str(data, "body"),
		    str(data, "call_to_action"));
	} else {
		free(b.p);
		return value_text(data, 1);
	}
	return b.p;
}
