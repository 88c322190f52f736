/*
 * crt.c - the terminal: the only file in nntop that includes curses.
 *
 * crt_init/crt_fini own all curses state: the locale decision (UTF-8 or
 * ASCII glyphs), the screen from newterm() (never initscr(), which exits
 * on an unusable TERM), the semantic colour table with its monochrome
 * twin (NO_COLOR, or no colours), and stderr, which is parked in a
 * temporary file while the screen is up so that a stray message from any
 * thread cannot scribble over the dashboard; it is replayed on exit.
 * Deliberately not here: what is drawn where (screen.c and the panels).
 */
#include "config.h"

#include "crt.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <term.h>
#include <unistd.h>

#include "nntop/xmem.h"

static SCREEN *crt_screen;
static bool crt_active;
static bool crt_is_utf8;
static bool crt_has_colour;
static attr_t crt_attr[CRT_ELEM_COUNT];
static int crt_saved_stderr = -1;
static FILE *crt_err_file;
static bool crt_hook_registered;
static bool crt_locale_done;
static enum crt_depth crt_depth_now = CRT_DEPTH_SHADES;   /* how pictures are drawn */
static int crt_levels_now = CRT_LEVELS;                     /* levels of a palette */
static int crt_pixel_base;      /* first colour pair of the pictures */

/* xterm's 256-colour cube entry of r, g, b in 0..5. */
#define CUBE(r, g, b) ((short)(16 + 36 * (r) + 6 * (g) + (b)))

/* The palettes' colours, darkest (or most negative) first. */
static const short crt_palette_colour[CRT_PAL_COUNT][CRT_LEVELS] = {
    [CRT_PAL_GREY] = {16, 233, 234, 236, 237, 239, 240, 242, 244, 246, 247, 249, 250, 252, 254,
                      231},
    [CRT_PAL_HEAT] = {CUBE(0, 0, 0), CUBE(1, 0, 0), CUBE(2, 0, 0), CUBE(3, 0, 0), CUBE(4, 0, 0),
                      CUBE(5, 0, 0), CUBE(5, 1, 0), CUBE(5, 2, 0), CUBE(5, 3, 0), CUBE(5, 4, 0),
                      CUBE(5, 5, 0), CUBE(5, 5, 1), CUBE(5, 5, 2), CUBE(5, 5, 3), CUBE(5, 5, 4),
                      CUBE(5, 5, 5)},
    [CRT_PAL_SIGNED] = {CUBE(1, 3, 5), CUBE(0, 2, 5), CUBE(0, 1, 5), CUBE(0, 0, 5), CUBE(0, 0, 4),
                        CUBE(0, 0, 3), CUBE(0, 0, 2), CUBE(0, 0, 1), CUBE(1, 0, 0), CUBE(2, 0, 0),
                        CUBE(3, 0, 0), CUBE(4, 0, 0), CUBE(5, 0, 0), CUBE(5, 1, 0), CUBE(5, 3, 0),
                        CUBE(5, 5, 1)},
};

/*
 * The palettes in 24-bit colour: the same ramps as the 256-colour ones,
 * as (position 0..1, r, g, b) anchors joined by straight lines.
 */
static const struct { int n; double at[5]; int rgb[5][3]; } crt_palette_anchor[CRT_PAL_COUNT] = {
    [CRT_PAL_GREY] = {2, {0, 1}, {{0, 0, 0}, {255, 255, 255}}},
    [CRT_PAL_HEAT] = {4, {0, 1.0 / 3, 2.0 / 3, 1},
                      {{0, 0, 0}, {255, 0, 0}, {255, 255, 0}, {255, 255, 255}}},
    [CRT_PAL_SIGNED] = {5, {0, 0.2, 0.5, 0.8, 1},
                        {{95, 175, 255}, {0, 0, 255}, {0, 0, 0}, {255, 0, 0}, {255, 255, 95}}},
};

