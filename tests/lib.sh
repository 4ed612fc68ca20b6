# tests/lib.sh: a small TAP library for the command tests (POSIX sh).
# Each tNNNN-*.t sources it, then calls test_expect_success 'what' 'commands'
# and test_done.  Every test file runs in its own scratch directory.

TOP=$(cd "$(dirname "$0")/.." && pwd)
PATH="$TOP/bin:$TOP/tests/fake:$TOP/scripts:$PATH"
export PATH TOP
unset VJ_RUN GEMINI_API_KEY DEEPSEEK_API_KEY OPENAI_API_KEY VJ_PRICES VJ_MODELS VJ_NOW_MS
export SOURCE_DATE_EPOCH=0 LC_ALL=C TZ=UTC

t_name=$(basename "$0" .t)
TRASH="$TOP/tests/trash.$t_name"
rm -rf "$TRASH" && mkdir -p "$TRASH" && cd "$TRASH" || exit 1

t_n=0
t_fail=0
t_bg=

say() { printf '# %s\n' "$*"; }

test_expect_success() {
	t_n=$((t_n + 1))
	if ( set -e; eval "$2" ) >"$TRASH/.out" 2>&1; then
		printf 'ok %d - %s\n' "$t_n" "$1"
		[ -n "$VERBOSE" ] && sed 's/^/# /' "$TRASH/.out"
	else
		printf 'not ok %d - %s\n' "$t_n" "$1"
		sed 's/^/#   /' "$TRASH/.out" | tail -n 40
		t_fail=$((t_fail + 1))
	fi
	return 0
}

test_skip() {
	t_n=$((t_n + 1))
	printf 'ok %d # skip %s\n' "$t_n" "$1"
}

# test_must_fail [status] cmd...: the command fails, and not by a signal (a crash is no pass).
test_must_fail() {
	want=
	case "$1" in [0-9]*) want=$1; shift ;; esac
	"$@"
	st=$?
	if [ $st -eq 0 ]; then echo "test_must_fail: '$*' succeeded" >&2; return 1; fi
	if [ $st -gt 128 ] && [ $st -ne 75 ]; then echo "test_must_fail: '$*' died by signal ($st)" >&2; return 1; fi
	if [ -n "$want" ] && [ $st -ne "$want" ]; then echo "test_must_fail: '$*' exited $st, want $want" >&2; return 1; fi
	return 0
}

# test_status N cmd...: the command exits with status N.
test_status() {
	want=$1; shift
	"$@"
	st=$?
	[ $st -eq "$want" ] && return 0
	echo "test_status: '$*' exited $st, want $want" >&2
	return 1
}

test_cmp() { diff -u "$1" "$2"; }

# grep that shows what it searched when it fails
test_grep() {
	if grep "$@"; then return 0; fi
	eval "f=\${$#}"
	echo "test_grep: no match for '$*'; the file says:" >&2
	head -n 20 "$f" >&2
	return 1
}

# Start the fake provider server in the background; sets FAKE_PORT and FAKE_URL.
# Extra arguments go to vj-fake.  Stopped by test_done.
start_fake() {
	rm -f "$TRASH/.fake.port"
	vj-fake --port 0 --port-file "$TRASH/.fake.port" "$@" >"$TRASH/.fake.log" 2>&1 &
	t_bg="$t_bg $!"
	i=0
	while [ ! -s "$TRASH/.fake.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	FAKE_PORT=$(cat "$TRASH/.fake.port")
	FAKE_URL="http://127.0.0.1:$FAKE_PORT"
	export FAKE_PORT FAKE_URL
}

# What the fake has seen and what it is to do, through its control endpoints.
# fake_count ID: requests for job ID (or for a path, for static files)
fake_count() { curl -s "$FAKE_URL/_stats" | jq ".by_job[\"$1\"] // 0"; }
# fake_total: all requests
fake_total() { curl -s "$FAKE_URL/_stats" | jq ".requests"; }
# fake_script 'ID ANSWER,...\n...': more script lines (printf escapes work)
fake_script() { printf "$1" | curl -s -X POST --data-binary @- "$FAKE_URL/_script" >/dev/null; }
# fake_reset: zero the counters
fake_reset() { curl -s -X POST "$FAKE_URL/_reset" >/dev/null; }

# fake_job PATH ID: an input line for the image at PATH on the fake
fake_job() { job_lines "$FAKE_URL$1" "$2"; }
# job_lines IMAGE ID...: an input line of IMAGE for each id
job_lines() {
	img=$1; shift
	for id in "$@"; do printf '{"imageUrl": "%s", "id": "%s"}\n' "$img" "$id"; done
}
# mk_ingested IMAGE FILE ID...: ingested records of IMAGE for these ids, in FILE
mk_ingested() { img=$1 f=$2; shift 2; job_lines "$img" "$@" | vj-ingest -q >"$f"; }
# mk_analysed IMAGE FILE ID...: the same, analysed offline
mk_analysed() { img=$1 f=$2; shift 2; job_lines "$img" "$@" | vj-ingest -q | vj-analyze -q --provider offline >"$f"; }

# now_ms: the wall clock in milliseconds
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# shard_sums OUT: the checksums of OUT's shards
shard_sums() { (cd "$1" && sha256sum shard-*); }

# check_shards OUT N: N records in OUT, each in exactly one shard, the index
# matching the files, and vj-pack --verify agrees.  Leaves names.idx,
# names.ls, members and ids in the working directory.
check_shards() {
	out=$1 want=$2
	test "$(jq "[.shards[].records] | add" $out/index.json)" = "$want" || return 1
	jq -r ".shards[].name" $out/index.json >names.idx
	(cd $out && ls shard-*) >names.ls
	test_cmp names.idx names.ls || return 1
	for f in $(cat names.idx); do bsdtar -tf $out/$f || return 1; done >members
	grep "\.json$" members | sort >ids
	test $(wc -l <ids) -eq "$want" || { echo "$(wc -l <ids) samples" >&2; return 1; }
	test -z "$(uniq -d ids)" || { echo "duplicates: $(uniq -d ids | head)" >&2; return 1; }
	vj-pack --verify $out
}

stop_bg() {
	for p in $t_bg; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	t_bg=
}

test_done() {
	stop_bg
	printf '1..%d\n' "$t_n"
	if [ $t_fail -eq 0 ] && [ -z "$KEEP_TRASH" ]; then
		cd "$TOP" && rm -rf "$TRASH"
	fi
	[ $t_fail -eq 0 ]
}
