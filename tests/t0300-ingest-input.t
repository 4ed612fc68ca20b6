#!/bin/sh
# vj-ingest: manifest validation, normalisation, ids, and bad input lines.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null

test_expect_success 'a good manifest: records out, journaled, objects stored' '
	cat >m.jsonl <<-EOT &&
	{"imageUrl": "img/dark.jpg", "id": "a1", "analysisPurpose": "p", "imageContext": "c", "meta": {"k": [1, 2]}}
	{"image_url": "img/bright.jpg", "creativity_level": 0.5, "output_format": "social_post"}
	{"imageUrl": "file://$PWD/img/palette.gif", "id": "g1"}
	EOT
	vj-ingest m.jsonl >out &&
	test $(wc -l <out) -eq 3 &&
	jq -se "map(select(.id==\"a1\"))[0] | .job.meta.k == [1,2] and .image.mime == \"image/jpeg\" and .image.width == 640" out &&
	jq -se "map(select(.job.outputFormat==\"social_post\"))[0] | .job.creativityLevel == 0.5" out &&
	jq -se "map(select(.id==\"g1\"))[0] | .image.ext == \"gif\"" out &&
	for s in $(jq -r .image.sha256 out); do
		f=vj-run/objects/$(echo $s | cut -c1-2)/$(echo $s | cut -c3-) &&
		test "$(sha256sum <$f | cut -d" " -f1)" = "$s" || exit 1
	done
'

test_expect_success 'derived ids are stable and dot-free' '
	jq -r .id out | grep -vx a1 | grep -vx g1 >ids &&
	test $(wc -l <ids) -eq 1 &&
	! grep "\." ids &&
	vj-ingest -r run2 m.jsonl | jq -r .id | sort >ids2 &&
	jq -r .id out | sort >ids1 &&
	test_cmp ids1 ids2
'

test_expect_success 'a second run of the same manifest fetches nothing and prints the same' '
	vj-ingest m.jsonl >out2 2>err &&
	test $(wc -l <out2) -eq 3 &&
	grep -c "\"ev\":\"job\"" vj-run/journal/ingest.log >njobs &&
	test $(cat njobs) -eq 3 &&
	test_grep "3 already in the journal" err
'

test_expect_success 'blank lines and CRLF line ends are accepted' '
	printf "{\"imageUrl\": \"img/gradient.jpg\", \"id\": \"crlf\"}\r\n\r\n\n{\"imageUrl\": \"img/stripes.png\", \"id\": \"lf\"}" >crlf.jsonl &&
	vj-ingest crlf.jsonl >o &&
	test $(wc -l <o) -eq 2
'

bad_line() {
	# bad_line NAME LINE PATTERN: the line is rejected naming file:line and the problem,
	# the good line after it is still ingested, and the exit status is 1
	printf "%s\n{\"imageUrl\": \"img/dark.jpg\", \"id\": \"ok_$1\"}\n" "$2" >bad_$1.jsonl
	test_status 1 vj-ingest -r badrun --rejects rej_$1 bad_$1.jsonl >o 2>e &&
	test_grep "vj-ingest: bad_$1.jsonl:1: $3" e &&
	jq -se "any(.[]; .id==\"ok_$1\")" o >/dev/null &&
	test "$(cat rej_$1)" = "$2"
}

test_expect_success 'malformed JSON' 'bad_line json "{\"imageUrl\": " "malformed JSON"'
test_expect_success 'not an object' 'bad_line arr "[1,2,3]" "not a JSON object but an array"'
test_expect_success 'missing imageUrl' 'bad_line nourl "{\"id\": \"x\"}" "imageUrl: missing or empty"'
test_expect_success 'empty imageUrl' 'bad_line emptyurl "{\"imageUrl\": \"\"}" "imageUrl: missing or empty"'
test_expect_success 'imageUrl of the wrong type' 'bad_line urltype "{\"imageUrl\": 5}" "imageUrl: must be a string, not a number"'
test_expect_success 'creativityLevel of the wrong type' 'bad_line cltype "{\"imageUrl\": \"a.png\", \"creativityLevel\": \"high\"}" "creativityLevel: must be a number"'
test_expect_success 'creativityLevel outside 0..2' 'bad_line clrange "{\"imageUrl\": \"a.png\", \"creativityLevel\": 2.5}" "creativityLevel: 2.5 is outside 0..2"'
test_expect_success 'negative creativityLevel' 'bad_line clneg "{\"imageUrl\": \"a.png\", \"creativityLevel\": -0.1}" "creativityLevel: -0.1 is outside"'
test_expect_success 'an id with a dot' 'bad_line iddot "{\"imageUrl\": \"a.png\", \"id\": \"a.b\"}" "id: .a.b. must match"'
test_expect_success 'an id with a slash' 'bad_line idslash "{\"imageUrl\": \"a.png\", \"id\": \"a/b\"}" "id: .a/b. must match"'
test_expect_success 'an id of 200 characters' '
	long=$(printf "%0200d" 0) &&
	bad_line idlong "{\"imageUrl\": \"a.png\", \"id\": \"$long\"}" "id: 200 characters, at most 128"
'
test_expect_success 'a scheme that is not http, https or file' 'bad_line scheme "{\"imageUrl\": \"ftp://x/a.png\"}" "imageUrl: scheme"'
test_expect_success 'name and alias disagree' 'bad_line alias "{\"imageUrl\": \"a.png\", \"image_url\": \"b.png\"}" "imageUrl and image_url disagree"'

