/* batchcollect: a finished batch's results downloaded (streamed to
 * RUN/batch/), joined by key in any order, each answer checked by the
 * provider's own parse and journaled as done or failed; what the batch did
 * not answer is journaled for the fallback (docs/providers.md). */
#include "stages/batchint.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int
batch_members_load(struct bstate *x, long seq, struct members *ms)
{
	char path[PATH_MAX];
	batch_path(x, seq, ".keys", path, sizeof path);
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	memset(ms, 0, sizeof *ms);
	ms->ix = idx_new();
	if (!f)
		return -1;
	while ((len = getline(&line, &cap, f)) > 0) {
		char *sp = strchr(line, ' ');
		if (!sp || line[len - 1] != '\n')
			continue;
		line[len - 1] = 0;
		*sp = 0;
		if (strlen(sp + 1) != KEY_HEX)
			continue;
		char jk[256];
		snprintf(jk, sizeof jk, "%s.%s", line, sp + 1);
		if (idx_get(ms->ix, jk, strlen(jk), 0) >= 0)
			continue;
		idx_get(ms->ix, jk, strlen(jk), 1);
		if (ms->n == ms->cap) {
			ms->cap = ms->cap ? ms->cap * 2 : 256;
			ms->m = xrealloc(ms->m, ms->cap * sizeof *ms->m);
		}
		ms->m[ms->n++] = (struct member){ xstrdup(line), xstrdup(sp + 1), 0 };
	}
	free(line);
	fclose(f);
	return 0;
}

void
batch_members_free(struct members *ms)
{
	for (size_t i = 0; i < ms->n; i++) {
		free(ms->m[i].id);
		free(ms->m[i].key);
	}
	free(ms->m);
	idx_free(ms->ix);
}

/* One answer: validated by the provider's own parse, journaled. */
static void
answer(struct bstate *x, const char *id, const char *key, long status, const char *body,
    int64_t end_t)
{
	int64_t slot = idx_get(x->run->ids, id, strlen(id), 0);
	if (slot < 0) {
		vj_warn("batch answer for job %s, which the run does not hold: ignored", id);
		return;
	}
	struct jobstate *f = run_job(x->run, x->s, (uint32_t)slot);
	uint64_t k[2];
	key_parse(key, k);
	if (f->state == JS_DONE && f->key[0] == k[0] && f->key[1] == k[1])
		return;   /* journaled before a crash, or answered twice */
	int attempts = f->state == JS_RETRY && f->fkey == (uint32_t)k[1] ? f->attempts : 0;
	json_t *rec = run_record(x->run, (uint32_t)slot, (enum stage)stage_info[x->s].up);
	if (!rec) {
		vj_warn("job %s: no record from vj-%s for its batch answer: ignored", id,
		    stage_name[stage_info[x->s].up]);
		return;
	}
	const char *up = json_string_value(json_object_get(json_object_get(rec, "keys"),
	    stage_name[stage_info[x->s].up]));
	char want[KEY_HEX + 1];
	key_derive(stage_name[x->s], x->d->cfg, up ? up : "", want);
	if (strcmp(want, key)) {
		vj_warn("job %s: a batch answer for another configuration (key %.12s, now %.12s): "
		    "ignored", id, key, want);
		json_decref(rec);
		return;
	}
	struct eng_task t = { .rec = rec, .id = id, .attempts = attempts };
	struct eng_resp r = { .status = status, .body = body, .len = strlen(body),
		.retry_after = -1, .should_retry = -1 };
	struct eng_err e = { .retry_after = -1 };
	json_t *result = NULL, *usage = NULL;
	int rc = x->d->ops->parse(x->d->pctx, &t, &r, &result, &usage, &e);
	if (usage) {
		/* the batch tier, at the time the batch ran: its price */
		json_object_set_new(usage, "tier", json_string("batch"));
		json_object_set_new(usage, "t", json_integer(end_t ? end_t : now_ms()));
	}
	if (rc == 0) {
		batch_job_done(x, (uint32_t)slot, rec, id, key, attempts + 1, result, usage);
	} else {
		int counted = e.cls == EC_RETRY || e.cls == EC_PERM;
		int final = e.cls == EC_PERM || (e.cls == EC_RETRY && attempts + 1 > x->c->retries);
		batch_job_fail(x, id, key, attempts + counted, e.cls, final, e.status, usage, e.msg);
	}
	json_decref(result);
	json_decref(usage);
	json_decref(rec);
}

/* Every line of a results file. */
void
batch_read_results(struct bstate *x, const char *path, struct members *ms, int64_t end_t)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lno = 0, since = 0;
	if (!f)
		return;
	while ((len = getline(&line, &cap, f)) > 0 && !x->io_failed) {
		char *key, *body;
		long status;
		int missing;
		lno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len)
			continue;
		if (len > (64 << 20)) {
			/* as an online answer over the engine's cap */
			vj_warn("%s:%ld: a result line of %zd bytes, over 64 MiB: ignored", path, lno, len);
			continue;
		}
		if (bw_result_line(x->pc, line, (size_t)len, &key, &status,
		    &body, &missing) < 0) {
			vj_warn("%s:%ld: not a batch result line: ignored", path, lno);
			continue;
		}
		int64_t m = ms ? idx_get(ms->ix, key, strlen(key), 0) : 0;
		char *dot = strrchr(key, '.');
		if (m < 0 || !dot || strlen(dot + 1) != KEY_HEX) {
			vj_warn("%s:%ld: key %.80s is not one of the batch's requests: ignored", path, lno,
			    key);
		} else if (!ms || !ms->m[m].answered) {
			if (ms && !missing)
				ms->m[m].answered = 1;
			*dot = 0;
			if (!missing)
				answer(x, key, dot + 1, status, body, end_t);
			if (lno == 2) {
				batch_commit(x);
				batch_crash_point("results");
			}
			/* results in groups: durable before they are printed */
			if (++since >= 1000) {
				batch_commit(x);
				since = 0;
			}
		}
		free(key);
		free(body);
	}
	free(line);
	fclose(f);
	batch_commit(x);
}

