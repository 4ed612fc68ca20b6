#!/bin/sh
# The offline providers end to end: no network, no key, real output.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
cat >jobs.jsonl <<EOT
{"imageUrl": "img/half-red-half-blue.png", "id": "rb", "outputFormat": "alt_text"}
{"imageUrl": "img/white-square-on-black.png", "id": "sq", "outputFormat": "product_description", "analysisPurpose": "catalogue"}
{"imageUrl": "img/subject-left.png", "id": "left", "outputFormat": "social_post"}
{"imageUrl": "img/dark.jpg", "id": "dark", "outputFormat": "ad_copy"}
{"imageUrl": "img/bright.jpg", "id": "bright"}
{"imageUrl": "img/palette.gif", "id": "gif"}
{"imageUrl": "img/small.webp", "id": "webp"}
{"imageUrl": "img/truncated.jpg", "id": "trunc"}
{"imageUrl": "img/empty.png", "id": "empty"}
EOT

test_expect_success 'the whole pipe offline: bad images are per-job errors, the rest goes through' '
	{ vj-ingest jobs.jsonl 2>ing.err; echo $? >ing.st; } |
	{ vj-analyze --provider offline 2>an.err; echo $? >an.st; } |
	{ vj-generate --provider offline 2>ge.err; echo $? >ge.st; } |
	vj-pack -o shards >packed &&
	test "$(cat ing.st)" = 1 && test "$(cat an.st)" = 1 && test "$(cat ge.st)" = 0 &&
	test_grep "job empty: zero-byte file" ing.err &&
	test_grep "job trunc: offline: truncated JPEG" an.err &&
	test -s packed &&
	test $(jq "[.shards[].records] | add" shards/index.json) -eq 7
'

test_expect_success 'what the pixels say' '
	cut -d" " -f2- vj-run/journal/analyze.log | jq -c "select(.ev==\"done\") | {id, a: .analysis}" >a &&
	jq -se "map(select(.id==\"rb\"))[0].a.colors.primary | join(\" \") | test(\"red\") and test(\"blue\")" a &&
	jq -se "map(select(.id==\"sq\"))[0].a.composition | (.focal_point == \"center\") and (.balance | test(\"^symmetrical\")) and (.negative_space | test(\"generous\"))" a &&
	jq -se "map(select(.id==\"left\"))[0].a.composition.balance | test(\"asymmetrical.*left\")" a &&
	jq -se "map(select(.id==\"dark\"))[0].a.lighting_and_style.lighting | test(\"dim\")" a &&
	jq -se "map(select(.id==\"bright\"))[0].a.lighting_and_style.lighting | test(\"bright\")" a
'

test_expect_success 'nothing is invented: objects, text, icons and brand stay empty or unknown' '
	jq -se "all(.[]; .a.visual_elements.objects == [] and .a.visual_elements.icons == [] and .a.brand_insights.perceived_industry == \"unknown\")" a
'

test_expect_success 'every format got real text, and the JSON formats their fields' '
	cut -d" " -f2- vj-run/journal/generate.log | jq -c "select(.ev==\"done\") | {id, c: .content}" >c &&
	jq -se "all(.[]; (.c.text | length) > 40)" c &&
	jq -se "map(select(.id==\"left\"))[0].c.data.hashtags | length > 0" c &&
	jq -se "map(select(.id==\"dark\"))[0].c.data.headline | length > 0" c
'

test_expect_success 'two runs give identical analyses and content' '
	vj-ingest -q -r run2 jobs.jsonl 2>/dev/null | vj-analyze -q -r run2 --provider offline 2>/dev/null |
		vj-generate -q -r run2 --provider offline >/dev/null &&
	for s in analyze generate; do
		cut -d" " -f2- vj-run/journal/$s.log | jq -c "select(.ev==\"done\") | del(.t, .ms)" | sort >one &&
		cut -d" " -f2- run2/journal/$s.log | jq -c "select(.ev==\"done\") | del(.t, .ms)" | sort >two &&
		test_cmp one two || exit 1
	done
'

test_expect_success 'no key and no network were needed' '
	! grep -l "http" vj-run/journal/analyze.log
'

test_done