# first_line_bad NAME MESSAGE: NAME.jsonl's first line is refused, naming
# NAME.jsonl:1 and MESSAGE; its next line, id "after", is still ingested
first_line_bad() {
	test_status 1 vj-ingest -r $1 $1.jsonl >o 2>e &&
	test_grep "$1.jsonl:1: $2" e &&
	jq -se "any(.[]; .id==\"after\")" o
}

test_expect_success 'unknown fields are rejected with --strict only' '
	printf "{\"imageUrl\": \"img/dark.jpg\", \"id\": \"u1\", \"colour\": 1}\n" >unk.jsonl &&
	vj-ingest -r strict1 unk.jsonl >o &&
	test_status 1 vj-ingest -r strict2 --strict unk.jsonl >o 2>e &&
	test_grep "unk.jsonl:1: colour: unknown field" e
'

test_expect_success 'invalid UTF-8' '
	printf "{\"imageUrl\": \"img/dark.jpg\", \"imageContext\": \"\377\376\"}\n{\"imageUrl\": \"img/dark.jpg\", \"id\": \"after\"}\n" >utf.jsonl &&
	first_line_bad utf "invalid UTF-8 at column 46"
'

test_expect_success 'a NUL byte' '
	printf "{\"imageUrl\": \"img/dark.jpg\", \"id\": \"n\000ul\"}\n{\"imageUrl\": \"img/dark.jpg\", \"id\": \"after\"}\n" >nul.jsonl &&
	first_line_bad nul "NUL byte"
'

test_expect_success 'a 2 MB line is skipped, the next line is read' '
	{ printf "{\"imageUrl\": \"img/dark.jpg\", \"imageContext\": \"" &&
	  head -c 2097152 /dev/zero | tr "\0" a &&
	  printf "\"}\n{\"imageUrl\": \"img/dark.jpg\", \"id\": \"after\"}\n"; } >big.jsonl &&
	first_line_bad big "line longer than"
'

test_expect_success 'the same id with different content is an error for that line' '
	printf "{\"imageUrl\": \"img/dark.jpg\", \"id\": \"same\"}\n{\"imageUrl\": \"img/bright.jpg\", \"id\": \"same\"}\n{\"imageUrl\": \"img/dark.jpg\", \"id\": \"same\"}\n" >dup.jsonl &&
	test_status 1 vj-ingest -r dup dup.jsonl >o 2>e &&
	test_grep "dup.jsonl:2: id same: already holds a different job" e &&
	test $(grep -c "\"ev\":\"job\"" dup/journal/ingest.log) -eq 1
'

test_expect_success 'stdin and -, with paths relative to the working directory' '
	echo "{\"imageUrl\": \"img/small.webp\", \"id\": \"w\"}" | vj-ingest -r stdin >o &&
	jq -e ".image.mime == \"image/webp\"" o &&
	echo "{\"imageUrl\": \"img/small.webp\", \"id\": \"w2\"}" | vj-ingest -r stdin - >o &&
	jq -e ".id == \"w2\"" o
'

test_expect_success 'an unreadable or missing local file fails that job only' '
	cp img/dark.jpg locked.jpg && chmod 000 locked.jpg &&
	printf "{\"imageUrl\": \"nothere.png\", \"id\": \"gone\"}\n{\"imageUrl\": \"img/dark.jpg\", \"id\": \"fine\"}\n" >miss.jsonl &&
	test_status 1 vj-ingest -r miss miss.jsonl >o 2>e &&
	test_grep "job gone: cannot read .*nothere.png: No such file" e &&
	jq -se "any(.[]; .id==\"fine\")" o &&
	grep "\"ev\":\"fail\"" miss/journal/ingest.log | grep -q "\"final\":true"
'

test_expect_success 'a file that is not an image fails that job' '
	echo "<!DOCTYPE html><html></html>" >page.png &&
	echo "{\"imageUrl\": \"page.png\", \"id\": \"html\"}" >h.jsonl &&
	test_status 1 vj-ingest -r html h.jsonl 2>e &&
	test_grep "job html: not an image" e
'

test_expect_success 'an image over the size cap' '
	echo "{\"imageUrl\": \"img/noise.png\", \"id\": \"huge\"}" >cap.jsonl &&
	test_status 1 vj-ingest -r cap --max-bytes 1K cap.jsonl 2>e &&
	test_grep "job huge: .*larger than the cap of 1024 bytes" e
'

test_expect_success '--partition K/N splits a manifest without overlap' '
	for i in $(seq 1 40); do echo "{\"imageUrl\": \"img/dark.jpg\", \"id\": \"p$i\"}"; done >parts.jsonl &&
	vj-ingest -r part1 --partition 1/3 parts.jsonl | jq -r .id >p1 &&
	vj-ingest -r part2 --partition 2/3 parts.jsonl | jq -r .id >p2 &&
	vj-ingest -r part3 --partition 3/3 parts.jsonl | jq -r .id >p3 &&
	cat p1 p2 p3 | sort >all && sort -u all >uniq &&
	test $(wc -l <all) -eq 40 && test_cmp all uniq &&
	test -s p1 && test -s p2 && test -s p3
'

test_expect_success 'usage errors exit 2' '
	test_status 2 vj-ingest --bogus 2>e && test_grep "usage: vj-ingest" e &&
	test_status 2 vj-ingest --partition 4/3 2>e &&
	test_status 2 vj-ingest --provider x 2>e && test_grep "does not apply" e &&
	vj-ingest --help | grep -q "usage: vj-ingest" &&
	vj-ingest --version | grep -q "vj-ingest [0-9]"
'

test_done
