/*
 * uimodel.c - the dashboard's own copy of the run, folded from telemetry
 * records: latest state, loss histories, the last complete snapshot of
 * every layer and tensor, ratio trends, recent events, the last gradient
 * check, and the doctor's findings raised now (the source of every mark).
 *
 * The history is bounded however long the run: the loss series keeps at
 * most UI_SERIES_CAP buckets and, when full, merges neighbours and
 * doubles the bucket size, so the start of the run is never forgotten
 * (the ring may drop records; the UI never drops its past).  No curses.
 */
#include "config.h"

#include "ui-int.h"

#include <math.h>
#include <string.h>

#include "nntop/doctor.h"
#include "nntop/xmem.h"

/* ---- loss series ----------------------------------------------------- */

void
ui_series_init(struct ui_series *s)
{
    memset(s, 0, sizeof *s);
    s->stride = 1;
}

static struct ui_point
merge(struct ui_point a, struct ui_point b)
{
    struct ui_point m;
    m.x0 = a.x0;
    m.x1 = b.x1;
    m.lo = a.lo < b.lo ? a.lo : b.lo;
    m.hi = a.hi > b.hi ? a.hi : b.hi;
    m.n = a.n + b.n;
    m.mean = (float)(((double)a.mean * a.n + (double)b.mean * b.n) / (double)m.n);
    return m;
}

void
ui_series_push(struct ui_series *s, long x, float y)
{
    if (!isfinite(y)) {
        s->nonfinite++;
        return;
    }
    if (s->rn < UI_RECENT_CAP) {
        int i = (s->rhead + s->rn) % UI_RECENT_CAP;
        s->rx[i] = x, s->ry[i] = y;
        s->rn++;
    } else {
        s->rx[s->rhead] = x, s->ry[s->rhead] = y;
        s->rhead = (s->rhead + 1) % UI_RECENT_CAP;
    }

    if (s->acc.n == 0) {
        s->acc.x0 = x;
        s->acc.lo = s->acc.hi = y;
        s->acc_sum = 0.0;
    }
    s->acc.x1 = x;
    s->acc.lo = y < s->acc.lo ? y : s->acc.lo;
    s->acc.hi = y > s->acc.hi ? y : s->acc.hi;
    s->acc_sum += y;
    s->acc.n++;
    s->acc.mean = (float)(s->acc_sum / (double)s->acc.n);
    s->total++;

    if (s->acc.n >= s->stride) {
        s->pts[s->n++] = s->acc;
        s->acc.n = 0;
        if (s->n == UI_SERIES_CAP) {
            for (int i = 0; i < UI_SERIES_CAP / 2; i++)
                s->pts[i] = merge(s->pts[2 * i], s->pts[2 * i + 1]);
            s->n = UI_SERIES_CAP / 2;
            s->stride *= 2;
        }
    }
}

int
ui_series_count(const struct ui_series *s)
{
    return s->n + (s->acc.n > 0 ? 1 : 0);
}

struct ui_point
ui_series_at(const struct ui_series *s, int i)
{
    return i < s->n ? s->pts[i] : s->acc;
}

void
ui_series_recent(const struct ui_series *s, int i, long *x, float *y)
{
    int k = (s->rhead + i) % UI_RECENT_CAP;
    *x = s->rx[k];
    *y = s->ry[k];
}

/* ---- the model ------------------------------------------------------- */

static bool
same_target(const struct tm_finding *a, const struct tm_finding *b)
{
    return strcmp(a->rule, b->rule) == 0 && a->layer == b->layer && a->tensor == b->tensor;
}

/* Keep the findings raised now: raised adds (or replaces), cleared removes. */
static void
track_finding(struct ui_model *m, const struct tm_finding *f)
{
    char rule[TM_NAME_MAX];
    snprintf(rule, sizeof rule, "%s", f->rule);
    if (strcmp(rule, doctor_rule_at(DR_INITIAL_LOSS)->id) == 0 && f->state != TM_FINDING_CLEARED)
        m->initial_verdict = f->state == TM_FINDING_PASSED ? 0 : f->severity;
    if (f->state == TM_FINDING_PASSED)
        return;
    int at = -1;
    for (int i = 0; i < m->nactive; i++)
        if (same_target(&m->active[i], f))
            at = i;
    if (at >= 0) {
        memmove(m->active + at, m->active + at + 1,
                (size_t)(m->nactive - at - 1) * sizeof m->active[0]);
        m->nactive--;
    }
    if (f->state != TM_FINDING_RAISED)
        return;
    if (m->nactive == UI_ACTIVE_CAP) {
        /* Full: the oldest goes (it is still in the findings panel and events.jsonl). */
        memmove(m->active, m->active + 1, (UI_ACTIVE_CAP - 1) * sizeof m->active[0]);
        m->nactive--;
    }
    struct tm_finding *a = &m->active[m->nactive++];
    *a = *f;
    a->rule[TM_NAME_MAX - 1] = '\0';
    a->tensor_name[TM_NAME_MAX - 1] = '\0';
    a->text[TM_TEXT_MAX - 1] = '\0';
    a->advice[TM_TEXT_MAX - 1] = '\0';
    a->remedy_text[TM_NAME_MAX - 1] = '\0';
}

