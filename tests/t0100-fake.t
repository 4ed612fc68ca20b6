#!/bin/sh
# t0100-fake: the fake provider server answers like the real providers.
. "$(dirname "$0")/lib.sh"

GREQ='{"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"image/png","data":"iVBORw0KGgo="}},{"text":"Describe the image."}]}],"generationConfig":{"responseMimeType":"application/json"}}'
OREQ='{"model":"deepseek-flash","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Write a caption."}]}'
OJSON='{"model":"deepseek-flash","messages":[{"role":"user","content":"Answer in json."}],"response_format":{"type":"json_object"}}'
OVIS='{"model":"vis","messages":[{"role":"user","content":[{"type":"text","text":"Describe."},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}'

# gem URL JOB MODEL [curl args...]: POST a Gemini request; body in ./body,
# headers in ./hdr, the status on stdout.
gem() {
	u=$1 j=$2 m=$3
	shift 3
	curl -s -m 5 -o body -D hdr -w '%{http_code}' -H "X-VJ-Job: $j" \
	    -H 'Content-Type: application/json' "$@" -d "$GREQ" \
	    "$u/v1beta/models/$m:generateContent"
}

# oai URL JOB BODY [curl args...]: POST an OpenAI-style chat request.
oai() {
	u=$1 j=$2 b=$3
	shift 3
	curl -s -m 5 -o body -D hdr -w '%{http_code}' -H "X-VJ-Job: $j" \
	    -H 'Content-Type: application/json' "$@" -d "$b" "$u/chat/completions"
}

# The analysis schema: every key present with the right type.
SCHEMA='(.colors | (.primary|type)=="array" and (.secondary|type)=="array" and
	(.accent|type)=="array" and (.description|type)=="string") and
  (.visual_elements | (.objects|type)=="array" and (.shapes|type)=="array" and
	(.text|type)=="string" and (.icons|type)=="array") and
  (.mood_and_tone | (.mood|type)=="string" and (.tone|type)=="string" and
	(.energy_level|type)=="string") and
  (.composition | [.layout,.balance,.focal_point,.negative_space] | all(type=="string")) and
  (.lighting_and_style | [.lighting,.style,.texture] | all(type=="string")) and
  (.brand_insights | [.perceived_industry,.target_audience,.brand_personality,.premium_level]
	| all(type=="string")) and
  (keys == ["brand_insights","colors","composition","lighting_and_style","mood_and_tone","visual_elements"])'

gtext() { jq -r '[.candidates[0].content.parts[].text] | join("")' body; }

mkdir img && printf '\211PNG\r\n\032\nfake' >img/a.png && printf 'JFIF' >img/b.jpg
start_fake --static "$TRASH/img" --seed 7 --models gemini-test,deepseek-flash,vis --log "$TRASH/fake.log"
U=$FAKE_URL

test_expect_success 'gemini: a normal answer follows the analysis schema' '
	test "$(gem $U job-1 gemini-test)" = 200 &&
	jq -e ".candidates[0].finishReason == \"STOP\" and .usageMetadata.totalTokenCount > 0
		and (.modelVersion|type) == \"string\" and (.responseId|type) == \"string\"" body &&
	gtext >text && jq -e "$SCHEMA" text
'

test_expect_success 'gemini: answers are deterministic per job id' '
	gem $U job-1 gemini-test >/dev/null && cp body a &&
	gem $U job-1 gemini-test >/dev/null && test_cmp a body &&
	gem $U job-2 gemini-test >/dev/null && ! cmp -s a body
'

test_expect_success 'gemini: text split over parts is still one JSON object' '
	for j in 1 2 3 4 5 6 7 8 9 10 11 12; do
		gem $U split-$j gemini-test >/dev/null && gtext | jq -e "$SCHEMA" >/dev/null || exit 1
		jq -e ".candidates[0].content.parts | length == 2" body >/dev/null && n=1
	done
	test "$n" = 1
'

