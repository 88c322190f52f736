/*
 * plot.c - the dashboard's pictures as text: histograms in block glyphs,
 * sparklines, and curves on a dot canvas (braille 2x4 dots a cell, or an
 * ASCII 1x3 twin).
 *
 * Pure functions that fill buffers; crt.c puts the text on the screen.
 * No colour decisions here either: callers choose what to colour.
 */
#include "config.h"

#include "ui-int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Append s to buf at *o if it fits (never splits a glyph). */
static void
append(char *buf, size_t len, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o + n < len) {
        memcpy(buf + *o, s, n);
        *o += n;
        buf[*o] = '\0';
    }
}

/* ---- histograms ------------------------------------------------------ */

/* The value drawn in column c of width: the mean count of its bins. */
static double
hist_column(const struct tm_hist *h, int nbins, int c, int width)
{
    int b0 = (int)((long)c * nbins / width);
    int b1 = (int)((long)(c + 1) * nbins / width);
    if (b1 <= b0)
        return h->counts[b0 < nbins ? b0 : nbins - 1];
    double sum = 0.0;
    for (int b = b0; b < b1; b++)
        sum += h->counts[b];
    return sum / (b1 - b0);
}

/*
 * The eighths of a bar of height levels eighths for value v of a plot
 * whose tallest is max: none for nothing, at least one for anything.
 */
static int
bar_eighths(double v, double max, int levels)
{
    if (v <= 0.0 || max <= 0.0)
        return 0;
    int e = (int)ceil(v / max * levels);
    return e < 1 ? 1 : e > levels ? levels : e;
}

/*
 * Where a histogram render starts: buf emptied, width capped at 512
 * columns; false when there is nothing to draw into.
 */
static bool
render_begin(char *buf, size_t len, int *width, int height)
{
    if (len == 0)
        return false;
    buf[0] = '\0';
    if (*width <= 0 || height <= 0)
        return false;
    if (*width > 512)
        *width = 512;
    return true;
}

/*
 * height rows of width bars into buf at *o, bar c ea[c] eighths tall;
 * with eb, mark_b stands in the row holding the top eighth of bar c's
 * second height eb[c].
 */
static void
bars_put(char *buf, size_t len, size_t *o, const struct ui_glyphs *g, const int *ea,
         const int *eb, const char *mark_b, int width, int height)
{
    for (int r = 0; r < height; r++) {
        int base = (height - 1 - r) * 8;
        for (int c = 0; c < width; c++) {
            if (eb != NULL && eb[c] > 0 && (eb[c] - 1) / 8 == height - 1 - r) {
                append(buf, len, o, mark_b);
                continue;
            }
            int lvl = ea[c] - base;
            lvl = lvl < 0 ? 0 : lvl > 8 ? 8 : lvl;
            append(buf, len, o, g->bars[lvl]);
        }
        if (r + 1 < height)
            append(buf, len, o, "\n");
    }
}

size_t
ui_hist_render(char *buf, size_t len, const struct tm_hist *h, int width, int height, bool utf8)
{
    size_t o = 0;
    if (!render_begin(buf, len, &width, height))
        return 0;
    int nbins = h->nbins > TM_MAX_BINS ? TM_MAX_BINS : h->nbins;
    double col[512], max = 0.0;
    for (int c = 0; c < width; c++) {
        col[c] = nbins > 0 ? hist_column(h, nbins, c, width) : 0.0;
        if (col[c] > max)
            max = col[c];
    }
    int eighths[512];
    for (int c = 0; c < width; c++)
        eighths[c] = bar_eighths(col[c], max, height * 8);
    bars_put(buf, len, &o, ui_glyphs(utf8), eighths, NULL, NULL, width, height);
    return o;
}

/*
 * The share of h's binned values that falls in [x0, x1) (bins split by
 * overlap, as if each bin's values were spread evenly over it).
 */
static double
hist_share(const struct tm_hist *h, int nbins, double x0, double x1)
{
    if (nbins <= 0 || h->total == 0 || !(h->hi > h->lo))
        return 0.0;
    double w = ((double)h->hi - h->lo) / nbins, sum = 0.0, n = 0.0;
    for (int b = 0; b < nbins; b++) {
        n += h->counts[b];
        double b0 = h->lo + w * b, b1 = b0 + w;
        double ov = (x1 < b1 ? x1 : b1) - (x0 > b0 ? x0 : b0);
        if (ov > 0.0)
            sum += h->counts[b] * (ov / w);
    }
    return n > 0.0 ? sum / n : 0.0;
}

