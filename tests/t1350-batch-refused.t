#!/bin/sh
# A batch the provider refuses at validation (the fake's limits set below
# vj's): one clear error naming the input file and the provider's words;
# the batch is closed, not tried again, and its jobs go by the fallback.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1350 GEMINI_API_KEY=k1350
start_fake --batch-pending-ms 20 --batch-running-ms 20 --batch-finalizing-ms 20 --batch-max-requests 2
printf 'gemini 100000000 10\nopenai 100000000 10\n' >limits
export VJ_BATCH_LIMITS=$PWD/limits
creates() { curl -s "$FAKE_URL/_stats" | jq .batch.creates; }

test_expect_success 'Gemini refuses the create: exit 3, naming the file and why' '
	VJ_RUN=g mk_ingested img/dark.jpg in a1 a2 a3 &&
	test_status 3 vj-analyze -r g --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch 2>e &&
	test_grep "batch 1 (vj-[0-9a-f]*-analyze-000001): g/batch/analyze-000001.jsonl: gemini: 400: .*more than the 2 requests allowed" e &&
	vj-status -r g --batches --json | jq -e ".batches[0].collected and .batches[0].missing == 3" &&
	test $(creates) -eq 0
'

test_expect_success 'the next run does not send that file again: resubmitted, then online' '
	test_status 3 vj-analyze -r g --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch 2>e &&
	vj-analyze -r g --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch >o 2>e &&
	test $(wc -l <o) -eq 3 && test_grep "sent online" e &&
	vj-status -r g --batches --json | jq -e ".batches | length == 2"
'

test_expect_success 'OpenAI fails the batch at validation: the error, then the fallback' '
	VJ_RUN=orun mk_ingested img/dark.jpg in b1 b2 b3 &&
	vj-analyze -r orun --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY --model gpt-4.1-mini \
		--pending --batch --wait --poll 0.05 --batch-fallback online >o 2>e &&
	test_grep "batch 1 (orun/batch/analyze-000001.jsonl) failed: too_many_tasks" e &&
	test $(wc -l <o) -eq 3
'

stop_bg
start_fake --batch-pending-ms 20 --batch-running-ms 20 --batch-fail-after 50%

test_expect_success 'Gemini fails a batch half way: the error said, its jobs resubmitted then online' '
	VJ_RUN=gf mk_ingested img/dark.jpg in f1 f2 f3 f4 &&
	vj-analyze -r gf --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch --wait --poll 0.05 >o 2>e &&
	test_grep "batch 1 (gf/batch/analyze-000001.jsonl) failed: " e &&
	test $(wc -l <o) -eq 4 &&
	vj-status -r gf --batches --json | jq -e "[.batches[] | .missing] == [4, 4]"
'

test_done
