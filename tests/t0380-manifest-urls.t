#!/bin/sh
# imageUrl from an untrusted manifest: credentials are refused and never
# kept; schemes other than http, https and file are bad lines, not local
# paths; file URLs are percent-decoded and carry no query.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
mkdir -p "sp ace" && cp img/gradient.jpg "sp ace/g.jpg"

line() { printf '{"id": "%s", "imageUrl": "%s"}\n' "$1" "$2"; }

test_expect_success 'user:password@ in an image URL: a bad line, the password nowhere' '
	line c1 "https://user:hunter2pass@img.example/a.jpg" >m.jsonl &&
	line c2 "http://tok3nonly@img.example/a.jpg" >>m.jsonl &&
	test_status 1 vj-ingest -r r m.jsonl >o 2>e &&
	test_grep "m.jsonl:1: imageUrl: credentials in the URL" e &&
	test_grep "m.jsonl:2: imageUrl: credentials in the URL" e &&
	! grep -r "hunter2pass\|tok3nonly" o e r
'

for u in "data:image/png;base64,iVBORw0KGgo=" "javascript:alert(1)" "ftp://img.example/a.jpg" "gopher://x/y"; do
	test_expect_success "scheme of '$u' is a bad line" "
		line s1 '$u' >s.jsonl &&
		test_status 1 vj-ingest -r r s.jsonl >o 2>e &&
		test_grep \"is not http, https or file\" e &&
		test ! -s o
	"
done

test_expect_success '//host/x is not a local path' '
	line h1 "//img.example/a.jpg" >h.jsonl &&
	test_status 1 vj-ingest -r r h.jsonl >o 2>e &&
	test_grep "names a host without a scheme" e
'

test_expect_success 'a file URL is percent-decoded' '
	line f1 "file://$TRASH/sp%20ace/g.jpg" >f.jsonl &&
	vj-ingest -r r f.jsonl >o 2>e &&
	test "$(jq -r .image.width o)" -gt 0
'

test_expect_success 'a file URL with a query or a host is a bad line' '
	line q1 "file://$TRASH/img/gradient.jpg?x=1" >q.jsonl &&
	line q2 "file://otherhost/etc/passwd" >>q.jsonl &&
	test_status 1 vj-ingest -r r q.jsonl >o 2>e &&
	test_grep "q.jsonl:1:.*no query or fragment" e &&
	test_grep "q.jsonl:2:.*a host is not allowed" e
'

test_done
