/*
 * panel-loss.c - the loss panel: training loss per step and validation
 * loss per evaluation as curves (braille dots, or ASCII), y labels, a
 * linear/log toggle (l), whole run or the last UI_WINDOW_STEPS steps (w),
 * and the step-1 loss beside the loss expected at initialisation.
 *
 * It reads the UI's model only; the history it plots is the model's
 * bounded, downsampled series, so it never has to forget the start.
 */
#include "config.h"

#include "panel.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "crt.h"

#define LABEL_W 6               /* y labels */

/* Steps covered by s: first and last; false when empty. */
static bool
series_span(const struct ui_series *s, long *first, long *last)
{
    int n = ui_series_count(s);
    if (n == 0)
        return false;
    *first = ui_series_at(s, 0).x0;
    *last = ui_series_at(s, n - 1).x1;
    return true;
}

/* y label for scaled value t. */
static const char *
ylabel(char *buf, size_t len, double t, bool logy)
{
    return ui_fmt_short(buf, len, logy ? pow(10.0, t) : t, LABEL_W);
}

/*
 * Draw canvas rows: validation cells over L2 cells over training cells,
 * in runs.  Training is a braille (or ASCII) line; validation and the L2
 * term are point markers (g->val, g->reg), so every series reads apart
 * without colour too.
 */
static void
draw_canvas(struct ui *ui, int y0, int x0)
{
    const struct ui_canvas *ct = &ui->canvas_train, *cv = &ui->canvas_val, *cr = &ui->canvas_reg;
    const struct ui_glyphs *g = ui->g;
    char run[2048];
    for (int row = 0; row < ct->h; row++) {
        int col = 0;
        while (col < ct->w) {
            int start = col;
            size_t o = 0;
            enum crt_elem e = CRT_TRAIN;
            while (col < ct->w) {
                char gt[8], gv[8], gr[8];
                ui_canvas_glyph(cv, col, row, gv);
                ui_canvas_glyph(cr, col, row, gr);
                ui_canvas_glyph(ct, col, row, gt);
                enum crt_elem ce = gv[0] != '\0' ? CRT_VAL : gr[0] != '\0' ? CRT_REG : CRT_TRAIN;
                if (col == start)
                    e = ce;
                if (ce != e || o + 8 >= sizeof run)
                    break;
                const char *s = gv[0] != '\0' ? g->val : gr[0] != '\0' ? g->reg
                                : gt[0] != '\0' ? gt : " ";
                size_t n = strlen(s);
                memcpy(run + o, s, n);
                o += n;
                col++;
            }
            run[o] = '\0';
            crt_put(y0 + row, x0 + start, col - start, e, run);
        }
    }
}

/* An accuracy rounded down: "100%" only when every sample is right. */
static const char *
acc_pct(char *buf, size_t len, double frac)
{
    if (!(frac >= 0.0))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.0f%%", floor(frac * 100.0));
    return buf;
}

/*
 * The legend on the top border, right-aligned, when it fits; returns the
 * column it starts at (the right corner's when it did not fit).
 */
static int
draw_legend(struct ui *ui, const struct ui_rect *r, int title_w, bool reg, bool acc)
{
    const struct ui_glyphs *g = ui->g;
    struct {
        const char *mark, *name;
        enum crt_elem e;
    } items[3] = {
        {g->train, acc ? " batch " : " train ", CRT_TRAIN},
        {g->val, " val ", CRT_VAL},
        {g->reg, " L2 ", CRT_REG},
    };
    int n = reg ? 3 : 2;
    int lw = 1;
    for (int i = 0; i < n; i++)
        lw += ui_text_width(items[i].mark, ui->utf8) + ui_text_width(items[i].name, ui->utf8);
    if (r->w - title_w - lw - 2 <= 0)
        return r->x + r->w - 1;
    int x0 = r->x + r->w - lw - 2, x = x0;
    x += crt_put(r->y, x, 1, CRT_NORMAL, " ");
    for (int i = 0; i < n; i++) {
        x += crt_put(r->y, x, lw, items[i].e, items[i].mark);
        x += crt_put(r->y, x, lw, CRT_NORMAL, items[i].name);
    }
    return x0;
}

