/*
 * keys.c - the one key table of the dashboard and its handlers.
 *
 * The help overlay, the function-key bar and the man page's INTERACTIVE
 * COMMANDS (ui_keys_roff) are all written from this table, so they cannot
 * disagree.  Handlers change state or send a command and return UI_* bits;
 * they never draw (only the loop redraws).  Keys that belong to a panel
 * name the panel instead of a handler and its key() acts on them.
 */
#include "config.h"

#include "ui-int.h"

#include <stdio.h>
#include <string.h>

#include "panel.h"

static int
send_simple(struct ui *ui, int kind, long n, double value)
{
    struct tm_command c = {.kind = kind, .n = n, .value = value};
    ui_send(ui, &c);
    return UI_HANDLED | UI_REDRAW;
}

static int
key_help(struct ui *ui, int key)
{
    ui->overlay = UI_OVERLAY_HELP;
    ui->help_top = 0;
    return UI_HANDLED | UI_REDRAW;
}

/* Is the run paused, as far as the commands sent so far go? */
static bool
believed_paused(const struct ui *ui)
{
    if (ui->pause_sent_at == ui->live->nstates)
        return ui->pause_sent;
    return ui->live->have_state && ui->live->state.state == TM_PAUSED;
}

static void
sent_pause(struct ui *ui, bool paused)
{
    ui->pause_sent = paused;
    ui->pause_sent_at = ui->live->nstates;
}

static int
key_pause(struct ui *ui, int key)
{
    bool paused = believed_paused(ui);
    struct tm_command c = {.kind = paused ? TM_CMD_RESUME : TM_CMD_PAUSE};
    if (ui_send(ui, &c) == 0)
        sent_pause(ui, !paused);
    return UI_HANDLED | UI_REDRAW;
}

static int
key_step(struct ui *ui, int key)
{
    const struct ui_model *m = ui->live;
    if (m->have_state && m->state.state == TM_RUNNING && !believed_paused(ui)) {
        /* Stepping a running trainer means nothing: pause it first. */
        struct tm_command c = {.kind = TM_CMD_PAUSE};
        if (ui_send(ui, &c) == 0) {
            sent_pause(ui, true);
            ui_message(ui, UI_MSG_INFO, "paused: press n again to run one step");
        }
        return UI_HANDLED | UI_REDRAW;
    }
    return send_simple(ui, TM_CMD_STEP, 1, 0.0);
}

static int
key_lr_up(struct ui *ui, int key)
{
    return send_simple(ui, TM_CMD_SCALE_LR, 0, 2.0);
}

static int
key_lr_down(struct ui *ui, int key)
{
    return send_simple(ui, TM_CMD_SCALE_LR, 0, 0.5);
}

static int
key_clip(struct ui *ui, int key)
{
    const struct ui_model *m = ui->live;
    bool on = ui->clip_sent_at == m->nstates ? ui->clip_sent
                                             : m->have_state && m->state.clip_kind != TM_CLIP_NONE;
    struct tm_command c = {.kind = TM_CMD_SET_CLIP};
    if (on) {
        c.clip_kind = TM_CLIP_NONE;
    } else {
        c.clip_kind = m->last_clip_kind;
        c.value = m->last_clip_value > 0.0 ? m->last_clip_value : 1.0;
    }
    if (ui_send(ui, &c) == 0) {
        ui->clip_sent = !on;
        ui->clip_sent_at = m->nstates;
    }
    return UI_HANDLED | UI_REDRAW;
}

static int
key_save(struct ui *ui, int key)
{
    return send_simple(ui, TM_CMD_SAVE, 0, 0.0);
}

static int
key_eval(struct ui *ui, int key)
{
    return send_simple(ui, TM_CMD_EVAL, 0, 0.0);
}

static int
key_gradcheck(struct ui *ui, int key)
{
    return send_simple(ui, TM_CMD_GRADCHECK, 0, 0.0);
}

static int
key_gradcheck_show(struct ui *ui, int key)
{
    if (!ui->live->have_gradcheck) {
        ui_message(ui, UI_MSG_INFO, "no gradient check yet: press g to run one");
        return UI_HANDLED | UI_REDRAW;
    }
    ui->overlay = UI_OVERLAY_GRADCHECK;
    return UI_HANDLED | UI_REDRAW;
}

static int
key_overfit(struct ui *ui, int key)
{
    const struct ui_model *m = ui->live;
    bool on = ui->overfit_sent_at == m->nstates ? ui->overfit_sent
                                                : m->have_state && m->state.overfit;
    struct tm_command c = {.kind = TM_CMD_OVERFIT, .n = on ? 0 : 1};
    if (ui_send(ui, &c) == 0) {
        ui->overfit_sent = !on;
        ui->overfit_sent_at = m->nstates;
    }
    return UI_HANDLED | UI_REDRAW;
}

static int
key_fix(struct ui *ui, int key)
{
    ui_fix(ui, NULL);
    return UI_HANDLED | UI_REDRAW;
}


static int
key_prompt(struct ui *ui, int key)
{
    ui->prompting = true;
    ui_prompt_open(&ui->prompt);
    return UI_HANDLED | UI_REDRAW;
}

