#!/bin/sh
# Request engine saturation: can vj-analyze keep a provider at its rate
# limit without drawing 429s, and what does that buy over the original
# one-job-at-a-time design?
#
#   scripts/bench/saturation.sh            3,000 jobs per case (~13 min)
#   QUICK=1 scripts/bench/saturation.sh    600 jobs at --rpm 600, 1,500 at
#                                          --rpm 1200 (~6 min; 600 jobs at
#                                          1200/min would all fit in the
#                                          fake's first 60 s window)
#   (N, N2=jobs per case, J=concurrency, BASE_N=baseline sample size)
#
# The fake (tests/fake/vj-fake) enforces --rpm 600 (60 s sliding window,
# 429 with a Gemini RetryInfo delay) and answers after an exponential
# latency of mean 4 s.  vj-analyze --pending runs the jobs (Gemini wire
# format, --base-url the fake, -j 100) twice: --rpm 600 (the limit) and
# --rpm 1200 (twice the limit: the adaptive limiter must converge).  The
# fake's /_stats is sampled every 0.5 s; its by_status counts are taken
# when a request arrives, so the "200" count is the accepted request rate
# seen by the provider.  Writes the "Saturation" and "Baseline" parts of
# "## Request engine: saturation and overhead" in docs/benchmarks.md.
set -eu
. "$(dirname "$0")/engine-lib.sh"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then N=${N:-600}; N2=${N2:-1500}; else N=${N:-3000}; N2=${N2:-$N}; fi
J=${J:-100}
LIMIT=600
LAT=4000
BASE_N=${BASE_N:-20}
W=$TOP/scripts/bench/out/saturation
build
rm -rf "$W" && mkdir -p "$W"
scripts/vj-mkimages --one 640x480 shapes jpg "$W/img.jpg" >/dev/null

# case RPM JOBS: one run of JOBS jobs with vj-analyze --rpm RPM
run_case() {
	rpm=$1 n=$2
	run=$W/run-$rpm
	TMAX=$((n * 60 / LIMIT * 2 + 180))      # hard bound per case
	manifest "$n" "$W/img.jpg" "s$rpm-" >"$W/manifest-$rpm.jsonl"
	bin/vj-ingest -q -r "$run" "$W/manifest-$rpm.jsonl" >/dev/null
	start_fake A --rpm $LIMIT --latency-ms $LAT --latency-dist exp --seed 7
	sampler "$URL_A" "$W/samples-$rpm"
	echo "saturation: $n jobs, vj-analyze -j $J --rpm $rpm against a $LIMIT/min limit ..." >&2
	t0=$(now)
	rc=0
	timeout -s INT -k 10 $TMAX /usr/bin/time -f '%e %U %S %M' -o "$W/time-$rpm" \
	    bin/vj-analyze -q -r "$run" --pending --base-url "$URL_A" -j "$J" --rpm "$rpm" \
	    >/dev/null 2>"$W/err-$rpm" || rc=$?
	t1=$(now)
	sleep 0.6
	stop_sampler
	curl -s "$URL_A/_stats" >"$W/stats-$rpm.json"
	stop_all
	echo "$t0 $t1 $rc" >"$W/wall-$rpm"
	grep '"ev":"done"' "$run/journal/analyze.log" | cut -d" " -f2- | jq -r .ms >"$W/ms-$rpm" || :
}

run_case 600 "$N"
run_case 1200 "$N2"

# The original design: one job at a time, the queue polled every 2 s
# between jobs.  Measured on a sample: a new vj-analyze -j 1 per record,
# then sleep 2.
echo "baseline: $BASE_N jobs one at a time with a 2 s poll ..." >&2
manifest "$BASE_N" "$W/img.jpg" b >"$W/base-manifest.jsonl"
bin/vj-ingest -q -r "$W/run-base" "$W/base-manifest.jsonl" >"$W/base-records.jsonl"
start_fake A --rpm $LIMIT --latency-ms $LAT --latency-dist exp --seed 11
b0=$(now)
i=1
while [ $i -le "$BASE_N" ]; do
	sed -n "${i}p" "$W/base-records.jsonl" |
	    timeout -s INT 120 bin/vj-analyze -q -r "$W/run-base" -j 1 --base-url "$URL_A" >/dev/null
	sleep 2
	i=$((i + 1))
