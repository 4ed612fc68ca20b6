/* vj-jline: frame text as journal lines ("CRC32C TEXT"), one per input line,
 * without checking the text: tests use it to plant records whose checksum
 * is right but whose content is not (bad JSON, huge numbers, a newer format).
 *
 *   vj-jline <text >lines */
#include "base/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		printf("%08x %s\n", crc32c(0, line, (size_t)n), line);
	}
	free(line);
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
