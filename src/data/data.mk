# Data: generators (spiral, xor, blobs), IDX, CSV and NumPy .npy/.npz readers
# (plain or gzipped), seeded splits, normalisation and the batch gatherer.
libnntop_a_SOURCES += src/data/io.c src/data/synth.c src/data/idx.c src/data/csv.c \
	src/data/npy.c src/data/npz.c src/data/data.c src/data/batch.c
noinst_HEADERS += include/nntop/data.h src/data/data-int.h

if HAVE_CHECK
check_PROGRAMS += tests/check_data
tests_check_data_SOURCES = tests/check_data.c $(CHECK_RUN)
tests_check_data_CFLAGS = $(TEST_CFLAGS)
tests_check_data_LDADD = $(TEST_LIBS)
endif
