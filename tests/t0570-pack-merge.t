#!/bin/sh
# vj-pack --merge OUT... -o DEST: the parts of a partitioned run become one
# dataset only when it is proven whole.  A missing part, an incomplete part,
# a job id in two parts, a damaged shard: each refused, by name, with
# nothing merged.  A good merge passes --verify; it links the shards.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

# jappend JOURNAL JSON: append an event, with its CRC-32C, as a stage would
jappend() {
	python3 - "$1" "$2" <<-\EOF
	import sys
	def crc32c(b):
	    crc = 0xffffffff
	    for x in b:
	        crc ^= x
	        for _ in range(8):
	            crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1))
	    return crc ^ 0xffffffff
	js = sys.argv[2].encode()
	with open(sys.argv[1], "ab") as f:
	    f.write(b"%08x " % crc32c(js) + js + b"\n")
	EOF
}
K=0123456789abcdef0123456789abcdef

# mkpart I K N PREFIX [START]: run rI of 12 jobs made for part K of N,
# packed into oI
mkpart() {
	vj-mkrun r$1 12 --prefix $4 --start ${5:-0} >/dev/null &&
	echo "{\"k\":$2,\"n\":$3}" >r$1/partition.json &&
	vj-pack -r r$1 -o o$1 --pending --shard-records 5 >/dev/null
}

test_expect_success 'three parts, merged: verified, every job once, the shards hard links' '
	mkpart 1 1 3 a && mkpart 2 2 3 b && mkpart 3 3 3 c &&
	vj-pack --merge o1 o2 o3 -o dest 2>m.err &&
	test_grep "merged 9 shards, 36 records, of 3 runs into dest (0 copied" m.err &&
	check_shards dest 36 &&
	ls o1 o2 o3 | grep "^shard-" | sort >want && jq -r ".shards[].name" dest/index.json >got &&
	test_cmp want got &&
	test "$(jq -c "[.runs[].partition.k] | sort" dest/index.json)" = "[1,2,3]" &&
	test "$(stat -c %i dest/shard-p02of03-000001.tar.zst)" = "$(stat -c %i o2/shard-p02of03-000001.tar.zst)" &&
	vj-pack --merge o1 o2 o3 -o dest 2>again.err &&
	check_shards dest 36
'

test_expect_success 'DEST is an OUT like any other: --reindex, and its runs pack on into it' '
	rm dest/index.json && vj-pack --reindex dest 2>/dev/null && check_shards dest 36 &&
	vj-mkrun r2 3 --prefix b --start 12 >/dev/null &&
	vj-pack -r r2 -o dest --pending >more.txt &&
	test "$(jq -r "[.name, .records] | join(\" \")" more.txt)" = "shard-p02of03-000003.tar.zst 3" &&
	check_shards dest 39 &&
	vj-pack -r r2 -o o2 --pending >/dev/null
'

test_expect_success 'a part missing: refused, naming it; DEST gets nothing' '
	test_status 1 vj-pack --merge o1 o3 -o d1 2>miss.err &&
	test_grep "part 2 of 3 is missing: none of the output directories given holds it" miss.err &&
	test_grep "merge into d1 refused: 1 problem" miss.err &&
	test -z "$(ls d1)"
'

test_expect_success 'a part incomplete (pending, retryable): refused with the counts' '
	jappend r2/journal/ingest.log "{\"ev\":\"job\",\"id\":\"bx1\",\"t\":1,\"key\":\"$K\",\"job\":{\"imageUrl\":\"https://img.example/x.png\"}}" &&
	jappend r3/journal/ingest.log "{\"ev\":\"job\",\"id\":\"cx1\",\"t\":1,\"key\":\"$K\",\"job\":{\"imageUrl\":\"https://img.example/x.png\"}}" &&
	jappend r3/journal/ingest.log "{\"ev\":\"fail\",\"id\":\"cx1\",\"t\":2,\"key\":\"$K\",\"attempt\":1,\"kind\":\"retryable\",\"final\":false,\"error\":\"HTTP 503\",\"retry_at\":3}" &&
	vj-pack -r r2 -o o2 --pending >/dev/null && vj-pack -r r3 -o o3 --pending >/dev/null &&
	test_status 1 vj-pack --merge o1 o2 o3 -o d2 2>inc.err &&
	test_grep "part 2/3 (run $(jq -r .id r2/run.json), $PWD/r2, in o2) is incomplete: 1 jobs pending, 0 retryable" inc.err &&
	test_grep "part 3/3 (run $(jq -r .id r3/run.json), $PWD/r3, in o3) is incomplete: 0 jobs pending, 1 retryable" inc.err &&
	test -z "$(ls d2)"
