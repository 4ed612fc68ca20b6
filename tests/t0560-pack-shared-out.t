#!/bin/sh
# vj-pack: several runs packing into one OUT.  A shard's owner is proven by
# OUT's own log and the owner's pack journal, never by index.json: with the
# index lost, or a crash between one run's seal and its index rewrite, the
# next run deletes nothing of another's, and --reindex rebuilds the index
# from what is on disk.  --verify names files the index does not list and
# refuses names that leave OUT.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

rand() { od -An -N2 -tu2 /dev/urandom | tr -d " "; }
events() { cut -d" " -f2- "$1/journal/pack.log" | jq -c "$2"; }
# the records of OUT's log from its last intent on are cut off: what a kill
# -9 after that intent leaves of it
cut_after_intent() {
	n=$(grep -n "\"ev\":\"intent\"" "$1/journal/out.log" | tail -n 1 | cut -d: -f1) &&
	head -n "$n" "$1/journal/out.log" >cut.log && mv cut.log "$1/journal/out.log"
}

test_expect_success 'two runs into one OUT, index.json deleted between them: nothing deleted' '
	vj-mkrun a 20 --prefix a --print >a.jsonl &&
	vj-mkrun b 15 --prefix b >/dev/null &&
	vj-pack -r a -o out --pending --shard-records 10 >/dev/null &&
	shard_sums out >a.sum &&
	rm out/index.json &&
	vj-pack -q -r b -o out --pending --shard-records 10 >b.txt 2>b.err &&
	test ! -s b.err &&
	test "$(jq -r .name b.txt | tr "\n" " ")" = "shard-000002.tar.zst shard-000003.tar.zst " &&
	shard_sums out | head -n 2 >a2.sum && test_cmp a.sum a2.sum &&
	test "$(jq -r "[.shards[].first] | join(\" \")" out/index.json)" = \
		"a0000000 a0000010 b0000000 b0000010" &&
	check_shards out 35 &&
	test -z "$(events a "select(.ev == \"unshard\")")" &&
	vj-pack -q -r a -o out --pending >/dev/null 2>a.err && test ! -s a.err
'

test_expect_success '--reindex rebuilds the same index.json from the log and the files' '
	cp out/index.json before.json &&
	rm out/index.json &&
	vj-pack --reindex out 2>r.err &&
	test_grep "out/index.json rebuilt: 4 shards, 35 records" r.err &&
	jq -S . before.json >want && jq -S . out/index.json >got && test_cmp want got &&
	echo "{\"version\": 1, \"shards\": []}" >out/index.json &&
	vj-pack --reindex out 2>/dev/null &&
	jq -S . out/index.json >got2 && test_cmp want got2 &&
	vj-pack --verify out
'

test_expect_success 'a kill between one run'"'"'s seal and its index rewrite: the other run lists it' '
	vj-mkrun c 20 --prefix c --print >c.jsonl &&
	vj-mkrun d 15 --prefix d >/dev/null &&
	head -n 10 c.jsonl | vj-pack -r c -o co >/dev/null &&
	cp co/index.json old-index.json &&
	tail -n 10 c.jsonl | vj-pack -r c -o co >c2.txt &&
	cut_after_intent co && cp old-index.json co/index.json &&
	shard_sums co >c.sum &&
	vj-pack -q -r d -o co --pending --shard-records 10 >d.txt 2>d.err &&
	test ! -s d.err &&
	shard_sums co | head -n 2 >c2.sum && test_cmp c.sum c2.sum &&
	test "$(jq -r "[.shards[] | .first] | join(\" \")" co/index.json)" = \
		"c0000000 c0000010 d0000000 d0000010" &&
	check_shards co 35 &&
	vj-pack -q -r c -o co --pending >c3.txt 2>c3.err &&
	test ! -s c3.txt && test ! -s c3.err &&
	test -z "$(events c "select(.ev == \"unshard\")")"
'

