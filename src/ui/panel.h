/*
 * panel.h - the dashboard's panels as vtables (htop's MeterClass, tmux's
 * window_mode): each panel-*.c keeps its functions static and exports
 * only its class.  The loop in screen.c calls them; panels never redraw
 * on their own and never read keys themselves.
 */
#ifndef NNTOP_UI_PANEL_H
#define NNTOP_UI_PANEL_H

#include "ui-int.h"

struct panel_class {
    const char *name;
    /* Draw into r (border included) from ui_view(ui). */
    void (*draw)(struct ui *ui, const struct ui_rect *r);
    /* A key the key table routes here; returns UI_* bits (0 = not handled). */
    int (*key)(struct ui *ui, int key);
    /* The panel's area changed (r is the new one). */
    void (*resize)(struct ui *ui, const struct ui_rect *r);
    /* One line for the help overlay: what the panel shows. */
    const char *(*help)(void);
};

extern const struct panel_class panel_loss_class;
extern const struct panel_class panel_layers_class;
extern const struct panel_class panel_hist_class;
extern const struct panel_class panel_findings_class;
extern const struct panel_class panel_view_class;
extern const struct panel_class panel_ratio_class;
extern const struct panel_class panel_multi_class;

#endif
