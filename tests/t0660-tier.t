#!/bin/sh
# --tier flex, the served tier and time in every usage, temperature left
# out for a model that ignores it, --media-resolution and --detail, and
# --max-side on a Gemini 3 model: what the fake saw (its /_stats "seen",
# tests/fake/fake_tokens.c) and what vj journaled and billed, against
# hand-computed figures from data/models.txt.
. "$(dirname "$0")/lib.sh"

vj-mkimages --one 1600x1200 gradient jpg big.jpg >/dev/null
export VJ_FAKE_KEY=k0660tier GEMINI_API_KEY=k0660tier OPENAI_API_KEY=k0660tier DEEPSEEK_API_KEY=k0660tier
MON=1797206400000    # 2026-12-14T00:00:00Z, a Monday
# OpenAI answers made one a minute from 03:57 that day (see the last test)
start_fake --image-sizes --flex-unavailable 40 --seed 7 --clock-ms $((MON + 4 * 3600000 - 180000)) \
    --clock-step-ms 60000
F1=$FAKE_URL
# a second server that says every answer was served at the default tier
start_fake --serve-tier default
F2=$FAKE_URL
FAKE_URL=$F1

an() { vj-analyze --base-url "$F1" --timeout 10 "$@"; }
oa() { vj-analyze --provider openai --api-key-env OPENAI_API_KEY --timeout 10 "$@"; }
seen() { curl -s "$F1/_stats" | jq -r ".seen[\"$1\"].$2"; }
done_ev() { cut -d" " -f2- "$1/journal/$2.log" | jq -c "select(.ev == \"done\")"; }
# near A B: equal to within a millionth of a cent
near() { jq -n "($1) - ($2) | fabs < 1e-11" | grep -q true; }

test_expect_success 'flex on Gemini: asked in the request, journaled as flex, billed at half price' '
	export VJ_RUN=gf &&
	mk_ingested big.jpg in g1 g2 g3 g4 g5 g6 &&
	vj-analyze --base-url "$F1" -v --tier flex --estimate in >/dev/null 2>e &&
	test_grep "tier flex: a request may take 900 s, a job 3600 s" e &&
	an -v --tier flex -j 1 in >o 2>e &&
	test_grep "tier flex: a request may take 10 s, a job 3600 s" e &&
	test "$(seen g1 tier)" = flex &&
	done_ev gf analyze >d &&
	test $(wc -l <d) -eq 6 &&
	test "$(jq -r .usage.tier d | sort -u)" = flex &&
	# gemini-3.5-flash-lite flex: 0.15 in, 1.25 out a million tokens
	jq -s -e "map(.cost - (.usage.prompt * 0.15 + .usage.completion * 1.25) / 1e6 | fabs < 1e-12) | all" d &&
	# the image costs its fixed budget, 1120 tokens (high), whatever its size
	test "$(seen g1 image_tokens)" = 1120 &&
	p=$(jq -s ".[0].usage.prompt" d) &&
	test "$p" -eq $(( $(seen g1 text_tokens) + 1120 ))
'

test_expect_success 'shed flex requests (429 and 503) were asked again, as rate events that do not cut the rate' '
	cut -d" " -f2- gf/journal/analyze.log | jq -c "select(.ev == \"fail\")" >f &&
	test -s f &&
	jq -s -e "map(.kind == \"rate\" and .final == false and (.status == 429 or .status == 503)) | all" f &&
	! jq -r .error f | grep -v -q "flex request shed" &&
	test_grep "the account.s rate is not cut" f &&
	test $(curl -s "$F1/_stats" | jq ".by_status[\"200\"]") -ge 6 &&
	test $(jq -s length <f) -eq $(curl -s "$F1/_stats" | jq "(.by_status[\"429\"] // 0) + (.by_status[\"503\"] // 0)")
'

test_expect_success 'the standard tier: journaled and billed as standard' '
	export VJ_RUN=gs &&
	mk_ingested big.jpg ins s1 &&
	an ins >o 2>e &&
	test "$(seen s1 tier)" = standard &&
	done_ev gs analyze >d &&
	test "$(jq -r .usage.tier d)" = standard &&
	jq -e "(.cost - (.usage.prompt * 0.30 + .usage.completion * 2.50) / 1e6) | fabs < 1e-12" d
