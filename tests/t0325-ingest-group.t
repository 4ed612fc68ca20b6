#!/bin/sh
# vj-ingest makes objects durable in groups: a group's temporaries are
# fdatasynced, renamed, their directories fsynced, and only then are the
# jobs that name them journaled.  Checked by the order of the calls
# (tests/shim/vjfault.so traces them), under kill -9 in the middle of
# groups, and with a failing fdatasync, rename, directory fsync and a full
# disk.  And --per-host: at most N connections to one server, with time
# spent waiting for one not counted against the job.
. "$(dirname "$0")/lib.sh"

SHIM="$TOP/tests/shim/vjfault.so"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
faulty() { LD_PRELOAD="$SHIM" "$@"; }

vj-mkimages img >/dev/null
# 240 distinct images: copies of six, each made different
n=0
for f in gradient.jpg sunset.jpg checkerboard.png poster-teal-orange.png stripes.png noise.png; do
	for k in $(seq 1 40); do
		cp img/$f img/$k-$f && printf "%s" "$k" >>img/$k-$f
	done
done
start_fake --static img --latency-ms 20 --latency-dist uniform
ls img | grep -E "^[0-9]+-" | awk -v u="$FAKE_URL" '{ printf "{\"imageUrl\": \"%s/img/%s\", \"id\": \"g%03d\"}\n", u, $0, NR }' >jobs.jsonl

# objects_whole RUN: every job the journal holds as done has its object,
# and the object's bytes hash to its name
objects_whole() {
	grep "\"ev\":\"done\"" "$1/journal/ingest.log" | grep -o "\"sha256\":\"[0-9a-f]*\"" |
	    cut -d\" -f4 | sort -u >shas &&
	while read -r s; do
		f="$1/objects/$(echo $s | cut -c1-2)/$(echo $s | cut -c3-)"
		test -f "$f" || { echo "journaled, not stored: $s" >&2; return 1; }
		test "$(sha256sum <"$f" | cut -d" " -f1)" = "$s" || { echo "damaged: $f" >&2; return 1; }
	done <shas
}

# done_once RUN N: N done events, one per job
done_once() {
	grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" "$1/journal/ingest.log" | sort >dones &&
	test $(wc -l <dones) -eq "$2" && test $(sort -u dones | wc -l) -eq "$2"
}

