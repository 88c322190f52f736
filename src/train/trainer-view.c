/*
 * trainer-view.c - "looking inside" (TM_CMD_VIEW), on the worker thread:
 * one validation sample with its label and predicted probabilities, its
 * saliency map (|d loss / d input|), the first conv layer's filters and
 * one layer's activation maps for that sample, sent as TM_VIEW and
 * TM_VIEW_MAP records of plain values.
 *
 * It runs between two steps, like every command, so it cannot race the
 * training step; it computes in eval mode and leaves the parameters,
 * gradients, running statistics, dropout stream and mode as they were,
 * so a run with views is the run without them.  Nothing is logged: a
 * view changes nothing.  Nothing here draws.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"
#include "trainer-int.h"

/* The split the view samples come from: validation, else test, else train. */
static const struct split *
view_split(const struct trainer *t, int *which)
{
    if (t->data.val.n > 0) {
        *which = TM_SPLIT_VAL;
        return &t->data.val;
    }
    if (t->data.test.n > 0) {
        *which = TM_SPLIT_TEST;
        return &t->data.test;
    }
    *which = TM_SPLIT_TRAIN;
    return &t->data.train;
}

/* Index of the largest of n values (the first on ties). */
static int
argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/*
 * The next sample from start (itself included) in direction dir whose
 * prediction is not its label, or -1 when the whole split has none.
 * Batched forward passes in eval mode, on the team like an evaluation.
 */
static long
find_misclassified(struct trainer *t, const struct split *s, long start, int dir)
{
    long n = s->n;
    int C = t->model->out;
    for (long done = 0; done < n;) {
        int B = (int)(n - done < EVAL_BATCH ? n - done : EVAL_BATCH);
        for (int k = 0; k < B; k++) {
            long i = start + dir * (done + k);
            t->eval_pos[k] = ((i % n) + n) % n;
        }
        data_gather(&t->data, s, t->eval_pos, B, t->eval_x, t->eval_y);
        const float *out = model_team_forward(t->team, t->eval_x, B);
        for (int k = 0; k < B; k++)
            if (argmax(out + (size_t)k * (size_t)C, C) != t->eval_y[k])
                return t->eval_pos[k];
        done += B;
    }
    return -1;
}

/* Average src (h, w) over scale x scale blocks into dst (ph, pw); with
 * absmax, the largest |value| of each block instead. */
static void
downsample(float *dst, const float *src, int h, int w, int scale, bool absmax)
{
    int ph = (h + scale - 1) / scale, pw = (w + scale - 1) / scale;
    for (int py = 0; py < ph; py++) {
        for (int px = 0; px < pw; px++) {
            double acc = 0.0;
            int cnt = 0;
            for (int y = py * scale; y < h && y < (py + 1) * scale; y++) {
                for (int x = px * scale; x < w && x < (px + 1) * scale; x++) {
                    float v = src[(size_t)y * (size_t)w + (size_t)x];
                    if (absmax)
                        acc = fabsf(v) > acc ? fabsf(v) : acc;
                    else
                        acc += v;
                    cnt++;
                }
            }
            dst[py * pw + px] = (float)(absmax || cnt == 0 ? acc : acc / cnt);
        }
    }
}

static int
scale_for(int h, int w)
{
    int side = h > w ? h : w;
    return (side + TM_VIEW_MAX_SIDE - 1) / TM_VIEW_MAX_SIDE;
}

static void
plane_range(const float *v, int n, float *lo, float *hi)
{
    *lo = *hi = n > 0 ? v[0] : 0.0f;
    for (int i = 1; i < n; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

/* The layer whose maps to send: the asked one if it has an image output,
 * else the last one before it that has, else the first that has; -1. */
static int
map_layer_for(const struct model *m, int asked)
{
    if (asked >= m->nlayers)
        asked = m->nlayers - 1;
    for (int i = asked; i >= 0; i--)
        if (m->layers[i].oh > 0)
            return i;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].oh > 0)
            return i;
    return -1;
}

static void
send_filters(struct trainer *t, struct tm_view_map *rec, int layer)
{
    const struct model *m = t->model;
    const struct layer *L = &m->layers[layer];
    const float *W = m->params + m->tensors[L->weight].offset;    /* (OC, C, k, k) */
    int kk = L->k * L->k, n = L->oc < TM_VIEW_MAX_MAPS ? L->oc : TM_VIEW_MAX_MAPS;
    float *full = xmalloc((size_t)kk * sizeof *full);
    for (int f = 0; f < n; f++) {
        memset(full, 0, (size_t)kk * sizeof *full);
        for (int c = 0; c < L->c; c++)
            for (int i = 0; i < kk; i++)
                full[i] += W[((size_t)f * (size_t)L->c + (size_t)c) * (size_t)kk + (size_t)i]
                           / (float)L->c;
        int scale = scale_for(L->k, L->k);
        rec->kind = TM_VIEW_FILTER;
        rec->layer = layer;
        rec->index = f;
        rec->h = rec->w = (L->k + scale - 1) / scale;
        downsample(rec->v, full, L->k, L->k, scale, false);
        plane_range(rec->v, rec->h * rec->w, &rec->lo, &rec->hi);
        trainer_publish(t, TM_VIEW_MAP, rec, sizeof *rec);
    }
    free(full);
}

