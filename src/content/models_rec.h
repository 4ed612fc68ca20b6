/* models_rec: the records of one model table file, as read by models_file.c
 * and merged into the table by models.c.  Private to those two files. */
#ifndef VJ_MODELS_REC_H
#define VJ_MODELS_REC_H

#include "content/models.h"

/* Which fields a record gives (the rest is left to the row it changes). */
enum {
	MREC_FROM = 1 << 0, MREC_UNTIL = 1 << 1, MREC_CHECKED = 1 << 2, MREC_VISION = 1 << 3,
	MREC_TEMPERATURE = 1 << 4, MREC_MEDIA = 1 << 5, MREC_IMAGE = 1 << 6, MREC_WINDOWS = 1 << 7,
	MREC_SUCCESSOR = 1 << 8, MREC_DEFAULT = 1 << 9
};

#define MREC_NWP (MODELS_NTIER * MODELS_NWIN)
struct models_rec {
	struct models_row r;     /* provider, model, file, line and the fields given */
	unsigned given;          /* MREC_* */
	unsigned tiers;          /* bit per tier: its own price given ("price TIER ...") */
	int nwp;                 /* window prices given ("price TIER@WINDOW ...") */
	struct {
		int tier;
		char win[16];
		struct models_price p;
		long line;
	} wp[MREC_NWP];
};

/* Read a table file (or a JSON price file) into records.  0, or -1 with err
 * "FILE:LINE: why". */
int models_file_read(const char *file, struct models_rec **recs, size_t *n, char *err, size_t errn);
void models_recs_free(struct models_rec *recs, size_t n);

#endif
