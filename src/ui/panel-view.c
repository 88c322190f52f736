/*
 * panel-view.c - looking inside (v): one validation sample drawn as an
 * image with its label and the predicted class probabilities, its
 * saliency map (|d loss / d input|), the first conv layer's filters and
 * the selected layer's activation maps for that sample.
 *
 * Pictures are half blocks in 24-bit or 256 colours (two pixels a cell;
 * crt.c picks the depth), or one shade character a cell for the mean of
 * its two pixels (block shades in UTF-8, an ASCII ramp otherwise), so
 * they read on any terminal.
 * Everything drawn comes from TM_VIEW and TM_VIEW_MAP records, which the
 * trainer computes on request (TM_CMD_VIEW) between two steps; this file
 * asks for them and never sees the model.
 */
#include "config.h"

#include "panel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crt.h"

#define REFRESH_S 1.0           /* a running view is asked again at most this often */
#define PROB_BAR_W 10           /* cells of a probability bar */

/* ---- requests ---------------------------------------------------------- */

static void
view_request(struct ui *ui, long sample, int dir)
{
    struct tm_command c = {.kind = TM_CMD_VIEW, .n = sample, .layer = ui->sel_layer, .dir = dir};
    char why[200] = "";
    ui->view_sample = sample;
    ui->view_asked_layer = ui->sel_layer;
    ui->view_asked_views = ui->live->views;
    ui->view_asked_at = ui->now;
    ui->view_asked_snap = ui->live->snap_step;
    if (ui->feed->cls->send(ui->feed->self, &c, why, sizeof why) < 0)
        ui_message(ui, UI_MSG_ERROR, "view: %s", why[0] != '\0' ? why : "command refused");
}

void
ui_view_open(struct ui *ui)
{
    ui->view_open = true;
    const struct ui_model *m = ui->live;
    view_request(ui, m->have_view ? m->view.sample : ui->view_sample, 0);
}

void
ui_view_tick(struct ui *ui)
{
    if (!ui->view_open || ui->frozen)
        return;
    const struct ui_model *m = ui->live;
    bool answered = m->views > ui->view_asked_views;
    long sample = m->have_view ? m->view.sample : ui->view_sample;
    /* Another layer selected: its maps at once, once the last ask is answered. */
    if (answered && ui->sel_layer != ui->view_asked_layer) {
        view_request(ui, sample, 0);
        return;
    }
    /* Training went on: the same sample with the new weights, now and then. */
    if (answered && m->snap_step != ui->view_asked_snap
        && ui->now - ui->view_asked_at >= REFRESH_S)
        view_request(ui, sample, 0);
}

/* ---- pictures ---------------------------------------------------------- */

/*
 * Plane v (h, w) averaged over f x f blocks into out (*oh, *ow).  The
 * panel shrinks activation maps further than the trainer did when the
 * screen is small.
 */
static void
shrink(float *out, int *oh, int *ow, const float *v, int h, int w, int f)
{
    *oh = (h + f - 1) / f;
    *ow = (w + f - 1) / f;
    for (int py = 0; py < *oh; py++) {
        for (int px = 0; px < *ow; px++) {
            double acc = 0.0;
            int n = 0;
            for (int y = py * f; y < h && y < (py + 1) * f; y++)
                for (int x = px * f; x < w && x < (px + 1) * f; x++, n++)
                    acc += v[y * w + x];
            out[py * *ow + px] = n > 0 ? (float)(acc / n) : 0.0f;
        }
    }
}

/* Plane v (h, w) at (y, x) in colours of pal over [lo, hi]: w columns,
 * ceil(h / 2) rows, clipped to the rectangle's bottom row ymax. */
static void
draw_plane(int y, int x, int ymax, const float *v, int h, int w, float lo, float hi,
           enum crt_palette pal)
{
    for (int py = 0; py < h && y + py / 2 <= ymax; py += 2) {
        for (int px = 0; px < w; px++) {
            int top = ui_level(v[py * w + px], lo, hi, crt_levels());
            int bot = py + 1 < h ? ui_level(v[(py + 1) * w + px], lo, hi, crt_levels()) : -1;
            crt_pixel(y + py / 2, x + px, pal, top, bot);
        }
    }
}

static void
plane_max(const float *v, int n, float *lo, float *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
    if (*lo > *hi)
        *lo = *hi = 0.0f;
}

