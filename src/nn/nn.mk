# nn: the training engine (blas door, layers, losses, model, optimizers,
# clipping, schedules) and its benchmark against PyTorch.
#
# optim.c's Adam loop vectorizes only under -fno-math-errno (sqrtf keeps an
# errno call otherwise); it is correct, and bit-identical, either way.
libnntop_a_SOURCES += src/nn/blas.c src/nn/blas-buffer.c src/nn/blas-core.c src/nn/gemm.c src/nn/conv.c src/nn/layers.c src/nn/loss.c src/nn/model.c src/nn/optim.c src/nn/team.c
noinst_HEADERS += include/nntop/blas.h include/nntop/gemm.h include/nntop/nn.h include/nntop/optim.h src/nn/layers.h
# Regenerate tests/data/optim_ref.txt and tests/data/conv_ref.txt (need
# torch 1.13); not run by make.
EXTRA_DIST += tests/gen_optim_ref.py tests/gen_conv_ref.py

if HAVE_CHECK
check_PROGRAMS += tests/check_nn tests/check_blas tests/check_optim tests/check_conv
# check_gemm: the conv products' paths against OpenBLAS and the exact product.
check_PROGRAMS += tests/check_gemm
tests_check_gemm_SOURCES = tests/check_gemm.c $(CHECK_RUN)
tests_check_gemm_CFLAGS = $(TEST_CFLAGS)
tests_check_gemm_LDADD = $(TEST_LIBS)
tests_check_conv_SOURCES = tests/check_conv.c $(CHECK_RUN)
tests_check_conv_CFLAGS = $(TEST_CFLAGS)
tests_check_conv_LDADD = $(TEST_LIBS)
tests_check_nn_SOURCES = tests/check_nn.c $(CHECK_RUN)
tests_check_nn_CFLAGS = $(TEST_CFLAGS)
tests_check_nn_LDADD = $(TEST_LIBS)
tests_check_blas_SOURCES = tests/check_blas.c $(CHECK_RUN)
tests_check_blas_CFLAGS = $(TEST_CFLAGS)
tests_check_blas_LDADD = $(TEST_LIBS)
tests_check_optim_SOURCES = tests/check_optim.c $(CHECK_RUN)
tests_check_optim_CFLAGS = $(TEST_CFLAGS)
tests_check_optim_LDADD = $(TEST_LIBS)
# check_team: a batch split across threads against the same batch on one.
check_PROGRAMS += tests/check_team
tests_check_team_SOURCES = tests/check_team.c $(CHECK_RUN)
tests_check_team_CFLAGS = $(TEST_CFLAGS)
tests_check_team_LDADD = $(TEST_LIBS)
endif

noinst_PROGRAMS += bench/mlp-bench
bench_mlp_bench_SOURCES = bench/mlp-bench.c
bench_mlp_bench_LDADD = libnntop.a $(DEP_LIBS)
EXTRA_DIST += bench/torch_mlp.py

# The OpenBLAS core correction in the real binary (forced fallback, re-exec).
check_SCRIPTS += tests/blas-core.sh
EXTRA_DIST += tests/blas-core.sh

# NNTOP_CONV_KERNEL: refused values, every path the CPU has trains alike,
# and the conv suites with each path forced.
check_SCRIPTS += tests/conv-kernel.sh
EXTRA_DIST += tests/conv-kernel.sh

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
