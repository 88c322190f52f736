# Run log: run directories, metrics/layers/events files, safetensors
# checkpoints, and the readers replay and --reproduce use.
libnntop_a_SOURCES += src/runlog/runlog.c src/runlog/runlog-read.c src/runlog/runlog-json.c \
	src/runlog/safetensors.c
noinst_HEADERS += include/nntop/runlog.h src/runlog/runlog-int.h
EXTRA_DIST += tests/torch_load_checkpoint.py

if HAVE_CHECK
check_PROGRAMS += tests/check_runlog
tests_check_runlog_SOURCES = tests/check_runlog.c $(CHECK_RUN)
tests_check_runlog_CFLAGS = $(TEST_CFLAGS)
tests_check_runlog_LDADD = $(TEST_LIBS)
endif