static const char *
split_name(int split)
{
    switch (split) {
    case TM_SPLIT_VAL: return "val";
    case TM_SPLIT_TEST: return "test";
    default: return "train";
    }
}

/* The layer's label as the layers panel prints it, "layer N" without info. */
static void
layer_name(const struct ui *ui, const struct ui_model *m, int i, char *buf, size_t len)
{
    if (m->have_info && i >= 0 && i < m->info.nlayers)
        snprintf(buf, len, "%d %s", i, ui->utf8 ? m->info.layers[i].label
                                               : m->info.layers[i].label_ascii);
    else
        snprintf(buf, len, "layer %d", i);
}

/* The newest event, if it is a refused view: why nothing comes. */
static const struct tm_event *
refused_view(const struct ui_model *m)
{
    const struct tm_event *ev = ui_model_event(m, 0);
    if (ev != NULL && ev->type == TM_EVT_REFUSED && strncmp(ev->text, "view:", 5) == 0)
        return ev;
    return NULL;
}

/* The class list: most probable first, the label marked. */
static void
draw_probs(struct ui *ui, const struct tm_view *v, int y, int x, int w, int rows)
{
    const struct ui_glyphs *g = ui->g;
    char line[160], pct[16];
    crt_put(y, x, w, CRT_DIM, v->softmax ? "class  p" : "output  value");
    for (int i = 0; i < v->ntop && i + 1 < rows; i++) {
        int k = v->top_class[i];
        float p = v->top_prob[i];
        bool is_label = k == v->label;
        int cells = v->softmax && isfinite(p) ? (int)lroundf(p * PROB_BAR_W) : 0;
        cells = cells < 0 ? 0 : cells > PROB_BAR_W ? PROB_BAR_W : cells;
        if (v->softmax)
            snprintf(pct, sizeof pct, "%5.1f%%", (double)p * 100.0);
        else
            snprintf(pct, sizeof pct, "%7.3g", (double)p);
        int cx = x;
        snprintf(line, sizeof line, "%s%3d ", is_label ? g->cursor : " ", k);
        cx += crt_put(y + 1 + i, cx, w - (cx - x), is_label ? CRT_BOLD : CRT_NORMAL, line);
        for (int c = 0; c < PROB_BAR_W && v->softmax; c++)
            cx += crt_put(y + 1 + i, cx, w - (cx - x), CRT_HIST, c < cells ? g->bars[8] : " ");
        snprintf(line, sizeof line, " %s%s", pct, is_label ? " label" : "");
        crt_put(y + 1 + i, cx, w - (cx - x), is_label ? CRT_BOLD : CRT_NORMAL, line);
    }
}

/* A grid of planes with a caption; returns nothing, draws what fits. */
static void
draw_grid(struct ui *ui, const struct tm_view_map *planes, const bool *have, int count,
          int total, const char *what, const char *label, int y, int x, int w, int h,
          bool filters)
{
    char cap[160];
    if (h < 2 || w < 4)
        return;
    /* The shared range: weights signed around 0, maps from their lowest. */
    float lo = INFINITY, hi = -INFINITY;
    int n = 0, ph = 0, pw = 0;
    for (int i = 0; i < count; i++) {
        if (!have[i])
            continue;
        lo = planes[i].lo < lo ? planes[i].lo : lo;
        hi = planes[i].hi > hi ? planes[i].hi : hi;
        ph = planes[i].h > ph ? planes[i].h : ph;
        pw = planes[i].w > pw ? planes[i].w : pw;
        n++;
    }
    if (n == 0 || ph == 0 || pw == 0) {
        snprintf(cap, sizeof cap, "%s: waiting%s", what, ui->g->ellipsis);
        crt_put(y, x, w, CRT_DIM, cap);
        return;
    }
    if (filters) {
        float a = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        lo = -a;
        hi = a;
    }
    /*
     * Maps shrink by f: the least shrinking that shows them all, else the
     * one that shows the most (never below 4 pixels a side).  Filters
     * are drawn as they are.
     */
    int f = 1, best = -1;
    for (int t = 1; t <= (filters ? 1 : ph / 4 > 1 ? ph / 4 : 1); t++) {
        int th = (ph + t - 1) / t, tw = (pw + t - 1) / t;
        /* The last column and row of planes need no gap after them. */
        int tfit = ((w + 1) / (tw + 1)) * (h / ((th + 1) / 2 + 1));
        if (tfit > best) {
            best = tfit;
            f = t;
        }
        if (tfit >= n)
            break;
    }
    int sh = (ph + f - 1) / f, sw = (pw + f - 1) / f;
    int cell_h = (sh + 1) / 2 + 1, cell_w = sw + 1;
    int per_row = (w + 1) / cell_w, nrows = h / cell_h;
    if (per_row < 1 || nrows < 1) {
        snprintf(cap, sizeof cap, "%s: no room", what);
        crt_put(y, x, w, CRT_DIM, cap);
        return;
    }
    int fit = per_row * nrows;
    int shown = n < fit ? n : fit;
    char range[64], a[16], b[16];
    snprintf(range, sizeof range, "%s..%s", ui_fmt_short(a, sizeof a, lo, 6),
             ui_fmt_short(b, sizeof b, hi, 6));
    /* Counts and range first: a long layer label is what gets cut. */
    if (shown < total)
        snprintf(cap, sizeof cap, "%s %d of %d %s %s", what, shown, total, range, label);
    else
        snprintf(cap, sizeof cap, "%s %d %s %s", what, total, range, label);
    crt_put(y, x, w, CRT_TITLE, cap);
    float buf[TM_VIEW_MAX_PIX];
    int k = 0;
    for (int i = 0; i < count && k < shown; i++) {
        if (!have[i])
            continue;
        int oh, ow;
        shrink(buf, &oh, &ow, planes[i].v, planes[i].h, planes[i].w, f);
        int gy = y + 1 + (k / per_row) * cell_h, gx = x + (k % per_row) * cell_w;
        draw_plane(gy, gx, y + h - 1, buf, oh, ow, lo, hi,
                   filters ? CRT_PAL_SIGNED : CRT_PAL_GREY);
        k++;
    }
}

