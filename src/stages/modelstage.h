/* modelstage: the glue of the two model stages, vj-analyze and vj-generate, on the stage
 * driver with a provider chosen by prov_open. */
#ifndef VJ_MODELSTAGE_H
#define VJ_MODELSTAGE_H

#include "core/run.h"
#include "stages/stage.h"
#include "stages/batch.h"

/* NULL (0 for max_tokens) is the provider's default (providers/provider.h). */
struct model_config {
	struct stage_config stage;
	const char *provider, *model, *base_url, *api_key_env;
	const char *prompt_file;      /* vj-generate: templates of the user's own */
	const char *prices;           /* a price table merged over the built-in one */
	const char *models;           /* a model table merged over the shipped one (NULL: none) */
	long max_tokens;              /* output token cap */
	long max_side, max_pixels;    /* vj-analyze: send a downscaled copy (0: full size) */
	int timeout_set;              /* stage.timeout was given, not defaulted */
	int estimate, json;           /* --estimate: send nothing, say what the run would take */
	int off_peak, wait;           /* send only in the model's cheapest hours; wait for them */
	int job_timeout_set;          /* stage.job_timeout was given */
	int tier;                     /* enum models_tier: --tier */
	int res;                      /* enum models_res: --media-resolution or --detail */
	const char *res_opt;          /* which of the two was given; NULL: neither */
	struct batch_config batch;    /* --batch and friends */
};

int modelstage_main(const struct model_config *c, enum stage s);

#endif
