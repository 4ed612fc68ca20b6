/* packverify: vj-pack --verify OUT.  Reads OUT/index.json and checks each
 * shard it lists: its name (a file of OUT, nothing outside it), its size
 * and sha256 against the entry, then the whole shard read back (every
 * member or line) and its records counted; and that OUT holds no shard
 * file the index does not list.  Reads only: it takes no lock and needs no
 * run. */
#include "stages/pack.h"
#include "stages/outlog.h"
#include "core/idx.h"
#include "base/hash.h"
#include "base/util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* Every live sample's id (not marked superseded in its entry), and the
 * shard that holds it: a live id in two shards is a problem, a superseded
 * one is not (a newer version, or a withdrawn job, readers skip). */
struct ids {
	struct idx *seen;
	uint32_t *owner;     /* by id slot: the entry's number */
	size_t nowner;
	json_t *shards;      /* the index's entries */
	uint32_t cur;        /* the entry being read */
	json_t *sup;         /* its superseded ids: {id: true} */
	size_t sup_seen, dups;
	const char *out;
};

static void
on_id(void *ctx, const char *key, size_t len)
{
	struct ids *x = ctx;
	char *id = xmalloc(len + 1);
	memcpy(id, key, len);
	id[len] = 0;
	if (json_object_get(x->sup, id)) {
		x->sup_seen++;
		free(id);
		return;
	}
	int64_t slot = idx_get(x->seen, id, len, 0);
	if (slot >= 0) {
		char esc[256];
		text_escape(id, len, esc, sizeof esc);
		if (++x->dups <= 10)
			vj_msg("%s: job id %s is live in %s and in %s (neither entry marks it superseded)",
			    x->out, esc, json_string_value(json_object_get(json_array_get(x->shards,
			    x->owner[slot]), "name")), json_string_value(json_object_get(json_array_get(
			    x->shards, x->cur), "name")));
		free(id);
		return;
	}
	slot = idx_get(x->seen, id, len, 1);
	if ((size_t)slot >= x->nowner) {
		x->nowner = x->nowner ? x->nowner * 2 : 4096;
		x->owner = xrealloc(x->owner, x->nowner * sizeof *x->owner);
	}
	x->owner[slot] = x->cur;
	free(id);
}

static int
verify_one(const char *out, json_t *e, struct ids *x)
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
	else if (shard_read_ids(path, strcmp(fmt, "jsonl") == 0 ? SF_JSONL : SF_WDS, &recs,
	    on_id, x, err, sizeof err) < 0)
		vj_msg("bad shard: %s", err);
	else if (recs != wrecs)
		vj_msg("%s: bad shard: %llu records, the index says %llu", path,
		    (unsigned long long)recs, (unsigned long long)wrecs);
	else if (x->sup_seen != json_object_size(x->sup))
		vj_msg("%s: its entry marks %zu ids superseded, the shard holds %zu of them", path,
		    json_object_size(x->sup), x->sup_seen);
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
	struct ids x = { .seen = idx_new(), .shards = shards, .out = out };
	uint64_t nsup = 0;
	json_array_foreach(shards, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		if (name && json_object_get(names, name)) {
			vj_msg("%s/index.json: %s is listed twice", out, name);
			nbad++;
			continue;
		}
		if (name)
			json_object_set_new(names, name, json_true());
		json_t *sup = json_object_get(e, "superseded"), *v;
		size_t k;
		x.cur = (uint32_t)i;
		x.sup = json_object();
		x.sup_seen = 0;
		json_array_foreach(sup, k, v)
			if (json_string_value(v))
				json_object_set(x.sup, json_string_value(v), json_true());
		if (sup && (!json_is_array(sup) || json_object_size(x.sup) != json_array_size(sup))) {
			vj_msg("%s/index.json: %s: \"superseded\" is not a list of distinct ids", out,
			    name ? name : "an entry");
			nbad++;
		} else {
			nbad += (size_t)verify_one(out, e, &x);
		}
		nsup += json_object_size(x.sup);
		json_decref(x.sup);
		x.sup = NULL;
		recs += (uint64_t)json_integer_value(json_object_get(e, "records"));
	}
	nbad += x.dups;
	if (x.dups > 10)
		vj_msg("%s: ... %zu job ids live in more than one shard in all", out, x.dups);
	idx_free(x.seen);
	free(x.owner);
	nbad += unlisted(out, names);
	json_decref(names);
	if (nbad)
		vj_msg("%s: %zu problem%s in %zu shards", out, nbad, nbad == 1 ? "" : "s",
		    json_array_size(shards));
	else if (nsup)
		vj_msg("%s: %zu shards, %llu records (%llu superseded or withdrawn, %llu live), all good",
		    out, json_array_size(shards), (unsigned long long)recs, (unsigned long long)nsup,
		    (unsigned long long)(recs - nsup));
	else
		vj_msg("%s: %zu shards, %llu records, all good", out, json_array_size(shards),
		    (unsigned long long)recs);
	free(path);
	json_decref(doc);
	return nbad ? VJ_EFAILED : VJ_OK;
}
