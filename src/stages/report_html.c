/* report_html: vj-report's page.  One file that needs nothing else: CSS
 * and plots inline, images as data: URIs, a Content-Security-Policy that
 * lets it fetch nothing, and a few lines of script that only filter the
 * gallery (the tables read the same without it).  Everything that came
 * from outside (ids, messages, analyses, generated text) is escaped. */
#include "stages/report.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_REASON_ROWS 100
#define MAX_SHARD_ROWS 2000
#define MAX_VALUE 2000        /* bytes of one analysis value shown */
#define MAX_TEXT 6000         /* bytes of generated text shown */
#define MAX_SWATCHES 16
#define MAX_FIELDS 64         /* keys of one analysis section or content's data */

static const char css[] =
    ":root{--ok:#2e7d32;--pend:#9e9e9e;--retry:#ef6c00;--bad:#c62828;--rate:#f9a825}"
    "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1240px;padding:0 16px 40px;"
    "color:#222;background:#fff}"
    "h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px;margin-top:34px}h3{font-size:15px}"
    "nav a{margin-right:14px}.note{color:#666;font-size:12px}"
    "table{border-collapse:collapse;margin:8px 0}"
    "th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:right;vertical-align:top}"
    "th{background:#fafafa;font-weight:600}"
    "th:first-child,td:first-child,.l{text-align:left}"
    "td.pat{text-align:left;font-family:ui-monospace,monospace;font-size:12px;max-width:540px;word-break:break-word}"
    ".plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:14px}"
    "figure{margin:0}figcaption{font-size:12px;color:#555;margin-bottom:2px}"
    "svg.plot{width:100%;height:auto;display:block}"
    "svg.plot text{font:10px sans-serif;fill:#555}"
    "svg.plot .grid line{stroke:#eee}svg.plot .axis line,svg.plot .axisline{stroke:#999}"
    "svg.plot .frame{fill:none;stroke:#eee}svg.plot .line{fill:none;stroke-width:1.6}"
    "svg.plot line.budget{stroke:var(--bad);stroke-dasharray:6 4}svg.plot text.budget{fill:var(--bad)}"
    "svg.plot .hist rect{fill:#5c6bc0}"
    "svg.states{width:180px;height:12px;vertical-align:middle;border-radius:2px}"
    ".gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:8px;overflow:hidden}"
    ".card[hidden],.ctl[hidden]{display:none}"
    ".thumb{height:150px;display:flex;align-items:center;justify-content:center;background:#f3f3f3}"
    ".thumb img{max-width:100%;max-height:150px}"
    ".nothumb{font-size:12px;color:#777;padding:8px;text-align:center}"
    ".card h3{font-size:14px;margin:6px 0 2px;word-break:break-all}"
    ".badge{font-size:11px;padding:1px 7px;border-radius:8px;color:#fff;font-weight:normal}"
    ".badge.done{background:var(--ok)}.badge.failed{background:var(--bad)}"
    ".badge.pending{background:var(--pend)}"
    ".meta{font-size:12px;color:#555;margin:2px 0}"
    ".sw{display:inline-block;width:18px;height:18px;border:1px solid #0003;margin:2px 2px 0 0;"
    "border-radius:3px;vertical-align:middle}"
    ".err{color:var(--bad);font-size:12px;word-break:break-word}"
    "pre.text{white-space:pre-wrap;overflow-wrap:anywhere;font:12px/1.4 system-ui,sans-serif;margin:4px 0;"
    "max-height:260px;overflow:auto}"
    "dl{font-size:12px;margin:2px 0}dt{font-weight:600;color:#444}dd{margin:0 0 3px 10px;"
    "word-break:break-word;overflow-wrap:anywhere}h4{font-size:12px;margin:6px 0 0;color:#333}"
    "details summary{cursor:pointer;font-size:12px;color:#333}"
    ".ctl{margin:6px 0 10px}.ctl label{margin-right:14px}";

/* Filtering only: the gallery is complete without it. */
static const char script[] =
    "(function(){var f=document.getElementById('gf'),s=document.getElementById('gs'),"
    "c=document.getElementById('gc'),k=document.getElementById('gctl');"
    "if(!f||!s||!c||!k)return;k.hidden=false;"
    "var cards=document.querySelectorAll('#cards .card');"
    "function up(){var n=0;for(var i=0;i<cards.length;i++){var e=cards[i],"
    "ok=(!f.value||e.getAttribute('data-format')===f.value)&&"
    "(!s.value||e.getAttribute('data-state')===s.value);e.hidden=!ok;if(ok)n++;}"
    "c.textContent=n+' of '+cards.length+' shown';}"
    "f.addEventListener('change',up);s.addEventListener('change',up);up();})();";

