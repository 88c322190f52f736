/*
 * check_ui.c - tests for the dashboard's pure parts: the ':' prompt
 * language and line editor, the screen layout, the loss history's
 * downsampling, histogram/sparkline/curve rendering, number and text
 * formatting, the record-folding model, and the key table with its man
 * page output.
 *
 * It does not start curses: the screen itself is exercised by
 * tests/ui-smoke.sh under tmux.  CK_FORK=no runs in one process (gdb).
 */
#include "config.h"

#include "nntop/ui.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ui/crt.h"
#include "../src/ui/ui-int.h"
#include "check_run.h"
#include "nntop/numfmt.h"

static bool utf8_locale;

static void
setup_locale(void)
{
    utf8_locale = setlocale(LC_CTYPE, "C.UTF-8") != NULL ||
                  setlocale(LC_CTYPE, "en_US.UTF-8") != NULL;
}

/* ---- the prompt language --------------------------------------------- */

static const struct {
    const char *line;
    int kind;
    int clip_kind;
    long n;
    double value;
} good_commands[] = {
    {"lr 3e-4", TM_CMD_SET_LR, 0, 0, 3e-4},
    {":lr 0.01", TM_CMD_SET_LR, 0, 0, 0.01},
    {"  lr   1  ", TM_CMD_SET_LR, 0, 0, 1.0},
    {"lr *0.5", TM_CMD_SCALE_LR, 0, 0, 0.5},
    {"lr /4", TM_CMD_SCALE_LR, 0, 0, 0.25},
    {"clip norm 1", TM_CMD_SET_CLIP, TM_CLIP_NORM, 0, 1.0},
    {"clip value 0.5", TM_CMD_SET_CLIP, TM_CLIP_VALUE, 0, 0.5},
    {"clip 2.5", TM_CMD_SET_CLIP, TM_CLIP_NORM, 0, 2.5},
    {"clip off", TM_CMD_SET_CLIP, TM_CLIP_NONE, 0, 0.0},
    {"clip none", TM_CMD_SET_CLIP, TM_CLIP_NONE, 0, 0.0},
    {"momentum 0.95", TM_CMD_SET_MOMENTUM, 0, 0, 0.95},
    {"momentum 0", TM_CMD_SET_MOMENTUM, 0, 0, 0.0},
    {"wd 1e-4", TM_CMD_SET_WD, 0, 0, 1e-4},
    {"weight_decay 0", TM_CMD_SET_WD, 0, 0, 0.0},
    {"batch 256", TM_CMD_SET_BATCH, 0, 256, 0.0},
    {"save", TM_CMD_SAVE, 0, 0, 0.0},
    {"eval", TM_CMD_EVAL, 0, 0, 0.0},
    {"step", TM_CMD_STEP, 0, 1, 0.0},
    {"step 10", TM_CMD_STEP, 0, 10, 0.0},
    {"gradcheck", TM_CMD_GRADCHECK, 0, 0, 0.0},
    {"gradcheck 16", TM_CMD_GRADCHECK, 0, 16, 0.0},
    {"overfit on", TM_CMD_OVERFIT, 0, 1, 0.0},
    {"overfit off", TM_CMD_OVERFIT, 0, 0, 0.0},
    {"overfit", TM_CMD_OVERFIT, 0, 1, 0.0},
    {"overfit 16", TM_CMD_OVERFIT, 0, 1, 16.0},
    {"baseline", TM_CMD_BASELINE, 0, 0, 0.0},
    {"depcheck", TM_CMD_DEPCHECK, 0, 0, 0.0},
    {"telemetry 0", TM_CMD_SET_TELEMETRY, 0, 0, 0.0},
    {"telemetry 50", TM_CMD_SET_TELEMETRY, 0, 50, 0.0},
    {"pause", TM_CMD_PAUSE, 0, 0, 0.0},
    {"resume", TM_CMD_RESUME, 0, 0, 0.0},
    {"quit", TM_CMD_QUIT, 0, 0, 0.0},
    {"q", TM_CMD_QUIT, 0, 0, 0.0},
    {"lr\t2e-3", TM_CMD_SET_LR, 0, 0, 2e-3},
};

START_TEST(test_ui__parse_good)
{
    const size_t n = sizeof good_commands / sizeof good_commands[0];
    for (size_t i = 0; i < n; i++) {
        struct tm_command c;
        memset(&c, 0x5a, sizeof c);
        char err[200] = "";
        int rc = ui_parse_command(good_commands[i].line, &c, err, sizeof err);
        ck_assert_msg(rc == 0, "'%s': expected 0, got %d (%s)", good_commands[i].line, rc, err);
        ck_assert_msg(c.kind == good_commands[i].kind, "'%s': kind %d expected, got %d",
                      good_commands[i].line, good_commands[i].kind, c.kind);
        ck_assert_msg(c.clip_kind == good_commands[i].clip_kind, "'%s': clip kind %d, got %d",
                      good_commands[i].line, good_commands[i].clip_kind, c.clip_kind);
        ck_assert_msg(c.n == good_commands[i].n, "'%s': n %ld expected, got %ld",
                      good_commands[i].line, good_commands[i].n, c.n);
        ck_assert_msg(fabs(c.value - good_commands[i].value) <= 1e-15,
                      "'%s': value %g expected, got %g", good_commands[i].line,
                      good_commands[i].value, c.value);
        ck_assert_msg(err[0] == '\0', "'%s': no error expected, got '%s'", good_commands[i].line,
                      err);
    }
}
END_TEST

static const struct {
    const char *line;
    const char *err;
} bad_commands[] = {
    {"lr2", "unknown command 'lr2'"},
    {"lr2 5", "unknown command 'lr2'"},
    {"LR 1", "unknown command 'LR'"},
    {"lr abc", "lr: expected a positive number, got 'abc'"},
    {"lr -1", "lr: expected a positive number, got '-1'"},
    {"lr 0", "lr: expected a positive number, got '0'"},
    {"lr nan", "lr: expected a positive number, got 'nan'"},
    {"lr inf", "lr: expected a positive number, got 'inf'"},
    {"lr 1e999", "lr: expected a positive number, got '1e999'"},
    {"lr 1x", "lr: expected a positive number, got '1x'"},
    {"lr", "lr: expected a positive number, *factor or /factor"},
    {"lr 1 2", "lr: unexpected '2'"},
    {"lr *", "lr: expected a positive factor after '*', got ''"},
    {"lr *-2", "lr: expected a positive factor after '*', got '-2'"},
    {"lr /0", "lr: expected a positive factor after '/', got '0'"},
    {"clip", "clip: expected 'off', 'norm X' or 'value X'"},
    {"clip foo", "clip: expected 'off', 'norm X' or 'value X', got 'foo'"},
    {"clip norm", "clip norm: expected a positive threshold"},
    {"clip value abc", "clip: expected a positive threshold, got 'abc'"},
    {"clip norm -1", "clip: expected a positive threshold, got '-1'"},
    {"clip -1", "clip: expected a positive threshold, got '-1'"},
    {"clip off now", "clip: unexpected 'now'"},
    {"clip norm 1 2", "clip: unexpected '2'"},
    {"momentum", "momentum: expected a number in [0, 1)"},
    {"momentum 1", "momentum: expected a number in [0, 1), got '1'"},
    {"momentum -0.1", "momentum: expected a number in [0, 1), got '-0.1'"},
    {"wd -1", "wd: expected a number >= 0, got '-1'"},
    {"wd", "wd: expected a number >= 0"},
    {"weight_decay x", "weight_decay: expected a number >= 0, got 'x'"},
    {"batch 0", "batch: expected a positive whole number, got '0'"},
    {"batch 2.5", "batch: expected a positive whole number, got '2.5'"},
    {"batch 99999999999", "batch: expected a positive whole number, got '99999999999'"},
    {"batch", "batch: expected a positive whole number"},
    {"step 0", "step: expected a positive whole number, got '0'"},
    {"step -3", "step: expected a positive whole number, got '-3'"},
    {"step ten", "step: expected a positive whole number, got 'ten'"},
    {"step 1 2", "step: unexpected '2'"},
    {"gradcheck 0", "gradcheck: expected a positive whole number, got '0'"},
    {"overfit yes", "overfit: expected 'on', 'off' or a sample count >= 2, got 'yes'"},
    {"overfit 1", "overfit: expected 'on', 'off' or a sample count >= 2, got '1'"},
    {"depcheck now", "depcheck: takes no argument, got 'now'"},
    {"telemetry -1", "telemetry: expected a whole number >= 0 (0 = off), got '-1'"},
    {"telemetry", "telemetry: expected a whole number >= 0 (0 = off)"},
    {"save now", "save: takes no argument, got 'now'"},
    {"eval 1", "eval: takes no argument, got '1'"},
    {"quit please", "quit: takes no argument, got 'please'"},
    {"a b c d e f g h i", "a: too many arguments"},
    /* Decimal or exponent form only. */
    {"lr 0x10", "lr: expected a positive number, got '0x10'"},
    {"lr inf", "lr: expected a positive number, got 'inf'"},
};

START_TEST(test_ui__parse_bad)
{
    const size_t n = sizeof bad_commands / sizeof bad_commands[0];
    for (size_t i = 0; i < n; i++) {
        struct tm_command c = {.kind = 77, .clip_kind = 78, .n = 79, .value = 80.0};
        char err[200] = "";
        int rc = ui_parse_command(bad_commands[i].line, &c, err, sizeof err);
        ck_assert_msg(rc == -1, "'%s': expected -1, got %d", bad_commands[i].line, rc);
        ck_assert_msg(strcmp(err, bad_commands[i].err) == 0, "'%s': expected error '%s', got '%s'",
                      bad_commands[i].line, bad_commands[i].err, err);
        ck_assert_msg(c.kind == 77 && c.clip_kind == 78 && c.n == 79 && c.value == 80.0,
                      "'%s': the command must be left untouched on error", bad_commands[i].line);
    }
}
END_TEST

START_TEST(test_ui__parse_blank)
{
    const char *blank[] = {"", "   ", ":", " : ", "\t"};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        struct tm_command c = {.kind = 77};
        char err[64] = "x";
        int rc = ui_parse_command(blank[i], &c, err, sizeof err);
        ck_assert_msg(rc == 1, "'%s': blank line expected 1, got %d", blank[i], rc);
        ck_assert_msg(c.kind == 77 && err[0] == '\0', "'%s': nothing may change", blank[i]);
    }
}
END_TEST

START_TEST(test_ui__parse_too_long)
{
    char line[1000];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    struct tm_command c;
    char err[64];
    ck_assert_int_eq(ui_parse_command(line, &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "command too long");
    /* A short error buffer truncates, never overflows. */
    char tiny[8];
    ck_assert_int_eq(ui_parse_command("lr2", &c, tiny, sizeof tiny), -1);
    ck_assert_str_eq(tiny, "unknown");
}
END_TEST

/* Every documented command is a command, and every command is documented. */
START_TEST(test_ui__commands_documented)
{
    const char *names[] = {"lr",   "clip",  "momentum", "wd",    "batch",  "step",
                           "gradcheck", "overfit", "telemetry", "save", "eval", "pause",
                           "resume", "quit", "baseline", "depcheck"};
    size_t nd;
    const struct ui_command_doc *d = ui_command_docs(&nd);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bool found = false;
        for (size_t k = 0; k < nd && !found; k++) {
            char syn[128];
            snprintf(syn, sizeof syn, "%s", d[k].synopsis);
            for (char *w = strtok(syn, " |"); w != NULL && !found; w = strtok(NULL, " |"))
                found = strcmp(w, names[i]) == 0;
        }
        ck_assert_msg(found, "command '%s' has no entry in the prompt documentation", names[i]);
        struct tm_command c;
        char err[200];
        ui_parse_command(names[i], &c, err, sizeof err);
        ck_assert_msg(strstr(err, "unknown command") == NULL, "'%s' is documented but %s",
                      names[i], err);
    }
    for (size_t k = 0; k < nd; k++) {
        ck_assert_msg(d[k].desc != NULL && d[k].desc[0] != '\0', "doc %zu has no description", k);
        char word[32];
        sscanf(d[k].synopsis, "%31s", word);
        struct tm_command c;
        char err[200] = "";
        ui_parse_command(word, &c, err, sizeof err);
        ck_assert_msg(strstr(err, "unknown command") == NULL, "documented '%s' is unknown", word);
    }
    FILE *fp = tmpfile();
    ui_commands_roff(fp);
    long size = ftell(fp);
    char *buf = calloc(1, (size_t)size + 1);
    rewind(fp);
    ck_assert_int_eq(fread(buf, 1, (size_t)size, fp), size);
    fclose(fp);
    int tp = 0;
    for (const char *p = buf; (p = strstr(p, ".TP\n")) != NULL; p++)
        tp++;
    ck_assert_msg(tp == (int)nd, "expected %zu .TP paragraphs, got %d", nd, tp);
    ck_assert_msg(strstr(buf, "\\fB:lr \\fIVALUE\\fB\\fR\n") != NULL,
                  "':lr VALUE' should read bold ':lr', italic 'value':\n%s", buf);
    ck_assert_msg(strstr(buf, "[\\-X, X]") != NULL, "'-' must be escaped for roff:\n%s", buf);
    free(buf);
}
END_TEST

