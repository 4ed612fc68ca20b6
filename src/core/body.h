/* body: a request body made of pieces, so an image can be streamed from the
 * object store as base64 instead of being built in memory. */
#ifndef VJ_BODY_H
#define VJ_BODY_H

#include <stddef.h>

struct body;
struct body *body_new(void);
void body_add(struct body *b, const void *p, size_t n);        /* copied */
void body_adds(struct body *b, const char *s);
/* The file at path as base64, read when the body is sent.  With sha (64 hex
 * digits), the bytes are hashed as they go and a mismatch fails the read
 * (body_damage says so).  -1 if unreadable. */
int body_add_b64file(struct body *b, const char *path, const char *sha);
/* The file at path as it is (a batch input file uploaded), read when the
 * body is sent: never held in memory.  -1 if it cannot be stat'ed. */
int body_add_file(struct body *b, const char *path);
/* Why a read failed because a file was not what its hash says, or NULL. */
const char *body_damage(const struct body *b);
size_t body_size(const struct body *b);
/* The next up to n bytes of the body (curl's read callback); 0 at the end,
 * (size_t)-1 when a file cannot be opened or read, or shrank. */
size_t body_read(struct body *b, char *dst, size_t n);
char *body_flatten(struct body *b, size_t *len);              /* for tests and logs */
void body_free(struct body *b);

#endif
