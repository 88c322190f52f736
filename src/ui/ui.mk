# The ncurses dashboard (src/ui): the only part of nntop that calls curses.
libnntop_a_SOURCES += src/ui/crt.c src/ui/screen.c src/ui/layout.c src/ui/uimodel.c \
	src/ui/format.c src/ui/plot.c src/ui/command.c src/ui/keys.c \
	src/ui/panel-loss.c src/ui/panel-layers.c src/ui/panel-hist.c src/ui/panel-findings.c \
	src/ui/panel-view.c src/ui/panel-ratio.c
noinst_HEADERS += include/nntop/ui.h src/ui/ui-int.h src/ui/crt.h src/ui/panel.h

if HAVE_CHECK
check_PROGRAMS += tests/check_ui
tests_check_ui_SOURCES = tests/check_ui.c $(CHECK_RUN)
tests_check_ui_CFLAGS = $(TEST_CFLAGS)
tests_check_ui_LDADD = $(TEST_LIBS)
endif

# End-to-end: the real binary under tmux (skips when tmux is missing).
# tests/tmux-lib.sh holds what every tmux script shares (sessions, pane
# capture, the bounded waits); new tmux scripts source it.
check_SCRIPTS += tests/ui-smoke.sh tests/ui-view.sh tests/ui-progress.sh tests/ui-hist.sh \
	tests/ui-select.sh
EXTRA_DIST += tests/ui-smoke.sh tests/ui-view.sh tests/ui-progress.sh tests/ui-hist.sh \
	tests/ui-select.sh tests/tmux-lib.sh

# The doctor on the dashboard under tmux: marks come from findings only,
# and a finding's remedy key applies it (journaled in events.jsonl).
check_SCRIPTS += tests/doctor-ui.sh
EXTRA_DIST += tests/doctor-ui.sh

# nntop --replay RUN_A RUN_B ...: runs compared on one dashboard, under tmux.
check_SCRIPTS += tests/replay-multi.sh
EXTRA_DIST += tests/replay-multi.sh