'

test_expect_success 'OpenAI: the tier the answer names is the one billed' '
	export VJ_RUN=of &&
	mk_ingested big.jpg ino o1 &&
	oa --base-url "$F1/v1" --model gpt-5-mini --tier flex ino >o 2>e &&
	test "$(seen o1 tier)" = flex &&
	done_ev of analyze >d &&
	test "$(jq -r .usage.tier d)" = flex &&
	# gpt-5-mini flex: 0.125 in, 0.0125 cached, 1.00 out
	jq -e "(.cost - ((.usage.prompt - .usage.cached) * 0.125 + .usage.cached * 0.0125 + .usage.completion * 1.00) / 1e6) | fabs < 1e-12" d &&
	export VJ_RUN=od &&
	mk_ingested big.jpg ino o1 &&
	oa --base-url "$F2/v1" --model gpt-5-mini --tier flex ino >o 2>e &&
	done_ev od analyze >d &&
	test "$(jq -r .usage.tier d)" = standard &&
	jq -e "(.cost - ((.usage.prompt - .usage.cached) * 0.25 + .usage.cached * 0.025 + .usage.completion * 2.00) / 1e6) | fabs < 1e-12" d
'

test_expect_success 'a model without flex is a usage error naming the models that have it' '
	test_status 2 oa --base-url "$F1/v1" --model gpt-4.1-mini --tier flex ino >o 2>e &&
	test_grep "tier flex: openai model gpt-4.1-mini has no flex tier" e &&
	test_grep "openai models with it: gpt-5-mini$" e &&
	mk_analysed big.jpg gin x1 &&
	test_status 2 vj-generate --base-url "$F1" --api-key-env DEEPSEEK_API_KEY --tier flex gin >o 2>e &&
	test_grep "openai model deepseek-flash has no flex tier" e &&
	test $(curl -s "$F1/_stats" | jq ".by_job[\"x1\"] // 0") -eq 0
'

test_expect_success 'temperature: left out for a model that ignores it, warned once, in the meta; sent otherwise' '
	export VJ_RUN=tm &&
	mk_ingested big.jpg int t1 t2 t3 &&
	an -j 3 int >o 2>e &&
	test $(grep -c "gemini model gemini-3.5-flash-lite ignores temperature: creativityLevel has no effect" e) -eq 1 &&
	test "$(seen t1 temperature)" = false && test "$(seen t3 temperature)" = false &&
	test $(jq -s "map(select(.analysis_meta.temperature_ignored == true)) | length" o) -eq 3 &&
	mk_ingested big.jpg int2 t4 &&
	an --model gemini-2.5-flash-lite int2 >o 2>e &&
	test "$(seen t4 temperature)" = true &&
	! grep -q temperature e &&
	oa --base-url "$F1/v1" --model gpt-5-mini int2 >o 2>e &&
	test "$(seen t4 temperature)" = false &&
	test_grep "openai model gpt-5-mini ignores temperature" e &&
	jq -e ".analysis_meta.temperature_ignored == true" o
'

test_expect_success '--media-resolution: sent as Gemini spells it, counted at its budget' '
	export VJ_RUN=mr &&
	mk_ingested big.jpg inm m1 &&
	an --media-resolution low inm >o 2>e &&
	test "$(seen m1 media_resolution)" = MEDIA_RESOLUTION_LOW &&
	test "$(seen m1 image_tokens)" = 280 &&
	an --media-resolution ultra inm >o 2>e &&
	test "$(seen m1 media_resolution)" = MEDIA_RESOLUTION_ULTRA_HIGH &&
	test "$(seen m1 image_tokens)" = 2240 &&
	an --media-resolution medium --estimate --json inm >est 2>e &&
	jq -e ".variants[0].image_tokens == 560" est &&
	test_status 2 an --model gemini-2.5-flash-lite --media-resolution low inm >o 2>e &&
	test_grep "media-resolution: gemini model gemini-2.5-flash-lite does not take it" e &&
	test_status 2 an --detail low inm >o 2>e &&
	test_grep "detail is for OpenAI-compatible models; gemini takes --media-resolution" e
