/*
 * fuzz-csv.c - libFuzzer target for the CSV reader (plain or gzipped):
 * the first byte picks the header mode and label column, the rest is the
 * file.  Errors are expected; crashes, leaks, hangs and allocations
 * beyond the input are not.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "nntop/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    n--;
    struct data_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.source = DATA_CSV;
    spec.header = (enum csv_header)(mode % 3);
    spec.label_index = (mode >> 2) % 4 == 3 ? -1 : (mode >> 2) % 4;
    spec.val_fraction = 0.1;
    if (mode & 0x40)
        spec.normalize = (enum normalize_kind)(NORM_NONE + 1);
    bool gz = n >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    fuzz_write(spec.path, sizeof spec.path, gz ? "data.csv.gz" : "data.csv", data, n);
    struct data d;
    char *cause = NULL;
    if (data_load(&d, &spec, 1, &cause) == 0)
        data_fini(&d);
    free(cause);
    return 0;
}
