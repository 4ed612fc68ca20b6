#!/bin/sh
# tiers.sh: what an image costs and what the tiers and hours save, from the
# model table and vj's own estimate (docs/benchmarks.md, "Image tokens,
# tiers and hours").  Nothing is sent anywhere: the estimates need no
# server, and the one short run that gives them a typical output length
# goes to the fake server on loopback.
#   1. image tokens per image and their cost per 1,000 jobs for each image
#      rule of the shipped table, on photographs of 1, 4 and 12 MP: full
#      size, --max-side 1024 and 768, each --media-resolution (Gemini 3)
#      and --detail low (OpenAI tiles);
#   2. a 10,000-job night: analyze (12 MP photographs) and generate, at the
#      standard and flex tiers, and DeepSeek at peak, off-peak and spread
#      over a weekday's 24 hours.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
unset VJ_RUN VJ_PRICES VJ_MODELS VJ_NOW_MS
make -s >/dev/null && make -s scripts/vj-mkimages tests/fake/vj-fake >/dev/null ||
	{ echo "tiers: build failed" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/vj-tiers.XXXXXX")
FAKE=
trap '[ -n "$FAKE" ] && kill $FAKE 2>/dev/null; rm -rf "$W"' EXIT INT TERM
export GEMINI_API_KEY=bench-tiers-key DEEPSEEK_API_KEY=bench-tiers-key OPENAI_API_KEY=bench-tiers-key
NIGHT=${NIGHT:-10000}

price() { awk -v p="$1" -v m="$2" -v t="${3:-standard}" '$1 == "model" { on = ($2 == p && $3 == m) }
	on && $1 == "price" && $2 == t { print $3; exit }' data/models.txt; }
# est RUN PROVIDER MODEL OPTIONS...: the estimate's JSON, nothing sent
est() {
	r=$1 p=$2 m=$3; shift 3
	bin/vj-analyze -r "$r" --pending --estimate --json --provider "$p" --model "$m" \
	    --base-url http://127.0.0.1:9 --api-key-env OPENAI_API_KEY "$@" 2>/dev/null
}

for mp in 1 4 12; do
	case $mp in 1) wh=1152x864 ;; 4) wh=2304x1728 ;; 12) wh=4000x3000 ;; esac
	scripts/vj-mkimages --one $wh gradient jpg "$W/p$mp.jpg" >/dev/null
	printf '{"imageUrl": "%s", "id": "i%s"}\n' "$W/p$mp.jpg" "$mp" | bin/vj-ingest -q -r "$W/r$mp" >/dev/null
done

echo "== image tokens per image / USD per 1,000 jobs (image tokens at the standard input price)"
printf '%-34s %-4s %-22s %14s %14s %14s\n' model MP options "full size" "max-side 1024" "max-side 768"
row() {
	p=$1 m=$2 opt=$3
	in=$(price "$p" "$m")
	for mp in 1 4 12; do
		# shellcheck disable=SC2086
		est "$W/r$mp" "$p" "$m" $opt |
		    jq -r --arg in "$in" '[.variants[].image_tokens] | map("\(.) $\(. * ($in | tonumber) / 1000 | . * 100 | round / 100)") | @tsv' |
		    awk -v m="$m" -v mp="$mp" -v o="${opt:--}" -F'\t' '{ printf "%-34s %-4s %-22s %14s %14s %14s\n", m, mp, o, $1, $2, $3 }'
	done
}
row gemini gemini-2.5-flash-lite ""
for r in low medium high ultra; do row gemini gemini-3.5-flash-lite "--media-resolution $r"; done
row openai gpt-4o ""
row openai gpt-4o "--detail low"
row openai gpt-4o-mini ""
row openai gpt-4o-mini "--detail low"
row openai gpt-5-mini ""
row openai Qwen/Qwen2.5-VL-7B-Instruct ""

echo
echo "== a night of $NIGHT jobs (12 MP photographs), USD; output tokens from a 20-job run on the fake"
tests/fake/vj-fake --port 0 --port-file "$W/port" >/dev/null 2>&1 &
FAKE=$!
i=0
while [ ! -s "$W/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
URL=http://127.0.0.1:$(cat "$W/port")
N=$W/night G=$W/gen
jobs() { seq -f "n%g" 1 "$NIGHT" | awk -v img="$1" '{ printf "{\"imageUrl\": \"%s\", \"id\": \"%s\"}\n", img, $1 }'; }
jobs "$W/p12.jpg" | bin/vj-ingest -q -r "$N" >"$W/ing"
head -20 "$W/ing" | bin/vj-analyze -r "$N" -q --base-url "$URL" >/dev/null 2>&1
# generate works from the analysis alone: a small picture, analysed offline in a run of its own
jobs "$W/p1.jpg" | bin/vj-ingest -q -r "$G" | bin/vj-analyze -r "$G" --provider offline -q >"$W/an"
head -20 "$W/an" | bin/vj-generate -r "$G" -q --base-url "$URL" --api-key-env DEEPSEEK_API_KEY >/dev/null
sed 1,20d "$W/ing" >"$W/ing.rest"
sed 1,20d "$W/an" >"$W/an.rest"
ea=$(bin/vj-analyze -r "$N" --estimate --json --base-url "$URL" "$W/ing.rest" 2>/dev/null)
eg=$(bin/vj-generate -r "$G" --estimate --json --base-url "$URL" --api-key-env DEEPSEEK_API_KEY "$W/an.rest")
ealow=$(bin/vj-analyze -r "$N" --estimate --json --base-url "$URL" --media-resolution low "$W/ing.rest" 2>/dev/null)
echo "analyze, gemini-3.5-flash-lite, $(echo "$ea" | jq .jobs) jobs, output $(echo "$ea" | jq '.tokens.output / .jobs | round') tokens a job:"
echo "$ea" | jq -r '.variants[0].cost_usd | "  standard \(.standard | . * 100 | round / 100)   flex \(.flex | . * 100 | round / 100)   saved by flex \((.standard - .flex) | . * 100 | round / 100)"'
echo "$ealow" | jq -r '.variants[0].cost_usd | "  --media-resolution low: standard \(.standard | . * 100 | round / 100)   flex \(.flex | . * 100 | round / 100)"'
echo "generate, deepseek-flash, $(echo "$eg" | jq .jobs) jobs, output $(echo "$eg" | jq '.tokens.output / .jobs | round') tokens a job:"
# a weekday's 24 hours: 7 of them peak (01:00-04:00, 06:00-10:00 UTC)
echo "$eg" | jq -r '.variants[0].cost_usd | . as $c | ($c.standard * 17 / 24 + $c["standard@peak"] * 7 / 24) as $spread |
    "  off-peak \($c.standard | . * 100 | round / 100)   peak \($c["standard@peak"] | . * 100 | round / 100)   spread over a weekday \($spread | . * 100 | round / 100)   --off-peak saves \(($spread - $c.standard) / $spread * 100 | round)% of a spread run, \(($c["standard@peak"] - $c.standard) / $c["standard@peak"] * 100 | round)% of a peak one"'
