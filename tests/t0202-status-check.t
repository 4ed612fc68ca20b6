#!/bin/sh
# vj-status --check and --repair: damaged journals and objects.
. "$(dirname "$0")/lib.sh"
MK="$TOP/tests/tools/vj-mkstatus"

# flip LOG: overwrite one byte in the middle of LOG; prints the offset of
# the line it falls in (what vj-status must report)
flip() {
	size=$(wc -c <"$1")
	off=$((size / 2))
	while [ "$(dd if="$1" bs=1 skip=$off count=1 2>/dev/null | od -An -c | tr -d " ")" = '\n' ]; do
		off=$((off + 1))
	done
	printf '#' | dd of="$1" bs=1 seek=$off conv=notrunc 2>/dev/null
	awk -v off=$off '{ if (pos + length($0) + 1 > off) { print pos; exit } pos += length($0) + 1 }' "$1"
}

test_expect_success 'make a run with its objects' '
	"$MK" --objects run && test -d run/objects
'

test_expect_success 'a clean run checks clean' '
	vj-status -r run --check >out &&
	test_grep -E "^check run: 731 journal records, 196 objects \([0-9.]+ KiB\), 196 images: ok$" out &&
	vj-status -q -r run --check >q && test ! -s q &&
	vj-status -v -r run --check | test_grep "analyze.log: 226 records ok"
'

test_expect_success 'a flipped byte mid-journal: named by file and offset, exit 3' '
	cp -r run bad &&
	off=$(flip bad/journal/analyze.log) && echo $off >off &&
	test_status 3 vj-status -r bad --check >out &&
	test_grep "^bad/journal/analyze.log:$off: corrupt record ([0-9]* valid records follow it)" out &&
	test_grep "1 problem$" out
'

test_expect_success 'the report refuses a corrupt journal: exit 3 naming it' '
	test_status 3 vj-status -r bad 2>err &&
	test_grep "^vj-status: bad/journal/analyze.log: corrupt record at byte offset $(cat off)$" err
'

test_expect_success '--repair cuts the journal after a backup' '
	vj-status -r bad --repair analyze >rep 2>err &&
	test_grep "^bad/journal/analyze.log: cut at byte offset $(cat off): kept [0-9]* records" rep &&
	test_grep "the original is saved as bad/journal/analyze.log.bak." rep &&
	ls bad/journal/analyze.log.bak.* &&
	vj-status -r bad --check | test_grep "images: ok$" &&
	vj-status -r bad --json | jq -e ".stages.analyze.done < 126" &&
	vj-status -r bad --repair analyze | test_grep "clean: nothing to repair"
'

test_expect_success '--repair: unknown stage 2, no journal 0' '
	test_status 2 vj-status -r bad --repair bogus 2>/dev/null &&
	mkdir empty && vj-status -r empty --repair pack | test_grep "no journal"
'

test_expect_success 'a torn last record is reported too' '
	cp -r run torn && printf "0badc0de {\"ev\":" >>torn/journal/generate.log &&
	test_status 3 vj-status -r torn --check >out &&
	test_grep "generate.log:[0-9]*: torn last record" out &&
	vj-status -r torn --json | jq -e ".stages.generate.done == 106"
'

test_expect_success 'an object whose bytes do not match its name: exit 3' '
	cp -r run obj &&
	f=$(find obj/objects -type f | sort | head -n 1) &&
	printf x >>"$f" &&
	test_status 3 vj-status -r obj --check >out &&
	test_grep "^$f: content does not match its sha256 name$" out &&
	test_grep "ingest.log:[0-9]*: job job-[0-9]*: image object .* has [0-9]* bytes" out
'

test_expect_success 'a missing image object: exit 3 naming the journal line' '
	cp -r run miss &&
	f=$(find miss/objects -type f | sort | head -n 1) && rm "$f" &&
	test_status 3 vj-status -r miss --check >out &&
	test_grep "^miss/journal/ingest.log:[0-9]*: job job-[0-9]*: image object [0-9a-f]* is missing$" out
'

test_expect_success '--check of a missing run: exit 2' '
	test_status 2 vj-status -r nope --check 2>/dev/null
'

test_done
