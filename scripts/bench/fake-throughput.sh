#!/bin/sh
# fake-throughput.sh: how many requests/s the fake provider server answers
# with no latency set, over keep-alive connections from 127.0.0.1.
#
#   scripts/bench/fake-throughput.sh [SECONDS]     (default 5 per run)
#
# Builds tests/fake/vj-fake if needed and the load client scripts/bench/fake-load.c
# into a temporary directory, then runs Gemini and OpenAI requests at 1, 64
# and 1000 concurrent connections.  The server is single-threaded; on a
# 2-core machine the client gets the other core.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-5}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vj-fake-bench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

make -s -C "$TOP" tests/fake/vj-fake
${CC:-cc} -O2 -Wall -Wextra -o "$TMP/fake-load" "$TOP/scripts/bench/fake-load.c"

"$TOP/tests/fake/vj-fake" --port 0 --port-file "$TMP/port" &
pid=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$TMP/port")

echo "# vj-fake throughput, $(nproc) cores, ${SECS}s per run, no latency"
for kind in gemini openai; do
	for conns in 1 64 1000; do
		printf '%-7s %5s connections: ' "$kind" "$conns"
		"$TMP/fake-load" "$port" "$conns" "$SECS" "$kind" |
			awk '/^requests\/s/ { r = $2 } /^latency/ { l = $0 }
			     END { printf "%s req/s  (%s)\n", r, l }'
	done
done
