/* pack: records in, sealed shards out, each job exactly once per OUT.
 *
 * The order of a seal is what makes a crash at any moment harmless:
 *   1. write OUT/.shard-N.tmp.PID and fsync it;
 *   2. journal its intent in OUT's log (its seal id, this run's id, the
 *      place its event takes in the pack journal) and commit;
 *   3. rename it to OUT/shard-N.EXT and fsync OUT;
 *   4. journal the shard event (with its seal and ids) and commit;
 *   5. record it sealed in OUT's log, and rewrite OUT/index.json atomically.
 * This file does 1; outdir.c does 2 to 5, and at start it cleans up after
 * a crash in any of them (and after a deleted or damaged OUT).
 *
 * While a shard is sealed, a reader thread reads the next images and
 * checks their sha256 (prefetch.c), the main thread frames the tar and feeds
 * libzstd (shard.c), whose workers compress. */
#include "stages/pack.h"
#include "stages/outdir.h"
#include "stages/prefetch.h"
#include "stages/progress.h"
#include "core/run.h"
#include "core/runid.h"
#include "core/store.h"
#include "base/hashq.h"
#include "base/key.h"
#include "base/util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct item {
	char *id;
	char *json;          /* the record without image bytes, compact */
	json_t *rec;
	uint64_t size;       /* what it adds to the uncompressed shard */
};

/* The shard being written.  With --pending the records come in id order,
 * the order the shard holds them in, so the shard is opened at the first
 * and written SEAL_LAG samples behind the records as they are built: the
 * journals are read and the records made while the images are read,
 * compressed and written, rather than all before.  Records from files are
 * sorted first, so their shard is written when the batch is complete. */
#define SEAL_LAG 64
struct sealing {
	struct shard *s;
	struct prefetch *f;      /* NULL when the format needs no image bytes */
	json_t *ids, *keys, *sup;
	char *name, *tmp;
	size_t next;             /* batch items written */
};

