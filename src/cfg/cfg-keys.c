/*
 * cfg-keys.c - every configuration key: its type, range, default, the
 * source or optimizer it belongs to, and how it is written back.
 *
 * One table drives three things, so they cannot drift apart: applying a
 * document tree onto struct cfg (the single validator behind both files
 * and --set), writing the effective config as YAML, and the suggestions
 * offered for a misspelt key.  Keys that select a kind (data.source,
 * optim.name, optim.schedule.name) are applied first in their map, and
 * changing the kind resets that kind's own keys to their defaults.
 *
 * It deliberately does not read files, parse YAML text or print: it sees
 * trees (cfg-tree.c) and reports through cfg_err_add (cfg.c).
 */
#include "config.h"

#include "cfg-int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nntop/numfmt.h"
#include "nntop/xmem.h"

/* Enum fields are written through an int pointer, which needs int-sized enums. */
_Static_assert(sizeof(enum data_source) == sizeof(int), "enum data_source is int-sized");
_Static_assert(sizeof(enum normalize_kind) == sizeof(int), "enum normalize_kind is int-sized");
_Static_assert(sizeof(enum csv_header) == sizeof(int), "enum csv_header is int-sized");
_Static_assert(sizeof(enum loss_kind) == sizeof(int), "enum loss_kind is int-sized");
_Static_assert(sizeof(enum optim_kind) == sizeof(int), "enum optim_kind is int-sized");
_Static_assert(sizeof(enum sched_kind) == sizeof(int), "enum sched_kind is int-sized");

/* ---- keywords, in the order of their enums ---- */

#define WORDS(a) { a, (int)(sizeof a / sizeof *a) }

static const char *const source_w[] = { "spiral", "xor", "blobs", "idx", "csv", "npy" };
static const char *const normalize_w[] = { "none", "standardize", "minmax", "unit" };
static const char *const header_w[] = { "auto", "true", "false" };
/* The engine's kinds (layers, inits, losses, optimizers, schedules) are
 * spelled by nn: layer_kind_names and the like in nn.h and optim.h. */

_Static_assert(sizeof source_w / sizeof *source_w == DATA_SOURCE_COUNT, "source words");
_Static_assert(sizeof normalize_w / sizeof *normalize_w == NORM_KIND_COUNT, "normalize words");

static const struct words source_words = WORDS(source_w);
static const struct words normalize_words = WORDS(normalize_w);
static const struct words header_words = WORDS(header_w);
static const struct words loss_words = WORDS(loss_kind_names);
static const struct words optim_words = WORDS(optim_kind_names);
static const struct words sched_words = WORDS(sched_kind_names);
static const struct words layer_words = WORDS(layer_kind_names);

/* ---- the table's types ---- */

enum ftype {
    FT_INT,         /* int from an integer */
    FT_LONG,        /* long from an integer */
    FT_U64,         /* uint64_t from a non-negative integer */
    FT_DOUBLE,      /* finite number */
    FT_BOOL,        /* true or false */
    FT_STR,         /* non-empty text, stored as written; null: back to the default */
    FT_PATH,        /* data file; resolved against the config's directory */
    FT_ENUM,        /* one keyword of .words, stored as int */
    FT_SECTION,     /* a nested map (.sub), or .apply when it takes other forms */
    FT_CUSTOM,      /* .apply and .dump do everything */
    FT_COUNT
};

struct section;

struct field {
    const char *key;
    enum ftype type;
    size_t off;                 /* into struct cfg */
    size_t size;                /* FT_STR, FT_PATH: buffer bytes */
    struct range r;             /* FT_INT, FT_LONG, FT_DOUBLE */
    const struct words *words;  /* FT_ENUM */
    unsigned applies;           /* bit k: the key applies to the section's kind k; 0 = always */
    const struct section *sub;  /* FT_SECTION */
    void (*apply)(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path);
    void (*dump)(struct sbuf *b, const struct cfg *c, int indent);    /* FT_CUSTOM */
    bool (*shown)(const struct cfg *c);     /* written back only when true; NULL = always */
    /* The default, in the row, so the parser, --check-config's dump and the
     * man page's "(default X)" read one value: */
    double def;                 /* FT_INT, FT_LONG, FT_U64, FT_DOUBLE, FT_BOOL, FT_ENUM */
    const char *def_text;       /* FT_STR, FT_PATH (NULL: empty) */
    const double *def_by_kind;  /* in place of def: one per kind of the section */
    void (*reset)(struct cfg *c);   /* FT_CUSTOM: store its default */
};

struct section {
    const char *name;           /* "optim.schedule"; "" at the top level */
    const struct field *fields;
    int nfields;
    const char *selector;       /* the key choosing the kind, or NULL */
    const char *kind_noun;      /* "source", "optimizer", "schedule" */
    const char *const *aliases; /* NULL-terminated pairs: a likely wrong name, the right key */
    void (*check)(struct cctx *x, struct cfg *c, const struct cnode *map, const char *path);
    void (*defaults)(struct cfg *c);    /* when the defaults live with another part */
};

#define OFF(m) offsetof(struct cfg, m)
#define SZ(m) sizeof(((struct cfg *)0)->m)
#define BIT(k) (1u << (k))
#define RANGE(lo, lo_open, hi, hi_open) { (lo), (hi), (lo_open), (hi_open) }
#define AT_LEAST(lo) { (lo), INFINITY, false, false }
#define ABOVE(lo) { (lo), INFINITY, true, false }
#define NFIELDS(a) ((int)(sizeof a / sizeof *a))
/* A default for each kind of a section, indexed by its enum. */
#define BY_SOURCE(...) ((const double[DATA_SOURCE_COUNT]){ __VA_ARGS__ })
#define BY_OPTIM(...) ((const double[OPTIM_KIND_COUNT]){ __VA_ARGS__ })
#define BY_SCHED(...) ((const double[SCHED_KIND_COUNT]){ __VA_ARGS__ })

/* ---- maps ---- */

static const struct cnode *
map_get(const struct cnode *map, const char *key, const struct cnode **keynode)
{
    for (int i = 0; i < map->n; i++) {
        if (strcmp(map->kid[2 * i]->str, key) == 0) {
            if (keynode != NULL)
                *keynode = map->kid[2 * i];
            return map->kid[2 * i + 1];
        }
    }
    return NULL;
}

static void
err_unknown_key(struct cctx *x, const struct cnode *k, const char *where, const char *kpath,
                const struct cfg_suggester *s)
{
    char shown[48], hint[64];
    if (where[0] == '\0')
        cfg_err_add(x, k, kpath, true, "unknown key '%s'%s",
                    cfg_shorten(k->str, shown, sizeof shown),
                    cfg_suggest_text(s, hint, sizeof hint));
    else
        cfg_err_add(x, k, kpath, true, "unknown key '%s' in %s%s",
                    cfg_shorten(k->str, shown, sizeof shown), where,
                    cfg_suggest_text(s, hint, sizeof hint));
}

/* ---- defaults of the keys that need more than a type ---- */

static void
reset_name(struct cfg *c)
{
    cfg_store_text(c->name, sizeof c->name, "run");
}

static void
reset_label(struct cfg *c)
{
    memset(c->data.label_name, 0, sizeof c->data.label_name);
    c->data.label_index = -1;
}

static void
reset_layers(struct cfg *c)
{
    c->model.nlayers = 0;
}

static void
reset_betas(struct cfg *c)
{
    c->optim.beta1 = 0.9;
    c->optim.beta2 = 0.999;
}

static void
reset_clip(struct cfg *c)
{
    c->clip.kind = CLIP_NONE;
    c->clip.value = 0;
}

static void
reset_doctor(struct cfg *c)
{
    doctor_spec_defaults(&c->doctor);
}

/* ---- the keys that need more than a type ---- */

static void
apply_name(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    const char *s;
    char shown[48];
    if (!cfg_get_text(x, n, path, "a name", &s))
        return;
    if (n->len == 0 || n->len >= CFG_NAME_MAX) {
        cfg_err_add(x, n, path, false, "'%s' must have 1 to %d characters",
                    cfg_shorten(s, shown, sizeof shown), CFG_NAME_MAX - 1);
        return;
    }
    for (size_t i = 0; i < n->len; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '.' || ch == '_' || ch == '-')) {
            cfg_err_add(x, n, path, false,
                        "'%s' may only use letters, digits, '.', '_' and '-' (it names the run's "
                        "directory)", cfg_shorten(s, shown, sizeof shown));
            return;
        }
    }
    cfg_store_text(c->name, sizeof c->name, s);
}

static void
dump_name(struct sbuf *b, const struct cfg *c, int indent)
{
    sbuf_putn(b, " ", 1);
    cfg_put_quoted(b, c->name);
    sbuf_putn(b, "\n", 1);
}

/* "dir/x.yaml" has its data next to it; we store it absolute so that the
 * run's copy of the config loads from anywhere. */
static bool
resolve_path(struct cctx *x, const struct cnode *n, const char *path, const char *in, char *out,
             size_t size)
{
    char dir[DATA_PATH_MAX];
    bool dir_fits = true;
    int len;
    if (in[0] == '/') {
        len = snprintf(out, size, "%s", in);
    } else {
        while (in[0] == '.' && in[1] == '/')
            in += 2;
        if (x->base_dir[0] == '/') {
            snprintf(dir, sizeof dir, "%s", x->base_dir);
        } else {
            if (getcwd(dir, sizeof dir) == NULL) {
                cfg_err_add(x, n, path, false, "cannot resolve a relative path: %s",
                            strerror(errno));
                return false;
            }
            if (x->base_dir[0] != '\0') {
                if (strcmp(dir, "/") != 0)
                    dir_fits = cfg_append_text(dir, sizeof dir, "/");
                dir_fits = cfg_append_text(dir, sizeof dir, x->base_dir) && dir_fits;
            }
        }
        out[0] = '\0';
        bool fits = cfg_append_text(out, size, dir) && dir_fits;
        if (strcmp(dir, "/") != 0)
            fits = cfg_append_text(out, size, "/") && fits;
        fits = cfg_append_text(out, size, in) && fits;
        len = fits ? (int)strlen(out) : -1;
    }
    if (len < 0 || (size_t)len >= size) {
        cfg_err_add(x, n, path, false, "the path is longer than %zu bytes", size - 1);
        return false;
    }
    return true;
}