/* Download file_id to path (streamed); 0, or -1. */
static int
download(struct bstate *x, struct batch_rec *b, const char *file_id, const char *path)
{
	char tmp[PATH_MAX + 8], what[64];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	snprintf(what, sizeof what, "batch-%ld", b->seq);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		vj_warn("cannot write %s:", tmp);
		x->io_failed = 1;
		return -1;
	}
	/* the answers to b->n requests, each at most the limits' answer_max
	 * (data/batch.txt: an answer is text under the schema's bounds and
	 * max_tokens; a file bigger than that is not an answer file) */
	uint64_t cap = (uint64_t)(b->n > 0 ? b->n : 1) * (uint64_t)x->lim.answer_max + (64u << 10);
	struct breq q = { .pc = x->pc, .stop = &batch_got_signal, .kind = RQ_DOWNLOAD, .file_id = file_id,
	    .fd = fd, .max_bytes = cap };
	int r = breq_run(&q, what);
	if (r < 0 && q.got > cap) {
		close(fd);
		unlink(tmp);
		vj_msg("batch %ld: its file %s is over %llu bytes, more than the answers to %ld requests "
		    "can be: refused (the provider's answer, not this run, is wrong)", b->seq, file_id,
		    (unsigned long long)cap, b->n);
		breq_clear(&q);
		x->fatal = 1;
		return -1;
	}
	breq_clear(&q);
	if (r < 0) {
		close(fd);
		unlink(tmp);
		if (q.err.status == 404) {
			/* files expire (Gemini: after 48 h): what it held is redone */
			vj_msg("batch %ld: its file %s is gone at the provider: its jobs are redone",
			    b->seq, file_id);
			return 1;
		}
		if (!batch_got_signal)
			batch_ctl_error(x, b, "download failed", &q);
		return -1;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0 || fsync_dir(x->dir) < 0) {
		vj_warn("cannot write %s:", path);
		x->io_failed = 1;
		return -1;
	}
	return 0;
}

int
batch_collect(struct bstate *x, struct batch_rec *b, const struct bw_info *i)
{
	char out[PATH_MAX], err[PATH_MAX], in[PATH_MAX];
	struct members ms;
	batch_path(x, b->seq, ".out", out, sizeof out);
	batch_path(x, b->seq, ".err", err, sizeof err);
	batch_path(x, b->seq, ".jsonl", in, sizeof in);
	int got_out = 0, got_err = 0;
	if (i->out_file[0] && (got_out = download(x, b, i->out_file, out)) < 0)
		return -1;
	if (i->err_file[0] && (got_err = download(x, b, i->err_file, err)) < 0)
		return -1;
	batch_crash_point("download");
	if (batch_members_load(x, b->seq, &ms) < 0)
		vj_warn("batch %ld: cannot read its list of jobs; what it did not answer stays pending",
		    b->seq);
	uint64_t d0 = x->n_done, f0 = x->n_failed;
	if (i->out_file[0] && got_out == 0)
		batch_read_results(x, out, &ms, i->end_t);
	if (i->err_file[0] && got_err == 0)
		batch_read_results(x, err, &ms, i->end_t);
	if (i->state == BW_FAILED && i->msg[0])
		vj_msg("batch %ld (%s) failed: %s", b->seq, in, i->msg);
	long missing = 0;
	for (size_t k = 0; k < ms.n && !x->io_failed; k++) {
		if (ms.m[k].answered)
			continue;
		int64_t slot = idx_get(x->run->ids, ms.m[k].id, strlen(ms.m[k].id), 0);
		if (slot < 0)
			continue;
		struct jobstate *f = run_job(x->run, x->s, (uint32_t)slot);
		uint64_t kk[2];
		key_parse(ms.m[k].key, kk);
		if (f->state == JS_DONE && f->key[0] == kk[0] && f->key[1] == kk[1])
			continue;
		int attempts = f->state == JS_RETRY && f->fkey == (uint32_t)kk[1] ? f->attempts : 0;
		char msg[300];
		int final = x->bc->fallback == BF_NONE;
		snprintf(msg, sizeof msg, "%s: not answered by batch %ld (%s)%s", x->pc->label, b->seq,
		    bw_state_name[i->state], final ? " (--batch-fallback none)" :
		    x->bc->fallback == BF_ONLINE || attempts >= 1 ? ": sent online next" :
		    ": resubmitted next");
		batch_job_fail(x, ms.m[k].id, ms.m[k].key, attempts + 1, EC_RETRY, final, 0, NULL, msg);
		missing++;
	}
	batch_members_free(&ms);
	if (x->io_failed)
		return -1;
	x->n_missing += (uint64_t)missing;
	b->collected = 1;
	x->ev.len = 0;
	event_batch_open(&x->ev, "batch_collected", now_ms(), b->seq);
	event_int(&x->ev, "done", (long long)(x->n_done - d0));
	event_int(&x->ev, "failed", (long long)(x->n_failed - f0));
	event_int(&x->ev, "missing", missing);
	event_close(&x->ev);
	if (batch_append(x) < 0 || batch_commit(x) < 0)
		return -1;
	vj_info("batch %ld %s: %llu done, %llu failed, %ld not answered", b->seq,
	    bw_state_name[i->state], (unsigned long long)(x->n_done - d0),
	    (unsigned long long)(x->n_failed - f0), missing);
	/* journaled: the big files have done their work */
	unlink(in);
	unlink(out);
	unlink(err);
	return 0;
}

