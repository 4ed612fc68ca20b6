/* The journal's line check and its count of valid lines after a bad one,
 * which vj-status --check relies on to tell a torn tail from corruption. */
#include "tap.h"
#include "core/journal.h"
#include "base/hash.h"
#include "base/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static int
check(const char *line)
{
	return journal_check_line(line, strlen(line));
}

int
main(void)
{
	char good[128], path[256];
	const char *js = "{\"ev\":\"done\",\"id\":\"j1\"}";
	struct buf b = {0};
	uint64_t offs[6];

	snprintf(good, sizeof good, "%08x %s", crc32c(0, js, strlen(js)), js);
	is_int(check(good), 0, "a framed line with its crc is good");
	good[3] ^= 1;
	is_int(check(good), -1, "a wrong crc is bad");
	good[3] ^= 1;
	good[8] = '_';
	is_int(check(good), -1, "no space after the crc is bad");
	good[8] = ' ';
	good[2] = 'G';
	is_int(check(good), -1, "a crc that is not hex is bad");
	is_int(check("0000000 {}"), -1, "a line under 11 bytes is bad");
	is_int(journal_check_line(good, 0), -1, "an empty line is bad");

	/* six lines; the third damaged, the last torn */
	for (int i = 0; i < 6; i++) {
		char ev[64];
		int l = snprintf(ev, sizeof ev, "{\"ev\":\"done\",\"id\":\"j%d\"}", i);
		offs[i] = b.len;
		buf_addf(&b, "%08x %s\n", crc32c(0, ev, (size_t)l), ev);
	}
	b.p[offs[2] + 15] ^= 1;
	b.len -= 3;
	snprintf(path, sizeof path, "/tmp/vj-test-jcheck.%d", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ok(fd >= 0 && write_all(fd, b.p, b.len) == 0 && close(fd) == 0, "write %s", path);
	is_int(journal_valid_after(path, offs[2]), 2, "two valid lines after the damaged one");
	is_int(journal_valid_after(path, offs[4]), 0, "none after the last complete line: a torn tail");
	is_int(journal_valid_after(path, offs[1]), 2, "the line at off is skipped, good or not");
	char err[512] = "";
	uint64_t n = 0, bad = 0;
	ok(journal_verify(path, &n, &bad, err, sizeof err) < 0 && bad == offs[2] && n == 2,
	    "journal_verify stops at the damage: %s", err);
	ok(strstr(err, "corrupt record") != NULL, "and calls it corruption, not a torn tail");
	unlink(path);
	is_int(journal_valid_after(path, 0), 0, "a missing file has none");
	buf_free(&b);
	return done_testing();
}