/* ---- text ---- */

void
report_esc(struct buf *out, const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t lim = max && n > max ? max : n;
	for (size_t i = 0; i < lim;) {
		unsigned c = p[i];
		size_t k = utf8_len(p + i, n - i);
		if (k > 1) {
			if (i + k > lim)
				break;
			buf_add(out, p + i, k);
			i += k;
			continue;
		}
		i++;
		switch (c) {
		case '&': buf_adds(out, "&amp;"); break;
		case '<': buf_adds(out, "&lt;"); break;
		case '>': buf_adds(out, "&gt;"); break;
		case '"': buf_adds(out, "&quot;"); break;
		case '\'': buf_adds(out, "&#39;"); break;
		case '\n': case '\t': buf_add(out, p + i - 1, 1); break;
		default:
			if (k == 0 || c < 0x20 || c == 0x7f)
				buf_adds(out, "\xef\xbf\xbd");   /* U+FFFD */
			else
				buf_add(out, p + i - 1, 1);
		}
	}
	if (lim < n)
		buf_adds(out, "\xe2\x80\xa6");   /* ... */
}

void
report_escs(struct buf *out, const char *s)
{
	if (s)
		report_esc(out, s, strlen(s), 0);
}

void
report_fmt_time(int64_t ms, char *out, size_t n, int with_date)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		snprintf(out, n, "?");
	else
		strftime(out, n, with_date ? "%Y-%m-%d %H:%M" : "%H:%M", &tm);
}

/* 1234567 -> "1,234,567" */
static void
num(struct buf *out, uint64_t v)
{
	char d[32];
	int n = snprintf(d, sizeof d, "%llu", (unsigned long long)v);
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf_add(out, ",", 1);
		buf_add(out, d + i, 1);
	}
}

static void
td_num(struct buf *out, uint64_t v)
{
	buf_adds(out, "<td>");
	num(out, v);
	buf_adds(out, "</td>");
}

static void
cost(struct buf *out, double usd)
{
	buf_addf(out, usd >= 100 ? "$%.2f" : "$%.4f", usd);
}

static void
dur(struct buf *out, double ms)
{
	if (ms < 1000)
		buf_addf(out, "%.0f ms", ms);
	else if (ms < 60000)
		buf_addf(out, "%.1f s", ms / 1000);
	else if (ms < 3600000)
		buf_addf(out, "%.1f min", ms / 60000);
	else
		buf_addf(out, "%.1f h", ms / 3600000);
}

static void
bytes(struct buf *out, uint64_t b)
{
	char s[32];
	status_fmt_bytes(b, s, sizeof s);
	buf_adds(out, s);
}

/* ---- stages ---- */

static const char *const state_names[] = { "done", "pending", "retrying", "failed" };
static const char *const state_colors[] = { "#2e7d32", "#9e9e9e", "#ef6c00", "#c62828" };

static void
bin_label(const struct report *rp, char *out, size_t n)
{
	int64_t m = rp->bin_ms / 60000;
	if (m < 60)
		snprintf(out, n, "%lld-minute", (long long)m);
	else if (m < 1440)
		snprintf(out, n, "%lld-hour", (long long)(m / 60));
	else
		snprintf(out, n, "%lld-day", (long long)(m / 1440));
	if (m == 1)
		snprintf(out, n, "1-minute");
}

static void
stages_table(const struct report *rp, struct buf *out)
{
	buf_adds(out, "<table><tr><th>stage</th><th>pending</th><th>retry ready</th>"
	    "<th>retry waiting</th><th>done</th><th>failed</th><th>done today</th><th>requests</th>"
	    "<th>fail %</th><th class=\"l\">last activity (UTC)</th><th class=\"l\">jobs</th></tr>");
	for (int s = 0; s < ST_N; s++) {
		const struct status_stage *g = &rp->st.st[s];
		buf_addf(out, "<tr><td>%s</td>", stage_name[s]);
		td_num(out, g->pending);
		if (s == ST_PACK) {
			buf_adds(out, "<td>-</td><td>-</td>");
			td_num(out, g->done);
			buf_adds(out, "<td>-</td>");
		} else {
			td_num(out, g->retry_ready);
			td_num(out, g->retry_waiting);
			td_num(out, g->done);
			td_num(out, g->failed);
		}
		td_num(out, g->done_today);
		if (s == ST_PACK) {
			buf_addf(out, "<td>%llu shard%s</td><td>-</td>", (unsigned long long)g->shards,
			    g->shards == 1 ? "" : "s");
		} else {
			td_num(out, g->requests);
			if (g->requests)
				buf_addf(out, "<td>%.1f%%</td>", 100.0 * (double)g->fails / (double)g->requests);
			else
				buf_adds(out, "<td>-</td>");
		}
		char when[32] = "-";
		if (g->last_t)
			report_fmt_time(g->last_t, when, sizeof when, 1);
		buf_addf(out, "<td class=\"l\">%s%s</td><td class=\"l\">", when,
		    g->running_pid ? " (running)" : "");
		uint64_t v[4] = { g->done, g->pending, g->retry_ready + g->retry_waiting, g->failed };
		char title[64];
		snprintf(title, sizeof title, "%s: jobs by state", stage_name[s]);
		report_svg_states(out, title, v, state_names, state_colors, 4);
		buf_adds(out, "</td></tr>");
	}
	buf_adds(out, "</table><p class=\"note\">Bars: <span style=\"color:#2e7d32\">done</span>, "
	    "<span style=\"color:#9e9e9e\">pending</span>, <span style=\"color:#ef6c00\">retrying"
	    "</span>, <span style=\"color:#c62828\">failed</span>.  Requests and fail % count every "
	    "answer ever journaled, retries included.</p>");
}

