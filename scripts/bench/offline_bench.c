/*
 * offline_bench: time offline_analyze over image files held in memory.
 *   offline_bench RUNS ITERS FILE...
 * Prints one line per run: "<images per second>", single-threaded, so the
 * figure is per core.  Decoding is included; reading the files is not.
 */
#include "content/offline_analyze.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	unsigned char **b;
	size_t *len;
	char err[256];
	int runs, iters, n, r, i, k;
	double t0;
	json_t *j;

	if (argc < 4 || (runs = atoi(argv[1])) < 1 || (iters = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: offline_bench RUNS ITERS FILE...\n");
		return 2;
	}
	n = argc - 3;
	b = xcalloc(n, sizeof *b);
	len = xcalloc(n, sizeof *len);
	for (i = 0; i < n; i++)
		if ((b[i] = (unsigned char *)read_file(argv[3 + i], &len[i], 0)) == NULL)
			vj_die(1, "%s:", argv[3 + i]);
	for (r = 0; r < runs; r++) {
		t0 = now();
		for (k = 0; k < iters; k++)
			for (i = 0; i < n; i++) {
				if ((j = offline_analyze(b[i], len[i], NULL, err, sizeof err)) == NULL)
					vj_die(1, "%s: %s", argv[3 + i], err);
				json_decref(j);
			}
		printf("%.1f\n", iters * n / (now() - t0));
	}
	return 0;
}
