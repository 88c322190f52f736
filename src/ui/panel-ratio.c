/*
 * panel-ratio.c - the update-ratio strip: one row per layer with a
 * weight tensor, one column per snapshot (the last ones that fit, oldest
 * at the left), each cell the tensor's update/weight ratio on a log scale
 * of bands (ui_ratio_level): a glyph per band, so it reads without colour,
 * and a colour per band where there is colour.  The healthy band around
 * 1e-3 is marked on the scale line; a row that sinks to the low bands
 * stopped learning, one that climbs to the high bands is blowing up.
 *
 * It draws what the model kept (ui_model_strip); it judges nothing: the
 * doctor's findings say what is wrong, this shows when and where.
 */
#include "config.h"

#include "panel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crt.h"

#define LABEL_W 18              /* cursor, index, kind and shape */

/* A band's colour: the healthy band green, the slow and the fast ends warm. */
static enum crt_elem
level_elem(int lvl)
{
    switch (lvl) {
    case -2:
    case 0:
    case UI_RATIO_LEVELS - 1: return CRT_ERROR;
    case 1:
    case UI_RATIO_LEVELS - 2: return CRT_WARN;
    case UI_RATIO_HEALTHY: return CRT_OK;
    default: return CRT_NORMAL;
    }
}

/* The scale: lowest band to highest, the 1e-3 band in brackets, non-finite. */
static void
draw_scale(const struct ui *ui, int y, int x, int w)
{
    const struct ui_glyphs *g = ui->g;
    int end = x + w;
    x += crt_put(y, x, end - x, CRT_DIM, "1e-6 ");
    for (int l = 0; l < UI_RATIO_LEVELS; l++) {
        if (l == UI_RATIO_HEALTHY)
            x += crt_put(y, x, end - x, CRT_BOLD, "[");
        x += crt_put(y, x, end - x, level_elem(l), g->ratio_lvl[l]);
        if (l == UI_RATIO_HEALTHY)
            x += crt_put(y, x, end - x, CRT_BOLD, "]");
    }
    x += crt_put(y, x, end - x, CRT_DIM, " 0.1  ");
    char line[96];
    snprintf(line, sizeof line, "[%s] 5e-4..2e-3 healthy  %s non-finite",
             g->ratio_lvl[UI_RATIO_HEALTHY], g->ratio_bad);
    if (ui_text_width(line, ui->utf8) > end - x)
        snprintf(line, sizeof line, "[%s] 1e-3 band", g->ratio_lvl[UI_RATIO_HEALTHY]);
    if (ui_text_width(line, ui->utf8) <= end - x)
        crt_put(y, x, end - x, CRT_DIM, line);
}

static void
ratio_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    char title[128], a[16], b[16];
    int cw = r->w - 2 - LABEL_W - 1;
    int ncols = m->strip_n < cw ? m->strip_n : cw;
    if (ncols > 0) {
        long s0 = 0, s1 = 0;
        ui_model_strip(m, m->strip_n - ncols, 0, &s0);
        ui_model_strip(m, m->strip_n - 1, 0, &s1);
        snprintf(title, sizeof title, "update/weight ratio %s steps %s-%s  [u]", ui->g->dot,
                 ui_fmt_si(a, sizeof a, (double)s0), ui_fmt_si(b, sizeof b, (double)s1));
    } else {
        snprintf(title, sizeof title, "update/weight ratio  [u]");
    }
    crt_box(r, title);
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    if (ih < 2 || iw < LABEL_W + 10)
        return;
    if (!m->have_info) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "waiting for the model");
        return;
    }
    /* The layers that have a weight tensor, in order. */
    int rows[TM_MAX_LAYERS], nrows = 0, sel_row = 0;
    for (int i = 0; i < m->info.nlayers; i++) {
        int k = m->info.layers[i].weight;
        if (k < 0 || k >= UI_MAX_TENSORS)
            continue;
        if (i <= ui->sel_layer)
            sel_row = nrows;
        rows[nrows++] = i;
    }
    if (nrows == 0) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM, "no layer has parameters");
        return;
    }
    if (m->strip_n == 0) {
        crt_put(iy + ih / 2, ix + 2, iw - 4, CRT_DIM,
                "no snapshot yet (one comes every telemetry.every steps)");
        return;
    }
    int avail = ih - 1, top = 0;
    if (sel_row >= avail)
        top = sel_row - avail + 1;
    for (int row = 0; row < avail && top + row < nrows; row++) {
        int i = rows[top + row], y = iy + row;
        const struct tm_layer_info *li = &m->info.layers[i];
        bool sel = i == ui->sel_layer;
        char label[TM_LABEL_MAX + 16];
        snprintf(label, sizeof label, "%s%d %s", sel ? ui->g->cursor : " ", i,
                 ui->utf8 ? li->label : li->label_ascii);
        crt_put_label(y, ix, LABEL_W, sel ? CRT_SELECTED : CRT_NORMAL, label);
        int k = li->weight;
        for (int c = 0; c < ncols; c++) {
            float v = ui_model_strip(m, m->strip_n - ncols + c, k, NULL);
            int lvl = ui_ratio_level(v);
            crt_put(y, ix + LABEL_W + 1 + c, 1, lvl == -1 ? CRT_DIM : level_elem(lvl),
                    ui_ratio_glyph(ui->g, v));
        }
    }
    draw_scale(ui, iy + ih - 1, ix, iw);
}

static int
ratio_key(struct ui *ui, int key)
{
    if (key != 'u')
        return 0;
    ui->show_strip = !ui->show_strip;
    return UI_HANDLED | UI_REDRAW;
}

static void
ratio_resize(struct ui *ui, const struct ui_rect *r)
{
    /* Columns are chosen at each draw. */
}

static const char *
ratio_help(void)
{
    return "update-ratio strip (u): each layer's update/weight ratio at the last snapshots "
           "on a log scale of glyphs, the healthy band around 1e-3 in brackets";
}

const struct panel_class panel_ratio_class = {
    .name = "update ratio",
    .draw = ratio_draw,
    .key = ratio_key,
    .resize = ratio_resize,
    .help = ratio_help,
};