static void
apply_path(struct cctx *x, char *dst, size_t size, const struct cnode *n, const char *path)
{
    char *resolved;
    const char *s;
    /* ~ (or "") means "none": the optional test files, or a path not yet given. */
    if (cfg_is_null(n) || (n->kind == CNODE_SCALAR && n->len == 0)) {
        memset(dst, 0, size);
        return;
    }
    if (!cfg_get_text(x, n, path, "a path", &s))
        return;
    resolved = xmalloc(size);
    if (resolve_path(x, n, path, s, resolved, size))
        cfg_store_text(dst, size, resolved);
    free(resolved);
}

/* Keep where the data path key at path was written (cfg_path_where). */
static void
note_path_at(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    int slot = -1;
    for (int i = 0; i < CFG_PATHS_AT && slot < 0; i++)
        if (c->layers_at.paths[i].key[0] == '\0' || strcmp(c->layers_at.paths[i].key, path) == 0)
            slot = i;
    if (slot < 0 || strlen(path) >= sizeof c->layers_at.paths[slot].key)
        return;
    snprintf(c->layers_at.paths[slot].key, sizeof c->layers_at.paths[slot].key, "%s", path);
    snprintf(c->layers_at.paths[slot].file, sizeof c->layers_at.paths[slot].file, "%s",
             x->file);
    c->layers_at.paths[slot].line = x->set_mode ? 0 : n->line;
    c->layers_at.paths[slot].col = x->set_mode ? 0 : n->col;
}

static void
apply_label(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    static const struct range r = RANGE(-1, false, 1000000, false);
    long long v;
    const char *s;
    if (n->kind == CNODE_SCALAR && n->plain && cfg_looks_int(n->str)) {
        if (cfg_get_ll(x, n, path, &r, &v)) {
            memset(c->data.label_name, 0, sizeof c->data.label_name);
            c->data.label_index = (int)v;
        }
        return;
    }
    if (!cfg_get_text(x, n, path, "a column name or a 0-based column index", &s))
        return;
    if (n->len == 0 || n->len >= sizeof c->data.label_name) {
        cfg_err_add(x, n, path, false, "a column name has 1 to %zu bytes",
                    sizeof c->data.label_name - 1);
        return;
    }
    cfg_store_text(c->data.label_name, sizeof c->data.label_name, s);
    c->data.label_index = -1;
}

static void
dump_label(struct sbuf *b, const struct cfg *c, int indent)
{
    if (c->data.label_name[0] != '\0') {
        sbuf_putn(b, " ", 1);
        cfg_put_quoted(b, c->data.label_name);
        sbuf_putn(b, "\n", 1);
    } else {
        sbuf_printf(b, " %d\n", c->data.label_index);
    }
}

/* init: pytorch | he | xavier | zeros | normal:STD | uniform:A */
static bool
parse_init(struct cctx *x, struct layer_spec *l, const struct cnode *n, const char *path)
{
    static const struct range positive = ABOVE(0);
    char word[16], shown[48], hint[64], d[96];
    const char *s;
    if (!cfg_get_text(x, n, path, "an initialisation such as he or normal:0.01", &s))
        return false;
    const char *colon = strchr(s, ':');
    size_t wlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
    snprintf(word, sizeof word, "%.*s", (int)(wlen < sizeof word ? wlen : sizeof word - 1), s);
    int kind = -1;
    struct cfg_suggester sug = { NULL, 0 };
    for (int i = 0; i < INIT_KIND_COUNT; i++) {
        if (wlen == strlen(init_kind_names[i]) && strncmp(s, init_kind_names[i], wlen) == 0)
            kind = i;
        cfg_suggest_try(&sug, word, init_kind_names[i], init_kind_names[i]);
    }
    if (kind < 0) {
        cfg_err_add(x, n, path, false,
                    "'%s' is not one of pytorch, he, xavier, zeros, normal:STD, uniform:A%s",
                    cfg_shorten(s, shown, sizeof shown), cfg_suggest_text(&sug, hint, sizeof hint));
        return false;
    }
    l->init = (enum init_kind)kind;
    l->init_arg = 0;
    if (kind != INIT_NORMAL && kind != INIT_UNIFORM) {
        if (colon != NULL) {
            cfg_err_add(x, n, path, false, "'%s' takes no value, got '%s'", init_kind_names[kind],
                        cfg_shorten(s, shown, sizeof shown));
            return false;
        }
        return true;
    }
    if (colon == NULL || colon[1] == '\0') {
        cfg_err_add(x, n, path, false, "%s",
                    kind == INIT_NORMAL
                        ? "'normal' needs its standard deviation, e.g. normal:0.01"
                        : "'uniform' needs its bound, e.g. uniform:0.05");
        return false;
    }
    struct cnode arg = { .kind = CNODE_SCALAR, .line = n->line, .col = n->col, .plain = true,
                         .str = (char *)(colon + 1), .len = strlen(colon + 1) };
    if (!cfg_looks_number(arg.str)) {
        cfg_err_add(x, n, path, false, "expected a number after '%s:', got %s",
                    init_kind_names[kind],
                    cfg_describe(&arg, d, sizeof d));
        return false;
    }
    double v;
    if (!cfg_get_double(x, &arg, path, &positive, &v))
        return false;
    if (isinf((float)v)) {
        cfg_err_range(x, &arg, path, &positive);
        return false;
    }
    l->init_arg = (float)v;
    return true;
}

/* The option keys a layer map may carry besides its kind. */
enum layer_opt { LOPT_INIT, LOPT_KERNEL, LOPT_STRIDE, LOPT_PADDING, LOPT_BIAS, LOPT_COUNT };
static const char *const layer_opt_w[LOPT_COUNT] = { "init", "kernel", "stride", "padding",
                                                     "bias" };

/* Whether layer kind k takes option o. */
static bool
layer_takes(enum layer_kind k, enum layer_opt o)
{
    switch (o) {
    case LOPT_INIT:
        return k == LAYER_DENSE || k == LAYER_CONV2D;
    case LOPT_KERNEL:
    case LOPT_BIAS:
        return k == LAYER_CONV2D;
    case LOPT_STRIDE:
    case LOPT_PADDING:
        return k == LAYER_CONV2D || k == LAYER_MAXPOOL2D || k == LAYER_AVGPOOL2D;
    case LOPT_COUNT:
        break;
    }
    return false;
}

/* conv2d's kernel/stride/padding and bias, and a pool's stride/padding,
 * with PyTorch's defaults (conv stride 1, pool stride = kernel). */
static bool
parse_window(struct cctx *x, struct layer_spec *l, const struct cnode *const *opt,
             const char *path)
{
    static const struct range side = RANGE(1, false, 1024, false);
    static const struct range pad = RANGE(0, false, 1024, false);
    char opath[160];
    long long v;
    bool ok = true;
    if (l->kind == LAYER_CONV2D && opt[LOPT_KERNEL] != NULL) {
        cfg_path_join(opath, sizeof opath, path, "kernel");
        if (cfg_get_ll(x, opt[LOPT_KERNEL], opath, &side, &v))
            l->kernel = (int)v;
        else
            ok = false;
    }
    l->stride = l->kind == LAYER_CONV2D ? 1 : l->kernel;
    if (opt[LOPT_STRIDE] != NULL) {
        cfg_path_join(opath, sizeof opath, path, "stride");
        if (cfg_get_ll(x, opt[LOPT_STRIDE], opath, &side, &v))
            l->stride = (int)v;
        else
            ok = false;
    }
    if (opt[LOPT_PADDING] != NULL) {
        cfg_path_join(opath, sizeof opath, path, "padding");
        if (cfg_get_ll(x, opt[LOPT_PADDING], opath, &pad, &v))
            l->padding = (int)v;
        else
            ok = false;
    }
    if (opt[LOPT_BIAS] != NULL) {
        bool bias = true;
        cfg_path_join(opath, sizeof opath, path, "bias");
        if (cfg_get_bool(x, opt[LOPT_BIAS], opath, &bias))
            l->no_bias = !bias;
        else
            ok = false;
    }
    return ok;
}

/*
 * The parts of a one-layer map: *kindnode the key naming the layer, *arg
 * its value, opt[] / optkey[] the options.  Unknown keys and a second
 * layer are reported; false when there is no layer to go on with.
 */
static bool
layer_item_parts(struct cctx *x, const struct cnode *item, const char *path,
                 const struct cnode **kindnode, const struct cnode **arg,
                 const struct cnode *opt[LOPT_COUNT], const struct cnode *optkey[LOPT_COUNT])
{
    char list[160];
    int before = x->errs->n + x->errs->more;
    for (int i = 0; i < item->n; i++) {
        const struct cnode *k = item->kid[2 * i], *v = item->kid[2 * i + 1];
        char kpath[160];
        cfg_path_join(kpath, sizeof kpath, path, k->str);
        int o;
        for (o = 0; o < LOPT_COUNT; o++)
            if (strcmp(k->str, layer_opt_w[o]) == 0)
                break;
        if (o < LOPT_COUNT) {
            opt[o] = v;
            optkey[o] = k;
            continue;
        }
        bool known = false;
        struct cfg_suggester s = { NULL, 0 };
        for (int j = 0; j < LAYER_KIND_COUNT; j++) {
            if (strcmp(k->str, layer_kind_names[j]) == 0)
                known = true;
            cfg_suggest_try(&s, k->str, layer_kind_names[j], layer_kind_names[j]);
        }
        for (int j = 0; j < LOPT_COUNT; j++)
            cfg_suggest_try(&s, k->str, layer_opt_w[j], layer_opt_w[j]);
        if (!known) {
            err_unknown_key(x, k, path, kpath, &s);
        } else if (*kindnode != NULL) {
            cfg_err_add(x, k, path, false, "one layer per list item: '%s' follows '%s'",
                        k->str, (*kindnode)->str);
        } else {
            *kindnode = k;
            *arg = v;
        }
    }
    if (*kindnode == NULL) {
        if (x->errs->n + x->errs->more == before)
            cfg_err_add(x, item, path, false, "no layer in this item (expected one of %s)",
                        cfg_word_list(&layer_words, list, sizeof list));
        return false;
    }
    return true;
}