/* The maps of layer for row 0 of the last forward pass. */
static void
send_maps(struct trainer *t, struct tm_view_map *rec, int layer)
{
    const struct layer *L = &t->model->layers[layer];
    int hw = L->oh * L->ow, scale = scale_for(L->oh, L->ow);
    int n = L->oc < TM_VIEW_MAX_MAPS ? L->oc : TM_VIEW_MAX_MAPS;
    for (int c = 0; c < n; c++) {
        rec->kind = TM_VIEW_ACT;
        rec->layer = layer;
        rec->index = c;
        rec->h = (L->oh + scale - 1) / scale;
        rec->w = (L->ow + scale - 1) / scale;
        downsample(rec->v, L->y + (size_t)c * (size_t)hw, L->oh, L->ow, scale, false);
        plane_range(rec->v, rec->h * rec->w, &rec->lo, &rec->hi);
        trainer_publish(t, TM_VIEW_MAP, rec, sizeof *rec);
    }
}

void
trainer_cmd_view(struct trainer *t, const struct tm_command *c)
{
    const int *shape = t->data.shape;
    /* An attached dashboard reads the run directory, where no picture goes. */
    if (c->source == TM_SRC_SOCKET) {
        trainer_emit(t, TM_EVT_REFUSED, "\"command\":\"view\"",
                     "view: not over the control socket (the pictures are not in the run "
                     "directory): run nntop on this config to look inside");
        return;
    }
    if (shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0) {
        trainer_emit(t, TM_EVT_REFUSED, "\"command\":\"view\"",
                     "view: the input is %d flat features, not an image "
                     "(data.shape: [C, H, W] makes it one)", t->data.d);
        return;
    }
    int which;
    const struct split *s = view_split(t, &which);
    if (s->n == 0) {
        trainer_emit(t, TM_EVT_REFUSED, "\"command\":\"view\"", "view: no samples to show");
        return;
    }
    struct model *m = t->model;
    bool saved_training = m->training, saved_dx = m->want_dx;
    float *grads = xmalloc(m->nparams * sizeof *grads);
    memcpy(grads, m->grads, m->nparams * sizeof *grads);
    model_set_training(m, false);

    long sample = ((c->n % s->n) + s->n) % s->n;
    struct tm_view *v = xcalloc(1, sizeof *v);
    if (c->dir != 0) {
        v->searched = true;
        long found = find_misclassified(t, s, sample, c->dir > 0 ? 1 : -1);
        v->found = found >= 0;
        if (found >= 0)
            sample = found;
    }

    /* One row: forward, its loss, and back to the input. */
    t->eval_pos[0] = sample;
    data_gather(&t->data, s, t->eval_pos, 1, t->eval_x, t->eval_y);
    m->want_dx = true;
    const float *out = model_forward(m, t->eval_x, 1);
    struct batch b = {.x = t->eval_x, .labels = t->eval_y, .size = 1};
    struct loss_out lo = {0};
    v->loss = (float)model_loss(m, &b, &lo);
    model_backward(m);

    int C = m->out;
    v->step = t->step;
    v->split = which;
    v->sample = sample;
    v->nsamples = s->n;
    v->label = t->eval_y[0];
    v->classes = C;
    v->predicted = argmax(out, C);
    v->softmax = m->spec.loss == LOSS_CROSS_ENTROPY;
    float *p = xmalloc((size_t)C * sizeof *p);
    double z = 0.0;
    for (int k = 0; k < C; k++) {
        p[k] = v->softmax ? expf(out[k] - out[v->predicted]) : out[k];
        z += p[k];
    }
    for (int k = 0; k < C && v->softmax; k++)
        p[k] = (float)(p[k] / z);
    v->label_prob = v->label >= 0 && v->label < C ? p[v->label] : NAN;
    v->ntop = C < TM_VIEW_TOP ? C : TM_VIEW_TOP;
    for (int i = 0; i < v->ntop; i++) {
        int best = argmax(p, C);
        v->top_class[i] = best;
        v->top_prob[i] = p[best];
        p[best] = -INFINITY;
    }
    free(p);

    int ch = shape[0], h = shape[1], w = shape[2], hw = h * w;
    v->c = ch;
    v->h = h;
    v->w = w;
    v->scale = scale_for(h, w);
    v->ph = (h + v->scale - 1) / v->scale;
    v->pw = (w + v->scale - 1) / v->scale;
    float *mean = xcalloc((size_t)hw, sizeof *mean);
    float *sal = xcalloc((size_t)hw, sizeof *sal);
    for (int k = 0; k < ch; k++) {
        for (int i = 0; i < hw; i++) {
            mean[i] += t->eval_x[(size_t)k * (size_t)hw + (size_t)i] / (float)ch;
            float g = fabsf(m->dx[(size_t)k * (size_t)hw + (size_t)i]);
            sal[i] = g > sal[i] ? g : sal[i];
        }
    }
    downsample(v->image, mean, h, w, v->scale, false);
    downsample(v->saliency, sal, h, w, v->scale, true);
    free(mean);
    free(sal);

    v->filter_layer = -1;
    for (int i = 0; i < m->nlayers && v->filter_layer < 0; i++)
        if (m->layers[i].kind == LAYER_CONV2D)
            v->filter_layer = i;
    v->nfilters = v->filter_layer >= 0 ? m->layers[v->filter_layer].oc : 0;
    v->map_layer = map_layer_for(m, c->layer >= 0 ? c->layer : 0);
    v->nmaps = v->map_layer >= 0 ? m->layers[v->map_layer].oc : 0;
    trainer_publish(t, TM_VIEW, v, sizeof *v);

    struct tm_view_map *rec = xcalloc(1, sizeof *rec);
    rec->step = t->step;
    rec->sample = sample;
    if (v->filter_layer >= 0)
        send_filters(t, rec, v->filter_layer);
    if (v->map_layer >= 0)
        send_maps(t, rec, v->map_layer);
    free(rec);
    free(v);

    memcpy(m->grads, grads, m->nparams * sizeof *grads);
    free(grads);
    m->want_dx = saved_dx;
    model_set_training(m, saved_training);
}
