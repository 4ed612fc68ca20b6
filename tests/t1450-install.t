#!/bin/sh
# Installing like other tools, and the examples that run vj unattended:
# make install / uninstall (from the CMDS list), the bash completion, the
# nightly build under cron (what its log and its mail get), and the CI
# workflow's shards (the same bytes from two checkouts).
. "$(dirname "$0")/lib.sh"

CMDS=$(sed -n 's/^CMDS *= *//p' "$TOP/Makefile")
DEST=$TRASH/dest
P=$DEST/usr/local
COMP=$P/share/bash-completion/completions

minstall() { make -s --no-print-directory -C "$TOP" "$@" DESTDIR="$DEST" PREFIX=/usr/local >/dev/null; }

# ---- make install / make uninstall ----------------------------------------

# Two directories exist before: bin with somebody else's file, and an empty man1.
mkdir -p "$P/bin" "$P/share/man/man1" && echo other >"$P/bin/other"
(cd "$DEST" && find . | sort) >before

test_expect_success 'make install puts every command, man page, completion link and doc' '
	test -n "$CMDS" &&
	minstall install &&
	for c in $CMDS; do
		test -x "$P/bin/$c" &&
		test -f "$P/share/man/man1/$c.1" &&
		test "$(readlink "$COMP/$c")" = vj || exit 1
	done &&
	test -f "$COMP/vj" &&
	for d in "$TOP"/docs/*.md "$TOP/README.md"; do
		cmp "$d" "$P/share/doc/vj/${d##*/}" || exit 1
	done &&
	"$P/bin/vj-ingest" -V
'

test_expect_success 'install notes the directories it made, not the ones that were there' '
	grep -v "^#" "$P/share/doc/vj/installed-dirs" >made &&
	test_grep -x /usr/local/share/doc/vj made &&
	test_grep -x /usr/local/share/bash-completion/completions made &&
	! grep -x -e /usr/local/bin -e /usr/local/share/man/man1 -e /usr/local -e /usr made
'

test_expect_success 'a second install over the first keeps that note' '
	minstall install &&
	grep -v "^#" "$P/share/doc/vj/installed-dirs" >made2 &&
	test_cmp made made2
'

test_expect_success 'make uninstall leaves exactly what was there before' '
	minstall uninstall &&
	(cd "$DEST" && find . | sort) >after &&
	test_cmp before after &&
	test "$(cat "$P/bin/other")" = other
'

test_expect_success 'uninstall leaves a directory that gained other files, and files not vj'"'"'s' '
	minstall install &&
	echo theirs >"$COMP/othertool" &&
	ln -s elsewhere "$COMP/vj-notours" &&
	minstall uninstall &&
	test -f "$COMP/othertool" && test -L "$COMP/vj-notours" &&
	! test -e "$COMP/vj" && ! test -e "$P/share/doc/vj" &&
	rm -rf "$P/share/bash-completion" "$P/share/doc"
'

# ---- bash completion ---------------------------------------------------------

