/*
 * panel-layers.c - one row per layer: kind and shape, activation mean
 * and std, dead (ReLU) or saturated (tanh/sigmoid) share, the
 * update/weight ratio of the layer's weight tensor with its trend, and
 * the layer's gradient norm.  A cursor selects the layer the histogram
 * panel shows.  It has no thresholds of its own: a row is marked (beside
 * its index, and on the cell the rule judges) exactly while the doctor
 * has a warning or error raised about that layer, with the findings
 * panel's glyph and colour, so a mark reads without colour too and
 * always has a finding that names it.
 *
 * Columns that do not fit are left out, least useful first; it never
 * wraps a row.  It knows layers only as telemetry describes them.
 */
#include "config.h"

#include "panel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crt.h"
#include "nntop/doctor.h"

enum col {
    COL_ACT,
    COL_DEAD,
    COL_RATIO,
    COL_TREND,
    COL_GNORM,
    COL_COUNT
};

static const struct {
    int width;
    int prio;                   /* dropped lowest first */
} cols[COL_COUNT] = {
    [COL_ACT] = {13, 4},
    [COL_DEAD] = {5, 6},
    [COL_RATIO] = {8, 7},
    [COL_TREND] = {UI_TREND_LEN, 3},
    [COL_GNORM] = {5, 5},
};

#define NAME_MIN_W 8             /* "relu" and a short shape, at the least */
#define NAME_MAX_W 28

/*
 * Which columns fit in width w beside names of want columns (the widest
 * label); returns the name column's width.  Whole columns are dropped,
 * least useful first, until the labels fit; a label wider than what is
 * left is drawn with an ellipsis, never cut into another value.
 */
static int
choose_columns(int w, int want, bool show[COL_COUNT])
{
    int fixed = 4;              /* cursor, index (2), space */
    if (want < NAME_MIN_W)
        want = NAME_MIN_W;
    if (want > NAME_MAX_W)
        want = NAME_MAX_W;
    int used = fixed + want;
    for (int c = 0; c < COL_COUNT; c++) {
        show[c] = true;
        used += cols[c].width + 1;
    }
    while (used > w) {
        int worst = -1;
        for (int c = 0; c < COL_COUNT; c++)
            if (show[c] && (worst < 0 || cols[c].prio < cols[worst].prio))
                worst = c;
        if (worst < 0)
            break;
        show[worst] = false;
        used -= cols[worst].width + 1;
    }
    int name_w = want + (w - used > 0 ? 0 : w - used);
    return name_w < 1 ? 1 : name_w;
}

/* Put s right-aligned in a cell of width w at x. */
static void
cell(int y, int x, int w, enum crt_elem e, const char *s, bool utf8)
{
    int sw = ui_text_width(s, utf8);
    int pad = w - sw > 0 ? w - sw : 0;
    crt_put(y, x + pad, w - pad, e, s);
}

static int
visible_rows(const struct ui_rect *r)
{
    return r->h - 3;            /* border (2) and the column titles */
}

static void
keep_cursor_visible(struct ui *ui, int n, int rows)
{
    if (ui->sel_layer >= n)
        ui->sel_layer = n > 0 ? n - 1 : 0;
    if (ui->sel_layer < 0)
        ui->sel_layer = 0;
    if (rows < 1)
        rows = 1;
    if (ui->sel_layer < ui->layer_top)
        ui->layer_top = ui->sel_layer;
    if (ui->sel_layer >= ui->layer_top + rows)
        ui->layer_top = ui->sel_layer - rows + 1;
    if (ui->layer_top > n - rows)
        ui->layer_top = n - rows > 0 ? n - rows : 0;
}

/* The worse of the marks rules a and b (DR_*) put on layer i. */
static int
worse_mark(const struct ui_model *m, int i, int a, int b)
{
    int sa = ui_model_mark(m, i, doctor_rule_at(a)->id);
    int sb = ui_model_mark(m, i, doctor_rule_at(b)->id);
    return sa > sb ? sa : sb;
}

/*
 * Layer i's dead (or saturated) share at y, x, L its statistics (NULL
 * before any): marked by either rule that judges the column, on an image
 * the per-filter and per-channel ones (a replayed run has no per-channel
 * shares: the layer-wide rule then).
 */
static void
dead_cell(const struct ui *ui, const struct ui_model *m, int i, const struct tm_layer *L, int y,
          int x, enum crt_elem base)
{
    const struct tm_layer_info *li = &m->info.layers[i];
    char buf[64], v1[16];
    double f = -1.0;
    int sev = 0;
    bool filters = (li->flags & TM_LAYER_DEAD_FILTERS) != 0;
    if (L != NULL && (li->flags & TM_LAYER_HAS_DEAD)) {
        f = L->dead_frac;
        sev = worse_mark(m, i, DR_DEAD_RELU, DR_DEAD_FILTERS);
    } else if (L != NULL && (li->flags & TM_LAYER_HAS_SAT)) {
        f = L->sat_frac;
        sev = worse_mark(m, i, DR_SATURATION, DR_SATURATED_CHANNELS);
    }
    bool warn = sev >= UI_MARK_MIN;
    /* A relu on an image counts dead filters: 'f' says so where the
     * column also holds units (the title says it where it does not). */
    if (f >= 0.0)
        snprintf(buf, sizeof buf, "%s%s", ui_fmt_pct(v1, sizeof v1, f),
                 warn ? ui_severity_glyph(ui->g, sev)
                      : filters && ui->layers_mixed_dead ? "f" : " ");
    else
        snprintf(buf, sizeof buf, "- ");
    cell(y, x, cols[COL_DEAD].width, warn ? crt_severity_elem(sev) : base, buf, ui->utf8);
}

