/*
 * xmem.c - allocators that never return NULL, and fatal() with cleanup
 * hooks.  It does not try to recover from OOM: nntop has nothing useful to
 * do without memory except restore the terminal and flush the run log.
 */
#include "config.h"

#include "nntop/xmem.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define FATAL_HOOKS_MAX 8

static void (*fatal_hooks[FATAL_HOOKS_MAX])(void);
static int fatal_nhooks;

void *
xmalloc(size_t size)
{
    assert(size > 0);
    void *p = malloc(size);
    if (p == NULL)
        fatal("out of memory allocating %zu bytes", size);
    return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
    assert(nmemb > 0 && size > 0);
    void *p = calloc(nmemb, size);
    if (p == NULL)
        fatal("out of memory allocating %zu x %zu bytes", nmemb, size);
    return p;
}

void *
xrealloc(void *ptr, size_t size)
{
    assert(size > 0);
    void *p = realloc(ptr, size);
    if (p == NULL)
        fatal("out of memory reallocating %zu bytes", size);
    return p;
}

void *
xalloc_aligned(size_t size)
{
    assert(size > 0);
    size_t rounded = (size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded);
    if (p == NULL)
        fatal("out of memory allocating %zu bytes", size);
    memset(p, 0, rounded);
    return p;
}

char *
xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        fatal("out of memory copying a string");
    return p;
}

char *
xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatal("bad format string");
    char *s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void
fatal_push_hook(void (*hook)(void))
{
    assert(fatal_nhooks < FATAL_HOOKS_MAX);
    fatal_hooks[fatal_nhooks++] = hook;
}

_Noreturn void
fatal(const char *fmt, ...)
{
    /* Hooks first: the terminal must be restored before we print. */
    while (fatal_nhooks > 0) {
        void (*hook)(void) = fatal_hooks[--fatal_nhooks];
        hook();
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("nntop: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

uint64_t
xmem_limit(const char **what)
{
    const char *name = "physical memory";
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t limit = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : UINT64_MAX;
    static const struct {
        int resource;
        const char *name;
    } rl[] = { {RLIMIT_AS, "RLIMIT_AS"}, {RLIMIT_DATA, "RLIMIT_DATA"} };
    for (size_t i = 0; i < sizeof rl / sizeof rl[0]; i++) {
        struct rlimit r;
        if (getrlimit(rl[i].resource, &r) == 0 && r.rlim_cur != RLIM_INFINITY
            && (uint64_t)r.rlim_cur < limit) {
            limit = (uint64_t)r.rlim_cur;
            name = rl[i].name;
        }
    }
    if (what != NULL)
        *what = name;
    return limit;
}