'

test_expect_success 'a part whose jobs failed for good is complete' '
	jappend r2/journal/ingest.log "{\"ev\":\"fail\",\"id\":\"bx1\",\"t\":3,\"key\":\"$K\",\"attempt\":1,\"kind\":\"permanent\",\"final\":true,\"error\":\"HTTP 404\"}" &&
	jappend r3/journal/ingest.log "{\"ev\":\"fail\",\"id\":\"cx1\",\"t\":4,\"key\":\"$K\",\"attempt\":2,\"kind\":\"permanent\",\"final\":true,\"error\":\"HTTP 404\"}" &&
	vj-pack -r r2 -o o2 --pending >/dev/null && vj-pack -r r3 -o o3 --pending >/dev/null &&
	vj-pack --merge o1 o2 o3 -o d3 2>/dev/null &&
	test "$(jq -c "[.runs[] | .failed] | add" d3/index.json)" = 2 &&
	vj-pack --verify d3
'

test_expect_success 'a job id in two parts: refused, naming the id and both shards' '
	mkpart 4 1 4 x && mkpart 5 2 4 y && mkpart 6 3 4 z && mkpart 7 4 4 x 10 &&
	test_status 1 vj-pack --merge o4 o5 o6 o7 -o d4 2>dup.err &&
	test_grep "job id x0000010 is in o4/shard-p01of04-000002.tar.zst and in o7/shard-p04of04-000000.tar.zst" dup.err &&
	test_grep "job id x0000011 is in" dup.err &&
	test -z "$(ls d4 | grep shard)"
'

test_expect_success 'a damaged shard: refused, naming it; nothing merged' '
	printf "\377" | dd of=o2/shard-p02of03-000001.tar.zst bs=1 seek=300 conv=notrunc 2>/dev/null &&
	test_status 1 vj-pack --merge o1 o2 o3 -o d5 2>dmg.err &&
	test_grep "o2/shard-p02of03-000001.tar.zst: damaged shard: sha256" dmg.err &&
	test -z "$(ls -A d5 | grep -v "^.vj-pack.lock$")"
'

test_expect_success 'parts of two partitions, a run in two OUTs, an index that disagrees: refused' '
	mkpart 8 1 2 p && mkpart 9 1 3 q &&
	test_status 1 vj-pack --merge o8 o9 -o d6 2>mix.err &&
	test_grep "one of [23] parts, .* one of [23]: the parts come from different partitions" mix.err &&
	cp -a o8 o8copy &&
	test_status 1 vj-pack --merge o8 o8copy -o d7 2>two.err &&
	test_grep "run $(jq -r .id r8/run.json) is in o8 and in o8copy" two.err &&
	jq "del(.shards[0])" o9/index.json >i && mv i o9/index.json &&
	test_status 1 vj-pack --merge o9 -o d8 2>idx.err &&
	test_grep "o9/index.json does not list what o9/journal/out.log records: run vj-pack --reindex o9" idx.err
'

mkdir other
if mount -t tmpfs -o size=8m tmpfs other 2>/dev/null; then
test_expect_success 'across file systems the shards are copied, and checked as copied' '
	mkpart 10 1 2 s && mkpart 11 2 2 t &&
	vj-pack --merge o10 o11 -o other/dest 2>x.err &&
	test_grep "merged 6 shards, 24 records, of 2 runs into other/dest (6 copied" x.err &&
	check_shards other/dest 24
'
umount other
else
test_skip 'across file systems: cannot mount a tmpfs (not root?)'
fi

test_expect_success 'usage: --merge needs -o and OUTs, takes no --pending; DEST is not a part' '
	test_status 2 vj-pack --merge o1 o2 &&
	test_status 2 vj-pack --merge -o d9 &&
	test_status 2 vj-pack --merge --pending -o d9 o1 &&
	test_status 2 vj-pack --merge o1 o1 -o d9 2>u1.err &&
	test_grep "o1 is given twice" u1.err &&
	test_status 2 vj-pack --merge o1 -o o1 2>u2.err &&
	test_grep "o1 is DEST itself" u2.err
'

test_done
