/*
 * screen.c - the dashboard's loop and the parts of the screen that are
 * not panels: header, message/prompt line, function-key bar, the help
 * and gradient-check overlays and the "too small" notice.
 *
 * The loop drains the feed a bounded number of records per frame, folds
 * them into the UI's model, redraws at most FRAME_HZ times a second and
 * only when something changed, and sleeps in getch otherwise (the feed
 * has no wake-up, so IDLE_MS bounds the latency of new data).  Keys are
 * handled as they come and redrawn at once; for a moment after a key the
 * loop polls faster and draws the producer's reply (a state change or an
 * event) as soon as it comes.  It never touches the producer except
 * through feed->send.
 */
#include "config.h"

#include "nntop/ui.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crt.h"
#include "nntop/mono.h"
#include "nntop/xmem.h"
#include "panel.h"
#include "ui-int.h"

#define FRAME_HZ 15             /* redraws a second at most */
#define URGENT_HZ 60            /* ... but a reply to a command shows this soon */
#define IDLE_MS 50              /* longest sleep waiting for a key */
#define EAGER_MS 5              /* sleep while a reply to a key is expected */
#define EAGER_S 0.3             /* how long one is expected after the key */
#define DRAIN_MAX 20000         /* records folded per frame; the ring keeps the rest */
#define MSG_S 6.0               /* how long a message stays */
#define NAME_MAX_W 24           /* run name in the header */

static volatile sig_atomic_t ui_signal;

static void
on_signal(int sig)
{
    ui_signal = sig;
}

/* Install sa for sig unless sig is ignored; *old gets the action in place. */
static void
catch_unless_ignored(int sig, const struct sigaction *sa, struct sigaction *old)
{
    if (sigaction(sig, NULL, old) == 0 && old->sa_handler == SIG_IGN)
        return;
    sigaction(sig, sa, old);
}

static const struct panel_class *
area_panel(const struct ui *ui, int area)
{
    if (ui->layout.area[area].w == 0 || ui->layout.area[area].h == 0)
        return NULL;
    switch (area) {
    case UI_AREA_LOSS: return &panel_loss_class;
    case UI_AREA_LAYERS: return &panel_layers_class;
    case UI_AREA_HIST: return ui->show_strip ? &panel_ratio_class : &panel_hist_class;
    case UI_AREA_FINDINGS: return &panel_findings_class;
    case UI_AREA_RATIO: return &panel_ratio_class;
    case UI_AREA_MULTI: return &panel_multi_class;
    default: return NULL;
    }
}

const struct ui_model *
ui_view(const struct ui *ui)
{
    return ui->frozen ? ui->still : ui->live;
}

void
ui_message(struct ui *ui, int kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->msg, sizeof ui->msg, fmt, ap);
    va_end(ap);
    ui->msg_kind = kind;
    ui->msg_until = (ui->now > 0.0 ? ui->now : mono_seconds()) + MSG_S;
}

const char *
ui_selected_rule(const struct ui *ui, bool remedy, char *buf, size_t len)
{
    if (ui->find_sel <= 0)
        return NULL;
    const char *rule = ui_finding_rule(ui->live, ui->find_sel - 1, buf, len);
    if (rule == NULL || (remedy && ui_model_remedy(ui->live, rule) == NULL))
        return NULL;
    return rule;
}

int
ui_fix(struct ui *ui, const char *rule)
{
    char sel[TM_NAME_MAX];
    if (rule == NULL)
        rule = ui_selected_rule(ui, true, sel, sizeof sel);
    const struct tm_finding *f = ui_model_remedy(ui->live, rule);
    if (f == NULL) {
        if (rule != NULL)
            ui_message(ui, UI_MSG_ERROR, "fix: no raised %s finding has a remedy", rule);
        else
            ui_message(ui, UI_MSG_ERROR, "fix: no raised finding has a remedy");
        return -1;
    }
    struct tm_finding fx = *f;      /* the model may change under ui_send's replies */
    if (ui_send(ui, &fx.remedy) < 0)
        return -1;
    char where[TM_NAME_MAX + 16] = "";
    if (fx.tensor >= 0 && fx.tensor_name[0] != '\0')
        snprintf(where, sizeof where, " %s", fx.tensor_name);
    else if (fx.layer >= 0)
        snprintf(where, sizeof where, " layer %d", fx.layer);
    ui_message(ui, UI_MSG_INFO, "fix for %s%s (step %ld): %s sent", fx.rule, where,
               fx.raised_step, fx.remedy_text);
    return 0;
}

int
ui_send(struct ui *ui, const struct tm_command *cmd)
{
    char why[200] = "";
    if (ui->feed->cls->send(ui->feed->self, cmd, why, sizeof why) < 0) {
        ui_message(ui, UI_MSG_ERROR, "%s", why[0] != '\0' ? why : "command refused");
        return -1;
    }
    char what[120];
    ui_command_describe(cmd, what, sizeof what);
    ui_message(ui, UI_MSG_INFO, "sent: %s", what);
    return 0;
}

/* ---- header ---------------------------------------------------------- */

struct segment {
    char text[96];
    enum crt_elem elem;
    int prio;                   /* dropped lowest first when the line is full */
};

static int
add_segment(struct segment *s, int n, enum crt_elem e, int prio, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
add_segment(struct segment *s, int n, enum crt_elem e, int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s[n].text, sizeof s[n].text, fmt, ap);
    va_end(ap);
    s[n].elem = e;
    s[n].prio = prio;
    return n + 1;
}

/* The optimiser's segments of the header, from the trainer's state st. */
static int
add_optim_segments(struct segment *seg, int n, const struct tm_state *st)
{
    char a[32];
    n = add_segment(seg, n, CRT_NORMAL, 7, "lr %s", ui_fmt_short(a, sizeof a, st->lr, 8));
    if (st->momentum > 0.0)
        n = add_segment(seg, n, CRT_NORMAL, 4, "mom %s",
                        ui_fmt_short(a, sizeof a, st->momentum, 8));
    if (st->weight_decay > 0.0)
        n = add_segment(seg, n, CRT_NORMAL, 4, "wd %s",
                        ui_fmt_short(a, sizeof a, st->weight_decay, 8));
    if (st->clip_kind > TM_CLIP_NONE && st->clip_kind < TM_CLIP_COUNT)
        n = add_segment(seg, n, CRT_NORMAL, 6, "clip %s %s", tm_clip_name(st->clip_kind),
                        ui_fmt_short(a, sizeof a, st->clip_value, 6));
    else
        n = add_segment(seg, n, CRT_NORMAL, 6, "clip off");
    if (st->overfit)
        n = add_segment(seg, n, CRT_WARN, 6, "overfit");
    return n;
}