void
crt_palette_rgb(enum crt_palette pal, int level, int levels, int rgb[3])
{
    if ((int)pal < 0 || pal >= CRT_PAL_COUNT)
        pal = CRT_PAL_GREY;
    double t = levels > 1 ? (double)level / (levels - 1) : 0.0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    int n = crt_palette_anchor[pal].n, k = 0;
    while (k + 2 < n && t > crt_palette_anchor[pal].at[k + 1])
        k++;
    double a = crt_palette_anchor[pal].at[k], b = crt_palette_anchor[pal].at[k + 1];
    double f = b > a ? (t - a) / (b - a) : 0.0;
    for (int c = 0; c < 3; c++) {
        double lo = crt_palette_anchor[pal].rgb[k][c], hi = crt_palette_anchor[pal].rgb[k + 1][c];
        rgb[c] = (int)(lo + f * (hi - lo) + 0.5);
    }
}

/* Colour pairs the pictures take at levels levels: every (palette, top,
 * bottom or none). */
static int
crt_pixel_pairs(int levels)
{
    return CRT_PAL_COUNT * levels * (levels + 1);
}

enum crt_depth
crt_pick_depth(bool colour, bool utf8, int colors, int pairs, int *levels)
{
    int base = CRT_ELEM_COUNT + 1;
    *levels = CRT_LEVELS;
    if (!colour || !utf8)
        return CRT_DEPTH_SHADES;
    if (colors >= 1 << 24) {
        /* Direct colour: numbers are RGB, so the 256-colour palettes mean
         * nothing here; as many levels as the pairs allow. */
        if (pairs >= base + crt_pixel_pairs(CRT_LEVELS_DIRECT)) {
            *levels = CRT_LEVELS_DIRECT;
            return CRT_DEPTH_DIRECT;
        }
        return pairs >= base + crt_pixel_pairs(CRT_LEVELS) ? CRT_DEPTH_DIRECT : CRT_DEPTH_SHADES;
    }
    if (colors >= 256 && pairs >= base + crt_pixel_pairs(CRT_LEVELS))
        return CRT_DEPTH_256;
    return CRT_DEPTH_SHADES;
}

bool
crt_colorterm_direct(const char *colorterm)
{
    return colorterm != NULL
           && (strcasecmp(colorterm, "truecolor") == 0 || strcasecmp(colorterm, "24bit") == 0);
}

bool
crt_direct_twin(const char *term, char *out, size_t len)
{
    static const char *const depth[] = {"-256color", "-88color", "-16color", "-color"};
    size_t n = term != NULL ? strlen(term) : 0;
    if (n == 0 || (n >= 7 && strcmp(term + n - 7, "-direct") == 0))
        return false;
    for (size_t i = 0; i < sizeof depth / sizeof depth[0]; i++) {
        size_t d = strlen(depth[i]);
        if (n > d && strcmp(term + n - d, depth[i]) == 0) {
            n -= d;
            break;
        }
    }
    return snprintf(out, len, "%.*s-direct", (int)n, term) < (int)len;
}

/* The colour pair of a cell: top level and bottom level (-1 none) of pal. */
static int
crt_pixel_pair(int pal, int top, int bottom)
{
    return crt_pixel_base + (pal * crt_levels_now + top) * (crt_levels_now + 1) + bottom + 1;
}

/* The terminal colour of a level of pal at the depth chosen. */
static int
crt_level_colour(int pal, int level)
{
    if (crt_depth_now != CRT_DEPTH_DIRECT)
        return crt_palette_colour[pal][level];
    int rgb[3];
    crt_palette_rgb((enum crt_palette)pal, level, crt_levels_now, rgb);
    int v = rgb[0] << 16 | rgb[1] << 8 | rgb[2];
    /* Direct colour numbers below 8 are the terminal's ANSI colours. */
    return v < 8 ? 0x010101 : v;
}

