#!/bin/bash
# examples/slurm-array.sh: one manifest, N machines, one dataset.
#
#   bash examples/slurm-array.sh submit   submit the parts not yet complete as
#                                         one job array, and the merge after it
#   bash examples/slurm-array.sh status   say which parts are complete
#   bash examples/slurm-array.sh merge    merge the parts into $WORK/dataset
#   sbatch --array=0-7 examples/slurm-array.sh
#                                         the array by hand (then merge by hand)
#
# Array task I takes one part of the jobs (vj-ingest --partition auto: the part
# comes from the array's variables, whether it counts from 0 or from 1), with
# a run directory and an output directory of its own ($WORK/run-I, out-I), so
# tasks never share a journal, and every job lands in exactly one part.  The
# run records its part: resubmitting with another number of parts over the
# same $WORK is refused rather than splitting the jobs twice.  `submit` run
# again submits only the parts not yet complete; the merge (vj-pack --merge)
# refuses a missing or incomplete part, a duplicated id or a damaged shard.
#
# The images must be reachable from every node (http(s) URLs, or paths on a
# shared file system), and so must $WORK.  Give jobs explicit ids: a derived
# id depends on the absolute image path.  Keys come from the environment
# (sbatch passes the submitting shell's environment by default), never from
# the command line.
#
# What a task asks for is small, so that any node can run it: the stages wait
# on the network, not on the CPU.  `submit` takes VJ_CPUS, VJ_MEM and VJ_TIME;
# `squeue -j JOB -o '%i %T %r'` says why a task still waits.
#
#SBATCH --job-name=vj
#SBATCH --array=0-7
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=08:00:00
#SBATCH --output=vj-%A_%a.log
set -u

MANIFEST=${MANIFEST:-$PWD/jobs.jsonl}
WORK=${WORK:-$PWD/vj-parts}
PARTS=${PARTS:-8}          # N: the number of parts
BASE=${BASE:-0}            # the first array index: 0 (--array=0-7) or 1 (--array=1-8)
VJ_CPUS=${VJ_CPUS:-1}
VJ_MEM=${VJ_MEM:-1G}
VJ_TIME=${VJ_TIME:-08:00:00}
SBATCH_OPTS=${SBATCH_OPTS:-}           # more sbatch options, such as --partition=short
ANALYZE_OPTS=${ANALYZE_OPTS:--j 16 --rpm 100}
GENERATE_OPTS=${GENERATE_OPTS:--j 16 --rpm 100}
PACK_OPTS=${PACK_OPTS:-}
TRIES=${TRIES:-6}          # rounds per task while a stage says "try again later"
RETRY_WAIT=${RETRY_WAIT:-300}
export MANIFEST WORK PARTS BASE ANALYZE_OPTS GENERATE_OPTS PACK_OPTS TRIES RETRY_WAIT

die() {
	echo "slurm-array.sh: $2" >&2
	exit "$1"
}

case $PARTS in '' | *[!0-9]* | 0) die 2 "PARTS must be a whole number above 0, not '$PARTS'" ;; esac
case $BASE in 0 | 1) ;; *) die 2 "BASE must be 0 or 1, not '$BASE'" ;; esac

indexes() { seq "$BASE" $((BASE + PARTS - 1)); }
manifest_sum() { sha256sum <"$MANIFEST" | cut -d' ' -f1; }

# part_complete I: the manifest was read to its end by part I's ingest (the
# task leaves its checksum in run-I.ingested), and vj-status says no stage
# has work pending or retryable there.  Jobs failed for good are final.
part_complete() {
	local run=$WORK/run-$1 st
	[ -f "$run.ingested" ] && [ "$(cat "$run.ingested")" = "$(manifest_sum)" ] || return 1
	st=$(vj-status -r "$run" --json 2>/dev/null) || return 1
	! printf '%s\n' "$st" | grep -Eo '"(pending|retry_ready|retry_waiting)":[0-9]+' | grep -qv ':0$'
}

status() {
	local i n=0
	for i in $(indexes); do
		if part_complete "$i"; then
			echo "part $i: complete"
			n=$((n + 1))
		else
			echo "part $i: not complete"
		fi
	done
	echo "$n of $PARTS parts complete"
	[ "$n" -eq "$PARTS" ]
}

# The dataset: every part's shards under one index.  The merge checks that
# all $PARTS parts are there and complete, each id once, each shard whole.
# It goes to dataset.new first: the dataset of an earlier merge stays as it
# was until a new one has been verified.
merge() {
	local outs=() i d=$WORK/dataset
	for i in $(indexes); do outs+=("$WORK/out-$i"); done
	rm -rf "$d.new" "$d.old" || exit 3
	vj-pack --merge "${outs[@]}" -o "$d.new" || exit
	vj-pack --verify "$d.new" || exit
	if [ -e "$d" ]; then mv "$d" "$d.old" || exit 3; fi
	mv "$d.new" "$d" && rm -rf "$d.old" || exit 3
	echo "merged $PARTS parts into $d"
}