/* The layer kind kindnode names, or -1 (reported, with a suggestion). */
static int
layer_kind_of(struct cctx *x, const struct cnode *kindnode, const char *path)
{
    char shown[48], hint[64];
    int kind = -1;
    struct cfg_suggester s = { NULL, 0 };
    for (int j = 0; j < LAYER_KIND_COUNT; j++) {
        if (strcmp(kindnode->str, layer_kind_names[j]) == 0)
            kind = j;
        cfg_suggest_try(&s, kindnode->str, layer_kind_names[j], layer_kind_names[j]);
    }
    if (kind < 0) {
        /* A bare number is a width: the layer it belongs to is a dense one. */
        const char *kstr = kindnode->str;
        size_t kn = strlen(kstr);
        if (kn > 0 && kn < 12 && strspn(kstr, "0123456789") == kn)
            cfg_err_add(x, kindnode, path, false,
                        "unknown layer '%s': a width needs its layer, e.g. {dense: %s}", kstr,
                        kstr);
        else
            cfg_err_add(x, kindnode, path, false, "unknown layer '%s'%s",
                        cfg_shorten(kindnode->str, shown, sizeof shown),
                        cfg_suggest_text(&s, hint, sizeof hint));
    }
    return kind;
}

/* Options l's kind does not take are reported and dropped from opt[]; false when there were any. */
static bool
layer_refuse_options(struct cctx *x, const struct layer_spec *l,
                     const struct cnode *opt[LOPT_COUNT],
                     const struct cnode *const optkey[LOPT_COUNT], const char *path)
{
    bool ok = true;
    const char *name = layer_kind_names[l->kind];
    for (int o = 0; o < LOPT_COUNT; o++) {
        if (opt[o] == NULL || layer_takes(l->kind, (enum layer_opt)o))
            continue;
        char opath[160];
        cfg_path_join(opath, sizeof opath, path, layer_opt_w[o]);
        if (o == LOPT_INIT)
            cfg_err_add(x, optkey[o], opath, false,
                        "only a dense or conv2d layer has an init, not '%s'", name);
        else
            cfg_err_add(x, optkey[o], opath, false, "a %s layer has no %s", name, layer_opt_w[o]);
        ok = false;
        opt[o] = NULL;
    }
    return ok;
}

/*
 * The layer's own value (arg: its width, kernel, slope or p) and its
 * window options.  before is the error count when the item began (an
 * earlier error may be the kernel misspelt, which says it already).
 */
static bool
layer_parse_value(struct cctx *x, struct layer_spec *l, const struct cnode *item,
                  const struct cnode *arg, const struct cnode *const opt[LOPT_COUNT],
                  const char *path, int before)
{
    static const struct range width = RANGE(1, false, 65536, false);
    static const struct range side = RANGE(1, false, 1024, false);
    static const struct range prob = RANGE(0, false, 1, true);
    const char *name = layer_kind_names[l->kind];
    char d[96], apath[160];
    cfg_path_join(apath, sizeof apath, path, name);
    bool ok = true;
    long long units;
    double v;
    switch (l->kind) {
    case LAYER_DENSE:
    case LAYER_CONV2D:
        if (arg == NULL || cfg_is_null(arg)) {
            cfg_err_add(x, arg != NULL ? arg : item, path, false,
                        l->kind == LAYER_DENSE
                            ? "a dense layer needs its width, e.g. {dense: 100}"
                            : "a conv2d layer needs its output channels, e.g. "
                              "{conv2d: 32, kernel: 5}");
            ok = false;
        } else if (cfg_get_ll(x, arg, apath, &width, &units)) {
            l->units = (int)units;
        } else {
            ok = false;
        }
        if (l->kind == LAYER_CONV2D) {
            if (opt[LOPT_KERNEL] == NULL && ok && x->errs->n + x->errs->more == before) {
                cfg_err_add(x, item, path, false,
                            "a conv2d layer needs a kernel, e.g. {conv2d: %d, kernel: 5}",
                            l->units);
                ok = false;
            }
            if (!parse_window(x, l, opt, path))
                ok = false;
        }
        break;
    case LAYER_MAXPOOL2D:
    case LAYER_AVGPOOL2D:
        if (arg == NULL || cfg_is_null(arg)) {
            cfg_err_add(x, arg != NULL ? arg : item, path, false,
                        "a %s layer needs its kernel, e.g. {%s: 2}", name, name);
            ok = false;
        } else if (cfg_get_ll(x, arg, apath, &side, &units)) {
            l->kernel = (int)units;
            if (!parse_window(x, l, opt, path))
                ok = false;
        } else {
            ok = false;
        }
        break;
    case LAYER_LEAKY_RELU:
    case LAYER_DROPOUT:
    case LAYER_DROPOUT2D:
        /* PyTorch's defaults: negative_slope 0.01, p 0.5. */
        l->arg = l->kind == LAYER_LEAKY_RELU ? 0.01f : 0.5f;
        if (arg != NULL && !cfg_is_null(arg)) {
            if (cfg_get_double(x, arg, apath, &prob, &v))
                l->arg = (float)v;
            else
                ok = false;
        }
        break;
    default:
        if (arg != NULL && !cfg_is_null(arg)) {
            cfg_err_add(x, arg, apath, false, "a %s layer takes no value, got %s", name,
                        cfg_describe(arg, d, sizeof d));
            ok = false;
        }
        break;
    }
    return ok;
}

/*
 * One item of model.layers: a bare name or a one-layer map, plus options
 * for the layers that have them (init for dense and conv2d; kernel,
 * stride, padding and bias for conv2d; stride and padding for pools).
 */
static bool
parse_layer(struct cctx *x, struct layer_spec *l, const struct cnode *item, const char *path)
{
    const struct cnode *kindnode = NULL, *arg = NULL;
    const struct cnode *opt[LOPT_COUNT] = { NULL }, *optkey[LOPT_COUNT] = { NULL };
    char d[96];
    int before = x->errs->n + x->errs->more;

    if (item->kind == CNODE_SEQ || cfg_is_null(item)) {
        cfg_err_add(x, item, path, false, "expected a layer such as relu or {dense: 100}, got %s",
                    cfg_describe(item, d, sizeof d));
        return false;
    }
    if (item->kind == CNODE_SCALAR)
        kindnode = item;
    else if (!layer_item_parts(x, item, path, &kindnode, &arg, opt, optkey))
        return false;
    int kind = layer_kind_of(x, kindnode, path);
    if (kind < 0)
        return false;
    memset(l, 0, sizeof *l);
    l->kind = (enum layer_kind)kind;
    bool ok = layer_refuse_options(x, l, opt, optkey, path);
    if (!layer_parse_value(x, l, item, arg, opt, path, before))
        ok = false;
    if (opt[LOPT_INIT] != NULL) {
        char ipath[160];
        cfg_path_join(ipath, sizeof ipath, path, "init");
        if (!parse_init(x, l, opt[LOPT_INIT], ipath))
            ok = false;
    }
    return ok;
}

static void
apply_layers(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    struct layer_spec layers[NN_MAX_LAYERS];
    char d[96];
    if (n->kind != CNODE_SEQ) {
        cfg_err_add(x, n, path, false,
                    "expected a list of layers such as [{dense: 100}, relu, {dense: 3}], got %s",
                    cfg_describe(n, d, sizeof d));
        return;
    }
    if (n->n > NN_MAX_LAYERS) {
        cfg_err_add(x, n, path, false, "%d layers, more than the %d a model may have", n->n,
                    NN_MAX_LAYERS);
        return;
    }
    memset(layers, 0, sizeof layers);
    bool ok = true;
    for (int i = 0; i < n->n; i++) {
        char ipath[64];
        snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
        if (!parse_layer(x, &layers[i], n->kid[i], ipath))
            ok = false;
    }
    if (!ok)
        return;
    /* Lists replace, they never merge: the model is exactly what was listed. */
    memcpy(c->model.layers, layers, sizeof layers);
    c->model.nlayers = n->n;
    /* Where each item was written, for the shape errors found once the
     * data is known (cfg_layer_where). */
    memset(c->layers_at.line, 0, sizeof c->layers_at.line);
    memset(c->layers_at.col, 0, sizeof c->layers_at.col);
    snprintf(c->layers_at.file, sizeof c->layers_at.file, "%s", x->file);
    for (int i = 0; i < n->n && !x->set_mode; i++) {
        c->layers_at.line[i] = n->kid[i]->line;
        c->layers_at.col[i] = n->kid[i]->col;
    }
}

/* "init}" of a dense or conv2d item, closing it. */
static void
dump_init(struct sbuf *b, const struct layer_spec *l)
{
    char v[32];
    if (l->init == INIT_NORMAL || l->init == INIT_UNIFORM) {
        char text[48];
        numfmt_exact_float(v, sizeof v, l->init_arg);
        snprintf(text, sizeof text, "%s:%s", init_kind_names[l->init], v);
        cfg_put_quoted(b, text);
    } else {
        sbuf_printf(b, "%s", init_kind_names[l->init]);
    }
    sbuf_putn(b, "}\n", 2);
}

