#!/bin/sh
# A batch's result file is bounded: requests x answer_max (data/batch.txt)
# plus 64 KiB.  A provider that sends more is refused as it downloads, so a
# hostile or broken server cannot fill the run's disk; nothing is
# journaled from it, and with a sane bound the same batch collects.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1370
start_fake --batch-pending-ms 20 --batch-running-ms 20 --batch-finalizing-ms 20
oa() { vj-analyze --provider openai --base-url "$FAKE_URL/v1" --api-key-env VJ_FAKE_KEY \
	--model gpt-4.1-mini "$@"; }
evs() { cut -d" " -f2- "$1" | jq -c "select(.ev == \"$2\")"; }

test_expect_success 'a result file over its bound is refused, nothing journaled from it' '
	mk_ingested img/small.webp in $(seq -f b%g 1 60) &&
	printf "openai 100000000 0 10\n" >limits &&
	VJ_BATCH_LIMITS=$PWD/limits test_status 3 oa --pending --batch --wait --poll 0.05 >o 2>e &&
	test_grep "batch 1: its file .* is over [0-9]* bytes, more than the answers to 60 requests" e &&
	test ! -s o &&
	test "$(evs vj-run/journal/analyze.log done | wc -l)" -eq 0 &&
	test -z "$(ls vj-run/batch | grep "\.out")"
'

test_expect_success 'with the shipped bound the same batch is collected, each job once' '
	printf "openai 100000000 0 262144\n" >limits &&
	VJ_BATCH_LIMITS=$PWD/limits oa --pending --batch --wait --poll 0.05 >o 2>e &&
	test $(wc -l <o) -eq 60 &&
	test "$(evs vj-run/journal/analyze.log done | jq -r .id | sort -u | wc -l)" -eq 60 &&
	test "$(evs vj-run/journal/analyze.log done | wc -l)" -eq 60
'

test_expect_success 'a bad answer_max is file:line' '
	printf "openai 100 0 0\n" >bad &&
	VJ_BATCH_LIMITS=$PWD/bad test_status 2 oa --pending --batch >o 2>e &&
	test_grep "bad:1: want \"PROVIDER MAX_BYTES MAX_REQUESTS \[ANSWER_MAX\]\"" e
'

test_done