/* ---- the prompt editor ----------------------------------------------- */

static void
type(struct ui_prompt *p, const char *s)
{
    for (; *s != '\0'; s++)
        ck_assert_int_eq(ui_prompt_key(p, *s), UI_PROMPT_EDIT);
}

START_TEST(test_ui__prompt_editing)
{
    struct ui_prompt p;
    memset(&p, 0, sizeof p);
    ui_prompt_open(&p);
    type(&p, "lr 3e-4");
    ck_assert_str_eq(p.buf, "lr 3e-4");
    ck_assert_int_eq(p.cur, 7);
    for (int i = 0; i < 4; i++)
        ui_prompt_key(&p, UI_KEY_LEFT);
    ui_prompt_key(&p, UI_KEY_BACKSPACE);    /* deletes the space */
    ck_assert_str_eq(p.buf, "lr3e-4");
    type(&p, " *");
    ck_assert_str_eq(p.buf, "lr *3e-4");
    ui_prompt_key(&p, UI_KEY_DELETE);
    ck_assert_str_eq(p.buf, "lr *e-4");
    ui_prompt_key(&p, UI_KEY_HOME);
    ck_assert_int_eq(p.cur, 0);
    ui_prompt_key(&p, UI_KEY_LEFT);
    ck_assert_int_eq(p.cur, 0);
    ui_prompt_key(&p, UI_KEY_END);
    ck_assert_int_eq(p.cur, 7);
    ui_prompt_key(&p, UI_KEY_RIGHT);
    ck_assert_int_eq(p.cur, 7);
    ui_prompt_key(&p, UI_KEY_DELETE);       /* at the end: nothing */
    ck_assert_str_eq(p.buf, "lr *e-4");
    for (int i = 0; i < 3; i++)
        ui_prompt_key(&p, UI_KEY_LEFT);
    ui_prompt_key(&p, UI_KEY_CTRL_U);       /* kill to the start */
    ck_assert_str_eq(p.buf, "e-4");
    ck_assert_int_eq(p.cur, 0);
    ui_prompt_key(&p, UI_KEY_CTRL_E);
    ck_assert_int_eq(p.cur, 3);
    ui_prompt_key(&p, UI_KEY_CTRL_A);
    ck_assert_int_eq(p.cur, 0);
    ck_assert_int_eq(ui_prompt_key(&p, 0x01b), UI_PROMPT_CANCEL);
    ck_assert_int_eq(ui_prompt_key(&p, UI_KEY_ENTER), UI_PROMPT_SUBMIT);
    ck_assert_int_eq(ui_prompt_key(&p, '\r'), UI_PROMPT_SUBMIT);
    /* Non-ASCII and control bytes are not inserted. */
    ui_prompt_key(&p, 0xe2);
    ui_prompt_key(&p, 0x07);
    ck_assert_str_eq(p.buf, "e-4");
    /* Backspace on an empty line closes the prompt. */
    ui_prompt_open(&p);
    ck_assert_int_eq(ui_prompt_key(&p, UI_KEY_BACKSPACE), UI_PROMPT_CANCEL);
}
END_TEST

