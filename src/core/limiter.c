/* limiter: the engine's rate limiter (docs/providers.md, "Rate limits").
 * A known limit is kept as a window of the limiter's own starts (and of
 * their token estimates for a token limit); with none known, an even rate
 * that 429s cut.  Time comes in with each call. */
#include "core/limiter.h"

#include <math.h>
#include <string.h>

#define TOK_MAX 1e12                /* the most tokens a limit or estimate is */

/* A limit given: NaN, infinities and values under 0 are none, more than
 * 1e12 is 1e12 (a minute of it is no limit anyone has). */
static double
limit_value(double v)
{
	return !(v > 0) || isinf(v) ? 0 : v > TOK_MAX ? TOK_MAX : v;
}

void
limiter_init(struct limiter *l, double rpm, double tpm, int concurrency)
{
	rpm = limit_value(rpm);
	tpm = limit_value(tpm);
	memset(l, 0, sizeof *l);
	l->rpm = rpm;
	l->tpm = tpm;
	l->concurrency = concurrency > 0 ? concurrency : 1;
	l->rate = rpm;
	if (rpm > 0) {
		/* --rpm: a minute's window.  Until it is confirmed (a window
		 * gone by without a wall, or 55% of it let through) only -j
		 * of it goes at once, the rest evenly: a limit set too high
		 * must not meet the real one at full speed, every request in
		 * flight then coming back a 429 */
		l->win = 60000;
		l->allow = l->ceiling = l->back = rpm;
		l->sure = fmin(rpm, l->concurrency);
	}
	if (tpm > 0) {
		/* --tpm: a minute's window of tokens, with the same caution */
		l->tok_win = 60000;
		l->tok_allow = l->tok_ceiling = tpm;
		l->tok_sure = l->concurrency < LIMITER_RING ? (unsigned)l->concurrency : LIMITER_RING;
	}
}

/* A start leaves the window this long after it was sent, plus a margin:
 * the server counted it when it came in, a little later. */
static int64_t
win_end(const struct limiter *l)
{
	return l->win + 250 + l->win / 100;
}

/* The same for the token window. */
static int64_t
tok_end(const struct limiter *l)
{
	return l->tok_win + 250 + l->tok_win / 100;
}

/* Is the window kept start by start?  Not when it allows more starts
 * than the ring holds: those limits are spaced evenly. */
static int
windowed(const struct limiter *l)
{
	return l->win > 0 && l->allow >= 1 && l->allow <= LIMITER_RING;
}

/* The starts the window allows now: the limit less what others used. */
static unsigned
allowed(const struct limiter *l)
{
	double n = floor(l->allow - l->others);
	return n < 1 ? 1 : n > LIMITER_RING ? LIMITER_RING : (unsigned)n;
}

/* When the window has room for a start if it may hold n (1..RING): when
 * the n-th latest start leaves it; 0 when there is room now. */
static int64_t
room_in(const struct limiter *l, unsigned n, int64_t end)
{
	if (n == 0 || l->nstarts < n)
		return 0;
	return l->starts[(l->nstarts - n) % LIMITER_RING] + end;
}

static int64_t
room_at(const struct limiter *l, unsigned n)
{
	return room_in(l, n, win_end(l));
}

/* The kept starts are ring[(base + i) % LIMITER_RING] for i in [0, n), in
 * the order sent: the first i in [lo, n) sent at or after t (n if none),
 * by binary search. */