/* Does terminfo describe name as a direct-colour (24-bit) terminal? */
static bool
crt_terminfo_direct(const char *name)
{
    int err = 0;
    if (setupterm(name, STDOUT_FILENO, &err) != OK)
        return false;
    bool direct = tigetflag("RGB") > 0 || tigetnum("colors") >= 1 << 24;
    del_curterm(cur_term);
    return direct;
}

/*
 * The semantic colour table: colour pair (foreground, background; -1 is
 * the terminal's default) plus attribute, and the attribute used without
 * colour, which alone must keep every warning visible.
 */
static const struct {
    short fg, bg;
    attr_t colour_attr;
    attr_t mono_attr;
} crt_scheme[CRT_ELEM_COUNT] = {
    [CRT_NORMAL] = {-1, -1, A_NORMAL, A_NORMAL},
    [CRT_DIM] = {-1, -1, A_DIM, A_DIM},
    [CRT_BOLD] = {-1, -1, A_BOLD, A_BOLD},
    [CRT_BORDER] = {COLOR_BLUE, -1, A_NORMAL, A_NORMAL},
    [CRT_TITLE] = {-1, -1, A_BOLD, A_BOLD},
    [CRT_RUNNING] = {COLOR_GREEN, -1, A_BOLD, A_BOLD},
    [CRT_PAUSED] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [CRT_DONE] = {COLOR_CYAN, -1, A_BOLD, A_BOLD},
    [CRT_FAILED] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE},
    [CRT_TRAIN] = {COLOR_CYAN, -1, A_NORMAL, A_NORMAL},
    [CRT_VAL] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [CRT_REG] = {COLOR_MAGENTA, -1, A_NORMAL, A_NORMAL},
    [CRT_OK] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [CRT_WARN] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [CRT_ERROR] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE},
    [CRT_SELECTED] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [CRT_BAR_KEY] = {-1, -1, A_BOLD, A_BOLD},
    [CRT_BAR_NAME] = {COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE},
    [CRT_HIST] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [CRT_MSG_ERROR] = {COLOR_RED, -1, A_BOLD, A_BOLD},
};

static void
crt_locale(void)
{
    if (!crt_locale_done) {
        setlocale(LC_CTYPE, "");
        crt_locale_done = true;
    }
}

static bool
crt_codeset_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs != NULL && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

bool
crt_can_start(char *why, size_t len)
{
    crt_locale();
    if (!isatty(STDIN_FILENO)) {
        snprintf(why, len, "standard input is not a terminal");
        return false;
    }
    if (!isatty(STDOUT_FILENO)) {
        snprintf(why, len, "standard output is not a terminal");
        return false;
    }
    const char *term = getenv("TERM");
    if (term == NULL || *term == '\0') {
        snprintf(why, len, "TERM is not set");
        return false;
    }
    if (strcmp(term, "dumb") == 0) {
        snprintf(why, len, "TERM=dumb cannot show the dashboard");
        return false;
    }
    int err = 0;
    if (setupterm(term, STDOUT_FILENO, &err) != OK) {
        if (err == -1)
            snprintf(why, len, "no terminfo database to describe TERM=%s", term);
        else
            snprintf(why, len, "unknown terminal type TERM=%s", term);
        return false;
    }
    const char *cup = tigetstr("cup");
    bool addressable = cup != NULL && cup != (const char *)-1;
    del_curterm(cur_term);
    if (!addressable) {
        snprintf(why, len, "TERM=%s has no cursor addressing", term);
        return false;
    }
    return true;
}

/* Park stderr in a temporary file while curses owns the terminal. */
static void
crt_stderr_park(void)
{
    fflush(stderr);
    crt_err_file = tmpfile();
    if (crt_err_file == NULL)
        return;
    crt_saved_stderr = dup(STDERR_FILENO);
    if (crt_saved_stderr < 0 || dup2(fileno(crt_err_file), STDERR_FILENO) < 0) {
        if (crt_saved_stderr >= 0)
            close(crt_saved_stderr);
        crt_saved_stderr = -1;
        fclose(crt_err_file);
        crt_err_file = NULL;
    }
}

