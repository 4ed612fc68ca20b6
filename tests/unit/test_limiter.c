/* test_limiter: the rate limiter on a simulated clock, no curl and no
 * sleeping: even spacing for --rpm and --tpm, a cut on a burst of 429s,
 * step-wise recovery, and a lone 429 that leaves the rate alone
 * (docs/providers.md, "Rate limits"). */
#include "core/limiter.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>

/* The simulated clock, in ms.  It starts an hour in, as CLOCK_MONOTONIC
 * is far from 0: a limiter that never cut has its last cut at 0. */
#define T0 3600000
static int64_t clk;
static uint64_t n_ok;          /* the engine's success count */

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

/* Start a request when the limiter allows, no sooner than `at`. */
static int64_t
start_at(struct limiter *l, int64_t at, long tokens)
{
	int64_t ready = limiter_ready_at(l);
	clk = at > ready ? at : ready;
	limiter_started(l, clk, clk, tokens);
	return clk;
}

/* An answer at `now` to the request sent at `sent`, handled in the order
 * the engine does: the answer window first, then the cut or the success. */
static void
answer(struct limiter *l, int64_t now, int64_t sent, int is429, double retry_after)
{
	limiter_answer(l, (long)(now - sent), is429);
	if (is429) {
		limiter_cut(l, now, sent, retry_after, n_ok);
	} else {
		n_ok++;
		limiter_ok(l, now);
	}
}

/* Which answers of a traffic() call are 429s, by request number. */
static int from;               /* for late() */
static int none(int i) { (void)i; return 0; }
static int late(int i) { return i >= from; }
static int at50(int i) { return i == 50; }
static int every10(int i) { return i % 10 == 5; }
static int two_of8(int i) { return i % 8 == 2 || i % 8 == 5; }

/* n requests offered every `every` ms (0: as fast as the limiter lets
 * them), each answered `lat` ms after it went out, in time order;
 * is429(i) says which answers are 429s.  Leaves the clock at the last
 * answer. */
static void
traffic(struct limiter *l, int n, int64_t every, int64_t lat, int (*is429)(int))
{
	static int64_t sent[4096];
	int head = 0;
	if (n < 1 || n > 4096) {
		ok(0, "traffic: %d requests is more than the test holds", n);
		return;
	}
	int64_t at = clk;
	for (int i = 0; i < n; i++) {
		int64_t s = limiter_ready_at(l) > at ? limiter_ready_at(l) : at;
		while (head < i && sent[head] + lat <= s) {
			answer(l, sent[head] + lat, sent[head], is429(head), -1);
			head++;
		}
		sent[i] = start_at(l, s, 0);
		at = sent[i] + every;
	}
	for (; head < n; head++)
		answer(l, sent[head] + lat, sent[head], is429(head), -1);
	clk = sent[n - 1] + lat;
}

static void
test_spacing(void)
{
	struct limiter l;
	int64_t t[10];
	int even = 1;

	clk = T0;
	limiter_init(&l, 120, 0, 4);
	for (int i = 0; i < 10; i++)
		t[i] = start_at(&l, clk, 0);
	for (int i = 1; i < 10; i++)
		if (t[i] - t[i - 1] != 500)
			even = 0;
	ok(even, "--rpm 120: starts exactly 500 ms apart");
	ok(t[0] == T0, "the first start goes at once");

	/* the loop wakes 30 ms late: the next start keeps the grid */
	int64_t late = start_at(&l, limiter_ready_at(&l) + 30, 0);
	is_int(limiter_ready_at(&l) - late, 470, "a start 30 ms late: the next one stays on the 500 ms grid");
	/* after a pause of seconds: no burst to catch up */
	int64_t after = start_at(&l, late + 5000, 0);
	is_int(limiter_ready_at(&l) - after, 500, "after a pause the next start is a full gap later");
	ok(near(l.rate, 120), "the rate stays at --rpm");

	clk = T0;
	limiter_init(&l, 0, 60000, 4);
	int64_t a = start_at(&l, clk, 2000);
	int64_t b = start_at(&l, clk, 500);
	is_int(b - a, 2000, "--tpm 60000: a 2000-token request holds the next start 2 s");
	is_int(limiter_ready_at(&l) - b, 500, "a 500-token one 0.5 s");

	clk = T0;
	limiter_init(&l, 120, 600000, 4);
	a = start_at(&l, clk, 1000);
	is_int(limiter_ready_at(&l) - a, 500, "the longer of the --rpm and --tpm gaps (500 ms over 100 ms)");

	clk = T0;
	limiter_init(&l, 0, 0, 4);
	for (int i = 0; i < 100; i++)
		start_at(&l, clk, 1000);
	is_int(clk, T0, "no --rpm, no --tpm: 100 starts at the same instant");
}

