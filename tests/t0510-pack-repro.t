#!/bin/sh
# vj-pack: reproducible shards (two OUTs, two runs, any --threads).
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

test_expect_success 'the same run packed into two OUT dirs: identical shards' '
	vj-mkrun run 120 >/dev/null &&
	vj-pack -r run -o a --pending --shard-records 50 >/dev/null &&
	vj-pack -r run -o b --pending --shard-records 50 >/dev/null &&
	shard_sums a >a.sum && shard_sums b >b.sum &&
	test $(wc -l <a.sum) -eq 3 &&
	test_cmp a.sum b.sum &&
	jq -S "del(.shards[].run)" a/index.json >ai && jq -S "del(.shards[].run)" b/index.json >bi &&
	test_cmp ai bi
'

test_expect_success 'two runs built alike pack alike (gzip, jsonl too)' '
	vj-mkrun run2 120 >/dev/null &&
	vj-pack -r run2 -o c --pending --shard-records 50 >/dev/null &&
	shard_sums c >c.sum && test_cmp a.sum c.sum &&
	vj-pack -r run -o g1 --pending --compress gzip >/dev/null &&
	vj-pack -r run2 -o g2 --pending --compress gzip >/dev/null &&
	shard_sums g1 >g1.sum && shard_sums g2 >g2.sum && test_cmp g1.sum g2.sum &&
	vj-pack -r run -o j1 --pending --format jsonl >/dev/null &&
	vj-pack -r run2 -o j2 --pending --format jsonl >/dev/null &&
	shard_sums j1 >j1.sum && shard_sums j2 >j2.sum && test_cmp j1.sum j2.sum
'

test_expect_success 'pipe mode: input order does not matter inside a shard' '
	vj-mkrun run3 30 --print >recs.jsonl &&
	vj-pack -r run3 -o p1 recs.jsonl >/dev/null &&
	sort -r recs.jsonl | vj-pack -r run3 -o p2 >/dev/null &&
	shard_sums p1 >p1.sum && shard_sums p2 >p2.sum && test_cmp p1.sum p2.sum
'

# Big enough (~20 MB) for libzstd to split the frame into several jobs.
test_expect_success '--threads 1, 2 and 4 give the same bytes' '
	vj-mkrun big 80 --image-bytes 256k >/dev/null &&
	vj-pack -r big -o t1 --pending --threads 1 >/dev/null &&
	vj-pack -r big -o t2 --pending --threads 2 >/dev/null &&
	vj-pack -r big -o t4 --pending --threads 4 >/dev/null &&
	test $(stat -c %s t1/shard-000000.tar.zst) -gt 8000000 &&
	shard_sums t1 >t1.sum && shard_sums t2 >t2.sum && shard_sums t4 >t4.sum &&
	test_cmp t1.sum t2.sum && test_cmp t1.sum t4.sum &&
	zstd -q -t t4/shard-000000.tar.zst
'

test_expect_success 'SOURCE_DATE_EPOCH sets the member times' '
	SOURCE_DATE_EPOCH=1700000000 vj-pack -r run3 -o sde --pending --compress none >/dev/null &&
	tar -tvf sde/shard-000000.tar | head -n 1 | test_grep "2023-11-14 22:13"
'

test_done
