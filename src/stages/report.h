/* report: vj-report's one-file HTML page of a run (docs/vj-report.1).
 *
 * report.c folds the journals (through run.h, the fold vj-status uses) and
 * gathers, in the same pass, what the fold does not keep: per-minute
 * counts, failures by reason, tokens and cost per hour.  report_sample.c
 * picks the gallery's records and makes their thumbnails, report_svg.c
 * draws the plots and report_html.c writes the page. */
#ifndef VJ_REPORT_H
#define VJ_REPORT_H

#include <stdint.h>
#include <jansson.h>
#include "core/run.h"
#include "stages/status.h"
#include "base/util.h"

/* What vj-report was asked for. */
struct report_opt {
	const char *run;          /* the run directory */
	const char *out;          /* an output directory of vj-pack (its index.json), or NULL */
	const char *output;       /* the page: NULL = RUN/report.html, "-" = stdout */
	int samples;              /* records in the gallery */
	double max_cost;          /* the budget line on the cost plot; < 0: none */
};

/* Write the page.  Returns the exit status (enum vj_exit). */
int report_run(const struct report_opt *o);

/* ---- what the pages are made of (shared by the report_ files) ---- */

/* One time bin of one stage. */
struct report_bin {
	uint32_t done;            /* done events (pack: records sealed) */
	uint32_t fail;            /* fail events other than 429s */
	uint32_t rate;            /* 429s (kind "rate") */
	double cost;
};

/* One failure reason: a stage, an error class and a message pattern. */
#define REPORT_EXAMPLES 3
struct report_reason {
	int stage;
	char kind[12];
	int status;               /* HTTP status, 0 none */
	char *pattern;            /* the message with its variable parts masked */
	uint64_t events, final;
	int64_t last_t;
	char *ex[REPORT_EXAMPLES];  /* example job ids */
	int nex;
};

/* Tokens and cost of one stage in one hour (or day). */
struct report_hour {
	int64_t start;            /* ms */
	uint64_t tok[ST_N][3];    /* prompt, completion, cached */
	double cost[ST_N];
	uint64_t done[ST_N];
};

/* Durations of a stage's done jobs, or of jobs end to end. */
#define REPORT_HIST 16
struct report_lat {
	uint64_t n;
	double avg;
	uint32_t p50, p90, p95, p99, max;
	uint64_t hist[REPORT_HIST];   /* counts per report_hist_edge[] range */
};
extern const uint32_t report_hist_edge[REPORT_HIST];  /* upper bounds, ms */

struct report_shard {
	char *name, *first, *last, *format, *compress;
	uint64_t records, bytes;
	int other_run;            /* recorded by another run's journal */
};

/* One gallery record. */
struct report_sample {
	uint32_t slot;
	const char *id;           /* borrowed from the run's id table */
	const char *state;        /* "done", "failed", "pending" */
	int fail_stage;           /* the stage it failed or retries at, -1 none */
	json_t *rec;              /* run_record up to generate */
	json_t *fail_ev;          /* its latest fail event there, or NULL */
	char *thumb;              /* data: URI of the thumbnail, or NULL */
	char *thumb_why;          /* why there is none */
};

struct report {
	const struct report_opt *o;
	struct run *r;
	struct status st;         /* vj-status's summary of the fold */
	int64_t now;
	/* time bins, after report_bins(): nbins of bin_ms from t0 */
	int64_t t0, bin_ms;
	int nbins;
	int64_t first_min, last_min;   /* the minutes of the first and last event */
	struct report_bin *bins[ST_N];
	struct report_lat lat[ST_N], e2e;
	struct report_reason **reasons;  /* most events first */
	size_t nreasons;
	uint64_t reasons_dropped;   /* fail events past the cap of distinct reasons */
	struct report_hour *hours;  /* oldest first */
	size_t nhours;
	int by_day;                 /* hours[] holds days */
	struct report_shard *shards;
	size_t nshards;
	char *index_err;            /* why OUT/index.json could not be read */
	struct report_sample *samples;
	int nsamples;
	uint64_t sample_pool;       /* jobs the samples were drawn from */
	/* gathered by the fold, per slot */
	uint64_t *fail_off[ST_PACK];  /* latest fail line, NO_OFF none */
	uint32_t *job_s;            /* ingest job event, seconds since the epoch */
	uint32_t *e2e_s;            /* generate done minus job accepted, seconds + 1; 0 none */
	uint32_t cap;
	void *priv;                 /* report.c's tables */
};

/* report.c: scanning the journals (after run_new). 0, or -1 with err. */
int report_fold(struct report *rp, char *err, size_t errlen);
void report_free(struct report *rp);

/* report_sample.c */
void report_pick_samples(struct report *rp);
/* A thumbnail of an image: a data: URI (malloc'd), or NULL with why. */
char *report_thumb(const unsigned char *img, size_t len, const char *mime, int side,
    char *why, size_t whylen);

/* report_svg.c: plots as inline SVG, appended to out. */
struct report_series {
	const char *name;
	const char *color;
	const double *v;          /* nbins values */
};
/* Stacked bars over time, one bar per bin. */
void report_svg_bars(struct buf *out, const char *title, const char *unit, int64_t t0,
    int64_t bin_ms, int nbins, const struct report_series *s, int ns);
/* Lines over time; hline >= 0 draws a dashed line there, labelled. */
void report_svg_lines(struct buf *out, const char *title, const char *unit, int64_t t0,
    int64_t bin_ms, int nbins, const struct report_series *s, int ns, double hline,
    const char *hline_label);
/* A histogram of durations over report_hist_edge[]. */
void report_svg_hist(struct buf *out, const char *title, const struct report_lat *l);
/* One 100% bar of a stage's jobs by state. */
void report_svg_states(struct buf *out, const char *title, const uint64_t *v,
    const char *const *names, const char *const *colors, int n);

/* report_html.c */
void report_html(const struct report *rp, struct buf *out);
/* Text from outside as HTML: &<>"' escaped, bad UTF-8 and control
 * characters replaced; at most max bytes of input (0 = all), "..." after. */
void report_esc(struct buf *out, const char *s, size_t n, size_t max);
void report_escs(struct buf *out, const char *s);
/* "2026-11-29 14:05" UTC */
void report_fmt_time(int64_t ms, char *out, size_t n, int with_date);

#endif
