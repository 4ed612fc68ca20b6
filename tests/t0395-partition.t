#!/bin/sh
# t0395-partition: vj-ingest --partition auto from each scheduler's
# variables (Slurm arrays from 0, from 1, with a step, with gaps; Kubernetes
# Indexed Jobs; GNU parallel), each the same split as --partition K/N; bad
# variables refused by name; and the run's record RUN/partition.json, which
# refuses another K or N later (the 8-then-4 case).  t1100 does the same
# under a real Slurm.
. "$(dirname "$0")/lib.sh"

unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX \
	SLURM_ARRAY_TASK_STEP JOB_COMPLETION_INDEX PARALLEL_SEQ VJ_PARTITION_COUNT VJ_PARTITION_BASE

vj-mkimages img >/dev/null
for i in $(seq 1 120); do printf '{"imageUrl": "img/dark.jpg", "id": "job-%03d"}\n' "$i"; done >jobs.jsonl
cut -d'"' -f8 jobs.jsonl | sort >all.ids

# slurm ID MIN MAX STEP COUNT: the variables Slurm sets for array task ID
slurm() {
	echo "SLURM_ARRAY_TASK_ID=$1 SLURM_ARRAY_TASK_MIN=$2 SLURM_ARRAY_TASK_MAX=$3" \
	    "SLURM_ARRAY_TASK_STEP=$4 SLURM_ARRAY_TASK_COUNT=$5"
}
# ids RUN: the ids RUN's ingest journal holds, sorted
ids() { cut -d" " -f2- "$1/journal/ingest.log" | jq -r 'select(.ev == "job") | .id' | sort; }
# check_split PREFIX N: runs PREFIX1..PREFIXN hold every job once, part K in
# PREFIXK as --partition K/N takes it, and each records {"k":K,"n":N}
check_split() {
	for k in $(seq 1 "$2"); do
		ids "$1$k" >"$1$k.ids" &&
		test_cmp "ref$2-$k.ids" "$1$k.ids" &&
		test "$(cat "$1$k/partition.json")" = "{\"k\":$k,\"n\":$2}" || return 1
	done
	cat "$1"*.ids | sort >"$1.all" && test_cmp all.ids "$1.all"
}

test_expect_success 'the reference split: --partition K/4 and K/8' '
	for n in 4 8; do
		for k in $(seq 1 $n); do
			vj-ingest -q -r ref$n-$k --partition $k/$n jobs.jsonl >/dev/null &&
			ids ref$n-$k >ref$n-$k.ids || exit 1
		done
	done &&
	cat ref4-*.ids | sort >ref4.all && test_cmp all.ids ref4.all &&
	for k in 1 2 3 4; do test -s ref4-$k.ids || exit 1; done
'

test_expect_success 'Slurm --array=0-3: task 0 is part 1, task 3 part 4' '
	for id in 0 1 2 3; do
		env $(slurm $id 0 3 1 4) vj-ingest -q -r zero$((id + 1)) --partition auto jobs.jsonl >/dev/null ||
		    exit 1
	done &&
	check_split zero 4
'

test_expect_success 'Slurm --array=1-4: task K is part K' '
	for id in 1 2 3 4; do
		env $(slurm $id 1 4 1 4) vj-ingest -q -r one$id --partition auto jobs.jsonl >/dev/null || exit 1
	done &&
	check_split one 4
'

test_expect_success 'Slurm --array=0-14:2 and --array=10-17: by the step, from the first index' '
	for id in 0 2 4 6 8 10 12 14; do
		env $(slurm $id 0 14 2 8) vj-ingest -q -r step$((id / 2 + 1)) --partition auto jobs.jsonl \
		    >/dev/null || exit 1
	done &&
	check_split step 8 &&
	for id in 10 11 12 13 14 15 16 17; do
		env $(slurm $id 10 17 1 8) vj-ingest -q -r ten$((id - 9)) --partition auto jobs.jsonl \
		    >/dev/null || exit 1
	done &&
	check_split ten 8
'

