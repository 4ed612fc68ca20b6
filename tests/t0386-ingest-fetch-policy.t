#!/bin/sh
# t0386-ingest-fetch-policy: what a manifest may make vj-ingest read is the
# user's choice (issue 10, item 6): --deny-private checks the address of
# every connection (loopback in every spelling, a name that resolves to
# it), --no-local-files and --files-under DIR bound local files, a FIFO or
# a directory is refused at once instead of stalling the stage, and what
# is not an image is described, never quoted.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
start_fake --static img

test_expect_success '--deny-private: loopback in every spelling is refused, nothing fetched' '
	for h in 127.0.0.1 127.1 "[::1]" localhost 0x7f000001 2130706433 "[::ffff:127.0.0.1]" 0.0.0.0; do
		printf "{\"imageUrl\": \"http://%s:%s/img/bright.jpg\"}\n" "$h" "$FAKE_PORT"
	done >m &&
	fake_reset &&
	test_status 1 vj-ingest -r r1 --deny-private --retries 5 m >o 2>e &&
	test "$(grep -c "refused to connect to .*a private address (--deny-private)" e)" -eq 8 &&
	test_grep "refused to connect to 127.0.0.1 (loopback)" e &&
	test_grep "refused to connect to ::1 (loopback)" e &&
	test_grep "refused to connect to ::ffff:127.0.0.1 (loopback)" e &&
	test_grep "refused to connect to 0.0.0.0 (this network)" e &&
	test "$(fake_total)" -eq 0 &&
	test ! -s o &&
	test "$(grep -c "\"ev\":\"fail\".*\"kind\":\"permanent\".*\"final\":true" r1/journal/ingest.log)" -eq 8
'

test_expect_success 'without --deny-private the same server is used' '
	fake_job /img/bright.jpg ok1 | vj-ingest -r r2 >o 2>e &&
	jq -e ".image.sha256" o
'

test_expect_success '--deny-private covers the redirect target too: a redirect on loopback is refused' '
	fake_reset &&
	fake_job /redirect/1/bright.jpg rd | test_status 1 vj-ingest -r r3 --deny-private 2>e &&
	test_grep "job rd: refused to connect to 127.0.0.1 (loopback)" e &&
	test "$(fake_total)" -eq 0
'

test_expect_success '--no-local-files: a local image fails its job, http still works' '
	{ job_lines "$PWD/img/bright.jpg" lf1 && job_lines "file://$PWD/img/dark.jpg" lf2 &&
	  fake_job /img/bright.jpg lf3; } >m &&
	test_status 1 vj-ingest -r r4 --no-local-files m >o 2>e &&
	test_grep "job lf1: $PWD/img/bright.jpg is a local file, and local files are not read (--no-local-files)" e &&
	test_grep "job lf2: .*not read (--no-local-files)" e &&
	test "$(jq -r .id o)" = lf3
'

test_expect_success '--files-under DIR: below it yes; outside, by "..", or by a symlink, no' '
	mkdir -p allowed/sub other &&
	cp img/bright.jpg allowed/sub/a.jpg && cp img/dark.jpg other/b.jpg &&
	ln -s "$PWD/other/b.jpg" allowed/link.jpg &&
	{ job_lines "$PWD/allowed/sub/a.jpg" in1 && job_lines "$PWD/other/b.jpg" out1 &&
	  job_lines "$PWD/allowed/../other/b.jpg" out2 && job_lines "$PWD/allowed/link.jpg" out3; } >m &&
	test_status 1 vj-ingest -r r5 --files-under allowed m >o 2>e &&
	test "$(jq -r .id o)" = in1 &&
	for id in out1 out2 out3; do
		test_grep "job $id: .* is not under $PWD/allowed (--files-under): not read" e || return 1
	done
'

test_expect_success '--files-under: a directory that is not there, or with --no-local-files, is a usage error' '
	test_status 2 vj-ingest -r r6 --files-under nowhere </dev/null 2>e &&
	test_grep "vj-ingest: --files-under nowhere: No such file or directory" e &&
	test_status 2 vj-ingest -r r6 --files-under img/bright.jpg </dev/null 2>e &&
	test_grep "not a directory" e &&
	test_status 2 vj-ingest -r r6 --files-under img --no-local-files </dev/null 2>e &&
	test_grep "contradict" e &&
	test ! -e r6
'

test_expect_success 'a FIFO as an image is refused at once, the rest goes on' '
	mkfifo img/pipe.jpg &&
	{ job_lines "$PWD/img/pipe.jpg" ff && job_lines "$PWD/img/bright.jpg" fok; } >m &&
	timeout 20 vj-ingest -r r7 m >o 2>e; st=$? &&
	test $st -eq 1 &&
	test_grep "job ff: $PWD/img/pipe.jpg is a FIFO, not a regular file: not read" e &&
	test "$(jq -r .id o)" = fok
'

test_expect_success 'a directory as an image is refused' '
	job_lines "$PWD/img" dd | test_status 1 vj-ingest -r r8 2>e &&
	test_grep "job dd: $PWD/img is a directory, not a regular file" e
'

test_expect_success 'a local file that is not an image: its kind and size, never its bytes' '
	printf "root:hunter2-0386:19000:0:99999:7:::\n" >img/shadow &&
	printf "\0\1\2hunter2-0386\3\4\5\6\7\10\11\12\13\14\15\16" >img/blob &&
	{ job_lines "$PWD/img/shadow" sh && job_lines "$PWD/img/blob" bl; } >m &&
	test_status 1 vj-ingest -r r9 m >o 2>e &&
	test_grep "job sh: not an image: text, $(wc -c <img/shadow) bytes" e &&
	test_grep "job bl: not an image: binary data of an unknown kind, $(wc -c <img/blob) bytes" e &&
	! grep -r -a -F "hunter2" e o r9
'

test_done
