# nn: the training engine (blas door, layers, losses, model) and its
# benchmark against PyTorch.  optim.c has its own fragment (optim.mk).
libnntop_a_SOURCES += src/nn/blas.c src/nn/layers.c src/nn/loss.c src/nn/model.c
noinst_HEADERS += include/nntop/blas.h include/nntop/nn.h src/nn/layers.h

if HAVE_CHECK
check_PROGRAMS += tests/check_nn tests/check_blas
tests_check_nn_SOURCES = tests/check_nn.c $(CHECK_RUN)
tests_check_nn_CFLAGS = $(TEST_CFLAGS)
tests_check_nn_LDADD = $(TEST_LIBS)
tests_check_blas_SOURCES = tests/check_blas.c $(CHECK_RUN)
tests_check_blas_CFLAGS = $(TEST_CFLAGS)
tests_check_blas_LDADD = $(TEST_LIBS)
endif

noinst_PROGRAMS += bench/mlp-bench
bench_mlp_bench_SOURCES = bench/mlp-bench.c
bench_mlp_bench_LDADD = libnntop.a $(DEP_LIBS)
EXTRA_DIST += bench/torch_mlp.py

# Planted backward bugs for the gradient-check tests (test builds only).
if FAULT_INJECTION
libnntop_a_SOURCES += src/nn/fault.c
endif

# The gradient check against planted bugs (all of them only in a build
# configured with --enable-fault-injection; the clean-engine half always).
if HAVE_CHECK
check_PROGRAMS += tests/check_planted
tests_check_planted_SOURCES = tests/check_planted.c $(CHECK_RUN)
tests_check_planted_CFLAGS = $(TEST_CFLAGS)
tests_check_planted_LDADD = $(TEST_LIBS)
endif
