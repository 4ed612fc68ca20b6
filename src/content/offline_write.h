/* offline_write: the offline writer of vj-generate.  Deterministic text for
 * each built-in output format, made of sentences from the analysis and the
 * job's fields: no model, no network (the quick start and keyless CI). */
#ifndef VJ_OFFLINE_WRITE_H
#define VJ_OFFLINE_WRITE_H

#include <stddef.h>
#include <jansson.h>

/* content = {"format", "text"} (+ "data" for a JSON format) for REC's
 * analysis and job.  -1 with err naming the format when it is unknown or
 * has no writer, or when REC has no analysis. */
int offline_write(json_t *rec, const char *format, json_t **content, char *err, size_t n);

#endif
