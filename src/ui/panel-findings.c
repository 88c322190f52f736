/*
 * panel-findings.c - the run's events and the doctor's findings, newest
 * at the bottom, each with its step and a severity glyph (and colour),
 * wrapped to the panel's width; PgUp/PgDn ([ ]) scroll, End follows the
 * newest again.  Non-finite reports are drawn as errors whatever their
 * stated severity.  A click selects an event (ui_findings_hit); f, :fix
 * and :explain then act on the selected finding's rule.
 *
 * It holds no text of its own: the model keeps the last UI_EVENTS_CAP
 * events; older ones are in the run's events.jsonl.
 */
#include "config.h"

#include "panel.h"

#include <stdio.h>
#include <string.h>

#include "crt.h"
#include "nntop/doctor.h"

#define MAX_LINES_PER_EVENT 6
#define MAX_SHOWN 128           /* events on screen at most (one line each or more) */

/* Bytes of s for one line of at most w columns, broken at a space if possible. */
static size_t
wrap_line(const char *s, int w, bool utf8)
{
    size_t fit = ui_text_fit(s, w, utf8, NULL);
    if (fit == 0)
        return s[0] != '\0' ? 1 : 0;   /* always progress (w is never that small) */
    if (s[fit] == '\0')
        return fit;
    for (size_t b = fit; b > 0; b--)
        if (s[b] == ' ')
            return b;
    return fit;
}

/* Lines event text takes at width w (at most MAX_LINES_PER_EVENT). */
static int
count_lines(const char *text, int w, bool utf8)
{
    int n = 0;
    const char *s = text;
    do {
        s += wrap_line(s, w, utf8);
        while (*s == ' ')
            s++;
        n++;
    } while (*s != '\0' && n < MAX_LINES_PER_EVENT);
    return n;
}

/*
 * The severity an event line is marked with: its own, except that a
 * non-finite report or an error is an error, a refused command a
 * warning, and only a finding (a check that passed, or one cleared) earns
 * the tick of severity 0; plain news is info.  The marks themselves are
 * the ones the layer rows and the curves use (ui_severity_glyph,
 * crt_severity_elem).
 */
static int
event_severity(const struct tm_event *ev)
{
    if (ev->kind == TM_EV_NONFINITE || ev->kind == TM_EV_ERROR)
        return 3;
    if (ev->kind == TM_EV_REFUSED)
        return ev->severity > 2 ? ev->severity : 2;
    int s = ev->severity < 0 ? 0 : ev->severity > 3 ? 3 : ev->severity;
    return s == 0 && ev->kind != TM_EV_FINDING ? 1 : s;
}

/* What the panel shows at its size: the events, their lines, where they start. */
struct flayout {
    int iy, ix, ih, iw, step_w, prefix, tw;
    int nev, nlines, y0;        /* y0: the screen row of the oldest shown event's first line */
    long first;                 /* ui_model_event index of evs[0] (the newest shown) */
    const struct tm_event *evs[MAX_SHOWN];
    char text[MAX_SHOWN][TM_TEXT_MAX + 16];
    int lines[MAX_SHOWN];
};

/* Lay out the events for r as findings_draw draws them; false when nothing fits. */
static bool
findings_layout(const struct ui *ui, const struct ui_model *m, const struct ui_rect *r,
                struct flayout *fl)
{
    fl->iy = r->y + 1, fl->ix = r->x + 1, fl->ih = r->h - 2, fl->iw = r->w - 2;
    fl->nev = fl->nlines = 0;
    fl->first = ui->find_scroll;
    if (fl->ih < 1 || fl->iw < 16 || ui_model_nevents(m) == 0)
        return false;
    /* Prefix: glyph, step right-aligned to the widest step shown. */
    char stepbuf[24];
    snprintf(stepbuf, sizeof stepbuf, "%ld", ui_model_step(m));
    fl->step_w = (int)strlen(stepbuf);
    fl->prefix = 3 + fl->step_w + 1;   /* space, glyph, space, step, space */
    fl->tw = fl->iw - fl->prefix - 1;
    if (fl->tw < 8)
        return false;
    for (long k = ui->find_scroll; fl->nlines < fl->ih && fl->nev < MAX_SHOWN; k++) {
        const struct tm_event *ev = ui_model_event(m, k);
        if (ev == NULL)
            break;
        int e = fl->nev++;
        ui_text_clean(fl->text[e], sizeof fl->text[e], ev->text, ui->utf8);
        fl->evs[e] = ev;
        fl->lines[e] = count_lines(fl->text[e], fl->tw, ui->utf8);
        fl->nlines += fl->lines[e];
    }
    /* Oldest first; a partly hidden oldest event shows its last lines. */
    fl->y0 = fl->nlines >= fl->ih ? fl->iy + fl->ih - fl->nlines : fl->iy;
    return true;
}

/* The sequence number (0 = the run's first event) of ui_model_event(m, k). */
static long
event_seq(const struct ui_model *m, long k)
{
    return m->nevents - 1 - k;
}

