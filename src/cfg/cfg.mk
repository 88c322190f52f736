# Configuration: YAML -> struct cfg, --set overrides, errors with
# file:line:col, the effective config written back, and the built-in demo
# (configs/demo-*.yaml compiled into src/cfg/demo_config.c).
libnntop_a_SOURCES += src/cfg/cfg.c src/cfg/cfg-tree.c src/cfg/cfg-keys.c \
	src/cfg/cfg-text.c src/cfg/cfg-scalar.c src/cfg/cfg-suggest.c
nodist_libnntop_a_SOURCES = src/cfg/demo_config.c
noinst_HEADERS += include/nntop/cfg.h src/cfg/cfg-int.h

dist_configs_DATA += configs/spiral.yaml configs/xor.yaml configs/blobs.yaml \
	configs/fashion-mnist.yaml configs/fashion-cnn.yaml configs/csv-example.yaml configs/moons.csv \
	configs/demo-spiral.yaml configs/demo-fashion-mnist.yaml

# The demo configs as C byte arrays.  od and awk rather than xxd, which
# is not everywhere; read from $(srcdir) and write into the build directory
# so that VPATH builds and distcheck (read-only source tree) work.
BUILT_SOURCES += src/cfg/demo_config.c
CLEANFILES += src/cfg/demo_config.c
DEMO_CONFIGS = configs/demo-spiral.yaml configs/demo-fashion-mnist.yaml
src/cfg/demo_config.c: $(DEMO_CONFIGS:%=$(srcdir)/%) $(srcdir)/src/cfg/cfg.mk
	$(AM_V_GEN)$(MKDIR_P) src/cfg && { \
	  echo '/* demo_config.c - generated from configs/demo-*.yaml by src/cfg/cfg.mk; edit those instead. */'; \
	  echo '#include "config.h"'; \
	  echo '#include "nntop/cfg.h"'; \
	  for f in spiral:demo-spiral fashion:demo-fashion-mnist; do \
	    echo "const char cfg_demo_$${f%%:*}_yaml[] = {"; \
	    od -An -v -tx1 < $(srcdir)/configs/$${f#*:}.yaml | \
	      awk '{ line = "   "; for (i = 1; i <= NF; i++) line = line " 0x" $$i ","; print line }'; \
	    echo '    0x00'; \
	    echo '};'; \
	    echo "const size_t cfg_demo_$${f%%:*}_yaml_len = sizeof cfg_demo_$${f%%:*}_yaml - 1;"; \
	  done; \
	} > $@-t && mv $@-t $@

if HAVE_CHECK
check_PROGRAMS += tests/check_cfg
tests_check_cfg_SOURCES = tests/check_cfg.c $(CHECK_RUN)
tests_check_cfg_CFLAGS = $(TEST_CFLAGS)
tests_check_cfg_LDADD = $(TEST_LIBS)
endif
