#!/bin/sh
# The rate limiter against a provider's sliding window (issue 15, part 2):
# does vj-generate finish first, and does a --rpm set too high settle near
# the real limit?
#
#   scripts/bench/limiter.sh           the reduced matrix (~25 min)
#   FULL=1 scripts/bench/limiter.sh    every case: both wire formats,
#                                      --rpm 300/600/1200, with and
#                                      without Retry-After (~60 min)
#   BEFORE=292cf28 scripts/bench/limiter.sh   adds --rpm 600 (OpenAI, no
#                                      delay) with vj-generate built at that
#                                      commit (a git worktree under
#                                      scripts/bench/out/before; ~12 min)
#   (N jobs, J concurrency, SLOTS cases at once, ONLY='oa-600 oa-600-cb'
#   the cases named, LIMIT the fake's limit a minute, for a quick look)
#
# The fake (tests/fake/vj-fake) admits 300 requests in any 60 s (a sliding
# window; a refused request is not counted) and answers after an
# exponential latency of mean 1 s.  Its 429s name the delay until a slot
# frees (Retry-After / retry-after-ms, Gemini's RetryInfo) or, with
# --no-retry-after, nothing; with --ratelimit-headers it sends OpenAI's
# x-ratelimit-*-requests on every answer.  Each case runs 900 jobs with
# `vj-generate -j 64 --rpm R --pending` on a copy of one analysed run, or
# with scripts/bench/cookbook_client.py (the cookbook's pattern: capacity
# refilled at R a minute, no cap in flight, a 15 s pause after a 429, 5
# tries) at the same R.  vj and the cookbook client run side by side, each
# with its own fake, so both see the same machine load.  The fake's
# /_stats is sampled every 0.5 s (its counts are taken when a request
# arrives): accepted requests per 60 s window from the client's start.
# Writes "## Rate limiter: a sliding window" in docs/benchmarks.md.
set -eu
. "$(dirname "$0")/engine-lib.sh"

N=${N:-900}
J=${J:-64}
SLOTS=${SLOTS:-2}
FULL=${FULL:-0}
LIMIT=${LIMIT:-300}
LAT=1000
ONLY=${ONLY:-}
BEFORE=${BEFORE:-}
W=$TOP/scripts/bench/out/limiter
build
build_before "$BEFORE"
rm -rf "$W" && mkdir -p "$W"
prep_analyzed "$N" "$W"
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# case NAME CLIENT FORMAT RPM RA HDR: CLIENT vj|cookbook, FORMAT
# openai|gemini, RA 1 (429s name a delay) or 0, HDR 1 (x-ratelimit-*) or 0.
run_case() {
	name=$1 client=$2 fmt=$3 rpm=$4 ra=$5 hdr=$6
	args="--rpm $LIMIT --rpm-window 60 --latency-ms $LAT --latency-dist exp --seed 7"
	[ "$ra" = 1 ] || args="$args --no-retry-after"
	[ "$hdr" = 1 ] && args="$args --ratelimit-headers"
	fn=$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '_')
	# shellcheck disable=SC2086
	start_fake "$fn" $args
	eval "url=\$URL_$fn"
	sampler "$url" "$W/samples-$name"
	echo "limiter: $name: $client $fmt --rpm $rpm, Retry-After $ra, headers $hdr ..." >&2
	t0=$(now)
	rc=0
	if [ "$client" = vj ] || [ "$client" = vj-before ]; then
		cp -a "$W/prep" "$W/run-$name"
		prov=openai
		[ "$fmt" = gemini ] && prov=gemini
		gen=bin/vj-generate
		[ "$client" = vj-before ] && gen=$B/bin/vj-generate
		timeout -s INT -k 10 1500 /usr/bin/time -f '%e %U %S %M' -o "$W/time-$name" \
		    "$gen" -q -r "$W/run-$name" --pending --provider $prov \
		    --base-url "$url" -j "$J" --rpm "$rpm" >/dev/null 2>"$W/err-$name" || rc=$?
	else
		timeout -s INT -k 10 1500 /usr/bin/time -f '%e %U %S %M' -o "$W/time-$name" \
		    python3 scripts/bench/cookbook_client.py --url "$url" --format "$fmt" \
		    --rpm "$rpm" -n "$N" >"$W/out-$name" 2>"$W/err-$name" || rc=$?
	fi
	t1=$(now)
	sleep 0.6
	stop_sampler
	curl -s "$url/_stats" >"$W/stats-$name.json"
	stop_all
	echo "$name $client $fmt $rpm $ra $hdr $t0 $t1 $rc" >"$W/case-$name"
	rm -rf "$W/run-$name"
}

# the cases, one a line: NAME CLIENT FORMAT RPM RA HDR
{
	for rpm in 300 600 1200; do
		echo "oa-$rpm vj openai $rpm 0 0"
		echo "oa-$rpm-cb cookbook openai $rpm 0 0"
	done
	echo "oa-600-ra vj openai 600 1 0"
	echo "oa-1200-ra vj openai 1200 1 0"
	echo "gm-300-ra vj gemini 300 1 0"
	echo "gm-1200-ra vj gemini 1200 1 0"
	echo "gm-600 vj gemini 600 0 0"
	echo "oa-h-0 vj openai 0 0 1"
	echo "oa-h-600 vj openai 600 0 1"
	[ -n "$BEFORE" ] && echo "oa-600-before vj-before openai 600 0 0"
	if [ "$FULL" = 1 ]; then
		echo "oa-300-ra vj openai 300 1 0"
		echo "gm-600-ra vj gemini 600 1 0"
		echo "gm-300 vj gemini 300 0 0"
		echo "gm-1200 vj gemini 1200 0 0"
		for rpm in 300 600 1200; do echo "gm-$rpm-cb cookbook gemini $rpm 0 0"; done
	fi
} >"$W/cases"

