/*
 * panel-hist.c - the histogram of the selected layer: its activations,
 * or its weight tensor's weights or gradients (h cycles), in block glyphs
 * with an axis (min, 0, max), under/overflow counts and a note when the
 * histogram was drawn from a sample of the tensor.
 *
 * The bins are the producer's (telemetry.bins equal bins over the
 * tensor's range): they are never merged or re-spread silently.  The
 * auto-zoom (z) draws only the whole bins holding the central mass and
 * counts the rest as below/above; the line under it says how many bins
 * are drawn.  p shows the 7/16/31/50/69/84/93 % percentiles over the last
 * snapshots instead; b overlays the first histogram or the one M pinned
 * (both redrawn as shares on their common range, said on the line).
 *
 * It shows the last complete snapshot; it computes no statistics itself
 * beyond percentiles of the bins it was sent.
 */
#include "config.h"

#include "panel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crt.h"

/* Auto-zoom leaves out at most this share of the values on each side. */
#define UI_HIST_TAIL 0.01

static const char *const kind_names[UI_HIST_KIND_COUNT] = {"activations", "weights",
                                                           "gradients"};

/*
 * The first n lines of big, a rendered plot (cut in place at each
 * newline), on rows y.. at column x, w cells wide.
 */
static void
put_lines(char *big, int n, int y, int x, int w)
{
    char *row = big;
    for (int k = 0; k < n && row != NULL; k++) {
        char *nl = strchr(row, '\n');
        if (nl != NULL)
            *nl = '\0';
        crt_put(y + k, x, w, CRT_HIST, row);
        row = nl != NULL ? nl + 1 : NULL;
    }
}

/*
 * want rows, or fewer: as many w-cell rows (of glyphs up to 3 bytes) as
 * a render buffer of size bytes holds, wide panels first.
 */
static int
rows_fit(int want, size_t size, int w)
{
    int most = (int)((size - 1) / ((size_t)w * 3 + 1));
    return want > most ? most : want;
}

/*
 * The selected run's histogram h (bars) with run other's of the same
 * layer ho over it (its letter at the top of each of its bars), on their
 * common range; the last line gives each run's count.
 */
static void
hist_draw_pair(struct ui *ui, const struct ui_rect *r, const struct tm_hist *h,
               const struct tm_hist *ho, int other)
{
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    char big[512 * 3 * 32 + 64], line[256], a[16], b[16];
    int bars = rows_fit(ih - 2, sizeof big, iw);
    struct tm_hist range;
    memset(&range, 0, sizeof range);
    char letter[2] = {UI_RUN_LETTER(other), '\0'};
    ui_hist_overlay_render(big, sizeof big, h, ho, letter, iw, bars, ui->utf8, &range.lo,
                           &range.hi);
    put_lines(big, bars, iy, ix, iw);
    ui_hist_axis(line, sizeof line, &range, iw);
    crt_put(iy + bars, ix, iw, CRT_DIM, line);
    /* Each is scaled to its own total, so the shapes compare. */
    snprintf(line, sizeof line, "%c bars n %s  %c letters n %s", UI_RUN_LETTER(ui->sel_run),
             ui_fmt_si(a, sizeof a, h->total), UI_RUN_LETTER(other),
             ui_fmt_si(b, sizeof b, ho->total));
    crt_put(iy + ih - 1, ix, iw, CRT_NORMAL, line);
}

