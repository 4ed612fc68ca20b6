#!/bin/sh
# vj-analyze --provider openai: the image as a data URL, the answer checked
# against the analysis schema.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0450 VISION_KEY=k0450
printf 'o2 schema,ok\no3 badjson,ok\n' >script
start_fake --script script --log fake.log

test_expect_success 'vision over chat completions: analysed, schema-checked, retried' '
	mk_ingested img/shapes.webp in o1 o2 o3 &&
	vj-analyze -v --provider openai --model vision-1 --base-url "$FAKE_URL/v1" --api-key-env VISION_KEY in >o 2>e &&
	test $(wc -l <o) -eq 3 &&
	jq -se "map(select(.id == \"o1\"))[0] | .analysis.colors.primary | type == \"array\"" o &&
	jq -se "map(select(.id == \"o1\"))[0] | .analysis_meta.provider == \"openai\" and .analysis_meta.model == \"vision-1\"" o &&
	test $(fake_count o1) -eq 1 && test $(fake_count o2) -eq 2 && test $(fake_count o3) -eq 2 &&
	test_grep "job o2: openai: the answer violates the analysis schema: \\$\\." e &&
	curl -s "$FAKE_URL/_stats" | jq -e ".by_family.openai == 5"
'

test_expect_success 'without --base-url it is refused: DeepSeek takes no images' '
	test_status 2 vj-analyze --provider openai in >o 2>e &&
	test_grep "needs --base-url" e
'

test_done
