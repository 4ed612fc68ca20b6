/* limiter: the engine's rate limiter (docs/providers.md, "Rate limits").
 * Spaces request starts for --rpm and --tpm, cuts the rate when 429s are
 * frequent and recovers it step by step.  Time comes in with each call. */
#include "core/limiter.h"

#include <math.h>
#include <string.h>

void
limiter_init(struct limiter *l, double rpm, double tpm, int concurrency)
{
	memset(l, 0, sizeof *l);
	l->rpm = rpm;
	l->tpm = tpm;
	l->concurrency = concurrency;
	l->rate = rpm;
}

/* Minimum gap between request starts, from the current rate and tokens. */
static int64_t
interval_ms(const struct limiter *l, long tokens)
{
	double ms = 0;
	if (l->rate > 0)
		ms = 60000.0 / l->rate;
	if (l->tpm > 0 && tokens > 0) {
		double t = 60000.0 * (double)tokens / l->tpm;
		if (t > ms)
			ms = t;
	}
	return (int64_t)ms;
}

int64_t
limiter_ready_at(const struct limiter *l)
{
	return l->next_start > l->hold_until ? l->next_start : l->hold_until;
}

void
limiter_started(struct limiter *l, int64_t now, int64_t sent, long tokens)
{
	l->starts[l->nstarts++ % LIMITER_RING] = sent;
	/* keep the even grid when the loop came late by less than a gap (its
	 * wake-up latency must not lower the rate); after a longer pause,
	 * count from now: an idle spell earns no burst */
	int64_t gap = interval_ms(l, tokens);
	l->next_start = (l->next_start > now - gap ? l->next_start : now) + gap;
}

void
limiter_answer(struct limiter *l, long ms, int rate_limited)
{
	l->avg_ms = l->avg_ms > 0 ? 0.9 * l->avg_ms + 0.1 * (double)ms : (double)ms;
	l->recent429 = (l->recent429 << 1 | (rate_limited != 0)) & 0xff;
}

/* Requests started in the minute before `sent` (not counting those at or
 * after it): what a per-minute window held when the request sent then was
 * refused.  -1 when the ring does not reach back a minute. */
static double
started_in_minute_before(const struct limiter *l, int64_t sent)
{
	unsigned cap = LIMITER_RING, n = 0, i;
	for (i = 0; i < l->nstarts && i < cap; i++) {
		int64_t st = l->starts[(l->nstarts - 1 - i) % cap];
		if (st >= sent)
			continue;
		if (st < sent - 60000)
			return n;
		n++;
	}
	return i == l->nstarts ? (double)n : -1;   /* all since the start, or the ring is short */
}

/* A 429 on a request sent at `sent`: slow down at once, remember where
 * the wall was. */
void
limiter_cut(struct limiter *l, int64_t now, int64_t sent, double retry_after, uint64_t n_ok)
{
	/* Hold every start only when 429s are most of what comes back (a
	 * quota wall: the others would be refused too).  429s among
	 * successes delay their own jobs and may slow the rate, no more:
	 * holding all of -j for each would cut throughput many times over. */
	if (retry_after > 0 && __builtin_popcount(l->recent429) >= 4) {
		/* from when it was sent: the server counted it then, and an
		 * answer that took a while to come must not stretch the pause */
		int64_t hold = sent + (int64_t)(fmin(retry_after, 60) * 1000);
		if (hold > l->hold_until)
			l->hold_until = hold;
	}
	/* one cut per burst: answers to requests sent before the last cut
	 * (already in flight at the old rate) are echoes */
	if (now - l->last_cut < 1000 || sent < l->last_cut)
		return;
	/* A lone 429 among successes is noise (a busy replica, a shared
	 * quota's blip): that job waits, the rate stays.  Cutting for each
	 * would ratchet the rate down to nothing under a steady trickle of
	 * them; a real wall answers most requests with 429 and passes this
	 * at once. */
	if (__builtin_popcount(l->recent429) < 3)
		return;
	l->last_cut = now;
	l->ok_since_cut = 0;
	if (l->rate <= 0) {
		/* no limit was set: start from the rate just achieved, the
		 * starts of the last 10 s (over at least 1 s, so a burst at
		 * the start does not count as a rate) */
		unsigned n = 0, cap = LIMITER_RING;
		int64_t oldest = now;
		for (unsigned i = 0; i < l->nstarts && i < cap; i++) {
			int64_t st = l->starts[(l->nstarts - 1 - i) % cap];
			if (now - st > 10000)
				break;
			oldest = st;
			n++;
		}
		double r = n * 60000.0 / fmax(1000, (double)(now - oldest));
		/* ... or what -j requests in flight allow at the current answer
		 * time, whichever is higher: too low a start recovers slowly */
		if (l->avg_ms > 0)
			r = fmax(r, l->concurrency * 60000.0 / fmax(1, l->avg_ms));
		l->rate = fmax(6, r);
	}
	/* 429 after 429 with no success between is the same wall: keep
	 * where it was first met, or recovery would stop short of it */
	if (l->rate_429 <= 0 || n_ok > l->ok_at_cut)
		l->rate_429 = l->rate;
	l->ok_at_cut = n_ok;
	/* The minute before the refused request tells where a per-minute wall
	 * is: go just under it rather than only 20% down, so a --rpm set well
	 * above the limit converges in one step instead of a 429 burst per
	 * step.  Trusted only when not far below the rate (another client or
	 * an earlier run may have used part of the quota). */
	double wall = started_in_minute_before(l, sent);
	if (wall >= l->rate * 0.45 && wall < l->rate) {
		l->rate_429 = wall;
		l->rate = fmax(1, fmin(l->rate * 0.8, wall * 0.97));
	} else
		l->rate = fmax(1, l->rate * 0.8);
}

/* After successes, recover step by step: quickly up to just under the rate
 * that last drew a 429, then slowly, so a limit set too high converges
 * without a storm of 429s. */
void
limiter_ok(struct limiter *l, int64_t now)
{
	if (l->rate_429 <= 0)
		return;
	l->ok_since_cut++;
	double target = l->rpm > 0 ? l->rpm : 1e9;
	/* no closer than 2% to the wall for two minutes after a cut: probing
	 * it sooner costs a burst of 429s (a latency's worth of requests) */
	if (now - l->last_cut < 120000 && l->rate_429 * 0.98 < target)
		target = l->rate_429 * 0.98;
	double step = l->rate < l->rate_429 * 0.95 ? 0.05 : 0.005;
	if (l->ok_since_cut >= 5) {
		if (l->rate < target)
			l->rate = fmin(target, l->rate * (1 + step));
		l->ok_since_cut = 0;
	}
}
