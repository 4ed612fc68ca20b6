/* vj-ckptset: set one little-endian integer field of a checkpoint's header
 * and reseal it (the header's CRC and the whole file's), so that tests can
 * make checkpoints that are sound but of a newer format or of another day
 * (docs/journal.md, "Checkpoints").
 *
 *   vj-ckptset FILE OFFSET SIZE VALUE      SIZE 4 or 8; VALUE may be negative */
#include "base/hash.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put(unsigned char *p, uint64_t v, int size)
{
	for (int i = 0; i < size; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int
main(int argc, char **argv)
{
	size_t len;
	vj_setprog(argv[0]);
	if (argc != 5)
		vj_die(VJ_EUSAGE, "usage: vj-ckptset FILE OFFSET SIZE VALUE");
	unsigned char *b = (unsigned char *)read_file(argv[1], &len, 0);
	long off = atol(argv[2]), size = atol(argv[3]);
	uint64_t v = (uint64_t)strtoll(argv[4], NULL, 10);
	if (!b)
		vj_die(VJ_EFATAL, "%s:", argv[1]);
	if (len < 24 || (size != 4 && size != 8))
		vj_die(VJ_EUSAGE, "%s: too short, or SIZE not 4 or 8", argv[1]);
	uint32_t hlen = le32(b + 12);
	if (off < 8 || (size_t)off + (size_t)size > 16 + (size_t)hlen || 16 + (size_t)hlen + 8 > len)
		vj_die(VJ_EUSAGE, "%s: offset outside the header", argv[1]);
	put(b + off, v, (int)size);
	put(b + 16 + hlen, crc32c(0, b, 16 + hlen), 4);
	put(b + len - 4, crc32c(0, b, len - 4), 4);
	if (write_file_atomic(argv[1], b, len) < 0)
		vj_die(VJ_EFATAL, "%s:", argv[1]);
	free(b);
	return 0;
}
