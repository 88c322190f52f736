/*
 * check_run.h - the one main() every Check suite uses, and small helpers
 * the suites share (locating fixtures, temporary directories).
 */
#ifndef NNTOP_CHECK_RUN_H
#define NNTOP_CHECK_RUN_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Run suite s with CK_ENV verbosity (CK_VERBOSITY, default normal) and
 * unbuffered stdout; returns the process exit status: 1 when a test
 * failed, else 77 (automake's SKIP) when a test called check_skip(), else
 * 0.  Set CK_FORK=no to run under gdb.
 */
int check_run(Suite *s);

/*
 * Record that the calling test cannot run here (its data or tool is
 * missing) and print "SKIP: " and the printf-style message; the test then returns.  Works with and
 * without CK_FORK.  A suite with one skipped test reports SKIP as a
 * whole, and its log names the test.  Tests left out of sanitizer builds
 * by design (they run in the plain tree) do not call it: they are not
 * registered there, and the suite prints which were left out.
 */
void check_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Path of a file under the source tree's tests/data/ (static buffer). */
const char *check_data_path(const char *name);

/* Make a fresh empty temporary directory; returns a static path. */
const char *check_tmpdir(void);

/* A text fixture (the PyTorch reference files) read a line at a time. */
struct check_lines {
    FILE *f;                /* the caller opens and closes it */
    char *line;             /* the current line, line end stripped (free it when done) */
    size_t cap;
    long lineno;            /* of the current line, from 1 */
};

/* The next line that is neither empty nor a '#' comment; false at end of file. */
bool check_lines_next(struct check_lines *r);

#endif
