# Core: allocators, random streams, the trainer, headless printer and main.
libnntop_a_SOURCES += src/xmem.c src/rng.c
noinst_HEADERS += include/nntop/xmem.h include/nntop/rng.h
EXTRA_DIST += tests/check_run.c tests/check_run.h
CHECK_RUN = tests/check_run.c tests/check_run.h
