/* provider: the one table of providers and their defaults
 * (docs/providers.md), and turning options into an opened provider. */
#include "providers/provider.h"
#include "providers/provshared.h"
#include "content/models.h"
#include "content/prompt.h"
#include "content/schema.h"
#include "core/netsafe.h"
#include "base/util.h"

#include <ctype.h>
#include <curl/curl.h>
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
	/* the model table's default (data/models.txt, "default") comes first:
	 * this one is for a table that names none */
	{ "gemini", { &gemini_provider, &gemini_provider }, &gemini_wire,
	  "gemini-3.5-flash-lite",
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

/* Hosts of public APIs: they are reached over https only, since a key
 * sent to them over plain http could be read on the way. */
static const char *const public_hosts[] = {
	"generativelanguage.googleapis.com", "api.deepseek.com", "api.openai.com",
	"api.anthropic.com", "api.mistral.ai", "api.groq.com", "api.together.xyz",
	"api.fireworks.ai", "openrouter.ai", "api.x.ai",
};

static int
is_public_host(const char *h)
{
	for (size_t i = 0; i < sizeof public_hosts / sizeof public_hosts[0]; i++)
		if (strcasecmp(h, public_hosts[i]) == 0)
			return 1;
	return 0;
}

/* The base URL, as libcurl (which sends the requests) reads it: http or
 * https, a host, no credentials, query or fragment; the trailing slash
 * goes so paths join with one.  *host gets the host as libcurl will
 * connect to it, lower case and without a trailing dot, so that
 * "http://api.deepseek.com:x@127.0.0.1" is known for what it is. */
static char *
clean_base(const char *u, char **host, char *err, size_t n)
{
	CURLU *h = NULL;
	char *scheme = NULL, *user = NULL, *pass = NULL, *opts = NULL, *hst = NULL, *shown;
	char *s = NULL;
	size_t len;

	*host = NULL;
	shown = xstrdup(u);
	netsafe_strip_userinfo(shown);     /* never echo a password */
	for (const char *p = u; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '?' || *p == '#') {
			usage(err, n, "--base-url %s: spaces, controls, queries and fragments are not allowed",
			    shown);
			goto out;
		}
	if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
		usage(err, n, "--base-url %s: not an http:// or https:// URL", shown);
		goto out;
	}
	if (!(h = curl_url()) || curl_url_set(h, CURLUPART_URL, u, 0) != CURLUE_OK) {
		usage(err, n, "--base-url %s: not a valid URL", shown);
		goto out;
	}
	curl_url_get(h, CURLUPART_USER, &user, 0);
	curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
	curl_url_get(h, CURLUPART_OPTIONS, &opts, 0);
	const char *auth = strstr(u, "://") + 3;
	if (user || pass || opts || memchr(auth, '@', strcspn(auth, "/"))) {
		usage(err, n, "--base-url %s: credentials in the URL (user:password@host) are not "
		    "accepted; put the key in an environment variable and name it with --api-key-env",
		    shown);
		goto out;
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &hst, 0) != CURLUE_OK || !hst || !*hst) {
		usage(err, n, "--base-url %s: no host", shown);
		goto out;
	}
	len = strlen(hst);
	if (len > 1 && hst[len - 1] == '.')
		hst[--len] = '\0';
	for (char *p = hst; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (strcmp(scheme, "http") == 0 && is_public_host(hst)) {
		usage(err, n, "--base-url %s: %s is reached over https only (a key sent over plain "
		    "http can be read on the way)", shown, hst);
		goto out;
	}
	*host = xstrdup(hst);
	s = xstrdup(u);
	len = strlen(s);
	while (len > 8 && s[len - 1] == '/')
		s[--len] = '\0';
out:
	curl_free(scheme);
	curl_free(user);
	curl_free(pass);
	curl_free(opts);
	curl_free(hst);
	curl_url_cleanup(h);
	free(shown);
	return s;
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
	static const char *const res[] = { "default", "low", "medium", "high", "ultra", "auto" };
	char *s;

	/* what the model sees of the image shapes the result; only when
	 * given, so that runs without it keep their keys */
	if (c->res > MODELS_RES_DEFAULT && c->res <= MODELS_RES_AUTO)
		json_object_set_new(o, "image_detail", json_string(res[c->res]));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
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
	char *host = NULL;
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
	const char *dm = d->key != KEY_NONE ? models_default(d->name, cf->stage) : NULL;
	if (!(c->model = clean_model(d, cf->model ? cf->model : dm ? dm : d->model, err, n)))
		goto bad;
	c->tier = cf->tier == MODELS_FLEX ? MODELS_FLEX : MODELS_STANDARD;
	c->res = (enum models_res)cf->res;
	/* the model that answers (a retired one's successor, if routed) */
	const struct models_row *row = models_billed(d->name, c->model, price_now_ms());
	c->no_temperature = row && !row->temperature;
	if (d->base_url && !(c->base_url = clean_base(cf->base_url ? cf->base_url : d->base_url,
	    &host, err, n)))
		goto bad;
	/* the host libcurl will connect to, not what the text starts with */
	if (host && strcmp(d->name, "openai") == 0 && strcmp(host, "api.deepseek.com") == 0) {
		c->deepseek = 1;
		c->label = "deepseek";
	}
	free(host);
	host = NULL;
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
	free(host);
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
