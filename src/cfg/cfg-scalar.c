/*
 * cfg-scalar.c - reading one scalar of a document tree as an integer,
 * number, boolean, text or keyword, with the error a user sees when it
 * is something else ("expected an integer, got 'fast'").
 *
 * It does not know which key a value belongs to: the caller passes the
 * path and the range, and the key tables (cfg-keys.c) store the result.
 */
#include "config.h"

#include "cfg-int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
cfg_is_null(const struct cnode *n)
{
    return n->kind == CNODE_SCALAR && n->plain
        && (n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0
            || strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0);
}

bool
cfg_looks_int(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Decimal numbers only: no hex, no underscores, no .inf or .nan. */
bool
cfg_looks_number(const char *s)
{
    int digits = 0;
    if (*s == '+' || *s == '-')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* How a value reads in a message: nothing, a map, a list, 3.5, 'fast'. */
const char *
cfg_describe(const struct cnode *n, char *buf, size_t len)
{
    char shown[48];
    if (n->kind == CNODE_MAP)
        return n->n == 0 ? "an empty map" : "a map";
    if (n->kind == CNODE_SEQ)
        return n->n == 0 ? "an empty list" : "a list";
    if (cfg_is_null(n))
        return "nothing";
    cfg_shorten(n->str, shown, sizeof shown);
    if (n->plain && cfg_looks_number(n->str))
        snprintf(buf, len, "%s", shown);
    else if (!n->plain)
        snprintf(buf, len, "'%s' (quoted, so text)", shown);
    else
        snprintf(buf, len, "'%s'", shown);
    return buf;
}

static bool
in_range(double v, const struct range *r)
{
    if (v < r->lo || (r->lo_open && v == r->lo))
        return false;
    if (v > r->hi || (r->hi_open && v == r->hi))
        return false;
    return true;
}

static const char *
range_text(const struct range *r, char *buf, size_t len)
{
    if (isinf(r->hi))
        snprintf(buf, len, "(must be %s %.15g)", r->lo_open ? ">" : ">=", r->lo);
    else
        snprintf(buf, len, "%c%.15g, %.15g%c", r->lo_open ? '(' : '[', r->lo, r->hi,
                 r->hi_open ? ')' : ']');
    return buf;
}

void
cfg_err_range(struct cctx *x, const struct cnode *n, const char *path, const struct range *r)
{
    char shown[48], rt[80];
    cfg_err_add(x, n, path, false, "%s is out of range %s",
                cfg_shorten(n->str, shown, sizeof shown),
                range_text(r, rt, sizeof rt));
}

bool
cfg_get_ll(struct cctx *x, const struct cnode *n, const char *path, const struct range *r,
       long long *out)
{
    char d[96];
    if (n->kind != CNODE_SCALAR || !n->plain || !cfg_looks_int(n->str)) {
        cfg_err_add(x, n, path, false, "expected an integer, got %s", cfg_describe(n, d, sizeof d));
        return false;
    }
    errno = 0;
    long long v = strtoll(n->str, NULL, 10);
    if (errno == ERANGE || !in_range((double)v, r)) {
        cfg_err_range(x, n, path, r);
        return false;
    }
    *out = v;
    return true;
}

bool
cfg_get_double(struct cctx *x, const struct cnode *n, const char *path, const struct range *r,
           double *out)
{
    char d[96];
    if (n->kind != CNODE_SCALAR || !n->plain || !cfg_looks_number(n->str)) {
        cfg_err_add(x, n, path, false, "expected a number, got %s", cfg_describe(n, d, sizeof d));
        return false;
    }
    double v = strtod(n->str, NULL);
    /* Underflow to a tiny value is harmless; overflow is not a number we can use. */
    if (!isfinite(v) || !in_range(v, r)) {
        cfg_err_range(x, n, path, r);
        return false;
    }
    *out = v;
    return true;
}

bool
cfg_get_bool(struct cctx *x, const struct cnode *n, const char *path, bool *out)
{
    char d[96];
    if (n->kind == CNODE_SCALAR && n->plain && strcmp(n->str, "true") == 0) {
        *out = true;
        return true;
    }
    if (n->kind == CNODE_SCALAR && n->plain && strcmp(n->str, "false") == 0) {
        *out = false;
        return true;
    }
    cfg_err_add(x, n, path, false, "expected true or false, got %s", cfg_describe(n, d, sizeof d));
    return false;
}

/* Any scalar but null is text (name: 123 is the name "123"). */
bool
cfg_get_text(struct cctx *x, const struct cnode *n, const char *path, const char *what,
         const char **out)
{
    char d[96];
    if (n->kind != CNODE_SCALAR || cfg_is_null(n)) {
        cfg_err_add(x, n, path, false, "expected %s, got %s", what, cfg_describe(n, d, sizeof d));
        return false;
    }
    *out = n->str;
    return true;
}

/* One keyword of w (quoted or not); returns its index or -1 after reporting. */
int
cfg_get_word(struct cctx *x, const struct cnode *n, const char *path, const struct words *w)
{
    char d[96], list[160], shown[48], hint[64];
    if (n->kind == CNODE_SCALAR && !cfg_is_null(n)) {
        struct cfg_suggester s = { NULL, 0 };
        for (int i = 0; i < w->n; i++) {
            if (strcmp(n->str, w->w[i]) == 0)
                return i;
            cfg_suggest_try(&s, n->str, w->w[i], w->w[i]);
        }
        cfg_err_add(x, n, path, false, "'%s' is not one of %s%s",
                    cfg_shorten(n->str, shown, sizeof shown), cfg_word_list(w, list, sizeof list),
                    cfg_suggest_text(&s, hint, sizeof hint));
        return -1;
    }
    cfg_err_add(x, n, path, false, "expected one of %s, got %s",
                cfg_word_list(w, list, sizeof list),
                cfg_describe(n, d, sizeof d));
    return -1;
}

void
cfg_store_text(char *dst, size_t size, const char *src)
{
    /* Zero the whole buffer so that equal configs are byte-for-byte equal. */
    memset(dst, 0, size);
    memcpy(dst, src, strlen(src));
}