'

test_expect_success '--detail: sent as image_url.detail; low is the base cost; a model that does not take it is refused' '
	export VJ_RUN=dt &&
	mk_ingested big.jpg ind d1 &&
	oa --base-url "$F1/v1" --model gpt-4o --detail low ind >o 2>e &&
	test "$(seen d1 detail)" = low && test "$(seen d1 image_tokens)" = 85 &&
	oa --base-url "$F1/v1" --model gpt-4o --detail high ind >o 2>e &&
	# 1600x1200 -> short side 768: 1024x768, 2 x 2 tiles: 85 + 4 x 170
	test "$(seen d1 detail)" = high && test "$(seen d1 image_tokens)" = 765 &&
	mk_ingested big.jpg ind2 d2 &&
	oa --base-url "$F1/v1" --model gpt-4o --detail high --estimate --json ind2 >est 2>e &&
	jq -e ".variants[0].image_tokens == 765" est &&
	test_status 2 oa --base-url "$F1/v1" --model Qwen/Qwen2.5-VL-7B-Instruct --detail low ind >o 2>e &&
	test_grep "detail: openai model Qwen/Qwen2.5-VL-7B-Instruct does not take it" e &&
	test_status 2 oa --base-url "$F1/v1" --model gpt-4o --media-resolution low ind >o 2>e
'

test_expect_success '--max-side on Gemini 3: the fake sees the smaller image, stored once and reused; its tokens stay' '
	export VJ_RUN=ms &&
	mk_ingested big.jpg inx x2 &&
	an --max-side 640 inx >o 2>e &&
	test "$(seen x2 width)x$(seen x2 height)" = 640x480 &&
	test "$(seen x2 image_tokens)" = 1120 &&
	test $(ls ms/derived | wc -l) -eq 1 &&
	mk_ingested big.jpg inx2 x3 &&
	an -v --max-side 640 inx2 >o 2>e &&
	test "$(seen x3 width)x$(seen x3 height)" = 640x480 &&
	test_grep "downscaled image .* from the store" e &&
	test $(ls ms/derived | wc -l) -eq 1
'

# The fake's answers say when they were made ("created"): one a minute from
# 03:57 UTC on a Monday, across the end of DeepSeek's 01:00-04:00 peak.
test_expect_success 'DeepSeek: a run across the end of a peak window, each answer billed at its own hour' '
	export VJ_RUN=pk &&
	mk_analysed big.jpg pin p1 p2 p3 p4 p5 p6 &&
	curl -s -X POST "$F1/_reset" >/dev/null &&
	VJ_NOW_MS=$((MON + 4 * 3600000 - 180000)) vj-generate --base-url "$F1" \
	    --api-key-env DEEPSEEK_API_KEY --timeout 10 -j 1 pin >o 2>e &&
	done_ev pk generate >d &&
	test $(wc -l <d) -eq 6 &&
	jq -s -e "map(.usage.t) == [range(0; 6) | $MON + 4 * 3600000 - 180000 + . * 60000]" d &&
	# deepseek-flash off-peak 0.15 miss, 0.003 hit, 0.60 out; peak twice that
	jq -s -e "map(.cost - ((.usage.prompt - .usage.cached) * 0.15 + .usage.cached * 0.003 + .usage.completion * 0.60) / 1e6 * (if .usage.t < $MON + 4 * 3600000 then 2 else 1 end) | fabs < 1e-12) | all" d &&
	total=$(jq -s "map(.cost) | add" d) &&
	vj-status --cost --json >st &&
	near "$(jq .cost_usd st)" "$total" &&
	# three answers at peak, three after: off-peak saved what the last three
	# would have cost more at peak
	near "$(jq .offpeak_saved_usd st)" "$(jq -s ".[3:] | map(.cost) | add" d)"
'

test_done