static void
stage_plots(const struct report *rp, struct buf *out)
{
	char bl[32], cap[160];
	bin_label(rp, bl, sizeof bl);
	double *a = xcalloc((size_t)rp->nbins + 1, sizeof *a);
	double *b = xcalloc((size_t)rp->nbins + 1, sizeof *b);
	buf_addf(out, "<p class=\"note\">Per %s bin, UTC.</p><div class=\"plots\">", bl);
	for (int s = 0; s < ST_N; s++) {
		for (int i = 0; i < rp->nbins; i++) {
			a[i] = rp->bins[s][i].done;
			b[i] = rp->bins[s][i].rate;
		}
		struct report_series done = { s == ST_PACK ? "records sealed" : "done", "#2e7d32", a };
		snprintf(cap, sizeof cap, "%s: %s per %s bin", stage_name[s],
		    s == ST_PACK ? "records sealed" : "completions", bl);
		buf_adds(out, "<figure><figcaption>");
		report_escs(out, cap);
		buf_adds(out, "</figcaption>");
		report_svg_bars(out, cap, "", rp->t0, rp->bin_ms, rp->nbins, &done, 1);
		buf_adds(out, "</figure>");
		if (s == ST_PACK)
			continue;
		double *c = xcalloc((size_t)rp->nbins + 1, sizeof *c);
		for (int i = 0; i < rp->nbins; i++)
			c[i] = rp->bins[s][i].fail;
		struct report_series f[2] = { { "429 (rate limited)", "#f9a825", b },
			{ "other failures", "#c62828", c } };
		snprintf(cap, sizeof cap, "%s: 429s and failures per %s bin", stage_name[s], bl);
		buf_adds(out, "<figure><figcaption>");
		report_escs(out, cap);
		buf_adds(out, "</figcaption>");
		report_svg_bars(out, cap, "", rp->t0, rp->bin_ms, rp->nbins, f, 2);
		buf_adds(out, "</figure>");
		free(c);
	}
	buf_adds(out, "</div>");
	free(a);
	free(b);
}

/* ---- durations ---- */

static void
lat_row(struct buf *out, const char *name, const struct report_lat *l)
{
	buf_addf(out, "<tr><td>%s</td>", name);
	td_num(out, l->n);
	if (!l->n) {
		buf_adds(out, "<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td></tr>");
		return;
	}
	double v[6] = { l->avg, l->p50, l->p90, l->p95, l->p99, l->max };
	for (int i = 0; i < 6; i++) {
		buf_adds(out, "<td>");
		dur(out, v[i]);
		buf_adds(out, "</td>");
	}
	buf_adds(out, "</tr>");
}

static void
durations(const struct report *rp, struct buf *out)
{
	buf_adds(out, "<h2 id=\"durations\">Durations</h2><table><tr><th>stage</th><th>jobs</th>"
	    "<th>avg</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>");
	for (int s = 0; s < ST_PACK; s++)
		lat_row(out, stage_name[s], &rp->lat[s]);
	lat_row(out, "end to end", &rp->e2e);
	buf_adds(out, "</table><p class=\"note\">A stage's time per job is the <code>ms</code> of "
	    "each job's latest result: from its first request to the answer, retries and waits "
	    "between them included.  End to end is from the job's acceptance by vj-ingest to its "
	    "latest generate result, from the journals' time stamps (to the second).</p>"
	    "<div class=\"plots\">");
	for (int s = 0; s <= ST_PACK; s++) {
		const struct report_lat *l = s == ST_PACK ? &rp->e2e : &rp->lat[s];
		char cap[96];
		snprintf(cap, sizeof cap, "%s: jobs by duration", s == ST_PACK ? "end to end" : stage_name[s]);
		buf_adds(out, "<figure><figcaption>");
		report_escs(out, cap);
		buf_adds(out, "</figcaption>");
		report_svg_hist(out, cap, l);
		buf_adds(out, "</figure>");
	}
	buf_adds(out, "</div>");
}

