/*
 * telemetry.c - the names telemetry.h gives its enums (run states, clip
 * kinds, severities) and the event vocabulary, so that producers,
 * consumers and the run log's readers spell them one way.
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

/* The control socket's command names (control.h), one per kind. */
static const char *const cmd_names[TM_CMD_KIND_COUNT] = {
    [TM_CMD_PAUSE] = "pause",
    [TM_CMD_RESUME] = "resume",
    [TM_CMD_STEP] = "step",
    [TM_CMD_SET_LR] = "lr",
    [TM_CMD_SCALE_LR] = "lr_scale",
    [TM_CMD_SET_CLIP] = "clip",
    [TM_CMD_SET_MOMENTUM] = "momentum",
    [TM_CMD_SET_WD] = "weight_decay",
    [TM_CMD_SET_BATCH] = "batch_size",
    [TM_CMD_EVAL] = "eval",
    [TM_CMD_SAVE] = "save",
    [TM_CMD_SET_TELEMETRY] = "telemetry",
    [TM_CMD_GRADCHECK] = "gradcheck",
    [TM_CMD_OVERFIT] = "overfit",
    [TM_CMD_QUIT] = "quit",
    [TM_CMD_RESTORE] = "restore",
    [TM_CMD_BASELINE] = "baseline",
    [TM_CMD_DEPCHECK] = "depcheck",
    [TM_CMD_VIEW] = "view",
};

const char *
tm_cmd_name(int kind)
{
    return kind >= 0 && kind < TM_CMD_KIND_COUNT ? cmd_names[kind] : NULL;
}

int
tm_cmd_parse(const char *name)
{
    for (int k = 0; k < TM_CMD_KIND_COUNT; k++)
        if (cmd_names[k] != NULL && strcmp(name, cmd_names[k]) == 0)
            return k;
    return -1;
}

static const char *const severity_names[TM_SEV_COUNT] = {
    [TM_SEV_OK] = "ok",
    [TM_SEV_INFO] = "info",
    [TM_SEV_WARNING] = "warning",
    [TM_SEV_ERROR] = "error",
};

const char *
tm_severity_name(int severity)
{
    return severity >= 0 && severity < TM_SEV_COUNT ? severity_names[severity] : "?";
}

int
tm_severity_parse(const char *name)
{
    for (int k = 0; k < TM_SEV_COUNT; k++)
        if (strcmp(name, severity_names[k]) == 0)
            return k;
    return -1;
}

#define SHAPE "in classes train_n val_n test_n expected_loss total_steps steps_per_epoch"
#define GRADCHECK "verdict pass failed inconclusive seconds"