START_TEST(test_ui__prompt_complete)
{
    static const struct {
        const char *typed, *want;
    } cases[] = {
        {"gr", "gradcheck "}, {"clip n", "clip norm "}, {"overfit o", "overfit o"},
        {"overfit of", "overfit off "}, {"help mo", "help momentum "}, {"ex", "exp"},
        {"expo", "export "}, {"expl", "explain "}, {"fi", "fix "}, {"fix dead", "fix dead-"}, {"fix dead-r", "fix dead-relu "},
        {"explain plat", "explain plateau "}, {"explain over", "explain overfit"},
        {"export h", "export hist "}, {"zz", "zz"}, {"s", "s"}, {"sa", "save "},
        /* :set completes the config keys that can change live. */
        {"se", "set "}, {"set optim.l", "set optim.lr "}, {"set optim.", "set optim."},
        {"set optim.w", "set optim.weight_decay "}, {"set tr", "set train.batch_size "},
        {"set t", "set t"}, {"set tele", "set telemetry.every "}, {"set data.", "set data."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ui_prompt p = {0};
        ui_prompt_open(&p);
        for (const char *c = cases[i].typed; *c != '\0'; c++)
            ui_prompt_key(&p, *c);
        ck_assert_int_eq(ui_prompt_key(&p, UI_KEY_TAB), UI_PROMPT_EDIT);
        ck_assert_msg(strcmp(p.buf, cases[i].want) == 0, "'%s' + Tab: '%s', expected '%s'",
                      cases[i].typed, p.buf, cases[i].want);
        ck_assert_int_eq(p.cur, (int)strlen(p.buf));
    }
    /* Dashboard commands parse to 2 (carried out by the dashboard). */
    struct tm_command c;
    char err[200];
    ck_assert_int_eq(ui_parse_command("help", &c, err, sizeof err), 2);
    ck_assert_int_eq(ui_parse_command(":help lr", &c, err, sizeof err), 2);
    ck_assert_int_eq(ui_parse_command("help lr2", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "help: no command 'lr2' (help alone lists them)");
    ck_assert_int_eq(ui_parse_command("export hist /tmp/h.csv", &c, err, sizeof err), 2);
    /* set KEY VALUE is the command the key names; other keys are refused by name. */
    ck_assert_int_eq(ui_parse_command("set optim.lr 0.01", &c, err, sizeof err), 0);
    ck_assert_int_eq(c.kind, TM_CMD_SET_LR);
    ck_assert_double_eq_tol(c.value, 0.01, 1e-12);
    ck_assert_int_eq(ui_parse_command("set train.batch_size 32", &c, err, sizeof err), 0);
    ck_assert_int_eq(c.kind, TM_CMD_SET_BATCH);
    ck_assert_int_eq(c.n, 32);
    ck_assert_int_eq(ui_parse_command("set optim.clip 2", &c, err, sizeof err), 0);
    ck_assert_int_eq(c.kind, TM_CMD_SET_CLIP);
    ck_assert_int_eq(ui_parse_command("set train.epochs 3", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "set: 'train.epochs' cannot change live (these can: optim.lr, "
                          "optim.momentum, optim.weight_decay, optim.clip, train.batch_size, "
                          "telemetry.every)");
    ck_assert_int_eq(ui_parse_command("set optim.lr", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "set: expected 'set KEY VALUE' (set optim.lr 0.01)");
    ck_assert_int_eq(ui_parse_command("set optim.momentum 2", &c, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "momentum") != NULL, "the command's own error: '%s'", err);
    ck_assert_int_eq(ui_parse_command("export hist", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "export: expected 'export hist FILE'");
    /* :fix and :explain take a doctor rule id, or none. */
    ck_assert_int_eq(ui_parse_command("fix", &c, err, sizeof err), 2);
    ck_assert_int_eq(ui_parse_command(":fix update-ratio-high", &c, err, sizeof err), 2);
    ck_assert_int_eq(ui_parse_command("explain batch-mixing", &c, err, sizeof err), 2);
    ck_assert_int_eq(ui_parse_command("explain", &c, err, sizeof err), 2);
    ck_assert_int_eq(ui_parse_command("fix dead_relu", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "fix: 'dead_relu' is not a doctor rule (man nntop, DOCTOR RULES)");
    ck_assert_int_eq(ui_parse_command("explain plateau x", &c, err, sizeof err), -1);
    ck_assert_str_eq(err, "explain: one rule at most (explain dead-relu)");
}
END_TEST

START_TEST(test_ui__prompt_history)
{
    struct ui_prompt p;
    memset(&p, 0, sizeof p);
    const char *lines[] = {"lr 1", "save", "save", "  ", "eval"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        ui_prompt_open(&p);
        type(&p, lines[i]);
        ui_prompt_remember(&p);
    }
    ck_assert_msg(p.nhist == 3, "repeats and blanks are not kept: expected 3 entries, got %d",
                  p.nhist);
    ui_prompt_open(&p);
    type(&p, "dra");
    ui_prompt_key(&p, UI_KEY_UP);
    ck_assert_str_eq(p.buf, "eval");
    ck_assert_int_eq(p.cur, 4);
    ui_prompt_key(&p, UI_KEY_UP);
    ck_assert_str_eq(p.buf, "save");
    ui_prompt_key(&p, UI_KEY_UP);
    ck_assert_str_eq(p.buf, "lr 1");
    ui_prompt_key(&p, UI_KEY_UP);           /* oldest: stays */
    ck_assert_str_eq(p.buf, "lr 1");
    ui_prompt_key(&p, UI_KEY_DOWN);
    ui_prompt_key(&p, UI_KEY_DOWN);
    ck_assert_str_eq(p.buf, "eval");
    ui_prompt_key(&p, UI_KEY_DOWN);         /* back to the draft */
    ck_assert_str_eq(p.buf, "dra");
    ui_prompt_key(&p, UI_KEY_DOWN);
    ck_assert_str_eq(p.buf, "dra");
}
END_TEST

START_TEST(test_ui__prompt_limits)
{
    struct ui_prompt p;
    memset(&p, 0, sizeof p);
    ui_prompt_open(&p);
    for (int i = 0; i < 3 * UI_PROMPT_MAX; i++)
        ui_prompt_key(&p, 'a');
    ck_assert_int_eq(p.len, UI_PROMPT_MAX - 1);
    ck_assert_int_eq((int)strlen(p.buf), UI_PROMPT_MAX - 1);
    /* A line that did not fit is refused whole: ":lr 1" and 5000 zeros
     * must not run as "lr 1e+123". */
    char err[200];
    ck_assert_int_eq(ui_prompt_check(&p, err, sizeof err), -1);
    ck_assert_str_eq(err, "the line is longer than 127 characters: nothing sent");
    ui_prompt_open(&p);
    type(&p, "lr 1");
    for (int i = 0; i < 5000; i++)
        ui_prompt_key(&p, '0');
    ck_assert_int_eq(ui_prompt_check(&p, err, sizeof err), -1);
    /* A character no command has (U+200B, zero width space) refuses the line. */
    ui_prompt_open(&p);
    type(&p, "lr 0.1");
    ui_prompt_key(&p, 0x200b);
    ck_assert_str_eq(p.buf, "lr 0.1");
    ck_assert_int_eq(ui_prompt_check(&p, err, sizeof err), -1);
    ck_assert_str_eq(err, "character U+200B cannot be part of a command: nothing sent");
    /* Cleared, the line is fine again; an ordinary line passes. */
    ui_prompt_key(&p, UI_KEY_CTRL_U);
    ui_prompt_key(&p, UI_KEY_END);
    type(&p, "lr 0.1");
    ck_assert_int_eq(ui_prompt_check(&p, err, sizeof err), 0);
    for (int i = 0; i < UI_PROMPT_HISTORY + 10; i++) {
        ui_prompt_open(&p);
        char line[16];
        snprintf(line, sizeof line, "step %d", i + 1);
        type(&p, line);
        ui_prompt_remember(&p);
    }
    ck_assert_int_eq(p.nhist, UI_PROMPT_HISTORY);
    ck_assert_str_eq(p.hist[0], "step 11");
    ck_assert_str_eq(p.hist[UI_PROMPT_HISTORY - 1], "step 42");
}
END_TEST

START_TEST(test_ui__command_describe)
{
    char buf[64];
    struct tm_command c = {.kind = TM_CMD_SCALE_LR, .value = 0.5};
    ui_command_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "lr x0.5");
    c = (struct tm_command){.kind = TM_CMD_SET_CLIP, .clip_kind = TM_CLIP_VALUE, .value = 0.25};
    ui_command_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "clip value 0.25");
    c = (struct tm_command){.kind = TM_CMD_SET_CLIP, .clip_kind = TM_CLIP_NONE};
    ui_command_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "clip off");
    c = (struct tm_command){.kind = TM_CMD_STEP, .n = 10};
    ui_command_describe(&c, buf, sizeof buf);
    ck_assert_str_eq(buf, "step 10");
}
END_TEST

/* ---- layout ---------------------------------------------------------- */

static bool
inside(const struct ui_rect *r, int rows, int cols)
{
    return r->y >= 0 && r->x >= 0 && r->h > 0 && r->w > 0 && r->y + r->h <= rows &&
           r->x + r->w <= cols;
}

static bool
overlap(const struct ui_rect *a, const struct ui_rect *b)
{
    return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

START_TEST(test_ui__layout_sizes)
{
    const int sizes[][2] = {{24, 80}, {30, 100}, {60, 200}, {25, 81}, {24, 200}, {100, 80},
                            {300, 1000}, {51, 133}, {40, 159}, {40, 160}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int rows = sizes[s][0], cols = sizes[s][1];
        struct ui_layout l;
        ui_layout(rows, cols, &l);
        ck_assert_msg(!l.too_small, "%dx%d is not too small", cols, rows);
        ck_assert_int_eq(l.rows, rows);
        ck_assert_int_eq(l.cols, cols);
        long area = 0;
        /* The strip and the small multiples come with room, and only then. */
        ck_assert_msg((l.area[UI_AREA_RATIO].w > 0) == (cols >= UI_WIDE_COLS),
                      "%dx%d: the ratio strip is %dx%d", cols, rows, l.area[UI_AREA_RATIO].w,
                      l.area[UI_AREA_RATIO].h);
        ck_assert_msg((l.area[UI_AREA_MULTI].w > 0) == (cols >= UI_WIDE_COLS),
                      "%dx%d: the small multiples are %dx%d", cols, rows,
                      l.area[UI_AREA_MULTI].w, l.area[UI_AREA_MULTI].h);
        /* The extras take columns only: the layers keep the top half's rows. */
        ck_assert_int_eq(l.area[UI_AREA_LAYERS].h, (rows - 3 + 1) / 2);
        for (int a = 0; a < UI_AREA_COUNT; a++) {
            const struct ui_rect *r = &l.area[a];
            if ((a == UI_AREA_RATIO || a == UI_AREA_MULTI) && r->w == 0 && r->h == 0)
                continue;
            ck_assert_msg(inside(r, rows, cols), "%dx%d: area %d (%d,%d %dx%d) outside the screen",
                          cols, rows, a, r->y, r->x, r->w, r->h);
            area += (long)r->w * r->h;
            for (int b = a + 1; b < UI_AREA_COUNT; b++)
                ck_assert_msg(!overlap(r, &l.area[b]), "%dx%d: areas %d and %d overlap", cols,
                              rows, a, b);
        }
        ck_assert_msg(area == (long)rows * cols, "%dx%d: areas cover %ld cells, expected %ld",
                      cols, rows, area, (long)rows * cols);
        /* Every panel has room for its border and some content. */
        const int panels[] = {UI_AREA_LOSS, UI_AREA_LAYERS, UI_AREA_HIST, UI_AREA_FINDINGS};
        for (size_t p = 0; p < 4; p++) {
            const struct ui_rect *r = &l.area[panels[p]];
            ck_assert_msg(r->h >= 10 && r->w >= 30, "%dx%d: panel %d is only %dx%d", cols, rows,
                          panels[p], r->w, r->h);
        }
        ck_assert_msg(l.area[UI_AREA_LAYERS].w >= 46, "%dx%d: layers panel %d wide, need 46",
                      cols, rows, l.area[UI_AREA_LAYERS].w);
        ck_assert_int_eq(l.area[UI_AREA_HEADER].y, 0);
        ck_assert_int_eq(l.area[UI_AREA_FOOTER].y, rows - 1);
        ck_assert_int_eq(l.area[UI_AREA_MESSAGE].y, rows - 2);
    }
}
END_TEST

START_TEST(test_ui__layout_too_small)
{
    const int sizes[][2] = {{24, 79}, {23, 80}, {20, 60}, {0, 0}, {1, 1}, {-5, 100}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct ui_layout l;
        ui_layout(sizes[s][0], sizes[s][1], &l);
        ck_assert_msg(l.too_small, "%dx%d must be too small", sizes[s][1], sizes[s][0]);
        for (int a = 0; a < UI_AREA_COUNT; a++)
            ck_assert_msg(l.area[a].w == 0 && l.area[a].h == 0,
                          "%dx%d: too small, yet area %d has a size", sizes[s][1], sizes[s][0], a);
    }
}
END_TEST

/* ---- loss history ---------------------------------------------------- */

START_TEST(test_ui__series_downsample)
{
    struct ui_series *s = malloc(sizeof *s);
    ui_series_init(s);
    const long N = 1000003;
    float ymin = INFINITY, ymax = -INFINITY;
    for (long x = 1; x <= N; x++) {
        float y = (float)(1.0 + 0.5 * sin((double)x * 0.001) + 1e-6 * (double)x);
        ymin = y < ymin ? y : ymin;
        ymax = y > ymax ? y : ymax;
        ui_series_push(s, x, y);
        /* A plain test in the loop: ck_assert marks a point on every
         * call, which a million calls turn into seconds. */
        int n = ui_series_count(s);
        if (n > UI_SERIES_CAP + 1)
            ck_abort_msg("after %ld samples %d buckets (cap %d)", x, n, UI_SERIES_CAP + 1);
    }
    int n = ui_series_count(s);
    ck_assert_msg(n >= UI_SERIES_CAP / 2, "downsampling kept only %d buckets", n);
    struct ui_point first = ui_series_at(s, 0), last = ui_series_at(s, n - 1);
    ck_assert_msg(first.x0 == 1, "the first bucket must start at step 1, starts at %ld", first.x0);
    ck_assert_msg(last.x1 == N, "the last bucket must end at step %ld, ends at %ld", N, last.x1);
    ck_assert_msg((s->stride & (s->stride - 1)) == 0 && s->stride >= 256,
                  "stride %ld should be a power of two >= 256", s->stride);
    long total = 0, prev = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        struct ui_point p = ui_series_at(s, i);
        ck_assert_msg(p.x0 == prev + 1, "bucket %d starts at %ld, expected %ld (contiguous)", i,
                      p.x0, prev + 1);
        ck_assert_msg(p.x1 >= p.x0 && p.lo <= p.mean && p.mean <= p.hi,
                      "bucket %d: x %ld..%ld, lo %g mean %g hi %g", i, p.x0, p.x1, p.lo, p.mean,
                      p.hi);
        ck_assert_msg(p.n == p.x1 - p.x0 + 1, "bucket %d holds %ld samples over %ld steps", i,
                      p.n, p.x1 - p.x0 + 1);
        if (i < n - 1)
            ck_assert_msg(p.n == s->stride, "bucket %d holds %ld, stride %ld", i, p.n, s->stride);
        total += p.n;
        prev = p.x1;
        lo = p.lo < lo ? p.lo : lo;
        hi = p.hi > hi ? p.hi : hi;
    }
    ck_assert_msg(total == N && s->total == N, "samples kept %ld / %ld, expected %ld", total,
                  s->total, N);
    ck_assert_msg(lo == ymin && hi == ymax, "envelope %g..%g, expected %g..%g", lo, hi, ymin, ymax);
    /* The recent ring holds the last raw samples in order. */
    ck_assert_int_eq(s->rn, UI_RECENT_CAP);
    for (int i = 0; i < s->rn; i++) {
        long x;
        float y;
        ui_series_recent(s, i, &x, &y);
        ck_assert_msg(x == N - UI_RECENT_CAP + 1 + i, "recent %d: step %ld", i, x);
    }
    free(s);
}
END_TEST

START_TEST(test_ui__series_small)
{
    struct ui_series *s = malloc(sizeof *s);
    ui_series_init(s);
    ck_assert_int_eq(ui_series_count(s), 0);
    ui_series_push(s, 1, 2.0f);
    ui_series_push(s, 2, NAN);
    ui_series_push(s, 3, INFINITY);
    ui_series_push(s, 4, 1.0f);
    ck_assert_int_eq(ui_series_count(s), 2);
    ck_assert_int_eq(s->nonfinite, 2);
    ck_assert_int_eq(s->total, 2);
    ck_assert_int_eq(ui_series_at(s, 1).x0, 4);
    ck_assert_int_eq(s->rn, 2);
    free(s);
}
END_TEST

/* ---- numbers and text ------------------------------------------------ */

START_TEST(test_ui__fmt_numbers)
{
    char b[32];
    static const struct {
        double v;
        const char *want;
    } plain[] = {
        {1.0986, "1.099"}, {0.05, "0.05"},      {1.33, "1.33"},     {0.7607, "0.7607"},
        {0.2808, "0.2808"}, {2e-10, "200e-12"}, {0.000123, "123e-6"}, {0.0012, "1.2e-3"},
        {123456, "123e3"}, {1234.6, "1235"},  {9999.6, "10e3"},   {-2.5, "-2.5"},
        {0.1, "0.1"},       {3e-4, "300e-6"},   {1e-5, "10e-6"},    {2.5e6, "2.5e6"},
        {1e30, "1e30"},     {0.0, "0"},         {NAN, "nan"},       {-NAN, "nan"},
        {INFINITY, "inf"},  {-INFINITY, "-inf"}, {0.00999996, "0.01"}, {2.302585, "2.303"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        numfmt(b, sizeof b, plain[i].v);
        ck_assert_msg(strcmp(b, plain[i].want) == 0, "numfmt(%g): expected '%s', got '%s'",
                      plain[i].v, plain[i].want, b);
    }
    static const struct {
        double v;
        int w;
        const char *want;
    } shorts[] = {
        {1.0986, 6, "1.099"}, {1.0986, 4, "1.1"},  {123456, 5, "123e3"}, {0.000123, 5, "1e-4"},
        {0.0, 3, "0"},        {-2.5, 4, "-2.5"},   {1e30, 4, "1e30"},    {0.21, 4, "0.21"},
        {-0.21, 4, "-0.2"},   {1234.6, 4, "1235"}, {1e-5, 6, "10e-6"},   {1e-5, 4, "1e-5"},
        {2.5e6, 5, "2.5e6"},  {-1e-10, 6, "-1e-10"}, {-3e-300, 6, "-~0"}, {5e300, 6, "5e300"},
        {-5e300, 6, "-5e300"},
    };
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++) {
        ui_fmt_short(b, sizeof b, shorts[i].v, shorts[i].w);
        ck_assert_msg(strcmp(b, shorts[i].want) == 0, "short(%g, %d): expected '%s', got '%s'",
                      shorts[i].v, shorts[i].w, shorts[i].want, b);
    }
    /* Width 6 always holds: never '#', never cut. */
    for (int e = -320; e <= 308; e++) {
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            double v = sgn * 7.654321 * pow(10.0, e);
            numfmt_fit(b, sizeof b, v, NUMFMT_MIN_W);
            ck_assert_msg((int)strlen(b) <= NUMFMT_MIN_W && strchr(b, '#') == NULL,
                          "fit(%g, 6) = '%s'", v, b);
        }
    }
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 950), "950");
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 9.5), "9.5");
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 1234), "1.23k");
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 12400), "12.4k");
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 124000), "124k");
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 3.1e6), "3.10M");
    ck_assert_str_eq(ui_fmt_si(b, sizeof b, 2e9), "2.00G");
    ck_assert_str_eq(ui_fmt_pct(b, sizeof b, 0.12), "12%");
    ck_assert_str_eq(ui_fmt_pct(b, sizeof b, 1.0), "100%");
    ck_assert_str_eq(ui_fmt_pct(b, sizeof b, 0.001), "<1%");
    ck_assert_str_eq(ui_fmt_pct(b, sizeof b, 0.0), "0%");
    ck_assert_str_eq(ui_fmt_pct(b, sizeof b, -1.0), "-");
    ck_assert_str_eq(ui_fmt_pct(b, sizeof b, NAN), "-");
}
END_TEST

