/*
 * command.c - the ':' prompt: its language (parsed into tm_command
 * values), its documentation (help overlay and nntop(1) are written from
 * the same table) and the line editor with history.
 *
 * Pure: nothing here sends, draws or reads keys.  A bad line gives one
 * message and no command, so a typo never reaches the trainer.
 */
#include "config.h"

#include "ui-int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nntop/doctor.h"
#include "nntop/numfmt.h"


#define MAX_ARGS 8

/* ---- values ---------------------------------------------------------- */

/* A finite number spelled by the whole of s. */
static bool
parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    /* Decimal or exponent form only: strtod would also take 0x10 and inf. */
    if (!numfmt_is_decimal(s, strlen(s)))
        return false;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* A whole number spelled by the whole of s, within [lo, hi]. */
static bool
parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
        return false;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ---- the language ---------------------------------------------------- */

typedef int (*parse_fn)(int argc, char **argv, struct tm_command *c, char *err, size_t len);

/* Refuse arguments past the max'th. */
static int
too_many(int argc, char **argv, int max, char *err, size_t len)
{
    if (argc <= max)
        return 0;
    if (max == 1)
        snprintf(err, len, "%s: takes no argument, got '%s'", argv[0], argv[1]);
    else
        snprintf(err, len, "%s: unexpected '%s'", argv[0], argv[max]);
    return -1;
}

static int
parse_lr(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    if (argc < 2) {
        snprintf(err, len, "lr: expected a positive number, *factor or /factor");
        return -1;
    }
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    const char *a = argv[1];
    double v;
    if (a[0] == '*' || a[0] == '/') {
        if (!parse_double(a + 1, &v) || v <= 0.0) {
            snprintf(err, len, "lr: expected a positive factor after '%c', got '%s'", a[0],
                     a + 1);
            return -1;
        }
        c->kind = TM_CMD_SCALE_LR;
        c->value = a[0] == '*' ? v : 1.0 / v;
        return 0;
    }
    if (!parse_double(a, &v) || v <= 0.0) {
        snprintf(err, len, "lr: expected a positive number, got '%s'", a);
        return -1;
    }
    c->kind = TM_CMD_SET_LR;
    c->value = v;
    return 0;
}

static int
parse_clip(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    if (argc < 2) {
        snprintf(err, len, "clip: expected 'off', 'norm X' or 'value X'");
        return -1;
    }
    const char *a = argv[1];
    if (strcmp(a, "off") == 0 || strcmp(a, "none") == 0) {
        if (too_many(argc, argv, 2, err, len) < 0)
            return -1;
        c->kind = TM_CMD_SET_CLIP;
        c->clip_kind = TM_CLIP_NONE;
        c->value = 0.0;
        return 0;
    }
    int kind = TM_CLIP_NORM;
    const char *num = a;
    if (strcmp(a, "norm") == 0 || strcmp(a, "value") == 0) {
        kind = a[0] == 'n' ? TM_CLIP_NORM : TM_CLIP_VALUE;
        if (argc < 3) {
            snprintf(err, len, "clip %s: expected a positive threshold", a);
            return -1;
        }
        if (too_many(argc, argv, 3, err, len) < 0)
            return -1;
        num = argv[2];
    } else {
        /* "clip 1.0" is short for "clip norm 1.0". */
        if (too_many(argc, argv, 2, err, len) < 0)
            return -1;
    }
    double v;
    if (!parse_double(num, &v) || v <= 0.0) {
        if (num == a && !isdigit((unsigned char)a[0]) && a[0] != '.' && a[0] != '-' &&
            a[0] != '+')
            snprintf(err, len, "clip: expected 'off', 'norm X' or 'value X', got '%s'", a);
        else
            snprintf(err, len, "clip: expected a positive threshold, got '%s'", num);
        return -1;
    }
    c->kind = TM_CMD_SET_CLIP;
    c->clip_kind = kind;
    c->value = v;
    return 0;
}

