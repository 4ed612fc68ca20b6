#!/bin/sh
# vj-ingest --replace and --forget through a whole pipe, with a kill -9 in
# the middle: the replaced job's new version is in the dataset exactly
# once and its old entry marked superseded, the forgotten job is absent,
# no other job is repeated or lost; and the bad inputs of both options.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0580 GEMINI_API_KEY=k0580
start_fake --seed 580
N=30

# live OUT: the ids of OUT's samples that index.json does not mark superseded
live() {
	for f in $(jq -r ".shards[].name" $1/index.json); do
		bsdtar -tf $1/$f | grep "\.json$" | sed "s/\.json$//" | sort >all.$f
		jq -r --arg n "$f" ".shards[] | select(.name == \$n) | .superseded // [] | .[]" \
			$1/index.json | sort >sup.$f
		comm -23 all.$f sup.$f
	done | sort
}
# member OUT ID: the json member of ID's live sample
member() {
	for f in $(jq -r ".shards[].name" $1/index.json); do
		jq -e --arg n "$f" --arg id "$2" ".shards[] | select(.name == \$n) |
			(.superseded // []) | index(\$id) == null" $1/index.json >/dev/null || continue
		bsdtar -xOf $1/$f "$2.json" 2>/dev/null
	done
}

test_expect_success "$N jobs through the pipe" '
	i=0 && while [ $i -lt $N ]; do
		printf "{\"imageUrl\": \"img/%s\", \"id\": \"j%02d\"}\n" \
			$(echo "dark.jpg bright.jpg half-red-half-blue.png" | cut -d" " -f$((i % 3 + 1))) $i
		i=$((i + 1))
	done >jobs.jsonl &&
	vj-ingest -q jobs.jsonl | vj-analyze -q --base-url "$FAKE_URL" |
		vj-generate -q --provider offline | vj-pack -q -o out --shard-records 10 >/dev/null &&
	live out >ids0 && test $(wc -l <ids0) -eq $N
'

test_expect_success 'a corrected line with the same id is refused without --replace (exit 1)' '
	echo "{\"imageUrl\": \"img/subject-left.png\", \"id\": \"j05\", \"imageContext\": \"fixed\"}" >fix.jsonl &&
	test_status 1 vj-ingest fix.jsonl 2>err &&
	test_grep "fix.jsonl:1: id j05: already holds a different job in this run" err &&
	test_grep "with --replace" err
'

test_expect_success '--replace of a line whose id is new is refused, file:line (exit 1)' '
	echo "{\"imageUrl\": \"img/dark.jpg\", \"id\": \"new1\"}" >new.jsonl &&
	test_status 1 vj-ingest --replace new.jsonl 2>err &&
	test_grep "new.jsonl:1: id new1: --replace: the run holds no job with this id" err &&
	test "$(vj-status --json | jq .jobs)" -eq $N
'

test_expect_success '--forget of an unknown id, a malformed forget file: refused, nothing withdrawn (exit 2)' '
	test_status 2 vj-ingest --forget nosuch 2>err &&
	test_grep "job nosuch: the run ./vj-run holds no job with this id: nothing withdrawn" err &&
	printf "j07\nnot an id\n" >bad.ids &&
	test_status 2 vj-ingest --forget-file bad.ids 2>err &&
	test_grep "bad.ids:2: not a job id" err &&
	test_status 2 vj-ingest --forget-file missing.ids 2>err &&
	test_grep "missing.ids" err &&
	test_status 2 vj-ingest --forget j07 jobs.jsonl 2>err &&
	test_grep "read no manifest" err &&
	test_status 2 vj-ingest -r nowhere --forget j07 2>err &&
	test_grep "no run at nowhere" err &&
	! grep -q "\"ev\":\"forget\"" vj-run/journal/ingest.log
'

test_expect_success 'replace j05, forget j07; kill -9 vj-analyze while it works on j05' '
	vj-ingest -q --replace fix.jsonl >/dev/null &&
	printf "# a comment\nj07\n\n" >forget.ids &&
	vj-ingest --forget-file forget.ids 2>err &&
	test_grep "1 job withdrawn" err &&
	fake_script "j05 slow\n" &&
	vj-analyze --pending --base-url "$FAKE_URL" >/dev/null 2>&1 &
	pid=$! &&
	n=0 && while [ "$(fake_count j05)" -lt 2 ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done &&
	kill -9 $pid && { wait $pid || :; } &&
	test "$(fake_count j05)" -eq 2
'

test_expect_success 'after the crash: no stage takes the stale analysis of j05' '
	vj-generate -q --pending --provider offline >gen.out &&
	test ! -s gen.out &&
	vj-pack --pending -o out --shard-records 10 >pack1.out 2>pack1.err &&
	test ! -s pack1.out &&
	test_grep "1 withdrawn job marked" pack1.err &&
	live out >ids1 && ! grep -qx j07 ids1 && grep -qx j05 ids1 &&
	jq -e ".runs[0] | .pending == 1 and .withdrawn == 1 and .jobs == $((N - 1))" out/index.json
'

test_expect_success 'the run again: j05 in its new version exactly once, the old one superseded' '
	vj-analyze -q --pending --base-url "$FAKE_URL" >/dev/null &&
	vj-generate -q --pending --provider offline >/dev/null &&
	vj-pack -q --pending -o out --shard-records 10 >pack2.out &&
	test "$(jq -r .first pack2.out)" = j05 && test "$(jq .records pack2.out)" -eq 1 &&
	live out >ids2 &&
	grep -vx j07 ids0 >want &&
	test_cmp want ids2 &&
	test -z "$(uniq -d ids2)" &&
	member out j05 | jq -e ".job.imageContext == \"fixed\" and (.job.imageUrl | endswith(\"subject-left.png\"))" &&
	jq -e "[.shards[] | .superseded // [] | .[]] | sort == [\"j05\", \"j07\"]" out/index.json &&
	jq -e "[.shards[] | .withdrawn // [] | .[]] == [\"j07\"]" out/index.json &&
	jq -e ".runs[0] | .pending == 0 and .packed == $((N - 1)) and .withdrawn == 1" out/index.json &&
	vj-pack --verify out
'

test_expect_success 'the old results stay in the journals; the new ones win' '
	test $(grep -c "\"ev\":\"done\",\"id\":\"j05\"" vj-run/journal/ingest.log) -eq 2 &&
	test $(grep -c "\"ev\":\"done\",\"id\":\"j05\"" vj-run/journal/analyze.log) -eq 2 &&
	test $(grep -c "\"ev\":\"done\",\"id\":\"j05\"" vj-run/journal/generate.log) -eq 2 &&
	vj-status --json >st.json &&
	jq -e ".jobs == $N and .withdrawn == 1" st.json &&
	vj-status >st.txt && test_grep "1 withdrawn" st.txt
'

test_expect_success 'nothing more to do; --reindex and --merge keep the marks' '
	vj-pack --pending -o out >again.out 2>&1 && test ! -s again.out &&
	cp out/index.json before.json &&
	rm out/index.json && vj-pack -q --reindex out &&
	jq -S .shards before.json >a && jq -S .shards out/index.json >b && test_cmp a b &&
	vj-pack -q --merge out -o merged &&
	vj-pack --verify merged &&
	live merged >ids3 && test_cmp want ids3
'

test_expect_success 'a withdrawn job given again needs --replace, then comes back' '
	grep "\"id\": \"j07\"" jobs.jsonl >j07.jsonl &&
	test_status 1 vj-ingest j07.jsonl 2>err &&
	test_grep "id j07: was withdrawn from this run" err &&
	vj-ingest -q --replace j07.jsonl | vj-analyze -q --base-url "$FAKE_URL" |
		vj-generate -q --provider offline | vj-pack -q -o out >/dev/null &&
	live out >ids4 && test_cmp ids0 ids4
'

test_expect_success 'a stale analysis is not taken for a job not generated before its --replace' '
	echo "{\"imageUrl\": \"img/dark.jpg\", \"id\": \"s1\"}" >s1.jsonl &&
	vj-ingest -q -r r2 s1.jsonl | vj-analyze -q -r r2 --provider offline >/dev/null &&
	echo "{\"imageUrl\": \"img/bright.jpg\", \"id\": \"s1\", \"imageContext\": \"new\"}" >s1b.jsonl &&
	vj-ingest -q -r r2 --replace s1b.jsonl >/dev/null &&
	vj-generate -q -r r2 --pending --provider offline >g.out && test ! -s g.out &&
	vj-analyze -q -r r2 --pending --provider offline >/dev/null &&
	vj-generate -q -r r2 --pending --provider offline >g.out && test $(wc -l <g.out) -eq 1 &&
	jq -e ".job.imageContext == \"new\" and (.job.imageUrl | endswith(\"bright.jpg\"))" g.out
'

test_expect_success 'a job that failed for good is fixed by --replace; --retry-failed takes the new URL' '
	echo "{\"imageUrl\": \"img/nosuch.jpg\", \"id\": \"f1\"}" >f1.jsonl &&
	test_status 1 vj-ingest -q -r r3 f1.jsonl >/dev/null 2>&1 &&
	echo "{\"imageUrl\": \"img/later.jpg\", \"id\": \"f1\"}" >f1b.jsonl &&
	test_status 1 vj-ingest -q -r r3 --replace f1b.jsonl >/dev/null 2>err &&
	test_grep "later.jpg" err &&
	cp img/dark.jpg img/later.jpg &&
	vj-ingest -r r3 --pending >p.out 2>/dev/null && test ! -s p.out &&
	vj-ingest -q -r r3 --pending --retry-failed >p.out &&
	jq -e ".id == \"f1\" and (.job.imageUrl | endswith(\"later.jpg\")) and .image.sha256 != null" p.out
'

test_expect_success 'vj-pack --verify: a live id in two shards is a problem, a superseded one is not' '
	cp -r out vout &&
	jq "(.shards[] | select((.superseded // []) | index(\"j05\")) | .superseded) |= . - [\"j05\"]" \
		out/index.json >vout/index.json &&
	test_status 1 vj-pack --verify vout 2>err &&
	test_grep "job id j05 is live in shard-0000.*tar.zst and in shard-0000.*tar.zst" err &&
	jq "(.shards[] | select((.superseded // []) | index(\"j05\")) | .superseded) |= . + [\"zz\"]" \
		out/index.json >vout/index.json &&
	test_status 1 vj-pack --verify vout 2>err &&
	test_grep "ids superseded, the shard holds" err &&
	vj-pack --verify out 2>err && test_grep "superseded or withdrawn" err
'

test_expect_success 'vj-pack --merge checks the parts against themselves' '
	PATH="$TOP/tests/tools:$PATH" &&
	run=$(jq -r ".runs[0].id" out/index.json) &&
	name=$(jq -r "[.shards[] | select(.superseded == null and .records == 10)][0].name" out/index.json) &&
	seal=$(cut -d" " -f2- out/journal/out.log | jq -r --arg n $name "select(.ev == \"intent\" and .name == \$n) | .seal") &&
	rm -rf m1 && cp -r out m1 &&
	printf "{\"ev\":\"withdraw\",\"t\":1,\"run\":\"%s\",\"seal\":\"%s\",\"ids\":[\"nosuch\"]}\n" $run $seal |
		vj-jline >>m1/journal/out.log &&
	vj-pack -q --reindex m1 &&
	test_status 1 vj-pack --merge m1 -o d1 2>err &&
	test_grep "its shards hold 29 records, its last vj-pack packed 30" err &&
	cut -d" " -f2- out/journal/out.log | jq -c "select(.ev == \"runstate\")" | tail -n 1 |
		jq -c ".jobs -= 1 | .packed -= 1" | vj-jline >>m1/journal/out.log &&
	vj-pack -q --reindex m1 &&
	test_status 1 vj-pack --merge m1 -o d1 2>err &&
	test_grep "$name: its index entry marks 1 ids superseded or withdrawn, the shard holds 0" err &&
	test_grep "its shards hold 30 live job ids (read back), its last vj-pack counted 29 packed" err &&
	rm -rf m2 && cp -r out m2 &&
	cut -d" " -f2- out/journal/out.log | jq -c "select(.ev == \"runstate\")" | tail -n 1 |
		jq -c ".jobs += 2" | vj-jline >>m2/journal/out.log &&
	vj-pack -q --reindex m2 &&
	test_status 1 vj-pack --merge m2 -o d2 2>err &&
	test_grep "its counts do not add up: 32 jobs, 30 packed, 0 failed for good" err &&
	test ! -e d1/index.json && test ! -e d2/index.json
'

test_done