/*
 * The curves' mark on the top border, between the title and the legend:
 * the worst warning or error raised about the run as a whole
 * (divergence, plateau, oscillation, ...), with its rules.
 */
static void
draw_run_mark(struct ui *ui, const struct ui_rect *r, int title_w, int legend_x)
{
    const struct ui_model *m = ui_view(ui);
    int run_sev = ui_model_mark(m, -1, NULL);
    int mark_x = r->x + title_w, mark_w = legend_x - 1 - mark_x;
    if (run_sev < UI_MARK_MIN || mark_w < 3)
        return;
    /* The glyph, then the rules' ids as long as whole ones fit. */
    char marks[160];
    int o = snprintf(marks, sizeof marks, " %s", ui_severity_glyph(ui->g, run_sev));
    for (int i = 0; i < m->nactive; i++) {
        const struct tm_finding *f = &m->active[i];
        if (f->layer >= 0 || f->severity < UI_MARK_MIN)
            continue;
        if (ui_text_width(marks, ui->utf8) + 1 + (int)strlen(f->rule) + 1 > mark_w ||
            o + (int)strlen(f->rule) + 3 >= (int)sizeof marks)
            break;
        o += snprintf(marks + o, sizeof marks - (size_t)o, " %s", f->rule);
    }
    snprintf(marks + o, sizeof marks - (size_t)o, " ");
    crt_put(r->y, mark_x, mark_w, crt_severity_elem(run_sev), marks);
}

/*
 * The steps the x axis covers: both series' span, or its last
 * UI_WINDOW_STEPS steps when recent; false when neither has a point.
 */
static bool
x_range(const struct ui_series *st, const struct ui_series *sv, bool recent,
        long *xlo, long *xhi)
{
    long tf, tl, vf, vl;
    bool have_t = series_span(st, &tf, &tl);
    bool have_v = series_span(sv, &vf, &vl);
    if (!have_t && !have_v)
        return false;
    long first = have_t ? tf : vf, last = have_t ? tl : vl;
    if (have_v) {
        first = vf < first ? vf : first;
        last = vl > last ? vl : last;
    }
    *xlo = first;
    *xhi = last;
    if (recent) {
        *xlo = last - UI_WINDOW_STEPS + 1;
        *xlo = *xlo < first ? first : *xlo;
    }
    return true;
}

/*
 * The y range lo..hi made ready to plot: a flat range padded to a
 * height; false, with a dim note on row y of the plot, when no series
 * had a point to draw (any false).
 */
static bool
y_range_ready(struct ui *ui, bool any, double *lo, double *hi, int y, int ix, int iw)
{
    if (!any) {
        crt_put(y, ix + 2, iw - 4, CRT_DIM,
                ui->log_scale ? "no positive loss to draw on a log scale" : "no finite loss yet");
        return false;
    }
    if (*hi - *lo < 1e-12) {
        double pad = fabs(*hi) > 1e-12 ? fabs(*hi) * 0.05 : 0.5;
        *lo -= pad;
        *hi += pad;
    }
    return true;
}

/*
 * The plot area (ph rows, pw columns at iy, px) and its y labels (at ix):
 * training, validation and, when sr is not NULL, L2 scaled together over
 * steps xlo..xhi; a dim note instead when nothing finite can be drawn.
 */
