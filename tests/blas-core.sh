#!/bin/sh
# blas-core.sh - the OpenBLAS core correction in the real binary: a forced
# fallback (OPENBLAS_CORETYPE=Prescott with NNTOP_BLAS_TEST_FALLBACK=1,
# which makes nntop treat it as OpenBLAS's own choice) re-executes once
# onto the CPU's AVX2 or AVX-512 kernels and says so in the headless
# output and env.txt; NNTOP_BLAS_CORE=keep and an explicit
# OPENBLAS_CORETYPE are left alone; a set guard never execs again.
#
# The expected core comes from /proc/cpuinfo's flags, so it holds on any
# x86-64 machine; elsewhere (no AVX2+FMA) the fallback must stay.  It does
# not change the environment's own OPENBLAS_CORETYPE for any other test.
set -u

top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
if [ ! -x "$NNTOP" ]; then
    echo "# blas-core: SKIP: no nntop binary at $NNTOP"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FAILED=0
PASSED=0
say() { echo "# blas-core: $*"; }
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() {
    FAILED=$((FAILED + 1))
    say "FAIL $*"
    head -n 10 "$TMP/out" "$TMP/err" 2>/dev/null
}

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
if has avx512f && has avx512bw && has avx512dq && has avx512vl && has avx2 && has fma; then
    want=SkylakeX what=AVX-512
elif has avx2 && has fma; then
    want=Haswell what=AVX2
else
    want= what=
fi

# run NAME ENV...: a 3-step headless demo run under env, logged to $TMP/NAME.
run() {
    name=$1
    shift
    rm -rf "$TMP/$name"
    env "$@" "$NNTOP" -H -n 3 -o "$TMP/$name" >"$TMP/out" 2>"$TMP/err" </dev/null
    STATUS=$?
    ENVTXT=$(cat "$TMP/$name"/*/env.txt 2>/dev/null)
}
core_is() { printf '%s\n' "$ENVTXT" | grep -qx "blas_core: $1"; }

# 1. A forced fallback is corrected by one re-exec.
run fallback OPENBLAS_CORETYPE=Prescott NNTOP_BLAS_TEST_FALLBACK=1 NNTOP_BLAS_CORE= \
    NNTOP_BLAS_REEXEC=
if [ "$STATUS" -ne 0 ]; then
    fail "fallback: exit status $STATUS"
elif [ -n "$want" ]; then
    note="BLAS: OpenBLAS chose Prescott on a CPU with $what: using $want"
    if ! grep -qxF "$note" "$TMP/out"; then
        fail "fallback: headless output lacks \"$note\""
    elif ! core_is "$want"; then
        fail "fallback: env.txt does not say blas_core: $want"
    elif ! printf '%s\n' "$ENVTXT" | grep -qxF "blas_note: $note"; then
        fail "fallback: env.txt lacks the note"
    else
        pass "fallback to Prescott re-executes onto $want"
    fi
else
    if grep -q '^BLAS:' "$TMP/out" || ! core_is Prescott; then
        fail "fallback without AVX2+FMA: nothing to correct, but something changed"
    else
        pass "no AVX2+FMA: Prescott stays"
    fi
fi

# 2. NNTOP_BLAS_CORE=keep turns the correction off, and says so.
run keep OPENBLAS_CORETYPE=Prescott NNTOP_BLAS_TEST_FALLBACK=1 NNTOP_BLAS_CORE=keep \
    NNTOP_BLAS_REEXEC=
if [ "$STATUS" -ne 0 ] || ! core_is Prescott; then
    fail "keep: status $STATUS, expected Prescott kept"
elif [ -n "$want" ] && ! grep -qxF \
    "BLAS: OpenBLAS chose Prescott on a CPU with $what: kept (NNTOP_BLAS_CORE=keep)" "$TMP/out"; then
    fail "keep: headless output does not say the core was kept"
else
    pass "NNTOP_BLAS_CORE=keep keeps Prescott"
fi

# 3. An explicit OPENBLAS_CORETYPE (no test override) is respected, silently.
run user OPENBLAS_CORETYPE=Prescott NNTOP_BLAS_TEST_FALLBACK= NNTOP_BLAS_CORE= \
    NNTOP_BLAS_REEXEC=
if [ "$STATUS" -ne 0 ] || ! core_is Prescott || grep -q '^BLAS:' "$TMP/out"; then
    fail "user's OPENBLAS_CORETYPE: status $STATUS, expected Prescott and no note"
else
    pass "an explicit OPENBLAS_CORETYPE is respected"
fi

# 4. With the guard already set, nntop reports and never execs again.
run guard OPENBLAS_CORETYPE=Prescott NNTOP_BLAS_TEST_FALLBACK=1 NNTOP_BLAS_CORE= \
    NNTOP_BLAS_REEXEC=Prescott
if [ "$STATUS" -ne 0 ] || ! core_is Prescott; then
    fail "guard: status $STATUS, expected one process on Prescott"
elif [ -n "$want" ] && ! grep -q "^BLAS: OpenBLAS chose Prescott on a CPU with $what; asking for .* did not take: running Prescott$" "$TMP/out"; then
    fail "guard: the output does not say the switch did not take"
else
    pass "a set guard stops a second exec"
fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
