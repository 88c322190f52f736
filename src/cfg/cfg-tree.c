/*
 * cfg-tree.c - YAML text to a small document tree with 1-based positions,
 * through libyaml's event parser.
 *
 * This is where the document-level refusals live: syntax errors (with
 * libyaml's problem mark), anchors and aliases, explicit tags, duplicate
 * keys (libyaml does not catch them), non-scalar keys, nesting deeper than
 * CFG_MAX_DEPTH, more than CFG_MAX_NODES values and more than one
 * document.  It deliberately knows no key names: what a value means is
 * cfg-keys.c's business.
 */
#include "config.h"

#include "cfg-int.h"

#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "nntop/xmem.h"

struct cnode *
cfg_node_new(enum cnode_kind kind, const char *str, size_t len, bool plain, unsigned line,
             unsigned col)
{
    struct cnode *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = line;
    n->col = col;
    n->plain = plain;
    if (kind == CNODE_SCALAR) {
        n->str = xmalloc(len + 1);
        if (len > 0)
            memcpy(n->str, str, len);
        n->str[len] = '\0';
        n->len = len;
    }
    return n;
}

void
cfg_node_push(struct cnode *parent, struct cnode *kid)
{
    if (parent->fill == parent->cap) {
        parent->cap = parent->cap == 0 ? 8 : parent->cap * 2;
        parent->kid = xrealloc(parent->kid, (size_t)parent->cap * sizeof *parent->kid);
    }
    parent->kid[parent->fill++] = kid;
    /* A map counts pairs: the value completes one. */
    if (parent->kind == CNODE_SEQ || parent->fill % 2 == 0)
        parent->n++;
}

void
cfg_tree_free(struct cnode *n)
{
    if (n == NULL)
        return;
    for (int i = 0; i < n->fill; i++)
        cfg_tree_free(n->kid[i]);
    free(n->kid);
    free(n->str);
    free(n);
}

/* libyaml marks are 0-based; everything we report is 1-based. */
static unsigned
mark_line(const yaml_mark_t *m)
{
    return (unsigned)m->line + 1;
}

static unsigned
mark_col(const yaml_mark_t *m)
{
    return (unsigned)m->column + 1;
}

