#!/bin/sh
# Batch answers are checked exactly like online ones (the provider's own
# parse): a schema violation or a cut answer is retryable (resubmitted),
# a blocked one fails for good, a per-request 500 is retried; no key is
# ever written in the run.  (A batch line carries no key, so the fake's
# echokey cannot echo one: the echo check is ps_parse's, tested online.)
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
KEY=k1360-secret-0123456789
export VJ_FAKE_KEY=$KEY GEMINI_API_KEY=$KEY
cat >script <<EOT
b-schema schema,ok
b-max maxtokens,ok
b-blocked blocked
b-500 500,ok
EOT
start_fake --script script --batch-pending-ms 20 --batch-running-ms 20
ga() { vj-analyze --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --pending --batch --poll 0.05 --wait "$@"; }
fails() { cut -d" " -f2- vj-run/journal/analyze.log | jq -c "select(.ev == \"fail\" and .id == \"$1\") | [.kind, .final, .attempt]" | tr "\n" " "; }

test_expect_success 'each answer classified as online' '
	mk_ingested img/dark.jpg in b-ok b-schema b-max b-blocked b-500 &&
	test_status 1 ga >o 2>e &&
	jq -r .id o | sort | tr "\n" " " >ids && echo "$(cat ids)" &&
	test "$(cat ids)" = "b-500 b-max b-ok b-schema " &&
	test "$(fails b-schema)" = "[\"retryable\",false,1] " &&
	test "$(fails b-max)" = "[\"retryable\",false,1] " &&
	test "$(fails b-500)" = "[\"retryable\",false,1] " &&
	test "$(fails b-blocked)" = "[\"permanent\",true,1] " &&
	test_grep "job b-blocked: gemini: blocked by safety filters\\|job b-blocked: gemini: answer withheld" e &&
	cut -d" " -f2- vj-run/journal/analyze.log | jq -se "map(select(.ev == \"batch_intent\") | .n) == [5, 3]"
'

test_expect_success 'the key is nowhere in the run' '
	! grep -r -a -l -F "$KEY" vj-run o e
'

# damage RUN ID: overwrite the job's object with zeros of the same size
damage() {
	sha=$(grep "\"ev\":\"done\",\"id\":\"$2\"" "$1/journal/ingest.log" | sed 's/.*"sha256":"\([0-9a-f]*\)".*/\1/') &&
	obj="$1/objects/$(printf %s "$sha" | cut -c1-2)/$(printf %s "$sha" | cut -c3-)" &&
	n=$(wc -c <"$obj") && chmod u+w "$obj" && head -c "$n" /dev/zero >"$obj"
}

test_expect_success 'a damaged object store: exit 3, nothing sent, no half file left' '
	VJ_RUN=dmg mk_ingested img/gradient.jpg in2 d1 &&
	damage dmg d1 &&
	before=$(curl -s "$FAKE_URL/_stats" | jq .batch.uploads) &&
	test_status 3 ga -r dmg >o 2>e &&
	test_grep "object store damaged: dmg/objects/" e &&
	test $(curl -s "$FAKE_URL/_stats" | jq .batch.uploads) -eq $before &&
	test -z "$(ls dmg/batch)" &&
	! grep -q "\"ev\":\"done\"" dmg/journal/analyze.log
'

test_done
