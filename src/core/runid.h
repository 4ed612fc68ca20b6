/* runid: the identity of a run directory.  A run is known by a random
 * 128-bit id kept in RUN/run.json, made with the run, so that a run moved,
 * copied or restored under another path is still the same run to every
 * output directory it packed into (docs/journal.md, "Run identity").  The
 * partition a run was made for, RUN/partition.json, is read here too. */
#ifndef VJ_RUNID_H
#define VJ_RUNID_H

#include <stddef.h>

#define RUNID_HEX 32               /* the id: 32 lowercase hex digits */
#define RUNID_VERSION 1            /* the format of run.json this vj writes */

/* 32 random lowercase hex digits and a NUL (getrandom, else /dev/urandom).
 * 0, or -1 with errno. */
int runid_new(char id[RUNID_HEX + 1]);
/* Is s an id: exactly 32 lowercase hex digits? */
int runid_valid(const char *s);

/* The id of RUN from RUN/run.json.  With create, a run without one gets
 * one now (atomically: two writers racing agree on the first); only a
 * writer holding one of the run's stage locks should create.  Returns 0
 * with id set, 1 when there is none and create is 0, -1 with err naming
 * the file and what is wrong (a symbolic link, not a run.json, a newer
 * format, an I/O error). */
int runid_get(const char *run, char id[RUNID_HEX + 1], int create, char *err, size_t errlen);

/* The run's partition from RUN/partition.json ({"k":K,"n":N}): 1 with *k
 * and *n set, 0 when the file does not exist, -1 with err when it is not
 * one (1 <= K <= N). */
int runid_partition(const char *run, int *k, int *n, char *err, size_t errlen);

#endif
