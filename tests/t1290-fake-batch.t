#!/bin/sh
# t1290-fake-batch: the fake's Gemini and OpenAI batch APIs, driven with curl:
# uploads, creates, states, downloads joined by key, errors, expiry, cancel,
# validation, listing and the counters.  The batches' clock only moves when
# the test says so (POST /_batch/advance), so nothing here depends on timing.
. "$(dirname "$0")/lib.sh"

K=sekrit-batch-key
GREQ='{"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"image/png","data":"iVBORw0KGgo="}},{"text":"Describe the image."}]}],"generationConfig":{"responseMimeType":"application/json"}}'
OREQ='{"model":"om","messages":[{"role":"user","content":"Write a caption."}]}'
D=1000000	# every state lasts this long (ms) until the test advances the clock

adv() { curl -s -X POST "$FAKE_URL/_batch/advance?ms=$1" >/dev/null; }
bstat() { curl -s "$FAKE_URL/_stats" | jq -c ".batch$1"; }

# glines PREFIX N: N Gemini batch lines keyed PREFIX-i:ck
glines() { i=1; while [ $i -le $2 ]; do printf '{"key":"%s-%d:ck","request":%s}\n' "$1" $i "$GREQ"; i=$((i + 1)); done; }
# olines PREFIX N [MODEL]: N OpenAI batch lines with custom_id PREFIX-i.x
olines() {
	i=1
	while [ $i -le $2 ]; do
		printf '{"custom_id":"%s-%d.x","method":"POST","url":"/v1/chat/completions","body":{"model":"%s","messages":[{"role":"user","content":"Write a caption."}]}}\n' "$1" $i "${3:-om}"
		i=$((i + 1))
	done
}

G() { curl -s -H "x-goog-api-key: $K" "$@"; }
O() { curl -s -H "Authorization: Bearer $K" "$@"; }

# gstart FILE NAME [curl args]: the resumable start; headers in ./h, status out
gstart() {
	f=$1 n=$2
	shift 2
	curl -s -o /dev/null -D h -w '%{http_code}' -H 'X-Goog-Upload-Protocol: resumable' \
	    -H 'X-Goog-Upload-Command: start' -H 'X-Goog-Upload-Header-Content-Type: application/jsonl' \
	    -H "X-Goog-Upload-Header-Content-Length: $(wc -c <"$f" | tr -d ' ')" \
	    -H 'Content-Type: application/json' -d "{\"file\":{\"display_name\":\"$n\"}}" "$@" \
	    "$FAKE_URL/upload/v1beta/files"
}
upurl() { sed -n 's/^x-goog-upload-url: //p' h | tr -d '\r'; }
# gup FILE NAME: upload FILE, print files/ID
gup() {
	gstart "$1" "$2" -H "x-goog-api-key: $K" >/dev/null &&
	G -H 'X-Goog-Upload-Command: upload, finalize' -H 'X-Goog-Upload-Offset: 0' \
	    --data-binary @"$1" "$(upurl)" | jq -r .file.name
}
# gcreate FILEID NAME [MODEL]: create a batch, the operation in ./op, print its name
gcreate() {
	G -d "{\"batch\":{\"display_name\":\"$2\",\"input_config\":{\"file_name\":\"$1\"}}}" \
	    "$FAKE_URL/v1beta/models/${3:-gm}:batchGenerateContent" >op && jq -r .name op
}
gget() { G "$FAKE_URL/v1beta/$1" >op; }
gstate() { gget "$1" && jq -r .metadata.state op; }
# gdl FILEID: download to ./out
gdl() { G "$FAKE_URL/download/v1beta/$1:download?alt=media" >out; }

# oup FILE: upload with multipart, print the file id
oup() { O -F purpose=batch -F "file=@$1" "$FAKE_URL/v1/files" | jq -r .id; }
# ocreate FILEID [METADATA]: create, the batch in ./ob, print its id
ocreate() {
	meta=${2:-null}
	O -H 'Content-Type: application/json' -d "{\"input_file_id\":\"$1\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\",\"metadata\":$meta}" \
	    "$FAKE_URL/v1/batches" >ob && jq -r .id ob
}
oget() { O "$FAKE_URL/v1/batches/$1" >ob; }
ostatus() { oget "$1" && jq -r .status ob; }
odl() { O "$FAKE_URL/v1/files/$1/content" >out; }