static void
findings_draw(struct ui *ui, const struct ui_rect *r)
{
    const struct ui_model *m = ui_view(ui);
    const struct ui_glyphs *g = ui->g;
    char title[64];
    long total = ui_model_nevents(m);

    /* Scrolled back: stay on the same events while new ones arrive. */
    if (ui->find_scroll > 0 && m->nevents > ui->find_total)
        ui->find_scroll += m->nevents - ui->find_total;
    ui->find_total = m->nevents;
    if (ui->find_scroll > total - 1)
        ui->find_scroll = total > 0 ? total - 1 : 0;

    if (ui->find_scroll > 0)
        snprintf(title, sizeof title, "findings (%ld) %s %ld newer below", m->nevents, g->down,
                 ui->find_scroll);
    else
        snprintf(title, sizeof title, "findings (%ld)", m->nevents);
    crt_box(r, title);
    if (total == 0) {
        if (r->h > 2 && r->w > 4)
            crt_put(r->y + 1, r->x + 2, r->w - 4, CRT_DIM, "no events yet");
        return;
    }
    static struct flayout fl;   /* large: not on the stack; only the UI thread draws */
    if (!findings_layout(ui, m, r, &fl))
        return;
    int y = fl.y0;
    for (int e = fl.nev - 1; e >= 0; e--) {
        const struct tm_event *ev = fl.evs[e];
        int sev = event_severity(ev);
        enum crt_elem el = crt_severity_elem(sev);
        bool sel = event_seq(m, fl.first + e) + 1 == ui->find_sel;
        const char *s = fl.text[e];
        for (int l = 0; l < fl.lines[e]; l++, y++) {
            size_t n = wrap_line(s, fl.tw, ui->utf8);
            if (y >= fl.iy && y < fl.iy + fl.ih) {
                if (l == 0) {
                    char step[24];
                    snprintf(step, sizeof step, "%*ld", fl.step_w, ev->step);
                    crt_put(y, fl.ix + 1, 1, el, ui_severity_glyph(g, sev));
                    crt_put(y, fl.ix + 3, fl.step_w, CRT_DIM, step);
                    if (sel)
                        crt_put(y, fl.ix, 1, CRT_SELECTED, g->cursor);
                }
                char part[TM_TEXT_MAX + 16];
                snprintf(part, sizeof part, "%.*s", (int)n, s);
                if (l == MAX_LINES_PER_EVENT - 1 && s[n] != '\0')
                    snprintf(part + strlen(part), sizeof part - strlen(part), "%s", g->ellipsis);
                crt_put(y, fl.ix + fl.prefix, fl.tw + 1,
                        sel ? CRT_SELECTED : el == CRT_OK ? CRT_NORMAL : el, part);
            }
            s += n;
            while (*s == ' ')
                s++;
        }
    }
}

long
ui_findings_hit(const struct ui *ui, int y)
{
    const struct ui_model *m = ui_view(ui);
    static struct flayout fl;
    if (!findings_layout(ui, m, &ui->layout.area[UI_AREA_FINDINGS], &fl))
        return -1;
    int row = fl.y0;
    for (int e = fl.nev - 1; e >= 0; e--) {
        if (y >= row && y < row + fl.lines[e] && y >= fl.iy && y < fl.iy + fl.ih)
            return event_seq(m, fl.first + e);
        row += fl.lines[e];
    }
    return -1;
}

const char *
ui_finding_rule(const struct ui_model *m, long seq, char *buf, size_t len)
{
    long k = m->nevents - 1 - seq;
    const struct tm_event *ev = seq >= 0 ? ui_model_event(m, k) : NULL;
    if (ev == NULL || ev->kind != TM_EV_FINDING || len == 0)
        return NULL;
    /* A finding's text starts with its rule id ("dead-relu layer 3: ..."). */
    size_t n = strcspn(ev->text, " :");
    if (n == 0 || n >= len)
        return NULL;
    memcpy(buf, ev->text, n);
    buf[n] = '\0';
    return doctor_rule_find(buf) >= 0 ? buf : NULL;
}

static int
findings_key(struct ui *ui, int key)
{
    const struct ui_model *m = ui_view(ui);
    long total = ui_model_nevents(m);
    long page = ui->layout.area[UI_AREA_FINDINGS].h - 3;
    page = page < 1 ? 1 : page;
    switch (key) {
    case UI_KEY_PGUP:
    case '[':
        ui->find_scroll += page;
        break;
    case UI_KEY_PGDN:
    case ']':
        ui->find_scroll = ui->find_scroll > page ? ui->find_scroll - page : 0;
        break;
    case UI_KEY_HOME: ui->find_scroll = total; break;
    case UI_KEY_END: ui->find_scroll = 0; break;
    default: return 0;
    }
    if (ui->find_scroll > total - 1)
        ui->find_scroll = total > 0 ? total - 1 : 0;
    ui->find_total = m->nevents;
    return UI_HANDLED | UI_REDRAW;
}

static void
findings_resize(struct ui *ui, const struct ui_rect *r)
{
    /* Wrapped to the width at each draw. */
}

static const char *
findings_help(void)
{
    return "events and doctor findings with their step, newest at the bottom "
           "(older ones are in events.jsonl); a click selects a finding for f and :explain";
}

const struct panel_class panel_findings_class = {
    .name = "findings",
    .draw = findings_draw,
    .key = findings_key,
    .resize = findings_resize,
    .help = findings_help,
};
