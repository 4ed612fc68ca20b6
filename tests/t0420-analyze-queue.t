#!/bin/sh
# vj-analyze and the run's queue: journal before output, results from the
# journal without a request, --pending, --pending --follow, signals, the lock.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0420 GEMINI_API_KEY=k0420
start_fake --latency-ms 30 --latency-dist uniform

# mk FILE ID...: ingested records for these ids
mk() { mk_ingested img/sunset.jpg "$@"; }
an() { vj-analyze --base-url "$FAKE_URL" --timeout 10 "$@"; }
ndone() { grep -c "\"ev\":\"done\"" vj-run/journal/analyze.log; }
# wait_for SECONDS 'SHELL TEST': poll until the test succeeds
wait_for() {
	n=$(($1 * 10))
	while ! eval "$2"; do
		n=$((n - 1))
		if [ $n -le 0 ]; then echo "wait_for: still not true after $1 s: $2" >&2; return 1; fi
		sleep 0.1
	done
}

test_expect_success 'every record is journaled before it is printed' '
	mk in20 $(seq -f j%g 1 20) &&
	an -j 3 in20 | while read -r line; do
		id=$(printf "%s" "$line" | jq -r .id) &&
		if grep -q "\"ev\":\"done\",\"id\":\"$id\"" vj-run/journal/analyze.log; then
			echo "$id" >>seen
		else
			echo "printed before journaled: $id" >&2; exit 1
		fi
	done &&
	test $(wc -l <seen) -eq 20 &&
	test $(fake_total) -eq 20
'

test_expect_success 'a rerun prints the same records from the journal, with no request' '
	an in20 >o1 2>e1 &&
	an in20 >o2 2>e2 &&
	test $(fake_total) -eq 20 &&
	test $(wc -l <o2) -eq 20 &&
	jq -S -c . o1 | sort >s1 && jq -S -c . o2 | sort >s2 && test_cmp s1 s2 &&
	test_grep "20 done (20 already in the journal)" e2 &&
	test $(ndone) -eq 20
'

test_expect_success '--pending picks up what the pipe left' '
	mk in6 $(seq -f p%g 1 6) &&
	head -n 2 in6 | an >o 2>e &&
	test $(wc -l <o) -eq 2 &&
	an --pending >o 2>e &&
	test $(wc -l <o) -eq 4 &&
	jq -r .id o | sort >ids && printf "p3\np4\np5\np6\n" >want && test_cmp want ids &&
	for i in 1 2 3 4 5 6; do test $(fake_count p$i) -eq 1 || exit 1; done &&
	an --pending >o 2>e &&
	test ! -s o && test $(fake_total) -eq 26
'

test_expect_success '--pending --follow takes newly ingested jobs within seconds; SIGTERM exits 75' '
	( set +e; an --pending --follow >fo 2>fe; echo $? >fst ) &
	sleep 0.5 &&
	mk fl1 f1 f2 f3 &&
	wait_for 8 "test \$(grep -c \"\\\"id\\\":\\\"f\" fo) = 3" &&
	mk fl2 f4 f5 &&
	wait_for 8 "test \$(grep -c \"\\\"id\\\":\\\"f\" fo) = 5" &&
	pid=$(cat vj-run/journal/analyze.lock) &&
	kill -TERM $pid &&
	wait_for 5 "test -s fst" &&
	test "$(cat fst)" = 75 &&
	test $(fake_total) -eq 31
'

test_expect_success 'SIGINT with --grace: the requests in flight finish and are journaled, exit 75' '
	mk sg s1 s2 s3 s4 s5 s6 &&
	fake_script "s1 slow\ns2 slow\n" &&
	( set +e; an -j 2 --grace 20 sg >so 2>se; echo $? >sst ) &
	wait_for 5 "test \$(fake_count s2) -eq 1" &&
	pid=$(cat vj-run/journal/analyze.lock) &&
	kill -INT $pid &&
	wait_for 15 "test -s sst" &&
	test "$(cat sst)" = 75 &&
	jq -r .id so | sort >ids && printf "s1\ns2\n" >want && test_cmp want ids &&
	grep -q "\"ev\":\"done\",\"id\":\"s1\"" vj-run/journal/analyze.log &&
	grep -q "\"ev\":\"done\",\"id\":\"s2\"" vj-run/journal/analyze.log &&
	test $(fake_count s3) -eq 0 &&
	an --pending >o &&
	test $(wc -l <o) -eq 4
'

test_expect_success 'a second vj-analyze on the same run exits 75' '
	mk lk l1 &&
	fake_script "l1 slow\n" &&
	( set +e; an lk >/dev/null 2>&1; echo $? >lst ) &
	wait_for 5 "test \$(fake_count l1) -eq 1" &&
	pid=$(cat vj-run/journal/analyze.lock) &&
	test_status 75 an lk >o 2>e &&
	test_grep "stage analyze is locked by pid $pid" e &&
	test ! -s o &&
	wait_for 10 "test -s lst" &&
	test "$(cat lst)" = 0
'

test_done
