# Shared helpers for the request-engine benchmarks (saturation.sh,
# overhead.sh, pipe.sh).  Sourced, not run.  Loopback only: every request
# goes to tests/fake/vj-fake on 127.0.0.1.

TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
export GEMINI_API_KEY=bench DEEPSEEK_API_KEY=bench
unset VJ_RUN VJ_PRICES VJ_MODELS VJ_NOW_MS VJ_FAKE_KEY
BENCH_PIDS=

build() {
	make -s >/dev/null && make -s tests/fake/vj-fake scripts/vj-mkimages >/dev/null ||
		{ echo "bench: build failed" >&2; exit 2; }
}

# start_fake NAME ARGS...: start a fake, set URL_<NAME> (e.g. URL_A).
start_fake() {
	_n=$1; shift
	rm -f "$W/fake-$_n.port"
	tests/fake/vj-fake --port 0 --port-file "$W/fake-$_n.port" "$@" >"$W/fake-$_n.log" 2>&1 &
	BENCH_PIDS="$BENCH_PIDS $!"
	_i=0
	while [ ! -s "$W/fake-$_n.port" ] && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
	[ -s "$W/fake-$_n.port" ] || { echo "bench: vj-fake did not start" >&2; exit 2; }
	eval "URL_$_n=http://127.0.0.1:$(cat "$W/fake-$_n.port")"
}

# Stop what we started (fakes, samplers), by pid.
stop_all() {
	for _p in $BENCH_PIDS; do kill "$_p" 2>/dev/null || :; wait "$_p" 2>/dev/null || :; done
	BENCH_PIDS=
}
trap 'stop_all' EXIT
trap 'stop_all; exit 130' INT TERM

# sampler URL FILE: append "unix_seconds {by_status...}" every 0.5 s, in the background.
sampler() {
	(
		while :; do
			_s=$(curl -s --max-time 2 "$1/_stats" | jq -c '.by_status') || _s=
			[ -n "$_s" ] && printf '%s %s\n' "$(date +%s.%N)" "$_s"
			sleep 0.5
		done
	) >"$2" 2>/dev/null &
	BENCH_PIDS="$BENCH_PIDS $!"
	SAMPLER_PID=$!
}
stop_sampler() {
	kill "$SAMPLER_PID" 2>/dev/null || :
	wait "$SAMPLER_PID" 2>/dev/null || :
}

now() { date +%s.%N; }

# manifest N IMAGE ID_PREFIX: N jobs on one local image (the ids differ, so
# every job is analysed: the cache key includes the job id's record).
manifest() {
	awk -v n="$1" -v img="$2" -v p="$3" \
	    'BEGIN { for (i = 1; i <= n; i++) printf "{\"imageUrl\": \"%s\", \"id\": \"%s%d\"}\n", img, p, i }'
}

# build_before REV: vj-generate of an older commit, in a worktree at
# $TOP/scripts/bench/out/before; sets B to it (B is empty when REV is).
build_before() {
	B=
	[ -n "$1" ] || return 0
	B=$TOP/scripts/bench/out/before
	git worktree remove --force "$B" 2>/dev/null || rm -rf "$B"
	git worktree add -q --detach "$B" "$1" &&
	    make -s -C "$B" bin/vj-generate >/dev/null 2>&1 ||
	    { echo "bench: could not build $1" >&2; exit 2; }
}

# prep_analyzed N DIR: a run DIR/prep of N jobs (one small JPEG) analyzed
# against the fake, for vj-generate cases to copy.
prep_analyzed() {
	scripts/vj-mkimages --one 320x240 shapes jpg "$2/img.jpg" >/dev/null
	manifest "$1" "$2/img.jpg" L >"$2/manifest.jsonl"
	bin/vj-ingest -q -r "$2/prep" "$2/manifest.jsonl" >/dev/null
	start_fake P
	bin/vj-analyze -q -r "$2/prep" --pending --base-url "$URL_P" -j 32 >/dev/null
	stop_all
}

machine() {
	printf '%s CPUs (%s), %s, Linux %s, %s' "$(nproc)" \
	    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | sed 's/ *$//')" \
	    "$(uname -m)" "$(uname -r | cut -d- -f1)" "$(curl --version | head -n 1 | cut -d' ' -f1-2 | sed 's/curl/libcurl/')"
}

# put_section H2 H3 FILE: replace (or add) the "### H3" part of the "## H2"
# section of docs/benchmarks.md with FILE's text; other sections untouched.
put_section() {
	python3 - "$TOP/docs/benchmarks.md" "$1" "$2" "$3" <<'PY'
import re, sys
doc, h2, h3, f = sys.argv[1:5]
try:
    s = open(doc).read()
except FileNotFoundError:
    s = "# vj benchmarks\n"
body = open(f).read().rstrip("\n") + "\n"
sub = "### " + h3 + "\n\n" + body
m = re.search(r"^## " + re.escape(h2) + r"\n.*?(?=^## |\Z)", s, re.S | re.M)
if not m:
    s = s.rstrip("\n") + "\n\n## " + h2 + "\n\n" + sub
else:
    sec = s[m.start():m.end()]
    k = re.search(r"^### " + re.escape(h3) + r"\n.*?(?=^### |\Z)", sec, re.S | re.M)
    if k:
        sec = sec[:k.start()] + sub + ("\n" if k.end() < len(sec) else "") + sec[k.end():]
    else:
        sec = sec.rstrip("\n") + "\n\n" + sub
    if m.end() < len(s) and not sec.endswith("\n\n"):
        sec = sec.rstrip("\n") + "\n\n"
    s = s[:m.start()] + sec + s[m.end():]
open(doc, "w").write(s)
PY
}
