/*
 * check_blas.c - blas_sgemm against a naive double-precision triple loop
 * for every transpose combination, alpha/beta variant and awkward shape,
 * plus the thread-count round trip.  It does not time anything.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/blas.h"
#include "nntop/rng.h"

/* Row-major reference: C = alpha op(A) op(B) + beta C, in double. */
static void
naive_sgemm(bool ta, bool tb, int m, int n, int k, double alpha, const float *a,
            const float *b, double beta, double *c)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
                double bv = tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
                s += av * bv;
            }
            double prev = beta == 0.0 ? 0.0 : beta * c[(size_t)i * n + j];
            c[(size_t)i * n + j] = alpha * s + prev;
        }
    }
}

static void
fill(float *v, size_t n, struct rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

/* Run one case through both and assert agreement; returns the max error. */
static double
compare_case(bool ta, bool tb, int m, int n, int k, float alpha, float beta, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    size_t na = (size_t)m * k + 1, nb = (size_t)k * n + 1, nc = (size_t)m * n;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
    float *c = malloc(nc * sizeof *c);
    double *ref = malloc(nc * sizeof *ref);
    fill(a, na, &r);
    fill(b, nb, &r);
    fill(c, nc, &r);
    for (size_t i = 0; i < nc; i++)
        ref[i] = c[i];

    blas_sgemm(ta, tb, m, n, k, alpha, a, b, beta, c);
    naive_sgemm(ta, tb, m, n, k, alpha, a, b, beta, ref);

    double worst = 0.0;
    /* float rounding grows with the length of each dot product */
    double tol = 1e-6 * (k + 4) * (fabs(alpha) + fabs(beta) + 1.0);
    for (size_t i = 0; i < nc; i++) {
        double err = fabs((double)c[i] - ref[i]);
        if (err > worst)
            worst = err;
        ck_assert_msg(err <= tol,
                      "sgemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: C[%zu] expected %.8g, got %.8g",
                      ta, tb, m, n, k, (double)alpha, (double)beta, i, ref[i], (double)c[i]);
    }
    free(a);
    free(b);
    free(c);
    free(ref);
    return worst;
}

START_TEST(test_blas__transposes)
{
    static const int shapes[][3] = {
        {1, 1, 1}, {3, 5, 7}, {7, 3, 5}, {13, 11, 17}, {64, 33, 65}, {2, 129, 31},
    };
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}, {1.0f, 1.0f}};
    uint64_t seed = 1;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (size_t v = 0; v < sizeof ab / sizeof ab[0]; v++)
                    compare_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], ab[v][0],
                                 ab[v][1], seed++);
}
END_TEST

/*
 * blas_sgemm_ld on blocks of wider matrices: a block of A's and B's
 * columns (as stored) times each other into columns [c0, c0 + n) of a
 * wider C, as the naive product of the blocks copied out; C's other
 * columns untouched.  k = 0 clears only the block.
 */
