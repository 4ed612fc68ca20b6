#!/bin/sh
# --estimate against the bill: the estimate sends nothing (the fake counts
# no request), and the run that follows is billed (from the fake's token
# counts, which follow the providers' image rules: tests/fake/fake_tokens.c)
# within 15% of what the estimate said, for vj-analyze on photographs of
# 1, 4 and 12 megapixels (full size and --max-side, a tile-counting and a
# fixed-budget model, flex) and for vj-generate.  A first small run gives
# the estimate its output figure (the run's average).
. "$(dirname "$0")/lib.sh"

vj-mkimages --one 1152x864 noise jpg p1.jpg >/dev/null
vj-mkimages --one 2304x1728 noise jpg p4.jpg >/dev/null
vj-mkimages --one 4000x3000 noise jpg p12.jpg >/dev/null
export VJ_FAKE_KEY=k0670bill GEMINI_API_KEY=k0670bill
start_fake

# near A B PCT: A and B differ by at most PCT percent of B
near() { jq -n "($1 - $2) / $2 | fabs * 100 <= $3" | grep -q true; }
# billed RUN STAGE N: the cost of the last N answers the run journaled
billed() { cut -d" " -f2- "$1/journal/$2.log" | jq -s "map(select(.ev == \"done\")) | .[-$3:] | map(.cost) | add"; }
# jobs FILE PREFIX N: N ingested jobs, the three photographs in turn
jobs() {
	for i in $(seq 1 $3); do
		case $((i % 3)) in 0) f=p1.jpg ;; 1) f=p4.jpg ;; *) f=p12.jpg ;; esac
		job_lines $f $2$i
	done | vj-ingest -q >"$1"
}

# check MODEL TIER VARIANT OPTIONS...: estimate 24 jobs after 6, run them,
# compare (VARIANT: the estimate's variant of the options given)
check() {
	model=$1 tier=$2 var=$3; shift 3
	export VJ_RUN=r-$model-$tier-$var &&
	jobs all j 30 &&
	head -6 all | vj-analyze --base-url "$FAKE_URL" --model $model --tier $tier "$@" -q >/dev/null &&
	fake_reset &&
	vj-analyze --base-url "$FAKE_URL" --model $model --tier $tier --estimate --json "$@" all >est &&
	test $(fake_total) -eq 0 &&
	jq -e ".jobs == 24 and .tokens.output_from == \"run\"" est >/dev/null &&
	want=$(jq ".variants[$var].cost_usd.$tier" est) &&
	vj-analyze --base-url "$FAKE_URL" --model $model --tier $tier "$@" -q all >/dev/null &&
	test $(fake_total) -eq 24 &&
	got=$(billed $VJ_RUN analyze 24) &&
	say "$model $tier $*: estimated \$$want, billed \$$got" &&
	near $want $got 15
}

test_expect_success 'analyze, Gemini 2.x tiles, full size: within 15%' '
	check gemini-2.5-flash-lite standard 0
'

test_expect_success 'analyze, Gemini 2.x tiles, --max-side 768: within 15%, and cheaper' '
	check gemini-2.5-flash-lite standard 1 --max-side 768 &&
	full=$(jq ".variants[0].cost_usd.standard" est) &&
	jq -n "$want < $full" | grep -q true
'

test_expect_success 'analyze, Gemini 3 fixed budget, flex: within 15%' '
	check gemini-3.5-flash-lite flex 0
'

test_expect_success 'analyze, Gemini 3, --media-resolution low: within 15%' '
	check gemini-3.5-flash-lite standard 0 --media-resolution low &&
	jq -e ".variants[0].image_tokens == 24 * 280" est
'

test_expect_success 'generate (Gemini): within 15%' '
	export VJ_RUN=gen &&
	jobs all g 30 &&
	vj-analyze --provider offline -q all >an &&
	head -6 an | vj-generate --provider gemini --base-url "$FAKE_URL" -q >/dev/null &&
	fake_reset &&
	vj-generate --provider gemini --base-url "$FAKE_URL" --estimate --json an >est &&
	test $(fake_total) -eq 0 &&
	jq -e ".jobs == 24" est >/dev/null &&
	want=$(jq ".variants[0].cost_usd.standard" est) &&
	vj-generate --provider gemini --base-url "$FAKE_URL" -q an >/dev/null &&
	test $(fake_total) -eq 24 &&
	got=$(billed gen generate 24) &&
	say "generate: estimated \$$want, billed \$$got" &&
	near $want $got 15
'

test_done
