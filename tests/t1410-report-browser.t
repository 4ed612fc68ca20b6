#!/bin/sh
# vj-report's page in a real browser (headless Chromium): it loads with no
# console error and no network request, its script runs, the plots and the
# gallery are in the DOM, the filters work, it reads without JavaScript, and
# a screenshot is taken.  Skipped where Chromium is not installed.
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	test_skip 'no chromium or chromium-browser on PATH (Debian: apt-get install chromium; scripts/install-deps does)'
	test_done
	exit
fi
say "browser: $("$CHROMIUM" --version 2>/dev/null)"

# chrome ARGS...: headless, its profile in the trash, and no host name
# resolves: nothing it does leaves the machine
chrome() {
	HOME="$TRASH" timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--user-data-dir="$TRASH/.chrome" --no-first-run --no-default-browser-check \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-default-apps --disable-extensions --disable-breakpad \
		"--host-resolver-rules=MAP * ~NOTFOUND" --enable-logging=stderr --v=0 "$@"
}
# console_errors LOG: the page's console messages and load errors
console_errors() { grep -E "CONSOLE|Uncaught|Refused to" "$1"; }
# page_requests NETLOG: URLs the page (a file:// document) asked the network for
cat >requests.py <<'EOT'
import json, sys
for e in json.load(open(sys.argv[1])).get("events", []):
    p = e.get("params") or {}
    if str(p.get("network_isolation_key", "")).startswith("file://") and "url" in p:
        if not p["url"].startswith(("file:", "data:")):
            print(p["url"])
EOT
page_requests() { python3 requests.py "$1" | sort -u; }

vj-mkimages img >/dev/null
cat >jobs.jsonl <<EOT
{"imageUrl": "img/sunset.jpg", "id": "sun", "outputFormat": "social_post"}
{"imageUrl": "img/poster-teal-orange.png", "id": "poster", "outputFormat": "ad_copy"}
{"imageUrl": "img/shapes.webp", "id": "shapes", "outputFormat": "alt_text"}
{"imageUrl": "img/palette.gif", "id": "gif", "outputFormat": "alt_text"}
{"imageUrl": "img/noise.png", "id": "noise"}
{"imageUrl": "img/truncated.jpg", "id": "trunc", "outputFormat": "alt_text"}
{"imageUrl": "img/empty.png", "id": "empty"}
EOT

test_expect_success 'the page loads with no console error and requests nothing' '
	vj-ingest jobs.jsonl 2>/dev/null | vj-analyze --provider offline 2>/dev/null |
		vj-generate --provider offline 2>/dev/null | vj-pack -o shards >/dev/null &&
	vj-report -q -o shards &&
	chrome --log-net-log="$TRASH/net.json" --dump-dom "file://$TRASH/vj-run/report.html" >dom 2>log &&
	test -s dom &&
	if console_errors log; then echo "console errors (above)" >&2; exit 1; fi &&
	page_requests net.json >req && test ! -s req
'

test_expect_success 'the plots and the gallery are in the DOM, and the script ran' '
	test $(grep -o "<svg class=\"plot\"" dom | wc -l) -ge 12 &&
	test $(grep -o "<svg class=\"states\"" dom | wc -l) -eq 4 &&
	test $(grep -o "<article class=\"card\"" dom | wc -l) -eq 7 &&
	test $(grep -o "<img src=\"data:image/jpeg;base64," dom | wc -l) -eq 5 &&
	grep -q "<div class=\"ctl\" id=\"gctl\">" dom &&
	grep -q "<span id=\"gc\" class=\"note\">7 of 7 shown</span>" dom
'

test_expect_success 'the filters hide the cards of other formats and states' '
	sed "s|</body>|<script>var f=document.getElementById(\"gf\"),s=document.getElementById(\"gs\");f.value=\"alt_text\";f.dispatchEvent(new Event(\"change\"));</script></body>|" \
		vj-run/report.html >filter.html &&
	chrome --dump-dom "file://$TRASH/filter.html" >fdom 2>flog &&
	! console_errors flog &&
	grep -o "<article [^>]*>" fdom >cards &&
	test $(grep -c "data-format=\"alt_text\"" cards) -eq 3 &&
	test $(grep -v "data-format=\"alt_text\"" cards | grep -c "hidden") -eq 4 &&
	test $(grep "data-format=\"alt_text\"" cards | grep -c "hidden") -eq 0 &&
	grep -q ">3 of 7 shown<" fdom &&
	sed "s|</body>|<script>var f=document.getElementById(\"gf\"),s=document.getElementById(\"gs\");f.value=\"alt_text\";s.value=\"failed\";s.dispatchEvent(new Event(\"change\"));</script></body>|" \
		vj-run/report.html >filter2.html &&
	chrome --dump-dom "file://$TRASH/filter2.html" >fdom2 2>flog2 &&
	grep -q ">1 of 7 shown<" fdom2 &&
	grep -o "<article [^>]*>" fdom2 | grep -v hidden | grep -q "data-state=\"failed\""
'

# (--dump-dom itself needs scripts, so the page's script is taken out instead)
test_expect_success 'without its script: every card and table is there, the dead controls are not shown' '
	sed "s|<script>.*</script>||" vj-run/report.html >noscript.html &&
	! grep -q "<script" noscript.html &&
	chrome --dump-dom "file://$TRASH/noscript.html" >ndom 2>nlog &&
	! console_errors nlog &&
	test $(grep -o "<article class=\"card\"" ndom | wc -l) -eq 7 &&
	! grep -o "<article [^>]*>" ndom | grep -q hidden &&
	grep -q "<div class=\"ctl\" id=\"gctl\" hidden=\"\">" ndom &&
	test $(grep -o "<table>" ndom | wc -l) -ge 5
'

test_expect_success 'a screenshot of the page' '
	chrome --hide-scrollbars --window-size=1280,3000 --screenshot="$TRASH/report.png" \
		"file://$TRASH/vj-run/report.html" >/dev/null 2>slog &&
	test "$(head -c 8 report.png | od -An -tx1 | tr -d " \n")" = 89504e470d0a1a0a &&
	test $(wc -c <report.png) -gt 50000
'

test_expect_success 'the checks above can fail: a broken page is caught' '
	printf "<html><body><script>nosuch();</script><img src=\"http://vj-test.invalid/x.png\"></body></html>" >bad.html &&
	chrome --log-net-log="$TRASH/badnet.json" --dump-dom "file://$TRASH/bad.html" >bdom 2>blog &&
	console_errors blog | grep -q "nosuch is not defined" &&
	page_requests badnet.json | grep -qx "http://vj-test.invalid/x.png"
'

test_done
