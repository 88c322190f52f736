/*
 * panel-hist.c - the histogram of the selected layer: its activations,
 * or its weight tensor's weights or gradients (h cycles), in block glyphs
 * with an axis (min, 0, max), under/overflow counts and a note when the
 * histogram was drawn from a sample of the tensor.
 *
 * It shows the last complete snapshot; it computes no statistics itself.
 */
#include "config.h"

#include "panel.h"

#include <stdio.h>
#include <string.h>

#include "crt.h"

static const char *const kind_names[UI_HIST_KIND_COUNT] = {"activations", "weights",
                                                           "gradients"};

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
    int bars = ih - 2;
    int max_bars = (int)((sizeof big - 1) / ((size_t)iw * 3 + 1));
    bars = bars > max_bars ? max_bars : bars;
    struct tm_hist range;
    memset(&range, 0, sizeof range);
    ui_hist_overlay_render(big, sizeof big, h, ho, UI_RUN_LETTER(other), iw, bars, ui->utf8,
                           &range.lo, &range.hi);
    char *row = big;
    for (int y = 0; y < bars && row != NULL; y++) {
        char *nl = strchr(row, '\n');
        if (nl != NULL)
            *nl = '\0';
        crt_put(iy + y, ix, iw, CRT_HIST, row);
        row = nl != NULL ? nl + 1 : NULL;
    }
    ui_hist_axis(line, sizeof line, &range, iw);
    crt_put(iy + bars, ix, iw, CRT_DIM, line);
    /* Each is scaled to its own total, so the shapes compare. */
    snprintf(line, sizeof line, "%c bars n %s  %c letters n %s", UI_RUN_LETTER(ui->sel_run),
             ui_fmt_si(a, sizeof a, h->total), UI_RUN_LETTER(other),
             ui_fmt_si(b, sizeof b, ho->total));
    crt_put(iy + ih - 1, ix, iw, CRT_NORMAL, line);
}

static void
hist_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    const struct ui_glyphs *g = ui->g;
    char title[96], line[256], a[16], b[16];
    int i = ui->sel_layer;
    bool have_layer = m->have_info && i >= 0 && i < m->info.nlayers;
    const struct tm_layer_info *li = have_layer ? &m->info.layers[i] : NULL;

    if (have_layer) {
        /* A histogram older than the snapshot (see ui_model_hist_step) says its step. */
        long hs = ui_model_hist_step(m, i, ui->hist_kind);
        char at[32] = "";
        if (hs >= 0 && hs != m->snap_step)
            snprintf(at, sizeof at, " at step %ld", hs);
        char runs[16] = "";
        if (ui->nruns > 1)
            snprintf(runs, sizeof runs, " %c vs %c", UI_RUN_LETTER(ui->sel_run),
                     UI_RUN_LETTER(ui_hist_other_run(ui)));
        snprintf(title, sizeof title, "%d %s %s %s%s%s  [h]", i,
                 ui->utf8 ? li->label : li->label_ascii, g->dot, kind_names[ui->hist_kind], at,
                 runs);
    } else {
        snprintf(title, sizeof title, "histogram");
    }
    crt_box(r, title);
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

    int bars = ih - 2;
    char *buf = line;
    char big[512 * 3 * 32 + 64];
    /* Tall panels: as many rows as the buffer holds, wide ones first. */
    int max_bars = (int)((sizeof big - 1) / ((size_t)iw * 3 + 1));
    bars = bars > max_bars ? max_bars : bars;
    if (bars > 0) {
        ui_hist_render(big, sizeof big, h, iw, bars, ui->utf8);
        char *row = big;
        for (int y = 0; y < bars && row != NULL; y++) {
            char *nl = strchr(row, '\n');
            if (nl != NULL)
                *nl = '\0';
            crt_put(iy + y, ix, iw, CRT_HIST, row);
            row = nl != NULL ? nl + 1 : NULL;
        }
    }
    ui_hist_axis(buf, sizeof line, h, iw);
    crt_put(iy + bars, ix, iw, CRT_DIM, buf);

    /* Counts and moments on the last line, each part only if it fits whole. */
    int y = iy + ih - 1, x = ix;
    snprintf(line, sizeof line, "n %s%s", ui_fmt_si(a, sizeof a, h->total),
             h->sampled ? " (sampled)" : "");
    x += crt_put(y, x, ix + iw - x, CRT_NORMAL, line);
    if (h->under > 0 || h->over > 0) {
        snprintf(line, sizeof line, "  below %s above %s", ui_fmt_si(a, sizeof a, h->under),
                 ui_fmt_si(b, sizeof b, h->over));
        if (ui_text_width(line, ui->utf8) > ix + iw - x)
            snprintf(line, sizeof line, "  <%s >%s", ui_fmt_si(a, sizeof a, h->under),
                     ui_fmt_si(b, sizeof b, h->over));
        x += crt_put(y, x, ix + iw - x, CRT_WARN, line);
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

static int
hist_key(struct ui *ui, int key)
{
    if (key != 'h')
        return 0;
    ui->hist_kind = (ui->hist_kind + 1) % UI_HIST_KIND_COUNT;
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
    return "the selected layer's activations, weights or gradients (h); "
           "below/above count values outside the bins; comparing runs, the other run's "
           "histogram of the same layer is drawn over it as its letter";
}

const struct panel_class panel_hist_class = {
    .name = "histogram",
    .draw = hist_draw,
    .key = hist_key,
    .resize = hist_resize,
    .help = hist_help,
};
