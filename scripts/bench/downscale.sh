#!/bin/sh
# downscale.sh: what vj-analyze --max-side costs and saves (docs/benchmarks.md,
# "Downscaling").  For photographs of 1, 4 and 12 megapixels (vj-mkimages:
# a smooth gradient, and noise as the worst case for the decoder):
#   - the wall and CPU time per image of the downscaled copy at 1024 and
#     768 (content/resize.c through tests/tools/vj-resize, 10 runs each),
#     and (with valgrind) the instructions it takes on the 12 MP ones;
#   - the image tokens per image and their cost per 1,000 jobs for each
#     image rule of the model table, at full size, 1024 and 768 (the table's
#     standard input price; from vj-analyze --estimate, nothing sent).
# Loopback only; nothing leaves the machine.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
unset VJ_RUN VJ_PRICES VJ_MODELS VJ_NOW_MS
make -s >/dev/null && make -s scripts/vj-mkimages tests/tools/vj-resize >/dev/null ||
	{ echo "downscale: build failed" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/vj-downscale.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
REPEAT=${REPEAT:-10}

echo "== time per image (ms, averaged over $REPEAT)"
printf '%-22s %-7s %-11s %9s %8s %8s\n' image side out bytes wall cpu
for mp in 1 4 12; do
	case $mp in 1) wh=1152x864 ;; 4) wh=2304x1728 ;; 12) wh=4000x3000 ;; esac
	for kind in gradient noise; do
		f=$W/$kind-$mp.jpg
		scripts/vj-mkimages --one $wh $kind jpg "$f" >/dev/null
		for side in 1024 768; do
			set -- $(tests/tools/vj-resize $side 0 "$REPEAT" "$f")
			printf '%-22s %-7s %-11s %9s %8s %8s\n' "$kind ${mp}MP $1 $(($(wc -c <"$f") / 1024))K" \
			    $side "$2" "$3" "$5" "$6"
		done
	done
done

# Instructions per image are the same on a loaded machine as on an idle
# one: with valgrind installed, count them for the 12 MP pictures.
if command -v valgrind >/dev/null 2>&1; then
	echo
	echo "== instructions per image (callgrind: deterministic, whatever the load)"
	for kind in gradient noise; do
		for side in 1024 768; do
			n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null tests/tools/vj-resize \
			    $side 0 1 "$W/$kind-12.jpg" 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
			printf '%-22s %-7s %6s M\n' "$kind 12MP" $side $((n / 1000000))
		done
	done
fi

echo
echo "== image tokens per image and their cost per 1,000 jobs (standard input price)"
# one model per image rule in the shipped table
MODELS="gemini:gemini-2.5-flash-lite gemini:gemini-3.5-flash-lite openai:gpt-4o-mini openai:gpt-5-mini openai:Qwen/Qwen2.5-VL-7B-Instruct"
price() { awk -v p="$1" -v m="$2" '$1 == "model" { on = ($2 == p && $3 == m) }
	on && $1 == "price" && $2 == "standard" { print $3; exit }' data/models.txt; }
printf '%-32s %-6s %23s %23s %23s\n' model MP "full size" "--max-side 1024" "--max-side 768"
for pm in $MODELS; do
	p=${pm%%:*} m=${pm#*:}
	in=$(price "$p" "$m")
	for mp in 1 4 12; do
		r=$W/run-$mp
		if [ ! -d "$r" ]; then
			printf '{"imageUrl": "%s", "id": "i%s"}\n' "$W/gradient-$mp.jpg" "$mp" |
			    bin/vj-ingest -q -r "$r" >/dev/null
		fi
		GEMINI_API_KEY=x bin/vj-analyze -r "$r" --pending --estimate --json --provider "$p" \
		    --model "$m" --base-url http://127.0.0.1:9 2>/dev/null |
		    jq -r --arg in "$in" '[.variants[].image_tokens] | map("\(.) $\(. * ($in | tonumber) / 1000 | . * 10000 | round / 10000)") | @tsv' |
		    awk -v m="$m" -v mp="$mp" -F'\t' '{ printf "%-32s %-6s %23s %23s %23s\n", m, mp, $1, $2, $3 }'
	done
done
