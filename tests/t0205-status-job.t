#!/bin/sh
# vj-status --job ID: one job's story from manifest to shard, in text and
# JSON; an unknown job or a bad id is a usage error.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
{
	printf '{"imageUrl": "img/gradient.jpg", "id": "good1", "outputFormat": "social_post"}\n'
	printf '{"imageUrl": "img/truncated.jpg", "id": "bad1"}\n'
} >m.jsonl
vj-ingest m.jsonl 2>/dev/null | vj-analyze --provider offline 2>/dev/null |
	vj-generate --provider offline 2>/dev/null | vj-pack -o out >/dev/null 2>&1

test_expect_success 'a done job: every stage done, its keys, its shard' '
	vj-status --job good1 --json >j.json &&
	jq -e ".id == \"good1\" and .job.outputFormat == \"social_post\"" j.json &&
	for s in ingest analyze generate pack; do
		jq -e ".stages.$s.state == \"done\"" j.json >/dev/null || exit 1
	done &&
	jq -e ".stages.analyze.key | test(\"^[0-9a-f]{32}$\")" j.json &&
	jq -e "[.stages.pack.events[] | select(.ev == \"shard\")] | length == 1" j.json &&
	jq -e ".stages.pack.events[0] | has(\"ids\") | not" j.json
'

test_expect_success 'a failed job: its error and attempts, in text' '
	vj-status --job bad1 >t.txt &&
	test_grep "analyze: failed" t.txt &&
	test_grep "fail .*permanent (final)" t.txt &&
	test_grep "truncated" t.txt
'

test_expect_success 'an unknown job, a bad id: exit 2' '
	test_status 2 vj-status --job nosuch >o 2>e &&
	test_grep "has no job nosuch" e &&
	test_status 2 vj-status --job "../x" >o 2>e &&
	test_grep "is not a job id" e
'

test_expect_success '--job does not go with --failed' '
	test_status 2 vj-status --job good1 --failed >o 2>e
'

test_done