# complete_words CMD WORD...: what the installed completion offers for the
# last WORD of the command line CMD WORD..., one a line; loaded as
# bash-completion loads it (the file named after the command).
complete_words() {
	PATH="$P/bin:/usr/bin:/bin" bash --norc -c '
		. "$1"; shift
		spec=$(complete -p "$1") || exit 1
		fn=${spec#*-F }; fn=${fn%% *}
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' sh "$COMP/$1" "$@"
}

test_expect_success 'the completion file loads in bash and registers each command' '
	minstall install &&
	for c in $CMDS; do
		PATH="$P/bin:/usr/bin:/bin" bash --norc -c ". \"$COMP/$c\" && complete -p $c" >spec &&
		test_grep -- "-F _vj_complete $c" spec || exit 1
	done
'

test_expect_success 'vj-ingest --pa completes to the --partition options' '
	complete_words vj-ingest --pa | sort >got &&
	printf -- "--partition\n--partition-base\n--partition-count\n" >want && test_cmp want got &&
	complete_words vj-ingest --partition-c >got && test "$(cat got)" = --partition-count
'

test_expect_success 'options and their arguments come from --help' '
	complete_words vj-pack --comp >got && test "$(cat got)" = --compress &&
	complete_words vj-pack --compress "" | sort >got &&
	printf "gzip\nnone\nzstd\n" >want && test_cmp want got &&
	complete_words vj-pack --fsync = b >got && test "$(cat got)" = batch &&
	mkdir -p outdir && complete_words vj-pack -o outd >got && test "$(cat got)" = outdir &&
	complete_words vj-status --ch >got && test "$(cat got)" = --check &&
	complete_words vj-analyze --rpm "" >got && ! test -s got
'

# ---- examples/nightly.sh and nightly.cron -----------------------------------

vj-mkimages img >/dev/null
nightly() {
	VJ_HOME=$TRASH/vj VJ_BIN=$TOP/bin ANALYZE_OPTS='--provider offline' \
		GENERATE_OPTS='--provider offline' sh "$TOP/examples/nightly.sh" 2>mail
}
stamped='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z '

test_expect_success 'nightly.sh offline: a stamped log of what each step said, no records, no mail' '
	mkdir -p vj/inbox &&
	{ for i in bright dark sunset; do job_lines "$TRASH/img/$i.jpg" "$i"; done
	  job_lines "$TRASH/img/truncated.jpg" trunc; echo "not json"; } >vj/inbox/a.jsonl &&
	test_status 1 nightly &&
	! test -s mail &&
	log=$(echo vj/log/nightly-*.log) && test -s "$log" &&
	! grep -Ev "$stamped" "$log" &&
	test_grep -E "${stamped}nightly: start" "$log" &&
	test_grep -E "${stamped}vj-ingest: .*a.jsonl:5: " "$log" &&
	test_grep -E "${stamped}nightly: ingest a.jsonl: some jobs \(or input lines\) failed for good" "$log" &&
	test_grep -E "${stamped}vj-analyze: job trunc: offline: truncated JPEG" "$log" &&
	test_grep -E "${stamped}nightly: analyze: some jobs \(or input lines\) failed for good" "$log" &&
	test_grep -E "${stamped}vj-generate: 3 done" "$log" &&
	test_grep -E "${stamped}trunc +analyze" "$log" &&
	! grep -F "{\"" "$log" &&
	test "$(jq -s "map(.records) | add" vj/log/shards-*.jsonl)" = 3 &&
	jq -e ".stages" vj/log/status-*.json >/dev/null
'

test_expect_success 'nightly.sh: a fatal step is mailed in one line, and its messages are in the log' '
	cp "$TRASH/vj/ingested/"*a.jsonl vj/inbox/b.jsonl &&
	export PACK_OPTS="--level 99" &&
	test_status 2 nightly &&
	test $(wc -l <mail) -eq 1 &&
	test_grep "pack failed with exit status 2; see $TRASH/vj/log/nightly-" mail &&
	log=$(echo vj/log/nightly-*.log) &&
	! grep -Ev "$stamped" "$log" &&
	test_grep -E "${stamped}vj-pack: .*level" "$log" &&
	test_grep -E "${stamped}nightly: pack failed with exit status 2" "$log"
'

test_expect_success 'nightly.sh: a second build while one runs exits 75 and says so in the log' '
	( flock -n 9 && test_status 75 nightly ) 9>vj/nightly.lock &&
	! test -s mail &&
	test_grep -E "${stamped}nightly: another nightly build is running" vj/log/nightly-*.log
'

test_expect_success 'the README cron snippet: records to /dev/null, stamped messages to the log, no mail' '
	mkdir -p readme && cd readme &&
	awk "/^## The queue, under cron/ { s = 1; next }
	     s && /^    / { print substr(\$0, 5); next }
	     s && /^\$/ { print; next }
	     s { exit }" "$TOP/README.md" >build.sh &&
	test_grep "stamp >>build.log" build.sh &&
	sed "s/--pending/--pending --provider offline/; s/pack --pending --provider offline/pack --pending/" \
		build.sh >build-offline.sh &&
	{ for i in bright dark; do job_lines "$TRASH/img/$i.jpg" "$i"; done
	  job_lines "$TRASH/img/truncated.jpg" trunc; } >new-jobs.jsonl &&
	sh build-offline.sh >mail 2>&1 &&
	! test -s mail &&
	! grep -Ev "$stamped" build.log &&
	test_grep -E "${stamped}vj-analyze: job trunc: offline: truncated JPEG" build.log &&
	test $(grep -Ec "${stamped}vj-(ingest|analyze|generate): [0-9]+ done" build.log) -eq 3 &&
	! grep -F "{\"" build.log &&
	test "$(jq "[.shards[].records] | add" shards/index.json)" = 2
'

# cron_commands FILE: the commands of a crontab as cron runs them (\% -> %).
cron_commands() {
	grep -Ev '^[[:space:]]*(#|$)|^[A-Za-z_]+=' "$1" |
		awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }'
}

