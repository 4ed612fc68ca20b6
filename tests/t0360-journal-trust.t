#!/bin/sh
# What vj believes of a journal line: a right checksum on text that is not
# JSON is no result (the job stays pending, a warning names the file and
# offset); numbers like 1e999 are clamped, never cast blindly; a journal
# starts with its format version, and a newer one is refused.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

# plant TEXT...: journal lines with right checksums around any text
plant() { printf '%s\n' "$@" | vj-jline; }

test_expect_success 'a new journal starts with its format version' '
	vj-mkrun r 3 >/dev/null &&
	for s in ingest analyze generate; do
		head -n 1 r/journal/$s.log | cut -c10- | jq -e ".ev == \"journal\" and .version == 1" || exit 1
	done
'

test_expect_success 'a done record that is not JSON does not count as done' '
	vj-mkrun r2 3 >/dev/null &&
	grep -v "\"id\":\"j0000001\"" r2/journal/analyze.log >a.log &&
	line=$(grep "\"id\":\"j0000001\"" r2/journal/analyze.log | cut -c10-) &&
	bad=$(printf "%s" "$line" | sed "s/\"analysis\":{/\"analysis\":{[/") &&
	plant "$bad" >>a.log && mv a.log r2/journal/analyze.log &&
	vj-status -r r2 --json >s.json 2>e &&
	test "$(jq .stages.analyze.done s.json)" = 2 &&
	test "$(jq .stages.analyze.pending s.json)" = 1 &&
	test_grep "r2/journal/analyze.log: byte offset [0-9]*: a record that is not valid JSON" e
'

test_expect_success 'vj-status --check names the line that is not JSON' '
	test_must_fail vj-status -r r2 --check >c 2>&1 &&
	test_grep "r2/journal/analyze.log:[0-9]*: a record that is not valid JSON" c
'

test_expect_success 'huge numbers in a journal line are clamped, not undefined' '
	vj-mkrun r3 2 >/dev/null &&
	plant "{\"ev\":\"fail\",\"id\":\"j0000001\",\"t\":1e999,\"key\":\"00000000000000000000000000000000\",\"attempt\":1e300,\"retry_at\":-1e999,\"error\":\"x\"}" \
		>>r3/journal/analyze.log &&
	vj-status -r r3 --json >s3.json &&
	jq -e ".stages.analyze" s3.json >/dev/null
'

test_expect_success 'a journal of a newer format is refused by writers and readers, naming both versions' '
	vj-mkrun r4 2 >/dev/null &&
	{ plant "{\"ev\":\"journal\",\"version\":99,\"t\":0}"; tail -n +2 r4/journal/analyze.log; } >n.log &&
	mv n.log r4/journal/analyze.log &&
	test_status 3 vj-analyze -r r4 --provider offline --pending >o 2>e &&
	test_grep "analyze.log: journal format version 99, this vj reads version 1 only" e &&
	test_must_fail vj-generate -r r4 --provider offline --pending >o 2>e2 &&
	test_grep "journal format version 99" e2
'

test_expect_success 'a journal without a header (written by vj 0.1) still reads as version 1' '
	vj-mkrun r5 2 >/dev/null &&
	tail -n +2 r5/journal/analyze.log >h.log && mv h.log r5/journal/analyze.log &&
	vj-status -r r5 --json >s5.json &&
	test "$(jq .stages.analyze.done s5.json)" = 2
'

test_done
