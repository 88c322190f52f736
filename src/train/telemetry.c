/*
 * telemetry.c - the names telemetry.h gives its enums (run states, clip
 * kinds), so that producers and consumers spell them one way.
 *
 * Plain tables only: it knows neither the engine's enums nor who draws
 * the records.
 */
#include "config.h"

#include "nntop/telemetry.h"

#include <string.h>

static const char *const state_names[TM_RUN_STATE_COUNT] = {
    [TM_RUNNING] = "running",
    [TM_PAUSED] = "paused",
    [TM_DONE] = "done",
    [TM_FAILED] = "failed",
};

static const char *const clip_names[TM_CLIP_COUNT] = {
    [TM_CLIP_NONE] = "none",
    [TM_CLIP_NORM] = "norm",
    [TM_CLIP_VALUE] = "value",
};

const char *
tm_state_name(int state)
{
    return state >= 0 && state < TM_RUN_STATE_COUNT ? state_names[state] : "unknown";
}

const char *
tm_clip_name(int clip)
{
    return clip >= 0 && clip < TM_CLIP_COUNT ? clip_names[clip] : "?";
}

int
tm_clip_parse(const char *name)
{
    for (int k = 0; k < TM_CLIP_COUNT; k++)
        if (strcmp(name, clip_names[k]) == 0)
            return k;
    return -1;
}