static void
dump_layers(struct sbuf *b, const struct cfg *c, int indent)
{
    char v[32];
    if (c->model.nlayers == 0) {
        sbuf_putn(b, " []\n", 4);
        return;
    }
    sbuf_putn(b, "\n", 1);
    for (int i = 0; i < c->model.nlayers; i++) {
        const struct layer_spec *l = &c->model.layers[i];
        sbuf_pad(b, ' ', indent + 2);
        switch (l->kind) {
        case LAYER_DENSE:
            sbuf_printf(b, "- {dense: %d, init: ", l->units);
            dump_init(b, l);
            break;
        case LAYER_CONV2D:
            sbuf_printf(b, "- {conv2d: %d, kernel: %d, stride: %d, padding: %d, bias: %s, "
                          "init: ", l->units, l->kernel, l->stride, l->padding,
                          l->no_bias ? "false" : "true");
            dump_init(b, l);
            break;
        case LAYER_MAXPOOL2D:
        case LAYER_AVGPOOL2D:
            sbuf_printf(b, "- {%s: %d, stride: %d, padding: %d}\n", layer_kind_names[l->kind],
                          l->kernel, l->stride, l->padding);
            break;
        case LAYER_LEAKY_RELU:
        case LAYER_DROPOUT:
        case LAYER_DROPOUT2D:
            numfmt_exact_float(v, sizeof v, l->arg);
            sbuf_printf(b, "- {%s: %s}\n", layer_kind_names[l->kind], v);
            break;
        default:
            sbuf_printf(b, "- %s\n", layer_kind_names[l->kind]);
            break;
        }
    }
}

/* data.shape: [C, H, W], the image shape of each row of a CSV. */
static void
apply_shape(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    static const struct range side = RANGE(1, false, 65536, false);
    char d[96], ipath[64];
    long long v[3];
    if (n->kind != CNODE_SEQ || n->n != 3) {
        const char *got = cfg_describe(n, d, sizeof d);
        if (n->kind == CNODE_SEQ) {
            snprintf(d, sizeof d, "%d value%s", n->n, n->n == 1 ? "" : "s");
            got = d;
        }
        cfg_err_add(x, n, path, false, "expected [C, H, W] such as [1, 28, 28], got %s", got);
        return;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
        if (!cfg_get_ll(x, n->kid[i], ipath, &side, &v[i]))
            return;
    }
    for (int i = 0; i < 3; i++)
        c->data.shape[i] = (int)v[i];
}

static void
dump_shape(struct sbuf *b, const struct cfg *c, int indent)
{
    (void)indent;
    sbuf_printf(b, " [%d, %d, %d]\n", c->data.shape[0], c->data.shape[1], c->data.shape[2]);
}

static bool
shown_shape(const struct cfg *c)
{
    return c->data.shape[0] > 0;
}

static bool
shown_inputs_key(const struct cfg *c)
{
    return c->data.inputs_key[0] != '\0';
}

static bool
shown_labels_key(const struct cfg *c)
{
    return c->data.labels_key[0] != '\0';
}

static void
apply_betas(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    static const struct range r = RANGE(0, false, 1, true);
    char d[96], ipath[64];
    double b[2];
    if (n->kind != CNODE_SEQ || n->n != 2) {
        const char *got = cfg_describe(n, d, sizeof d);
        if (n->kind == CNODE_SEQ && n->n > 0) {
            snprintf(d, sizeof d, "%d value%s", n->n, n->n == 1 ? "" : "s");
            got = d;
        }
        cfg_err_add(x, n, path, false, "expected two numbers such as [0.9, 0.999], got %s", got);
        return;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
        if (!cfg_get_double(x, n->kid[i], ipath, &r, &b[i]))
            return;
    }
    c->optim.beta1 = b[0];
    c->optim.beta2 = b[1];
}

static void
dump_betas(struct sbuf *b, const struct cfg *c, int indent)
{
    char b1[32], b2[32];
    numfmt_exact_double(b1, sizeof b1, c->optim.beta1);
    numfmt_exact_double(b2, sizeof b2, c->optim.beta2);
    sbuf_printf(b, " [%s, %s]\n", b1, b2);
}

/* clip: none | {norm: X} | {value: X} */
static void
apply_clip(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    static const struct range positive = ABOVE(0);
    static const char *const clip_keys[] = { "norm", "value" };
    char d[96], kpath[160];
    if (n->kind == CNODE_SCALAR && !cfg_is_null(n) && strcmp(n->str, "none") == 0) {
        c->clip.kind = CLIP_NONE;
        c->clip.value = 0;
        return;
    }
    if (n->kind != CNODE_MAP || n->n == 0) {
        cfg_err_add(x, n, path, false, "expected none, {norm: X} or {value: X}, got %s",
                    cfg_describe(n, d, sizeof d));
        return;
    }
    for (int i = 1; i < n->n; i++)
        cfg_err_add(x, n->kid[2 * i], path, false, "give one of norm or value, not both");
    if (n->n > 1)
        return;
    const struct cnode *k = n->kid[0], *v = n->kid[1];
    cfg_path_join(kpath, sizeof kpath, path, k->str);
    int kind = -1;
    struct cfg_suggester s = { NULL, 0 };
    for (int i = 0; i < 2; i++) {
        if (strcmp(k->str, clip_keys[i]) == 0)
            kind = i == 0 ? CLIP_NORM : CLIP_VALUE;
        cfg_suggest_try(&s, k->str, clip_keys[i], clip_keys[i]);
    }
    if (kind < 0) {
        err_unknown_key(x, k, path, kpath, &s);
        return;
    }
    double value;
    if (!cfg_get_double(x, v, kpath, &positive, &value))
        return;
    c->clip.kind = (enum clip_kind)kind;
    c->clip.value = value;
}

static void
dump_clip(struct sbuf *b, const struct cfg *c, int indent)
{
    char v[32];
    if (c->clip.kind == CLIP_NONE) {
        sbuf_putn(b, " none\n", 6);
        return;
    }
    numfmt_exact_double(v, sizeof v, c->clip.value);
    sbuf_printf(b, " {%s: %s}\n", c->clip.kind == CLIP_NORM ? "norm" : "value", v);
}

static bool
shown_step_size(const struct cfg *c)
{
    return c->sched.step_size > 0;
}

static bool
shown_epochs(const struct cfg *c)
{
    return c->train.steps == 0;
}

static bool
shown_steps(const struct cfg *c)
{
    return c->train.steps > 0;
}

static void section_set_kind(struct cfg *c, const struct section *s, int kind);
static void apply_section(struct cctx *x, struct cfg *c, const struct section *s,
                          const struct cnode *n, const char *path);
static void apply_schedule(struct cctx *x, struct cfg *c, const struct cnode *n,
                           const char *path);

/* data: the keys of every source; `applies` says which source owns a key. */
#define SYNTH (BIT(DATA_SPIRAL) | BIT(DATA_XOR) | BIT(DATA_BLOBS))
static const struct field data_fields[] = {
    { .key = "source", .type = FT_ENUM, .off = OFF(data.source), .words = &source_words,
      .def = DATA_SPIRAL },
    { .key = "classes", .type = FT_INT, .off = OFF(data.classes),
      .r = RANGE(2, false, 1000, false), .applies = BIT(DATA_SPIRAL) | BIT(DATA_BLOBS),
      .def_by_kind = BY_SOURCE([DATA_SPIRAL] = 3, [DATA_BLOBS] = 3) },
    { .key = "points", .type = FT_LONG, .off = OFF(data.points),
      .r = RANGE(1, false, 10000000, false), .applies = SYNTH,
      .def_by_kind = BY_SOURCE([DATA_SPIRAL] = 100, [DATA_XOR] = 400, [DATA_BLOBS] = 300) },
    { .key = "features", .type = FT_INT, .off = OFF(data.features),
      .r = RANGE(1, false, 10000, false), .applies = BIT(DATA_BLOBS),
      .def_by_kind = BY_SOURCE([DATA_BLOBS] = 2) },
    { .key = "noise", .type = FT_DOUBLE, .off = OFF(data.noise), .r = AT_LEAST(0),
      .applies = BIT(DATA_SPIRAL) | BIT(DATA_XOR),
      .def_by_kind = BY_SOURCE([DATA_SPIRAL] = 0.2, [DATA_XOR] = 0.1) },
    { .key = "spread", .type = FT_DOUBLE, .off = OFF(data.spread), .r = ABOVE(0),
      .applies = BIT(DATA_BLOBS), .def_by_kind = BY_SOURCE([DATA_BLOBS] = 1.0) },
    { .key = "train_images", .type = FT_PATH, .off = OFF(data.train_images),
      .size = SZ(data.train_images), .applies = BIT(DATA_IDX) | BIT(DATA_NPY) },
    { .key = "train_labels", .type = FT_PATH, .off = OFF(data.train_labels),
      .size = SZ(data.train_labels), .applies = BIT(DATA_IDX) | BIT(DATA_NPY) },
    { .key = "test_images", .type = FT_PATH, .off = OFF(data.test_images),
      .size = SZ(data.test_images), .applies = BIT(DATA_IDX) | BIT(DATA_NPY) },
    { .key = "test_labels", .type = FT_PATH, .off = OFF(data.test_labels),
      .size = SZ(data.test_labels), .applies = BIT(DATA_IDX) | BIT(DATA_NPY) },
    { .key = "inputs_key", .type = FT_STR, .off = OFF(data.inputs_key),
      .size = SZ(data.inputs_key), .shown = shown_inputs_key, .applies = BIT(DATA_NPY) },
    { .key = "labels_key", .type = FT_STR, .off = OFF(data.labels_key),
      .size = SZ(data.labels_key), .shown = shown_labels_key, .applies = BIT(DATA_NPY) },
    { .key = "path", .type = FT_PATH, .off = OFF(data.path), .size = SZ(data.path),
      .applies = BIT(DATA_CSV) },
    { .key = "test_path", .type = FT_PATH, .off = OFF(data.test_path),
      .size = SZ(data.test_path), .applies = BIT(DATA_CSV) },
    { .key = "label", .type = FT_CUSTOM, .apply = apply_label, .dump = dump_label,
      .reset = reset_label, .applies = BIT(DATA_CSV) },
    { .key = "header", .type = FT_ENUM, .off = OFF(data.header), .words = &header_words,
      .applies = BIT(DATA_CSV), .def = CSV_HEADER_AUTO },
    { .key = "shape", .type = FT_CUSTOM, .apply = apply_shape, .dump = dump_shape,
      .shown = shown_shape, .applies = BIT(DATA_CSV) | BIT(DATA_NPY) },
    { .key = "normalize", .type = FT_ENUM, .off = OFF(data.normalize), .words = &normalize_words,
      .def_by_kind = BY_SOURCE([DATA_SPIRAL] = NORM_NONE, [DATA_XOR] = NORM_NONE,
                               [DATA_BLOBS] = NORM_NONE, [DATA_IDX] = NORM_UNIT,
                               [DATA_CSV] = NORM_STANDARDIZE, [DATA_NPY] = NORM_STANDARDIZE) },
    { .key = "val_fraction", .type = FT_DOUBLE, .off = OFF(data.val_fraction),
      .r = RANGE(0, false, 1, true), .def = 0.1 },
    { .key = "subset", .type = FT_LONG, .off = OFF(data.subset), .r = AT_LEAST(0) },
    { .key = "shuffle", .type = FT_BOOL, .off = OFF(data.shuffle), .def = true },
    { .key = "max_bytes", .type = FT_U64, .off = OFF(data.max_bytes),
      .def = (double)DATA_MAX_BYTES_DEFAULT },
};

