#!/bin/sh
# scripts/bench/fetch.sh: fetching images over HTTP at line rate.  nginx on
# 127.0.0.1 (an unprivileged port, its own config in a temporary directory)
# serves N distinct 100-300 KB JPEGs; in one run, interleaved, each tool
# fetches all of them into a fresh directory:
#   vj-ingest -j 16, 64, 256 (objects durable, journaled, checked as images),
#     and -j 64 --fsync never (what durability costs)
#   aria2c -j 64
#   xargs -P 64 curl (16 URLs per curl) and then sha256sum over the files
#     (neither fsyncs anything)
# and prints images/s, MB/s and client CPU ms per image (user + sys, GNU
# time), medians over ROUNDS.
#   scripts/bench/fetch.sh [N [ROUNDS]]         (defaults 3000 and 3)
#   OLD=path/to/vj-ingest scripts/bench/fetch.sh   adds an older build at -j 64
#   SERVE=1 scripts/bench/fetch.sh [N]   only serve (for perf), until killed
# Needs `make bin/vj-ingest scripts/vj-mkimages`, nginx, aria2c, curl and
# GNU time.  nginx and aria2 are for this benchmark only (no test needs
# them); on Debian: apt-get install nginx-light aria2 (or nginx).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-3000}
ROUNDS=${2:-3}
OUT="$TOP/scripts/bench/out/fetch"
VJ="$TOP/bin/vj-ingest"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

