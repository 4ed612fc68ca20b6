#!/bin/sh
# An object replaced by other bytes of the same size is never sent, analysed
# or journaled as done: every reader checks the bytes against the name, the
# model stages while they stream the image into the request.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=fake-key-0390 GEMINI_API_KEY=fake-key-0390
start_fake --models gemini-3.5-flash-lite
printf '{"imageUrl": "img/gradient.jpg", "id": "d1"}\n' >m.jsonl

# damage RUN ID: overwrite the job's object with zeros of the same size
damage() {
	sha=$(grep "\"ev\":\"done\",\"id\":\"$2\"" "$1/journal/ingest.log" | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/') &&
	obj="$1/objects/$(printf %s "$sha" | cut -c1-2)/$(printf %s "$sha" | cut -c3-)" &&
	n=$(wc -c <"$obj") && chmod u+w "$obj" && head -c "$n" /dev/zero >"$obj"
}

test_expect_success 'offline analyser: exit 3, "object store damaged", nothing journaled as done' '
	vj-ingest -r r1 m.jsonl >in1 && damage r1 d1 &&
	test_status 3 vj-analyze -r r1 --provider offline in1 >o 2>e &&
	test_grep "object store damaged: r1/objects/" e &&
	test ! -s o &&
	! grep -q "\"ev\":\"done\"" r1/journal/analyze.log
'

test_expect_success 'Gemini: the request is cut off, exit 3, nothing journaled as done' '
	vj-ingest -r r2 m.jsonl >in2 && damage r2 d2 2>/dev/null; damage r2 d1 &&
	test_status 3 vj-analyze -r r2 --base-url "$FAKE_URL" --timeout 5 in2 >o 2>e &&
	test_grep "object store damaged: r2/objects/" e &&
	test ! -s o &&
	! grep -q "\"ev\":\"done\"" r2/journal/analyze.log
'

test_expect_success 're-ingesting the image repairs the object; the job then runs' '
	printf "{\"imageUrl\": \"img/gradient.jpg\", \"id\": \"d1b\"}\n" >m2.jsonl &&
	vj-ingest -r r2 m2.jsonl >/dev/null 2>e2 &&
	test_grep "object store damaged" e2 &&
	vj-analyze -r r2 --base-url "$FAKE_URL" --timeout 5 in2 >o 2>e &&
	jq -e ".id == \"d1\" and (.analysis | type) == \"object\"" o
'

test_done
