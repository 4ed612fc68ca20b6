/* report_svg: vj-report's plots, drawn as inline SVG by vj itself (no
 * script, no library, nothing fetched): bars over time, lines over time, a
 * histogram and a stacked state bar.  Sizes are in the viewBox's units; the
 * page's CSS scales them and sets the fonts. */
#include "stages/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define W 720
#define H 180
#define ML 56                 /* margins: left (y labels), right, top (legend), bottom (x labels) */
#define MR 12
#define MT 22
#define MB 24
#define PW (W - ML - MR)
#define PH (H - MT - MB)

/* A value for an axis label: 950, 1.2k, 3.4M; "$0.25" for money. */
static void
fmt_val(double v, const char *unit, char *out, size_t n)
{
	int money = unit && unit[0] == '$';
	const char *pre = money ? "$" : "";
	if (money && v < 10)
		snprintf(out, n, "%s%.*f", pre, v == 0 ? 0 : v < 0.1 ? 3 : 2, v);
	else if (v >= 1e9)
		snprintf(out, n, "%s%.3gG", pre, v / 1e9);
	else if (v >= 1e6)
		snprintf(out, n, "%s%.3gM", pre, v / 1e6);
	else if (v >= 1e4)
		snprintf(out, n, "%s%.3gk", pre, v / 1e3);
	else
		snprintf(out, n, "%s%.4g", pre, v);
}

/* A step of 1, 2 or 5 times a power of ten giving about four gridlines. */
static double
nice_step(double max, int integer)
{
	double raw = max / 4;
	if (raw <= 0)
		return 1;
	double p = pow(10, floor(log10(raw))), f = raw / p;
	double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
	return integer && step < 1 ? 1 : step;
}

static void
open_svg(struct buf *out, const char *title, int h)
{
	buf_addf(out, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", W, h);
	report_escs(out, title);
	buf_adds(out, "\"><title>");
	report_escs(out, title);
	buf_adds(out, "</title>");
}

static void
legend(struct buf *out, const struct report_series *s, int ns)
{
	double x = W - MR;
	for (int i = ns - 1; i >= 0; i--) {
		x -= 6.5 * (double)strlen(s[i].name) + 22;
		buf_addf(out, "<rect x=\"%.0f\" y=\"6\" width=\"10\" height=\"10\" fill=\"%s\"/>"
		    "<text x=\"%.0f\" y=\"15\">", x, s[i].color, x + 14);
		report_escs(out, s[i].name);
		buf_adds(out, "</text>");
	}
}

/* The y axis: gridlines and labels up to ymax; returns ymax. */
static double
y_axis(struct buf *out, double max, const char *unit, int integer)
{
	double step = nice_step(max, integer);
	double ymax = ceil(max / step - 1e-9) * step;
	if (ymax <= 0)
		ymax = step;
	buf_adds(out, "<g class=\"grid\">");
	for (int k = 0; step * k <= ymax * (1 + 1e-9) && k <= 12; k++) {
		double y = MT + PH - PH * (step * k) / ymax;
		char lab[32];
		fmt_val(step * k, unit, lab, sizeof lab);
		buf_addf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
		    ML, W - MR, y, y, ML - 4, y + 3.5, lab);
	}
	buf_adds(out, "</g>");
	return ymax;
}

