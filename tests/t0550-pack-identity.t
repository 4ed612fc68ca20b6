#!/bin/sh
# vj-pack: a run is known to its output directories by its id (RUN/run.json),
# not by its path.  Moved, copied or restored together with its OUT, nothing
# is packed again or twice; a copy pointed at its original's OUT is refused;
# a vj 0.1 run gets an id and its OUT is taken over.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

# pack_none RUN OUT: a vj-pack that packs nothing and says nothing
pack_none() {
	vj-pack -r "$1" -o "$2" --pending --shard-records 10 >none.txt 2>none.err &&
	test ! -s none.txt && test ! -s none.err
}

test_expect_success 'a run of vj 0.1 (no run.json) gets an id from its first vj-pack' '
	mkdir w &&
	vj-mkrun w/run 25 >/dev/null &&
	test ! -e w/run/run.json &&
	vj-pack -r w/run -o w/out --pending --shard-records 10 >first.txt &&
	jq -e ".version == 1 and (.id | test(\"^[0-9a-f]{32}$\")) and (.created > 0)" w/run/run.json &&
	id=$(jq -r .id w/run/run.json) &&
	test "$(jq -r "[.shards[].run_id] | unique | join(\" \")" w/out/index.json)" = "$id" &&
	test "$(jq -r ".runs[0] | [.id, .jobs, .packed, .pending] | join(\" \")" w/out/index.json)" = "$id 25 25 0" &&
	shard_sums w/out >w.sum &&
	check_shards w/out 25
'

test_expect_success 'vj-ingest makes run.json with the run' '
	vj-mkimages --one 16x16 gradient png img.png &&
	printf "{\"imageUrl\": \"%s\", \"id\": \"x1\"}\n" "$PWD/img.png" | vj-ingest -q -r ing >/dev/null &&
	jq -e ".id | test(\"^[0-9a-f]{32}$\")" ing/run.json &&
	id=$(jq -r .id ing/run.json) &&
	printf "{\"imageUrl\": \"%s\", \"id\": \"x2\"}\n" "$PWD/img.png" | vj-ingest -q -r ing >/dev/null &&
	test "$(jq -r .id ing/run.json)" = "$id"
'

test_expect_success 'mv of the run and its OUT: nothing packed again' '
	mv w w2 &&
	pack_none w2/run w2/out &&
	shard_sums w2/out >w2.sum && test_cmp w.sum w2.sum &&
	test "$(jq -r "[.shards[].run] | unique | join(\" \")" w2/out/index.json)" = "$PWD/w2/run" &&
	check_shards w2/out 25
'

test_expect_success 'after the move, new jobs continue the same OUT' '
	vj-mkrun w2/run 5 --start 25 >/dev/null &&
	vj-pack -r w2/run -o w2/out --pending --shard-records 10 >more.txt &&
	test "$(jq -r "[.name, .records, .first] | join(\" \")" more.txt)" = "shard-000003.tar.zst 5 j0000025" &&
	check_shards w2/out 30 &&
	shard_sums w2/out >w2.sum
'

test_expect_success 'cp -a of the run and its OUT: the copy packs nothing, both stay whole' '
	cp -a w2 w3 &&
	pack_none w3/run w3/out &&
	pack_none w2/run w2/out &&
	shard_sums w3/out >w3.sum && test_cmp w2.sum w3.sum &&
	check_shards w3/out 30 && check_shards w2/out 30
'

test_expect_success 'restored under another path (a CI cache): nothing packed again' '
	tar -cf cache.tar w2 &&
	mkdir -p elsewhere/ws && tar -xf cache.tar -C elsewhere/ws &&
	pack_none elsewhere/ws/w2/run elsewhere/ws/w2/out &&
	vj-pack -r elsewhere/ws/w2/run -o elsewhere/ws/w2/out </dev/null >/dev/null 2>r.err &&
	test ! -s r.err &&
	check_shards elsewhere/ws/w2/out 30 &&
	cut -d" " -f2- elsewhere/ws/w2/run/journal/pack.log | jq -r "select(.ev == \"shard\") | .ids[]" |
		sort >jids &&
	test $(wc -l <jids) -eq 30 && test -z "$(uniq -d jids)" &&
	test -z "$(cut -d" " -f2- elsewhere/ws/w2/run/journal/pack.log | jq -r "select(.ev == \"unshard\")")"
'

test_expect_success 'a copy of the run pointed at the original OUT is refused (exit 3), OUT untouched' '
	cp -a w2/run copy &&
	vj-mkrun copy 3 --start 30 >/dev/null &&
	cp w2/out/index.json before.json &&
	test_status 3 vj-pack -r copy -o w2/out --pending >c.txt 2>c.err &&
	test_grep "copy has run id $(jq -r .id copy/run.json), and so has $PWD/w2/run" c.err &&
	test_grep "must not pack into one output directory" c.err &&
	test ! -s c.txt &&
	test_cmp before.json w2/out/index.json &&
	shard_sums w2/out >after.sum && test_cmp w2.sum after.sum &&
	pack_none w2/run w2/out
'