/* ---- tokens and cost ---- */

static void
costs(const struct report *rp, struct buf *out)
{
	const struct status *st = &rp->st;
	uint64_t tot[3] = {0};
	buf_adds(out, "<h2 id=\"cost\">Tokens and cost</h2><table><tr><th>stage</th><th>prompt</th>"
	    "<th>completion</th><th>cached</th><th>cost</th><th>per done job</th></tr>");
	for (int s = 0; s < ST_N; s++) {
		const struct status_stage *g = &st->st[s];
		buf_addf(out, "<tr><td>%s</td>", stage_name[s]);
		td_num(out, g->tok_prompt);
		td_num(out, g->tok_completion);
		td_num(out, g->tok_cached);
		buf_adds(out, "<td>");
		cost(out, g->cost);
		buf_adds(out, "</td><td>");
		if (g->done)
			cost(out, g->cost / (double)g->done);
		else
			buf_adds(out, "-");
		buf_adds(out, "</td></tr>");
		tot[0] += g->tok_prompt, tot[1] += g->tok_completion, tot[2] += g->tok_cached;
	}
	buf_adds(out, "<tr><th>total</th>");
	for (int k = 0; k < 3; k++) {
		buf_adds(out, "<th>");
		num(out, tot[k]);
		buf_adds(out, "</th>");
	}
	buf_adds(out, "<th>");
	cost(out, st->cost);
	buf_adds(out, "</th><th></th></tr></table>");
	buf_adds(out, "<p class=\"note\">Costs are the estimates the stages journaled "
	    "(docs/prices.md), failed answers that used tokens included.  The journal records no "
	    "pricing tier, so there is no split by tier.</p>");

	/* cumulative cost over time, per paying stage and in all */
	int n = rp->nbins;
	double *v[3];
	for (int k = 0; k < 3; k++)
		v[k] = xcalloc((size_t)n + 1, sizeof **v);
	double acc[3] = {0};
	for (int i = 0; i < n; i++) {
		acc[0] += rp->bins[ST_ANALYZE][i].cost;
		acc[1] += rp->bins[ST_GENERATE][i].cost;
		acc[2] += rp->bins[ST_INGEST][i].cost + rp->bins[ST_ANALYZE][i].cost +
		    rp->bins[ST_GENERATE][i].cost + rp->bins[ST_PACK][i].cost;
		for (int k = 0; k < 3; k++)
			v[k][i] = acc[k];
	}
	struct report_series s[3] = { { "analyze", "#1e88e5", v[0] }, { "generate", "#8e24aa", v[1] },
		{ "all stages", "#333333", v[2] } };
	char label[96] = "";
	if (rp->o->max_cost >= 0)
		snprintf(label, sizeof label, "--max-cost $%.4g", rp->o->max_cost);
	buf_adds(out, "<div class=\"plots\"><figure><figcaption>cumulative cost (USD), UTC");
	if (rp->o->max_cost >= 0)
		buf_adds(out, ", against the budget given to vj-report");
	buf_adds(out, "</figcaption>");
	report_svg_lines(out, "cumulative cost", "$", rp->t0, rp->bin_ms, n, s, 3,
	    rp->o->max_cost, label);
	buf_adds(out, "</figure></div>");
	if (rp->o->max_cost >= 0)
		buf_adds(out, "<p class=\"note\">A budget stop is not journaled: the line is the "
		    "<code>--max-cost</code> given to vj-report.  A stage's budget counts the spend of "
		    "one invocation, so it matches the curve of that stage when the run was made by "
		    "one invocation of it.</p>");
	for (int k = 0; k < 3; k++)
		free(v[k]);

	if (!rp->nhours)
		return;
	buf_addf(out, "<h3>Per %s (UTC)</h3><table><tr><th>%s</th>", rp->by_day ? "day" : "hour",
	    rp->by_day ? "day" : "hour");
	for (int k = ST_ANALYZE; k <= ST_GENERATE; k++)
		buf_addf(out, "<th>%s done</th><th>%s tokens</th><th>%s cost</th>", stage_name[k],
		    stage_name[k], stage_name[k]);
	buf_adds(out, "<th>ingest done</th><th>cost</th></tr>");
	for (size_t i = 0; i < rp->nhours; i++) {
		const struct report_hour *h = &rp->hours[i];
		char when[32];
		double all = 0;
		report_fmt_time(h->start, when, sizeof when, 1);
		if (rp->by_day)
			when[10] = 0;
		buf_addf(out, "<tr><td>%s</td>", when);
		for (int k = ST_ANALYZE; k <= ST_GENERATE; k++) {
			td_num(out, h->done[k]);
			td_num(out, h->tok[k][0] + h->tok[k][1]);
			buf_adds(out, "<td>");
			cost(out, h->cost[k]);
			buf_adds(out, "</td>");
		}
		for (int k = 0; k < ST_N; k++)
			all += h->cost[k];
		td_num(out, h->done[ST_INGEST]);
		buf_adds(out, "<td>");
		cost(out, all);
		buf_adds(out, "</td></tr>");
	}
	buf_adds(out, "</table><p class=\"note\">Tokens: prompt + completion.</p>");
}

