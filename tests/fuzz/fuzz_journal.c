/* fuzz_journal: one journal line through everything that reads one: the
 * line check, the field scanner, the strict JSON check and the fold. */
#include "base/jscan.h"
#include "base/util.h"
#include "core/journal.h"
#include "core/run.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run *r;
	static const char *const keys[] = { "ev", "id", "key", "t", "ms", "attempt", "final",
		"retry_at", "usage", "cost" };
	struct jval v[10];
	const char *p = (const char *)data;

	if (!r) {
		vj_verbose = -1;
		r = run_new("/nonexistent/vj-fuzz");
	}
	journal_check_line(p, size);
	if (jscan(p, size, keys, v, 10) == 0)
		for (int i = 0; i < 10; i++) {
			jval_int(&v[i], 0);
			jval_num(&v[i], 0);
		}
	jscan_valid(p, size);
	/* the fold of every stage, on a run that only lives in memory */
	for (int s = 0; s < ST_N; s++)
		run_fold(r, (enum stage)s, p, size, 0);
	return 0;
}
