/*
 * runlog-json.c - the runlog module's strict JSON parser, JSON string
 * escaping and round-trip number formatting.
 *
 * The parser exists because safetensors headers and events.jsonl lines
 * come from disk and may be cut short or corrupted: every byte is checked,
 * recursion and the number of values are bounded, and a failure is a
 * message with the byte offset, never a crash.  It deliberately supports
 * nothing beyond RFC 8259 (no comments, no NaN literals, no trailing
 * commas) and no streaming.
 */
#include "config.h"

#include "runlog-int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nntop/runlog.h"
#include "nntop/numfmt.h"
#include "nntop/xmem.h"

/* A header of this many values is garbage, not a checkpoint of ours. */
#define JSON_MAX_NODES ((size_t)1 << 20)
#define JSON_MAX_NUMBER 64

struct parser {
    const unsigned char *p;
    size_t len, pos;
    int depth;
    size_t nodes;
    uint64_t max, used;     /* the budget for what the tree takes, and what it took */
    char *err;
    size_t errlen;
};

static int parse_value(struct parser *ps, struct json *out);

/*
 * Count n more bytes of tree (and an allocator's overhead) against the
 * budget, before they are allocated; -1 with the message when over it.
 */
static int
charge(struct parser *ps, size_t at, size_t n)
{
    ps->used += n + 16;
    if (ps->used <= ps->max)
        return 0;
    snprintf(ps->err, ps->errlen,
             "offset %zu: more than %llu bytes once parsed (data.max_bytes is %llu)", at,
             (unsigned long long)ps->max, (unsigned long long)ps->max);
    return -1;
}

static int
fail(struct parser *ps, size_t at, const char *what)
{
    snprintf(ps->err, ps->errlen, "offset %zu: %s", at, what);
    return -1;
}

static void
skip_ws(struct parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->pos++;
    }
}

/*
 * Length of the valid UTF-8 sequence at s (avail bytes), or 0 when it is
 * not one: overlong forms, surrogates and code points above U+10FFFF are
 * invalid (RFC 3629).
 */
static size_t
utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

