/*
 * replay.h - a feed that plays a logged run back from its directory
 * (config.yaml, metrics.csv, layers.csv, events.jsonl), so the dashboard
 * shows a finished run exactly as it showed a live one, or follows one
 * that is still being written (--attach).  Commands are refused: a
 * replay is read-only.
 */
#ifndef NNTOP_REPLAY_H
#define NNTOP_REPLAY_H

#include "nntop/telemetry.h"

struct replay;

/*
 * Read the run in run_dir.  Returns 0 and *out (caller frees with
 * replay_free), or -1 with *cause (heap) naming the file at fault.
 */
int replay_open(struct replay **out, const char *run_dir, char **cause);
/*
 * Follow the run in run_dir that another process is still writing (or
 * will resume): as replay_open, but the feed reads the files on as they
 * grow, reports the run's live state, sends an event and a state with
 * writer_gone set when the writer stops or its process disappears, and
 * carries on when a resumed run appends.  It never finishes on its own
 * while the writer lives.  Returns 0 and *out, or -1 with *cause (heap).
 */
int replay_attach(struct replay **out, const char *run_dir, char **cause);
/* The feed that yields the run's records (valid until replay_free). */
struct feed replay_feed(struct replay *r);
void replay_free(struct replay *r);

#endif
