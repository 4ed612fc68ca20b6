#!/bin/sh
# A budget that holds (--max-cost with -j 64 ends within one request of
# it), --off-peak in and out of DeepSeek's peak hours (VJ_NOW_MS, the test
# hook of docs/prices.md, sets the clock), a retired and a
# temperature-ignoring model warned about once and recorded in the meta,
# and vj-status --cost per tier and hour against hand figures.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
export VJ_FAKE_KEY=k0650 DEEPSEEK_API_KEY=k0650 GEMINI_API_KEY=k0650
start_fake --latency-ms 150 --latency-dist fixed

ge() { vj-generate --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 10 "$@"; }
MON=1797206400000    # 2026-12-14T00:00:00Z, a Monday
PATH="$TOP/tests/tools:$PATH"

cat >prices.json <<EOT
{"openai": {"deepseek-flash": {"prompt": 1000, "cached": 1000, "completion": 1000}}}
EOT

test_expect_success '--max-cost with -j 64: stops within one request of the budget' '
	export VJ_RUN=b64 &&
	mk_analysed img/gradient.jpg in $(seq -f j%g 1 100) &&
	test_status 75 ge -j 64 --prices prices.json --max-cost 5 in >o 2>e &&
	test_grep "budget of \$5.0000 reached (\$[0-9.]* spent, \$[0-9.]* reserved" e &&
	cut -d" " -f2- b64/journal/generate.log | jq -s "map(.cost // 0) | add" >spent &&
	cut -d" " -f2- b64/journal/generate.log | jq -s "map(select(.ev == \"done\") | .cost) | max" >most &&
	echo "spent $(cat spent), the dearest request $(cat most), $(wc -l <o) done" &&
	jq -n --slurpfile s spent --slurpfile m most "\$s[0] <= 5 + \$m[0]" | grep -q true &&
	test $(wc -l <o) -lt 100 && test $(wc -l <o) -ge 5
'

test_expect_success 'a rerun with the same budget sends nothing more; a larger one continues' '
	export VJ_RUN=b64 &&
	n=$(fake_total) &&
	test_status 75 ge -j 64 --prices prices.json --max-cost 0 in >o 2>e &&
	test $(fake_total) -eq $n &&
	ge -j 64 --prices prices.json --max-cost 1000 in >o 2>e &&
	test $(cut -d" " -f2- b64/journal/generate.log | jq -s "map(select(.ev == \"done\")) | length") -eq 100
'

test_expect_success '--off-peak in peak hours: nothing sent, exit 75, the time the cheap hours open' '
	export VJ_RUN=op &&
	mk_analysed img/gradient.jpg in2 o1 o2 o3 &&
	fake_reset &&
	VJ_NOW_MS=$((MON + 2 * 3600000)) test_status 75 ge --off-peak in2 >o 2>e &&
	test $(fake_total) -eq 0 && test ! -s o &&
	test_grep "peak hours: no request is sent before the cheap hours open at 2026-12-14T04:00:00Z" e &&
	VJ_NOW_MS=$((MON + 7 * 3600000)) test_status 75 ge --off-peak in2 >o 2>e &&
	test_grep "open at 2026-12-14T10:00:00Z" e &&
	test $(fake_total) -eq 0
'

test_expect_success '--off-peak in the cheap hours sends; --wait waits for them' '
	export VJ_RUN=op &&
	VJ_NOW_MS=$((MON + 5 * 3600000)) ge --off-peak in2 >o 2>e &&
	test $(wc -l <o) -eq 3 && test $(fake_total) -eq 3 &&
	export VJ_RUN=opw &&
	t0=$(now_ms) &&
	VJ_NOW_MS=$((MON + 4 * 3600000 - 2000)) ge --off-peak --wait in2 >o 2>e &&
	t1=$(now_ms) &&
	test $(wc -l <o) -eq 3 && test $(fake_total) -eq 6 &&
	test_grep "waiting for the cheap hours to open at 2026-12-14T04:00:00Z" e &&
	test $((t1 - t0)) -ge 1500
'

test_expect_success '--off-peak on a model with one price at every hour is a usage error' '
	test_status 2 vj-analyze --provider gemini --model gemini-2.5-flash-lite --off-peak --pending -r op 2>e &&
	test_grep "has the same price at every hour" e &&
	test_status 2 ge --wait in2
'