static void
draw_curves(struct ui *ui, const struct ui_series *st, const struct ui_series *sv,
            const struct ui_series *sr, long xlo, long xhi,
            int iy, int ix, int iw, int ph, int pw, int px)
{
    char a[32];
    double lo = INFINITY, hi = -INFINITY;
    int dots = pw * (ui->utf8 ? 2 : 1);
    bool recent = ui->window;
    bool logy = ui->log_scale && !ui->show_acc;
    bool any = ui_series_yrange(st, recent, xlo, xhi, logy, dots, &lo, &hi);
    any |= ui_series_yrange(sv, false, xlo, xhi, logy, dots, &lo, &hi);
    if (sr != NULL)
        any |= ui_series_yrange(sr, recent, xlo, xhi, logy, dots, &lo, &hi);
    if (!y_range_ready(ui, any, &lo, &hi, iy + ph / 2, ix, iw))
        return;
    ui_canvas_init(&ui->canvas_train, pw, ph, ui->utf8);
    ui_canvas_init(&ui->canvas_val, pw, ph, ui->utf8);
    ui_canvas_init(&ui->canvas_reg, pw, ph, ui->utf8);
    ui_plot_series(&ui->canvas_train, st, recent, xlo, xhi, lo, hi, logy);
    ui_plot_series(&ui->canvas_val, sv, false, xlo, xhi, lo, hi, logy);
    if (sr != NULL)
        ui_plot_series(&ui->canvas_reg, sr, recent, xlo, xhi, lo, hi, logy);
    draw_canvas(ui, iy, px);
    crt_put(iy, ix, LABEL_W, CRT_DIM, ylabel(a, sizeof a, hi, logy));
    crt_put(iy + ph - 1, ix, LABEL_W, CRT_DIM, ylabel(a, sizeof a, lo, logy));
    if (ph >= 5)
        crt_put(iy + (ph - 1) / 2, ix, LABEL_W, CRT_DIM,
                ylabel(a, sizeof a, lo + (hi - lo) * (1.0 - (double)((ph - 1) / 2) / (ph - 1)),
                       logy));
}

/* What a level of the latest-values line shows (latest_line). */
enum { SHOW_LOSS = 1, SHOW_ACC = 2, SHOW_VAL_LOSS = 4, SHOW_VAL_ACC = 8 };

/*
 * The latest values at level lv (0 the widest) into line: batch,
 * validation and test accuracy in accuracy view, else the losses and
 * accuracies that level shows.
 */
static void
latest_line(const struct ui *ui, size_t lv, int show, char *line, size_t len)
{
    const struct ui_model *m = ui_view(ui);
    char v[16], acc[16];
    line[0] = '\0';
    if (ui->show_acc) {
        /* Batch, validation and (once evaluated) test accuracy. */
        if (m->have_step)
            snprintf(line, len, "batch %s", acc_pct(v, sizeof v, m->step.accuracy));
        if (m->have_val && lv <= 1)
            snprintf(line + strlen(line), len - strlen(line), "  val %s",
                     acc_pct(v, sizeof v, m->last_val.accuracy));
        if (m->have_test && lv == 0)
            snprintf(line + strlen(line), len - strlen(line), "  test %s",
                     acc_pct(v, sizeof v, m->last_test.accuracy));
        return;
    }
    if (m->have_step) {
        snprintf(line, len, "train");
        if (show & SHOW_LOSS)
            snprintf(line + strlen(line), len - strlen(line), " %s",
                     ui_fmt_short(v, sizeof v, m->step.loss, 5));
        if (show & SHOW_ACC)
            snprintf(line + strlen(line), len - strlen(line),
                     show & SHOW_LOSS ? " (%s)" : " %s",
                     acc_pct(acc, sizeof acc, m->step.accuracy));
    }
    bool val_acc = (show & SHOW_VAL_ACC) && m->last_val.accuracy >= 0.0f;
    if (m->have_val && (show & SHOW_VAL_LOSS || val_acc)) {
        size_t o = strlen(line);
        snprintf(line + o, len - o, "%sval", o > 0 ? "  " : "");
        if (show & SHOW_VAL_LOSS)
            snprintf(line + strlen(line), len - strlen(line), " %s",
                     ui_fmt_short(v, sizeof v, m->last_val.loss, 5));
        if (val_acc)
            snprintf(line + strlen(line), len - strlen(line),
                     show & SHOW_VAL_LOSS ? " (%s)" : " %s",
                     acc_pct(acc, sizeof acc, m->last_val.accuracy));
    }
    if (m->have_test && lv == 0)
        snprintf(line + strlen(line), len - strlen(line), "  test %s",
                 acc_pct(acc, sizeof acc, m->last_test.accuracy));
}

