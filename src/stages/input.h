/* input: reads the lines of FILEs (or stdin) on a thread of its own and
 * prepares each one (parsing, validating) there, so the main loop only
 * journals and dispatches.  Items come back in input order. */
#ifndef VJ_INPUT_H
#define VJ_INPUT_H

#include <stddef.h>

#define INPUT_MAX_LINE (1 << 20)   /* a longer line (newline and CR not counted) is rejected */

/* Runs on the input thread: turn one line into a prepared object, or
 * return NULL with err set.  Must not touch the caller's other state. */
typedef void *(*input_prep_fn)(void *ctx, const char *line, size_t len, const char *src,
    char *err, size_t errlen);

struct input_item {
	char *line;         /* the line, without its newline or CR */
	size_t len;
	const char *src;    /* file name or "<stdin>" */
	long lno;
	void *prep;         /* prepared object, or NULL with err */
	char *err;
};

/* Every named file (not "-") can be opened for reading and is not a
 * directory: 0, or -1 with err naming the first that is not.  Called
 * before a stage starts, so a missing manifest is a usage error rather
 * than a bad line. */
int input_check(char **files, int nfiles, char *err, size_t errlen);

struct input;
/* keep_lines: hand over the text of lines that were prepared fine too
 * (otherwise only bad lines carry theirs). */
struct input *input_start(char **files, int nfiles, input_prep_fn prep, void *ctx, int keep_lines);
/* A descriptor that is readable when items may be waiting. */
int input_fd(struct input *in);
/* 1 an item, 0 none yet (poll input_fd), -1 the end of all input. */
int input_next(struct input *in, struct input_item *it);
void input_item_free(struct input_item *it);   /* line and err; not prep */
/* Stop reading (even mid-read on a pipe) and release everything queued;
 * free_prep releases prepared objects never taken. */
void input_stop(struct input *in, void (*free_prep)(void *));

#endif