# SLOTS cases at once, each in its own shell with its own fake
pids=
n=0
while read -r c; do
	if [ -n "$ONLY" ]; then
		case " $ONLY " in *" ${c%% *} "*) ;; *) continue ;; esac
	fi
	# shellcheck disable=SC2086
	( BENCH_PIDS=; run_case $c ) &
	pids="$pids $!"
	n=$((n + 1))
	if [ $n -ge "$SLOTS" ]; then
		for p in $pids; do wait "$p" || :; done
		pids= n=0
	fi
done <"$W/cases"
for p in $pids; do wait "$p" || :; done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

MACHINE=$(machine)
python3 - "$W" "$N" "$J" "$LIMIT" "$MACHINE" "$load0" "$load1" "$SLOTS" >"$W/section.md" <<'PY'
import json, sys, glob, os
W, N, J, LIM, MACHINE, L0, L1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
SLOTS = sys.argv[8]

def samples(name):
    out = []
    for line in open(f"{W}/samples-{name}"):
        t, j = line.split(" ", 1)
        try:
            d = json.loads(j)
        except ValueError:
            continue
        out.append((float(t), int(d.get("200", 0)), int(d.get("429", 0))))
    return out

def at(s, t, k):
    # the count k (1: 200s) at time t, from the last sample at or before t
    v = 0
    for x in s:
        if x[0] > t:
            break
        v = x[k]
    return v

rows = []
for f in sorted(glob.glob(f"{W}/case-*")):
    name, client, fmt, rpm, ra, hdr, t0, t1, rc = open(f).read().split()
    t0, t1 = float(t0), float(t1)
    st = json.load(open(f"{W}/stats-{name}.json"))
    bs = st.get("by_status", {})
    ok, r429 = int(bs.get("200", 0)), int(bs.get("429", 0))
    e, u, sy, rss = open(f"{W}/time-{name}").read().split()[-4:]
    wall = t1 - t0
    s = samples(name)
    wins = []
    k = 0
    while t0 + 60 * k < t1 and k < 30:
        a, b = at(s, t0 + 60 * k, 1), at(s, min(t0 + 60 * (k + 1), t1 + 1), 1)
        wins.append(b - a)
        k += 1
    gave = ""
    if client == "cookbook":
        try:
            o = json.loads(open(f"{W}/out-{name}").read())
            gave = str(o.get("gave_up", ""))
        except (ValueError, OSError):
            gave = "?"
    else:
        gave = str(max(0, N - ok)) if rc == "0" else f"? (exit {rc})"
    if client == "vj-before":
        client = f"vj at {os.environ.get('BEFORE', 'before')}"
    cpu = (float(u) + float(sy)) * 1000 / max(1, ok + r429)
    rate = ok / (wall / 60) / LIM
    rows.append((fmt, int(rpm), client, ra, hdr, name, wall, ok, r429, rate, wins, cpu, gave))

order = {"openai": 0, "gemini": 1}
rows.sort(key=lambda r: (r[4], order[r[0]], r[1], r[3], r[2] != "vj"))
o = []
o.append(f"{MACHINE}; load average {L0} before, {L1} after (the machine is shared).  "
         f"`scripts/bench/limiter.sh`: {N} jobs against vj-fake admitting {LIM} requests in any 60 s "
         f"(a sliding window), exponential answer times of mean 1 s; `vj-generate -j {J} --rpm R` "
         f"and the cookbook-style client (`scripts/bench/cookbook_client.py`) at the same R, "
         f"{SLOTS} cases at a time, each with its own fake.")
o.append("")
o.append("| wire format, 429s, headers | --rpm | client | wall s | accepted | 429s (share) | "
         "of the limit over the run | accepted per 60 s window | CPU ms/request | given up |")
o.append("|---|---:|---|---:|---:|---:|---:|---|---:|---:|")
for fmt, rpm, client, ra, hdr, name, wall, ok, r429, rate, wins, cpu, gave in rows:
    kind = f"{fmt}, {'Retry-After' if ra == '1' else 'no delay'}{', x-ratelimit' if hdr == '1' else ''}"
    share = 100.0 * r429 / max(1, ok + r429)
    o.append(f"| {kind} | {rpm} | {client} | {wall:.1f} | {ok} | {r429} ({share:.1f}%) | "
             f"{rate:.2f} | {' '.join(str(w) for w in wins)} | {cpu:.1f} | {gave} |")
o.append("")
o.append(f"\"Of the limit over the run\": accepted requests a minute over the whole run, over {LIM}.  "
         "CPU per request: the client's user+sys time over the requests it sent (429s included).")
print("\n".join(o))
PY
cat "$W/section.md"
put_section "Rate limiter: a sliding window" "Measured" "$W/section.md"