/* Give stderr back and replay whatever was written to it meanwhile. */
static void
crt_stderr_restore(void)
{
    if (crt_err_file == NULL)
        return;
    fflush(stderr);
    dup2(crt_saved_stderr, STDERR_FILENO);
    close(crt_saved_stderr);
    crt_saved_stderr = -1;
    rewind(crt_err_file);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, crt_err_file)) > 0)
        fwrite(buf, 1, n, stderr);
    fflush(stderr);
    fclose(crt_err_file);
    crt_err_file = NULL;
}

static void
crt_colours(void)
{
    const char *no_colour = getenv("NO_COLOR");
    /* no-color.org: present and not empty disables colour. */
    crt_has_colour = has_colors() && !(no_colour != NULL && *no_colour != '\0');
    if (crt_has_colour && start_color() != OK)
        crt_has_colour = false;
    if (crt_has_colour && COLORS < 8)
        crt_has_colour = false;
    bool defaults = crt_has_colour && use_default_colors() == OK;
    for (int e = 0; e < CRT_ELEM_COUNT; e++) {
        if (!crt_has_colour) {
            crt_attr[e] = crt_scheme[e].mono_attr;
            continue;
        }
        short fg = crt_scheme[e].fg, bg = crt_scheme[e].bg;
        if (!defaults) {
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        if (e + 1 < COLOR_PAIRS && init_pair((short)(e + 1), fg, bg) == OK)
            crt_attr[e] = COLOR_PAIR(e + 1) | crt_scheme[e].colour_attr;
        else
            crt_attr[e] = crt_scheme[e].mono_attr;
    }
    /* Pictures in colour: every (palette, top, bottom) pair made up front,
     * as extended pairs (there are more than COLOR_PAIR() can name). */
    crt_pixel_base = CRT_ELEM_COUNT + 1;
    crt_depth_now = crt_pick_depth(crt_has_colour, crt_is_utf8, COLORS, COLOR_PAIRS,
                                   &crt_levels_now);
    bool ok = crt_depth_now != CRT_DEPTH_SHADES;
    for (int p = 0; ok && p < CRT_PAL_COUNT; p++) {
        for (int t = 0; ok && t < crt_levels_now; t++) {
            for (int b = -1; ok && b < crt_levels_now; b++) {
                int bg = b >= 0 ? crt_level_colour(p, b) : defaults ? -1 : COLOR_BLACK;
                ok = init_extended_pair(crt_pixel_pair(p, t, b), crt_level_colour(p, t), bg) == OK;
            }
        }
    }
    if (!ok) {
        crt_depth_now = CRT_DEPTH_SHADES;
        crt_levels_now = CRT_LEVELS;
    }
}

int
crt_init(char *why, size_t len)
{
    crt_locale();
    crt_is_utf8 = crt_codeset_utf8();
    fflush(stdout);
    /* COLORTERM=truecolor on a terminal whose terminfo entry has 256
     * colours: its -direct twin, when terminfo has one, draws in 24 bits. */
    const char *term = getenv("TERM"), *no_colour = getenv("NO_COLOR");
    char twin[256];
    const char *use = NULL;
    if (crt_colorterm_direct(getenv("COLORTERM")) && !(no_colour != NULL && *no_colour != '\0')
        && !crt_terminfo_direct(term) && crt_direct_twin(term, twin, sizeof twin)
        && crt_terminfo_direct(twin))
        use = twin;
    crt_screen = newterm(use, stdout, stdin);
    if (crt_screen == NULL) {
        snprintf(why, len, "cannot start the screen on TERM=%s", term != NULL ? term : "");
        return -1;
    }
    set_term(crt_screen);
    crt_active = true;
    if (!crt_hook_registered) {
        fatal_push_hook(crt_fini);
        crt_hook_registered = true;
    }
    crt_stderr_park();
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    /* Clicks and the wheel only; no motion events, no click delay. */
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    set_escdelay(25);
    curs_set(0);
    crt_colours();
    return 0;
}

void
crt_fini(void)
{
    if (!crt_active)
        return;
    crt_active = false;
    curs_set(1);
    endwin();
    delscreen(crt_screen);
    crt_screen = NULL;
    crt_stderr_restore();
}

bool
crt_utf8(void)
{
    return crt_is_utf8;
}

bool
crt_colour(void)
{
    return crt_has_colour;
}

int
crt_getkey(int timeout_ms)
{
    wtimeout(stdscr, timeout_ms);
    int c = wgetch(stdscr);
    switch (c) {
    case ERR: return UI_KEY_NONE;
    case KEY_RESIZE: return UI_KEY_RESIZE;
    case KEY_MOUSE: return UI_KEY_MOUSE;
    case KEY_UP: return UI_KEY_UP;
    case KEY_DOWN: return UI_KEY_DOWN;
    case KEY_LEFT: return UI_KEY_LEFT;
    case KEY_RIGHT: return UI_KEY_RIGHT;
    case KEY_HOME: return UI_KEY_HOME;
    case KEY_END: return UI_KEY_END;
    case KEY_PPAGE: return UI_KEY_PGUP;
    case KEY_NPAGE: return UI_KEY_PGDN;
    case KEY_DC: return UI_KEY_DELETE;
    case KEY_BTAB: return UI_KEY_BTAB;
    case KEY_ENTER:
    case '\r':
    case '\n':
        return UI_KEY_ENTER;
    case KEY_BACKSPACE:
    case 127:
    case '\b':
        return UI_KEY_BACKSPACE;
    default:
        if (c >= KEY_F(1) && c <= KEY_F(12))
            return UI_KEY_F1 + (c - KEY_F(1));
        if (c >= 0 && c < 256)
            return c;
        return UI_KEY_UNKNOWN;
    }
}

bool
crt_mouse(struct ui_mouse *out)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return false;
    out->y = ev.y;
    out->x = ev.x;
    if (ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED))
        out->kind = UI_MOUSE_CLICK;
    else if (ev.bstate & BUTTON4_PRESSED)
        out->kind = UI_MOUSE_WHEEL_UP;
    else if (ev.bstate & BUTTON5_PRESSED)
        out->kind = UI_MOUSE_WHEEL_DOWN;
    else
        return false;
    return true;
}

