/* test_models: the model table against hand-computed figures: cost per tier
 * and time-of-day window (a run across DeepSeek's peak boundary), price
 * periods, retired models and successors, image tokens per rule for 1, 4
 * and 12 MP images, merging a user's file, and file errors naming
 * FILE:LINE (NaN, inf, 1e308 and negative prices among them). */
#include "content/models.h"
#include "base/util.h"
#include "tap.h"
#include "util.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *base = "data/models.txt";

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}

/* ms since the epoch of a UTC time, computed without the code under test. */
static int64_t
at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
		.tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm) * 1000;
}

static double
cost(const char *prov, const char *model, double p, double c, double o, enum models_tier tier, int64_t t)
{
	struct models_usage u = { p, c, o };
	return models_cost(prov, model, &u, tier, t);
}

static long
img(const char *rule, const char *params, long w, long h, enum models_res res)
{
	struct models_rule r;
	char buf[200], err[200], *save = NULL;

	if (models_rule_init(rule, &r) < 0)
		return -2;
	snprintf(buf, sizeof(buf), "%s", params);
	for (char *p = strtok_r(buf, " ", &save); p; p = strtok_r(NULL, " ", &save))
		if (models_rule_param(&r, p, err, sizeof(err)) < 0)
			return -3;
	return models_image_tokens(&r, w, h, res);
}

/* Lines f() writes to stderr. */
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

static unsigned bits_seen;

static void
warn_retired_twice(void)
{
	bits_seen = models_warn_once("gemini", "gemini-2.5-flash", at(2026, 12, 2, 12, 0, 0));
	bits_seen &= models_warn_once("gemini", "models/gemini-2.5-flash", at(2026, 12, 2, 13, 0, 0));
}

static void
warn_notemp_twice(void)
{
	bits_seen = models_warn_once("gemini", "gemini-3.5-flash-lite", at(2026, 12, 2, 12, 0, 0));
	bits_seen &= models_warn_once("gemini", "gemini-3.5-flash-lite", at(2026, 12, 2, 12, 0, 0));
}

static void
warn_served(void)
{
	bits_seen = models_warn_once("gemini", "gemini-2.5-flash-lite", at(2026, 12, 2, 12, 0, 0));
}

static void
test_tiers(void)
{
	int64_t wed = at(2026, 12, 2, 12, 0, 0);

	/* gemini-3.5-flash-lite 0.30 / 0.03 / 2.50, flex and batch half:
	 * (800000 * 0.30 + 200000 * 0.03 + 100000 * 2.50) / 1e6 = 0.496 */
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 1e6, 2e5, 1e5, MODELS_STANDARD, wed), 0.496),
	    "gemini standard by hand");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 1e6, 2e5, 1e5, MODELS_FLEX, wed), 0.248), "gemini flex: half");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 1e6, 2e5, 1e5, MODELS_BATCH, wed), 0.248), "gemini batch: half");
	/* gpt-4.1-mini has no flex: billed at standard, 0.32 + 0.02 + 0.16 */
	ok(!models_offers(models_lookup("openai", "gpt-4.1-mini", wed), MODELS_FLEX), "gpt-4.1-mini offers no flex");
	ok(models_offers(models_lookup("openai", "gpt-5-mini", wed), MODELS_FLEX), "gpt-5-mini offers flex");
	ok(near(cost("openai", "gpt-4.1-mini", 1e6, 2e5, 1e5, MODELS_FLEX, wed), 0.50), "a tier not offered: standard");
	ok(near(cost("openai", "gpt-4.1-mini", 1e6, 2e5, 1e5, MODELS_BATCH, wed), 0.25), "openai batch: half");
	/* gemini-3-flash-preview: no cached price, so cached tokens cost input */
	ok(near(cost("gemini", "gemini-3-flash-preview", 1e6, 5e5, 0, MODELS_STANDARD, wed), 0.50), "cached '-' = input");
	ok(near(cost("gemini", "models/gemini-3.5-flash-lite", 0, 0, 1e6, MODELS_STANDARD, wed), 2.50), "models/ prefix");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 100, 500, 0, MODELS_STANDARD, wed), 100 * 0.03 / 1e6),
	    "cached capped at prompt");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", NAN, -5, INFINITY, MODELS_STANDARD, wed), 0),
	    "nan, negative and inf counts are 0");
	ok(cost("openai", "mystery", 1, 0, 1, MODELS_STANDARD, wed) < 0, "an unknown model: -1");
	ok(cost("gemini", "deepseek-flash", 1, 0, 1, MODELS_STANDARD, wed) < 0, "the provider is part of the key");
}

