/*
 * format.c - numbers in few columns, the glyph sets (UTF-8 and their
 * ASCII twins) and text cleaning/measuring for the dashboard.
 *
 * Pure functions: no curses, no I/O.  Display widths use wcwidth(), so
 * they follow LC_CTYPE; the dashboard only asks for UTF-8 widths when the
 * locale is UTF-8.
 */
#include "config.h"

#include "ui-int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "nntop/numfmt.h"

/* ---- numbers --------------------------------------------------------- */

const char *
ui_fmt_short(char *buf, size_t len, double v, int width)
{
    return numfmt_fit(buf, len, v, width);
}

const char *
ui_fmt_si(char *buf, size_t len, double v)
{
    static const char suffix[] = "kMGTP";
    if (!isfinite(v))
        return numfmt(buf, len, v);
    double a = fabs(v);
    if (a < 999.5) {
        snprintf(buf, len, "%.3g", v);
        return buf;
    }
    int k = -1;
    while (a >= 999.5 && k < (int)sizeof suffix - 2) {
        a /= 1000.0;
        v /= 1000.0;
        k++;
    }
    int prec = a < 9.995 ? 2 : a < 99.95 ? 1 : 0;
    snprintf(buf, len, "%.*f%c", prec, v, suffix[k]);
    return buf;
}

const char *
ui_fmt_pct(char *buf, size_t len, double frac)
{
    if (!(frac >= 0.0))
        snprintf(buf, len, "-");
    else if (frac > 0.0 && frac < 0.005)
        snprintf(buf, len, "<1%%");
    else
        snprintf(buf, len, "%.0f%%", frac * 100.0);
    return buf;
}

/* ---- glyphs ---------------------------------------------------------- */

static const struct ui_glyphs glyphs_utf8 = {
    .h = "─", .v = "│", .tl = "┌", .tr = "┐", .bl = "└", .br = "┘",
    .arrow = "→",
    .ok = "✓", .bad = "✗",
    .sev = {"✓", "·", "⚠", "✗"},
    .warn = "!",
    .cursor = "▸",
    .state = {"▶", "‖", "■", "✗"},
    .bars = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"},
    .spark = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"},
    .ellipsis = "…",
    .dot = "·",
    .act = "act μ/σ", .ratio = "Δ/W", .gnorm = "‖g‖",
    .up = "↑", .down = "↓",
    .train = "─", .val = "•", .reg = "·",
    .shade = {" ", " ", "░", "░", "▒", "▒", "▓", "▓", "█", "█"},
    .upper_half = "▀",
    .ratio_lvl = {"·", "▁", "▂", "▃", "▄", "▆", "▇", "█"},
    .ratio_bad = "!",
    .band = {"░", "▒", "▓", "━"},
    .ref = "•",
};

static const struct ui_glyphs glyphs_ascii = {
    .h = "-", .v = "|", .tl = "+", .tr = "+", .bl = "+", .br = "+",
    .arrow = "->",
    .ok = "ok", .bad = "!",
    .sev = {"+", "-", "!", "X"},
    .warn = "!",
    .cursor = ">",
    .state = {">", "=", "#", "X"},
    .bars = {" ", "_", "_", ".", ".", "-", "=", "=", "#"},
    .spark = {"_", ".", "-", "=", "+", "*", "#", "@"},
    .ellipsis = "~",
    .dot = "-",
    .act = "act m/s", .ratio = "upd/W", .gnorm = "|g|",
    .up = "^", .down = "v",
    .train = "-", .val = "o", .reg = "+",
    .shade = {" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"},
    .upper_half = "#",          /* never drawn: colour pictures need UTF-8 */
    .ratio_lvl = {".", "_", "-", "~", "=", "+", "*", "#"},
    .ratio_bad = "!",
    .band = {".", ":", "#", "="},
    .ref = "o",
};

const struct ui_glyphs *
ui_glyphs(bool utf8)
{
    return utf8 ? &glyphs_utf8 : &glyphs_ascii;
}

