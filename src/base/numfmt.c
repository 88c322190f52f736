/*
 * numfmt.c - the shared number formatter (numfmt.h): few significant
 * digits, engineering exponents, no padding, no '#' fill, no "-nan".
 *
 * Pure: printf in the C numeric locale (nntop never sets LC_NUMERIC), no
 * allocation.  Machine-read files use the exact round-trip pair at the end.
 */
#include "config.h"

#include "nntop/numfmt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN_E_LO (-2)         /* plain decimals for 10^-2 <= |v| < 10^4 */
#define PLAIN_E_HI 3
#define MAX_SIG 4               /* plain decimals */
#define EXP_SIG 3               /* exponent forms: mantissa at most 3 digits */

/* Drop trailing zeros after a decimal point ("1.500" -> "1.5", "2.0" -> "2"). */
static void
trim_zeros(char *s)
{
    char *dot = strchr(s, '.');
    if (dot == NULL)
        return;
    char *end = dot + strlen(dot);
    while (end > dot + 1 && end[-1] == '0')
        end--;
    if (end == dot + 1)
        end = dot;
    *end = '\0';
}

/*
 * v (finite, non-zero) rounded to sig significant digits, as printf
 * rounds: its digits (sig of them, into digits[]), its decimal exponent
 * (v ~ d.ddd x 10^e) and its sign.  Text all the way, so values near
 * DBL_MAX that round up past it stay finite.
 */
static void
round_sig(double v, int sig, char *digits, int *e, bool *neg)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*e", sig - 1, v);
    const char *p = tmp;
    *neg = *p == '-';
    if (*neg)
        p++;
    int n = 0;
    for (; *p != 'e' && *p != '\0'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    digits[n] = '\0';
    *e = *p == 'e' ? atoi(p + 1) : 0;
}

/*
 * v (finite, non-zero) with sig significant digits in the plain range,
 * at most EXP_SIG in the exponent forms (so "13.9e-9", never the
 * 8-column "13.86e-9" that pushed the headless columns apart).
 */
static void
format_sig(char *s, size_t len, double v, int sig)
{
    char d[32], tmp[96];
    int e;
    bool neg;
    /* Round first, so the range and the exponent follow the rounded value. */
    round_sig(v, sig, d, &e, &neg);
    bool plain = e >= PLAIN_E_LO && e <= PLAIN_E_HI;
    if (!plain && sig > EXP_SIG) {
        sig = EXP_SIG;
        round_sig(v, sig, d, &e, &neg);
        plain = e >= PLAIN_E_LO && e <= PLAIN_E_HI;
    }
    int o = 0;
    if (neg)
        tmp[o++] = '-';
    /* k + 1 digits before the point: the exponent's own (plain) or e mod 3. */
    int e3 = plain ? 0 : (int)floor((double)e / 3.0) * 3;
    int k = e - e3;
    if (k < 0) {
        tmp[o++] = '0';
        tmp[o++] = '.';
        for (int i = 0; i < -k - 1; i++)
            tmp[o++] = '0';
        for (int i = 0; i < sig; i++)
            tmp[o++] = d[i];
    } else {
        for (int i = 0; i <= k; i++)
            tmp[o++] = i < sig ? d[i] : '0';
        if (k + 1 < sig) {
            tmp[o++] = '.';
            for (int i = k + 1; i < sig; i++)
                tmp[o++] = d[i];
        }
    }
    tmp[o] = '\0';
    trim_zeros(tmp);
    if (plain)
        snprintf(s, len, "%s", tmp);
    else
        snprintf(s, len, "%se%d", tmp, e3);
}

/* "nan", "inf", "-inf", "0", or NULL for a value that needs digits. */
static const char *
special(double v)
{
    if (isnan(v))
        return "nan";
    if (isinf(v))
        return v > 0 ? "inf" : "-inf";
    if (v == 0.0)
        return "0";
    return NULL;
}