done
b1=$(now)
stop_all
grep '"ev":"done"' "$W/run-base/journal/analyze.log" | cut -d" " -f2- | jq -r .ms >"$W/ms-base"
echo "$b0 $b1" >"$W/wall-base"

python3 - "$W" "$N" "$J" "$LIMIT" "$LAT" "$BASE_N" "$N2" "$QUICK" "$(machine)" <<'PY'
import json, statistics as st, sys, os, datetime
W, N, J, LIMIT, LAT, BASE_N, N2, QUICK, MACHINE = sys.argv[1:10]
N, J, LIMIT, BASE_N, N2 = int(N), int(J), int(LIMIT), int(BASE_N), int(N2)
NJ = {600: N, 1200: N2}

def samples(rpm):
    out = []
    for line in open(f"{W}/samples-{rpm}"):
        t, js = line.split(" ", 1)
        d = json.loads(js)
        out.append((float(t), d.get("200", 0), d.get("429", 0), sum(d.values())))
    return out

def at(ss, t):
    """200 count at time t, linear between samples"""
    prev = ss[0]
    for s in ss:
        if s[0] >= t:
            if s[0] == prev[0]:
                return s[1]
            return prev[1] + (s[1] - prev[1]) * (t - prev[0]) / (s[0] - prev[0])
        prev = s
    return ss[-1][1]

rows = {}
for rpm in (600, 1200):
    n = NJ[rpm]
    t0, t1, rc = open(f"{W}/wall-{rpm}").read().split()
    t0, t1, rc = float(t0), float(t1), int(rc)
    ss = samples(rpm)
    stats = json.load(open(f"{W}/stats-{rpm}.json"))
    bs = stats["by_status"]
    total = sum(bs.values())
    n429 = bs.get("429", 0)
    ok = bs.get("200", 0)
    # the send phase: from the first request to the moment the n-th was accepted
    first = next((s[0] for s in ss if s[3] > 0), t0)
    tsend = next((s[0] for s in ss if s[1] >= n), t1)
    # steady: whole 60 s windows of the fake's sliding window from the
    # first request; the last, partial window (the tail) is left out.  No
    # 60 s window can hold more than the limit, so 1.00 is the best.
    k = max(1, round((tsend - first) / 60))
    steady = at(ss, first + 60 * k) / k
    # and a rate with no start-up: from 10 s in to 10 s before the end
    a, b = first + 10, tsend - 10
    mid = (at(ss, b) - at(ss, a)) / (b - a) * 60 if b - a > 20 else float("nan")
    wall = t1 - t0
    tm = open(f"{W}/time-{rpm}").read().split()
    ms = [int(x) for x in open(f"{W}/ms-{rpm}").read().split()]
    rows[rpm] = dict(n=n, rc=rc, wall=wall, send=tsend - first, k=k, steady=steady, mid=mid, total=total,
                     n429=n429, ok=ok, done=len(ms), e2e=n / wall * 60,
                     lat_med=st.median(ms) / 1000 if ms else 0, lat_mean=st.mean(ms) / 1000 if ms else 0,
                     cpu=float(tm[1]) + float(tm[2]), rss=int(tm[3]) / 1024)

b0, b1 = map(float, open(f"{W}/wall-base").read().split())
bms = [int(x) for x in open(f"{W}/ms-base").read().split()]
base_per_job = (b1 - b0) / BASE_N
base_lat = st.mean(bms) / 1000
lat = int(LAT) / 1000                            # the fake's mean latency
model_per_job = lat + 2.0
model_total = N * model_per_job
meas_total = N * base_per_job
r6 = rows[600]

def f(x, d=2):
    return f"{x:,.{d}f}"

out = []
out.append(f"`{'QUICK=1 ' if QUICK == '1' else ''}scripts/bench/saturation.sh` on "
           f"{datetime.date.today().isoformat()}, {MACHINE}.  The fake enforces "
           f"{LIMIT} requests/min (60 s sliding window, 429 with a RetryInfo delay) and answers "
           f"every request, 429s included, after an exponential latency of mean "
           f"{int(LAT)/1000:g} s; the jobs go through `vj-analyze --pending -j {J}` (Gemini wire "
           f"format, small JPEG).  Counts are from the fake's `/_stats`, sampled every 0.5 s; its "
           f"`by_status` counts a request when it arrives.  *Steady* is the accepted (200) rate "
           f"over whole 60 s windows from the first request, as many as the send phase rounded to "
           f"the minute (the tail after the last request was accepted left out) "
           f"(no 60 s window of the fake can accept more than {LIMIT}, so 1.00 is the best); "
           f"*10 s in/out* is the accepted rate from 10 s after the first request to 10 s before "
           f"the last was accepted (– when that is under 20 s: the limiter sends a fresh window's "
           f"allowance at once, so a short case is all start); *whole run* is jobs over vj-analyze's wall time, start to "
           f"exit, so it includes the tail of the last answers (the slowest of the last ~40 in "
           f"flight, 15-30 s with this latency).")