/* The percentile bands of slot over the last snapshots (p). */
static void
draw_bands(struct ui *ui, const struct ui_model *m, int slot, int iy, int ix, int ih, int iw)
{
    const struct ui_glyphs *g = ui->g;
    const struct ui_bands *b = &m->bands[slot];
    char line[256], a[16], z[16];
    if (b->n == 0) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "no histogram yet to take percentiles of");
        return;
    }
    /* Labels on the left: the range's top and bottom. */
    int lw = 7, cw = iw - lw, rows = ih - 1;
    if (cw < 4 || rows < 1)
        return;
    int first = b->n > cw ? b->n - cw : 0, n = b->n - first;
    float q[UI_BAND_LEN][UI_NBANDS];
    double lo = INFINITY, hi = -INFINITY;
    long s0 = -1, s1 = -1;
    for (int i = 0; i < n; i++) {
        const float *v = ui_bands_at(b, first + i, i == 0 ? &s0 : &s1);
        memcpy(q[i], v, sizeof q[i]);
        if (isfinite(v[0]) && isfinite(v[UI_NBANDS - 1])) {
            lo = v[0] < lo ? v[0] : lo;
            hi = v[UI_NBANDS - 1] > hi ? v[UI_NBANDS - 1] : hi;
        }
    }
    if (n == 1)
        s1 = s0;
    if (!(hi >= lo)) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "no finite percentiles yet");
        return;
    }
    if (hi == lo) {
        lo -= 0.5;
        hi += 0.5;
    }
    char big[512 * 3 * 32 + 64];
    rows = rows_fit(rows, sizeof big, cw);
    ui_bands_render(big, sizeof big, (const float (*)[UI_NBANDS])q, n, cw, rows, lo, hi,
                    ui->utf8);
    put_lines(big, rows, iy, ix + lw, cw);
    crt_put(iy, ix, lw - 1, CRT_DIM, ui_fmt_short(a, sizeof a, hi, lw - 1));
    if (rows > 1)
        crt_put(iy + rows - 1, ix, lw - 1, CRT_DIM, ui_fmt_short(a, sizeof a, lo, lw - 1));
    snprintf(line, sizeof line, "%s7-93 %s16-84 %s31-69 %s50 %%", g->band[0], g->band[1],
             g->band[2], g->band[3]);
    int x = ix + crt_put(iy + ih - 1, ix, iw, CRT_NORMAL, line);
    snprintf(line, sizeof line, "  steps %s-%s", ui_fmt_si(a, sizeof a, (double)s0),
             ui_fmt_si(z, sizeof z, (double)s1));
    if (ui_text_width(line, ui->utf8) <= ix + iw - x)
        crt_put(iy + ih - 1, x, ix + iw - x, CRT_DIM, line);
}

/* The line under the bars: counts, what is left out, the bins, the reference, moments. */
static void
draw_counts(struct ui *ui, const struct ui_model *m, int i, const struct tm_hist *h,
            const struct tm_hist *shown, const struct tm_tensor *t, bool zoomed, long ref_step,
            int y, int ix, int iw)
{
    const struct ui_glyphs *g = ui->g;
    const struct tm_layer_info *li = &m->info.layers[i];
    char line[256], a[16], b[16];
    /* Counts and moments on the last line, each part only if it fits whole. */
    int x = ix;
    snprintf(line, sizeof line, "n %s%s", ui_fmt_si(a, sizeof a, h->total),
             h->sampled ? " (sampled)" : "");
    x += crt_put(y, x, ix + iw - x, CRT_NORMAL, line);
    if (shown->under > 0 || shown->over > 0) {
        snprintf(line, sizeof line, "  below %s above %s", ui_fmt_si(a, sizeof a, shown->under),
                 ui_fmt_si(b, sizeof b, shown->over));
        if (ui_text_width(line, ui->utf8) > ix + iw - x)
            snprintf(line, sizeof line, "  <%s >%s", ui_fmt_si(a, sizeof a, shown->under),
                     ui_fmt_si(b, sizeof b, shown->over));
        x += crt_put(y, x, ix + iw - x, CRT_WARN, line);
    }
    /* The binning, said: how many of the fixed bins are drawn. */
    if (zoomed)
        snprintf(line, sizeof line, "  zoom %d/%d bins", shown->nbins, h->nbins);
    else
        snprintf(line, sizeof line, "  %d bins", h->nbins);
    if (ui_text_width(line, ui->utf8) <= ix + iw - x)
        x += crt_put(y, x, ix + iw - x, zoomed ? CRT_BOLD : CRT_NORMAL, line);
    if (ref_step >= 0) {
        snprintf(line, sizeof line, "  %s step %ld", g->ref, ref_step);
        if (ui_text_width(line, ui->utf8) <= ix + iw - x)
            x += crt_put(y, x, ix + iw - x, CRT_VAL, line);
    }
    line[0] = '\0';
    if (ui->hist_kind == UI_HIST_ACT) {
        const struct tm_layer *L = &m->layers[i];
        snprintf(line, sizeof line, "  mean %s std %s", ui_fmt_short(a, sizeof a, L->act_mean, 6),
                 ui_fmt_short(b, sizeof b, L->act_std, 6));
    } else if (t != NULL) {
        double v = ui->hist_kind == UI_HIST_WEIGHT ? t->w_norm : t->g_norm;
        char name[TM_NAME_MAX];
        int k = li->weight;
        ui_text_clean(name, sizeof name, k < m->info.ntensors ? m->info.tensor_names[k] : "",
                      ui->utf8);
        snprintf(line, sizeof line, "  %s norm %s", name, ui_fmt_short(a, sizeof a, v, 6));
    }
    if (line[0] != '\0' && ui_text_width(line, ui->utf8) <= ix + iw - x)
        crt_put(y, x, ix + iw - x, CRT_NORMAL, line);
}