test_expect_success 'a kill between the rename and the journal: kept, unlisted, until its run removes it' '
	vj-mkrun e 20 --prefix e --print >e.jsonl &&
	vj-mkrun f 15 --prefix f >/dev/null &&
	head -n 10 e.jsonl | vj-pack -r e -o eo >/dev/null &&
	cp eo/index.json old-index.json &&
	tail -n 10 e.jsonl | vj-pack -r e -o eo >/dev/null &&
	cut_after_intent eo && cp old-index.json eo/index.json &&
	head -n -1 e/journal/pack.log >pl && mv pl e/journal/pack.log &&
	vj-pack -r f -o eo --pending --shard-records 10 >f.txt 2>f.err &&
	test_grep "eo/shard-000001.tar.zst: its seal by run $(jq -r .id e/run.json) (last at $PWD/e) is unfinished, and not in that run.s pack journal: not listed" f.err &&
	test -f eo/shard-000001.tar.zst &&
	test "$(jq -r "[.shards[].name] | join(\" \")" eo/index.json)" = \
		"shard-000000.tar.zst shard-000002.tar.zst shard-000003.tar.zst" &&
	test_status 1 vj-pack --verify eo 2>v.err &&
	test_grep "eo/shard-000001.tar.zst: a shard file that index.json does not list" v.err &&
	test_status 1 vj-pack --reindex eo 2>r.err &&
	test_grep "eo/shard-000001.tar.zst: its seal by run" r.err &&
	test -f eo/shard-000001.tar.zst &&
	vj-pack -r e -o eo --pending --shard-records 10 >e2.txt 2>e2.err &&
	test_grep "eo/shard-000001.tar.zst: not in the pack journal (vj-pack stopped while sealing it): removed" e2.err &&
	test "$(jq -r "[.name, .first, .records] | join(\" \")" e2.txt)" = "shard-000004.tar.zst e0000010 10" &&
	check_shards eo 35
'

test_expect_success 'a shard file that no record explains is named and left alone' '
	cp eo/shard-000000.tar.zst eo/shard-000077.tar.zst &&
	vj-pack -r f -o eo --pending >/dev/null 2>s.err &&
	test_grep "eo/shard-000077.tar.zst: no record in eo/journal/out.log or index.json says whose shard it is: left alone" s.err &&
	test -f eo/shard-000077.tar.zst &&
	test_status 1 vj-pack --verify eo 2>s2.err &&
	test_grep "shard-000077.tar.zst: a shard file that index.json does not list" s2.err &&
	rm eo/shard-000077.tar.zst && vj-pack --verify eo
'

test_expect_success 'kill -9 at random moments of two runs taking turns: each job once, none lost' '
	vj-mkrun g 2000 --prefix g >/dev/null &&
	vj-mkrun h 2000 --prefix h >/dev/null &&
	i=0 &&
	while [ $i -lt 8 ]; do
		r=g; [ $((i % 2)) -eq 1 ] && r=h
		vj-pack -r $r -o go --pending --shard-records 50 --fsync always -q >/dev/null 2>&1 &
		pid=$! &&
		sleep 0.$(( $(rand) % 4 + 1 )) &&
		kill -9 $pid 2>/dev/null || :
		wait $pid || :
		[ $((i % 3)) -eq 2 ] && rm -f go/index.json
		i=$((i + 1))
	done &&
	vj-pack -r g -o go --pending --shard-records 50 >/dev/null &&
	vj-pack -r h -o go --pending --shard-records 50 >/dev/null &&
	check_shards go 4000 &&
	test -z "$(events g "select(.ev == \"unshard\")")$(events h "select(.ev == \"unshard\")")" &&
	test "$(jq -r "[.runs[] | .packed] | join(\" \")" go/index.json)" = "2000 2000"
'

test_expect_success '--verify refuses index names with a path separator or ..' '
	cp -r out bad &&
	jq ".shards[0].name = \"../out/shard-000000.tar.zst\"" out/index.json >bad/index.json &&
	test_status 1 vj-pack --verify bad 2>n1.err &&
	test_grep "the entry \"../out/shard-000000.tar.zst\" is not a file name in bad" n1.err &&
	test_grep "bad/shard-000000.tar.zst: a shard file that index.json does not list" n1.err &&
	jq ".shards[0].name = \"/etc/passwd\"" out/index.json >bad/index.json &&
	test_status 1 vj-pack --verify bad 2>n2.err &&
	test_grep "the entry \"/etc/passwd\" is not a file name" n2.err &&
	jq ".shards[1] = .shards[0]" out/index.json >bad/index.json &&
	test_status 1 vj-pack --verify bad 2>n3.err &&
	test_grep "shard-000000.tar.zst is listed twice" n3.err
'

test_expect_success 'usage: --reindex alone, of a directory that exists' '
	test_status 2 vj-pack --reindex out -o x &&
	test_status 2 vj-pack --reindex nosuch 2>u.err &&
	test_grep "nosuch: no such output directory" u.err &&
	test_status 2 vj-pack --reindex out --verify out
'

test_done