out.append("")
out.append("| `--rpm` | jobs | steady req/min | steady / limit | 10 s in/out req/min | whole-run jobs/min | "
           "whole / limit | requests | 429s | 429 share | send phase s | wall s | vj CPU s | max RSS MB |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for rpm in (600, 1200):
    r = rows[rpm]
    out.append(f"| {rpm} ({rpm // LIMIT}x the limit) | {r['n']:,}{'' if r['rc'] == 0 else ' (exit ' + str(r['rc']) + ')'} | "
               f"{f(r['steady'], 0)} ({r['k']} x 60 s) | **{f(r['steady'] / LIMIT)}** | {f(r['mid'], 0) if r['mid'] == r['mid'] else '–'} | "
               f"{f(r['e2e'], 0)} | {f(r['e2e'] / LIMIT)} | {r['total']:,} | {r['n429']:,} | "
               f"**{f(100 * r['n429'] / max(1, r['total']), 2)}%** | {f(r['send'], 1)} | {f(r['wall'], 1)} | "
               f"{f(r['cpu'], 2)} | {f(r['rss'], 1)} |")
out.append("")
out.append(f"Targets: steady / limit >= 0.95 and 429 share < 1% (for a limit set 2x or 4x too "
           f"high, issue 15 asks under 2%: after a wall the limiter grows back by a quarter a window, "
           f"in case the provider raised its limit, and each such probe draws a few 429s).  The send "
           f"phase is from the first request to the moment the last job's request was accepted.")
open(f"{W}/saturation.md", "w").write("\n".join(out) + "\n")

b = []
b.append(f"The original design ran one job at a time and polled the queue every 2 s between "
         f"jobs.  Model: {N:,} x (mean request time {f(lat)} s, the fake's mean latency, + 2 s poll) = "
         f"{f(model_total / 60, 1)} min.  Measured on a sample of {BASE_N} jobs (a fresh "
         f"`vj-analyze -j 1` per record, then `sleep 2`; same fake): {f(base_per_job)} s per job "
         f"(their own mean request time {f(base_lat)} s; exponential latency makes a "
         f"{BASE_N}-job mean uncertain by about +-{f(4 / BASE_N ** 0.5, 1)} s), "
         f"i.e. {f(meas_total / 60, 1)} min for {N:,} jobs.")
b.append("")
b.append("| design | time for %s jobs | jobs/min | vj speed-up |" % f"{N:,}")
b.append("|---|---|---|---|")
b.append(f"| one at a time + 2 s poll, model | {f(model_total / 60, 1)} min | {f(N / model_total * 60, 1)} | "
         f"**{f(model_total / r6['wall'], 1)}x** |")
b.append(f"| one at a time + 2 s poll, sample x {N:,} | {f(meas_total / 60, 1)} min | "
         f"{f(N / meas_total * 60, 1)} | {f(meas_total / r6['wall'], 1)}x |")
b.append(f"| vj-analyze -j {J} --rpm 600 | {f(r6['wall'] / 60, 1)} min | {f(r6['e2e'], 0)} | 1x |")
b.append("")
b.append(f"The speed-up is capped by the provider's limit: at {LIMIT}/min the best possible is "
         f"{f(N / LIMIT, 1)} min, so about {f(model_total / (N / LIMIT * 60), 0)}x over the old design "
         f"whatever the engine does.")
open(f"{W}/baseline.md", "w").write("\n".join(b) + "\n")
print("\n".join(out + [""] + b))
PY
put_section "Request engine: saturation and overhead" "Saturation at the provider's rate limit" "$W/saturation.md"
put_section "Request engine: saturation and overhead" "Against the original one-at-a-time design" "$W/baseline.md"
echo "wrote docs/benchmarks.md" >&2
