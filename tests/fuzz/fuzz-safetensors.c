/*
 * fuzz-safetensors.c - libFuzzer target for the checkpoint reader: the
 * input is a safetensors file loaded into a small fixed model (dense 2->4,
 * relu, batchnorm, dense 4->2), the model of the seed corpus's run.  Errors are
 * expected; crashes, leaks, hangs and allocations beyond the input are
 * not.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "nntop/nn.h"
#include "nntop/runlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static struct model *model;

static void
build(void)
{
    struct model_spec s;
    memset(&s, 0, sizeof s);
    s.in = 2;
    s.nlayers = 4;
    s.layers[0].kind = LAYER_DENSE;
    s.layers[0].units = 4;
    s.layers[1].kind = LAYER_RELU;
    s.layers[2].kind = LAYER_BATCHNORM;
    s.layers[3].kind = LAYER_DENSE;
    s.layers[3].units = 2;
    s.seed = 1;
    char *cause = NULL;
    model = model_new(&s, 4, &cause);
    if (model == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (model == NULL)
        build();
    char path[256];
    fuzz_write(path, sizeof path, "ck.safetensors", data, n);
    long step;
    double epoch;
    char *cfg = NULL, *cause = NULL;
    if (runlog_load_checkpoint(path, model, NULL, &step, &epoch, &cfg, &cause) == 0)
        free(cfg);
    free(cause);
    cause = NULL;
    runlog_checkpoint_has_step(path, &cause);
    free(cause);
    return 0;
}
