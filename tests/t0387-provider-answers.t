#!/bin/sh
# t0387-provider-answers: what a provider's answer may make vj do (issue 10,
# items 7, 8, 11 and 5): a redirect is one configuration error naming its
# Location (without the login in it), exit 3, no job failed; a text answer
# cut at the output limit is retried like Gemini's MAX_TOKENS; Retry-After
# values no client should believe (inf, 1e30, retry-after-ms 1e300) give
# no negative or endless wait.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0387 GEMINI_API_KEY=k0387 DEEPSEEK_API_KEY=k0387
start_fake

an() { vj-analyze --base-url "$FAKE_URL" --timeout 5 "$@"; }
ge() { vj-generate --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 5 "$@"; }
final_fails() { grep "\"ev\":\"fail\"" "$1" | grep -c "\"final\":true"; }

test_expect_success 'Gemini answering 301: one fatal error naming the Location, exit 3, jobs pending' '
	mk_ingested img/gradient.jpg ing m1 m2 m3 m4 m5 m6 &&
	fake_script "* 301,301,301,301,301,301,301,301,301,301,301,301\n" &&
	test_status 3 an -j 3 ing >o 2>e &&
	test "$(grep -c "redirect" e)" -eq 1 &&
	test_grep "vj-analyze: stopped: gemini: the server answers HTTP 301, a redirect to https://new-gateway.invalid/v2/: vj does not follow a provider.s redirects; check --base-url ($FAKE_URL)" e &&
	! grep "job m" e &&
	! grep -r -F "gw-pass" e o vj-run &&
	! grep -r -F "gw-user" e o vj-run &&
	grep -q "\"kind\":\"fatal\"" vj-run/journal/analyze.log &&
	test "$(final_fails vj-run/journal/analyze.log)" -eq 0 &&
	fake_script "" &&
	an ing >o 2>e && test "$(wc -l <o)" -eq 6
'

test_expect_success 'OpenAI-compatible answering 307 (a relative Location): fatal, exit 3' '
	mk_analysed img/gradient.jpg in r1 r2 &&
	fake_script "* 307,307,307,307\n" &&
	test_status 3 ge -r rg in >o 2>e &&
	test_grep "vj-generate: stopped: openai: the server answers HTTP 307, a redirect to $FAKE_URL/moved/here" e &&
	test "$(final_fails rg/journal/generate.log)" -eq 0 &&
	test ! -s o
'

test_expect_success 'finish_reason length on a text format: retried, the limit in the message' '
	mk_analysed img/gradient.jpg in lt &&
	fake_script "lt maxtokens,maxtokens,ok\n" &&
	ge -r rl -v --max-tokens 321 in >o 2>e &&
	test "$(fake_count lt)" -eq 3 &&
	test_grep "job lt: openai: answer truncated at max_tokens (321): the output limit; raise it with --max-tokens" e &&
	jq -e ".content.text != null and .content_meta.finish_reason == \"stop\"" o
'

test_expect_success 'finish_reason length every time: failed for good after the retries' '
	mk_analysed img/gradient.jpg in la &&
	fake_script "la maxtokens,maxtokens,maxtokens\n" &&
	test_status 1 ge -r rl2 --retries 2 in >o 2>e &&
	test_grep "job la: openai: answer truncated at max_tokens (2048).*(attempt 3/3, giving up)" e
'

# retry_after OF ID: the wait (ms) the first fail event of ID in JOURNAL asked for
wait_of() { grep "\"ev\":\"fail\",\"id\":\"$2\"" "$1" | head -n 1 | cut -d" " -f2- | jq ".retry_at - .t"; }

test_expect_success 'Retry-After: inf, 1e30 and retry-after-ms: 1e300 are no delay: a backoff instead' '
	mk_analysed img/gradient.jpg in ri re rm &&
	fake_script "ri retry-inf,ok\nre retry-e30,ok\nrm retry-ms-e300,ok\n" &&
	t0=$(now_ms) &&
	ge -r rr -v in >o 2>e &&
	t1=$(now_ms) &&
	test "$(wc -l <o)" -eq 3 &&
	for id in ri re rm; do
		w=$(wait_of rr/journal/generate.log $id) &&
		test "$w" -ge 0 && test "$w" -le 5000 || { echo "$id waits $w ms" >&2; return 1; }
	done &&
	! grep "retry in -" e &&
	test $((t1 - t0)) -lt 20000
'

test_expect_success 'Gemini: the same headers on its 429 give a backoff too' '
	mk_ingested img/gradient.jpg ing g1 &&
	fake_script "g1 retry-e30,ok\n" &&
	an ing >o 2>e &&
	w=$(wait_of vj-run/journal/analyze.log g1) &&
	test "$w" -ge 0 && test "$w" -le 5000
'

test_done
