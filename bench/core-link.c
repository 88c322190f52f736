/*
 * core-link.c - what a cache line costs when it moves between the two
 * threads of a step, the figure that decides how well a 2-thread split
 * can scale here.  Two threads (not pinned: the trainer's are not) take
 * turns on 1 MB buffers:
 *
 *   read_own      the reader reads lines it wrote itself
 *   read_remote   it reads lines the other thread has just written
 *   write_own     the writer writes lines only it has touched
 *   write_shared  it writes lines both threads have just read (each core
 *                 holds a copy the write must invalidate first)
 *
 * and prints the median over rounds, in ns per 64-byte line:
 *
 *     read_own=<ns> read_remote=<ns> write_own=<ns> write_shared=<ns>
 *
 * On one 2-core VM the remote figures moved by a factor of five within an
 * hour (the host placed the two virtual cores nearer or farther apart), and
 * the 2-thread speed-up of mlp-bench with them (bench/README.md).  A
 * program, not a test: it asserts nothing.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/mono.h"
#include "nntop/xmem.h"

#define LINK_FLOATS (256 * 1024)   /* 1 MB */
#define LINK_LINES (LINK_FLOATS / 16)
#define LINK_ROUNDS 101

enum { READ_OWN, READ_REMOTE, WRITE_OWN, WRITE_SHARED, LINK_KINDS };

struct link {
    float *shared, *mine[2];
    _Atomic int turn;       /* whose move it is: a count both sides follow */
    double ns[LINK_KINDS][LINK_ROUNDS];
    volatile float sink;
};

static void
wait_turn(struct link *l, int t)
{
    while (atomic_load_explicit(&l->turn, memory_order_acquire) != t)
        ;
}

static void
pass_turn(struct link *l, int t)
{
    atomic_store_explicit(&l->turn, t, memory_order_release);
}

/* ns per line to read b (one float of each line is enough to fetch it). */
static double
read_lines(struct link *l, const float *b)
{
    int64_t t0 = mono_ns();
    float s = 0.0f;
    for (size_t i = 0; i < LINK_FLOATS; i += 16)
        s += b[i];
    l->sink = s;
    return (double)(mono_ns() - t0) / LINK_LINES;
}

static double
write_lines(float *b, float v)
{
    int64_t t0 = mono_ns();
    for (size_t i = 0; i < LINK_FLOATS; i++)
        b[i] = v;
    return (double)(mono_ns() - t0) / LINK_LINES;
}

/* Thread 1: reads what thread 0 wrote, then shares the buffer for reading. */
static void *
other_side(void *arg)
{
    struct link *l = arg;
    for (int r = 0; r < LINK_ROUNDS; r++) {
        wait_turn(l, 4 * r + 1);
        l->ns[READ_REMOTE][r] = read_lines(l, l->shared);
        write_lines(l->mine[1], (float)r);
        l->ns[READ_OWN][r] = read_lines(l, l->mine[1]);
        pass_turn(l, 4 * r + 2);
        wait_turn(l, 4 * r + 3);
        read_lines(l, l->shared);
        pass_turn(l, 4 * r + 4);
    }
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(void)
{
    struct link *l = xcalloc(1, sizeof *l);
    l->shared = xalloc_aligned(LINK_FLOATS * sizeof(float));
    for (int k = 0; k < 2; k++)
        l->mine[k] = xalloc_aligned(LINK_FLOATS * sizeof(float));
    memset(l->shared, 0, LINK_FLOATS * sizeof(float));
    pthread_t th;
    if (pthread_create(&th, NULL, other_side, l) != 0) {
        fprintf(stderr, "core-link: cannot start a thread\n");
        return 1;
    }
    for (int r = 0; r < LINK_ROUNDS; r++) {
        write_lines(l->shared, (float)r);
        pass_turn(l, 4 * r + 1);
        wait_turn(l, 4 * r + 2);
        read_lines(l, l->shared);
        pass_turn(l, 4 * r + 3);
        wait_turn(l, 4 * r + 4);
        l->ns[WRITE_SHARED][r] = write_lines(l->shared, (float)r + 0.5f);
        l->ns[WRITE_OWN][r] = write_lines(l->mine[0], (float)r);
    }
    pthread_join(th, NULL);
    static const char *const names[LINK_KINDS] = {"read_own", "read_remote", "write_own",
                                                  "write_shared"};
    for (int k = 0; k < LINK_KINDS; k++) {
        qsort(l->ns[k], LINK_ROUNDS, sizeof l->ns[k][0], cmp_double);
        printf("%s%s=%.2f", k ? " " : "", names[k], l->ns[k][LINK_ROUNDS / 2]);
    }
    printf("\n");
    free(l->shared);
    free(l->mine[0]);
    free(l->mine[1]);
    free(l);
    return 0;
}