/*
 * The n segments on the header row of r: the least important dropped
 * until the line fits, the last ("F1 help") at the right end.
 */
static void
put_segments(const struct ui *ui, const struct ui_rect *r, const struct segment *seg, int n)
{
    bool keep[20];
    int total = 1;
    for (int i = 0; i < n; i++) {
        keep[i] = true;
        total += ui_text_width(seg[i].text, ui->utf8) + 2;
    }
    while (total > r->w) {
        int worst = -1;
        for (int i = 0; i < n; i++)
            if (keep[i] && (worst < 0 || seg[i].prio < seg[worst].prio))
                worst = i;
        if (worst < 0)
            break;
        keep[worst] = false;
        total -= ui_text_width(seg[worst].text, ui->utf8) + 2;
    }
    int x = r->x + 1;
    for (int i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        int right = r->x + r->w - ui_text_width(seg[i].text, ui->utf8) - 1;
        if (i == n - 1 && right > x)
            x = right;
        x += crt_put(r->y, x, r->x + r->w - x, seg[i].elem, seg[i].text) + 2;
    }
}

static void
draw_header(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui->live;
    const struct ui_glyphs *g = ui->g;
    struct segment seg[20];
    int n = 0;
    char a[32];

    char name[NAME_MAX_W * 4 + 1];
    ui_text_clean(name, sizeof name, m->have_info && m->info.name[0] ? m->info.name : "nntop",
                  ui->utf8);
    name[ui_text_fit(name, NAME_MAX_W, ui->utf8, NULL)] = '\0';
    n = add_segment(seg, n, CRT_BOLD, 9, "nntop %s", name);

    bool finished = ui->feed->cls->finished(ui->feed->self);
    int st = m->have_state ? m->state.state : TM_RUNNING;
    if (st < 0 || st >= TM_RUN_STATE_COUNT)
        st = TM_RUNNING;
    static const char *const names[TM_RUN_STATE_COUNT] = {"running", "paused", "done", "failed"};
    static const enum crt_elem elems[TM_RUN_STATE_COUNT] = {CRT_RUNNING, CRT_PAUSED, CRT_DONE,
                                                           CRT_FAILED};
    if (ui->quitting)
        n = add_segment(seg, n, CRT_PAUSED, 10, "quitting: saving%s", g->ellipsis);
    else if (!m->have_state && !finished)
        n = add_segment(seg, n, CRT_DIM, 10, "starting%s", g->ellipsis);
    else if (finished && (st == TM_RUNNING || st == TM_PAUSED))
        n = add_segment(seg, n, CRT_DONE, 10, "%s stopped", g->state[TM_DONE]);
    else
        n = add_segment(seg, n, elems[st], 10, "%s %s", g->state[st], names[st]);
    if (m->have_nonfinite)
        n = add_segment(seg, n, CRT_ERROR, 10, "%s non-finite at step %ld", g->bad,
                        m->nonfinite.step);
    /* Long trainer work past its first second: how far, and that q stops it. */
    if (m->have_progress && m->progress.elapsed_s >= 1.0 && !finished) {
        char what[TM_NAME_MAX * 4 + 1];
        ui_text_clean(what, sizeof what, m->progress.what, ui->utf8);
        long done = m->progress.done < m->progress.total ? m->progress.done : m->progress.total;
        n = add_segment(seg, n, CRT_PAUSED, 10, "%s %ld/%ld (%d %%) %s q cancels", what, done,
                        m->progress.total, (int)(100.0 * (double)done / (double)m->progress.total),
                        ui->utf8 ? "\u00b7" : "-");
    }
    /* The run log cannot be written: paused until Space finds room again. */
    if (m->have_state && m->state.log_stalled)
        n = add_segment(seg, n, CRT_ERROR, 10, "%s log not written", g->bad);
    /* The doctor's findings raised now, by severity (the panel lists them). */
    static const char *const sev_words[4] = {"", "info", "warn", "err"};
    for (int sv = TM_SEV_ERROR; sv >= TM_SEV_INFO; sv--) {
        int c = ui_model_count(m, sv);
        if (c > 0)
            n = add_segment(seg, n, crt_severity_elem(sv), sv == TM_SEV_INFO ? 5 : 9, "%s %d %s",
                            ui_severity_glyph(g, sv), c, sev_words[sv]);
    }
    if (ui->frozen)
        n = add_segment(seg, n, CRT_WARN, 10, "frozen");
    if (m->have_info && m->info.replay)
        n = add_segment(seg, n, CRT_DIM, 7, "replay");
    /* Comparing runs: which one the header, layers and histogram are of. */
    if (ui->nruns > 1)
        n = add_segment(seg, n, CRT_BOLD, 10, "run %c of %d", UI_RUN_LETTER(ui->sel_run),
                        ui->nruns);
    if (m->have_info && m->info.attached)
        n = add_segment(seg, n, CRT_DIM, 7, "attached");
    if (m->have_state && m->state.writer_gone)
        n = add_segment(seg, n, CRT_WARN, 10, "writer gone");

    long step = ui_model_step(m);
    if (m->have_info && m->info.total_steps > 0)
        n = add_segment(seg, n, CRT_NORMAL, 8, "step %ld/%ld", step, m->info.total_steps);
    else
        n = add_segment(seg, n, CRT_NORMAL, 8, "step %ld", step);
    double epoch = m->have_state ? m->state.epoch : m->have_step ? m->step.epoch : 0.0;
    if (m->have_step && m->step.epoch > epoch)
        epoch = m->step.epoch;
    n = add_segment(seg, n, CRT_NORMAL, 3, "ep %.2f", epoch);
    if (m->have_state)
        n = add_optim_segments(seg, n, &m->state);
    if (m->have_step && st == TM_RUNNING && !finished)
        n = add_segment(seg, n, CRT_NORMAL, 2, "%s smp/s",
                        ui_fmt_si(a, sizeof a, m->step.samples_per_s));
    /* nntop changed (or would change) OpenBLAS's kernels: the message line says why. */
    if (m->have_info && m->info.blas_note[0] != '\0' && m->info.blas_core[0] != '\0')
        n = add_segment(seg, n, CRT_WARN, 4, "blas %s", m->info.blas_core);
    if (m->dropped > 0)
        n = add_segment(seg, n, CRT_WARN, 7, "dropped %s",
                        ui_fmt_si(a, sizeof a, (double)m->dropped));
    n = add_segment(seg, n, CRT_DIM, 1, "F1 help");

    put_segments(ui, r, seg, n);
}