/* Time ticks on round minutes, hours or days (UTC), about six of them. */
static void
x_axis(struct buf *out, int64_t t0, int64_t bin_ms, int nbins)
{
	static const int64_t every[] = { 1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880,
		10080, 20160, 43200, 129600, 525600 };
	int64_t span = bin_ms * nbins, step = every[0] * 60000;
	for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
		step = every[i] * 60000;
		if (span / step <= 6)
			break;
	}
	if (span / step > 6)   /* longer than six years: whole days */
		step = (span / 6 / 86400000 + 1) * 86400000;
	int days = step >= 86400000;
	int64_t t = t0 - t0 % step;
	if (t < t0)
		t += step;
	buf_adds(out, "<g class=\"axis\">");
	buf_addf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", ML, W - MR, MT + PH, MT + PH);
	for (; t <= t0 + span; t += step) {
		double x = ML + PW * (double)(t - t0) / (double)span;
		char lab[32];
		time_t ts = (time_t)(t / 1000);
		struct tm tm;
		if (!gmtime_r(&ts, &tm))
			snprintf(lab, sizeof lab, "?");
		else
			strftime(lab, sizeof lab, step >= 365 * 86400000LL ? "%Y" : days ? "%m-%d" :
			    tm.tm_hour || tm.tm_min ? "%H:%M" : "%m-%d", &tm);
		/* labels at the edges are kept inside the picture */
		const char *anchor = x < ML + 16 ? "start" : x > W - MR - 16 ? "end" : "middle";
		buf_addf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
		    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>",
		    x, x, MT + PH, MT + PH + 4, x, MT + PH + 15, anchor, lab);
	}
	buf_adds(out, "</g>");
}

static void
no_data(struct buf *out, const char *what)
{
	buf_addf(out, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
	    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>", ML, MT, PW, PH,
	    ML + PW / 2, MT + PH / 2, what);
}

void
report_svg_bars(struct buf *out, const char *title, const char *unit, int64_t t0,
    int64_t bin_ms, int nbins, const struct report_series *s, int ns)
{
	double max = 0;
	for (int i = 0; i < nbins; i++) {
		double sum = 0;
		for (int k = 0; k < ns; k++)
			sum += s[k].v[i];
		max = sum > max ? sum : max;
	}
	open_svg(out, title, H);
	legend(out, s, ns);
	if (max <= 0) {
		no_data(out, "no events");
		buf_adds(out, "</svg>");
		return;
	}
	double ymax = y_axis(out, max, unit, 1);
	double bw = (double)PW / nbins, gap = bw >= 4 ? bw * 0.15 : 0;
	double *base = xcalloc((size_t)nbins, sizeof *base);
	/* each series one path of rectangles, stacked on the ones before */
	for (int k = 0; k < ns; k++) {
		buf_addf(out, "<path fill=\"%s\" d=\"", s[k].color);
		for (int i = 0; i < nbins; i++) {
			double v = s[k].v[i];
			if (v <= 0)
				continue;
			double y0 = MT + PH - PH * base[i] / ymax, h = PH * v / ymax;
			buf_addf(out, "M%.1f %.1fh%.1fv%.1fh%.1fz", ML + bw * i + gap / 2, y0 - h,
			    bw - gap, h, -(bw - gap));
			base[i] += v;
		}
		buf_adds(out, "\"/>");
	}
	free(base);
	x_axis(out, t0, bin_ms, nbins);
	buf_adds(out, "</svg>");
}

void
report_svg_lines(struct buf *out, const char *title, const char *unit, int64_t t0,
    int64_t bin_ms, int nbins, const struct report_series *s, int ns, double hline,
    const char *hline_label)
{
	double max = hline > 0 ? hline * 1.05 : 0;
	for (int k = 0; k < ns; k++)
		for (int i = 0; i < nbins; i++)
			max = s[k].v[i] > max ? s[k].v[i] : max;
	open_svg(out, title, H);
	legend(out, s, ns);
	if (max <= 0 || nbins == 0) {
		no_data(out, "no cost recorded");
		buf_adds(out, "</svg>");
		return;
	}
	double ymax = y_axis(out, max, unit, 0);
	double bw = (double)PW / nbins;
	for (int k = 0; k < ns; k++) {
		/* a value holds for its whole bin: the line reaches the bin's end */
		buf_addf(out, "<path class=\"line\" stroke=\"%s\" d=\"M%d %.1f", s[k].color, ML,
		    (double)(MT + PH));
		for (int i = 0; i < nbins; i++)
			buf_addf(out, "L%.1f %.1f", ML + bw * (i + 1), MT + PH - PH * s[k].v[i] / ymax);
		buf_adds(out, "\"/>");
	}
	if (hline >= 0) {
		double y = MT + PH - PH * hline / ymax;
		buf_addf(out, "<line class=\"budget\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
		    "<text class=\"budget\" x=\"%d\" y=\"%.1f\">", ML, W - MR, y, y, ML + 4, y - 4);
		report_escs(out, hline_label);
		buf_adds(out, "</text>");
	}
	x_axis(out, t0, bin_ms, nbins);
	buf_adds(out, "</svg>");
}

