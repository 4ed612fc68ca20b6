/* util: small helpers shared by every module (messages, memory, files, time). */
#ifndef VJ_UTIL_H
#define VJ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

/* Exit statuses, the same for every command (docs/design.md, "Exit status"). */
enum vj_exit {
	VJ_OK = 0,       /* all done */
	VJ_EFAILED = 1,  /* some jobs failed for good, the rest succeeded */
	VJ_EUSAGE = 2,   /* usage or configuration error, nothing done */
	VJ_EFATAL = 3,   /* fatal run error: corrupt journal, disk full, credentials refused */
	VJ_ETEMP = 75    /* try again later: locked, retryable failures left, interrupted */
};

extern const char *vj_prog;     /* "vj-ingest" ...: prefixes every message */
extern int vj_verbose;          /* -v count; -1 with -q */

void vj_setprog(const char *argv0);
/* "PROG: message\n" on stderr.  vj_warn adds ": strerror(errno)" when the format ends in ':' */
void vj_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));    /* errors: always */
void vj_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* hidden by -q */
void vj_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vj_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void vj_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How messages are written (--log-format): text, "PROG: message" (on a
 * terminal after clearing the line a progress line may hold), or JSON, one
 * object a line: {"time":"<UTC, ms>","prog":..,"level":..,"msg":..} with
 * level error (vj_msg, vj_die), warning, info or debug. */
enum { VJ_LOG_TEXT = 0, VJ_LOG_JSON = 1 };
extern int vj_log_format;
/* An information line that carries numbers for log collectors: as JSON it
 * also has "kind":KIND and the members in extra (vj's own numbers, written
 * as "\"done\":3,\"failed\":0", no braces); as text only the message.
 * Not hidden by -q: the caller decides. */
void vj_event(const char *kind, const char *extra, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Wall ms t as UTC, 2026-01-31T12:00:00Z (with_ms: 12:00:00.123Z). */
void utc_stamp(int64_t t, int with_ms, char out[32]);

/* Format a message into err (if any) and return -1: for "return errf(...)". */
int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Arrays indexed by slot, grown by doubling from first until index i fits;
 * the new part is filled with byte fill.  *cap is in elements. */
void *grow_slots(void *p, uint32_t *cap, uint32_t i, size_t elem, uint32_t first, int fill);
/* The new capacity grow_slots would choose (for arrays grown together). */
uint32_t grow_cap(uint32_t cap, uint32_t i, uint32_t first);

/* SIGINT and SIGTERM to handler (no SA_RESTART: a blocking call returns
 * EINTR so the caller sees the stop); SIGPIPE ignored, so a reader that goes
 * away is an EPIPE the caller reports. */
void vj_stop_signals(void (*handler)(int));

/* Time: wall clock in ms since the epoch, monotonic in ms. */
int64_t now_ms(void);
/* ms since the epoch as "2026-12-01T23:14:56Z". */
void utc_iso(int64_t ms, char *out, size_t n);
int64_t mono_ms(void);
/* Wall time for prices and time-of-day windows, ms since the epoch:
 * now_ms(), or with VJ_NOW_MS=T (a test hook, docs/prices.md) T at the
 * first call, running on at the real pace from there. */
int64_t price_now_ms(void);

/* Files.  All return 0 on success, -1 with errno set. */
int write_all(int fd, const void *p, size_t n);  /* loops on short writes and EINTR */
int fsync_dir(const char *dir);                  /* fsync the directory holding a new name */
int mkdir_p(const char *path, mode_t mode);
/* Read a whole file; *len gets the size.  NULL with errno on failure. max 0 = no cap. */
char *read_file(const char *path, size_t *len, size_t max);
char *read_fd(int fd, size_t *len, size_t max);   /* the same from an open fd, left open */
/* Write tmp + fsync + rename + fsync dir: never a half-written file under NAME. */
int write_file_atomic(const char *path, const void *p, size_t n);

/* Parse "20M", "1.5G", "4096": bytes.  -1 on error. */
int64_t parse_size(const char *s);
/* Parse a finite double / an int within a range; 0 ok, -1 bad (NaN and inf too). */
int parse_double(const char *s, double lo, double hi, double *out);
int parse_long(const char *s, long lo, long hi, long *out);

/* Redact anything that looks like a secret we hold (keys registered at start). */
void secret_register(const char *value);
int secret_in(const char *text, size_t len);  /* 1 if any registered secret occurs */
void secret_scrub(char *s);                   /* each registered secret -> "[redacted]" */

/* Text from outside made safe for one terminal line: control characters
 * (C0, DEL, C1) and bytes that are not UTF-8 written as \n, \xHH, \u00HH.
 * Writes at most outlen-1 bytes and a NUL; returns the length. */
size_t text_escape(const char *in, size_t n, char *out, size_t outlen);
/* Length of the valid UTF-8 sequence at p (1..4; n bytes there), 0 if it is
 * not one (overlong, a surrogate, past U+10FFFF, cut short). */
size_t utf8_len(const unsigned char *p, size_t n);

#endif