static unsigned
first_at_or_after(const struct limiter *l, unsigned base, unsigned lo, unsigned n, int64_t t)
{
	unsigned hi = n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (l->starts[(base + mid) % LIMITER_RING] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Of the starts kept, how many were sent in (a, b). */
static unsigned
starts_between(const struct limiter *l, int64_t a, int64_t b)
{
	unsigned n = l->nstarts < LIMITER_RING ? l->nstarts : LIMITER_RING;
	unsigned base = l->nstarts - n;
	unsigned first = first_at_or_after(l, base, 0, n, a + 1);
	return first_at_or_after(l, base, first, n, b) - first;
}

static void
set_rate(struct limiter *l)
{
	if (l->win > 0)
		l->rate = l->allow * 60000.0 / (double)l->win;
}

/* Minimum gap between evenly spaced starts, from the rate and tokens.  A
 * request's own gap is at most the token window: one larger than the whole
 * allowance holds the next start a window, not for ever. */
static int64_t
interval_ms(const struct limiter *l, double tokens)
{
	double ms = 0;
	if (l->rate > 0)
		ms = 60000.0 / l->rate;
	if (l->tok_win > 0 && l->tok_allow > 0 && tokens > 0) {
		double t = fmin((double)l->tok_win * tokens / l->tok_allow, (double)l->tok_win);
		if (t > ms)
			ms = t;
	}
	return (int64_t)fmin(ms, 86400000);
}

/* The token window (none when no token limit is known, or no estimate:
 * a request without one takes nothing of it).  *full: when it has room for
 * the next request (the last start's estimate); *once: when that may go at
 * once, fewer than tok_sure starts being in the window.  Walks the ring
 * from the newest start back until the allowance is passed; when the ring
 * ends first it does not reach back a window: the even grid only. */
static void
tok_ready(const struct limiter *l, int64_t *full, int64_t *once)
{
	*full = *once = 0;
	if (l->tok_win <= 0 || l->tok_guess <= 0)
		return;
	double cap = fmax(0, l->tok_allow - l->tok_others);
	/* a request above all of it goes alone: when the window is empty */
	double sum = fmin(l->tok_guess, cap);
	unsigned n = l->nstarts < LIMITER_RING ? l->nstarts : LIMITER_RING, i;
	for (i = 0; i < n; i++) {
		unsigned k = (l->nstarts - 1 - i) % LIMITER_RING;
		sum += l->toks[k];
		if (sum > cap) {
			*full = l->starts[k] + tok_end(l);
			break;
		}
	}
	if (i == n && n == LIMITER_RING) {
		*once = INT64_MAX;
		return;
	}
	*once = *full;
	if (l->tok_sure < LIMITER_RING) {
		int64_t c = l->tok_sure >= 1 ? room_in(l, l->tok_sure, tok_end(l)) : INT64_MAX;
		if (c > *once)
			*once = c;
	}
}

/* May the next start go at once, the window having room among the starts
 * that go at once? */
static int64_t
at_once_at(const struct limiter *l)
{
	unsigned n = allowed(l);
	unsigned c = l->sure < n ? (unsigned)floor(l->sure) : n;
	return c >= 1 ? room_at(l, c) : INT64_MAX;
}

/* Both windows: *full, when both have room; *once, when both let the
 * next start go at once (INT64_MAX: not before the even grid says). */
static void
windows(const struct limiter *l, int64_t *full, int64_t *once)
{
	int64_t tf, to;
	tok_ready(l, &tf, &to);
	if (windowed(l)) {
		*full = room_at(l, allowed(l));
		*once = at_once_at(l);
	} else {
		/* an even rate, or none: with a token window, no request
		 * limit keeps a start from going at once */
		*full = 0;
		*once = l->rate <= 0 && l->tok_win > 0 ? 0 : INT64_MAX;
	}
	if (tf > *full)
		*full = tf;
	if (to > *once)
		*once = to;
}

int64_t
limiter_ready_at(const struct limiter *l)
{
	int64_t full, once;
	windows(l, &full, &once);
	/* evenly spaced, or at once when the windows have room among those
	 * that go at once; within the windows' limits either way */
	int64_t at = once < l->next_start ? once : l->next_start;
	if (full > at)
		at = full;
	if (windowed(l) && l->probe_gap && l->probe_next > at)
		at = l->probe_next;
	return at > l->hold_until ? at : l->hold_until;
}

void
limiter_started(struct limiter *l, int64_t now, int64_t sent, long tokens)
{
	int64_t full, once;
	windows(l, &full, &once);
	int burst = once <= now;
	double tok = tokens > 0 ? fmin((double)tokens, TOK_MAX) : 0;
	l->toks[l->nstarts % LIMITER_RING] = tok;
	l->tok_guess = tok;
	l->starts[l->nstarts++ % LIMITER_RING] = sent;
	if (l->probe_gap)
		l->probe_next = sent + l->probe_gap;   /* one probe a gap */
	if (!l->first_start)
		l->first_start = sent;
	int64_t gap = interval_ms(l, tok);
	if (burst) {
		/* what the window grants goes now; the even spacing after
		 * it counts from the last of it */
		if (l->next_start < now + gap)
			l->next_start = now + gap;
		return;
	}
	/* keep the even grid when the loop came late by less than a gap (its
	 * wake-up latency must not lower the rate); after a longer pause,
	 * count from now: an idle spell earns no burst (the window gives
	 * what a burst may have) */
	l->next_start = (l->next_start > now - gap ? l->next_start : now) + gap;
}

/* Rate-limit header values in range: a limit of 1..max, what remains of
 * it, a reset within a day. */
static int
hdr_valid(double limit, double remaining, int64_t reset_ms, double max)
{
	return limit >= 1 && limit <= max && remaining >= 0 && remaining <= limit &&
	    reset_ms >= 0 && reset_ms <= 86400000;
}

/* The window the headers imply, kept in *best (0: none yet).  A bucket
 * that refills evenly is back to full in reset = used/limit of it, a
 * sliding window in no less than that, so reset*limit/used is never
 * shorter than the real window and the least of them is the best guess.
 * Only with at least half used: right after a start a sliding window
 * gives a wild overestimate. */
static void
learn_window(double used, double limit, int64_t reset_ms, int64_t *best)
{
	if (used >= limit / 2 && used >= 1 && reset_ms > 0) {
		double w = (double)reset_ms * limit / used;
		int64_t wi = (int64_t)fmin(86400000, fmax(1000, w));
		if (!*best || wi < *best)
			*best = wi;
	}
}

/* What a window of win ms allows: the server's limit, or less when the
 * user's per-minute ceiling (0: none) comes to less over that window. */
static double
window_cap(double limit, double per_min, int64_t win)
{
	double mine = per_min * (double)win / 60000;
	return per_min > 0 && mine < limit ? mine : limit;
}

void
limiter_headers(struct limiter *l, int64_t now, int64_t sent, double limit,
    double remaining, int64_t reset_ms)
{
	(void)now;
	if (!hdr_valid(limit, remaining, reset_ms, 1e7))
		return;
	double used = limit - remaining;
	learn_window(used, limit, reset_ms, &l->hdr_win);
	int64_t win = l->hdr_win ? l->hdr_win : l->win > 0 ? l->win : 60000;
	double cap = window_cap(limit, l->rpm, win);   /* --rpm stays the ceiling */
	if (!l->hdr_seen || l->allow <= 0) {
		/* the server says what the window allows: all of it may go
		 * at once, unless a wall of 429s said otherwise already */
		l->hdr_seen = 1;
		if (l->last_cut == 0 || l->allow <= 0 || l->allow > cap)
			l->allow = l->back = cap;
		l->sure = l->allow;
	} else if (l->allow > cap)
		l->allow = cap;
	if (l->back > cap)
		l->back = cap;
	l->win = win;
	l->ceiling = cap;
	/* the server's count against ours over the same window: more is
	 * another client's (or an earlier run's) use of the same quota */
	double ours = starts_between(l, sent - win, sent + 1);
	l->others = used > ours ? used - ours : 0;
	set_rate(l);
}

/* Of the kept starts' estimates, the tokens sent in (a, b). */
static double
tokens_between(const struct limiter *l, int64_t a, int64_t b)
{
	unsigned n = l->nstarts < LIMITER_RING ? l->nstarts : LIMITER_RING;
	unsigned base = l->nstarts - n;
	unsigned first = first_at_or_after(l, base, 0, n, a + 1);
	unsigned end = first_at_or_after(l, base, first, n, b);
	double sum = 0;
	for (unsigned i = first; i < end; i++)
		sum += l->toks[(base + i) % LIMITER_RING];
	return sum;
}

void
limiter_tok_headers(struct limiter *l, int64_t now, int64_t sent, double limit,
    double remaining, int64_t reset_ms)
{
	(void)now;
	if (!hdr_valid(limit, remaining, reset_ms, TOK_MAX))
		return;
	double used = limit - remaining;
	learn_window(used, limit, reset_ms, &l->tok_hdr_win);
	int64_t win = l->tok_hdr_win ? l->tok_hdr_win : l->tok_win > 0 ? l->tok_win : 60000;
	double cap = window_cap(limit, l->tpm, win);   /* --tpm stays the ceiling */
	l->tok_hdr_seen = 1;   /* the server's word: kept through walls */
	l->tok_win = win;
	/* a token wall measured since keeps its limit, under the new cap */
	if (!l->tok_grow || l->tok_allow > cap)
		l->tok_allow = cap;
	l->tok_ceiling = cap;
	/* the server says what the window allows: all of it may go at once */
	l->tok_sure = LIMITER_RING;
	/* the server's count against our estimates over the same window: more
	 * is another client's use, or what our estimates leave out */
	double ours = tokens_between(l, sent - win, sent + 1);
	l->tok_others = used > ours ? used - ours : 0;
}

void
limiter_answer(struct limiter *l, long ms, int rate_limited)
{
	l->avg_ms = l->avg_ms > 0 ? 0.9 * l->avg_ms + 0.1 * (double)ms : (double)ms;
	l->last_ms = ms;
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

/* No window known: cut the even rate (as before windows were kept). */
static void
cut_rate(struct limiter *l, int64_t now, int64_t sent, uint64_t n_ok)
{
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
	 * is: go just under it rather than only 20% down.  Trusted only when
	 * not far below the rate (another client or an earlier run may have
	 * used part of the quota). */
	double wall = started_in_minute_before(l, sent);
	if (wall >= l->rate * 0.45 && wall < l->rate) {
		l->rate_429 = wall;
		l->rate = fmax(1, fmin(l->rate * 0.8, wall * 0.97));
	} else
		l->rate = fmax(1, l->rate * 0.8);
}

/* A known window met a wall: what the server let through in the window
 * before the first refused request of this burst is its real limit.
 * Measured, not guessed: one cut lands near it, and repeated cuts while
 * the server's window is still full cannot ratchet the rate down. */
static void
cut_window(struct limiter *l, int64_t now, uint64_t n_ok)
{
	/* the first of the last three refused (the burst that made this a
	 * wall): requests sent after it may be refused too, unseen yet */
	int64_t first = INT64_MAX;
	for (unsigned i = 0; i < 3 && i < l->nrefused; i++) {
		int64_t s = l->refused[(l->nrefused - 1 - i) % LIMITER_REFUSED];
		if (s < first)
			first = s;
	}
	/* the refused are out of the ring: what is left was let through,
	 * or is still out (most of those sent before the first refused were
	 * let through).  Those sent in the same ms count too (a burst sends
	 * many in one): a few too many cost a few 429s and a second cut, too
	 * few a window's throughput until the limit grows again */
	double accepted = starts_between(l, first - l->win, first + 1);
	double was = l->allow;
	if (n_ok > l->ok_at_cut || l->back < was)
		l->back = was;
	l->ok_at_cut = n_ok;
	if (accepted >= 1 && accepted >= 0.25 * (l->allow - l->others)) {
		/* a window's wall: just under what it took, and that pattern
		 * may go at once again (the server has just taken it) */
		l->allow = fmax(1, accepted + l->others);
		l->back = l->allow;
		l->sure = l->allow;
		/* the same wall again (a probe for a raised limit met it):
		 * the next probe waits twice as long, each costing about a
		 * latency's worth of 429s */
		if (l->wall_at > 0 && fabs(l->allow - l->wall_at) <= 0.05 * l->wall_at)
			l->same_walls += l->same_walls < 3;
		else
			l->same_walls = 0;
		l->wall_at = l->allow;
	} else {
		/* far below the limit: not the window (a short overload, a
		 * cap on requests in flight): slow down by a fifth, evenly,
		 * and come back soon */
		l->allow = fmax(1, l->allow * 0.8);
		l->sure = 0;
	}
	l->last_change = now;
	set_rate(l);
}

/* A refused request is no start the server counted: out of the ring it
 * goes (the older starts move up a place, the oldest falls out), so the
 * window kept is the server's. */
static void
forget_start(struct limiter *l, int64_t sent)
{
	unsigned n = l->nstarts < LIMITER_RING ? l->nstarts : LIMITER_RING;
	unsigned base = l->nstarts - n, lo = first_at_or_after(l, base, 0, n, sent);
	if (lo == n || l->starts[(base + lo) % LIMITER_RING] != sent)
		return;         /* gone from the ring already */
	for (unsigned i = lo; i > 0; i--) {
		l->starts[(base + i) % LIMITER_RING] = l->starts[(base + i - 1) % LIMITER_RING];
		l->toks[(base + i) % LIMITER_RING] = l->toks[(base + i - 1) % LIMITER_RING];
	}
	l->starts[base % LIMITER_RING] = 0;   /* long ago */
	l->toks[base % LIMITER_RING] = 0;
}

/* A 429 within a window of a wall, on a request the window kept let go:
 * the limit is no more than what the window held (the server lowered
 * it, or shares it, and what the window shows of the past is more than
 * it takes now).  Send one request at a time, 1 s apart, twice as far
 * apart after each refusal (up to an eighth of the window), until one is
 * let through.  Without this, every start the old window's ageing lets
 * go would be refused until the server's count is under its new limit. */
static void
probe(struct limiter *l, int64_t now, int64_t sent)
{
	double held = starts_between(l, sent - l->win, sent) + l->others;
	int64_t most = l->win / 8 > 1000 ? l->win / 8 : 1000;
	if (l->probe_gap && sent >= l->probe_since) {
		l->probe_gap = l->probe_gap * 2 < most ? l->probe_gap * 2 : most;
	} else if (!l->probe_gap && l->last_cut && sent > l->last_cut &&
	    now - l->last_cut < win_end(l) && held < l->allow) {
		l->probe_gap = 1000;
		l->probe_since = now;
	} else
		return;
	l->probe_next = now + l->probe_gap;
	if (held < l->allow)
		l->allow = l->back = fmax(1, held);
	l->sure = 0;
	set_rate(l);
}

/* A wall with a token window and no request window: as cut_window, the
 * tokens the server let through in the window before the first refused
 * request are its real limit.  0 when they are far below the allowance
 * (not the window's wall): the even rate's cut then. */
static int
cut_tokens(struct limiter *l, int64_t now)
{
	if (l->tok_win <= 0)
		return 0;
	int64_t first = INT64_MAX;
	for (unsigned i = 0; i < 3 && i < l->nrefused; i++) {
		int64_t s = l->refused[(l->nrefused - 1 - i) % LIMITER_REFUSED];
		if (s < first)
			first = s;
	}
	double accepted = tokens_between(l, first - l->tok_win, first + 1);
	if (!(accepted > 0 && accepted >= 0.25 * (l->tok_allow - l->tok_others)))
		return 0;
	l->tok_allow = accepted + l->tok_others;
	/* that pattern may go at once again: the server has just taken it */
	l->tok_sure = LIMITER_RING;
	l->tok_grow = now;
	return 1;
}

/* A 429 on a request sent at `sent`: slow down at once, remember where
 * the wall was. */
void
limiter_cut(struct limiter *l, int64_t now, int64_t sent, double retry_after, uint64_t n_ok)
{
	l->refused[l->nrefused++ % LIMITER_REFUSED] = sent;
	/* a known window counts what the server let through; with none, the
	 * starts are the rate just achieved, refused ones too (forgetting
	 * them would make a first wall look like no rate at all: 6/min) */
	if (windowed(l)) {
		forget_start(l, sent);
		probe(l, now, sent);
	} else if (l->tok_win > 0)
		forget_start(l, sent);
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
	if (l->probe_gap) {
		l->last_cut = now;   /* probing measures the limit, not the window */
		return;
	}
	l->last_cut = now;
	l->ok_since_cut = 0;
	if (l->tok_win > 0 && !l->tok_hdr_seen) {
		/* a wall: the token limit may be what is too high (the
		 * server's word, from headers, is kept) */
		l->tok_sure = l->concurrency < LIMITER_RING ? (unsigned)l->concurrency : LIMITER_RING;
		l->tok_change = now;
	}
	if (windowed(l))
		cut_window(l, now, n_ok);
	else if (!cut_tokens(l, now))
		cut_rate(l, now, sent, n_ok);
}

/* A known window after successes: back to the allowance before a short
 * overload, 5% per 5 successes; at the limit for a window without a wall,
 * all of it may go at once; two windows after a wall, grow a quarter a
 * window (evenly spaced beyond what was confirmed) up to the ceiling; 4, 8,
 * then 16 windows after a wall at the same level as the one before. */
static void
ok_window(struct limiter *l, int64_t now)
{
	int64_t sent = now - l->last_ms;
	if (l->probe_gap) {
		if (sent < l->probe_since)
			return;
		/* a probe let through: the server's count is under its limit
		 * again, and the limit no more than what the window held at the
		 * last refusal: that may go at once (a refusal probes again) */
		l->probe_gap = 0;
		l->sure = l->allow;
		l->last_change = now;
		return;
	}
	if (l->allow < l->back) {
		if (++l->ok_since_cut >= 5) {
			l->allow = fmin(l->back, l->allow * 1.05);
			l->ok_since_cut = 0;
			l->last_change = now;
			set_rate(l);
		}
		return;
	}
	/* confirmed: a window gone by without a wall, or, before any wall,
	 * 55% of --rpm's limit let through (a wall past that is a limit less
	 * than 1.8x too high: at most -j 429s, once; a wall at half of it,
	 * 2x too high, is met at the even rate) */
	int64_t since = l->last_change > l->first_start ? l->last_change : l->first_start;
	if (l->sure < l->allow &&
	    (sent - since >= l->win || (!l->last_cut && ++l->probe_ok >= 0.55 * l->allow)))
		l->sure = l->allow;
	double ceiling = l->ceiling > 0 ? l->ceiling : 1e9;
	if (l->last_cut && l->allow < ceiling && now - l->last_cut >= ((int64_t)2 << l->same_walls) * l->win &&
	    now - l->last_grow >= l->win && now - l->last_change >= l->win) {
		l->allow = fmin(ceiling, l->allow * 1.25);
		l->back = l->allow;
		l->last_grow = l->last_change = now;
		set_rate(l);
	}
}

/* No window: recover the even rate step by step, quickly up to just
 * under the rate that last drew a 429, then slowly. */
static void
ok_rate(struct limiter *l, int64_t now)
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

/* The estimate of the start sent at `sent` (the first of that ms); the
 * last one's when it is no longer kept. */
static double
tok_of(const struct limiter *l, int64_t sent)
{
	unsigned n = l->nstarts < LIMITER_RING ? l->nstarts : LIMITER_RING;
	unsigned base = l->nstarts - n, i = first_at_or_after(l, base, 0, n, sent);
	if (i < n && l->starts[(base + i) % LIMITER_RING] == sent)
		return l->toks[(base + i) % LIMITER_RING];
	return l->tok_guess;
}

/* The token window confirmed as for --rpm: a window gone by without a
 * wall, or, before any wall, 55% of the allowance let through.  Then all
 * that fits goes at once. */
static void
ok_tokens(struct limiter *l, int64_t now)
{
	if (l->tok_win <= 0 || l->tok_sure >= LIMITER_RING)
		return;
	int64_t sent = now - l->last_ms;
	int64_t since = l->tok_change > l->first_start ? l->tok_change : l->first_start;
	if (!l->last_cut)
		l->tok_ok += tok_of(l, sent);
	if (sent - since >= l->tok_win || (!l->last_cut && l->tok_ok >= 0.55 * l->tok_allow))
		l->tok_sure = LIMITER_RING;
}

/* After a token wall: two windows on, grow a quarter a window up to the
 * ceiling (--tpm, or the headers' limit), as the request window does. */
static void
grow_tokens(struct limiter *l, int64_t now)
{
	if (l->tok_win <= 0 || !l->tok_grow || l->tok_allow >= l->tok_ceiling ||
	    now - l->last_cut < 2 * l->tok_win || now - l->tok_grow < l->tok_win)
		return;
	l->tok_allow = fmin(l->tok_ceiling, l->tok_allow * 1.25);
	l->tok_grow = now;
}

void
limiter_ok(struct limiter *l, int64_t now)
{
	ok_tokens(l, now);
	grow_tokens(l, now);
	if (windowed(l))
		ok_window(l, now);
	else
		ok_rate(l, now);
}
