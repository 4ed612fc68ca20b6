#!/bin/sh
# kill -9 at every step of a batch run (VJ_TEST_CRASH=STEP, a SIGKILL the
# process sends itself there): while writing the input file, after the
# upload, right after the create before its id is journaled, after a poll,
# after the download, while journaling the results.  The next run finishes:
# every job done exactly once, and the fake's create count proves no batch
# was created twice.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1320 GEMINI_API_KEY=k1320
start_fake --batch-pending-ms 50 --batch-running-ms 50 --batch-finalizing-ms 50
creates() { curl -s "$FAKE_URL/_stats" | jq .batch.creates; }
ga() { vj-analyze --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch --poll 0.05 "$@"; }
oa() { vj-analyze --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
	--model gpt-4.1-mini --pending --batch --poll 0.05 "$@"; }
once() {
	cut -d" " -f2- "$1/journal/analyze.log" |
	jq -se "map(select(.ev == \"done\")) | (length == $2) and (group_by(.id) | all(length == 1))"
}

# crash PROVIDER STEP CREATES: the crash at STEP, then a clean run; CREATES
# batches made in all
crash() {
	r=run-$1-$2 &&
	VJ_RUN=$r mk_ingested img/dark.jpg in c1 c2 c3 c4 &&
	before=$(creates) &&
	{ VJ_TEST_CRASH=$2 $1 -r $r --wait >o1 2>e1; echo $? >st; } &&
	test "$(cat st)" -eq 137 &&
	$1 -r $r --wait >o2 2>e2 &&
	once $r 4 &&
	test $(( $(creates) - before )) -eq $3 &&
	vj-status -r $r --batches --json | jq -e "all(.batches[]; .collected)" >/dev/null &&
	$1 -r $r --wait >o3 2>e3 && test ! -s o3 &&
	test $(( $(creates) - before )) -eq $3 &&
	curl -s "$FAKE_URL/_stats" | jq -e ".batch.by_name | length > 0 and all(.[]; . == 1)" >/dev/null
}

for p in ga oa; do
	test_expect_success "$p: killed while writing the file: no batch, then one" "crash $p file 1 && test_grep -v 'found at the provider' e2"
	test_expect_success "$p: killed after the upload: the next run creates it, once" "crash $p upload 1 && test_grep 'not created before a crash; creating it now' e2"
	test_expect_success "$p: killed after the create, before its id is journaled: found by listing" "crash $p create 1 && test_grep 'found at the provider as' e2"
	test_expect_success "$p: killed after a poll" "crash $p poll 1"
	test_expect_success "$p: killed after the download" "crash $p download 1"
	test_expect_success "$p: killed while journaling the results" "crash $p results 1 && test \$(wc -l <o1) -eq 2 && test \$(wc -l <o2) -eq 2"
done

test_expect_success 'SIGTERM while waiting: exit 75, the batch is not cancelled' '
	VJ_RUN=term mk_ingested img/dark.jpg in t1 t2 &&
	cancels=$(curl -s "$FAKE_URL/_stats" | jq .batch.cancels) &&
	{ vj-analyze -r term --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch --poll 30 --wait >o 2>e & } &&
	pid=$! && i=0 &&
	while ! grep -q "created as" e && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	kill -TERM $pid && { wait $pid; echo $? >st; } && test "$(cat st)" -eq 75 &&
	test_grep "1 batch in progress" e &&
	test $(curl -s "$FAKE_URL/_stats" | jq .batch.cancels) -eq $cancels &&
	ga -r term --wait >o2 && test $(wc -l <o2) -eq 2
'

stop_bg
start_fake --batch-pending-ms 50 --batch-running-ms 50 --latency-ms 1500 --latency-dist fixed

test_expect_success 'a real kill -9 in the middle of the upload' '
	VJ_RUN=k9 mk_ingested img/dark.jpg in k1 k2 k3 &&
	{ vj-analyze -r k9 --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch \
		--poll 0.05 --wait >o1 2>e1 & } && pid=$! && i=0 &&
	while ! grep -q "requests, .* bytes in" e1 && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	sleep 0.3 && kill -9 $pid && { wait $pid; echo $? >st; } && test "$(cat st)" -eq 137 &&
	ga -r k9 --wait >o2 2>e2 &&
	once k9 3 &&
	curl -s "$FAKE_URL/_stats" | jq -e ".batch.creates == 1 and (.batch.by_name | all(.[]; . == 1))"
'

test_done
