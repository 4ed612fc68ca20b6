#!/bin/sh
# t0110-options: the command lines of the five commands (src/cmd/opts.c):
# -h/-V everywhere, --help lists every option with its default, an option of
# another command is named, and each man page's SYNOPSIS and OPTIONS hold
# the options --help lists.
. "$(dirname "$0")/lib.sh"

CMDS="vj-ingest vj-analyze vj-generate vj-pack vj-status vj-report"
MAN="$TOP/docs"

# opt_map CMD: "NAME CANONICAL ARG" for each name (-x, --long, --alias) in
# the option list of CMD --help; CANONICAL is the first long name, ARG the
# argument ("-" for a flag).
opt_map() {
	"$1" --help | awk '
		/^Options:$/ { on = 1; next }
		on && /^$/ { exit }
		on {
			n = split($0, w, /[ ,]+/); canon = ""; arg = "-"; k = 0
			for (i = 1; i <= n; i++) {
				if (w[i] == "") continue
				if (w[i] ~ /^--?[A-Za-z]/) { names[++k] = w[i]; if (canon == "" && w[i] ~ /^--/) canon = w[i]; continue }
				if (w[i] ~ /^[A-Z]|[|]/) arg = w[i]
				break
			}
			for (i = 1; i <= k; i++) print names[i], canon, arg
		}'
}

# tokens: option words of roff or plain text on stdin, one a line; a short
# cluster (-qv) becomes -q and -v.
tokens() {
	tr ' []|,' '\n\n\n\n\n' | grep -E '^--?[A-Za-z]' |
	    awk '/^--/ { print; next } { for (i = 2; i <= length($0); i++) print "-" substr($0, i, 1) }'
}

# canon MAP: each token on stdin as its canonical name; one not in MAP is
# printed as "unknown:TOKEN", so that a comparison shows it.
canon() {
	awk 'NR == FNR { c[$1] = $2; next } { print ($0 in c) ? c[$0] : "unknown:" $0 }' "$1" - | sort -u
}

# man_text: roff source to words: fonts, escapes and quotes gone, and an
# mdoc "Fl x" written -x.
man_text() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\ / /g' -e 's/"//g' | awk '
		/^\./ && (/ Fl / || /^\.Fl /) {
			out = ""; fl = 0
			for (i = 1; i <= NF; i++) {
				w = $i
				if (i == 1) sub(/^\./, "", w)
				if (w == "Fl") { fl = 1; continue }
				if (w ~ /^[A-Z][a-z][a-z]?$/) { fl = 0; continue }
				if (fl && w !~ /^[,|]$/) w = "-" w
				out = out " " w
			}
			print out; next
		}
		{ print }'
}

# man_synopsis PAGE, man_heads PAGE: the SYNOPSIS section; the heads of the
# OPTIONS section's items (the line after .TP, or .It).
man_synopsis() {
	awk '/^\.S[Hh] / { on = ($2 == "SYNOPSIS"); next } on' "$1"
}
man_heads() {
	awk '/^\.S[Hh] / { on = ($2 == "OPTIONS"); next } on && (prev == ".TP" || /^\.It /) { print } { prev = $0 }' "$1"
}

test_expect_success 'every command: -h is --help, -V is --version' '
	for c in $CMDS; do
		$c -h >h && $c --help >help && test_cmp help h &&
		head -n 1 h | test_grep "^usage: $c " &&
		$c -V >v && $c --version >version && test_cmp version v &&
		test_grep "^$c [0-9][0-9.]*\$" v || return 1
	done
'

test_expect_success '--help: every option with a description and its default' '
	for c in $CMDS; do
		$c --help | sed -n "/^Options:\$/,/^\$/p" | sed "1d;\$d" >opts &&
		test $(wc -l <opts) -gt 5 &&
		! grep -v "^  -[A-Za-z], --[a-z]\|^      --[a-z]" opts &&
		! grep -v -e "-h, --help  *[a-z]" -e "-V, --version  *[a-z]" opts |
		    grep -v "[^ ]  *[a-z.][^ ].* (\(default: [^)]*\|required\))\$" || return 1
	done
'

