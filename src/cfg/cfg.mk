# Configuration: YAML -> struct cfg, --set overrides, errors with
# file:line:col, the effective config written back, and the built-in demo
# (configs/spiral.yaml compiled into src/cfg/demo_config.c).
libnntop_a_SOURCES += src/cfg/cfg.c src/cfg/cfg-tree.c src/cfg/cfg-keys.c \
	src/cfg/cfg-text.c src/cfg/cfg-scalar.c src/cfg/cfg-suggest.c
nodist_libnntop_a_SOURCES = src/cfg/demo_config.c
noinst_HEADERS += include/nntop/cfg.h src/cfg/cfg-int.h

dist_configs_DATA += configs/spiral.yaml configs/xor.yaml configs/blobs.yaml \
	configs/fashion-mnist.yaml configs/csv-example.yaml configs/moons.csv

# The demo config as a C byte array.  od and awk rather than xxd, which is
# not everywhere; read from $(srcdir) and write into the build directory so
# that VPATH builds and distcheck (read-only source tree) work.
BUILT_SOURCES += src/cfg/demo_config.c
CLEANFILES += src/cfg/demo_config.c
src/cfg/demo_config.c: $(srcdir)/configs/spiral.yaml $(srcdir)/src/cfg/cfg.mk
	$(AM_V_GEN)$(MKDIR_P) src/cfg && { \
	  echo '/* demo_config.c - generated from configs/spiral.yaml by src/cfg/cfg.mk; edit that file instead. */'; \
	  echo '#include "config.h"'; \
	  echo '#include "nntop/cfg.h"'; \
	  echo 'const char cfg_demo_yaml[] = {'; \
	  od -An -v -tx1 < $(srcdir)/configs/spiral.yaml | \
	    awk '{ line = "   "; for (i = 1; i <= NF; i++) line = line " 0x" $$i ","; print line }'; \
	  echo '    0x00'; \
	  echo '};'; \
	  echo 'const size_t cfg_demo_yaml_len = sizeof cfg_demo_yaml - 1;'; \
	} > $@-t && mv $@-t $@

if HAVE_CHECK
check_PROGRAMS += tests/check_cfg
tests_check_cfg_SOURCES = tests/check_cfg.c $(CHECK_RUN)
tests_check_cfg_CFLAGS = $(TEST_CFLAGS)
tests_check_cfg_LDADD = $(TEST_LIBS)
endif
