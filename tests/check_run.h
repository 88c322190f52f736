/*
 * check_run.h - the one main() every Check suite uses, and small helpers
 * the suites share (locating fixtures, temporary directories).
 */
#ifndef NNTOP_CHECK_RUN_H
#define NNTOP_CHECK_RUN_H

#include <check.h>

/*
 * Run suite s with CK_ENV verbosity (CK_VERBOSITY, default normal) and
 * unbuffered stdout; returns the process exit status (0 when every test
 * passed).  Set CK_FORK=no to run under gdb.
 */
int check_run(Suite *s);

/* Path of a file under the source tree's tests/data/ (static buffer). */
const char *check_data_path(const char *name);

/* Make a fresh empty temporary directory; returns a static path. */
const char *check_tmpdir(void);

#endif
