#!/bin/sh
# vj-analyze --batch on Gemini's batch API (the fake's): a run under cron
# submits and exits 75, the next collects; the answers equal an online
# run's, at the batch price; --batch-size splits; a model without a batch
# tier is refused, naming those with one; vj-status --batches lists them.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1300 GEMINI_API_KEY=k1300
start_fake --batch-pending-ms 100 --batch-running-ms 100
M=gemini-2.5-flash-lite
an() { vj-analyze --base-url "$FAKE_URL" --model $M "$@"; }
creates() { curl -s "$FAKE_URL/_stats" | jq .batch.creates; }
# content: id, analysis and meta of each record, sorted by id
content() { jq -cS "{id, analysis, analysis_meta}" "$1" | sort; }

test_expect_success 'online and batch runs of the same six jobs' '
	mk_ingested img/dark.jpg in j1 j2 j3 j4 j5 j6 &&
	cp -r vj-run online && cp -r vj-run batch &&
	an -r online --pending >online.out 2>e &&
	test $(wc -l <online.out) -eq 6
'

test_expect_success '--pending --batch submits what is ready and exits 75' '
	test_status 75 an -r batch --pending --batch >b1.out 2>e &&
	test_grep "1 batch in progress, checked at 20[0-9-]*T[0-9:]*Z" e &&
	test ! -s b1.out &&
	test $(creates) -eq 1 &&
	ls batch/batch/analyze-000001.jsonl batch/batch/analyze-000001.keys &&
	test $(wc -l <batch/batch/analyze-000001.jsonl) -eq 6 &&
	jq -e "has(\"key\") and has(\"request\")" batch/batch/analyze-000001.jsonl >/dev/null &&
	cut -d" " -f2- batch/journal/analyze.log | jq -se "map(select(.ev == \"batch_intent\")) | length == 1" &&
	cut -d" " -f2- batch/journal/analyze.log | jq -se "map(select(.ev == \"batch_created\"))[0].pid | startswith(\"batches/\")"
'

test_expect_success 'vj-status --batches shows it in flight' '
	vj-status -r batch --batches >st &&
	test_grep "analyze  *1  *gemini  *$M  *6 " st &&
	vj-status -r batch --batches --json | jq -e ".batches[0].seq == 1 and .batches[0].collected == false" &&
	vj-status -r batch >st && test_grep "^batches: analyze 1 open (0/6 answered), 0 collected" st &&
	vj-status -r batch --json | jq -e ".batches.analyze.open == 1"
'

test_expect_success '--wait collects: the answers are the online ones' '
	an -r batch --pending --batch --wait --poll 0.1 >b2.out 2>e &&
	test $(wc -l <b2.out) -eq 6 &&
	content online.out >c.online && content b2.out >c.batch &&
	test_cmp c.online c.batch &&
	test $(creates) -eq 1 &&
	test ! -e batch/batch/analyze-000001.jsonl &&
	vj-status -r batch --batches --json | jq -e ".batches[0].collected == true and .batches[0].done == 6"
'

test_expect_success 'each done at the batch tier, at half the online cost' '
	cut -d" " -f2- batch/journal/analyze.log | jq -se "map(select(.ev == \"done\")) | length == 6 and all(.usage.tier == \"batch\" and .cost > 0)" &&
	on=$(cut -d" " -f2- online/journal/analyze.log | jq -s "map(.cost // 0) | add") &&
	ba=$(cut -d" " -f2- batch/journal/analyze.log | jq -s "map(.cost // 0) | add") &&
	echo "online $on batch $ba" &&
	jq -ne "($on / $ba - 2 | fabs) < 0.001"
'

test_expect_success 'a second run has nothing to do' '
	an -r batch --pending --batch --wait --poll 0.1 >b3.out 2>e &&
	test ! -s b3.out && test $(creates) -eq 1
'

