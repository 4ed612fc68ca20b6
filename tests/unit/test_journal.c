/* The journal: framing, replay, torn tails at every offset, corruption,
 * the lock, and incremental readers. */
#include "tap.h"
#include "util.h"
#include "core/journal.h"
#include "base/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct seen {
	int n;
	char last[256];
	uint64_t offs[64];
};

static int
count(void *ctx, const char *json, size_t len, uint64_t off)
{
	struct seen *s = ctx;
	if (s->n < 64)
		s->offs[s->n] = off;
	s->n++;
	snprintf(s->last, sizeof s->last, "%.*s", (int)len, json);
	return 0;
}

static void
write_n(int n, enum jl_fsync mode)
{
	struct journal *j;
	char err[512];
	if (journal_open(&j, scratch, "t", mode, 0, NULL, NULL, err, sizeof err) != VJ_OK)
		printf("# open: %s\n", err);
	for (int i = 0; i < n; i++) {
		char js[64];
		int l = snprintf(js, sizeof js, "{\"ev\":\"done\",\"id\":\"j%d\",\"n\":%d}", i, i);
		journal_append(j, js, (size_t)l, NULL);
	}
	journal_close(j);
}

static long
fsize(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int
main(void)
{
	char err[512], path[300];
	struct journal *j, *j2;
	struct seen s = {0};

	if (scratch_make("journal") != 0) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	/* the repairs below warn on stderr by design: keep the TAP output clean */
	if (!freopen("/dev/null", "w", stderr))
		return 1;
	snprintf(path, sizeof path, "%s/journal/t.log", scratch);

	write_n(5, JL_FSYNC_BATCH);
	is_int(journal_open(&j, scratch, "t", JL_FSYNC_BATCH, 0, count, &s, err, sizeof err), VJ_OK, "reopen");
	is_int(s.n, 5, "five records replayed");
	is_str(s.last, "{\"ev\":\"done\",\"id\":\"j4\",\"n\":4}", "last record intact");

	/* the lock: a second writer is refused and told the pid */
	is_int(journal_open(&j2, scratch, "t", JL_FSYNC_BATCH, 0, NULL, NULL, err, sizeof err), VJ_ETEMP,
	    "second writer refused");
	char pid[32];
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	ok(strstr(err, pid) != NULL, "message names the holder: %s", err);
	is_int(journal_holder(scratch, "t"), getpid(), "journal_holder names the pid");
	json_t *v = journal_get(j, s.offs[2]);
	ok(v && json_integer_value(json_object_get(v, "n")) == 2, "read back a line by offset");
	json_decref(v);
	journal_close(j);
	is_int(journal_holder(scratch, "t"), 0, "no holder after close");

	/* a torn last record, cut at every byte offset */
	long full = fsize(path);
	long last_start = (long)s.offs[4];
	int all = 1;
	size_t n;
	char *orig = read_file(path, &n, 0);
	for (long cut = last_start; cut < full; cut++) {
		int fd = open(path, O_WRONLY | O_TRUNC);
		write_all(fd, orig, (size_t)cut);
		close(fd);
		struct seen t = {0};
		int rc = journal_open(&j, scratch, "t", JL_FSYNC_BATCH, 0, count, &t, err, sizeof err);
		int good = rc == VJ_OK && t.n == 4 && fsize(path) == last_start;
		if (rc == VJ_OK) {
			/* and the journal takes appends after the repair */
			journal_append(j, "{\"ev\":\"x\"}", 10, NULL);
			journal_close(j);
			struct seen u = {0};
			journal_open(&j, scratch, "t", JL_FSYNC_BATCH, 0, count, &u, err, sizeof err);
			good = good && u.n == 5;
			journal_close(j);
		}
		if (!good) {
			printf("# cut at %ld: rc %d, %d records: %s\n", cut, rc, t.n, err);
			all = 0;
		}
	}
	ok(all, "a torn last record is cut at every offset %ld..%ld, the 4 before it kept", last_start, full - 1);
	system("ls /tmp/vj-test-journal.*/journal/t.log.torn.* >/dev/null 2>&1") == 0 ?
	    ok(1, "torn tails saved aside") : ok(0, "torn tails saved aside");

	/* garbage after the last newline, then zeros (a crash with delayed allocation) */
	int fd = open(path, O_WRONLY | O_TRUNC);
	write_all(fd, orig, (size_t)full);
	write_all(fd, "\0\0\0\0\0\0\0\0\0\0\0\0\n\0\0", 15);
	close(fd);
	s.n = 0;
	is_int(journal_open(&j, scratch, "t", JL_FSYNC_BATCH, 0, count, &s, err, sizeof err), VJ_OK,
	    "zeros at the end are a torn tail");
	is_int(s.n, 5, "all five records kept");
	journal_close(j);

	/* corruption in the middle stops with the offset */
	fd = open(path, O_WRONLY | O_TRUNC);
	orig[s.offs[2] + 20] ^= 0x20;
	write_all(fd, orig, (size_t)full);
	close(fd);
	s.n = 0;
	is_int(journal_open(&j, scratch, "t", JL_FSYNC_BATCH, 0, count, &s, err, sizeof err), VJ_EFATAL,
	    "a flipped byte in the middle is fatal");
	char off[64];
	snprintf(off, sizeof off, "offset %llu", (unsigned long long)s.offs[2]);
	ok(strstr(err, off) && strstr(err, "t.log"), "message names file and offset: %s", err);
	uint64_t nl, bad;
	ok(journal_verify(path, &nl, &bad, err, sizeof err) < 0 && bad == s.offs[2], "journal_verify finds it");
	/* repair: cut there, keep a backup */
	s.n = 0;
	is_int(journal_open(&j, scratch, "t", JL_FSYNC_BATCH, 1, count, &s, err, sizeof err), VJ_OK, "repair");
	is_int(s.n, 2, "records before the damage kept");
	journal_close(j);
	ok(system("ls /tmp/vj-test-journal.*/journal/t.log.bak.* >/dev/null 2>&1") == 0, "backup kept");
	free(orig);

	/* incremental reader: only what was appended, never a partial line */
	struct jreader *r = jreader_open(scratch, "t");
	struct seen rs = {0};
	is_int(jreader_poll(r, count, &rs, err, sizeof err), 0, "poll");
	is_int(rs.n, 2, "reader sees the two records");
	journal_open(&j, scratch, "t", JL_FSYNC_NEVER, 0, NULL, NULL, err, sizeof err);
	journal_append(j, "{\"a\":1}", 7, NULL);
	journal_commit(j);
	rs.n = 0;
	jreader_poll(r, count, &rs, err, sizeof err);
	is_int(rs.n, 1, "then only the new one");
	journal_close(j);
	fd = open(path, O_WRONLY | O_APPEND);
	write_all(fd, "12345678 {\"half", 15);
	rs.n = 0;
	is_int(jreader_poll(r, count, &rs, err, sizeof err), 0, "a partial last line is not an error for a reader");
	is_int(rs.n, 0, "and is not delivered");
	close(fd);
	jreader_close(r);

	/* group commit: nothing on disk before commit, everything after */
	journal_open(&j, scratch, "u", JL_FSYNC_BATCH, 0, NULL, NULL, err, sizeof err);
	journal_append(j, "{\"a\":1}", 7, NULL);
	snprintf(path, sizeof path, "%s/journal/u.log", scratch);
	is_int(fsize(path), 0, "queued, not written");
	is_int(journal_commit(j), 0, "commit");
	is_int(fsize(path), 17, "written after commit");
	journal_close(j);

	scratch_remove();
	return done_testing();
}
