/*
 * cfg.c - the configuration's public face: loading a file or a string,
 * --set overrides, cross-field validation, and gcc-style error printing.
 *
 * A file and an override take the same road: text -> tree (cfg-tree.c) ->
 * struct (cfg-keys.c) on a scratch copy, committed only when nothing was
 * wrong, so a failed load leaves the caller's config as it was.  This file
 * deliberately knows no key names beyond splitting "a.b.c=value".
 */
#include "config.h"

#include "nntop/cfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg-int.h"
#include "nntop/xmem.h"

void
cfg_locale_enter(struct cfg_locale *l)
{
    l->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    /* Without a locale object (out of memory) we keep the current one. */
    l->old = l->c != (locale_t)0 ? uselocale(l->c) : (locale_t)0;
}

void
cfg_locale_leave(struct cfg_locale *l)
{
    if (l->c == (locale_t)0)
        return;
    uselocale(l->old);
    freelocale(l->c);
}

/* Copy src into dst, cut short to fit: a long path in a message is better cut than lost. */
static void
copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool
pos_before(unsigned line, unsigned col, unsigned line2, unsigned col2)
{
    return line < line2 || (line == line2 && col < col2);
}

static void
err_vadd(struct cctx *x, unsigned line, unsigned col, const char *path, bool bare,
         const char *fmt, va_list ap)
{
    struct cfg_errs *es = x->errs;
    char text[256], msg[512];
    struct cfg_err *e;
    if (es->n >= CFG_MAX_ERRORS) {
        /* Keep the first problems in the file, not the first found: the
         * document checks run before the key checks. */
        es->more++;
        int last = 0;
        for (int i = 1; i < es->n; i++)
            if (!pos_before(es->e[i].line, es->e[i].col, es->e[last].line, es->e[last].col))
                last = i;
        if (!pos_before(line, col, es->e[last].line, es->e[last].col))
            return;
        e = &es->e[last];
    } else {
        e = &es->e[es->n++];
    }
    memset(e, 0, sizeof *e);
    vsnprintf(text, sizeof text, fmt, ap);
    if (x->set_mode) {
        /* Bare texts name their key already; the user's own key reads best before them. */
        const char *key = bare || path[0] == '\0' ? x->set_key : path;
        copy_text(e->file, sizeof e->file, "--set");
        copy_text(e->key, sizeof e->key, key);
        snprintf(msg, sizeof msg, "%s: %s", key, text);
    } else {
        copy_text(e->file, sizeof e->file, x->file);
        e->line = line;
        e->col = line > 0 ? col : 0;
        copy_text(e->key, sizeof e->key, path);
        if (!bare && path[0] != '\0')
            snprintf(msg, sizeof msg, "%s: %s", path, text);
        else
            copy_text(msg, sizeof msg, text);
    }
    copy_text(e->msg, sizeof e->msg, msg);
}

void
cfg_err_add_at(struct cctx *x, unsigned line, unsigned col, const char *path, bool bare,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vadd(x, line, col, path, bare, fmt, ap);
    va_end(ap);
}

void
cfg_err_add(struct cctx *x, const struct cnode *n, const char *path, bool bare,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vadd(x, n != NULL ? n->line : 0, n != NULL ? n->col : 0, path, bare, fmt, ap);
    va_end(ap);
}

/* Stable sort by position, so messages read top to bottom like a compiler's. */
static void
sort_errors(struct cfg_errs *es)
{
    for (int i = 1; i < es->n; i++) {
        struct cfg_err e = es->e[i];
        int j = i;
        while (j > 0 && (es->e[j - 1].line > e.line
                         || (es->e[j - 1].line == e.line && es->e[j - 1].col > e.col))) {
            es->e[j] = es->e[j - 1];
            j--;
        }
        es->e[j] = e;
    }
}

static void
errs_reset(struct cfg_errs *errs)
{
    memset(errs, 0, sizeof *errs);
}

/* The directory part of file ("" when it has none: the working directory). */
static void
base_dir_of(const char *file, char *dir, size_t size)
{
    const char *slash = strrchr(file, '/');
    if (slash == NULL) {
        dir[0] = '\0';
    } else if (slash == file) {
        copy_text(dir, size, "/");
    } else {
        size_t n = (size_t)(slash - file);
        if (n >= size)
            n = size - 1;
        memcpy(dir, file, n);
        dir[n] = '\0';
    }
}

