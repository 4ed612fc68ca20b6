#!/bin/sh
# vj-report: the page of a small offline run, of a run with failures and a
# budget stop, of an empty run; a missing run, bad options, a corrupt
# journal, a page that cannot be written; text from outside stays text.
. "$(dirname "$0")/lib.sh"
PATH="$TOP/tests/tools:$PATH"

vj-mkimages img >/dev/null

# summary PAGE: what the page holds, as JSON (python3's HTML parser: the
# tags must balance, and nothing may point outside the file).
cat >summary.py <<'EOT'
import base64, html.parser, json, struct, sys

VOID = {"meta", "img", "br", "hr", "input", "link", "source", "wbr",
        "rect", "line", "path", "circle", "polyline"}

def jpeg_size(b):
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xff:
            return None
        m, n = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if m in (0xc0, 0xc1, 0xc2):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return [w, h]
        i += 2 + n
    return None

class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.external = [], [], []
        self.s = {"plots": 0, "bars": 0, "cards": [], "thumbs": [], "swatches": 0,
                  "scripts": 0, "budget": 0, "tables": {}, "csp": "", "hidden_ctl": 0}
        self.section, self.row, self.cell, self.card = "top", None, None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        for k in ("src", "href", "action", "data"):
            v = a.get(k)
            if v is not None and not (v.startswith("data:image/") or v.startswith("#")):
                self.external.append(v)
        if "style" in a and "url(" in a["style"]:
            self.external.append(a["style"])
        c = a.get("class", "")
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.s["csp"] = a.get("content", "")
        if tag == "svg" and c == "plot":
            self.s["plots"] += 1
        if tag == "path" and a.get("fill") and "M" in a.get("d", ""):
            self.s["bars"] += 1
        if tag == "line" and c == "budget":
            self.s["budget"] += 1
        if tag == "script":
            self.s["scripts"] += 1
        if tag == "div" and a.get("id") == "gctl" and "hidden" in a:
            self.s["hidden_ctl"] = 1
        if tag == "h2":
            self.section = a.get("id", "")
        if tag == "article" and c == "card":
            self.card = {"format": a.get("data-format"), "state": a.get("data-state"),
                         "id": None, "err": ""}
            self.s["cards"].append(self.card)
        if tag == "img" and a.get("src", "").startswith("data:image/jpeg;base64,"):
            b = base64.b64decode(a["src"].split(",", 1)[1])
            self.s["thumbs"].append(jpeg_size(b) if b[:2] == b"\xff\xd8" else "not a JPEG")
        if tag == "span" and c == "sw":
            self.s["swatches"] += 1
        if tag == "tr":
            self.row = []
            self.s["tables"].setdefault(self.section, []).append(self.row)
        if tag in ("td", "th") and self.row is not None:
            self.cell = ""
        if tag == "h3" and self.card is not None:
            self.card["id"] = ""
        if tag == "p" and c == "err" and self.card is not None:
            self.card["err"] = None
    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unexpected </%s> in %s" % (tag, "/".join(self.stack[-4:])))
            return
        self.stack.pop()
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        if tag == "article":
            self.card = None
    def handle_data(self, d):
        if self.cell is not None:
            self.cell += d
        if self.card is not None and self.card["id"] == "" and self.stack and self.stack[-1] == "h3":
            self.card["id"] = d.strip()
        if self.card is not None and self.card["err"] is None:
            self.card["err"] = d
    def close(self):
        super().close()
        if self.stack:
            self.errors.append("not closed: " + "/".join(self.stack))

p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
p.close()
p.s["errors"], p.s["external"] = p.errors, p.external
print(json.dumps(p.s))
EOT
summary() { python3 summary.py "$1" >"$2" && jq -e '.errors == [] and .external == []' "$2" >/dev/null; }
# row FILE SECTION FIRST-CELL: that table row's cells, tab-separated
row() { jq -r --arg s "$2" --arg f "$3" '.tables[$s][] | select(.[0] == $f) | join("\t")' "$1"; }

cat >jobs.jsonl <<EOT
{"imageUrl": "img/half-red-half-blue.png", "id": "rb", "outputFormat": "alt_text"}
{"imageUrl": "img/white-square-on-black.png", "id": "sq", "outputFormat": "product_description"}
{"imageUrl": "img/subject-left.png", "id": "left", "outputFormat": "social_post"}
{"imageUrl": "img/dark.jpg", "id": "dark", "outputFormat": "ad_copy"}
{"imageUrl": "img/bright.jpg", "id": "bright"}
{"imageUrl": "img/palette.gif", "id": "gif", "outputFormat": "alt_text"}
{"imageUrl": "img/small.webp", "id": "webp", "outputFormat": "social_post"}
EOT