/* ---- message line and function bar ----------------------------------- */

static void
draw_message(struct ui *ui, const struct ui_rect *r, int *cy, int *cx)
{
    *cy = -1;
    if (ui->prompting) {
        const struct ui_prompt *p = &ui->prompt;
        int room = r->w - 2;
        int off = p->cur > room ? p->cur - room : 0;
        crt_put(r->y, r->x, 1, CRT_BOLD, ":");
        crt_put(r->y, r->x + 1, room, CRT_NORMAL, p->buf + off);
        *cy = r->y;
        *cx = r->x + 1 + p->cur - off;
        return;
    }
    if (ui->msg_until > 0.0) {
        crt_put(r->y, r->x + 1, r->w - 2, ui->msg_kind == UI_MSG_ERROR ? CRT_MSG_ERROR : CRT_NORMAL,
                ui->msg);
        return;
    }
    const struct ui_model *m = ui->live;
    if (m->have_info && (m->info.run_dir[0] != '\0' || m->info.blas_note[0] != '\0')) {
        char line[460];
        snprintf(line, sizeof line, "%s%s%s%s", m->info.blas_note,
                 m->info.blas_note[0] != '\0' && m->info.run_dir[0] != '\0' ? "  " : "",
                 m->info.run_dir[0] != '\0' ? "run " : "", m->info.run_dir);
        crt_put(r->y, r->x + 1, r->w - 2, CRT_DIM, line);
    }
}

static void
draw_footer(struct ui *ui, const struct ui_rect *r)
{
    size_t n;
    const struct ui_key_binding *t = ui_key_table(&n);
    size_t shown[64];
    size_t k = ui_bar_layout(ui, r->w, shown, sizeof shown / sizeof shown[0]);
    int x = r->x;
    int end = r->x + r->w;
    for (size_t j = 0; j < k; j++) {
        size_t i = shown[j];
        char now[64];
        const char *name = ui_bar_name(ui, &t[i], now, sizeof now);
        int kw = ui_text_width(t[i].bar_key, ui->utf8);
        int nw = ui_text_width(name, ui->utf8) + 1;
        x += crt_put(r->y, x, kw, name == now ? CRT_WARN : CRT_BAR_KEY, t[i].bar_key);
        crt_fill(r->y, x, nw, CRT_BAR_NAME);
        x += crt_put(r->y, x, nw, CRT_BAR_NAME, name) + 1;
    }
    crt_fill(r->y, x, end - x, CRT_BAR_NAME);
}

/* ---- overlays -------------------------------------------------------- */

static struct ui_rect
centred(const struct ui_layout *l, int h, int w)
{
    if (w > l->cols - 2)
        w = l->cols - 2;
    if (h > l->rows - 2)
        h = l->rows - 2;
    return (struct ui_rect){.y = (l->rows - h) / 2, .x = (l->cols - w) / 2, .h = h, .w = w};
}

#define HELP_LINES 96

/* The help text: every key, then the prompt language, then the panels. */
static int
help_lines(char lines[][160], enum crt_elem *elem)
{
    size_t nk, nc;
    const struct ui_key_binding *k = ui_key_table(&nk);
    const struct ui_command_doc *c = ui_command_docs(&nc);
    const struct panel_class *const panels[] = {&panel_loss_class, &panel_layers_class,
                                                &panel_hist_class, &panel_multi_class,
                                                &panel_ratio_class, &panel_findings_class,
                                                &panel_view_class};
    int n = 0;
    snprintf(lines[n], 160, "Keys");
    elem[n++] = CRT_TITLE;
    for (size_t i = 0; i < nk && n < HELP_LINES; i++) {
        snprintf(lines[n], 160, "  %-17s %s", k[i].label, k[i].desc);
        elem[n++] = CRT_NORMAL;
    }
    lines[n][0] = '\0';
    elem[n++] = CRT_NORMAL;
    snprintf(lines[n], 160, "Commands at the : prompt (Up/Down recall, Enter runs, Esc cancels)");
    elem[n++] = CRT_TITLE;
    for (size_t i = 0; i < nc && n < HELP_LINES; i++) {
        snprintf(lines[n], 160, "  :%-25s %s", c[i].synopsis, c[i].desc);
        elem[n++] = CRT_NORMAL;
    }
    lines[n][0] = '\0';
    elem[n++] = CRT_NORMAL;
    snprintf(lines[n], 160, "Panels");
    elem[n++] = CRT_TITLE;
    for (size_t i = 0; i < sizeof panels / sizeof panels[0] && n < HELP_LINES; i++) {
        snprintf(lines[n], 160, "  %-9s %s", panels[i]->name, panels[i]->help());
        elem[n++] = CRT_NORMAL;
    }
    return n;
}

/*
 * Wrap help line src to width w into out (up to max lines): continuation
 * lines start under the description (after the label's gap of spaces).
 * Returns the lines written.
 */
static int
wrap_line(const char *src, int w, bool utf8, char out[][160], int max)
{
    int n = 0, indent = 0;
    if (src[0] == ' ' && src[1] == ' ') {
        const char *gap = strstr(src + 2, "  ");
        if (gap != NULL) {
            while (*gap == ' ')
                gap++;
            indent = (int)(gap - src);
        }
    }
    if (indent > w / 2)
        indent = 4;
    const char *p = src;
    bool first = true;
    while (n < max) {
        int lead = first ? 0 : indent;
        int room = w - lead;
        if (room < 8)
            room = 8;
        size_t fit = ui_text_fit(p, room, utf8, NULL);
        if (p[fit] != '\0') {
            /* Break at the last space that fits, if any. */
            size_t cut = fit;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut > 0)
                fit = cut;
        }
        snprintf(out[n++], 160, "%*s%.*s", lead, "", (int)fit, p);
        p += fit;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        first = false;
    }
    return n;
}

