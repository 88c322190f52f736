#!/bin/sh
# run.sh - build the libFuzzer targets of tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) in BUILD_DIR, out of the source
# tree SRC_DIR, and run each for SECONDS (two at a time) from its seed
# corpus in tests/fuzz/corpus/<target>/, with -rss_limit_mb=2048.  Fails
# on any crash, leak, timeout or out-of-memory; the input that caused it
# is left as BUILD_DIR/artifacts/<target>-*, to be added to the corpus as
# a regression input once fixed.  Prints executions per target.
#
# Usage: tests/fuzz/run.sh SRC_DIR BUILD_DIR [SECONDS]
set -eu
src=$(cd "$1" && pwd)
mkdir -p "$2"
build=$(cd "$2" && pwd)
secs=${3:-60}
targets="cfg idx csv npy safetensors runlog prompt"

cd "$build"
"$src/configure" CC=clang --enable-debug --enable-sanitizers=address,undefined \
    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" >/dev/null
make -j2 libnntop.a >/dev/null
libs="$(pkg-config --libs ncursesw openblas yaml-0.1 zlib) -lpthread -lm"
for t in $targets; do
    # shellcheck disable=SC2086
    clang -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I. -I"$src/include" -I"$src/tests/fuzz" "$src/tests/fuzz/fuzz-$t.c" libnntop.a \
        $libs -o "fuzz-$t"
done

mkdir -p artifacts
run_one() {
    t=$1
    rm -rf "work-$t" && mkdir -p "work-$t"
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
        "./fuzz-$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t-" \
        "work-$t" "$src/tests/fuzz/corpus/$t" >"fuzz-$t.log" 2>&1
}
status=0
set -- $targets
while [ $# -gt 0 ]; do
    a=$1
    shift
    b=${1:-}
    [ -n "$b" ] && shift
    run_one "$a" &
    pa=$!
    pb=
    if [ -n "$b" ]; then
        run_one "$b" &
        pb=$!
    fi
    wait $pa || { echo "fuzz: $a FAILED"; tail -n 40 "fuzz-$a.log"; status=1; }
    if [ -n "$pb" ]; then
        wait "$pb" || { echo "fuzz: $b FAILED"; tail -n 40 "fuzz-$b.log"; status=1; }
    fi
done
for t in $targets; do
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz-$t.log")
    echo "fuzz: $t: ${execs:-?} executions in ${secs} s"
done
exit $status
