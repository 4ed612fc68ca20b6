/* job: validating and normalising one manifest line (docs/manifest.md). */
#ifndef VJ_JOB_H
#define VJ_JOB_H

#include <stddef.h>
#include <jansson.h>

#define JOB_ID_MAX 128

/* Parse and normalise one manifest line.  basedir resolves relative image
 * paths (the manifest's directory, or the working directory for stdin).
 * On success returns 0 with *job (normalised, its imageUrl what fetching
 * reads: http(s) or file:///absolute), *canon (the job as journaled and
 * printed), id (given or derived) and key (the job's content key).  On
 * failure -1 with err naming the field.
 *
 * A relative image path stays relative in *canon and in the key, so a
 * manifest and its images checked out anywhere describe the same jobs
 * (docs/manifest.md, "imageUrl").  For such a job legacy is the key the
 * job had when its canonical form held the absolute URL (before 2026-12):
 * a run ingested then still knows it; otherwise legacy is "". */
int job_normalize(const char *line, size_t len, const char *basedir, int strict,
    json_t **job, char **canon, char id[JOB_ID_MAX + 1], char key[33], char legacy[33],
    char *err, size_t errlen);

/* 1 when s is a valid job id: [A-Za-z0-9_-]{1,128}. */
int job_id_valid(const char *s, size_t len);

#endif
