/*
 * fuzz-cfg.c - libFuzzer target for the config loader: the input is a
 * YAML document, then (after a line "--") one --set assignment per line.
 * The effective config is validated and written back as YAML, which must
 * load again.  Errors are expected; crashes, leaks and hangs are not.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "nntop/cfg.h"
#include "nntop/xmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    size_t cut = fuzz_split(data, n);
    struct cfg *c = xcalloc(1, sizeof *c);
    struct cfg_errs errs = {0};
    cfg_defaults(c);
    int rc = cfg_load_string(c, (const char *)data, cut, "fuzz.yaml", &errs);
    if (cut < n) {
        char *sets = xmalloc(n - cut - 4 + 1);
        memcpy(sets, data + cut + 4, n - cut - 4);
        sets[n - cut - 4] = '\0';
        char *save = NULL;
        for (char *line = strtok_r(sets, "\n", &save); rc == 0 && line != NULL;
             line = strtok_r(NULL, "\n", &save))
            rc = cfg_set(c, line, &errs);
        free(sets);
    }
    if (rc == 0)
        rc = cfg_validate(c, &errs);
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        cfg_errs_print(&errs, null);
        fclose(null);
    }
    cfg_errs_fini(&errs);
    if (rc == 0) {
        /* What --check-config prints must load back. */
        char *yaml = cfg_to_yaml(c);
        struct cfg *again = xcalloc(1, sizeof *again);
        struct cfg_errs e2 = {0};
        cfg_defaults(again);
        if (cfg_load_string(again, yaml, strlen(yaml), "effective.yaml", &e2) != 0)
            abort();
        cfg_errs_fini(&e2);
        free(again);
        free(yaml);
    }
    free(c);
    return 0;
}
