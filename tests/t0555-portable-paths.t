#!/bin/sh
# A manifest whose image paths are relative describes the same jobs
# wherever it is checked out: the journal, the keys and the records keep the
# path as written (fetching reads the job event's "src"), so two checkouts
# at two paths pack byte-identical shards (examples/ci-shards.yml).  A run
# ingested when the absolute path was journaled still knows its jobs.
. "$(dirname "$0")/lib.sh"

# build DIR: the pipe of examples/ci-shards.yml in DIR, offline
build() (
	cd "$1" &&
	vj-ingest -q -r run jobs.jsonl >/dev/null &&
	vj-analyze -q -r run --provider offline --pending >/dev/null &&
	vj-generate -q -r run --provider offline --pending >/dev/null &&
	vj-pack -q -r run --pending -o out --shard-records 1000 >/dev/null &&
	vj-pack -q --verify out
)

test_expect_success 'two checkouts at two paths: identical shards' '
	mkdir -p a/images &&
	vj-mkimages --one 64x48 gradient jpg a/images/g.jpg &&
	vj-mkimages --one 32x32 shapes png a/images/c.png &&
	printf "%s\n" "{\"id\":\"g\",\"imageUrl\":\"images/g.jpg\",\"outputFormat\":\"social_post\"}" \
	    "{\"id\":\"c\",\"imageUrl\":\"./images/c.png\"}" >a/jobs.jsonl &&
	mkdir -p deep/er && cp -a a deep/er/b &&
	export SOURCE_DATE_EPOCH=0 &&
	build a && build deep/er/b &&
	shard_sums a/out >a.sum && shard_sums deep/er/b/out >b.sum &&
	test_cmp a.sum b.sum &&
	check_shards a/out 2
'

test_expect_success 'the journal keeps the path as written and where it was read from' '
	tail -n +2 a/run/journal/ingest.log | cut -d" " -f2- |
	    jq -c "select(.ev == \"job\") | [.id, .job.imageUrl, .src]" >jobs.txt &&
	printf "%s\n" "[\"g\",\"images/g.jpg\",\"file://$PWD/a/images/g.jpg\"]" \
	    "[\"c\",\"./images/c.png\",\"file://$PWD/a/./images/c.png\"]" >want.txt &&
	test_cmp want.txt jobs.txt
'

test_expect_success 'records carry the relative path' '
	vj-mkimages --one 16x16 gradient png a/images/n.png &&
	echo "{\"id\":\"n\",\"imageUrl\":\"images/n.png\"}" >a/one.jsonl &&
	(cd a && vj-ingest -q -r run2 one.jsonl) >rec.json &&
	test "$(jq -r .job.imageUrl rec.json)" = images/n.png
'

test_expect_success 'a failed fetch is retried from the journaled src, not the relative path' '
	echo "{\"id\":\"m\",\"imageUrl\":\"images/m.png\"}" >a/late.jsonl &&
	(cd a && test_status 1 vj-ingest -q -r run3 late.jsonl >/dev/null 2>../late.err) &&
	test_grep "job m: cannot read $PWD/a/images/m.png" late.err &&
	vj-mkimages --one 16x16 gradient png a/images/m.png &&
	vj-ingest -q -r a/run3 --pending --retry-failed >retry.json &&
	test "$(jq -r ".id + \" \" + .job.imageUrl + \" \" + .image.mime" retry.json)" = "m images/m.png image/png"
'

test_expect_success 'a job journaled with its absolute path is the same job given relatively' '
	mkdir -p old/images && cp a/images/g.jpg old/images/ &&
	echo "{\"id\":\"g\",\"imageUrl\":\"$PWD/old/images/g.jpg\"}" >old/abs.jsonl &&
	echo "{\"id\":\"g\",\"imageUrl\":\"images/g.jpg\"}" >old/rel.jsonl &&
	vj-ingest -q -r old/run old/abs.jsonl >/dev/null &&
	vj-analyze -q -r old/run --provider offline --pending >/dev/null &&
	vj-ingest -r old/run old/rel.jsonl >/dev/null 2>again.err &&
	test_grep "1 done (1 already in the journal)" again.err &&
	vj-analyze -r old/run --provider offline --pending >/dev/null 2>an.err &&
	test_grep "0 done" an.err
'

test_expect_success 'without ids, the same relative path in two directories is two jobs' '
	mkdir -p d1/images d2/images &&
	vj-mkimages --one 16x16 gradient png d1/images/x.png &&
	vj-mkimages --one 16x16 shapes png d2/images/x.png &&
	echo "{\"imageUrl\":\"images/x.png\"}" >d1/m.jsonl && cp d1/m.jsonl d2/m.jsonl &&
	vj-ingest -q -r two d1/m.jsonl d2/m.jsonl >two.json &&
	test "$(jq -r .id two.json | sort -u | wc -l)" = 2
'

test_done
