/*
 * xmem.h - allocators that never return NULL, and fatal().
 *
 * Out-of-memory is not a recoverable error for nntop: the x* allocators call
 * fatal(), which runs the registered cleanup hooks (restore the terminal,
 * flush the run log) and exits with status 1.  Zero-size allocations are
 * programmer errors and trip an assert.
 */
#ifndef NNTOP_XMEM_H
#define NNTOP_XMEM_H

#include <stddef.h>
#include <stdint.h>

/* malloc that aborts through fatal() on failure; size must be non-zero. */
void *xmalloc(size_t size);
/* calloc likewise; nmemb and size must be non-zero. */
void *xcalloc(size_t nmemb, size_t size);
/* realloc likewise; size must be non-zero. */
void *xrealloc(void *ptr, size_t size);
/* Aligned (64-byte) zeroed allocation for tensor buffers; free with free(). */
void *xalloc_aligned(size_t size);
/* strdup that aborts through fatal() on failure. */
char *xstrdup(const char *s);
/* asprintf that aborts through fatal() on failure; returns a heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The memory this process may allocate: the machine's physical memory,
 * or RLIMIT_AS or RLIMIT_DATA when lower.  *what (may be NULL) names the
 * bound ("physical memory", "RLIMIT_AS", "RLIMIT_DATA"; a literal).
 */
uint64_t xmem_limit(const char **what);

/* Register a hook fatal() runs before exiting (last registered runs first). */
void fatal_push_hook(void (*hook)(void));
/* Print "nntop: fatal: ..." to stderr, run the hooks, exit(1). */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