size_t
ui_hist_overlay_render(char *buf, size_t len, const struct tm_hist *a, const struct tm_hist *b,
                       const char *mark_b, int width, int height, bool utf8, float *lo,
                       float *hi)
{
    size_t o = 0;
    *lo = a->lo < b->lo ? a->lo : b->lo;
    *hi = a->hi > b->hi ? a->hi : b->hi;
    if (!render_begin(buf, len, &width, height))
        return 0;
    int na = a->nbins > TM_MAX_BINS ? TM_MAX_BINS : a->nbins;
    int nb = b->nbins > TM_MAX_BINS ? TM_MAX_BINS : b->nbins;
    double ca[512], cb[512], max = 0.0;
    double step = ((double)*hi - *lo) / width;
    for (int c = 0; c < width; c++) {
        double x0 = *lo + step * c, x1 = c + 1 == width ? (double)*hi : x0 + step;
        ca[c] = hist_share(a, na, x0, x1);
        cb[c] = hist_share(b, nb, x0, x1);
        max = ca[c] > max ? ca[c] : max;
        max = cb[c] > max ? cb[c] : max;
    }
    int ea[512], eb[512];
    for (int c = 0; c < width; c++) {
        ea[c] = bar_eighths(ca[c], max, height * 8);
        eb[c] = bar_eighths(cb[c], max, height * 8);
    }
    /* b's bar ends in the row holding its top eighth: its letter goes there. */
    bars_put(buf, len, &o, ui_glyphs(utf8), ea, eb, mark_b, width, height);
    return o;
}

const double ui_band_q[UI_NBANDS] = {0.07, 0.16, 0.31, 0.50, 0.69, 0.84, 0.93};

/* Values in h's bins (total may count a producer's own way). */
static double
hist_binned(const struct tm_hist *h)
{
    double n = 0.0;
    for (int b = 0; b < h->nbins && b < TM_MAX_BINS; b++)
        n += h->counts[b];
    return n;
}

double
ui_hist_quantile(const struct tm_hist *h, double q)
{
    int nbins = h->nbins > TM_MAX_BINS ? TM_MAX_BINS : h->nbins;
    double n = (double)h->under + hist_binned(h) + h->over;
    if (nbins == 0 || n <= 0.0 || !(q >= 0.0 && q <= 1.0))
        return NAN;
    double target = q * n, c = h->under;
    if (h->under > 0 && target <= c)
        return h->lo;
    double w = ((double)h->hi - h->lo) / nbins;
    for (int b = 0; b < nbins; b++) {
        double k = h->counts[b];
        if (k > 0.0 && c + k >= target) {
            double frac = (target - c) / k;
            frac = frac < 0.0 ? 0.0 : frac;
            return h->lo + (b + frac) * w;
        }
        c += k;
    }
    return h->hi;
}

bool
ui_hist_zoom(const struct tm_hist *h, double tail, struct tm_hist *out)
{
    *out = *h;
    int nbins = h->nbins > TM_MAX_BINS ? TM_MAX_BINS : h->nbins;
    double n = (double)h->under + hist_binned(h) + h->over;
    if (nbins < 2 || n <= 0.0 || !(h->hi > h->lo))
        return false;
    double budget = tail * n, left = 0.0, right = 0.0;
    int b0 = 0, b1 = nbins;
    while (b0 < b1 - 1 && left + h->counts[b0] <= budget)
        left += h->counts[b0++];
    while (b1 - 1 > b0 && right + h->counts[b1 - 1] <= budget)
        right += h->counts[--b1];
    if ((b1 - b0) * 2 > nbins)
        return false;
    double w = ((double)h->hi - h->lo) / nbins;
    memset(out->counts, 0, sizeof out->counts);
    memcpy(out->counts, h->counts + b0, (size_t)(b1 - b0) * sizeof h->counts[0]);
    out->nbins = (uint16_t)(b1 - b0);
    out->lo = (float)(h->lo + b0 * w);
    out->hi = (float)(h->lo + b1 * w);
    out->under = h->under + (uint32_t)left;
    out->over = h->over + (uint32_t)right;
    out->total = h->total >= (uint32_t)(left + right) ? h->total - (uint32_t)(left + right) : 0;
    return true;
}

size_t
ui_bands_render(char *buf, size_t len, const float (*q)[UI_NBANDS], int n, int width,
                int height, double lo, double hi, bool utf8)
{
    const struct ui_glyphs *g = ui_glyphs(utf8);
    size_t o = 0;
    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (width <= 0 || height <= 0)
        return 0;
    int first = n > width ? n - width : 0;
    double dv = (hi - lo) / height;
    for (int row = 0; row < height; row++) {
        double top = hi - row * dv, bot = top - dv;
        for (int c = 0; c < width; c++) {
            int i = first + c;
            const char *s = " ";
            if (i < n && isfinite(q[i][0]) && isfinite(q[i][UI_NBANDS - 1]) && dv > 0.0) {
                /* The innermost band reaching into the cell wins; the median is a line. */
                if (q[i][3] >= bot && (q[i][3] < top || (row == 0 && q[i][3] <= top)))
                    s = g->band[3];
                else
                    for (int k = 2; k >= 0; k--)
                        if (q[i][k] < top && q[i][UI_NBANDS - 1 - k] >= bot) {
                            s = g->band[k];
                            break;
                        }
            }
            append(buf, len, &o, s);
        }
        if (row + 1 < height)
            append(buf, len, &o, "\n");
    }
    return o;
}

