/*
 * sbuf.h - a growable NUL-terminated string, the one string builder the
 * parts share (config dumps, JSON lines, safetensors headers, env.txt).
 *
 * Growth goes through the x* allocators, so appending never fails.  It
 * knows no format of its own: quoting for YAML or JSON stays with the part
 * that owns the format (cfg, runlog).
 */
#ifndef NNTOP_SBUF_H
#define NNTOP_SBUF_H

#include <stdarg.h>
#include <stddef.h>

/* s is owned by the buffer until sbuf_take; a zeroed sbuf is a valid empty one. */
struct sbuf {
    char *s;                /* NUL-terminated once anything is appended or after sbuf_init */
    size_t len, cap;
};

/* An empty string (allocates a small block, so b->s is "" at once). */
void sbuf_init(struct sbuf *b);
/* Free the text; b is left zeroed. */
void sbuf_fini(struct sbuf *b);
/* Append s[0..n) (may hold NUL bytes). */
void sbuf_putn(struct sbuf *b, const char *s, size_t n);
/* Append the NUL-terminated s. */
void sbuf_puts(struct sbuf *b, const char *s);
/* Append one byte. */
void sbuf_putc(struct sbuf *b, char c);
/* Append n copies of c (nothing when n <= 0): indents and padding. */
void sbuf_pad(struct sbuf *b, char c, int n);
/* Append formatted text. */
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Likewise from a va_list (ap is consumed). */
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/*
 * Hand the heap string to the caller (who frees it); b is left zeroed.
 * "" when nothing was appended.
 */
char *sbuf_take(struct sbuf *b);

#endif