#define HELP_WRAPPED (HELP_LINES * 3)

static void
draw_help(struct ui *ui)
{
    char lines[HELP_LINES][160];
    enum crt_elem elem[HELP_LINES];
    int n = help_lines(lines, elem);
    int boxw = ui->layout.cols - 2 < 100 ? ui->layout.cols - 2 : 100;
    static char wrapped[HELP_WRAPPED][160];
    enum crt_elem welem[HELP_WRAPPED];
    int nw = 0;
    for (int i = 0; i < n && nw < HELP_WRAPPED; i++) {
        int k = wrap_line(lines[i], boxw - 2, ui->utf8, wrapped + nw, HELP_WRAPPED - nw);
        for (int j = 0; j < k; j++)
            welem[nw + j] = elem[i];
        nw += k;
    }
    struct ui_rect r = centred(&ui->layout, nw + 2, boxw);
    /* Leave the header, the message line and the function bar in view. */
    if (r.h > ui->layout.rows - 3) {
        r.h = ui->layout.rows - 3;
        r.y = 1;
    }
    int rows = r.h - 2;
    if (ui->help_top > nw - rows)
        ui->help_top = nw - rows > 0 ? nw - rows : 0;
    crt_clear_rect(&r);
    char title[80];
    snprintf(title, sizeof title, "help %s Esc closes%s", ui->g->dot,
             rows < nw ? ", Up/Down scroll" : "");
    crt_box(&r, title);
    for (int i = 0; i < rows && ui->help_top + i < nw; i++)
        crt_put(r.y + 1 + i, r.x + 1, r.w - 2, welem[ui->help_top + i],
                wrapped[ui->help_top + i]);
    if (ui->help_top > 0)
        crt_put(r.y, r.x + r.w - 3, 1, CRT_TITLE, ui->g->up);
    if (ui->help_top + rows < nw)
        crt_put(r.y + r.h - 1, r.x + r.w - 3, 1, CRT_TITLE, ui->g->down);
}

/* :explain RULE: the rule's lines, wrapped, in a box over the panels. */
static void
draw_explain(struct ui *ui)
{
    static char lines[32][UI_EXPLAIN_W];
    int n = ui_explain_lines(ui_view(ui), ui->explain_rule, lines, 32);
    int boxw = ui->layout.cols - 2 < 100 ? ui->layout.cols - 2 : 100;
    static char wrapped[96][160];
    int nw = 0;
    for (int i = 0; i < n && nw < 96; i++)
        nw += wrap_line(lines[i], boxw - 2, ui->utf8, wrapped + nw, 96 - nw);
    struct ui_rect r = centred(&ui->layout, nw + 2, boxw);
    crt_clear_rect(&r);
    char title[80];
    snprintf(title, sizeof title, "explain %s %s Esc closes", ui->explain_rule, ui->g->dot);
    crt_box(&r, title);
    for (int i = 0; i < r.h - 2 && i < nw; i++)
        crt_put(r.y + 1 + i, r.x + 1, r.w - 2,
                strncmp(wrapped[i], "Now: raised", 11) == 0 ? CRT_WARN : CRT_NORMAL,
                wrapped[i]);
}

/* Colour and mark of a gradient-check verdict. */
static enum crt_elem
verdict_elem(int verdict)
{
    return verdict == TM_GC_PASS ? CRT_OK : verdict == TM_GC_FAIL ? CRT_ERROR : CRT_WARN;
}

static const char *
verdict_mark(const struct ui_glyphs *g, int verdict)
{
    return verdict == TM_GC_PASS ? g->ok : verdict == TM_GC_FAIL ? g->bad : g->warn;
}

static void
draw_gradcheck(struct ui *ui)
{
    const struct tm_gradcheck *gc = &ui->live->gradcheck;
    const struct ui_glyphs *g = ui->g;
    char b[16], c[16], line[200];
    int nt = gc->ntensors;
    struct ui_rect r = centred(&ui->layout, nt + 7, 78);
    crt_clear_rect(&r);
    snprintf(line, sizeof line, "gradient check at step %ld %s Esc closes", gc->step, g->dot);
    crt_box(&r, line);
    int y = r.y + 1, x = r.x + 2, w = r.w - 4;
    snprintf(line, sizeof line, "%d samples, %.2f s: ", gc->samples, gc->seconds);
    int used = crt_put(y, x, w, CRT_NORMAL, line);
    crt_put(y, x + used, w - used, verdict_elem(gc->verdict), tm_gc_verdict_name(gc->verdict));
    y++;
    if (gc->verdict == TM_GC_INCONCLUSIVE)
        crt_put(y, x, w, CRT_WARN, tm_gc_reason_text(gc->reason));
    else
        crt_put(y, x, w, CRT_DIM, "bound: what float32 rounding explains; err/bd above 1 fails");
    snprintf(line, sizeof line, "%-10s %-13s %5s %5s %4s %8s %7s  %s", "tensor", "layer", "chk",
             "comp.", "kink", "bound", "err/bd", "verdict");
    crt_put(++y, x, w, CRT_TITLE, line);
    const struct ui_model *m = ui->live;
    for (int i = 0; i < nt && y + 1 < r.y + r.h - 1; i++) {
        const struct tm_gc_tensor *t = &gc->t[i];
        char name[TM_NAME_MAX], layer[TM_LABEL_MAX + 8] = "-";
        ui_text_clean(name, sizeof name, t->name, ui->utf8);
        if (m->have_info && t->layer >= 0 && t->layer < m->info.nlayers) {
            const struct tm_layer_info *li = &m->info.layers[t->layer];
            snprintf(layer, sizeof layer, "%d %s", t->layer,
                     ui->utf8 ? li->label : li->label_ascii);
        }
        /* Pad by hand: printf counts bytes, and a UTF-8 arrow is three. */
        crt_put(++y, x, 10, CRT_NORMAL, name);
        crt_put(y, x + 11, 13, CRT_NORMAL, layer);
        snprintf(line, sizeof line, "%5d %5d %4d %8s %7s  ", t->checked, t->compared, t->kinks,
                 ui_fmt_short(b, sizeof b, t->worst_bound, 8),
                 ui_fmt_short(c, sizeof c, t->max_excess, 7));
        used = 25 + crt_put(y, x + 25, w - 25, CRT_NORMAL, line);
        char verdict[24];
        snprintf(verdict, sizeof verdict, "%s %s", verdict_mark(g, t->verdict),
                 tm_gc_verdict_name(t->verdict));
        crt_put(y, x + used, w - used, verdict_elem(t->verdict), verdict);
    }
}

