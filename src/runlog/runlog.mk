# Run log: run directories, metrics/layers/events files, safetensors
# checkpoints, and the readers replay and --reproduce use.
libnntop_a_SOURCES += src/runlog/runlog.c src/runlog/runlog-read.c src/runlog/runlog-json.c \
	src/runlog/safetensors.c src/runlog/tfevents.c src/runlog/export.c \
	src/runlog/provenance.c
noinst_HEADERS += include/nntop/runlog.h src/runlog/runlog-int.h
EXTRA_DIST += tests/torch_load_checkpoint.py

if HAVE_CHECK
check_PROGRAMS += tests/check_runlog
tests_check_runlog_SOURCES = tests/check_runlog.c $(CHECK_RUN)
tests_check_runlog_CFLAGS = $(TEST_CFLAGS)
tests_check_runlog_LDADD = $(TEST_LIBS)
endif

# Checkpoints loaded into PyTorch by contrib/python/nntop_load.py (python3-torch).
check_SCRIPTS += tests/torch-load.sh
EXTRA_DIST += tests/torch-load.sh contrib/python/nntop_load.py

# TensorBoard event files read back by an independent reader (protoc + python3-protobuf).
check_SCRIPTS += tests/tfevents.sh
EXTRA_DIST += tests/tfevents.sh tests/tfevents_check.py tests/tfevents.proto

# What env.txt records about a run's inputs (data hashes, git commit, code.diff).
check_SCRIPTS += tests/provenance.sh
EXTRA_DIST += tests/provenance.sh

# The run-directory contract every reader and writer of a run follows.
dist_doc_DATA = doc/run-format.md
# doc/run-format.md against what a real run writes and the event vocabulary.
check_SCRIPTS += tests/run-format.sh
EXTRA_DIST += tests/run-format.sh

# contrib/python/nntop_torch.py: a PyTorch loop writes a run directory nntop
# replays and attaches to (and steers over control.sock); installed beside
# the configs, for copying next to a training script.
torchdir = $(pkgdatadir)/python
dist_torch_DATA = contrib/python/nntop_torch.py
check_SCRIPTS += tests/torch-logger.sh
EXTRA_DIST += tests/torch-logger.sh tests/torch_logger_train.py tests/torch_logger_live.py
# The doctor in the viewer: a PyTorch run with planted bugs replayed gets findings.
check_SCRIPTS += tests/torch-doctor.sh
EXTRA_DIST += tests/torch-doctor.sh tests/torch_logger_bug.py