test_expect_success 'a Slurm array with gaps needs the count and the base' '
	test_status 2 env $(slurm 3 1 3 1 2) vj-ingest -r gap --partition auto jobs.jsonl 2>e &&
	test_grep "Slurm array 1-3:1 has gaps" e && test_grep "partition-base" e &&
	test ! -e gap &&
	test_status 2 env $(slurm 3 1 3 1 2) VJ_PARTITION_COUNT=4 vj-ingest -r gap --partition auto \
	    jobs.jsonl 2>e &&
	test_grep "VJ_PARTITION_COUNT=4" e &&
	env $(slurm 3 1 3 1 2) VJ_PARTITION_COUNT=4 VJ_PARTITION_BASE=1 vj-ingest -q -r gap3 \
	    --partition auto jobs.jsonl >/dev/null &&
	ids gap3 >gap3.ids && test_cmp ref4-3.ids gap3.ids &&
	env $(slurm 3 1 3 1 2) vj-ingest -q -r gap4 --partition auto --partition-count 4 \
	    --partition-base 0 jobs.jsonl >/dev/null &&
	ids gap4 >gap4.ids && test_cmp ref4-4.ids gap4.ids &&
	test_status 2 env $(slurm 4 1 4 1 2) vj-ingest -r gap --partition auto --partition-count 4 \
	    --partition-base 0 jobs.jsonl 2>e &&
	test_grep "SLURM_ARRAY_TASK_ID=4 is not a part of 4 counted from 0" e
'

test_expect_success 'a Kubernetes Indexed Job: index 0 is part 1, the count from the option or the variable' '
	for i in 0 1; do
		JOB_COMPLETION_INDEX=$i vj-ingest -q -r k8s$((i + 1)) --partition auto --partition-count 4 \
		    jobs.jsonl >/dev/null || exit 1
	done &&
	for i in 2 3; do
		JOB_COMPLETION_INDEX=$i VJ_PARTITION_COUNT=4 vj-ingest -q -r k8s$((i + 1)) --partition auto \
		    jobs.jsonl >/dev/null || exit 1
	done &&
	check_split k8s 4 &&
	test_status 2 env JOB_COMPLETION_INDEX=1 vj-ingest -r k8sx --partition auto jobs.jsonl 2>e &&
	test_grep "JOB_COMPLETION_INDEX gives this task.s index but not the number of parts" e &&
	test_status 2 env JOB_COMPLETION_INDEX=4 vj-ingest -r k8sx --partition auto --partition-count 4 \
	    jobs.jsonl 2>e &&
	test_grep "JOB_COMPLETION_INDEX=4 is not a part of 4" e &&
	test ! -e k8sx
'

test_expect_success 'GNU parallel: PARALLEL_SEQ 1 is part 1' '
	for s in 1 2 3 4; do
		PARALLEL_SEQ=$s vj-ingest -q -r par$s --partition auto --partition-count 4 jobs.jsonl \
		    >/dev/null || exit 1
	done &&
	check_split par 4 &&
	test_status 2 env PARALLEL_SEQ=0 vj-ingest -r parx --partition auto --partition-count 4 \
	    jobs.jsonl 2>e &&
	test_grep "PARALLEL_SEQ=.0. is not a whole number in 1\.\.1000000" e &&
	test_status 2 env PARALLEL_SEQ=5 vj-ingest -r parx --partition auto --partition-count 4 \
	    jobs.jsonl 2>e &&
	test_grep "PARALLEL_SEQ=5 is not a part of 4" e
'

if command -v parallel >/dev/null 2>&1; then
	test_expect_success 'GNU parallel itself' '
		seq 4 | parallel vj-ingest -q -r real{} --partition auto --partition-count 4 jobs.jsonl \
		    ">/dev/null" &&
		check_split real 4
	'
else
	test_skip 'GNU parallel itself: parallel is not installed'
fi

test_expect_success 'bad variables are usage errors naming them, before anything is made' '
	for v in abc -1 +1 "" " 2" 1e3 0x1 99999999999 4000001; do
		test_status 2 env $(slurm 0 0 3 1 4) SLURM_ARRAY_TASK_ID="$v" vj-ingest -r bad \
		    --partition auto jobs.jsonl 2>e &&
		test_grep "vj-ingest: --partition auto: SLURM_ARRAY_TASK_ID=.* is not a whole number" e ||
		    exit 1
	done &&
	test_status 2 env $(slurm 0 0 3 1 4) SLURM_ARRAY_TASK_COUNT=many vj-ingest -r bad \
	    --partition auto jobs.jsonl 2>e &&
	test_grep "SLURM_ARRAY_TASK_COUNT=.many." e &&
	test_status 2 env SLURM_ARRAY_TASK_ID=0 vj-ingest -r bad --partition auto jobs.jsonl 2>e &&
	test_grep "SLURM_ARRAY_TASK_COUNT is not set" e &&
	test_status 2 env JOB_COMPLETION_INDEX=0 VJ_PARTITION_COUNT=-4 vj-ingest -r bad \
	    --partition auto jobs.jsonl 2>e &&
	test_grep "VJ_PARTITION_COUNT=.-4." e &&
	test_status 2 env $(slurm 0 0 3 1 4) PARALLEL_SEQ=1 vj-ingest -r bad --partition auto \
	    jobs.jsonl 2>e &&
	test_grep "both SLURM_ARRAY_TASK_ID and PARALLEL_SEQ are set" e &&
	test_status 2 vj-ingest -r bad --partition auto jobs.jsonl 2>e &&
	test_grep "no scheduler found" e &&
	test_status 2 vj-ingest -r bad --partition 1/4 --partition-count 4 jobs.jsonl 2>e &&
	test_grep "go with --partition auto" e &&
	test_status 2 vj-ingest -r bad --partition 0/4 jobs.jsonl 2>e &&
	test_grep "1 <= K <= N" e &&
	test ! -e bad