/* Apply root to a scratch copy of c; copy it back only if nothing was wrong. */
static void
apply_tree(struct cctx *x, struct cfg *c, const struct cnode *root)
{
    struct cfg *tmp = xmalloc(sizeof *tmp);
    memcpy(tmp, c, sizeof *tmp);
    cfg_apply_root(x, tmp, root);
    if (!x->set_mode)
        copy_text(tmp->layers_at.config, sizeof tmp->layers_at.config, x->file);
    if (x->errs->n == 0 && x->errs->more == 0) {
        cfg_sync(tmp);
        memcpy(c, tmp, sizeof *c);
    }
    free(tmp);
}

static int
load_text(struct cfg *c, const char *text, size_t len, const char *file, struct cfg_errs *errs)
{
    struct cctx x;
    struct cnode *root = NULL;
    struct cfg_locale loc;

    memset(&x, 0, sizeof x);
    x.errs = errs;
    x.file = file;
    x.text = text;
    x.len = len;
    base_dir_of(file, x.base_dir, sizeof x.base_dir);

    if (len > CFG_MAX_BYTES) {
        cfg_err_add(&x, NULL, "", true,
                    "%zu bytes is more than a config may have (%d bytes); is this the right file?",
                    len, CFG_MAX_BYTES);
        return -1;
    }
    cfg_locale_enter(&loc);
    if (cfg_tree_parse(&x, text, len, &root) == 0)
        apply_tree(&x, c, root);
    cfg_locale_leave(&loc);
    cfg_tree_free(root);
    sort_errors(errs);
    return errs->n > 0 || errs->more > 0 ? -1 : 0;
}

int
cfg_load_string(struct cfg *c, const char *text, size_t len, const char *file,
                struct cfg_errs *errs)
{
    errs_reset(errs);
    errs->text = text;
    errs->text_len = len;
    return load_text(c, text, len, file, errs);
}

int
cfg_load_file(struct cfg *c, const char *path, struct cfg_errs *errs)
{
    struct cctx x;
    FILE *fp;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    errs_reset(errs);
    memset(&x, 0, sizeof x);
    x.errs = errs;
    x.file = path;

    fp = fopen(path, "rb");
    if (fp == NULL) {
        cfg_err_add(&x, NULL, "", true, "%s", strerror(errno));
        return -1;
    }
    /* Read one byte past the limit, no more: that is enough to refuse it. */
    for (;;) {
        if (len == cap) {
            cap = cap == 0 ? 16384 : cap * 2;
            if (cap > (size_t)CFG_MAX_BYTES + 1)
                cap = (size_t)CFG_MAX_BYTES + 1;
            buf = xrealloc(buf, cap + 1);
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0 || len > (size_t)CFG_MAX_BYTES)
            break;
    }
    if (ferror(fp)) {
        cfg_err_add(&x, NULL, "", true, "%s", strerror(errno));
        goto out;
    }
    if (len > (size_t)CFG_MAX_BYTES) {
        cfg_err_add(&x, NULL, "", true,
                    "larger than %d bytes, the most a config may have; is this the right file?",
                    CFG_MAX_BYTES);
        goto out;
    }
    buf[len] = '\0';
    errs->text = buf;
    errs->text_len = len;
    errs->text_owned = true;
    rc = load_text(c, buf, len, path, errs);
    if (rc == 0) {
        errs->text = NULL;
        errs->text_len = 0;
        errs->text_owned = false;
    } else {
        buf = NULL;     /* errs owns it now, for the caret lines */
    }
out:
    fclose(fp);
    free(buf);
    return rc;
}

/* A --set key is dotted names: letters, digits, '_' and '-'. */
static bool
set_key_ok(const char *key)
{
    bool empty_segment = true;
    for (const char *p = key; *p != '\0'; p++) {
        char ch = *p;
        if (ch == '.') {
            if (empty_segment)
                return false;
            empty_segment = true;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                   || ch == '_' || ch == '-') {
            empty_segment = false;
        } else {
            return false;
        }
    }
    return !empty_segment;
}

/* optim.lr and V become {optim: {lr: V}}: the tree a file would give.
 * Takes ownership of value. */
static struct cnode *
wrap_in_keys(const char *key, struct cnode *value)
{
    struct cnode *inner = value;
    const char *end = key + strlen(key);
    while (end > key) {
        const char *start = end;
        while (start > key && start[-1] != '.')
            start--;
        struct cnode *map = cfg_node_new(CNODE_MAP, NULL, 0, false, 0, 0);
        cfg_node_push(map, cfg_node_new(CNODE_SCALAR, start, (size_t)(end - start), true, 0, 0));
        cfg_node_push(map, inner);
        inner = map;
        end = start > key ? start - 1 : start;
    }
    return inner;
}