static void
draw_too_small(struct ui *ui)
{
    char line[80];
    int rows = ui->layout.rows, cols = ui->layout.cols;
    const char *need = "terminal too small (need 80x24)";
    int w = (int)strlen(need);
    int y = rows / 2 - 1 > 0 ? rows / 2 - 1 : 0;
    crt_put(y, cols > w ? (cols - w) / 2 : 0, cols, CRT_WARN, need);
    snprintf(line, sizeof line, "now %dx%d; q quits", cols, rows);
    w = (int)strlen(line);
    if (y + 1 < rows)
        crt_put(y + 1, cols > w ? (cols - w) / 2 : 0, cols, CRT_NORMAL, line);
}

/* ---- the frame ------------------------------------------------------- */

static void
draw(struct ui *ui)
{
    crt_erase();
    if (ui->layout.too_small) {
        draw_too_small(ui);
        crt_cursor(-1, 0);
        crt_refresh();
        return;
    }
    draw_header(ui, &ui->layout.area[UI_AREA_HEADER]);
    if (ui->view_open) {
        /* The view takes the whole body: the four panels' rectangles. */
        const struct ui_rect *top = &ui->layout.area[UI_AREA_LOSS];
        const struct ui_rect *bot = &ui->layout.area[UI_AREA_HIST];
        struct ui_rect body = {.y = top->y, .x = 0, .h = bot->y + bot->h - top->y,
                               .w = ui->layout.cols};
        panel_view_class.draw(ui, &body);
    } else {
        for (int a = 0; a < UI_AREA_COUNT; a++) {
            const struct panel_class *p = area_panel(ui, a);
            if (p != NULL)
                p->draw(ui, &ui->layout.area[a]);
        }
    }
    int cy, cx = 0;
    draw_message(ui, &ui->layout.area[UI_AREA_MESSAGE], &cy, &cx);
    draw_footer(ui, &ui->layout.area[UI_AREA_FOOTER]);
    if (ui->overlay == UI_OVERLAY_HELP)
        draw_help(ui);
    else if (ui->overlay == UI_OVERLAY_GRADCHECK)
        draw_gradcheck(ui);
    else if (ui->overlay == UI_OVERLAY_EXPLAIN)
        draw_explain(ui);
    crt_cursor(cy, cx);
    crt_refresh();
}

static void
relayout(struct ui *ui)
{
    int rows, cols;
    crt_size(&rows, &cols);
    ui_layout(rows, cols, &ui->layout);
    if (ui->layout.too_small)
        return;
    for (int a = 0; a < UI_AREA_COUNT; a++) {
        const struct panel_class *p = area_panel(ui, a);
        if (p != NULL)
            p->resize(ui, &ui->layout.area[a]);
    }
}

/*
 * Fold waiting records into the live model; true when any came.  *urgent
 * is set when one of them is the kind a key press waits for (a state
 * change, an event, a gradient check): those are rare and are drawn at
 * once rather than at the next frame.
 */
static bool
drain(struct ui *ui, struct tm_record *rec, bool *more, bool *urgent)
{
    int n = 0;
    *urgent = false;
    *more = false;
    /* Every compared run is read (the loss panel overlays them all);
     * the selected one's records are the ones a key press waits for. */
    for (int k = 0; k < ui->nruns; k++) {
        struct feed *f = &ui->feeds[k];
        int got = 0;
        while (got < DRAIN_MAX && f->cls->poll(f->self, rec)) {
            ui_model_apply(ui->runs[k], rec);
            if (k == ui->sel_run && (rec->type == TM_STATE || rec->type == TM_EVENT
                                     || rec->type == TM_GRADCHECK || rec->type == TM_VIEW))
                *urgent = true;
            got++;
        }
        *more |= got == DRAIN_MAX;
        n += got;
    }
    uint64_t d = ui->feed->cls->dropped(ui->feed->self);
    if (d > ui->live->dropped) {
        ui->live->dropped = d;
        n++;
    }
    if (ui->live->gradcheck_seq != ui->gradcheck_seen) {
        ui->gradcheck_seen = ui->live->gradcheck_seq;
        ui->overlay = UI_OVERLAY_GRADCHECK;
    }
    return n > 0;
}

/* Has every compared run's producer finished? */
static bool
all_finished(const struct ui *ui)
{
    for (int k = 0; k < ui->nruns; k++)
        if (!ui->feeds[k].cls->finished(ui->feeds[k].self))
            return false;
    return true;
}

void
ui_select_run(struct ui *ui, int i)
{
    if (i < 0 || i >= ui->nruns)
        return;
    ui->sel_run = i;
    ui->feed = &ui->feeds[i];
    ui->live = ui->runs[i];
    ui->gradcheck_seen = ui->live->gradcheck_seq;
    ui->pause_sent_at = ui->clip_sent_at = ui->overfit_sent_at = -1;
    if (ui->frozen)
        memcpy(ui->still, ui->live, sizeof *ui->still);
    if (ui->live->have_info && ui->sel_layer >= ui->live->info.nlayers)
        ui->sel_layer = ui->layer_top = 0;
}

int
ui_hist_other_run(const struct ui *ui)
{
    if (ui->nruns < 2)
        return -1;
    return ui->sel_run == 0 ? 1 : 0;
}

/* Ask the producer to stop; true when there is nothing to wait for. */
static bool
begin_quit(struct ui *ui)
{
    /* Attached to a run another process writes: q only detaches (:quit stops it). */
    if (ui->live->have_info && ui->live->info.attached)
        return true;
    struct tm_command c = {.kind = TM_CMD_QUIT, .n = 1};
    char why[200];
    if (ui->feed->cls->send(ui->feed->self, &c, why, sizeof why) < 0)
        return true;
    ui->quitting = true;
    ui->prompting = false;
    ui->overlay = UI_OVERLAY_NONE;
    ui_message(ui, UI_MSG_INFO, "quitting: saving%s (q again: stop waiting)", ui->g->ellipsis);
    return false;
}

static void dashboard_command(struct ui *ui, const char *line);

