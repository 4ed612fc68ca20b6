#!/bin/sh
# What vj believes of a run directory: no symbolic link planted in it is
# followed, a directory another user owns is refused, the temporaries'
# cleanup deletes only its own files, and a damaged object is replaced when
# the same image is ingested again.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
printf '{"imageUrl": "img/gradient.jpg", "id": "a"}\n{"imageUrl": "img/stripes.png", "id": "b"}\n' >jobs.jsonl

# victim DIR: a directory with a file the test checks survives untouched
victim() { mkdir -p "$1" && echo precious >"$1/keep.txt"; }
untouched() { test "$(cat "$1/keep.txt")" = precious && test $(ls "$1" | wc -l) -eq 1; }

test_expect_success 'a symlink at objects/.tmp: refused, its target left alone' '
	victim v1 && mkdir -p r1/objects && ln -s "$TRASH/v1" r1/objects/.tmp &&
	test_status 3 vj-ingest -r r1 jobs.jsonl >o 2>e &&
	test_grep "r1/objects/.tmp is a symbolic link" e &&
	untouched v1 && test ! -s o
'

test_expect_success 'a symlink at journal/STAGE.lock: refused, its target not truncated' '
	echo precious >target && mkdir -p r2/journal && ln -s "$TRASH/target" r2/journal/ingest.lock &&
	test_status 3 vj-ingest -r r2 jobs.jsonl >o 2>e &&
	test_grep "r2/journal/ingest.lock: it is a symbolic link" e &&
	test "$(cat target)" = precious
'

test_expect_success 'a symlink at journal/STAGE.log: refused, its target neither cut nor appended to' '
	printf "not a journal\n" >tlog && mkdir -p r3/journal && ln -s "$TRASH/tlog" r3/journal/ingest.log &&
	test_status 3 vj-ingest -r r3 jobs.jsonl >o 2>e &&
	test_grep "r3/journal/ingest.log: it is a symbolic link" e &&
	test "$(cat tlog)" = "not a journal"
'

test_expect_success 'a FIFO at journal/STAGE.log: refused at once, not waited on' '
	mkdir -p r3f/journal && mkfifo r3f/journal/ingest.log &&
	test_status 3 timeout 10 vj-ingest -r r3f jobs.jsonl >o 2>e &&
	test_grep "r3f/journal/ingest.log: it is not a regular file" e
'

test_expect_success 'a reader (vj-status) does not follow a planted journal link either' '
	mkdir -p r3s/journal && ln -s "$TRASH/tlog" r3s/journal/ingest.log &&
	test_must_fail vj-status -r r3s >o 2>e &&
	test_grep "it is a symbolic link" e
'

test_expect_success 'a symlink at objects/ab: the object is not written through it' '
	sha=$(vj-ingest -r r4 jobs.jsonl | jq -r "select(.id==\"a\") | .image.sha256") &&
	d=$(printf %s "$sha" | cut -c1-2) && victim v4 && mkdir -p r5/objects && ln -s "$TRASH/v4" r5/objects/$d &&
	test_status 3 vj-ingest -r r5 jobs.jsonl >o 2>e &&
	test_grep "cannot store the image in r5/objects: it is a symbolic link" e &&
	untouched v4
'

test_expect_success 'the run itself a symlink: refused' '
	mkdir realrun && ln -s realrun r6 &&
	test_status 3 vj-ingest -r r6 jobs.jsonl >o 2>e &&
	test_grep "r6 is a symbolic link" e
'

test_expect_success 'cleanup removes only its own temporaries' '
	vj-ingest -r r7 jobs.jsonl >/dev/null &&
	echo mine >r7/objects/.tmp/notes.txt &&
	echo half >r7/objects/.tmp/12345.$(printf "%064d" 0 | tr 0 a) &&
	mkdir r7/objects/.tmp/sub &&
	vj-ingest -r r7 jobs.jsonl >/dev/null &&
	test -f r7/objects/.tmp/notes.txt && test -d r7/objects/.tmp/sub &&
	test ! -e r7/objects/.tmp/12345.$(printf "%064d" 0 | tr 0 a)
'

test_expect_success 'a damaged object of the right size is replaced on re-ingest' '
	vj-ingest -r r8 jobs.jsonl >o &&
	sha=$(jq -r "select(.id==\"b\") | .image.sha256" o) &&
	obj=r8/objects/$(printf %s "$sha" | cut -c1-2)/$(printf %s "$sha" | cut -c3-) &&
	n=$(wc -c <"$obj") && chmod u+w "$obj" && head -c "$n" /dev/zero >"$obj" &&
	printf "{\"imageUrl\": \"img/stripes.png\", \"id\": \"c\"}\n" >again.jsonl &&
	vj-ingest -r r8 again.jsonl >o2 2>e2 &&
	test_grep "object store damaged: $obj" e2 &&
	test "$(sha256sum <"$obj" | cut -d" " -f1)" = "$sha"
'

if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	test_expect_success 'a run owned by another user: refused' '
		mkdir r9 && chown nobody r9 &&
		test_status 3 vj-ingest -r r9 jobs.jsonl >o 2>e &&
		test_grep "r9 is owned by uid" e
	'
else
	test_skip 'a run owned by another user (needs root to chown)'
fi

test_done