static void
view_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    const struct ui_glyphs *g = ui->g;
    const struct tm_view *v = &m->view;
    char title[200], line[256], a[16];
    if (m->have_view)
        snprintf(title, sizeof title,
                 "view %s sample %ld/%ld (%s) %s step %ld  [ ] sample  m miss  v close",
                 g->dot, v->sample, v->nsamples, split_name(v->split), g->dot, v->step);
    else
        snprintf(title, sizeof title, "view  [ ] sample  m miss  v close");
    crt_clear_rect(r);
    crt_box(r, title);
    int x0 = r->x + 1, y0 = r->y + 1, w = r->w - 2, h = r->h - 2, ymax = r->y + r->h - 2;
    if (w < 10 || h < 3)
        return;
    const struct tm_event *refused = refused_view(m);
    bool waiting = ui->live->views <= ui->view_asked_views;
    if (!m->have_view) {
        if (refused != NULL)
            crt_put(y0, x0, w, CRT_WARN, refused->text);
        else
            crt_put(y0, x0, w, CRT_DIM, "asking the trainer for a sample...");
        return;
    }

    /* Line 1: what the sample is and what the model makes of it. */
    bool right = v->predicted == v->label;
    int cx = x0;
    snprintf(line, sizeof line, "label %d  predicted %d ", v->label, v->predicted);
    cx += crt_put(y0, cx, w, CRT_BOLD, line);
    if (right)
        cx += crt_put(y0, cx, w - (cx - x0), CRT_OK, g->ok);
    else
        cx += crt_put(y0, cx, w - (cx - x0), CRT_ERROR, "misclassified");
    snprintf(line, sizeof line, "  loss %s", ui_fmt_short(a, sizeof a, v->loss, 7));
    cx += crt_put(y0, cx, w - (cx - x0), CRT_NORMAL, line);
    if (v->searched && !v->found)
        cx += crt_put(y0, cx, w - (cx - x0), CRT_WARN, "  no misclassified sample in the split");
    if (waiting && ui->view_open)
        crt_put(y0, cx, w - (cx - x0), CRT_DIM, ui->g->ellipsis);

    /* The input and its saliency side by side, the classes beside them. */
    int pic_y = y0 + 2, pic_rows = (v->ph + 1) / 2;
    float lo, hi;
    plane_max(v->image, v->ph * v->pw, &lo, &hi);
    if (v->scale > 1)
        snprintf(line, sizeof line, "input %dx%dx%d /%d", v->c, v->h, v->w, v->scale);
    else
        snprintf(line, sizeof line, "input %dx%dx%d", v->c, v->h, v->w);
    crt_put(y0 + 1, x0, v->pw + 1, CRT_TITLE, line);
    draw_plane(pic_y, x0, ymax, v->image, v->ph, v->pw, lo, hi, CRT_PAL_GREY);
    int sx = x0 + v->pw + 2;
    plane_max(v->saliency, v->ph * v->pw, &lo, &hi);
    snprintf(line, sizeof line, "saliency max %s", ui_fmt_short(a, sizeof a, hi, 7));
    crt_put(y0 + 1, sx, v->pw + 1, CRT_TITLE, line);
    draw_plane(pic_y, sx, ymax, v->saliency, v->ph, v->pw, 0.0f, hi, CRT_PAL_HEAT);
    int px = sx + v->pw + 2;
    if (px < x0 + w)
        draw_probs(ui, v, y0 + 1, px, x0 + w - px, pic_rows + 1 > v->ntop + 1 ? pic_rows + 1
                                                                          : v->ntop + 1);

    /* Below: the first layer's filters, then the chosen layer's maps. */
    int by = pic_y + pic_rows + 1;
    int bh = ymax - by + 1;
    if (bh < 2)
        return;
    char lname[TM_LABEL_MAX + 16];
    int fw = 0;
    if (v->filter_layer >= 0) {
        layer_name(ui, m, v->filter_layer, lname, sizeof lname);
        int fk = 0;
        for (int i = 0; i < TM_VIEW_MAX_MAPS; i++)
            fk = m->filter_have[i] && m->filters[i].w > fk ? m->filters[i].w : fk;
        /* As wide as its filters need, at most half the panel. */
        int n = v->nfilters < TM_VIEW_MAX_MAPS ? v->nfilters : TM_VIEW_MAX_MAPS;
        int rows = bh / ((fk + 1) / 2 + 1);
        rows = rows < 1 ? 1 : rows;
        fw = ((n + rows - 1) / rows) * (fk + 1);
        int title_w = 40;       /* "filters 12 of 32 -0.41..0.41 0 conv 1→32" */
        fw = fw < title_w ? title_w : fw;
        fw = v->map_layer >= 0 && fw > w / 2 ? w / 2 : fw > w ? w : fw;
        draw_grid(ui, m->filters, m->filter_have, TM_VIEW_MAX_MAPS, v->nfilters, "filters",
                  lname, by, x0, fw - 1, bh, true);
    }
    if (v->map_layer >= 0) {
        layer_name(ui, m, v->map_layer, lname, sizeof lname);
        int mx = x0 + (fw > 0 ? fw + 1 : 0);
        draw_grid(ui, m->maps, m->map_have, TM_VIEW_MAX_MAPS, v->nmaps, "maps", lname, by, mx,
                  x0 + w - mx, bh, false);
    } else if (v->filter_layer < 0) {
        crt_put(by, x0, w, CRT_DIM, "no conv layer: no filters or activation maps to show");
    }
}

