#!/bin/sh
# A downstream reader that goes away (EPIPE) does not throw away answers
# already paid for: the stage takes no new work, finishes and journals what
# is in flight within --grace, and exits 3.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=fake-key-0460 GEMINI_API_KEY=fake-key-0460
# the first job answers at once, the other seven 1.5 s later
{ echo "f0 ok"; for i in 1 2 3 4 5 6 7; do echo "f$i slow"; done; } >script
start_fake --script script --models gemini-3.5-flash-lite
for i in 0 1 2 3 4 5 6 7; do printf '{"imageUrl": "img/dark.jpg", "id": "f%s"}\n' $i; done |
	vj-ingest -q >in

test_expect_success 'the reader leaves after one record: exit 3, every answer in flight journaled' '
	{ vj-analyze --base-url "$FAKE_URL" --timeout 20 --grace 20 -j 8 in 2>e; echo $? >st; } |
		{ read -r first; echo "$first" >got; } &&
	test "$(cat st)" = 3 &&
	test_grep "the output could not be written" e &&
	test $(grep -c "\"ev\":\"done\"" vj-run/journal/analyze.log) -eq 8
'

test_expect_success 'nothing is asked twice on the next run' '
	before=$(fake_total) &&
	vj-analyze --base-url "$FAKE_URL" --timeout 20 in >o 2>e2 &&
	test $(wc -l <o) -eq 8 &&
	test "$(fake_total)" = "$before"
'

test_done
