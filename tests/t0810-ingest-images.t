#!/bin/sh
# vj-ingest takes only whole images, sized as displayed: a JPEG cut short (from
# a file, from a server that stops early), a PNG with no pixel data, a GIF with
# no frame and a WebP whose RIFF size is wrong are job failures; a cut
# download is retried.  EXIF orientation, 16-bit PNG grey in the offline
# analyser, and a manifest that starts with a byte-order mark.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null

# job URL ID: one manifest line
job() { printf '{"imageUrl": "%s", "id": "%s"}\n' "$1" "$2"; }
# the journal's fail events for job ID, as "kind final" lines
fails() { cut -d" " -f2- vj-run/journal/ingest.log | jq -r "select(.ev==\"fail\" and .id==\"$1\") | \"\(.kind) \(.final)\""; }
count() { curl -s "$FAKE_URL/_stats" | jq ".by_job[\"$1\"] // 0"; }
size() { wc -c <"$1" | tr -d " "; }

# serve_cut PORTFILE FILE MODE...: a one-shot HTTP server on 127.0.0.1 that
# answers one connection per MODE with FILE: "short" sends half the bytes
# under a Content-Length of all of them, "close" half the bytes as an
# HTTP/1.0 body ended by closing, "full" all of them.  It exits after the
# last MODE, or after 60 s.
serve_cut() {
	perl -MIO::Socket::INET -e '
		my ($pf, $file, @modes) = @ARGV;
		open(my $fh, "<:raw", $file) or die "$file: $!";
		my $img = do { local $/; <$fh> };
		my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
		    Listen => 5, ReuseAddr => 1) or die "listen: $!";
		open(my $p, ">", "$pf.tmp") or die; print $p $srv->sockport, "\n"; close $p;
		rename("$pf.tmp", $pf);
		alarm 60;
		for my $mode (@modes) {
			my $c = $srv->accept or last;
			my $req = "";
			while ($req !~ /\r\n\r\n/) { sysread($c, $req, 4096, length $req) or last; }
			my $n = length $img;
			my $half = substr($img, 0, int($n / 2));
			if ($mode eq "short") {
				print $c "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: $n\r\nConnection: close\r\n\r\n$half";
			} elsif ($mode eq "close") {
				print $c "HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n$half";
			} else {
				print $c "HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: $n\r\n\r\n$img";
			}
			close $c;
		}' "$@" &
	serve_pid=$!
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	CUT_URL="http://127.0.0.1:$(cat "$1")"
}