static int
parse_momentum(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    double v;
    if (argc < 2) {
        snprintf(err, len, "momentum: expected a number in [0, 1)");
        return -1;
    }
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    if (!parse_double(argv[1], &v) || v < 0.0 || v >= 1.0) {
        snprintf(err, len, "momentum: expected a number in [0, 1), got '%s'", argv[1]);
        return -1;
    }
    c->kind = TM_CMD_SET_MOMENTUM;
    c->value = v;
    return 0;
}

static int
parse_wd(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    double v;
    if (argc < 2) {
        snprintf(err, len, "%s: expected a number >= 0", argv[0]);
        return -1;
    }
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    if (!parse_double(argv[1], &v) || v < 0.0) {
        snprintf(err, len, "%s: expected a number >= 0, got '%s'", argv[0], argv[1]);
        return -1;
    }
    c->kind = TM_CMD_SET_WD;
    c->value = v;
    return 0;
}

static int
parse_batch(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    long n;
    if (argc < 2) {
        snprintf(err, len, "batch: expected a positive whole number");
        return -1;
    }
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    if (!parse_long(argv[1], 1, INT_MAX, &n)) {
        snprintf(err, len, "batch: expected a positive whole number, got '%s'", argv[1]);
        return -1;
    }
    c->kind = TM_CMD_SET_BATCH;
    c->n = n;
    return 0;
}

/* "step [N]" and "gradcheck [N]": an optional positive count. */
static int
parse_count(int argc, char **argv, long dflt, long *out, char *err, size_t len)
{
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    *out = dflt;
    if (argc == 2 && !parse_long(argv[1], 1, LONG_MAX, out)) {
        snprintf(err, len, "%s: expected a positive whole number, got '%s'", argv[0], argv[1]);
        return -1;
    }
    return 0;
}

static int
parse_step(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    long n;
    if (parse_count(argc, argv, 1, &n, err, len) < 0)
        return -1;
    c->kind = TM_CMD_STEP;
    c->n = n;
    return 0;
}

static int
parse_gradcheck(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    long n;
    if (parse_count(argc, argv, 0, &n, err, len) < 0)
        return -1;
    c->kind = TM_CMD_GRADCHECK;
    c->n = n;
    return 0;
}

/* "overfit [N]", "overfit on", "overfit off": on with N samples (0: the default). */
static int
parse_overfit(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    c->kind = TM_CMD_OVERFIT;
    c->n = 1;
    c->value = 0.0;
    if (argc < 2 || strcmp(argv[1], "on") == 0)
        return 0;
    if (strcmp(argv[1], "off") == 0) {
        c->n = 0;
        return 0;
    }
    long n;
    if (!parse_long(argv[1], 2, LONG_MAX, &n)) {
        snprintf(err, len, "overfit: expected 'on', 'off' or a sample count >= 2, got '%s'",
                 argv[1]);
        return -1;
    }
    c->value = (double)n;
    return 0;
}

static int
parse_telemetry(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    long n;
    if (argc < 2) {
        snprintf(err, len, "telemetry: expected a whole number >= 0 (0 = off)");
        return -1;
    }
    if (too_many(argc, argv, 2, err, len) < 0)
        return -1;
    if (!parse_long(argv[1], 0, LONG_MAX, &n)) {
        snprintf(err, len, "telemetry: expected a whole number >= 0 (0 = off), got '%s'",
                 argv[1]);
        return -1;
    }
    c->kind = TM_CMD_SET_TELEMETRY;
    c->n = n;
    return 0;
}

