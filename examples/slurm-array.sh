#!/bin/bash
# examples/slurm-array.sh: one manifest, N machines, one dataset.
#
# Each array task takes part K of N of the jobs (vj-ingest --partition K/N,
# K = $SLURM_ARRAY_TASK_ID), with a run directory and an output directory of
# its own, so tasks never share a journal.  Every job lands in exactly one
# part.  A last step, after the array, checks every part and merges the
# per-task OUT/index.json files into one index.
#
#   jid=$(sbatch --parsable examples/slurm-array.sh)
#   sbatch --dependency=afterany:"$jid" --wrap "bash examples/slurm-array.sh merge"
#
# The images must be reachable from every node (http(s) URLs, or paths on a
# shared file system), and so must $WORK.  Give jobs explicit ids: a derived
# id depends on the absolute image path.  Keys come from the environment
# (sbatch passes the submitting shell's environment by default), never from
# the command line.
#
#SBATCH --job-name=vj
#SBATCH --array=1-8
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=08:00:00
#SBATCH --output=vj-%A_%a.log
set -u

MANIFEST=${MANIFEST:-$PWD/jobs.jsonl}
WORK=${WORK:-$PWD/vj-parts}
ANALYZE_OPTS=${ANALYZE_OPTS:--j 16 --rpm 100}
GENERATE_OPTS=${GENERATE_OPTS:--j 16 --rpm 100}
TRIES=${TRIES:-6}          # rounds per task while a stage says "try again later"

merge() {
	shopt -s nullglob
	parts=("$WORK"/out-*/index.json)
	if [ ${#parts[@]} -eq 0 ]; then
		echo "merge: no $WORK/out-*/index.json" >&2
		exit 2
	fi
	bad=0
	for idx in "${parts[@]}"; do
		vj-pack --verify "$(dirname "$idx")" || bad=1
	done
	# One index for the whole dataset.  Names are made relative to $WORK
	# (out-3/shard-000000.tar.zst), since every part numbers its shards
	# from 000000; "part" says which directory an entry came from.
	jq -n '
	  [inputs
	   | (input_filename | sub("/index\\.json$"; "") | sub("^.*/"; "")) as $dir
	   | .shards[]
	   | .part = $dir
	   | .name = ($dir + "/" + .name)]
	  | {version: 1, shards: sort_by(.name)}' "${parts[@]}" >"$WORK/index.json.tmp" &&
		mv "$WORK/index.json.tmp" "$WORK/index.json" || exit 3
	jq -r '"merged \(.shards | length) shards, \([.shards[].records] | add // 0) records into '"$WORK"'/index.json"' \
		"$WORK/index.json"
	exit $bad
}

if [ "${1:-}" = merge ]; then
	merge
fi

K=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array (or set SLURM_ARRAY_TASK_ID)}
N=${SLURM_ARRAY_TASK_COUNT:-${SLURM_ARRAY_TASK_MAX:?}}
RUN=$WORK/run-$K
OUT=$WORK/out-$K
mkdir -p "$WORK"

echo "task $K/$N on $(hostname): run $RUN, shards $OUT"

# Ingest this task's part.  Exit 1 means some lines or images were bad:
# they are reported, the rest goes on.
vj-ingest -r "$RUN" --partition "$K/$N" --rejects "$WORK/rejects-$K.jsonl" "$MANIFEST" >/dev/null
st=$?
case $st in 0|1) ;; *) echo "task $K: vj-ingest exit $st" >&2; exit "$st" ;; esac

# One stage over the run's queue.
# shellcheck disable=SC2086  # the option lists are meant to split
stage() {
	case $1 in
	ingest) vj-ingest -r "$RUN" --pending ;;
	analyze) vj-analyze -r "$RUN" --pending $ANALYZE_OPTS ;;
	generate) vj-generate -r "$RUN" --pending $GENERATE_OPTS ;;
	pack) vj-pack -r "$RUN" --pending -o "$OUT" ;;
	esac >/dev/null
}

# Drain the queue; on 75 (rate limited, interrupted) wait and go round
# again: finished work is kept in the journal and not redone.
round=1
while :; do
	final=0
	for s in ingest analyze generate pack; do
		stage "$s"
		st=$?
		case $st in
		0) ;;
		1) [ "$final" -eq 0 ] && final=1 ;;
		75) final=75 ;;
		*) echo "task $K: $s exit $st" >&2; exit "$st" ;;
		esac
	done
	if [ "$final" -ne 75 ] || [ "$round" -ge "$TRIES" ]; then
		break
	fi
	echo "task $K: round $round left retryable work; again in 5 minutes"
	sleep 300
	round=$((round + 1))
done

vj-status -r "$RUN" -q
exit "$final"
