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
start_fake --script script --models gemini-2.5-flash

count() { curl -s "$FAKE_URL/_stats" | jq ".by_job[\"$1\"] // 0"; }
total() { curl -s "$FAKE_URL/_stats" | jq ".requests"; }
# mk FILE ID...: ingested records for these ids
mk() {
	f=$1; shift
	for id in "$@"; do printf '{"imageUrl": "img/dark.jpg", "id": "%s"}\n' "$id"; done |
		vj-ingest -q >"$f"
}
an() { vj-analyze --base-url "$FAKE_URL" --timeout 5 "$@"; }
ev() { grep "\"ev\":\"$1\",\"id\":\"$2\"" vj-run/journal/analyze.log; }

test_expect_success 'a 429 then success: retried after the delay the server asked for' '
	mk in r429 &&
	start=$(date +%s%N) &&
	an in >o 2>e &&
	end=$(date +%s%N) &&
	test $(( (end - start) / 1000000 )) -ge 1400 &&
	jq -e ".id == \"r429\" and (.analysis | type) == \"object\"" o &&
	test $(count r429) -eq 2 &&
	ev fail r429 | grep -q "\"kind\":\"rate\"" &&
	test $(ev done r429 | wc -l) -eq 1
'

test_expect_success 'a timeout then success on retry (--timeout 1)' '
	mk in tmo &&
	an --timeout 1 -v in >o 2>e &&
	jq -e ".id == \"tmo\" and .analysis != null" o &&
	test $(count tmo) -eq 2 &&
	test_grep "job tmo: gemini: no answer within 1s (timeout), retry in .*(attempt 1/4)" e &&
	ev fail tmo | grep -q "\"kind\":\"retryable\""
'

test_expect_success 'invalid JSON then success' '
	mk in bj &&
	an -v in >o 2>e &&
	jq -e ".id == \"bj\" and .analysis != null" o &&
	test $(count bj) -eq 2 &&
	test_grep "job bj: gemini: the answer is not valid JSON (.*), retry in .*(attempt 1/4)" e
'

test_expect_success 'retries exhausted: failed for good with its reason, listed by vj-status --failed' '
	mk in dn &&
	test_status 1 an --retries 2 in >o 2>e &&
	test ! -s o &&
	test_grep "vj-analyze: job dn: gemini: 500 INTERNAL.*(attempt 3/3, giving up)" e &&
	test $(count dn) -eq 3 &&
	test $(ev fail dn | grep -c "\"final\":true") -eq 1 &&
	vj-status --failed >f &&
	test_grep -E "^dn +analyze +attempts 3 +gemini: 500 INTERNAL" f
'

test_expect_success 'a job failed for good is not asked again on a rerun' '
	test_status 1 an --retries 2 in >o 2>e &&
	test $(count dn) -eq 3
'

test_expect_success 'a blocked prompt is permanent: one request' '
	mk in blk &&
	test_status 1 an in >o 2>e &&
	test_grep "job blk: gemini: blocked by safety filters (SAFETY)" e &&
	test $(count blk) -eq 1 &&
	ev fail blk | grep -q "\"kind\":\"permanent\",\"final\":true"
'

test_expect_success 'a schema-violating answer is retried, the message names the first offending path' '
	mk in sch &&
	an -v in >o 2>e &&
	jq -e ".id == \"sch\" and .analysis != null" o &&
	test $(count sch) -eq 2 &&
	ev fail sch | grep "\"kind\":\"retryable\"" | grep -E "\"error\":\"[^\"]*(\\$|\\.)[a-z_]+" >f &&
	test_grep "job sch: gemini: .*schema.*\\$\\.[a-z_]" e
'

test_expect_success 'keep-alive blank lines before the body: success' '
	mk in bl &&
	an in >o 2>e &&
	jq -e ".id == \"bl\" and .analysis != null" o &&
	test $(count bl) -eq 1
'

test_expect_success 'a dropped connection is retried' '
	mk in dr &&
	an -v in >o 2>e &&
	jq -e ".id == \"dr\" and .analysis != null" o &&
	test $(count dr) -eq 2 &&
	test_grep "job dr: gemini: connection failed" e
'

test_expect_success 'an invalid key: exit 3 after at most -j requests, the jobs stay pending' '
	curl -s -X POST "$FAKE_URL/_reset" >/dev/null &&
	mk in50 $(seq -f k%g 1 50) &&
	GEMINI_API_KEY=wrong-key test_status 3 an -j 4 in50 >o 2>e &&
	test ! -s o &&
	test_grep "vj-analyze: stopped: gemini: invalid API key (GEMINI_API_KEY)" e &&
	test $(total) -le 4 &&
	! grep "\"ev\":\"fail\",\"id\":\"k[0-9]*\"" vj-run/journal/analyze.log | grep -q "\"final\":true" &&
	vj-status --json | jq -e ".stages.analyze" >/dev/null &&
	an -j 4 in50 >o 2>e &&
	test $(wc -l <o) -eq 50 &&
	test $(jq -r .id o | sort -u | wc -l) -eq 50
'

test_expect_success 'a per-day quota (429 with a PerDay quota) is fatal: exit 3' '
	curl -s -X POST --data-binary "dq 429day" "$FAKE_URL/_script" >/dev/null &&
	mk in dq &&
	test_status 3 an in >o 2>e &&
	test_grep "vj-analyze: stopped: gemini: daily quota exhausted" e &&
	test_grep "daily quota exhausted (.*PerDay.*)" e &&
	test $(count dq) -eq 1 &&
	! ev fail dq | grep -q "\"final\":true"
'

test_expect_success 'an unknown model: exit 3' '
	mk in um &&
	test_status 3 an --model no-such-model in >o 2>e &&
	test_grep "stopped: gemini: unknown model no-such-model" e
'

test_done
