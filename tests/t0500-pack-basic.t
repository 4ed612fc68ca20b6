#!/bin/sh
# vj-pack: shard formats read back by other tools, WebDataset conventions,
# pipe mode, exactly-once per OUT, numbering across runs, usage.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

test_expect_success 'a synthetic run of 25 jobs' '
	vj-mkrun run 25 --print >recs.jsonl &&
	test $(wc -l <recs.jsonl) -eq 25
'

test_expect_success 'wds tar.zst: --pending packs every job, in sealed shards' '
	vj-pack -r run -o wds --pending --shard-records 10 >out.txt &&
	test $(wc -l <out.txt) -eq 3 &&
	test "$(jq -s "map(.records) | add" out.txt)" = 25 &&
	test "$(jq "[.shards[].records] | add" wds/index.json)" = 25 &&
	test "$(jq -r ".shards | map(.name) | join(\" \")" wds/index.json)" = \
		"shard-000000.tar.zst shard-000001.tar.zst shard-000002.tar.zst" &&
	zstd -q -t wds/shard-*.tar.zst
'

test_expect_success 'GNU tar and bsdtar list the members, ordered by id' '
	tar --zstd -tf wds/shard-000000.tar.zst >gnu.txt &&
	bsdtar -tf wds/shard-000000.tar.zst >bsd.txt &&
	test_cmp gnu.txt bsd.txt &&
	test $(wc -l <gnu.txt) -eq 30 &&
	sed -n "1,3p" gnu.txt >first.txt &&
	printf "j0000000.json\nj0000000.png\nj0000000.txt\n" >want.txt &&
	test_cmp want.txt first.txt &&
	sed "s/\..*//" gnu.txt | uniq | sort -c
'

test_expect_success 'WebDataset conventions: keys without dots, one extension, no duplicates' '
	for f in wds/shard-*.tar.zst; do bsdtar -tf $f; done >all.txt &&
	test $(wc -l <all.txt) -eq 75 &&
	! grep -v "^[A-Za-z0-9_%-]*\.[a-z0-9]*$" all.txt &&
	test -z "$(sort all.txt | uniq -d)" &&
	test $(grep -c "\.json$" all.txt) -eq 25 &&
	test $(grep -c "\.png$" all.txt) -eq 25 &&
	test $(grep -c "\.txt$" all.txt) -eq 25
'

test_expect_success 'tar headers: mtime SOURCE_DATE_EPOCH, root, 0644, no names' '
	tar --zstd -tvf wds/shard-000001.tar.zst >v.txt &&
	! grep -v "^-rw-r--r-- 0/0 .* 1970-01-01 00:00 " v.txt &&
	python3 -c "