int
ui_model_mark(const struct ui_model *m, int layer, const char *rule)
{
    int sev = 0;
    for (int i = 0; i < m->nactive; i++) {
        const struct tm_finding *f = &m->active[i];
        if ((layer < 0 ? f->layer >= 0 : f->layer != layer) ||
            (rule != NULL && strcmp(f->rule, rule) != 0))
            continue;
        if (f->severity > sev)
            sev = f->severity;
    }
    return sev;
}

int
ui_model_count(const struct ui_model *m, int severity)
{
    int n = 0;
    for (int i = 0; i < m->nactive; i++)
        n += m->active[i].severity == severity;
    return n;
}

const struct tm_finding *
ui_model_remedy(const struct ui_model *m, const char *rule)
{
    for (int i = m->nactive - 1; i >= 0; i--) {
        const struct tm_finding *f = &m->active[i];
        if (f->remedy.kind >= 0 && f->remedy.kind < TM_CMD_KIND_COUNT &&
            (rule == NULL || strcmp(f->rule, rule) == 0))
            return f;
    }
    return NULL;
}

struct ui_model *
ui_model_new(void)
{
    struct ui_model *m = xcalloc(1, sizeof *m);
    ui_series_init(&m->train);
    ui_series_init(&m->val);
    ui_series_init(&m->reg);
    ui_series_init(&m->train_acc);
    ui_series_init(&m->val_acc);
    m->snap_step = -1;
    for (int i = 0; i < TM_MAX_LAYERS; i++)
        m->act_hist_step[i] = -1;
    for (int k = 0; k < UI_MAX_TENSORS; k++)
        m->weight_hist_step[k] = m->grad_hist_step[k] = -1;
    for (int s = 0; s < UI_HIST_SLOTS; s++)
        m->first_step[s] = m->pin_step[s] = -1;
    m->pinned_at = -1;
    m->last_clip_kind = TM_CLIP_NORM;
    m->initial_verdict = -1;
    return m;
}

/* Histograms from a producer we do not control: keep nbins in range. */
static void
hist_sanitize(struct tm_hist *h)
{
    if (h->nbins > TM_MAX_BINS)
        h->nbins = TM_MAX_BINS;
}

/*
 * A snapshot without histograms (nbins 0: taken sooner than
 * telemetry.max_hz allows) keeps the histogram held in *held and its step;
 * one with them replaces it.
 */
static void
keep_hist(struct tm_hist *fresh, const struct tm_hist *held, bool have, long step,
          long *hist_step)
{
    if (fresh->nbins > 0 || !have || held->nbins == 0) {
        *hist_step = fresh->nbins > 0 ? step : -1;
        return;
    }
    *fresh = *held;
}

/* A histogram computed at this snapshot: its percentiles join the bands,
 * and the first one of its slot is kept for the overlay. */
static void
note_hist(struct ui_model *m, int slot, const struct tm_hist *h, long step)
{
    if (slot < 0 || h->nbins == 0 || h->total + (uint64_t)h->under + h->over == 0)
        return;
    if (m->first_step[slot] < 0) {
        m->first_hist[slot] = *h;
        m->first_step[slot] = step;
    }
    struct ui_bands *b = &m->bands[slot];
    for (int q = 0; q < UI_NBANDS; q++)
        b->q[b->head][q] = (float)ui_hist_quantile(h, ui_band_q[q]);
    b->step[b->head] = step;
    b->head = (b->head + 1) % UI_BAND_LEN;
    if (b->n < UI_BAND_LEN)
        b->n++;
}