static int
key_freeze(struct ui *ui, int key)
{
    ui->frozen = !ui->frozen;
    if (ui->frozen)
        memcpy(ui->still, ui->live, sizeof *ui->still);
    return UI_HANDLED | UI_REDRAW;
}

static int
key_next_run(struct ui *ui, int key)
{
    if (ui->nruns < 2) {
        ui_message(ui, UI_MSG_INFO, "one run: r selects among the runs of "
                   "nntop --replay RUN_A RUN_B ...");
        return UI_HANDLED | UI_REDRAW;
    }
    ui_select_run(ui, (ui->sel_run + 1) % ui->nruns);
    const struct ui_model *m = ui->live;
    ui_message(ui, UI_MSG_INFO, "run %c selected: %s", UI_RUN_LETTER(ui->sel_run),
               m->have_info ? m->info.run_dir : "(not read yet)");
    return UI_HANDLED | UI_REDRAW;
}

static int
key_escape(struct ui *ui, int key)
{
    if (ui->overlay == UI_OVERLAY_NONE)
        ui->find_sel = 0;       /* nothing else to close: drop the selected finding */
    ui->overlay = UI_OVERLAY_NONE;
    ui->msg_until = 0.0;
    return UI_HANDLED | UI_REDRAW;
}

static int
key_redraw(struct ui *ui, int key)
{
    return UI_HANDLED | UI_REDRAW | UI_RESIZE;
}

static int
key_quit(struct ui *ui, int key)
{
    return UI_HANDLED | UI_QUIT;
}

static const struct ui_key_binding key_table[] = {
    {{'?', UI_KEY_F1}, "?, F1", "F1", "Help", "show this help", key_help, NULL},
    {{'f'}, "f", "f", "Fix",
     "apply the remedy of the finding selected with a click, or else of the newest raised "
     "finding that has one (the function bar says which: Fix lr x0.1, Fix clip norm 1, ...)",
     key_fix, NULL},
    {{' '}, "Space", "Space", "Pause", "pause or resume training", key_pause, NULL},
    {{'n'}, "n", "n", "Step", "run one step while paused (when running: pause first)",
     key_step, NULL},
    {{'+'}, "+", "+/-", "LR", "double the learning rate", key_lr_up, NULL},
    {{'-'}, "-", NULL, NULL, "halve the learning rate", key_lr_down, NULL},
    {{'c'}, "c", "c", "Clip",
     "gradient clipping off, or on again at the last threshold (norm 1 if none)", key_clip,
     NULL},
    {{'g'}, "g", "g", "Gradchk", "run a numerical gradient check now", key_gradcheck, NULL},
    {{'G'}, "G", NULL, NULL, "show the last gradient-check table again", key_gradcheck_show,
     NULL},
    {{'s'}, "s", "s", "Save", "save a checkpoint now", key_save, NULL},
    {{'e'}, "e", NULL, NULL, "evaluate on the validation set now", key_eval, NULL},
    {{'o'}, "o", "o", "Overfit", "overfit a few fixed samples (two batches) on or off",
     key_overfit, NULL},
    {{':'}, ":", ":", "Cmd", "open the command prompt (commands below)", key_prompt, NULL},
    {{'a'}, "a", NULL, NULL,
     "curve panel: loss (with the L2 term) or accuracy (batch, validation, test)", NULL,
     &panel_loss_class},
    {{'l'}, "l", NULL, NULL, "loss curve: linear or log scale", NULL, &panel_loss_class},
    {{'w'}, "w", NULL, NULL, "loss curve: whole run or the last 500 steps", NULL,
     &panel_loss_class},
    {{UI_KEY_TAB, UI_KEY_DOWN, 'j'}, "Tab, Down, j", NULL, NULL, "select the next layer", NULL,
     &panel_layers_class},
    {{UI_KEY_BTAB, UI_KEY_UP, 'k'}, "Shift-Tab, Up, k", NULL, NULL,
     "select the previous layer", NULL, &panel_layers_class},
    {{'h'}, "h", NULL, NULL, "histogram of the selected layer: activations, weights, gradients",
     NULL, &panel_hist_class},
    {{'z'}, "z", NULL, NULL,
     "histogram: auto-zoom to the whole bins holding the central mass (the default; what is "
     "left out is counted as below/above) or the whole range", NULL, &panel_hist_class},
    {{'p'}, "p", NULL, NULL,
     "histogram: the bins, or the 7/16/31/50/69/84/93 % percentile bands over the last "
     "snapshots", NULL, &panel_hist_class},
    {{'b'}, "b", NULL, NULL,
     "histogram overlay: off, the first histogram (step 0 when the run starts there), the one "
     "pinned by M", NULL, &panel_hist_class},
    {{'M'}, "M", NULL, NULL,
     "pin the histograms shown now and overlay them (capital: m is the view's next "
     "misclassified sample)", NULL, &panel_hist_class},
    {{'u'}, "u", NULL, NULL,
     "the update-ratio strip (layers by snapshots, log scale) in the histogram's place, or "
     "back", NULL, &panel_ratio_class},
    {{UI_KEY_PGUP, '['}, "PgUp, [", NULL, NULL,
     "scroll the findings back (in the view: the previous sample)", NULL,
     &panel_findings_class},
    {{UI_KEY_PGDN, ']'}, "PgDn, ]", NULL, NULL,
     "scroll the findings forward (in the view: the next sample)", NULL,
     &panel_findings_class},
    {{UI_KEY_HOME}, "Home", NULL, NULL, "findings: the oldest kept", NULL,
     &panel_findings_class},
    {{UI_KEY_END}, "End", NULL, NULL, "findings: the newest (and follow)", NULL,
     &panel_findings_class},
    {{'v'}, "v", NULL, NULL,
     "look inside: a validation sample, its saliency, the first conv layer's filters and "
     "the selected layer's activation maps (again, or Esc: close)", NULL, &panel_view_class},
    {{'m'}, "m", NULL, NULL, "view the next misclassified validation sample", NULL,
     &panel_view_class},
    {{'Z'}, "Z", NULL, NULL, "freeze the display while training goes on (again: thaw)",
     key_freeze, NULL},
    {{'r'}, "r", NULL, NULL,
     "comparing runs (--replay RUN_A RUN_B ...): select the next run; the header, layer "
     "table and histogram are the selected run's", key_next_run, NULL},
    {{UI_KEY_ESC}, "Esc", NULL, NULL,
     "close the prompt, an overlay or the message (with none open: unselect the finding)",
     key_escape, NULL},
    {{UI_KEY_CTRL_L}, "Ctrl-L", NULL, NULL, "redraw the screen", key_redraw, NULL},
    {{'q', UI_KEY_F10}, "q, F10", "q", "Quit",
     "quit: the trainer saves, writes the final checkpoint and exits", key_quit, NULL},
};

