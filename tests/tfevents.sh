#!/bin/sh
# tfevents.sh - the TensorBoard event files a run writes and `nntop
# export` makes, read back by an independent reader: tests/tfevents_check.py
# (protobuf's decoder on tests/tfevents.proto compiled by protoc, and its
# own CRC-32C).  Covers a live run's file (every CRC, every metrics.csv
# and layers.csv value, the histograms of each snapshot), a corrupted copy
# (the reader must object), log.tfevents: false, a resumed run's second
# file, export to tfevents and to CSV, and export's refusals.
#
# Exit 77 (skip) only when nntop, protoc or a Python with google.protobuf
# is missing (CI installs python3-protobuf and protobuf-compiler).  Lines
# start with "# tfevents: ".
set -u

NAME=tfevents
. "${top_srcdir:-.}/tests/lib.sh"
CHECK="$top_srcdir/tests/tfevents_check.py"
PY=
for p in ${PYTHON:-} /usr/bin/python3 python3; do
    if "$p" -c 'import google.protobuf' 2>/dev/null; then
        PY=$p
        break
    fi
done
if [ -z "$PY" ] || ! command -v protoc >/dev/null 2>&1; then
    say "SKIP: needs protoc and a python3 with google.protobuf"
    exit 77
fi

reader() {
    name=$1
    want=$2
    shift 2
    "$PY" "$CHECK" "$@" >"$TMP/out" 2>"$TMP/err"
    st=$?
    if [ "$st" -eq "$want" ]; then
        pass "$name"
    else
        fail "$name: reader exit $st, expected $want"
    fi
}
events() { ls "$1"/events.out.tfevents.* 2>/dev/null; }

# ---- a live run ------------------------------------------------------------------

run -H -n 60 -o "$TMP/runs" -s train.eval_every=20 -s telemetry.every=10 -s telemetry.max_hz=1e9
RUN=$(ls -d "$TMP"/runs/*/ 2>/dev/null | head -n 1)
RUN=${RUN%/}
if [ "$STATUS" -eq 0 ] && [ "$(events "$RUN" | wc -l)" -eq 1 ]; then
    pass "a run writes one event file"
else
    fail "run: status $STATUS, event files: $(events "$RUN" | wc -l)"
fi
LIVE=$(events "$RUN")
case ${LIVE##*/} in
events.out.tfevents.[0-9]*.*) pass "file name events.out.tfevents.<time>.<host>" ;;
*) fail "file name '${LIVE##*/}'" ;;
esac
reader "every CRC, value, wall time and histogram checks out" 0 --histograms "$RUN" "$LIVE"
# A snapshot every 10 steps of 60; the reader checked each has its histograms.
snapshots=$(tail -n +2 "$RUN/layers.csv" | cut -d, -f1 | sort -u | wc -l)
[ "$snapshots" -ge 6 ] || fail "6 snapshots or more expected in layers.csv, found $snapshots"
grep -Eq ' [1-9][0-9]* histograms$' "$TMP/out" || fail "no histograms: $(cat "$TMP/out")"

# The reader is not a rubber stamp: one flipped byte in a copy is caught.
cp "$LIVE" "$TMP/bad.tfevents"
size=$(wc -c <"$TMP/bad.tfevents")
printf '\377' | dd of="$TMP/bad.tfevents" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
reader "a corrupted copy is refused" 1 "$RUN" "$TMP/bad.tfevents"
grep -q 'crc' "$TMP/out" || fail "corrupted copy: no crc complaint: $(head -n 2 "$TMP/out")"

# ---- log.tfevents: false -----------------------------------------------------------