int
ui_ratio_level(float r)
{
    static const double edge[UI_RATIO_LEVELS - 1] = {1e-6, 1e-5, 1e-4, 5e-4, 2e-3, 1e-2, 1e-1};
    if (isnan(r))
        return -1;
    if (isinf(r))
        return -2;
    r = fabsf(r);
    int lvl = 0;
    while (lvl < UI_RATIO_LEVELS - 1 && r >= edge[lvl])
        lvl++;
    return lvl;
}

const char *
ui_ratio_glyph(const struct ui_glyphs *g, float r)
{
    int lvl = ui_ratio_level(r);
    return lvl == -1 ? " " : lvl == -2 ? g->ratio_bad : g->ratio_lvl[lvl];
}

/* Write label into line (width cells) at column at, if it fits. */
static bool
place(char *line, int width, int at, const char *label)
{
    int n = (int)strlen(label);
    if (at < 0 || at + n > width)
        return false;
    for (int i = 0; i < n; i++)
        if (line[at + i] != ' ')
            return false;
    memcpy(line + at, label, (size_t)n);
    return true;
}

void
ui_hist_axis(char *buf, size_t len, const struct tm_hist *h, int width)
{
    char line[512 + 1];
    char lo[16], hi[16];
    if (len == 0)
        return;
    if (width > 512)
        width = 512;
    if (width < 1) {
        buf[0] = '\0';
        return;
    }
    memset(line, ' ', (size_t)width);
    line[width] = '\0';
    ui_fmt_short(lo, sizeof lo, h->lo, 6);
    ui_fmt_short(hi, sizeof hi, h->hi, 6);
    place(line, width, 0, lo);
    int hn = (int)strlen(hi);
    if (width - hn > (int)strlen(lo))
        place(line, width, width - hn, hi);
    if (h->lo < 0.0f && h->hi > 0.0f) {
        /* 0 sits where the column holding 0 is; keep a gap to the ends. */
        int at = (int)((0.0 - h->lo) / ((double)h->hi - h->lo) * width);
        if (at > (int)strlen(lo) && at < width - hn - 1)
            place(line, width, at, "0");
    }
    snprintf(buf, len, "%s", line);
}

void
ui_spark(char *buf, size_t len, const float *v, int n, bool utf8)
{
    const struct ui_glyphs *g = ui_glyphs(utf8);
    size_t o = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (v[i] > 0.0f && isfinite(v[i])) {
            double l = log10(v[i]);
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
        }
    }
    for (int i = 0; i < n; i++) {
        int lvl = 0;
        if (v[i] > 0.0f && isfinite(v[i])) {
            if (hi - lo < 1e-9)
                lvl = 3;
            else
                lvl = (int)lround((log10(v[i]) - lo) / (hi - lo) * 7.0);
        }
        append(buf, len, &o, g->spark[lvl < 0 ? 0 : lvl > 7 ? 7 : lvl]);
    }
}

/* ---- the dot canvas -------------------------------------------------- */

void
ui_canvas_init(struct ui_canvas *c, int w, int h, bool utf8)
{
    c->utf8 = utf8;
    c->dw = utf8 ? 2 : 1;
    c->dh = utf8 ? 4 : 3;
    if (w < 0)
        w = 0;
    if (h < 0)
        h = 0;
    if ((long)w * h > UI_CANVAS_MAX)
        h = w > 0 ? UI_CANVAS_MAX / w : 0;
    c->w = w;
    c->h = h;
    memset(c->cell, 0, (size_t)w * (size_t)h);
}

void
ui_canvas_dot(struct ui_canvas *c, int x, int y)
{
    static const uint8_t braille[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}};
    if (x < 0 || y < 0 || x >= c->w * c->dw || y >= c->h * c->dh)
        return;
    int col = x / c->dw, row = y / c->dh;
    uint8_t bit = c->utf8 ? braille[y % 4][x % 2] : (uint8_t)(1u << (y % 3));
    c->cell[row * c->w + col] |= bit;
}

void
ui_canvas_line(struct ui_canvas *c, int x0, int y0, int x1, int y1)
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1;
    int dy = y1 > y0 ? y0 - y1 : y1 - y0;   /* -|dy| */
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        ui_canvas_dot(c, x0, y0);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

