/* provider: the one table of providers and their defaults
 * (docs/providers.md), and turning options into an opened provider. */
#include "providers/provider.h"
#include "providers/provshared.h"
#include "content/prompt.h"
#include "content/schema.h"
#include "base/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef VJ_VERSION
#define VJ_VERSION "dev"
#endif

enum { KEY_NONE, KEY_NEEDED, KEY_UNLESS_BASE };
enum { ANALYZE, GENERATE };

static const struct def {
	const char *name;
	const struct provider *ops[2];      /* analyze, generate */
	const struct ps_wire *wire;         /* NULL: no requests */
	const char *model;
	const char *base_url;
	const char *key_env;
	int key;
	long max_tokens[2];                 /* analyze, generate */
	double timeout;                     /* seconds */
} defs[] = {
	{ "gemini", { &gemini_provider, &gemini_provider }, &gemini_wire,
	  "gemini-2.5-flash",
	  "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", KEY_NEEDED,
	  /* thinking tokens count against the cap: leave room */
	  { 8192, 4096 }, 120 },
	/* DeepSeek by default; any OpenAI-compatible server with --base-url.
	 * DeepSeek holds a busy request open for minutes before it starts. */
	{ "openai", { &openai_provider, &openai_provider }, &openai_wire,
	  "deepseek-flash",
	  "https://api.deepseek.com", "DEEPSEEK_API_KEY", KEY_UNLESS_BASE,
	  { 4096, 2048 }, 300 },
	{ "offline", { &offline_analyze_provider, &offline_generate_provider }, NULL,
	  "vj-offline-" VJ_VERSION, NULL, NULL, KEY_NONE, { 0, 0 }, 0 },
};
static const char *const stage_default[2] = { "gemini", "openai" };

#define MAX_IMAGE_BYTES (20u << 20)
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static int
usage(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
usage(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return VJ_EUSAGE;
}

static const struct def *
find(const char *name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

/* http(s)://host[:port][/path], no spaces or controls; the trailing
 * slash goes so paths join with one. */
static char *
clean_base(const char *u, char *err, size_t n)
{
	char *s;
	size_t len;

	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
		usage(err, n, "--base-url %s: not an http:// or https:// URL", u);
		return NULL;
	}
	for (const char *p = u; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '?' || *p == '#') {
			usage(err, n, "--base-url %s: spaces, controls, queries and fragments are not allowed", u);
			return NULL;
		}
	s = xstrdup(u);
	len = strlen(s);
	while (len > 8 && s[len - 1] == '/')
		s[--len] = '\0';
	return s;
}

static int
host_is(const char *url, const char *host)
{
	const char *h = strstr(url, "://"), *e;

	if (!h)
		return 0;
	h += 3;
	e = h + strcspn(h, ":/");
	return (size_t)(e - h) == strlen(host) && strncasecmp(h, host, (size_t)(e - h)) == 0;
}

/* Model names go into a URL path (Gemini): letters, digits, ._- only. */
static char *
clean_model(const struct def *d, const char *m, char *err, size_t n)
{
	if (strcmp(d->name, "gemini") == 0 && strncmp(m, "models/", 7) == 0)
		m += 7;
	if (!*m) {
		usage(err, n, "--model: empty name");
		return NULL;
	}
	for (const char *p = m; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p) &&
		    !(strcmp(d->name, "gemini") != 0 && strchr("/:@+", *p))) {
			usage(err, n, "--model %s: unexpected character '%c'", m, *p);
			return NULL;
		}
	return xstrdup(m);
}

static int
get_key(struct prov_ctx *c, const struct def *d, const struct prov_config *cf, char *err, size_t n)
{
	const char *env = cf->api_key_env ? cf->api_key_env : d->key_env, *k;
	size_t len;

	if (d->key == KEY_NONE)
		return cf->api_key_env ? usage(err, n, "--api-key-env has no use with --provider %s",
		    d->name) : 0;
	/* DeepSeek's key goes to DeepSeek only: another server given with
	 * --base-url gets a key only from a variable named with --api-key-env */
	if (d->key == KEY_UNLESS_BASE && cf->base_url && !cf->api_key_env && !c->deepseek)
		return 0;
	c->key_env = xstrdup(env);
	k = getenv(env);
	if (!k || !*k) {
		/* a local server needs no key, unless the user named one */
		if (d->key == KEY_UNLESS_BASE && cf->base_url && !cf->api_key_env && !c->deepseek)
			return 0;
		return usage(err, n, "%s is not set (or use --provider offline)", env);
	}
	len = strlen(k);
	while (len && isspace((unsigned char)k[len - 1]))
		len--;                  /* $(cat keyfile) leaves a newline */
	for (size_t i = 0; i < len; i++)
		if (iscntrl((unsigned char)k[i]))
			return usage(err, n, "%s holds control characters", env);
	c->key = xstrndup(k, len);
	secret_register(c->key);
	return 0;
}

