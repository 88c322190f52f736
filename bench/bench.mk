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