static size_t
utf8_encode(unsigned char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int
hex4(struct parser *ps, unsigned *out)
{
    if (ps->len - ps->pos < 4)
        return fail(ps, ps->pos, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = ps->p[ps->pos + (size_t)i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return fail(ps, ps->pos + (size_t)i, "bad hex digit in \\u escape");
        v = v * 16 + d;
    }
    ps->pos += 4;
    *out = v;
    return 0;
}

/* Parse a string at ps->pos (which is on the opening quote) into *s, *n (heap). */
static int
parse_string(struct parser *ps, char **s, size_t *n)
{
    size_t start = ps->pos++;
    struct sbuf b;
    sbuf_init(&b);
    for (;;) {
        if (ps->pos >= ps->len) {
            sbuf_fini(&b);
            return fail(ps, start, "unterminated string");
        }
        unsigned char c = ps->p[ps->pos];
        if (c == '"') {
            ps->pos++;
            break;
        }
        if (c < 0x20) {
            sbuf_fini(&b);
            return fail(ps, ps->pos, "control character in string");
        }
        if (c >= 0x80) {
            size_t k = utf8_len(ps->p + ps->pos, ps->len - ps->pos);
            if (k == 0) {
                sbuf_fini(&b);
                return fail(ps, ps->pos, "invalid UTF-8 in string");
            }
            sbuf_putn(&b, (const char *)ps->p + ps->pos, k);
            ps->pos += k;
            continue;
        }
        if (c != '\\') {
            sbuf_putc(&b, (char)c);
            ps->pos++;
            continue;
        }
        size_t esc = ps->pos++;
        if (ps->pos >= ps->len) {
            sbuf_fini(&b);
            return fail(ps, esc, "truncated escape");
        }
        c = ps->p[ps->pos++];
        switch (c) {
        case '"': sbuf_putc(&b, '"'); break;
        case '\\': sbuf_putc(&b, '\\'); break;
        case '/': sbuf_putc(&b, '/'); break;
        case 'b': sbuf_putc(&b, '\b'); break;
        case 'f': sbuf_putc(&b, '\f'); break;
        case 'n': sbuf_putc(&b, '\n'); break;
        case 'r': sbuf_putc(&b, '\r'); break;
        case 't': sbuf_putc(&b, '\t'); break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(ps, &cp) < 0) {
                sbuf_fini(&b);
                return -1;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                sbuf_fini(&b);
                return fail(ps, esc, "lone low surrogate");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->len - ps->pos < 2 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u') {
                    sbuf_fini(&b);
                    return fail(ps, esc, "high surrogate without its low half");
                }
                ps->pos += 2;
                if (hex4(ps, &lo) < 0) {
                    sbuf_fini(&b);
                    return -1;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    sbuf_fini(&b);
                    return fail(ps, esc, "high surrogate without its low half");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            unsigned char u[4];
            sbuf_putn(&b, (const char *)u, utf8_encode(u, cp));
            break;
        }
        default:
            sbuf_fini(&b);
            return fail(ps, esc, "unknown escape");
        }
    }
    if (charge(ps, start, b.len + 1) < 0) {
        sbuf_fini(&b);
        return -1;
    }
    *n = b.len;
    *s = sbuf_take(&b);
    return 0;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
parse_number(struct parser *ps, struct json *out)
{
    size_t start = ps->pos;
    const unsigned char *p = ps->p;
    if (p[ps->pos] == '-')
        ps->pos++;
    if (ps->pos >= ps->len || !is_digit(p[ps->pos]))
        return fail(ps, start, "bad number");
    if (p[ps->pos] == '0') {
        ps->pos++;
    } else {
        while (ps->pos < ps->len && is_digit(p[ps->pos]))
            ps->pos++;
    }
    if (ps->pos < ps->len && p[ps->pos] == '.') {
        ps->pos++;
        if (ps->pos >= ps->len || !is_digit(p[ps->pos]))
            return fail(ps, start, "bad number");
        while (ps->pos < ps->len && is_digit(p[ps->pos]))
            ps->pos++;
    }
    if (ps->pos < ps->len && (p[ps->pos] == 'e' || p[ps->pos] == 'E')) {
        ps->pos++;
        if (ps->pos < ps->len && (p[ps->pos] == '+' || p[ps->pos] == '-'))
            ps->pos++;
        if (ps->pos >= ps->len || !is_digit(p[ps->pos]))
            return fail(ps, start, "bad number");
        while (ps->pos < ps->len && is_digit(p[ps->pos]))
            ps->pos++;
    }
    size_t n = ps->pos - start;
    if (n > JSON_MAX_NUMBER)
        return fail(ps, start, "number too long");
    if (charge(ps, start, n + 1) < 0)
        return -1;
    out->type = JSON_NUMBER;
    out->str = xmalloc(n + 1);
    memcpy(out->str, p + start, n);
    out->str[n] = '\0';
    out->len = n;
    out->num = strtod(out->str, NULL);
    return 0;
}

static int
parse_literal(struct parser *ps, const char *word, enum json_type type, struct json *out)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return fail(ps, ps->pos, "unexpected character");
    ps->pos += n;
    out->type = type;
    return 0;
}

struct key_ref {
    const char *s;
    size_t len, index;
};

static int
key_cmp(const void *a, const void *b)
{
    const struct key_ref *ka = a, *kb = b;
    size_t n = ka->len < kb->len ? ka->len : kb->len;
    int c = memcmp(ka->s, kb->s, n);
    if (c != 0)
        return c;
    return ka->len < kb->len ? -1 : ka->len > kb->len;
}

/* Objects with the same key twice are refused: which one counts is ambiguous. */
static int
check_duplicates(struct parser *ps, const struct json *obj)
{
    size_t n = obj->len;
    if (n < 2)
        return 0;
    struct key_ref *refs = xmalloc(n * sizeof *refs);
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct key_ref){ obj->keys[i], obj->key_lens[i], i };
    qsort(refs, n, sizeof *refs, key_cmp);
    int rc = 0;
    for (size_t i = 1; i < n; i++)
        if (key_cmp(&refs[i - 1], &refs[i]) == 0) {
            size_t later = refs[i].index > refs[i - 1].index ? refs[i].index : refs[i - 1].index;
            rc = fail(ps, obj->items[later].offset, "duplicate key in object");
            break;
        }
    free(refs);
    return rc;
}

