#!/bin/sh
# The offline writer refuses an outputFormat it has no writer for: that job
# fails for good, by name, and the others are written.
. "$(dirname "$0")/lib.sh"

vj-mkimages img >/dev/null
cat >jobs.jsonl <<EOT
{"imageUrl": "img/bright.jpg", "id": "ok1", "outputFormat": "alt_text"}
{"imageUrl": "img/dark.jpg", "id": "lim", "outputFormat": "limerick"}
EOT

test_expect_success 'an unknown format is a permanent failure of its job only' '
	vj-ingest -q jobs.jsonl 2>/dev/null | vj-analyze -q --provider offline 2>/dev/null |
		{ vj-generate --provider offline >out 2>err; echo $? >st; } &&
	test "$(cat st)" = 1 &&
	test_grep "job lim: offline: unknown outputFormat .limerick." err &&
	test "$(jq -r .id out)" = ok1 &&
	cut -d" " -f2- vj-run/journal/generate.log |
		jq -e "select(.ev==\"fail\" and .id==\"lim\") | .kind == \"permanent\" and .final" >/dev/null
'

test_done