START_TEST(test_ui__text_clean)
{
    char b[64];
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "a\xe2\x86\x92" "b \xe2\x9c\x93", false),
                     "a->b ok");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "x\x01y\x7f", false), "x?y?");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "bad \xff\xfe end", false), "bad ?? end");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "\xe4\xb8\xad", false), "?");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "over\xc0\xaflong", false), "over??long");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "cut \xe2\x86", false), "cut ??");
    ck_assert_msg(utf8_locale, "a UTF-8 locale (C.UTF-8) is needed for the rest of this test");
    /* Truncation never splits a sequence. */
    char small[5];
    ck_assert_str_eq(ui_text_clean(small, sizeof small, "ab\xe2\x86\x92", true), "ab");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "a\xe2\x86\x92" "b\tc", true),
                     "a\xe2\x86\x92" "b?c");
    ck_assert_str_eq(ui_text_clean(b, sizeof b, "\xc2\x85", true), "?");
}
END_TEST

START_TEST(test_ui__text_width)
{
    ck_assert_msg(utf8_locale, "a UTF-8 locale (C.UTF-8) is needed");
    const char *s = "h\xc3\xa9llo \xe2\xa3\xbf";   /* "héllo ⣿" */
    ck_assert_int_eq(ui_text_width(s, true), 7);
    ck_assert_int_eq(ui_text_width("hello", false), 5);
    int used;
    ck_assert_int_eq(ui_text_fit(s, 3, true, &used), 4);
    ck_assert_int_eq(used, 3);
    ck_assert_int_eq(ui_text_fit(s, 100, true, &used), strlen(s));
    ck_assert_int_eq(used, 7);
    ck_assert_int_eq(ui_text_fit(s, 0, true, &used), 0);
    /* A double-width character does not fit in one column. */
    ck_assert_int_eq(ui_text_fit("\xe4\xb8\xad", 1, true, &used), 0);
    ck_assert_int_eq(ui_text_width("\xe4\xb8\xad", true), 2);
}
END_TEST

START_TEST(test_ui__glyph_twins)
{
    /* Every glyph has an ASCII twin, and the twins are pure ASCII. */
    const struct ui_glyphs *a = ui_glyphs(false), *u = ui_glyphs(true);
    const char *const *fa = (const char *const *)a, *const *fu = (const char *const *)u;
    size_t n = sizeof *a / sizeof(const char *);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fa[i] != NULL && fu[i] != NULL, "glyph %zu missing", i);
        for (const char *p = fa[i]; *p != '\0'; p++)
            ck_assert_msg((unsigned char)*p < 0x80, "ASCII glyph %zu is '%s'", i, fa[i]);
    }
}
END_TEST

/* ---- pictures -------------------------------------------------------- */

static struct tm_hist
make_hist(const uint32_t *counts, int nbins, float lo, float hi)
{
    struct tm_hist h;
    memset(&h, 0, sizeof h);
    h.lo = lo;
    h.hi = hi;
    h.nbins = (uint16_t)nbins;
    for (int i = 0; i < nbins; i++) {
        h.counts[i] = counts[i];
        h.total += counts[i];
    }
    return h;
}

START_TEST(test_ui__hist_render)
{
    char b[256];
    const uint32_t c1[] = {0, 1, 8, 4};
    struct tm_hist h = make_hist(c1, 4, -1.0f, 1.0f);
    ui_hist_render(b, sizeof b, &h, 4, 1, true);
    ck_assert_str_eq(b, " \xe2\x96\x81\xe2\x96\x88\xe2\x96\x84");            /* " ▁█▄" */
    ui_hist_render(b, sizeof b, &h, 4, 1, false);
    ck_assert_str_eq(b, " _#.");
    ui_hist_render(b, sizeof b, &h, 4, 2, true);
    /* "  █ \n ▂██" */
    ck_assert_str_eq(b, "  \xe2\x96\x88 \n \xe2\x96\x82\xe2\x96\x88\xe2\x96\x88");
    /* Wider than the bins: each bin spans columns. */
    const uint32_t c2[] = {1, 2};
    h = make_hist(c2, 2, 0.0f, 1.0f);
    ui_hist_render(b, sizeof b, &h, 4, 1, false);
    ck_assert_str_eq(b, "..##");
    /* Narrower: columns show the mean of their bins. */
    const uint32_t c3[] = {2, 2, 0, 4};
    h = make_hist(c3, 4, 0.0f, 1.0f);
    ui_hist_render(b, sizeof b, &h, 2, 1, false);
    ck_assert_str_eq(b, "##");
    /* A bin with one value among thousands still shows. */
    const uint32_t c4[] = {1, 100000};
    h = make_hist(c4, 2, 0.0f, 1.0f);
    ui_hist_render(b, sizeof b, &h, 2, 3, false);
    ck_assert_str_eq(b, " #\n #\n_#");
    /* Empty: blank cells of the right width. */
    memset(&h, 0, sizeof h);
    size_t n = ui_hist_render(b, sizeof b, &h, 5, 2, true);
    ck_assert_str_eq(b, "     \n     ");
    ck_assert_int_eq(n, 11);
}
END_TEST

/* Two runs' histograms on their common range: a as bars, b as its letter at its bars' tops. */
START_TEST(test_ui__hist_overlay)
{
    char b[256];
    float lo, hi;
    const uint32_t ca[] = {4, 4}, cb[] = {0, 8};
    struct tm_hist ha = make_hist(ca, 2, 0.0f, 2.0f), hb = make_hist(cb, 2, 2.0f, 4.0f);
    ui_hist_overlay_render(b, sizeof b, &ha, &hb, "B", 4, 2, false, &lo, &hi);
    ck_assert_str_eq(b, "   B\n##  ");
    ck_assert(lo == 0.0f && hi == 4.0f);
    /* Scaled to each total: a run with ten times the values draws as high. */
    const uint32_t c10[] = {40, 40};
    struct tm_hist h10 = make_hist(c10, 2, 0.0f, 2.0f);
    ui_hist_overlay_render(b, sizeof b, &h10, &ha, "A", 2, 1, false, &lo, &hi);
    ck_assert_str_eq(b, "AA");
    /* A reference histogram (b, M) marks with a glyph: the same one over itself. */
    const uint32_t c[] = {0, 4};
    struct tm_hist cur = make_hist(c, 2, 0.0f, 2.0f);
    ui_hist_overlay_render(b, sizeof b, &cur, &cur, "\xe2\x80\xa2", 2, 2, true, &lo, &hi);
    ck_assert_str_eq(b, " \xe2\x80\xa2\n \xe2\x96\x88");     /* " •\n █" */
}
END_TEST

/* Percentiles from bins: linear inside a bin, under/over at the ends. */
START_TEST(test_ui__hist_quantile)
{
    const uint32_t c[] = {10, 0, 0, 10};
    struct tm_hist h = make_hist(c, 4, 0.0f, 4.0f);
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 0.0), 0.0, 1e-9);
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 0.25), 0.5, 1e-9);
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 0.5), 1.0, 1e-9);   /* the end of bin 0 */
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 0.75), 3.5, 1e-9);
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 1.0), 4.0, 1e-9);
    /* 5 values below lo: the 10 % point is lo itself. */
    h.under = 5;
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 0.1), 0.0, 1e-9);
    h.under = 0;
    h.over = 20;
    ck_assert_double_eq_tol(ui_hist_quantile(&h, 0.9), 4.0, 1e-9);
    /* The TensorBoard bands, in order. */
    const uint32_t u[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    h = make_hist(u, 10, -1.0f, 1.0f);
    double last = -INFINITY;
    for (int q = 0; q < UI_NBANDS; q++) {
        double v = ui_hist_quantile(&h, ui_band_q[q]);
        ck_assert_double_eq_tol(v, -1.0 + 2.0 * ui_band_q[q], 1e-6);
        ck_assert(v > last);
        last = v;
    }
    memset(&h, 0, sizeof h);
    ck_assert(isnan(ui_hist_quantile(&h, 0.5)));
    ck_assert(isnan(ui_hist_quantile(&h, 1.5)));
}
END_TEST

/* Auto-zoom keeps whole bins of the central mass and counts the rest. */
START_TEST(test_ui__hist_zoom)
{
    /* 1000 values in bins 18..21 of 40, one outlier each side. */
    uint32_t c[40] = {0};
    c[0] = 1;
    c[18] = 200, c[19] = 300, c[20] = 300, c[21] = 200;
    c[39] = 1;
    struct tm_hist h = make_hist(c, 40, -40.0f, 40.0f), z;
    ck_assert(ui_hist_zoom(&h, 0.01, &z));
    ck_assert_int_eq(z.nbins, 4);
    ck_assert_float_eq_tol(z.lo, -4.0f, 1e-5f);
    ck_assert_float_eq_tol(z.hi, 4.0f, 1e-5f);
    ck_assert_uint_eq(z.under, 1);
    ck_assert_uint_eq(z.over, 1);
    ck_assert_uint_eq(z.total, 1000);
    ck_assert_uint_eq(z.counts[0], 200);
    ck_assert_uint_eq(z.counts[3], 200);
    /* Nothing outside the budget is hidden: 3 % in the tail stays. */
    c[0] = 30;
    h = make_hist(c, 40, -40.0f, 40.0f);
    ck_assert(!ui_hist_zoom(&h, 0.01, &z));
    ck_assert_int_eq(z.nbins, 40);
    ck_assert_float_eq(z.lo, -40.0f);
    /* A spread histogram is left alone. */
    const uint32_t u[] = {5, 5, 5, 5, 5, 5, 5, 5};
    h = make_hist(u, 8, 0.0f, 1.0f);
    ck_assert(!ui_hist_zoom(&h, 0.01, &z));
    ck_assert_int_eq(z.nbins, 8);
    /* One bin, or a constant tensor: nothing to zoom. */
    h = make_hist(u, 1, 2.0f, 2.0f);
    ck_assert(!ui_hist_zoom(&h, 0.01, &z));
}
END_TEST

/* Bands over time: innermost band wins a cell, the median is a line. */
START_TEST(test_ui__bands_render)
{
    char b[256];
    float q[2][UI_NBANDS] = {{0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f},
                             {NAN, NAN, NAN, NAN, NAN, NAN, NAN}};
    /* Rows of height 1 over [0, 7]: top row 6..7 ... bottom 0..1. */
    ui_bands_render(b, sizeof b, (const float (*)[UI_NBANDS])q, 2, 3, 7, 0.0, 7.0, false);
    ck_assert_str_eq(b, ".  \n:  \n#  \n=  \n#  \n:  \n.  ");
    /* Only the last width entries are drawn. */
    ui_bands_render(b, sizeof b, (const float (*)[UI_NBANDS])q, 2, 1, 1, 0.0, 7.0, false);
    ck_assert_str_eq(b, " ");
}
END_TEST