/* Commands that take no argument: their kind by name. */
static int
parse_plain(int argc, char **argv, struct tm_command *c, char *err, size_t len)
{
    static const struct {
        const char *name;
        int kind;
    } plain[] = {
        {"save", TM_CMD_SAVE},   {"eval", TM_CMD_EVAL}, {"pause", TM_CMD_PAUSE},
        {"resume", TM_CMD_RESUME}, {"quit", TM_CMD_QUIT}, {"q", TM_CMD_QUIT},
        {"baseline", TM_CMD_BASELINE}, {"depcheck", TM_CMD_DEPCHECK},
    };
    if (too_many(argc, argv, 1, err, len) < 0)
        return -1;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (strcmp(argv[0], plain[i].name) == 0) {
            c->kind = plain[i].kind;
            return 0;
        }
    }
    snprintf(err, len, "unknown command '%s'", argv[0]);
    return -1;
}

static const struct {
    const char *name;
    parse_fn parse;
} commands[] = {
    {"lr", parse_lr},
    {"clip", parse_clip},
    {"momentum", parse_momentum},
    {"wd", parse_wd},
    {"weight_decay", parse_wd},
    {"batch", parse_batch},
    {"step", parse_step},
    {"gradcheck", parse_gradcheck},
    {"overfit", parse_overfit},
    {"baseline", parse_plain},
    {"depcheck", parse_plain},
    {"telemetry", parse_telemetry},
    {"save", parse_plain},
    {"eval", parse_plain},
    {"pause", parse_plain},
    {"resume", parse_plain},
    {"quit", parse_plain},
    {"q", parse_plain},
};

/*
 * The config keys :set changes live, each the prompt command it is (the
 * rest of the config is fixed for the run: set refuses them by name).
 */
static const struct {
    const char *key;
    const char *command;
} settable[] = {
    {"optim.lr", "lr"},
    {"optim.momentum", "momentum"},
    {"optim.weight_decay", "wd"},
    {"optim.clip", "clip"},
    {"train.batch_size", "batch"},
    {"telemetry.every", "telemetry"},
};

/* "set KEY VALUE...": the command KEY is, with the values. */
static int
parse_set(int argc, char **argv, struct tm_command *out, char *err, size_t len)
{
    if (argc < 3) {
        snprintf(err, len, "set: expected 'set KEY VALUE' (set optim.lr 0.01)");
        return -1;
    }
    for (size_t i = 0; i < sizeof settable / sizeof settable[0]; i++) {
        if (strcmp(argv[1], settable[i].key) != 0)
            continue;
        char *sub[MAX_ARGS];
        int n = 0;
        sub[n++] = (char *)settable[i].command;
        for (int a = 2; a < argc && n < MAX_ARGS; a++)
            sub[n++] = argv[a];
        for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
            if (strcmp(commands[c].name, settable[i].command) == 0)
                return commands[c].parse(n, sub, out, err, len);
    }
    char keys[256] = "";
    for (size_t i = 0; i < sizeof settable / sizeof settable[0]; i++)
        snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", i > 0 ? ", " : "",
                 settable[i].key);
    snprintf(err, len, "set: '%s' cannot change live (these can: %s)", argv[1], keys);
    return -1;
}

/* Is name a word of the prompt language (a trainer or a dashboard command)? */
static bool
known_command(const char *name);

/*
 * The dashboard's own commands (nothing goes to the trainer as typed):
 * "help [COMMAND]", "export hist FILE", "fix [RULE]" (the remedy of a
 * raised finding, which the dashboard holds) and "explain [RULE]".
 * Checked here, carried out by the dashboard.  Returns 2, or -1 with err.
 */
static int
parse_dashboard(int argc, char **argv, char *err, size_t len)
{
    if (strcmp(argv[0], "fix") == 0 || strcmp(argv[0], "explain") == 0) {
        if (argc > 2) {
            snprintf(err, len, "%s: one rule at most (%s dead-relu)", argv[0], argv[0]);
            return -1;
        }
        if (argc == 2 && doctor_rule_find(argv[1]) < 0) {
            snprintf(err, len, "%s: '%s' is not a doctor rule (man nntop, DOCTOR RULES)",
                     argv[0], argv[1]);
            return -1;
        }
        return 2;
    }
    if (strcmp(argv[0], "help") == 0) {
        if (argc > 2) {
            snprintf(err, len, "help: one command at most (help lr)");
            return -1;
        }
        if (argc == 2 && !known_command(argv[1])) {
            snprintf(err, len, "help: no command '%s' (help alone lists them)", argv[1]);
            return -1;
        }
        return 2;
    }
    if (argc != 3 || strcmp(argv[1], "hist") != 0) {
        snprintf(err, len, "export: expected 'export hist FILE'");
        return -1;
    }
    return 2;
}

