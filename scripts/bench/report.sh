#!/bin/sh
# scripts/bench/report.sh: time vj-report on the large synthetic run of the
# vj-status benchmark, and weigh its gallery on a run with real images.
#   scripts/bench/report.sh [JOBS] [PAD]
# JOBS (default 1000000) jobs, PAD bytes of filler in each analysis and
# content (default 200), the run scripts/bench/status.sh makes (made here if
# missing).  Prints wall time, peak RSS and page size per run; then the page
# of a 300-job offline run of the vj-mkimages pictures, where every sample
# has a thumbnail, with 0 and with 48 samples.
# Needs `make all tests/tools/vj-mkstatus scripts/vj-mkimages` and GNU time.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000000}
PAD=${2:-200}
OUT="$TOP/scripts/bench/out"
RUN="$OUT/status-run-$N-$PAD"
PATH="$TOP/bin:$TOP/scripts:$PATH"
mkdir -p "$OUT"
if [ ! -d "$RUN" ]; then
	echo "making $RUN ..."
	"$TOP/tests/tools/vj-mkstatus" -n "$N" --pad "$PAD" "$RUN"
fi
echo "journals: $(du -sh "$RUN/journal" | cut -f1), $(cat "$RUN"/journal/*.log | wc -l) lines"
vj-report -q -r "$RUN" --output "$OUT/report.html"   # warm the page cache
for i in 1 2 3; do
	/usr/bin/time -f "%e %M" -o "$OUT/report.time" vj-report -q -r "$RUN" --output "$OUT/report.html"
	read -r wall kb <"$OUT/report.time"
	echo "run $i: wall ${wall}s, peak RSS ${kb} KiB, page $(wc -c <"$OUT/report.html") bytes"
done

# the gallery's weight: thumbnails of real pictures
G="$OUT/report-gallery"
if [ ! -d "$G/run" ]; then
	rm -rf "$G" && mkdir -p "$G"
	vj-mkimages "$G/img" >/dev/null
	i=0
	for k in $(seq 1 300); do
		for f in "$G"/img/*; do
			case $f in *empty*|*truncated*) continue ;; esac
			i=$((i + 1))
			[ $i -gt 300 ] && break 2
			printf '{"imageUrl": "%s", "id": "g%04d"}\n' "$f" $i
		done
	done >"$G/jobs.jsonl"
	vj-ingest -q -r "$G/run" "$G/jobs.jsonl" | vj-analyze -q -r "$G/run" --provider offline |
		vj-generate -q -r "$G/run" --provider offline >/dev/null
fi
for s in 0 48; do
	vj-report -q -r "$G/run" --samples $s --output "$OUT/gallery-$s.html"
	echo "300-job offline run, --samples $s: page $(wc -c <"$OUT/gallery-$s.html") bytes," \
	    "$(grep -o 'data:image/jpeg' "$OUT/gallery-$s.html" | wc -l) thumbnails"
done
