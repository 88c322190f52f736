/*
 * check_run.c - shared main-loop for the Check suites.  It runs one suite;
 * it does not discover tests.
 */
#include "config.h"

#include "check_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
check_run(Suite *s)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

const char *
check_data_path(const char *name)
{
    static char buf[4096];
    const char *top = getenv("top_srcdir");
    snprintf(buf, sizeof buf, "%s/tests/data/%s", top != NULL ? top : ".", name);
    return buf;
}

const char *
check_tmpdir(void)
{
    static char buf[64];
    strcpy(buf, "/tmp/nntop-test-XXXXXX");
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return buf;
}
