#!/bin/sh
# Batches that expire with 60% of their answers (the fake's
# --batch-expire-after 60%): every answer that came back is kept, the rest
# redone by --batch-fallback (resubmit once then online, online, none);
# Gemini's expired batches have no results at all.  --cancel-batches, and
# vj-status --batches through the states.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1330 GEMINI_API_KEY=k1330
start_fake --batch-pending-ms 50 --batch-running-ms 100 --batch-finalizing-ms 50 --batch-expire-after 60%
oa() { vj-analyze --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
	--model gpt-4.1-mini --pending --batch --poll 0.05 --wait "$@"; }
ga() { vj-analyze --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch --poll 0.05 --wait "$@"; }
creates() { curl -s "$FAKE_URL/_stats" | jq .batch.creates; }
done_by() { cut -d" " -f2- "$1/journal/analyze.log" | jq -s "map(select(.ev == \"done\" and (.usage.tier == \"batch\") == $2)) | length"; }
once() {
	cut -d" " -f2- "$1/journal/analyze.log" |
	jq -se "map(select(.ev == \"done\")) | (length == $2) and (group_by(.id) | all(length == 1))"
}
ids() { seq -f e%g 1 10; }

test_expect_success 'default: 6 of 10 kept, 4 resubmitted, what that leaves sent online' '
	VJ_RUN=r1 mk_ingested img/dark.jpg in $(ids) &&
	before=$(creates) &&
	oa -r r1 >o 2>e &&
	test $(wc -l <o) -eq 10 && once r1 10 &&
	test $(( $(creates) - before )) -eq 2 &&
	cut -d" " -f2- r1/journal/analyze.log | jq -se "map(select(.ev == \"batch_collected\") | .done) | .[0] == 6" &&
	b=$(done_by r1 true) && n=$(done_by r1 false) && echo "batch $b online $n" &&
	test $b -ge 8 && test $b -le 9 && test $((b + n)) -eq 10 &&
	test_grep "not answered by batch 1 (expired): resubmitted next" r1/journal/analyze.log &&
	test_grep "sent online" e
'

test_expect_success '--batch-fallback online: the 4 left go online at once' '
	VJ_RUN=r2 mk_ingested img/dark.jpg in $(ids) &&
	before=$(creates) &&
	oa -r r2 --batch-fallback online >o 2>e &&
	once r2 10 && test $(( $(creates) - before )) -eq 1 &&
	test $(done_by r2 true) -eq 6 && test $(done_by r2 false) -eq 4
'

test_expect_success '--batch-fallback none: the 4 left fail for good (exit 1)' '
	VJ_RUN=r3 mk_ingested img/dark.jpg in $(ids) &&
	test_status 1 oa -r r3 --batch-fallback none >o 2>e &&
	test $(wc -l <o) -eq 6 &&
	test $(grep -c "not answered by batch 1 (expired) (--batch-fallback none)" e) -eq 4 &&
	cut -d" " -f2- r3/journal/analyze.log | jq -se "map(select(.ev == \"fail\" and .final)) | length == 4"
'

test_expect_success 'Gemini: an expired batch has no results: resubmitted, then online' '
	VJ_RUN=r4 mk_ingested img/dark.jpg in g1 g2 g3 &&
	before=$(creates) &&
	ga -r r4 >o 2>e &&
	test $(wc -l <o) -eq 3 && once r4 3 &&
	test $(( $(creates) - before )) -eq 2 &&
	test $(done_by r4 false) -eq 3
'

stop_bg
start_fake --batch-pending-ms 300 --batch-running-ms 3000 --batch-cancel-ms 200

test_expect_success 'vj-status --batches: pending, then running' '
	VJ_RUN=r5 mk_ingested img/dark.jpg in s1 s2 s3 s4 &&
	test_status 75 vj-analyze -r r5 --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
		--model gpt-4.1-mini --pending --batch 2>e &&
	vj-status -r r5 --batches >st1 && test_grep " pending " st1 &&
	sleep 0.5 &&
	test_status 75 vj-analyze -r r5 --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
		--model gpt-4.1-mini --pending --batch 2>e &&
	vj-status -r r5 --batches >st2 && test_grep " running " st2 &&
	test_grep "1 batch in progress" e
'

test_expect_success '--cancel-batches: cancelled, what it answered kept, the rest pending' '
	sleep 1 &&
	oa -r r5 --cancel-batches >o 2>e &&
	test_grep "batch 1 (batch_[A-Za-z0-9]*): cancelled" e &&
	vj-status -r r5 --batches --json | jq -e ".batches[0].collected and .batches[0].state == \"collected\"" &&
	test $(curl -s "$FAKE_URL/_stats" | jq .batch.cancels) -eq 1 &&
	n=$(wc -l <o) && echo "$n answered before the cancel" && test $n -lt 4 &&
	oa -r r5 --batch-fallback online >o2 2>e2 &&
	test $((n + $(wc -l <o2))) -eq 4 && once r5 4
'

test_expect_success 'the heartbeat carries the provider counts' '
	VJ_RUN=r6 mk_ingested img/dark.jpg in h1 h2 &&
	oa -r r6 --heartbeat 1 --poll 0.3 >o 2>e &&
	test $(wc -l <o) -eq 2 &&
	test_grep "in flight, .*1 batch running [0-9]/2" e
'

test_done