/* The overlay's reference for slot (b): the first or the pinned histogram, or NULL. */
static const struct tm_hist *
pick_ref(const struct ui *ui, const struct ui_model *m, int slot, long *step)
{
    if (slot >= 0 && ui->hist_ref == UI_REF_FIRST && m->first_step[slot] >= 0) {
        *step = m->first_step[slot];
        return &m->first_hist[slot];
    }
    if (slot >= 0 && ui->hist_ref == UI_REF_PIN && m->pin_step[slot] >= 0) {
        *step = m->pin_step[slot];
        return &m->pin_hist[slot];
    }
    return NULL;
}

/*
 * The panel's title into title: layer i (li, NULL when there is none
 * yet), the kind shown, and the step of a histogram older than the
 * snapshot (see ui_model_hist_step) or the runs compared.
 */
static const char *
hist_title(char *title, size_t size, const struct ui *ui, const struct ui_model *m, int i,
           const struct tm_layer_info *li)
{
    if (li == NULL) {
        snprintf(title, size, "histogram");
        return title;
    }
    const char *label = ui->utf8 ? li->label : li->label_ascii;
    if (ui->hist_bands) {
        snprintf(title, size, "%d %s %s %s percentiles  [h p]", i, label, ui->g->dot,
                 kind_names[ui->hist_kind]);
        return title;
    }
    long hs = ui_model_hist_step(m, i, ui->hist_kind);
    char at[32] = "";
    if (hs >= 0 && hs != m->snap_step)
        snprintf(at, sizeof at, " at step %ld", hs);
    char runs[16] = "";
    if (ui->nruns > 1)
        snprintf(runs, sizeof runs, " %c vs %c", UI_RUN_LETTER(ui->sel_run),
                 UI_RUN_LETTER(ui_hist_other_run(ui)));
    snprintf(title, size, "%d %s %s %s%s%s  [h]", i, label, ui->g->dot,
             kind_names[ui->hist_kind], at, runs);
    return title;
}

