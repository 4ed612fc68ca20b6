#!/bin/sh
# scripts/bench/checkpoint.sh: what fold checkpoints buy on a large run.
#   [RUN=DIR] [PARTS="status start"] scripts/bench/checkpoint.sh [JOBS] [PAD] [ROUNDS]
# Makes (once) a synthetic run of JOBS jobs (default 1000000) with PAD bytes
# of filler per result (default 200) with tests/tools/vj-mkstatus, then,
# interleaved, ROUNDS times each (default 5), prints medians of:
#   - vj-status --json reading every journal (VJ_CKPT=0), and through the
#     checkpoints (written once, by a first vj-status, which is timed too);
#   - with BASE=path/to/an/older/vj-status, that one as well (full replay);
#   - vj-analyze --pending from its start to its first job handled, and its
#     peak RSS by then (the
#     synthetic run has no image objects, so that job fails at once, where a
#     request would go out), with and without checkpoints.  This appends
#     failures to the run's analyze journal: it comes last.
# RUN names an existing run to use instead (a real directory: vj follows no
# symbolic link to a run); PARTS picks the parts to run.
# Wall and CPU (user+sys) seconds and peak RSS from GNU time.  Needs
# `make bin/vj-status bin/vj-analyze tests/tools/vj-mkstatus`.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000000}
PAD=${2:-200}
ROUNDS=${3:-5}
OUT="$TOP/scripts/bench/out"
RUN=${RUN:-$OUT/status-run-$N-$PAD}
PARTS=${PARTS:-status start}
T="$OUT/ckpt.time"
mkdir -p "$OUT"
if [ ! -d "$RUN" ]; then
	echo "making $RUN ..."
	"$TOP/tests/tools/vj-mkstatus" -n "$N" --pad "$PAD" "$RUN"
fi
echo "journals: $(du -sh "$RUN/journal" | cut -f1) ($(cat "$RUN"/journal/*.log | wc -l) lines), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# timed NAME CMD...: one run, its figures appended to $OUT/ckpt.NAME
timed() {
	name=$1; shift
	/usr/bin/time -f "%e %U %S %M" -o "$T" "$@" >/dev/null 2>"$OUT/ckpt.err"
	read -r wall user sys kb <"$T"
	echo "$wall $(echo "$user + $sys" | bc) $kb" >>"$OUT/ckpt.$name"
}

# median NAME: median wall, median CPU, max RSS of the runs so far
median() {
	f="$OUT/ckpt.$1"
	n=$(wc -l <"$f")
	mid=$(( (n + 1) / 2 ))
	w=$(cut -d' ' -f1 "$f" | sort -n | sed -n "${mid}p")
	c=$(cut -d' ' -f2 "$f" | sort -n | sed -n "${mid}p")
	k=$(cut -d' ' -f3 "$f" | sort -n | tail -1)
	printf "%-28s wall %6.2f s  cpu %6.2f s  rss %5d MB  %3d bytes/job  (%d runs)\n" \
	    "$1" "$w" "$c" $((k / 1024)) $((k * 1024 / N)) "$n"
}

rm -f "$OUT"/ckpt.full "$OUT"/ckpt.ckpt "$OUT"/ckpt.base "$OUT"/ckpt.write \
    "$OUT"/ckpt.start-full "$OUT"/ckpt.start-ckpt
case " $PARTS " in *" status "*)
VJ_CKPT=0 "$TOP/bin/vj-status" -r "$RUN" --json >/dev/null   # warm the page cache
rm -f "$RUN"/journal/*.ckpt "$RUN"/journal/*.ckpt.tmp
timed write "$TOP/bin/vj-status" -r "$RUN" --json
ls -l "$RUN"/journal/*.ckpt | awk '{ s += $5 } END { printf "checkpoints: %d files, %.0f MB\n", NR, s / 1e6 }'
for i in $(seq "$ROUNDS"); do
	VJ_CKPT=0 timed full "$TOP/bin/vj-status" -r "$RUN" --json
	timed ckpt "$TOP/bin/vj-status" -r "$RUN" --json
	if [ -n "${BASE:-}" ]; then timed base "$BASE" -r "$RUN" --json; fi
done
median write
median full
median ckpt
if [ -n "${BASE:-}" ]; then median base; fi
;; esac
case " $PARTS " in *" start "*) ;; *) exit 0 ;; esac

# start to first job: poll vj-analyze -v's stderr for its first job line
start() {
	name=$1; shift
	rm -f "$OUT/ckpt.st"
	t0=$(date +%s.%N)
	env "$@" GEMINI_API_KEY=bench "$TOP/bin/vj-analyze" -v -r "$RUN" --pending -j 1 \
	    --base-url http://127.0.0.1:9 >/dev/null 2>"$OUT/ckpt.st" &
	pid=$!
	while ! grep -q "^vj-analyze: job " "$OUT/ckpt.st" 2>/dev/null; do
		kill -0 $pid 2>/dev/null || { echo "vj-analyze ended before its first job" >&2; cat "$OUT/ckpt.st" >&2; exit 1; }
		sleep 0.02
	done
	t1=$(date +%s.%N)
	kb=$(awk '/^VmHWM:/ { print $2 }' /proc/$pid/status 2>/dev/null || echo 0)
	kill $pid
	wait $pid || true
	echo "$(echo "$t1 - $t0" | bc) 0 ${kb:-0}" >>"$OUT/ckpt.$name"
}
for i in $(seq "$ROUNDS"); do
	start start-full VJ_CKPT=0
	start start-ckpt VJ_CKPT=1
done
for s in start-full start-ckpt; do
	f="$OUT/ckpt.$s"
	mid=$(( ($(wc -l <"$f") + 1) / 2 ))
	kb=$(cut -d' ' -f3 "$f" | sort -n | tail -1)
	printf "%-28s %6.2f s to the first job (median of %d), peak RSS then %d MB, %d bytes/job\n" \
	    "vj-analyze --pending, ${s#start-}" \
	    "$(cut -d' ' -f1 "$f" | sort -n | sed -n "${mid}p")" "$(wc -l <"$f")" $((kb / 1024)) $((kb * 1024 / N))
done