void
crt_size(int *rows, int *cols)
{
    getmaxyx(stdscr, *rows, *cols);
}

void
crt_erase(void)
{
    werase(stdscr);
}

void
crt_clear(void)
{
    clearok(curscr, TRUE);
}

int
crt_put(int y, int x, int maxw, enum crt_elem e, const char *s)
{
    char clean[4096];
    int used = 0;
    if (maxw <= 0 || y < 0 || x < 0)
        return 0;
    ui_text_clean(clean, sizeof clean, s, crt_is_utf8);
    size_t nb = ui_text_fit(clean, maxw, crt_is_utf8, &used);
    if (nb == 0)
        return 0;
    wattrset(stdscr, crt_attr[e]);
    mvwaddnstr(stdscr, y, x, clean, (int)nb);
    wattrset(stdscr, A_NORMAL);
    return used;
}

int
crt_put_label(int y, int x, int w, enum crt_elem e, const char *label)
{
    if (ui_text_width(label, crt_is_utf8) <= w)
        return crt_put(y, x, w, e, label);
    const char *ell = ui_glyphs(crt_is_utf8)->ellipsis;
    int ew = ui_text_width(ell, crt_is_utf8);
    char buf[512];
    size_t fit = ui_text_fit(label, w - ew > 0 ? w - ew : 0, crt_is_utf8, NULL);
    snprintf(buf, sizeof buf, "%.*s%s", (int)fit, label, ell);
    return crt_put(y, x, w, e, buf);
}