static void
fmt_ms(uint32_t ms, char *out, size_t n)
{
	if (ms < 1000)
		snprintf(out, n, "%ums", (unsigned)ms);
	else if (ms < 60000)
		snprintf(out, n, "%us", (unsigned)(ms / 1000));
	else if (ms < 3600000)
		snprintf(out, n, "%um", (unsigned)(ms / 60000));
	else
		snprintf(out, n, "%uh", (unsigned)(ms / 3600000));
}

void
report_svg_hist(struct buf *out, const char *title, const struct report_lat *l)
{
	uint64_t max = 0;
	for (int i = 0; i < REPORT_HIST; i++)
		max = l->hist[i] > max ? l->hist[i] : max;
	open_svg(out, title, H);
	if (!max) {
		no_data(out, "no durations");
		buf_adds(out, "</svg>");
		return;
	}
	double ymax = y_axis(out, (double)max, "", 1);
	double bw = (double)PW / REPORT_HIST;
	buf_adds(out, "<g class=\"hist\">");
	for (int i = 0; i < REPORT_HIST; i++) {
		/* a bar holds the durations up to its label, the last one the rest */
		char lab[16] = ">", tip[64];
		if (i < REPORT_HIST - 1)
			fmt_ms(report_hist_edge[i], lab, sizeof lab);
		else
			fmt_ms(report_hist_edge[i - 1], lab + 1, sizeof lab - 1);
		double h = PH * (double)l->hist[i] / ymax, x = ML + bw * i;
		snprintf(tip, sizeof tip, "%s%s: %llu", i < REPORT_HIST - 1 ? "up to " : "", lab,
		    (unsigned long long)l->hist[i]);
		if (l->hist[i])
			buf_addf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
			    "<title>%s</title></rect>", x + bw * 0.1, MT + PH - h, bw * 0.8, h, tip);
		buf_addf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x + bw / 2,
		    MT + PH + 15);
		report_escs(out, lab);   /* ">" escaped */
		buf_adds(out, "</text>");
	}
	buf_addf(out, "</g><line class=\"axisline\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/></svg>",
	    ML, W - MR, MT + PH, MT + PH);
}

void
report_svg_states(struct buf *out, const char *title, const uint64_t *v,
    const char *const *names, const char *const *colors, int n)
{
	uint64_t total = 0;
	for (int i = 0; i < n; i++)
		total += v[i];
	buf_adds(out, "<svg class=\"states\" viewBox=\"0 0 400 14\" preserveAspectRatio=\"none\" "
	    "role=\"img\" aria-label=\"");
	report_escs(out, title);
	buf_adds(out, "\"><title>");
	report_escs(out, title);
	buf_adds(out, "</title>");
	if (!total) {
		buf_adds(out, "<rect width=\"400\" height=\"14\" fill=\"#eee\"/></svg>");
		return;
	}
	double x = 0;
	for (int i = 0; i < n; i++) {
		if (!v[i])
			continue;
		double w = 400.0 * (double)v[i] / (double)total;
		buf_addf(out, "<rect x=\"%.2f\" width=\"%.2f\" height=\"14\" fill=\"%s\"><title>%s: %llu"
		    "</title></rect>", x, w, colors[i], names[i], (unsigned long long)v[i]);
		x += w;
	}
	buf_adds(out, "</svg>");
}
