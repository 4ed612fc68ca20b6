#!/bin/sh
# --batch on the OpenAI batch API (/v1/files, /v1/batches; the fake's):
# vj-analyze and vj-generate end to end, equal to online runs; files split
# at small limits set on both sides (count and bytes), so the server never
# refuses one; --batch-export and --batch-import for vllm run-batch.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1310
start_fake --batch-pending-ms 50 --batch-running-ms 100 --batch-finalizing-ms 50 \
	--batch-max-requests 3 --upload-max-bytes 100000
M=gpt-4.1-mini
oa() { vj-analyze --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY --model $M "$@"; }
og() { vj-generate --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY --model $M "$@"; }
stat() { curl -s "$FAKE_URL/_stats" | jq "$1"; }
content() { jq -cS "{id, analysis, analysis_meta, content, content_meta}" "$1" | sort; }
evs() { cut -d" " -f2- "$1" | jq -c "select(.ev == \"$2\")"; }

# at most 3 requests and 100,000 bytes a file: each line is ~25 KB
printf 'openai 100000 3\n' >limits
export VJ_BATCH_LIMITS=$PWD/limits

test_expect_success 'analyze online and in batches' '
	mk_ingested img/dark.jpg in a1 a2 a3 a4 a5 a6 a7 &&
	cp -r vj-run online && cp -r vj-run batch &&
	oa -r online --pending >online.out &&
	oa -r batch --pending --batch --wait --poll 0.05 >batch.out 2>e &&
	content online.out >c1 && content batch.out >c2 && test_cmp c1 c2
'

test_expect_success 'split under the limits: 3 files (3+3+1), none refused, no 413' '
	evs batch/journal/analyze.log batch_intent | jq -s "map(.n)" | jq -ce ". == [3, 3, 1]" &&
	evs batch/journal/analyze.log batch_intent | jq -se "all(.bytes <= 100000)" &&
	test $(stat .batch.creates) -eq 3 && test $(stat .batch.create_errors) -eq 0 &&
	test $(stat ".by_status[\"413\"] // 0") -eq 0 &&
	evs batch/journal/analyze.log done | jq -se "length == 7 and all(.usage.tier == \"batch\" and .cost > 0)"
'

test_expect_success 'the states went by, finalizing among them' '
	vj-status -r batch --batches >st && cat st &&
	test $(grep -c "collected" st) -eq 3 &&
	test $(stat ".batch.polls.finalizing // 0") -ge 0
'

test_expect_success 'generate online and in batches: the same content' '
	og -r online --pending >gon.out &&
	og -r batch --pending --batch --wait --poll 0.05 >gba.out 2>e &&
	content gon.out >g1 && content gba.out >g2 && test_cmp g1 g2 &&
	evs batch/journal/generate.log done | jq -se "length == 7 and all(.usage.tier == \"batch\")"
'

test_expect_success 'one request over the byte limit: that job fails, the rest go' '
	printf "openai 20000 3\n" >limits &&
	export VJ_RUN=big &&
	mk_ingested img/dark.jpg in2 z1 &&
	mk_ingested img/small.webp in2 z2 &&
	test_status 1 oa --pending --batch --wait --poll 0.05 >o 2>e &&
	test_grep "job z1: .*over the provider.s batch file limit" e &&
	test $(wc -l <o) -eq 1 && jq -e ".id == \"z2\"" o &&
	printf "openai 100000 3\n" >limits
'

test_expect_success '--batch-export: an OpenAI batch input file, nothing journaled' '
	export VJ_RUN=exp &&
	mk_ingested img/dark.jpg in3 x1 x2 x3 &&
	oa --pending --batch-export req.jsonl 2>e &&
	test $(wc -l <req.jsonl) -eq 3 &&
	jq -se "map(.custom_id | split(\".\")[0]) | sort == [\"x1\",\"x2\",\"x3\"]" req.jsonl &&
	jq -se "all(.method == \"POST\" and .url == \"/v1/chat/completions\" and .body.model == \"$M\")" req.jsonl &&
	test $(evs exp/journal/analyze.log done | wc -l) -eq 0
'

test_expect_success '--batch-import: its results (run elsewhere) journaled and checked' '
	export VJ_RUN=exp &&
	fid=$(curl -s -H "Authorization: Bearer $VJ_FAKE_KEY" -F purpose=batch -F file=@req.jsonl "$FAKE_URL/v1/files" | jq -r .id) &&
	bid=$(curl -s -H "Authorization: Bearer $VJ_FAKE_KEY" -H "Content-Type: application/json" \
		-d "{\"input_file_id\":\"$fid\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" \
		"$FAKE_URL/v1/batches" | jq -r .id) &&
	i=0 && while [ $i -lt 100 ]; do
		s=$(curl -s -H "Authorization: Bearer $VJ_FAKE_KEY" "$FAKE_URL/v1/batches/$bid") &&
		[ "$(echo "$s" | jq -r .status)" = completed ] && break; sleep 0.1; i=$((i + 1)); done &&
	ofid=$(echo "$s" | jq -r .output_file_id) &&
	curl -s -H "Authorization: Bearer $VJ_FAKE_KEY" "$FAKE_URL/v1/files/$ofid/content" >res.jsonl &&
	echo "{\"custom_id\":\"nobody.0123\",\"response\":{\"status_code\":200,\"body\":{}}}" >>res.jsonl &&
	oa --batch-import res.jsonl >imp.out 2>e &&
	test $(wc -l <imp.out) -eq 3 &&
	test_grep "not one of the batch.s requests\\|which the run does not hold" e &&
	evs exp/journal/analyze.log done | jq -se "length == 3" &&
	oa --pending >again.out && test ! -s again.out
'

test_expect_success '--batch-export with Gemini is refused' '
	test_status 2 env GEMINI_API_KEY=k vj-analyze --base-url "$FAKE_URL" --pending --batch-export x.jsonl 2>e &&
	test_grep "OpenAI.s batch format" e
'

test_done
