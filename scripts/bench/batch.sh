#!/bin/sh
# scripts/bench/batch.sh: --batch at scale against the fake (issue 13).
#   scripts/bench/batch.sh [JOBS] [SMALL]
# Ingests JOBS jobs (default 50000) of one small image, then times
#   build+upload: vj-analyze --pending --batch (Gemini's wire format), which
#                 writes the input files, uploads them and creates the
#                 batches, then exits 75;
#   collect:      vj-analyze --pending --batch --wait, which polls, downloads
#                 and journals every answer;
# wall and CPU seconds and peak RSS (GNU time) of each, for JOBS and for
# SMALL jobs (default JOBS/10), so that memory can be compared across job
# counts.  Then the cost of the same tokens at the model's standard, flex
# and batch prices (data/models.txt).  The fake keeps request bodies under
# 64 MB, so files are split at 60 MB (VJ_BATCH_LIMITS), as they would be at
# a provider's limit.  Needs `make` and `make tests/fake/vj-fake scripts/vj-mkimages`.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-50000}
SMALL=${2:-$((N / 10))}
OUT="$TOP/scripts/bench/out/batch"
M=gemini-2.5-flash-lite
PATH="$TOP/bin:$TOP/tests/fake:$TOP/scripts:$PATH"
export PATH VJ_FAKE_KEY=bench GEMINI_API_KEY=bench
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"
vj-mkimages img >/dev/null
printf 'gemini 60000000 0\n' >limits
export VJ_BATCH_LIMITS=$OUT/limits
vj-fake --port 0 --port-file port --batch-pending-ms 100 --batch-running-ms 500 \
	--batch-finalizing-ms 100 >fake.log 2>&1 &
FAKE=$!
trap 'kill $FAKE 2>/dev/null' EXIT
i=0; while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat port)"
echo "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

timed() {
	name=$1; shift
	/usr/bin/time -f "%e %U %S %M" -o t "$@" >/dev/null 2>err || true
	read -r wall user sys kb <<EOT
$(tail -1 t)
EOT
	printf '%-14s %7d jobs  %7.2f s wall  %7.2f s CPU  %7d KB peak RSS\n' "$name" "$n" "$wall" \
	    "$(echo "$user + $sys" | bc)" "$kb"
}

for n in $SMALL $N; do
	export VJ_RUN=$OUT/run-$n
	seq -f '{"imageUrl":"'"$OUT"'/img/small.webp","id":"b%g"}' 1 "$n" | vj-ingest -q >/dev/null
	an="vj-analyze --base-url $URL --model $M --pending --batch --no-progress -q"
	timed build+upload $an
	echo "               $(ls run-$n/batch/*.jsonl | wc -l) files, $(du -cb run-$n/batch/*.jsonl | tail -1 | cut -f1) bytes"
	timed collect $an --wait --poll 1
	d=$(cut -d' ' -f2- run-$n/journal/analyze.log | grep -c '"ev":"done"' || true)
	echo "               $d done"
done

# the cost of the large run's tokens at each tier of the model
cut -d' ' -f2- "$OUT/run-$N/journal/analyze.log" | jq -s '
	map(select(.ev == "done") | .usage) |
	{p: (map(.prompt) | add), c: (map(.completion) | add), k: (map(.cached) | add), cost: 0}' >tok
awk -v m="$M" '$1 == "model" && $2 == "gemini" { on = ($3 == m) } on && $1 == "price" { print $2, $3, $4, $5 }' \
	"$TOP/data/models.txt" | while read -r tier in cached outp; do
	[ "$cached" = - ] && cached=$in
	jq -r --arg t "$tier" --argjson i "$in" --argjson k "$cached" --argjson o "$outp" \
	    '"cost at \($t): $\((((.p - .k) * $i + .k * $k + .c * $o) / 1e6 * 100 | round) / 100)"' tok
done
echo "journaled (batch): \$$(cut -d' ' -f2- "$OUT/run-$N/journal/analyze.log" | jq -s 'map(.cost // 0) | add * 100 | round / 100')"