# broken images, by hand: the 45-byte PNG (signature, IHDR 100000x100000, IEND),
# a GIF with a screen and a colour table but no frame, a WebP claiming 100
# more bytes than it has, and 8000 bytes of a 16 KB JPEG
printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\001\206\240\000\001\206\240\010\002\000\000\000\000\000\000\000\000\000\000\000IEND\256B`\202' >img/p45.png
printf 'GIF89a\n\000\n\000\200\000\000\000\000\000\377\377\377;' >img/noframe.gif
perl -e 'local $/; my $d = <STDIN>; substr($d, 4, 4) = pack("V", length($d) - 8 + 100); print $d' \
	<img/small.webp >img/riff.webp
head -c 8000 img/dark.jpg >img/cut.jpg
vj-mkimages --one 200x100 left jpg img/turned.jpg --orientation 6
vj-mkimages --one 200x100 left jpg img/upright.jpg --orientation 1
vj-mkimages --one 64x64 grey png16 img/grey16.png

test_expect_success 'a JPEG cut short, from a file: failed for good, once, saying what and how big' '
	test $(size img/p45.png) -eq 45 &&
	job img/cut.jpg cutf | test_status 1 vj-ingest 2>e &&
	test_grep "job cutf: truncated image/jpeg (640x480, 8000 bytes): ends inside the scan data, before the end-of-image marker" e &&
	test "$(fails cutf)" = "permanent true" &&
	test -z "$(find vj-run/objects -type f ! -path "*/.tmp/*")"
'

test_expect_success 'the 45-byte PNG claiming 100000x100000 fails at ingest' '
	job img/p45.png p45 | test_status 1 vj-ingest 2>e &&
	test_grep "job p45: corrupt image/png (100000x100000, 45 bytes): no pixel data (no IDAT chunk)" e &&
	test "$(fails p45)" = "permanent true"
'

test_expect_success 'a GIF with no frame fails at ingest' '
	job img/noframe.gif gif0 | test_status 1 vj-ingest 2>e &&
	test_grep "job gif0: corrupt image/gif (10x10, 20 bytes): no image" e
'

test_expect_success 'a WebP whose RIFF size is not the file size fails at ingest' '
	job img/riff.webp riff | test_status 1 vj-ingest 2>e &&
	test_grep "job riff: truncated image/webp (320x240, $(size img/riff.webp) bytes): the RIFF header says $(($(size img/riff.webp) + 100)) bytes" e
'

test_expect_success 'whole images of every format still pass' '
	for f in dark.jpg sunset.jpg half-red-half-blue.png noise.png palette.gif small.webp shapes.webp; do
		job img/$f ok-${f%%.*}
	done | vj-ingest >o &&
	test $(wc -l <o) -eq 7
'

cat >script <<EOT
/img/halfonce.jpg badjson,ok
/img/halfalways.jpg badjson,badjson,badjson
/img/p45.png ok,ok
EOT
cp img/dark.jpg img/halfonce.jpg
cp img/dark.jpg img/halfalways.jpg
start_fake --static img --script script

test_expect_success 'a server that sends half the image: retried, and the second answer is taken' '
	job "$FAKE_URL/img/halfonce.jpg" h1 | vj-ingest >o 2>e &&
	jq -e ".id == \"h1\" and .image.width == 640" o &&
	test $(count /img/halfonce.jpg) -eq 2 &&
	test "$(fails h1)" = "retryable false"
'

test_expect_success 'a server that always sends half: retries used up, then failed for good' '
	job "$FAKE_URL/img/halfalways.jpg" h2 | test_status 1 vj-ingest --retries 1 2>e &&
	test_grep "job h2: truncated image/jpeg (640x480, $(($(size img/dark.jpg) / 2)) bytes): .*attempt 2/2, giving up" e &&
	test $(count /img/halfalways.jpg) -eq 2
'

test_expect_success 'a broken image over HTTP is not asked for again' '
	job "$FAKE_URL/img/p45.png" hp | test_status 1 vj-ingest 2>e &&
	test_grep "job hp: corrupt image/png (100000x100000, 45 bytes): no pixel data" e &&
	test $(count /img/p45.png) -eq 1
'

test_expect_success 'a body shorter than its Content-Length is retried' '
	serve_cut port1 img/dark.jpg short full &&
	job "$CUT_URL/a.jpg" cl | vj-ingest -v >o 2>e &&
	wait $serve_pid &&
	jq -e ".id == \"cl\" and .image.bytes == $(size img/dark.jpg)" o &&
	test "$(fails cl)" = "retryable false" &&
	test_grep "job cl: fetch: connection failed: " e
'

test_expect_success 'an HTTP/1.0 body closed early is retried, and fails in the end' '
	serve_cut port2 img/dark.jpg close close &&
	job "$CUT_URL/b.jpg" c10 | test_status 1 vj-ingest --retries 1 2>e &&
	wait $serve_pid &&
	test_grep "job c10: truncated image/jpeg (640x480, $(($(size img/dark.jpg) / 2)) bytes): ends inside the scan data.*attempt 2/2, giving up" e &&
	test "$(fails c10 | tr "\n" " ")" = "retryable false retryable true "
'

test_expect_success 'EXIF orientation 6: recorded as displayed, with its orientation' '
	{ job img/turned.jpg turned; job img/upright.jpg upright; } | vj-ingest >o &&
	jq -se "map(select(.id==\"turned\"))[0].image | .width == 100 and .height == 200 and .orientation == 6" o &&
	jq -se "map(select(.id==\"upright\"))[0].image | .width == 200 and .height == 100 and (has(\"orientation\") | not)" o
'

test_expect_success 'the offline analyser sees the turned image as displayed' '
	vj-analyze --provider offline <o >a &&
	jq -se "map(select(.id==\"turned\"))[0].analysis.composition.layout | test(\"^portrait, subject in the upper\")" a &&
	jq -se "map(select(.id==\"upright\"))[0].analysis.composition.layout | test(\"^landscape, subject in the left\")" a
'

test_expect_success 'a 16-bit PNG without colour tags: mid-grey is #808080' '
	job img/grey16.png g16 | vj-ingest -r r16 | vj-analyze -r r16 --provider offline >a &&
	jq -e ".analysis.colors.primary[0] | startswith(\"#808080\")" a
'

test_expect_success 'a manifest that starts with a UTF-8 byte-order mark' '
	{ printf "\357\273\277"; job img/dark.jpg bom; job img/sunset.jpg bom2; } >bom.jsonl &&
	vj-ingest -r rb bom.jsonl >o &&
	test "$(jq -r .id o | tr "\n" " ")" = "bom bom2 "
'

test_expect_success 'a byte-order mark on another line is still an error' '
	{ job img/dark.jpg ok1; printf "\357\273\277"; job img/sunset.jpg bom3; } >bom2.jsonl &&
	test_status 1 vj-ingest -r rb2 bom2.jsonl >o 2>e &&
	test_grep "bom2.jsonl:2: malformed JSON" e &&
	test "$(jq -r .id o)" = ok1
'

test_done
