#!/bin/sh
# scripts/bench/ingest.sh: vj-ingest on a 1,000,000-line manifest whose lines
# point at 1,000 local image files, against `jq -c . >/dev/null` merely
# parsing the same manifest, in the same run (interleaved, medians of 5).
#   scripts/bench/ingest.sh [LINES]
# Needs `make bin/vj-ingest scripts/vj-mkimages`, jq and GNU time.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-1000000}
OUT="$TOP/scripts/bench/out/ingest"
mkdir -p "$OUT"
cd "$OUT"
if [ ! -s "m$N.jsonl" ]; then
	rm -rf imgs0 imgs && mkdir imgs
	"$TOP/scripts/vj-mkimages" imgs0 >/dev/null
	ls imgs0 | grep -v -e truncated -e empty >names
	i=0
	while [ $i -lt 1000 ]; do
		f=$(sed -n "$((i % $(wc -l <names) + 1))p" names)
		cp "imgs0/$f" "imgs/$i-$f"
		i=$((i + 1))
	done
	ls imgs | awk -v n="$N" '{ a[NR-1] = $0 } END {
		for (i = 0; i < n; i++)
			printf "{\"imageUrl\": \"imgs/%s\", \"id\": \"job%07d\", \"analysisPurpose\": \"benchmark\", \"imageContext\": \"a test image number %d\", \"creativityLevel\": 0.7, \"meta\": {\"n\": %d}}\n", a[i % 1000], i, i, i
	}' >"m$N.jsonl"
fi
echo "manifest: $N lines, $(du -h "m$N.jsonl" | cut -f1)"
med() { sort -n | sed -n 3p; }
: >jq.t
: >vj.t
# each run starts with the previous one's writes on disk (sync), or its
# writeback lands in the next run's timing
for i in 1 2 3 4 5; do
	sync
	/usr/bin/time -f "%e" -a -o jq.t jq -c . "m$N.jsonl" >/dev/null
	rm -rf run
	sync
	/usr/bin/time -f "%e %M %P" -a -o vj.t "$TOP/bin/vj-ingest" -r run -q "m$N.jsonl" >/dev/null
done
jq_s=$(med <jq.t)
vj_s=$(cut -d' ' -f1 vj.t | med)
rss=$(sort -n -k2 vj.t | tail -1 | cut -d' ' -f2)
cpu=$(sort -n vj.t | sed -n 3p | cut -d' ' -f3)
echo "jq -c .   : median ${jq_s}s  ($(echo "$N $jq_s" | awk '{printf "%.0f", $1 / $2}') lines/s)"
echo "vj-ingest : median ${vj_s}s  ($(echo "$N $vj_s" | awk '{printf "%.0f", $1 / $2}') lines/s), CPU $cpu, peak RSS ${rss} KiB"
echo "ratio (jq time / vj-ingest time): $(echo "$jq_s $vj_s" | awk '{printf "%.2f", $1 / $2}') (target >= 0.5)"