static void
test_deepseek_hours(void)
{
	/* deepseek-flash off-peak 0.15 / 0.003 / 0.60, peak twice that:
	 * (800000 * 0.15 + 200000 * 0.003 + 100000 * 0.60) / 1e6 = 0.1806 */
	const char *m = "deepseek-flash";
	struct { int64_t t; double want; const char *what; } c[] = {
		{ at(2026, 12, 2, 0, 59, 59), 0.1806, "Wed 00:59:59 UTC off-peak" },
		{ at(2026, 12, 2, 1, 0, 0), 0.3612, "Wed 01:00 UTC (09:00 Beijing) peak" },
		{ at(2026, 12, 2, 3, 59, 59), 0.3612, "Wed 03:59:59 peak" },
		{ at(2026, 12, 2, 4, 0, 0), 0.1806, "Wed 04:00 off-peak (Beijing lunch)" },
		{ at(2026, 12, 2, 6, 0, 0), 0.3612, "Wed 06:00 peak again" },
		{ at(2026, 12, 2, 9, 59, 0), 0.3612, "Wed 09:59 peak" },
		{ at(2026, 12, 2, 10, 0, 0), 0.1806, "Wed 10:00 off-peak" },
		{ at(2026, 12, 5, 2, 0, 0), 0.1806, "Saturday 02:00 off-peak" },
		{ at(2026, 12, 7, 2, 0, 0), 0.3612, "Monday 02:00 peak" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ok(near(cost("openai", m, 1e6, 2e5, 1e5, MODELS_STANDARD, c[i].t), c[i].want), "%s: %.6f", c[i].what,
		    cost("openai", m, 1e6, 2e5, 1e5, MODELS_STANDARD, c[i].t));

	/* a run of 30 requests a minute apart, 00:45 to 01:14: 15 off-peak,
	 * 15 peak; each (6000 * 0.15 + 4000 * 0.003 + 2000 * 0.60) / 1e6 =
	 * 0.002112 off-peak, 0.004224 peak: 15 * 0.002112 + 15 * 0.004224 */
	double sum = 0;
	for (int i = 0; i < 30; i++)
		sum += cost("openai", m, 10000, 4000, 2000, MODELS_STANDARD, at(2026, 12, 2, 0, 45, 0) + i * 60000LL);
	ok(fabs(sum - 0.09504) < 1e-12, "a run across the 01:00 boundary: %.8f", sum);

	const struct models_row *r = models_lookup("openai", m, at(2026, 12, 2, 0, 30, 0));
	int64_t next;
	is_int(models_window_at(r, at(2026, 12, 2, 0, 30, 0), &next), -1, "00:30: no window");
	ok(next == at(2026, 12, 2, 1, 0, 0), "the next change is 01:00");
	is_str(r->win[models_window_at(r, at(2026, 12, 2, 2, 0, 0), &next)].name, "peak", "02:00: peak");
	ok(next == at(2026, 12, 2, 4, 0, 0), "which ends at 04:00");
	models_window_at(r, at(2026, 12, 4, 10, 0, 0), &next);
	ok(next == at(2026, 12, 7, 1, 0, 0), "Friday 10:00: the next peak is Monday 01:00");
	r = models_lookup("gemini", "gemini-3.5-flash-lite", 0);
	is_int(models_window_at(r, at(2026, 12, 2, 2, 0, 0), &next), -1, "gemini has no windows");
	ok(next == INT64_MAX, "and no change");
}

static void
test_periods_and_retired(void)
{
	const char *succ = NULL;
	int32_t until = 0;
	char day[11];

	/* gemini-3.8-flash: 0.75 until 2026-12-31, 1.50 from 2027-01-01 */
	ok(near(cost("gemini", "gemini-3.8-flash", 1e6, 0, 0, MODELS_STANDARD, at(2026, 12, 31, 23, 59, 59)), 0.75),
	    "gemini-3.8-flash on 2026-12-31");
	ok(near(cost("gemini", "gemini-3.8-flash", 1e6, 0, 0, MODELS_STANDARD, at(2027, 1, 1, 0, 0, 0)), 1.50),
	    "and from 2027-01-01");
	ok(near(cost("gemini", "gemini-3.8-flash", 0, 0, 1e6, MODELS_BATCH, at(2027, 3, 1, 0, 0, 0)), 3.75),
	    "the new period's batch price");
	ok(models_lookup("gemini", "gemini-3.8-flash", at(2027, 3, 1, 0, 0, 0))->media_resolution,
	    "a new period keeps the model's other fields");
	ok(!models_retired("gemini", "gemini-3.8-flash", at(2027, 1, 1, 0, 0, 0), NULL, NULL),
	    "the end of a price period is no retirement");

	/* gemini-2.5-pro 1.25 / 10.00, served until 2026-11-30, then routed to
	 * gemini-3.8-flash at 0.75 / 3.75 */
	ok(near(cost("gemini", "gemini-2.5-pro", 1e6, 0, 1e6, MODELS_STANDARD, at(2026, 11, 30, 23, 0, 0)), 11.25),
	    "gemini-2.5-pro on its last day: its own price");
	ok(near(cost("gemini", "gemini-2.5-pro", 1e6, 0, 1e6, MODELS_STANDARD, at(2026, 12, 1, 0, 0, 0)), 4.50),
	    "after: billed at its successor's");
	ok(!models_retired("gemini", "gemini-2.5-pro", at(2026, 11, 30, 23, 0, 0), &succ, &until), "served on 11-30");
	ok(models_retired("gemini", "gemini-2.5-pro", at(2026, 12, 1, 0, 0, 0), &succ, &until), "retired on 12-01");
	is_str(succ, "gemini-3.8-flash", "its successor");
	models_date_str(until, day);
	is_str(day, "2026-11-30", "its last day");
	ok(models_retired("gemini", "gemini-2.5-flash", at(2026, 12, 2, 0, 0, 0), &succ, NULL), "gemini-2.5-flash retired");
	is_str(succ, "gemini-3.5-flash-lite", "its successor");
	/* gemini-2.0-flash is not routed: its own row, and a successor to name */
	ok(models_retired("gemini", "gemini-2.0-flash", at(2026, 12, 2, 0, 0, 0), &succ, NULL), "gemini-2.0-flash retired");
	is_str(succ, "gemini-3.5-flash-lite", "its successor");
	is_str(models_billed("gemini", "gemini-2.0-flash", at(2026, 12, 2, 0, 0, 0))->model, "gemini-2.0-flash",
	    "not routed: billed as itself");
	ok(models_retired("openai", "deepseek-chat", at(2026, 7, 25, 0, 0, 0), &succ, NULL), "deepseek-chat retired");
	is_str(succ, "deepseek-flash", "its successor");
	ok(!models_retired("gemini", "gemini-2.5-flash-lite", at(2026, 12, 2, 0, 0, 0), NULL, NULL), "2.5-flash-lite served");
	ok(!models_retired("gemini", "nonesuch", at(2026, 12, 2, 0, 0, 0), NULL, NULL), "unknown: not retired");

	is_str(models_default("gemini", "analyze"), "gemini-3.5-flash-lite", "gemini's default");
	is_str(models_default("openai", "generate"), "deepseek-flash", "openai's default");
	ok(models_default("gemini", "pack") == NULL, "no default for other stages");

	/* once per run and model: the retired one twice is 2 lines (retired,
	 * and its successor ignores temperature), then nothing */
	is_int(stderr_lines(warn_retired_twice), 2, "retired: warned once, with the successor's temperature");
	is_int(bits_seen, MODELS_W_RETIRED | MODELS_W_NO_TEMPERATURE, "the bits every time");
	is_int(stderr_lines(warn_retired_twice), 0, "not again");
	is_int(stderr_lines(warn_notemp_twice), 1, "ignores temperature: one line");
	is_int(bits_seen, MODELS_W_NO_TEMPERATURE, "its bit");
	is_int(stderr_lines(warn_served), 0, "a served model that honours temperature: silent");
	is_int(bits_seen, 0, "no bits");
}

static void
test_images(void)
{
	/* 1 MP 1000x1000, 4 MP 2304x1728, 12 MP 4000x3000 */
	/* Gemini 2.x: ceil(w/768) x ceil(h/768) tiles of 258 */
	is_int(img("gemini-tiles", "", 1000, 1000, 0), 4 * 258, "gemini tiles 1 MP: 2x2");
	is_int(img("gemini-tiles", "", 2304, 1728, 0), 9 * 258, "gemini tiles 4 MP: 3x3");
	is_int(img("gemini-tiles", "", 4000, 3000, 0), 24 * 258, "gemini tiles 12 MP: 6x4");
	is_int(img("gemini-tiles", "", 4032, 3024, 0), 6192, "gemini tiles 4032x3024: ~6,200 (api-notes)");
	is_int(img("gemini-tiles", "", 384, 384, 0), 258, "up to 384x384: one tile");
	is_int(img("gemini-tiles", "", 768, 576, 0), 258, "768x576: one tile");
	/* Gemini 3: fixed budget whatever the size */
	is_int(img("gemini-fixed", "", 1000, 1000, MODELS_RES_DEFAULT), 1120, "gemini fixed 1 MP: high by default");
	is_int(img("gemini-fixed", "", 4000, 3000, MODELS_RES_DEFAULT), 1120, "gemini fixed 12 MP: the same");
	is_int(img("gemini-fixed", "", 4000, 3000, MODELS_RES_LOW), 280, "low 280");
	is_int(img("gemini-fixed", "", 2304, 1728, MODELS_RES_MEDIUM), 560, "medium 560");
	is_int(img("gemini-fixed", "", 2304, 1728, MODELS_RES_ULTRA), 2240, "ultra 2240");
	is_int(img("gemini-fixed", "default=low", 2304, 1728, MODELS_RES_AUTO), 280, "another default");
	/* OpenAI tiles: fit 2048, short side 768, 512 tiles: 4:3 photos are 2x2 */
	is_int(img("openai-tiles", "", 1000, 1000, MODELS_RES_HIGH), 85 + 4 * 170, "openai tiles 1 MP: 765");
	is_int(img("openai-tiles", "", 2304, 1728, MODELS_RES_HIGH), 765, "openai tiles 4 MP: 1024x768, 765");
	is_int(img("openai-tiles", "", 4000, 3000, MODELS_RES_AUTO), 765, "openai tiles 12 MP (auto as high): 765");
	is_int(img("openai-tiles", "", 2048, 4096, MODELS_RES_HIGH), 1105, "2048x4096: 768x1536, 6 tiles, 1105");
	is_int(img("openai-tiles", "", 4000, 3000, MODELS_RES_LOW), 85, "detail low: 85");
	is_int(img("openai-tiles", "base=70 tile=140", 4000, 3000, MODELS_RES_HIGH), 70 + 4 * 140, "gpt-5 figures: 630");
	is_int(img("openai-tiles", "base=2833 tile=5667", 1000, 1000, MODELS_RES_HIGH), 2833 + 4 * 5667,
	    "gpt-4o-mini figures");
	is_int(img("openai-tiles", "", 500, 300, MODELS_RES_HIGH), 255, "small: not scaled up, one tile");
	/* OpenAI patches: 32 px, at most 1536, x1.62 rounded up */
	is_int(img("openai-patches", "", 1000, 1000, 0), 1659, "patches 1 MP: 32x32 = 1024, x1.62 = 1658.88");
	is_int(img("openai-patches", "", 2304, 1728, 0), 2353, "patches 4 MP: scaled to 44x33 = 1452, x1.62");
	is_int(img("openai-patches", "", 4000, 3000, 0), 2353, "patches 12 MP: 1452 too");
	is_int(img("openai-patches", "mult=1", 1800, 2400, 0), 1452, "1800x2400 at 1 a patch: 1452 (OpenAI's example)");
	is_int(img("openai-patches", "mult=1", 1024, 1024, 0), 1024, "1024x1024: 1024");
	is_int(img("openai-patches", "mult=2.46", 1000, 1000, 0), 2520, "nano: 1024 x 2.46 = 2519.04");
	/* Qwen2.5-VL: sides to multiples of 28 (half to even), one token a block */
	is_int(img("qwen-blocks", "", 1000, 1000, 0), 36 * 36, "qwen 1 MP: 36x36");
	is_int(img("qwen-blocks", "", 2304, 1728, 0), 82 * 62, "qwen 4 MP: 82x62");
	is_int(img("qwen-blocks", "", 4000, 3000, 0), 143 * 107, "qwen 12 MP: 143x107");
	is_int(img("qwen-blocks", "", 4032, 3024, 0), 15552, "qwen 4032x3024: ~15,500 (api-notes)");
	is_int(img("qwen-blocks", "max=1003520", 4000, 3000, 0), 41 * 30, "a server's 1280-block cap: 41x30");
	is_int(img("qwen-blocks", "", 50, 30, 0), 3 * 2, "below min: scaled up to 84x56");
	is_int(img("qwen-blocks", "", 14, 14, 0), 2 * 2, "14 px rounds to 0 blocks, then up to min");
	/* no rule, bad sizes */
	is_int(img("unknown", "", 1000, 1000, 0), -1, "unknown rule: -1");
	is_int(img("none", "", 1000, 1000, 0), -1, "none: -1");
	is_int(img("gemini-tiles", "", 0, 1000, 0), -1, "zero width: -1");
	is_int(img("gemini-tiles", "", 1000, 2000000, 0), -1, "two million px high: -1");
	is_int(img("gemini-tiles", "tiles=3", 10, 10, 0), -3, "an unknown parameter is refused");
	is_int(img("openai-patches", "mult=nan", 10, 10, 0), -3, "mult=nan is refused");
	is_int(img("openai-patches", "patch=0", 10, 10, 0), -3, "patch=0 is refused");
	is_int(img("qwen-blocks", "block=2.5", 10, 10, 0), -3, "a fractional block is refused");
	/* the table's rules */
	int64_t now = at(2026, 12, 2, 0, 0, 0);
	is_int(models_image_tokens(&models_lookup("gemini", "gemini-2.5-flash-lite", now)->image, 4000, 3000, 0), 6192,
	    "the table: gemini-2.5-flash-lite tiles");
	is_int(models_image_tokens(&models_lookup("gemini", "gemini-3.5-flash-lite", now)->image, 4000, 3000,
	    MODELS_RES_LOW), 280, "the table: gemini-3.5-flash-lite low");
	is_int(models_image_tokens(&models_lookup("openai", "gpt-5-mini", now)->image, 1000, 1000, 0), 1659,
	    "the table: gpt-5-mini patches");
	is_int(models_image_tokens(&models_lookup("openai", "deepseek-flash", now)->image, 1000, 1000, 0), -1,
	    "the table: deepseek-flash has no rule");
	ok(!models_lookup("openai", "deepseek-v4-pro", now)->vision, "deepseek-v4-pro takes no images");
}

/* The error of merging text, or "" when it merged. */
static const char *
merge_err(const char *name, const char *text)
{
	static char err[600];

	err[0] = 0;
	if (models_merge(scratch_file(name, text), err, sizeof(err)) == 0)
		return "";
	return err;
}

static int
has(const char *got, const char *want)
{
	if (strstr(got, want))
		return 1;
	printf("#   got '%s', want '%s' in it\n", got, want);
	return 0;
}

static void
test_errors(void)
{
	struct { const char *text, *want; } c[] = {
		{ "model gemini x\n\tprice standard nan 0 0\n", "bad.txt:2: price standard: input price 'nan' is not a number" },
		{ "model gemini x\n\n\tprice standard 1 inf 1\n", "bad.txt:3: price standard: cached price 'inf' is not" },
		{ "# c\nmodel gemini x\n\tprice standard 1 1 1e308\n", "bad.txt:3: price standard: output price '1e308'" },
		{ "model gemini x\n\tprice standard -0.5 0 0\n", "bad.txt:2: price standard: input price '-0.5'" },
		{ "model gemini x\n\tprice flex 0x10 0 0\n", "bad.txt:2: price flex: input price '0x10'" },
		{ "model gemini x\n\tprice standard 1e999 0 0\n", "bad.txt:2:" },
		{ "model gemini x\n\tprice standard 1 1\n", "bad.txt:2: price: expected TIER INPUT CACHED OUTPUT" },
		{ "model gemini x\n\tprice fast 1 1 1\n", "bad.txt:2: price: unknown tier 'fast'" },
		{ "model gemini x\n\tprice standard 1 1 1\n\tcolour red\n", "bad.txt:3: unknown field 'colour'" },
		{ "price standard 1 1 1\n", "bad.txt:1: price before the first model line" },
		{ "model gemni x\n", "bad.txt:1: model: unknown provider 'gemni'" },
		{ "model gemini x y\n", "bad.txt:1: model: expected PROVIDER MODEL" },
		{ "model gemini bad$name\n", "bad.txt:1: model: 'bad$name' is not a model name" },
		{ "model gemini x\n\tfrom 2026-02-30\n", "bad.txt:2: from: '2026-02-30' is not a date" },
		{ "model gemini x\n\tchecked -\n", "bad.txt:2: checked: '-' is not a date (YYYY-MM-DD)" },
		{ "model gemini x\n\tvision maybe\n", "bad.txt:2: vision: expected yes or no" },
		{ "model gemini x\n\tvision yes\n\tvision no\n", "bad.txt:3: vision given twice for x (line 2)" },
		{ "model gemini x\n\tprice standard 1 1 1\n\tprice standard 2 2 2\n", "bad.txt:3: price standard given twice" },
		{ "model gemini x\n\timage tiles\n", "bad.txt:2: image: expected a rule" },
		{ "model gemini x\n\timage gemini-tiles tile=-1\n", "bad.txt:2: image: gemini-tiles: tile= takes" },
		{ "model gemini x\n\timage qwen-blocks min=10 max=5\n", "bad.txt:2: image: qwen-blocks: min= is above max=" },
		{ "model gemini x\n\twindow peak mon-fri 25:00-26:00\n", "bad.txt:2: window peak: '25:00-26:00' is not a span" },
		{ "model gemini x\n\twindow peak mon-fri 10:00-09:00\n", "bad.txt:2: window peak: '10:00-09:00'" },
		{ "model gemini x\n\twindow peak monday 01:00-02:00\n", "bad.txt:2: window peak: 'monday' is not a list of days" },
		{ "model gemini x\n\twindow Peak mon 01:00-02:00\n", "bad.txt:2: window: 'Peak': a name" },
		{ "model gemini x\n\tprice standard 1 1 1\n\tprice standard@night 2 2 2\n",
		  "bad.txt:3: gemini model x: price standard@night: no window night" },
		{ "model gemini x\n\twindow w mon 01:00-02:00\n\tprice standard 1 1 1\n\tprice flex@w 1 1 1\n",
		  "bad.txt:4: gemini model x: price flex@w but no price flex" },
		{ "\n\nmodel gemini x\n\tvision yes\n", "bad.txt:3: gemini model x: no \"price standard\" line" },
		{ "model gemini x\n\tfrom 2027-01-01\n\tuntil 2026-01-01\n\tprice standard 1 1 1\n",
		  "bad.txt:1: gemini model x: until is before from" },
		{ "model gemini x\n\tprice standard 1 1 1\nmodel gemini x\n\tprice standard 1 1 1\n",
		  "bad.txt:3: gemini model x given twice (line 1)" },
		{ "model gemini x\n\tsuccessor y sideways\n", "bad.txt:2: successor: expected MODEL [routed]" },
		{ "model gemini x\n\tdefault pack\n", "bad.txt:2: default: expected analyze and/or generate" },
		{ "model gemini x\n\tprice standard 1 1 1\x01\n", "bad.txt:2: control character 0x01" },
		{ "{\"gemini\": \n [}", "bad.txt:2:" },
		{ "{\"gemini\": {\"x\": {\"prompt\": 1e308, \"completion\": 1}}}",
		  "bad.txt: gemini.x.prompt: expected a number >= 0 and <= 100000" },
		{ "{\"gemini\": {\"x\": {\"prompt\": -1, \"completion\": 1}}}", "gemini.x.prompt: expected a number >= 0" },
		{ "{\"gemini\": {\"x\": {\"prompt\": 1}}}", "gemini.x: \"prompt\" and \"completion\" are required" },
		{ "{\"nope\": {}}", "bad.txt: unknown provider 'nope'" },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ok(has(merge_err("bad.txt", c[i].text), c[i].want), "refused: %s", c[i].want);

	/* a bad file changes nothing, even its good records */
	ok(*merge_err("bad.txt", "model gemini y\n\tprice standard 1 1 1\nmodel gemini z\n\tprice standard nan 1 1\n"),
	    "a file with a bad record");
	ok(!models_lookup("gemini", "y", 0), "is not merged in part");
	char err[600];
	ok(models_merge("/nonexistent/models.txt", err, sizeof(err)) < 0 &&
	    has(err, "/nonexistent/models.txt: No such file"), "a missing file is refused");
	ok(models_load("/nonexistent/models.txt", NULL, err, sizeof(err)) < 0 && has(err, "/nonexistent/models.txt:"),
	    "a missing base table: %s", err);
	ok(models_lookup("gemini", "gemini-3.5-flash-lite", 0) != NULL, "and the table loaded before stays");
	ok(models_load(base, "/nonexistent/user.txt", err, sizeof(err)) < 0, "a missing user file");
}

static void
test_merge(void)
{
	int64_t peak = at(2026, 12, 2, 2, 0, 0), off = at(2026, 12, 2, 12, 0, 0);
	char err[600];

	/* a tier's own price: every hour */
	is_str(merge_err("u1.txt", "model openai deepseek-flash\n\tprice standard 1 1 1\n"), "", "a price override");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, peak), 1), "at peak");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, off), 1), "and off-peak");
	ok(models_lookup("openai", "deepseek-flash", off)->vision, "the other fields stay");
	/* a window's own price only */
	is_str(merge_err("u2.txt", "model openai deepseek-flash\n\tprice standard@peak 5 5 5\n"), "", "a peak price");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, peak), 5), "at peak");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, off), 1), "off-peak kept");
	/* new hours keep the window's price */
	is_str(merge_err("u3.txt", "model openai deepseek-flash\n\twindow peak mon-sun 11:00-13:00\n"), "", "new hours");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, off), 5), "12:00 is peak now");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, peak), 1), "02:00 is not");
	/* the --prices JSON: a flat standard price, as t0610 relies on */
	is_str(merge_err("p.json", "{\"openai\": {\"deepseek-flash\": {\"prompt\": 1000, \"cached\": 1000, "
	    "\"completion\": 1000}}}"), "", "a JSON price file");
	ok(near(cost("openai", "deepseek-flash", 1000, 0, 1000, MODELS_STANDARD, off), 2), "off-peak");
	ok(near(cost("openai", "deepseek-flash", 1000, 0, 1000, MODELS_STANDARD, at(2026, 12, 2, 12, 30, 0)), 2),
	    "and in the window");
	/* a new model, with the defaults of a new row */
	is_str(merge_err("u4.txt", "model openai my-vllm\n\tprice standard 0 - 0\n\tdefault generate\n"), "", "a new model");
	const struct models_row *r = models_lookup("openai", "my-vllm", off);
	ok(r && r->vision && r->temperature && !r->media_resolution && r->image.kind == MODELS_IMG_UNKNOWN,
	    "vision and temperature yes, no rule");
	ok(near(cost("openai", "my-vllm", 1e6, 0, 1e6, MODELS_STANDARD, off), 0), "free");
	is_str(models_default("openai", "generate"), "my-vllm", "the default moves");
	is_str(models_default("openai", "analyze"), "deepseek-flash", "for that stage only");
	/* a new price period of a known model */
	is_str(merge_err("u5.txt", "model gemini gemini-3.5-flash-lite\n\tfrom 2027-06-01\n\tprice standard 0.2 0.02 2\n"),
	    "", "a new period");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 1e6, 0, 0, MODELS_STANDARD, at(2027, 5, 31, 0, 0, 0)), 0.30),
	    "before it, the old price");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 1e6, 0, 0, MODELS_STANDARD, at(2027, 6, 1, 0, 0, 0)), 0.20),
	    "from it, the new");
	ok(near(cost("gemini", "gemini-3.5-flash-lite", 1e6, 0, 0, MODELS_FLEX, at(2027, 6, 1, 0, 0, 0)), 0.15),
	    "tiers it does not give are the latest period's");
	/* a user un-retires a model */
	is_str(merge_err("u6.txt", "model gemini gemini-2.5-pro\n\tuntil -\n"), "", "until -");
	ok(!models_retired("gemini", "gemini-2.5-pro", at(2026, 12, 2, 0, 0, 0), NULL, NULL), "served again");
	ok(near(cost("gemini", "gemini-2.5-pro", 1e6, 0, 0, MODELS_STANDARD, at(2026, 12, 2, 0, 0, 0)), 1.25),
	    "at its own price");

	/* VJ_MODELS is merged over the base when no user file is named */
	setenv("VJ_MODELS", scratch_file("env.txt", "model gemini env-model\n\tprice standard 3 3 3\n"), 1);
	ok(models_load(base, NULL, err, sizeof(err)) == 0, "a load with VJ_MODELS: %s", err);
	ok(models_lookup("gemini", "env-model", 0) != NULL, "has its rows");
	ok(models_load(base, scratch_file("u7.txt", "model gemini other\n\tprice standard 1 1 1\n"), err, sizeof(err)) == 0 &&
	    !models_lookup("gemini", "env-model", 0) && models_lookup("gemini", "other", 0), "a named file wins over it");
	unsetenv("VJ_MODELS");
	ok(models_load(base, NULL, err, sizeof(err)) == 0, "back to the shipped table");
	ok(near(cost("openai", "deepseek-flash", 1e6, 0, 0, MODELS_STANDARD, peak), 0.30), "its prices again");
}