/* x axis at row ay: first and last step, and the latest values between them. */
static void
draw_x_axis(struct ui *ui, int ay, int px, int pw, long xlo, long xhi)
{
    char a[32], b[32], line[256];
    snprintf(a, sizeof a, "%ld", xlo);
    crt_put(ay, px, pw, CRT_DIM, a);
    snprintf(b, sizeof b, "%ld", xhi);
    int bw = (int)strlen(b);
    crt_put(ay, px + pw - bw, bw, CRT_DIM, b);
    /* The latest values, as much as fits between the step labels. */
    int room = pw - (int)strlen(a) - bw - 4;
    /*
     * Training (batch) accuracy beside validation accuracy: in overfit
     * mode the batch is the tiny set, so "100%" is read here.  From the
     * most to the least that fits: losses and accuracies, the training
     * loss and both accuracies, accuracies alone (the curve shows the
     * losses), the losses alone, the training loss.
     */
    static const int levels[] = {
        SHOW_LOSS | SHOW_ACC | SHOW_VAL_LOSS | SHOW_VAL_ACC,
        SHOW_LOSS | SHOW_ACC | SHOW_VAL_ACC,
        SHOW_ACC | SHOW_VAL_ACC,
        SHOW_LOSS | SHOW_VAL_LOSS,
        SHOW_LOSS,
    };
    for (size_t lv = 0; lv < sizeof levels / sizeof levels[0]; lv++) {
        latest_line(ui, lv, levels[lv], line, sizeof line);
        int w = ui_text_width(line, ui->utf8);
        if (w > 0 && w <= room) {
            crt_put(ay, px + (int)strlen(a) + 2 + (room - w) / 2, w, CRT_NORMAL, line);
            break;
        }
    }
}

/*
 * The bottom row (y, from x, iw wide): the initial loss against its
 * expectation, marked with the doctor's verdict, and the L2 term.
 */
static void
draw_initial(struct ui *ui, int y, int x, int iw)
{
    const struct ui_model *m = ui_view(ui);
    const struct ui_glyphs *g = ui->g;
    int ix = x;
    char a[32], line[256];
    if (!m->have_initial) {
        crt_put(y, x, iw, CRT_DIM, "initial loss: waiting for step 1");
        return;
    }
    /* The verdict is the doctor's initial-loss finding: none shown until it comes. */
    int verdict = m->initial_verdict;
    bool have_exp = m->have_info && m->info.expected_loss > 0.0;
    for (int wide = 1; wide >= 0; wide--) {
        if (have_exp)
            snprintf(line, sizeof line,
                     wide ? "initial %.4f  expected %.4f " : "init %.4f exp %.4f ",
                     m->initial_loss, m->info.expected_loss);
        else
            snprintf(line, sizeof line, wide ? "initial %.4f" : "init %.4f", m->initial_loss);
        int need = ui_text_width(line, ui->utf8) + (have_exp ? ui_text_width(g->ok, ui->utf8) : 0);
        if (need <= iw || !wide)
            break;
    }
    x += crt_put(y, x, iw, CRT_NORMAL, line);
    if (have_exp && verdict >= 0)
        x += crt_put(y, x, ix + iw - x, crt_severity_elem(verdict),
                     ui_severity_glyph(g, verdict));
    if (m->have_step && m->step.reg_loss > 0.0f) {
        snprintf(line, sizeof line, "  L2 %s", ui_fmt_short(a, sizeof a, m->step.reg_loss, 7));
        if (ui_text_width(line, ui->utf8) <= ix + iw - x)
            crt_put(y, x, ix + iw - x, CRT_DIM, line);
    }
}

