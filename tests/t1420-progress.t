#!/bin/sh
# t1420-progress: what a running stage shows (src/stages/progress.c).  On a
# pseudo-terminal, one line for every stage of a pipeline, local work
# counted as it goes, Ctrl-C that says what it waits for and exits within
# the grace period leaving no ETA behind, stale status files not shown;
# elsewhere, heartbeat lines; --log-format json lines that jq reads.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k1420 GEMINI_API_KEY=k1420 DEEPSEEK_API_KEY=k1420

# pty OUT AFTER CMD: run "sh -c CMD" on a pseudo-terminal 200 columns wide,
# everything it writes into OUT; after AFTER seconds (0: never) type Ctrl-C
# on it, as a person would.  Prints "STATUS SECONDS" (from the Ctrl-C to
# the exit).
cat >ptyrun.py <<'EOF'
import fcntl, os, pty, select, signal, struct, sys, termios, time
out, after, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", cmd])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
t0 = time.monotonic()
sent = None
data = b""
eof = False
while not eof:
    now = time.monotonic()
    if after and sent is None and now - t0 >= after:
        os.write(fd, b"\x03")
        sent = now
    if now - t0 > 120:
        os.killpg(pid, signal.SIGKILL)   # stuck: fail, do not hang the suite
    r, _, _ = select.select([fd], [], [], 0.02)
    if r:
        try:
            b = os.read(fd, 65536)
        except OSError:
            b = b""
        eof = not b
        data += b
_, st = os.waitpid(pid, 0)
end = time.monotonic()
open(out, "wb").write(data)
print(os.waitstatus_to_exitcode(st), "%.2f" % (end - sent if sent else 0))
EOF
pty() { python3 ptyrun.py "$@"; }

# the fakes, started here (a test runs in a subshell: test_done stops these)
# a current model that honours temperature: no model warnings among the lines counted
start_fake --latency-ms 3000 --latency-dist fixed && SLOW=$FAKE_URL
start_fake --latency-ms 800 --latency-dist fixed && MID=$FAKE_URL
start_fake --latency-ms 300 --latency-dist fixed --static img && FAST=$FAKE_URL
# lines OUT: what was drawn and printed, one piece a line (split at \r and \n)
lines() { tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -v '^$' || true; }

# manifest N PREFIX [URL]: N jobs over a few images (in img/, or at URL/img/)
manifest() {
	i=1
	while [ $i -le $1 ]; do
		printf '{"imageUrl": "%simg/%s", "id": "%s%d"}\n' "${3:+$3/}" \
		    $(echo "dark.jpg bright.jpg sunset.jpg stripes.png shapes.webp" | cut -d" " -f$((i % 5 + 1))) $2 $i
		i=$((i + 1))
	done
}

test_expect_success 'a pipe on a terminal: one line shows every stage, then the summaries' '
	manifest 400 p >m.jsonl &&
	pty tty.out 0 "vj-ingest -r r1 m.jsonl | vj-analyze -r r1 --provider offline |
	    vj-generate -r r1 --provider offline | vj-pack -r r1 -o out1 --shard-records 100 >/dev/null" >res &&
	test "$(cat res)" = "0 0.00" &&
	lines tty.out >l &&
	grep "ingest .* | analyze .* | generate .* | pack " l >all &&
	test_grep "^ingest 400/400 done | " all &&
	for s in ingest analyze generate pack; do
		test_grep "^vj-$s: " l || return 1
	done &&
	test_grep "^vj-pack: 400 packed into 4 shards" l &&
	test $(grep -c "^vj-" l) -eq 4 &&
	! grep -v "^vj-\|^ingest\|^analyze\|^generate\|^pack" l &&
	test -z "$(sed -n "\$!d; /ETA/p" l)" &&
	for s in ingest analyze generate pack; do
		cut -d" " -f2- r1/journal/$s.progress | jq -e ".stage == \"$s\" and .state == \"done\"" >/dev/null ||
		    return 1
	done
'

test_expect_success 'a total from FILE arguments and from --pending: done/total and an ETA' '
	manifest 20 t "$FAST" >t.jsonl && manifest 400 u >u.jsonl &&
	pty tty2.out 0 "exec vj-ingest -r r2 -j 4 t.jsonl u.jsonl >t.rec" >res && test "$(cat res)" = "0 0.00" &&
	pty tty2b.out 0 "exec vj-analyze -r r2 --provider offline --pending >/dev/null" >res &&
	test "$(cat res)" = "0 0.00" &&
	lines tty2.out | test_grep "^ingest [0-9]*/420 .*ETA [0-9]*m[0-9][0-9]s\$" &&
	lines tty2b.out | test_grep "^analyze [0-9]*/420 .*ETA [0-9]*m[0-9][0-9]s\$"
