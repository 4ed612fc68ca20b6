#!/bin/sh
# vj-status --failed: jobs failed for good with their latest error.
. "$(dirname "$0")/lib.sh"
MK="$TOP/tests/tools/vj-mkstatus"

test_expect_success 'make a run' '"$MK" run'

test_expect_success 'one line per job failed for good' '
	vj-status -r run --failed >f &&
	test $(wc -l <f) -eq 22 &&
	test $(grep -c -E "^job-[0-9]{7}  (ingest|analyze) +attempts [0-9]+  [^ ]" f) -eq 22 &&
	test_grep -E "^job-0000098  ingest    attempts 1  unsupported image format$" f &&
	test_grep -E "^job-0000003  analyze   attempts 3  model refused: \"unsafe\" see policy$" f &&
	! grep -E "job-0000001 |timeout" f
'

test_expect_success '-v adds the retryable ones with their retry time' '
	vj-status -r run --failed -v >fv &&
	test $(wc -l <fv) -eq 52 &&
	test_grep -E "^job-0000001  analyze   attempts 1  \[retry [0-9T:-]+Z\] HTTP 429: rate limited$" fv &&
	test_grep -E "^job-0000002  analyze   attempts 1  \[retry [0-9T:-]+Z\] HTTP 503" fv
'

test_expect_success '--failed --json' '
	vj-status -r run --failed --json >f.json &&
	jq -e ".version == 1 and (.jobs | length) == 22" f.json &&
	jq -e ".jobs[] | select(.id == \"job-0000003\") | .stage == \"analyze\" and .state == \"failed\" and .attempts == 3 and .kind == \"permanent\" and .error == \"model refused: \\\"unsafe\\\"\\nsee policy\" and .retry_at == null" f.json &&
	vj-status -r run --failed --json -v | jq -e "(.jobs | length) == 52 and ([.jobs[] | select(.state == \"retry\")] | length) == 30"
'

test_expect_success 'nothing failed: no lines' '
	mkdir empty && vj-status -r empty --failed >e && test ! -s e
'

test_done
