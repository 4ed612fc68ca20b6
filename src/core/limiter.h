/* limiter: when the engine may start its next request.  Starts are spaced
 * evenly for --rpm and by each request's token estimate for --tpm; 429s
 * that are frequent cut the rate, successes bring it back step by step
 * (docs/providers.md, "Rate limits").  It reads no clock: every call is
 * given the time, in ms of CLOCK_MONOTONIC (mono_ms) or a test's clock,
 * so it can be driven without curl or real time.  The clock must be far
 * from 0, as CLOCK_MONOTONIC is: a limiter that never cut has its last
 * cut at 0. */
#ifndef VJ_LIMITER_H
#define VJ_LIMITER_H

#include <stdint.h>

#define LIMITER_RING 4096

struct limiter {
	double rpm, tpm;            /* the ceilings set; 0: none */
	int concurrency;            /* -j, for the starting rate without --rpm */
	double rate;                /* current requests per minute; 0: no limit */
	double rate_429;            /* the rate that last drew 429s; 0: none yet */
	int64_t next_start;         /* ms: the earliest next start */
	int64_t hold_until;         /* ms: every start held after a wall of 429s */
	int64_t last_cut;           /* ms of the last cut */
	int ok_since_cut;           /* successes towards the next recovery step */
	uint64_t ok_at_cut;         /* the success count at the last cut */
	int64_t starts[LIMITER_RING];   /* ms of recent request starts (a ring:
	                                 * a minute of them up to 4096/min) */
	unsigned nstarts;
	double avg_ms;              /* moving mean of answer times */
	unsigned recent429;         /* the last 8 answers, a bit set for each 429 */
};

/* rpm, tpm: 0 for none; concurrency: requests in flight (at least 1). */
void limiter_init(struct limiter *l, double rpm, double tpm, int concurrency);
/* The earliest ms at which the next request may start. */
int64_t limiter_ready_at(const struct limiter *l);
/* A request of about `tokens` tokens went out at `sent`, let through at
 * `now` (the loop's time, at or before sent): the next start comes one gap
 * after now, or after the previous one's if that is later. */
void limiter_started(struct limiter *l, int64_t now, int64_t sent, long tokens);
/* An answer came back after ms; rate_limited when it was a 429.  Called
 * for every answer, before limiter_cut or limiter_ok for it. */
void limiter_answer(struct limiter *l, long ms, int rate_limited);
/* A 429 at now on the request sent at `sent`, the server asking for
 * retry_after seconds (< 0: it did not say).  n_ok: the successes so far
 * (answers and work done locally), to tell a new wall from the same one. */
void limiter_cut(struct limiter *l, int64_t now, int64_t sent, double retry_after, uint64_t n_ok);
/* A successful answer at now. */
void limiter_ok(struct limiter *l, int64_t now);

#endif
