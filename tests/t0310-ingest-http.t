#!/bin/sh
# vj-ingest over HTTP through the engine: status codes, retries, redirects,
# non-images, size caps, timeouts.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
cat >script <<EOT
/img/flaky.jpg 500,ok
/img/down.jpg 503,503,503,503,503,503
EOT
cp img/dark.jpg img/flaky.jpg
cp img/dark.jpg img/down.jpg
echo '<!DOCTYPE html><html><body>hello</body></html>' >img/page.jpg
start_fake --static img --script script

test_expect_success 'an image over http' '
	fake_job /img/bright.jpg b1 | vj-ingest >o &&
	jq -e ".image.mime == \"image/jpeg\" and .image.width == 640" o
'

test_expect_success 'HTTP 404 fails the job for good, once' '
	fake_job /img/none.jpg nf | test_status 1 vj-ingest 2>e &&
	test_grep "job nf: HTTP 404" e &&
	test $(fake_count /img/none.jpg) -eq 1
'

test_expect_success '500 then 200 succeeds after a retry' '
	fake_job /img/flaky.jpg fl | vj-ingest -v >o 2>e &&
	jq -e ".id == \"fl\"" o &&
	test $(fake_count /img/flaky.jpg) -eq 2 &&
	grep "\"ev\":\"fail\"" vj-run/journal/ingest.log | grep -q "\"kind\":\"retryable\""
'

test_expect_success 'retries exhausted: failed for good with the reason, not asked again' '
	fake_job /img/down.jpg dn | test_status 1 vj-ingest --retries 2 2>e &&
	test_grep "job dn: HTTP 503 .*attempt 3/3, giving up" e &&
	test $(fake_count /img/down.jpg) -eq 3 &&
	fake_job /img/down.jpg dn | test_status 1 vj-ingest --retries 2 2>e &&
	test $(fake_count /img/down.jpg) -eq 3
'

test_expect_success '--retry-failed gives it another chance' '
	fake_script "/img/down.jpg 503" &&
	fake_job /img/down.jpg dn | vj-ingest --retries 2 --retry-failed >o &&
	jq -e ".id == \"dn\"" o
'

test_expect_success 'a redirect loop' '
	fake_job /loop lp | test_status 1 vj-ingest 2>e &&
	test_grep "job lp: too many redirects" e
'

test_expect_success 'redirects are followed up to 5' '
	fake_job /redirect/4/bright.jpg r4 | vj-ingest >o &&
	jq -e ".id == \"r4\"" o &&
	fake_job /redirect/7/bright.jpg r7 | test_status 1 vj-ingest 2>e &&
	test_grep "job r7: too many redirects" e
'

test_expect_success 'a redirect to file:// is refused' '
	fake_job /to-file tf | test_status 1 vj-ingest 2>e &&
	test_grep "job tf: refused: .*other than http" e
'

test_expect_success 'an HTML page served with 200' '
	fake_job /html ht | test_status 1 vj-ingest 2>e &&
	test_grep "job ht: not an image: an HTML page, [0-9]* bytes (served as text/html" e &&
	! grep -F "DOCTYPE" e &&
	fake_job /img/page.jpg hj | test_status 1 vj-ingest 2>e &&
	test_grep "job hj: not an image" e
'

test_expect_success 'an image over the size cap' '
	fake_job /img/noise.png big | test_status 1 vj-ingest --max-bytes 10K 2>e &&
	test_grep "job big: answer larger than the cap of 10240 bytes" e
'

test_expect_success 'a server slower than the timeout' '
	fake_job /hang slow | test_status 1 vj-ingest --timeout 0.5 --retries 1 2>e &&
	test_grep "job slow: .*timeout.*attempt 2/2" e
'

test_expect_success 'a dead server: connection refused is retried, then fails' '
	printf "{\"imageUrl\": \"http://127.0.0.1:1/a.jpg\", \"id\": \"dead\"}\n" |
		test_status 1 vj-ingest --retries 1 2>e &&
	test_grep "job dead: fetch: connection failed" e
'

test_expect_success 'many jobs in flight at once' '
	for i in $(seq 1 200); do fake_job /img/gradient.jpg m$i; done >many.jsonl &&
	vj-ingest -r many -j 32 many.jsonl >o &&
	test $(wc -l <o) -eq 200 &&
	test $(ls many/objects/*/* | wc -l) -eq 1
'

test_done
