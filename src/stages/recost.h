/* recost: a run's cost recomputed from its journals' usage under a model
 * table (vj-status --cost, --prices FILE, --models FILE): per stage and
 * tier, beside the cost each answer was journaled with, and what the
 * model's cheap hours saved against the same usage at its dearest hours
 * (docs/vj-status.1, docs/prices.md). */
#ifndef VJ_RECOST_H
#define VJ_RECOST_H

struct recost_opt {
	const char *run;
	const char *models;     /* a model table merged over the shipped one; NULL: $VJ_MODELS */
	const char *prices;     /* then this (table or JSON price file); NULL: none */
	int json;
};

/* Print the report; returns the exit status (2: no run or a bad table). */
int recost_show(const struct recost_opt *o);

#endif
