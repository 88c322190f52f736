# ring: the two single-producer single-consumer lock-free rings
# (telemetry trainer -> UI, commands UI -> trainer).
libnntop_a_SOURCES += src/ring.c
noinst_HEADERS += include/nntop/ring.h

# check_ring includes a two-thread stress test of 10 M records (1 M when
# built with -fsanitize=thread); RING_STRESS_RECORDS=N overrides the count.
if HAVE_CHECK
check_PROGRAMS += tests/check_ring
tests_check_ring_SOURCES = tests/check_ring.c $(CHECK_RUN)
tests_check_ring_CFLAGS = $(TEST_CFLAGS)
tests_check_ring_LDADD = $(TEST_LIBS)
endif