static void
block_case(bool ta, bool tb, int m, int n, int k, float beta, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    int ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
    int lda = ca + 3, ldb = cb + 5, ldc = n + 7, c0 = 4;
    float *a = malloc((size_t)ra * lda * sizeof *a + 4), *b = malloc((size_t)rb * ldb * 4 + 4);
    float *c = malloc((size_t)m * ldc * sizeof *c), *c_in = malloc((size_t)m * ldc * sizeof *c);
    float *ad = malloc((size_t)ra * ca * 4 + 4), *bd = malloc((size_t)rb * cb * 4 + 4);
    double *ref = malloc((size_t)m * n * sizeof *ref);
    fill(a, (size_t)ra * lda, &r);
    fill(b, (size_t)rb * ldb, &r);
    fill(c, (size_t)m * ldc, &r);
    memcpy(c_in, c, (size_t)m * ldc * sizeof *c);
    /* The blocks start one column in. */
    for (int i = 0; i < ra; i++)
        memcpy(ad + (size_t)i * ca, a + (size_t)i * lda + 1, (size_t)ca * sizeof *a);
    for (int i = 0; i < rb; i++)
        memcpy(bd + (size_t)i * cb, b + (size_t)i * ldb + 1, (size_t)cb * sizeof *b);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            ref[(size_t)i * n + j] = c[(size_t)i * ldc + c0 + j];
    blas_sgemm_ld(ta, tb, m, n, k, 1.0f, a + 1, lda, b + 1, ldb, beta, c + c0, ldc);
    naive_sgemm(ta, tb, m, n, k, 1.0, ad, bd, beta, ref);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < ldc; j++) {
            float got = c[(size_t)i * ldc + j];
            if (j < c0 || j >= c0 + n) {
                ck_assert_msg(got == c_in[(size_t)i * ldc + j],
                              "ld ta=%d tb=%d: C[%d][%d] outside the block changed", ta, tb, i,
                              j);
                continue;
            }
            double want = ref[(size_t)i * n + j - c0];
            ck_assert_msg(fabs(got - want) <= 1e-6 * (k + 4) * (2.0 + fabs(beta)),
                          "ld ta=%d tb=%d m=%d n=%d k=%d: C[%d][%d] expected %.8g, got %.8g",
                          ta, tb, m, n, k, i, j, want, (double)got);
        }
    free(a);
    free(b);
    free(c);
    free(c_in);
    free(ad);
    free(bd);
    free(ref);
}

START_TEST(test_blas__blocks)
{
    uint64_t seed = 40;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            block_case(ta, tb, 13, 9, 17, 0.0f, seed++);
            block_case(ta, tb, 32, 64, 100, 1.0f, seed++);
            block_case(ta, tb, 5, 3, 0, 0.5f, seed++);
        }
}
END_TEST

START_TEST(test_blas__threads_round_trip)
{
    int before = blas_get_threads();
    blas_set_threads(1);
    ck_assert_msg(blas_get_threads() == 1, "expected 1 thread after set(1), got %d",
                  blas_get_threads());
    blas_set_threads(2);
    ck_assert_msg(blas_get_threads() == 2, "expected 2 threads after set(2), got %d",
                  blas_get_threads());
    /* Results do not depend on the thread count for a large product. */
    compare_case(false, true, 128, 256, 300, 1.0f, 1.0f, 77);
    blas_set_threads(before);
    ck_assert_int_eq(blas_get_threads(), before);
}
END_TEST

START_TEST(test_blas__config)
{
    const char *cfg = blas_config();
    ck_assert_msg(cfg != NULL && strstr(cfg, "OpenBLAS") != NULL,
                  "expected the OpenBLAS config string, got \"%s\"", cfg ? cfg : "(null)");
    ck_assert_msg(strstr(cfg, "core ") != NULL, "expected the core name in \"%s\"", cfg);
}
END_TEST

START_TEST(test_blas__beta_zero_ignores_c)
{
    /* With beta = 0, whatever C held (NaN included) must not leak through. */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
    float c[4];
    for (int i = 0; i < 4; i++)
        c[i] = NAN;
    blas_sgemm(false, false, 2, 2, 3, 1.0f, a, b, 0.0f, c);
    const float want[4] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(c[i] == want[i], "C[%d] expected %g, got %g", i, (double)want[i],
                      (double)c[i]);
}
END_TEST

START_TEST(test_blas__empty_k)
{
    /* K = 0: the product is empty, C = beta C; OpenBLAS would reject lda 0. */
    float a[1] = {0}, b[1] = {0};
    float c[6] = {1, 2, 3, 4, 5, 6};
    blas_sgemm(false, false, 2, 3, 0, 1.0f, a, b, 0.5f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == 0.5f * (float)(i + 1), "C[%d] expected %g, got %g", i,
                      0.5 * (i + 1), (double)c[i]);
    c[0] = NAN;
    blas_sgemm(true, true, 2, 3, 0, 1.0f, a, b, 0.0f, c);
    for (int i = 0; i < 6; i++)
        ck_assert_msg(c[i] == 0.0f, "C[%d] expected 0, got %g", i, (double)c[i]);
    /* M = 0 or N = 0 touches nothing. */
    c[0] = 42.0f;
    blas_sgemm(false, false, 0, 3, 2, 1.0f, a, b, 0.0f, c);
    blas_sgemm(false, false, 2, 0, 2, 1.0f, a, b, 0.0f, c);
    ck_assert_msg(c[0] == 42.0f, "expected C untouched (42), got %g", (double)c[0]);
}
END_TEST

