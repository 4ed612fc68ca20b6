/* limiter: when the engine may start its next request (docs/providers.md,
 * "Rate limits").  With a known limit (--rpm, or a provider's
 * x-ratelimit-*-requests headers) it keeps a window of its own starts: what
 * a fresh window grants goes at once (up to -j of it until the limit is
 * confirmed, then all of it), the rest evenly spaced, never more starts in
 * a window than the limit.  A wall of 429s sets the limit to what the
 * server let through in the window before it (refusals after that: one
 * request at a time until one is let through); it grows back
 * multiplicatively.  With no limit known it behaves as before: no limit
 * until 429s, then an even rate cut by a fifth and recovered step by step.
 * A known token limit (--tpm, or x-ratelimit-*-tokens headers) is a window
 * too, of the starts' token estimates: a start goes at once while the
 * tokens started in the window plus its estimate fit the allowance (up to
 * -j starts at once until confirmed), else on the even grid of each
 * request's estimate; both windows must allow a start.  The next request's
 * estimate is not known when the engine asks (it builds the request
 * after), so the last start's stands for it; a request above the whole
 * allowance goes alone, into an empty window.  With no request window, a
 * wall sets the token allowance to what the window let through.
 *
 * It reads no clock: every call is given the time, in ms of
 * CLOCK_MONOTONIC (mono_ms) or a test's clock, so it can be driven without
 * curl or real time.  The clock must be far from 0, as CLOCK_MONOTONIC
 * is: 0 stands for "never". */
#ifndef VJ_LIMITER_H
#define VJ_LIMITER_H

#include <stdint.h>

#define LIMITER_RING 4096           /* starts kept; a window's limit above
                                     * this is spaced evenly instead */
#define LIMITER_REFUSED 8           /* 429s kept, by when they were sent */

struct limiter {
	double rpm, tpm;            /* the ceilings set; 0: none */
	int concurrency;            /* -j: the first burst, the rate without --rpm */
	double rate;                /* current requests per minute; 0: no limit */
	/* a known window: --rpm's minute, or what rate-limit headers say */
	int64_t win;                /* ms; 0: none known (an even rate only) */
	double allow;               /* starts the window allows */
	double sure;                /* of them, how many may go at once */
	double ceiling;             /* allow never grows past it; 0: none */
	double back;                /* the allowance to come back to after a cut */
	double wall_at;             /* the allowance the last wall set; 0: none */
	int same_walls;             /* walls in a row at that level (probes back off) */
	double others;              /* what the server counted that was not ours */
	int64_t hdr_win;            /* the window the headers imply; 0: none yet */
	int hdr_seen;
	int64_t first_start, last_change, last_grow;
	double probe_ok;            /* successes before the first cut */
	/* probing: the server refused what the window measured at a wall
	 * allows (it lowered the limit, or shares it) */
	int64_t probe_gap;          /* ms between probes; 0: not probing */
	int64_t probe_since, probe_next;
	/* the even rate when no window is known */
	double rate_429;            /* the rate that last drew 429s; 0: none yet */
	int64_t next_start;         /* ms: the earliest next evenly spaced start */
	int64_t hold_until;         /* ms: every start held after a wall of 429s */
	int64_t last_cut;           /* ms of the last cut */
	int ok_since_cut;           /* successes towards the next recovery step */
	uint64_t ok_at_cut;         /* the success count at the last cut */
	int64_t starts[LIMITER_RING];   /* ms of recent request starts, a ring
	                                 * (those answered 429 taken out) */
	unsigned nstarts;
	int64_t refused[LIMITER_REFUSED];   /* when the recent 429s were sent */
	unsigned nrefused;
	double avg_ms;              /* moving mean of answer times */
	long last_ms;               /* the last answer's time */
	unsigned recent429;         /* the last 8 answers, a bit set for each 429 */
	/* a known token limit: --tpm's minute, or the -tokens headers */
	int64_t tok_win;            /* ms; 0: no token limit */
	double tok_allow;           /* tokens the window allows */
	double tok_ceiling;         /* tok_allow never grows past it */
	int64_t tok_grow;           /* ms of the last growth after a wall */
	double tok_others;          /* tokens the server counted that were not ours */
	unsigned tok_sure;          /* starts that may go at once (-j until
	                             * confirmed, then LIMITER_RING: no count) */
	double tok_ok;              /* tokens let through before the first cut */
	int64_t tok_change;         /* ms of the last wall (or of the start) */
	int64_t tok_hdr_win;        /* the window the headers imply; 0: none yet */
	int tok_hdr_seen;
	double tok_guess;           /* the next request's estimate: the last one's */
	double toks[LIMITER_RING];  /* the kept starts' token estimates */
};

/* rpm, tpm: 0 for none (NaN, infinities and values under 0 are none, more
 * than 1e12 is 1e12); concurrency: requests in flight (at least 1). */
void limiter_init(struct limiter *l, double rpm, double tpm, int concurrency);
/* The earliest ms at which the next request may start. */
int64_t limiter_ready_at(const struct limiter *l);
/* A request of about `tokens` tokens (under 0: none; at most 1e12) went
 * out at `sent`, let through at `now` (the loop's time, at or before
 * sent). */
void limiter_started(struct limiter *l, int64_t now, int64_t sent, long tokens);
/* What a provider's rate-limit headers said in the answer, at now, to the
 * request sent at `sent`: its limit, the requests left, the time until
 * the window is back to its full allowance.  Values out of range (the
 * caller checks they are numbers) are ignored.  Call before
 * limiter_answer. */
void limiter_headers(struct limiter *l, int64_t now, int64_t sent, double limit,
    double remaining, int64_t reset_ms);
/* The same for tokens (x-ratelimit-*-tokens): a limit of 1 to 1e12. */
void limiter_tok_headers(struct limiter *l, int64_t now, int64_t sent, double limit,
    double remaining, int64_t reset_ms);
/* An answer came back after ms; rate_limited when it was the account's
 * 429.  Called for every answer, before limiter_cut or limiter_ok for it. */
void limiter_answer(struct limiter *l, long ms, int rate_limited);
/* A 429 at now on the request sent at `sent`, the server asking for
 * retry_after seconds (< 0: it did not say).  n_ok: the successes so far
 * (answers and work done locally), to tell a new wall from the same one. */
void limiter_cut(struct limiter *l, int64_t now, int64_t sent, double retry_after, uint64_t n_ok);
/* A successful answer at now (to the request limiter_answer was told of). */
void limiter_ok(struct limiter *l, int64_t now);

#endif
