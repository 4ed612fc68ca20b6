#!/bin/sh
# vj-generate: a prompt edit is new work, no edit is no request; --max-cost
# stops at a budget (exit 75) and a rerun continues; vj-status's cost is
# the hand-computed one.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0610 DEEPSEEK_API_KEY=k0610
start_fake

# mk FILE ID...: analysed records (offline analysis) for these ids
mk() { mk_analysed img/gradient.jpg "$@"; }
ge() { vj-generate --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 5 "$@"; }

test_expect_success 'a prompt file: generated once; a rerun without an edit sends nothing' '
	mk in p1 p2 p3 &&
	printf "@user\nWrite about this picture:\n{{analysis}}\n" >prompt.txt &&
	ge --prompt-file prompt.txt in >o1 2>e &&
	test $(wc -l <o1) -eq 3 && test $(fake_total) -eq 3 &&
	ge --prompt-file prompt.txt in >o2 2>e &&
	test $(fake_total) -eq 3 &&
	jq -S -c . o1 | sort >s1 && jq -S -c . o2 | sort >s2 && test_cmp s1 s2
'

test_expect_success 'an edited prompt regenerates every job, once' '
	printf "@user\nWrite two lines about this picture:\n{{analysis}}\n" >prompt.txt &&
	ge --prompt-file prompt.txt in >o3 2>e &&
	test $(wc -l <o3) -eq 3 && test $(fake_total) -eq 6 &&
	for id in p1 p2 p3; do test $(fake_count $id) -eq 2 || exit 1; done &&
	test "$(jq -r .keys.generate o1 | sort)" != "$(jq -r .keys.generate o3 | sort)" &&
	ge --prompt-file prompt.txt in >o4 2>e && test $(fake_total) -eq 6
'

# docs/prompts.md promises that putting a prompt back finds the old results
# again; the run's fold keeps only the latest result per job and stage, so
# the old one is not found (a known gap, see the report).
test_skip 'putting the old prompt back finds the old results: no request (not implemented)'

cat >prices.json <<EOT
{"openai": {"deepseek-flash": {"prompt": 1000, "cached": 1000, "completion": 1000}}}
EOT

test_expect_success '--max-cost: a budget stop exits 75, a rerun with a higher budget finishes' '
	export VJ_RUN=cost &&
	mk b10 $(seq -f b%g 1 10) &&
	test_status 75 ge -j 1 --prices prices.json --max-cost 1.5 b10 >o 2>e &&
	test_grep "budget of \$1.5000 reached" e &&
	n=$(wc -l <o) && test $n -ge 1 && test $n -lt 10 &&
	ge -j 1 --prices prices.json --max-cost 1000 b10 >o 2>e &&
	test $(wc -l <o) -eq 10 &&
	for i in $(seq 1 10); do test $(fake_count b$i) -eq 1 || exit 1; done
'

test_expect_success '--max-cost with -j 8 stops near the budget, not after the whole queue' '
	export VJ_RUN=cost8 &&
	mk b40 $(seq -f c%g 1 40) &&
	test_status 75 ge -j 8 --prices prices.json --max-cost 2 b40 >o 2>e &&
	cut -d" " -f2- cost8/journal/generate.log | jq -s "map(.cost // 0) | add" >spent &&
	cut -d" " -f2- cost8/journal/generate.log | jq -s "map(select(.ev==\"done\") | .cost) | add / length" >avg &&
	echo "spent $(cat spent), average $(cat avg)" &&
	jq -n --slurpfile s spent --slurpfile a avg "\$s[0] <= 2 + 8 * \$a[0]" | grep -q true &&
	test $(wc -l <o) -lt 40
'

test_expect_success 'vj-status --json cost is the hand-computed one: (prompt + completion) / 1000 per answer' '
	export VJ_RUN=cost &&
	grep "\"ev\"" cost/journal/generate.log | sed "s/^[^ ]* //" |
		jq -s "map(.usage.prompt + .usage.completion) | add / 1000" >want &&
	vj-status --json | jq ".stages.generate.cost_usd" >got &&
	echo "want $(cat want) got $(cat got)" &&
	jq -n --slurpfile w want --slurpfile g got "(\$w[0] - \$g[0]) | fabs < 0.000002" | grep -q true
'

test_done