static void
hist_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    const struct ui_glyphs *g = ui->g;
    char title[160], line[256];
    int i = ui->sel_layer;
    bool have_layer = m->have_info && i >= 0 && i < m->info.nlayers;
    const struct tm_layer_info *li = have_layer ? &m->info.layers[i] : NULL;

    crt_box(r, hist_title(title, sizeof title, ui, m, i, li));
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    if (ih < 3 || iw < 10)
        return;
    if (!have_layer) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "waiting for the model");
        return;
    }

    const struct tm_hist *h = NULL;
    const struct tm_tensor *t = NULL;
    if (ui->hist_kind == UI_HIST_ACT) {
        if (m->layer_have[i])
            h = &m->layers[i].act;
    } else {
        int k = li->weight;
        if (k < 0 || k >= UI_MAX_TENSORS) {
            snprintf(line, sizeof line, "no %s: this layer has no parameters (h cycles)",
                     kind_names[ui->hist_kind]);
            crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, line);
            return;
        }
        if (m->tensor_have[k]) {
            t = &m->tensors[k];
            h = ui->hist_kind == UI_HIST_WEIGHT ? &t->weight : &t->grad;
        }
    }
    if (h == NULL) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM,
                "no snapshot yet (one comes every telemetry.every steps)");
        return;
    }
    int slot = ui_hist_slot(m, i, ui->hist_kind);
    if (ui->hist_bands && slot >= 0) {
        draw_bands(ui, m, slot, iy, ix, ih, iw);
        return;
    }
    if (h->total == 0 || h->nbins == 0) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "no histogram data in this snapshot");
        return;
    }

    /* Comparing runs: the same layer of the other run, drawn over this one. */
    int ok = ui_hist_other_run(ui);
    const struct tm_hist *ho = ok >= 0 ? ui_model_hist(ui->runs[ok], i, ui->hist_kind) : NULL;
    if (ho != NULL && (ho->total == 0 || ho->nbins == 0))
        ho = NULL;
    if (ho != NULL) {
        hist_draw_pair(ui, r, h, ho, ok);
        return;
    }

    /* Auto-zoom to the central mass (whole bins; what it leaves out is counted). */
    struct tm_hist zh;
    bool zoomed = !ui->hist_full && ui_hist_zoom(h, UI_HIST_TAIL, &zh);
    const struct tm_hist *shown = zoomed ? &zh : h;
    long ref_step = -1;
    const struct tm_hist *ref = pick_ref(ui, m, slot, &ref_step);

    char *buf = line;
    char big[512 * 3 * 32 + 64];
    /* Tall panels: as many rows as the buffer holds, wide ones first. */
    int bars = rows_fit(ih - 2, sizeof big, iw);
    struct tm_hist axis = *shown;
    if (bars > 0) {
        if (ref != NULL) {
            ui_hist_overlay_render(big, sizeof big, shown, ref, g->ref, iw, bars, ui->utf8,
                                   &axis.lo, &axis.hi);
        } else {
            ui_hist_render(big, sizeof big, shown, iw, bars, ui->utf8);
        }
        put_lines(big, bars, iy, ix, iw);
    }
    ui_hist_axis(buf, sizeof line, &axis, iw);
    crt_put(iy + bars, ix, iw, CRT_DIM, buf);

    draw_counts(ui, m, i, h, shown, t, zoomed, ref != NULL ? ref_step : -1, iy + ih - 1, ix,
                iw);
}

static int
hist_key(struct ui *ui, int key)
{
    switch (key) {
    case 'h':
        ui->hist_kind = (ui->hist_kind + 1) % UI_HIST_KIND_COUNT;
        break;
    case 'z':
        ui->hist_full = !ui->hist_full;
        ui_message(ui, UI_MSG_INFO, "histogram: %s", ui->hist_full ? "the whole range"
                                                    : "auto-zoom to the central mass");
        break;
    case 'p':
        ui->hist_bands = !ui->hist_bands;
        break;
    case 'b':
        ui->hist_ref = (ui->hist_ref + 1) % UI_REF_COUNT;
        if (ui->hist_ref == UI_REF_PIN && ui_view(ui)->pinned_at < 0)
            ui->hist_ref = UI_REF_NONE;
        ui_message(ui, UI_MSG_INFO, "histogram overlay: %s",
                   ui->hist_ref == UI_REF_NONE    ? "off"
                   : ui->hist_ref == UI_REF_FIRST ? "the first histogram"
                                                  : "the one pinned by M");
        break;
    case 'M': {
        const struct ui_model *m = ui_view(ui);
        if (m->snap_step < 0) {
            ui_message(ui, UI_MSG_INFO, "M: no snapshot to pin yet");
            break;
        }
        ui_model_pin(ui->live);
        if (ui->frozen)
            ui_model_pin(ui->still);
        ui->hist_ref = UI_REF_PIN;
        ui_message(ui, UI_MSG_INFO, "histograms pinned at step %ld: the overlay compares to them "
                   "(b cycles)", ui_view(ui)->pinned_at);
        break;
    }
    default:
        return 0;
    }
    return UI_HANDLED | UI_REDRAW;
}

