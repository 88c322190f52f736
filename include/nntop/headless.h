/*
 * headless.h - the plain progress printer: the consumer of the telemetry
 * stream when there is no dashboard (--headless, stdout not a terminal,
 * or a terminal that cannot carry the dashboard).
 */
#ifndef NNTOP_HEADLESS_H
#define NNTOP_HEADLESS_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "nntop/telemetry.h"

/* What the printer saw that main needs for its exit status. */
struct headless_result {
    bool gradcheck_seen;        /* a gradient-check table arrived */
    int gradcheck_verdict;      /* ... and its verdict (enum tm_gc_verdict) */
    int max_severity;           /* highest doctor finding raised (1 info .. 3 error), -1 none */
};

struct headless_opts {
    FILE *out;                  /* where progress lines go (stdout) */
    FILE *err;                  /* where errors and "caught signal" go (stderr); NULL = out */
    double progress_every_s;    /* a progress line at most this often; 0 = every step */
    bool tty;                   /* out is a terminal: one progress line rewritten with '\r' */
    bool verbose;               /* every evaluation line (else at most one a second) */
    bool summary;               /* a closing summary (steps, time, best val, test, findings) */
    const sigset_t *signals;    /* blocked signals to watch (SIGINT, SIGTERM), or NULL */
    /* A watched signal a handler caught on another thread (one that does
     * not block it), 0 until then; or NULL. */
    _Atomic int *stray;
    struct headless_result *result; /* filled when non-NULL */
    bool utf8;                  /* finding lines may use an em dash */
};

/*
 * Print the feed's records as lines until the producer finishes (each
 * doctor finding as it is raised or cleared; at the end a "doctor:"
 * line counting them per severity and rule).  On a watched signal it
 * sends a quit command and keeps draining.  Returns the signal number
 * that stopped the run, or 0.  The line formats (progress,
 * eval, event, summary) are documented in nntop(1), HEADLESS OUTPUT.
 */
int headless_run(struct feed *feed, const struct headless_opts *opts);

#endif
