/*
 * stats.h - per-layer and per-tensor statistics for telemetry snapshots,
 * computed from buffers the training step already has (activations of
 * the last forward, params, grads, the applied update): no second
 * forward pass, no allocation.
 *
 * Histograms of large tensors are drawn from a fixed strided sample
 * (STATS_HIST_SAMPLE entries at most) and say so; norms and NaN/Inf
 * counts always cover every entry.  The model's description (layer and
 * tensor tables of struct tm_info) is filled here too, so the live run
 * and a replay name the snapshots' rows the same way.
 */
#ifndef NNTOP_STATS_H
#define NNTOP_STATS_H

#include <stddef.h>

#include "nntop/nn.h"
#include "nntop/optim.h"
#include "nntop/telemetry.h"

/* Histograms look at no more than this many entries of one buffer. */
#define STATS_HIST_SAMPLE 4096

/*
 * Histogram of x (n) into h with bins bins (<= TM_MAX_BINS) over the
 * sample's finite [min, max]; non-finite values are skipped (counted by
 * the caller's NaN/Inf pass).  Sets h->sampled when n > STATS_HIST_SAMPLE.
 * bins <= 0 leaves an empty histogram (nbins 0): the snapshot has none.
 */
void stats_hist(struct tm_hist *h, const float *x, size_t n, int bins);

/*
 * Statistics of layer i's output from the last forward pass of m:
 * moments, range, histogram, dead (relu: a leaky relu's units are never
 * zero) or saturated (tanh, sigmoid) fraction, NaN/Inf counts.  bins <= 0:
 * no histogram, everything else as always.
 */
void stats_layer(struct tm_layer *out, const struct model *m, int i, int bins);

/*
 * Statistics of parameter tensor t: norms of weight, gradient and
 * update (update may be NULL: update norm and ratio are then 0),
 * update/weight ratio, smallest and largest weight, histograms (none for
 * bins <= 0), NaN/Inf counts of weight and gradient.
 */
void stats_tensor(struct tm_tensor *out, const struct model *m, int t, const float *update,
                  int bins);

/*
 * Fill info's model description from m: the layer table (labels in
 * UTF-8 and ASCII, what applies to each layer, its tensors) and tensor
 * names (nlayers and ntensors as m has them; the tables keep the first
 * TM_MAX_LAYERS and 2 * TM_MAX_LAYERS).  This is the one producer of a
 * layer's label.  Other fields are untouched; m is borrowed.
 */
void stats_describe_model(struct tm_info *info, const struct model *m);
/* The optimizer and schedule into info: telemetry's kinds and the optimizer's keyword. */
void stats_describe_optim(struct tm_info *info, enum optim_kind optim, enum sched_kind sched);

/* The enum tm_clip of an engine clip kind. */
int stats_clip_to_tm(enum clip_kind k);
/* The engine clip kind of an enum tm_clip into *out; 0, or -1 out of range. */
int stats_clip_from_tm(int clip, enum clip_kind *out);

/* Fraction of the B x n matrix y's columns that are zero in every row. */
float stats_dead_fraction(const float *y, int B, int n);
/* Fraction of the C channels of y (B, C, HW) that are 0 at every position
 * of every sample: dead filters. */
float stats_dead_filter_fraction(const float *y, int B, int C, int HW);
/* Fraction of entries within eps of lo or hi. */
float stats_saturated_fraction(const float *y, size_t n, float lo, float hi, float eps);

#endif
