/*
 * cfg-suggest.c - "did you mean" for misspelt keys and keywords: an
 * edit distance and a suggester that keeps the closest candidate.
 *
 * It does not know which words are candidates; the key tables offer them.
 */
#include "config.h"

#include "cfg-int.h"

#include <stdio.h>
#include <string.h>

/* Optimal-string-alignment distance, case-insensitive, on at most 63 bytes. */
static int
edit_distance(const char *a, const char *b)
{
    enum { M = 64 };
    int la = (int)strnlen(a, M - 1), lb = (int)strnlen(b, M - 1);
    int d[M][M];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++) {
        for (int j = 1; j <= lb; j++) {
            char ca = (char)(a[i - 1] | 0x20), cb = (char)(b[j - 1] | 0x20);
            int cost = ca == cb ? 0 : 1;
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == (char)(b[j - 2] | 0x20) && (char)(a[i - 2] | 0x20) == cb
                && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* How far a word may be from a candidate and still be a typo of it. */
static int
typo_limit(const char *cand)
{
    size_t n = strlen(cand);
    return n <= 4 ? 1 : n <= 8 ? 2 : 3;
}

void
cfg_suggest_try(struct cfg_suggester *s, const char *word, const char *cand, const char *answer)
{
    int d = edit_distance(word, cand);
    if (d <= typo_limit(cand) && (s->best == NULL || d < s->dist)) {
        s->best = answer;
        s->dist = d;
    }
}

/* " (did you mean 'x'?)" or "", into buf. */
const char *
cfg_suggest_text(const struct cfg_suggester *s, char *buf, size_t len)
{
    if (s->best == NULL)
        return "";
    snprintf(buf, len, " (did you mean '%s'?)", s->best);
    return buf;
}