/* The strip's bands on a log scale, and their glyphs in both sets. */
START_TEST(test_ui__ratio_level)
{
    ck_assert_int_eq(ui_ratio_level(0.0f), 0);
    ck_assert_int_eq(ui_ratio_level(5e-7f), 0);
    ck_assert_int_eq(ui_ratio_level(5e-6f), 1);
    ck_assert_int_eq(ui_ratio_level(5e-5f), 2);
    ck_assert_int_eq(ui_ratio_level(2e-4f), 3);
    ck_assert_int_eq(ui_ratio_level(1e-3f), UI_RATIO_HEALTHY);
    ck_assert_int_eq(ui_ratio_level(6e-4f), UI_RATIO_HEALTHY);
    ck_assert_int_eq(ui_ratio_level(1.9e-3f), UI_RATIO_HEALTHY);
    ck_assert_int_eq(ui_ratio_level(5e-3f), 5);
    ck_assert_int_eq(ui_ratio_level(5e-2f), 6);
    ck_assert_int_eq(ui_ratio_level(3.0f), 7);
    ck_assert_int_eq(ui_ratio_level(NAN), -1);
    ck_assert_int_eq(ui_ratio_level(INFINITY), -2);
    const struct ui_glyphs *a = ui_glyphs(false), *u = ui_glyphs(true);
    ck_assert_str_eq(ui_ratio_glyph(a, 1e-3f), "=");
    ck_assert_str_eq(ui_ratio_glyph(a, 0.0f), ".");
    ck_assert_str_eq(ui_ratio_glyph(a, 1.0f), "#");
    ck_assert_str_eq(ui_ratio_glyph(a, INFINITY), "!");
    ck_assert_str_eq(ui_ratio_glyph(u, NAN), " ");
    /* Every band has its own glyph, so the strip reads without colour. */
    for (int i = 0; i < UI_RATIO_LEVELS; i++)
        for (int j = i + 1; j < UI_RATIO_LEVELS; j++) {
            ck_assert_str_ne(a->ratio_lvl[i], a->ratio_lvl[j]);
            ck_assert_str_ne(u->ratio_lvl[i], u->ratio_lvl[j]);
        }
}
END_TEST


START_TEST(test_ui__hist_axis)
{
    char b[128];
    struct tm_hist h;
    memset(&h, 0, sizeof h);
    h.lo = -2.0f;
    h.hi = 2.0f;
    ui_hist_axis(b, sizeof b, &h, 21);
    ck_assert_str_eq(b, "-2        0         2");
    h.lo = 0.5f;
    h.hi = 1.5f;
    ui_hist_axis(b, sizeof b, &h, 12);
    ck_assert_str_eq(b, "0.5      1.5");
    ui_hist_axis(b, sizeof b, &h, 4);           /* no room for both: lo only */
    ck_assert_str_eq(b, "0.5 ");
}
END_TEST

START_TEST(test_ui__spark)
{
    char b[64];
    const float v[] = {1e-4f, 1e-3f, 1e-2f};
    ui_spark(b, sizeof b, v, 3, true);
    ck_assert_str_eq(b, "\xe2\x96\x81\xe2\x96\x85\xe2\x96\x88");         /* "▁▅█" */
    ui_spark(b, sizeof b, v, 3, false);
    ck_assert_str_eq(b, "_+@");
    const float same[] = {3e-3f, 3e-3f};
    ui_spark(b, sizeof b, same, 2, false);
    ck_assert_str_eq(b, "==");
    const float bad[] = {0.0f, NAN, 1.0f};
    ui_spark(b, sizeof b, bad, 3, false);
    ck_assert_str_eq(b, "__=");
    ui_spark(b, sizeof b, v, 0, false);
    ck_assert_str_eq(b, "");
}
END_TEST

START_TEST(test_ui__canvas)
{
    static struct ui_canvas c;
    char g[8];
    ui_canvas_init(&c, 2, 1, true);
    ui_canvas_dot(&c, 0, 0);
    ck_assert_str_eq(ui_canvas_glyph(&c, 0, 0, g), "\xe2\xa0\x81");   /* U+2801 */
    ui_canvas_dot(&c, 3, 3);
    ck_assert_str_eq(ui_canvas_glyph(&c, 1, 0, g), "\xe2\xa2\x80");   /* U+2880 */
    ui_canvas_dot(&c, 4, 0);        /* outside: ignored */
    ui_canvas_dot(&c, -1, 0);
    ck_assert_str_eq(ui_canvas_glyph(&c, 2, 0, g), "");
    ui_canvas_init(&c, 1, 1, true);
    ui_canvas_line(&c, 0, 0, 1, 3);
    ck_assert_msg(c.cell[0] != 0 && (c.cell[0] & 0x01) && (c.cell[0] & 0x80),
                  "the line's ends must be set: mask %#x", c.cell[0]);
    ui_canvas_init(&c, 1, 1, false);
    ui_canvas_dot(&c, 0, 1);
    ck_assert_str_eq(ui_canvas_glyph(&c, 0, 0, g), "-");
    ui_canvas_dot(&c, 0, 2);
    ck_assert_str_eq(ui_canvas_glyph(&c, 0, 0, g), "|");
}
END_TEST

START_TEST(test_ui__plot_series)
{
    static struct ui_canvas c;
    struct ui_series *s = malloc(sizeof *s);
    ui_series_init(s);
    for (long x = 1; x <= 100; x++)
        ui_series_push(s, x, 2.0f);
    double lo = INFINITY, hi = -INFINITY;
    ck_assert(ui_series_yrange(s, false, 1, 100, false, 10, &lo, &hi));
    ck_assert_msg(lo == 2.0 && hi == 2.0, "range %g..%g", lo, hi);
    /* A constant series on [1, 3]: a straight line through the middle. */
    ui_canvas_init(&c, 5, 1, false);
    ui_plot_series(&c, s, false, 1, 100, 1.0, 3.0, false);
    for (int col = 0; col < 5; col++)
        ck_assert_msg(c.cell[col] == 2, "column %d: mask %d, expected the middle dot", col,
                      c.cell[col]);
    /* Log scale skips non-positive values instead of drawing them. */
    ui_series_init(s);
    ui_series_push(s, 1, -1.0f);
    ui_series_push(s, 2, 0.0f);
    lo = INFINITY, hi = -INFINITY;
    ck_assert(!ui_series_yrange(s, false, 1, 2, true, 10, &lo, &hi));
    ui_series_push(s, 3, 100.0f);
    ck_assert(ui_series_yrange(s, true, 1, 3, true, 10, &lo, &hi));
    ck_assert_msg(lo == 2.0 && hi == 2.0, "log10 range %g..%g, expected 2..2", lo, hi);
    free(s);
}
END_TEST

/* ---- the model ------------------------------------------------------- */

static struct tm_record *
rec(int type)
{
    static struct tm_record r;
    memset(&r, 0, sizeof r);
    r.type = (uint32_t)type;
    return &r;
}

START_TEST(test_ui__model_snapshot)
{
    struct ui_model *m = ui_model_new();
    struct tm_record *r = rec(TM_INFO);
    r->u.info.nlayers = 2;
    r->u.info.ntensors = 2;
    r->u.info.expected_loss = log(3.0);
    ui_model_apply(m, r);
    r = rec(TM_LAYER);
    r->u.layer.index = 1;
    r->u.layer.act_mean = 0.5f;
    r->u.layer.act.nbins = 9999;
    ui_model_apply(m, r);
    r = rec(TM_TENSOR);
    r->u.tensor.index = 0;
    r->u.tensor.update_ratio = 1e-3f;
    ui_model_apply(m, r);
    ck_assert_msg(!m->layer_have[1] && !m->tensor_have[0],
                  "a snapshot is shown only when TM_SNAPSHOT closes it");
    r = rec(TM_SNAPSHOT);
    r->u.snapshot.step = 10;
    ui_model_apply(m, r);
    ck_assert(m->layer_have[1] && m->tensor_have[0]);
    ck_assert_int_eq(m->snap_step, 10);
    ck_assert_msg(m->layers[1].act.nbins == TM_MAX_BINS, "nbins clamped to %d, got %d",
                  TM_MAX_BINS, m->layers[1].act.nbins);
    ck_assert_int_eq(m->ntrend[0], 1);
    for (int i = 0; i < UI_TREND_LEN + 3; i++) {
        r = rec(TM_TENSOR);
        r->u.tensor.index = 0;
        r->u.tensor.update_ratio = (float)(i + 1);
        ui_model_apply(m, r);
        ui_model_apply(m, rec(TM_SNAPSHOT));
    }
    ck_assert_int_eq(m->ntrend[0], UI_TREND_LEN);
    ck_assert_msg(m->trend[0][UI_TREND_LEN - 1] == UI_TREND_LEN + 3 && m->trend[0][0] == 4,
                  "trend keeps the last %d ratios in order: got %g .. %g", UI_TREND_LEN,
                  m->trend[0][0], m->trend[0][UI_TREND_LEN - 1]);
    free(m);
}
END_TEST

/* The model keeps the strip, the bands, the first and the pinned histograms. */
START_TEST(test_ui__model_strip_bands)
{
    struct ui_model *m = ui_model_new();
    struct tm_record *r = rec(TM_INFO);
    r->u.info.nlayers = 1;
    r->u.info.ntensors = 1;
    r->u.info.layers[0].weight = 0;
    ui_model_apply(m, r);
    const uint32_t c[] = {1, 1, 1, 1};
    for (int i = 0; i < UI_STRIP_LEN + 5; i++) {
        r = rec(TM_TENSOR);
        r->u.tensor.index = 0;
        r->u.tensor.update_ratio = (float)i;
        r->u.tensor.weight = make_hist(c, 4, (float)i, (float)i + 4.0f);
        if (i % 2 == 0)     /* odd snapshots carry no record of the tensor */
            ui_model_apply(m, r);
        r = rec(TM_SNAPSHOT);
        r->u.snapshot.step = 10L * i;
        ui_model_apply(m, r);
        if (i == 2)
            ui_model_pin(m);
    }
    ck_assert_int_eq(m->strip_n, UI_STRIP_LEN);
    long step;
    float v = ui_model_strip(m, UI_STRIP_LEN - 1, 0, &step);
    ck_assert_int_eq(step, 10L * (UI_STRIP_LEN + 4));
    ck_assert_float_eq(v, (float)(UI_STRIP_LEN + 4));
    ck_assert(isnan(ui_model_strip(m, UI_STRIP_LEN - 2, 0, &step)));
    v = ui_model_strip(m, 0, 0, &step);
    ck_assert_int_eq(step, 50);
    ck_assert(isnan(v));
    int slot = ui_hist_slot(m, 0, UI_HIST_WEIGHT);
    ck_assert_int_eq(slot, TM_MAX_LAYERS);
    ck_assert_int_eq(ui_hist_slot(m, 0, UI_HIST_GRAD), TM_MAX_LAYERS + UI_MAX_TENSORS);
    ck_assert_int_eq(ui_hist_slot(m, 1, UI_HIST_WEIGHT), -1);
    /* The first weight histogram is step 0's; the pinned one step 20's. */
    ck_assert_int_eq(m->first_step[slot], 0);
    ck_assert_float_eq(m->first_hist[slot].lo, 0.0f);
    ck_assert_int_eq(m->pin_step[slot], 20);
    ck_assert_float_eq(m->pin_hist[slot].lo, 2.0f);
    ck_assert_int_eq(m->pinned_at, 20);
    /* Bands: one entry per histogram computed, the median in the middle. */
    const struct ui_bands *b = &m->bands[slot];
    ck_assert_int_eq(b->n, (UI_STRIP_LEN + 6) / 2 < UI_BAND_LEN ? (UI_STRIP_LEN + 6) / 2
                                                                 : UI_BAND_LEN);
    const float *q = ui_bands_at(b, b->n - 1, &step);
    ck_assert_int_eq(step, 10L * (UI_STRIP_LEN + 4));
    ck_assert_float_eq_tol(q[3], (float)(UI_STRIP_LEN + 4) + 2.0f, 1e-4f);
    ck_assert_ptr_null(ui_bands_at(b, b->n, NULL));
    free(m);
}
END_TEST

/* A finding selected with a click: f, :fix and :explain take its rule
 * while it is raised with a remedy; an event that is no finding has none. */