static const char *const data_aliases[] = {
    "dataset", "source", "type", "source", "kind", "source", "num_classes", "classes",
    "n_classes", "classes", "samples", "points", "num_points", "points", "dims", "features",
    "dim", "features", "std", "spread", "images", "train_images", "labels", "train_labels",
    "file", "path", "csv", "path", "target", "label", "label_column", "label",
    "norm", "normalize", "normalise", "normalize", "normalization", "normalize",
    "validation", "val_fraction", "val_split", "val_fraction", NULL
};

/* unit is x / 255: right for pixels from IDX files or a CSV of pixel values,
 * meaningless for the synthetic sets. */
static bool
unit_applies(enum data_source s)
{
    return s == DATA_IDX || s == DATA_CSV || s == DATA_NPY;
}

#define UNIT_MISUSED "'unit' (x / 255) is for byte-valued data (sources idx, csv and npy); use " \
                     "standardize or minmax for source '%s'"

static void
data_check(struct cctx *x, struct cfg *c, const struct cnode *map, const char *path)
{
    const struct cnode *v = map_get(map, "normalize", NULL);
    char npath[160];
    if (v == NULL || v->kind != CNODE_SCALAR || strcmp(v->str, "unit") != 0)
        return;
    if (!unit_applies(c->data.source)) {
        cfg_path_join(npath, sizeof npath, path, "normalize");
        cfg_err_add(x, v, npath, false, UNIT_MISUSED, source_w[c->data.source]);
    }
}

static const struct section data_section = {
    .name = "data", .fields = data_fields, .nfields = NFIELDS(data_fields),
    .selector = "source", .kind_noun = "source", .aliases = data_aliases, .check = data_check,
};

static const struct field model_fields[] = {
    { .key = "layers", .type = FT_CUSTOM, .apply = apply_layers, .dump = dump_layers,
      .reset = reset_layers },
};

static const char *const model_aliases[] = { "layer", "layers", "net", "layers", NULL };

static const struct section model_section = {
    .name = "model", .fields = model_fields, .nfields = NFIELDS(model_fields),
    .aliases = model_aliases,
};

static const struct field sched_fields[] = {
    { .key = "name", .type = FT_ENUM, .off = OFF(sched.kind), .words = &sched_words,
      .def = SCHED_CONSTANT },
    { .key = "warmup", .type = FT_LONG, .off = OFF(sched.warmup), .r = AT_LEAST(0) },
    { .key = "step_size", .type = FT_LONG, .off = OFF(sched.step_size), .r = AT_LEAST(1),
      .applies = BIT(SCHED_STEP), .shown = shown_step_size },
    { .key = "gamma", .type = FT_DOUBLE, .off = OFF(sched.gamma), .r = RANGE(0, true, 1, false),
      .applies = BIT(SCHED_STEP) | BIT(SCHED_EXP),
      .def_by_kind = BY_SCHED([SCHED_STEP] = 0.1, [SCHED_EXP] = 0.95) },
    { .key = "min_lr", .type = FT_DOUBLE, .off = OFF(sched.min_lr), .r = AT_LEAST(0),
      .applies = BIT(SCHED_COSINE) },
};

static const char *const sched_aliases[] = {
    "type", "name", "kind", "name", "warmup_steps", "warmup", "step", "step_size",
    "steps", "step_size", "decay", "gamma", "factor", "gamma", "eta_min", "min_lr", NULL
};

static const struct section sched_section = {
    .name = "optim.schedule", .fields = sched_fields, .nfields = NFIELDS(sched_fields),
    .selector = "name", .kind_noun = "schedule", .aliases = sched_aliases,
};

#define ADAMS (BIT(OPTIM_ADAM) | BIT(OPTIM_ADAMW))
static const struct field optim_fields[] = {
    { .key = "name", .type = FT_ENUM, .off = OFF(optim.kind), .words = &optim_words,
      .def = OPTIM_SGD },
    { .key = "lr", .type = FT_DOUBLE, .off = OFF(optim.lr), .r = ABOVE(0),
      .def_by_kind = BY_OPTIM([OPTIM_SGD] = 0.1, [OPTIM_ADAM] = 1e-3, [OPTIM_ADAMW] = 1e-3) },
    { .key = "momentum", .type = FT_DOUBLE, .off = OFF(optim.momentum),
      .r = RANGE(0, false, 1, true), .applies = BIT(OPTIM_SGD) },
    { .key = "nesterov", .type = FT_BOOL, .off = OFF(optim.nesterov),
      .applies = BIT(OPTIM_SGD) },
    { .key = "weight_decay", .type = FT_DOUBLE, .off = OFF(optim.weight_decay),
      .r = AT_LEAST(0) },
    { .key = "betas", .type = FT_CUSTOM, .apply = apply_betas, .dump = dump_betas,
      .reset = reset_betas, .applies = ADAMS },
    { .key = "eps", .type = FT_DOUBLE, .off = OFF(optim.eps), .r = ABOVE(0), .applies = ADAMS,
      .def = 1e-8 },
    { .key = "clip", .type = FT_CUSTOM, .apply = apply_clip, .dump = dump_clip,
      .reset = reset_clip },
    { .key = "schedule", .type = FT_SECTION, .sub = &sched_section, .apply = apply_schedule },
};

static const char *const optim_aliases[] = {
    "learning_rate", "lr", "rate", "lr", "type", "name", "optimizer", "name", "kind", "name",
    "decay", "weight_decay", "l2", "weight_decay", "beta", "betas", "beta1", "betas",
    "beta2", "betas", "epsilon", "eps", "grad_clip", "clip", "clipping", "clip",
    "scheduler", "schedule", "lr_schedule", "schedule", NULL
};

static const struct section optim_section = {
    .name = "optim", .fields = optim_fields, .nfields = NFIELDS(optim_fields),
    .selector = "name", .kind_noun = "optimizer", .aliases = optim_aliases,
};

/* schedule: a map, or just the name (schedule: cosine). */
static void
apply_schedule(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    if (n->kind == CNODE_MAP) {
        apply_section(x, c, &sched_section, n, path);
        return;
    }
    int k = cfg_get_word(x, n, path, &sched_words);
    if (k >= 0 && k != (int)c->sched.kind)
        section_set_kind(c, &sched_section, k);
}

enum { DEFAULT_EPOCHS = 10 };

static const struct field train_fields[] = {
    { .key = "batch_size", .type = FT_INT, .off = OFF(train.batch_size),
      .r = RANGE(1, false, 65536, false), .def = 64 },
    { .key = "epochs", .type = FT_LONG, .off = OFF(train.epochs), .r = AT_LEAST(1),
      .shown = shown_epochs, .def = DEFAULT_EPOCHS },
    { .key = "steps", .type = FT_LONG, .off = OFF(train.steps), .r = AT_LEAST(1),
      .shown = shown_steps },
    { .key = "eval_every", .type = FT_LONG, .off = OFF(train.eval_every), .r = AT_LEAST(0) },
    { .key = "threads", .type = FT_INT, .off = OFF(train.threads),
      .r = RANGE(1, false, 64, false), .def = 1 },
    { .key = "start_paused", .type = FT_BOOL, .off = OFF(train.start_paused) },
};

static const char *const train_aliases[] = {
    "batch", "batch_size", "bs", "batch_size", "batchsize", "batch_size", "epoch", "epochs",
    "num_epochs", "epochs", "iterations", "steps", "iters", "steps", "max_steps", "steps",
    "num_steps", "steps", "eval", "eval_every", "num_threads", "threads", "workers", "threads",
    "paused", "start_paused", NULL
};


/* epochs and steps are two ways to say how long: the one given last wins
 * across sources, but one map giving both is a contradiction. */