test_expect_success 'a copy made before a seal, its original moved away: refused once it diverged' '
	vj-mkrun d 30 --print >d.jsonl &&
	head -n 10 d.jsonl | vj-pack -r d -o dout >/dev/null &&
	cp -a d dcopy &&
	sed -n 11,20p d.jsonl | vj-pack -r d -o dout >/dev/null &&
	mv d dmoved &&
	sed -n 21,30p d.jsonl | vj-pack -r dcopy -o dother >/dev/null &&
	shard_sums dout >d.sum &&
	test_status 3 vj-pack -r dcopy -o dout --pending 2>dv.err &&
	test_grep "dout/shard-000001.tar.zst was sealed by run id $(jq -r .id dcopy/run.json)" dv.err &&
	test_grep "is a copy of the run that packed it" dv.err &&
	shard_sums dout >d2.sum && test_cmp d.sum d2.sum &&
	vj-pack --verify dout
'

test_expect_success 'a run whose run.json was replaced is refused where its shards are' '
	mv dmoved/run.json dmoved/run.json.orig &&
	test_status 3 vj-pack -r dmoved -o dout --pending 2>id.err &&
	test_grep "this run.s id is .*run.json replaced or removed" id.err &&
	mv dmoved/run.json.orig dmoved/run.json &&
	vj-pack -r dmoved -o dout --pending >/dev/null &&
	check_shards dout 30
'

test_expect_success 'a bad run.json: a link, not JSON, a newer version' '
	vj-mkrun b 2 >/dev/null &&
	ln -s "$PWD/w2/run/run.json" b/run.json &&
	test_status 3 vj-pack -r b -o bo --pending 2>b1.err &&
	test_grep "b/run.json: it is a symbolic link" b1.err &&
	rm b/run.json && echo "{" >b/run.json &&
	test_status 3 vj-pack -r b -o bo --pending 2>b2.err &&
	test_grep "b/run.json:.*not a JSON object" b2.err &&
	echo "{\"version\": 2, \"id\": \"0123456789abcdef0123456789abcdef\"}" >b/run.json &&
	test_status 3 vj-pack -r b -o bo --pending 2>b3.err &&
	test_grep "format version 2, this vj knows version 1 only" b3.err &&
	test ! -e bo/index.json
'

# crc32c, as the journals use it, for rewriting a journal as vj 0.1 wrote it
strip_seals() {
	python3 - "$1" <<-\EOF
	import json, sys
	def crc32c(b):
	    crc = 0xffffffff
	    for x in b:
	        crc ^= x
	        for _ in range(8):
	            crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1))
	    return crc ^ 0xffffffff
	out = []
	for line in open(sys.argv[1], "rb"):
	    ev = json.loads(line[9:])
	    ev.pop("seal", None)
	    js = json.dumps(ev, separators=(",", ":")).encode()
	    out.append(b"%08x " % crc32c(js) + js + b"\n")
	open(sys.argv[1], "wb").write(b"".join(out))
	EOF
}

test_expect_success 'an OUT of vj 0.1 (known by path) is taken over once, then known by id' '
	vj-mkrun old 25 >/dev/null && vj-mkrun other 4 --prefix k >/dev/null &&
	mkdir lw &&
	vj-pack -r old -o lw/out --pending --shard-records 10 >/dev/null &&
	vj-pack -r other -o lw/out --pending >/dev/null &&
	rm -r lw/out/journal old/run.json other/run.json &&
	strip_seals old/journal/pack.log && strip_seals other/journal/pack.log &&
	jq "del(.runs) | del(.shards[].run_id)" lw/out/index.json >i && mv i lw/out/index.json &&
	shard_sums lw/out >lw.sum &&
	vj-pack -r old -o lw/out --pending --shard-records 10 >t.txt 2>t.err &&
	test ! -s t.txt && test ! -s t.err &&
	test "$(jq "[.shards[] | select(.run_id != null)] | length" lw/out/index.json)" = 3 &&
	test "$(jq -r ".shards[] | select(.first == \"k0000000\") | .run" lw/out/index.json)" = "$PWD/other" &&
	vj-pack -r other -o lw/out --pending >o.txt 2>o.err &&
	test ! -s o.txt && test ! -s o.err &&
	test "$(jq "[.shards[] | select(.run_id != null)] | length" lw/out/index.json)" = 4 &&
	mv old lw/run && mv lw lw2 &&
	vj-pack -r lw2/run -o lw2/out --pending --shard-records 10 >m.txt 2>m.err &&
	test ! -s m.txt && test ! -s m.err &&
	vj-pack -r other -o lw2/out --pending >m2.txt 2>m2.err &&
	test ! -s m2.txt && test ! -s m2.err &&
	shard_sums lw2/out >lw2.sum && test_cmp lw.sum lw2.sum &&
	check_shards lw2/out 29
'

test_expect_success 'a run made for part 3 of 8 names its shards after the part' '
	vj-mkrun p 12 >/dev/null &&
	echo "{\"k\":3,\"n\":8}" >p/partition.json &&
	vj-pack -r p -o pout --pending --shard-records 5 >p.txt &&
	test "$(jq -r .name p.txt | tr "\n" " ")" = \
		"shard-p03of08-000000.tar.zst shard-p03of08-000001.tar.zst shard-p03of08-000002.tar.zst " &&
	jq -e ".runs[0].partition == {\"k\": 3, \"n\": 8}" pout/index.json &&
	check_shards pout 12 &&
	echo "{\"k\":9,\"n\":8}" >p/partition.json &&
	test_status 3 vj-pack -r p -o pout --pending 2>pp.err &&
	test_grep "p/partition.json: not a partition" pp.err
'

test_done