start_fake --key $K --models gm,om,om2 --seed 5 --batch-pending-ms $D --batch-running-ms $D \
    --batch-finalizing-ms $D --batch-cancel-ms $D
U=$FAKE_URL

# ---- Gemini ----

test_expect_success 'gemini upload: start answers a loopback upload URL, then the bytes' '
	glines gj 10 >g.jsonl &&
	test "$(gstart g.jsonl run1-0 -H "x-goog-api-key: $K")" = 200 &&
	upurl | test_grep "^http://127.0.0.1:$FAKE_PORT/upload/v1beta/files?upload_id=" &&
	test_grep -i "^x-goog-upload-status: active" h &&
	G -D h2 -H "X-Goog-Upload-Command: upload, finalize" -H "X-Goog-Upload-Offset: 0" \
		--data-binary @g.jsonl "$(upurl)" >f.json &&
	test_grep -i "^x-goog-upload-status: final" h2 &&
	jq -e ".file.name | startswith(\"files/\")" f.json &&
	jq -e ".file.sizeBytes == \"$(wc -c <g.jsonl | tr -d " ")\" and .file.displayName == \"run1-0\"
		and .file.state == \"ACTIVE\"" f.json &&
	G "$U/v1beta/$(jq -r .file.name f.json)" | jq -e ".sizeBytes == \"$(wc -c <g.jsonl | tr -d " ")\""
'

test_expect_success 'gemini upload: key, offset and length are checked' '
	test "$(gstart g.jsonl x)" = 400 &&
	test "$(gstart g.jsonl x -H "x-goog-api-key: wrong")" = 400 &&
	gstart g.jsonl x -H "x-goog-api-key: $K" >/dev/null &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -H "X-Goog-Upload-Command: upload, finalize" \
		-H "X-Goog-Upload-Offset: 5" --data-binary @g.jsonl "$(upurl)")" = 400 &&
	test "$(curl -s -o e.json -w "%{http_code}" -H "X-Goog-Upload-Command: upload, finalize" \
		-H "X-Goog-Upload-Offset: 0" --data-binary "short" "$(upurl)")" = 400 &&
	jq -e ".error.status == \"INVALID_ARGUMENT\"" e.json
'

test_expect_success 'gemini upload: in two pieces, with query' '
	gstart g.jsonl two -H "x-goog-api-key: $K" >/dev/null && url=$(upurl) &&
	head -c 100 g.jsonl >p1 && tail -c +101 g.jsonl >p2 &&
	G -H "X-Goog-Upload-Command: upload" -H "X-Goog-Upload-Offset: 0" --data-binary @p1 "$url" &&
	G -D hq -X POST -H "X-Goog-Upload-Command: query" "$url" &&
	test_grep -i "^x-goog-upload-size-received: 100" hq &&
	G -H "X-Goog-Upload-Command: upload, finalize" -H "X-Goog-Upload-Offset: 100" \
		--data-binary @p2 "$url" | jq -e ".file.sizeBytes == \"$(wc -c <g.jsonl | tr -d " ")\""
'

