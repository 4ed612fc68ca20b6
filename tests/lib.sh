# tests/lib.sh: a small TAP library for the command tests (POSIX sh).
# Each tNNNN-*.t sources it, then calls test_expect_success 'what' 'commands'
# and test_done.  Every test file runs in its own scratch directory.

TOP=$(cd "$(dirname "$0")/.." && pwd)
PATH="$TOP/bin:$TOP/tests/fake:$TOP/scripts:$PATH"
export PATH TOP
unset VJ_RUN GEMINI_API_KEY DEEPSEEK_API_KEY OPENAI_API_KEY VJ_PRICES
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