int
ui_parse_command(const char *line, struct tm_command *out, char *err, size_t len)
{
    char buf[UI_PROMPT_MAX * 2];
    char *argv[MAX_ARGS];
    char *save = NULL;
    int argc = 0;

    if (err != NULL && len > 0)
        err[0] = '\0';
    while (isspace((unsigned char)*line))
        line++;
    if (*line == ':')
        line++;
    if (strlen(line) >= sizeof buf) {
        snprintf(err, len, "command too long");
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", line);
    for (char *tok = strtok_r(buf, " \t", &save); tok != NULL;
         tok = strtok_r(NULL, " \t", &save)) {
        if (argc == MAX_ARGS) {
            snprintf(err, len, "%s: too many arguments", argv[0]);
            return -1;
        }
        argv[argc++] = tok;
    }
    if (argc == 0)
        return 1;
    if (strcmp(argv[0], "help") == 0 || strcmp(argv[0], "export") == 0 ||
        strcmp(argv[0], "fix") == 0 || strcmp(argv[0], "explain") == 0)
        return parse_dashboard(argc, argv, err, len);
    if (strcmp(argv[0], "set") == 0) {
        struct tm_command c = {0};
        if (parse_set(argc, argv, &c, err, len) < 0)
            return -1;
        *out = c;
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[0], commands[i].name) != 0)
            continue;
        struct tm_command c = {0};
        if (commands[i].parse(argc, argv, &c, err, len) < 0)
            return -1;
        *out = c;
        return 0;
    }
    snprintf(err, len, "unknown command '%s'", argv[0]);
    return -1;
}

static bool
known_command(const char *name)
{
    if (strcmp(name, "help") == 0 || strcmp(name, "export") == 0 || strcmp(name, "fix") == 0 ||
        strcmp(name, "explain") == 0 || strcmp(name, "set") == 0)
        return true;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return true;
    return false;
}

size_t
ui_command_complete(const char *prefix, const char **out, size_t max)
{
    static const char *const dashboard[] = {"help", "export", "fix", "explain", "set"};
    size_t n = 0, plen = strlen(prefix);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strncmp(commands[i].name, prefix, plen) == 0 && strcmp(commands[i].name, "q") != 0 &&
            n < max)
            out[n++] = commands[i].name;
    for (size_t i = 0; i < sizeof dashboard / sizeof dashboard[0]; i++)
        if (strncmp(dashboard[i], prefix, plen) == 0 && n < max)
            out[n++] = dashboard[i];
    return n;
}

/* ---- documentation --------------------------------------------------- */