import tarfile, sys
with tarfile.open(sys.argv[1], \"r:\") as t:
    for m in t.getmembers():
        assert m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.mode == 0o644, m.name
        assert m.uname == \"\" and m.gname == \"\" and not m.pax_headers, m.name
" wds/shard-000001.tar.zst 2>/dev/null ||
	{ zstd -dq -c wds/shard-000001.tar.zst >s1.tar && python3 -c "
import tarfile, sys
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        assert m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.mode == 0o644, m.name
        assert m.uname == \"\" and m.gname == \"\" and not m.pax_headers, m.name
" s1.tar; }
'

test_expect_success 'a sample: the record, the image bytes, the text' '
	mkdir x && bsdtar -xf wds/shard-000000.tar.zst -C x &&
	jq -e ".id == \"j0000003\" and .content.text != null and .image.sha256 != null" x/j0000003.json &&
	sha=$(jq -r .image.sha256 x/j0000003.json) &&
	test "$(sha256sum <x/j0000003.png | cut -d" " -f1)" = "$sha" &&
	test "$(cat x/j0000003.txt)" = "$(jq -r .content.text x/j0000003.json)"
'

test_expect_success 'gzip and none: python3 tarfile reads them' '
	vj-pack -r run -o gz --pending --compress gzip --shard-records 100 >/dev/null &&
	vj-pack -r run -o plain --pending --compress none >/dev/null &&
	test -f gz/shard-000000.tar.gz && test -f plain/shard-000000.tar &&
	python3 -c "
import tarfile, sys
for f in sys.argv[1:]:
    with tarfile.open(f) as t:
        n = [m.name for m in t.getmembers()]
        assert len(n) == 75 and len(set(n)) == 75, f
        assert t.extractfile(\"j0000024.txt\").read().startswith(b\"Job j0000024\")
" gz/shard-000000.tar.gz plain/shard-000000.tar &&
	gzip -t gz/shard-000000.tar.gz
'

test_expect_success 'jsonl.zst: one record a line with image sha256 and url' '
	vj-pack -r run -o jl --pending --format jsonl >/dev/null &&
	zstdcat jl/shard-000000.jsonl.zst | jq -s -e "length == 25 and
		all(.image.sha256 != null and (.image.url | startswith(\"https://\")) and .image.data == null)" &&
	zstdcat jl/shard-000000.jsonl.zst | jq -r .id | sort -c
'

test_expect_success 'jsonl --embed-images: base64 bytes that hash right' '
	vj-pack -r run -o jle --pending --format jsonl --embed-images --compress gzip >/dev/null &&
	zcat jle/shard-000000.jsonl.gz | head -n 1 >one.json &&
	jq -r .image.data one.json | base64 -d | sha256sum | cut -d" " -f1 >got &&
	jq -r .image.sha256 one.json >want &&
	test_cmp want got
'

test_expect_success 'packing into the same OUT again packs nothing' '
	vj-pack -r run -o wds --pending -v >again.txt 2>err.txt &&
	test ! -s again.txt &&
	test $(jq ".shards | length" wds/index.json) -eq 3
'

test_expect_success 'pipe mode: a record given twice is packed once; - is stdin' '
	head -n 3 recs.jsonl >three.jsonl &&
	cat three.jsonl three.jsonl | vj-pack -r run -o pipe -v - >p.txt 2>p.err &&
	test $(jq .records p.txt) -eq 3 &&
	test_grep "j0000001: given twice" p.err &&
	vj-pack -r run -o pipe -v three.jsonl >p2.txt 2>p2.err &&
	test ! -s p2.txt &&
	test_grep "j0000001: already packed" p2.err
'

test_expect_success 'numbering continues across runs into the same OUT' '
	sed -n "4,10p" recs.jsonl | vj-pack -r run -o pipe >p3.txt &&
	jq -r .name p3.txt >names &&
	echo shard-000001.tar.zst >want && test_cmp want names &&
	vj-mkrun run2 5 --prefix k >/dev/null &&
	vj-pack -r run2 -o pipe --pending >p4.txt &&
	test "$(jq -r .name p4.txt)" = shard-000002.tar.zst &&
	test "$(jq -r "[.shards[].name] | join(\" \")" pipe/index.json)" = \
		"shard-000000.tar.zst shard-000001.tar.zst shard-000002.tar.zst" &&
	vj-pack --verify pipe
'

test_expect_success 'the pack journal marks the jobs packed' '
	cut -d" " -f2- run/journal/pack.log | jq -s -e "map(select(.ev == \"shard\" and .out == \"wds\")) |
		(map(.ids | length) | add) == 25"
'

test_expect_success 'usage errors exit 2; --help and --version' '
	test_status 2 vj-pack -r run --pending &&
	test_status 2 vj-pack -r run -o x --format zip &&
	test_status 2 vj-pack -r run -o x --shard-bytes lots &&
	test_status 2 vj-pack -r run -o x --pending recs.jsonl &&
	test_status 2 vj-pack -r run -o x --embed-images &&
	vj-pack --help | test_grep -e "--shard-records" &&
	vj-pack --version | test_grep "^vj-pack [0-9]"
'

test_expect_success 'a bad record: reported and left out (exit 1), the rest packed' '
	{ echo "not json"; sed -n 1p recs.jsonl; sed -n 2p recs.jsonl | jq -c "del(.content)"; } >bad.jsonl &&
	test_status 1 vj-pack -r run -o badout bad.jsonl >b.txt 2>b.err &&
	test_grep "not a JSON record" b.err &&
	test_grep "job j0000001: .*no content" b.err &&
	test $(jq .records b.txt) -eq 1
'

# Mapped objects are unmapped when their slot is reused: memory stays the
# same for 3x the images (a leak of each reused slot's mapping grew it by
# every image beyond the read-ahead: about 180 MB here).  Under ASan its
# quarantine of freed memory (256 MB) would grow with the records: kept small.
test_expect_success 'the image reader holds no more memory for more images' '
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" && export ASAN_OPTIONS &&
	vj-mkrun few 300 --image-bytes 300k >/dev/null &&
	vj-mkrun many 900 --image-bytes 300k >/dev/null &&
	cat >rss.py <<-\EOF &&
	import resource, subprocess, sys
	subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
	print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
	EOF
	a=$(python3 rss.py vj-pack -q -r few -o fout --pending) &&
	b=$(python3 rss.py vj-pack -q -r many -o mout --pending) &&
	echo "max RSS: $a MB for 300 images, $b MB for 900" &&
	test "$b" -lt $((a + 60)) &&
	rm -rf few many fout mout
'

test_done
