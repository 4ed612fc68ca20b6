#!/bin/sh
# The limiter and OpenAI's x-ratelimit-*-requests headers: a limit and a
# window learned from them, and values no client should believe ignored.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0435 GEMINI_API_KEY=k0435

n429() { curl -s "$FAKE_URL/_stats" | jq ".by_status[\"429\"] // 0"; }
mk() { mk_ingested img/stripes.png "$@"; }
# stop_fake: stop the fake started last (by its pid)
stop_fake() { p=${t_bg##* }; kill "$p" && wait "$p" 2>/dev/null; t_bg=${t_bg% *}; :; }

test_expect_success 'a limit and window from the headers: 18 jobs at 6 per 3 s, hardly a 429' '
	start_fake --rpm 6 --rpm-window 3 --ratelimit-headers &&
	mk m18 $(seq -f h%g 1 18) &&
	rc=0 &&
	{ timeout 120 vj-analyze --base-url "$FAKE_URL" --timeout 10 -j 4 m18 >o 2>e || rc=$?; } &&
	n=$(n429) &&
	stop_fake &&
	echo "429s: $n" &&
	test $rc -eq 0 &&
	test $(wc -l <o) -eq 18 &&
	test $n -le 3
'

# Each of these, believed, would hold the run to 2 requests in 30 s (12
# jobs: over a minute); ignored, the 12 go at once.
test_expect_success 'header values that are no count or no duration are ignored' '
	i=0 &&
	for v in "2.5,0,30s" "2x,0,30s" "0x2,0,30s" "2,-0,30s" "+2,0,30s" "2,0,30sec" \
	    "2,0,-30s" "2,0,inf" "2,0,1e30" "2,3,30s" "99999999999,0,30s"; do
		i=$((i + 1)) &&
		mk m12 $(seq -f "b$i-%g" 1 12) &&
		start_fake --ratelimit-values "$v" &&
		rc=0 &&
		{ timeout 25 vj-analyze --base-url "$FAKE_URL" --timeout 10 -j 4 m12 >o 2>e || rc=$?; } &&
		stop_fake &&
		{ test $rc -eq 0 || { echo "believed: $v"; false; }; } &&
		test $(wc -l <o) -eq 12 || return 1
	done
'

# x-ratelimit-*-tokens the same way: believed, "20,0,60s" (20 tokens a
# minute, all used) lets a request of about 3650 tokens go only into an
# empty window, one a minute.
test_expect_success 'a token limit from x-ratelimit-*-tokens: believed, one request a minute' '
	mk m3 $(seq -f k%g 1 3) &&
	start_fake --ratelimit-token-values "20,0,60s" &&
	rc=0 &&
	{ timeout 8 vj-analyze --base-url "$FAKE_URL" --timeout 10 -j 1 m3 >o 2>e || rc=$?; } &&
	stop_fake &&
	test $rc -ne 0 &&
	test $(wc -l <o) -lt 3
'

# Each of these, believed, would hold 12 jobs at -j 4 to one request a
# minute after the first 4; ignored, the 12 go at once.
test_expect_success 'token header values that are no count or no duration are ignored' '
	i=0 &&
	for v in "2.5,0,30s" "2x,0,30s" "+2,0,30s" "2,0,inf" "2,3,30s" "9999999999999,0,30s"; do
		i=$((i + 1)) &&
		mk m12 $(seq -f "t$i-%g" 1 12) &&
		start_fake --ratelimit-token-values "$v" &&
		rc=0 &&
		{ timeout 25 vj-analyze --base-url "$FAKE_URL" --timeout 10 -j 4 m12 >o 2>e || rc=$?; } &&
		stop_fake &&
		{ test $rc -eq 0 || { echo "believed: $v rc $rc"; cat e; false; }; } &&
		test $(wc -l <o) -eq 12 || return 1
	done
'

# An image host's x-ratelimit headers are its own limit, not the account's:
# vj-ingest does not heed them (believed, 12 fetches would take minutes).
test_expect_success 'vj-ingest ignores an image host'"'"'s x-ratelimit headers' '
	start_fake --static img --ratelimit-values "2,0,30s" &&
	curl -s -D hd -o /dev/null "$FAKE_URL/img/stripes.png" &&
	grep -qi "x-ratelimit-limit-requests: 2" hd || { stop_fake; false; }
	for i in $(seq 1 12); do fake_job "/img/stripes.png?$i" g$i; done >jobs &&
	rc=0 &&
	{ timeout 25 vj-ingest -j 4 -r ing jobs >o || rc=$?; } &&
	stop_fake &&
	test $rc -eq 0 &&
	test $(wc -l <o) -eq 12
'

test_done
