# End-to-end suites of the trainer (filled by their authors).

# check_trainer drives the real trainer thread in-process (commands, run
# log, reproduce/resume, non-finite values, one epoch of Fashion-MNIST
# and a PyTorch load when those are installed); check_stats and
# check_gradcheck test the statistics and the gradient check on small
# hand-built models; tests/cli.sh runs the nntop binary for its exit
# codes and messages.
if HAVE_CHECK
check_PROGRAMS += tests/check_trainer tests/check_stats tests/check_gradcheck
tests_check_trainer_SOURCES = tests/check_trainer.c $(CHECK_RUN)
tests_check_trainer_CFLAGS = $(TEST_CFLAGS)
tests_check_trainer_LDADD = $(TEST_LIBS)
tests_check_stats_SOURCES = tests/check_stats.c $(CHECK_RUN)
tests_check_stats_CFLAGS = $(TEST_CFLAGS)
tests_check_stats_LDADD = $(TEST_LIBS)
tests_check_gradcheck_SOURCES = tests/check_gradcheck.c $(CHECK_RUN)
tests_check_gradcheck_CFLAGS = $(TEST_CFLAGS)
tests_check_gradcheck_LDADD = $(TEST_LIBS)
endif

check_SCRIPTS += tests/cli.sh
EXTRA_DIST += tests/cli.sh
