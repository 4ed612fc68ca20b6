#!/bin/sh
# vj-generate against the fake's OpenAI-compatible (DeepSeek-like) endpoint:
# keep-alive blank lines, empty and whitespace-only answers, interrupted
# inference, truncation (retried, text or JSON), fatal 401/402/insufficient_quota, 429/500/503 with
# retry-after, x-should-retry: false, and vLLM's flat error body.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0600 DEEPSEEK_API_KEY=k0600
cat >script <<EOT
bl blank
em empty,ok
sp spaces,ok
rs resource,ok
mt maxtokens,ok
r429 429,ok
r500 500,ok
r503 503,ok
srf shouldretry-false
vl vllm-error
k401 401
k402 402
kq quota
EOT
start_fake --script script

# mk FILE ID...: analysed records (offline analysis) for these ids
mk() { mk_analysed img/gradient.jpg "$@"; }
ge() { vj-generate --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 5 "$@"; }
ev() { grep "\"ev\":\"$1\",\"id\":\"$2\"" vj-run/journal/generate.log; }
ok1() { jq -e ".id == \"$1\" and .content != null" o >/dev/null; }

test_expect_success 'blank lines before the body: success at once' '
	mk in bl && ge in >o 2>e && ok1 bl && test $(fake_count bl) -eq 1
'

test_expect_success 'an empty body is retried' '
	mk in em && ge -v in >o 2>e && ok1 em && test $(fake_count em) -eq 2 &&
	test_grep "job em: openai: empty response body.*(attempt 1/4)" e
'

test_expect_success 'whitespace-only content is retried' '
	mk in sp && ge -v in >o 2>e && ok1 sp && test $(fake_count sp) -eq 2 &&
	ev fail sp | grep -q "\"kind\":\"retryable\""
'

test_expect_success 'finish_reason insufficient_system_resource is retried' '
	mk in rs && ge -v in >o 2>e && ok1 rs && test $(fake_count rs) -eq 2 &&
	test_grep "job rs: openai: .*insufficient_system_resource" e
'

test_expect_success 'finish_reason length on plain text: retried, naming the output limit (docs/providers.md)' '
	mk in mt && ge -v in >o 2>e && ok1 mt && test $(fake_count mt) -eq 2 &&
	test_grep "job mt: openai: answer truncated at max_tokens (2048): the output limit; raise it with --max-tokens" e
'

test_expect_success '429 with retry-after: waited for, not counted as an attempt' '
	mk in r429 &&
	t0=$(now_ms) && ge -v in >o 2>e && t1=$(now_ms) &&
	ok1 r429 && test $(fake_count r429) -eq 2 &&
	test $((t1 - t0)) -ge 950 &&
	ev fail r429 | grep -q "\"kind\":\"rate\",\"final\":false" &&
	ev done r429 | grep -q "\"attempt\":1,"
'

test_expect_success '500 and 503 are retried' '
	mk in r500 r503 && ge -v in >o 2>e &&
	test $(wc -l <o) -eq 2 && test $(fake_count r500) -eq 2 && test $(fake_count r503) -eq 2
'

test_expect_success 'x-should-retry: false makes a 500 permanent: one request' '
	mk in srf && test_status 1 ge in >o 2>e &&
	test_grep "job srf: openai: 500" e && test $(fake_count srf) -eq 1 &&
	ev fail srf | grep -q "\"kind\":\"permanent\",\"final\":true"
'

test_expect_success 'the flat vLLM error body: its message, permanent' '
	mk in vl && test_status 1 ge in >o 2>e &&
	test_grep "job vl: openai: 400.*maximum context length is 4096 tokens" e &&
	test $(fake_count vl) -eq 1
'

test_expect_success '401: fatal, exit 3, the job stays pending' '
	mk in k401 && test_status 3 ge in >o 2>e &&
	test_grep "vj-generate: stopped: openai: invalid API key (DEEPSEEK_API_KEY)" e &&
	! ev fail k401 | grep -q "\"final\":true" && test $(fake_count k401) -eq 1 &&
	ge in >o 2>e && ok1 k401
'

test_expect_success '402 insufficient balance: fatal, exit 3' '
	mk in k402 && test_status 3 ge in >o 2>e &&
	test_grep "vj-generate: stopped: openai: insufficient balance: Insufficient Balance" e
'

test_expect_success '429 insufficient_quota: fatal, exit 3, one request' '
	mk in kq && test_status 3 ge in >o 2>e &&
	test_grep "vj-generate: stopped: openai: out of credit (insufficient_quota)" e &&
	test $(fake_count kq) -eq 1
'

test_done