test_expect_success 'a retired model and one that ignores temperature: warned once, in the meta' '
	export VJ_RUN=ret &&
	mk_ingested img/gradient.jpg in3 r1 r2 r3 &&
	VJ_NOW_MS=$MON vj-analyze --base-url "$FAKE_URL" --model gemini-2.5-flash -j 3 in3 >o 2>e &&
	test $(grep -c "was served until 2026-11-30: requests to it now go to gemini-3.5-flash-lite" e) -eq 1 &&
	test $(grep -c "ignores temperature: creativityLevel has no effect" e) -eq 1 &&
	test $(jq -s "map(select(.analysis_meta.temperature_ignored == true and .analysis_meta.model_served_until == \"2026-11-30\" and .analysis_meta.model_successor == \"gemini-3.5-flash-lite\")) | length" o) -eq 3 &&
	VJ_NOW_MS=$MON vj-analyze --base-url "$FAKE_URL" --model gemini-2.5-flash-lite in3 >o2 2>e2 &&
	! grep -q warning e2 && jq -e ".analysis_meta.temperature_ignored == null" o2 >/dev/null
'

cat >table.txt <<EOT
model openai cheapo
	window peak mon-fri 01:00-04:00
	price standard      1.0 0.5  2.0
	price standard@peak 2.0 1.0  4.0
	price flex          0.5 0.25 1.0
EOT
# done events at hours on both sides of the peak's end (04:00), one whose
# usage says when the provider processed it, one served at the flex tier
ev() { printf '{"ev":"done","id":"%s","t":%s,"key":"%s","ms":5,"attempt":1,"usage":%s,"cost":0.5,"meta":{"provider":"openai","model":"cheapo"}}\n' "$1" "$2" "$(printf "%064d" 0 | cut -c1-32)" "$3"; }

test_expect_success 'vj-status --cost: per tier and hour against hand figures, across the end of a peak' '
	mkdir -p hand/journal &&
	{ printf "{\"ev\":\"journal\",\"version\":1,\"t\":%s}\n" $MON &&
	  ev h1 $((MON + 12600000)) "{\"prompt\":1000,\"completion\":500,\"cached\":0}" &&
	  ev h2 $((MON + 16200000)) "{\"prompt\":1000,\"completion\":500,\"cached\":0}" &&
	  ev h3 $((MON + 14460000)) "{\"prompt\":1000,\"completion\":500,\"cached\":0,\"t\":$((MON + 14340000))}" &&
	  ev h4 $((MON + 16200000)) "{\"prompt\":2000,\"completion\":100,\"cached\":1000,\"tier\":\"flex\"}"
	} | vj-jline >hand/journal/generate.log &&
	vj-status -r hand --models table.txt --json >c &&
	cat c &&
	# h1 peak 0.004, h2 off-peak 0.002 (0.004 at peak), h3 by its usage time: peak 0.004
	jq -e ".stages.generate.standard | .requests == 3 and (.cost_usd - 0.010 | fabs < 1e-12)" c &&
	jq -e ".stages.generate.standard | (.offpeak_saved_usd - 0.002 | fabs < 1e-12) and .journaled_usd == 1.5" c &&
	# h4 at flex: 1000 x 0.5 + 1000 cached x 0.25 + 100 x 1.0 per million
	jq -e ".stages.generate.flex | .requests == 1 and (.cost_usd - 0.00085 | fabs < 1e-12) and .offpeak_saved_usd == 0" c &&
	jq -e "(.cost_usd - 0.01085 | fabs < 1e-12) and (.offpeak_saved_usd - 0.002 | fabs < 1e-12)" c &&
	vj-status -r hand --cost --models table.txt >t &&
	test_grep "^generate  standard          3 .* \$1.5000     \$0.0100" t &&
	test_grep "off-peak hours saved \$0.0020 (the same usage at peak: \$0.0120)" t &&
	test_grep "^generate  flex" t
'

test_expect_success 'vj-status --prices: the same run under another table; a bad table names file:line' '
	printf "model openai cheapo\n\tprice standard 3 3 3\n\tprice flex 3 3 3\n" >flat.txt &&
	vj-status -r hand --models table.txt --prices flat.txt --json >c2 &&
	jq -e "(.cost_usd - (3 * 1500 + 2100) * 3 / 1e6 | fabs) < 1e-12 and .offpeak_saved_usd == 0" c2 &&
	printf "model openai x\n\tprice standard 1 one 2\n" >bad.txt &&
	test_status 2 vj-status -r hand --prices bad.txt 2>e &&
	test_grep "bad.txt:2" e &&
	test_status 2 vj-status -r nowhere --cost
'

test_done
