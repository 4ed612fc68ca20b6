#!/bin/sh
# scripts/bench/status.sh: time vj-status --json on a large synthetic run.
#   scripts/bench/status.sh [JOBS] [PAD]
# JOBS (default 1000000) jobs, PAD bytes of filler in each analysis and
# content (default 200).  Prints wall time and peak RSS per run and per job.
# Needs `make bin/vj-status tests/tools/vj-mkstatus` and GNU time.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000000}
PAD=${2:-200}
OUT="$TOP/scripts/bench/out"
RUN="$OUT/status-run-$N-$PAD"
mkdir -p "$OUT"
if [ ! -d "$RUN" ]; then
	echo "making $RUN ..."
	"$TOP/tests/tools/vj-mkstatus" -n "$N" --pad "$PAD" "$RUN"
fi
echo "journals: $(du -sh "$RUN/journal" | cut -f1), $(cat "$RUN"/journal/*.log | wc -l) lines"
"$TOP/bin/vj-status" -r "$RUN" --json >/dev/null   # warm the page cache
for i in 1 2 3; do
	/usr/bin/time -f "%e %M" -o "$OUT/status.time" "$TOP/bin/vj-status" -r "$RUN" --json >/dev/null
	read -r wall kb <"$OUT/status.time"
	echo "run $i: wall ${wall}s, peak RSS ${kb} KiB, $((kb * 1024 / N)) bytes/job"
done
