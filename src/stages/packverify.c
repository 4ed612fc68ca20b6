/* packverify: vj-pack --verify OUT.  Reads OUT/index.json and checks each
 * shard it lists: its size and sha256 against the entry, then the whole
 * shard read back (every member or line) and its records counted.  Reads
 * only: it takes no lock and needs no run. */
#include "stages/pack.h"
#include "base/hash.h"
#include "base/util.h"

#include <string.h>

static int
verify_one(const char *out, json_t *e)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *want = json_string_value(json_object_get(e, "sha256"));
	const char *fmt = json_string_value(json_object_get(e, "format"));
	uint64_t wbytes = (uint64_t)json_integer_value(json_object_get(e, "bytes"));
	uint64_t wrecs = (uint64_t)json_integer_value(json_object_get(e, "records"));
	char sha[65], err[1024];
	uint64_t size, recs;
	int bad = 1;

	if (!name || !want || !fmt) {
		vj_msg("%s/index.json: an entry without name, sha256 or format", out);
		return 1;
	}
	char *path = xasprintf("%s/%s", out, name);
	if (sha256_file(path, sha, &size) < 0)
		vj_warn("%s: bad shard: cannot read it:", path);
	else if (size != wbytes)
		vj_msg("%s: bad shard: %llu bytes, the index says %llu (truncated?)", path,
		    (unsigned long long)size, (unsigned long long)wbytes);
	else if (strcmp(sha, want) != 0)
		vj_msg("%s: bad shard: sha256 %s, the index says %s", path, sha, want);
	else if (shard_read_check(path, strcmp(fmt, "jsonl") == 0 ? SF_JSONL : SF_WDS, &recs,
	    err, sizeof err) < 0)
		vj_msg("bad shard: %s", err);
	else if (recs != wrecs)
		vj_msg("%s: bad shard: %llu records, the index says %llu", path,
		    (unsigned long long)recs, (unsigned long long)wrecs);
	else
		bad = 0;
	if (!bad)
		vj_debug("%s: good, %llu records", path, (unsigned long long)recs);
	free(path);
	return bad;
}

int
pack_verify(const char *out)
{
	char *path = xasprintf("%s/index.json", out);
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je);
	json_t *shards = json_object_get(doc, "shards");
	size_t i, nbad = 0;
	json_t *e;
	uint64_t recs = 0;

	if (!json_is_array(shards)) {
		vj_msg("%s: %s", path, doc ? "no \"shards\" array" : je.text);
		free(path);
		json_decref(doc);
		return VJ_EFAILED;
	}
	json_array_foreach(shards, i, e) {
		nbad += (size_t)verify_one(out, e);
		recs += (uint64_t)json_integer_value(json_object_get(e, "records"));
	}
	if (nbad)
		vj_msg("%s: %zu of %zu shards bad", out, nbad, json_array_size(shards));
	else
		vj_msg("%s: %zu shards, %llu records, all good", out, json_array_size(shards),
		    (unsigned long long)recs);
	free(path);
	json_decref(doc);
	return nbad ? VJ_EFAILED : VJ_OK;
}
