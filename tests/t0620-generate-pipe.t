#!/bin/sh
# The whole pipe, vj-ingest | vj-analyze | vj-generate, over 500 jobs with
# faults on both providers: every job generated exactly once.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0620 GEMINI_API_KEY=k0620 DEEPSEEK_API_KEY=k0620
start_fake --latency-ms 5 --p429 0.03 --p500 0.05 --pbadjson 0.03 --pschema 0.03 --pdrop 0.02 --seed 1
GEMINI_URL=$FAKE_URL
start_fake --latency-ms 5 --p429 0.03 --p503 0.05 --pblank 0.05 --pempty 0.03 --pdrop 0.02 --seed 2
DS_URL=$FAKE_URL
N=500

test_expect_success "$N jobs through the pipe" '
	for i in $(seq 1 $N); do
		printf "{\"imageUrl\": \"img/%s\", \"id\": \"j%d\"}\n" \
			$(echo "dark.jpg bright.jpg sunset.jpg stripes.png shapes.webp" | cut -d" " -f$((i % 5 + 1))) $i
	done >m.jsonl &&
	vj-ingest -q m.jsonl |
		vj-analyze -q --base-url "$GEMINI_URL" -j 16 --retries 10 --timeout 10 |
		vj-generate -q --base-url "$DS_URL" --api-key-env DEEPSEEK_API_KEY -j 16 --retries 10 --timeout 10 >out &&
	test $(wc -l <out) -eq $N &&
	test $(jq -r .id out | sort -u | wc -l) -eq $N &&
	jq -r "select(.content == null or .analysis == null) | .id" out >missing && test ! -s missing
'

test_expect_success 'one done event per job in each journal; faults were met' '
	for s in analyze generate; do
		grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" vj-run/journal/$s.log | sort >d.$s &&
		test $(wc -l <d.$s) -eq $N && test $(sort -u d.$s | wc -l) -eq $N || exit 1
	done &&
	test $(grep -c "\"ev\":\"fail\"" vj-run/journal/analyze.log) -gt 10 &&
	test $(grep -c "\"ev\":\"fail\"" vj-run/journal/generate.log) -gt 10
'

test_expect_success 'per job, generate requests = journaled failures + 1' '
	curl -s "$DS_URL/_stats" | jq -r ".by_job | to_entries[] | \"\(.key) \(.value)\"" | sort >reqs &&
	grep "\"ev\":\"fail\"" vj-run/journal/generate.log | grep -o "\"id\":\"[^\"]*\"" |
		sed "s/\"id\":\"//; s/\"$//" | sort | uniq -c | awk "{print \$2, \$1}" >fails &&
	awk "NR == FNR { f[\$1] = \$2; next } \$2 != f[\$1] + 1 { print; bad = 1 } END { exit bad }" fails reqs
'

test_expect_success 'the same pipe again sends nothing' '
	before=$(curl -s "$GEMINI_URL/_stats" | jq .requests) &&
	before2=$(curl -s "$DS_URL/_stats" | jq .requests) &&
	vj-ingest -q m.jsonl | vj-analyze -q --base-url "$GEMINI_URL" |
		vj-generate -q --base-url "$DS_URL" --api-key-env DEEPSEEK_API_KEY >out2 &&
	test $(wc -l <out2) -eq $N &&
	test $(curl -s "$GEMINI_URL/_stats" | jq .requests) -eq $before &&
	test $(curl -s "$DS_URL/_stats" | jq .requests) -eq $before2
'

test_done
