/*
 * check_base.c - the helpers every part shares: the string builder (sbuf),
 * the exact round-trip number text (numfmt_exact_*), durations
 * (numfmt_duration), the interval clocks (mono), and the human number
 * form's edge cases (numfmt; its everyday values are checked in check_ui
 * beside the dashboard's formats).
 */
#include "config.h"

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "nntop/mono.h"
#include "nntop/numfmt.h"
#include "nntop/rng.h"
#include "nntop/sbuf.h"

/* Appends of every kind, across several growths, give the same text as one snprintf. */
START_TEST(test_base__sbuf_grows)
{
    struct sbuf b;
    sbuf_init(&b);
    ck_assert_str_eq(b.s, "");
    char want[4096] = "";
    size_t w = 0;
    for (int i = 0; i < 100; i++) {
        sbuf_printf(&b, "%d:", i);
        sbuf_puts(&b, "ab");
        sbuf_putc(&b, 'c');
        sbuf_pad(&b, ' ', i % 3);
        w += (size_t)snprintf(want + w, sizeof want - w, "%d:abc%.*s", i, i % 3, "  ");
    }
    sbuf_putn(&b, "x\0y", 3);
    ck_assert_uint_eq(b.len, w + 3);
    ck_assert_int_eq(memcmp(b.s, want, w), 0);
    ck_assert_int_eq(memcmp(b.s + w, "x\0y", 4), 0);    /* and the NUL after */
    char *s = sbuf_take(&b);
    ck_assert_ptr_null(b.s);
    ck_assert_uint_eq(b.len, 0);
    free(s);
    sbuf_fini(&b);      /* a taken buffer may be finished again */
}
END_TEST

/* A zeroed sbuf is an empty one: it grows, and sbuf_take of nothing is "". */
START_TEST(test_base__sbuf_zeroed)
{
    struct sbuf b = {0};
    char *s = sbuf_take(&b);
    ck_assert_str_eq(s, "");
    free(s);
    struct sbuf c = {0};
    char big[300];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sbuf_printf(&c, "%s|%s", big, big);
    ck_assert_uint_eq(c.len, 2 * (sizeof big - 1) + 1);
    ck_assert_int_eq(c.s[sizeof big - 1], '|');
    sbuf_pad(&c, '-', 0);
    sbuf_pad(&c, '-', -4);
    ck_assert_uint_eq(c.len, 2 * (sizeof big - 1) + 1);
    sbuf_fini(&c);
}
END_TEST

/* Random bit patterns: the text reads back exactly, and no shorter %g text would. */
START_TEST(test_base__exact_round_trip)
{
    struct rng r;
    rng_seed(&r, 9);
    char buf[32], shorter[400];
    for (int i = 0; i < 20000; i++) {
        uint64_t u = rng_u64(&r);
        float f;
        uint32_t u32 = (uint32_t)u;
        memcpy(&f, &u32, sizeof f);
        double d;
        memcpy(&d, &u, sizeof d);
        if (isfinite(f)) {
            numfmt_exact_float(buf, sizeof buf, f);
            ck_assert_msg(strtof(buf, NULL) == f, "float %a -> %s", (double)f, buf);
            int digits = 0;
            for (const char *p = buf; *p != '\0' && *p != 'e'; p++)
                digits += *p >= '0' && *p <= '9';
            if (digits > 1 && strchr(buf, 'e') != NULL) {
                snprintf(shorter, sizeof shorter, "%.*g", digits - 1, (double)f);
                ck_assert_msg(strtof(shorter, NULL) != f, "float %s, yet %s reads back", buf, shorter);
            }
        }
        if (isfinite(d)) {
            numfmt_exact_double(buf, sizeof buf, d);
            ck_assert_msg(strtod(buf, NULL) == d, "double %a -> %s", d, buf);
        }
    }
}
END_TEST

START_TEST(test_base__exact_forms)
{
    static const struct { double x; const char *f, *d; } v[] = {
        { 0.0, "0", "0" },
        { -0.0, "-0", "-0" },
        { 20.0, "20", "20" },
        { 0.1, "0.1", "0.1" },
        { 2.5e-7, "2.5e-07", "2.5e-07" },
        { 3e6, "3000000", "3000000" },
        { 1e20, "1e+20", "1e+20" },
        { -1.5, "-1.5", "-1.5" },
    };
    char buf[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        numfmt_exact_float(buf, sizeof buf, (float)v[i].x);
        ck_assert_str_eq(buf, v[i].f);
        numfmt_exact_double(buf, sizeof buf, v[i].x);
        ck_assert_str_eq(buf, v[i].d);
    }
    numfmt_exact_double(buf, sizeof buf, 1.0 / 3.0);
    ck_assert_str_eq(buf, "0.3333333333333333");
    numfmt_exact_float(buf, sizeof buf, NAN);
    ck_assert_str_eq(buf, "nan");
    numfmt_exact_float(buf, sizeof buf, -NAN);
    ck_assert_str_eq(buf, "nan");
    numfmt_exact_double(buf, sizeof buf, INFINITY);
    ck_assert_str_eq(buf, "inf");
    numfmt_exact_double(buf, sizeof buf, -INFINITY);
    ck_assert_str_eq(buf, "-inf");
}
END_TEST

