/* check: vj-status --check (journals, objects, images: is the run whole?)
 * and --repair (cut a stage's journal at its first bad record, after a
 * backup).  docs/vj-status.1 */
#ifndef VJ_CHECK_H
#define VJ_CHECK_H

#include "stages/status.h"

/* Each returns the process exit status (enum vj_exit). */
int check_run(const struct status_opt *o);
int check_repair(const struct status_opt *o, const char *stage);

#endif
