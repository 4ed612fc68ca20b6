#!/bin/sh
# t0388-small-inputs: the small trust items of issue 10, item 13: a
# misspelt prompt-file directive is a usage error, a manifest that is not
# there is exit 2 before anything is done, and the 1 MiB line limit is
# exact.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null

test_expect_success 'a misspelt directive in a prompt file is a usage error naming file and line' '
	mk_analysed img/gradient.jpg in p1 &&
	printf "@sytem\nYou write captions.\n@user\nCaption {{format}}.\n" >p.txt &&
	test_status 2 vj-generate --provider offline --prompt-file p.txt in >o 2>e &&
	test_grep "p.txt:1: unknown directive @sytem (the directives are @system, @user and @user FORMAT)" e &&
	test ! -s o &&
	printf "@system\nYou write captions.\n@User social_post\nCaption.\n" >p2.txt &&
	test_status 2 vj-generate --provider offline --prompt-file p2.txt in 2>e &&
	test_grep "p2.txt:3: unknown directive @User" e
'

test_expect_success 'a line of text that starts with @ is still text' '
	printf "@system\nYou write captions.\n@user\n@acme loves {{format}} and so do we.\n" >p3.txt &&
	vj-generate --provider offline --prompt-file p3.txt in >o 2>e &&
	jq -e ".content.text | test(\"@acme loves\")" o
'

test_expect_success 'a manifest that is not there: exit 2, nothing done' '
	job_lines img/bright.jpg a1 >m.jsonl &&
	test_status 2 vj-ingest -r rm m.jsonl nosuch.jsonl >o 2>e &&
	test_grep "^vj-ingest: nosuch.jsonl: cannot open: No such file or directory" e &&
	test ! -s o && test ! -e rm &&
	test_status 2 vj-ingest -r rm img 2>e &&
	test_grep "^vj-ingest: img: is a directory" e &&
	test ! -e rm
'

# line N: a manifest line of exactly N bytes (the newline not counted)
line() {
	head=$(printf "{\"imageUrl\": \"%s/img/bright.jpg\", \"id\": \"L%s\"}" "$PWD" "$1")
	pad=$(( $1 - ${#head} ))
	printf "%s" "$head" && head -c "$pad" /dev/zero | tr "\0" " " && printf "\n"
}

test_expect_success 'an input file of vj-analyze or vj-generate that is not there: exit 2' '
	test_status 2 vj-analyze -r rmiss --provider offline nosuch.jsonl >o 2>e &&
	test_grep "^vj-analyze: nosuch.jsonl: cannot open" e &&
	test_status 2 vj-generate -r rmiss --provider offline nosuch.jsonl >o 2>e &&
	test_grep "^vj-generate: nosuch.jsonl: cannot open" e &&
	test ! -e rmiss
'

test_expect_success 'the line limit is exact: 1048576 bytes pass, 1048577 do not' '
	{ line 1048576 && line 1048577 && line 1100000 && job_lines img/dark.jpg after; } >big.jsonl &&
	test "$(sed -n 1p big.jsonl | wc -c)" -eq 1048577 &&
	test_status 1 vj-ingest -r rl big.jsonl >o 2>e &&
	test_grep "^vj-ingest: big.jsonl:2: line longer than 1048576 bytes: skipped" e &&
	test_grep "^vj-ingest: big.jsonl:3: line longer than 1048576 bytes: skipped" e &&
	test "$(jq -r .id o | sort | tr "\n" " ")" = "L1048576 after "
'

test_expect_success 'a CRLF line of 1048576 bytes passes too' '
	line 1048576 | sed "s/\$/\r/" >crlf.jsonl &&
	vj-ingest -r rc crlf.jsonl >o 2>e &&
	test "$(jq -r .id o)" = L1048576
'

test_done
