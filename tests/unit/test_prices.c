/* test_prices: cost arithmetic against hand-computed figures, the
 * override file, VJ_PRICES, and unknown models, through the older
 * interface that sits on the model table (test_models tests the table). */
#include "content/prices.h"
#include "base/util.h"
#include "tap.h"
#include "util.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}

static json_t *
usage(long p, long c, long cached)
{
	return json_pack("{s:i, s:i, s:i}", "prompt", (int)p, "completion", (int)c, "cached", (int)cached);
}

/* Count the lines written to stderr by f(). */
static int
stderr_lines(void (*f)(void))
{
	const char *path = scratch_path("stderr");
	char buf[4096];
	int fd, saved, n = 0;
	ssize_t r;

	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	close(fd);
	f();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fd = open(path, O_RDONLY);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

static void
unknown_twice(void)
{
	json_t *u = usage(1000, 1000, 0);

	prices_cost("openai", "mystery-model", u);
	prices_cost("openai", "mystery-model", u);
	json_decref(u);
}

int
main(void)
{
	char err[512];
	struct price p;
	json_t *u;
	const char *f;

	if (scratch_make("prices") != 0) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	vj_setprog("test_prices");

	/* VJ_PRICES is read on first use */
	f = scratch_file("env.json", "{\"openai\": {\"env-model\": {\"prompt\": 1, \"completion\": 3}}}");
	setenv("VJ_PRICES", f, 1);
	u = usage(2000000, 1000000, 0);
	ok(near(prices_cost("openai", "env-model", u), 2 * 1 + 1 * 3), "VJ_PRICES loaded on first use");
	json_decref(u);
	unsetenv("VJ_PRICES");
	prices_reset();

	/* the table: gemini-2.5-flash 0.30 / 0.03 / 2.50 per million (and, since
	 * its retirement, gemini-3.5-flash-lite's, the same figures) */
	u = usage(1000, 500, 200);
	/* (800 * 0.30 + 200 * 0.03 + 500 * 2.50) / 1e6 = 0.001496 */
	ok(near(prices_cost("gemini", "gemini-2.5-flash", u), 0.001496), "gemini cost by hand: %.9f",
	    prices_cost("gemini", "gemini-2.5-flash", u));
	ok(near(prices_cost("gemini", "models/gemini-2.5-flash", u), 0.001496), "models/ prefix");
	/* deepseek-flash off-peak 0.15 / 0.003 / 0.60 (usage's "t": Wednesday
	 * 2026-12-02 12:00 UTC): (800*0.15 + 200*0.003 + 500*0.60) / 1e6 = 0.0004206;
	 * at 02:00 UTC, peak, twice that */
	json_object_set_new(u, "t", json_integer(1796212800000LL));
	ok(near(prices_cost("openai", "deepseek-flash", u), 0.0004206), "deepseek cost by hand");
	json_object_set_new(u, "t", json_integer(1796176800000LL));
	ok(near(prices_cost("openai", "deepseek-flash", u), 0.0008412), "at peak: twice");
	json_object_set_new(u, "tier", json_string("flex"));
	ok(near(prices_cost("gemini", "gemini-2.5-flash-lite", u), (800 * 0.05 + 200 * 0.0125 + 500 * 0.20) / 1e6),
	    "usage's tier: flex");
	/* the end of a peak, Monday 2026-12-14 04:00 UTC: a millisecond before
	 * is peak, the hour itself not; Saturday 02:00 is off-peak */
	json_object_del(u, "tier");
	json_object_set_new(u, "t", json_integer(1797206400000LL + 4 * 3600000 - 1));
	ok(near(prices_cost("openai", "deepseek-flash", u), 0.0008412), "03:59:59.999 Monday: peak");
	json_object_set_new(u, "t", json_integer(1797206400000LL + 4 * 3600000));
	ok(near(prices_cost("openai", "deepseek-flash", u), 0.0004206), "04:00 Monday: off-peak");
	json_object_set_new(u, "t", json_integer(1797206400000LL + 6 * 3600000));
	ok(near(prices_cost("openai", "deepseek-flash", u), 0.0008412), "06:00 Monday: peak again");
	json_object_set_new(u, "t", json_integer(1797206400000LL - 2 * 86400000 + 2 * 3600000));
	ok(near(prices_cost("openai", "deepseek-flash", u), 0.0004206), "Saturday 02:00: off-peak");
	/* gemini-3.8-flash doubles on 2027-01-01; flex is half of either */
	json_object_set_new(u, "t", json_integer(1798761599999LL));
	ok(near(prices_cost("gemini", "gemini-3.8-flash", u), (800 * 0.75 + 200 * 0.075 + 500 * 3.75) / 1e6),
	    "2026-12-31 23:59:59.999: the old price");
	json_object_set_new(u, "t", json_integer(1798761600000LL));
	ok(near(prices_cost("gemini", "gemini-3.8-flash", u), (800 * 1.50 + 200 * 0.15 + 500 * 7.50) / 1e6),
	    "2027-01-01: the new price");
	json_object_set_new(u, "tier", json_string("flex"));
	ok(near(prices_cost("gemini", "gemini-3.8-flash", u), (800 * 0.75 + 200 * 0.075 + 500 * 3.75) / 1e6),
	    "2027-01-01 flex: half the new price");
	/* a tier the table has no price for is billed at standard */
	json_object_set_new(u, "tier", json_string("priority"));
	ok(near(prices_cost("gemini", "gemini-3.8-flash", u), (800 * 1.50 + 200 * 0.15 + 500 * 7.50) / 1e6),
	    "an unknown tier: standard");
	json_object_set_new(u, "tier", json_string("flex"));
	ok(near(prices_cost("openai", "gpt-4.1-mini", u), (800 * 0.40 + 200 * 0.10 + 500 * 1.60) / 1e6),
	    "flex on a model without it: standard");
	json_object_del(u, "t");
	json_object_del(u, "tier");
	is_int(prices_cost("offline", "vj-offline-0.1.0", u) == 0, 1, "offline is free");
	is_int(prices_cost("gemini", "gemini-2.5-flash", NULL) == 0, 1, "no usage, no cost");
	json_decref(u);
	u = usage(100, 0, 500);
	ok(near(prices_cost("gemini", "gemini-2.5-flash", u), 100 * 0.03 / 1e6), "cached capped at prompt");
	json_decref(u);
	u = json_pack("{s:i}", "completion", 1000000);
	ok(near(prices_cost("gemini", "gemini-2.5-flash", u), 2.5), "missing counts are 0");
	json_decref(u);

	/* unknown: 0, one warning */
	u = usage(1000, 1000, 0);
	ok(prices_cost("openai", "mystery-model", u) == 0, "unknown model costs 0");
	json_decref(u);
	is_int(stderr_lines(unknown_twice), 0, "warned once only (already warned)");
	prices_reset();
	is_int(stderr_lines(unknown_twice), 1, "one warning for two calls");

	/* an override file */
	f = scratch_file("p.json", "{\"gemini\": {\"gemini-2.5-flash-lite\": {\"prompt\": 1.0, \"cached\": 0.5, "
	    "\"completion\": 4}},\n \"openai\": {\"my-vllm\": {\"prompt\": 0, \"completion\": 0}}}");
	is_int(prices_load(f, err, sizeof(err)), 0, "override loads: %s", err);
	u = usage(1000000, 1000000, 500000);
	ok(near(prices_cost("gemini", "gemini-2.5-flash-lite", u), 0.5 + 0.25 + 4), "override replaces a row");
	is_int(prices_get("openai", "my-vllm", &p), 0, "override adds a row");
	ok(p.cached == 0, "cached defaults to prompt");
	json_object_set_new(u, "t", json_integer(1796212800000LL));
	ok(near(prices_cost("openai", "deepseek-flash", u), (500000 * 0.15 + 500000 * 0.003 + 1e6 * 0.60) / 1e6),
	    "other rows stay");
	json_decref(u);

	f = scratch_file("bad1.json", "{\"gemini\": {\"x\": {\"prompt\": 1}}}");
	ok(prices_load(f, err, sizeof(err)) < 0 && strstr(err, "gemini.x: \"prompt\" and \"completion\" are required"),
	    "missing figure: %s", err);
	f = scratch_file("bad2.json", "{\"gemini\": {\"x\": {\"prompt\": -1, \"completion\": 1}}}");
	ok(prices_load(f, err, sizeof(err)) < 0 && strstr(err, "gemini.x.prompt: expected a number >= 0"),
	    "negative figure: %s", err);
	f = scratch_file("bad3.json", "{\"gemini\": \n [}");
	ok(prices_load(f, err, sizeof(err)) < 0 && strstr(err, "bad3.json:2:"), "syntax error with line: %s", err);
	f = scratch_file("bad4.json", "{\"gemini\": {\"y\": {\"prompt\": 1, \"completion\": 1}, \"x\": 3}}");
	ok(prices_load(f, err, sizeof(err)) < 0, "a bad file");
	ok(prices_get("gemini", "y", &p) < 0, "is not merged in part");
	ok(prices_load("/nonexistent/prices.json", err, sizeof(err)) < 0, "a missing file");

	if (scratch_remove() != 0)
		ok(0, "cleanup");
	prices_reset();
	return done_testing();
}
