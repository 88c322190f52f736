# Optimizers (SGD, Adam, AdamW), gradient clipping, learning-rate schedules
# and the L2 penalty, checked against PyTorch's numbers.
#
# optim.c's Adam loop vectorizes only under -fno-math-errno (sqrtf keeps an
# errno call otherwise); it is correct, and bit-identical, either way.
libnntop_a_SOURCES += src/nn/optim.c
noinst_HEADERS += include/nntop/optim.h
# Regenerates tests/data/optim_ref.txt (needs torch 1.13); not run by make.
EXTRA_DIST += tests/gen_optim_ref.py

if HAVE_CHECK
check_PROGRAMS += tests/check_optim
tests_check_optim_SOURCES = tests/check_optim.c $(CHECK_RUN)
tests_check_optim_CFLAGS = $(TEST_CFLAGS)
tests_check_optim_LDADD = $(TEST_LIBS)
endif
