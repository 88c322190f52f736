/*
 * pool.c - the fork-join pool: a generation counter the caller bumps to
 * start a job and a pending count the helpers bring back to zero.  Both
 * sides spin for up to a millisecond before sleeping (yielding the core
 * after the first 20 us, so a loaded machine can run the thread they wait
 * for), because a training step hands out work every millisecond or so
 * and a sleeping thread takes longer to wake than a job takes.  It does not pin threads
 * to cores or pick a thread count.
 */
#include "config.h"

#include "nntop/pool.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "nntop/mono.h"
#include "nntop/xmem.h"

/*
 * How long a waiting side spins before it sleeps: about a millisecond, the
 * serial stretch of a training step (gather, clipping, checks) between two
 * jobs.  Measured on 2 cores: 50 us made helpers sleep every step and cost
 * 10-15 % at batch 128; a futex wake-up takes longer than the spin.
 */
#define POOL_SPIN_NS 1000000L
/* Past this, a waiting side yields its core at each turn of the spin, so
 * that on a loaded machine the thread it waits for can run. */
#define POOL_PAUSE_NS 20000L

struct helper {
    struct pool *pool;
    int index;
    pthread_t thread;
};

struct pool {
    int n;
    struct helper *helpers;     /* (n - 1) */
    int started;                /* helpers running */
    pthread_mutex_t mu;
    pthread_cond_t go, done, met;
    _Atomic unsigned gen;       /* bumped once per job */
    _Atomic unsigned bar_gen;   /* bumped once per barrier met */
    _Atomic int bar_count;      /* members at the current barrier */
    _Atomic int pending;        /* helpers still in the current job */
    _Atomic bool quit;
    pool_fn fn;                 /* the current job, published by gen */
    void *arg;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* One turn of a waiting spin that started at start; false once it is over. */
static bool
spin_turn(unsigned k, int64_t start, bool *yielding)
{
    if (*yielding) {
        sched_yield();
        return mono_ns() - start <= POOL_SPIN_NS;
    }
    cpu_relax();
    if ((k & 63) == 0 && mono_ns() - start > POOL_PAUSE_NS)
        *yielding = true;
    return true;
}

/* Spin until gen moves past seen (or quit); true when it did. */
static bool
spin_for_job(struct pool *p, unsigned seen)
{
    int64_t start = mono_ns();
    bool yielding = false;
    for (unsigned k = 1;; k++) {
        if (atomic_load_explicit(&p->gen, memory_order_acquire) != seen
            || atomic_load_explicit(&p->quit, memory_order_acquire))
            return true;
        if (!spin_turn(k, start, &yielding))
            return false;
    }
}

static void *
helper_main(void *arg)
{
    struct helper *h = arg;
    struct pool *p = h->pool;
    unsigned seen = 0;
    for (;;) {
        if (!spin_for_job(p, seen)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen
                   && !atomic_load_explicit(&p->quit, memory_order_acquire))
                pthread_cond_wait(&p->go, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->quit, memory_order_acquire))
            return NULL;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        p->fn(p->arg, h->index);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            /* The last helper out wakes the caller if it went to sleep. */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

struct pool *
pool_new(int n)
{
    assert(n >= 1);
    struct pool *p = xcalloc(1, sizeof *p);
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_cond_init(&p->met, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->bar_gen, 0);
    atomic_init(&p->bar_count, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, false);
    if (n > 1)
        p->helpers = xcalloc((size_t)n - 1, sizeof *p->helpers);
    for (int i = 0; i < n - 1; i++) {
        struct helper *h = &p->helpers[i];
        h->pool = p;
        h->index = i + 1;
        if (pthread_create(&h->thread, NULL, helper_main, h) != 0) {
            pool_free(p);
            return NULL;
        }
        p->started++;
    }
    return p;
}

void
pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->quit, true, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->helpers[i].thread, NULL);
    pthread_cond_destroy(&p->met);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->mu);
    free(p->helpers);
    free(p);
}

int
pool_size(const struct pool *p)
{
    return p->n;
}

void
pool_run(struct pool *p, pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(arg, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);

    fn(arg, 0);

    int64_t start = mono_ns();
    bool yielding = false;
    for (unsigned k = 1; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; k++) {
        if (!spin_turn(k, start, &yielding)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
                pthread_cond_wait(&p->done, &p->mu);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
}

void
pool_barrier(struct pool *p)
{
    if (p->n == 1)
        return;
    /* Read the barrier's generation before arriving: the last member to
     * arrive bumps it, and nobody can reach the next barrier before that. */
    unsigned gen = atomic_load_explicit(&p->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == p->n - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add_explicit(&p->bar_gen, 1, memory_order_release);
        pthread_cond_broadcast(&p->met);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    int64_t start = mono_ns();
    bool yielding = false;
    for (unsigned k = 1; atomic_load_explicit(&p->bar_gen, memory_order_acquire) == gen; k++) {
        if (!spin_turn(k, start, &yielding)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->bar_gen, memory_order_acquire) == gen)
                pthread_cond_wait(&p->met, &p->mu);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
}
