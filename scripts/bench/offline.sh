#!/bin/sh
# Offline analysis throughput: images per second per core on 12-megapixel
# JPEGs and 1-megapixel PNGs drawn by vj-mkimages --one.  Reports the median
# of RUNS runs and records it in docs/benchmarks.md under its own section.
#   sh scripts/bench/offline.sh [RUNS]          (from the top of the tree)
set -eu

RUNS=${1:-7}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vj-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

make -s scripts/vj-mkimages
# Link the analyser's own sources rather than src/libvj.a, so a half-edited
# module elsewhere in the tree cannot stop the benchmark; same flags as make.
pkgs="jansson libjpeg libpng libwebp libcrypto"
# shellcheck disable=SC2046
${CC:-cc} -std=c11 ${CFLAGS:--O2 -g} -D_GNU_SOURCE -Isrc $(pkg-config --cflags $pkgs) \
    -o "$tmp/offline_bench" scripts/bench/offline_bench.c src/content/offline_analyze.c \
    src/content/decode.c src/content/img.c src/base/util.c src/base/hash.c \
    $(pkg-config --libs $pkgs) -lgif -lm -lpthread

scripts/vj-mkimages --one 4000x3000 shapes jpg "$tmp/photo.jpg"
scripts/vj-mkimages --one 4000x3000 noise jpg "$tmp/noise.jpg"
scripts/vj-mkimages --one 1000x1000 shapes png "$tmp/shapes.png"

median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# run FILE ITERS: median images/s over RUNS runs (after one warm-up run)
run() {
	"$tmp/offline_bench" 1 1 "$1" >/dev/null
	"$tmp/offline_bench" "$RUNS" "$2" "$1" | median
}

size() {
	wc -c <"$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'
}

jpg=$(run "$tmp/photo.jpg" 20)
noise=$(run "$tmp/noise.jpg" 5)
png=$(run "$tmp/shapes.png" 20)
ms() { awk -v r="$1" 'BEGIN { printf "%.1f", 1000 / r }'; }

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
section=$(cat <<EOF2
## Offline analysis throughput

\`sh scripts/bench/offline.sh\` ($(date -u +%Y-%m-%d), $cpu, one thread,
median of $RUNS runs; decode + analysis, files already in memory).

| input | file size | images/s per core | ms per image |
|---|---|---|---|
| 4000x3000 JPEG q90, shapes + grain (photo-like) | $(size "$tmp/photo.jpg") | $jpg | $(ms "$jpg") |
| 4000x3000 JPEG q90, full noise (worst case) | $(size "$tmp/noise.jpg") | $noise | $(ms "$noise") |
| 1000x1000 PNG, shapes + grain | $(size "$tmp/shapes.png") | $png | $(ms "$png") |

JPEGs decode at 1/8 scale straight from the DCT (500x375), so their cost is
mostly entropy decoding; PNGs decode in full and are box-filtered to 256 px.
EOF2
)

doc=docs/benchmarks.md
mkdir -p docs
[ -f "$doc" ] || printf '# vj benchmarks\n' >"$doc"
# Replace our section (heading to the next "## ") or append it; leave the rest alone.
awk -v sec="$section" '
	/^## / { if (skip) skip = 0 }
	/^## Offline analysis throughput[ \t]*$/ { print sec; print ""; done = 1; skip = 1; next }
	!skip { print }
	END { if (!done) { print ""; print sec } }
' "$doc" >"$tmp/bench.md"
cp "$tmp/bench.md" "$doc"
printf '%s\n' "$section"
