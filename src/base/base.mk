# base: allocators (xmem), seeded random streams (rng), and the two
# single-producer single-consumer lock-free rings (telemetry trainer -> UI,
# commands UI -> trainer), and the helpers every part shares: the string
# builder (sbuf), number text (numfmt), the monotonic clock (mono).
# Everything else builds on these.
libnntop_a_SOURCES += src/base/xmem.c src/base/rng.c src/base/ring.c src/base/numfmt.c \
	src/base/sha256.c src/base/pool.c \
	src/base/sbuf.c src/base/mono.c
noinst_HEADERS += include/nntop/xmem.h include/nntop/rng.h include/nntop/ring.h \
	include/nntop/numfmt.h include/nntop/sha256.h include/nntop/pool.h \
	include/nntop/sbuf.h include/nntop/mono.h

# The Check harness every suite links (CK_ENV, unbuffered stdout, exit status).
EXTRA_DIST += tests/check_run.c tests/check_run.h
CHECK_RUN = tests/check_run.c tests/check_run.h

# check_ring includes a two-thread stress test of 2 M records (1 M when
# built with -fsanitize=thread); RING_STRESS_RECORDS=N overrides the count.
if HAVE_CHECK
check_PROGRAMS += tests/check_ring
tests_check_ring_SOURCES = tests/check_ring.c $(CHECK_RUN)
tests_check_ring_CFLAGS = $(TEST_CFLAGS)
tests_check_ring_LDADD = $(TEST_LIBS)

# The shared helpers: sbuf, numfmt_exact_*, the mono clocks.
check_PROGRAMS += tests/check_base
tests_check_base_SOURCES = tests/check_base.c $(CHECK_RUN)
tests_check_base_CFLAGS = $(TEST_CFLAGS)
tests_check_base_LDADD = $(TEST_LIBS)

# SHA-256 (the run's data-file hashes) against the FIPS 180-4 vectors.
check_PROGRAMS += tests/check_sha256
tests_check_sha256_SOURCES = tests/check_sha256.c $(CHECK_RUN)
tests_check_sha256_CFLAGS = $(TEST_CFLAGS)
tests_check_sha256_LDADD = $(TEST_LIBS)
endif

# check_pool: the fork-join pool behind the batch split (TSan runs it in CI).
if HAVE_CHECK
check_PROGRAMS += tests/check_pool
tests_check_pool_SOURCES = tests/check_pool.c $(CHECK_RUN)
tests_check_pool_CFLAGS = $(TEST_CFLAGS)
tests_check_pool_LDADD = $(TEST_LIBS)
endif