/* ---- failures ---- */

static void
failures(const struct report *rp, struct buf *out)
{
	buf_adds(out, "<h2 id=\"failures\">Failures by reason</h2>");
	if (!rp->nreasons) {
		buf_adds(out, "<p>No failure recorded.</p>");
		return;
	}
	buf_adds(out, "<table><tr><th>stage</th><th class=\"l\">class</th><th>HTTP</th>"
	    "<th class=\"l\">message pattern</th><th>events</th><th>final</th>"
	    "<th class=\"l\">last (UTC)</th><th class=\"l\">example jobs</th></tr>");
	uint64_t rest = 0, restn = 0;
	for (size_t i = 0; i < rp->nreasons; i++) {
		const struct report_reason *x = rp->reasons[i];
		if (i >= MAX_REASON_ROWS) {
			rest += x->events;
			restn++;
			continue;
		}
		char when[32];
		report_fmt_time(x->last_t, when, sizeof when, 1);
		buf_addf(out, "<tr><td>%s</td><td class=\"l\">", stage_name[x->stage]);
		report_escs(out, x->kind);
		buf_adds(out, "</td><td>");
		if (x->status)
			buf_addf(out, "%d", x->status);
		buf_adds(out, "</td><td class=\"pat\">");
		report_escs(out, x->pattern);
		buf_adds(out, "</td>");
		td_num(out, x->events);
		td_num(out, x->final);
		buf_addf(out, "<td class=\"l\">%s</td><td class=\"l\">", when);
		for (int k = 0; k < x->nex; k++) {
			buf_adds(out, k ? ", " : "");
			report_escs(out, x->ex[k]);
		}
		buf_adds(out, "</td></tr>");
	}
	buf_adds(out, "</table>");
	if (restn || rp->reasons_dropped) {
		buf_adds(out, "<p class=\"note\">Not listed: ");
		num(out, rest + rp->reasons_dropped);
		buf_adds(out, " more failure events");
		if (restn) {
			buf_adds(out, " under ");
			num(out, restn);
			buf_adds(out, " less frequent patterns");
		}
		buf_adds(out, ".</p>");
	}
	buf_adds(out, "<p class=\"note\">A pattern is the message with paths and URLs as "
	    "&lt;path&gt;, long hex strings as &lt;hex&gt; and numbers as # (three-digit ones, "
	    "such as HTTP statuses, kept).  Events count every failed attempt; final, those that "
	    "left the job failed for good.  <code>vj-status --failed</code> lists the jobs.</p>");
}

/* ---- shards ---- */