test_expect_success 'a small offline run: stages, plots, shards and a gallery with thumbnails' '
	vj-ingest jobs.jsonl 2>/dev/null | vj-analyze --provider offline 2>/dev/null |
		vj-generate --provider offline 2>/dev/null | vj-pack -o shards --shard-records 3 >/dev/null &&
	vj-report -o shards 2>err &&
	test_grep "vj-run/report.html: 7 jobs, 7 samples" err &&
	summary vj-run/report.html s &&
	test "$(row s stages ingest | cut -f1-6)" = "$(printf "ingest\t0\t0\t0\t7\t0")" &&
	test "$(row s stages generate | cut -f1-6)" = "$(printf "generate\t0\t0\t0\t7\t0")" &&
	test "$(row s stages pack | cut -f2,5)" = "$(printf "0\t7")" &&
	jq -e ".plots >= 12 and .bars >= 4 and .budget == 0 and .scripts == 1" s &&
	jq -e "[.cards[].state] == [range(7) | \"done\"]" s &&
	jq -e "[.cards[].id] == [\"bright\", \"dark\", \"gif\", \"left\", \"rb\", \"sq\", \"webp\"]" s &&
	jq -e "[.cards[] | select(.id == \"rb\")][0].format == \"alt_text\"" s &&
	jq -e "(.thumbs | length) == 7 and all(.thumbs[]; type == \"array\" and max <= 200 and min >= 1)" s &&
	jq -e ".swatches >= 7 and .hidden_ctl == 1" s &&
	jq -e ".csp | test(\"default-src .none.\")" s &&
	jq -r ".tables.shards[1:][] | .[0]" s >listed &&
	jq -r ".shards[].name" shards/index.json >want && test_cmp want listed &&
	test $(jq "[.tables.shards[1:][] | .[1] | tonumber] | add" s) -eq 7 &&
	row s shards shard-000000.tar.zst | cut -f4,5 >first-last &&
	jq -r ".shards[0] | [.first, .last] | join(\"\t\")" shards/index.json >want && test_cmp want first-last
'

test_expect_success 'the durations table and the per-hour table have rows for the work done' '
	test "$(row s durations analyze | cut -f2)" = 7 &&
	test "$(row s durations "end to end" | cut -f2)" = 7 &&
	jq -e "[.tables.cost[] | select(.[0] | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:00$\"))] | length >= 1" s
'

test_expect_success '--samples N: the same jobs every time; 0 gives none; --output - is stdout' '
	vj-report -q --samples 3 --output - >p1 &&
	vj-report -q --samples 3 --output p2 &&
	summary p1 s1 && summary p2 s2 &&
	jq -c "[.cards[].id]" s1 >ids1 && jq -c "[.cards[].id]" s2 >ids2 && test_cmp ids1 ids2 &&
	jq -e "length == 3" ids1 &&
	vj-report -q --samples 0 --output p0 && summary p0 s0 && jq -e ".cards == [] and .thumbs == []" s0
'

test_expect_success 'text from outside is escaped, never markup' '
	printf "{\"imageUrl\": \"img/stripes.png\", \"id\": \"evil\", \"imageContext\": \"<script>alert(1)</script> & <b>bold</b>\"}\n" |
		vj-ingest -q -r evil | vj-analyze -q -r evil --provider offline | vj-generate -q -r evil --provider offline >/dev/null &&
	vj-report -q -r evil &&
	summary evil/report.html se &&
	jq -e ".scripts == 1" se &&
	! grep -q "<script>alert" evil/report.html &&
	grep -q "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold" evil/report.html
'

cat >script <<EOT
f2 429,ok
f4 500,500,500
EOT
export VJ_FAKE_KEY=k1400-fake-key DEEPSEEK_API_KEY=k1400-fake-key
start_fake --script script
cat >prices.json <<EOT
{"openai": {"deepseek-flash": {"prompt": 1000, "cached": 1000, "completion": 1000}}}
EOT

# failed FILE STAGE CLASS HTTP PATTERN EVENTS FINAL: the page lists that reason
failed() {
	jq -e --arg st "$2" --arg k "$3" --arg h "$4" --arg p "$5" --arg e "$6" --arg f "$7" \
		'.tables.failures | any(.[0] == $st and .[1] == $k and .[2] == $h and .[3] == $p and .[4] == $e and .[5] == $f)' "$1" >/dev/null ||
		{ echo "no failure row $*; the page has:" >&2; jq -c ".tables.failures[]" "$1" >&2; return 1; }
}

