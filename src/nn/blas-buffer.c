/*
 * blas-buffer.c - one OpenBLAS work buffer per team thread.  An OpenBLAS
 * built without USE_TLS (Debian 12's 0.3.21 among them) hands every sgemm
 * call a buffer from one pool shared by the process, the first free one,
 * for the packed panels of both operands.  Two team members multiplying
 * at the same moment get the first two buffers in the order they reach
 * the pool's lock, so on about one call in three (counted with a uprobe
 * on blas_memory_alloc's return, 2 threads, batch 32) a member packs into
 * the buffer the other core filled last: hundreds of kilobytes of lines held
 * modified in the other core's cache, each a coherence round trip (up to
 * 13 ns a line on this VM, bench/README.md).
 *
 * OpenBLAS calls its allocator, blas_memory_alloc() and
 * blas_memory_free(), through the PLT, so the definitions below stand in
 * for it.  Every call goes on to OpenBLAS's own (found with RTLD_NEXT),
 * except on a thread that asked for blas_keep_buffer(): the first buffer
 * OpenBLAS gives it stays its own, and every later call that finds it
 * free gets it back.  A nested call (the kept buffer in use) and every
 * other thread, OpenBLAS's own included, take the pool as before.  The
 * buffer is OpenBLAS's, so its size is right for whatever core runs; it
 * goes back to the pool when the thread's last blas_keep_buffer(false).
 * An OpenBLAS that binds its calls internally never comes here and works
 * as before.  This file changes no product, only where it is packed.
 */
#include "config.h"

#include "nntop/blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* OpenBLAS's own allocator (common.h declares them; cblas.h does not). */
void *blas_memory_alloc(int procpos);
void blas_memory_free(void *buffer);

static void *(*pool_alloc)(int);
static void (*pool_free)(void *);
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* This thread's kept buffer, whether a call has it, and how many
 * blas_keep_buffer(true) are still open. */
static _Thread_local void *kept;
static _Thread_local bool kept_busy;
static _Thread_local int keep_depth;
static _Thread_local unsigned long kept_calls;
static _Atomic int kept_live;   /* kept buffers held, all threads */

static void
find_pool(void)
{
    *(void **)&pool_alloc = dlsym(RTLD_NEXT, "blas_memory_alloc");
    *(void **)&pool_free = dlsym(RTLD_NEXT, "blas_memory_free");
    if (pool_alloc == NULL || pool_free == NULL) {
        /* Only OpenBLAS calls these, so it is loaded and has them. */
        fprintf(stderr, "nntop: OpenBLAS's blas_memory_alloc not found: %s\n", dlerror());
        abort();
    }
}

/* The kept buffer back to OpenBLAS's pool. */
static void
release_kept(void)
{
    pool_free(kept);
    kept = NULL;
    atomic_fetch_sub_explicit(&kept_live, 1, memory_order_relaxed);
}

void *
blas_memory_alloc(int procpos)
{
    pthread_once(&pool_once, find_pool);
    if (keep_depth == 0 || kept_busy)
        return pool_alloc(procpos);
    if (kept == NULL) {
        kept = pool_alloc(procpos);
        atomic_fetch_add_explicit(&kept_live, 1, memory_order_relaxed);
    }
    kept_busy = true;
    kept_calls++;
    return kept;
}

void
blas_memory_free(void *buffer)
{
    pthread_once(&pool_once, find_pool);
    if (kept_busy && buffer == kept) {
        kept_busy = false;
        if (keep_depth == 0)
            release_kept();
        return;
    }
    pool_free(buffer);
}

void
blas_keep_buffer(bool on)
{
    if (on) {
        keep_depth++;
        return;
    }
    /* A buffer a call still has goes back when that call frees it. */
    if (keep_depth > 0 && --keep_depth == 0 && kept != NULL && !kept_busy)
        release_kept();
}

unsigned long
blas_kept_calls(void)
{
    return kept_calls;
}

int
blas_kept_buffers(void)
{
    return atomic_load_explicit(&kept_live, memory_order_relaxed);
}