START_TEST(test_blas__vectors)
{
    /* Degenerate shapes: outer product, dot product, matrix-vector. */
    compare_case(false, true, 9, 1, 1, 1.0f, 0.0f, 5);
    compare_case(true, false, 1, 1, 257, 1.0f, 0.0f, 6);
    compare_case(false, false, 1, 31, 19, -1.0f, 1.0f, 7);
    compare_case(true, true, 31, 1, 19, 2.0f, 0.5f, 8);
}
END_TEST

/* The core decision: one row per case, the action, target and note it must give. */
START_TEST(test_blas__core_decisions)
{
    const struct blas_cpu sse = {0};
    const struct blas_cpu avx2 = {.avx2 = true, .fma = true};
    const struct blas_cpu avx2_nofma = {.avx2 = true};
    const struct blas_cpu avx512 = {.avx2 = true, .fma = true, .avx512f = true,
                                    .avx512bw = true, .avx512dq = true, .avx512vl = true};
    /* AVX-512 F alone (Knights Landing) is not the SkylakeX set. */
    const struct blas_cpu avx512f_only = {.avx2 = true, .fma = true, .avx512f = true};
    const struct {
        const char *chosen;
        const struct blas_cpu *cpu;
        struct blas_core_env env;
        enum blas_core_action action;
        const char *target;
        const char *note;
    } cases[] = {
        /* A fallback on an AVX-512 Xeon: the issue's own example. */
        {"Prescott", &avx512, {0}, BLAS_CORE_SWITCH, "SkylakeX",
         "BLAS: OpenBLAS chose Prescott on a CPU with AVX-512: switching to SkylakeX"},
        {"Prescott", &avx2, {0}, BLAS_CORE_SWITCH, "Haswell",
         "BLAS: OpenBLAS chose Prescott on a CPU with AVX2: switching to Haswell"},
        {"Sandybridge", &avx2, {0}, BLAS_CORE_SWITCH, "Haswell", NULL},
        {"Haswell", &avx512, {0}, BLAS_CORE_SWITCH, "SkylakeX", NULL},
        {"Zen", &avx512, {0}, BLAS_CORE_SWITCH, "SkylakeX", NULL},
        /* Right kernels already, in any spelling. */
        {"Haswell", &avx2, {0}, BLAS_CORE_FINE, NULL, ""},
        {"ZEN", &avx2, {0}, BLAS_CORE_FINE, NULL, ""},
        {"Cooperlake", &avx512, {0}, BLAS_CORE_FINE, NULL, ""},
        {"SkylakeX", &avx512, {0}, BLAS_CORE_FINE, NULL, ""},
        {"Haswell", &avx512f_only, {0}, BLAS_CORE_FINE, NULL, ""},
        /* Nothing better to run: no AVX2+FMA, or not x86 at all. */
        {"Prescott", &sse, {0}, BLAS_CORE_FINE, NULL, ""},
        {"Prescott", &avx2_nofma, {0}, BLAS_CORE_FINE, NULL, ""},
        {"NeoverseN1", &sse, {0}, BLAS_CORE_FINE, NULL, ""},
        {NULL, &sse, {0}, BLAS_CORE_FINE, NULL, ""},
        /* The user's OPENBLAS_CORETYPE is respected, even when slower. */
        {"Prescott", &avx512, {.coretype = "Prescott"}, BLAS_CORE_USER, NULL, ""},
        {"Haswell", &avx512, {.coretype = "Haswell"}, BLAS_CORE_USER, NULL, ""},
        {"Haswell", &avx2, {.coretype = "Haswell"}, BLAS_CORE_USER, NULL, ""},
        {"Haswell", &avx2, {.coretype = "Haswell", .keep = "keep"}, BLAS_CORE_USER, NULL, ""},
        /* An empty variable is not a choice. */
        {"Prescott", &avx2, {.coretype = ""}, BLAS_CORE_SWITCH, "Haswell", NULL},
        /* NNTOP_BLAS_CORE=keep turns the correction off; other values do not. */
        {"Prescott", &avx512, {.keep = "keep"}, BLAS_CORE_KEPT, NULL,
         "BLAS: OpenBLAS chose Prescott on a CPU with AVX-512: kept (NNTOP_BLAS_CORE=keep)"},
        {"Prescott", &avx2, {.keep = "auto"}, BLAS_CORE_SWITCH, "Haswell", NULL},
        {"Haswell", &avx2, {.keep = "keep"}, BLAS_CORE_FINE, NULL, ""},
        /* The test override makes a set OPENBLAS_CORETYPE count as OpenBLAS's choice. */
        {"Prescott", &avx2, {.coretype = "Prescott", .test_fallback = "1"}, BLAS_CORE_SWITCH,
         "Haswell", NULL},
        /* After the re-exec: report, never switch again. */
        {"Haswell", &avx2, {.coretype = "Haswell", .guard = "Prescott"}, BLAS_CORE_SWITCHED,
         NULL, "BLAS: OpenBLAS chose Prescott on a CPU with AVX2: using Haswell"},
        {"SkylakeX", &avx512,
         {.coretype = "SkylakeX", .guard = "Prescott", .test_fallback = "1"},
         BLAS_CORE_SWITCHED, NULL,
         "BLAS: OpenBLAS chose Prescott on a CPU with AVX-512: using SkylakeX"},
        {"Prescott", &avx512, {.coretype = "SkylakeX", .guard = "Prescott"}, BLAS_CORE_STUCK,
         NULL,
         "BLAS: OpenBLAS chose Prescott on a CPU with AVX-512; asking for SkylakeX did not "
         "take: running Prescott"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blas_core_choice c;
        blas_core_decide(&c, cases[i].chosen, cases[i].cpu, &cases[i].env);
        ck_assert_msg(c.action == cases[i].action, "case %zu (%s): action %d, expected %d", i,
                      cases[i].chosen ? cases[i].chosen : "NULL", (int)c.action,
                      (int)cases[i].action);
        if (cases[i].target == NULL)
            ck_assert_msg(c.target == NULL, "case %zu: target %s, expected none", i,
                          c.target);
        else
            ck_assert_msg(c.target != NULL && strcmp(c.target, cases[i].target) == 0,
                          "case %zu: target %s, expected %s", i,
                          c.target ? c.target : "NULL", cases[i].target);
        if (cases[i].note != NULL)
            ck_assert_msg(strcmp(c.note, cases[i].note) == 0,
                          "case %zu: note \"%s\", expected \"%s\"", i, c.note, cases[i].note);
        else
            ck_assert_msg(strncmp(c.note, "BLAS: ", 6) == 0, "case %zu: note \"%s\"", i, c.note);
    }
}
END_TEST

/* A product big enough that every OpenBLAS core packs it (SkylakeX's
 * small-matrix kernels skip the buffer below 100^3). */
enum { KEEP_N = 160, KEEP_CALLS = 40 };

struct keep_run {
    pthread_barrier_t *bar;
    const float *a, *b, *want;
    unsigned long served;       /* this thread's blas_kept_calls() gain */
    int wrong;                  /* products that differed from want */
};

static void *
keep_thread(void *arg)
{
    struct keep_run *k = arg;
    float *c = malloc((size_t)KEEP_N * KEEP_N * sizeof *c);
    blas_keep_buffer(true);
    unsigned long before = blas_kept_calls();
    for (int i = 0; i < KEEP_CALLS; i++) {
        pthread_barrier_wait(k->bar);   /* both threads ask OpenBLAS's pool at once */
        blas_sgemm(false, true, KEEP_N, KEEP_N, KEEP_N, 1.0f, k->a, k->b, 0.0f, c);
        k->wrong += memcmp(c, k->want, (size_t)KEEP_N * KEEP_N * sizeof *c) != 0;
    }
    k->served = blas_kept_calls() - before;
    blas_keep_buffer(false);
    free(c);
    return NULL;
}

START_TEST(test_blas__kept_buffer)
{
    /* A thread that keeps its buffer gets it for every product, nested
     * keeps need as many stops, and products are the same bits as on the
     * shared pool.  One OpenBLAS thread, as in a team. */
    int threads = blas_get_threads();
    blas_set_threads(1);
    size_t n = (size_t)KEEP_N * KEEP_N;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    float *want = malloc(n * sizeof *want), *c = malloc(n * sizeof *c);
    struct rng r;
    rng_seed(&r, 11);
    fill(a, n, &r);
    fill(b, n, &r);
    unsigned long calls = blas_kept_calls();
    blas_sgemm(false, true, KEEP_N, KEEP_N, KEEP_N, 1.0f, a, b, 0.0f, want);
    ck_assert_uint_eq(blas_kept_calls(), calls);
    blas_keep_buffer(true);
    blas_keep_buffer(true);
    for (int i = 0; i < 3; i++) {
        blas_sgemm(false, true, KEEP_N, KEEP_N, KEEP_N, 1.0f, a, b, 0.0f, c);
        ck_assert_msg(memcmp(c, want, n * sizeof *c) == 0, "product %d changed", i);
    }
    ck_assert_msg(blas_kept_calls() == calls + 3, "kept buffer served %lu of 3 products "
                  "(OpenBLAS did not call blas_memory_alloc through nntop)",
                  blas_kept_calls() - calls);
    blas_keep_buffer(false);
    blas_sgemm(false, true, KEEP_N, KEEP_N, KEEP_N, 1.0f, a, b, 0.0f, c);
    ck_assert_uint_eq(blas_kept_calls(), calls + 4);    /* one keep still open */
    blas_keep_buffer(false);
    blas_keep_buffer(false);                            /* an extra stop does nothing */
    blas_sgemm(false, true, KEEP_N, KEEP_N, KEEP_N, 1.0f, a, b, 0.0f, c);
    ck_assert_uint_eq(blas_kept_calls(), calls + 4);
    ck_assert(memcmp(c, want, n * sizeof *c) == 0);

    /* Two threads in step: each its own buffer, every product right. */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct keep_run runs[2] = {{&bar, a, b, want, 0, 0}, {&bar, a, b, want, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, keep_thread, &runs[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(runs[i].served == KEEP_CALLS, "thread %d: kept buffer served %lu of %d",
                      i, runs[i].served, KEEP_CALLS);
        ck_assert_msg(runs[i].wrong == 0, "thread %d: %d wrong products", i, runs[i].wrong);
    }
    pthread_barrier_destroy(&bar);
    blas_set_threads(threads);
    free(a);
    free(b);
    free(want);
    free(c);
}
END_TEST

START_TEST(test_blas__core_name)
{
    /* The core this process runs is a real name, and the one blas_config shows. */
    const char *name = blas_core_name();
    ck_assert_msg(name[0] != '\0' && strcmp(name, "unknown") != 0, "core name \"%s\"", name);
    char want[80];
    snprintf(want, sizeof want, "(core %s)", name);
    ck_assert_msg(strstr(blas_config(), want) != NULL, "\"%s\" not in \"%s\"", want,
                  blas_config());
}
END_TEST

Suite *blas_suite(void);

Suite *
blas_suite(void)
{
    Suite *s = suite_create("blas");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_blas__transposes);
    tcase_add_test(core, test_blas__blocks);
    tcase_add_test(core, test_blas__threads_round_trip);
    tcase_add_test(core, test_blas__config);
    tcase_add_test(core, test_blas__core_decisions);
    tcase_add_test(core, test_blas__core_name);
    tcase_add_test(core, test_blas__kept_buffer);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_blas__beta_zero_ignores_c);
    tcase_add_test(limits, test_blas__empty_k);
    tcase_add_test(limits, test_blas__vectors);
    suite_add_tcase(s, limits);
    return s;
}

int
main(void)
{
    return check_run(blas_suite());
}
