/*
 * fake_script.c: scripted fault sequences, the request counters behind
 * /_stats, and the per-family requests-per-minute limiter.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

static const char *fake_fault_names[FAULT_COUNT] = {
	[FAULT_NONE] = "none", [FAULT_OK] = "ok",
	[FAULT_429] = "429", [FAULT_429DAY] = "429day", [FAULT_QUOTA] = "quota",
	[FAULT_401] = "401", [FAULT_402] = "402", [FAULT_403] = "403",
	[FAULT_404] = "404", [FAULT_408] = "408",
	[FAULT_500] = "500", [FAULT_502] = "502", [FAULT_503] = "503", [FAULT_504] = "504",
	[FAULT_TIMEOUT] = "timeout", [FAULT_DROP] = "drop", [FAULT_SLOW] = "slow",
	[FAULT_BADJSON] = "badjson", [FAULT_SCHEMA] = "schema",
	[FAULT_BLOCKED] = "blocked", [FAULT_SAFETY] = "safety",
	[FAULT_MAXTOKENS] = "maxtokens", [FAULT_BLANK] = "blank",
	[FAULT_EMPTY] = "empty", [FAULT_SPACES] = "spaces",
	[FAULT_BADKEY] = "badkey", [FAULT_UNKNOWNMODEL] = "unknownmodel",
	[FAULT_RESOURCE] = "resource", [FAULT_SHOULDRETRY_FALSE] = "shouldretry-false",
	[FAULT_VLLM] = "vllm-error",
	[FAULT_ECHOKEY] = "echokey", [FAULT_ECHOKEY_U] = "echokey-u",
	[FAULT_301] = "301", [FAULT_307] = "307",
	[FAULT_RETRY_INF] = "retry-inf", [FAULT_RETRY_E30] = "retry-e30",
	[FAULT_RETRY_MS_E300] = "retry-ms-e300",
};

int
fake_fault_parse(const char *s, size_t n)
{
	int i;

	for (i = FAULT_OK; i < FAULT_COUNT; i++)
		if (strlen(fake_fault_names[i]) == n && strncmp(fake_fault_names[i], s, n) == 0)
			return i;
	if (n == 4 && strncmp(s, "hang", 4) == 0)
		return FAULT_TIMEOUT;
	return -1;
}

const char *
fake_fault_name(int f)
{
	return f >= 0 && f < FAULT_COUNT ? fake_fault_names[f] : "?";
}

/* ---- scripts ---- */

struct fake_seq {
	unsigned char *faults;
	size_t	 n;
	size_t	 next;
};

static struct fake_map fake_script_keys;	/* key -> index in fake_seqs */
static struct fake_seq *fake_seqs;
static size_t fake_nseqs;

static void
fake_script_free(void)
{
	size_t i;

	for (i = 0; i < fake_nseqs; i++)
		free(fake_seqs[i].faults);
	free(fake_seqs);
	fake_seqs = NULL;
	fake_nseqs = 0;
	fake_map_clear(&fake_script_keys);
}

/* Parse "fault[,fault...]" (blanks allowed around commas) into seq. */
static int
fake_script_faults(const char *s, const char *end, struct fake_seq *seq,
    char *err, size_t errlen, int lineno)
{
	const char *p = s, *q;
	int f;

	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p == end)
			break;
		q = p;
		while (q < end && !isspace((unsigned char)*q) && *q != ',')
			q++;
		if ((f = fake_fault_parse(p, (size_t)(q - p))) == -1) {
			snprintf(err, errlen, "line %d: unknown fault '%.*s'", lineno,
			    (int)(q - p), p);
			return -1;
		}
		seq->faults = realloc(seq->faults, seq->n + 1);
		if (seq->faults == NULL)
			fake_die("out of memory");
		seq->faults[seq->n++] = (unsigned char)f;
		p = q;
	}
	return 0;
}

