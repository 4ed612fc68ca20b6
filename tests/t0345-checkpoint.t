#!/bin/sh
# Checkpoints of the fold (docs/journal.md, "Checkpoints"): written by a
# reader for idle stages and by a stage at a clean exit; a good one is
# loaded and only the journal's tail replayed; an old, truncated, foreign,
# damaged, newer, planted or half-written one is detected, and every time
# the report is the one a full replay of the journals gives.
. "$(dirname "$0")/lib.sh"
MK="$TOP/tests/tools/vj-mkstatus"
JLINE="$TOP/tests/tools/vj-jline"
SET="$TOP/tests/tools/vj-ckptset"

# the report, without its clock; the reference reads no checkpoint at all
st() { vj-status -r "${R:-run}" --json "$@" | jq -S "del(.time)"; }
full() { VJ_CKPT=0 st; }
same() { full >want.json && st >got.json 2>"${1:-err}" && test_cmp want.json got.json; }
ckpt_all() { VJ_CKPT_BYTES=1 vj-status -r "${R:-run}" >/dev/null; }
flip() { # flip FILE OFFSET: xor one byte
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d " ") &&
	printf "$(printf "\\\\%03o" $((b ^ 0x55)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

test_expect_success 'a reader writes the checkpoints of idle stages' '
	"$MK" --objects run &&
	full >want.json &&
	ls run/journal >before &&
	ckpt_all &&
	for s in ingest analyze generate pack; do test -s run/journal/$s.ckpt || exit 1; done &&
	! ls run/journal | grep "\.tmp"
'

test_expect_success 'the next look loads them and reads no journal line: the same report' '
	st -v >got.json 2>err &&
	test_cmp want.json got.json &&
	test $(grep -c "checkpoint loaded" err) -eq 4 &&
	for s in ingest analyze generate pack; do
		size=$(wc -c <run/journal/$s.log) &&
		test_grep "$s.ckpt: checkpoint loaded .* from byte offset $size$" err || exit 1
	done
'

test_expect_success 'a job record is the same through a checkpoint' '
	VJ_CKPT=0 vj-status -r run --job job-0000012 --json >j1 &&
	vj-status -r run --job job-0000012 --json >j2 &&
	test_cmp j1 j2 && test -s j1
'

