/* safefs: checks and opens that trust no symbolic link inside a run. */
#include "base/safefs.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
safefs_dir(const char *path, int *exists, char *err, size_t errlen)
{
	struct stat st;
	int dummy;
	if (!exists)
		exists = &dummy;
	*exists = 0;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot check %s: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "%s is a symbolic link: vj follows none inside a run or output "
		    "directory; give the real path instead", path);
		errno = ELOOP;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a directory", path);
		errno = ENOTDIR;
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %ld, not by this user (uid %ld): "
		    "vj writes only in directories of its own user", path, (long)st.st_uid, (long)geteuid());
		errno = EPERM;
		return -1;
	}
	*exists = 1;
	return 0;
}

int
safefs_mkdir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	int exists;
	if (safefs_dir(path, &exists, err, errlen) < 0)
		return -1;
	if (!exists) {          /* removed between the mkdir and the check */
		snprintf(err, errlen, "cannot create %s: it vanished", path);
		return -1;
	}
	return 0;
}

int
safefs_open(const char *path, int flags, int mode)
{
	/* O_NONBLOCK: a FIFO planted under a journal's name must not hang the
	 * open; it is refused below.  Cleared again for a regular file. */
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = fstat(fd, &st) < 0 ? errno : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	if (!(flags & O_NONBLOCK)) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	return fd;
}

const char *
safefs_why(int e)
{
	if (e == ELOOP)
		return "it is a symbolic link (vj follows none inside a run)";
	if (e == EINVAL)
		return "it is not a regular file";
	if (e == EPERM)
		return "it is owned by another user";
	return strerror(e);
}

int
safefs_write_small(const char *dir, const char *tmp, const char *path, const char *text,
    size_t n, int replace, char *err, size_t errlen)
{
	int r = -1, fd;
	if (unlink(tmp) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = safefs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, safefs_why(errno));
		return -1;
	}
	if (write_all(fd, text, n) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (replace ? rename(tmp, path) < 0 : link(tmp, path) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	if (fsync_dir(dir) < 0) {
		snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (!replace || r < 0)
		unlink(tmp);
	return r;
}
