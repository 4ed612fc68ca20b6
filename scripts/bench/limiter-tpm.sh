#!/bin/sh
# --tpm against a provider's sliding window (issue 15): does a token limit
# use a fresh minute at once, as --rpm does, and settle when set too high?
#
#   scripts/bench/limiter-tpm.sh                 --tpm 280000 and 560000 (~5 min)
#   BEFORE=14a8829 scripts/bench/limiter-tpm.sh  the same with vj-generate built
#                                                at that commit alongside (~10 min)
#   (N jobs, TPMS='280000 560000' the limits tried)
#
# vj-fake admits 300 requests in any 60 s (a sliding window, refused ones
# not counted, 429s naming no delay) and answers after an exponential
# latency of mean 1 s.  The generate requests' token estimates are alike
# (about 945 tokens each), so that is a token limit of about 283500 a
# minute: --tpm 280000 (296 requests' worth) is at it, 560000 2x too high.
# N defaults to 870, within three windows of 296.  Each case runs
# `vj-generate -j 64 --tpm T --pending` on a copy of one analysed run, with
# its own fake; two cases at a time.  Prints a line a case.
set -eu
. "$(dirname "$0")/engine-lib.sh"

N=${N:-870}
TPMS=${TPMS:-280000 560000}
BEFORE=${BEFORE:-}
W=$TOP/scripts/bench/out/limiter-tpm
build
build_before "$BEFORE"
rm -rf "$W" && mkdir -p "$W"
prep_analyzed "$N" "$W"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run_case NAME GENERATE TPM
run_case() {
	name=$1 gen=$2 tpm=$3
	start_fake "$name" --rpm 300 --rpm-window 60 --latency-ms 1000 --latency-dist exp \
	    --seed 7 --no-retry-after
	eval "url=\$URL_$name"
	cp -a "$W/prep" "$W/run-$name"
	t0=$(now)
	rc=0
	timeout -s INT -k 10 1500 /usr/bin/time -f '%U %S' -o "$W/time-$name" "$gen" -q \
	    -r "$W/run-$name" --pending --provider openai --base-url "$url" -j 64 \
	    --tpm "$tpm" >/dev/null 2>"$W/err-$name" || rc=$?
	t1=$(now)
	st=$(curl -s "$url/_stats" | jq -c '.by_status')
	stop_all
	set -- $(tail -n 1 "$W/time-$name")
	echo "$name --tpm $tpm: exit $rc, $(echo "$t1 - $t0" | bc | cut -c1-6) s, answers $st," \
	    "CPU $(echo "$1 + $2" | bc) s"
	rm -rf "$W/run-$name"
}

for tpm in $TPMS; do
	( BENCH_PIDS=; run_case "vj_$tpm" bin/vj-generate "$tpm" ) &
	p1=$!
	p2=
	if [ -n "$B" ]; then
		( BENCH_PIDS=; run_case "before_$tpm" "$B/bin/vj-generate" "$tpm" ) &
		p2=$!
	fi
	wait "$p1" || :
	[ -z "$p2" ] || wait "$p2" || :
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
