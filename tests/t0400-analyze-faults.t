#!/bin/sh
# vj-analyze against the fake Gemini: the original design's four scenarios
# (429, timeout, invalid JSON, retries exhausted) and the other answers a
# provider gives: blocked, schema violations, bad key, daily quota, unknown
# model, keep-alive blank lines, dropped connections.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=fake-key-0400 GEMINI_API_KEY=fake-key-0400
cat >script <<EOT
r429 429,ok
tmo timeout,ok
bj badjson,ok
dn 500,503,500,503
blk blocked
sch schema,ok
bl blank
dr drop,ok
EOT
start_fake --script script --models gemini-3.5-flash-lite

# mk FILE ID...: ingested records for these ids
mk() { mk_ingested img/dark.jpg "$@"; }
an() { vj-analyze --base-url "$FAKE_URL" --timeout 5 "$@"; }
ev() { grep "\"ev\":\"$1\",\"id\":\"$2\"" vj-run/journal/analyze.log; }
# retried_once ID MESSAGE [ARG...]: job ID fails once, saying MESSAGE, and is
# analysed on the retry (two requests)
retried_once() {
	id=$1 msg=$2; shift 2
	mk in $id &&
	an -v "$@" in >o 2>e &&
	jq -e ".id == \"$id\" and .analysis != null" o &&
	test $(fake_count $id) -eq 2 &&
	test_grep "job $id: gemini: $msg" e
}

test_expect_success 'a 429 then success: retried after the delay the server asked for' '
	mk in r429 &&
	start=$(date +%s%N) &&
	an in >o 2>e &&
	end=$(date +%s%N) &&
	test $(( (end - start) / 1000000 )) -ge 1400 &&
	jq -e ".id == \"r429\" and (.analysis | type) == \"object\"" o &&
	test $(fake_count r429) -eq 2 &&
	ev fail r429 | grep -q "\"kind\":\"rate\"" &&
	test $(ev done r429 | wc -l) -eq 1
'

test_expect_success 'a timeout then success on retry (--timeout 1)' '
	retried_once tmo "no answer within 1s (timeout), retry in .*(attempt 1/4)" --timeout 1 &&
	ev fail tmo | grep -q "\"kind\":\"retryable\""
'

test_expect_success 'invalid JSON then success' '
	retried_once bj "the answer is not valid JSON (.*), retry in .*(attempt 1/4)"
'

test_expect_success 'retries exhausted: failed for good with its reason, listed by vj-status --failed' '
	mk in dn &&
	test_status 1 an --retries 2 in >o 2>e &&
	test ! -s o &&
	test_grep "vj-analyze: job dn: gemini: 500 INTERNAL.*(attempt 3/3, giving up)" e &&
	test $(fake_count dn) -eq 3 &&
	test $(ev fail dn | grep -c "\"final\":true") -eq 1 &&
	vj-status --failed >f &&
	test_grep -E "^dn +analyze +attempts 3 +gemini: 500 INTERNAL" f
'

test_expect_success 'a job failed for good is not asked again on a rerun' '
	test_status 1 an --retries 2 in >o 2>e &&
	test $(fake_count dn) -eq 3
'

test_expect_success 'a blocked prompt is permanent: one request' '
	mk in blk &&
	test_status 1 an in >o 2>e &&
	test_grep "job blk: gemini: blocked by safety filters (SAFETY)" e &&
	test $(fake_count blk) -eq 1 &&
	ev fail blk | grep -q "\"kind\":\"permanent\",\"final\":true"
'

test_expect_success 'a schema-violating answer is retried, the message names the first offending path' '
	mk in sch &&
	an -v in >o 2>e &&
	jq -e ".id == \"sch\" and .analysis != null" o &&
	test $(fake_count sch) -eq 2 &&
	ev fail sch | grep "\"kind\":\"retryable\"" | grep -E "\"error\":\"[^\"]*(\\$|\\.)[a-z_]+" >f &&
	test_grep "job sch: gemini: .*schema.*\\$\\.[a-z_]" e
'

test_expect_success 'keep-alive blank lines before the body: success' '
	mk in bl &&
	an in >o 2>e &&
	jq -e ".id == \"bl\" and .analysis != null" o &&
	test $(fake_count bl) -eq 1
'

test_expect_success 'a dropped connection is retried' '
	retried_once dr "connection failed"
'

test_expect_success 'an invalid key: exit 3 after at most -j requests, the jobs stay pending' '
	fake_reset &&
	mk in50 $(seq -f k%g 1 50) &&
	GEMINI_API_KEY=wrong-key test_status 3 an -j 4 in50 >o 2>e &&
	test ! -s o &&
	test_grep "vj-analyze: stopped: gemini: invalid API key (GEMINI_API_KEY)" e &&
	test $(fake_total) -le 4 &&
	! grep "\"ev\":\"fail\",\"id\":\"k[0-9]*\"" vj-run/journal/analyze.log | grep -q "\"final\":true" &&
	vj-status --json | jq -e ".stages.analyze" >/dev/null &&
	an -j 4 in50 >o 2>e &&
	test $(wc -l <o) -eq 50 &&
	test $(jq -r .id o | sort -u | wc -l) -eq 50
'

test_expect_success 'a per-day quota (429 with a PerDay quota) is fatal: exit 3' '
	fake_script "dq 429day" &&
	mk in dq &&
	test_status 3 an in >o 2>e &&
	test_grep "vj-analyze: stopped: gemini: daily quota exhausted" e &&
	test_grep "daily quota exhausted (.*PerDay.*)" e &&
	test $(fake_count dq) -eq 1 &&
	! ev fail dq | grep -q "\"final\":true"
'

test_expect_success 'an unknown model: exit 3' '
	mk in um &&
	test_status 3 an --model no-such-model in >o 2>e &&
	test_grep "stopped: gemini: unknown model no-such-model" e
'

test_done
