/* safefs: what vj believes of the directories it writes in.  A run or an
 * output directory may be shared with other users or copied from elsewhere:
 * a symbolic link planted inside it must never redirect a write, and a
 * directory that another user owns is not ours to write in. */
#ifndef VJ_SAFEFS_H
#define VJ_SAFEFS_H

#include <stddef.h>

/* PATH, if it exists, must be a real directory (not a symbolic link) owned
 * by this user.  0 ok (also when PATH does not exist: *exists is then 0),
 * -1 with a message in err naming PATH and what to do, and errno ELOOP
 * (a link), ENOTDIR or EPERM (another owner). */
int safefs_dir(const char *path, int *exists, char *err, size_t errlen);
/* mkdir PATH (one level) if missing, then safefs_dir.  0 ok, -1 with err. */
int safefs_mkdir(const char *path, char *err, size_t errlen);
/* open() that follows no symbolic link in the last component and, when the
 * file exists, accepts only a regular file.  -1 with errno (ELOOP for a
 * link, EINVAL for a FIFO, device or directory). */
int safefs_open(const char *path, int flags, int mode);

/* Write a small file durably under a temporary name in dir (a leftover or
 * planted one is unlinked first: a link is removed, not followed), fsync
 * it, then put it in place and fsync dir.  replace: rename over path;
 * otherwise link(2), which keeps a path another writer made first (and
 * returns 0: read it back to see whose it is).  0, or -1 with err naming
 * the file. */
int safefs_write_small(const char *dir, const char *tmp, const char *path, const char *text,
    size_t n, int replace, char *err, size_t errlen);

/* strerror for what safefs_open refuses: ELOOP and EINVAL get words that
 * say what was found instead of the libc text. */
const char *safefs_why(int e);

#endif
