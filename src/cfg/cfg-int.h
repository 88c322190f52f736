/*
 * cfg-int.h - what the cfg sources share: the document tree built
 * from libyaml events (cfg-tree.c), the error sink and the load context
 * (cfg.c), the key tables that turn a tree into a struct cfg and back
 * (cfg-keys.c), and the helpers those tables use: text (cfg-text.c),
 * scalar readers (cfg-scalar.c) and suggestions (cfg-suggest.c).
 *
 * Private to src/cfg/.  The tree exists so that a file and a --set
 * override go through one validator: both become a tree, and only the
 * tree is ever converted into struct cfg.
 */
#ifndef NNTOP_CFG_INT_H
#define NNTOP_CFG_INT_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>

#include "nntop/cfg.h"
#include "nntop/sbuf.h"

/* A document with more values than this is refused before it is applied. */
#define CFG_MAX_NODES 65536

enum cnode_kind {
    CNODE_SCALAR,
    CNODE_SEQ,
    CNODE_MAP,
    CNODE_KIND_COUNT
};

struct cnode {
    enum cnode_kind kind;
    unsigned line, col;     /* 1-based; 0 for nodes made from a --set key */
    bool plain;             /* scalar written without quotes: may be a number, bool or null */
    char *str;              /* scalar text, NUL-terminated (owned) */
    size_t len;             /* bytes of str */
    int n;                  /* seq: items; map: key/value pairs */
    int fill;               /* slots of kid in use (a map's key may wait for its value) */
    int cap;                /* slots allocated in kid */
    struct cnode **kid;     /* seq: kid[i]; map: kid[2i] key, kid[2i+1] value (owned) */
};

/* Everything one load (or one --set) needs while it converts a tree. */
struct cctx {
    struct cfg_errs *errs;
    const char *file;       /* the name messages use: a path, "<demo>", or "--set" */
    const char *text;       /* the source being parsed, for reader-error offsets */
    size_t len;
    char base_dir[DATA_PATH_MAX];   /* relative data paths resolve here; "" = cwd */
    bool set_mode;          /* errors are "--set KEY: message" without a position */
    const char *set_key;    /* the --set key, for errors that have no path of their own */
    int nodes;              /* values created so far (CFG_MAX_NODES) */
};

/*
 * Record one error at node n (may be NULL) about the key at path (may be
 * "").  The message reads "PATH: TEXT", or just TEXT when bare is set
 * (for texts that name the key themselves).  Beyond CFG_MAX_ERRORS the
 * error is only counted.
 */
void cfg_err_add(struct cctx *x, const struct cnode *n, const char *path, bool bare,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same at an explicit position (line, col 1-based; 0 = none). */
void cfg_err_add_at(struct cctx *x, unsigned line, unsigned col, const char *path, bool bare,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Parse len bytes of YAML into a tree.  Returns 0 and sets *root (NULL
 * when the text holds no document), or -1 when parsing had to stop (a
 * syntax error, nesting or size limits).  Refusals that do not stop the
 * parse (anchors, tags, duplicate keys) are recorded in x->errs with the
 * offending values left out of the tree.  The caller frees *root.
 */
int cfg_tree_parse(struct cctx *x, const char *text, size_t len, struct cnode **root);
/* A new node; str (len bytes) is copied for scalars and may be NULL otherwise. */
struct cnode *cfg_node_new(enum cnode_kind kind, const char *str, size_t len, bool plain,
                           unsigned line, unsigned col);
/* Append kid to a sequence, or one half of a pair to a map; takes ownership of kid. */
void cfg_node_push(struct cnode *parent, struct cnode *kid);
/* Free a tree.  NULL is allowed. */
void cfg_tree_free(struct cnode *n);

/*
 * Numbers are read and written in the C locale whatever LC_NUMERIC the
 * program runs under ("0.1" must not depend on the user's decimal comma).
 * enter switches this thread to it, leave restores the previous one.
 */
struct cfg_locale {
    locale_t c, old;
};
void cfg_locale_enter(struct cfg_locale *l);
void cfg_locale_leave(struct cfg_locale *l);

/* Apply a document tree (the top-level map) onto c, recording every problem. */
void cfg_apply_root(struct cctx *x, struct cfg *c, const struct cnode *root);
/* Derived fields that mirror others (model.seed, sched.total_steps). */
void cfg_sync(struct cfg *c);
/* Cross-field checks shared by cfg_validate(); returns the problems found. */
int cfg_check_cross(struct cctx *x, const struct cfg *c);

/* ---- shared by the key tables and their helpers (cfg-keys.c, cfg-text.c,
 * cfg-scalar.c, cfg-suggest.c) ---- */

/* A keyword table, in the order of its enum. */
struct words {
    const char *const *w;
    int n;
};

/* [lo, hi] with open ends; hi = INFINITY for none. */
struct range {
    double lo, hi;
    bool lo_open, hi_open;
};

/* Append s as a double-quoted YAML string (quote, backslash, control bytes escaped). */
void cfg_put_quoted(struct sbuf *b, const char *s);
/* Append src to the text in dst (size bytes), cut short if need be; false when it did not fit. */
bool cfg_append_text(char *dst, size_t size, const char *src);
/* "optim" + "lr" -> "optim.lr" (just "lr" when path is ""), into out. */
void cfg_path_join(char *out, size_t len, const char *path, const char *key);
/* s for a message: at most 40 bytes, control characters as '?'; returns buf. */
const char *cfg_shorten(const char *s, char *buf, size_t len);
/* "a, b, c" from a keyword table, into buf; returns buf. */
const char *cfg_word_list(const struct words *w, char *buf, size_t len);

/* The closest candidate offered so far ({NULL, 0} to start). */
struct cfg_suggester {
    const char *best;
    int dist;
};
/* Offer cand (answer is what to suggest) as a correction of word. */
void cfg_suggest_try(struct cfg_suggester *s, const char *word, const char *cand,
                     const char *answer);
/* " (did you mean 'x'?)" or "" when nothing was close; into buf. */
const char *cfg_suggest_text(const struct cfg_suggester *s, char *buf, size_t len);

/* True for a plain empty, ~ or null scalar. */
bool cfg_is_null(const struct cnode *n);
/* True for an optional sign and decimal digits. */
bool cfg_looks_int(const char *s);
/* True for a decimal number (no hex, no .inf or .nan). */
bool cfg_looks_number(const char *s);
/* How a value reads in a message: nothing, a map, a list, 3.5, 'fast'; may return a literal. */
const char *cfg_describe(const struct cnode *n, char *buf, size_t len);
/* Record "VALUE is out of range R" at n. */
void cfg_err_range(struct cctx *x, const struct cnode *n, const char *path, const struct range *r);
/*
 * Read n as an integer, number, boolean or (non-null) text.  On success
 * store it in *out and return true; otherwise record why at n and return
 * false.  Text is borrowed from the tree.
 */
bool cfg_get_ll(struct cctx *x, const struct cnode *n, const char *path, const struct range *r,
                long long *out);
bool cfg_get_double(struct cctx *x, const struct cnode *n, const char *path,
                    const struct range *r, double *out);
bool cfg_get_bool(struct cctx *x, const struct cnode *n, const char *path, bool *out);
bool cfg_get_text(struct cctx *x, const struct cnode *n, const char *path, const char *what,
                  const char **out);
/* One keyword of w; returns its index, or -1 after recording the error. */
int cfg_get_word(struct cctx *x, const struct cnode *n, const char *path, const struct words *w);
/* Copy src into dst (size bytes), zeroing the rest so equal configs are equal bytes. */
void cfg_store_text(char *dst, size_t size, const char *src);

#endif