static int
prompt_key(struct ui *ui, int key)
{
    enum ui_prompt_result r = ui_prompt_key(&ui->prompt, key);
    if (r == UI_PROMPT_CANCEL) {
        ui->prompting = false;
    } else if (r == UI_PROMPT_SUBMIT) {
        ui->prompting = false;
        struct tm_command c;
        char err[200];
        if (ui_prompt_check(&ui->prompt, err, sizeof err) < 0) {
            ui_message(ui, UI_MSG_ERROR, "%s", err);
            return UI_HANDLED | UI_REDRAW;
        }
        ui_prompt_remember(&ui->prompt);
        int rc = ui_parse_command(ui->prompt.buf, &c, err, sizeof err);
        if (rc < 0)
            ui_message(ui, UI_MSG_ERROR, "%s", err);
        else if (rc == 2)
            dashboard_command(ui, ui->prompt.buf);
        else if (rc == 0 && c.kind == TM_CMD_QUIT && ui->live->have_info &&
                 ui->live->info.attached) {
            ui->confirm_quit = true;
            ui_message(ui, UI_MSG_ERROR,
                       "stop the run for every viewer? y: stop it, any other key: keep it");
        } else if (rc == 0 && c.kind == TM_CMD_QUIT)
            return UI_HANDLED | UI_QUIT;
        else if (rc == 0)
            ui_send(ui, &c);
    }
    return UI_HANDLED | UI_REDRAW;
}

/* ":help [COMMAND]", ":export hist FILE", ":fix [RULE]", ":explain [RULE]"
 * (checked by ui_parse_command). */
static void
dashboard_command(struct ui *ui, const char *line)
{
    char buf[UI_PROMPT_MAX], *save = NULL;
    snprintf(buf, sizeof buf, "%s", line[0] == ':' ? line + 1 : line);
    const char *cmd = strtok_r(buf, " \t", &save);
    const char *a1 = strtok_r(NULL, " \t", &save);
    const char *a2 = strtok_r(NULL, " \t", &save);
    if (strcmp(cmd, "fix") == 0) {
        ui_fix(ui, a1);
        return;
    }
    if (strcmp(cmd, "explain") == 0) {
        const struct ui_model *m = ui_view(ui);
        char sel[TM_NAME_MAX];
        if (a1 == NULL)
            a1 = ui_selected_rule(ui, false, sel, sizeof sel);
        if (a1 == NULL && m->nactive == 0) {
            ui_message(ui, UI_MSG_ERROR, "explain: no finding is raised; name a rule "
                                         "(explain dead-relu)");
            return;
        }
        snprintf(ui->explain_rule, sizeof ui->explain_rule, "%s",
                 a1 != NULL ? a1 : m->active[m->nactive - 1].rule);
        ui->overlay = UI_OVERLAY_EXPLAIN;
        return;
    }
    if (strcmp(cmd, "help") == 0) {
        if (a1 == NULL) {
            ui->overlay = UI_OVERLAY_HELP;
            ui->help_top = 0;
            return;
        }
        size_t nd;
        const struct ui_command_doc *d = ui_command_docs(&nd);
        char msg[256] = "";
        for (size_t i = 0; i < nd; i++) {
            size_t l = strlen(a1);
            const char *syn = d[i].synopsis;
            bool match = false;
            /* Any alternative of the synopsis ("quit | q") names it. */
            for (const char *w = syn; w != NULL && !match;) {
                match = strncmp(w, a1, l) == 0 && (w[l] == ' ' || w[l] == '\0');
                w = strstr(w, "| ");
                if (w != NULL)
                    w += 2;
            }
            if (match)
                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s:%s: %s",
                         msg[0] != '\0' ? "; " : "", syn, d[i].desc);
        }
        ui_message(ui, UI_MSG_INFO, "%s", msg[0] != '\0' ? msg : "no help for that command");
        return;
    }
    /* export hist FILE */
    const struct ui_model *m = ui_view(ui);
    const struct tm_hist *h = ui_model_hist(m, ui->sel_layer, ui->hist_kind);
    if (h == NULL || a1 == NULL || a2 == NULL) {
        ui_message(ui, UI_MSG_ERROR, "export: no histogram shown yet");
        return;
    }
    FILE *fp = fopen(a2, "w");
    if (fp == NULL) {
        ui_message(ui, UI_MSG_ERROR, "export: %s: %s", a2, strerror(errno));
        return;
    }
    int bad = ui_hist_write_csv(fp, h);
    if (fclose(fp) != 0 || bad != 0)
        ui_message(ui, UI_MSG_ERROR, "export: %s: write failed", a2);
    else
        ui_message(ui, UI_MSG_INFO, "wrote %d bins (and under/over) of step %ld to %s", h->nbins,
                   ui_model_hist_step(m, ui->sel_layer, ui->hist_kind), a2);
}

static int
overlay_key(struct ui *ui, int key, bool *consumed)
{
    *consumed = true;
    if (ui->overlay == UI_OVERLAY_HELP) {
        int page = ui->layout.rows > 6 ? ui->layout.rows - 6 : 1;
        switch (key) {
        case UI_KEY_UP:
        case 'k':
            ui->help_top = ui->help_top > 0 ? ui->help_top - 1 : 0;
            return UI_HANDLED | UI_REDRAW;
        case UI_KEY_DOWN:
        case 'j':
            ui->help_top++;     /* draw_help clamps it */
            return UI_HANDLED | UI_REDRAW;
        case UI_KEY_PGUP:
            ui->help_top = ui->help_top > page ? ui->help_top - page : 0;
            return UI_HANDLED | UI_REDRAW;
        case UI_KEY_PGDN:
        case ' ':
            ui->help_top += page;
            return UI_HANDLED | UI_REDRAW;
        default:
            break;
        }
    }
    switch (key) {
    case UI_KEY_ESC:
    case 'q':
    case '?':
    case UI_KEY_F1:
    case UI_KEY_ENTER:
        ui->overlay = UI_OVERLAY_NONE;
        return UI_HANDLED | UI_REDRAW;
    default:
        /* The overlay owns the keyboard: nothing reaches the run behind it. */
        ui_message(ui, UI_MSG_INFO, "%s is open: Esc, q or ? closes it",
                   ui->overlay == UI_OVERLAY_HELP        ? "help"
                   : ui->overlay == UI_OVERLAY_EXPLAIN ? "the explanation"
                                                       : "the gradient check");
        return UI_HANDLED | UI_REDRAW;
    }
}

