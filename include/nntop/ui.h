/*
 * ui.h - the ncurses dashboard: header, loss curves, per-layer table,
 * histograms, findings, keys and the ':' command prompt.
 *
 * The dashboard reads telemetry records and sends commands only through
 * a struct feed (telemetry.h), so it cannot tell a live trainer from a
 * replayed run log.  It is the only part of nntop that calls curses.
 * Deliberately not here: anything about the model, files or threads;
 * main decides between the dashboard and the headless printer.
 */
#ifndef NNTOP_UI_H
#define NNTOP_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nntop/telemetry.h"

/* ui_run's result when the terminal cannot carry the dashboard. */
#define UI_NO_TERMINAL (-1)

struct ui_opts {
    bool exit_when_done;    /* return once training ended and every record was read */
    long iterations;        /* quit (as with q) after this many screen updates; 0 = no limit */
};

/*
 * Can this process show the dashboard?  Sets LC_CTYPE from the
 * environment (call it before starting threads), then checks that stdin
 * and stdout are terminals and that TERM names a terminal with cursor
 * addressing.  Touches nothing on the screen.  Returns true, or false
 * with a one-line reason in why ("TERM=dumb cannot show the dashboard").
 */
bool ui_can_start(char *why, size_t len);

/*
 * Run the dashboard on feed (borrowed) until the user quits (after the
 * producer has finished: q sends TM_CMD_QUIT and waits for it), or, with
 * opts->exit_when_done, until training has ended.  opts may be NULL.
 * SIGINT, SIGTERM and SIGHUP (unblocked in the calling thread while it
 * runs) quit as q does.  Returns 0, the number of the signal that ended
 * it (as headless_run does), or UI_NO_TERMINAL before touching the screen
 * when the terminal cannot carry it (the caller falls back to the
 * headless printer).  The terminal is restored on every return and on
 * fatal().
 */
int ui_run(struct feed *feed, const struct ui_opts *opts);

/* Runs one dashboard compares at most (nntop --replay RUN_A RUN_B ...). */
#define UI_MAX_RUNS 4

/*
 * ui_run over nfeeds feeds (1..UI_MAX_RUNS, borrowed), one run each: the
 * loss curves of every run overlaid (each with its letter A, B, ... as
 * marker and in the legend), the header, layer table and commands of the
 * selected run (r selects the next), and its histogram overlaid on the
 * first run's (the second's when the first is selected).  It finishes
 * when every feed has.  Returns as ui_run.
 */
int ui_run_many(struct feed *feeds, int nfeeds, const struct ui_opts *opts);

/*
 * Parse one line of the ':' prompt language ("lr 3e-4", "clip norm 1",
 * "step 10", ...; a leading ':' is allowed) into *out.  Returns 0 with
 * *out filled, 1 for a blank line (nothing to do), 2 for a well-formed
 * command the dashboard carries out itself ("help lr", "export hist
 * FILE"; *out untouched), or -1 with a one-line message in err ("unknown
 * command 'lr2'") and *out untouched.
 */
int ui_parse_command(const char *line, struct tm_command *out, char *err, size_t len);

/* Write the key table as roff -man (.TP paragraphs) for nntop(1). */
void ui_keys_roff(FILE *fp);
/* Write the ':' prompt language as roff -man (.TP paragraphs) for nntop(1). */
void ui_commands_roff(FILE *fp);

#endif
