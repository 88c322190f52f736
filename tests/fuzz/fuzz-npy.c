/*
 * fuzz-npy.c - libFuzzer target for the NumPy reader (.npy, gzipped .npy
 * and .npz archives): the input is an inputs file, a line "--", then a
 * labels file; each is named .npz when it starts with the zip magic "PK"
 * (.npy otherwise, gzip read transparently).  Without the separator the
 * one file is both: a .npz as data.train_labels left out reads it (the
 * labels from the inputs' archive), a .npy named twice.  Errors are expected;
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
zip(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 'P' && p[1] == 'K';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    size_t cut = fuzz_split(data, n);
    struct data_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.source = DATA_NPY;
    spec.label_index = -1;
    spec.val_fraction = 0.1;
    fuzz_write(spec.train_images, sizeof spec.train_images,
               zip(data, cut) ? "inputs.npz" : "inputs.npy", data, cut);
    if (cut < n) {
        const uint8_t *lab = data + cut + 4;
        size_t nlab = n - cut - 4;
        fuzz_write(spec.train_labels, sizeof spec.train_labels,
                   zip(lab, nlab) ? "labels.npz" : "labels.npy", lab, nlab);
    } else if (!zip(data, cut)) {
        memcpy(spec.train_labels, spec.train_images, sizeof spec.train_labels);
    }
    struct data d;
    char *cause = NULL;
    if (data_load(&d, &spec, 1, &cause) == 0)
        data_fini(&d);
    free(cause);
    return 0;
}
