/*
 * crt.h - the terminal: the only interface to curses.  crt_init/crt_fini
 * own all curses state (screen, colours, locale decision, stderr
 * redirection); the rest of the dashboard draws through these calls with
 * semantic elements, never with curses attributes.
 */
#ifndef NNTOP_UI_CRT_H
#define NNTOP_UI_CRT_H

#include <stdbool.h>
#include <stddef.h>

#include "ui-int.h"

/* What a piece of text is; crt maps it to colour or to a monochrome attribute. */
enum crt_elem {
    CRT_NORMAL,
    CRT_DIM,            /* axis labels, secondary text */
    CRT_BOLD,
    CRT_BORDER,
    CRT_TITLE,
    CRT_RUNNING,
    CRT_PAUSED,
    CRT_DONE,
    CRT_FAILED,
    CRT_TRAIN,          /* training curve */
    CRT_VAL,            /* validation curve */
    CRT_REG,            /* the L2 term's curve */
    CRT_OK,
    CRT_WARN,
    CRT_ERROR,
    CRT_SELECTED,       /* cursor row */
    CRT_BAR_KEY,        /* function bar: key */
    CRT_BAR_NAME,       /* function bar: action */
    CRT_HIST,
    CRT_MSG_ERROR,
    CRT_ELEM_COUNT
};

/*
 * May curses start here?  Checks stdin/stdout are terminals and TERM
 * names a terminal with cursor addressing, without touching the screen.
 * Returns true or false with a reason in why.
 */
bool crt_can_start(char *why, size_t len);
/*
 * Start curses with newterm() on stdout/stdin, decide UTF-8 and colours,
 * redirect stderr to a temporary file (replayed on crt_fini) and register
 * the fatal() hook.  Returns 0, or -1 with a reason in why.
 */
int crt_init(char *why, size_t len);
/* Restore the terminal (idempotent; safe from fatal()). */
void crt_fini(void);
/* The decisions crt_init made. */
bool crt_utf8(void);
bool crt_colour(void);

/* The next key (enum ui_key) within timeout_ms, or UI_KEY_NONE. */
int crt_getkey(int timeout_ms);
/* The mouse event behind the last UI_KEY_MOUSE; false when it is none we use. */
bool crt_mouse(struct ui_mouse *out);
void crt_size(int *rows, int *cols);

void crt_erase(void);
/* Force a full repaint on the next refresh (Ctrl-L, resize). */
void crt_clear(void);
/*
 * Draw text (any UTF-8; cleaned here) at (y, x) in at most maxw columns.
 * Returns the columns used.
 */
int crt_put(int y, int x, int maxw, enum crt_elem e, const char *s);
/*
 * A label (clean text) in w columns: whole, or cut with an ellipsis,
 * never into a shorter plausible value.  Returns the columns used.
 */
int crt_put_label(int y, int x, int w, enum crt_elem e, const char *label);
/* The element (colour) of a finding's severity, 0 ok .. 3 error. */
enum crt_elem crt_severity_elem(int severity);
/* Fill w columns at (y, x) with spaces in element e. */
void crt_fill(int y, int x, int w, enum crt_elem e);
/* A box around r with title (may be NULL) on its top border. */
void crt_box(const struct ui_rect *r, const char *title);
/* Clear r's inside (for overlays). */
void crt_clear_rect(const struct ui_rect *r);
/* How a picture's levels become colours (crt_pixel). */
enum crt_palette {
    CRT_PAL_GREY,       /* black to white: images, activation maps */
    CRT_PAL_HEAT,       /* black, red, yellow, white: saliency */
    CRT_PAL_SIGNED,     /* blue (negative), black (0), red to yellow: weights */
    CRT_PAL_COUNT
};
#define CRT_LEVELS 16           /* levels of a palette in 256 colours, and of the shades */
#define CRT_LEVELS_DIRECT 64    /* levels of a palette in 24-bit colour */

/* How pictures are drawn. */
enum crt_depth {
    CRT_DEPTH_SHADES,   /* one shade character a cell (no colour, or not UTF-8) */
    CRT_DEPTH_256,      /* half blocks in xterm's 256 colours */
    CRT_DEPTH_DIRECT,   /* half blocks in 24-bit colour */
};

/*
 * The depth for a terminal (pure; crt_init applies it): with colour
 * allowed and UTF-8, 24-bit when it has direct colour (colors >= 2^24,
 * terminfo's RGB) and pairs for the palettes, else 256 colours with
 * pairs for them, else shades.  *levels: CRT_LEVELS_DIRECT in 24-bit
 * when the pairs allow, else CRT_LEVELS.
 */
enum crt_depth crt_pick_depth(bool colour, bool utf8, int colors, int pairs, int *levels);
/* Does COLORTERM (may be NULL) say the terminal draws 24-bit colour
 * ("truecolor" or "24bit")? */
bool crt_colorterm_direct(const char *colorterm);
/*
 * The terminfo name of term's direct-colour twin into out ("xterm-256color"
 * and "xterm" -> "xterm-direct"); false when term is NULL, empty, already
 * "-direct" or the name does not fit.  Whether terminfo has it is crt_init's
 * question.
 */
bool crt_direct_twin(const char *term, char *out, size_t len);
/* Level (0..levels-1) of palette pal in 24-bit colour: rgb 0..255 each. */
void crt_palette_rgb(enum crt_palette pal, int level, int levels, int rgb[3]);

/*
 * True when crt_pixel draws two pixels a cell (half blocks in 24-bit or
 * 256 colours, see crt_pick_depth); otherwise a cell is one shade
 * character for the mean of its two.
 */
bool crt_pixels_colour(void);
/* The depth crt_init chose, and the levels of a palette at it. */
enum crt_depth crt_depth(void);
int crt_levels(void);
/*
 * One cell at (y, x) of a picture: its top and bottom pixels as levels
 * 0..crt_levels()-1 of palette pal (bottom -1: none, the picture's last
 * odd row).
 */
void crt_pixel(int y, int x, enum crt_palette pal, int top, int bottom);

/* Show the cursor at (y, x), or hide it with y < 0. */
void crt_cursor(int y, int x);
/* Push the frame to the terminal. */
void crt_refresh(void);

#endif