test_expect_success 'a run with failures and a budget stop: failures by reason, the budget line' '
	export VJ_RUN=fails &&
	{ for i in 1 2 3 4 5 6 7 8 9 10; do printf "{\"imageUrl\": \"img/gradient.jpg\", \"id\": \"f%d\"}\n" $i; done
	  printf "{\"imageUrl\": \"img/empty.png\", \"id\": \"empty\"}\n"
	  printf "{\"imageUrl\": \"img/truncated.jpg\", \"id\": \"trunc\"}\n"; } >fjobs.jsonl &&
	test_status 1 vj-ingest -q fjobs.jsonl 2>/dev/null >ing &&
	test_status 1 vj-analyze -q --provider offline ing 2>/dev/null >an &&
	test_status 75 vj-generate --base-url "$FAKE_URL" --api-key-env DEEPSEEK_API_KEY --timeout 5 \
		--retries 0 -j 1 --prices prices.json --max-cost 3 an >/dev/null 2>ge.err &&
	test_grep "budget of \$3.0000 reached" ge.err &&
	vj-report -q --max-cost 3 &&
	summary fails/report.html sf &&
	jq -e ".budget == 1" sf &&
	grep -q "text class=\"budget\"[^>]*>--max-cost \$3<" fails/report.html &&
	failed sf ingest permanent "" "zero-byte file (<path>)" 1 1 &&
	failed sf analyze permanent "" "offline: truncated JPEG: the scan data ends at MCU row # of #" 1 1 &&
	failed sf generate rate 429 "openai: 429 rate_limit_exceeded" 1 0 &&
	failed sf generate retryable 500 "openai: 500 server_error: The server had an error while processing your request. Sorry about that! (attempt #/#, giving up)" 1 1 &&
	jq -e "[.cards[] | select(.state == \"failed\") | .id] | sort == [\"empty\", \"f4\", \"trunc\"]" sf &&
	jq -e "[.cards[] | select(.id == \"trunc\")][0].err | test(\"^analyze, permanent, attempt 1: offline: truncated JPEG\")" sf &&
	jq -e "[.cards[] | select(.id == \"empty\")][0].err | test(\"^ingest, permanent, attempt 1: zero-byte file\")" sf &&
	jq -e "[.cards[] | select(.state == \"pending\")] | length >= 1" sf &&
	test "$(jq "[.thumbs[] | select(type == \"array\")] | length" sf)" -eq 10
'

test_expect_success 'the costs on the page are the journal'"'"'s, as vj-status sums them' '
	export VJ_RUN=fails &&
	want=$(vj-status --json | jq -r ".stages.generate.cost_usd") &&
	got=$(row sf cost generate | cut -f5 | tr -d "\$") &&
	echo "want $want got $got" &&
	jq -n "($want - $got) | fabs < 0.00006" | grep -q true &&
	test "$(row sf stages generate | cut -f2)" -ge 1 &&
	test "$(row sf stages generate | cut -f6)" -eq 1
'

test_expect_success 'an empty run: a page with empty plots and no samples' '
	mkdir empty && vj-report -q -r empty &&
	summary empty/report.html sz &&
	jq -e ".cards == [] and .plots >= 12 and .bars == 0" sz &&
	test "$(row sz stages ingest | cut -f1-6)" = "$(printf "ingest\t0\t0\t0\t0\t0")" &&
	grep -q "No failure recorded" empty/report.html &&
	mkdir -p empty2/journal && : >empty2/journal/ingest.log && vj-report -q -r empty2
'

test_expect_success 'a missing run exits 2 and creates nothing' '
	test_status 2 vj-report -r nope 2>e &&
	test_grep "vj-report: no run at nope" e &&
	test ! -e nope
'

test_expect_success 'bad options exit 2' '
	test_status 2 vj-report --samples -1 2>e && test_grep "samples" e &&
	test_status 2 vj-report --samples lots 2>e &&
	test_status 2 vj-report --max-cost nan 2>e &&
	test_status 2 vj-report extra 2>e && test_grep "takes no arguments" e &&
	test_status 2 vj-report --bogus 2>e && test_grep "^usage: vj-report" e &&
	test_status 2 vj-report -o no-such-dir 2>e && test_grep "no output directory at no-such-dir" e
'

test_expect_success 'a page that cannot be written exits 3; a link in its place is replaced, not followed' '
	test_status 3 vj-report -q --output no-dir/page.html 2>e &&
	test_grep "cannot write no-dir/page.html" e &&
	test_status 3 vj-report -q --output - >/dev/full 2>e &&
	test_grep "error writing" e &&
	echo victim >victim && rm -f vj-run/report.html && ln -s ../victim vj-run/report.html &&
	vj-report -q && test "$(cat victim)" = victim && test ! -L vj-run/report.html &&
	mkdir -p dirpage/report.html/x && cp -r vj-run/journal dirpage/ &&
	test_status 3 vj-report -q -r dirpage 2>e && test_grep "cannot write dirpage/report.html" e &&
	test -z "$(ls dirpage | grep tmp)"
'

test_expect_success 'a corrupt journal exits 3 and names the file' '
	cp -r vj-run bad && f=bad/journal/analyze.log &&
	sed "2s/\"done\"/\"dona\"/" $f >t && mv t $f &&
	test_status 3 vj-report -q -r bad 2>e &&
	test_grep "bad/journal/analyze.log" e
'

K=0123456789abcdef0123456789abcdef
test_expect_success 'hostile journal lines and index.json: still a page, nothing injected' '
	mkdir -p hostile/journal out &&
	cat >ing <<-EOT &&
	{"ev":"journal","version":1,"t":0}
	{"ev":"job","id":"a","t":0,"key":"$K","job":{"imageUrl":"file:///x","outputFormat":"<b>x</b>\"y"}}
	{"ev":"done","id":"a","t":1e300,"key":"$K","ms":-5,"image":{"sha256":"../../etc/passwd","mime":"text/html","bytes":-1}}
	{"ev":"job","id":"b","t":-100,"key":"$K","job":{}}
	{"ev":"fail","id":"b","t":5000000000000,"key":"$K","attempt":1,"kind":"perm<x>","final":true,"status":99999,"error":"<img src=http://e/x> \u00e9 /etc/x 0123456789abcdef"}
	{"ev":"done","id":"b","t":1,"key":"$K",oops}
	EOT
	cat >an <<-EOT &&
	{"ev":"done","id":"a","t":1e300,"key":"$K","ms":1,"analysis":{"colors":{"primary":["#12345g","red","#abc","url(http://x)",7]},"x":[1,[2,[3]],{"a":"</dl>"}],"y":null},"meta":{}}
	EOT
	cat >ge <<-EOT &&
	{"ev":"done","id":"a","t":2,"key":"$K","ms":1,"content":{"text":5,"data":[1,2]},"meta":{}}
	EOT
	vj-jline <ing >hostile/journal/ingest.log && vj-jline <an >hostile/journal/analyze.log &&
	vj-jline <ge >hostile/journal/generate.log &&
	printf "{\"version\":1,\"shards\":[7,{\"name\":\"<i>s</i>\",\"records\":-3,\"bytes\":\"x\"}]}" >out/index.json &&
	vj-report -q -r hostile -o out 2>e &&
	test_grep "not valid JSON" e &&
	summary hostile/report.html sh &&
	jq -e ".swatches == 2 and (.cards | length) == 2 and .scripts == 1" sh &&
	jq -e "[.cards[] | select(.id == \"a\")][0].format == \"<b>x</b>\\\"y\"" sh &&
	jq -e "[.cards[] | select(.id == \"b\")][0].err | test(\"^ingest, perm<x>, attempt 1: <img src=http://e/x> \u00e9 /etc/x\")" sh &&
	failed sh ingest "perm<x>" "" "<img <path> é <path> <hex>" 1 1 &&
	row sh shards "<i>s</i>" | cut -f2,3 | grep -qx "$(printf "0\t0 B")" &&
	! grep -q "<img src=http" hostile/report.html && ! grep -q "<i>s</i>" hostile/report.html &&
	printf "not json" >out/index.json &&
	vj-report -q -r hostile -o out 2>e && test_grep "out/index.json:1: not JSON" e &&
	summary hostile/report.html sh2 && grep -q "not JSON" hostile/report.html
'

# (t0110 checks that --help and the man page list the same options)
test_expect_success '--help names every option; --version' '
	vj-report --help >h && test_grep "^usage: vj-report \[-qv\] \[-r RUN\] \[-o OUT\] \[--output FILE\] \[--samples N\]" h &&
	test_grep -- "--max-cost USD" h &&
	vj-report --version | grep -q "^vj-report [0-9]"
'

test_done