'

test_expect_success '-v says which part and where it came from' '
	env $(slurm 2 0 3 1 4) vj-ingest -v -r zero3 --partition auto jobs.jsonl 2>e >/dev/null &&
	test_grep "vj-ingest: part 3/4 (from SLURM_ARRAY_TASK_ID=2 of SLURM_ARRAY_TASK_MIN=0" e
'

test_expect_success 'the 8-then-4 case: another N later is refused, naming both, and nothing is added' '
	cp zero1/journal/ingest.log before &&
	test_status 2 env $(slurm 0 0 7 1 8) vj-ingest -r zero1 --partition auto jobs.jsonl 2>e &&
	test_grep "zero1 holds part 1/4 of the jobs (zero1/partition.json), not part 1/8 (from SLURM_ARRAY_TASK_ID=0" e &&
	test_status 2 vj-ingest -r zero1 --partition 2/4 jobs.jsonl 2>e &&
	test_grep "holds part 1/4 of the jobs .*not part 2/4" e &&
	test_cmp before zero1/journal/ingest.log &&
	test "$(cat zero1/partition.json)" = "{\"k\":1,\"n\":4}"
'

test_expect_success 'the same part again is taken, from any form of it' '
	vj-ingest -q -r zero1 --partition 1/4 jobs.jsonl >/dev/null &&
	env $(slurm 1 1 4 1 4) vj-ingest -q -r zero1 --partition auto jobs.jsonl >/dev/null &&
	test_cmp before zero1/journal/ingest.log
'

test_expect_success 'a partitioned run refuses an ingest of every job; --pending is fine' '
	test_status 2 vj-ingest -r zero1 jobs.jsonl 2>e &&
	test_grep "zero1 holds part 1/4 of the jobs (zero1/partition.json): ingest into it with --partition 1/4" e &&
	vj-ingest -q -r zero1 --pending &&
	test_cmp before zero1/journal/ingest.log
'

test_expect_success 'a run ingested whole takes no part later; one of a single part takes it' '
	vj-ingest -q -r whole jobs.jsonl >/dev/null &&
	test_status 2 vj-ingest -r whole --partition 1/4 jobs.jsonl 2>e &&
	test_grep "whole already holds [0-9]* jobs of other parts than part 1/4 (such as job-" e &&
	test ! -e whole/partition.json &&
	grep -F -f ref4-2.ids jobs.jsonl >two.jsonl &&
	vj-ingest -q -r old2 two.jsonl >/dev/null &&
	vj-ingest -q -r old2 --partition 2/4 jobs.jsonl >/dev/null &&
	test "$(cat old2/partition.json)" = "{\"k\":2,\"n\":4}" &&
	ids old2 >old2.ids && test_cmp ref4-2.ids old2.ids
'

test_expect_success 'a damaged or linked record stops the ingest (exit 3)' '
	mkdir -p elsewhere && echo "{\"k\":1,\"n\":2}" >elsewhere/p.json &&
	vj-ingest -q -r linked --partition 1/2 jobs.jsonl >/dev/null &&
	rm linked/partition.json && ln -s "$TRASH/elsewhere/p.json" linked/partition.json &&
	test_status 3 vj-ingest -r linked --partition 1/2 jobs.jsonl 2>e &&
	test_grep "linked/partition.json: .*symbolic link" e &&
	rm linked/partition.json && echo "{\"k\":3,\"n\":2}" >linked/partition.json &&
	test_status 3 vj-ingest -r linked --partition 1/2 jobs.jsonl 2>e &&
	test_grep "linked/partition.json: not a partition record" e
'

test_done
