#!/bin/sh
# vj-pack: a missing image, a full disk, and --verify on damaged shards.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

test_expect_success 'a missing image object: exit 1 naming the job, the others packed' '
	vj-mkrun run 10 --print >recs.jsonl &&
	sha=$(sed -n 4p recs.jsonl | jq -r .image.sha256) &&
	rm run/objects/$(echo $sha | cut -c1-2)/$(echo $sha | cut -c3-) &&
	test_status 1 vj-pack -r run -o out --pending >o.txt 2>o.err &&
	test_grep "job j0000003: image object .* missing" o.err &&
	test $(jq .records o.txt) -eq 9 &&
	! bsdtar -tf out/shard-000000.tar.zst | grep j0000003
'

test_expect_success 'a corrupt image object is left out too' '
	sha=$(sed -n 5p recs.jsonl | jq -r .image.sha256) &&
	obj=run/objects/$(echo $sha | cut -c1-2)/$(echo $sha | cut -c3-) &&
	printf "X" | dd of=$obj bs=1 seek=20 conv=notrunc 2>/dev/null &&
	sed -n 5p recs.jsonl | test_status 1 vj-pack -r run -o out2 2>c.err &&
	test_grep "job j0000004: .*do not match" c.err
'

test_expect_success 'big objects (mapped, checked two at a time): each damaged one named, the rest packed' '
	vj-mkrun mapped 10 --image-bytes 100k --print >mrecs.jsonl &&
	for n in 5 8; do
		sha=$(sed -n ${n}p mrecs.jsonl | jq -r .image.sha256) &&
		obj=mapped/objects/$(echo $sha | cut -c1-2)/$(echo $sha | cut -c3-) &&
		chmod u+w $obj &&
		printf "X" | dd of=$obj bs=1 seek=70000 conv=notrunc 2>/dev/null || return 1
	done &&
	test_status 1 vj-pack -r mapped -o mout --pending >m.txt 2>m.err &&
	test_grep "job j0000004: .*do not match" m.err &&
	test_grep "job j0000007: .*do not match" m.err &&
	test $(grep -c "do not match" m.err) -eq 2 &&
	test $(jq .records m.txt) -eq 8 &&
	vj-pack --verify mout
'

# Shards are written with O_DIRECT (past the page cache) where the file
# system takes it; the tests below see the writes through the fault shim.
SHIM="$TOP/tests/shim/vjfault.so"
# an ASan build wants its runtime first; the shim is fine after it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
direct_ok() {
	case $(stat -f -c %T .) in
	ext2/ext3|xfs|btrfs|f2fs) dd if=/dev/zero of=probe bs=4096 count=1 oflag=direct 2>/dev/null ;;
	*) false ;;
	esac
}
if direct_ok; then
test_expect_success 'shards go out with O_DIRECT, or with --buffered through the page cache: the same bytes' '
	vj-mkrun dio 40 --image-bytes 100k >/dev/null &&
	LD_PRELOAD="$SHIM" VJ_TRACE=$PWD/d.trace VJ_TRACE_PATH=dout/.shard- \
		vj-pack -r dio -o dout --pending --shard-records 25 >d.txt &&
	LD_PRELOAD="$SHIM" VJ_TRACE=$PWD/b.trace VJ_TRACE_PATH=bout/.shard- \
		vj-pack -r dio -o bout --pending --shard-records 25 --buffered >b.txt &&
	grep -q "^writev-direct " d.trace &&
	! grep -q "^writev-direct " b.trace &&
	grep -q "^write " b.trace &&
	test "$(jq -r .sha256 d.txt)" = "$(jq -r .sha256 b.txt)" &&
	test "$(jq -r .sha256 d.txt | wc -l)" -eq 2 &&
	(cd dout && sha256sum shard-*) >d.sums && (cd bout && sha256sum shard-*) >b.sums &&
	test_cmp d.sums b.sums &&
	vj-pack --verify dout
'

test_expect_success 'a file system that refuses the direct writes: the rest written buffered, the same bytes' '
	LD_PRELOAD="$SHIM" VJ_FAULT_DIRECT=1 VJ_TRACE=$PWD/r.trace VJ_TRACE_PATH=rout/.shard- \
		vj-pack -r dio -o rout --pending --shard-records 25 >r.txt &&
	! grep -q "^writev-direct " r.trace &&
	test "$(jq -r .sha256 r.txt)" = "$(jq -r .sha256 d.txt)" &&
	vj-pack --verify rout
'

test_expect_success 'a direct write that fails (EIO): exit 3 naming the shard, nothing half-written, a rerun completes' '
	LD_PRELOAD="$SHIM" VJ_FAULT_PATH=eout/.shard- VJ_FAULT_OP=write VJ_FAULT_AFTER=3 \
		test_status 3 vj-pack -r dio -o eout --pending --shard-records 25 >e.txt 2>e.err &&
	test_grep "vj-pack: .*cannot write .*shard-.*Input/output error" e.err &&
	test -z "$(ls -a eout | grep "^\.shard-\|\.tmp\.")" &&
	vj-pack -r dio -o eout --pending --shard-records 25 >e2.txt &&
	test "$(cat e.txt e2.txt | jq -s "map(.records) | add")" -eq 40 &&
	vj-pack --verify eout
