# Core: allocators, random streams, telemetry statistics, gradient check,
# the trainer thread, the headless printer, replay, and main.
libnntop_a_SOURCES += src/xmem.c src/rng.c src/stats.c src/gradcheck.c src/trainer.c \
	src/headless.c src/replay.c
noinst_HEADERS += include/nntop/xmem.h include/nntop/rng.h include/nntop/stats.h \
	include/nntop/gradcheck.h include/nntop/telemetry.h include/nntop/trainer.h \
	include/nntop/headless.h include/nntop/replay.h
EXTRA_DIST += tests/check_run.c tests/check_run.h
CHECK_RUN = tests/check_run.c tests/check_run.h