test_expect_success 'on a pipe, records the journal holds are passed on, as online' '
	an -r batch --batch --wait --poll 0.1 <in >b4.out 2>e &&
	test $(wc -l <b4.out) -eq 6 && test $(creates) -eq 1 &&
	content b4.out >c.pipe && test_cmp c.online c.pipe
'

test_expect_success '--batch-size 2: three batches of two' '
	export VJ_RUN=split &&
	mk_ingested img/dark.jpg in2 k1 k2 k3 k4 k5 k6 &&
	an --pending --batch --batch-size 2 --wait --poll 0.1 >o 2>e &&
	test $(wc -l <o) -eq 6 &&
	test $(creates) -eq 4 &&
	cut -d" " -f2- split/journal/analyze.log | jq -se "map(select(.ev == \"batch_intent\") | .n) == [2, 2, 2]"
'

test_expect_success '--max-side: the batch lines carry the downscaled copy' '
	export VJ_RUN=small &&
	mk_ingested img/dark.jpg in3 m1 &&
	test_status 75 an --pending --batch --max-side 64 2>e &&
	n=$(jq ".request.contents[0].parts[0].inline_data.data | length" small/batch/analyze-000001.jsonl) &&
	echo "base64 of the copy: $n bytes" && test $n -gt 0 && test $n -lt 8000 &&
	an --pending --batch --max-side 64 --wait --poll 0.1 >o && test $(wc -l <o) -eq 1 &&
	jq -e ".image.width == 640" o
'

cat >nobatch.txt <<EOT
model gemini gemini-online-only
	vision           yes
	temperature      yes
	image            gemini-tiles tokens=258 tile=768 small=384
	price standard   0.10  0.025  0.40
EOT

test_expect_success 'a model without a batch tier: a usage error naming those with one' '
	test_status 2 vj-analyze --base-url "$FAKE_URL" --models nobatch.txt --model gemini-online-only --batch --pending 2>e &&
	test_grep "gemini model gemini-online-only has no batch tier in the model table; these have: .*gemini-2.5-flash-lite" e
'

test_expect_success 'usage errors: each named, exit 2' '
	test_status 2 an --pending --wait 2>e && test_grep "\-\-wait goes with \-\-off-peak or \-\-batch" e &&
	test_status 2 an --pending --batch --estimate 2>e && test_grep "\-\-batch does not go with \-\-estimate" e &&
	test_status 2 an --pending --batch --follow 2>e && test_grep "does not go with" e &&
	test_status 2 an --pending --batch --batch-export x 2>e && test_grep "do not go together" e &&
	test_status 2 an --pending --batch --batch-fallback later 2>e && test_grep "batch-fallback" e &&
	test_status 2 vj-analyze --provider openai --base-url "$FAKE_URL/v1" --model gpt-4.1-mini --batch-import nothere.jsonl 2>e &&
	test_grep "cannot read nothere.jsonl" e &&
	printf "gemini lots 0\n" >badlimits &&
	test_status 2 env VJ_BATCH_LIMITS=$PWD/badlimits vj-analyze --base-url "$FAKE_URL" --model $M --pending --batch 2>e &&
	test_grep "badlimits:1: want \"PROVIDER MAX_BYTES MAX_REQUESTS \[ANSWER_MAX\]\"" e &&
	test_status 2 an --pending --batch --tier flex 2>e && test_grep "does not go with --tier flex" e
'

test_expect_success 'vj-generate --batch on Gemini' '
	vj-generate -r batch --provider gemini --base-url "$FAKE_URL" --model $M --pending --batch --wait --poll 0.1 >g.out 2>e &&
	test $(wc -l <g.out) -eq 6 &&
	jq -e ".content.text | length > 0" g.out >/dev/null &&
	cut -d" " -f2- batch/journal/generate.log | jq -se "map(select(.ev == \"done\")) | length == 6 and all(.usage.tier == \"batch\")"
'

test_expect_success '--batch with the offline provider: a usage error' '
	test_status 2 vj-analyze --provider offline --batch --pending 2>e &&
	test_grep "provider offline has no batch API" e
'

test_done