static void
shards(const struct report *rp, struct buf *out)
{
	const struct status_stage *pk = &rp->st.st[ST_PACK];
	buf_adds(out, "<h2 id=\"shards\">Shards</h2><p>The pack journal records ");
	num(out, pk->shards);
	buf_adds(out, pk->shards == 1 ? " shard (" : " shards (");
	bytes(out, pk->shard_bytes);
	buf_adds(out, "), in every output directory.</p>");
	if (!rp->o->out) {
		buf_adds(out, "<p class=\"note\">Give <code>-o OUT</code> for the shards of an output "
		    "directory, from its index.json.</p>");
		return;
	}
	if (rp->index_err) {
		buf_adds(out, "<p class=\"err\">");
		report_escs(out, rp->index_err);
		buf_adds(out, "</p>");
		return;
	}
	uint64_t rec = 0, by = 0;
	for (size_t i = 0; i < rp->nshards; i++)
		rec += rp->shards[i].records, by += rp->shards[i].bytes;
	buf_adds(out, "<p>");
	report_escs(out, rp->o->out);
	buf_adds(out, "/index.json: ");
	num(out, rp->nshards);
	buf_adds(out, rp->nshards == 1 ? " shard, " : " shards, ");
	num(out, rec);
	buf_adds(out, " records, ");
	bytes(out, by);
	buf_adds(out, ".</p><table><tr><th class=\"l\">shard</th><th>records</th><th>bytes</th>"
	    "<th class=\"l\">first id</th><th class=\"l\">last id</th><th class=\"l\">format</th>"
	    "<th class=\"l\">run</th></tr>");
	for (size_t i = 0; i < rp->nshards && i < MAX_SHARD_ROWS; i++) {
		const struct report_shard *d = &rp->shards[i];
		buf_adds(out, "<tr><td>");
		report_escs(out, d->name);
		buf_adds(out, "</td>");
		td_num(out, d->records);
		buf_adds(out, "<td>");
		bytes(out, d->bytes);
		buf_adds(out, "</td><td class=\"l\">");
		report_escs(out, d->first);
		buf_adds(out, "</td><td class=\"l\">");
		report_escs(out, d->last);
		buf_adds(out, "</td><td class=\"l\">");
		report_escs(out, d->format);
		buf_adds(out, " ");
		report_escs(out, d->compress);
		buf_addf(out, "</td><td class=\"l\">%s</td></tr>", d->other_run ? "another run" : "this run");
	}
	buf_adds(out, "</table>");
	if (rp->nshards > MAX_SHARD_ROWS) {
		buf_adds(out, "<p class=\"note\">The first ");
		num(out, MAX_SHARD_ROWS);
		buf_adds(out, " are listed.</p>");
	}
}

/* ---- the gallery ---- */

#define HEX "0123456789abcdefABCDEF"

/* CSS colour names a model is likely to say, with their values. */
static const struct { const char *name, *hex; } named[] = {
	{ "black", "000000" }, { "white", "ffffff" }, { "gray", "808080" }, { "grey", "808080" },
	{ "silver", "c0c0c0" }, { "red", "ff0000" }, { "maroon", "800000" }, { "crimson", "dc143c" },
	{ "pink", "ffc0cb" }, { "hotpink", "ff69b4" }, { "salmon", "fa8072" }, { "coral", "ff7f50" },
	{ "tomato", "ff6347" }, { "orange", "ffa500" }, { "gold", "ffd700" }, { "yellow", "ffff00" },
	{ "khaki", "f0e68c" }, { "beige", "f5f5dc" }, { "ivory", "fffff0" }, { "cream", "fffdd0" },
	{ "tan", "d2b48c" }, { "brown", "a52a2a" }, { "chocolate", "d2691e" }, { "sienna", "a0522d" },
	{ "olive", "808000" }, { "green", "008000" }, { "lime", "00ff00" }, { "forestgreen", "228b22" },
	{ "darkgreen", "006400" }, { "teal", "008080" }, { "turquoise", "40e0d0" }, { "cyan", "00ffff" },
	{ "aqua", "00ffff" }, { "skyblue", "87ceeb" }, { "lightblue", "add8e6" }, { "blue", "0000ff" },
	{ "navy", "000080" }, { "royalblue", "4169e1" }, { "indigo", "4b0082" }, { "purple", "800080" },
	{ "violet", "ee82ee" }, { "lavender", "e6e6fa" }, { "magenta", "ff00ff" }, { "plum", "dda0dd" },
	{ "charcoal", "36454f" }, { "darkgray", "a9a9a9" }, { "darkgrey", "a9a9a9" },
	{ "lightgray", "d3d3d3" }, { "lightgrey", "d3d3d3" }, { "burgundy", "800020" },
	{ "mint", "98ff98" }, { "peach", "ffe5b4" }, { "rust", "b7410e" }, { "amber", "ffbf00" },
};

static const char *
named_hex(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (strlen(named[i].name) == n && memcmp(named[i].name, w, n) == 0)
			return named[i].hex;
	return NULL;
}

/* A palette entry's colour: "#1c111b (black)" gives its hex; a name
 * ("navy blue", "off-white") the value of the whole name run together or
 * of its last word.  Only checked hex digits reach the style attribute. */
static int
swatch(struct buf *out, const char *c)
{
	char col[8] = "";
	const char *h = strchr(c, '#');
	size_t n = 0;
	while (h && n < 7 && h[1 + n] && strchr(HEX, h[1 + n]))
		n++;
	if (h && (n == 6 || n == 3)) {
		snprintf(col, sizeof col, "%.*s", (int)n, h + 1);
	} else {
		char w[32];
		size_t k = 0, last = 0;
		for (const char *p = c; *p && k + 1 < sizeof w; p++) {
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
				w[k++] = (char)(*p | 0x20);
			else if (*p == ' ' || *p == '-')
				last = k;
			else
				return 0;
		}
		const char *v = k ? named_hex(w, k) : NULL;
		if (!v && last < k)
			v = named_hex(w + last, k - last);
		if (!v)
			return 0;
		snprintf(col, sizeof col, "%s", v);
	}
	buf_addf(out, "<span class=\"sw\" style=\"background:#%s\" title=\"", col);
	report_escs(out, c);
	buf_adds(out, "\"></span>");
	return 1;
}