static void
test_lone_429(void)
{
	struct limiter l;

	clk = T0;
	limiter_init(&l, 600, 0, 4);
	traffic(&l, 49, 0, 300, none);
	/* one 429 among successes, the server asking for 5 s */
	int64_t sent = start_at(&l, clk, 0);
	int64_t next = limiter_ready_at(&l);
	answer(&l, sent + 300, sent, 1, 5);
	ok(near(l.rate, 600), "a lone 429 does not cut the rate");
	is_int(limiter_ready_at(&l), next, "nor holds the other starts for its 5 s");
	traffic(&l, 100, 0, 300, at50);
	ok(near(l.rate, 600), "another lone one 50 requests on: the rate still 600");

	clk = T0;
	limiter_init(&l, 600, 0, 4);
	traffic(&l, 2000, 0, 300, every10);
	ok(near(l.rate, 600), "a steady trickle of 1 in 10 never ratchets the rate down");
	ok(l.hold_until == 0, "and never holds every start");

	clk = T0;
	limiter_init(&l, 600, 0, 4);
	traffic(&l, 800, 0, 300, two_of8);
	ok(near(l.rate, 600), "2 of every 8 answers 429: still no cut");
}

/* A wall: 70 s at --rpm 60 with every answer fine, then three 429s.
 * The cut comes with the third's answer. */
static void
meet_wall(struct limiter *l, int *no_cut_after_two)
{
	int64_t s[3];
	traffic(l, 70, 0, 200, none);
	for (int i = 0; i < 3; i++)
		s[i] = start_at(l, clk, 0);
	answer(l, s[0] + 200, s[0], 1, -1);
	answer(l, s[1] + 200, s[1], 1, -1);
	*no_cut_after_two = near(l->rate, 60);
	answer(l, s[2] + 200, s[2], 1, -1);
	clk = s[2] + 200;
}

static void
test_burst(void)
{
	struct limiter l;
	int two;

	clk = T0;
	n_ok = 0;
	limiter_init(&l, 60, 0, 4);
	meet_wall(&l, &two);
	ok(two, "two 429s in a row: no cut yet");
	ok(near(l.rate, 48), "the third cuts the rate by 20%%: 60 -> 48 (%g)", l.rate);
	ok(near(l.rate_429, 60), "and remembers 60 as the rate that drew them");
	int64_t s = start_at(&l, clk, 0);
	is_int(limiter_ready_at(&l) - s, 1250, "starts are now 1.25 s apart");

	/* at most one cut a second, even for a request sent after it */
	int64_t cut_at = l.last_cut;
	answer(&l, cut_at + 500, cut_at + 10, 1, -1);
	ok(near(l.rate, 48), "another 429 within a second of the cut: no second cut");
	/* an answer to a request sent before the cut is an echo of it */
	answer(&l, cut_at + 1500, cut_at - 100, 1, -1);
	ok(near(l.rate, 48), "a 429 on a request sent before the cut, a second later: no second cut");
	/* the wall is still there: the next burst cuts again, and with no
	 * success between, the wall stays where it was first met */
	answer(&l, cut_at + 3000, cut_at + 2500, 1, -1);
	ok(near(l.rate, 38.4), "a 429 sent after the cut, a second on: cut again, 48 -> 38.4 (%g)", l.rate);
	ok(near(l.rate_429, 60), "the wall is still 60: no success came between");

	/* the server names a delay and 429s are most answers (5 of the last
	 * 8 now): every start waits, counted from when the request went out */
	answer(&l, cut_at + 3200, cut_at + 3100, 1, 10);
	is_int(limiter_ready_at(&l), cut_at + 3100 + 10000, "4+ of 8 answers 429 with a 10 s delay: all starts held 10 s from the send");
	answer(&l, cut_at + 3300, cut_at + 3250, 1, 300);
	is_int(limiter_ready_at(&l), cut_at + 3250 + 60000, "a longer delay holds them at most 60 s");

	/* --rpm well above a per-minute wall: the starts of the minute before
	 * the refused request show the wall (120 here), and the rate goes
	 * just under it in one step instead of 20% at a time */
	clk = T0;
	limiter_init(&l, 200, 0, 4);
	from = 150;
	traffic(&l, 153, 500, 200, late);
	ok(near(l.rate_429, 120), "the minute before held 120 starts: that is the wall (%g)", l.rate_429);
	ok(near(l.rate, 116.4), "the rate goes to 97%% of it: 200 -> 116.4 (%g)", l.rate);

	/* no --rpm: -j 4 at 400 ms answers, 10 starts a second */
	clk = T0;
	limiter_init(&l, 0, 0, 4);
	traffic(&l, 200, 100, 400, none);
	ok(near(l.rate, 0) && limiter_ready_at(&l) < clk, "no --rpm: no limit before a 429");
	clk = T0;
	limiter_init(&l, 0, 0, 4);
	from = 197;
	traffic(&l, 200, 100, 400, late);
	ok(near(l.rate_429, 600), "the first cut starts from the rate achieved, 4 in flight / 0.4 s = 600/min (%g)",
	    l.rate_429);
	ok(near(l.rate, 480), "and cuts 20%% from there (%g)", l.rate);
}