static void
draw_row(struct ui *ui, const struct ui_model *m, int i, int y, int x0, int w, int name_w,
         const bool show[COL_COUNT])
{
    const struct ui_glyphs *g = ui->g;
    const struct tm_layer_info *li = &m->info.layers[i];
    bool sel = i == ui->sel_layer;
    enum crt_elem base = sel ? CRT_SELECTED : CRT_NORMAL;
    char buf[64], v1[16], v2[16];

    if (sel)
        crt_fill(y, x0, w, CRT_SELECTED);
    int x = x0;
    crt_put(y, x, 1, base, sel ? g->cursor : " ");
    snprintf(buf, sizeof buf, "%2d", i);   /* the nn.Sequential index */
    crt_put(y, x + 1, 2, base, buf);
    /* The row's mark: the worst warning or error raised about this layer. */
    int row_sev = ui_model_mark(m, i, NULL);
    if (row_sev >= UI_MARK_MIN)
        crt_put(y, x + 3, 1, crt_severity_elem(row_sev), ui_severity_glyph(g, row_sev));
    x += 4;
    crt_put_label(y, x, name_w, base, ui->utf8 ? li->label : li->label_ascii);
    x += name_w + 1;

    const struct tm_layer *L = m->layer_have[i] ? &m->layers[i] : NULL;
    const struct tm_tensor *W = NULL, *B = NULL;
    if (li->weight >= 0 && li->weight < UI_MAX_TENSORS && m->tensor_have[li->weight])
        W = &m->tensors[li->weight];
    if (li->bias >= 0 && li->bias < UI_MAX_TENSORS && m->tensor_have[li->bias])
        B = &m->tensors[li->bias];
    bool bad_act = L != NULL && (L->nan_count > 0 || L->inf_count > 0);
    bool bad_w = (W != NULL && (W->nan_count > 0 || W->inf_count > 0)) ||
                 (B != NULL && (B->nan_count > 0 || B->inf_count > 0));

    if (show[COL_ACT]) {
        if (L == NULL) {
            cell(y, x, cols[COL_ACT].width, base, "-", ui->utf8);
        } else if (bad_act) {
            snprintf(buf, sizeof buf, "%s nan/inf", g->bad);
            cell(y, x, cols[COL_ACT].width, CRT_ERROR, buf, ui->utf8);
        } else {
            snprintf(buf, sizeof buf, "%s/%s", ui_fmt_short(v1, sizeof v1, L->act_mean, 6),
                     ui_fmt_short(v2, sizeof v2, L->act_std, 6));
            cell(y, x, cols[COL_ACT].width, base, buf, ui->utf8);
        }
        x += cols[COL_ACT].width + 1;
    }
    if (show[COL_DEAD]) {
        dead_cell(ui, m, i, L, y, x, base);
        x += cols[COL_DEAD].width + 1;
    }
    if (show[COL_RATIO]) {
        if (W == NULL || W->step == 0) {
            /* No update yet (the step-0 view of a paused start): no ratio. */
            cell(y, x, cols[COL_RATIO].width, base, "- ", ui->utf8);
        } else {
            double q = W->update_ratio;
            int sev = worse_mark(m, i, DR_UPDATE_RATIO_HIGH, DR_UPDATE_RATIO_LOW);
            bool warn = sev >= UI_MARK_MIN;
            snprintf(buf, sizeof buf, "%s%s", ui_fmt_short(v1, sizeof v1, q, 6),
                     warn ? ui_severity_glyph(g, sev) : " ");
            cell(y, x, cols[COL_RATIO].width,
                 bad_w ? CRT_ERROR : warn ? crt_severity_elem(sev) : base, buf, ui->utf8);
        }
        x += cols[COL_RATIO].width + 1;
    }
    if (show[COL_TREND]) {
        if (W != NULL) {
            int k = li->weight;
            ui_spark(buf, sizeof buf, m->trend[k], m->ntrend[k], ui->utf8);
            crt_put(y, x, cols[COL_TREND].width, sel ? CRT_SELECTED : CRT_HIST, buf);
        }
        x += cols[COL_TREND].width + 1;
    }
    if (show[COL_GNORM]) {
        if (W == NULL) {
            cell(y, x, cols[COL_GNORM].width, base, "-", ui->utf8);
        } else {
            double gw = W->g_norm, gb = B != NULL ? B->g_norm : 0.0;
            double gn = sqrt(gw * gw + gb * gb);
            if (bad_w || !isfinite(gn)) {
                snprintf(buf, sizeof buf, "%s nan", g->bad);
                cell(y, x, cols[COL_GNORM].width, CRT_ERROR, buf, ui->utf8);
            } else {
                cell(y, x, cols[COL_GNORM].width, base,
                     ui_fmt_short(v1, sizeof v1, gn, cols[COL_GNORM].width), ui->utf8);
            }
        }
    }
}

