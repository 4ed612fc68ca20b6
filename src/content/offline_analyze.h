/* offline_analyze: a deterministic, local image analyser that answers the analysis schema. */
#ifndef VJ_OFFLINE_ANALYZE_H
#define VJ_OFFLINE_ANALYZE_H

#include <stddef.h>
#include <jansson.h>

/*
 * Analyse the image in BUF from its pixels alone: colours, composition,
 * lighting, mood.  Returns a new object with every field of the analysis
 * schema (strings and arrays of strings); what pixels cannot tell
 * (objects, text, brand) is left empty or "unknown".  Same bytes, same
 * JSON.  NULL with ERR set when the image cannot be decoded.
 */
json_t *offline_analyze(const unsigned char *buf, size_t len, const char *mime,
    char *err, size_t errlen);

#endif
