#!/bin/sh
# vj-analyze's limiter: --rpm spreads requests out; after 429s it slows
# down and recovers, with or without --rpm.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0430 GEMINI_API_KEY=k0430
start_fake

n429() { curl -s "$FAKE_URL/_stats" | jq ".by_status[\"429\"] // 0"; }
# mk FILE ID...: ingested records for these ids
mk() { mk_ingested img/stripes.png "$@"; }
an() { vj-analyze --base-url "$FAKE_URL" --timeout 10 "$@"; }
# span RUN: ms between the first and the last done event
span() { grep "\"ev\":\"done\"" "$1"/journal/analyze.log | sed "s/^[^ ]* //" | jq -s "map(.t) | max - min"; }

# A fresh window lets -j go at once; the rest is 500 ms apart.  Only lower
# bounds on time: a loaded machine makes a run longer, never shorter.
test_expect_success '--rpm 120 -j 2: 2 at once, then 4 more 500 ms apart (>= 1.9 s)' '
	mk six $(seq -f a%g 1 6) &&
	t0=$(now_ms) &&
	an -j 2 --rpm 120 six >o &&
	t1=$(now_ms) &&
	test $(wc -l <o) -eq 6 &&
	test $((t1 - t0)) -ge 1900 &&
	test $(span vj-run) -ge 1900 &&
	test $(fake_total) -eq 6
'

# --tpm is a window of the requests' token estimates (about 3650 each
# here): a fresh minute's go at once, up to -j until the limit is
# confirmed, the rest spaced by their estimates (1.8 s at 120000 a minute).
test_expect_success '--tpm 120000 -j 2: 2 at once, then 2 more spaced by their tokens (>= 3 s)' '
	export VJ_RUN=tpm &&
	mk four $(seq -f t%g 1 4) &&
	an -j 2 --tpm 120000 four >o &&
	test $(wc -l <o) -eq 4 &&
	test $(span tpm) -ge 3000
'

test_expect_success '--tpm 200000 -j 4: the 4 (of 55 the minute allows) at once' '
	export VJ_RUN=tpm4 &&
	mk four4 $(seq -f u%g 1 4) &&
	t0=$(now_ms) &&
	an -j 4 --tpm 200000 four4 >o &&
	t1=$(now_ms) &&
	test $(wc -l <o) -eq 4 &&
	test $((t1 - t0)) -lt 1500
'

test_expect_success 'without --rpm the same 6 go at once' '
	fake_reset &&
	mk six2 $(seq -f e%g 1 6) &&
	t0=$(now_ms) &&
	an -j 6 six2 >o &&
	t1=$(now_ms) &&
	test $(wc -l <o) -eq 6 &&
	test $((t1 - t0)) -lt 1500
'

test_expect_success 'after 429s with --rpm: slowed, then back up to the limit; 429s not counted as attempts' '
	fake_reset &&
	mk m80 $(seq -f b%g 1 80) &&
	fake_script "b1 429\nb2 429\nb3 429\n" &&
	an -j 4 --rpm 1200 --retries 0 m80 >o 2>e &&
	test $(wc -l <o) -eq 80 &&
	test $(n429) -eq 3 &&
	test $(fake_total) -eq 83 &&
	grep "\"ev\":\"done\"" vj-run/journal/analyze.log | tail -n 10 | sed "s/^[^ ]* //" |
		jq -s "map(.t) | max - min" >last10 &&
	echo "last 10 spaced over $(cat last10) ms (9 x 50 ms at the limit)" &&
	# a loose bound (the machine may be loaded): not crawling at a cut
	# rate; the rate itself is checked on a simulated clock in test_limiter
	test $(cat last10) -le 3000
'

test_expect_success 'after a 429 without --rpm the run does not crawl' '
	fake_reset &&
	mk m60 $(seq -f c%g 1 60) &&
	fake_script "c1 429\n" &&
	t0=$(now_ms) &&
	an -j 8 m60 >o 2>e &&
	t1=$(now_ms) &&
	test $(wc -l <o) -eq 60 &&
	test $(fake_total) -eq 61 &&
	test $((t1 - t0)) -lt 15000
'

test_expect_success 'a burst of 429s on every job: all done, each 429 retried after its delay' '
	fake_reset &&
	mk m12 $(seq -f d%g 1 12) &&
	fake_script "* 429,429,429,429,429,429,429,429,429,429,429,429\n" &&
	an -j 12 --retries 0 m12 >o 2>e &&
	test $(wc -l <o) -eq 12 &&
	test $(n429) -eq 12 &&
	test $(fake_total) -eq 24
'

test_done