'
fi

mkdir full
if mount -t tmpfs -o size=2m tmpfs full 2>/dev/null; then
test_expect_success 'disk full while sealing: exit 3, named, nothing half-written' '
	vj-mkrun big 40 --image-bytes 100k >/dev/null &&
	test_status 3 vj-pack -r big -o full/out --pending --shard-records 5 >f.txt 2>f.err &&
	test_grep "No space left on device" f.err &&
	test_grep "shard-0000" f.err &&
	test -z "$(ls -a full/out | grep "^\.shard-\|\.tmp\.")" &&
	n=$(jq ".shards | length" full/out/index.json) &&
	test $n -ge 1 && test $n -lt 8 &&
	vj-pack --verify full/out
'
test_expect_success 'after space is freed, a rerun finishes' '
	mount -o remount,size=16m full &&
	vj-pack -r big -o full/out --pending --shard-records 5 >f2.txt &&
	test "$(jq "[.shards[].records] | add" full/out/index.json)" = 40 &&
	vj-pack --verify full/out
'
test_expect_success 'on tmpfs the shards are written buffered' '
	LD_PRELOAD="$SHIM" VJ_TRACE=$PWD/t.trace VJ_TRACE_PATH=full/tout/.shard- \
		vj-pack -r big -o full/tout --pending --shard-records 20 >t.txt &&
	grep -q "^write " t.trace && ! grep -q "^writev-direct " t.trace
'
umount full
else
test_skip 'disk full: cannot mount a tmpfs (not root?)'
test_skip 'disk full rerun'
test_skip 'tmpfs: buffered'
fi

# The same on ext4, where the shards are written with O_DIRECT: a loop
# mount of a small image (root only).
mkdir full4
if command -v mkfs.ext4 >/dev/null && truncate -s 4m full4.img &&
    mkfs.ext4 -q -F full4.img 2>/dev/null && mount -o loop full4.img full4 2>/dev/null; then
test_expect_success 'disk full during direct writes (ext4): exit 3, named, nothing half-written; a rerun with room finishes' '
	test -f big/journal/ingest.log || vj-mkrun big 40 --image-bytes 100k >/dev/null &&
	LD_PRELOAD="$SHIM" VJ_TRACE=$PWD/x.trace VJ_TRACE_PATH=full4/out/.shard- \
		test_status 3 vj-pack -r big -o full4/out --pending --shard-records 10 >x.txt 2>x.err &&
	grep -q "^writev-direct " x.trace &&
	test_grep "vj-pack: .*shard-0000.*No space left on device" x.err &&
	test -z "$(ls -a full4/out | grep "^\.shard-\|\.tmp\.")" &&
	vj-pack --verify full4/out &&
	mkdir room && cp -a full4/out room/out &&
	vj-pack -r big -o room/out --pending --shard-records 10 >x2.txt &&
	test "$(jq "[.shards[].records] | add" room/out/index.json)" = 40 &&
	vj-pack --verify room/out
'
umount full4
else
test_skip 'disk full on ext4: cannot make and mount a loop file system (not root?)'
fi

test_expect_success 'verify: a good OUT passes' '
	vj-mkrun v 60 >/dev/null &&
	vj-pack -r v -o vo --pending --shard-records 10 >/dev/null &&
	vj-pack -r v -o vj --pending --shard-records 10 --format jsonl --compress gzip >/dev/null &&
	vj-pack --verify vo && vj-pack --verify vj
'

test_expect_success 'verify: a flipped byte, a truncated shard, a missing file, a wrong count' '
	printf "\377" | dd of=vo/shard-000001.tar.zst bs=1 seek=2000 conv=notrunc 2>/dev/null &&
	truncate -s -100 vo/shard-000002.tar.zst &&
	rm vo/shard-000003.tar.zst &&
	jq ".shards[4].records = 11" vo/index.json >i && mv i vo/index.json &&
	test_status 1 vj-pack --verify vo 2>v.err &&
	test_grep "shard-000001.tar.zst: bad shard: sha256" v.err &&
	test_grep "shard-000002.tar.zst: bad shard: .* bytes" v.err &&
	test_grep "shard-000003.tar.zst: bad shard: cannot read" v.err &&
	test_grep "shard-000004.tar.zst: bad shard: 10 records, the index says 11" v.err &&
	! grep "shard-000000\|shard-000005" v.err
'

test_expect_success 'verify reads every member: damage that matches its index is caught' '
	f=vj/shard-000000.jsonl.gz &&
	printf "\377\377\377" | dd of=$f bs=1 seek=60 conv=notrunc 2>/dev/null &&
	sum=$(sha256sum <$f | cut -d" " -f1) &&
	jq --arg s $sum ".shards[0].sha256 = \$s" vj/index.json >i && mv i vj/index.json &&
	test_status 1 vj-pack --verify vj 2>j.err &&
	test_grep "bad shard: .*shard-000000.jsonl.gz" j.err
'

test_done