/* The event vocabulary.  Adding an event is adding a row here (and its enum). */
static const struct tm_event_def event_defs[TM_EVT_TYPE_COUNT] = {
    [TM_EVT_START] = {"start", TM_EV_INFO, TM_SEV_OK, NULL, -1, SHAPE},
    [TM_EVT_RESUME_RUN] = {"resume_run", TM_EV_INFO, TM_SEV_OK, NULL, -1, SHAPE},
    [TM_EVT_PAUSE] = {"pause", TM_EV_CHANGE, TM_SEV_OK, NULL, -1, ""},
    [TM_EVT_RESUME] = {"resume", TM_EV_CHANGE, TM_SEV_OK, NULL, -1, ""},
    [TM_EVT_STEP] = {"step", TM_EV_CHANGE, TM_SEV_OK, NULL, -1, "n"},
    [TM_EVT_LR] = {"lr", TM_EV_CHANGE, TM_SEV_OK, NULL, TM_CMD_SET_LR, "value"},
    [TM_EVT_CLIP] = {"clip", TM_EV_CHANGE, TM_SEV_OK, NULL, TM_CMD_SET_CLIP, "kind value"},
    [TM_EVT_MOMENTUM] = {"momentum", TM_EV_CHANGE, TM_SEV_OK, NULL, TM_CMD_SET_MOMENTUM,
                         "value"},
    [TM_EVT_WEIGHT_DECAY] = {"weight_decay", TM_EV_CHANGE, TM_SEV_OK, NULL, TM_CMD_SET_WD,
                             "value"},
    [TM_EVT_BATCH_SIZE] = {"batch_size", TM_EV_CHANGE, TM_SEV_OK, NULL, TM_CMD_SET_BATCH,
                           "value"},
    [TM_EVT_TELEMETRY] = {"telemetry", TM_EV_CHANGE, TM_SEV_OK, NULL, -1, "value"},
    [TM_EVT_OVERFIT] = {"overfit", TM_EV_CHANGE, TM_SEV_OK, NULL, TM_CMD_OVERFIT,
                        "value n weight_decay"},
    [TM_EVT_BASELINE_START] = {"baseline_start", TM_EV_INFO, TM_SEV_OK, NULL, -1, "steps"},
    [TM_EVT_BASELINE] = {"baseline", TM_EV_INFO, TM_SEV_OK, NULL, -1, "baseline_loss loss steps"},
    [TM_EVT_EVAL] = {"eval", TM_EV_INFO, TM_SEV_OK, NULL, -1, ""},
    [TM_EVT_GRADCHECK] = {"gradcheck", TM_EV_INFO, TM_SEV_OK, "PASS", -1, GRADCHECK},
    [TM_EVT_GRADCHECK_FAILED] = {"gradcheck", TM_EV_ERROR, TM_SEV_WARNING, "FAIL", -1,
                                 GRADCHECK},
    [TM_EVT_GRADCHECK_INCONCLUSIVE] = {"gradcheck", TM_EV_INFO, TM_SEV_INFO, "INCONCLUSIVE", -1,
                                       GRADCHECK " reason"},
    [TM_EVT_REFUSED] = {"refused", TM_EV_REFUSED, TM_SEV_INFO, NULL, -1, "command"},
    [TM_EVT_NONFINITE] = {"nonfinite", TM_EV_NONFINITE, TM_SEV_ERROR, NULL, -1,
                          "where loss grad_norm"},
    [TM_EVT_CHECKPOINT] = {"checkpoint", TM_EV_CHECKPOINT, TM_SEV_OK, NULL, -1, "file bytes"},
    [TM_EVT_ERROR] = {"error", TM_EV_ERROR, TM_SEV_ERROR, NULL, -1, "what message"},
    [TM_EVT_LOG_STALLED] = {"log_write_failed", TM_EV_ERROR, TM_SEV_ERROR, NULL, -1,
                            "message rows_held"},
    [TM_EVT_LOG_RESUMED] = {"log_write_resumed", TM_EV_INFO, TM_SEV_OK, NULL, -1, ""},
    [TM_EVT_TRUNCATE] = {"truncate", TM_EV_INFO, TM_SEV_WARNING, NULL, -1,
                         "to_step metrics_rows layers_rows events"},
    [TM_EVT_FINDING] = {"finding", TM_EV_FINDING, TM_SEV_WARNING, NULL, -1,
                        "rule stage value threshold advice state raised_step"},
    [TM_EVT_DONE] = {"done", TM_EV_INFO, TM_SEV_OK, NULL, -1, ""},
    [TM_EVT_QUIT] = {"quit", TM_EV_INFO, TM_SEV_OK, NULL, -1, ""},
    [TM_EVT_RESTORE] = {"restore", TM_EV_CHANGE, TM_SEV_OK, NULL, -1, "from_step value"},
};

const struct tm_event_def *
tm_event_def_at(int i)
{
    return i >= 0 && i < TM_EVT_TYPE_COUNT ? &event_defs[i] : NULL;
}

int
tm_event_find(const char *type, const char *verdict)
{
    int first = -1;
    for (int i = 0; i < TM_EVT_TYPE_COUNT; i++) {
        const struct tm_event_def *d = &event_defs[i];
        if (strcmp(d->type, type) != 0)
            continue;
        if (verdict != NULL && d->verdict != NULL && strcmp(d->verdict, verdict) == 0)
            return i;
        if (first < 0)
            first = i;
    }
    return first;
}