const char *
numfmt(char *buf, size_t len, double v)
{
    if (len == 0)
        return buf;
    const char *sp = special(v);
    if (sp != NULL)
        snprintf(buf, len, "%s", sp);
    else
        format_sig(buf, len, v, MAX_SIG);
    return buf;
}

const char *
numfmt_fit(char *buf, size_t len, double v, int width)
{
    char tmp[64];
    if (len == 0)
        return buf;
    const char *sp = special(v);
    if (sp != NULL) {
        snprintf(buf, len, "%s", sp);
        return buf;
    }
    for (int sig = MAX_SIG; sig >= 1; sig--) {
        format_sig(tmp, sizeof tmp, v, sig);
        if ((int)strlen(tmp) <= width) {
            snprintf(buf, len, "%s", tmp);
            return buf;
        }
    }
    /* Scientific with one digit is the shortest honest form ("3e-4"). */
    char d[32];
    int e;
    bool neg;
    round_sig(v, 1, d, &e, &neg);
    snprintf(tmp, sizeof tmp, "%s%se%d", neg ? "-" : "", d, e);
    if ((int)strlen(tmp) > width && abs(e) >= 10) {
        /* Say the bound rather than cut the exponent. */
        if (e > 0)
            snprintf(tmp, sizeof tmp, "%s1e%d", v > 0 ? ">" : "<-", e > 99 ? 99 : 9);
        else
            snprintf(tmp, sizeof tmp, "%s0", v > 0 ? "~" : "-~");
    }
    snprintf(buf, len, "%s", tmp);
    return buf;
}

bool
numfmt_is_decimal(const char *s, size_t n)
{
    const char *e = s + n;
    int digits = 0;
    if (s < e && (*s == '+' || *s == '-'))
        s++;
    for (; s < e && *s >= '0' && *s <= '9'; s++)
        digits++;
    if (s < e && *s == '.')
        for (s++; s < e && *s >= '0' && *s <= '9'; s++)
            digits++;
    if (digits == 0)
        return false;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-'))
            s++;
        if (s >= e || *s < '0' || *s > '9')
            return false;
        while (s < e && *s >= '0' && *s <= '9')
            s++;
    }
    return s == e;
}

/* ---- durations -------------------------------------------------------- */

const char *
numfmt_duration(char *buf, size_t len, bool spaced, double s)
{
    if (!(s >= 0.0) || s > 1e8) {
        snprintf(buf, len, "?");
        return buf;
    }
    long t = (long)(s + 0.5);
    if (s < 60.0)
        snprintf(buf, len, spaced ? "%.1f s" : "%.1fs", s);
    else if (t < 3600)
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    return buf;
}

/* ---- exact round trip ----------------------------------------------- */

static bool
exact_nonfinite(char *buf, size_t len, double x)
{
    if (isnan(x)) {
        snprintf(buf, len, "nan");
        return true;
    }
    if (isinf(x)) {
        snprintf(buf, len, "%s", x > 0 ? "inf" : "-inf");
        return true;
    }
    return false;
}

/*
 * For normal numbers the search starts at FLT_DIG / DBL_DIG digits: "%g"
 * drops trailing zeros, and a shorter text that reads back is then found
 * there too (the writers format many numbers a step).  Subnormals carry
 * fewer digits, so their search starts at one.
 */
void
numfmt_exact_float(char *buf, size_t len, float x)
{
    if (exact_nonfinite(buf, len, x))
        return;
    if (x == floorf(x) && fabsf(x) < 1e7f) {
        snprintf(buf, len, "%.0f", (double)x);
        return;
    }
    for (int p = fabsf(x) < FLT_MIN ? 1 : FLT_DIG; p <= 9; p++) {
        snprintf(buf, len, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x)
            return;
    }
}

void
numfmt_exact_double(char *buf, size_t len, double x)
{
    if (exact_nonfinite(buf, len, x))
        return;
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, len, "%.0f", x);
        return;
    }
    for (int p = fabs(x) < DBL_MIN ? 1 : DBL_DIG; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}