static void
layers_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    const struct ui_glyphs *g = ui->g;
    char title[80], run[16] = "";
    int n = m->have_info ? m->info.nlayers : 0;
    if (ui->nruns > 1)
        snprintf(run, sizeof run, " of run %c", UI_RUN_LETTER(ui->sel_run));
    if (m->snap_step >= 0)
        snprintf(title, sizeof title, "layers%s %s snapshot at step %ld", run, g->dot,
                 m->snap_step);
    else
        snprintf(title, sizeof title, "layers%s", run);
    crt_box(r, title);
    int iy = r->y + 1, ix = r->x + 1, iw = r->w - 2;
    int rows = visible_rows(r);
    if (rows < 1)
        return;
    if (!m->have_info) {
        crt_put(iy + 1, ix + 2, iw - 4, CRT_DIM, "waiting for the model");
        return;
    }
    bool show[COL_COUNT];
    int want = 5;
    for (int i = 0; i < n; i++) {
        const struct tm_layer_info *li = &m->info.layers[i];
        int lw = ui_text_width(ui->utf8 ? li->label : li->label_ascii, ui->utf8);
        want = lw > want ? lw : want;
    }
    int name_w = choose_columns(iw, want, show);

    /* Column titles. */
    int x = ix + 1;
    crt_put(iy, x, 2, CRT_DIM, " #");
    x += 3;
    crt_put(iy, x, name_w, CRT_DIM, "layer");
    x += name_w + 1;
    /* The dead/saturated column says which of the two the model has. */
    bool dead = false, sat = false, units = false, filters = false;
    for (int i = 0; i < n; i++) {
        unsigned fl = m->info.layers[i].flags;
        dead |= (fl & TM_LAYER_HAS_DEAD) != 0;
        sat |= (fl & TM_LAYER_HAS_SAT) != 0;
        filters |= (fl & TM_LAYER_DEAD_FILTERS) != 0;
        units |= (fl & TM_LAYER_HAS_DEAD) != 0 && (fl & TM_LAYER_DEAD_FILTERS) == 0;
    }
    ui->layers_mixed_dead = units && filters;
    const char *dead_title = filters && !units ? "dfilt" : "dead";
    const char *titles[COL_COUNT] = {g->act, dead && sat ? "d/sat" : sat ? "sat" : dead_title,
                                     g->ratio, "trend", g->gnorm};
    for (int c = 0; c < COL_COUNT; c++) {
        if (!show[c])
            continue;
        if (c == COL_TREND)
            crt_put(iy, x, cols[c].width, CRT_DIM, titles[c]);
        else
            cell(iy, x, cols[c].width - (c == COL_RATIO ? 1 : 0), CRT_DIM,
                 titles[c], ui->utf8);
        x += cols[c].width + 1;
    }

    keep_cursor_visible(ui, n, rows);
    for (int k = 0; k < rows && ui->layer_top + k < n; k++)
        draw_row(ui, m, ui->layer_top + k, iy + 1 + k, ix, iw, name_w, show);
    if (ui->layer_top > 0)
        crt_put(r->y, r->x + r->w - 3, 1, CRT_TITLE, g->up);
    if (ui->layer_top + rows < n)
        crt_put(r->y + r->h - 1, r->x + r->w - 3, 1, CRT_TITLE, g->down);
}

static int
layers_key(struct ui *ui, int key)
{
    const struct ui_model *m = ui_view(ui);
    int n = m->have_info ? m->info.nlayers : 0;
    if (n == 0)
        return UI_HANDLED;
    switch (key) {
    case UI_KEY_TAB: ui->sel_layer = (ui->sel_layer + 1) % n; break;
    case UI_KEY_BTAB: ui->sel_layer = (ui->sel_layer + n - 1) % n; break;
    case UI_KEY_DOWN:
    case 'j':
        if (ui->sel_layer + 1 < n)
            ui->sel_layer++;
        break;
    case UI_KEY_UP:
    case 'k':
        if (ui->sel_layer > 0)
            ui->sel_layer--;
        break;
    default: return 0;
    }
    keep_cursor_visible(ui, n, visible_rows(&ui->layout.area[UI_AREA_LAYERS]));
    return UI_HANDLED | UI_REDRAW;
}

static void
layers_resize(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    keep_cursor_visible(ui, m->have_info ? m->info.nlayers : 0, visible_rows(r));
}

static const char *
layers_help(void)
{
    return "per layer: activation mean/std, dead or saturated share (on an image: dead "
           "filters, titled dfilt or marked f), update/weight ratio and trend, gradient norm; "
           "a row (and the value a rule judged) is marked while the doctor has a warning or "
           "error raised about that layer";
}

const struct panel_class panel_layers_class = {
    .name = "layers",
    .draw = layers_draw,
    .key = layers_key,
    .resize = layers_resize,
    .help = layers_help,
};
