/* vj-resize: downscale one image as vj-analyze --max-side does
 * (content/resize.c) and say what it cost, for scripts/bench/downscale.sh.
 *
 *   vj-resize MAX_SIDE MAX_PIXELS REPEAT FILE [OUT]
 *
 * Prints "SRCWxSRCH DSTWxDSTH BYTES MIME WALL_MS CPU_MS", the times per
 * image averaged over REPEAT runs; OUT gets the copy. */
#include "content/img.h"
#include "content/resize.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	struct resize_params p = { 0 };
	struct resize_out out = { 0 };
	struct img_info info;
	char err[512];
	size_t len;
	long rep;

	vj_setprog(argv[0]);
	if (argc < 5 || parse_long(argv[1], 0, 1000000, &p.max_side) < 0 ||
	    parse_long(argv[2], 0, 1000000000, &p.max_pixels) < 0 ||
	    parse_long(argv[3], 1, 100000, &rep) < 0) {
		fprintf(stderr, "usage: vj-resize MAX_SIDE MAX_PIXELS REPEAT FILE [OUT]\n");
		return 2;
	}
	unsigned char *buf = (unsigned char *)read_file(argv[4], &len, (size_t)1 << 30);
	if (!buf || img_sniff(buf, len, &info, err, sizeof err) < 0) {
		fprintf(stderr, "vj-resize: %s: %s\n", argv[4], buf ? err : "cannot read");
		return 1;
	}
	int64_t t0 = mono_ms();
	double c0 = cpu_ms();
	int r = 1;
	for (long i = 0; i < rep; i++) {
		resize_out_free(&out);
		if ((r = resize_image(buf, len, NULL, &p, &out, err, sizeof err)) < 0) {
			fprintf(stderr, "vj-resize: %s: %s\n", argv[4], err);
			return 1;
		}
	}
	double wall = (double)(mono_ms() - t0) / (double)rep, cpu = (cpu_ms() - c0) / (double)rep;
	if (r == 1)
		printf("%dx%d %dx%d %zu %s %.2f %.2f\n", info.width, info.height, info.width, info.height,
		    len, info.mime, wall, cpu);
	else
		printf("%dx%d %dx%d %zu %s %.2f %.2f\n", info.width, info.height, out.w, out.h, out.len,
		    out.mime, wall, cpu);
	if (argc > 5 && r == 0) {
		FILE *f = fopen(argv[5], "wb");
		if (!f || fwrite(out.buf, 1, out.len, f) != out.len || fclose(f) != 0) {
			fprintf(stderr, "vj-resize: %s: cannot write\n", argv[5]);
			return 1;
		}
	}
	resize_out_free(&out);
	free(buf);
	return 0;
}