static int
view_key(struct ui *ui, int key)
{
    const struct ui_model *m = ui->live;
    long cur = m->have_view ? m->view.sample : ui->view_sample;
    switch (key) {
    case 'v':
        if (!ui->view_open) {
            ui_view_open(ui);
            return UI_HANDLED | UI_REDRAW;
        }
        /* fall through */
    case UI_KEY_ESC:
        if (!ui->view_open)
            return 0;
        ui->view_open = false;
        return UI_HANDLED | UI_REDRAW;
    case '[':
        if (!ui->view_open)
            return 0;
        view_request(ui, cur - 1, 0);
        return UI_HANDLED | UI_REDRAW;
    case ']':
        if (!ui->view_open)
            return 0;
        view_request(ui, cur + 1, 0);
        return UI_HANDLED | UI_REDRAW;
    case 'm':
        if (!ui->view_open) {
            ui->view_open = true;
            view_request(ui, cur, 1);
            return UI_HANDLED | UI_REDRAW;
        }
        view_request(ui, cur + 1, 1);
        return UI_HANDLED | UI_REDRAW;
    default:
        return 0;
    }
}

static void
view_resize(struct ui *ui, const struct ui_rect *r)
{
}

static const char *
view_help(void)
{
    return "v: a validation sample, its saliency |dloss/dx|, the first conv layer's filters "
           "and the selected layer's activation maps";
}

const struct panel_class panel_view_class = {
    .name = "view",
    .draw = view_draw,
    .key = view_key,
    .resize = view_resize,
    .help = view_help,
};