static void
commit_snapshot(struct ui_model *m, const struct tm_snapshot *sn)
{
    int col = m->strip_head;
    m->strip_step[col] = sn->step;
    for (int k = 0; k < UI_MAX_TENSORS; k++)
        m->strip[col][k] = m->pend_tensor[k] ? m->pend_tensors[k].update_ratio : NAN;
    m->strip_head = (m->strip_head + 1) % UI_STRIP_LEN;
    if (m->strip_n < UI_STRIP_LEN)
        m->strip_n++;

    for (int i = 0; i < TM_MAX_LAYERS; i++) {
        if (!m->pend_layer[i])
            continue;
        keep_hist(&m->pend_layers[i].act, &m->layers[i].act, m->layer_have[i], sn->step,
                  &m->act_hist_step[i]);
        m->layers[i] = m->pend_layers[i];
        m->layer_have[i] = true;
        m->pend_layer[i] = false;
        if (m->act_hist_step[i] == sn->step)
            note_hist(m, i, &m->layers[i].act, sn->step);
    }
    for (int k = 0; k < UI_MAX_TENSORS; k++) {
        if (!m->pend_tensor[k])
            continue;
        keep_hist(&m->pend_tensors[k].weight, &m->tensors[k].weight, m->tensor_have[k],
                  sn->step, &m->weight_hist_step[k]);
        keep_hist(&m->pend_tensors[k].grad, &m->tensors[k].grad, m->tensor_have[k], sn->step,
                  &m->grad_hist_step[k]);
        m->tensors[k] = m->pend_tensors[k];
        m->tensor_have[k] = true;
        m->pend_tensor[k] = false;
        if (m->weight_hist_step[k] == sn->step)
            note_hist(m, TM_MAX_LAYERS + k, &m->tensors[k].weight, sn->step);
        if (m->grad_hist_step[k] == sn->step)
            note_hist(m, TM_MAX_LAYERS + UI_MAX_TENSORS + k, &m->tensors[k].grad, sn->step);
        if (m->ntrend[k] == UI_TREND_LEN) {
            memmove(m->trend[k], m->trend[k] + 1, (UI_TREND_LEN - 1) * sizeof m->trend[k][0]);
            m->ntrend[k]--;
        }
        m->trend[k][m->ntrend[k]++] = m->tensors[k].update_ratio;
    }
    m->snap_step = sn->step;
}