/* Line and column (characters) of a byte offset, for libyaml reader errors. */
static void
offset_position(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            (*line)++;
            *col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* "tag:yaml.org,2002:str" reads better as the "!!str" the user wrote. */
static const char *
short_tag(const char *tag, char *buf, size_t len)
{
    static const char core[] = "tag:yaml.org,2002:";
    if (strncmp(tag, core, sizeof core - 1) == 0) {
        snprintf(buf, len, "!!%s", tag + sizeof core - 1);
        return buf;
    }
    return tag;
}

/* Refuse an anchor or tag on a value; returns true when one was there. */
static bool
refuse_decoration(struct cctx *x, const yaml_event_t *ev, const yaml_char_t *anchor,
                  const yaml_char_t *tag, bool tag_implicit)
{
    unsigned line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
    bool bad = false;
    if (anchor != NULL) {
        cfg_err_add_at(x, line, col, "", true,
                       "anchors and aliases are not supported (found '&%s')", (const char *)anchor);
        bad = true;
    }
    if (tag != NULL && !tag_implicit) {
        char buf[64];
        cfg_err_add_at(x, line, col, "", true, "explicit tags are not supported (found '%s')",
                       short_tag((const char *)tag, buf, sizeof buf));
        bad = true;
    }
    return bad;
}

struct key_ref {
    const struct cnode *key;
    int pair;
};

static int
key_ref_cmp(const void *pa, const void *pb)
{
    const struct key_ref *a = pa, *b = pb;
    size_t la = a->key->len, lb = b->key->len;
    int c = memcmp(a->key->str, b->key->str, la < lb ? la : lb);
    if (c != 0)
        return c;
    if (la != lb)
        return la < lb ? -1 : 1;
    return a->pair - b->pair;
}

/*
 * Refuse duplicate and non-scalar keys of a finished map and drop those
 * pairs, so that one mistake does not cascade into more messages.
 * Sorting keeps this O(n log n) for the hostile map with 60 000 keys.
 */
static void
map_check_keys(struct cctx *x, struct cnode *map)
{
    if (map->n == 0)
        return;
    bool *drop = xcalloc((size_t)map->n, sizeof *drop);
    struct key_ref *refs = xmalloc((size_t)map->n * sizeof *refs);
    int nrefs = 0;
    for (int i = 0; i < map->n; i++) {
        const struct cnode *k = map->kid[2 * i];
        if (k->kind != CNODE_SCALAR) {
            cfg_err_add(x, k, "", true, "a key must be a plain name, not a %s",
                        k->kind == CNODE_MAP ? "map" : "list");
            drop[i] = true;
            continue;
        }
        refs[nrefs].key = k;
        refs[nrefs].pair = i;
        nrefs++;
    }
    qsort(refs, (size_t)nrefs, sizeof *refs, key_ref_cmp);
    for (int i = 1; i < nrefs; i++) {
        const struct cnode *first = refs[i - 1].key, *k = refs[i].key;
        if (first->len != k->len || memcmp(first->str, k->str, k->len) != 0)
            continue;
        /* refs[i - 1] may itself be a duplicate; report against the first one. */
        int j = i - 1;
        while (j > 0 && refs[j - 1].key->len == k->len
               && memcmp(refs[j - 1].key->str, k->str, k->len) == 0)
            j--;
        cfg_err_add(x, k, "", true, "duplicate key '%s' (first at line %u)", k->str,
                    refs[j].key->line);
        drop[refs[i].pair] = true;
    }
    int out = 0;
    for (int i = 0; i < map->n; i++) {
        if (drop[i]) {
            cfg_tree_free(map->kid[2 * i]);
            cfg_tree_free(map->kid[2 * i + 1]);
            continue;
        }
        map->kid[2 * out] = map->kid[2 * i];
        map->kid[2 * out + 1] = map->kid[2 * i + 1];
        out++;
    }
    map->n = out;
    map->fill = 2 * out;
    free(refs);
    free(drop);
}

/* Describe libyaml's failure as "syntax error: PROBLEM (CONTEXT at L:C)". */
static void
report_parser_error(struct cctx *x, const yaml_parser_t *p)
{
    unsigned line, col;
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        fatal("out of memory while parsing %s", x->file);
    case YAML_READER_ERROR:
        offset_position(x->text, x->len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            cfg_err_add_at(x, line, col, "", true, "invalid input: %s (0x%02X)",
                           p->problem != NULL ? p->problem : "unreadable text",
                           (unsigned)p->problem_value);
        else
            cfg_err_add_at(x, line, col, "", true, "invalid input: %s",
                           p->problem != NULL ? p->problem : "unreadable text");
        return;
    default:
        if (x->set_mode) {
            /* Positions inside a one-line value say nothing the value does not. */
            cfg_err_add_at(x, 0, 0, "", true, "not a valid YAML value: %s%s%s%s",
                           p->problem != NULL ? p->problem : "malformed YAML",
                           p->context != NULL ? " (" : "", p->context != NULL ? p->context : "",
                           p->context != NULL ? ")" : "");
            return;
        }
        line = mark_line(&p->problem_mark);
        col = mark_col(&p->problem_mark);
        if (p->context != NULL)
            cfg_err_add_at(x, line, col, "", true, "syntax error: %s (%s at %u:%u)",
                           p->problem != NULL ? p->problem : "malformed YAML", p->context,
                           mark_line(&p->context_mark), mark_col(&p->context_mark));
        else
            cfg_err_add_at(x, line, col, "", true, "syntax error: %s",
                           p->problem != NULL ? p->problem : "malformed YAML");
        return;
    }
}

/* Attach a finished value to the open collection, or make it the root. */
static void
attach(struct cnode **stack, int depth, struct cnode **root, struct cnode *n)
{
    if (depth == 0) {
        cfg_tree_free(*root);
        *root = n;
    } else {
        cfg_node_push(stack[depth - 1], n);
    }
}

int
cfg_tree_parse(struct cctx *x, const char *text, size_t len, struct cnode **root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct cnode *stack[CFG_MAX_DEPTH];
    int depth = 0, docs = 0, rc = 0;
    bool done = false;

    *root = NULL;
    if (!yaml_parser_initialize(&parser))
        fatal("out of memory while parsing %s", x->file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            report_parser_error(x, &parser);
            rc = -1;
            break;
        }
        unsigned line = mark_line(&ev.start_mark), col = mark_col(&ev.start_mark);
        struct cnode *n = NULL;

        if ((ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT
             || ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_ALIAS_EVENT)
            && ++x->nodes > CFG_MAX_NODES) {
            cfg_err_add_at(x, line, col, "", true, "too many values (more than %d)",
                           CFG_MAX_NODES);
            yaml_event_delete(&ev);
            rc = -1;
            break;
        }

        switch (ev.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                cfg_err_add_at(x, line, col, "", true,
                               "a second document starts here; a config holds exactly one");
                rc = -1;
                done = true;
            }
            break;
        case YAML_SCALAR_EVENT: {
            const char *s = (const char *)ev.data.scalar.value;
            bool plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            refuse_decoration(x, &ev, ev.data.scalar.anchor, ev.data.scalar.tag,
                              plain ? ev.data.scalar.plain_implicit
                                    : ev.data.scalar.quoted_implicit);
            n = cfg_node_new(CNODE_SCALAR, s, ev.data.scalar.length, plain, line, col);
            attach(stack, depth, root, n);
            break;
        }
        case YAML_ALIAS_EVENT:
            cfg_err_add_at(x, line, col, "", true,
                           "anchors and aliases are not supported (found '*%s')",
                           (const char *)ev.data.alias.anchor);
            /* A null stands in so the map keeps its key/value pairing. */
            attach(stack, depth, root, cfg_node_new(CNODE_SCALAR, "", 0, true, line, col));
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth >= CFG_MAX_DEPTH) {
                cfg_err_add_at(x, line, col, "", true, "nesting deeper than %d levels",
                               CFG_MAX_DEPTH);
                rc = -1;
                done = true;
                break;
            }
            if (ev.type == YAML_SEQUENCE_START_EVENT)
                refuse_decoration(x, &ev, ev.data.sequence_start.anchor,
                                  ev.data.sequence_start.tag, ev.data.sequence_start.implicit);
            else
                refuse_decoration(x, &ev, ev.data.mapping_start.anchor,
                                  ev.data.mapping_start.tag, ev.data.mapping_start.implicit);
            n = cfg_node_new(ev.type == YAML_SEQUENCE_START_EVENT ? CNODE_SEQ : CNODE_MAP,
                             NULL, 0, false, line, col);
            attach(stack, depth, root, n);
            stack[depth++] = n;
            break;
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_MAPPING_END_EVENT:
            map_check_keys(x, stack[--depth]);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc != 0) {
        cfg_tree_free(*root);
        *root = NULL;
    }
    return rc;
}
