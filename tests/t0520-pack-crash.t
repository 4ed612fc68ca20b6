#!/bin/sh
# vj-pack: exactly once through kill -9, a crash between rename and
# journal, the stage lock, and SIGTERM.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

rand() { od -An -N2 -tu2 /dev/urandom | tr -d " "; }

# check_out OUT N: no temporary files left in OUT, and check_shards OUT N
check_out() {
	test -z "$(ls -a $1 | grep "^\.shard-\|\.tmp\.")" || { echo "temp files left" >&2; return 1; }
	check_shards "$@"
}

test_expect_success 'kill -9 at random moments, then to the end: each record once' '
	vj-mkrun run 20000 >/dev/null &&
	i=0 &&
	while [ $i -lt 10 ]; do
		vj-pack -r run -o out --pending --shard-records 50 --fsync always -q >/dev/null 2>&1 &
		pid=$! &&
		sleep 0.$(( $(rand) % 6 + 1 )) &&
		kill -9 $pid 2>/dev/null || :
		wait $pid || :
		i=$((i + 1))
		say "kill $i: $(jq "[.shards[].records] | add" out/index.json 2>/dev/null) records packed"
	done &&
	vj-pack -r run -o out --pending --shard-records 50 >last.txt &&
	check_out out 20000 &&
	cut -d" " -f2- run/journal/pack.log | jq -r "select(.ev == \"shard\") | .ids[]" | sort >jids &&
	test $(wc -l <jids) -eq 20000 && test -z "$(uniq -d jids)"
'

test_expect_success 'a shard renamed but not journaled is removed and packed again' '
	vj-mkrun r2 30 >/dev/null &&
	vj-pack -r r2 -o o2 --pending --shard-records 10 >/dev/null &&
	# keep the header line and the first two shards
	head -n 3 r2/journal/pack.log >pl && mv pl r2/journal/pack.log &&
	: >o2/.shard-000007.tmp.12345 &&
	vj-pack -r r2 -o o2 --pending --shard-records 10 >again.txt 2>err.txt &&
	test_grep "shard-000002.tar.zst: not in the pack journal" err.txt &&
	test "$(jq -r .name again.txt)" = shard-000002.tar.zst &&
	test "$(jq -r .first again.txt)" = j0000020 &&
	check_out o2 30
'

test_expect_success 'an index.json lost after the journal is rebuilt' '
	rm o2/index.json &&
	vj-pack -r r2 -o o2 --pending </dev/null >/dev/null &&
	check_out o2 30
'

test_expect_success 'a second vj-pack on the run exits 75 naming the pid; SIGTERM exits 75' '
	vj-mkrun r3 5 --print >recs.jsonl &&
	mkfifo in &&
	{ vj-pack -r r3 -o o3 <in >o3.txt 2>o3.err & echo $! >pid; } &&
	exec 3>in &&
	pid=$(cat pid) && n=0 &&
	while [ "$(cat r3/journal/pack.lock 2>/dev/null)" != "$pid" ] && [ $n -lt 600 ]; do
		sleep 0.05; n=$((n + 1)); done &&
	head -n 3 recs.jsonl >&3 &&
	st=0 && vj-pack -r r3 -o o4 --pending 2>lock.err || st=$? &&
	test $st -eq 75 &&
	test_grep "locked by pid $pid" lock.err &&
	kill -TERM $pid &&
	st=0 && wait $pid || st=$? &&
	exec 3>&- &&
	test $st -eq 75 &&
	test_grep "interrupted" o3.err &&
	test ! -s o3.txt &&
	test -z "$(ls -a o3 | grep "^\.shard-")" &&
	test "$(jq ".shards | length" o3/index.json)" -eq 0 &&
	vj-pack -r r3 -o o3 --pending >o3b.txt && test $(jq .records o3b.txt) -eq 5
'

test_done
