#!/bin/sh
# A batch stepped through its states by the fake's clock (POST
# /_batch/advance; no sleeping): each --pending --batch run polls once,
# journals the state and the provider's counts, shows them in vj-status
# --batches, and exits 75 until the batch is in; "finalizing" (OpenAI's,
# and Gemini's running-with-nothing-pending) is not done.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1340 GEMINI_API_KEY=k1340
D=1000000
start_fake --batch-pending-ms $D --batch-running-ms $D --batch-finalizing-ms $D
adv() { curl -s -X POST "$FAKE_URL/_batch/advance?ms=$1" >/dev/null; }
oa() { vj-analyze -r o --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
	--model gpt-4.1-mini --pending --batch "$@"; }
ga() { vj-analyze -r g --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch "$@"; }
# st RUN: "state ok/total pending" of its batch 1
st() { vj-status -r "$1" --batches --json | jq -r '.batches[0] | "\(.state) \(.ok)/\(.total) \(.pending)"'; }

test_expect_success 'both submitted: pending' '
	VJ_RUN=o mk_ingested img/dark.jpg in a1 a2 a3 a4 &&
	VJ_RUN=g mk_ingested img/dark.jpg in a1 a2 a3 a4 &&
	test_status 75 oa 2>e && test_status 75 ga 2>e &&
	vj-status -r o --batches >s && test_grep " pending " s
'

test_expect_success 'an online run beside them leaves their jobs alone' '
	before=$(curl -s "$FAKE_URL/_stats" | jq .requests) &&
	vj-analyze -r o --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
		--model gpt-4.1-mini --pending >out 2>e &&
	test ! -s out &&
	test_grep "1 analyze batch in progress: 4 jobs left to it" e &&
	test $(curl -s "$FAKE_URL/_stats" | jq .requests) -eq $before
'

test_expect_success '... also when its checkpoint holds the batch lines' '
	VJ_CKPT_BYTES=1 vj-status -r o >/dev/null && test -s o/journal/analyze.ckpt &&
	before=$(curl -s "$FAKE_URL/_stats" | jq .requests) &&
	vj-analyze -v -r o --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
		--model gpt-4.1-mini --pending >out 2>e &&
	test ! -s out &&
	test_grep "analyze.ckpt: checkpoint loaded" e &&
	test_grep "1 analyze batch in progress: 4 jobs left to it" e &&
	test $(curl -s "$FAKE_URL/_stats" | jq .requests) -eq $before
'

test_expect_success 'a day later still pending: a warning' '
	VJ_NOW_MS=$(( $(now_ms) + 25 * 3600 * 1000 )) oa 2>e; test $? -eq 75 &&
	test_grep "batch 1 (batch_[A-Za-z0-9]*) has been pending for 2[45] h" e
'

test_expect_success 'half way through running: the counts' '
	adv $((D + D / 2)) &&
	test_status 75 oa 2>e && test_grep "batch 1: running, 2 of 4 answered (0 failed, 2 pending)" e &&
	test "$(st o)" = "running 2/4 2" &&
	test_status 75 ga 2>e && test "$(st g)" = "running 2/4 2" &&
	vj-status -r o >s && test_grep "^batches: analyze 1 open (2/4 answered)" s
'

test_expect_success 'finalizing: all answered, not done, nothing journaled' '
	adv $D &&
	test_status 75 oa >out 2>e && test ! -s out && test "$(st o)" = "finalizing 4/4 0" &&
	test_status 75 ga >out 2>e && test ! -s out && test "$(st g)" = "finalizing 4/4 0" &&
	test_grep "1 batch in progress" e
'

test_expect_success 'done: collected, four records each' '
	adv $D &&
	oa >out 2>e && test $(wc -l <out) -eq 4 && test "$(st o)" = "collected 4/4 0" &&
	ga >out 2>e && test $(wc -l <out) -eq 4 && test "$(st g)" = "collected 4/4 0"
'

test_expect_success 'the status file carries the counts, for the stage drawing a pipe' '
	VJ_RUN=w mk_ingested img/dark.jpg in w1 w2 &&
	{ vj-analyze -r w --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch \
		--wait --poll 0.1 >wout 2>e & } && pid=$! && i=0 &&
	while ! grep -q "note" w/journal/analyze.progress 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	test_grep "\"note\":\"1 batch pending 0/2\"" w/journal/analyze.progress &&
	adv $((3 * D)) && { wait $pid; echo $? >st; } && test "$(cat st)" -eq 0 &&
	test $(wc -l <wout) -eq 2
'

test_expect_success 'a batch deleted at the provider: its jobs are sent again' '
	VJ_RUN=d mk_ingested img/dark.jpg in d1 d2 &&
	test_status 75 vj-analyze -r d --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch 2>e &&
	pid=$(vj-status -r d --batches --json | jq -r ".batches[0].pid") &&
	curl -s -X DELETE -H "x-goog-api-key: $VJ_FAKE_KEY" "$FAKE_URL/v1beta/$pid" >/dev/null &&
	test_status 75 vj-analyze -r d --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch 2>e &&
	test_grep "batch 1 (batches/[a-z0-9]*): the provider no longer knows it" e &&
	vj-status -r d --batches --json | jq -e ".batches | length == 2 and .[0].collected and .[0].missing == 2 and (.[1].collected | not)"
'

test_done