START_TEST(test_ui__finding_selected)
{
    struct ui *ui = calloc(1, sizeof *ui);
    ui->live = ui_model_new();
    struct tm_record *r = rec(TM_EVENT);
    r->u.event.kind = TM_EV_INFO;
    snprintf(r->u.event.text, sizeof r->u.event.text, "dead-relu is not a finding here");
    ui_model_apply(ui->live, r);
    const char *rules[] = {"dead-relu", "update-ratio-low"};
    for (int i = 0; i < 2; i++) {
        r = rec(TM_FINDING);
        struct tm_finding *f = &r->u.finding;
        snprintf(f->rule, sizeof f->rule, "%s", rules[i]);
        f->state = TM_FINDING_RAISED;
        f->severity = 2;
        f->layer = 2 * i;
        f->tensor = -1;
        f->remedy.kind = TM_CMD_SCALE_LR;
        f->remedy.value = i == 0 ? 0.1 : 10.0;
        snprintf(f->remedy_text, sizeof f->remedy_text, "lr x%g", f->remedy.value);
        snprintf(f->text, sizeof f->text, "measured");
        ui_model_apply(ui->live, r);
    }
    char buf[TM_NAME_MAX];
    ck_assert_ptr_null(ui_finding_rule(ui->live, 0, buf, sizeof buf));
    ck_assert_str_eq(ui_finding_rule(ui->live, 1, buf, sizeof buf), "dead-relu");
    ck_assert_str_eq(ui_finding_rule(ui->live, 2, buf, sizeof buf), "update-ratio-low");
    ck_assert_ptr_null(ui_finding_rule(ui->live, 3, buf, sizeof buf));
    /* Nothing selected: the newest raised remedy (update-ratio-low). */
    ck_assert_ptr_null(ui_selected_rule(ui, true, buf, sizeof buf));
    ck_assert_str_eq(ui_model_remedy(ui->live, NULL)->rule, "update-ratio-low");
    /* The older finding selected: its rule wins. */
    ui->find_sel = 1 + 1;
    ck_assert_str_eq(ui_selected_rule(ui, true, buf, sizeof buf), "dead-relu");
    ck_assert_double_eq(ui_model_remedy(ui->live, buf)->remedy.value, 0.1);
    /* The info event selected: no rule, f falls back to the newest. */
    ui->find_sel = 0 + 1;
    ck_assert_ptr_null(ui_selected_rule(ui, false, buf, sizeof buf));
    /* Cleared: no remedy to apply, but :explain still explains it. */
    r = rec(TM_FINDING);
    snprintf(r->u.finding.rule, sizeof r->u.finding.rule, "dead-relu");
    r->u.finding.state = TM_FINDING_CLEARED;
    r->u.finding.layer = 0;
    r->u.finding.tensor = -1;
    r->u.finding.remedy.kind = -1;
    ui_model_apply(ui->live, r);
    ui->find_sel = 1 + 1;
    ck_assert_ptr_null(ui_selected_rule(ui, true, buf, sizeof buf));
    ck_assert_str_eq(ui_selected_rule(ui, false, buf, sizeof buf), "dead-relu");
    free(ui->live);
    free(ui);
}
END_TEST

/* A view and its planes: planes of another sample or step, or out of
 * range, are not taken; a new view drops the old planes. */
START_TEST(test_ui__model_view)
{
    struct ui_model *m = ui_model_new();
    struct tm_record *r = rec(TM_VIEW_MAP);
    r->u.view_map.kind = TM_VIEW_ACT;
    ui_model_apply(m, r);
    ck_assert_msg(!m->map_have[0], "a plane before any view is taken");
    r = rec(TM_VIEW);
    r->u.view.step = 7;
    r->u.view.sample = 3;
    r->u.view.ph = r->u.view.pw = 4;
    r->u.view.filter_layer = 0;
    r->u.view.map_layer = 1;
    ui_model_apply(m, r);
    ck_assert(m->have_view);
    ck_assert_int_eq(m->views, 1);
    struct tm_view_map p = {.step = 7, .sample = 3, .kind = TM_VIEW_ACT, .layer = 1, .index = 2,
                            .h = 4, .w = 4};
    r = rec(TM_VIEW_MAP);
    r->u.view_map = p;
    ui_model_apply(m, r);
    ck_assert(m->map_have[2]);
    r->u.view_map.kind = TM_VIEW_FILTER;
    r->u.view_map.layer = 0;
    r->u.view_map.index = 5;
    ui_model_apply(m, r);
    ck_assert(m->filter_have[5]);
    /* Stale, misplaced or oversized planes. */
    struct tm_view_map bad[] = {p, p, p, p, p};
    bad[0].sample = 4;
    bad[1].step = 6;
    bad[2].index = TM_VIEW_MAX_MAPS;
    bad[3].h = TM_VIEW_MAX_SIDE + 1;
    bad[3].w = TM_VIEW_MAX_SIDE;
    bad[4].layer = 3;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bad[i].index = bad[i].index == 2 ? 3 : bad[i].index;
        r->u.view_map = bad[i];
        ui_model_apply(m, r);
    }
    ck_assert_msg(!m->map_have[3], "a bad plane was taken");
    /* An oversized view is ignored; a new one clears the planes. */
    r = rec(TM_VIEW);
    r->u.view.ph = TM_VIEW_MAX_SIDE + 1;
    r->u.view.pw = TM_VIEW_MAX_SIDE;
    ui_model_apply(m, r);
    ck_assert_int_eq(m->views, 1);
    ck_assert_int_eq(m->view.sample, 3);
    r->u.view.ph = 4;
    r->u.view.sample = 4;
    ui_model_apply(m, r);
    ck_assert_int_eq(m->views, 2);
    ck_assert(!m->map_have[2] && !m->filter_have[5]);
    free(m);
}
END_TEST

/*
 * A snapshot without histograms (taken sooner than telemetry.max_hz
 * allows) keeps the last ones computed and their step; the next snapshot
 * with histograms replaces them.
 */
START_TEST(test_ui__model_hist_kept)
{
    struct ui_model *m = ui_model_new();
    struct tm_record *r = rec(TM_INFO);
    r->u.info.nlayers = 1;
    r->u.info.ntensors = 1;
    r->u.info.layers[0].weight = 0;
    ui_model_apply(m, r);
    ck_assert_int_eq(ui_model_hist_step(m, 0, UI_HIST_ACT), -1);
    for (long step = 1; step <= 3; step++) {
        r = rec(TM_LAYER);
        r->u.layer.index = 0;
        r->u.layer.act_mean = (float)step;
        if (step != 2) {        /* step 2: no histograms this time */
            r->u.layer.act.nbins = 4;
            r->u.layer.act.total = (uint32_t)(10 * step);
        }
        ui_model_apply(m, r);
        r = rec(TM_TENSOR);
        r->u.tensor.index = 0;
        if (step != 2) {
            r->u.tensor.weight.nbins = r->u.tensor.grad.nbins = 4;
            r->u.tensor.weight.total = r->u.tensor.grad.total = (uint32_t)step;
        }
        ui_model_apply(m, r);
        r = rec(TM_SNAPSHOT);
        r->u.snapshot.step = step;
        ui_model_apply(m, r);
        long want = step == 2 ? 1 : step;
        ck_assert_msg(m->layers[0].act_mean == (float)step, "the snapshot's own numbers");
        ck_assert_msg(ui_model_hist(m, 0, UI_HIST_ACT)->total == 10 * want &&
                          ui_model_hist_step(m, 0, UI_HIST_ACT) == want,
                      "step %ld: the activations of step %ld expected, got total %u at %ld",
                      step, want, ui_model_hist(m, 0, UI_HIST_ACT)->total,
                      ui_model_hist_step(m, 0, UI_HIST_ACT));
        ck_assert_int_eq(ui_model_hist(m, 0, UI_HIST_WEIGHT)->total, want);
        ck_assert_int_eq(ui_model_hist_step(m, 0, UI_HIST_GRAD), want);
    }
    free(m);
}
END_TEST

/* Picture levels: linear on [lo, hi], clamped, and defined for NaN and a flat plane. */
START_TEST(test_ui__level)
{
    ck_assert_int_eq(ui_level(0.0f, 0.0f, 1.0f, 16), 0);
    ck_assert_int_eq(ui_level(1.0f, 0.0f, 1.0f, 16), 15);
    ck_assert_int_eq(ui_level(0.5f, 0.0f, 1.0f, 16), 8);
    ck_assert_int_eq(ui_level(0.49f, 0.0f, 1.0f, 16), 7);
    ck_assert_int_eq(ui_level(-3.0f, 0.0f, 1.0f, 16), 0);
    ck_assert_int_eq(ui_level(7.0f, 0.0f, 1.0f, 16), 15);
    ck_assert_int_eq(ui_level(NAN, 0.0f, 1.0f, 16), 0);
    ck_assert_int_eq(ui_level(2.0f, 2.0f, 2.0f, 16), 0);
    ck_assert_int_eq(ui_level(0.0f, -1.0f, 1.0f, 16), 8);
}
END_TEST

START_TEST(test_ui__model_bad_records)
{
    struct ui_model *m = ui_model_new();
    struct tm_record *r = rec(TM_LAYER);
    r->u.layer.index = -1;
    ui_model_apply(m, r);
    r->u.layer.index = TM_MAX_LAYERS;
    ui_model_apply(m, r);
    r = rec(TM_TENSOR);
    r->u.tensor.index = UI_MAX_TENSORS;
    ui_model_apply(m, r);
    ui_model_apply(m, rec(TM_TYPE_COUNT + 5));
    r = rec(TM_INFO);
    r->u.info.nlayers = 1000;
    r->u.info.ntensors = -3;
    memset(r->u.info.name, 'x', sizeof r->u.info.name);
    ui_model_apply(m, r);
    ck_assert_int_eq(m->info.nlayers, TM_MAX_LAYERS);
    ck_assert_int_eq(m->info.ntensors, 0);
    ck_assert_int_eq((int)strlen(m->info.name), (int)sizeof m->info.name - 1);
    r = rec(TM_GRADCHECK);
    r->u.gradcheck.ntensors = 500;
    ui_model_apply(m, r);
    ck_assert_int_eq(m->gradcheck.ntensors, TM_GC_MAX_TENSORS);
    ck_assert_int_eq(m->gradcheck_seq, 1);
    ck_assert_int_eq(m->records, 6);
    free(m);
}
END_TEST

/* A finding record about rule (layer, tensor: -1 none). */
static struct tm_record *
finding(const char *rule, int state, int severity, int layer, int tensor)
{
    struct tm_record *r = rec(TM_FINDING);
    struct tm_finding *f = &r->u.finding;
    snprintf(f->rule, sizeof f->rule, "%s", rule);
    f->state = state;
    f->severity = severity;
    f->layer = layer;
    f->tensor = tensor;
    f->remedy.kind = -1;
    snprintf(f->text, sizeof f->text, "%s measured", rule);
    return r;
}

/*
 * The marks are the doctor's findings raised now and nothing else: a
 * raised finding marks its layer (or the run) until its cleared record,
 * a re-raise at another severity replaces it, info is kept but is below
 * the marking severity, and the remedy offered is the newest one raised.
 */
