#!/bin/sh
# Packing throughput: vj-pack into tar.zst (level 3) against
# `tar -cf - | zstd -T0 -3` and single-threaded zstd over the same image
# files, medians of 3, written to docs/benchmarks.md "## Packing throughput".
#   scripts/bench/pack.sh [JOBS [IMAGE_BYTES]]     (default 5200 x 256k: ~1 GB)
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
JOBS=${1:-5200}
IMG=${2:-256k}
W=${BENCH_DIR:-$TOP/scripts/bench/out/pack}
cd "$TOP"
make -s bin/vj-pack tests/tools/vj-mkrun || { [ -x bin/vj-pack ] && [ -x tests/tools/vj-mkrun ]; }
rm -rf "$W" && mkdir -p "$W"
export SOURCE_DATE_EPOCH=0

echo "making a run of $JOBS jobs with $IMG images in $W/run ..." >&2
tests/tools/vj-mkrun "$W/run" "$JOBS" --image-bytes "$IMG" >/dev/null
BYTES=$(du -sb "$W/run/objects" | cut -f1)
cat "$W"/run/objects/*/* >/dev/null     # warm the page cache for everyone

now() { date +%s.%N; }
# one CMD...: seconds of CMD.  Each vj-pack gets a new OUT: the run's pack
# journal remembers what went into an OUT even after it is deleted.
one() {
	rm -rf "$W"/o*
	t0=$(now); "$@" >/dev/null; t1=$(now)
	echo "$t1 - $t0" | bc -l
}
median3() {
	a=$(one "$@"); b=$(one "$@"); c=$(one "$@")
	printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -g | sed -n 2p
}
mbs() { echo "scale=1; $BYTES / 1048576 / $1" | bc -l; }

vjpack() { bin/vj-pack -q -r "$W/run" -o "$W/o.$(date +%s%N)" --pending --level 3 --fsync never "$@"; }
tarzstd() { tar -cf - -C "$W/run" objects | zstd -q -f "$@" -3 -o "$W/o.tar.zst"; }

NCPU=$(nproc)
echo "timing (3 runs each) ..." >&2
T_VJ=$(median3 vjpack)
T_VJ1=$(median3 vjpack --threads 1)
T_TAR=$(median3 tarzstd -T0)
T_TAR1=$(median3 tarzstd -T1)
rm -rf "$W"/o*; vjpack >/dev/null; VJ_OUT=$(cat "$W"/o.*/shard-*.tar.zst | wc -c)
tarzstd -T0; TAR_OUT=$(wc -c <"$W/o.tar.zst")

MB=$(echo "scale=0; $BYTES / 1048576" | bc)
TABLE=$(cat <<T
| command | workers | median s | MB/s | output MB |
|---|---|---|---|---|
| \`vj-pack --pending\` (tar.zst, level 3) | $NCPU | $(printf %.2f "$T_VJ") | $(mbs "$T_VJ") | $((VJ_OUT / 1048576)) |
| \`vj-pack --pending --threads 1\` | 1 | $(printf %.2f "$T_VJ1") | $(mbs "$T_VJ1") | $((VJ_OUT / 1048576)) |
| \`tar -cf - objects \| zstd -T0 -3\` | $NCPU | $(printf %.2f "$T_TAR") | $(mbs "$T_TAR") | $((TAR_OUT / 1048576)) |
| \`tar -cf - objects \| zstd -T1 -3\` | 1 | $(printf %.2f "$T_TAR1") | $(mbs "$T_TAR1") | $((TAR_OUT / 1048576)) |
T
)
echo "$TABLE"

SECTION=$(cat <<S
## Packing throughput

\`scripts/bench/pack.sh $JOBS $IMG\` on $(date -u +%Y-%m-%d), $NCPU CPUs, $(uname -m):
$JOBS jobs, $MB MB of PNG images (noisy pixels, hard to compress) in the
object store, page cache warm, output on the same disk, \`--fsync never\`
(neither tar nor zstd syncs).  MB/s is image bytes in per second; median
of 3 runs.  vj-pack also writes a JSON record and a text per sample, checks
every image's sha256 as it reads it, journals each shard and writes
index.json.

$TABLE

vj-pack's output is the same bytes for every \`--threads\`; zstd -T0 and
-T1 produce different frames, vj-pack always uses libzstd's multi-worker
mode (one worker with \`--threads 1\`).
S
)
DOC=docs/benchmarks.md
[ -f "$DOC" ] || printf '# vj benchmarks\n' >"$DOC"
# Replace our section (up to the next "## " heading) or append it.
SECTION="$SECTION" python3 - "$DOC" <<'PY'
import os, re, sys
p = sys.argv[1]
s = open(p).read()
sec = os.environ["SECTION"].rstrip("\n") + "\n"
m = re.search(r"^## Packing throughput\n.*?(?=^## |\Z)", s, re.S | re.M)
if m:
    s = s[:m.start()] + sec + ("\n" if m.end() < len(s) else "") + s[m.end():]
else:
    s = s.rstrip("\n") + "\n\n" + sec
open(p, "w").write(s)
PY
echo "wrote $DOC" >&2
rm -rf "$W"