need() { command -v "$1" >/dev/null 2>&1 || { echo "fetch.sh: needs $1 ($2)" >&2; exit 2; }; }
[ -x "$NGINX" ] || { echo "fetch.sh: needs nginx (apt-get install nginx-light, or nginx)" >&2; exit 2; }
need aria2c "apt-get install aria2"
need curl "apt-get install curl"
need sha256sum coreutils
[ -x /usr/bin/time ] || { echo "fetch.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
[ -x "$VJ" ] && [ -x "$TOP/scripts/vj-mkimages" ] ||
	{ echo "fetch.sh: run make bin/vj-ingest scripts/vj-mkimages first" >&2; exit 2; }

mkdir -p "$OUT"
cd "$OUT"

# N distinct JPEGs: noise drawn at 40 sizes (about 100-300 KB), each copy
# made distinct by a comment segment after SOI naming its number
if [ ! -s "img.$N.done" ]; then
	rm -rf img base && mkdir img base
	k=0
	while [ $k -lt 40 ]; do
		w=$((400 + (k % 8) * 30)) h=$((300 + (k / 8) * 40))
		"$TOP/scripts/vj-mkimages" --one "${w}x$h" noise jpg "base/$k.jpg"
		k=$((k + 1))
	done
	i=0
	while [ $i -lt "$N" ]; do
		# FF D8, then FF FE and a length of 17: 2 + "vj-bench-NNNNNN"
		{ printf '\377\330\377\376\000\021vj-bench-%06d' $i; tail -c +3 "base/$((i % 40)).jpg"; } \
		    >"img/$i.jpg"
		i=$((i + 1))
	done
	echo ok >"img.$N.done"
fi
BYTES=$(cat img/*.jpg | wc -c)

# nginx: one worker (the client gets the other core), no access log
T=$(mktemp -d /tmp/vj-fetch-bench.XXXXXX)
PORT=$((20000 + $$ % 20000))
mkdir "$T/tmp"
{
	[ "$(id -u)" = 0 ] && echo "user root;"
	cat <<EOF
worker_processes 1;
pid $T/nginx.pid;
error_log $T/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	client_body_temp_path $T/tmp;
	proxy_temp_path $T/tmp;
	fastcgi_temp_path $T/tmp;
	uwsgi_temp_path $T/tmp;
	scgi_temp_path $T/tmp;
	types { image/jpeg jpg; }
	server {
		listen 127.0.0.1:$PORT;
		root $OUT/img;
	}
}
EOF
} >"$T/nginx.conf"
"$NGINX" -p "$T" -e "$T/error.log" -c "$T/nginx.conf"
trap 'kill $(cat "$T/nginx.pid" 2>/dev/null) 2>/dev/null; rm -rf "$T" "$OUT/dst" "$OUT/trash"' EXIT INT TERM
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/0.jpg"; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "fetch.sh: nginx did not start" >&2; cat "$T/error.log" >&2; exit 1; }
	sleep 0.1
done
URL="http://127.0.0.1:$PORT"
i=0
while [ $i -lt "$N" ]; do echo "$URL/$i.jpg"; i=$((i + 1)); done >urls.txt
awk '{ printf "{\"imageUrl\": \"%s\", \"id\": \"b%06d\"}\n", $0, NR }' urls.txt >manifest.jsonl
cat img/*.jpg >/dev/null   # the served files in the page cache
if [ -n "${SERVE:-}" ]; then
	echo "serving $URL/0.jpg .. $URL/$((N - 1)).jpg; $OUT/manifest.jsonl; ^C ends"
	while :; do sleep 3600 & wait $!; done
fi

# one measurement: NAME, then the command (run in dst/); appends
# "NAME wall user sys" to results.  What the last tool wrote is moved
# aside, not deleted: on ext4 without a journal (this machine's), creating
# a file scans past every inode freed in the last 5-10 s, and 3,000 just
# deleted make each create of the next tool slow.  The trash is deleted
# once a round, and the next round waits that out.
measure() {
	name=$1; shift
	[ -d dst ] && mv dst "trash/$name.$r"
	mkdir dst
	sync    # the last tool's writeback is not this one's time
	t0=$(date +%s%N)
	( cd dst && /usr/bin/time -f "%U %S" -o ../time.out "$@" ) >/dev/null 2>err.out ||
		{ echo "fetch.sh: $name failed:" >&2; cat err.out >&2; exit 1; }
	t1=$(date +%s%N)
	echo "$name $(( (t1 - t0) / 1000000 )) $(tail -n 1 time.out)" >>results
}

: >results
echo "fetch.sh: $N images, $((BYTES / 1000000)) MB, $ROUNDS rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
r=0
rm -rf trash dst && mkdir trash
while [ $r -lt "$ROUNDS" ]; do
	rm -rf trash dst && mkdir trash && sync && sleep 12
	for j in 16 64 256; do
		measure "vj-ingest-j$j" "$VJ" -r run -q -j $j --per-host $j ../manifest.jsonl
	done
	# what durability costs: the same with nothing fsynced
	measure "vj-j64-fsync-never" "$VJ" -r run -q -j 64 --per-host 64 --fsync never ../manifest.jsonl
	if [ -n "${OLD:-}" ]; then
		measure "old-vj-ingest-j64" "$OLD" -r run -q -j 64 ../manifest.jsonl
	fi
	measure "aria2c-j64" aria2c -q -j 64 --file-allocation=none --auto-file-renaming=false \
	    --allow-overwrite=true -i ../urls.txt
	measure "curl-P64" sh -c 'xargs -P 64 -n 16 curl -s --remote-name-all <../urls.txt'
	measure "sha256sum" sh -c "sha256sum $OUT/img/*.jpg"
	measure "curl+sha256sum" sh -c 'xargs -P 64 -n 16 curl -s --remote-name-all <../urls.txt && sha256sum *.jpg'
	r=$((r + 1))
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# medians per tool, of wall time and of CPU each on its own
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-20s %9s %9s %8s %13s\n' tool wall_s images/s MB/s cpu_ms/image
for name in $(awk '!seen[$1]++ { print $1 }' results); do
	wall=$(awk -v n="$name" '$1 == n { print $2 }' results | med)
	cpu=$(awk -v n="$name" '$1 == n { print ($3 + $4) * 1000 }' results | med)
	awk -v n="$name" -v w="$wall" -v c="$cpu" -v N="$N" -v B="$BYTES" 'BEGIN {
		printf "%-20s %9.2f %9.0f %8.0f %13.2f\n", n, w / 1000, N / (w / 1000), B / 1e6 / (w / 1000), c / N }'
done
