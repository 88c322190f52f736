#!/bin/sh
# provenance.sh - what env.txt records about a run's inputs: the SHA-256
# and size of each data file (checked against sha256sum), the CPU model,
# the config's absolute path, and for a config inside a git work tree the
# commit, the dirty flag and code.diff (equal to `git diff HEAD`, cut at
# 1 MiB with a note saying so); a config outside any work tree gets no git
# lines.  Exit 77 (skip) only without nntop, git or sha256sum.  Lines
# start with "# provenance: ".
set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
NNTOP=${NNTOP:-$top_builddir/nntop}
say() { echo "# provenance: $*"; }
if [ ! -x "$NNTOP" ] || ! command -v git >/dev/null 2>&1 || ! command -v sha256sum >/dev/null 2>&1; then
    say "SKIP: needs the nntop binary, git and sha256sum"
    exit 77
fi
case $NNTOP in /*) ;; *) NNTOP=$(pwd)/$NNTOP ;; esac
SRC=$(cd "$top_srcdir" && pwd)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); say "ok   $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL $*"; }
# train DIR: a 3-step run of DIR/net.yaml into DIR/runs; sets RUN and ENV.
train() {
    rm -rf "$1/runs"
    "$NNTOP" -H -n 3 -o "$1/runs" "$1/net.yaml" >"$TMP/out" 2>"$TMP/err" </dev/null
    STATUS=$?
    RUN=$(ls -d "$1"/runs/*/ 2>/dev/null | head -n 1)
    RUN=${RUN%/}
    ENV="$RUN/env.txt"
    [ "$STATUS" -eq 0 ] && [ -f "$ENV" ] || { fail "run in $1: status $STATUS: $(cat "$TMP/err")"; return 1; }
}
# has LINE: env.txt holds exactly this line.
has() { grep -qxF -- "$1" "$ENV"; }

# ---- a config in a git work tree --------------------------------------------------

W="$TMP/work"
mkdir -p "$W"
cp "$SRC/configs/moons.csv" "$W/moons.csv"
sed 's|^\( *path:\).*|\1 moons.csv|' "$SRC/configs/csv-example.yaml" >"$W/net.yaml"
(cd "$W" && git init -q && git add net.yaml moons.csv &&
    git -c user.name=t -c user.email=t@example.org commit -qm one) || fail "git init"
COMMIT=$(git -C "$W" rev-parse HEAD)
HASH=$(sha256sum "$W/moons.csv" | cut -d' ' -f1)
BYTES=$(wc -c <"$W/moons.csv" | tr -d ' ')

if train "$W"; then
    if has "data_file: $HASH $BYTES $W/moons.csv"; then
        pass "data_file: the data's SHA-256 and size, as sha256sum and wc see them"
    else
        fail "data_file line: $(grep '^data_file' "$ENV")"
    fi
    has "config: $W/net.yaml" && pass "config: its absolute path" || fail "config line: $(grep '^config' "$ENV")"
    want_cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
    if [ -n "$want_cpu" ] && has "cpu: $want_cpu"; then
        pass "cpu: the model /proc/cpuinfo names"
    else
        fail "cpu line: $(grep '^cpu:' "$ENV")"
    fi
    grep -q '^blas_core: [A-Za-z]' "$ENV" && ! has "blas_core: unknown" &&
        pass "blas_core: the core OpenBLAS uses" || fail "blas_core: $(grep '^blas_core' "$ENV")"
    if has "git_root: $W" && has "git_commit: $COMMIT" && has "git_dirty: no" && [ ! -e "$RUN/code.diff" ]; then
        pass "clean work tree: root, commit, dirty no, no code.diff"
    else
        fail "clean tree: $(grep '^git\|^code' "$ENV" | tr '\n' ' ')"
    fi
fi

# A tracked file changed (and an untracked one added, which is not code).
sed -i 's/^name: .*/name: changed/' "$W/net.yaml"
echo junk >"$W/untracked.txt"
if train "$W"; then
    git -C "$W" diff --no-color HEAD >"$TMP/want.diff"
    if has "git_dirty: yes" && cmp -s "$TMP/want.diff" "$RUN/code.diff" &&
        has "code_diff: code.diff ($(wc -c <"$TMP/want.diff" | tr -d ' ') bytes)"; then
        pass "dirty work tree: code.diff is git diff HEAD, its size in env.txt"
    else
        fail "dirty tree: $(grep '^git\|^code' "$ENV" | tr '\n' ' ')"
    fi
    grep -q untracked "$RUN/code.diff" && fail "code.diff holds an untracked file"
fi

# A diff past 1 MiB is cut, and says so.
{ head -n 1 "$SRC/configs/moons.csv"; awk -F, 'NR > 1' "$SRC/configs/moons.csv"; awk 'BEGIN { for (i = 0; i < 120000; i++) printf "%d.5,%d.25,1\n", i % 3, i % 5 }'; } >"$W/moons.csv"
if train "$W"; then
    size=$(wc -c <"$RUN/code.diff")
    if [ "$size" -gt 1048576 ] && [ "$size" -lt 1048700 ] &&
        tail -n 1 "$RUN/code.diff" | grep -Eq '^# nntop: diff cut at 1048576 of [0-9]+ bytes$' &&
        grep -Eq '^code_diff: code.diff \([0-9]+ bytes, cut at 1048576\)$' "$ENV"; then
        pass "a diff over 1 MiB is cut at 1 MiB with a note"
    else
        fail "big diff: code.diff $size bytes, $(tail -n 1 "$RUN/code.diff")"
    fi
fi

# ---- outside any work tree -----------------------------------------------------------

O="$TMP/plain"
mkdir -p "$O"
cp "$W/net.yaml" "$O/net.yaml"
cp "$SRC/configs/moons.csv" "$O/moons.csv"
if git -C "$O" rev-parse 2>/dev/null; then
    say "skip: $TMP is inside a git work tree"
elif train "$O"; then
    if ! grep -q '^git_\|^code_diff' "$ENV" && [ ! -e "$RUN/code.diff" ] && has "data_file: $HASH $BYTES $O/moons.csv"; then
        pass "outside a work tree: data hashes, no git lines"
    else
        fail "outside a work tree: $(grep '^git\|^code' "$ENV" | tr '\n' ' ')"
    fi
fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
