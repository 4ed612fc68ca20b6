#!/bin/sh
# kill -9 at random moments over a 2,000-job vj-analyze run against a faulty
# fake, then a run to completion: every job analysed exactly once, and no
# request for a job after its result was journaled.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0440 GEMINI_API_KEY=k0440
start_fake --latency-ms 20 --p429 0.1 --p500 0.05 --pbadjson 0.02 --seed 440
N=2000
KILLS=20

# the journal's complete lines (a torn last line is not journaled)
complete() {
	if [ "$(tail -c 1 "$1" | od -An -c | tr -d " ")" = '\n' ]; then cat "$1"; else sed '$d' "$1"; fi
}
stats() { curl -s "$FAKE_URL/_stats" | jq -c .by_job; }

test_expect_success "$N jobs ingested" '
	for i in $(seq 1 $N); do
		printf "{\"imageUrl\": \"img/%s\", \"id\": \"k%d\"}\n" \
			$(echo "dark.jpg bright.jpg sunset.png stripes.png shapes.webp" | cut -d" " -f$((i % 5 + 1)) | sed "s/sunset.png/sunset.jpg/") $i
	done >m.jsonl &&
	vj-ingest -q m.jsonl >in.jsonl &&
	test $(wc -l <in.jsonl) -eq $N
'

test_expect_success "$KILLS kills at random moments, then a run to completion" '
	n=0 &&
	while [ $n -lt $KILLS ]; do
		vj-analyze --base-url "$FAKE_URL" -j 32 --retries 10 --timeout 10 in.jsonl >/dev/null 2>&1 &
		pid=$!
		r=$(od -An -N1 -tu1 /dev/urandom | tr -d " ")
		sleep 0.$((r % 4))$((r % 10))5
		kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
		sleep 0.3
		n=$((n + 1))
		stats >snap.$n &&
		complete vj-run/journal/analyze.log | grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" |
			sed "s/.*\"id\":\"//; s/\"$//" | sort -u >done.$n
		echo "kill $n after 0.$((r % 4))$((r % 10))5 s: $(wc -l <done.$n) done"
	done &&
	test $(wc -l <done.$((KILLS / 2))) -lt $N &&
	timeout 600 vj-analyze --base-url "$FAKE_URL" -j 32 --retries 10 --timeout 10 in.jsonl >out 2>err &&
	test $(wc -l <out) -eq $N &&
	test $(jq -r .id out | sort -u | wc -l) -eq $N &&
	jq -r "select(.analysis == null) | .id" out >noan && test ! -s noan
'

test_expect_success 'one done event per job in the journal, none failed for good' '
	grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" vj-run/journal/analyze.log | sort >dones &&
	test $(wc -l <dones) -eq $N &&
	test $(sort -u dones | wc -l) -eq $N &&
	! grep -q "\"final\":true" vj-run/journal/analyze.log &&
	vj-status --json | jq -e ".stages.analyze.done == $N and .stages.analyze.failed == 0"
'

test_expect_success 'no job was asked again after its result was journaled' '
	stats >final &&
	n=1 &&
	while [ $n -le $KILLS ]; do
		jq -R . done.$n | jq -s . >ids.json &&
		jq -n --slurpfile a snap.$n --slurpfile b final --slurpfile ids ids.json \
			"[\$ids[0][] | select(\$a[0][.] != \$b[0][.]) | {id: ., then: \$a[0][.], now: \$b[0][.]}]" >bad.$n &&
		if [ "$(jq length bad.$n)" != 0 ]; then
			echo "after kill $n, requests for jobs already journaled:"; head -c 600 bad.$n; exit 1
		fi
		n=$((n + 1))
	done &&
	test "$(jq length ids.json)" -gt 0
'

test_expect_success 'per job: requests = journaled failures + 1, give or take one lost per kill' '
	grep "\"ev\":\"fail\"" vj-run/journal/analyze.log | grep -o "\"id\":\"[^\"]*\"" |
		sed "s/\"id\":\"//; s/\"$//" | sort | uniq -c | awk "{print \$2, \$1}" >fails &&
	jq -r "to_entries[] | select(.key | test(\"^k[0-9]+$\")) | \"\(.key) \(.value)\"" final | sort >reqs &&
	test $(wc -l <reqs) -eq $N &&
	awk -v K=$KILLS "
		NR == FNR { f[\$1] = \$2; next }
		{ lost = \$2 - f[\$1] - 1; total += lost
		  if (lost < 0) { print \$1 \": fewer requests than journaled events\"; bad = 1 }
		  if (lost > K) { print \$1 \": \" lost \" requests lost\"; bad = 1 } }
		END { print \"requests lost to kills:\", total; if (total > K * 64) bad = 1; exit bad }
	" fails reqs
'

test_done