run -H -n 5 -o "$TMP/off" -s log.tfevents=false
OFF=$(ls -d "$TMP"/off/*/ | head -n 1)
if [ "$STATUS" -eq 0 ] && [ -f "$OFF/metrics.csv" ] && [ -z "$(events "$OFF")" ]; then
    pass "log.tfevents: false writes no event file"
else
    fail "log.tfevents: false: status $STATUS, files: $(ls "$OFF")"
fi

# ---- export ------------------------------------------------------------------------

mkdir "$TMP/exp"
run export "$RUN" --to tfevents --out "$TMP/exp"
EXP=$(events "$TMP/exp")
if [ "$STATUS" -eq 0 ] && [ -n "$EXP" ] && grep -qx "$EXP" "$TMP/out"; then
    pass "export --to tfevents prints the file it wrote"
else
    fail "export --to tfevents: status $STATUS"
fi
reader "the exported file holds the live file's scalars and histograms" 0 --histograms \
    --same-as "$LIVE" "$RUN" "$EXP"
grep -Eq ' [1-9][0-9]* histograms$' "$TMP/out" || fail "export: no histograms: $(cat "$TMP/out")"

run export "$RUN" --to tfevents
if [ "$STATUS" -eq 2 ] && grep -q "^nntop: export: $RUN already holds a TensorBoard event file" "$TMP/err" &&
    [ "$(events "$RUN" | wc -l)" -eq 1 ]; then
    pass "export refuses a directory that has an event file"
else
    fail "export into the run: status $STATUS"
fi

run export "$RUN" --to csv --out "$TMP/scalars.csv"
train_rows=$(grep -c ',train,' "$RUN/metrics.csv")
first_loss=$(awk -F, '$3 == "train" { print $4; exit }' "$RUN/metrics.csv")
csv_first=$(awk -F, '$3 == "train/loss" { print $4; exit }' "$TMP/scalars.csv")
if [ "$STATUS" -eq 0 ] && [ "$(head -n 1 "$TMP/scalars.csv")" = "step,wall_time,tag,value" ] &&
    [ "$(grep -c ',train/loss,' "$TMP/scalars.csv")" -eq "$train_rows" ] &&
    [ "$(grep -c ',val/accuracy,' "$TMP/scalars.csv")" -eq "$(grep -c ',val,' "$RUN/metrics.csv")" ] &&
    [ -n "$first_loss" ] && [ "$first_loss" = "$csv_first" ]; then
    pass "export --to csv: a row per scalar, values as metrics.csv writes them"
else
    fail "export --to csv: status $STATUS, first loss '$first_loss' vs '$csv_first'"
fi
# ... and histograms.csv's histograms: per histogram lo, hi, below, above and a row per bin,
# the first one's bin counts as histograms.csv has them
hrows=$(tail -n +2 "$RUN/histograms.csv" | wc -l)
first=$(sed -n 2p "$RUN/histograms.csv")
fstep=${first%%,*}
fcounts=$(printf '%s\n' "$first" | cut -d, -f9)
nbins=$(printf '%s\n' "$fcounts" | wc -w)
tag0=$(awk -F, -v s="$fstep" '$1 == s && $3 ~ /^activations\/0\./ && $3 ~ /\/lo$/ { sub(/\/lo$/, "", $3); print $3; exit }' \
    "$TMP/scalars.csv")
csv_counts=$(awk -F, -v s="$fstep" -v t="$tag0/bin/" 'index($3, t) == 1 && $1 == s { printf "%s%s", sep, $4; sep = " " }' \
    "$TMP/scalars.csv")
if [ "$(grep -c '/lo,' "$TMP/scalars.csv")" -eq "$hrows" ] &&
    [ "$(grep -c '/above,' "$TMP/scalars.csv")" -eq "$hrows" ] &&
    [ "$(grep -c '/bin/' "$TMP/scalars.csv")" -eq "$((hrows * nbins))" ] &&
    [ -n "$tag0" ] && [ "$csv_counts" = "$fcounts" ]; then
    pass "export --to csv: the $hrows histograms of histograms.csv, bin by bin ($tag0)"
else
    fail "export --to csv: histograms: $(grep -c '/lo,' "$TMP/scalars.csv") of $hrows, tag '$tag0', bins '$csv_counts' vs '$fcounts'"
fi

run export "$RUN" --to parquet
if [ "$STATUS" -eq 2 ] && grep -q "^nntop: export: --to: expected tfevents or csv, got 'parquet'$" "$TMP/err"; then
    pass "export --to parquet: refused"
else
    fail "export --to parquet: status $STATUS"
fi
run export --to csv
if [ "$STATUS" -eq 2 ] && grep -q '^nntop: export: expected one RUN_DIR$' "$TMP/err"; then
    pass "export without RUN_DIR: refused"
else
    fail "export without RUN_DIR: status $STATUS"
fi
run export "$TMP/no-such-run" --to csv
if [ "$STATUS" -eq 2 ] && grep -q "^nntop: export: $TMP/no-such-run/metrics.csv: No such file" "$TMP/err" &&
    [ ! -s "$TMP/out" ]; then
    pass "export of a missing run: one line, nothing on stdout"
else
    fail "export of a missing run: status $STATUS"
fi

# ---- a resumed run: a second file beside the first ----------------------------------

run -H -n 80 --resume "$RUN" -s telemetry.every=10 -s telemetry.max_hz=1e9
if [ "$STATUS" -eq 0 ] && [ "$(events "$RUN" | wc -l)" -eq 2 ]; then
    pass "a resumed run starts a second event file"
else
    fail "resume: status $STATUS, $(events "$RUN" | wc -l) event files"
fi
# shellcheck disable=SC2046
reader "both files together match the resumed run's CSVs" 0 --histograms "$RUN" $(events "$RUN")

finish
