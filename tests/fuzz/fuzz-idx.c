/*
 * fuzz-idx.c - libFuzzer target for the IDX reader (plain or gzipped):
 * the input is an images file, a line "--", then a labels file; each is
 * named .gz when it starts with the gzip magic.  Errors are expected;
 * crashes, leaks, hangs and allocations beyond the input are not.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "nntop/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static bool
gz(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    size_t cut = fuzz_split(data, n);
    const uint8_t *lab = cut < n ? data + cut + 4 : data + n;
    size_t nlab = cut < n ? n - cut - 4 : 0;
    struct data_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.source = DATA_IDX;
    spec.label_index = -1;
    spec.val_fraction = 0.1;
    fuzz_write(spec.train_images, sizeof spec.train_images,
               gz(data, cut) ? "images.gz" : "images", data, cut);
    fuzz_write(spec.train_labels, sizeof spec.train_labels,
               gz(lab, nlab) ? "labels.gz" : "labels", lab, nlab);
    struct data d;
    char *cause = NULL;
    if (data_load(&d, &spec, 1, &cause) == 0)
        data_fini(&d);
    free(cause);
    return 0;
}