/* ---- several runs compared (--replay RUN_A RUN_B ...) ------------------ */

#define MARK_EVERY 8            /* cells between a run's letter marks */

/* Each run's colour; its letter tells it apart without one. */
static const enum crt_elem run_elem[UI_MAX_RUNS] = {CRT_TRAIN, CRT_VAL, CRT_REG, CRT_HIST};

/* The series the overlay plots of run k: training loss, or batch accuracy (a). */
static const struct ui_series *
run_series(const struct ui *ui, int k)
{
    const struct ui_model *m = k == ui->sel_run ? ui_view(ui) : ui->runs[k];
    return ui->show_acc ? &m->train_acc : &m->train;
}

/* The top row of column col that run k's curve reaches, -1 when it has none there. */
static int
run_top_row(const struct ui *ui, int k, int col)
{
    char gl[8];
    for (int row = 0; row < ui->canvas_run[k].h; row++)
        if (ui_canvas_glyph(&ui->canvas_run[k], col, row, gl)[0] != '\0')
            return row;
    return -1;
}

/*
 * What cell (col, row) shows: the run whose letter mark sits there (its
 * curve's top in every MARK_EVERY-th column, the runs' columns staggered),
 * else the first run with a dot there, the selected run before the others.
 * Returns the run or -1; *mark says whether it is a letter.
 */
static int
run_at(const struct ui *ui, int col, int row, bool *mark, char gl[8])
{
    *mark = false;
    for (int k = 0; k < ui->nruns; k++) {
        int phase = MARK_EVERY / 2 + k * MARK_EVERY / ui->nruns;
        if (col % MARK_EVERY == phase % MARK_EVERY && run_top_row(ui, k, col) == row) {
            *mark = true;
            gl[0] = UI_RUN_LETTER(k);
            gl[1] = '\0';
            return k;
        }
    }
    if (ui_canvas_glyph(&ui->canvas_run[ui->sel_run], col, row, gl)[0] != '\0')
        return ui->sel_run;
    for (int k = 0; k < ui->nruns; k++)
        if (ui_canvas_glyph(&ui->canvas_run[k], col, row, gl)[0] != '\0')
            return k;
    return -1;
}

static void
draw_runs_canvas(struct ui *ui, int y0, int x0)
{
    const struct ui_canvas *c0 = &ui->canvas_run[0];
    char run[2048];
    for (int row = 0; row < c0->h; row++) {
        int col = 0;
        while (col < c0->w) {
            int start = col, who = -2;
            bool who_mark = false;
            size_t o = 0;
            while (col < c0->w) {
                char gl[8];
                bool mark;
                int k = run_at(ui, col, row, &mark, gl);
                if (who == -2)
                    who = k, who_mark = mark;
                if (k != who || mark != who_mark || o + 8 >= sizeof run)
                    break;
                const char *t = k < 0 ? " " : gl;
                size_t n = strlen(t);
                memcpy(run + o, t, n);
                o += n;
                col++;
            }
            run[o] = '\0';
            enum crt_elem e = who < 0 ? CRT_NORMAL : who_mark ? CRT_BOLD : run_elem[who];
            crt_put(y0 + row, x0 + start, col - start, e, run);
        }
    }
}