'

test_expect_success 'local work is counted as it goes, not per batch of 256' '
	manifest 800 o >o.jsonl && vj-ingest -q -r r3 o.jsonl >o.rec &&
	pty tty3.out 0 "exec vj-analyze -r r3 --provider offline o.rec >/dev/null" >res &&
	test "$(cat res)" = "0 0.00" &&
	lines tty3.out | sed -n "s/^analyze \([0-9]*\)\/800 .*/\1/p" | sort -nu >counts &&
	grep -v "^800\$" counts >mid &&
	test $(wc -l <mid) -ge 3 &&
	awk "\$1 % 256 != 0 { n++ } END { exit !(n >= 2) }" mid
'

test_expect_success 'Ctrl-C: "interrupted, finishing N in flight", exit 75 within the grace, no ETA left' '
	manifest 40 c >c.jsonl && vj-ingest -q -r r4 c.jsonl >c.rec &&
	pty tty4.out 1.5 "exec vj-analyze --model gemini-2.5-flash-lite -r r4 --base-url $SLOW -j 4 --grace 1 c.rec >/dev/null" >res &&
	read st secs <res &&
	test "$st" = 75 &&
	awk "BEGIN { exit !($secs < 1.8) }" </dev/null &&
	lines tty4.out >l4 &&
	test_grep "^interrupted, finishing 4 in flight | analyze 0/40 4 in flight" l4 &&
	tail -n 1 l4 | test_grep "^vj-analyze: .*, interrupted\$" &&
	sed -n "/^interrupted/,\$p" l4 | grep -v "^interrupted" >after &&
	! grep "ETA" after &&
	tr "\r" "\n" <tty4.out | tail -n 2 | head -n 1 | od -c | grep -q "033   \[   K"
'

test_expect_success 'Ctrl-C during local work: out at once, the line cleared' '
	rm -rf r3/journal/analyze.* &&
	manifest 2000 k >k.jsonl && vj-ingest -q -r r3 k.jsonl >k.rec &&
	pty tty5.out 1.2 "exec vj-analyze -r r3 --provider offline k.rec >/dev/null" >res &&
	read st secs <res && test "$st" = 75 &&
	awk "BEGIN { exit !($secs < 0.8) }" </dev/null &&
	lines tty5.out >l5 &&
	test_grep "^analyze [0-9]*/2000 .*ETA" l5 &&
	tail -n 1 l5 | test_grep "^vj-analyze: [0-9]* done .*, interrupted\$" &&
	tr "\r" "\n" <tty5.out | tail -n 2 | head -n 1 | od -c | grep -q "033   \[   K"
'

test_expect_success 'a stale status file (its stage killed) is not shown as running' '
	manifest 12 s >s.jsonl && vj-ingest -q -r r6 s.jsonl >s.rec &&
	vj-analyze -q -r r6 --provider offline s.rec >s.an &&
	{ vj-analyze --model gemini-2.5-flash-lite -q -r r6 --base-url "$MID" s.rec >/dev/null 2>&1 & echo $! >pid; } &&
	sleep 1 && kill -9 $(cat pid) && { wait $(cat pid) || true; } &&
	cut -d" " -f2- r6/journal/analyze.progress | jq -e ".state == \"running\" and .pid == $(cat pid)" &&
	pty tty6.out 0 "exec vj-generate -r r6 --base-url $MID --api-key-env DEEPSEEK_API_KEY -j 4 s.an >/dev/null" >res &&
	test "$(cat res)" = "0 0.00" &&
	lines tty6.out >l6 &&
	test_grep "^generate [0-9]*/12 " l6 &&
	! grep "analyze" l6
'

test_expect_success 'a symlink at journal/STAGE.progress: refused, its target untouched, the stage runs' '
	echo precious >target && mkdir -p r7/journal && ln -s "$TRASH/target" r7/journal/analyze.progress &&
	vj-ingest -q -r r7 s.jsonl >r7.rec &&
	vj-analyze -r r7 --provider offline r7.rec >/dev/null 2>e7 &&
	test_grep "^vj-analyze: r7/journal/analyze.progress: it is a symbolic link" e7 &&
	test_grep "^vj-analyze: 12 done" e7 &&
	test "$(cat target)" = precious && test -L r7/journal/analyze.progress
'