const char *
ui_canvas_glyph(const struct ui_canvas *c, int col, int row, char out[8])
{
    static const char *const ascii[8] = {"", "'", "-", "|", "_", ":", "|", "|"};
    out[0] = '\0';
    if (col < 0 || row < 0 || col >= c->w || row >= c->h)
        return out;
    uint8_t m = c->cell[row * c->w + col];
    if (m == 0)
        return out;
    if (c->utf8) {
        /* U+2800 + m in UTF-8. */
        out[0] = (char)0xe2;
        out[1] = (char)(0xa0 | (m >> 6));
        out[2] = (char)(0x80 | (m & 0x3f));
        out[3] = '\0';
    } else {
        snprintf(out, 8, "%s", ascii[m & 7]);
    }
    return out;
}

/* ---- curves ---------------------------------------------------------- */

/* The i-th sample of s as (x, y): stored buckets or raw recent samples. */
static int
series_len(const struct ui_series *s, bool recent)
{
    return recent ? s->rn : ui_series_count(s);
}

static void
series_get(const struct ui_series *s, bool recent, int i, long *x, double *y)
{
    if (recent) {
        float fy;
        ui_series_recent(s, i, x, &fy);
        *y = fy;
    } else {
        struct ui_point p = ui_series_at(s, i);
        *x = p.x0 + (p.x1 - p.x0) / 2;
        *y = p.mean;
    }
}

/* y on the plotted scale; false when it cannot be shown (log of <= 0). */
static bool
scale_y(double y, bool logy, double *t)
{
    if (!isfinite(y))
        return false;
    if (logy) {
        if (y <= 0.0)
            return false;
        *t = log10(y);
    } else {
        *t = y;
    }
    return true;
}

enum { MAX_DOTS = 1024 };

/*
 * Average the samples that fall in each of W dot columns over [xlo, xhi]:
 * a per-step loss is noisy and one column often covers many steps, so
 * drawing every sample would paint a band instead of a curve.
 */
static void
column_means(const struct ui_series *s, bool recent, long xlo, long xhi, bool logy, int W,
             double *sum, int *cnt)
{
    memset(cnt, 0, sizeof cnt[0] * (size_t)W);
    memset(sum, 0, sizeof sum[0] * (size_t)W);
    int n = series_len(s, recent);
    for (int i = 0; i < n; i++) {
        long x;
        double y, t;
        series_get(s, recent, i, &x, &y);
        if (x < xlo || x > xhi || !scale_y(y, logy, &t))
            continue;
        int dx = xhi > xlo ? (int)lround((double)(x - xlo) / (double)(xhi - xlo) * (W - 1))
                           : W - 1;
        sum[dx] += t;
        cnt[dx]++;
    }
}

bool
ui_series_yrange(const struct ui_series *s, bool recent, long xlo, long xhi, bool logy, int dots,
                 double *lo, double *hi)
{
    double sum[MAX_DOTS];
    int cnt[MAX_DOTS];
    bool any = false;
    int W = dots < 1 ? 1 : dots > MAX_DOTS ? MAX_DOTS : dots;
    column_means(s, recent, xlo, xhi, logy, W, sum, cnt);
    for (int dx = 0; dx < W; dx++) {
        if (cnt[dx] == 0)
            continue;
        double t = sum[dx] / cnt[dx];
        *lo = t < *lo ? t : *lo;
        *hi = t > *hi ? t : *hi;
        any = true;
    }
    return any;
}

void
ui_plot_series(struct ui_canvas *c, const struct ui_series *s, bool recent, long xlo, long xhi,
               double ylo, double yhi, bool logy)
{
    double sum[MAX_DOTS];
    int cnt[MAX_DOTS];
    int W = c->w * c->dw, H = c->h * c->dh;
    if (W <= 0 || H <= 0)
        return;
    W = W > MAX_DOTS ? MAX_DOTS : W;
    column_means(s, recent, xlo, xhi, logy, W, sum, cnt);
    bool have_prev = false;
    int px = 0, py = 0;
    for (int dx = 0; dx < W; dx++) {
        if (cnt[dx] == 0)
            continue;
        double t = sum[dx] / cnt[dx];
        double f = yhi > ylo ? (t - ylo) / (yhi - ylo) : 0.5;
        f = f < 0.0 ? 0.0 : f > 1.0 ? 1.0 : f;
        int dy = (H - 1) - (int)lround(f * (H - 1));
        if (have_prev)
            ui_canvas_line(c, px, py, dx, dy);
        else
            ui_canvas_dot(c, dx, dy);
        px = dx, py = dy, have_prev = true;
    }
}