test_expect_success 'without -v a good checkpoint says nothing; --check still reads every record' '
	vj-status -r run --json >/dev/null 2>err && test ! -s err &&
	vj-status -r run --check >chk && test_grep "ok$" chk &&
	n=$(cat run/journal/*.log | wc -l) && test_grep "check run: $n journal records" chk
'

test_expect_success 'a checkpoint older than its journal: the tail is replayed' '
	size=$(wc -c <run/journal/analyze.log) &&
	t=$(now_ms) &&
	printf "%s\n" "{\"ev\":\"retry\",\"id\":\"job-0000003\",\"t\":$t}" \
	    "{\"ev\":\"done\",\"id\":\"job-0000010\",\"t\":$t,\"key\":\"000000020000000a0000000000000000\",\"ms\":7,\"attempt\":1,\"analysis\":{}}" |
	    "$JLINE" >>run/journal/analyze.log &&
	same err && test ! -s err &&
	st -v >/dev/null 2>err &&
	test_grep "analyze.ckpt: checkpoint loaded .* from byte offset $size$" err &&
	jq -e ".stages.analyze | .done == 127 and .failed == 19 and .pending == 19" got.json
'

test_expect_success 'a truncated checkpoint: a warning, the journal folded afresh' '
	ckpt_all && cp run/journal/generate.ckpt good.ckpt &&
	head -c 1000 good.ckpt >run/journal/generate.ckpt &&
	same err &&
	test_grep "generate.ckpt: damaged checkpoint (.*): ignored, the fold is rebuilt from the journal" err &&
	head -c 100 good.ckpt >run/journal/generate.ckpt &&
	same err && test_grep "generate.ckpt: damaged checkpoint" err &&
	: >run/journal/generate.ckpt &&
	same err && test_grep "generate.ckpt: damaged checkpoint" err
'

test_expect_success 'a flipped byte anywhere: the checksum catches it' '
	size=$(wc -c <good.ckpt) &&
	for off in 9 20 40 100 $((size / 2)) $((size - 10)) $((size - 2)); do
		cp good.ckpt run/journal/generate.ckpt && flip run/journal/generate.ckpt $off &&
		same err && test_grep "generate.ckpt: damaged checkpoint" err || exit 1
	done
'

test_expect_success 'a checkpoint of a newer format is not read (a note under -v)' '
	cp good.ckpt run/journal/generate.ckpt &&
	"$SET" run/journal/generate.ckpt 8 4 3 &&
	same err && test ! -s err &&
	st -v >/dev/null 2>err &&
	test_grep "generate.ckpt: checkpoint not used (written by a newer vj)" err
'

test_expect_success 'a checkpoint of format 1 (no batch lines) is not read, then rewritten' '
	cp good.ckpt run/journal/generate.ckpt &&
	"$SET" run/journal/generate.ckpt 8 4 1 &&
	same err && test ! -s err &&
	st -v >/dev/null 2>err &&
	test_grep "generate.ckpt: checkpoint not used (an older format, without the batch lines)" err &&
	ckpt_all && st -v >/dev/null 2>err &&
	test_grep "generate.ckpt: checkpoint loaded" err
'

# header fields (docs/journal.md): today_start at 44, done_today at 96
midnight=$(( $(now_ms) / 86400000 * 86400000 ))
test_expect_success 'a checkpoint of another day with events of today is stale' '
	cp good.ckpt run/journal/generate.ckpt &&
	"$SET" run/journal/generate.ckpt 44 8 $((midnight - 86400000)) &&
	same err && test ! -s err &&
	st -v >/dev/null 2>err &&
	test_grep "generate.ckpt: checkpoint not used (stale: made on another day)" err
'

test_expect_success 'a checkpoint of another day whose events are all older: nothing of it is today' '
	mkdir -p old/journal && t=$((midnight - 3600000)) &&
	{ echo "{\"ev\":\"journal\",\"version\":1,\"t\":$t}" &&
	  for i in 1 2 3 4 5; do
		echo "{\"ev\":\"job\",\"id\":\"o$i\",\"t\":$t,\"key\":\"0000000100000000000000000000000$i\",\"job\":{}}" &&
		echo "{\"ev\":\"done\",\"id\":\"o$i\",\"t\":$t,\"key\":\"0000000100000000000000000000000$i\",\"ms\":3,\"attempt\":1,\"image\":{}}"
	  done; } | "$JLINE" >old/journal/ingest.log && : >old/journal/ingest.lock &&
	R=old ckpt_all &&
	"$SET" old/journal/ingest.ckpt 44 8 $((midnight - 86400000)) &&
	"$SET" old/journal/ingest.ckpt 96 8 5 &&
	R=old same err && test ! -s err &&
	jq -e ".stages.ingest | .done == 5 and .done_today == 0" got.json &&
	R=old st -v >/dev/null 2>err && test_grep "ingest.ckpt: checkpoint loaded" err
'

test_expect_success 'a checkpoint of another run (journals differ) is stale' '
	"$MK" -n 150 other &&
	R=other ckpt_all &&
	cp other/journal/ingest.ckpt run/journal/ingest.ckpt &&
	same err && test ! -s err &&
	st -v >/dev/null 2>err &&
	test_grep "ingest.ckpt: checkpoint not used (stale: the journal is not the one it was made from)" err
'

test_expect_success 'a checkpoint of another run (run.json ids differ) is foreign' '
	rm -rf copy && cp -r run copy &&
	printf "{\"version\":1,\"id\":\"run-a\"}\n" >copy/run.json &&
	rm copy/journal/*.ckpt && R=copy ckpt_all &&
	R=copy st -v >/dev/null 2>err && test $(grep -c "checkpoint loaded" err) -eq 4 &&
	printf "{\"version\":1,\"id\":\"run-b\"}\n" >copy/run.json &&
	R=copy same err && test ! -s err &&
	R=copy st -v >/dev/null 2>err &&
	test_grep "ingest.ckpt: checkpoint not used (made for another run" err
'

test_expect_success 'a journal cut shorter than its checkpoint, or cut and regrown: stale' '
	ckpt_all &&
	cp run/journal/analyze.log analyze.log.orig &&
	head -n -1 analyze.log.orig >run/journal/analyze.log &&
	same err && st -v >/dev/null 2>err &&
	test_grep "analyze.ckpt: checkpoint not used (stale: the journal is shorter" err &&
	t=$(now_ms) &&
	printf "%s\n" "{\"ev\":\"retry\",\"id\":\"job-0000018\",\"t\":$t,\"pad\":\"$(printf %0400d 0)\"}" |
	    "$JLINE" >>run/journal/analyze.log &&
	test $(wc -c <run/journal/analyze.log) -gt $(wc -c <analyze.log.orig) &&
	same err && st -v >/dev/null 2>err &&
	test_grep "analyze.ckpt: checkpoint not used (stale: the journal is not the one" err
'

test_expect_success 'a checkpoint planted as a symbolic link is not followed' '
	ckpt_all && mv run/journal/pack.ckpt elsewhere.ckpt &&
	ln -s "$PWD/elsewhere.ckpt" run/journal/pack.ckpt &&
	cp elsewhere.ckpt elsewhere.orig &&
	same err && test_grep "pack.ckpt: cannot open the checkpoint (it is a symbolic link" err &&
	VJ_CKPT_BYTES=1 vj-status -r run >/dev/null 2>&1 &&
	test ! -L run/journal/pack.ckpt && test -s run/journal/pack.ckpt &&
	cmp elsewhere.ckpt elsewhere.orig
'

test_expect_success 'a leftover temporary of a crashed writer is ignored, then replaced' '
	ckpt_all &&
	head -c 500 run/journal/ingest.ckpt >run/journal/ingest.ckpt.tmp &&
	same err && test ! -s err &&
	printf "%s\n" "{\"ev\":\"retry\",\"id\":\"job-0000098\",\"t\":$(now_ms)}" | "$JLINE" >>run/journal/ingest.log &&
	ckpt_all && test ! -e run/journal/ingest.ckpt.tmp &&
	same err && test ! -s err
'

test_expect_success 'kill -9 while checkpoints are written: never a half one' '
	"$MK" -n 20000 big && R=big full >bigwant.json &&
	for d in 0.05 0.1 0.2 0.3 0.5; do
		rm -f big/journal/*.ckpt &&
		VJ_CKPT_BYTES=1 vj-status -r big >/dev/null 2>&1 & pid=$! &&
		sleep $d && kill -9 $pid; wait $pid
		R=big st >got.json 2>err && test_cmp bigwant.json got.json &&
		! grep damaged err || exit 1
	done
'

test_expect_success 'a running stage: readers leave its checkpoint to it' '
	rm -rf held && "$MK" --hold analyze --hold-for 4 held >hold.out & hpid=$! &&
	n=0; while ! grep -q held hold.out 2>/dev/null; do n=$((n + 1)); test $n -lt 100 || exit 1; sleep 0.1; done &&
	VJ_CKPT_BYTES=1 vj-status -r held >/dev/null &&
	test -e held/journal/ingest.ckpt && test ! -e held/journal/analyze.ckpt &&
	wait $hpid
'

# the writer side: a real pipeline, offline
vj-mkimages img >/dev/null
test_expect_success 'a stage writes its checkpoint at a clean exit' '
	job_lines img/sunset.jpg $(seq -f p%g 1 30) >in.jsonl &&
	VJ_CKPT_BYTES=1 vj-ingest -q -r pipe in.jsonl >ing.out &&
	test -s pipe/journal/ingest.ckpt &&
	VJ_CKPT_BYTES=1 vj-analyze -q -r pipe --provider offline ing.out >an.out &&
	test -s pipe/journal/analyze.ckpt &&
	R=pipe same err && test ! -s err
'

test_expect_success 'the next start loads it and replays the tail; --pending reads upstream checkpoints' '
	job_lines img/sunset.jpg $(seq -f q%g 1 10) >in2.jsonl &&
	vj-ingest -q -r pipe in2.jsonl >/dev/null &&
	VJ_CKPT_BYTES=1 vj-analyze -v -r pipe --provider offline --pending >an2.out 2>err &&
	test_grep "analyze.ckpt: checkpoint loaded" err &&
	test_grep "ingest.ckpt: checkpoint loaded" err &&
	test $(wc -l <an2.out) -eq 10 &&
	R=pipe same err && test ! -s err &&
	VJ_CKPT=0 vj-analyze -q -r pipe --provider offline --pending >an3.out && test ! -s an3.out
'

test_expect_success 'VJ_CKPT=0: checkpoints neither read nor written' '
	rm -rf off && "$MK" off &&
	VJ_CKPT=0 VJ_CKPT_BYTES=1 vj-status -r off >/dev/null &&
	! ls off/journal | grep ckpt
'

test_done