/* Everything that shapes a result, never the key: part of every cache key. */
static char *
config_text(const struct prov_ctx *c, const char *stage)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:I, s:s}", "stage", stage,
	    "provider", c->name, "model", c->model, "base_url", c->base_url,
	    "prompt", prompt_version(c->prompt), "max_tokens", (json_int_t)c->max_tokens,
	    "schema", schema_version());
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	return s;
}

static void
ctx_free(struct prov_ctx *c)
{
	if (!c)
		return;
	free(c->model);
	free(c->base_url);
	if (c->key)
		memset(c->key, 0, strlen(c->key));
	free(c->key);
	free(c->key_env);
	free(c->run);
	prompt_free(c->prompt);
	free(c);
}

int
prov_open(struct prov *p, const struct prov_config *cf, char *err, size_t n)
{
	const struct def *d;
	struct prov_ctx *c;
	int st;

	memset(p, 0, sizeof(*p));
	if (!cf->stage || (strcmp(cf->stage, "analyze") != 0 && strcmp(cf->stage, "generate") != 0))
		return usage(err, n, "unknown stage %s", cf->stage ? cf->stage : "(none)");
	st = strcmp(cf->stage, "analyze") == 0 ? ANALYZE : GENERATE;
	if (!(d = find(cf->name ? cf->name : stage_default[st])))
		return usage(err, n, "unknown provider %s (gemini, openai or offline)", cf->name);
	if (d->key == KEY_NONE && (cf->model || cf->base_url))
		return usage(err, n, "--%s has no use with --provider %s",
		    cf->model ? "model" : "base-url", d->name);
	/* DeepSeek's own API takes no images. */
	if (st == ANALYZE && d->key == KEY_UNLESS_BASE && !cf->base_url)
		return usage(err, n, "vj-analyze --provider %s needs --base-url of a vision server "
		    "(DeepSeek's API takes no images)", d->name);

	c = xcalloc(1, sizeof(*c));
	c->name = d->name;
	c->label = d->name;
	c->wire = d->wire;
	c->analyze = st == ANALYZE;
	c->run = xstrdup(cf->run ? cf->run : ".");
	c->max_tokens = cf->max_tokens > 0 ? cf->max_tokens : d->max_tokens[st];
	c->max_image_bytes = cf->max_image_bytes ? cf->max_image_bytes : MAX_IMAGE_BYTES;
	if (!(c->model = clean_model(d, cf->model ? cf->model : d->model, err, n)))
		goto bad;
	if (d->base_url && !(c->base_url = clean_base(cf->base_url ? cf->base_url : d->base_url,
	    err, n)))
		goto bad;
	if (c->base_url && strcmp(d->name, "openai") == 0 && host_is(c->base_url, "api.deepseek.com")) {
		c->deepseek = 1;
		c->label = "deepseek";
	}
	if (get_key(c, d, cf, err, n) != 0)
		goto bad;
	if (!(c->prompt = prompt_open(cf->stage, cf->prompt_file, err, n)))
		goto bad;

	p->ops = d->ops[st];
	p->ctx = c;
	p->name = xstrdup(d->name);
	p->model = xstrdup(c->model);
	p->cfg = config_text(c, cf->stage);
	p->timeout = d->timeout;
	return VJ_OK;
bad:
	ctx_free(c);
	return VJ_EUSAGE;
}

void
prov_close(struct prov *p)
{
	ctx_free(p->ctx);
	free(p->name);
	free(p->model);
	free(p->cfg);
	memset(p, 0, sizeof(*p));
}