# in_order RUN TRACE: in the traced calls, every object was fdatasynced
# before its rename, renamed before its directory's fsync, and that before
# the journal write that first holds a done naming it
in_order() {
	LC_ALL=C awk '
		NR == FNR {
			end += length($0) + 1
			if ($0 ~ /"ev":"done"/ && match($0, /"sha256":"[0-9a-f]+"/)) {
				nd++; dend[nd] = end; dsha[nd] = substr($0, RSTART + 10, 64)
			}
			next
		}
		function sha_of(p,   b) { b = p; sub(/.*\//, "", b); sub(/^[0-9]+\./, "", b); return b }
		$1 == "fdatasync" && $2 ~ /\/objects\/\.tmp\// { synced[sha_of($2)] = 1; next }
		$1 == "rename" && $2 ~ /objects\/\.tmp\// {
			s = sha_of($2)
			if (!synced[s]) { print "renamed before fdatasync: " s; bad = 1 }
			renamed[s] = 1; nr++; rs[nr] = s; next
		}
		$1 == "fsync" && $2 ~ /\/objects\/[0-9a-f][0-9a-f]$/ {
			d = substr($2, length($2) - 1)
			for (i = 1; i <= nr; i++) if (substr(rs[i], 1, 2) == d) durable[rs[i]] = 1
			ndir++; next
		}
		$1 == "write" && $2 ~ /journal\/ingest\.log$/ {
			jo += $3; commits++
			while (k < nd && dend[k + 1] <= jo) {
				k++
				if (!durable[dsha[k]]) { print "journaled before durable: " dsha[k]; bad = 1 }
			}
		}
		END {
			if (k < nd) { print "done lines never seen written: " nd - k; bad = 1 }
			printf "# %d objects renamed, %d directory fsyncs, %d journal writes\n", nr, ndir, commits
			exit bad
		}' "$1/journal/ingest.log" "$2"
}

test_expect_success 'grouped: fdatasync, rename, directory fsync, then the journal' '
	VJ_TRACE=$PWD/trace VJ_TRACE_PATH=grp/ faulty vj-ingest -r grp -j 16 jobs.jsonl >o 2>e &&
	test $(wc -l <o) -eq 240 &&
	done_once grp 240 &&
	in_order grp trace &&
	objects_whole grp &&
	test -z "$(ls grp/objects/.tmp)"
'

test_expect_success 'the same image for many jobs: stored once, every job journaled after it' '
	for i in $(seq 1 50); do fake_job /img/stripes.png same$i; done >same.jsonl &&
	VJ_TRACE=$PWD/trace2 VJ_TRACE_PATH=same/ faulty vj-ingest -r same -j 16 same.jsonl >o 2>e &&
	done_once same 50 &&
	test $(grep -c "^rename" trace2) -eq 1 &&
	in_order same trace2 &&
	objects_whole same
'

test_expect_success '--fsync always: each object durable on its own before its job' '
	head -n 30 jobs.jsonl >j30 &&
	VJ_TRACE=$PWD/trace3 VJ_TRACE_PATH=alw/ faulty vj-ingest -r alw --fsync always j30 >o 2>e &&
	done_once alw 30 &&
	in_order alw trace3
'

test_expect_success 'kill -9 in the middle of groups: what is journaled is whole, at every moment' '
	n=0 &&
	while [ $n -lt 8 ]; do
		vj-ingest -r crash -j 32 jobs.jsonl >/dev/null 2>&1 &
		pid=$! &&
		sleep 0.$(( (n * 37) % 7 + 2)) &&
		kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
		objects_whole crash || exit 1
		n=$((n + 1))
	done &&
	vj-ingest -r crash -j 32 jobs.jsonl >o 2>e &&
	test $(wc -l <o) -eq 240 &&
	done_once crash 240 &&
	objects_whole crash &&
	test -z "$(ls crash/objects/.tmp)"
'

# fault RUN OP [ERRNO]: one run with OP failing on the store after 40 good
# ones: exit 3 naming the store, nothing journaled that is not whole, then
# a clean rerun finishes every job once
fault() {
	VJ_FAULT_PATH=$1/objects/ VJ_FAULT_OP=$2 VJ_FAULT_ERRNO=${3:-EIO} VJ_FAULT_AFTER=40 \
	    test_status 3 faulty vj-ingest -r $1 -j 16 jobs.jsonl >o 2>e &&
	test_grep "$1/objects" e &&
	test_grep "stopped" e &&
	objects_whole $1 &&
	jq -r .id o | sort >printed &&
	grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" $1/journal/ingest.log | cut -d\" -f8 | sort >journaled &&
	test -z "$(comm -23 printed journaled)" &&
	test $(wc -l <journaled) -lt 240 &&
	vj-ingest -r $1 -j 16 jobs.jsonl >o2 2>e2 &&
	test $(wc -l <o2) -eq 240 &&
	done_once $1 240 &&
	objects_whole $1 &&
	vj-status -r $1 --check >/dev/null
}

test_expect_success 'a failed fdatasync of a temporary: exit 3, nothing journaled that is not durable' '
	VJ_FAULT_PATH=fsy/objects/.tmp VJ_FAULT_OP=sync VJ_FAULT_AFTER=40 \
	    test_status 3 faulty vj-ingest -r fsy -j 16 jobs.jsonl >o 2>e &&
	test_grep "cannot make the images durable in fsy/objects: Input/output error" e &&
	test_grep "stopped: the images could not be made durable" e &&
	test -z "$(ls fsy/objects/.tmp)" &&
	fault fsy2 sync
'

test_expect_success 'a failed rename into the store: the same' '
	fault ren rename
'

test_expect_success 'a failed fsync of an object directory: the same' '
	fault dsy dirsync
'

test_expect_success 'the disk full writing a temporary: the same, the message says so' '
	fault full write ENOSPC &&
	VJ_FAULT_PATH=full2/objects/.tmp VJ_FAULT_OP=write VJ_FAULT_ERRNO=ENOSPC VJ_FAULT_AFTER=40 \
	    test_status 3 faulty vj-ingest -r full2 -j 16 jobs.jsonl >o 2>e &&
	test_grep "cannot store the image in full2/objects: No space left on device" e
'

# --per-host against a second fake whose every answer takes 200 ms: many
# requests overlap, and /_stats counts the connections open at once
F1=$FAKE_URL
start_fake --static img --latency-ms 200 --latency-dist fixed
ls img | grep -E "^[0-9]+-" | head -n 40 |
    awk -v u="$FAKE_URL" '{ printf "{\"imageUrl\": \"%s/img/%s\", \"id\": \"h%03d\"}\n", u, $0, NR }' >slow.jsonl
peak() { curl -s "$FAKE_URL/_stats" | jq .conns_peak; }

test_expect_success '--per-host 3: at most 3 connections to the server, every job done' '
	fake_reset &&
	vj-ingest -r ph3 -j 16 --per-host 3 slow.jsonl >o 2>e &&
	test $(wc -l <o) -eq 40 &&
	p=$(peak) && say "peak $p" &&
	test "$p" -le 3 && test "$p" -ge 2 &&
	test_grep "at most 3 requests at once to one host (--per-host)" e
'

test_expect_success 'the default is 8 connections to one server' '
	fake_reset &&
	vj-ingest -r ph8 -j 32 slow.jsonl >o 2>e &&
	test $(wc -l <o) -eq 40 &&
	test "$(peak)" -le 8
'

test_expect_success 'waiting for the host does not count against --timeout or --job-timeout' '
	fake_reset &&
	vj-ingest -r pht -j 40 --per-host 2 --timeout 1.5 --job-timeout 2 --retries 0 slow.jsonl >o 2>e &&
	test $(wc -l <o) -eq 40 &&
	test "$(peak)" -le 2
'

test_expect_success 'hosts are capped each on their own: two servers, -j 6 --per-host 3' '
	head -n 20 jobs.jsonl >two.jsonl && head -n 20 slow.jsonl >>two.jsonl &&
	fake_reset &&
	vj-ingest -r two -j 6 --per-host 3 two.jsonl >o 2>e &&
	test $(wc -l <o) -eq 40 &&
	test "$(peak)" -le 3
'

test_expect_success '--per-host takes 0 to 4096' '
	test_status 2 vj-ingest --per-host -1 </dev/null 2>e &&
	test_grep -- "--per-host" e &&
	vj-ingest -r ph0 -j 4 --per-host 0 slow.jsonl >o 2>e &&
	test $(wc -l <o) -eq 40 &&
	! grep -q "per-host" e
'

test_done