/* A key's name for the message line ("F2", "Left", "'x'"). */
static void
key_name(int key, char *buf, size_t len)
{
    static const struct {
        int key;
        const char *name;
    } names[] = {
        {UI_KEY_LEFT, "Left"}, {UI_KEY_RIGHT, "Right"}, {UI_KEY_ENTER, "Enter"},
        {UI_KEY_DELETE, "Delete"}, {UI_KEY_BACKSPACE, "Backspace"}, {' ', "Space"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].key == key) {
            snprintf(buf, len, "%s", names[i].name);
            return;
        }
    }
    if (key >= UI_KEY_F1 && key <= UI_KEY_F1 + 11)
        snprintf(buf, len, "F%d", key - UI_KEY_F1 + 1);
    else if (key > 0x20 && key < 0x7f)
        snprintf(buf, len, "'%c'", key);
    else if (key > 0 && key < 0x20)
        snprintf(buf, len, "Ctrl-%c", key + '@');
    else
        snprintf(buf, len, "that key");
}

static bool
inside(const struct ui_rect *r, int y, int x)
{
    return y >= r->y && y < r->y + r->h && x >= r->x && x < r->x + r->w;
}

int
ui_mouse_event(struct ui *ui, const struct ui_mouse *ev)
{
    if (ui->layout.too_small || ui->prompting || ui->overlay != UI_OVERLAY_NONE)
        return 0;
    const struct ui_rect *lr = &ui->layout.area[UI_AREA_LAYERS];
    const struct ui_rect *fr = &ui->layout.area[UI_AREA_FINDINGS];
    if (ev->kind == UI_MOUSE_CLICK && inside(lr, ev->y, ev->x)) {
        /* Rows start under the border and the column titles. */
        const struct ui_model *m = ui_view(ui);
        int i = ui->layer_top + (ev->y - (lr->y + 2));
        if (ev->y >= lr->y + 2 && ev->y < lr->y + lr->h - 1 && m->have_info && i >= 0 &&
            i < m->info.nlayers) {
            ui->sel_layer = i;
            return UI_HANDLED | UI_REDRAW;
        }
        return UI_HANDLED;
    }
    if (ev->kind == UI_MOUSE_CLICK && inside(fr, ev->y, ev->x)) {
        long seq = ui_findings_hit(ui, ev->y);
        if (seq < 0)
            return UI_HANDLED;
        ui->find_sel = seq + 1;
        char buf[TM_NAME_MAX];
        const char *rule = ui_finding_rule(ui_view(ui), seq, buf, sizeof buf);
        const struct tm_finding *f = rule != NULL ? ui_model_remedy(ui->live, rule) : NULL;
        if (f != NULL)
            ui_message(ui, UI_MSG_INFO, "selected %s: f applies its remedy (%s), :explain "
                       "explains it, Esc unselects", rule, f->remedy_text);
        else if (rule != NULL)
            ui_message(ui, UI_MSG_INFO, "selected %s: :explain explains it (no remedy raised "
                       "now), Esc unselects", rule);
        else
            ui_message(ui, UI_MSG_INFO, "selected an event, not a finding: f and :explain act "
                       "on the newest raised");
        return UI_HANDLED | UI_REDRAW;
    }
    if (ev->kind != UI_MOUSE_CLICK && inside(fr, ev->y, ev->x))
        return panel_findings_class.key(ui, ev->kind == UI_MOUSE_WHEEL_UP ? '[' : ']');
    return 0;
}

static int
handle_key(struct ui *ui, int key)
{
    if (key == UI_KEY_RESIZE)
        return UI_HANDLED | UI_RESIZE | UI_REDRAW;
    if (key == UI_KEY_MOUSE) {
        struct ui_mouse ev;
        return crt_mouse(&ev) ? ui_mouse_event(ui, &ev) | UI_REDRAW : 0;
    }
    if (ui->quitting)
        return key == 'q' || key == UI_KEY_F10 ? UI_HANDLED | UI_QUIT : 0;
    if (ui->prompting)
        return prompt_key(ui, key);
    if (ui->confirm_quit) {
        /* The answer to :quit while attached: y stops the writer, then the viewer leaves. */
        ui->confirm_quit = false;
        struct tm_command q = {.kind = TM_CMD_QUIT};
        if (key != 'y' && key != 'Y')
            ui_message(ui, UI_MSG_INFO, "the run goes on");
        else if (ui_send(ui, &q) == 0) {
            ui->quitting = true;
            ui_message(ui, UI_MSG_INFO, "quitting: the writer saves and stops%s (q: detach now)",
                       ui->g->ellipsis);
        }
        return UI_HANDLED | UI_REDRAW;
    }
    int bits = 0;
    if (ui->overlay != UI_OVERLAY_NONE) {
        bool consumed;
        bits = overlay_key(ui, key, &consumed);
        if (consumed)
            return bits;
    }
    /* The open view has first say on its keys; the rest work as ever. */
    if (ui->view_open) {
        int vb = panel_view_class.key(ui, key);
        if (vb != 0)
            return bits | vb;
    }
    const struct ui_key_binding *b = ui_key_find(key);
    if (b == NULL) {
        char name[32];
        key_name(key, name, sizeof name);
        ui_message(ui, UI_MSG_INFO, "%s does nothing here: press ? for the keys", name);
        return bits | UI_REDRAW;
    }
    if (b->handler != NULL)
        return bits | b->handler(ui, key);
    return bits | b->panel->key(ui, key);
}

bool
ui_can_start(char *why, size_t len)
{
    return crt_can_start(why, len);
}

/* A new UI state over nfeeds feeds (borrowed), one run each; ui_free frees it. */
static struct ui *
ui_new(struct feed *feeds, int nfeeds, const struct ui_opts *opts)
{
    struct ui *ui = xcalloc(1, sizeof *ui);
    ui->feeds = feeds;
    ui->nruns = nfeeds;
    for (int k = 0; k < nfeeds; k++)
        ui->runs[k] = ui_model_new();
    ui->feed = &feeds[0];
    ui->live = ui->runs[0];
    if (opts != NULL)
        ui->opts = *opts;
    ui->utf8 = crt_utf8();
    ui->g = ui_glyphs(ui->utf8);
    ui->still = ui_model_new();
    ui->hist_kind = UI_HIST_ACT;
    ui->pause_sent_at = ui->clip_sent_at = ui->overfit_sent_at = -1;
    ui->now = mono_seconds();
    return ui;
}