int
cfg_set(struct cfg *c, const char *assignment, struct cfg_errs *errs)
{
    struct cctx x;
    char key[128];
    struct cnode *value = NULL, *root;
    struct cfg_locale loc;

    errs_reset(errs);
    memset(&x, 0, sizeof x);
    x.errs = errs;
    x.file = "--set";
    x.set_mode = true;
    x.set_key = key;

    const char *eq = strchr(assignment, '=');
    size_t klen = eq != NULL ? (size_t)(eq - assignment) : strlen(assignment);
    snprintf(key, sizeof key, "%.*s", (int)(klen < sizeof key ? klen : sizeof key - 1),
             assignment);
    if (eq == NULL) {
        cfg_err_add(&x, NULL, "", true, "expected KEY=VALUE, e.g. optim.lr=0.01");
        return -1;
    }
    if (klen >= sizeof key || !set_key_ok(key)) {
        if (klen == 0)
            snprintf(key, sizeof key, "%s", assignment);
        cfg_err_add(&x, NULL, "", true,
                    "expected a dotted key such as optim.lr or data.source before '='");
        return -1;
    }
    const char *text = eq + 1;
    size_t len = strlen(text);
    if (len > CFG_MAX_BYTES) {
        cfg_err_add(&x, NULL, "", true, "the value is longer than %d bytes", CFG_MAX_BYTES);
        return -1;
    }
    x.text = text;
    x.len = len;

    cfg_locale_enter(&loc);
    if (cfg_tree_parse(&x, text, len, &value) == 0) {
        /* "key=" and "key=~" both mean null; the key decides whether that is allowed. */
        if (value == NULL)
            value = cfg_node_new(CNODE_SCALAR, "", 0, true, 0, 0);
        root = wrap_in_keys(key, value);
        apply_tree(&x, c, root);
        cfg_tree_free(root);
    }
    cfg_locale_leave(&loc);
    return errs->n > 0 || errs->more > 0 ? -1 : 0;
}

int
cfg_validate(const struct cfg *c, struct cfg_errs *errs)
{
    struct cctx x;
    struct cfg_locale loc;
    errs_reset(errs);
    memset(&x, 0, sizeof x);
    x.errs = errs;
    /* A missing key is the config file's fault: "FILE: model.layers is required". */
    x.file = c->layers_at.config;
    cfg_locale_enter(&loc);
    int n = cfg_check_cross(&x, c);
    cfg_locale_leave(&loc);
    return n > 0 ? -1 : 0;
}

/* Print source line `line` of text with a caret under column col, gcc style. */
static void
print_caret(const char *text, size_t len, unsigned line, unsigned col, FILE *fp)
{
    size_t i = 0;
    for (unsigned l = 1; l < line; l++) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (nl == NULL)
            return;
        i = (size_t)(nl - text) + 1;
    }
    if (i > len)
        return;
    size_t end = i;
    while (end < len && text[end] != '\n' && end - i < 512)
        end++;
    if (end > i && text[end - 1] == '\r')
        end--;
    fprintf(fp, "%5u | %.*s\n", line, (int)(end - i), text + i);
    fprintf(fp, "      | ");
    /* Columns count characters; keep tabs so the caret lines up. */
    unsigned c = 1;
    for (size_t j = i; j < end && c < col; j++) {
        unsigned char ch = (unsigned char)text[j];
        if ((ch & 0xC0) == 0x80)
            continue;
        fputc(ch == '\t' ? '\t' : ' ', fp);
        c++;
    }
    for (; c < col; c++)
        fputc(' ', fp);
    fputs("^\n", fp);
}

void
cfg_errs_print(const struct cfg_errs *errs, FILE *fp)
{
    for (int i = 0; i < errs->n; i++) {
        const struct cfg_err *e = &errs->e[i];
        if (strcmp(e->file, "--set") == 0 && e->line == 0) {
            fprintf(fp, "nntop: --set %s\n", e->msg);
        } else if (e->line > 0) {
            fprintf(fp, "nntop: %s:%u:%u: %s\n", e->file, e->line, e->col, e->msg);
            if (errs->text != NULL)
                print_caret(errs->text, errs->text_len, e->line, e->col, fp);
        } else if (e->file[0] != '\0') {
            fprintf(fp, "nntop: %s: %s\n", e->file, e->msg);
        } else {
            fprintf(fp, "nntop: %s\n", e->msg);
        }
    }
    if (errs->more > 0)
        fprintf(fp, "nntop: %d more problem%s not shown\n", errs->more,
                errs->more == 1 ? "" : "s");
}

void
cfg_errs_fini(struct cfg_errs *errs)
{
    if (errs->text_owned)
        free((char *)errs->text);
    errs_reset(errs);
}
