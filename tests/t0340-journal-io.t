#!/bin/sh
# Injected I/O errors (tests/shim/vjfault.so): a journal or the object store
# that cannot be written stops the stage with exit 3 and a message naming the
# file; nothing unjournaled is passed on; a rerun finishes, each job once.
. "$(dirname "$0")/lib.sh"

SHIM="$TOP/tests/shim/vjfault.so"
# an ASan build wants its runtime first; the shim is fine after it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
vj-mkimages img >/dev/null
for i in $(seq 1 60); do
	printf '{"imageUrl": "img/%s", "id": "io%02d"}\n' \
		$(echo "dark.jpg bright.jpg gradient.jpg stripes.png" | cut -d" " -f$((i % 4 + 1))) $i
done >jobs.jsonl

faulty() { LD_PRELOAD="$SHIM" "$@"; }

# every printed record has a done event in the journal
printed_were_journaled() {
	jq -r .id "$1" | sort >printed &&
	grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" "$2" | cut -d\" -f8 | sort >journaled &&
	test -z "$(comm -23 printed journaled)"
}

once_each() {
	grep -o "\"ev\":\"done\",\"id\":\"[^\"]*\"" "$1" | sort | uniq -d >dups &&
	test ! -s dups &&
	test $(grep -c "\"ev\":\"done\"" "$1") -eq "$2"
}

test_expect_success 'EIO writing the ingest journal: exit 3, the file named' '
	VJ_FAULT_PATH=journal/ingest.log VJ_FAULT_AFTER=20 \
		test_status 3 faulty vj-ingest --fsync always jobs.jsonl >o 2>e &&
	test_grep "vj-run/journal/ingest.log: Input/output error" e &&
	printed_were_journaled o vj-run/journal/ingest.log
'

test_expect_success 'the rerun finishes, each job once' '
	vj-ingest jobs.jsonl >o2 2>e2 &&
	test $(wc -l <o2) -eq 60 &&
	once_each vj-run/journal/ingest.log 60 &&
	vj-status --check
'

test_expect_success 'EIO on fdatasync of the journal (group commit): exit 3' '
	VJ_FAULT_PATH=journal/ingest.log VJ_FAULT_OP=sync VJ_FAULT_AFTER=0 \
		test_status 3 faulty vj-ingest -r sync jobs.jsonl >o 2>e &&
	test_grep "sync/journal/ingest.log" e &&
	test ! -s o &&
	vj-ingest -r sync jobs.jsonl >o2 &&
	once_each sync/journal/ingest.log 60
'

test_expect_success 'ENOSPC in the object store: exit 3, and the rerun finishes' '
	VJ_FAULT_PATH=objects/.tmp VJ_FAULT_ERRNO=ENOSPC VJ_FAULT_AFTER=1 \
		test_status 3 faulty vj-ingest -r obj jobs.jsonl >o 2>e &&
	test_grep "cannot store the image in obj/objects: No space left on device" e &&
	printed_were_journaled o obj/journal/ingest.log &&
	vj-ingest -r obj jobs.jsonl >o2 &&
	once_each obj/journal/ingest.log 60 &&
	vj-status -r obj --check
'

test_expect_success 'EIO writing the analyze journal: exit 3, nothing unjournaled printed' '
	vj-ingest -q -r an jobs.jsonl >in.jsonl &&
	VJ_FAULT_PATH=journal/analyze.log VJ_FAULT_AFTER=10 \
		test_status 3 faulty vj-analyze -r an --provider offline --fsync always in.jsonl >o 2>e &&
	test_grep "an/journal/analyze.log: Input/output error" e &&
	printed_were_journaled o an/journal/analyze.log &&
	vj-analyze -r an --provider offline --pending >o2 &&
	once_each an/journal/analyze.log 60
'

test_done
