#!/bin/sh
# vj-status: the report and its --json form over a synthetic run whose
# counts follow from vj-mkstatus's pattern (tests/tools/vj-mkstatus.c):
# 200 jobs; ingest 2 pending, 2 failed, 2 of 196 done yesterday; analyze
# 20 pending, 10 retry ready, 20 waiting, 20 failed, 126 done; generate 20
# pending, 106 done; pack one shard of 100, 6 pending.
. "$(dirname "$0")/lib.sh"
MK="$TOP/tests/tools/vj-mkstatus"

test_expect_success 'make a run' '
	"$MK" run && test -f run/journal/analyze.log
'

test_expect_success '--json: version, jobs, per-stage queue counts' '
	vj-status -r run --json >s.json &&
	test "$(jq -r ".version, .run, .jobs" s.json | tr "\n" " ")" = "1 run 200 " &&
	test "$(jq -c "[.stages.ingest | .pending, .done, .retry_ready, .retry_waiting, .failed, .done_today]" s.json)" = "[2,196,0,0,2,194]" &&
	test "$(jq -c "[.stages.analyze | .pending, .done, .retry_ready, .retry_waiting, .failed, .done_today]" s.json)" = "[20,126,10,20,20,126]" &&
	test "$(jq -c "[.stages.generate | .pending, .done, .retry_ready, .retry_waiting, .failed]" s.json)" = "[20,106,0,0,0]" &&
	test "$(jq -c "[.stages.pack | .pending, .done, .shards, .bytes]" s.json)" = "[6,100,1,100000]"
'

test_expect_success '--json: requests, failure rate, tokens, cost' '
	test "$(jq -c "[.stages.analyze | .requests, .fails, .failure_rate]" s.json)" = "[226,100,0.4425]" &&
	test "$(jq -c ".stages.analyze.tokens" s.json)" = "{\"prompt\":226000,\"completion\":25200,\"cached\":12600}" &&
	test "$(jq -r ".stages.analyze.cost_usd, .stages.generate.cost_usd, .cost_usd" s.json | tr "\n" " ")" = "0.2512 0.318 0.5692 " &&
	test "$(jq -c ".stages.pack | [.failure_rate, .ms_avg, .ms_p50, .ms_p95]" s.json)" = "[null,null,null,null]"
'

test_expect_success '--json: times and running' '
	jq -e ".stages.ingest | .ms_p50 >= 5 and .ms_p50 <= 24 and .ms_p95 >= .ms_p50 and .ms_avg > 5" s.json &&
	jq -e ".stages.analyze | .ms_p95 >= .ms_p50 and .ms_p50 >= 800" s.json &&
	jq -e "[.stages[] | .last_activity | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$\")] | all" s.json &&
	jq -e "[.stages[] | .running_pid == null] | all" s.json
'

test_expect_success 'text: header, aligned rows, pack line, hints' '
	vj-status -r run >out &&
	test_grep "^run run: 200 jobs$" out &&
	test_grep -E "^ingest +2 +0 +0 +196 +2 +194 +-$" out &&
	test_grep -E "^analyze +20 +10 +20 +126 +20 +126 +-$" out &&
	test_grep -E "^pack +6 +- +- +100 +- +100 +-$" out &&
	test_grep -E "^analyze +[0-9.]+m?s .* 44\.2% +[0-9-]+T[0-9:]+Z \([0-9]+[smhd] ago\)$" out &&
	test_grep -E "^total +438000 +78200 +12600 +\\\$0\.5692$" out &&
	test_grep "^pack: 1 shard, 97.7 KiB$" out &&
	test_grep "22 jobs failed for good" out &&
	test $(awk "/^stage/ { print index(\$0, \"done\") }" out | head -1) -gt 0
'

test_expect_success 'text: the columns line up' '
	sed -n "4,7p" out >t &&
	test $(awk "{ print length(\$0) }" t | sort -u | wc -l) -eq 1 &&
	awk "NR == 3 { h = index(\$0, \"done\") + 3 } NR == 4 { r = index(\$0, \" 196 \") + 3 } END { exit !(h == r) }" out
'

test_expect_success '-q drops the hints' '
	vj-status -q -r run >q &&
	! grep "failed for good" q &&
	test_grep "^run run: 200 jobs" q
'

test_expect_success 'VJ_RUN, then ./vj-run by default' '
	VJ_RUN=run vj-status --json | jq -e ".jobs == 200" &&
	mkdir d && cp -r run d/vj-run && (cd d && vj-status --json) | jq -e ".run == \"./vj-run\" and .jobs == 200"
'

test_expect_success 'a missing run: exit 2' '
	test_status 2 vj-status -r nope 2>err &&
	test_grep "^vj-status: no run at nope$" err &&
	test_status 2 vj-status -r nope --json 2>/dev/null
'

test_expect_success 'an empty run directory: zero jobs' '
	mkdir empty && vj-status -r empty --json >e.json &&
	jq -e ".jobs == 0 and .stages.ingest.pending == 0 and .stages.ingest.last_activity == null and .cost_usd == 0" e.json &&
	vj-status -r empty | test_grep "^run empty: 0 jobs$"
'

test_expect_success 'a running stage shows its pid; --repair refuses it' '
	"$MK" --hold analyze --hold-for 4 held >held.out &
	pid=$! &&
	i=0 && while ! grep -q held held.out && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	test "$(vj-status -r held --json | jq .stages.analyze.running_pid)" = "$pid" &&
	vj-status -r held | test_grep -E "^analyze .* pid $pid$" &&
	test_status 75 vj-status -r held --repair analyze 2>err &&
	test_grep "is running (pid $pid)" err &&
	kill $pid; wait $pid || :
'

test_expect_success 'usage errors exit 2; --help and --version' '
	test_status 2 vj-status --bogus 2>/dev/null &&
	test_status 2 vj-status -r run extra 2>/dev/null &&
	test_status 2 vj-status -r run --check --failed 2>/dev/null &&
	test_status 2 vj-status -r run --check --json 2>/dev/null &&
	vj-status --help | test_grep "^usage: vj-status" &&
	vj-status --version | test_grep "^vj-status [0-9]"
'

test_expect_success 'a failed write of the report: exit 3' '
	if [ -w /dev/full ]; then
		test_status 3 vj-status -r run >/dev/full 2>err &&
		test_grep "error writing output" err
	fi
'

test_done
