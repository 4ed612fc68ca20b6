#!/bin/sh
# --estimate on vj-analyze and vj-generate: nothing is sent (the fake counts
# no request) and nothing is journaled; the jobs, the image tokens by the
# model's rule (hand figures), the output from max_tokens before any answer
# and from the run's average after, the cost under each tier and window;
# and an estimate from the run's own answers lands within 15% of what the
# fake then bills.
. "$(dirname "$0")/lib.sh"

vj-mkimages --one 1600x1200 gradient jpg big.jpg >/dev/null
export VJ_FAKE_KEY=k0630 GEMINI_API_KEY=k0630 DEEPSEEK_API_KEY=k0630
start_fake

an() { vj-analyze --base-url "$FAKE_URL" --timeout 10 --model gemini-2.5-flash-lite "$@"; }
ge() { vj-generate --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 10 "$@"; }
# near A B PCT: A and B differ by at most PCT percent of B
near() { jq -n "($1 - $2) / $2 | fabs * 100 <= $3" | grep -q true; }

test_expect_success 'vj-analyze --estimate --pending: nothing sent, nothing journaled; hand-computed image tokens' '
	job_lines big.jpg $(seq -f e%g 1 6) | vj-ingest -q >/dev/null &&
	an --estimate --pending --json >est 2>e &&
	test $(fake_total) -eq 0 &&
	test ! -e vj-run/journal/analyze.log &&
	jq -e ".jobs == 6 and .tokens.output_from == \"max_tokens\"" est &&
	jq -e ".tokens.output == 6 * 8192" est &&
	# gemini-tiles: 1600x1200 is 3 x 2 tiles of 258; at 1024 (1024x768) 2 x 1; at 768 one
	jq -e "[.variants[].image_tokens] == [6 * 1548, 6 * 516, 6 * 258]" est &&
	jq -e "[.variants[].max_side] == [0, 1024, 768]" est &&
	# gemini-2.5-flash-lite: 0.10 in, 0.40 out; flex and batch half
	jq -e ".variants[0] | (.cost_usd.standard - (.prompt_tokens * 0.10 + 6 * 8192 * 0.40) / 1e6) | fabs < 1e-9" est &&
	jq -e ".variants[0] | (.cost_usd.flex * 2 - .cost_usd.standard) | fabs < 1e-9" est &&
	jq -e ".variants[2].prompt_tokens == .tokens.text + 6 * 258" est
'

test_expect_success 'the text report says the same; --max-side gives its own column' '
	an --estimate --pending --max-side 512 >txt 2>e &&
	test $(fake_total) -eq 0 &&
	test_grep "^vj-analyze --estimate: 6 jobs to do with gemini model gemini-2.5-flash-lite; nothing was sent" txt &&
	test_grep "image tokens a job: 1548 at full size, 258 at --max-side 512" txt &&
	test_grep "output 8192 (max_tokens: no answers yet)" txt &&
	test_grep "^  standard " txt && test_grep "^  batch " txt
'

test_expect_success 'records on stdin: done ones are not counted; afterwards the output is the run average' '
	an --pending >/dev/null 2>e &&
	test $(fake_total) -eq 6 &&
	job_lines big.jpg $(seq -f e%g 1 9) | vj-ingest -q >in &&
	an --estimate --json in >est2 2>e &&
	test $(fake_total) -eq 6 &&
	jq -e ".jobs == 3 and .tokens.output_from == \"run\" and .tokens.output_answers == 6" est2 &&
	avg=$(cut -d" " -f2- vj-run/journal/analyze.log | jq -s "map(select(.ev == \"done\") | .usage.completion) | add / length | ceil") &&
	jq -e ".tokens.output == 3 * $avg" est2
'

test_expect_success 'DeepSeek: standard and peak prices, peak twice the other hours; no image rule for text' '
	vj-analyze --provider offline -q --pending >an.jsonl &&
	ge --estimate --json an.jsonl >g 2>e &&
	test $(fake_total) -eq 6 &&
	jq -e ".jobs == 9 and (.variants | length) == 1" g &&
	jq -e ".variants[0].cost_usd | (.[\"standard@peak\"] - 2 * .standard) | fabs < 1e-9" g &&
	jq -e ".variants[0] | (.cost_usd.standard - (.prompt_tokens * 0.15 + 9 * 2048 * 0.60) / 1e6) | fabs < 1e-9" g
'

# The fake counts a request body's bytes over four as prompt tokens, more
# than the prompt's text: a table where output dominates keeps that apart.
cat >out-priced.txt <<EOT
model openai deepseek-flash
	price standard 0.10 - 10
EOT

test_expect_success 'an estimate from the run average lands within 15% of the billed cost' '
	export VJ_RUN=g15 &&
	job_lines big.jpg $(seq -f g%g 1 24) | vj-ingest -q | vj-analyze -q --provider offline >a24 &&
	head -6 a24 | ge -q --models out-priced.txt >/dev/null &&
	ge --estimate --json --models out-priced.txt a24 >est 2>e &&
	jq -e ".jobs == 18" est &&
	want=$(jq .variants[0].cost_usd.standard est) &&
	ge -q --models out-priced.txt a24 >/dev/null &&
	got=$(cut -d" " -f2- g15/journal/generate.log | jq -s "map(select(.ev == \"done\")) | .[6:] | map(.cost) | add") &&
	echo "estimated $want, billed $got" &&
	near $want $got 15
'

test_expect_success 'an estimate of nothing to do, and bad uses' '
	export VJ_RUN=g15 &&
	ge --estimate --models out-priced.txt a24 >n 2>e &&
	test_grep "0 jobs to do" n && test_grep "nothing to do" n &&
	test_status 2 ge --json a24 &&
	test_status 2 vj-analyze --estimate --pending -r nowhere
'

test_done
