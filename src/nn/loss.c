/*
 * loss.c - softmax cross-entropy (fused with log-softmax) and mean squared
 * error, each writing d loss / d output in the same pass over a row that
 * computes the loss.  Sums are taken in double; the outputs stay float.
 * It does not add regularisation terms: optim.c owns the L2 penalty.
 */
#include "config.h"

#include "nntop/nn.h"

#include <assert.h>
#include <math.h>

#include "layers.h"

/* Index of the first largest entry of row (C). */
static int
row_argmax(const float *row, int C)
{
    int best = 0;
    for (int j = 1; j < C; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

double
loss_cross_entropy(float *dlogits, int *correct, const float *logits,
                   const int32_t *labels, int B, int C)
{
    return loss_cross_entropy_rows(dlogits, correct, logits, labels, B, C, B);
}

double
loss_cross_entropy_rows(float *dlogits, int *correct, const float *logits,
                        const int32_t *labels, int B, int C, int norm)
{
    assert(B >= 1 && C >= 1 && norm >= B && labels != NULL);
    double total = 0.0;
    int hits = 0;
    double inv_b = 1.0 / norm;
    for (int r = 0; r < B; r++) {
        const float *row = logits + (size_t)r * C;
        int label = labels[r];
        assert(label >= 0 && label < C);
        int top = row_argmax(row, C);
        hits += top == label;
        /*
         * log softmax_j = (l_j - max) - log sum exp(l - max): every exponent
         * is <= 0, so nothing overflows whatever the logits' magnitude.
         */
        double max = row[top];
        double sum = 0.0;
        if (dlogits != NULL) {
            float *g = dlogits + (size_t)r * C;
            for (int j = 0; j < C; j++) {
                double e = exp((double)row[j] - max);
                g[j] = (float)e;
                sum += e;
            }
            double scale = inv_b / sum;
            for (int j = 0; j < C; j++)
                g[j] = (float)(g[j] * scale);
            g[label] -= (float)inv_b;
        } else {
            for (int j = 0; j < C; j++)
                sum += exp((double)row[j] - max);
        }
        total += (max - (double)row[label]) + log(sum);
    }
    if (correct != NULL)
        *correct = hits;
    return total * inv_b;
}

double
loss_mse(float *dlogits, int *correct, const float *y, const float *targets,
         const int32_t *labels, int B, int C)
{
    return loss_mse_rows(dlogits, correct, y, targets, labels, B, C, B);
}

double
loss_mse_rows(float *dlogits, int *correct, const float *y, const float *targets,
              const int32_t *labels, int B, int C, int norm)
{
    assert(B >= 1 && C >= 1 && norm >= B && (targets != NULL || labels != NULL));
    double total = 0.0;
    int hits = 0;
    double scale = 2.0 / ((double)norm * C);
    for (int r = 0; r < B; r++) {
        const float *row = y + (size_t)r * C;
        const float *trow = targets != NULL ? targets + (size_t)r * C : NULL;
        float *g = dlogits != NULL ? dlogits + (size_t)r * C : NULL;
        int label = labels != NULL ? labels[r] : -1;
        assert(trow != NULL || (label >= 0 && label < C));
        for (int j = 0; j < C; j++) {
            double t = trow != NULL ? trow[j] : (j == label ? 1.0 : 0.0);
            double d = (double)row[j] - t;
            total += d * d;
            if (g != NULL)
                g[j] = (float)(scale * d);
        }
        if (labels != NULL)
            hits += row_argmax(row, C) == label;
    }
    if (correct != NULL)
        *correct = hits;
    return total / ((double)norm * C);
}
