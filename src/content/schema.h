/* schema: the fixed structure of an image analysis, as a JSON Schema object
 * (sent to Gemini as responseJsonSchema, shown to chat models as an example)
 * and a validator for a small JSON Schema subset. */
#ifndef VJ_SCHEMA_H
#define VJ_SCHEMA_H

#include <stddef.h>
#include <jansson.h>

/* The analysis schema (borrowed; built once). */
json_t *schema_analysis(void);
/* An example instance whose values describe the fields (borrowed). */
json_t *schema_example(void);
/* First 12 hex digits of the sha256 of the canonical schema text. */
const char *schema_version(void);

/* Check v against the analysis schema: 0, or -1 with msg set to the first
 * offending path and what was wrong ("$.colors.primary: expected an array
 * of strings").  Strings and lists are bounded (docs/providers.md); keys
 * the schema does not have are removed from v (said under -v). */
int schema_validate(json_t *v, char *msg, size_t n);

/* The same for any schema using type (object, array, string, number,
 * integer, boolean), properties, required and items; extra keys are
 * ignored and kept, sizes unbounded. */
int schema_check(json_t *schema, json_t *v, char *msg, size_t n);

#endif
