/*
 * pool.h - a fork-join pool of persistent threads: run one function on N
 * threads at once and wait for all of them.  The caller's thread is
 * member 0, so a pool of N starts N - 1 helpers.  Helpers spin briefly
 * for the next job, then sleep on a condition variable, so an idle pool
 * (a paused run) costs nothing.
 *
 * A job may split itself into stages with pool_barrier().  It knows
 * nothing of what the jobs compute; it does not queue jobs, balance work
 * or nest: one pool_run() at a time, from one thread.
 */
#ifndef NNTOP_POOL_H
#define NNTOP_POOL_H

struct pool;

/* A job: member i of the pool's n runs fn(arg, i). */
typedef void (*pool_fn)(void *arg, int i);

/*
 * Start a pool of n >= 1 members (n - 1 helper threads).  Returns NULL
 * when a thread cannot be created.  The caller owns it: pool_free().
 */
struct pool *pool_new(int n);
/* Stop and join the helpers and free the pool.  NULL is allowed. */
void pool_free(struct pool *p);
/* The number of members, n of pool_new(). */
int pool_size(const struct pool *p);
/*
 * Run fn(arg, i) for every i in [0, pool_size(p)), i = 0 on the calling
 * thread, and return when all have returned.  Everything the caller wrote
 * before is visible to the job, and everything the job wrote is visible
 * to the caller after.  Only one thread may use a pool.
 */
void pool_run(struct pool *p, pool_fn fn, void *arg);
/*
 * Inside a job: wait until every member of the pool has reached this
 * barrier.  What each member wrote before it is visible to all after.
 * Every member must pass the same barriers in the same order.
 */
void pool_barrier(struct pool *p);

#endif
