#!/bin/sh
# vj-ingest under crashes: the lock, torn and corrupt journals, kill -9.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
start_fake --static img --latency-ms 20 --latency-dist uniform

test_expect_success 'a second vj-ingest on the same run exits 75 naming the holder' '
	fake_job /hang h1 >hang.jsonl &&
	{ vj-ingest --timeout 30 --grace 0.5 hang.jsonl >/dev/null 2>&1 || echo $? >st; } &
	i=0; while ! test -s vj-run/journal/ingest.lock && test $i -lt 50; do sleep 0.1; i=$((i+1)); done &&
	sleep 0.3 &&
	pid=$(cat vj-run/journal/ingest.lock) &&
	fake_job /img/dark.jpg other | test_status 75 vj-ingest 2>e &&
	test_grep "stage ingest is locked by pid $pid" e &&
	kill $pid &&
	i=0; while ! test -s st && test $i -lt 100; do sleep 0.1; i=$((i+1)); done &&
	test "$(cat st)" = 75
'

test_expect_success 'SIGTERM left the job journaled and pending, not failed' '
	grep -q "\"ev\":\"job\",\"id\":\"h1\"" vj-run/journal/ingest.log &&
	! grep -q "\"ev\":\"done\"" vj-run/journal/ingest.log &&
	! grep -q "\"ev\":\"fail\"" vj-run/journal/ingest.log
'

for i in 1 2 3 4 5 6; do fake_job /img/bright.jpg t$i; done >six.jsonl

test_expect_success 'a torn last line is cut off with a warning, saved aside, and redone' '
	vj-ingest -r torn six.jsonl >/dev/null &&
	size=$(wc -c <torn/journal/ingest.log) &&
	head -c $((size - 7)) torn/journal/ingest.log >t && cp t torn/journal/ingest.log &&
	vj-ingest -r torn six.jsonl >o 2>e &&
	test_grep "torn last record at byte offset" e &&
	ls torn/journal/ingest.log.torn.* &&
	test $(wc -l <o) -eq 6 &&
	test $(grep -c "\"ev\":\"done\"" torn/journal/ingest.log) -eq 6
'

test_expect_success 'corruption before the last line stops with file and offset, exit 3' '
	vj-ingest -r bad six.jsonl >/dev/null &&
	cp bad/journal/ingest.log before &&
	off=$(head -n 3 bad/journal/ingest.log | wc -c) &&
	printf "X" | dd of=bad/journal/ingest.log bs=1 seek=$((off + 30)) conv=notrunc 2>/dev/null &&
	test_status 3 vj-ingest -r bad six.jsonl >o 2>e &&
	test_grep "bad/journal/ingest.log: corrupt record at byte offset $off" e &&
	test ! -s o &&
	test $(wc -c <bad/journal/ingest.log) -eq $(wc -c <before)
'

test_expect_success '--repair cuts there after a backup, and the run goes on' '
	vj-ingest -r bad --repair six.jsonl >o 2>e &&
	test_grep "journal cut there, the original saved as" e &&
	test $(wc -l <o) -eq 6
'

test_expect_success 'kill -9 at random moments, then the same command: every job once, every object whole' '
	for i in $(seq 1 600); do fake_job /img/$(echo "dark bright gradient stripes sunset palette" | cut -d" " -f$((i % 6 + 1))).$(echo "jpg jpg jpg png jpg gif" | cut -d" " -f$((i % 6 + 1))) k$i; done >k.jsonl &&
	n=0 &&
	while [ $n -lt 8 ]; do
		vj-ingest -r crash -j 16 k.jsonl >/dev/null 2>&1 &
		pid=$! &&
		sleep 0.$(( (n * 37) % 5 + 1)) &&
		kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
		n=$((n + 1))
	done &&
	vj-ingest -r crash -j 16 k.jsonl >o 2>e &&
	test $(wc -l <o) -eq 600 &&
	test $(jq -r .id o | sort -u | wc -l) -eq 600 &&
	grep -o "\"ev\":\"job\",\"id\":\"[^\"]*\"" crash/journal/ingest.log | sort | uniq -d >dupjobs &&
	test ! -s dupjobs &&
	grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" crash/journal/ingest.log | sort >dones &&
	test $(wc -l <dones) -eq 600 && test $(sort -u dones | wc -l) -eq 600 &&
	for f in crash/objects/*/*; do
		name=$(basename $(dirname $f))$(basename $f) &&
		test "$(sha256sum <$f | cut -d" " -f1)" = "$name" || exit 1
	done &&
	test -z "$(ls crash/objects/.tmp)"
'

test_done
