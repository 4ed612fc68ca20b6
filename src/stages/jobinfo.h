/* jobinfo: vj-status --job ID, everything the journals say of one job. */
#ifndef VJ_JOBINFO_H
#define VJ_JOBINFO_H

#include "stages/status.h"

/* Text, or with o->json one JSON object (docs/status-json.md, "--job").
 * 0, 2 (no run, or no such job), 3 (a journal cannot be read). */
int jobinfo_show(const struct status_opt *o, const char *id);

#endif
