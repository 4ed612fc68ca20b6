#!/bin/sh
# vj-status --watch: frames every 2 s until SIGINT/SIGTERM.
. "$(dirname "$0")/lib.sh"
MK="$TOP/tests/tools/vj-mkstatus"

test_expect_success 'make a run' '"$MK" run'

test_expect_success 'text frames, separated by a blank line when not a terminal' '
	vj-status -r run --watch >w 2>err &
	pid=$! &&
	sleep 4.5 &&
	kill -INT $pid &&
	wait $pid &&
	test $(grep -c "^run run: 200 jobs$" w) -ge 2 &&
	test $(grep -c "^every 2s, " w) -ge 2 &&
	! grep -q "$(printf "\033")" w &&
	awk "/^every/ && NR > 1 { if (prev != \"\") exit 1 } { prev = \$0 }" w &&
	test ! -s err
'

test_expect_success '--watch --json: one object per frame; SIGTERM ends it' '
	vj-status -r run --watch --json >wj &
	pid=$! &&
	sleep 2.5 &&
	kill -TERM $pid &&
	wait $pid &&
	test $(wc -l <wj) -ge 2 &&
	jq -e ".jobs == 200" wj >/dev/null
'

test_expect_success 'a frame shows what was appended meanwhile' '
	mkdir grow &&
	vj-status -r grow --watch --json >wg &
	pid=$! &&
	sleep 0.5 &&
	"$MK" grow &&
	sleep 2.5 &&
	kill -INT $pid && wait $pid &&
	head -n 1 wg | jq -e ".jobs == 0" &&
	tail -n 1 wg | jq -e ".jobs == 200 and .stages.pack.done == 100"
'

test_expect_success '--watch of a missing run: exit 2' '
	test_status 2 vj-status -r nope --watch 2>/dev/null
'

test_done
