/*
 * fuzz-prompt.c - libFuzzer target for the dashboard's command prompt:
 * each input byte (or, above 0x7f, a UTF-8 sequence decoded to a code
 * point) is a key given to the line editor; every Enter submits the line
 * to the command parser, as the dashboard does.  The parser must refuse
 * or accept whole lines; crashes, leaks and hangs are bugs.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ui/ui-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static struct ui_prompt p;
    ui_prompt_open(&p);
    for (size_t i = 0; i < n; i++) {
        int key = data[i];
        /* A few bytes stand for the editing keys. */
        switch (key) {
        case 0x01: key = UI_KEY_LEFT; break;
        case 0x02: key = UI_KEY_RIGHT; break;
        case 0x03: key = UI_KEY_UP; break;
        case 0x04: key = UI_KEY_DOWN; break;
        case 0x05: key = UI_KEY_DELETE; break;
        case 0x06: key = UI_KEY_HOME; break;
        case 0x07: key = UI_KEY_END; break;
        case 0x0a: key = UI_KEY_ENTER; break;
        case 0x1b: key = UI_KEY_ESC; break;
        default:
            if (key >= 0xc0 && i + 1 < n)
                key = 0x80 + ((key & 0x1f) << 6) + (data[++i] & 0x3f);
            break;
        }
        enum ui_prompt_result r = ui_prompt_key(&p, key);
        if (r == UI_PROMPT_SUBMIT) {
            struct tm_command c;
            char err[200];
            /* As the dashboard does: a refused line is never parsed. */
            if (ui_prompt_check(&p, err, sizeof err) == 0) {
                ui_prompt_remember(&p);
                ui_parse_command(p.buf, &c, err, sizeof err);
            }
            ui_prompt_open(&p);
        } else if (r == UI_PROMPT_CANCEL) {
            ui_prompt_open(&p);
        }
    }
    /* The line as typed, parsed directly too. */
    char line[UI_PROMPT_MAX * 4];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, data, k);
    line[k] = '\0';
    struct tm_command c;
    char err[200];
    ui_parse_command(line, &c, err, sizeof err);
    return 0;
}