static int
fake_script_line(const char *s, const char *end, int lineno, char *err, size_t errlen)
{
	const char *k;
	char key[512];
	struct fake_seq seq = { NULL, 0, 0 };
	long *idx;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s == end || *s == '#')
		return 0;
	k = s;
	while (s < end && !isspace((unsigned char)*s))
		s++;
	if ((size_t)(s - k) >= sizeof(key)) {
		snprintf(err, errlen, "line %d: key too long", lineno);
		return -1;
	}
	memcpy(key, k, (size_t)(s - k));
	key[s - k] = '\0';
	if (fake_script_faults(s, end, &seq, err, errlen, lineno) == -1) {
		free(seq.faults);
		return -1;
	}
	idx = fake_map_get(&fake_script_keys, key, 1);
	if (*idx > 0) {		/* a repeated key: the later line wins */
		free(fake_seqs[*idx - 1].faults);
		fake_seqs[*idx - 1] = seq;
		return 0;
	}
	fake_seqs = realloc(fake_seqs, (fake_nseqs + 1) * sizeof(*fake_seqs));
	if (fake_seqs == NULL)
		fake_die("out of memory");
	fake_seqs[fake_nseqs++] = seq;
	*idx = (long)fake_nseqs;	/* 1-based: 0 means "not set" */
	return 0;
}

/* Replace the script.  On error the old script is gone and err says why. */
int
fake_script_load(const char *text, size_t len, char *err, size_t errlen)
{
	const char *p = text, *end = text + len, *nl;
	int lineno = 0;

	fake_script_free();
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		lineno++;
		/* A trailing comment may follow the faults. */
		const char *hash = memchr(p, '#', (size_t)(nl - p));
		if (fake_script_line(p, hash && hash != p ? hash : nl, lineno, err, errlen) == -1) {
			fake_script_free();
			return -1;
		}
		p = nl + 1;
	}
	return 0;
}

int
fake_script_next(const char *key)
{
	long *idx = fake_map_get(&fake_script_keys, key, 0);
	struct fake_seq *seq;

	if (idx == NULL || *idx == 0)
		idx = fake_map_get(&fake_script_keys, "*", 0);
	if (idx == NULL || *idx == 0)
		return FAULT_NONE;
	seq = &fake_seqs[*idx - 1];
	if (seq->next >= seq->n)
		return FAULT_NONE;
	return seq->faults[seq->next++];
}

/* ---- counters ---- */

static long fake_nreq;
static struct fake_map fake_by_job;
static long fake_by_status[600];
static long fake_by_family[3];

void
fake_stats_count(const char *job, int family)
{
	fake_nreq++;
	(*fake_map_get(&fake_by_job, job, 1))++;
	if (family >= 0 && family < 3)
		fake_by_family[family]++;
}

/* Connections open at once, at most since the last reset: what
 * vj-ingest --per-host is tested with. */
static long fake_conns_open, fake_conns_peak;

void
fake_stats_conn(int delta)
{
	fake_conns_open += delta;
	if (fake_conns_open > fake_conns_peak)
		fake_conns_peak = fake_conns_open;
}

void
fake_stats_status(int status)
{
	if (status >= 0 && status < 600)
		fake_by_status[status]++;
}

json_t *
fake_stats_json(void)
{
	json_t *o = json_object(), *jobs = json_object(), *st = json_object();
	char num[16];
	size_t i;

	for (i = 0; i < fake_by_job.cap; i++)
		if (fake_by_job.ents[i].key != NULL)
			json_object_set_new(jobs, fake_by_job.ents[i].key,
			    json_integer(fake_by_job.ents[i].val));
	for (i = 0; i < 600; i++) {
		if (fake_by_status[i] == 0)
			continue;
		snprintf(num, sizeof(num), "%zu", i);
		json_object_set_new(st, num, json_integer(fake_by_status[i]));
	}
	json_object_set_new(o, "requests", json_integer(fake_nreq));
	json_object_set_new(o, "conns_peak", json_integer(fake_conns_peak));
	json_object_set_new(o, "by_job", jobs);
	json_object_set_new(o, "by_status", st);
	json_object_set_new(o, "by_family", json_pack("{s:I,s:I,s:I}",
	    "gemini", (json_int_t)fake_by_family[FAM_GEMINI],
	    "openai", (json_int_t)fake_by_family[FAM_OPENAI],
	    "static", (json_int_t)fake_by_family[FAM_STATIC]));
	return o;
}

void
fake_stats_reset(void)
{
	fake_nreq = 0;
	fake_conns_peak = fake_conns_open;
	fake_map_clear(&fake_by_job);
	memset(fake_by_status, 0, sizeof(fake_by_status));
	memset(fake_by_family, 0, sizeof(fake_by_family));
}