enum crt_elem
crt_severity_elem(int severity)
{
    return severity >= 3 ? CRT_ERROR : severity == 2 ? CRT_WARN : severity == 0 ? CRT_OK
                                                                                : CRT_NORMAL;
}

void
crt_fill(int y, int x, int w, enum crt_elem e)
{
    if (w <= 0 || y < 0 || x < 0)
        return;
    wattrset(stdscr, crt_attr[e]);
    wmove(stdscr, y, x);
    for (int i = 0; i < w; i++)
        waddch(stdscr, ' ');
    wattrset(stdscr, A_NORMAL);
}

void
crt_box(const struct ui_rect *r, const char *title)
{
    const struct ui_glyphs *g = ui_glyphs(crt_is_utf8);
    if (r->w < 2 || r->h < 2)
        return;
    int bottom = r->y + r->h - 1, right = r->x + r->w - 1;
    crt_put(r->y, r->x, 1, CRT_BORDER, g->tl);
    crt_put(r->y, right, 1, CRT_BORDER, g->tr);
    crt_put(bottom, r->x, 1, CRT_BORDER, g->bl);
    crt_put(bottom, right, 1, CRT_BORDER, g->br);
    for (int x = r->x + 1; x < right; x++) {
        crt_put(r->y, x, 1, CRT_BORDER, g->h);
        crt_put(bottom, x, 1, CRT_BORDER, g->h);
    }
    for (int y = r->y + 1; y < bottom; y++) {
        crt_put(y, r->x, 1, CRT_BORDER, g->v);
        crt_put(y, right, 1, CRT_BORDER, g->v);
    }
    if (title != NULL && r->w > 6) {
        char t[512];
        snprintf(t, sizeof t, " %s ", title);
        crt_put(r->y, r->x + 1, r->w - 2, CRT_TITLE, t);
    }
}

bool
crt_pixels_colour(void)
{
    return crt_depth_now != CRT_DEPTH_SHADES;
}

enum crt_depth
crt_depth(void)
{
    return crt_depth_now;
}

int
crt_levels(void)
{
    return crt_levels_now;
}

void
crt_pixel(int y, int x, enum crt_palette pal, int top, int bottom)
{
    if (y < 0 || x < 0 || (int)pal < 0 || pal >= CRT_PAL_COUNT)
        return;
    int levels = crt_levels_now;
    top = top < 0 ? 0 : top >= levels ? levels - 1 : top;
    bottom = bottom < -1 ? -1 : bottom >= levels ? levels - 1 : bottom;
    const struct ui_glyphs *g = ui_glyphs(crt_is_utf8);
    if (crt_depth_now != CRT_DEPTH_SHADES) {
        /* An extended pair goes through opts: COLOR_PAIR() keeps 8 bits. */
        int pair = crt_pixel_pair(pal, top, bottom);
        wattr_set(stdscr, A_NORMAL, 0, &pair);
        mvwaddstr(stdscr, y, x, g->upper_half);
        wattrset(stdscr, A_NORMAL);
        return;
    }
    /* One shade for the cell: the mean of its pixels on the shade ramp. */
    int sum = bottom >= 0 ? top + bottom : 2 * top;
    int k = sum * UI_SHADES / (2 * levels);
    mvwaddstr(stdscr, y, x, g->shade[k < UI_SHADES ? k : UI_SHADES - 1]);
}

void
crt_clear_rect(const struct ui_rect *r)
{
    for (int y = r->y; y < r->y + r->h; y++)
        crt_fill(y, r->x, r->w, CRT_NORMAL);
}

void
crt_cursor(int y, int x)
{
    if (y < 0) {
        curs_set(0);
        return;
    }
    wmove(stdscr, y, x);
    curs_set(1);
}

void
crt_refresh(void)
{
    wnoutrefresh(stdscr);
    doupdate();
}