int
ui_level(float v, float lo, float hi, int levels)
{
    if (!(hi > lo) || isnan(v))
        return 0;
    double f = ((double)v - lo) / ((double)hi - lo);
    int k = (int)floor(f * levels);
    return k < 0 ? 0 : k >= levels ? levels - 1 : k;
}

const char *
ui_severity_glyph(const struct ui_glyphs *g, int severity)
{
    return g->sev[severity < 0 ? 0 : severity > 3 ? 3 : severity];
}

/* ---- text ------------------------------------------------------------ */

/*
 * Decode one UTF-8 sequence at s; returns its length (1..4) with *cp
 * set, or 0 when s does not start a valid, shortest-form sequence.
 */
static int
utf8_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* ASCII for the symbols trainer and doctor texts are likely to use. */
static const struct {
    uint32_t cp;
    const char *ascii;
} translit[] = {
    {0x2192, "->"}, {0x2190, "<-"}, {0x00d7, "x"},   {0x00b7, "."},  {0x2026, "..."},
    {0x2013, "-"},  {0x2014, "-"},  {0x2212, "-"},   {0x2248, "~"},  {0x2264, "<="},
    {0x2265, ">="}, {0x00b5, "u"},  {0x03bc, "u"},   {0x03c3, "s"},  {0x2016, "||"},
    {0x2713, "ok"}, {0x2717, "x"},  {0x0394, "d"},   {0x2018, "'"},  {0x2019, "'"},
    {0x201c, "\""}, {0x201d, "\""}, {0x00b1, "+-"},  {0x00b2, "^2"}, {0x26a0, "!"},
    {0x2022, "*"},  {0x2208, "in"}, {0x221e, "inf"}, {0x2260, "!="}, {0x00a0, " "},
};

static const char *
translit_find(uint32_t cp)
{
    for (size_t i = 0; i < sizeof translit / sizeof translit[0]; i++)
        if (translit[i].cp == cp)
            return translit[i].ascii;
    return "?";
}

char *
ui_text_clean(char *dst, size_t len, const char *src, bool utf8)
{
    if (len == 0)
        return dst;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)src;
    while (*s != '\0') {
        uint32_t cp;
        int n = utf8_decode(s, &cp);
        const char *out;
        size_t outn;
        char one[2] = {'?', '\0'};
        if (n == 0) {
            n = 1;
            out = one, outn = 1;
        } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            out = one, outn = 1;
        } else if (cp < 0x80) {
            one[0] = (char)cp;
            out = one, outn = 1;
        } else if (!utf8) {
            out = translit_find(cp), outn = strlen(out);
        } else if (wcwidth((wchar_t)cp) < 0) {
            out = one, outn = 1;
        } else {
            out = (const char *)s, outn = (size_t)n;
        }
        if (o + outn >= len)
            break;
        memcpy(dst + o, out, outn);
        o += outn;
        s += n;
    }
    dst[o] = '\0';
    return dst;
}

/* Width of the character at s (clean text); *n gets its byte length. */
static int
char_width(const char *s, bool utf8, int *n)
{
    uint32_t cp;
    int k = utf8 ? utf8_decode((const unsigned char *)s, &cp) : 0;
    if (k <= 1) {
        *n = 1;
        return 1;
    }
    *n = k;
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
}

int
ui_text_width(const char *s, bool utf8)
{
    int w = 0;
    while (*s != '\0') {
        int n;
        w += char_width(s, utf8, &n);
        s += n;
    }
    return w;
}

size_t
ui_text_fit(const char *s, int maxw, bool utf8, int *used)
{
    size_t b = 0;
    int w = 0;
    while (s[b] != '\0') {
        int n;
        int cw = char_width(s + b, utf8, &n);
        if (w + cw > maxw)
            break;
        w += cw;
        b += (size_t)n;
    }
    if (used != NULL)
        *used = w;
    return b;
}