/* ---- the sliding-window limiter: a ring of the last `rpm` admissions
 * within --rpm-window (60 s unless told) ---- */

struct fake_window {
	uint64_t *ring;
	size_t	 n;		/* entries in use */
	size_t	 head;		/* oldest entry */
};

static struct fake_window fake_windows[2];
static size_t fake_rpm_cap;

void
fake_rpm_init(int rpm)
{
	int i;

	/* rpm 0 turns the limiter off and frees it. */
	fake_rpm_cap = rpm > 0 ? (size_t)rpm : 0;
	for (i = 0; i < 2; i++) {
		free(fake_windows[i].ring);
		fake_windows[i].ring = NULL;
		fake_windows[i].n = fake_windows[i].head = 0;
		if (fake_rpm_cap)
			fake_windows[i].ring = fake_xmalloc(fake_rpm_cap * sizeof(uint64_t));
	}
}

void
fake_rpm_reset(void)
{
	fake_windows[0].n = fake_windows[0].head = 0;
	fake_windows[1].n = fake_windows[1].head = 0;
}

static void
fake_rpm_expire(struct fake_window *w, uint64_t now)
{
	while (w->n > 0 && w->ring[w->head] + fake_opt.rpm_window_ms <= now) {
		w->head = (w->head + 1) % fake_rpm_cap;
		w->n--;
	}
}

/*
 * --ratelimit-headers: what OpenAI sends on every answer, for the window
 * as it stands at `now` (when the request was admitted or refused): the
 * limit, the admissions left, and the time until the window is back to
 * its full allowance (its newest admission leaves it), as a Go duration.
 */
void
fake_rpm_headers(struct fake_resp *rs, int family, uint64_t now)
{
	struct fake_window *w;
	uint64_t reset = 0;
	char text[32];

	if (fake_opt.rl_headers && fake_opt.rl_values[3]) {
		fake_resp_header(rs, "x-ratelimit-limit-tokens: %s", fake_opt.rl_values[3]);
		fake_resp_header(rs, "x-ratelimit-remaining-tokens: %s", fake_opt.rl_values[4]);
		fake_resp_header(rs, "x-ratelimit-reset-tokens: %s", fake_opt.rl_values[5]);
	}
	if (fake_opt.rl_headers && fake_opt.rl_values[0]) {
		fake_resp_header(rs, "x-ratelimit-limit-requests: %s", fake_opt.rl_values[0]);
		fake_resp_header(rs, "x-ratelimit-remaining-requests: %s", fake_opt.rl_values[1]);
		fake_resp_header(rs, "x-ratelimit-reset-requests: %s", fake_opt.rl_values[2]);
		return;
	}
	if (!fake_opt.rl_headers || fake_rpm_cap == 0 || family < 0 || family > 1)
		return;
	w = &fake_windows[family];
	fake_rpm_expire(w, now);
	if (w->n > 0)
		reset = w->ring[(w->head + w->n - 1) % fake_rpm_cap] + fake_opt.rpm_window_ms - now;
	fake_fmt_seconds(text, sizeof(text), reset);
	fake_resp_header(rs, "x-ratelimit-limit-requests: %zu", fake_rpm_cap);
	fake_resp_header(rs, "x-ratelimit-remaining-requests: %zu", fake_rpm_cap - w->n);
	fake_resp_header(rs, "x-ratelimit-reset-requests: %s", text);
}

/*
 * Admit a request at `now` or refuse it: 0 admitted, 1 refused with
 * *retry_ms the time until the oldest admission leaves the window.
 */
int
fake_rpm_take(int family, uint64_t now, uint64_t *retry_ms)
{
	struct fake_window *w;

	if (fake_rpm_cap == 0 || family < 0 || family > 1)
		return 0;
	w = &fake_windows[family];
	fake_rpm_expire(w, now);
	if (w->n == fake_rpm_cap) {
		*retry_ms = w->ring[w->head] + fake_opt.rpm_window_ms - now;
		return 1;
	}
	w->ring[(w->head + w->n) % fake_rpm_cap] = now;
	w->n++;
	return 0;
}