static void
test_small(void)
{
	int32_t d;
	char s[11];

	is_int(models_tier_parse("flex"), MODELS_FLEX, "tier flex");
	is_int(models_tier_parse("default"), MODELS_STANDARD, "OpenAI's default is standard");
	is_int(models_tier_parse("priority"), -1, "priority is unknown");
	is_int(models_tier_parse(NULL), -1, "no tier");
	ok(models_date_parse("2026-12-01", &d) == 0 && d == 20788, "2026-12-01 is day 20788");
	models_date_str(d, s);
	is_str(s, "2026-12-01", "and back");
	ok(models_date_parse("2028-02-29", &d) == 0, "a leap day");
	ok(models_date_parse("2027-02-29", &d) < 0, "not a leap year");
	ok(models_date_parse("2026-1-01", &d) < 0 && models_date_parse("2026-13-01", &d) < 0, "bad dates");
	is_int(models_res_parse("ultra"), MODELS_RES_ULTRA, "ultra");
	is_int(models_res_parse("huge"), -1, "huge is no resolution");
}

int
main(void)
{
	char err[600];

	if (scratch_make("models") != 0) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	vj_setprog("test_models");
	unsetenv("VJ_MODELS");
	is_int(models_load(base, NULL, err, sizeof(err)), 0, "the shipped table loads: %s", err);
	if (!models_loaded())
		return done_testing();
	test_tiers();
	test_deepseek_hours();
	test_periods_and_retired();
	test_images();
	test_errors();
	test_merge();
	test_small();

	if (scratch_remove() != 0)
		ok(0, "cleanup");
	models_reset();
	return done_testing();
}