START_TEST(test_ui__model_marks)
{
    struct ui_model *m = ui_model_new();
    ck_assert_int_eq(ui_model_mark(m, 1, NULL), 0);
    ck_assert_ptr_null(ui_model_remedy(m, NULL));
    /* Values the old dashboard thresholds called unhealthy: no finding, no mark. */
    struct tm_record *r = rec(TM_LAYER);
    r->u.layer.index = 1;
    r->u.layer.dead_frac = 0.9f;
    ui_model_apply(m, r);
    r = rec(TM_TENSOR);
    r->u.tensor.index = 0;
    r->u.tensor.update_ratio = 0.5f;
    ui_model_apply(m, r);
    ui_model_apply(m, rec(TM_SNAPSHOT));
    ck_assert_int_eq(ui_model_mark(m, 1, NULL), 0);
    ck_assert_int_eq(ui_model_mark(m, 0, NULL), 0);

    ui_model_apply(m, finding("dead-relu", TM_FINDING_RAISED, TM_SEV_WARNING, 1, -1));
    ck_assert_int_eq(ui_model_mark(m, 1, NULL), TM_SEV_WARNING);
    ck_assert_int_eq(ui_model_mark(m, 1, "dead-relu"), TM_SEV_WARNING);
    ck_assert_int_eq(ui_model_mark(m, 1, "saturation"), 0);
    ck_assert_int_eq(ui_model_mark(m, 0, NULL), 0);
    ck_assert_int_eq(ui_model_mark(m, -1, NULL), 0);
    ck_assert_int_eq(ui_model_count(m, TM_SEV_WARNING), 1);

    r = finding("update-ratio-high", TM_FINDING_RAISED, TM_SEV_INFO, 0, 0);
    r->u.finding.remedy.kind = TM_CMD_SCALE_LR;
    r->u.finding.remedy.value = 0.1;
    ui_model_apply(m, r);
    ck_assert_int_eq(ui_model_mark(m, 0, NULL), TM_SEV_INFO);
    ck_assert_int_lt(ui_model_mark(m, 0, NULL), UI_MARK_MIN);
    ck_assert_int_eq(ui_model_count(m, TM_SEV_INFO), 1);
    /* escalated: replaced, not added */
    r->u.finding.severity = TM_SEV_WARNING;
    ui_model_apply(m, r);
    ck_assert_int_eq(m->nactive, 2);
    ck_assert_int_eq(ui_model_count(m, TM_SEV_INFO), 0);
    ck_assert_int_eq(ui_model_mark(m, 0, "update-ratio-high"), TM_SEV_WARNING);
    const struct tm_finding *f = ui_model_remedy(m, NULL);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->rule, "update-ratio-high");
    ck_assert_ptr_null(ui_model_remedy(m, "dead-relu"));

    /* about the run: the curves' mark */
    r = finding("oscillation", TM_FINDING_RAISED, TM_SEV_WARNING, -1, -1);
    r->u.finding.remedy.kind = TM_CMD_SCALE_LR;
    r->u.finding.remedy.value = 0.1;
    ui_model_apply(m, r);
    ck_assert_int_eq(ui_model_mark(m, -1, NULL), TM_SEV_WARNING);
    ck_assert_str_eq(ui_model_remedy(m, NULL)->rule, "oscillation");
    ck_assert_str_eq(ui_model_remedy(m, "update-ratio-high")->rule, "update-ratio-high");

    /* cleared: the mark goes with it */
    ui_model_apply(m, finding("dead-relu", TM_FINDING_CLEARED, TM_SEV_WARNING, 1, -1));
    ck_assert_int_eq(ui_model_mark(m, 1, NULL), 0);
    ui_model_apply(m, finding("oscillation", TM_FINDING_CLEARED, TM_SEV_WARNING, -1, -1));
    ck_assert_int_eq(ui_model_mark(m, -1, NULL), 0);
    ck_assert_str_eq(ui_model_remedy(m, NULL)->rule, "update-ratio-high");
    ck_assert_int_eq(m->nactive, 1);
    /* the findings panel still lists all six records */
    ck_assert_int_eq(ui_model_nevents(m), 6);

    /* full: the oldest raised goes, the newest stay */
    for (int i = 0; i < UI_ACTIVE_CAP + 3; i++)
        ui_model_apply(m, finding("dead-relu", TM_FINDING_RAISED, TM_SEV_WARNING, i % 40, i));
    ck_assert_int_eq(m->nactive, UI_ACTIVE_CAP);
    ck_assert_int_eq(m->active[UI_ACTIVE_CAP - 1].tensor, UI_ACTIVE_CAP + 2);
    free(m);
}
END_TEST

/* :explain: the table's text, its thresholds, and what is raised now. */
START_TEST(test_ui__explain)
{
    struct ui_model *m = ui_model_new();
    static char lines[32][UI_EXPLAIN_W];
    ck_assert_int_eq(ui_explain_lines(m, "no-such-rule", lines, 32), 0);
    int n = ui_explain_lines(m, "dead-relu", lines, 32);
    ck_assert_int_ge(n, 6);
    ck_assert_str_eq(lines[0], "dead-relu: stage 3 (intermediate results), up to warning");
    ck_assert(strncmp(lines[1], "Checks: the fraction of a relu layer's units", 44) == 0);
    bool info = false, warn = false, now = false, src = false;
    for (int i = 0; i < n; i++) {
        info |= strcmp(lines[i], "  doctor.dead_info = 0.3: dead fraction reported as info") == 0;
        warn |= strncmp(lines[i], "  doctor.dead_warning = 0.7: ", 29) == 0;
        now |= strcmp(lines[i], "Now: not raised in this run.") == 0;
        src |= strncmp(lines[i], "Source: DeepDiagnosis identifyDead (0.7)", 40) == 0;
    }
    ck_assert(info && warn && now && src);
    struct tm_record *r = finding("dead-relu", TM_FINDING_RAISED, TM_SEV_WARNING, 1, -1);
    r->u.finding.raised_step = 120;
    ui_model_apply(m, r);
    n = ui_explain_lines(m, "dead-relu", lines, 32);
    now = false;
    for (int i = 0; i < n; i++)
        now |= strcmp(lines[i], "Now: raised on layer 1 at step 120 as warning: dead-relu measured")
               == 0;
    ck_assert(now);
    /* a rule with a remedy says which; max bounds the lines */
    n = ui_explain_lines(m, "divergence", lines, 2);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(lines[0], "divergence: stage 3 (intermediate results), up to error; "
                               "remedy on f: lr x0.1");
    free(m);
}
END_TEST

/* The function bar offers f only with a remedy to apply, and names it. */
START_TEST(test_ui__bar_fix)
{
    struct ui ui;
    memset(&ui, 0, sizeof ui);
    ui.live = ui_model_new();
    const struct ui_key_binding *f = ui_key_find('f');
    ck_assert_ptr_nonnull(f);
    char buf[64];
    ck_assert_ptr_null(ui_bar_name(&ui, f, buf, sizeof buf));
    ck_assert_str_eq(ui_bar_name(&ui, ui_key_find('q'), buf, sizeof buf), "Quit");
    ck_assert_ptr_null(ui_bar_name(&ui, ui_key_find('G'), buf, sizeof buf));
    struct tm_record *r = finding("exploding-gradients", TM_FINDING_RAISED, TM_SEV_WARNING, -1,
                                  -1);
    r->u.finding.remedy.kind = TM_CMD_SET_CLIP;
    r->u.finding.remedy.clip_kind = TM_CLIP_NORM;
    r->u.finding.remedy.value = 1.0;
    snprintf(r->u.finding.remedy_text, sizeof r->u.finding.remedy_text, "clip norm 1");
    ui_model_apply(ui.live, r);
    ck_assert_str_eq(ui_bar_name(&ui, f, buf, sizeof buf), "Fix clip norm 1");
    /* At 80 columns the fix is offered and Quit keeps its place at the end. */
    size_t n;
    const struct ui_key_binding *t = ui_key_table(&n);
    size_t shown[64];
    size_t k = ui_bar_layout(&ui, 80, shown, 64);
    ck_assert_uint_ge(k, 2);
    ck_assert_ptr_eq(&t[shown[k - 1]], ui_key_find('q'));
    bool fix_shown = false;
    int cols = 0;
    for (size_t j = 0; j < k; j++) {
        fix_shown |= &t[shown[j]] == f;
        cols += (int)strlen(t[shown[j]].bar_key) +
                (int)strlen(ui_bar_name(&ui, &t[shown[j]], buf, sizeof buf)) + 2;
    }
    ck_assert_msg(fix_shown, "the fix is not on an 80-column bar");
    ck_assert_msg(cols - 1 <= 80, "the bar takes %d columns of 80", cols - 1);
    /* Too narrow for anything but Quit: Quit alone. */
    k = ui_bar_layout(&ui, 6, shown, 64);
    ck_assert_uint_eq(k, 1);
    ck_assert_ptr_eq(&t[shown[0]], ui_key_find('q'));
    ui_model_apply(ui.live, finding("exploding-gradients", TM_FINDING_CLEARED, TM_SEV_WARNING,
                                    -1, -1));
    ck_assert_ptr_null(ui_bar_name(&ui, f, buf, sizeof buf));
    free(ui.live);
}
END_TEST

START_TEST(test_ui__model_initial)
{
    struct ui_model *m = ui_model_new();
    struct tm_record *r = rec(TM_STEP);
    r->u.step.step = 1;
    r->u.step.loss = 1.0990f;
    ui_model_apply(m, r);
    ck_assert(m->have_initial);
    ck_assert(m->initial_loss == 1.0990f);
    /* No verdict of the dashboard's own: only the doctor's finding gives one. */
    r = rec(TM_INFO);
    r->u.info.expected_loss = log(3.0);
    ui_model_apply(m, r);
    ck_assert_int_eq(m->initial_verdict, -1);
    ui_model_apply(m, finding("initial-loss", TM_FINDING_PASSED, TM_SEV_OK, -1, -1));
    ck_assert_int_eq(m->initial_verdict, 0);
    ck_assert_int_eq(m->nactive, 0);
    ui_model_apply(m, finding("initial-loss", TM_FINDING_RAISED, TM_SEV_INFO, -1, -1));
    ck_assert_int_eq(m->initial_verdict, TM_SEV_INFO);
    ck_assert_int_eq(ui_model_mark(m, -1, NULL), TM_SEV_INFO);   /* listed, not a mark */
    /* Step 1 dropped: a later step is not the initial loss. */
    struct ui_model *m2 = ui_model_new();
    r = rec(TM_STEP);
    r->u.step.step = 7;
    r->u.step.loss = 0.5f;
    ui_model_apply(m2, r);
    ck_assert(!m2->have_initial);
    ck_assert_int_eq(ui_model_step(m2), 7);
    r = rec(TM_STATE);
    r->u.state.step = 9;
    ui_model_apply(m2, r);
    ck_assert_int_eq(ui_model_step(m2), 9);
    free(m);
    free(m2);
}
END_TEST

START_TEST(test_ui__model_events)
{
    struct ui_model *m = ui_model_new();
    ck_assert_ptr_null(ui_model_event(m, 0));
    for (int i = 0; i < UI_EVENTS_CAP + 88; i++) {
        struct tm_record *r = rec(TM_EVENT);
        r->u.event.step = i;
        r->u.event.kind = i == 5 || i == 9 ? TM_EV_NONFINITE : TM_EV_INFO;
        memset(r->u.event.text, 'a', sizeof r->u.event.text);   /* unterminated */
        ui_model_apply(m, r);
    }
    ck_assert_int_eq(m->nevents, UI_EVENTS_CAP + 88);
    ck_assert_int_eq(ui_model_nevents(m), UI_EVENTS_CAP);
    ck_assert_int_eq(ui_model_event(m, 0)->step, UI_EVENTS_CAP + 87);
    ck_assert_int_eq(ui_model_event(m, UI_EVENTS_CAP - 1)->step, 88);
    ck_assert_ptr_null(ui_model_event(m, UI_EVENTS_CAP));
    ck_assert_ptr_null(ui_model_event(m, -1));
    ck_assert_int_eq((int)strlen(ui_model_event(m, 0)->text), TM_TEXT_MAX - 1);
    ck_assert_msg(m->have_nonfinite && m->nonfinite.step == 5,
                  "the first non-finite report is kept (step 5), got step %ld", m->nonfinite.step);
    free(m);
}
END_TEST

START_TEST(test_ui__model_clip_memory)
{
    struct ui_model *m = ui_model_new();
    ck_assert_int_eq(m->last_clip_kind, TM_CLIP_NORM);
    ck_assert(m->last_clip_value == 0.0);
    struct tm_record *r = rec(TM_STATE);
    r->u.state.clip_kind = TM_CLIP_VALUE;
    r->u.state.clip_value = 0.5;
    r->u.state.dropped = 12;
    ui_model_apply(m, r);
    r = rec(TM_STATE);
    r->u.state.clip_kind = TM_CLIP_NONE;
    r->u.state.clip_value = 0.5;
    ui_model_apply(m, r);
    ck_assert_int_eq(m->last_clip_kind, TM_CLIP_VALUE);
    ck_assert(m->last_clip_value == 0.5);
    ck_assert_int_eq(m->dropped, 12);
    r = rec(TM_EVAL);
    r->u.eval.split = TM_SPLIT_TEST;
    r->u.eval.loss = 0.3f;
    ui_model_apply(m, r);
    ck_assert(m->have_test && !m->have_val);
    ck_assert_int_eq(ui_series_count(&m->val), 0);
    free(m);
}
END_TEST

/* ---- keys ------------------------------------------------------------ */