void
ui_model_apply(struct ui_model *m, const struct tm_record *r)
{
    m->records++;
    switch (r->type) {
    case TM_INFO:
        m->info = r->u.info;
        m->info.name[sizeof m->info.name - 1] = '\0';
        m->info.run_dir[sizeof m->info.run_dir - 1] = '\0';
        if (m->info.nlayers < 0 || m->info.nlayers > TM_MAX_LAYERS)
            m->info.nlayers = m->info.nlayers < 0 ? 0 : TM_MAX_LAYERS;
        if (m->info.ntensors < 0 || m->info.ntensors > UI_MAX_TENSORS)
            m->info.ntensors = m->info.ntensors < 0 ? 0 : UI_MAX_TENSORS;
        for (int k = 0; k < UI_MAX_TENSORS; k++)
            m->info.tensor_names[k][TM_NAME_MAX - 1] = '\0';
        for (int i = 0; i < TM_MAX_LAYERS; i++) {
            m->info.layers[i].label[TM_LABEL_MAX - 1] = '\0';
            m->info.layers[i].label_ascii[TM_LABEL_MAX - 1] = '\0';
        }
        m->have_info = true;
        break;
    case TM_STATE:
        m->state = r->u.state;
        m->have_state = true;
        m->nstates++;
        if (m->state.clip_kind > TM_CLIP_NONE && m->state.clip_kind < TM_CLIP_COUNT)
            m->last_clip_kind = m->state.clip_kind;
        if (m->state.clip_value > 0.0 && isfinite(m->state.clip_value))
            m->last_clip_value = m->state.clip_value;
        if (m->state.dropped > m->dropped)
            m->dropped = m->state.dropped;
        break;
    case TM_STEP:
        m->step = r->u.step;
        m->have_step = true;
        ui_series_push(&m->train, m->step.step, m->step.loss);
        ui_series_push(&m->train_acc, m->step.step, m->step.accuracy);
        if (m->step.reg_loss > 0.0f)
            ui_series_push(&m->reg, m->step.step, m->step.reg_loss);
        if (!m->have_initial && m->step.step <= 1 && isfinite(m->step.loss)) {
            m->have_initial = true;
            m->initial_loss = m->step.loss;
        }
        break;
    case TM_LAYER: {
        int i = r->u.layer.index;
        if (i < 0 || i >= TM_MAX_LAYERS)
            break;
        m->pend_layers[i] = r->u.layer;
        hist_sanitize(&m->pend_layers[i].act);
        m->pend_layer[i] = true;
        break;
    }
    case TM_TENSOR: {
        int k = r->u.tensor.index;
        if (k < 0 || k >= UI_MAX_TENSORS)
            break;
        m->pend_tensors[k] = r->u.tensor;
        hist_sanitize(&m->pend_tensors[k].weight);
        hist_sanitize(&m->pend_tensors[k].grad);
        m->pend_tensor[k] = true;
        break;
    }
    case TM_SNAPSHOT:
        commit_snapshot(m, &r->u.snapshot);
        break;
    case TM_EVAL:
        if (r->u.eval.split == TM_SPLIT_VAL) {
            m->last_val = r->u.eval;
            m->have_val = true;
            ui_series_push(&m->val, r->u.eval.step, r->u.eval.loss);
            if (r->u.eval.accuracy >= 0.0f)
                ui_series_push(&m->val_acc, r->u.eval.step, r->u.eval.accuracy);
        } else if (r->u.eval.split == TM_SPLIT_TEST) {
            m->last_test = r->u.eval;
            m->have_test = true;
        }
        break;
    case TM_EVENT: {
        struct tm_event *ev = &m->events[m->nevents % UI_EVENTS_CAP];
        *ev = r->u.event;
        ev->text[TM_TEXT_MAX - 1] = '\0';
        m->nevents++;
        if (ev->kind == TM_EV_NONFINITE && !m->have_nonfinite) {
            m->nonfinite = *ev;
            m->have_nonfinite = true;
        }
        break;
    }
    case TM_PROGRESS:
        m->progress = r->u.progress;
        m->progress.what[sizeof m->progress.what - 1] = '\0';
        m->have_progress = !m->progress.finished && m->progress.total > 0;
        break;
    case TM_VIEW: {
        const struct tm_view *v = &r->u.view;
        /* A producer we do not control: planes and lists stay in range. */
        if (v->ph < 0 || v->pw < 0 || (long)v->ph * v->pw > TM_VIEW_MAX_PIX || v->ntop < 0
            || v->ntop > TM_VIEW_TOP)
            break;
        m->view = *v;
        m->have_view = true;
        m->views++;
        memset(m->filter_have, 0, sizeof m->filter_have);
        memset(m->map_have, 0, sizeof m->map_have);
        break;
    }
    case TM_VIEW_MAP: {
        const struct tm_view_map *p = &r->u.view_map;
        if (!m->have_view || p->sample != m->view.sample || p->step != m->view.step
            || p->index < 0 || p->index >= TM_VIEW_MAX_MAPS || p->h < 0 || p->w < 0
            || (long)p->h * p->w > TM_VIEW_MAX_PIX)
            break;
        if (p->kind == TM_VIEW_FILTER && p->layer == m->view.filter_layer) {
            m->filters[p->index] = *p;
            m->filter_have[p->index] = true;
        } else if (p->kind == TM_VIEW_ACT && p->layer == m->view.map_layer) {
            m->maps[p->index] = *p;
            m->map_have[p->index] = true;
        }
        break;
    }
    case TM_FINDING: {
        /* A doctor finding, shown in the findings panel as an event line. */
        const struct tm_finding *f = &r->u.finding;
        track_finding(m, f);
        struct tm_event *ev = &m->events[m->nevents % UI_EVENTS_CAP];
        memset(ev, 0, sizeof *ev);
        ev->step = f->step;
        ev->type = TM_EVT_FINDING;
        ev->kind = TM_EV_FINDING;
        ev->severity = f->state == TM_FINDING_CLEARED ? TM_SEV_OK : f->severity;
        char where[TM_NAME_MAX + 16] = "";
        if (f->tensor >= 0 && f->tensor_name[0] != '\0')
            snprintf(where, sizeof where, " %.*s", TM_NAME_MAX - 1, f->tensor_name);
        else if (f->layer >= 0)
            snprintf(where, sizeof where, " layer %d", f->layer);
        snprintf(ev->text, sizeof ev->text, "%.*s%s: %.*s", TM_NAME_MAX - 1, f->rule, where,
                 TM_TEXT_MAX - 80, f->state == TM_FINDING_CLEARED ? "cleared" : f->text);
        m->nevents++;
        break;
    }
    case TM_GRADCHECK:
        m->gradcheck = r->u.gradcheck;
        if (m->gradcheck.ntensors < 0)
            m->gradcheck.ntensors = 0;
        if (m->gradcheck.ntensors > TM_GC_MAX_TENSORS)
            m->gradcheck.ntensors = TM_GC_MAX_TENSORS;
        for (int k = 0; k < TM_GC_MAX_TENSORS; k++)
            m->gradcheck.t[k].name[TM_NAME_MAX - 1] = '\0';
        m->have_gradcheck = true;
        m->gradcheck_seq++;
        break;
    default:
        break;
    }
}