/* The name the legend gives run k: its config name, or its directory's when two share one. */
static void
run_name(const struct ui *ui, int k, char *buf, size_t len)
{
    const struct ui_model *m = ui->runs[k];
    const char *name = m->have_info ? m->info.name : "";
    bool shared = name[0] == '\0';
    for (int j = 0; j < ui->nruns && !shared; j++)
        shared = j != k && ui->runs[j]->have_info && strcmp(ui->runs[j]->info.name, name) == 0;
    if (shared && m->have_info && m->info.run_dir[0] != '\0') {
        const char *d = m->info.run_dir;
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
            n--;
        size_t b = n;
        while (b > 0 && d[b - 1] != '/')
            b--;
        snprintf(buf, len, "%.*s", (int)(n - b), d + b);
    } else {
        snprintf(buf, len, "%s", name[0] != '\0' ? name : "?");
    }
    char clean[TM_NAME_MAX * 4];
    ui_text_clean(clean, sizeof clean, buf, ui->utf8);
    snprintf(buf, len, "%s", clean);
}

/*
 * The legend line: each run's letter (bold, in its colour), its name and
 * its latest value, every run given an equal share of the width.
 */
static void
draw_runs_legend(struct ui *ui, int y, int x, int w)
{
    int share = w / ui->nruns;
    for (int k = 0; k < ui->nruns; k++) {
        const struct ui_model *m = ui->runs[k];
        char name[TM_NAME_MAX * 4], v[16], tail[32] = "";
        run_name(ui, k, name, sizeof name);
        if (m->have_step)
            snprintf(tail, sizeof tail, " %s", ui->show_acc
                     ? acc_pct(v, sizeof v, m->step.accuracy)
                     : ui_fmt_short(v, sizeof v, m->step.loss, 5));
        int cx = x + k * share;
        char letter[2] = {UI_RUN_LETTER(k), '\0'};
        cx += crt_put(y, cx, 1, k == ui->sel_run ? CRT_SELECTED : CRT_BOLD, letter);
        /* letter, space, name, tail, and a space before the next run; the
         * name comes first: the value goes when both do not fit */
        if (ui_text_width(name, ui->utf8) + ui_text_width(tail, ui->utf8) + 3 > share)
            tail[0] = '\0';
        int room = share - 3 - ui_text_width(tail, ui->utf8);
        if (room < 1)
            continue;
        name[ui_text_fit(name, room, ui->utf8, NULL)] = '\0';
        cx += crt_put(y, cx, 1, CRT_NORMAL, " ");
        cx += crt_put(y, cx, room, run_elem[k], name);
        crt_put(y, cx, share, CRT_NORMAL, tail);
    }
}

/* The loss panel with several runs: every run's training curve, lettered. */
static void
loss_draw_runs(struct ui *ui, const struct ui_rect *r)
{
    char title[96], a[32], b[32];
    snprintf(title, sizeof title, "%s%s%s %s %d runs", ui->show_acc ? "batch accuracy" : "loss",
             ui->log_scale && !ui->show_acc ? " (log)" : "", ui->window ? " last 500" : "",
             ui->g->dot, ui->nruns);
    crt_box(r, title);
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    if (ih < 4 || iw < LABEL_W + 6)
        return;
    int ph = ih - 2, pw = iw - LABEL_W - 1, px = ix + LABEL_W + 1;
    draw_runs_legend(ui, iy + ih - 1, ix, iw);

    long first = 0, last = 0;
    bool have = false;
    for (int k = 0; k < ui->nruns; k++) {
        long f, l;
        if (!series_span(run_series(ui, k), &f, &l))
            continue;
        first = have && first < f ? first : f;
        last = have && last > l ? last : l;
        have = true;
    }
    if (!have) {
        crt_put(iy + ph / 2, ix + 2, iw - 4, CRT_DIM, "waiting for the first step");
        return;
    }
    long xlo = first, xhi = last;
    bool recent = ui->window;
    if (recent) {
        xlo = last - UI_WINDOW_STEPS + 1;
        xlo = xlo < first ? first : xlo;
    }
    double lo = INFINITY, hi = -INFINITY;
    int dots = pw * (ui->utf8 ? 2 : 1);
    bool logy = ui->log_scale && !ui->show_acc, any = false;
    for (int k = 0; k < ui->nruns; k++)
        any |= ui_series_yrange(run_series(ui, k), recent, xlo, xhi, logy, dots, &lo, &hi);
    if (!y_range_ready(ui, any, &lo, &hi, iy + ph / 2, ix, iw))
        return;
    for (int k = 0; k < ui->nruns; k++) {
        ui_canvas_init(&ui->canvas_run[k], pw, ph, ui->utf8);
        ui_plot_series(&ui->canvas_run[k], run_series(ui, k), recent, xlo, xhi, lo, hi, logy);
    }
    draw_runs_canvas(ui, iy, px);
    crt_put(iy, ix, LABEL_W, CRT_DIM, ylabel(a, sizeof a, hi, logy));
    crt_put(iy + ph - 1, ix, LABEL_W, CRT_DIM, ylabel(a, sizeof a, lo, logy));
    int ay = iy + ph;
    snprintf(a, sizeof a, "%ld", xlo);
    crt_put(ay, px, pw, CRT_DIM, a);
    snprintf(b, sizeof b, "%ld", xhi);
    int bw = (int)strlen(b);
    crt_put(ay, px + pw - bw, bw, CRT_DIM, b);
}

