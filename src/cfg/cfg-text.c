/*
 * cfg-text.c - the small text helpers the key tables use: a growing
 * buffer for the YAML written back, round-trip number formatting, key
 * paths, and values shortened for messages.
 *
 * It knows nothing of keys or trees; cfg-keys.c decides what to write.
 */
#include "config.h"

#include "cfg-int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

void
cfg_sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap == 0 ? 4096 : b->cap * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}


void
cfg_sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatal("cannot format configuration text");
    if ((size_t)n < sizeof small) {
        cfg_sb_add(b, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cfg_sb_add(b, big, (size_t)n);
    free(big);
}

void
cfg_sb_indent(struct sbuf *b, int indent)
{
    for (int i = 0; i < indent; i++)
        cfg_sb_add(b, " ", 1);
}

/* A double-quoted YAML string: backslash and quote escaped, control bytes as \xNN. */
void
cfg_sb_quoted(struct sbuf *b, const char *s)
{
    cfg_sb_add(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char esc[2] = { '\\', (char)ch };
            cfg_sb_add(b, esc, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            cfg_sb_printf(b, "\\x%02x", ch);
        } else {
            cfg_sb_add(b, s, 1);
        }
    }
    cfg_sb_add(b, "\"", 1);
}

/* The shortest %g text that reads back as exactly v. */
void
cfg_fmt_double(char *buf, size_t len, double v)
{
    /* Whole numbers read better as 20 than as 2e+01. */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, len, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* The same for a float, which is what layer arguments are stored as. */
void
cfg_fmt_float(char *buf, size_t len, float v)
{
    if (v == floorf(v) && fabsf(v) < 1e7f) {
        snprintf(buf, len, "%.0f", (double)v);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, len, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v)
            return;
    }
}

/* Append src to the text in dst (size bytes), cutting it short if need be;
 * returns false when it did not fit. */
bool
cfg_append_text(char *dst, size_t size, const char *src)
{
    size_t used = strnlen(dst, size - 1), n = strlen(src);
    bool fits = used + n < size;
    if (!fits)
        n = size - 1 - used;
    memcpy(dst + used, src, n);
    dst[used + n] = '\0';
    return fits;
}

/* Join "optim" and "lr" into "optim.lr" (or "lr" at the top). */
void
cfg_path_join(char *out, size_t len, const char *path, const char *key)
{
    out[0] = '\0';
    cfg_append_text(out, len, path);
    if (path[0] != '\0')
        cfg_append_text(out, len, ".");
    cfg_append_text(out, len, key);
}

/* Text for a message: at most 40 bytes, control characters shown as '?'. */
const char *
cfg_shorten(const char *s, char *buf, size_t len)
{
    size_t max = len - 4 < 40 ? len - 4 : 40, i = 0, j = 0;
    for (; s[i] != '\0' && j < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[j++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (s[i] != '\0') {
        /* Do not leave half a UTF-8 character before the ellipsis. */
        while (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0 && ((unsigned char)buf[j - 1] & 0xC0) == 0xC0)
            j--;
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

/* "a, b, c" from a keyword table, into buf. */
const char *
cfg_word_list(const struct words *w, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < w->n && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "", w->w[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}