test_expect_success 'every option --help lists is taken' '
	for c in $CMDS; do
		opt_map $c >map &&
		while read name canon arg; do
			case $arg in
			-) set -- ;;
			*"|"*) set -- "${arg%%|*}" ;;
			N|SEC|USD) set -- 1 ;;
			SIZE) set -- 1M ;;
			K/N) set -- 1/2 ;;
			*) set -- x ;;
			esac
			$c $name "$@" --help >out 2>err ||
			    { echo "$c $name $*: exit $?" >&2; cat err >&2; return 1; }
		done <map || return 1
	done
'

test_expect_success 'an option of another command is named, with its commands' '
	test_status 2 vj-ingest --provider offline 2>e &&
	test_grep "^vj-ingest: option .--provider. does not apply to vj-ingest (it is for vj-analyze and vj-generate)" e &&
	! grep "offline" e &&
	test_grep "^usage: vj-ingest" e &&
	test_status 2 vj-ingest --provider=offline 2>e &&
	test_grep "option .--provider. does not apply" e &&
	for c in $CMDS; do opt_map $c | cut -d" " -f2; done | sort -u >all &&
	for c in $CMDS; do
		opt_map $c | cut -d" " -f2 | sort -u >own &&
		comm -23 all own >other &&
		test -s other &&
		while read o; do
			test_status 2 $c $o x 2>e >/dev/null &&
			test_grep "option .$o. does not apply to $c (it is for vj-" e || return 1
		done <other || return 1
	done
'

test_expect_success 'a bad value names its option' '
	test_status 2 vj-analyze -j 0 2>e && test_grep "^vj-analyze: -j: .0. is not a whole number in 1..4096" e &&
	test_status 2 vj-ingest --jobs 2.5 2>e && test_grep "^vj-ingest: --jobs: .2.5. is not a whole number" e &&
	test_status 2 vj-generate --rpm nan 2>e && test_grep "^vj-generate: --rpm: .nan. is not a number" e &&
	test_status 2 vj-pack -o x --fsync sometimes 2>e &&
	test_grep "^vj-pack: --fsync takes always, batch or never, not .sometimes." e &&
	test_status 2 vj-ingest --fsync=Batch 2>e && test_grep "takes always, batch or never" e &&
	test_status 2 vj-ingest --partition 1/2x 2>e && test_grep "takes K/N" e &&
	test_status 2 vj-status --json --check 2>e && test_grep "^usage: vj-status" e
'

test_expect_success 'bad values of the tier, batch and per-host options name them' '
	test_status 2 vj-analyze --tier turbo 2>e && test_grep "^vj-analyze: --tier takes standard or flex, not .turbo." e &&
	test_status 2 vj-ingest --per-host -1 2>e && test_grep "^vj-ingest: --per-host: .-1. is not a whole number" e &&
	test_status 2 vj-analyze --poll 0 2>e && test_grep "^vj-analyze: --poll: .0. is not a number" e &&
	test_status 2 vj-generate --batch-size 0 2>e && test_grep "^vj-generate: --batch-size: .0. is not a whole number" e &&
	test_status 2 vj-analyze --media-resolution huge 2>e && test_grep "media-resolution takes low, medium, high or ultra" e &&
	test_status 2 vj-analyze --detail max 2>e && test_grep "^vj-analyze: --detail takes low, high or auto" e
'

test_expect_success 'one run directory default, ./vj-run, for every command' '
	for c in $CMDS; do
		$c --help | test_grep -F -- "--run DIR" | test_grep -F "(default: \$VJ_RUN, else ./vj-run)" || return 1
	done &&
	vj-ingest -q </dev/null && test -d vj-run/journal &&
	vj-status --json | jq -e ".run == \"./vj-run\"" &&
	VJ_RUN= vj-status --json | jq -e ".run == \"./vj-run\"" &&
	mkdir elsewhere && VJ_RUN=elsewhere/r vj-ingest -q </dev/null && test -d elsewhere/r/journal
'

test_expect_success 'each man page: SYNOPSIS and OPTIONS hold the options --help lists' '
	for c in $CMDS; do
		opt_map $c >map &&
		cut -d" " -f2 map | sort -u >want &&
		$c --help | sed "/^\$/q" | tokens | canon map >help.syn &&
		man_synopsis "$MAN/$c.1" | man_text | tokens | canon map >man.syn &&
		man_heads "$MAN/$c.1" | man_text | tokens | canon map >man.opt &&
		test_cmp want help.syn && test_cmp want man.syn && test_cmp want man.opt ||
		    { echo "($c)" >&2; return 1; }
	done
'

test_done