test_expect_success 'nightly.cron: no CRON_TZ, and its guard runs the build at UTC hours 2 to 6 only' '
	cron="$TOP/examples/nightly.cron" &&
	! grep -E "^[[:space:]]*CRON_TZ" "$cron" &&
	cron_commands "$cron" >cmds && test -s cmds &&
	! grep -E "(^|[^\\\\])%" cmds &&
	grep -Ev "^[[:space:]]*(#|$)|^[A-Za-z_]+=" "$cron" | awk "{ print \$2 }" | sort -u >hours &&
	test "$(cat hours)" = "*" &&
	mkdir -p fakebin &&
	cat >fakebin/date <<-\EOF &&
	#!/bin/sh
	[ "$*" = "-u +%H" ] && echo "$FAKE_HOUR" && exit 0
	exec /bin/date "$@"
	EOF
	cat >fakebin/nightly.sh <<-\EOF &&
	#!/bin/sh
	echo ran >>"$RAN"
	EOF
	chmod +x fakebin/date fakebin/nightly.sh &&
	sed "s/\\\\%/%/g; s|/srv/vj/bin/nightly.sh|$TRASH/fakebin/nightly.sh|" cmds >cmds.run &&
	for h in 00 01 02 03 04 05 06 07 08 12 23; do
		rm -f ran &&
		while read -r c; do
			RAN=$TRASH/ran FAKE_HOUR=$h PATH="$TRASH/fakebin:/usr/bin:/bin" sh -c "$c" || :
		done <cmds.run &&
		n=$(cat ran 2>/dev/null | wc -l) &&
		case $h in 0[2-6]) want=1 ;; *) want=0 ;; esac &&
		{ test $n -eq $want || { echo "UTC hour $h: $n runs, want $want"; exit 1; }; }
	done
'

# ---- examples/ci-shards.yml -----------------------------------------------

YML=$TOP/examples/ci-shards.yml
# ci_env: the job's env: as shell exports; ci_step NAME: the step's run: block.
ci_env() {
	awk '/^    env:$/ { e = 1; next }
	     e && /^      [A-Z_]+: / { k = $1; sub(/:$/, "", k); v = $0; sub(/^[^:]*: */, "", v)
	                              gsub(/"/, "", v); printf "export %s=\"%s\"\n", k, v; next }
	     { e = 0 }' "$YML"
}
ci_step() {
	awk -v name="$1" '
	     $0 ~ ("- name: " name "$") { s = 1; next }
	     s && /run: \|$/ { r = 1; next }
	     r { if ($0 ~ /^ *$/) { print ""; next }
	         match($0, /^ */); if (ind == "") ind = RLENGTH
	         if (RLENGTH < ind) exit
	         print substr($0, ind + 1) }' "$YML"
}

# ci_build DIR: a checkout at DIR (the tools linked in), then the workflow's
# "Build the shards" step run in it, as the runner runs it (bash -e).
ci_build() {
	rm -rf "$1" && mkdir -p "$1/examples" &&
	ln -s "$TOP/bin" "$1/bin" && ln -s "$TOP/scripts" "$1/scripts" &&
	cp "$TOP/examples/jobs.jsonl" "$1/examples/" &&
	{ ci_env; ci_step "Build the shards"; } >"$1/step.sh" &&
	(cd "$1" && bash -e step.sh >step.out 2>step.err) &&
	# the shards; index.json names the run by its id, random for each run
	(cd "$1/shards" && sha256sum shard-*) >"$1.sums"
}

test_expect_success 'ci-shards.yml: the shards step runs, the shards verify, no records in the log' '
	ci_step "Build the shards" >step && test_grep "vj-pack --verify" step &&
	ci_env >env && test_grep "SOURCE_DATE_EPOCH=\"0\"" env &&
	ci_build "$TRASH/co1" &&
	check_shards co1/shards 12 &&
	! grep -F "{\"" co1/step.out co1/step.err &&
	! grep -E "^j[0-9a-f]{19}\.json$" members
'

test_expect_success 'ci-shards.yml: the same bytes when built again in the same path' '
	mv co1.sums first.sums &&
	ci_build "$TRASH/co1" &&
	test_cmp first.sums co1.sums
'

test_expect_success 'ci-shards.yml: the same bytes from two checkout paths' '
	ci_build "$TRASH/co2/deeper/path" &&
	test_cmp co1.sums "$TRASH/co2/deeper/path.sums"
'

test_done