static void
train_check(struct cctx *x, struct cfg *c, const struct cnode *map, const char *path)
{
    const struct cnode *ek = NULL, *sk = NULL;
    map_get(map, "epochs", &ek);
    map_get(map, "steps", &sk);
    if (ek != NULL && sk != NULL) {
        bool steps_later = sk->line > ek->line || (sk->line == ek->line && sk->col > ek->col);
        cfg_err_add(x, steps_later ? sk : ek, "train", true,
                    "give train.epochs or train.steps, not both");
    } else if (ek != NULL) {
        c->train.steps = 0;
    } else if (sk != NULL) {
        /* Unused while steps rule; back to its default so equal runs compare equal. */
        c->train.epochs = DEFAULT_EPOCHS;
    }
}

static const struct section train_section = {
    .name = "train", .fields = train_fields, .nfields = NFIELDS(train_fields),
    .aliases = train_aliases, .check = train_check,
};

static const struct field log_fields[] = {
    { .key = "enabled", .type = FT_BOOL, .off = OFF(log.enabled), .def = true },
    { .key = "dir", .type = FT_STR, .off = OFF(log.dir), .size = SZ(log.dir), .def_text = "runs" },
    { .key = "checkpoint_every", .type = FT_LONG, .off = OFF(log.checkpoint_every),
      .r = AT_LEAST(0) },
    { .key = "save_initial", .type = FT_BOOL, .off = OFF(log.save_initial) },
    { .key = "tfevents", .type = FT_BOOL, .off = OFF(log.tfevents), .def = true },
    { .key = "histograms", .type = FT_BOOL, .off = OFF(log.histograms), .def = true },
};

static const char *const log_aliases[] = {
    "enable", "enabled", "on", "enabled", "directory", "dir", "path", "dir", "checkpoints",
    "checkpoint_every", "save_every", "checkpoint_every", NULL
};

static const struct section log_section = {
    .name = "log", .fields = log_fields, .nfields = NFIELDS(log_fields), .aliases = log_aliases,
};

static const struct field telemetry_fields[] = {
    { .key = "every", .type = FT_LONG, .off = OFF(telemetry.every), .r = AT_LEAST(0), .def = 10 },
    { .key = "bins", .type = FT_INT, .off = OFF(telemetry.bins), .r = RANGE(4, false, 256, false),
      .def = 40 },
    { .key = "max_hz", .type = FT_DOUBLE, .off = OFF(telemetry.max_hz), .r = ABOVE(0), .def = 20 },
};

static const char *const telemetry_aliases[] = { "hz", "max_hz", "rate", "max_hz", NULL };

static const struct section telemetry_section = {
    .name = "telemetry", .fields = telemetry_fields, .nfields = NFIELDS(telemetry_fields),
    .aliases = telemetry_aliases,
};

/* doctor.disable: a rule id or a list of them. */
static void
apply_doctor_disable(struct cctx *x, struct cfg *c, const struct cnode *n, const char *path)
{
    char shown[48], hint[64], ipath[160];
    const struct cnode *one[1] = { n };
    const struct cnode *const *items = one;
    int count = 1;
    if (n->kind == CNODE_SEQ) {
        items = (const struct cnode *const *)n->kid;
        count = n->n;
    }
    uint64_t mask = 0;
    for (int i = 0; i < count; i++) {
        const struct cnode *it = items[i];
        const char *s;
        snprintf(ipath, sizeof ipath, n->kind == CNODE_SEQ ? "%s[%d]" : "%s", path, i);
        if (!cfg_get_text(x, it, ipath, "a rule id", &s))
            return;
        int r = doctor_rule_find(s);
        if (r < 0) {
            struct cfg_suggester sug = { NULL, 0 };
            for (int k = 0; k < DR_COUNT; k++)
                cfg_suggest_try(&sug, s, doctor_rule_at(k)->id, doctor_rule_at(k)->id);
            cfg_err_add(x, it, ipath, false, "'%s' is not a doctor rule%s",
                        cfg_shorten(s, shown, sizeof shown),
                        cfg_suggest_text(&sug, hint, sizeof hint));
            return;
        }
        mask |= (uint64_t)1 << r;
    }
    c->doctor.disabled = mask;
}

static void
dump_doctor_disable(struct sbuf *b, const struct cfg *c, int indent)
{
    sbuf_putn(b, " [", 2);
    const char *sep = "";
    for (int r = 0; r < DR_COUNT; r++) {
        if ((c->doctor.disabled & ((uint64_t)1 << r)) == 0)
            continue;
        sbuf_printf(b, "%s%s", sep, doctor_rule_at(r)->id);
        sep = ", ";
    }
    sbuf_putn(b, "]\n", 2);
}

/*
 * The thresholds' defaults come from the doctor's parameter table
 * (doctor_param_at, through doctor_spec_defaults), which owns them with
 * their rule and meaning; the ranges below repeat that table's, and
 * test_cfg__doctor_thresholds holds them, --check-config and the man
 * page to it.
 */
static const struct field doctor_fields[] = {
    { .key = "enabled", .type = FT_BOOL, .off = OFF(doctor.enabled) },
    { .key = "overfit_steps", .type = FT_LONG, .off = OFF(doctor.overfit_steps),
      .r = AT_LEAST(1) },
    { .key = "baseline_steps", .type = FT_LONG, .off = OFF(doctor.baseline_steps),
      .r = AT_LEAST(1) },
    { .key = "patience", .type = FT_INT, .off = OFF(doctor.patience),
      .r = RANGE(1, false, 1000, false) },
    { .key = "window", .type = FT_LONG, .off = OFF(doctor.window), .r = AT_LEAST(10) },
    { .key = "disable", .type = FT_CUSTOM, .apply = apply_doctor_disable,
      .dump = dump_doctor_disable },
    { .key = "input_mean", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_INPUT_MEAN]),
      .r = AT_LEAST(0) },
    { .key = "input_std_low", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_INPUT_STD_LOW]),
      .r = AT_LEAST(0) },
    { .key = "input_std_high", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_INPUT_STD_HIGH]),
      .r = AT_LEAST(0) },
    { .key = "dropout_max", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_DROPOUT_MAX]),
      .r = RANGE(0, false, 1, false) },
    { .key = "lr_min", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_LR_MIN]), .r = AT_LEAST(0) },
    { .key = "lr_max_sgd", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_LR_MAX_SGD]),
      .r = AT_LEAST(0) },
    { .key = "lr_max_adam", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_LR_MAX_ADAM]),
      .r = AT_LEAST(0) },
    { .key = "initial_loss_info", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_INITIAL_LOSS_INFO]),
      .r = AT_LEAST(0) },
    { .key = "initial_loss_warning", .type = FT_DOUBLE,
      .off = OFF(doctor.p[DP_INITIAL_LOSS_WARNING]),
      .r = AT_LEAST(0) },
    { .key = "ratio_info_low", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_RATIO_INFO_LOW]),
      .r = AT_LEAST(0) },
    { .key = "ratio_info_high", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_RATIO_INFO_HIGH]),
      .r = AT_LEAST(0) },
    { .key = "ratio_warning_low", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_RATIO_WARNING_LOW]),
      .r = AT_LEAST(0) },
    { .key = "ratio_warning_high", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_RATIO_WARNING_HIGH]),
      .r = AT_LEAST(0) },
    { .key = "anneal_fraction", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_ANNEAL_FRACTION]),
      .r = RANGE(0, false, 1, false) },
    { .key = "ratio_falling", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_RATIO_FALLING]),
      .r = RANGE(0, false, 1, false) },
    { .key = "vanishing_ratio", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_VANISHING_RATIO]),
      .r = AT_LEAST(0) },
    { .key = "vanishing_first", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_VANISHING_FIRST]),
      .r = AT_LEAST(0) },
    { .key = "vanishing_mean", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_VANISHING_MEAN]),
      .r = AT_LEAST(0) },
    { .key = "exploding_ratio", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_EXPLODING_RATIO]),
      .r = AT_LEAST(0) },
    { .key = "exploding_growth", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_EXPLODING_GROWTH]),
      .r = AT_LEAST(1) },
    { .key = "dead_info", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_DEAD_INFO]),
      .r = RANGE(0, false, 1, false) },
    { .key = "dead_warning", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_DEAD_WARNING]),
      .r = RANGE(0, false, 1, false) },
    { .key = "saturation", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_SATURATION]),
      .r = RANGE(0, false, 1, false) },
    { .key = "activation_scale", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_ACTIVATION_SCALE]),
      .r = AT_LEAST(0) },
    { .key = "divergence_loss", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_DIVERGENCE_LOSS]),
      .r = AT_LEAST(0) },
    { .key = "divergence_factor", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_DIVERGENCE_FACTOR]),
      .r = AT_LEAST(1) },
    { .key = "plateau", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_PLATEAU]),
      .r = RANGE(0, false, 1, false) },
    { .key = "oscillation", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_OSCILLATION]),
      .r = RANGE(0, false, 1, false) },
    { .key = "oscillation_rise", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_OSCILLATION_RISE]),
      .r = AT_LEAST(0) },
    { .key = "overfit_evals", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_OVERFIT_EVALS]),
      .r = RANGE(1, false, 64, false) },
    { .key = "gap", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_GAP]),
      .r = RANGE(0, false, 1, false) },
    { .key = "gap_high_acc", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_GAP_HIGH_ACC]),
      .r = RANGE(0, false, 1, false) },
    { .key = "regularization", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_REGULARIZATION]),
      .r = AT_LEAST(0) },
    { .key = "clipping", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_CLIPPING]),
      .r = RANGE(0, false, 1, false) },
    { .key = "converged_loss", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_CONVERGED_LOSS]),
      .r = RANGE(0, false, 1, false) },
    { .key = "dead_filters_info", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_DEAD_FILTERS_INFO]),
      .r = RANGE(0, false, 1, false) },
    { .key = "dead_filters_warning", .type = FT_DOUBLE,
      .off = OFF(doctor.p[DP_DEAD_FILTERS_WARNING]),
      .r = RANGE(0, false, 1, false) },
    { .key = "channel_saturation", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_CHANNEL_SATURATION]),
      .r = RANGE(0, false, 1, false) },
    { .key = "saturated_channels", .type = FT_DOUBLE, .off = OFF(doctor.p[DP_SATURATED_CHANNELS]),
      .r = RANGE(0, false, 1, false) },
};

