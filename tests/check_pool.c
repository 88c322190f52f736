/*
 * check_pool.c - the fork-join pool: every member runs every job exactly
 * once, the caller sees what the helpers wrote, a pool of one runs on the
 * caller, many short jobs in a row (the pattern of a training step)
 * neither lose a wake-up nor run a job twice, and a barrier inside a job
 * holds every member until all have written their stage (also when one
 * is slow enough to make the others sleep).  ThreadSanitizer runs it in
 * CI.  It does not time anything.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_run.h"
#include "nntop/pool.h"

enum { MAX_MEMBERS = 8 };

struct job {
    long count[MAX_MEMBERS];    /* times member i ran */
    pthread_t who[MAX_MEMBERS];
    long data[MAX_MEMBERS * 64];
    long round;
};

static void
job_fn(void *arg, int i)
{
    struct job *j = arg;
    j->count[i]++;
    j->who[i] = pthread_self();
    /* Each member writes its own slice; the caller reads them all. */
    for (int k = 0; k < 64; k++)
        j->data[i * 64 + k] = j->round * 1000 + i;
}

START_TEST(test_pool__every_member_once)
{
    for (int n = 1; n <= 3; n++) {
        struct pool *p = pool_new(n);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(pool_size(p), n);
        struct job *j = calloc(1, sizeof *j);
        /* Enough to cross every spin/sleep boundary many times; few enough
         * for a loaded 2-core machine running 3 threads per job. */
        const long rounds = 3000;
        for (long r = 0; r < rounds; r++) {
            j->round = r;
            pool_run(p, job_fn, j);
            for (int i = 0; i < n; i++)
                for (int k = 0; k < 64; k++)
                    ck_assert_msg(j->data[i * 64 + k] == r * 1000 + i,
                                  "n %d round %ld: member %d's write not seen", n, r, i);
        }
        for (int i = 0; i < n; i++)
            ck_assert_msg(j->count[i] == rounds, "n %d: member %d ran %ld times, expected %ld",
                          n, i, j->count[i], rounds);
        ck_assert(pthread_equal(j->who[0], pthread_self()));
        for (int i = 1; i < n; i++)
            ck_assert(!pthread_equal(j->who[i], pthread_self()));
        free(j);
        pool_free(p);
    }
}
END_TEST

static void
slow_fn(void *arg, int i)
{
    struct job *j = arg;
    /* Uneven members: member 0 returns at once, the others work, so the
     * caller waits (and sleeps past its spin) for them. */
    if (i > 0) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    j->count[i]++;
}

START_TEST(test_pool__sleepers_wake)
{
    struct pool *p = pool_new(3);
    struct job *j = calloc(1, sizeof *j);
    for (int r = 0; r < 200; r++) {
        pool_run(p, slow_fn, j);
        if (r % 50 == 0) {
            /* Leave the helpers idle long enough to fall asleep. */
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(j->count[i], 200);
    free(j);
    pool_free(p);
    pool_free(NULL);
}
END_TEST

enum { STAGES = 40 };

struct staged {
    _Atomic long slot[MAX_MEMBERS];   /* the stage each member last wrote */
    _Atomic long wrong[MAX_MEMBERS];  /* stale slots each member saw after a barrier */
    struct pool *pool;
    int n;
    long round;
};

static void
staged_fn(void *arg, int i)
{
    struct staged *j = arg;
    for (long st = 0; st < STAGES; st++) {
        long want = j->round * STAGES + st;
        /* Every so often one member is late by more than the spin. */
        if (st == 7 && i == (int)(j->round % j->n) && j->round % 10 == 0) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        atomic_store_explicit(&j->slot[i], want, memory_order_relaxed);
        pool_barrier(j->pool);
        for (int k = 0; k < j->n; k++)
            if (atomic_load_explicit(&j->slot[k], memory_order_relaxed) != want)
                atomic_fetch_add_explicit(&j->wrong[i], 1, memory_order_relaxed);
        /* Nobody writes the next stage before everyone has read this one. */
        pool_barrier(j->pool);
    }
}

START_TEST(test_pool__barrier)
{
    for (int n = 1; n <= 3; n++) {
        struct staged *j = calloc(1, sizeof *j);
        j->pool = pool_new(n);
        j->n = n;
        for (j->round = 0; j->round < 60; j->round++)
            pool_run(j->pool, staged_fn, j);
        for (int i = 0; i < n; i++) {
            ck_assert_msg(j->wrong[i] == 0, "n %d: member %d saw %ld stale stages", n, i,
                          (long)j->wrong[i]);
            ck_assert_int_eq(j->slot[i], 60 * STAGES - 1);
        }
        pool_free(j->pool);
        free(j);
    }
}
END_TEST

Suite *pool_suite(void);

Suite *
pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_pool__every_member_once);
    tcase_add_test(core, test_pool__sleepers_wake);
    tcase_add_test(core, test_pool__barrier);
    tcase_set_timeout(core, 120);
    suite_add_tcase(s, core);
    return s;
}

int
main(void)
{
    return check_run(pool_suite());
}
