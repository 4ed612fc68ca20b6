#!/bin/sh
# t0385-keys-hosts: keys go only where they belong (issue 10, items 4 and 5).
# --base-url is read by libcurl's URL parser: the host compared is the one
# connected to, credentials in it are refused without being repeated, a
# provider's public host is https only; an answer that echoes the key is
# failed and nothing of it is kept.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
KEY=sk-SECRET-0385-c0ffee0ddba11
export VJ_FAKE_KEY=$KEY GEMINI_API_KEY=$KEY DEEPSEEK_API_KEY=$KEY
start_fake

no_key() {
	for f in "$@"; do
		if grep -r -a -l -F "$KEY" "$f"; then echo "the key is in $f" >&2; return 1; fi
	done
	return 0
}
mk() { mk_analysed img/gradient.jpg "$@"; }

test_expect_success 'api.deepseek.com as the userinfo of a local URL: refused, no key sent' '
	mk in d1 &&
	fake_reset &&
	test_status 2 vj-generate --base-url "http://api.deepseek.com:x@127.0.0.1:$FAKE_PORT" in >o 2>e &&
	test_grep "credentials in the URL (user:password@host) are not accepted" e &&
	test_grep "http://127.0.0.1:$FAKE_PORT" e &&
	! grep -F "deepseek.com:x" e &&
	test "$(fake_total)" -eq 0 &&
	test ! -s o
'

test_expect_success 'a password in --base-url: refused, repeated nowhere' '
	mk in d2 &&
	test_status 2 vj-generate -r run2 --base-url "http://bob:hunter2-0385@127.0.0.1:$FAKE_PORT/v1" \
	    --api-key-env DEEPSEEK_API_KEY in >o 2>e &&
	test_grep "credentials in the URL" e &&
	! grep -r -F "hunter2-0385" e o . &&
	test_status 2 vj-analyze -r run2 --base-url "https://bob@127.0.0.1:$FAKE_PORT" in >o 2>e &&
	test_grep "credentials in the URL" e &&
	! grep -F "bob" e
'

test_expect_success 'plain http to a provider'"'"'s public host is refused' '
	mk in d4 &&
	test_status 2 vj-generate --base-url http://api.deepseek.com in 2>e &&
	test_grep "api.deepseek.com is reached over https only" e &&
	test_status 2 vj-generate --base-url http://API.DeepSeek.COM./v1 in 2>e &&
	test_grep "api.deepseek.com is reached over https only" e &&
	test_status 2 vj-generate --base-url http://api.openai.com/v1 --api-key-env DEEPSEEK_API_KEY in 2>e &&
	test_grep "api.openai.com is reached over https only" e &&
	test_status 2 vj-analyze --base-url http://generativelanguage.googleapis.com in 2>e &&
	test_grep "generativelanguage.googleapis.com is reached over https only" e
'

test_expect_success 'a --base-url libcurl cannot read is a usage error' '
	test_status 2 vj-generate --base-url "http://[::1" in 2>e &&
	test_grep "not a valid URL" e &&
	test_status 2 vj-generate --base-url "ftp://127.0.0.1" in 2>e &&
	test_grep "not an http:// or https:// URL" e
'

test_expect_success 'generate: an answer that echoes the key fails the job, nothing of it kept' '
	mk in e1 e2 e3 &&
	fake_script "e1 echokey\ne2 echokey-u\n" &&
	test_status 1 vj-generate -r run5 --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY in >o 2>e &&
	test_grep "job e1: openai: the answer contains the API key vj sent" e &&
	test_grep "job e2: openai: the answer contains the API key vj sent" e &&
	test "$(jq -r .id o)" = e3 &&
	grep "\"ev\":\"fail\",\"id\":\"e1\"" run5/journal/generate.log | grep -q "\"kind\":\"permanent\"" &&
	no_key o e run5
'

test_expect_success 'analyze (Gemini): an analysis that echoes the key fails the job' '
	mk_ingested img/gradient.jpg ing g1 g2 &&
	fake_script "g1 echokey\n" &&
	test_status 1 vj-analyze -r vj-run --base-url "$FAKE_URL" ing >o 2>e &&
	test_grep "job g1: gemini: the answer contains the API key vj sent" e &&
	test "$(jq -r .id o)" = g2 &&
	no_key o e vj-run
'

test_done
