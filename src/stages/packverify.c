/* packverify: vj-pack --verify OUT.  Reads OUT/index.json and checks each
 * shard it lists: its name (a file of OUT, nothing outside it), its size
 * and sha256 against the entry, then the whole shard read back (every
 * member or line) and its records counted; and that OUT holds no shard
 * file the index does not list.  Reads only: it takes no lock and needs no
 * run. */
#include "stages/pack.h"
#include "stages/outlog.h"
#include "base/hash.h"
#include "base/util.h"

#include <dirent.h>
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
	if (!outlog_name_safe(name)) {
		/* an index from elsewhere must not make us read outside OUT */
		char esc[256];
		text_escape(name, strlen(name), esc, sizeof esc);
		vj_msg("%s/index.json: the entry \"%s\" is not a file name in %s (a path separator or "
		    "\"..\"): refused", out, esc, out);
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

/* Shard files of OUT that the index does not list: debris of an
 * interrupted seal, or files nothing proves whose they are. */
static size_t
unlisted(const char *out, json_t *names)
{
	DIR *d = opendir(out);
	struct dirent *de;
	size_t n = 0;
	if (!d) {
		vj_warn("cannot read %s:", out);
		return 1;
	}
	while ((de = readdir(d))) {
		long num;
		size_t pl;
		if (outlog_name(de->d_name, &num, &pl) == 0 && !json_object_get(names, de->d_name)) {
			vj_msg("%s/%s: a shard file that index.json does not list", out, de->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
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
	json_t *names = json_object();
	json_array_foreach(shards, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (name && json_object_get(names, name)) {
			vj_msg("%s/index.json: %s is listed twice", out, name);
			nbad++;
			continue;
		}
		if (name)
			json_object_set_new(names, name, json_true());
		nbad += (size_t)verify_one(out, e);
		recs += (uint64_t)json_integer_value(json_object_get(e, "records"));
	}
	nbad += unlisted(out, names);
	json_decref(names);
	if (nbad)
		vj_msg("%s: %zu problem%s in %zu shards", out, nbad, nbad == 1 ? "" : "s",
		    json_array_size(shards));
	else
		vj_msg("%s: %zu shards, %llu records, all good", out, json_array_size(shards),
		    (unsigned long long)recs);
	free(path);
	json_decref(doc);
	return nbad ? VJ_EFAILED : VJ_OK;
}