static void
palette(struct buf *out, json_t *colors)
{
	static const char *const groups[] = { "primary", "secondary", "accent" };
	int n = 0;
	for (int g = 0; g < 3; g++) {
		json_t *a = json_object_get(colors, groups[g]);
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v)
			if (json_is_string(v) && n < MAX_SWATCHES)
				n += swatch(out, json_string_value(v));
	}
}

/* A value of an analysis or content field, as text. */
static void
value(struct buf *out, json_t *v)
{
	if (json_is_string(v)) {
		report_esc(out, json_string_value(v), json_string_length(v), MAX_VALUE);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (i >= 64)
				break;
			buf_adds(out, i ? ", " : "");
			value(out, e);
		}
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (s)
			report_esc(out, s, strlen(s), MAX_VALUE);
		free(s);
	}
}

static void
fields(struct buf *out, json_t *o)
{
	const char *k;
	json_t *v;
	int n = 0;
	buf_adds(out, "<dl>");
	json_object_foreach(o, k, v) {
		if (++n > MAX_FIELDS)
			break;
		buf_adds(out, "<dt>");
		report_escs(out, k);
		buf_adds(out, "</dt><dd>");
		value(out, v);
		buf_adds(out, "</dd>");
	}
	buf_adds(out, "</dl>");
}

static const char *
format_of(const struct report_sample *x)
{
	const char *f = json_string_value(json_object_get(json_object_get(x->rec, "job"), "outputFormat"));
	if (!f)
		f = json_string_value(json_object_get(json_object_get(x->rec, "content"), "format"));
	return f ? f : "";
}

static void
card(struct buf *out, const struct report_sample *x)
{
	json_t *job = json_object_get(x->rec, "job"), *img = json_object_get(x->rec, "image");
	json_t *an = json_object_get(x->rec, "analysis"), *ct = json_object_get(x->rec, "content");
	const char *fmt = format_of(x);
	buf_adds(out, "<article class=\"card\" data-format=\"");
	report_escs(out, fmt);
	buf_addf(out, "\" data-state=\"%s\"><div class=\"thumb\">", x->state);
	if (x->thumb) {
		buf_addf(out, "<img src=\"%s\" alt=\"", x->thumb);
		report_escs(out, x->id);
		buf_adds(out, "\">");
	} else {
		buf_adds(out, "<div class=\"nothumb\">");
		report_escs(out, x->thumb_why ? x->thumb_why : "no image");
		buf_adds(out, "</div>");
	}
	buf_adds(out, "</div><h3>");
	report_escs(out, x->id);
	buf_addf(out, " <span class=\"badge %s\">%s</span></h3><p class=\"meta\">", x->state, x->state);
	report_escs(out, *fmt ? fmt : "no format");
	if (img) {
		buf_adds(out, " &middot; ");
		report_escs(out, json_string_value(json_object_get(img, "mime")));
		buf_addf(out, " %lldx%lld &middot; ", (long long)json_integer_value(json_object_get(img, "width")),
		    (long long)json_integer_value(json_object_get(img, "height")));
		json_int_t b = json_integer_value(json_object_get(img, "bytes"));
		bytes(out, b > 0 ? (uint64_t)b : 0);
	}
	buf_adds(out, "</p>");
	const char *ctx = json_string_value(json_object_get(job, "imageContext"));
	if (ctx && *ctx) {
		buf_adds(out, "<p class=\"meta\">");
		report_esc(out, ctx, strlen(ctx), 300);
		buf_adds(out, "</p>");
	}
	if (x->fail_ev) {
		json_t *e = x->fail_ev;
		buf_addf(out, "<p class=\"err\">%s, ", stage_name[x->fail_stage]);
		report_escs(out, json_string_value(json_object_get(e, "kind")));
		buf_addf(out, ", attempt %lld: ", (long long)json_integer_value(json_object_get(e, "attempt")));
		const char *m = json_string_value(json_object_get(e, "error"));
		report_esc(out, m ? m : "(no error recorded)", m ? strlen(m) : 19, 600);
		buf_adds(out, "</p>");
	}
	if (json_is_object(an)) {
		json_t *colors = json_object_get(an, "colors");
		buf_adds(out, "<div class=\"palette\">");
		palette(out, colors);
		buf_adds(out, "</div><details><summary>analysis</summary>");
		const char *k;
		json_t *v;
		int n = 0;
		json_object_foreach(an, k, v) {
			if (++n > MAX_FIELDS)
				break;
			buf_adds(out, "<h4>");
			report_escs(out, k);
			buf_adds(out, "</h4>");
			if (json_is_object(v))
				fields(out, v);
			else {
				buf_adds(out, "<dl><dd>");
				value(out, v);
				buf_adds(out, "</dd></dl>");
			}
		}
		buf_adds(out, "</details>");
	}
	if (json_is_object(ct)) {
		const char *t = json_string_value(json_object_get(ct, "text"));
		buf_adds(out, "<details open><summary>content</summary><pre class=\"text\">");
		if (t)
			report_esc(out, t, json_string_length(json_object_get(ct, "text")), MAX_TEXT);
		buf_adds(out, "</pre>");
		if (json_is_object(json_object_get(ct, "data")))
			fields(out, json_object_get(ct, "data"));
		buf_adds(out, "</details>");
	}
	buf_adds(out, "</article>");
}

