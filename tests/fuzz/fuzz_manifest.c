/* fuzz_manifest: one manifest line, as vj-ingest's input thread sees it. */
#include "content/job.h"

#include <stdint.h>
#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *job = NULL;
	char *canon = NULL, id[JOB_ID_MAX + 1], key[33], legacy[33], err[512];
	if (job_normalize((const char *)data, size, "/base", size & 1, &job, &canon, id, key,
	    legacy, err, sizeof err) == 0) {
		json_decref(job);
		free(canon);
	}
	return 0;
}