static void
hist_resize(struct ui *ui, const struct ui_rect *r)
{
    /* Rendered to the width at each draw. */
}

static const char *
hist_help(void)
{
    return "the selected layer's activations, weights or gradients (h), auto-zoomed to the "
           "central mass (z: whole range), percentile bands over time (p), overlaid on the "
           "first or pinned histogram (b, M); below/above count values outside the drawn bins; "
           "comparing runs, the other run's histogram of the same layer is drawn over it as "
           "its letter";
}

/* ---- small multiples: a histogram per layer (wide screens) ------------ */

static void
multi_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    char title[96], line[96], a[16], b[16];
    snprintf(title, sizeof title, "every layer %s %s%s  [h z]", ui->g->dot,
             kind_names[ui->hist_kind], ui->hist_full ? "" : " (zoomed)");
    crt_box(r, title);
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    if (ih < 4 || iw < 14)
        return;
    if (!m->have_info) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "waiting for the model");
        return;
    }
    int layers[TM_MAX_LAYERS], n = 0;
    for (int i = 0; i < m->info.nlayers; i++)
        if (ui->hist_kind == UI_HIST_ACT || m->info.layers[i].weight >= 0)
            layers[n++] = i;
    if (n == 0) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "no layer has parameters");
        return;
    }
    /* The fewest columns that give each cell a title, two bar rows and a range. */
    int ncol = 1;
    while (ncol < n && (ih / ((n + ncol - 1) / ncol)) < 4 && iw / (ncol + 1) >= 14)
        ncol++;
    int cw = iw / ncol, nrow = (n + ncol - 1) / ncol, chh = ih / nrow;
    if (chh < 4) {
        chh = 4;
        nrow = ih / chh;
    }
    int shown = nrow * ncol < n ? nrow * ncol : n;
    for (int c = 0; c < shown; c++) {
        int i = layers[c];
        int y = iy + (c / ncol) * chh, x = ix + (c % ncol) * cw, w = cw - 1;
        const struct tm_layer_info *li = &m->info.layers[i];
        bool sel = i == ui->sel_layer;
        if (shown < n && c == shown - 1) {
            snprintf(line, sizeof line, "+%d more (Tab selects)", n - shown + 1);
            crt_put(y, x, w, CRT_DIM, line);
            break;
        }
        snprintf(line, sizeof line, "%s%d %s", sel ? ui->g->cursor : "", i,
                 ui->utf8 ? li->label : li->label_ascii);
        crt_put_label(y, x, w, sel ? CRT_SELECTED : CRT_TITLE, line);
        const struct tm_hist *h = ui_model_hist(m, i, ui->hist_kind);
        if (h == NULL || h->nbins == 0 || h->total == 0) {
            crt_put(y + 1, x, w, CRT_DIM, "no histogram yet");
            continue;
        }
        struct tm_hist zh;
        const struct tm_hist *d = !ui->hist_full && ui_hist_zoom(h, UI_HIST_TAIL, &zh) ? &zh : h;
        int bars = chh - 2;
        char big[64 * 3 * 16 + 32];
        if (w > 64)
            w = 64;
        bars = bars > 16 ? 16 : bars;
        ui_hist_render(big, sizeof big, d, w, bars, ui->utf8);
        put_lines(big, bars, y + 1, x, w);
        snprintf(line, sizeof line, "%s..%s", ui_fmt_short(a, sizeof a, d->lo, 6),
                 ui_fmt_short(b, sizeof b, d->hi, 6));
        crt_put(y + 1 + bars, x, w, CRT_DIM, line);
    }
}

static int
multi_key(struct ui *ui, int key)
{
    return hist_key(ui, key);
}

static const char *
multi_help(void)
{
    return "at 160 columns and wider: the same kind of histogram (h) for every layer, small";
}

const struct panel_class panel_multi_class = {
    .name = "layers' histograms",
    .draw = multi_draw,
    .key = multi_key,
    .resize = hist_resize,
    .help = multi_help,
};

const struct panel_class panel_hist_class = {
    .name = "histogram",
    .draw = hist_draw,
    .key = hist_key,
    .resize = hist_resize,
    .help = hist_help,
};
