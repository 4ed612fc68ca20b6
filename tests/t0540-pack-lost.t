#!/bin/sh
# vj-pack: shards journaled for an OUT whose files are gone or changed
# (OUT deleted, a shard removed, truncated or overwritten) are noticed at
# start, forgotten with an unshard event, and their jobs packed again.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

events() { cut -d" " -f2- run/journal/pack.log | jq -c "$1"; }

test_expect_success 'OUT deleted: the same shards again, named, the index true' '
	vj-mkrun run 25 >/dev/null &&
	vj-pack -r run -o out --pending --shard-records 10 >first.txt &&
	shard_sums out >first.sum &&
	rm -rf out &&
	vj-pack -r run -o out --pending --shard-records 10 >again.txt 2>again.err &&
	test_grep "vj-pack: out/shard-000000.tar.zst is missing: its 10 jobs will be packed again" again.err &&
	test_grep "out/shard-000002.tar.zst is missing: its 5 jobs will be packed again" again.err &&
	test $(wc -l <again.txt) -eq 3 &&
	shard_sums out >again.sum && test_cmp first.sum again.sum &&
	check_shards out 25
'

test_expect_success 'the journal records the loss: unshard events with ids' '
	events "select(.ev == \"unshard\") | [.name, .reason, .records, (.ids | length), .out]" >un &&
	cat >want <<-\EOF &&
	["shard-000000.tar.zst","missing",10,10,"out"]
	["shard-000001.tar.zst","missing",10,10,"out"]
	["shard-000002.tar.zst","missing",5,5,"out"]
	EOF
	test_cmp want un
'

test_expect_success 'vj-status counts each job packed once, and the shards that exist' '
	vj-status -r run --json >st.json &&
	test "$(jq -c ".stages.pack | [.done, .done_today, .shards]" st.json)" = "[25,25,3]"
'

test_expect_success 'nothing lost: a second run packs nothing and says nothing' '
	vj-pack -r run -o out --pending --shard-records 10 >none.txt 2>none.err &&
	test ! -s none.txt && test ! -s none.err
'

test_expect_success 'one shard removed: only its jobs, into the next number' '
	rm out/shard-000001.tar.zst &&
	vj-pack -r run -o out --pending --shard-records 10 >one.txt 2>one.err &&
	test_grep "out/shard-000001.tar.zst is missing: its 10 jobs" one.err &&
	test "$(jq -r "[.name, .records, .first, .last] | join(\" \")" one.txt)" = \
		"shard-000003.tar.zst 10 j0000010 j0000019" &&
	check_shards out 25
'

test_expect_success 'a truncated shard: removed and packed again' '
	truncate -s -100 out/shard-000002.tar.zst &&
	vj-pack -r run -o out --pending --shard-records 10 >tr.txt 2>tr.err &&
	test_grep "out/shard-000002.tar.zst has [0-9]* bytes, the journal says [0-9]*: its 5 jobs" tr.err &&
	test "$(jq -r .name tr.txt)" = shard-000004.tar.zst &&
	check_shards out 25
'

test_expect_success 'a shard overwritten with other bytes of the same size: found by its sha256' '
	f=out/shard-000000.tar.zst &&
	sleep 0.05 &&
	printf "\377" | dd of=$f bs=1 seek=300 conv=notrunc 2>/dev/null &&
	vj-pack -r run -o out --pending --shard-records 10 >ov.txt 2>ov.err &&
	test_grep "out/shard-000000.tar.zst does not match its sha256 in the journal: its 10 jobs" ov.err &&
	test "$(jq -r .name ov.txt)" = shard-000005.tar.zst &&
	check_shards out 25
'

test_expect_success 'pipe mode: the index is corrected; the records are packed when given' '
	vj-mkrun run2 6 --print >recs.jsonl &&
	vj-pack -r run2 -o p recs.jsonl >/dev/null &&
	rm p/shard-000000.tar.zst &&
	vj-pack -r run2 -o p </dev/null >p1.txt 2>p1.err &&
	test_grep "p/shard-000000.tar.zst is missing: its 6 jobs will be packed again when given again" p1.err &&
	test ! -s p1.txt &&
	test "$(jq ".shards | length" p/index.json)" = 0 &&
	vj-pack -r run2 -o p recs.jsonl >p2.txt &&
	test $(jq .records p2.txt) -eq 6 &&
	check_shards p 6
'

test_expect_success 'another run in the same OUT: its missing shard leaves the index' '
	vj-mkrun run3 4 --prefix k >/dev/null &&
	vj-pack -r run3 -o out --pending >k.txt &&
	k=$(jq -r .name k.txt) &&
	rm out/$k &&
	vj-pack -r run -o out --pending >/dev/null 2>k.err &&
	test_grep "out/$k is missing: dropped from the index" k.err &&
	! jq -e ".shards[] | select(.name == \"$k\")" out/index.json >/dev/null &&
	vj-pack -r run3 -o out --pending >k2.txt 2>k2.err &&
	test_grep "out/$k is missing: its 4 jobs will be packed again" k2.err &&
	test $(jq .records k2.txt) -eq 4 &&
	check_shards out 29
'

test_done