/* Upper-case words in a synopsis are arguments (italic in the man page). */
static const struct ui_command_doc docs[] = {
    {"lr VALUE", "set the learning rate (the schedule continues from it)"},
    {"lr *FACTOR | lr /FACTOR", "multiply or divide the learning rate"},
    {"clip norm X", "clip the global gradient norm at X (clip X means the same)"},
    {"clip value X", "clip every gradient entry to [-X, X]"},
    {"clip off", "stop clipping (the threshold is remembered for c)"},
    {"momentum M", "set SGD momentum, M in [0, 1)"},
    {"wd X", "set weight decay, X >= 0 (also weight_decay X)"},
    {"batch N", "set the batch size from the next step"},
    {"step [N]", "run N steps (default 1), then pause"},
    {"pause | resume", "pause or resume training"},
    {"eval", "evaluate on the validation set now"},
    {"save", "write a checkpoint now"},
    {"gradcheck [N]", "numerical gradient check on N samples (default: as configured)"},
    {"overfit [N] | overfit on | overfit off",
     "train on N fixed samples (default two batches), dropout and weight decay off; "
     "off restores"},
    {"baseline", "train a copy on zeroed inputs (run paused meanwhile); compare its loss"},
    {"depcheck", "batch-dependency test: sample i's outputs may reach only its own input"},
    {"telemetry N", "take a layer snapshot every N steps (0 = off)"},
    {"set KEY VALUE", "set a config key live: optim.lr, optim.momentum, optim.weight_decay, "
                      "optim.clip, train.batch_size or telemetry.every (as lr, momentum, wd, "
                      "clip, batch, telemetry do; Tab completes the key)"},
    {"quit | q", "save, write the final checkpoint and quit"},
    {"fix [RULE]", "apply the remedy of the newest raised finding that has one (of RULE's; "
                   "default: the selected finding's), as f does"},
    {"explain [RULE]", "what a doctor rule checks, its thresholds, source and what to try "
                       "(default: the selected finding's rule, else the newest raised one's)"},
    {"help [COMMAND]", "the help overlay, or one command's synopsis on the message line"},
    {"export hist FILE", "write the shown histogram's bins as CSV (lo,hi,count; under/over rows)"},
};

const struct ui_command_doc *
ui_command_docs(size_t *n)
{
    *n = sizeof docs / sizeof docs[0];
    return docs;
}

/* Write s for roff: '-' and '\' escaped, line-leading '.' and '\'' guarded. */
static void
roff_text(FILE *fp, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", fp);
    ui_roff_escape(fp, s);
}

void
ui_commands_roff(FILE *fp)
{
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        fputs(".TP\n\\fB:", fp);
        /* Bold words, italic upper-case arguments. */
        for (const char *s = docs[i].synopsis; *s != '\0';) {
            if (isupper((unsigned char)*s)) {
                fputs("\\fI", fp);
                while (isupper((unsigned char)*s))
                    fputc(*s++, fp);
                fputs("\\fB", fp);
            } else if (*s == '-') {
                fputs("\\-", fp);
                s++;
            } else {
                fputc(*s++, fp);
            }
        }
        fputs("\\fR\n", fp);
        /* Sentence case for the manual; the table keeps the terse form. */
        char first[2] = {(char)toupper((unsigned char)docs[i].desc[0]), '\0'};
        roff_text(fp, first);
        roff_text(fp, docs[i].desc + 1);
        fputs(".\n", fp);
    }
}

/* ---- :explain ------------------------------------------------------- */

