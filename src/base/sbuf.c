/*
 * sbuf.c - the shared growable string (sbuf.h).
 *
 * Doubling growth from 64 bytes; no shrinking, no formats of its own.
 */
#include "config.h"

#include "nntop/sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

#define SBUF_FIRST_CAP 64

void
sbuf_init(struct sbuf *b)
{
    b->cap = SBUF_FIRST_CAP;
    b->s = xmalloc(b->cap);
    b->s[0] = '\0';
    b->len = 0;
}

void
sbuf_fini(struct sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* Room for more bytes and the NUL. */
static void
sbuf_reserve(struct sbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap == 0 ? SBUF_FIRST_CAP : b->cap;
    while (b->len + more + 1 > cap)
        cap *= 2;
    b->s = xrealloc(b->s, cap);
    if (b->cap == 0)
        b->s[0] = '\0';        /* a zeroed sbuf's first block */
    b->cap = cap;
}

void
sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
    sbuf_reserve(b, n);
    if (n > 0)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void
sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_putn(b, s, strlen(s));
}

void
sbuf_putc(struct sbuf *b, char c)
{
    sbuf_putn(b, &c, 1);
}

void
sbuf_pad(struct sbuf *b, char c, int n)
{
    if (n <= 0)
        return;
    sbuf_reserve(b, (size_t)n);
    memset(b->s + b->len, c, (size_t)n);
    b->len += (size_t)n;
    b->s[b->len] = '\0';
}

void
sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
    sbuf_reserve(b, 0);
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, aq);
    va_end(aq);
    if (n < 0)
        fatal("cannot format text (%s)", fmt);
    if ((size_t)n >= b->cap - b->len) {
        sbuf_reserve(b, (size_t)n);
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *
sbuf_take(struct sbuf *b)
{
    sbuf_reserve(b, 0);
    char *s = b->s;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}
