#!/bin/sh
# vj-ingest when the disk fills up: a clear error, exit 3, nothing already
# done lost, and a rerun after space is freed finishes.  Needs root for a
# small tmpfs; skipped otherwise.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
mkdir small
if ! mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
	test_skip 'a full disk (needs root to mount a tmpfs)'
	test_done
	exit 0
fi
trap 'umount "$TRASH/small" "$TRASH/small2" 2>/dev/null' EXIT

i=0
for f in gradient.jpg sunset.jpg checkerboard.png poster-teal-orange.png stripes.png noise.png; do
	for k in 1 2 3 4 5; do
		# five copies of each, made different so each is stored on its own
		cp img/$f img/$k-$f && printf "%s" "$k" >>img/$k-$f
		i=$((i + 1))
		printf '{"imageUrl": "img/%s", "id": "d%02d"}\n' "$k-$f" $i
	done
done >jobs.jsonl

test_expect_success 'objects fill the disk: exit 3, a message naming the store' '
	test_status 3 vj-ingest -r small/run jobs.jsonl >o 2>e &&
	test_grep "cannot store the image in small/run/objects: No space left on device" e &&
	test_grep "stopped:" e
'

test_expect_success 'what was done is intact: every journaled image is whole' '
	vj-status -r small/run --check >c 2>&1 &&
	test -s o &&
	test $(wc -l <o) -eq $(grep -c "\"ev\":\"done\"" small/run/journal/ingest.log)
'

test_expect_success 'after space is freed, the same command finishes, each job once' '
	mount -o remount,size=20m small &&
	vj-ingest -r small/run jobs.jsonl >o2 2>e2 &&
	test $(wc -l <o2) -eq 30 &&
	test $(grep -c "\"ev\":\"done\"" small/run/journal/ingest.log) -eq 30 &&
	vj-status -r small/run --check
'

test_expect_success 'the disk fills in the middle of a run: exit 3, and the rerun recovers' '
	mkdir small2 && mount -t tmpfs -o size=4m tmpfs small2 &&
	head -n 2 jobs.jsonl | vj-ingest -r small2/run >/dev/null &&
	{ dd if=/dev/zero of=small2/fill bs=4k 2>/dev/null; true; } &&
	test_status 3 vj-ingest -r small2/run jobs.jsonl >o3 2>e3 &&
	test_grep "No space left on device" e3 &&
	rm small2/fill &&
	vj-ingest -r small2/run jobs.jsonl >o4 2>e4 &&
	test $(wc -l <o4) -eq 30 &&
	test $(grep -c "\"ev\":\"done\"" small2/run/journal/ingest.log) -eq 30 &&
	vj-status -r small2/run --check
'

test_expect_success 'stdout that cannot be written is an error (exit 3)' '
	test_status 3 vj-ingest -r full jobs.jsonl >/dev/full 2>e &&
	test_grep "error writing output" e
'

umount small small2 2>/dev/null
trap - EXIT
test_done