static void
test_recovery(void)
{
	struct limiter l;
	int two;
	static const double want[] = { 50.4, 52.92, 55.566, 58.3443, 58.6360215, 58.8, 58.8 };

	clk = T0;
	n_ok = 0;
	limiter_init(&l, 60, 0, 4);
	meet_wall(&l, &two);
	ok(near(l.rate, 48), "cut to 48 from a wall at 60");
	int64_t cut_at = l.last_cut;
	traffic(&l, 4, 0, 200, none);
	ok(near(l.rate, 48), "4 successes: no step yet");
	traffic(&l, 1, 0, 200, none);
	ok(near(l.rate, 50.4), "the 5th: up 5%% to 50.4 (%g)", l.rate);
	int steps = 1;
	for (int i = 1; i < 7; i++) {
		traffic(&l, 5, 0, 200, none);
		if (near(l.rate, want[i]))
			steps++;
		else
			printf("# step %d: %g, want %g\n", i + 1, l.rate, want[i]);
	}
	is_int(steps, 7, "every 5 successes: +5%% below 57 (95%% of the wall), then +0.5%%, "
	    "stopping at 58.8 (2%% under it)");
	clk = cut_at + 100000;
	traffic(&l, 10, 0, 200, none);
	ok(near(l.rate, 58.8) && clk - cut_at < 120000, "it stays there for the two minutes after the cut (%g at %.0f s)",
	    l.rate, (double)(clk - cut_at) / 1000);

	/* two minutes after the cut the ceiling is --rpm itself */
	clk = cut_at + 120000;
	traffic(&l, 5, 0, 200, none);
	ok(near(l.rate, 58.8 * 1.005), "two minutes after the cut: past 58.8, by 0.5%% (%g)", l.rate);
	traffic(&l, 200, 0, 200, none);
	ok(near(l.rate, 60), "and on up to --rpm 60, never above (%g)", l.rate);

	/* no --rpm: after the two minutes there is no ceiling */
	clk = T0;
	limiter_init(&l, 0, 0, 4);
	from = 197;
	traffic(&l, 200, 100, 400, late);
	double wall = l.rate_429;
	clk = l.last_cut + 120000;
	traffic(&l, 400, 0, 400, none);
	ok(l.rate > wall, "no --rpm: two minutes after the cut the rate passes the old wall (%g > %g)",
	    l.rate, wall);
}

int
main(void)
{
	test_spacing();
	test_lone_429();
	test_burst();
	test_recovery();
	return done_testing();
}
