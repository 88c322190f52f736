# Benchmarks: programs, not tests.  mlp-bench (engine vs PyTorch) is in
# src/nn/nn.mk; telemetry-bench measures what watching costs.
noinst_PROGRAMS += bench/telemetry-bench
bench_telemetry_bench_SOURCES = bench/telemetry-bench.c
bench_telemetry_bench_LDADD = libnntop.a $(DEP_LIBS)

# snapshot-bench: one snapshot's cost next to one step's, same process.
noinst_PROGRAMS += bench/snapshot-bench
bench_snapshot_bench_SOURCES = bench/snapshot-bench.c
bench_snapshot_bench_LDADD = libnntop.a $(DEP_LIBS)
EXTRA_DIST += bench/compare-torch.sh

# gemm-ceiling: a step's sgemm calls alone, the ceiling mlp-bench is held to.
noinst_PROGRAMS += bench/gemm-ceiling
bench_gemm_ceiling_SOURCES = bench/gemm-ceiling.c
bench_gemm_ceiling_LDADD = libnntop.a $(DEP_LIBS)

# make bench: the engine against PyTorch, 2-thread scaling, the GEMM
# ceiling, the OpenBLAS core correction and the end-to-end Fashion-MNIST
# run against a plain PyTorch script, as one table of ratios.
# PAIRS=N and E2E_EPOCHS=E (0 skips the end-to-end rows) tune it.
EXTRA_DIST += bench/run-bench.sh bench/torch_fashion.py bench/torch-logger-overhead.py
bench: all
	$(SHELL) $(srcdir)/bench/run-bench.sh $(builddir)
.PHONY: bench

# cancel-bench: the longest gap between the trainer's cancellation checks
# in a gradient check, an evaluation and the baseline, and quit latency.
noinst_PROGRAMS += bench/cancel-bench
bench_cancel_bench_SOURCES = bench/cancel-bench.c
bench_cancel_bench_LDADD = libnntop.a $(DEP_LIBS)

# conv-gemm-bench: GFLOPS of the conv products on every path (gemm.h).
noinst_PROGRAMS += bench/conv-gemm-bench
bench_conv_gemm_bench_SOURCES = bench/conv-gemm-bench.c
bench_conv_gemm_bench_LDADD = libnntop.a $(DEP_LIBS)

# core-link: what a cache line costs moving between the two threads of a step.
noinst_PROGRAMS += bench/core-link
bench_core_link_SOURCES = bench/core-link.c
bench_core_link_LDADD = libnntop.a $(DEP_LIBS)