long
ui_model_step(const struct ui_model *m)
{
    long s = m->have_step ? m->step.step : 0;
    if (m->have_state && m->state.step > s)
        s = m->state.step;
    return s;
}

long
ui_model_nevents(const struct ui_model *m)
{
    return m->nevents < UI_EVENTS_CAP ? m->nevents : UI_EVENTS_CAP;
}

const struct tm_event *
ui_model_event(const struct ui_model *m, long i)
{
    if (i < 0 || i >= ui_model_nevents(m))
        return NULL;
    return &m->events[(m->nevents - 1 - i) % UI_EVENTS_CAP];
}

const struct tm_hist *
ui_model_hist(const struct ui_model *m, int layer, int kind)
{
    if (!m->have_info || layer < 0 || layer >= m->info.nlayers)
        return NULL;
    if (kind == UI_HIST_ACT)
        return m->layer_have[layer] ? &m->layers[layer].act : NULL;
    int k = m->info.layers[layer].weight;
    if (k < 0 || k >= UI_MAX_TENSORS || !m->tensor_have[k])
        return NULL;
    return kind == UI_HIST_WEIGHT ? &m->tensors[k].weight : &m->tensors[k].grad;
}

long
ui_model_hist_step(const struct ui_model *m, int layer, int kind)
{
    if (ui_model_hist(m, layer, kind) == NULL)
        return -1;
    if (kind == UI_HIST_ACT)
        return m->act_hist_step[layer];
    int k = m->info.layers[layer].weight;
    return kind == UI_HIST_WEIGHT ? m->weight_hist_step[k] : m->grad_hist_step[k];
}

int
ui_hist_slot(const struct ui_model *m, int layer, int kind)
{
    if (!m->have_info || layer < 0 || layer >= m->info.nlayers)
        return -1;
    if (kind == UI_HIST_ACT)
        return layer;
    int k = m->info.layers[layer].weight;
    if (k < 0 || k >= UI_MAX_TENSORS)
        return -1;
    return TM_MAX_LAYERS + (kind == UI_HIST_WEIGHT ? 0 : UI_MAX_TENSORS) + k;
}

void
ui_model_pin(struct ui_model *m)
{
    for (int i = 0; i < TM_MAX_LAYERS; i++)
        if (m->layer_have[i] && m->act_hist_step[i] >= 0) {
            m->pin_hist[i] = m->layers[i].act;
            m->pin_step[i] = m->act_hist_step[i];
        }
    for (int k = 0; k < UI_MAX_TENSORS; k++) {
        if (!m->tensor_have[k])
            continue;
        if (m->weight_hist_step[k] >= 0) {
            m->pin_hist[TM_MAX_LAYERS + k] = m->tensors[k].weight;
            m->pin_step[TM_MAX_LAYERS + k] = m->weight_hist_step[k];
        }
        if (m->grad_hist_step[k] >= 0) {
            m->pin_hist[TM_MAX_LAYERS + UI_MAX_TENSORS + k] = m->tensors[k].grad;
            m->pin_step[TM_MAX_LAYERS + UI_MAX_TENSORS + k] = m->grad_hist_step[k];
        }
    }
    m->pinned_at = m->snap_step;
}

float
ui_model_strip(const struct ui_model *m, int i, int k, long *step)
{
    if (i < 0 || i >= m->strip_n || k < 0 || k >= UI_MAX_TENSORS)
        return NAN;
    int at = (m->strip_head - m->strip_n + i + UI_STRIP_LEN) % UI_STRIP_LEN;
    if (step != NULL)
        *step = m->strip_step[at];
    return m->strip[at][k];
}

const float *
ui_bands_at(const struct ui_bands *b, int i, long *step)
{
    if (i < 0 || i >= b->n)
        return NULL;
    int at = (b->head - b->n + i + UI_BAND_LEN) % UI_BAND_LEN;
    if (step != NULL)
        *step = b->step[at];
    return b->q[at];
}

int
ui_hist_write_csv(FILE *fp, const struct tm_hist *h)
{
    fprintf(fp, "lo,hi,count\n");
    fprintf(fp, "-inf,%.9g,%u\n", (double)h->lo, h->under);
    double w = h->nbins > 0 ? ((double)h->hi - h->lo) / h->nbins : 0.0;
    for (int i = 0; i < h->nbins && i < TM_MAX_BINS; i++)
        fprintf(fp, "%.9g,%.9g,%u\n", h->lo + w * i, i + 1 == h->nbins ? (double)h->hi
                                                                       : h->lo + w * (i + 1),
                h->counts[i]);
    fprintf(fp, "%.9g,inf,%u\n", (double)h->hi, h->over);
    return ferror(fp) ? -1 : 0;
}