static int
seen_before(const struct report *rp, int i, const char *fmt)
{
	for (int k = 0; k < i; k++)
		if (strcmp(format_of(&rp->samples[k]), fmt) == 0)
			return 1;
	return 0;
}

static void
gallery(const struct report *rp, struct buf *out)
{
	buf_adds(out, "<h2 id=\"gallery\">Samples</h2><p>");
	num(out, (uint64_t)rp->nsamples);
	buf_adds(out, " of ");
	num(out, rp->sample_pool);
	buf_adds(out, " jobs, drawn by the hash of their ids (the same draw every time; failed "
	    "jobs get up to a quarter), sorted by id.</p>");
	if (!rp->nsamples)
		return;
	/* the controls appear only when the script runs */
	buf_adds(out, "<div class=\"ctl\" id=\"gctl\" hidden><label>format <select id=\"gf\">"
	    "<option value=\"\">all</option>");
	for (int i = 0; i < rp->nsamples; i++) {
		const char *f = format_of(&rp->samples[i]);
		if (seen_before(rp, i, f))
			continue;
		buf_adds(out, "<option value=\"");
		report_escs(out, f);
		buf_adds(out, "\">");
		report_escs(out, *f ? f : "(none)");
		buf_adds(out, "</option>");
	}
	buf_adds(out, "</select></label><label>state <select id=\"gs\"><option value=\"\">all"
	    "</option><option>done</option><option>failed</option><option>pending</option>"
	    "</select></label><span id=\"gc\" class=\"note\"></span></div><div class=\"gallery\" id=\"cards\">");
	for (int i = 0; i < rp->nsamples; i++)
		card(out, &rp->samples[i]);
	buf_adds(out, "</div>");
}

/* ---- the page ---- */

void
report_html(const struct report *rp, struct buf *out)
{
	char when[32];
	report_fmt_time(rp->now, when, sizeof when, 1);
	buf_adds(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	    "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<meta name=\"generator\" content=\"vj-report " VJ_VERSION "\"><title>vj report: ");
	report_escs(out, rp->o->run);
	buf_addf(out, "</title><style>%s</style></head><body><header><h1>vj report</h1><p>Run <b>",
	    css);
	report_escs(out, rp->o->run);
	buf_adds(out, "</b>: ");
	num(out, rp->st.jobs);
	buf_adds(out, " jobs");
	if (rp->nbins) {
		char a[32], b[32];
		report_fmt_time(rp->first_min * 60000, a, sizeof a, 1);
		report_fmt_time(rp->last_min * 60000 + 59999, b, sizeof b, 1);
		buf_addf(out, ", events from %s to %s", a, b);
	}
	buf_adds(out, ", total cost ");
	cost(out, rp->st.cost);
	buf_addf(out, ".  Written %s UTC by vj-report " VJ_VERSION ".</p><nav><a href=\"#stages\">"
	    "stages</a><a href=\"#durations\">durations</a><a href=\"#cost\">cost</a>"
	    "<a href=\"#failures\">failures</a><a href=\"#shards\">shards</a>"
	    "<a href=\"#gallery\">samples</a></nav></header><main>", when);
	buf_adds(out, "<h2 id=\"stages\">Stages</h2>");
	stages_table(rp, out);
	stage_plots(rp, out);
	durations(rp, out);
	costs(rp, out);
	failures(rp, out);
	shards(rp, out);
	gallery(rp, out);
	buf_addf(out, "</main><script>%s</script></body></html>\n", script);
}
