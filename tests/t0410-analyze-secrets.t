#!/bin/sh
# The API keys appear nowhere: not on stdout, stderr (even with -v -v and
# error answers), the journals, the shards, or the process's argv.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
KEY=sk-SECRET-0410-f00dfeedbeef
export VJ_FAKE_KEY=$KEY GEMINI_API_KEY=$KEY DEEPSEEK_API_KEY=$KEY
cat >script <<EOT
s1 429,500,badjson,ok
s2 schema,blank,ok
s3 drop,503,ok
EOT
start_fake --script script

no_key() {
	for f in "$@"; do
		if grep -r -a -l -F "$KEY" "$f"; then echo "the key is in $f" >&2; return 1; fi
	done
	return 0
}

test_expect_success 'analyze, generate and pack with faults, -v -v: no key anywhere' '
	job_lines img/bright.jpg s1 s2 s3 s4 | vj-ingest -v -v >ing 2>ing.err &&
	vj-analyze -v -v --base-url "$FAKE_URL" --timeout 5 ing >an 2>an.err &&
	test $(wc -l <an) -eq 4 &&
	fake_script "s1 429,503,spaces,ok" &&
	vj-generate -v -v --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 5 an >ge 2>ge.err &&
	test $(wc -l <ge) -eq 4 &&
	vj-pack -v -v -o shards --format jsonl --compress none ge >pk 2>pk.err &&
	vj-status -v --failed >st 2>&1 && vj-status --json >>st 2>&1 &&
	test_grep "attempt" an.err &&
	no_key ing ing.err an an.err ge ge.err pk pk.err st vj-run shards
'

test_expect_success 'DEEPSEEK_API_KEY is not sent to another --base-url unless named' '
	vj-generate -r other --base-url "$FAKE_URL" an >o 2>e;
	test $? -eq 3 &&
	test_grep "the server wants an API key" e &&
	no_key o e
'

test_expect_success 'a wrong key is not echoed either' '
	mk_ingested img/dark.jpg w w1 &&
	GEMINI_API_KEY=$KEY-WRONG test_status 3 vj-analyze -v -v --base-url "$FAKE_URL" w >o 2>e &&
	test_grep "invalid API key (GEMINI_API_KEY)" e &&
	no_key o e vj-run
'

test_expect_success 'the key is not in argv (/proc/PID/cmdline) while a request is in flight' '
	mk_ingested img/dark.jpg sl slow &&
	fake_script "slow slow"
	vj-analyze --base-url "$FAKE_URL" --timeout 20 sl >o 2>e &
	pid=$! &&
	i=0 && while [ $i -lt 50 ] && [ "$(fake_count slow)" -eq 0 ]; do sleep 0.1; i=$((i + 1)); done &&
	test -r /proc/$pid/cmdline &&
	tr "\0" " " </proc/$pid/cmdline >cmdline &&
	test_grep "vj-analyze" cmdline &&
	no_key cmdline &&
	wait $pid &&
	no_key o e
'

test_done
