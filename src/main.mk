# The front ends that sit above every part: main.c (options, choosing
# interactive / headless / replay, wiring) and the headless printer.
# tests/cli.sh runs the nntop binary for its exit codes and messages.
libnntop_a_SOURCES += src/headless.c
noinst_HEADERS += include/nntop/headless.h

check_SCRIPTS += tests/cli.sh
EXTRA_DIST += tests/cli.sh tests/lib.sh

# tests/headless.sh: the headless lines on a pipe (aligned columns, numfmt's forms, summary)
check_SCRIPTS += tests/headless.sh
EXTRA_DIST += tests/headless.sh

# tests/reliability.sh: closed descriptors, nohup, stale files, full disks
# and hostile input files, with their exit status, message and peak memory.
check_SCRIPTS += tests/reliability.sh
EXTRA_DIST += tests/reliability.sh

# The part boundaries on the sources: no file under src/ui/ reaches an
# engine header (nn.h, optim.h, blas.h).
check_SCRIPTS += tests/layering.sh
EXTRA_DIST += tests/layering.sh

# Functions under src/ at most 100 lines (the few not split yet have
# ceilings listed in the script), lines at most 100 columns.
check_SCRIPTS += tests/source-limits.sh
EXTRA_DIST += tests/source-limits.sh

# libFuzzer targets and their seed corpora: built and run by
# tests/fuzz/run.sh from .ci/run (clang), not by make check.
EXTRA_DIST += tests/fuzz

# layers.csv read with Python's csv module: cell types, empty cells where
# a column does not apply, layer labels.
check_SCRIPTS += tests/layers-csv.sh
EXTRA_DIST += tests/layers-csv.sh
