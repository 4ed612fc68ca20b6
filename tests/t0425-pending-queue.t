#!/bin/sh
# Queue semantics a cron job can rely on: --pending on a run that does not
# exist is a usage error that creates nothing; a retry a crash interrupted
# that is due within the horizon (--wait-retries, default the job timeout)
# is taken and waited for, so the next night finishes it; one due later is
# left, exit 75.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=fake-key-0425 GEMINI_API_KEY=fake-key-0425
start_fake --models gemini-3.5-flash-lite
an() { vj-analyze --base-url "$FAKE_URL" --timeout 10 "$@"; }

for c in "vj-ingest --pending" "vj-analyze --pending --provider offline" "vj-generate --pending --provider offline"; do
	test_expect_success "$c on a run that does not exist: exit 2, nothing made" "
		test_status 2 $c -r runz >o 2>e &&
		test_grep 'no run at runz' e &&
		test ! -e runz
	"
done

# interrupted JOB: a run of JOB that met a 429 (the fake asks for a delay)
# and was stopped while it waited; its retry is journaled
interrupted() {
	fake_script "$1 429,ok\n" &&
	printf '{"imageUrl": "img/dark.jpg", "id": "%s"}\n' "$1" | vj-ingest -q >/dev/null &&
	{ vj-analyze --base-url "$FAKE_URL" --timeout 10 --pending --grace 0 >/dev/null 2>&1 &
	  echo $! >pid; } &&
	n=0 && while ! grep -q "\"ev\":\"fail\",\"id\":\"$1\"" vj-run/journal/analyze.log 2>/dev/null &&
		[ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done &&
	kill -TERM $(cat pid) && { wait $(cat pid); st=$?; } ; test $st -eq 75
}

test_expect_success 'a retry due in a second or two is taken by the next --pending and finished' '
	interrupted w1 &&
	an --pending >o 2>e &&
	jq -e "select(.id == \"w1\") | .analysis | type == \"object\"" o &&
	test $(fake_count w1) -eq 2
'

# later JOB SECONDS: journal again JOB's last failure, due SECONDS from now
later() {
	line=$(grep "\"ev\":\"fail\",\"id\":\"$1\"" vj-run/journal/analyze.log | tail -n 1 | cut -c10-) &&
	at=$(( $(date +%s) * 1000 + $2 * 1000 )) &&
	printf "%s\n" "$line" | sed "s/\"retry_at\":[0-9]*/\"retry_at\":$at/" | vj-jline >>vj-run/journal/analyze.log
}

test_expect_success 'a retry due past the horizon is left for later: exit 75, nothing sent' '
	interrupted w2 && later w2 3600 &&
	before=$(fake_count w2) &&
	test_status 75 an --pending >o 2>e &&
	test "$(fake_count w2)" = "$before" &&
	test_grep "waiting to retry" e
'

test_expect_success '--wait-retries 0 leaves even a near one; a horizon past it takes it' '
	later w2 3 &&
	test_status 75 an --pending --wait-retries 0 >o 2>e &&
	test_grep "waiting to retry" e &&
	an --pending --wait-retries 60 >o 2>e &&
	jq -e "select(.id == \"w2\") | .analysis | type == \"object\"" o
'

test_done