const struct ui_key_binding *
ui_key_table(size_t *n)
{
    *n = sizeof key_table / sizeof key_table[0];
    return key_table;
}

const char *
ui_bar_name(const struct ui *ui, const struct ui_key_binding *b, char *buf, size_t len)
{
    if (b->bar_key == NULL)
        return NULL;
    if (b->handler != key_fix)
        return b->bar_name;
    /* f is offered only with a remedy to apply, and says which ("Fix lr x0.1"). */
    char sel[TM_NAME_MAX];
    const struct tm_finding *f =
        ui_model_remedy(ui->live, ui_selected_rule(ui, true, sel, sizeof sel));
    if (f == NULL)
        return NULL;
    snprintf(buf, len, "%s %s", b->bar_name, f->remedy_text[0] != '\0' ? f->remedy_text : f->rule);
    return buf;
}

/* Columns an entry takes on the bar: its key, its name and a space. */
static int
bar_entry_width(const struct ui *ui, const struct ui_key_binding *b)
{
    char buf[64];
    const char *name = ui_bar_name(ui, b, buf, sizeof buf);
    if (name == NULL)
        return -1;
    return ui_text_width(b->bar_key, ui->utf8) + ui_text_width(name, ui->utf8) + 1;
}

size_t
ui_bar_layout(const struct ui *ui, int width, size_t *shown, size_t max)
{
    size_t n, k = 0;
    const struct ui_key_binding *t = ui_key_table(&n);
    size_t last = n;
    for (size_t i = 0; i < n; i++)
        if (bar_entry_width(ui, &t[i]) >= 0)
            last = i;
    if (last == n || max == 0)
        return 0;
    int reserve = bar_entry_width(ui, &t[last]) + 1;
    int x = 0;
    for (size_t i = 0; i < last && k + 1 < max; i++) {
        int w = bar_entry_width(ui, &t[i]);
        if (w < 0 || x + w + 1 + reserve > width + 1)
            continue;
        shown[k++] = i;
        x += w + 1;
    }
    if (x + reserve <= width + 1)
        shown[k++] = last;
    return k;
}

const struct ui_key_binding *
ui_key_find(int key)
{
    for (size_t i = 0; i < sizeof key_table / sizeof key_table[0]; i++)
        for (int k = 0; k < 4 && key_table[i].keys[k] != 0; k++)
            if (key_table[i].keys[k] == key)
                return &key_table[i];
    return NULL;
}

void
ui_roff_escape(FILE *fp, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '-')
            fputs("\\-", fp);
        else if (*s == '\\')
            fputs("\\e", fp);
        else
            fputc(*s, fp);
    }
}

void
ui_keys_roff(FILE *fp)
{
    for (size_t i = 0; i < sizeof key_table / sizeof key_table[0]; i++) {
        const struct ui_key_binding *b = &key_table[i];
        fputs(".TP\n.B ", fp);
        ui_roff_escape(fp, b->label);
        fputc('\n', fp);
        /* Sentence case for the manual; the table keeps the terse form. */
        char first[2] = {b->desc[0], '\0'};
        if (first[0] >= 'a' && first[0] <= 'z')
            first[0] = (char)(first[0] - 'a' + 'A');
        ui_roff_escape(fp, first);
        ui_roff_escape(fp, b->desc + 1);
        fputs(".\n", fp);
    }
}
