/*
 * panel-findings.c - the run's events and the doctor's findings, newest
 * at the bottom, each with its step and a severity glyph (and colour),
 * wrapped to the panel's width; PgUp/PgDn ([ ]) scroll, End follows the
 * newest again.  Non-finite reports are drawn as errors whatever their
 * stated severity.
 *
 * It holds no text of its own: the model keeps the last UI_EVENTS_CAP
 * events; older ones are in the run's events.jsonl.
 */
#include "config.h"

#include "panel.h"

#include <stdio.h>
#include <string.h>

#include "crt.h"

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
    int iy = r->y + 1, ix = r->x + 1, ih = r->h - 2, iw = r->w - 2;
    if (ih < 1 || iw < 16)
        return;
    if (total == 0) {
        crt_put(iy, ix + 1, iw - 2, CRT_DIM, "no events yet");
        return;
    }

    /* Prefix: glyph, step right-aligned to the widest step shown. */
    char stepbuf[24];
    snprintf(stepbuf, sizeof stepbuf, "%ld", ui_model_step(m));
    int step_w = (int)strlen(stepbuf);
    int prefix = 3 + step_w + 1;   /* space, glyph, space, step, space */
    int tw = iw - prefix - 1;
    if (tw < 8)
        return;

    const struct tm_event *evs[MAX_SHOWN];
    char text[MAX_SHOWN][TM_TEXT_MAX + 16];
    int lines[MAX_SHOWN];
    int nev = 0, nlines = 0;
    for (long k = ui->find_scroll; nlines < ih && nev < MAX_SHOWN; k++) {
        const struct tm_event *ev = ui_model_event(m, k);
        if (ev == NULL)
            break;
        ui_text_clean(text[nev], sizeof text[nev], ev->text, ui->utf8);
        evs[nev] = ev;
        lines[nev] = count_lines(text[nev], tw, ui->utf8);
        nlines += lines[nev];
        nev++;
    }
    /* Oldest first; a partly hidden oldest event shows its last lines. */
    int y = nlines >= ih ? iy + ih - nlines : iy;
    for (int e = nev - 1; e >= 0; e--) {
        const struct tm_event *ev = evs[e];
        int sev = event_severity(ev);
        enum crt_elem el = crt_severity_elem(sev);
        const char *s = text[e];
        for (int l = 0; l < lines[e]; l++, y++) {
            size_t n = wrap_line(s, tw, ui->utf8);
            if (y >= iy && y < iy + ih) {
                if (l == 0) {
                    char step[24];
                    snprintf(step, sizeof step, "%*ld", step_w, ev->step);
                    crt_put(y, ix + 1, 1, el, ui_severity_glyph(g, sev));
                    crt_put(y, ix + 3, step_w, CRT_DIM, step);
                }
                char part[TM_TEXT_MAX + 16];
                snprintf(part, sizeof part, "%.*s", (int)n, s);
                if (l == MAX_LINES_PER_EVENT - 1 && s[n] != '\0')
                    snprintf(part + strlen(part), sizeof part - strlen(part), "%s", g->ellipsis);
                crt_put(y, ix + prefix, tw + 1, el == CRT_OK ? CRT_NORMAL : el, part);
            }
            s += n;
            while (*s == ' ')
                s++;
        }
    }
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
           "(older ones are in events.jsonl)";
}

const struct panel_class panel_findings_class = {
    .name = "findings",
    .draw = findings_draw,
    .key = findings_key,
    .resize = findings_resize,
    .help = findings_help,
};
