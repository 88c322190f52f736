/*
 * fuzz-runlog.c - libFuzzer target for the run-log readers behind
 * --replay, --resume and --reproduce: the input is metrics.csv, a line
 * "--", layers.csv, "--", events.jsonl of a run directory, read by each
 * reader and then by replay_open.  Errors are expected; crashes, leaks,
 * hangs and allocations beyond the input are not.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "nntop/replay.h"
#include "nntop/runlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static const char *const names[3] = {"metrics.csv", "layers.csv", "events.jsonl"};
    char path[256];
    for (int i = 0; i < 3; i++) {
        size_t cut = fuzz_split(data, n);
        fuzz_write(path, sizeof path, names[i], data, cut);
        size_t skip = cut < n ? cut + 4 : n;
        data += skip;
        n -= skip;
    }
    const char *dir = fuzz_dir();
    char *cause = NULL;
    struct metrics_row *m = NULL;
    struct layer_row *l = NULL;
    struct runlog_event_rec *ev = NULL;
    size_t k = 0;
    if (runlog_read_metrics(dir, &m, &k, &cause) == 0)
        free(m);
    free(cause);
    cause = NULL;
    if (runlog_read_layers(dir, &l, &k, &cause) == 0)
        free(l);
    free(cause);
    cause = NULL;
    if (runlog_read_events(dir, &ev, &k, &cause) == 0) {
        for (size_t i = 0; i < k; i++) {
            double x;
            char s[64];
            runlog_event_get_num(ev[i].line, "value", &x);
            runlog_event_get_str(ev[i].line, "kind", s, sizeof s);
        }
        runlog_events_free(ev, k);
    }
    free(cause);
    cause = NULL;
    struct replay *r = NULL;
    if (replay_open(&r, dir, &cause) == 0)
        replay_free(r);
    free(cause);
    return 0;
}