START_TEST(test_ui__colour_depth)
{
    /* The depth of the pictures: 24-bit on a direct-colour terminal with
     * the pairs for 64 levels, 16 levels with fewer, 256 colours on a
     * 256-colour one, shades without colour, UTF-8 or enough pairs. */
    int levels = 0;
    ck_assert_int_eq(crt_pick_depth(true, true, 1 << 24, 65536, &levels), CRT_DEPTH_DIRECT);
    ck_assert_int_eq(levels, CRT_LEVELS_DIRECT);
    ck_assert_int_eq(crt_pick_depth(true, true, 1 << 24, 1000, &levels), CRT_DEPTH_DIRECT);
    ck_assert_int_eq(levels, CRT_LEVELS);
    ck_assert_int_eq(crt_pick_depth(true, true, 1 << 24, 100, &levels), CRT_DEPTH_SHADES);
    ck_assert_int_eq(crt_pick_depth(true, true, 256, 65536, &levels), CRT_DEPTH_256);
    ck_assert_int_eq(levels, CRT_LEVELS);
    ck_assert_int_eq(crt_pick_depth(true, true, 256, 256, &levels), CRT_DEPTH_SHADES);
    ck_assert_int_eq(crt_pick_depth(true, true, 88, 65536, &levels), CRT_DEPTH_SHADES);
    ck_assert_int_eq(crt_pick_depth(true, true, 8, 64, &levels), CRT_DEPTH_SHADES);
    ck_assert_int_eq(crt_pick_depth(false, true, 1 << 24, 65536, &levels), CRT_DEPTH_SHADES);
    ck_assert_int_eq(levels, CRT_LEVELS);
    ck_assert_int_eq(crt_pick_depth(true, false, 1 << 24, 65536, &levels), CRT_DEPTH_SHADES);

    /* COLORTERM, as terminals set it. */
    ck_assert(crt_colorterm_direct("truecolor"));
    ck_assert(crt_colorterm_direct("24bit"));
    ck_assert(crt_colorterm_direct("TrueColor"));
    ck_assert(!crt_colorterm_direct("256color"));
    ck_assert(!crt_colorterm_direct(""));
    ck_assert(!crt_colorterm_direct(NULL));

    /* The terminfo twin a 24-bit COLORTERM opens. */
    char t[32];
    ck_assert(crt_direct_twin("xterm-256color", t, sizeof t));
    ck_assert_str_eq(t, "xterm-direct");
    ck_assert(crt_direct_twin("tmux-256color", t, sizeof t));
    ck_assert_str_eq(t, "tmux-direct");
    ck_assert(crt_direct_twin("xterm", t, sizeof t));
    ck_assert_str_eq(t, "xterm-direct");
    ck_assert(crt_direct_twin("rxvt-88color", t, sizeof t));
    ck_assert_str_eq(t, "rxvt-direct");
    ck_assert(!crt_direct_twin("xterm-direct", t, sizeof t));
    ck_assert(!crt_direct_twin("", t, sizeof t));
    ck_assert(!crt_direct_twin(NULL, t, sizeof t));
    ck_assert(!crt_direct_twin("a-very-long-terminal-name-256color", t, 16));

    /* The 24-bit palettes: grey from black to white through equal
     * channels, heat from black through red and yellow to white, signed
     * from light blue through black (the middle) to yellow. */
    int rgb[3], prev = -1;
    for (int l = 0; l < CRT_LEVELS_DIRECT; l++) {
        crt_palette_rgb(CRT_PAL_GREY, l, CRT_LEVELS_DIRECT, rgb);
        ck_assert(rgb[0] == rgb[1] && rgb[1] == rgb[2] && rgb[0] > prev);
        prev = rgb[0];
    }
    ck_assert_int_eq(prev, 255);
    crt_palette_rgb(CRT_PAL_GREY, 0, CRT_LEVELS_DIRECT, rgb);
    ck_assert(rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 0);
    crt_palette_rgb(CRT_PAL_HEAT, 21, 64, rgb);
    ck_assert(rgb[0] == 255 && rgb[1] == 0 && rgb[2] == 0);
    crt_palette_rgb(CRT_PAL_HEAT, 42, 64, rgb);
    ck_assert(rgb[0] == 255 && rgb[1] == 255 && rgb[2] < 5);
    crt_palette_rgb(CRT_PAL_HEAT, 63, 64, rgb);
    ck_assert(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255);
    crt_palette_rgb(CRT_PAL_SIGNED, 0, 64, rgb);
    ck_assert(rgb[0] == 95 && rgb[1] == 175 && rgb[2] == 255);
    crt_palette_rgb(CRT_PAL_SIGNED, 31, 64, rgb);
    ck_assert(rgb[0] == 0 && rgb[1] == 0 && rgb[2] < 10);
    crt_palette_rgb(CRT_PAL_SIGNED, 32, 64, rgb);
    ck_assert(rgb[0] < 10 && rgb[1] == 0 && rgb[2] == 0);
    crt_palette_rgb(CRT_PAL_SIGNED, 63, 64, rgb);
    ck_assert(rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 95);
}
END_TEST

START_TEST(test_ui__keys_table)
{
    size_t n;
    const struct ui_key_binding *t = ui_key_table(&n);
    ck_assert_msg(n >= 20, "only %zu bindings", n);
    int bar = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(t[i].label != NULL && t[i].label[0] != '\0', "binding %zu has no label", i);
        ck_assert_msg(t[i].desc != NULL && t[i].desc[0] != '\0', "'%s' has no description",
                      t[i].label);
        ck_assert_msg(t[i].keys[0] != 0, "'%s' binds no key", t[i].label);
        ck_assert_msg((t[i].handler != NULL) != (t[i].panel != NULL),
                      "'%s' needs exactly one of handler and panel", t[i].label);
        ck_assert_msg((t[i].bar_key == NULL) == (t[i].bar_name == NULL),
                      "'%s': bar key and name go together", t[i].label);
        bar += t[i].bar_key != NULL;
        for (int k = 0; k < 4 && t[i].keys[k] != 0; k++) {
            ck_assert_msg(ui_key_find(t[i].keys[k]) == &t[i], "key %d of '%s' is bound twice",
                          t[i].keys[k], t[i].label);
        }
    }
    ck_assert_msg(bar >= 8, "the function bar shows %d keys", bar);
    /* The keys the issue names are all there. */
    const int must[] = {' ', 'n', '+', '-', 'c', 's', 'e', 'l', 'w', UI_KEY_TAB, 'j', 'k',
                        UI_KEY_UP, UI_KEY_DOWN, 'h', 'Z', '?', UI_KEY_F1, ':', UI_KEY_ESC, 'q',
                        UI_KEY_F10, 'g', 'o', UI_KEY_PGUP, UI_KEY_PGDN, '[', ']'};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(ui_key_find(must[i]) != NULL, "key %d is not bound", must[i]);
    ck_assert_ptr_null(ui_key_find('X'));
}
END_TEST

START_TEST(test_ui__keys_roff)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&buf, &size);
    ui_keys_roff(fp);
    fclose(fp);
    size_t n;
    const struct ui_key_binding *t = ui_key_table(&n);
    int tp = 0;
    for (const char *p = buf; (p = strstr(p, ".TP\n.B ")) != NULL; p++)
        tp++;
    ck_assert_msg(tp == (int)n, "expected %zu .TP/.B entries, got %d", n, tp);
    for (size_t i = 0; i < n; i++) {
        char want[128] = ".B ";
        size_t o = 3;
        for (const char *s = t[i].label; *s != '\0' && o + 3 < sizeof want; s++) {
            if (*s == '-')
                want[o++] = '\\';
            want[o++] = *s;
        }
        want[o++] = '\n';
        want[o] = '\0';
        ck_assert_msg(strstr(buf, want) != NULL, "roff lacks '%s' for key '%s'", want,
                      t[i].label);
    }
    ck_assert_msg(strstr(buf, ".B \\-\nHalve the learning rate.\n") != NULL,
                  "'-' must be escaped and the description sentence-cased:\n%s", buf);
    for (const char *p = buf; *p != '\0'; p++)
        ck_assert_msg((unsigned char)*p < 0x80, "roff output must be ASCII");
    free(buf);
}
END_TEST

/*
 * The man page carries the key table and the prompt language exactly as
 * the program writes them (man/nntop.1.in, pasted from ui_keys_roff and
 * ui_commands_roff), so the manual and the help overlay cannot drift.
 */
START_TEST(test_ui__man_agrees)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/man/nntop.1.in", top != NULL ? top : ".");
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    char *man = calloc(1, 1 << 20);
    size_t got = fread(man, 1, (1 << 20) - 1, fp);
    fclose(fp);
    man[got] = '\0';
    char *buf = NULL;
    size_t size = 0;
    fp = open_memstream(&buf, &size);
    ui_keys_roff(fp);
    fclose(fp);
    ck_assert_msg(strstr(man, buf) != NULL,
                  "%s does not hold the key table as ui_keys_roff() writes it", path);
    free(buf);
    buf = NULL;
    fp = open_memstream(&buf, &size);
    ui_commands_roff(fp);
    fclose(fp);
    ck_assert_msg(strstr(man, buf) != NULL,
                  "%s does not hold the prompt language as ui_commands_roff() writes it", path);
    free(buf);
    free(man);
}
END_TEST

Suite *ui_suite(void);

Suite *
ui_suite(void)
{
    Suite *s = suite_create("ui");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup_locale, NULL);
    tcase_add_test(core, test_ui__parse_good);
    tcase_add_test(core, test_ui__model_view);
    tcase_add_test(core, test_ui__level);
    tcase_add_test(core, test_ui__parse_blank);
    tcase_add_test(core, test_ui__commands_documented);
    tcase_add_test(core, test_ui__prompt_editing);
    tcase_add_test(core, test_ui__prompt_history);
    tcase_add_test(core, test_ui__prompt_complete);
    tcase_add_test(core, test_ui__command_describe);
    tcase_add_test(core, test_ui__layout_sizes);
    tcase_add_test(core, test_ui__series_small);
    tcase_add_test(core, test_ui__fmt_numbers);
    tcase_add_test(core, test_ui__text_clean);
    tcase_add_test(core, test_ui__text_width);
    tcase_add_test(core, test_ui__glyph_twins);
    tcase_add_test(core, test_ui__hist_render);
    tcase_add_test(core, test_ui__hist_quantile);
    tcase_add_test(core, test_ui__hist_zoom);
    tcase_add_test(core, test_ui__bands_render);
    tcase_add_test(core, test_ui__ratio_level);
    tcase_add_test(core, test_ui__model_strip_bands);
    tcase_add_test(core, test_ui__finding_selected);
    tcase_add_test(core, test_ui__hist_axis);
    tcase_add_test(core, test_ui__hist_overlay);
    tcase_add_test(core, test_ui__spark);
    tcase_add_test(core, test_ui__canvas);
    tcase_add_test(core, test_ui__plot_series);
    tcase_add_test(core, test_ui__model_snapshot);
    tcase_add_test(core, test_ui__model_hist_kept);
    tcase_add_test(core, test_ui__model_initial);
    tcase_add_test(core, test_ui__model_marks);
    tcase_add_test(core, test_ui__explain);
    tcase_add_test(core, test_ui__bar_fix);
    tcase_add_test(core, test_ui__model_events);
    tcase_add_test(core, test_ui__model_clip_memory);
    tcase_add_test(core, test_ui__colour_depth);
    tcase_add_test(core, test_ui__keys_table);
    tcase_add_test(core, test_ui__keys_roff);
    tcase_add_test(core, test_ui__man_agrees);
    suite_add_tcase(s, core);

    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, setup_locale, NULL);
    tcase_add_test(limits, test_ui__layout_too_small);
    /* A million pushes: well under a second, but not under sanitizers. */
    tcase_set_timeout(limits, 30);
    tcase_add_test(limits, test_ui__series_downsample);
    tcase_add_test(limits, test_ui__prompt_limits);
    tcase_add_test(limits, test_ui__parse_too_long);
    suite_add_tcase(s, limits);

    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup_locale, NULL);
    tcase_add_test(errors, test_ui__parse_bad);
    tcase_add_test(errors, test_ui__model_bad_records);
    suite_add_tcase(s, errors);
    return s;
}

int
main(void)
{
    return check_run(ui_suite());
}