_Static_assert(DP_COUNT == 39, "every doctor threshold has its key above");

static const char *const enabled_aliases[] = { "enable", "enabled", "on", "enabled", NULL };

static const struct section doctor_section = {
    .name = "doctor", .fields = doctor_fields, .nfields = NFIELDS(doctor_fields),
    .aliases = enabled_aliases, .defaults = reset_doctor,
};

static const struct field gradcheck_fields[] = {
    { .key = "samples", .type = FT_INT, .off = OFF(gradcheck.samples),
      .r = RANGE(1, false, 65536, false), .def = 8 },
    { .key = "per_tensor", .type = FT_INT, .off = OFF(gradcheck.per_tensor),
      .r = RANGE(1, false, 1000000, false), .def = 20 },
};

static const struct section gradcheck_section = {
    .name = "gradcheck", .fields = gradcheck_fields, .nfields = NFIELDS(gradcheck_fields),
};

static const struct field top_fields[] = {
    { .key = "name", .type = FT_CUSTOM, .apply = apply_name, .dump = dump_name,
      .reset = reset_name },
    { .key = "seed", .type = FT_U64, .off = OFF(seed) },
    { .key = "data", .type = FT_SECTION, .sub = &data_section },
    { .key = "model", .type = FT_SECTION, .sub = &model_section },
    { .key = "loss", .type = FT_ENUM, .off = OFF(model.loss), .words = &loss_words,
      .def = LOSS_CROSS_ENTROPY },
    { .key = "optim", .type = FT_SECTION, .sub = &optim_section },
    { .key = "train", .type = FT_SECTION, .sub = &train_section },
    { .key = "log", .type = FT_SECTION, .sub = &log_section },
    { .key = "telemetry", .type = FT_SECTION, .sub = &telemetry_section },
    { .key = "doctor", .type = FT_SECTION, .sub = &doctor_section },
    { .key = "gradcheck", .type = FT_SECTION, .sub = &gradcheck_section },
};

static const char *const top_aliases[] = {
    "optimizer", "optim", "optimiser", "optim", "optimization", "optim", "training", "train",
    "trainer", "train", "logging", "log", "logs", "log", "dataset", "data", "network", "model",
    "net", "model", "layers", "model", "random_seed", "seed", "criterion", "loss",
    "run_name", "name", "grad_check", "gradcheck", NULL
};

static const struct section top_section = {
    .name = "", .fields = top_fields, .nfields = NFIELDS(top_fields), .aliases = top_aliases,
};

/* ---- applying ---- */

static void field_default(struct cfg *c, const struct field *f, int kind);

static void
apply_field(struct cctx *x, struct cfg *c, const struct field *f, const struct cnode *v,
            const char *path)
{
    char *base = (char *)c + f->off;
    long long ll;
    double d;
    bool b;
    const char *s;
    int k;

    switch (f->type) {
    case FT_INT:
        if (cfg_get_ll(x, v, path, &f->r, &ll))
            *(int *)base = (int)ll;
        break;
    case FT_LONG:
        if (cfg_get_ll(x, v, path, &f->r, &ll))
            *(long *)base = (long)ll;
        break;
    case FT_U64: {
        char desc[96];
        if (v->kind != CNODE_SCALAR || !v->plain || !cfg_looks_int(v->str)) {
            cfg_err_add(x, v, path, false, "expected an integer, got %s",
                        cfg_describe(v, desc, sizeof desc));
            break;
        }
        errno = 0;
        unsigned long long u = strtoull(v->str, NULL, 10);
        if (v->str[0] == '-' || errno == ERANGE) {
            cfg_err_add(x, v, path, false, "%s is out of range [0, 18446744073709551615]",
                        v->str);
            break;
        }
        *(uint64_t *)base = (uint64_t)u;
        break;
    }
    case FT_DOUBLE:
        if (cfg_get_double(x, v, path, &f->r, &d))
            *(double *)base = d;
        break;
    case FT_BOOL:
        if (cfg_get_bool(x, v, path, &b))
            *(bool *)base = b;
        break;
    case FT_STR:
        /* ~ puts the text back to its default, as ~ clears a path: a key a
         * file set can be unset again (--set data.inputs_key=~). */
        if (cfg_is_null(v)) {
            field_default(c, f, -1);
            break;
        }
        if (!cfg_get_text(x, v, path, "text", &s))
            break;
        if (v->len == 0 || v->len >= f->size) {
            cfg_err_add(x, v, path, false, "expected 1 to %zu bytes of text, got %zu", f->size - 1,
                        v->len);
            break;
        }
        cfg_store_text(base, f->size, s);
        break;
    case FT_PATH:
        apply_path(x, base, f->size, v, path);
        note_path_at(x, c, v, path);
        break;
    case FT_ENUM:
        k = cfg_get_word(x, v, path, f->words);
        if (k >= 0)
            *(int *)base = k;
        break;
    case FT_SECTION:
        if (f->apply != NULL)
            f->apply(x, c, v, path);
        else
            apply_section(x, c, f->sub, v, path);
        break;
    case FT_CUSTOM:
        f->apply(x, c, v, path);
        break;
    case FT_COUNT:
        break;
    }
}

static const struct field *
find_field(const struct section *s, const char *key)
{
    for (int i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].key, key) == 0)
            return &s->fields[i];
    return NULL;
}

/* ---- defaults, from the rows ---- */

/* The kind of a section with a selector (its enum value), or -1. */
static int
section_kind(const struct cfg *c, const struct section *s)
{
    if (s->selector == NULL)
        return -1;
    return *(const int *)((const char *)c + find_field(s, s->selector)->off);
}

static void section_defaults(struct cfg *c, const struct section *s);

/* Store f's default; kind is the section's kind (-1 when it has none). */
static void
field_default(struct cfg *c, const struct field *f, int kind)
{
    char *base = (char *)c + f->off;
    double v = f->def_by_kind != NULL && kind >= 0 ? f->def_by_kind[kind] : f->def;
    switch (f->type) {
    case FT_INT: *(int *)base = (int)v; break;
    case FT_LONG: *(long *)base = (long)v; break;
    case FT_U64: *(uint64_t *)base = (uint64_t)v; break;
    case FT_DOUBLE: *(double *)base = v; break;
    case FT_BOOL: *(bool *)base = v != 0.0; break;
    case FT_ENUM: *(int *)base = (int)v; break;
    case FT_STR:
    case FT_PATH:
        memset(base, 0, f->size);
        cfg_store_text(base, f->size, f->def_text != NULL ? f->def_text : "");
        break;
    case FT_SECTION: section_defaults(c, f->sub); break;
    case FT_CUSTOM:
        if (f->reset != NULL)
            f->reset(c);
        break;
    case FT_COUNT: break;
    }
}

/* Every key of s at its default: the kind first, which the others' defaults follow. */
static void
section_defaults(struct cfg *c, const struct section *s)
{
    if (s->defaults != NULL) {
        s->defaults(c);
        return;
    }
    int kind = -1;
    const struct field *sel = s->selector != NULL ? find_field(s, s->selector) : NULL;
    if (sel != NULL) {
        field_default(c, sel, -1);
        kind = section_kind(c, s);
    }
    for (int i = 0; i < s->nfields; i++)
        if (&s->fields[i] != sel)
            field_default(c, &s->fields[i], kind);
}

/* A new kind for s: the keys that belong to a kind, or whose default
 * depends on it, go back to the new kind's defaults. */
static void
section_set_kind(struct cfg *c, const struct section *s, int kind)
{
    const struct field *sel = find_field(s, s->selector);
    *(int *)((char *)c + sel->off) = kind;
    for (int i = 0; i < s->nfields; i++) {
        const struct field *f = &s->fields[i];
        if (f != sel && (f->applies != 0 || f->def_by_kind != NULL))
            field_default(c, f, kind);
    }
}

static void
apply_section(struct cctx *x, struct cfg *c, const struct section *s, const struct cnode *n,
              const char *path)
{
    char d[96];
    bool kind_known = true;

    if (n->kind != CNODE_MAP) {
        cfg_err_add(x, n, path, false, "expected a map of settings, got %s",
                    cfg_describe(n, d, sizeof d));
        return;
    }
    /* The kind first: it decides which keys apply and resets their defaults. */
    if (s->selector != NULL) {
        const struct cnode *sel = map_get(n, s->selector, NULL);
        if (sel != NULL) {
            char spath[160];
            cfg_path_join(spath, sizeof spath, path, s->selector);
            int k = cfg_get_word(x, sel, spath, find_field(s, s->selector)->words);
            if (k < 0)
                kind_known = false;
            else if (k != section_kind(c, s))
                section_set_kind(c, s, k);
        }
    }
    for (int i = 0; i < n->n; i++) {
        const struct cnode *k = n->kid[2 * i], *v = n->kid[2 * i + 1];
        char kpath[160], shown[48];
        if (s->selector != NULL && strcmp(k->str, s->selector) == 0)
            continue;
        cfg_path_join(kpath, sizeof kpath, path, k->str);
        const struct field *f = find_field(s, k->str);
        if (f == NULL) {
            struct cfg_suggester sug = { NULL, 0 };
            for (int j = 0; j < s->nfields; j++)
                cfg_suggest_try(&sug, k->str, s->fields[j].key, s->fields[j].key);
            for (int j = 0; s->aliases != NULL && s->aliases[j] != NULL; j += 2)
                cfg_suggest_try(&sug, k->str, s->aliases[j], s->aliases[j + 1]);
            err_unknown_key(x, k, path, kpath, &sug);
            continue;
        }
        if (f->applies != 0) {
            if (!kind_known)
                continue;   /* a bad kind was reported; its keys cannot be judged */
            int kind = section_kind(c, s);
            if ((f->applies & BIT(kind)) == 0) {
                cfg_err_add(x, k, kpath, true, "key '%s' does not apply to %s '%s'",
                            cfg_shorten(k->str, shown, sizeof shown), s->kind_noun,
                            find_field(s, s->selector)->words->w[kind]);
                continue;
            }
        }
        apply_field(x, c, f, v, kpath);
    }
    if (s->check != NULL)
        s->check(x, c, n, path);
}