test_expect_success 'gemini create: an operation, pending, counted once' '
	F=$(gup g.jsonl run1-0) && B=$(gcreate "$F" run1-0) && echo "$B" >gb &&
	case "$B" in batches/*) ;; *) false ;; esac &&
	jq -e ".metadata.state == \"BATCH_STATE_PENDING\" and .metadata.displayName == \"run1-0\"
		and .metadata.model == \"models/gm\" and .metadata.batchStats.requestCount == \"10\"
		and .metadata.inputConfig.fileName == \"$F\" and (.done // false) == false" op &&
	test "$(bstat .creates)" = 1 && test "$(bstat .lines)" = 10
'

test_expect_success 'gemini states: running with counts, still running at 100%, then succeeded' '
	B=$(cat gb) && adv $((D + D / 2)) &&
	test "$(gstate $B)" = BATCH_STATE_RUNNING &&
	jq -e ".metadata.batchStats | (.successfulRequestCount|tonumber) == 5
		and (.pendingRequestCount|tonumber) == 5" op &&
	adv $((D / 2)) && test "$(gstate $B)" = BATCH_STATE_RUNNING &&
	jq -e ".metadata.batchStats | .pendingRequestCount == null and .successfulRequestCount == \"10\"" op &&
	adv $D && test "$(gstate $B)" = BATCH_STATE_SUCCEEDED &&
	jq -e ".done == true and (.response.responsesFile | startswith(\"files/\"))
		and .metadata.output.responsesFile == .response.responsesFile" op &&
	jq -r .response.responsesFile op >grf
'

test_expect_success 'gemini download: every key once, shuffled, with usage' '
	gdl "$(cat grf)" && test_grep -c . out | test_grep "^10$" &&
	jq -r .key out | sort >got && jq -r .key g.jsonl | sort >want && test_cmp want got &&
	jq -r .key out >order && jq -r .key g.jsonl >inorder && ! cmp -s order inorder &&
	jq "select(.response.usageMetadata.totalTokenCount > 0 | not)" out >bad && test ! -s bad
'

test_expect_success 'gemini: a batch answer is the online answer for the same job' '
	for i in 1 4 9; do
		G -H "X-VJ-Job: gj-$i" -d "$GREQ" "$U/v1beta/models/gm:generateContent" | jq -S . >on &&
		jq -S "select(.key == \"gj-$i:ck\") | .response" out >ba && test_cmp on ba || exit 1
	done
'

test_expect_success 'gemini: scripted faults are per-key errors' '
	fake_script "ge-2 500\nge-3 429\n" && glines ge 4 >ge.jsonl &&
	B=$(gcreate "$(gup ge.jsonl errs)" errs) && adv $((3 * D)) &&
	test "$(gstate $B)" = BATCH_STATE_SUCCEEDED &&
	jq -e ".metadata.batchStats | .failedRequestCount == \"2\" and .successfulRequestCount == \"2\"" op &&
	gdl "$(jq -r .response.responsesFile op)" &&
	jq -s -e ".[] | select(.key == \"ge-2:ck\") | .error.code == 500 and .response == null" out &&
	jq -s -e ".[] | select(.key == \"ge-3:ck\") | .error.status == \"RESOURCE_EXHAUSTED\"" out &&
	jq -s -e ".[] | select(.key == \"ge-1:ck\") | .response.candidates[0].finishReason == \"STOP\"" out
'

test_expect_success 'gemini inline requests: inlinedResponses with the metadata' '
	jq -c "{request: .request, metadata: {key: .key}}" ge.jsonl | jq -s -c "{batch: {display_name: \"inl\",
		input_config: {requests: {requests: .}}}}" >inl.json &&
	G -d @inl.json "$U/v1beta/models/gm:batchGenerateContent" >op && B=$(jq -r .name op) &&
	adv $((3 * D)) && gget $B &&
	jq -e ".response.inlinedResponses.inlinedResponses | length == 4 and
		([.[].metadata.key] | sort) == [\"ge-1:ck\",\"ge-2:ck\",\"ge-3:ck\",\"ge-4:ck\"] and
		([.[] | select(.response)] | length) == 4" op
'

test_expect_success 'gemini validation: refused at create, no batch made' '
	c0=$(bstat .creates) &&
	{ glines gd 2; glines gd 1; } >dup.jsonl &&
	test "$(G -o e.json -w "%{http_code}" -d "{\"batch\":{\"display_name\":\"d\",\"input_config\":{\"file_name\":\"$(gup dup.jsonl d)\"}}}" \
		"$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	jq -e ".error.status == \"INVALID_ARGUMENT\" and (.error.message | test(\"line 3: duplicate key .gd-1:ck.\"; \"i\"))" e.json &&
	test "$(G -o e.json -w "%{http_code}" -d "{\"batch\":{\"input_config\":{\"file_name\":\"files/nope\"}}}" \
		"$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	test "$(G -o e.json -w "%{http_code}" -d "{\"batch\":{\"input_config\":{\"file_name\":\"$(gup g.jsonl x)\"}}}" \
		"$U/v1beta/models/nosuch:batchGenerateContent")" = 404 &&
	printf "{\"key\":\"a\",\"request\":{}}\nnot json\n" >badj.jsonl &&
	test "$(G -o e.json -w "%{http_code}" -d "{\"batch\":{\"input_config\":{\"file_name\":\"$(gup badj.jsonl x)\"}}}" \
		"$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	jq -e ".error.message | test(\"Line 2\")" e.json &&
	test "$(G -o /dev/null -w "%{http_code}" -H "x-goog-api-key: wrong" -d "{}" \
		"$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	test "$(bstat .creates)" = "$c0" && test "$(bstat .create_errors)" -ge 4
'

test_expect_success 'gemini cancel: cancelled, keeping what was answered' '
	glines gc 10 >gc.jsonl && B=$(gcreate "$(gup gc.jsonl canc)" canc) &&
	adv $((D + D * 3 / 10)) &&
	G -X POST -o /dev/null -w "%{http_code}" "$U/v1beta/$B:cancel" | test_grep "^200$" &&
	test "$(gstate $B)" = BATCH_STATE_CANCELLED && jq -e ".done == true" op &&
	jq -e ".metadata.batchStats.successfulRequestCount == \"3\"" op &&
	gdl "$(jq -r .response.responsesFile op)" && test "$(wc -l <out)" = 3 &&
	adv $((3 * D)) && test "$(gstate $B)" = BATCH_STATE_CANCELLED &&
	test "$(G -X POST -o /dev/null -w "%{http_code}" "$U/v1beta/$B:cancel")" = 400
'

test_expect_success 'gemini list: newest first, paged, display names for recovery' '
	G "$U/v1beta/batches" >l.json &&
	jq -e ".operations | length == 4 and .[0].metadata.displayName == \"canc\"
		and .[3].metadata.displayName == \"run1-0\"" l.json &&
	G "$U/v1beta/batches?pageSize=3" >l1.json && T=$(jq -r .nextPageToken l1.json) &&
	G "$U/v1beta/batches?pageSize=3&pageToken=$T" >l2.json &&
	jq -e ".operations | length == 1 and .[0].metadata.displayName == \"run1-0\"" l2.json &&
	jq -e ".nextPageToken == null" l2.json
'

# ---- OpenAI ----

test_expect_success 'openai upload: multipart, a file object' '
	olines oj 10 >o.jsonl && O -F purpose=batch -F file=@o.jsonl "$U/v1/files" >of.json &&
	jq -e ".object == \"file\" and (.id | startswith(\"file-\")) and .purpose == \"batch\"
		and .bytes == $(wc -c <o.jsonl | tr -d " ") and .filename == \"o.jsonl\"" of.json &&
	test "$(O -o /dev/null -w "%{http_code}" -F purpose=fine-tune -F file=@o.jsonl "$U/v1/files")" = 400 &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -F purpose=batch -F file=@o.jsonl "$U/v1/files")" = 401
'

test_expect_success 'uploads are spooled: 3 MB, chunked, file part first, back byte for byte' '
	olines sp 20000 >sp.jsonl && test "$(wc -c <sp.jsonl)" -gt 2000000 &&
	O -H "Transfer-Encoding: chunked" -F file=@sp.jsonl -F purpose=batch "$U/v1/files" >sf.json &&
	jq -e ".bytes == $(wc -c <sp.jsonl | tr -d " ")" sf.json &&
	odl "$(jq -r .id sf.json)" && cmp out sp.jsonl &&
	gstart sp.jsonl sp -H "x-goog-api-key: $K" >/dev/null &&
	G -H "X-Goog-Upload-Command: upload, finalize" -H "X-Goog-Upload-Offset: 0" \
		-H "Transfer-Encoding: chunked" --data-binary @sp.jsonl "$(upurl)" >gf.json &&
	gdl "$(jq -r .file.name gf.json)" && cmp out sp.jsonl
'

test_expect_success 'openai create and states: validating, in_progress, finalizing, completed' '
	OB=$(ocreate "$(jq -r .id of.json)" "{\"vj_run\":\"r1\",\"vj_seq\":\"0\"}") && echo $OB >obid &&
	jq -e ".object == \"batch\" and .status == \"validating\" and .request_counts.total == 10
		and .metadata.vj_run == \"r1\" and .endpoint == \"/v1/chat/completions\"
		and .output_file_id == null and .model == \"om\"" ob &&
	adv $((D + D * 4 / 10)) && test "$(ostatus $OB)" = in_progress &&
	jq -e ".request_counts.completed == 4 and .in_progress_at != null" ob &&
	adv $((D * 6 / 10)) && test "$(ostatus $OB)" = finalizing &&
	jq -e ".request_counts.completed == 10 and .output_file_id == null" ob &&
	adv $D && test "$(ostatus $OB)" = completed &&
	jq -e ".completed_at != null and (.output_file_id | startswith(\"file-\")) and .error_file_id == null" ob
'

test_expect_success 'openai download: joined by custom_id, equal to the online answers' '
	odl "$(jq -r .output_file_id ob)" && test "$(wc -l <out)" = 10 &&
	jq -r .custom_id out | sort >got && jq -r .custom_id o.jsonl | sort >want && test_cmp want got &&
	jq -r .custom_id out >order && jq -r .custom_id o.jsonl >inorder && ! cmp -s order inorder &&
	jq "select(.response.status_code != 200 or .error != null
		or (.response.body.usage.total_tokens > 0 | not) or (.id | startswith(\"batch_req_\") | not))" out >bad &&
	test ! -s bad &&
	for i in 2 7; do
		O -H "X-VJ-Job: oj-$i" -d "$OREQ" "$U/v1/chat/completions" | jq -S . >on &&
		jq -S "select(.custom_id == \"oj-$i.x\") | .response.body" out >ba && test_cmp on ba || exit 1
	done
'

test_expect_success 'openai: per-request errors go to the error file' '
	fake_script "oe-1 429\noe-3 schema\n" && olines oe 3 >oe.jsonl &&
	OB=$(ocreate "$(oup oe.jsonl)") && adv $((3 * D)) && test "$(ostatus $OB)" = completed &&
	jq -e ".request_counts == {\"total\":3,\"completed\":2,\"failed\":1}" ob &&
	odl "$(jq -r .error_file_id ob)" &&
	jq -s -e ".[] | select(.custom_id == \"oe-1.x\") | .response.status_code == 429
		and .response.body.error.code == \"rate_limit_exceeded\"" out &&
	odl "$(jq -r .output_file_id ob)" && test "$(wc -l <out)" = 2
'

# v0code FILE CODE: the file fails validation with CODE
v0code() {
	OB=$(ocreate "$(oup "$1")") && test "$(ostatus $OB)" = validating &&
	adv $D && test "$(ostatus $OB)" = failed &&
	jq -e ".errors.object == \"list\" and .errors.data[0].code == \"$2\"
		and (.errors.data[0].message | length > 0) and .failed_at != null
		and .output_file_id == null" ob
}

test_expect_success 'openai validation: duplicate custom_id, model mix, bad lines' '
	{ olines od 3; olines od 1; } >dup.jsonl && v0code dup.jsonl duplicate_custom_id &&
	jq -e ".errors.data[0].line == 4" ob &&
	{ olines om 2; olines om2x 1 om2; } >mix.jsonl && v0code mix.jsonl model_mismatch &&
	jq -e ".errors.data[0].message | test(\"om2\")" ob &&
	{ olines ob 1; echo "{oops"; } >bad.jsonl && v0code bad.jsonl invalid_json_line &&
	olines ou 1 | sed "s,/v1/chat/completions,/v1/embeddings," >url.jsonl && v0code url.jsonl url_mismatch &&
	printf "\n" >empty.jsonl && v0code empty.jsonl empty_file
'

test_expect_success 'openai cancel while validating a bad file: cancelled, not failed' '
	OB=$(ocreate "$(oup dup.jsonl)") &&
	O -X POST "$U/v1/batches/$OB/cancel" | jq -e ".status == \"cancelling\"" &&
	adv $D && test "$(ostatus $OB)" = cancelled && jq -e ".errors == null" ob
'

test_expect_success 'openai create: bad requests are 400/404, no batch made' '
	c0=$(bstat .creates) && F=$(jq -r .id of.json) &&
	test "$(O -o e.json -w "%{http_code}" -d "{\"input_file_id\":\"file-nope\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"24h\"}" "$U/v1/batches")" = 404 &&
	test "$(O -o e.json -w "%{http_code}" -d "{\"input_file_id\":\"$F\",\"endpoint\":\"/v1/chat/completions\",\"completion_window\":\"1h\"}" "$U/v1/batches")" = 400 &&
	jq -e ".error.type == \"invalid_request_error\"" e.json &&
	test "$(bstat .creates)" = "$c0"
'

test_expect_success 'openai cancel: cancelling, then cancelled with the answers so far' '
	olines oc 10 >oc.jsonl && OB=$(ocreate "$(oup oc.jsonl)") &&
	adv $((D + D / 2)) &&
	O -X POST "$U/v1/batches/$OB/cancel" | jq -e ".status == \"cancelling\" and .cancelling_at != null" &&
	test "$(ostatus $OB)" = cancelling &&
	test "$(O -o /dev/null -w "%{http_code}" -X POST "$U/v1/batches/$OB/cancel")" = 400 &&
	adv $D && test "$(ostatus $OB)" = cancelled &&
	jq -e ".request_counts.completed == 5 and .cancelled_at != null" ob &&
	odl "$(jq -r .output_file_id ob)" && test "$(wc -l <out)" = 5
'

test_expect_success 'openai list: newest first, limit and after, metadata' '
	O "$U/v1/batches" >l.json &&
	jq -e ".object == \"list\" and (.data | length) == 9 and .has_more == false
		and .data[-1].metadata.vj_run == \"r1\" and .first_id == .data[0].id" l.json &&
	O "$U/v1/batches?limit=4" >l1.json && jq -e ".has_more == true and (.data | length) == 4" l1.json &&
	O "$U/v1/batches?limit=10&after=$(jq -r .last_id l1.json)" >l2.json &&
	jq -e "(.data | length) == 5 and .has_more == false" l2.json &&
	jq -s -e "[.[0].data[].id] + [.[1].data[].id] == [.[2].data[].id]" l1.json l2.json l.json
'

test_expect_success 'odd requests get clean errors, and the fake stays up' '
	st() { curl -s -o /dev/null -w "%{http_code}" -H "x-goog-api-key: $K" -H "Authorization: Bearer $K" "$@"; } &&
	test "$(st -d "[]" "$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	test "$(st -d "{\"batch\":{\"input_config\":{\"requests\":{\"requests\":[1,null]}}}}" \
		"$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	test "$(st "$U/v1beta/batches?pageToken=99999999&pageSize=-3")" = 200 &&
	test "$(st -X POST "$U/v1beta/batches/nope:cancel")" = 404 &&
	test "$(st -d 5 "$U/v1/batches")" = 400 &&
	test "$(st "$U/v1/batches/nope")" = 404 &&
	test "$(st "$U/v1/files/nope/content")" = 404 &&
	test "$(st -H "Content-Type: multipart/form-data; boundary=abc" --data-binary "--ab" "$U/v1/files")" = 400 &&
	test "$(st -X POST "$U/upload/v1beta/files?upload_id=nope")" = 404 &&
	test "$(st "$U/download/v1beta/files/nope:download?alt=media")" = 404 &&
	test "$(st "$U/_stats")" = 200
'

test_expect_success 'counters: uploads, creates, gets, lists, cancels, downloads, states' '
	curl -s "$U/_stats" >s.json &&
	jq -e ".batch | .uploads >= 12 and .upload_bytes > 0 and .creates == 13 and .gets > 20
		and .lists >= 6 and .cancels == 3 and .downloads >= 7 and .download_bytes > 0
		and .states.completed == 2 and .states.failed == 5 and .states.cancelled == 2
		and .states.BATCH_STATE_SUCCEEDED == 3 and .states.BATCH_STATE_CANCELLED == 1
		and .polls.finalizing >= 1 and .polls.BATCH_STATE_PENDING == null
		and .by_job[\"oj-3\"] == 1 and .by_job[\"gj-10\"] == 1
		and .by_name[\"run1-0\"] == 1 and (.by_name | length) == 6
		and ([.by_name | to_entries[] | select(.key != \"null\") | .value] | all(. == 1))
		and .by_name.null == 8" s.json &&
	fake_reset && bstat "" | jq -e ".creates == 0 and .gets == 0 and .states.completed == 2"
'

stop_bg
test_expect_success 'the fake exits cleanly (nothing on its stderr)' '
	test ! -s "$TRASH/.fake.log" || { cat "$TRASH/.fake.log"; false; }
'

# ---- limits, expiry, per-request errors ----

mkdir tmp
TMPDIR=$TRASH/tmp start_fake --seed 5 --models gm,om --batch-pending-ms $D --batch-running-ms $D \
    --batch-finalizing-ms $D --batch-expire-after 60% --batch-max-requests 12 \
    --batch-max-bytes 3000 --upload-max-bytes 4000
U=$FAKE_URL

test_expect_success 'openai expiry at 60%: the answers kept, the rest batch_expired' '
	olines ox 10 >ox.jsonl && OB=$(ocreate "$(oup ox.jsonl)") &&
	adv $((D + D / 2)) && test "$(ostatus $OB)" = in_progress &&
	adv $((D / 2)) && test "$(ostatus $OB)" = expired &&
	jq -e ".request_counts.completed == 6 and .expired_at != null" ob &&
	odl "$(jq -r .output_file_id ob)" && jq -r .custom_id out | sort >answered && test "$(wc -l <answered)" = 6 &&
	odl "$(jq -r .error_file_id ob)" && test "$(wc -l <out)" = 4 &&
	jq "select(.error.code != \"batch_expired\" or .response != null)" out >bad && test ! -s bad &&
	jq -r .custom_id out | sort >expired && cat answered expired | sort >all &&
	jq -r .custom_id ox.jsonl | sort >want && test_cmp want all
'

test_expect_success 'gemini expiry: EXPIRED, no results' '
	glines gx 10 >gx.jsonl && B=$(gcreate "$(gup gx.jsonl exp)" exp) &&
	adv $((2 * D)) && test "$(gstate $B)" = BATCH_STATE_EXPIRED &&
	jq -e ".done == true and .response == null" op
'

test_expect_success 'limits: too many requests, too many bytes' '
	olines ot 13 >ot.jsonl && v0code ot.jsonl too_many_tasks &&
	olines ob 22 >big.jsonl && test $(wc -c <big.jsonl) -gt 3000 && v0code big.jsonl file_too_large &&
	glines gt 13 >gt.jsonl &&
	test "$(G -o e.json -w "%{http_code}" -d "{\"batch\":{\"input_config\":{\"file_name\":\"$(gup gt.jsonl t)\"}}}" \
		"$U/v1beta/models/gm:batchGenerateContent")" = 400 &&
	jq -e ".error.message | test(\"12 requests\")" e.json
'

test_expect_success 'uploads over --upload-max-bytes get 413' '
	glines gb 20 >huge.jsonl && test "$(wc -c <huge.jsonl)" -gt 4000 &&
	test "$(gstart huge.jsonl big)" = 413 &&
	gstart gt.jsonl ok >/dev/null && cat gt.jsonl gt.jsonl >gt2.jsonl &&
	test "$(curl -s -o /dev/null -w "%{http_code}" -H "X-Goog-Upload-Command: upload, finalize" \
		-H "X-Goog-Upload-Offset: 0" --data-binary @gt2.jsonl "$(upurl)")" = 413 &&
	test "$(O -o e.json -w "%{http_code}" -F purpose=batch -F file=@huge.jsonl "$U/v1/files")" = 413
'

stop_bg
test_expect_success 'the fake exits cleanly (nothing on its stderr)' '
	test ! -s "$TRASH/.fake.log" || { cat "$TRASH/.fake.log"; false; }
'
test_expect_success 'the fake removes its batch directory on exit' '
	test -z "$(ls tmp)"
'

start_fake --seed 9 --models om,gm --batch-pending-ms 0 --batch-running-ms 0 --batch-finalizing-ms 0 \
    --batch-perror 0.4 --batch-fail-after 50% --batch-dir "$TRASH/bdir"
U=$FAKE_URL

test_expect_success '--batch-perror: a share of per-request 500s, the same each run' '
	olines op 40 >op.jsonl && F=$(oup op.jsonl) &&
	OB=$(ocreate "$F") && test "$(ostatus $OB)" = completed &&
	odl "$(jq -r .error_file_id ob)" && jq -r .custom_id out | sort >e1 &&
	test "$(wc -l <e1)" -gt 5 && test "$(wc -l <e1)" -lt 30 &&
	jq "select(.response.status_code != 500)" out >bad && test ! -s bad &&
	OB=$(ocreate "$F") && test "$(ostatus $OB)" = completed &&
	odl "$(jq -r .error_file_id ob)" && jq -r .custom_id out | sort >e2 && test_cmp e1 e2
'

test_expect_success '--batch-fail-after: Gemini FAILED with an error, no results' '
	glines gf 4 >gf.jsonl && B=$(gcreate "$(gup gf.jsonl fail)" fail) &&
	test "$(gstate $B)" = BATCH_STATE_FAILED &&
	jq -e ".done == true and .error.code == 13 and .response == null and
		(.metadata.batchStats | ((.successfulRequestCount // \"0\") | tonumber) +
		((.failedRequestCount // \"0\") | tonumber)) == 2" op
'

stop_bg
test_expect_success 'the fake exits cleanly (nothing on its stderr)' '
	test ! -s "$TRASH/.fake.log" || { cat "$TRASH/.fake.log"; false; }
'
test_expect_success 'a --batch-dir is kept' '
	test -n "$(ls bdir)"
'

test_done
