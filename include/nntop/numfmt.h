/*
 * numfmt.h - the one way nntop writes a number for a person to read:
 * the dashboard, the headless printer and event texts all use it, so a
 * value reads the same wherever it appears.
 *
 * Rules: plain decimals for 0.01 <= |v| < 10000 with at most 4
 * significant digits ("0.7607", "1235"); outside that range engineering
 * exponents (a multiple of 3, mantissa 1..999) with at most 3 ("12.5e-6",
 * "3e-3", "1.2e6", "13.9e-9"), so a positive value with an exponent in
 * -9..9 takes at most 7 columns.  Trailing zeros are dropped, nothing is
 * padded.  Zero is "0"; NaN is "nan" (never "-nan"),
 * infinities "inf" and "-inf".  Never '#' fill: when a width is given and
 * the value does not fit, digits are dropped, then the scientific form is
 * tried; below that the value is said as a bound (">1e99"), never cut.
 * Files meant for programs (CSV, JSON, the config dump) keep full precision
 * and use the numfmt_exact_* pair instead.
 */
#ifndef NNTOP_NUMFMT_H
#define NNTOP_NUMFMT_H

#include <stdbool.h>
#include <stddef.h>

/* The narrowest width numfmt_fit always honours. */
#define NUMFMT_MIN_W 6

/*
 * True when s[0..n) is a number in decimal or exponent form ([+-] digits
 * [. digits] [e [+-] digits], or [+-] . digits ...): what a person types and
 * nntop's files hold.  Hexadecimal (0x10), "inf" and "nan" are not.
 */
bool numfmt_is_decimal(const char *s, size_t n);

/* v with up to 4 significant digits into buf (len bytes); returns buf. */
const char *numfmt(char *buf, size_t len, double v);

/*
 * v in at most width columns (width >= NUMFMT_MIN_W is always honoured),
 * as many significant digits (4 down to 1) as fit; returns buf.
 */
const char *numfmt_fit(char *buf, size_t len, double v, int width);

/*
 * A duration for a person: "12.3 s" (spaced) or "12.3s" below a minute,
 * then "4:05", then "1:02:03"; "?" when negative, not a number or beyond
 * 1e8 s.  Returns buf.
 */
const char *numfmt_duration(char *buf, size_t len, bool spaced, double s);

/*
 * The shortest "%.Ng" text of x that strtof / strtod reads back as exactly
 * x; a whole number below 1e7 (float) or 1e15 (double) is written without
 * an exponent ("20", not "2e+01").  Not finite: "nan", "inf", "-inf".
 * buf needs 32 bytes.
 */
void numfmt_exact_float(char *buf, size_t len, float x);
void numfmt_exact_double(char *buf, size_t len, double x);

#endif