test_expect_success 'openai: a text answer mentions the job, with usage' '
	test "$(oai $U chat-1 "$OREQ")" = 200 &&
	jq -e ".object == \"chat.completion\" and .choices[0].finish_reason == \"stop\"
		and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens
		and .usage.prompt_cache_hit_tokens + .usage.prompt_cache_miss_tokens == .usage.prompt_tokens
		and .model == \"deepseek-flash\"" body &&
	jq -r .choices[0].message.content body | test_grep "chat-1"
'

test_expect_success 'openai: JSON mode and vision answers' '
	test "$(oai $U chat-2 "$OJSON")" = 200 &&
	jq -r .choices[0].message.content body | jq -e ".text | test(\"chat-2\")" &&
	test "$(oai $U vis-1 "$OVIS")" = 200 &&
	jq -r .choices[0].message.content body | jq -e "$SCHEMA"
'

test_expect_success 'bad request bodies get 400 in the provider shape' '
	test "$(curl -s -o body -w %{http_code} -d "{not json" $U/v1beta/models/gemini-test:generateContent)" = 400 &&
	jq -e ".error.status == \"INVALID_ARGUMENT\"" body &&
	test "$(oai $U bad "{\"messages\":[]}")" = 400 &&
	jq -e ".error.type == \"invalid_request_error\"" body
'

test_expect_success 'unknown model: gemini NOT_FOUND, openai model_not_found' '
	test "$(gem $U m-1 gemini-nope)" = 404 && jq -e ".error.status == \"NOT_FOUND\"" body &&
	test "$(oai $U m-2 "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")" = 404 &&
	jq -e ".error.code == \"model_not_found\"" body
'

test_expect_success 'script: 429 then ok, counted per job' '
	printf "# test script\njob-s 429,ok\nchat-s 429\n" |
		curl -s -f --data-binary @- $U/_script >/dev/null &&
	test "$(gem $U job-s gemini-test)" = 429 &&
	jq -e ".error.status == \"RESOURCE_EXHAUSTED\" and
		(.error.details[] | select(.\"@type\" | endswith(\"RetryInfo\")) | .retryDelay) == \"1.5s\"" body &&
	! grep -i "^retry-after" hdr &&
	test "$(gem $U job-s gemini-test)" = 200 &&
	test "$(gem $U job-s gemini-test)" = 200 &&
	test "$(oai $U chat-s "$OREQ")" = 429 && test_grep -i "^retry-after: 1" hdr &&
	test "$(oai $U chat-s "$OREQ")" = 200 &&
	curl -s $U/_stats >stats &&
	jq -e ".by_job[\"job-s\"] == 3 and .by_job[\"chat-s\"] == 2 and .by_status[\"429\"] >= 2
		and .by_family.gemini > 0 and .by_family.openai > 0" stats
'

test_expect_success 'script: the other faults' '
	printf "f-1 blocked,safety,maxtokens,badjson,schema,503\nf-2 badkey,402,quota,resource,vllm-error,shouldretry-false\n* 429day\n" |
		curl -s -f --data-binary @- $U/_script >/dev/null &&
	gem $U f-1 gemini-test >/dev/null && jq -e ".promptFeedback.blockReason == \"SAFETY\" and (has(\"candidates\")|not)" body &&
	gem $U f-1 gemini-test >/dev/null && jq -e ".candidates[0].finishReason == \"SAFETY\"" body &&
	gem $U f-1 gemini-test >/dev/null && jq -e ".candidates[0].finishReason == \"MAX_TOKENS\"" body &&
	gem $U f-1 gemini-test >/dev/null && ! gtext | jq . >/dev/null 2>&1 &&
	gem $U f-1 gemini-test >/dev/null && gtext | jq -e "(.colors.primary|type) == \"string\" and (has(\"mood_and_tone\")|not)" &&
	test "$(gem $U f-1 gemini-test)" = 503 && jq -e ".error.status == \"UNAVAILABLE\"" body &&
	test "$(oai $U f-2 "$OREQ")" = 401 && jq -e ".error.code == \"invalid_api_key\"" body &&
	test "$(oai $U f-2 "$OREQ")" = 402 && jq -e ".error.message == \"Insufficient Balance\"" body &&
	test "$(oai $U f-2 "$OREQ")" = 429 && jq -e ".error.code == \"insufficient_quota\"" body &&
	test "$(oai $U f-2 "$OREQ")" = 200 &&
	jq -e ".choices[0].finish_reason == \"insufficient_system_resource\" and .choices[0].message.content == \"\"" body &&
	test "$(oai $U f-2 "$OREQ")" = 400 && jq -e ".object == \"error\" and .code == 400" body &&
	test "$(oai $U f-2 "$OREQ")" = 500 && test_grep -i "^x-should-retry: false" hdr &&
	test "$(gem $U any-job gemini-test)" = 429 &&
	jq -e "[.error.details[] | .violations[]?.quotaId] | any(test(\"PerDay\"))" body
'

test_expect_success 'script: blank lines come before the JSON body' '
	printf "blank-1 blank\n" | curl -s -f --data-binary @- $U/_script >/dev/null &&
	t0=$(date +%s%N) && test "$(gem $U blank-1 gemini-test)" = 200 && t1=$(date +%s%N) &&
	test $(( (t1 - t0) / 1000000 )) -ge 250 &&
	test "$(head -c 1 body | od -An -c | tr -d " ")" = "\n" &&
	jq -e ".candidates[0].finishReason == \"STOP\"" body
'

test_expect_success 'script: empty and whitespace-only bodies' '
	printf "e-1 empty\ne-2 spaces\n" | curl -s -f --data-binary @- $U/_script >/dev/null &&
	test "$(gem $U e-1 gemini-test)" = 200 && test ! -s body &&
	test "$(oai $U e-2 "$OREQ")" = 200 && test -s body && test -z "$(tr -d " \n" <body)"
'

test_expect_success 'script: drop and timeout' '
	printf "d-1 drop\nd-2 timeout\n" | curl -s -f --data-binary @- $U/_script >/dev/null &&
	test_status 52 gem $U d-1 gemini-test &&
	test_status 28 gem $U d-2 gemini-test -m 0.5
'

test_expect_success 'large body with Expect: 100-continue, and a chunked body' '
	head -c 3000000 /dev/zero | tr "\0" "A" >pad &&
	{ printf "{\"contents\":[{\"parts\":[{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\""; cat pad; printf "\"}}]}]}"; } >big.json &&
	curl -s -v -o body -H "Expect: 100-continue" -H "X-VJ-Job: big" --data-binary @big.json \
		$U/v1beta/models/gemini-test:generateContent 2>err &&
	test_grep "HTTP/1.1 100 Continue" err && jq -e ".usageMetadata.promptTokenCount > 1000" body &&
	curl -s -o body -H "Transfer-Encoding: chunked" --data-binary @big.json \
		$U/v1beta/models/gemini-test:generateContent && gtext | jq -e "$SCHEMA"
'

test_expect_success 'static files, redirects, loop and file: redirect' '
	curl -s -f -o got -D hdr $U/img/a.png && cmp got img/a.png &&
	test_grep -i "^content-type: image/png" hdr &&
	curl -s -f -D hdr -o /dev/null $U/img/b.jpg && test_grep -i "^content-type: image/jpeg" hdr &&
	test "$(curl -s -o /dev/null -w %{http_code} $U/img/missing.png)" = 404 &&
	test "$(curl -s -o /dev/null -w %{http_code} $U/img/..%2Fetc)" = 404 &&
	curl -s -f -L -o got $U/redirect/3/a.png && cmp got img/a.png &&
	test_status 47 curl -s -L --max-redirs 5 -o /dev/null $U/loop &&
	curl -s -D hdr -o /dev/null $U/to-file && test_grep -i "^location: file:///etc/passwd" hdr &&
	test_must_fail curl -s -L -o got $U/to-file &&
	curl -s -f $U/html | test_grep "<html" &&
	test_status 28 curl -s -m 0.3 $U/hang &&
	printf "/img/a.png 404,503\n" | curl -s -f --data-binary @- $U/_script >/dev/null &&
	test "$(curl -s -o /dev/null -w %{http_code} $U/img/a.png)" = 404 &&
	test "$(curl -s -o /dev/null -w %{http_code} $U/img/a.png)" = 503 &&
	test "$(curl -s -o /dev/null -w %{http_code} $U/img/a.png)" = 200 &&
	curl -s $U/_stats | jq -e ".by_job[\"/img/a.png\"] == 5 and .by_family.static > 5"
'

test_expect_success 'keep-alive: several requests on one connection' '
	curl -s -v -o /dev/null -o /dev/null -o /dev/null $U/html $U/img/b.jpg $U/html 2>err &&
	test_grep -i "re-using existing connection" err
'

test_expect_success '_reset zeroes the counters; the log has a line per request' '
	curl -s -f -X POST $U/_reset >/dev/null &&
	curl -s $U/_stats | jq -e ".requests == 0 and (.by_job | length) == 0" &&
	test_grep -E "^POST /v1beta/models/gemini-test:generateContent job-1 200 [0-9]+$" "$TRASH/fake.log"
'

# A clean exit on SIGTERM: nothing on stderr (sanitizer builds report here).
stop_bg
test_expect_success 'the server stops cleanly and said nothing on stderr' '
	test ! -s "$TRASH/.fake.log" || { cat "$TRASH/.fake.log"; false; }
'

export VJ_FAKE_KEY=sekrit-test-key
start_fake --rpm 2
unset VJ_FAKE_KEY
U=$FAKE_URL

test_expect_success 'key: wrong or missing keys are refused, the right one works' '
	test "$(gem $U k-1 gemini-test)" = 400 &&
	jq -e ".error.status == \"INVALID_ARGUMENT\" and .error.details[0].reason == \"API_KEY_INVALID\"" body &&
	test "$(gem $U k-1 gemini-test -H "x-goog-api-key: wrong")" = 400 &&
	test "$(oai $U k-2 "$OREQ" -H "Authorization: Bearer wrong")" = 401 &&
	jq -e ".error.type == \"authentication_error\" and .error.code == \"invalid_api_key\"" body &&
	test "$(gem $U k-1 gemini-test -H "x-goog-api-key: sekrit-test-key")" = 200 &&
	test "$(oai $U k-2 "$OREQ" -H "Authorization: Bearer sekrit-test-key")" = 200
'

test_expect_success 'rpm: beyond the limit, 429 with the time until a slot frees' '
	K="x-goog-api-key: sekrit-test-key" &&
	test "$(gem $U r-1 gemini-test -H "$K")" = 200 &&
	test "$(gem $U r-2 gemini-test -H "$K")" = 429 &&
	jq -e "(.error.details[] | select(.\"@type\" | endswith(\"RetryInfo\")) | .retryDelay
		| rtrimstr(\"s\") | tonumber) > 50" body &&
	jq -e "[.error.details[] | .violations[]?.quotaId] | any(test(\"PerMinute\"))" body &&
	! grep -i "^retry-after" hdr &&
	A="Authorization: Bearer sekrit-test-key" &&
	test "$(oai $U r-3 "$OREQ" -H "$A")" = 200 &&
	test "$(oai $U r-4 "$OREQ" -H "$A")" = 429 &&
	test_grep -i "^retry-after: [0-9]" hdr && test_grep -i "^retry-after-ms: [0-9]" hdr
'

stop_bg
test_expect_success 'the keyed server stops cleanly too' '
	test ! -s "$TRASH/.fake.log" || { cat "$TRASH/.fake.log"; false; }
'

test_done