struct packer {
	const struct pack_cfg *c;
	struct sealing sl;
	struct hashq *hq;        /* hashes the images and the shards, pairing them */
	int stream;              /* records arrive in shard order: write as they come */
	struct run *r;
	struct outdir od;
	struct item *batch;
	size_t nbatch, capbatch;
	uint64_t batch_bytes;
	char run_id[RUNID_HEX + 1];
	int left_out;        /* records reported and not packed */
	int status;          /* VJ_EFATAL / VJ_ETEMP once something ended the run */
	/* for the progress line, the heartbeat and the summary */
	struct progress *prog;
	uint64_t n_packed, n_skipped, n_shards, n_bytes, total;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a read of stdin must return so we can stop */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* WebDataset keys end at the first dot, and a key is also a file name:
 * anything but [A-Za-z0-9_-] becomes %XX, which keeps keys distinct. */
static char *
wds_key(const char *id)
{
	struct buf b = {0};
	for (const unsigned char *s = (const unsigned char *)id; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')
			buf_add(&b, s, 1);
		else
			buf_addf(&b, "%%%02X", *s);
	}
	buf_add(&b, "", 0);
	return b.p;
}

/* One extension per field: the image's, if it is a plain short word. */
static const char *
image_ext(json_t *img)
{
	const char *e = json_string_value(json_object_get(img, "ext"));
	size_t n = e ? strlen(e) : 0;
	if (n == 0 || n > 8)
		return "img";
	for (size_t i = 0; i < n; i++)
		if (!((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9')))
			return "img";
	return e;
}

static int
is_sha(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void
left_out(struct packer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
left_out(struct packer *p, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	vj_warn("%s; left out", msg);
	p->left_out++;
}

/* Does this record have what a sample needs?  Reports it when not. */
static int
usable(struct packer *p, json_t *rec, const char *id)
{
	json_t *img = json_object_get(rec, "image");
	const char *sha = json_string_value(json_object_get(img, "sha256"));
	int need_image = p->c->so.format == SF_WDS || p->c->embed_images;

	if (!json_is_string(json_object_get(json_object_get(rec, "content"), "text"))) {
		left_out(p, "job %s: the record has no content.text (not generated?)", id);
		return 0;
	}
	if (!is_sha(sha)) {
		left_out(p, "job %s: the record has no image.sha256", id);
		return 0;
	}
	if (need_image) {
		char *path = store_path(p->c->run, sha);
		int ok = access(path, R_OK) == 0;
		if (!ok)
			left_out(p, "job %s: image object %s is missing", id, path);
		free(path);
		if (!ok)
			return 0;
	}
	return 1;
}

static int seal(struct packer *p);
static int seal_stream(struct packer *p);

static void
progress(struct packer *p)
{
	struct progress_counts c = { .ok = p->n_packed, .cached = p->n_skipped,
		.failed = (uint64_t)p->left_out, .in_flight = interrupted ? 0 : p->nbatch,
		.total = p->total, .shards = p->n_shards, .interrupted = interrupted != 0 };
	progress_set(p->prog, &c);
}

/* The record's version against the run's: 1 a new version of a job packed
 * here (its generate key differs from the packed one), 0 nothing to say,
 * -1 not to be packed (withdrawn, or a version since replaced; reported). */
static int
version_of(struct packer *p, json_t *rec, int64_t slot, const char *id)
{
	json_t *keys = json_object_get(rec, "keys");
	const char *ik = json_string_value(json_object_get(keys, "ingest"));
	const char *gk = json_string_value(json_object_get(keys, "generate"));
	struct jobstate *f = run_job(p->r, ST_INGEST, (uint32_t)slot);
	uint64_t k[2];
	char err[512];
	for (int pass = 0; pass < 2; pass++) {
		int known = p->r->job_off && (uint32_t)slot < p->r->cap && p->r->job_off[slot] != NO_OFF;
		key_parse(ik ? ik : "", k);
		int gone = known && f->state == JS_GONE;
		int stale = known && key_valid(ik) && (k[0] != f->key[0] || k[1] != f->key[1]);
		if (!gone && !stale)
			break;
		if (pass == 0) {
			/* a pipe: vj-ingest may have journaled it after our last look */
			if (run_refresh(p->r, 1u << ST_INGEST, err, sizeof err) < 0) {
				vj_msg("%s", err);
				return -1;
			}
			f = run_job(p->r, ST_INGEST, (uint32_t)slot);
			continue;
		}
		if (gone) {
			vj_info("job %s: withdrawn (vj-ingest --forget): not packed", id);
			p->n_skipped++;
			return -1;
		}
		left_out(p, "job %s: the record is of a version of the job since replaced "
		    "(vj-ingest --replace)", id);
		return -1;
	}
	uint64_t pk = outdir_packed_key(&p->od, slot);
	if (!pk || !key_valid(gk))
		return 0;
	key_parse(gk, k);
	return k[1] != pk;
}

/* Take one record into the current shard; seal it when full. */
static int
add_record(struct packer *p, json_t *rec)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	if (!id || !*id) {
		left_out(p, "a record without an id");
		json_decref(rec);
		return 0;
	}
	int64_t slot = idx_get(p->r->ids, id, strlen(id), 1);
	uint8_t *st = outdir_seen(&p->od, slot);
	int v = version_of(p, rec, slot, id);
	if (v < 0) {
		json_decref(rec);
		progress(p);
		return 0;
	}
	if (*st == OUTDIR_PACKED && v == 1) {
		vj_debug("job %s: a new version: packed again, the old one is marked superseded", id);
	} else if (*st != OUTDIR_UNPACKED) {
		vj_debug("job %s: %s, skipped", id, *st == OUTDIR_PACKED ?
		    "already packed into this OUT" : "given twice, packed once");
		json_decref(rec);
		p->n_skipped++;
		progress(p);
		return 0;
	}
	if (!usable(p, rec, id)) {
		json_decref(rec);
		progress(p);
		return 0;
	}
	*st = OUTDIR_QUEUED;
	json_object_del(json_object_get(rec, "image"), "data");

	struct item it = { xstrdup(id), json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15)), rec, 0 };
	json_t *img = json_object_get(rec, "image");
	size_t ibytes = (size_t)json_integer_value(json_object_get(img, "bytes"));
	const char *text = json_string_value(json_object_get(json_object_get(rec, "content"), "text"));
	if (p->c->so.format == SF_WDS) {
		struct shard_member m[3] = { { "json", NULL, strlen(it.json) },
			{ image_ext(img), NULL, ibytes }, { "txt", NULL, strlen(text) } };
		it.size = shard_sample_size(m, 3, strlen(id));
	} else {
		it.size = strlen(it.json) + 80 + (p->c->embed_images ? ibytes / 3 * 4 + 4 : 0);
	}
	if (p->nbatch == p->capbatch) {
		p->capbatch = p->capbatch ? p->capbatch * 2 : 256;
		p->batch = xrealloc(p->batch, p->capbatch * sizeof *p->batch);
	}
	p->batch[p->nbatch++] = it;
	p->batch_bytes += it.size;
	progress(p);
	if (p->stream && seal_stream(p) < 0)
		return -1;
	if (p->nbatch >= p->c->shard_records || p->batch_bytes >= p->c->shard_bytes)
		return seal(p);
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return strcmp(x->id, y->id);
}

static void
free_batch(struct packer *p)
{
	for (size_t i = 0; i < p->nbatch; i++) {
		free(p->batch[i].id);
		free(p->batch[i].json);
		json_decref(p->batch[i].rec);
	}
	p->nbatch = 0;
	p->batch_bytes = 0;
}

/* Base64 with padding, by libcrypto.  Its lengths are ints: a long input
 * goes in pieces a multiple of 3 bytes long, whose outputs simply join. */
static char *
base64(const unsigned char *s, size_t n)
{
	enum { PIECE = 3 << 20 };
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	for (size_t i = 0; i < n; i += PIECE) {
		size_t k = n - i < PIECE ? n - i : PIECE;
		o += EVP_EncodeBlock((unsigned char *)o, s + i, (int)k);
	}
	*o = 0;
	return out;
}

static const char *
item_sha(const struct item *it)
{
	const char *sha = json_string_value(json_object_get(json_object_get(it->rec, "image"), "sha256"));
	return sha ? sha : "";
}

/* The format needs the images' bytes. */
static int
needs_images(const struct packer *p)
{
	return p->c->so.format == SF_WDS || p->c->embed_images;
}

/* A job's image, read and checked by the prefetcher; NULL reported. */
static struct prefetch_img *
get_image(struct packer *p, struct prefetch *f, size_t i)
{
	struct prefetch_img *sl;
	if (prefetch_take(f, i, &sl) == 0)
		return sl;
	struct item *it = &p->batch[i];
	if (sl->err == ENOENT) {
		char *path = store_path(p->c->run, item_sha(it));
		left_out(p, "job %s: image object %s is missing", it->id, path);
		free(path);
	} else {
		left_out(p, "job %s: image object %s: %s", it->id, item_sha(it),
		    sl->err == EILSEQ ? "its bytes do not match its hash" : strerror(sl->err));
	}
	return NULL;
}

/* jsonl: the record with image.url (and image.data with --embed-images). */
static char *
jsonl_line(struct packer *p, struct prefetch *f, size_t i, int *bad)
{
	struct item *it = &p->batch[i];
	json_t *img = json_object_get(it->rec, "image");
	const char *url = json_string_value(json_object_get(json_object_get(it->rec, "job"), "imageUrl"));
	*bad = 0;
	if (!json_is_object(img))
		return xstrdup(it->json);
	if (url)
		json_object_set_new(img, "url", json_string(url));
	if (p->c->embed_images) {
		struct prefetch_img *bytes = get_image(p, f, i);
		if (!bytes) {
			*bad = 1;
			return NULL;
		}
		char *b64 = base64((unsigned char *)(bytes->map ? bytes->map : bytes->p), bytes->len);
		json_object_set_new(img, "data", json_string(b64));
		free(b64);
	}
	char *s = json_dumps(it->rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_object_del(img, "data");
	return s;
}

/* Write sample i of the batch; 1 when the job had to be left out, -1 on a
 * write error. */
static int
write_item(struct packer *p, struct prefetch *f, struct shard *s, size_t i, char *err,
    size_t errlen)
{
	struct item *it = &p->batch[i];
	int r;
	if (p->c->so.format == SF_JSONL) {
		int bad;
		char *line = jsonl_line(p, f, i, &bad);
		if (bad)
			return 1;
		struct shard_member m = { "jsonl", line, strlen(line) };
		r = shard_add(s, it->id, &m, 1, err, errlen);
		free(line);
		return r;
	}
	struct prefetch_img *img = get_image(p, f, i);
	if (!img)
		return 1;
	const char *text = json_string_value(json_object_get(json_object_get(it->rec, "content"), "text"));
	struct shard_member m[3] = { { "json", it->json, strlen(it->json) },
		{ image_ext(json_object_get(it->rec, "image")), img->map ? img->map : img->p, img->len },
		{ "txt", text, strlen(text) } };
	char *key = wds_key(it->id);
	r = shard_add(s, key, m, 3, err, errlen);
	free(key);
	return r;
}

static int
setup(struct packer *p)
{
	char err[1024];
	int rc;

	if ((rc = outdir_init(&p->od, p->c->out)) != VJ_OK)
		return rc;
	p->r = run_new(p->c->run);
	rc = run_own(p->r, ST_PACK, p->c->fsync, 0, err, sizeof err);
	if (rc != VJ_OK) {
		vj_msg("%s", err);
		return rc;
	}
	/* with the pack lock held: a run of vj 0.1 gets its id here */
	struct outdir_run who = { .r = p->r, .dir = p->c->run, .id = p->run_id,
		.fsync = p->c->fsync, .pending = p->c->pending };
	if (runid_get(p->c->run, p->run_id, 1, err, sizeof err) < 0 ||
	    runid_partition(p->c->run, &who.part_k, &who.part_n, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	if ((rc = outdir_open(&p->od, &who)) != VJ_OK)
		return rc;
	/* the ingest journal in any case: which jobs were withdrawn or
	 * replaced (vj-ingest --forget, --replace) */
	if (run_refresh(p->r, p->c->pending ? 1u << ST_INGEST | 1u << ST_ANALYZE | 1u << ST_GENERATE :
	    1u << ST_INGEST, err, sizeof err) < 0) {
		vj_msg("%s", err);
		return VJ_EFATAL;
	}
	if (outdir_withdraw(&p->od) < 0)
		return VJ_EFATAL;
	return VJ_OK;
}

static int
fatal(struct packer *p, int status)
{
	p->status = status;
	return -1;
}

/* A shard's index entry, one line on stdout: what a pipeline reads. */
static void
print_entry(json_t *entry)
{
	if (!entry)
		return;
	char *line = json_dumps(entry, JSON_COMPACT | JSON_REAL_PRECISION(15));
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(entry);
}

/* Open the next shard (its temporary) and its image reader. */
static int
seal_open(struct packer *p)
{
	char err[1024];
	struct sealing *w = &p->sl;
	w->name = outdir_shard_name(&p->od, &p->c->so);
	w->tmp = outdir_temp_path(&p->od);
	w->ids = json_array();
	w->keys = json_array();
	w->sup = json_object();
	w->next = 0;
	struct shard_opts so = p->c->so;
	if (needs_images(p) && !p->hq)
		p->hq = hashq_new();
	so.hq = p->hq;
	w->s = shard_create(w->tmp, &so, err, sizeof err);
	if (!w->s) {
		vj_msg("%s", err);
		return fatal(p, VJ_EFATAL);
	}
	w->f = needs_images(p) ? prefetch_open(p->c->run, p->hq) : NULL;
	return 0;
}

/* Done with the shard, sealed or not: its temporary removed if still there. */
static void
seal_close(struct packer *p)
{
	struct sealing *w = &p->sl;
	if (w->s)
		shard_abort(w->s);
	prefetch_end(w->f);
	json_decref(w->ids);
	json_decref(w->keys);
	json_decref(w->sup);
	free(w->name);
	free(w->tmp);
	memset(w, 0, sizeof *w);
}

/* Write the batch's samples up to `upto`.  -1 when the run must stop. */
static int
seal_write(struct packer *p, size_t upto)
{
	char err[1024];
	struct sealing *w = &p->sl;
	for (; w->next < upto && !interrupted; w->next++) {
		size_t i = w->next;
		int r = write_item(p, w->f, w->s, i, err, sizeof err);
		if (w->f)
			prefetch_release(w->f, i);
		if (r < 0) {
			vj_msg("%s (sealing %s; the temp file is removed)", err, w->name);
			return fatal(p, VJ_EFATAL);
		}
		if (r > 0) {
			*outdir_seen_id(&p->od, p->batch[i].id) = OUTDIR_UNPACKED;
			continue;
		}
		const char *id = p->batch[i].id;
		const char *gk = json_string_value(json_object_get(json_object_get(p->batch[i].rec,
		    "keys"), "generate"));
		int64_t slot = idx_get(p->r->ids, id, strlen(id), 1);
		const char *old = outdir_packed_seal(&p->od, slot);
		json_array_append_new(w->ids, json_string(id));
		json_array_append_new(w->keys, key_valid(gk) ? json_string(gk) : json_null());
		/* an older version of it is in a shard of ours: superseded */
		if (old) {
			if (!json_object_get(w->sup, old))
				json_object_set_new(w->sup, old, json_array());
			json_array_append_new(json_object_get(w->sup, old), json_string(id));
		}
	}
	return 0;
}

/* A record was added in shard order: open the shard at the first, hand
 * the reader its image, write what is SEAL_LAG behind. */
static int
seal_stream(struct packer *p)
{
	if (!p->sl.s && seal_open(p) < 0)
		return -1;
	if (p->sl.f)
		prefetch_add(p->sl.f, item_sha(&p->batch[p->nbatch - 1]));
	return p->nbatch > SEAL_LAG ? seal_write(p, p->nbatch - SEAL_LAG) : 0;
}

/* Seal the current batch as the next shard.  -1 when the run must stop. */
static int
seal(struct packer *p)
{
	char err[1024];
	char sha[65];
	uint64_t bytes;
	struct sealing *w = &p->sl;
	int r = 0;

	if (p->nbatch == 0 && !w->s)
		return 0;
	if (!w->s) {
		qsort(p->batch, p->nbatch, sizeof *p->batch, by_id);
		if ((r = seal_open(p)) < 0)
			goto out;
		for (size_t i = 0; w->f && i < p->nbatch; i++)
			prefetch_add(w->f, item_sha(&p->batch[i]));
	}
	if ((r = seal_write(p, p->nbatch)) < 0)
		goto out;
	prefetch_end(w->f);
	w->f = NULL;
	if (interrupted || json_array_size(w->ids) == 0) {
		if (interrupted)
			r = fatal(p, VJ_ETEMP);
		goto out;
	}
	struct shard *s = w->s;
	w->s = NULL;
	if (shard_finish(s, sha, &bytes, err, sizeof err) < 0) {
		vj_msg("%s (sealing %s; the temp file is removed)", err, w->name);
		r = fatal(p, VJ_EFATAL);
		goto out;
	}
	if (interrupted) {
		unlink(w->tmp);
		r = fatal(p, VJ_ETEMP);
		goto out;
	}
	json_t *entry;
	int c = outdir_commit(&p->od, w->tmp, w->name, w->ids, w->keys, w->sup, bytes, sha,
	    &p->c->so, &entry);
	print_entry(entry);
	if (c < 0) {
		r = fatal(p, VJ_EFATAL);
	} else {
		vj_debug("sealed %s/%s: %zu records", p->c->out, w->name, json_array_size(w->ids));
		p->n_packed += json_array_size(w->ids);
		p->n_shards++;
		p->n_bytes += bytes;
	}
out:
	seal_close(p);
	free_batch(p);
	progress(p);
	return r;
}

static int
feed_file(struct packer *p, const char *file)
{
	int is_stdin = strcmp(file, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int r = 0;

	if (!f) {
		vj_warn("cannot open %s:", file);
		p->left_out++;
		return 0;
	}
	while (!interrupted && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		json_error_t je;
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue;
		json_t *rec = json_loadb(line, (size_t)n, 0, &je);
		if (!json_is_object(rec)) {
			left_out(p, "%s:%ld: not a JSON record: %s", is_stdin ? "stdin" : file, lineno,
			    rec ? "not an object" : je.text);
			json_decref(rec);
			continue;
		}
		if ((r = add_record(p, rec)) < 0)
			break;
	}
	if (!interrupted && r == 0 && ferror(f)) {
		vj_warn("cannot read %s:", is_stdin ? "stdin" : file);
		r = fatal(p, VJ_EFATAL);
	}
	free(line);
	if (!is_stdin)
		fclose(f);
	return r;
}

static struct idx *pend_idx;   /* qsort has no context argument */

static int
by_slot_id(const void *a, const void *b)
{
	return strcmp(idx_id(pend_idx, *(const uint32_t *)a), idx_id(pend_idx, *(const uint32_t *)b));
}

/* Every generated job not yet packed into OUT, in id order: so the same
 * run always splits into the same shards. */
static int
feed_pending(struct packer *p)
{
	uint32_t n = idx_count(p->r->ids), k = 0;
	uint32_t *slots = xcalloc(n, sizeof *slots);
	int r = 0;
	for (uint32_t s = 0; s < n; s++) {
		/* generated from the job's current version, and not packed here
		 * (or packed in an older version: packed again, superseding it) */
		if (!run_current(p->r, ST_GENERATE, s))
			continue;
		uint8_t st = *outdir_seen(&p->od, s);
		if (st == OUTDIR_UNPACKED || (st == OUTDIR_PACKED && !outdir_live(&p->od, s)))
			slots[k++] = s;
	}
	pend_idx = p->r->ids;
	qsort(slots, k, sizeof *slots, by_slot_id);
	p->total = k;
	for (uint32_t i = 0; i < k && !interrupted && r == 0; i++) {
		json_t *rec = run_record(p->r, slots[i], ST_GENERATE);
		if (!rec) {
			left_out(p, "job %s: its record cannot be read from the journals",
			    idx_id(p->r->ids, slots[i]));
			continue;
		}
		r = add_record(p, rec);
	}
	free(slots);
	return r;
}

static void
teardown(struct packer *p)
{
	seal_close(p);
	hashq_free(p->hq);
	free_batch(p);
	free(p->batch);
	run_free(p->r);
	outdir_close(&p->od);
}

int
pack_run(const struct pack_cfg *c)
{
	struct packer p = { .c = c, .stream = c->pending };
	/* from the start: a SIGTERM while OUT is opened (its repairs, the
	 * journals read) ends the run as any other, with exit 75 */
	catch_signals();
	int rc = setup(&p);
	if (rc != VJ_OK) {
		teardown(&p);
		return rc;
	}
	p.prog = progress_start(c->run, ST_PACK, &(struct progress_opts){ c->progress, c->heartbeat });
	if (!c->pending && progress_shown(p.prog))
		p.total = progress_count_lines(c->files, c->nfiles);
	progress(&p);
	int r = 0;
	if (c->pending)
		r = feed_pending(&p);
	else if (c->nfiles == 0)
		r = feed_file(&p, "-");
	for (int i = 0; i < c->nfiles && r == 0 && !interrupted; i++)
		r = feed_file(&p, c->files[i]);
	if (r == 0 && !interrupted)
		seal(&p);
	if (interrupted && !p.status) {
		seal_close(&p);
		free_batch(&p);
		p.status = VJ_ETEMP;
	}
	if (p.status == VJ_ETEMP)
		vj_msg("interrupted by signal %d: sealed shards are kept, the rest is packed by the next run",
		    (int)interrupted);
	if (p.status != VJ_EFATAL && outdir_finish(&p.od) < 0)
		p.status = VJ_EFATAL;
	rc = p.status ? p.status : p.left_out ? VJ_EFAILED : VJ_OK;
	struct progress_counts pc = { .ok = p.n_packed, .cached = p.n_skipped,
		.failed = (uint64_t)p.left_out, .total = p.total, .shards = p.n_shards,
		.interrupted = interrupted != 0 };
	progress_end(p.prog, &pc);
	if (p.left_out)
		vj_msg("%d record%s left out", p.left_out, p.left_out == 1 ? "" : "s");
	/* a run with nothing to pack says nothing (a quiet night under cron) */
	if (vj_verbose >= 0 && (p.n_packed || p.n_skipped || p.left_out || interrupted)) {
		char extra[256];
		snprintf(extra, sizeof extra, "\"stage\":\"pack\",\"packed\":%llu,\"shards\":%llu,"
		    "\"bytes\":%llu,\"skipped\":%llu,\"left_out\":%d,\"status\":%d",
		    (unsigned long long)p.n_packed, (unsigned long long)p.n_shards,
		    (unsigned long long)p.n_bytes, (unsigned long long)p.n_skipped, p.left_out, rc);
		vj_event("summary", extra, "%llu packed into %llu shard%s (%llu bytes), %llu already packed "
		    "into %s or given twice, %d left out%s", (unsigned long long)p.n_packed,
		    (unsigned long long)p.n_shards, p.n_shards == 1 ? "" : "s",
		    (unsigned long long)p.n_bytes, (unsigned long long)p.n_skipped, c->out, p.left_out,
		    interrupted ? ", interrupted" : "");
	}
	teardown(&p);
	return rc;
}