# Submit the parts not yet complete, numbered as the whole array is; the
# merge waits for the array (afterany: it is the merge that says whether a
# part is missing).
submit() {
	[ -r "$MANIFEST" ] || die 2 "cannot read the manifest $MANIFEST"
	mkdir -p "$WORK/log" || exit 3
	local self todo='' n=0 i array jid mid merge_cmd
	self=$(readlink -f "$0")
	# --wrap: the merge is one job, not an array as this file's #SBATCH says
	merge_cmd="bash $(printf %q "$self") merge"
	for i in $(indexes); do
		part_complete "$i" && continue
		todo=$todo${todo:+,}$i
		n=$((n + 1))
	done
	# the tasks check the array against these: VJ_PARTITION_COUNT is the
	# number of parts; VJ_PARTITION_BASE, for an array of some parts only,
	# says how the whole array counted
	export VJ_PARTITION_COUNT=$PARTS
	if [ "$n" -eq "$PARTS" ]; then
		array=$BASE-$((BASE + PARTS - 1))
		unset VJ_PARTITION_BASE
	else
		array=$todo
		export VJ_PARTITION_BASE=$BASE
	fi
	local res=(--cpus-per-task="$VJ_CPUS" --mem="$VJ_MEM" --time="$VJ_TIME")
	if [ "$n" -gt 0 ]; then
		# shellcheck disable=SC2086  # SBATCH_OPTS is meant to split
		jid=$(sbatch --parsable --job-name=vj --array="$array" "${res[@]}" \
			--output="$WORK/log/vj-%A_%a.log" $SBATCH_OPTS "$self" task) || exit 3
		echo "submitted $n of $PARTS parts ($array) as job $jid"
		# shellcheck disable=SC2086
		mid=$(sbatch --parsable --job-name=vj-merge --dependency=afterany:"$jid" "${res[@]}" \
			--output="$WORK/log/vj-merge-%j.log" $SBATCH_OPTS --wrap="$merge_cmd") || exit 3
	else
		# shellcheck disable=SC2086
		mid=$(sbatch --parsable --job-name=vj-merge "${res[@]}" \
			--output="$WORK/log/vj-merge-%j.log" $SBATCH_OPTS --wrap="$merge_cmd") || exit 3
		echo "all $PARTS parts are complete"
	fi
	echo "merge: job $mid, into $WORK/dataset"
}

# One stage over the run's queue.
# shellcheck disable=SC2086  # the option lists are meant to split
stage() {
	case $1 in
	ingest) vj-ingest -r "$RUN" --pending ;;
	analyze) vj-analyze -r "$RUN" --pending $ANALYZE_OPTS ;;
	generate) vj-generate -r "$RUN" --pending $GENERATE_OPTS ;;
	pack) vj-pack -r "$RUN" --pending -o "$OUT" --threads "${SLURM_CPUS_PER_TASK:-1}" $PACK_OPTS ;;
	esac >/dev/null
}

task() {
	local I=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array (or use: slurm-array.sh submit)}
	RUN=$WORK/run-$I
	OUT=$WORK/out-$I
	mkdir -p "$WORK" || exit 3
	echo "array task $I on $(hostname): run $RUN, shards $OUT"

	# Ingest this task's part: the part comes from the array.  Exit 1 means
	# some lines or images were bad: they are reported, the rest goes on.
	# Once the whole manifest is read, say so for part_complete.
	local sum st
	sum=$(manifest_sum) || exit 2
	vj-ingest -r "$RUN" --partition auto --rejects "$WORK/rejects-$I.jsonl" "$MANIFEST" >/dev/null
	st=$?
	case $st in 0|1) ;; *) echo "task $I: vj-ingest exit $st" >&2; exit "$st" ;; esac
	echo "$sum" >"$RUN.ingested.tmp" && mv "$RUN.ingested.tmp" "$RUN.ingested" || exit 3

	# Drain the queue; on 75 (rate limited, interrupted) wait and go round
	# again: finished work is kept in the journal and not redone.
	local round=1 final s
	while :; do
		final=0
		for s in ingest analyze generate pack; do
			stage "$s"
			st=$?
			case $st in
			0) ;;
			1) [ "$final" -eq 0 ] && final=1 ;;
			75) final=75 ;;
			*) echo "task $I: $s exit $st" >&2; exit "$st" ;;
			esac
		done
		if [ "$final" -ne 75 ] || [ "$round" -ge "$TRIES" ]; then
			break
		fi
		echo "task $I: round $round left retryable work; again in $RETRY_WAIT s"
		sleep "$RETRY_WAIT"
		round=$((round + 1))
	done
	vj-status -r "$RUN" -q
	exit "$final"
}

case ${1:-} in
submit) submit ;;
status) status ;;
merge) merge ;;
task | '') task ;;
*) die 2 "usage: slurm-array.sh [submit|status|merge|task]" ;;
esac
