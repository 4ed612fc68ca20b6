#!/bin/sh
# vj-analyze --max-side / --max-pixels: the model gets a downscaled copy
# (the fake reads its header: tests/fake/fake_image.c), made once, kept in
# the object store as a derived object (RUN/derived) and reused by a later
# run; the record, the journal and vj-pack keep the original; the
# parameters are part of the cache key.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
vj-mkimages --one 1600x1200 gradient jpg big.jpg >/dev/null
export VJ_FAKE_KEY=k0640 GEMINI_API_KEY=k0640
start_fake --image-sizes

# Gemini 2.x counts an image by its 768-px tiles, so a smaller copy costs
# fewer tokens (Gemini 3's fixed budget does not change: t0660)
an() { vj-analyze --base-url "$FAKE_URL" --model gemini-2.5-flash-lite --timeout 10 "$@"; }
img() { curl -s "$FAKE_URL/_stats" | jq -r ".images[\"$1\"] | \"\(.mime) \(.width)x\(.height)\""; }
dims() { jq -r '"\(.image.width)x\(.image.height)"' "$1"; }
objects() { find vj-run/objects -type f ! -path "*/.tmp/*" | wc -l; }
src=$(sha256sum big.jpg | cut -c1-64)

test_expect_success '--max-side 512: the model gets a 512x384 JPEG; the record keeps the original' '
	mk_ingested big.jpg in a1 &&
	n0=$(objects) &&
	an --max-side 512 in >o 2>e &&
	test "$(img a1)" = "image/jpeg 512x384" &&
	test "$(jq -r .image.sha256 o)" = "$src" &&
	test "$(dims o)" = 1600x1200 &&
	test "$(jq -r .image.sha256 in)" = "$src" &&
	test $(objects) -eq $((n0 + 1)) &&
	ls vj-run/derived >entries && test $(wc -l <entries) -eq 1 &&
	test_grep "^$src-s512-p0-q85\$" entries &&
	d=$(jq -r .sha256 vj-run/derived/$src-s512-p0-q85) &&
	test -f vj-run/objects/$(echo $d | cut -c1-2)/$(echo $d | cut -c3-) &&
	test "$(jq -r .width,.height,.mime vj-run/derived/$src-s512-p0-q85 | tr "\n" " ")" = "512 384 image/jpeg "  &&
	! grep -q "$d" vj-run/journal/analyze.log
'

test_expect_success 'a smaller image costs fewer prompt tokens than the full one' '
	mk_ingested big.jpg full f1 &&
	an full >of 2>e &&
	test "$(img f1)" = "image/jpeg 1600x1200" &&
	p_small=$(grep "\"id\":\"a1\"" vj-run/journal/analyze.log | cut -d" " -f2- | jq "select(.ev==\"done\") | .usage.prompt") &&
	p_full=$(grep "\"id\":\"f1\"" vj-run/journal/analyze.log | cut -d" " -f2- | jq "select(.ev==\"done\") | .usage.prompt") &&
	echo "prompt tokens: $p_small at 512, $p_full at full size" &&
	test "$p_small" -lt "$p_full"
'

test_expect_success 'another job with the same image reuses the stored copy: nothing new is made' '
	mk_ingested big.jpg in2 a2 &&
	n0=$(objects) &&
	stat -c %Y vj-run/derived/$src-s512-p0-q85 >m0 &&
	sleep 1 &&
	an -v --max-side 512 in2 >o 2>e &&
	test "$(img a2)" = "image/jpeg 512x384" &&
	test $(objects) -eq $n0 &&
	stat -c %Y vj-run/derived/$src-s512-p0-q85 >m1 && test_cmp m0 m1 &&
	test_grep "downscaled image .* from the store" e
'

test_expect_success 'a retried request sends the same copy, made once' '
	mk_ingested big.jpg rin r1 &&
	fake_script "r1 500,ok\n" &&
	n0=$(objects) &&
	an --max-side 300 rin >o 2>e &&
	test $(fake_count r1) -eq 2 &&
	test "$(img r1)" = "image/jpeg 300x225" &&
	test $(objects) -eq $((n0 + 1)) &&
	test -f vj-run/derived/$src-s300-p0-q85 &&
	rm vj-run/derived/$src-s300-p0-q85
'

test_expect_success 'the same parameters again: nothing sent; other parameters are new work' '
	fake_reset &&
	an --max-side 512 in >o 2>e &&
	test $(fake_total) -eq 0 &&
	an --max-side 256 in >o2 2>e &&
	test $(fake_total) -eq 1 &&
	test "$(img a1)" = "image/jpeg 256x192" &&
	test "$(jq -r .keys.analyze o)" != "$(jq -r .keys.analyze o2)" &&
	an --max-pixels 30000 in >o3 2>e &&
	test "$(img a1)" = "image/jpeg 200x150" &&
	test $(ls vj-run/derived | wc -l) -eq 3
'

test_expect_success 'an image that fits is sent as it is, and nothing is derived' '
	mk_ingested img/gradient.jpg small s1 &&
	an --max-side 4000 small >o 2>e &&
	g=$(dims o) &&
	test "$(img s1)" = "image/jpeg $g" &&
	test $(ls vj-run/derived | wc -l) -eq 3
'

test_expect_success 'a PNG without alpha becomes a JPEG; a broken image fails for good, by name' '
	mk_ingested img/noise.png png p1 &&
	an --max-side 64 png >o 2>e &&
	img p1 | grep -q "^image/jpeg " &&
	mk_ingested img/truncated.jpg bad t1 &&
	test_status 1 an --max-side 64 bad >o 2>e &&
	test_grep "job t1: image [0-9a-f]* cannot be downscaled: truncated JPEG" e &&
	test $(fake_count t1) -eq 0
'

test_expect_success 'vj-pack packs the original image, not the copy' '
	an --max-side 512 in | vj-generate --provider offline -q >gen &&
	vj-pack -o out --format jsonl --embed-images --compress none gen >/dev/null &&
	cat out/shard-* | jq -r "select(.id == \"a1\") | .image.data" >b64 &&
	base64 -d b64 | sha256sum | cut -c1-64 >got && echo $src >want && test_cmp want got
'

test_done