test_expect_success 'not a terminal: a time-stamped heartbeat every --heartbeat SEC, then the summary' '
	manifest 20 h >h.jsonl && vj-ingest -q -r r8 h.jsonl >h.rec &&
	vj-analyze --model gemini-2.5-flash-lite -r r8 --base-url "$FAST" -j 2 --heartbeat 1 h.rec >/dev/null 2>e8 &&
	grep "^vj-analyze: 20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z " e8 >hb &&
	test $(wc -l <hb) -ge 2 &&
	! grep -v -E "Z [0-9]+/20 \([0-9]+ done, 0 from the journal, 0 failed\), [0-9]+ in flight, [0-9.]+/s(, ETA [0-9]+m[0-9]{2}s)?\$" hb &&
	grep -q "ETA" hb &&
	tail -n 1 e8 | test_grep "^vj-analyze: 20 done (0 already in the journal), 0 failed for good, 0 bad input lines\$" &&
	test $(wc -l <e8) -eq $(($(wc -l <hb) + 1)) &&
	! grep -q "$(printf "\r")" e8
'

test_expect_success 'heartbeats: none with --heartbeat 0, none with -q, none before 60 s by default' '
	rm -rf r8/journal/analyze.* &&
	vj-analyze --model gemini-2.5-flash-lite -r r8 --base-url "$FAST" -j 4 --heartbeat 0 h.rec >/dev/null 2>e9 &&
	test $(wc -l <e9) -eq 1 && test_grep "^vj-analyze: 20 done" e9 &&
	rm -rf r8/journal/analyze.* &&
	vj-analyze --model gemini-2.5-flash-lite -q -r r8 --base-url "$FAST" -j 4 h.rec >/dev/null 2>e10 && test ! -s e10 &&
	rm -rf r8/journal/analyze.* &&
	vj-analyze --model gemini-2.5-flash-lite -q -r r8 --base-url "$FAST" -j 4 --heartbeat 1 h.rec >/dev/null 2>e11 &&
	test_grep "Z [0-9]*/20 (" e11 && ! grep "done (" e11
'

test_expect_success 'vj-pack: heartbeats while it waits for input, and a summary' '
	{ head -n 5 s.an; sleep 2.5; tail -n +6 s.an; } |
	    vj-generate -q -r r6 --provider offline | tee s.gen | vj-pack -r r6 -o out8 --heartbeat 1 >/dev/null 2>e12 &&
	grep "^vj-pack: 20.*Z [0-9]* (.* packed into .* shards, 0 already in OUT, 0 left out)" e12 >hb12 &&
	test $(wc -l <hb12) -ge 2 &&
	tail -n 1 e12 | test_grep "^vj-pack: 12 packed into 1 shard ([0-9]* bytes), 0 already packed into out8 or given twice, 0 left out\$" &&
	vj-pack -r r6 -o out8 s.gen >/dev/null 2>e13 &&
	test_grep "^vj-pack: 0 packed into 0 shards (0 bytes), 12 already packed into out8 or given twice, 0 left out\$" e13 &&
	vj-pack -r r6 -o out8 --pending >/dev/null 2>e14 && test ! -s e14
'

test_expect_success '--log-format json: every line is a JSON object jq reads, heartbeats and summary with numbers' '
	rm -rf r8/journal/analyze.* &&
	printf "{\"id\": \"bad\"}\n" >bad.rec && cat h.rec bad.rec >hb.rec &&
	test_status 1 vj-analyze --model gemini-2.5-flash-lite -r r8 --base-url "$FAST" -j 2 --heartbeat 1 --log-format json hb.rec \
	    >/dev/null 2>j1 &&
	jq -e . j1 >/dev/null &&
	test $(jq -s length j1) -eq $(wc -l <j1) &&
	jq -se "all(.[]; (.time | test(\"^20[0-9-]+T[0-9:]+[.][0-9]{3}Z\$\")) and .prog == \"vj-analyze\" and
	    (.level | IN(\"error\", \"warning\", \"info\", \"debug\")) and (.msg | type == \"string\"))" j1 &&
	jq -se "[.[] | select(.kind == \"heartbeat\")] | length >= 2 and
	    all(.[]; .stage == \"analyze\" and .total == 21 and .finished <= 22 and (.rate | type == \"number\"))" j1 &&
	jq -se "[.[] | select(.kind == \"summary\")] | length == 1 and .[0].done == 20 and .[0].bad == 1 and .[0].status == 1" j1 &&
	! grep -q "$(printf "\033")" j1 &&
	vj-pack -r r6 -o outj --log-format json s.gen 2>j2 >/dev/null &&
	jq -se "length == 1 and .[0].kind == \"summary\" and .[0].prog == \"vj-pack\" and .[0].packed == 12 and .[0].shards == 1" j2
'

test_expect_success '--log-format json on a terminal draws no line' '
	rm -rf r3/journal/analyze.* &&
	pty tty14.out 0 "exec vj-analyze -r r3 --provider offline --log-format json o.rec >/dev/null" >res &&
	tr -d "\r" <tty14.out | jq -se "length == 1 and .[0].kind == \"summary\"" &&
	! grep -q "$(printf "\033")" tty14.out
'

test_done