void
cfg_apply_root(struct cctx *x, struct cfg *c, const struct cnode *root)
{
    char d[96];
    if (root == NULL || cfg_is_null(root)) {
        cfg_err_add(x, NULL, "", true,
                    "the configuration is empty (it needs at least model.layers)");
        return;
    }
    if (root->kind != CNODE_MAP) {
        cfg_err_add(x, root, "", true, "the top level must be a map of settings, got %s",
                    cfg_describe(root, d, sizeof d));
        return;
    }
    apply_section(x, c, &top_section, root, "");
}

void
cfg_sync(struct cfg *c)
{
    c->model.seed = c->seed;
    /* Steps per epoch depend on the data, so the trainer fills total_steps for epochs. */
    c->sched.total_steps = c->train.steps;
}

void
cfg_layer_where(const struct cfg *c, int i, char *buf, size_t len)
{
    if (i >= 0 && i < NN_MAX_LAYERS && c->layers_at.line[i] > 0)
        snprintf(buf, len, "%s:%u:%u: model.layers[%d]", c->layers_at.file, c->layers_at.line[i],
                 c->layers_at.col[i], i);
    else
        snprintf(buf, len, "model.layers[%d]", i);
}

void
cfg_path_where(const struct cfg *c, const char *path, char *buf, size_t len)
{
    static const size_t offs[] = {
        offsetof(struct cfg, data.train_images), offsetof(struct cfg, data.train_labels),
        offsetof(struct cfg, data.test_images), offsetof(struct cfg, data.test_labels),
        offsetof(struct cfg, data.path), offsetof(struct cfg, data.test_path),
    };
    static const char *const keys[] = {
        "data.train_images", "data.train_labels", "data.test_images", "data.test_labels",
        "data.path", "data.test_path",
    };
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        const char *v = (const char *)c + offs[k];
        if (v[0] == '\0' || strcmp(v, path) != 0)
            continue;
        snprintf(buf, len, "%s", keys[k]);
        for (int i = 0; i < CFG_PATHS_AT; i++) {
            const char *at = c->layers_at.paths[i].key;
            if (at[0] != '\0' && strcmp(at, keys[k]) == 0 && c->layers_at.paths[i].line > 0) {
                snprintf(buf, len, "%s:%u:%u: %s", c->layers_at.paths[i].file,
                         c->layers_at.paths[i].line, c->layers_at.paths[i].col, keys[k]);
                break;
            }
        }
        return;
    }
}

void
cfg_defaults(struct cfg *c)
{
    /* memset first: padding and unused bytes too, so equal configs compare equal. */
    memset(c, 0, sizeof *c);
    section_defaults(c, &top_section);
    cfg_sync(c);
}

/* ---- cross-field rules ---- */

/* Does s end with tail (a .npz path, by its extension as npy.c decides)? */
static bool
ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

int
cfg_check_cross(struct cctx *x, const struct cfg *c)
{
    int before = x->errs->n + x->errs->more;
    const struct data_spec *d = &c->data;

    if (c->model.nlayers == 0) {
        cfg_err_add(x, NULL, "model.layers", true,
                    "model.layers is required: list the layers, e.g. "
                    "[{dense: 100}, relu, {dense: 3}]");
    } else {
        bool dense = false;
        for (int i = 0; i < c->model.nlayers; i++)
            dense = dense || c->model.layers[i].kind == LAYER_DENSE;
        if (!dense)
            cfg_err_add(x, NULL, "model.layers", false,
                        "no dense layer, so the model has nothing to train");
    }
    if (c->optim.kind == OPTIM_SGD && c->optim.nesterov && c->optim.momentum <= 0)
        cfg_err_add(x, NULL, "optim.nesterov", true,
                    "optim.nesterov needs optim.momentum > 0");
    if (c->sched.kind == SCHED_STEP && c->sched.step_size < 1)
        cfg_err_add(x, NULL, "optim.schedule.step_size", true,
                    "optim.schedule.step_size is required for schedule 'step'");
    if (c->sched.kind == SCHED_COSINE && c->sched.min_lr > c->optim.lr) {
        char a[32], b[32];
        numfmt_exact_double(a, sizeof a, c->sched.min_lr);
        numfmt_exact_double(b, sizeof b, c->optim.lr);
        cfg_err_add(x, NULL, "optim.schedule.min_lr", true,
                    "optim.schedule.min_lr (%s) is above optim.lr (%s)", a, b);
    }
    if (d->source == DATA_IDX || d->source == DATA_NPY) {
        if (d->train_images[0] == '\0')
            cfg_err_add(x, NULL, "data.train_images", true,
                        "data.train_images is required for source '%s'", source_w[d->source]);
        /* npy: one .npz archive may hold the labels beside the inputs. */
        bool one_train = d->source == DATA_NPY && ends_with(d->train_images, ".npz");
        bool one_test = d->source == DATA_NPY && ends_with(d->test_images, ".npz");
        if (d->train_labels[0] == '\0' && !one_train)
            cfg_err_add(x, NULL, "data.train_labels", true,
                        d->source == DATA_NPY
                        ? "data.train_labels is required for source 'npy' unless "
                          "data.train_images is a .npz archive holding both"
                        : "data.train_labels is required for source 'idx'");
        if ((d->test_images[0] == '\0') != (d->test_labels[0] == '\0') && !one_test)
            cfg_err_add(x, NULL, "data.test_images", true,
                        "data.test_images and data.test_labels go together: give both or "
                        "neither");
    }
    if (d->source == DATA_NPY) {
        static const char *const keys[2] = {"data.inputs_key", "data.labels_key"};
        const char *set[2] = {d->inputs_key, d->labels_key};
        const char *paths[2][2] = {{d->train_images, d->test_images},
                                   {d->train_labels[0] != '\0' ? d->train_labels
                                                                 : d->train_images,
                                    d->test_labels[0] != '\0' ? d->test_labels
                                                                : d->test_images}};
        for (int k = 0; k < 2; k++) {
            if (set[k][0] == '\0')
                continue;
            for (int t = 0; t < 2; t++)
                if (paths[k][t][0] != '\0' && !ends_with(paths[k][t], ".npz")) {
                    cfg_err_add(x, NULL, keys[k], true,
                                "%s names a member of a .npz archive, but %s is not one",
                                keys[k], paths[k][t]);
                    break;
                }
        }
    }
    if (d->source == DATA_CSV && d->path[0] == '\0')
        cfg_err_add(x, NULL, "data.path", true, "data.path is required for source 'csv'");
    if (d->normalize == NORM_UNIT && !unit_applies(d->source))
        cfg_err_add(x, NULL, "data.normalize", false, UNIT_MISUSED, source_w[d->source]);
    return x->errs->n + x->errs->more - before;
}

/* ---- writing back ---- */

static void
dump_section(struct sbuf *b, const struct cfg *c, const struct section *s, int indent)
{
    int kind = s->selector != NULL ? section_kind(c, s) : 0;
    char v[40];
    for (int i = 0; i < s->nfields; i++) {
        const struct field *f = &s->fields[i];
        const char *base = (const char *)c + f->off;
        if (f->applies != 0 && (f->applies & BIT(kind)) == 0)
            continue;
        if (f->shown != NULL && !f->shown(c))
            continue;
        sbuf_pad(b, ' ', indent);
        sbuf_printf(b, "%s:", f->key);
        switch (f->type) {
        case FT_INT:
            sbuf_printf(b, " %d\n", *(const int *)base);
            break;
        case FT_LONG:
            sbuf_printf(b, " %ld\n", *(const long *)base);
            break;
        case FT_U64:
            sbuf_printf(b, " %" PRIu64 "\n", *(const uint64_t *)base);
            break;
        case FT_DOUBLE:
            numfmt_exact_double(v, sizeof v, *(const double *)base);
            sbuf_printf(b, " %s\n", v);
            break;
        case FT_BOOL:
            sbuf_printf(b, " %s\n", *(const bool *)base ? "true" : "false");
            break;
        case FT_STR:
            sbuf_putn(b, " ", 1);
            cfg_put_quoted(b, base);
            sbuf_putn(b, "\n", 1);
            break;
        case FT_PATH:
            if (base[0] == '\0') {
                sbuf_putn(b, " ~\n", 3);
            } else {
                sbuf_putn(b, " ", 1);
                cfg_put_quoted(b, base);
                sbuf_putn(b, "\n", 1);
            }
            break;
        case FT_ENUM:
            sbuf_printf(b, " %s\n", f->words->w[*(const int *)base]);
            break;
        case FT_SECTION:
            sbuf_putn(b, "\n", 1);
            dump_section(b, c, f->sub, indent + 2);
            break;
        case FT_CUSTOM:
            f->dump(b, c, indent);
            break;
        case FT_COUNT:
            break;
        }
    }
}

char *
cfg_to_yaml(const struct cfg *c)
{
    struct sbuf b;
    sbuf_init(&b);
    struct cfg_locale loc;
    cfg_locale_enter(&loc);
    sbuf_printf(&b, "# nntop effective configuration: every setting, defaults included.\n"
                  "# Data paths are absolute, so it loads the same from any directory.\n");
    dump_section(&b, c, &top_section, 0);
    cfg_locale_leave(&loc);
    return sbuf_take(&b);
}
