/*
 * layout.c - where each part of the dashboard goes for a terminal size.
 *
 * One pure function of (rows, cols), run at start and on every resize,
 * so the geometry is unit-tested rather than discovered on screen.  It
 * knows nothing of what the panels draw inside their rectangles.
 *
 *   row 0            header
 *   top half         loss | layers
 *                    (>= 160 cols: loss | layers | the update-ratio strip)
 *   bottom half      histogram | findings
 *                    (>= 160 cols: histogram | a histogram per layer | findings)
 *
 * The wide screen's extras take columns, never rows: every layer row the
 * height allows stays.
 *   rows-2           message / prompt line
 *   rows-1           function-key bar
 */
#include "config.h"

#include "ui-int.h"

#include <string.h>

#define LAYERS_MIN_W 46         /* index, kind and shape, ratio, dead, norm */
#define LAYERS_MAX_W 64         /* every column; the curve gets the rest */

static struct ui_rect
rect(int y, int x, int h, int w)
{
    return (struct ui_rect){.y = y, .x = x, .h = h, .w = w};
}

void
ui_layout(int rows, int cols, struct ui_layout *out)
{
    memset(out, 0, sizeof *out);
    out->rows = rows;
    out->cols = cols;
    out->too_small = rows < UI_MIN_ROWS || cols < UI_MIN_COLS;
    if (out->too_small)
        return;

    out->area[UI_AREA_HEADER] = rect(0, 0, 1, cols);
    out->area[UI_AREA_MESSAGE] = rect(rows - 2, 0, 1, cols);
    out->area[UI_AREA_FOOTER] = rect(rows - 1, 0, 1, cols);

    int body_y = 1, body_h = rows - 3;
    int top_h = (body_h + 1) / 2;
    int bot_h = body_h - top_h;
    bool wide = cols >= UI_WIDE_COLS;

    int layers_w = cols * 3 / 5;
    layers_w = layers_w < LAYERS_MIN_W ? LAYERS_MIN_W : layers_w;
    layers_w = layers_w > LAYERS_MAX_W ? LAYERS_MAX_W : layers_w;
    int strip_w = wide ? cols / 4 : 0;
    int loss_w = cols - layers_w - strip_w;
    out->area[UI_AREA_LOSS] = rect(body_y, 0, top_h, loss_w);
    out->area[UI_AREA_LAYERS] = rect(body_y, loss_w, top_h, layers_w);
    if (wide)
        out->area[UI_AREA_RATIO] = rect(body_y, loss_w + layers_w, top_h, strip_w);

    int bot_y = body_y + top_h;
    int hist_w = cols / 2, multi_w = 0;
    if (wide) {
        hist_w = cols * 3 / 8;
        multi_w = cols * 3 / 8;
        out->area[UI_AREA_MULTI] = rect(bot_y, hist_w, bot_h, multi_w);
    }
    out->area[UI_AREA_HIST] = rect(bot_y, 0, bot_h, hist_w);
    out->area[UI_AREA_FINDINGS] = rect(bot_y, hist_w + multi_w, bot_h, cols - hist_w - multi_w);
}