static int
parse_container(struct parser *ps, struct json *out, bool object)
{
    size_t start = ps->pos++;
    if (++ps->depth > JSON_MAX_DEPTH)
        return fail(ps, start, "nesting too deep");
    out->type = object ? JSON_OBJECT : JSON_ARRAY;
    size_t cap = 0;
    char close = object ? '}' : ']';
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == (unsigned char)close) {
        ps->pos++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        skip_ws(ps);
        if (object) {
            if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
                return fail(ps, ps->pos, "expected a string key");
            if (parse_string(ps, &key, &key_len) < 0)
                return -1;
            skip_ws(ps);
            if (ps->pos >= ps->len || ps->p[ps->pos] != ':') {
                free(key);
                return fail(ps, ps->pos, "expected ':'");
            }
            ps->pos++;
        }
        if (out->len == cap) {
            size_t more = cap ? cap : 4;
            if (charge(ps, ps->pos, more * (sizeof *out->items
                                            + (object ? sizeof *out->keys
                                                        + sizeof *out->key_lens : 0))) < 0) {
                free(key);
                return -1;
            }
            cap += more;
            out->items = xrealloc(out->items, cap * sizeof *out->items);
            if (object) {
                out->keys = xrealloc(out->keys, cap * sizeof *out->keys);
                out->key_lens = xrealloc(out->key_lens, cap * sizeof *out->key_lens);
            }
        }
        struct json *item = &out->items[out->len];
        memset(item, 0, sizeof *item);
        if (object) {
            out->keys[out->len] = key;
            out->key_lens[out->len] = key_len;
        }
        /* Counted before parsing so runlog_json_fini frees a half-built item. */
        out->len++;
        if (parse_value(ps, item) < 0)
            return -1;
        skip_ws(ps);
        if (ps->pos >= ps->len)
            return fail(ps, start, object ? "unterminated object" : "unterminated array");
        unsigned char c = ps->p[ps->pos++];
        if (c == (unsigned char)close)
            break;
        if (c != ',')
            return fail(ps, ps->pos - 1, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    ps->depth--;
    return object ? check_duplicates(ps, out) : 0;
}

static int
parse_value(struct parser *ps, struct json *out)
{
    skip_ws(ps);
    if (ps->pos >= ps->len)
        return fail(ps, ps->pos, "unexpected end of input");
    if (++ps->nodes > JSON_MAX_NODES)
        return fail(ps, ps->pos, "too many values");
    out->offset = ps->pos;
    unsigned char c = ps->p[ps->pos];
    switch (c) {
    case '{':
        return parse_container(ps, out, true);
    case '[':
        return parse_container(ps, out, false);
    case '"':
        out->type = JSON_STRING;
        return parse_string(ps, &out->str, &out->len);
    case 't':
        return parse_literal(ps, "true", JSON_TRUE, out);
    case 'f':
        return parse_literal(ps, "false", JSON_FALSE, out);
    case 'n':
        return parse_literal(ps, "null", JSON_NULL, out);
    default:
        if (c == '-' || is_digit(c))
            return parse_number(ps, out);
        return fail(ps, ps->pos, "unexpected character");
    }
}

int
runlog_json_parse(struct json *out, const char *text, size_t len, uint64_t max, char *err,
                  size_t errlen)
{
    struct parser ps = {
        .p = (const unsigned char *)text, .len = len, .max = max, .err = err, .errlen = errlen,
    };
    memset(out, 0, sizeof *out);
    if (parse_value(&ps, out) < 0) {
        runlog_json_fini(out);
        return -1;
    }
    skip_ws(&ps);
    if (ps.pos != len) {
        fail(&ps, ps.pos, "trailing characters after the value");
        runlog_json_fini(out);
        return -1;
    }
    return 0;
}

void
runlog_json_fini(struct json *v)
{
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            runlog_json_fini(&v->items[i]);
            if (v->keys != NULL)
                free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    free(v->key_lens);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const struct json *
runlog_json_get(const struct json *v, const char *key)
{
    if (v->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->len; i++)
        if (v->key_lens[i] == n && memcmp(v->keys[i], key, n) == 0)
            return &v->items[i];
    return NULL;
}

bool
runlog_json_get_u64(const struct json *v, uint64_t *out)
{
    if (v == NULL || v->type != JSON_NUMBER)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = (unsigned char)v->str[i];
        if (!is_digit(c))
            return false;
        if (x > (UINT64_MAX - (c - '0')) / 10)
            return false;
        x = x * 10 + (uint64_t)(c - '0');
    }
    *out = x;
    return true;
}

/*
 * The JSON form of the character at s (avail bytes) into out (>= 8
 * bytes); returns the bytes of s consumed and sets *outn.
 */
static size_t
json_escape_one(const unsigned char *s, size_t avail, char *out, size_t *outn)
{
    unsigned char c = s[0];
    if (c >= 0x80) {
        size_t k = utf8_len(s, avail);
        if (k == 0) {
            memcpy(out, "\xEF\xBF\xBD", 3);     /* U+FFFD for a stray byte */
            *outn = 3;
            return 1;
        }
        memcpy(out, s, k);
        *outn = k;
        return k;
    }
    const char *e = NULL;
    switch (c) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\n': e = "\\n"; break;
    case '\r': e = "\\r"; break;
    case '\t': e = "\\t"; break;
    case '\b': e = "\\b"; break;
    case '\f': e = "\\f"; break;
    default: break;
    }
    if (e != NULL) {
        *outn = 2;
        memcpy(out, e, 2);
    } else if (c < 0x20 || c == 0x7F) {
        *outn = (size_t)snprintf(out, 8, "\\u%04x", c);
    } else {
        out[0] = (char)c;
        *outn = 1;
    }
    return 1;
}

void
runlog_json_put_str(struct sbuf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    sbuf_putc(b, '"');
    size_t i = 0;
    while (i < n) {
        char tmp[8];
        size_t tn;
        i += json_escape_one(p + i, n - i, tmp, &tn);
        sbuf_putn(b, tmp, tn);
    }
    sbuf_putc(b, '"');
}

char *
runlog_json_str(char *buf, size_t len, const char *s)
{
    if (len < 3) {
        if (len > 0)
            buf[0] = '\0';
        return buf;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;
    buf[o++] = '"';
    while (i < n) {
        char tmp[8];
        size_t tn;
        size_t used = json_escape_one(p + i, n - i, tmp, &tn);
        /* Room for this character, the closing quote and the NUL. */
        if (o + tn + 2 > len)
            break;
        memcpy(buf + o, tmp, tn);
        o += tn;
        i += used;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---- numbers ---------------------------------------------------------- */

char *
runlog_json_num(char *buf, size_t len, double x)
{
    if (isfinite(x)) {
        numfmt_exact_double(buf, len, x);
    } else {
        char t[8];
        numfmt_exact_double(t, sizeof t, x);        /* "nan", "inf", "-inf" */
        snprintf(buf, len, "\"%s\"", t);
    }
    return buf;
}