static void add_line(char lines[][UI_EXPLAIN_W], int *n, int max, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
add_line(char lines[][UI_EXPLAIN_W], int *n, int max, const char *fmt, ...)
{
    if (*n >= max)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(lines[(*n)++], UI_EXPLAIN_W, fmt, ap);
    va_end(ap);
}

int
ui_explain_lines(const struct ui_model *m, const char *rule, char lines[][UI_EXPLAIN_W],
                 int max)
{
    static const char *const stages[6] = {"", "simple start", "loss", "intermediate results",
                                          "parameters", "work control"};
    int r = doctor_rule_find(rule);
    if (r < 0 || max < 1)
        return 0;
    const struct doctor_rule *d = doctor_rule_at(r);
    int n = 0;
    add_line(lines, &n, max, "%s: stage %d (%s), up to %s%s%s", d->id, d->stage,
         d->stage >= 1 && d->stage <= 5 ? stages[d->stage] : "?",
         doctor_severity_name(d->severity), d->remedy != NULL ? "; remedy on f: " : "",
         d->remedy != NULL ? d->remedy : "");
    add_line(lines, &n, max, "Checks: %s", d->checks);
    bool any = false;
    for (int i = 0; i < DP_COUNT; i++) {
        const struct doctor_param_info *p = doctor_param_at(i);
        if (p->rule != r)
            continue;
        if (!any)
            add_line(lines, &n, max, "Thresholds (config keys, defaults):");
        any = true;
        add_line(lines, &n, max, "  doctor.%s = %g: %s", p->name, p->def, p->doc);
    }
    const struct tm_finding *now = NULL;
    for (int i = 0; i < m->nactive; i++)
        if (strcmp(m->active[i].rule, d->id) == 0)
            now = &m->active[i];
    if (now != NULL) {
        char where[TM_NAME_MAX + 16] = "";
        if (now->tensor >= 0 && now->tensor_name[0] != '\0')
            snprintf(where, sizeof where, " on %.*s", TM_NAME_MAX - 1, now->tensor_name);
        else if (now->layer >= 0)
            snprintf(where, sizeof where, " on layer %d", now->layer);
        add_line(lines, &n, max, "Now: raised%s at step %ld as %s: %s", where, now->raised_step,
             doctor_severity_name(now->severity), now->text);
    } else {
        add_line(lines, &n, max, "Now: not raised in this run.");
    }
    add_line(lines, &n, max, "Try: %s", d->advice);
    add_line(lines, &n, max, "Source: %s", d->source);
    return n;
}

/* ---- the line editor ------------------------------------------------- */

void
ui_prompt_open(struct ui_prompt *p)
{
    p->buf[0] = '\0';
    p->len = p->cur = 0;
    p->hpos = p->nhist;
    p->draft[0] = '\0';
    p->overflow = false;
    p->bad_key = 0;
}

/* Copy a line between the prompt's own buffers (never the same one). */
static void
line_copy(char *dst, const char *src)
{
    size_t n = strnlen(src, UI_PROMPT_MAX - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
prompt_load(struct ui_prompt *p, const char *s)
{
    line_copy(p->buf, s);
    p->len = p->cur = (int)strlen(p->buf);
    p->overflow = false;
    p->bad_key = 0;
}

int
ui_prompt_check(const struct ui_prompt *p, char *err, size_t len)
{
    if (p->overflow) {
        snprintf(err, len, "the line is longer than %d characters: nothing sent",
                 UI_PROMPT_MAX - 1);
        return -1;
    }
    if (p->bad_key != 0) {
        if (p->bad_key < 0x20 || p->bad_key == 0x7f)
            snprintf(err, len, "control character 0x%02x cannot be part of a command: nothing sent",
                     (unsigned)p->bad_key);
        else
            snprintf(err, len, "character U+%04X cannot be part of a command: nothing sent",
                     (unsigned)p->bad_key);
        return -1;
    }
    return 0;
}

/* Words that may follow a command: its fixed arguments. */
static size_t
argument_words(const char *cmd, const char **out, size_t max, const char *prefix)
{
    static const struct {
        const char *cmd;
        const char *words[4];
    } args[] = {
        {"clip", {"norm", "value", "off"}},
        {"overfit", {"on", "off"}},
        {"export", {"hist"}},
    };
    size_t n = 0, plen = strlen(prefix);
    if (strcmp(cmd, "help") == 0)
        return ui_command_complete(prefix, out, max);
    if (strcmp(cmd, "set") == 0) {
        for (size_t i = 0; i < sizeof settable / sizeof settable[0] && n < max; i++)
            if (strncmp(settable[i].key, prefix, plen) == 0)
                out[n++] = settable[i].key;
        return n;
    }
    if (strcmp(cmd, "fix") == 0 || strcmp(cmd, "explain") == 0) {
        for (int r = 0; r < DR_COUNT && n < max; r++)
            if (strncmp(doctor_rule_at(r)->id, prefix, plen) == 0)
                out[n++] = doctor_rule_at(r)->id;
        return n;
    }
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        if (strcmp(args[i].cmd, cmd) != 0)
            continue;
        for (int k = 0; k < 4 && args[i].words[k] != NULL; k++)
            if (strncmp(args[i].words[k], prefix, plen) == 0 && n < max)
                out[n++] = args[i].words[k];
    }
    return n;
}

/*
 * Tab: complete the word before the cursor (a command, or a fixed
 * argument of one): a single candidate in full plus a space, several up
 * to their common prefix.
 */
static void
prompt_complete(struct ui_prompt *p)
{
    int start = p->cur;
    while (start > 0 && p->buf[start - 1] != ' ')
        start--;
    char prefix[UI_PROMPT_MAX];
    snprintf(prefix, sizeof prefix, "%.*s", p->cur - start, p->buf + start);
    const char *cand[32];
    size_t n;
    int first = 0;
    while (first < start && p->buf[first] == ' ')
        first++;
    if (first == start) {
        n = ui_command_complete(prefix, cand, 32);
    } else {
        char cmd[UI_PROMPT_MAX];
        int e = first;
        while (e < start && p->buf[e] != ' ')
            e++;
        snprintf(cmd, sizeof cmd, "%.*s", e - first, p->buf + first);
        n = argument_words(cmd, cand, 32, prefix);
    }
    if (n == 0)
        return;
    size_t common = strlen(cand[0]);
    for (size_t i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && cand[i][k] == cand[0][k])
            k++;
        common = k;
    }
    char add[UI_PROMPT_MAX];
    size_t have = strlen(prefix);
    snprintf(add, sizeof add, "%.*s%s", (int)(common - have), cand[0] + have,
             n == 1 ? " " : "");
    size_t alen = strlen(add);
    if (alen == 0 || p->len + (int)alen >= UI_PROMPT_MAX)
        return;
    memmove(p->buf + p->cur + alen, p->buf + p->cur, (size_t)(p->len - p->cur + 1));
    memcpy(p->buf + p->cur, add, alen);
    p->cur += (int)alen;
    p->len += (int)alen;
}

enum ui_prompt_result
ui_prompt_key(struct ui_prompt *p, int key)
{
    switch (key) {
    case UI_KEY_TAB:
        prompt_complete(p);
        break;
    case UI_KEY_ENTER:
    case '\r':
        return UI_PROMPT_SUBMIT;
    case UI_KEY_ESC:
        return UI_PROMPT_CANCEL;
    case UI_KEY_LEFT:
        if (p->cur > 0)
            p->cur--;
        break;
    case UI_KEY_RIGHT:
        if (p->cur < p->len)
            p->cur++;
        break;
    case UI_KEY_HOME:
    case UI_KEY_CTRL_A:
        p->cur = 0;
        break;
    case UI_KEY_END:
    case UI_KEY_CTRL_E:
        p->cur = p->len;
        break;
    case UI_KEY_BACKSPACE:
    case '\b':
        /* Backspace on an empty line closes the prompt, as in vi. */
        if (p->len == 0)
            return UI_PROMPT_CANCEL;
        if (p->cur > 0) {
            memmove(p->buf + p->cur - 1, p->buf + p->cur, (size_t)(p->len - p->cur + 1));
            p->cur--;
            p->len--;
        }
        break;
    case UI_KEY_DELETE:
        if (p->cur < p->len) {
            memmove(p->buf + p->cur, p->buf + p->cur + 1, (size_t)(p->len - p->cur));
            p->len--;
        }
        break;
    case UI_KEY_CTRL_U:
        memmove(p->buf, p->buf + p->cur, (size_t)(p->len - p->cur + 1));
        p->len -= p->cur;
        p->cur = 0;
        break;
    case UI_KEY_UP:
        if (p->hpos > 0) {
            if (p->hpos == p->nhist)
                line_copy(p->draft, p->buf);
            p->hpos--;
            prompt_load(p, p->hist[p->hpos]);
        }
        break;
    case UI_KEY_DOWN:
        if (p->hpos < p->nhist) {
            p->hpos++;
            prompt_load(p, p->hpos == p->nhist ? p->draft : p->hist[p->hpos]);
        }
        break;
    default:
        if (key >= 0x20 && key < 0x7f) {
            /* A character that does not fit must not leave a cut
             * command that runs: the line is refused on Enter. */
            if (p->len >= UI_PROMPT_MAX - 1) {
                p->overflow = true;
                break;
            }
            memmove(p->buf + p->cur + 1, p->buf + p->cur, (size_t)(p->len - p->cur + 1));
            p->buf[p->cur++] = (char)key;
            p->len++;
        } else if (key >= 0 && (key < UI_KEY_UP || key >= UI_KEY_COUNT) && p->bad_key == 0) {
            /* Not ASCII, or a control character no command has: kept
             * out of the line, and the line is refused on Enter. */
            p->bad_key = key;
        }
        break;
    }
    if (p->len == 0) {
        p->overflow = false;
        p->bad_key = 0;
    }
    return UI_PROMPT_EDIT;
}

void
ui_prompt_remember(struct ui_prompt *p)
{
    const char *s = p->buf;
    while (*s == ' ')
        s++;
    if (*s == '\0')
        return;
    if (p->nhist > 0 && strcmp(p->hist[p->nhist - 1], p->buf) == 0)
        return;
    if (p->nhist == UI_PROMPT_HISTORY) {
        memmove(p->hist[0], p->hist[1], (UI_PROMPT_HISTORY - 1) * sizeof p->hist[0]);
        p->nhist--;
    }
    line_copy(p->hist[p->nhist++], p->buf);
    p->hpos = p->nhist;
}

void
ui_command_describe(const struct tm_command *cmd, char *buf, size_t len)
{
    switch (cmd->kind) {
    case TM_CMD_PAUSE: snprintf(buf, len, "pause"); break;
    case TM_CMD_RESUME: snprintf(buf, len, "resume"); break;
    case TM_CMD_STEP: snprintf(buf, len, "step %ld", cmd->n); break;
    case TM_CMD_SET_LR: snprintf(buf, len, "lr %g", cmd->value); break;
    case TM_CMD_SCALE_LR: snprintf(buf, len, "lr x%g", cmd->value); break;
    case TM_CMD_SET_CLIP:
        if (cmd->clip_kind == TM_CLIP_NONE)
            snprintf(buf, len, "clip off");
        else
            snprintf(buf, len, "clip %s %g", tm_clip_name(cmd->clip_kind), cmd->value);
        break;
    case TM_CMD_SET_MOMENTUM: snprintf(buf, len, "momentum %g", cmd->value); break;
    case TM_CMD_SET_WD: snprintf(buf, len, "weight decay %g", cmd->value); break;
    case TM_CMD_SET_BATCH: snprintf(buf, len, "batch %ld", cmd->n); break;
    case TM_CMD_EVAL: snprintf(buf, len, "evaluate"); break;
    case TM_CMD_SAVE: snprintf(buf, len, "save checkpoint"); break;
    case TM_CMD_SET_TELEMETRY: snprintf(buf, len, "telemetry every %ld", cmd->n); break;
    case TM_CMD_GRADCHECK:
        if (cmd->n > 0)
            snprintf(buf, len, "gradient check (%ld samples)", cmd->n);
        else
            snprintf(buf, len, "gradient check");
        break;
    case TM_CMD_OVERFIT:
        if (cmd->n && cmd->value >= 2.0)
            snprintf(buf, len, "overfit %.0f samples", cmd->value);
        else
            snprintf(buf, len, "overfit %s", cmd->n ? "on" : "off");
        break;
    case TM_CMD_BASELINE: snprintf(buf, len, "zero-input baseline"); break;
    case TM_CMD_DEPCHECK: snprintf(buf, len, "batch-dependency check"); break;
    case TM_CMD_QUIT: snprintf(buf, len, "quit"); break;
    default: snprintf(buf, len, "command %d", cmd->kind); break;
    }
}