START_TEST(test_base__duration)
{
    static const struct { double s; bool spaced; const char *want; } v[] = {
        { 0.04, true, "0.0 s" }, { 12.34, true, "12.3 s" }, { 12.34, false, "12.3s" },
        { 59.9, false, "59.9s" }, { 60.0, true, "1:00" }, { 245.4, true, "4:05" },
        { 3723.0, false, "1:02:03" }, { -1.0, true, "?" }, { NAN, false, "?" }, { 2e8, true, "?" },
    };
    char buf[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ck_assert_str_eq(numfmt_duration(buf, sizeof buf, v[i].spaced, v[i].s), v[i].want);
}
END_TEST

/* The clocks never go back, and the three monotonic readings agree in scale. */
/*
 * numfmt at its edges: rounding that crosses the plain/exponent border,
 * the exponent forms' three digits (the headless "lr 13.86e-9" was
 * eight columns), signs, the extremes of double, and small buffers.
 */
START_TEST(test_base__numfmt_edges)
{
    char b[32];
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {1.386e-8, "13.9e-9"},  {-1.386e-8, "-13.9e-9"}, {1.3849e-8, "13.8e-9"},
        {123456, "123e3"},      {123500, "124e3"},       {999.4e-9, "999e-9"},
        {999.6e-9, "1e-6"},     {9999.4, "9999"},        {9999.6, "10e3"},
        {0.0099996, "0.01"},    {0.009996, "0.01"},      {0.00999, "9.99e-3"},
        {0.01, "0.01"},         {0.012345, "0.01235"},   {1e-3, "1e-3"},
        {-0.0, "0"},            {-NAN, "nan"},           {-INFINITY, "-inf"},
        {DBL_MAX, "180e306"},   {-DBL_MAX, "-180e306"},  {DBL_MIN, "22.3e-309"},
        {4.9406564584124654e-324, "4.94e-324"},          {1e21, "1e21"},
        {1.5e-5, "15e-6"},      {2.0e-10, "200e-12"},    {100e-6, "100e-6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        numfmt(b, sizeof b, cases[i].v);
        ck_assert_msg(strcmp(b, cases[i].want) == 0, "numfmt(%.17g): expected '%s', got '%s'",
                      cases[i].v, cases[i].want, b);
    }
    /* Positive values with exponents -9..9 fit 7 columns: the headless columns. */
    for (int e = -9; e <= 9; e++)
        for (double m = 1.0; m < 10.0; m += 0.123457) {
            double v = m * pow(10.0, e);
            numfmt(b, sizeof b, v);
            ck_assert_msg(strlen(b) <= 7 && strchr(b, '#') == NULL && strtod(b, NULL) > 0,
                          "numfmt(%.17g) = '%s': more than 7 columns", v, b);
            /* ... and read back within the rounding of 3 significant digits. */
            ck_assert_msg(fabs(strtod(b, NULL) - v) <= 0.005 * v, "numfmt(%.17g) = '%s'", v, b);
        }
    /* A small buffer gets a terminated prefix; an empty one is left alone. */
    char small[4];
    numfmt(small, sizeof small, 1.386e-8);
    ck_assert_str_eq(small, "13.");
    small[0] = 'x';
    numfmt(small, 0, 1.0);
    ck_assert_int_eq(small[0], 'x');
    /* numfmt_fit: the headless width 7 is honoured for the lr case too. */
    ck_assert_str_eq(numfmt_fit(b, sizeof b, 1.386e-8, 7), "13.9e-9");
    ck_assert_str_eq(numfmt_fit(b, sizeof b, 1.386e-8, 6), "14e-9");
    ck_assert_str_eq(numfmt_fit(b, sizeof b, 1.386e-12, 7), "1.4e-12");
}
END_TEST

START_TEST(test_base__mono)
{
    int64_t n0 = mono_ns();
    double s0 = mono_seconds(), c0 = mono_cpu_seconds();
    volatile double sink = 0.0;
    for (int i = 0; i < 200000; i++)
        sink += sqrt((double)i);
    int64_t n1 = mono_ns();
    double s1 = mono_seconds(), c1 = mono_cpu_seconds(), k1 = mono_coarse_seconds();
    ck_assert(n1 >= n0);
    ck_assert(s1 >= s0);
    ck_assert(c1 >= c0);
    ck_assert(sink > 0.0);
    /* Same clock: the nanosecond reading, in seconds, lies between the two second readings. */
    ck_assert(n0 * 1e-9 <= s0 + 1e-6);
    ck_assert(n1 * 1e-9 >= s0 - 1e-6);
    /* The coarse clock lags the fine one by at most a tick (well under a second). */
    ck_assert(fabs(k1 - s1) < 1.0);
}
END_TEST

static Suite *
base_suite(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_base__sbuf_grows);
    tcase_add_test(tc, test_base__exact_round_trip);
    tcase_add_test(tc, test_base__exact_forms);
    tcase_add_test(tc, test_base__duration);
    tcase_add_test(tc, test_base__mono);
    tcase_add_test(tc, test_base__numfmt_edges);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_add_test(tc, test_base__sbuf_zeroed);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return check_run(base_suite());
}
