/* jarena: a per-thread bump allocator for jansson.  A thread that parses,
 * uses and drops whole JSON trees (the input thread) allocates their nodes
 * from an arena reset after each line, instead of a malloc and a free per
 * node.  Nothing allocated inside an arena may outlive jarena_end: copy out
 * what must (json_dumps text, strings). */
#ifndef VJ_JARENA_H
#define VJ_JARENA_H

void jarena_install(void);   /* once, before any thread uses jansson */
void jarena_begin(void);     /* this thread's jansson allocations go to its arena */
void jarena_end(void);       /* back to malloc; the arena is emptied */
/* Free what jansson returned (json_dumps text): a no-op inside an arena. */
void jarena_free(void *p);

#endif
