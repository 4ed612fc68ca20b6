#!/bin/sh
# Text and numbers from outside: control characters in ids, URLs and
# provider strings never reach the terminal raw; NaN and inf are no option
# values.
. "$(dirname "$0")/lib.sh"

test_expect_success 'an id with ESC and a newline is escaped in messages' '
	printf "{\"id\": \"x\\\\u001b[2Jy\\\\nz\", \"imageUrl\": \"nosuch/\\\\u001b]0;t\\\\u0007.jpg\"}\n" >m.jsonl &&
	test_must_fail vj-ingest -r r m.jsonl >o 2>e &&
	test -s e &&
	! LC_ALL=C grep -q "$(printf "\033")" e &&
	! LC_ALL=C grep -q "$(printf "\007")" e &&
	test $(wc -l <e) -ge 1 &&
	test_grep "x\\\\x1b\\[2Jy\\\\nz" e
'

test_expect_success 'a message stays one line per message' '
	n=$(grep -c "x\\\\x1b" e) && test "$n" -ge 1 &&
	! grep -q "^z" e
'

for o in "--timeout nan" "--timeout inf" "--max-cost nan" "--rpm nan" "--job-timeout 1e999"; do
	test_expect_success "vj-analyze $o: a usage error" "
		test_status 2 vj-analyze -r r --provider offline $o </dev/null >o 2>e &&
		test -s e
	"
done

test_done
