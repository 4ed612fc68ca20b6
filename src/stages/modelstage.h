/* modelstage: the glue of the two model stages, vj-analyze and vj-generate, on the stage
 * driver with a provider chosen by prov_open. */
#ifndef VJ_MODELSTAGE_H
#define VJ_MODELSTAGE_H

#include "cmd/opts.h"
#include "core/run.h"

int modelstage_main(const struct opts *o, enum stage s);

#endif
