/*
 * check_run.c - shared main-loop for the Check suites.  It runs one suite;
 * it does not discover tests.
 */
#include "config.h"

#include "check_run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nntop/gemm.h"

/*
 * One byte per skip goes to this unlinked temporary file; forked test
 * processes inherit the descriptor (and its offset), so the parent sees
 * their skips in the file's size.
 */
static FILE *skips;

int
check_run(Suite *s)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    /* NNTOP_CONV_KERNEL forces the conv products' path, as in nntop. */
    char kernel_err[160];
    if (gemm_kernel_from_env(kernel_err, sizeof kernel_err) != 0) {
        fprintf(stderr, "%s\n", kernel_err);
        return 2;
    }
    skips = tmpfile();
    if (skips == NULL) {
        perror("tmpfile");
        abort();
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    struct stat st;
    if (fstat(fileno(skips), &st) != 0) {
        perror("fstat");
        abort();
    }
    fclose(skips);
    if (failed != 0)
        return EXIT_FAILURE;
    if (st.st_size > 0) {
        printf("SKIP: %lld test(s) could not run here (see SKIP lines above)\n",
               (long long)st.st_size);
        return 77;
    }
    return EXIT_SUCCESS;
}

void
check_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (skips == NULL || write(fileno(skips), "s", 1) != 1) {
        perror("check_skip");
        abort();
    }
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

bool
check_lines_next(struct check_lines *r)
{
    for (;;) {
        ssize_t len = getline(&r->line, &r->cap, r->f);
        if (len < 0)
            return false;
        r->lineno++;
        while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
            r->line[--len] = '\0';
        if (len > 0 && r->line[0] != '#')
            return true;
    }
}
