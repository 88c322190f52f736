# train: the trainer thread (loop, commands, resume/reproduce), telemetry
# statistics, the gradient check, and replay of a recorded run.
libnntop_a_SOURCES += src/train/telemetry.c src/train/stats.c src/train/gradcheck.c \
	src/train/trainer.c src/train/trainer-cmd.c src/train/trainer-resume.c src/train/doctor.c \
	src/train/trainer-tools.c src/train/trainer-view.c src/train/depcheck.c \
	src/train/replay.c src/train/runs.c src/train/control.c
noinst_HEADERS += include/nntop/stats.h include/nntop/gradcheck.h include/nntop/doctor.h \
	include/nntop/telemetry.h include/nntop/trainer.h include/nntop/replay.h include/nntop/runs.h include/nntop/control.h \
	src/train/trainer-int.h

# check_trainer drives the real trainer thread in-process (commands, run
# log, reproduce/resume, non-finite values, one epoch of Fashion-MNIST
# and a PyTorch load when those are installed); check_stats and
# check_gradcheck test the statistics and the gradient check on small
# hand-built models; check_doctor tests every rule on crafted telemetry.
if HAVE_CHECK
check_PROGRAMS += tests/check_trainer tests/check_stats tests/check_gradcheck tests/check_doctor \
	tests/check_control
tests_check_trainer_SOURCES = tests/check_trainer.c $(CHECK_RUN)
tests_check_trainer_CFLAGS = $(TEST_CFLAGS)
tests_check_trainer_LDADD = $(TEST_LIBS)
tests_check_stats_SOURCES = tests/check_stats.c $(CHECK_RUN)
tests_check_stats_CFLAGS = $(TEST_CFLAGS)
tests_check_stats_LDADD = $(TEST_LIBS)
tests_check_gradcheck_SOURCES = tests/check_gradcheck.c $(CHECK_RUN)
tests_check_gradcheck_CFLAGS = $(TEST_CFLAGS)
tests_check_gradcheck_LDADD = $(TEST_LIBS)
tests_check_doctor_SOURCES = tests/check_doctor.c $(CHECK_RUN)
tests_check_doctor_CFLAGS = $(TEST_CFLAGS)
tests_check_doctor_LDADD = $(TEST_LIBS)
tests_check_control_SOURCES = tests/check_control.c $(CHECK_RUN)
tests_check_control_CFLAGS = $(TEST_CFLAGS)
tests_check_control_LDADD = $(TEST_LIBS)
endif

# nntop --attach on a run a headless nntop writes, under tmux.
check_SCRIPTS += tests/attach.sh
EXTRA_DIST += tests/attach.sh

# The control socket: bad messages, floods, another uid, two attached viewers steering.
check_SCRIPTS += tests/control.sh
EXTRA_DIST += tests/control.sh tests/control_client.py

# nntop runs / nntop diff on the fixture runs in tests/data/runs.
check_SCRIPTS += tests/runs.sh
EXTRA_DIST += tests/runs.sh

# The bug zoo: one config per classic training mistake; tests/doctor-zoo.sh
# runs each and asserts the finding its "# expect:" line names, and runs
# the healthy shipped configs asserting no warning or error.
bugsdir = $(pkgdatadir)/configs/bugs
dist_bugs_DATA = configs/bugs/dead-filters.yaml configs/bugs/dead-relu.yaml configs/bugs/dropout-before-batchnorm.yaml \
	configs/bugs/exploding.yaml configs/bugs/lr-too-high.yaml configs/bugs/lr-too-low.yaml \
	configs/bugs/no-activation.yaml configs/bugs/raw-pixels.yaml configs/bugs/saturated-channels.yaml \
	configs/bugs/sigmoid-vanishing.yaml configs/bugs/tanh-std1-init.yaml \
	configs/bugs/tiny-overfit.yaml configs/bugs/weight-decay.yaml configs/bugs/zero-init.yaml
check_SCRIPTS += tests/doctor-zoo.sh
EXTRA_DIST += tests/doctor-zoo.sh
