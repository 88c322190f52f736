/*
 * cfg-text.c - the small text helpers the key tables use: YAML quoting for
 * the config written back (into the shared sbuf), key paths, and values
 * shortened for messages.
 *
 * It knows nothing of keys or trees; cfg-keys.c decides what to write.
 */
#include "config.h"

#include "cfg-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/xmem.h"

/* A double-quoted YAML string: backslash and quote escaped, control bytes as \xNN. */
void
cfg_put_quoted(struct sbuf *b, const char *s)
{
    sbuf_putn(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char esc[2] = { '\\', (char)ch };
            sbuf_putn(b, esc, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            sbuf_printf(b, "\\x%02x", ch);
        } else {
            sbuf_putn(b, s, 1);
        }
    }
    sbuf_putn(b, "\"", 1);
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