static void
ui_free(struct ui *ui)
{
    for (int k = 0; k < ui->nruns; k++)
        free(ui->runs[k]);
    free(ui->still);
    free(ui);
}

/* The signal dispositions and mask the UI replaced, for signals_restore. */
struct saved_signals {
    struct sigaction old_int, old_term, old_hup;
    sigset_t old_mask;
};

/*
 * Signals reach this thread (the trainer's are blocked by main):
 * SIGINT/SIGTERM/SIGHUP quit as q does, SIGWINCH is curses'.
 */
static void
signals_install(struct saved_signals *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* A signal inherited as ignored (nohup) stays ignored. */
    catch_unless_ignored(SIGINT, &sa, &saved->old_int);
    catch_unless_ignored(SIGTERM, &sa, &saved->old_term);
    catch_unless_ignored(SIGHUP, &sa, &saved->old_hup);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGINT);
    sigaddset(&unblock, SIGTERM);
    sigaddset(&unblock, SIGHUP);
    sigaddset(&unblock, SIGWINCH);
    pthread_sigmask(SIG_UNBLOCK, &unblock, &saved->old_mask);
    ui_signal = 0;
}

static void
signals_restore(const struct saved_signals *saved)
{
    pthread_sigmask(SIG_SETMASK, &saved->old_mask, NULL);
    sigaction(SIGINT, &saved->old_int, NULL);
    sigaction(SIGTERM, &saved->old_term, NULL);
    sigaction(SIGHUP, &saved->old_hup, NULL);
}

/* The main loop's pacing: when it drew, whether it must draw again, why it stops. */
struct loop {
    double last_draw;
    bool dirty;
    long frames;
    int stopped_by;             /* the signal that stopped the UI, or 0 */
    double eager_until;         /* a reply to a key is expected until then */
    bool urgent_pending;        /* a reply to a command waits to be drawn */
};

/* Draws the screen now and notes it in lp. */
static void
loop_draw(struct ui *ui, struct loop *lp)
{
    draw(ui);
    lp->last_draw = ui->now;
    lp->dirty = false;
    lp->urgent_pending = false;
}

/*
 * One turn's work before waiting for a key: drain the feed, act on a
 * signal and on the end of the run, expire the message, and draw when due.
 * Sets *more when the feed has more to drain at once; true when the UI
 * should stop.
 */
static bool
loop_tick(struct ui *ui, struct tm_record *rec, struct loop *lp, bool *more)
{
    bool urgent;
    if (drain(ui, rec, more, &urgent))
        lp->dirty = true;
    lp->urgent_pending |= urgent;
    ui_view_tick(ui);
    if (ui_signal != 0) {
        lp->stopped_by = ui_signal;
        ui_signal = 0;
        if (ui->quitting || begin_quit(ui))
            return true;
        lp->dirty = true;
    }
    if (all_finished(ui) && (ui->quitting || ui->opts.exit_when_done))
        return true;
    if (ui->msg_until > 0.0 && ui->now >= ui->msg_until) {
        ui->msg_until = 0.0;
        lp->dirty = true;
    }
    double gap = lp->urgent_pending ? 1.0 / URGENT_HZ : 1.0 / FRAME_HZ;
    if (lp->dirty && ui->now - lp->last_draw >= gap) {
        loop_draw(ui, lp);
        lp->frames++;
        if (ui->opts.iterations > 0 && lp->frames >= ui->opts.iterations && !ui->quitting) {
            if (begin_quit(ui))
                return true;
        }
    }
    return false;
}

/*
 * How long to wait for a key (ms): not at all while the feed has more,
 * else until the next frame is due, at most IDLE_MS.
 */
static int
loop_timeout(const struct ui *ui, const struct loop *lp, bool more)
{
    double gap = lp->urgent_pending ? 1.0 / URGENT_HZ : 1.0 / FRAME_HZ;
    int timeout = IDLE_MS;
    if (more)
        timeout = 0;
    else if (lp->dirty)
        timeout = (int)((lp->last_draw + gap - ui->now) * 1000.0) + 1;
    if (ui->now < lp->eager_until && timeout > EAGER_MS)
        timeout = EAGER_MS;
    return timeout < 0 ? 0 : timeout > IDLE_MS ? IDLE_MS : timeout;
}

/* Handles one key and redraws at once after it; true when the UI should stop. */
static bool
loop_key(struct ui *ui, struct loop *lp, int key)
{
    ui->now = mono_seconds();
    int bits = handle_key(ui, key);
    if (bits & UI_RESIZE) {
        relayout(ui);
        crt_clear();
    }
    if (bits & UI_QUIT) {
        if (ui->quitting || begin_quit(ui))
            return true;
    }
    if (bits & (UI_REDRAW | UI_QUIT)) {
        lp->eager_until = ui->now + EAGER_S;
        loop_draw(ui, lp);
    }
    return false;
}

int
ui_run(struct feed *feed, const struct ui_opts *opts)
{
    return ui_run_many(feed, 1, opts);
}

int
ui_run_many(struct feed *feeds, int nfeeds, const struct ui_opts *opts)
{
    assert(nfeeds >= 1 && nfeeds <= UI_MAX_RUNS);
    char why[256];
    if (!ui_can_start(why, sizeof why) || crt_init(why, sizeof why) < 0)
        return UI_NO_TERMINAL;

    struct ui *ui = ui_new(feeds, nfeeds, opts);
    struct tm_record *rec = xmalloc(sizeof *rec);
    relayout(ui);
    struct saved_signals saved;
    signals_install(&saved);

    struct loop lp = {.last_draw = -1.0, .dirty = true};
    for (;;) {
        ui->now = mono_seconds();
        bool more;
        if (loop_tick(ui, rec, &lp, &more))
            break;
        int key = crt_getkey(loop_timeout(ui, &lp, more));
        if (key == UI_KEY_NONE)
            continue;
        if (loop_key(ui, &lp, key))
            break;
    }

    crt_fini();
    signals_restore(&saved);
    free(rec);
    ui_free(ui);
    return lp.stopped_by;
}