static void
loss_draw(struct ui *ui, const struct ui_rect *r)
{
    if (ui->nruns > 1) {
        loss_draw_runs(ui, r);
        return;
    }
    const struct ui_model *m = ui_view(ui);
    char title[96];

    snprintf(title, sizeof title, "%s%s%s", ui->show_acc ? "accuracy" : "loss",
             ui->log_scale && !ui->show_acc ? " (log)" : "",
             ui->window ? " last 500" : "");
    crt_box(r, title);
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    if (ih < 4 || iw < LABEL_W + 6)
        return;
    const struct ui_series *st = ui->show_acc ? &m->train_acc : &m->train;
    const struct ui_series *sv = ui->show_acc ? &m->val_acc : &m->val;
    const struct ui_series *sr = !ui->show_acc && m->reg.total > 0 ? &m->reg : NULL;
    int title_w = ui_text_width(title, ui->utf8) + 4;
    int legend_x = draw_legend(ui, r, title_w, sr != NULL, ui->show_acc);
    draw_run_mark(ui, r, title_w, legend_x);

    int ph = ih - 2, pw = iw - LABEL_W - 1;
    int px = ix + LABEL_W + 1;
    long xlo, xhi;
    if (!x_range(st, sv, ui->window, &xlo, &xhi)) {
        crt_put(iy + ph / 2, ix + 2, iw - 4, CRT_DIM, "waiting for the first step");
        return;
    }
    draw_curves(ui, st, sv, sr, xlo, xhi, iy, ix, iw, ph, pw, px);
    draw_x_axis(ui, iy + ph, px, pw, xlo, xhi);
    draw_initial(ui, iy + ih - 1, ix, iw);
}

static int
loss_key(struct ui *ui, int key)
{
    if (key == 'a')
        ui->show_acc = !ui->show_acc;
    else if (key == 'l')
        ui->log_scale = !ui->log_scale;
    else if (key == 'w')
        ui->window = !ui->window;
    else
        return 0;
    return UI_HANDLED | UI_REDRAW;
}

static void
loss_resize(struct ui *ui, const struct ui_rect *r)
{
    /* The canvases are sized at each draw; nothing to keep. */
}

static const char *
loss_help(void)
{
    return "training loss per step (a line), validation loss per evaluation (•) and the L2 "
           "term (·); a: batch and validation accuracy; initial loss against the expected one, "
           "marked with the doctor's initial-loss verdict; the title marks warnings and errors "
           "raised about the run; comparing runs (--replay RUN_A RUN_B ...), every run's "
           "training loss, each marked with its letter and named in the legend below";
}

const struct panel_class panel_loss_class = {
    .name = "loss",
    .draw = loss_draw,
    .key = loss_key,
    .resize = loss_resize,
    .help = loss_help,
};
