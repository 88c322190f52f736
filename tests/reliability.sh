#!/bin/sh
# reliability.sh - nntop run as a hostile user runs it: closed standard
# descriptors, nohup (inherited ignored signals), stale temporary files of
# a killed run, a full disk (a small tmpfs, when root), and hostile input
# files, each checked for its exit status, its message and (for the input
# files) the peak memory it took, measured with /usr/bin/time.
#
# It does not repeat tests/cli.sh (options, config errors, ordinary
# signals).  Exit 77 (skip) only when there is no nntop binary; parts
# that need root or /usr/bin/time say SKIP and go on.  Lines start with
# "# reliability: ".
set -u

NAME=reliability
. "${top_srcdir:-.}/tests/lib.sh"
NNTOP_DEMO=spiral
export NNTOP_DEMO
MOUNTED=
CLEANUP='[ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null'

metrics_ok() {
    [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
    ! tail -n +2 "$1" | grep -Evq '^[0-9]+,[^,]*,(train|val|test),([^,]*,){7}[^,]*$'
}

# steps_ok FILE LAST: train rows of steps 1..LAST (the step column is the
# global step: updates done), each once, in order, every line whole.
steps_ok() {
    metrics_ok "$1" &&
        [ "$(grep ',train,' "$1" | cut -d, -f1 | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ]
}

# one_run ROOT: the single run directory under ROOT.  Looked for again
# for up to 5 s when none is seen: once (a loaded machine, a full tmpfs)
# the listing came back empty although the run had logged into it.
one_run() {
    tries=0
    while :; do
        d=$(ls -d "$1"/*/ 2>/dev/null | head -n 1)
        [ -n "$d" ] || [ $tries -ge 50 ] && break
        tries=$((tries + 1))
        sleep 0.1
    done
    echo "${d%/}"
}

# ---- closed standard descriptors ----------------------------------------------

# With fd 1 closed, the first file opened used to become "stdout", and the
# progress lines went into metrics.csv.
for fd in 1 2; do
    root=$TMP/closed$fd
    if [ $fd = 1 ]; then
        "$NNTOP" -H -n 300 -o "$root" 2>"$TMP/err" </dev/null >&-
    else
        "$NNTOP" -H -n 300 -o "$root" >"$TMP/out" </dev/null 2>&-
    fi
    STATUS=$?
    rd=$(one_run "$root")
    if [ "$STATUS" -eq 0 ] && [ -n "$rd" ] && metrics_ok "$rd/metrics.csv" &&
        [ "$(grep -c ',train,' "$rd/metrics.csv")" -eq 300 ]; then
        pass "fd $fd closed: exit 0, metrics.csv holds 300 whole train rows and nothing else"
    else
        fail "fd $fd closed: status $STATUS, metrics.csv: $(grep -cv ',train,\|,val,\|,test,' "$rd/metrics.csv" 2>/dev/null) foreign lines"
    fi
    run --replay "$rd"
    check "fd $fd closed: the run replays" 0 out '^step 300/300 '
done

# ---- nohup ---------------------------------------------------------------------

# A hang-up inherited as ignored stays ignored; SIGTERM still stops the run.
root=$TMP/nohup
nohup "$NNTOP" -H -n 100000000 -o "$root" >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
wait_rows "$root" $pid || fail "nohup: no metrics rows after 30 s"
kill -HUP $pid
# The run must still be training well after the hang-up: rows keep coming.
n0=$(wc -l <"$m")
tries=0
while [ "$(wc -l <"$m")" -le $((n0 + 50)) ] && [ $tries -lt 300 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
if kill -0 $pid 2>/dev/null && ! grep -q 'caught signal' "$TMP/err" "$TMP/out"; then
    pass "nohup: SIGHUP ignored, the run goes on"
else
    fail "nohup: the run stopped on SIGHUP"
fi
kill -TERM $pid 2>/dev/null
wait $pid
STATUS=$?
check "nohup: SIGTERM still stops it (130, message on stderr)" 130 err 'caught signal 15'

# ---- stale temporary files ------------------------------------------------------

root=$TMP/stale
run -H -n 20 -o "$root"
rd=$(one_run "$root")
# Left by a SIGKILLed writer whose pid is gone (above pid_max).
: >"$rd/checkpoint-25.safetensors.tmp.99999999"
run -H -n 30 --resume "$rd"
if [ "$STATUS" -eq 0 ] && [ ! -e "$rd/checkpoint-25.safetensors.tmp.99999999" ]; then
    pass "stale *.tmp.PID removed on resume"
else
    fail "stale *.tmp.PID: status $STATUS, $(ls "$rd" | grep tmp)"
fi

# ---- resuming ------------------------------------------------------------------------

# From an older checkpoint: the rows after it go (atomically, journaled),
# and the continuation never repeats a step.
root=$TMP/older
run -H -n 50 -o "$root" -s log.checkpoint_every=20
rd=$(one_run "$root")
run -H -n 45 --resume "$rd/checkpoint-20.safetensors"
if [ "$STATUS" -eq 0 ] && steps_ok "$rd/metrics.csv" 45 &&
    grep -q '"type":"truncate","to_step":20,"metrics_rows":[1-9]' "$rd/events.jsonl" &&
    [ "$(grep -c '"type":"start"' "$rd/events.jsonl")" -eq 1 ] &&
    [ "$(grep '"type":"checkpoint"' "$rd/events.jsonl" | cut -d, -f1 | tr '\n' ' ')" = \
        '{"step":20 {"step":40 {"step":45 ' ]; then
    pass "resume from an older checkpoint: logs cut back to it, steps 1..45 once each"
else
    fail "resume from an older checkpoint: status $STATUS, rows $(grep -c ',train,' "$rd/metrics.csv")"
fi
run --replay "$rd"
check "resume from an older checkpoint: the run replays" 0 out '^step 45/[0-9]+ '

# A checkpoint without __metadata__ (written by another tool) records no
# step: it cannot continue a logged run.
if python3 -c 'import json' 2>/dev/null; then
    python3 - "$rd/checkpoint-20.safetensors" "$rd/checkpoint-99.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
header.pop("__metadata__")
h = json.dumps(header).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + data[8 + n:])
PY
    cp "$rd/metrics.csv" "$TMP/metrics.before"
    run -H -n 60 --resume "$rd/checkpoint-99.safetensors"
    check "resume from a checkpoint without metadata: refused" 2 \
        err "^nntop: .*checkpoint-99\.safetensors: the checkpoint records no step" &&
        if cmp -s "$rd/metrics.csv" "$TMP/metrics.before"; then
            pass "resume from a checkpoint without metadata: the run is untouched"
        else
            fail "resume from a checkpoint without metadata: metrics.csv changed"
        fi
else
    say "SKIP checkpoint without metadata: no python3"
fi

# ---- failed checkpoints ---------------------------------------------------------

# A directory in the way makes the checkpoint's rename fail.
root=$TMP/ckfail
run -H -n 20 -o "$root" -s log.checkpoint_every=10
rd=$(one_run "$root")
mkdir -p "$rd/checkpoint-30.safetensors/in-the-way"
run -H -n 50 --resume "$rd/checkpoint-20.safetensors"
check "failed periodic checkpoint: an error event, the next ones saved, exit 0" 0 \
    err '^(ERROR|error) +step 30: checkpoint failed: .*checkpoint-30\.safetensors: rename failed: Is a directory$' &&
    if grep -q '"step":30,.*"type":"error","what":"checkpoint"' "$rd/events.jsonl" &&
        [ -f "$rd/checkpoint-40.safetensors" ] && [ -f "$rd/checkpoint-50.safetensors" ]; then
        pass "failed periodic checkpoint: logged, retried at 40 and 50"
    else
        fail "failed periodic checkpoint: events or checkpoints 40/50 missing"
    fi
root=$TMP/ckfinal
run -H -n 20 -o "$root"
rd=$(one_run "$root")
mkdir -p "$rd/checkpoint-30.safetensors/in-the-way"
run -H -n 30 --resume "$rd/checkpoint-20.safetensors"
check "failed final checkpoint: exit 1, the cause on stderr" 1 \
    err '^nntop: checkpoint-30\.safetensors not saved: .*: rename failed: Is a directory$'

# ---- hostile input: bounded memory, one-line messages --------------------------

# hostile [-v KB] [-a] NAME MAX_KB CONFIG [ARGS...]: run nntop -H on CONFIG
# (with its address space limited to KB) under /usr/bin/time; its peak
# RSS in $RSS, checked against MAX_KB (when there is a /usr/bin/time).
# -a: the arguments are nntop's whole command line (no -H --no-log added).
# Status and messages as run().
#
# Under AddressSanitizer (NNTOP_TEST_SANITIZER set, as .ci/run does for
# its ASan tree) the peak RSS is the sanitizer's (shadow memory and the
# quarantine): it is shown, not held to the bound; the status and the
# message still are.
hostile() {
    limit=unlimited
    if [ "$1" = -v ]; then
        limit=$2
        shift 2
    fi
    mode="-H --no-log"
    if [ "$1" = -a ]; then
        mode=
        shift
    fi
    name=$1
    max_kb=$2
    shift 2
    if [ -x /usr/bin/time ]; then
        # shellcheck disable=SC2016
        sh -c 'ulimit -v "$0" && exec "$@"' "$limit" \
            /usr/bin/time -f %M -o "$TMP/rss" "$NNTOP" $mode "$@" \
            >"$TMP/out" 2>"$TMP/err" </dev/null
        STATUS=$?
        RSS=$(tail -n 1 "$TMP/rss")
        if [ -n "${NNTOP_TEST_SANITIZER:-}" ]; then
            say "$name: peak RSS $RSS KB under $NNTOP_TEST_SANITIZER (bound $max_kb KB not asserted)"
        elif [ "$RSS" -le "$max_kb" ]; then
            pass "$name: peak RSS $RSS KB (bound $max_kb KB)"
        else
            fail "$name: peak RSS $RSS KB, more than $max_kb KB"
        fi
    else
        say "SKIP $name: peak memory: no /usr/bin/time"
        # shellcheck disable=SC2016
        sh -c 'ulimit -v "$0" && exec "$@"' "$limit" "$NNTOP" $mode "$@" \
            >"$TMP/out" 2>"$TMP/err" </dev/null
        STATUS=$?
    fi
}

H=$TMP/hostile
mkdir -p "$H"
if python3 - "$H" <<'PY'
import gzip, struct, sys
d = sys.argv[1]
# 10 rows of 250000 columns: 5 MB that used to take 1 GB (1000 rows of buffer).
with open(d + "/wide.csv", "w") as f:
    for r in range(10):
        f.write(",".join(["1"] * 249999) + "," + str(r % 2) + "\n")
# 64 MiB of rows in a 100 KB gzip.
row = (",".join(["1"] * 999) + ",0\n").encode()
with gzip.open(d + "/bomb.csv.gz", "wb", compresslevel=9) as f:
    chunk = row * 1000
    for i in range((64 << 20) // len(chunk)):
        f.write(chunk)
# One line of 10 million cells.
with open(d + "/line.csv", "w") as f:
    f.write(",".join(["0"] * 10000000) + "\n")
# A gzipped CSV with junk after the stream, and one with its data damaged.
z = gzip.compress(b"".join(b"%d,%d\n" % (i, i % 2) for i in range(2000)))
open(d + "/junk.csv.gz", "wb").write(z + b"junk")
open(d + "/damaged.csv.gz", "wb").write(z[:40] + bytes(b ^ 0x5a for b in z[40:80]) + z[80:])
# An IDX header claiming 2^32 - 1 images of 255x255.
open(d + "/huge-images", "wb").write(struct.pack(">IIII", 0x803, 0xffffffff, 255, 255) + bytes(1000))
open(d + "/huge-labels", "wb").write(struct.pack(">II", 0x801, 10) + bytes(10))
# .npz archives whose zip64 end record claims a central directory of 16 MiB
# (the file holds it: zeros), of 2^40 entries, and of 2^40 bytes.
def npz(name, pad, entries, cd_size):
    e64 = struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, entries, entries, cd_size, 0)
    loc = struct.pack("<IIQI", 0x07064b50, 0, pad, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    with open(d + "/" + name, "wb") as f:
        f.truncate(pad)
        f.seek(pad)
        f.write(e64 + loc + eocd)
npz("cdir-big.npz", 16 << 20, 100, 16 << 20)
npz("cdir-count.npz", 4096, 1 << 40, 4096)
npz("cdir-size.npz", 4096, 100, 1 << 40)
PY
then
    printf 'data:\n  source: csv\n  path: wide.csv\n  header: false\nmodel:\n  layers: [{dense: 2}]\ntrain:\n  batch_size: 4\n  steps: 3\n' >"$H/wide.yaml"
    hostile "a 5 MB CSV of 250000 columns" 250000 "$H/wide.yaml"
    check "a 5 MB CSV of 250000 columns: it trains" 0 out 'step +3/3 '

    printf 'data: {source: csv, path: bomb.csv.gz, header: false, max_bytes: 16777216}\nmodel: {layers: [{dense: 2}]}\n' >"$H/bomb.yaml"
    hostile "a gzip bomb" 120000 "$H/bomb.yaml"
    check "a gzip bomb: refused, the file and config line named" 2 \
        err "^nntop: $H/bomb.yaml:1:27: data.path: $H/bomb.csv.gz: more than 16777216 bytes once read \\(data.max_bytes is 16777216\\)\$"

    printf 'data: {source: csv, path: line.csv, max_bytes: 16777216}\nmodel: {layers: [{dense: 2}]}\n' >"$H/line.yaml"
    hostile "a line of 10 million cells" 60000 "$H/line.yaml"
    check "a line of 10 million cells: refused" 2 \
        err "^nntop: $H/line.yaml:1:27: data.path: $H/line.csv: more than 16777216 bytes once read"

    printf 'data: {source: idx, train_images: huge-images, train_labels: huge-labels}\nmodel: {layers: [{dense: 2}]}\n' >"$H/huge.yaml"
    hostile "an IDX header claiming 2^32 images" 40000 "$H/huge.yaml"
    check "an IDX header claiming 2^32 images: refused before reading" 2 \
        err "^nntop: $H/huge.yaml:1:35: data.train_images: $H/huge-images: the images need 279280248357375 bytes, more than data.max_bytes \\(4294967296\\)\$"

    printf 'data: {source: npy, train_images: cdir-big.npz, max_bytes: 1048576}\nmodel: {layers: [{dense: 2}]}\n' >"$H/cdir-big.yaml"
    hostile "a .npz of a 16 MiB central directory" 16000 "$H/cdir-big.yaml"
    check "a .npz of a 16 MiB central directory: refused by data.max_bytes before reading it" 2 \
        err "^nntop: $H/cdir-big.yaml:1:35: data.train_images: $H/cdir-big.npz: its central directory's entries need 16777216 bytes, more than data.max_bytes \\(1048576\\)\$"
    printf 'data: {source: npy, train_images: cdir-count.npz}\nmodel: {layers: [{dense: 2}]}\n' >"$H/cdir-count.yaml"
    hostile "a .npz claiming 2^40 entries" 40000 "$H/cdir-count.yaml"
    check "a .npz claiming 2^40 entries: refused" 2 \
        err "^nntop: $H/cdir-count.yaml:1:35: data.train_images: $H/cdir-count.npz: more entries than the central directory can hold\$"
    printf 'data: {source: npy, train_images: cdir-size.npz}\nmodel: {layers: [{dense: 2}]}\n' >"$H/cdir-size.yaml"
    hostile "a .npz claiming a central directory of 2^40 bytes" 40000 "$H/cdir-size.yaml"
    check "a .npz claiming a central directory of 2^40 bytes: refused" 2 \
        err "^nntop: $H/cdir-size.yaml:1:35: data.train_images: $H/cdir-size.npz: the central directory lies outside the archive\$"

    # One .npz holding both arrays, picked by data.inputs_key / labels_key.
    keyed=$(cd "${top_srcdir:-.}/tests/data/npz" && pwd)/keyed.npz
    printf 'data: {source: npy, train_images: %s, inputs_key: pixels, labels_key: target, val_fraction: 0}\nmodel: {layers: [flatten, {dense: 3}]}\ntrain: {batch_size: 3, steps: 3}\n' "$keyed" >"$H/keyed.yaml"
    run -H --no-log "$H/keyed.yaml"
    check "one .npz of both arrays, by key: it trains" 0 out 'step +3/3 '
    printf 'data: {source: npy, train_images: %s, labels_key: target}\nmodel: {layers: [flatten, {dense: 3}]}\n' "$keyed" >"$H/keyed.yaml"
    run -H --no-log "$H/keyed.yaml"
    check "one .npz without the inputs key: the members listed" 2 \
        err "^nntop: $H/keyed.yaml:1:35: data.train_images: $keyed: no inputs array: name it x.npy, images.npy or arr_0.npy \\(it holds pixels.npy, target.npy, extra.npy\\)\$"

    printf 'data: {source: csv, path: junk.csv.gz}\nmodel: {layers: [{dense: 2}]}\n' >"$H/junk.yaml"
    run -H --no-log "$H/junk.yaml"
    check "a gzip with trailing junk: one line, the file and what is wrong" 2 \
        err "^nntop: $H/junk.yaml:1:27: data.path: $H/junk.csv.gz: trailing junk after the gzip data, at byte [0-9]+\$"
    printf 'data: {source: csv, path: damaged.csv.gz}\nmodel: {layers: [{dense: 2}]}\n' >"$H/damaged.yaml"
    run -H --no-log "$H/damaged.yaml"
    check "a corrupt gzip: says corrupt" 2 \
        err "^nntop: $H/damaged.yaml:1:27: data.path: $H/damaged.csv.gz: corrupt gzip: .* \\(at byte [0-9]+\\)\$"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] && pass "a corrupt gzip: one line" || fail "a corrupt gzip: $(wc -l <"$TMP/err") lines"
else
    fail "hostile input: python3 could not write the files"
fi

# Checkpoints and run logs: every allocation a file's content sizes is
# checked against data.max_bytes (the run's own, at most the default,
# for --replay) and a line is at most 1 MiB, so each of these is refused
# early, the file named, and the memory stays near a plain run's.
root=$TMP/hostile-run
run -H -n 20 -o "$root"
rd=$(one_run "$root")
if [ "$STATUS" -eq 0 ] && [ -n "$rd" ] && python3 - "$rd" "$H" <<'PY'
import json, os, shutil, struct, sys
rd, h = sys.argv[1], sys.argv[2]
data = open(rd + "/checkpoint-20.safetensors", "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header, body = json.loads(data[8:8 + n]), data[8 + n:]
def put(name, text):
    open(rd + "/" + name, "wb").write(struct.pack("<Q", len(text)) + text + body)
# A header length of 2^62: far past the file.
open(rd + "/checkpoint-901.safetensors", "wb").write(struct.pack("<Q", 1 << 62) + data[8:])
# A real 60 MB header (its text padded with spaces).
text = json.dumps(header).encode()
put("checkpoint-902.safetensors", text[:-1] + b" " * (60 << 20) + b"}")
# A 12 MB header that is six million numbers in one shape.
put("checkpoint-903.safetensors", b'{"__metadata__":{"step":"5"},"0.weight":{"dtype":"F32",'
    b'"shape":[' + b",".join([b"0"] * (6 << 20)) + b'],"data_offsets":[0,0]}}')
# A tensor claiming 2^62 elements.
huge = dict(header)
huge["0.weight"] = {"dtype": "F32", "shape": [1 << 31, 1 << 31], "data_offsets": [0, (1 << 64) - 1]}
put("checkpoint-904.safetensors", json.dumps(huge).encode())
# Run logs: copies of the run, each with one damaged file.
def copy(name):
    d = h + "/" + name
    shutil.copytree(rd, d, ignore=shutil.ignore_patterns("checkpoint-9*"))
    return d
with open(copy("long-metrics") + "/metrics.csv", "a") as f:
    f.write("1" * (40 << 20) + "\n")
d = copy("wide-layers")
head, rest = open(d + "/layers.csv").read().split("\n", 1)
open(d + "/layers.csv", "w").write(head + ",x" * 100000 + "\n" + rest)
with open(copy("long-events") + "/events.jsonl", "a") as f:
    f.write('{"step":1,"type":"x","pad":"' + "a" * (30 << 20) + '"}\n')
with open(copy("long-hists") + "/histograms.csv", "a") as f:
    f.write("5,act,0," + "1," * (15 << 20) + "\n")
# 200000 rows (18 MB) where the run's config allows 4 MiB.
d = copy("many-rows")
lines = open(d + "/metrics.csv").read().split("\n")
with open(d + "/metrics.csv", "a") as f:
    f.write((lines[1] + "\n") * 200000)
c = open(d + "/config.yaml").read()
open(d + "/config.yaml", "w").write(c.replace("max_bytes: 4294967296", "max_bytes: 4194304"))
# nntop diff and nntop runs read env.txt and config.yaml a line at a time.
with open(copy("long-env") + "/env.txt", "a") as f:
    f.write("pad: " + "e" * (40 << 20) + "\n")
os.makedirs(h + "/runs-root")
with open(copy("runs-root/long-config") + "/config.yaml", "a") as f:
    f.write("pad: " + "c" * (40 << 20) + "\n")
PY
then
    ck=$rd/checkpoint
    hostile -a "a checkpoint header length of 2^62" 40000 -H --no-log --resume "$ck-901.safetensors"
    check "a checkpoint header length of 2^62: refused" 2 \
        err "^nntop: $ck-901\\.safetensors: header length 4611686018427387904 is larger than the file \\([0-9]+ bytes\\)\$"
    hostile -a "a 60 MB checkpoint header" 40000 -H --no-log -s data.max_bytes=16777216 --resume "$ck-902.safetensors"
    check "a 60 MB checkpoint header: refused before it is read" 2 \
        err "^nntop: $ck-902\\.safetensors: the header needs 62917[0-9]+ bytes, more than data.max_bytes \\(16777216\\)\$"
    hostile -a "a checkpoint header of 6 million numbers" 60000 -H --no-log -s data.max_bytes=16777216 --resume "$ck-903.safetensors"
    check "a checkpoint header of 6 million numbers: refused while parsed" 2 \
        err "^nntop: $ck-903\\.safetensors: header: offset [0-9]+: more than 16777216 bytes once parsed \\(data.max_bytes is 16777216\\)\$"
    hostile -a "a checkpoint tensor of 2^62 elements" 40000 -H --no-log --resume "$ck-904.safetensors"
    check "a checkpoint tensor of 2^62 elements: refused" 2 \
        err "^nntop: $ck-904\\.safetensors: tensor '0.weight': data_offsets \\[0, 18446744073709551615\\] lie outside the data"
    hostile -a "a 40 MB metrics.csv line" 40000 --replay "$H/long-metrics"
    check "a 40 MB metrics.csv line: refused at 1 MiB" 2 \
        err "^nntop: $H/long-metrics/metrics.csv:[0-9]+: line longer than 1048576 bytes\$"
    hostile -a "a layers.csv header of 100000 columns" 40000 --replay "$H/wide-layers"
    check "a layers.csv header of 100000 columns: refused" 2 \
        err "^nntop: $H/wide-layers/layers.csv:1: more than 64 columns\$"
    hostile -a "a 30 MB events.jsonl line" 40000 --replay "$H/long-events"
    check "a 30 MB events.jsonl line: refused at 1 MiB" 2 \
        err "^nntop: $H/long-events/events.jsonl:[0-9]+: line longer than 1048576 bytes\$"
    hostile -a "a 30 MB histograms.csv line" 40000 --replay "$H/long-hists"
    check "a 30 MB histograms.csv line: refused at 1 MiB" 2 \
        err "^nntop: $H/long-hists/histograms.csv: a line longer than 1048576 bytes after byte [0-9]+\$"
    hostile -a "a 30 MB histograms.csv line, exported" 40000 export "$H/long-hists" --to csv --out "$H/export.csv"
    check "a 30 MB histograms.csv line, exported: refused at 1 MiB" 2 \
        err "^nntop: export: $H/long-hists/histograms.csv: a line longer than 1048576 bytes\$"
    hostile -a "18 MB of metrics rows, 4 MiB allowed" 40000 --replay "$H/many-rows"
    check "18 MB of metrics rows, 4 MiB allowed: refused" 2 \
        err "^nntop: $H/many-rows/metrics.csv:[0-9]+: the rows read need [0-9]+ bytes, more than data.max_bytes \\(4194304\\)\$"
    hostile -a "a 40 MB env.txt line, diffed" 40000 diff "$H/long-env" "$rd"
    check "a 40 MB env.txt line, diffed: refused at 1 MiB, the file and line named" 2 \
        err "^nntop: diff: $H/long-env/env.txt:[0-9]+: line longer than 1048576 bytes\$"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] && pass "a 40 MB env.txt line, diffed: one line" ||
        fail "a 40 MB env.txt line, diffed: $(wc -l <"$TMP/err") lines"
    hostile -a "a 40 MB config.yaml line, diffed" 40000 diff "$rd" "$H/runs-root/long-config"
    check "a 40 MB config.yaml line, diffed: refused at 1 MiB" 2 \
        err "^nntop: diff: $H/runs-root/long-config/config.yaml:[0-9]+: line longer than 1048576 bytes\$"
    # A code.diff larger than the read budget (sparse: no disk taken) is
    # refused by its size, before it is read.
    cp -R "$rd" "$H/big-diff" && truncate -s 5G "$H/big-diff/code.diff"
    hostile -a "a 5 GiB code.diff, diffed" 40000 diff "$rd" "$H/big-diff"
    check "a 5 GiB code.diff, diffed: refused by data.max_bytes" 2 \
        err "^nntop: diff: $H/big-diff/code.diff: more than 4294967296 bytes \\(data.max_bytes\\)\$"
    rm -f "$H/big-diff/code.diff"
    # A listing goes on past a bad run: it is shown unreadable, with why.
    hostile -a "a 40 MB config.yaml line, listed" 40000 runs "$H/runs-root"
    check "a 40 MB config.yaml line, listed: the run unreadable, the file and line named" 0 \
        out "^long-config .*unreadable \\($H/runs-root/long-config/config.yaml:[0-9]+: line longer than 1048576 bytes\\)"
else
    fail "hostile run logs: the run or python3 could not write the files (status $STATUS)"
fi

# A model too large for memory: refused with its size before it is built
# (the 4 GB address-space limit makes it so on any machine).
# (AddressSanitizer cannot start under that limit: its shadow memory is
# terabytes of address space.)
printf 'data:\n  source: spiral\nmodel:\n  layers:\n    - dense: 40000\n    - relu\n    - dense: 40000\n    - relu\n    - dense: 3\n' >"$H/big.yaml"
if [ -z "${NNTOP_TEST_SANITIZER:-}" ]; then
    hostile -v 4000000 "dense: 40000 twice" 60000 "$H/big.yaml"
    check "dense: 40000 twice: refused at config time" 2 \
        err "^nntop: $H/big.yaml:7:7: model.layers\\[2\\]: the model has 1600280003 parameters; training it needs [0-9]+ bytes \\([0-9.]+ GiB\\), more than the 4096000000 bytes \\(3.8 GiB\\) of RLIMIT_AS\$"
else
    say "dense: 40000 twice under RLIMIT_AS: not run under $NNTOP_TEST_SANITIZER"
fi

# Config values that lose their place: a missing data file, a missing key.
printf 'data:\n  source: idx\n  train_images: /nonexistent/x.gz\n  train_labels: /nonexistent/y.gz\nmodel:\n  layers: [{dense: 10}]\n' >"$H/missing.yaml"
hostile "a missing data file" 40000 "$H/missing.yaml"
check "a missing data file: FILE:LINE:COL of the value" 2 \
    err "^nntop: $H/missing.yaml:3:17: data.train_images: /nonexistent/x.gz: No such file or directory\$"
printf 'data:\n  source: spiral\n' >"$H/nolayers.yaml"
run -H --no-log "$H/nolayers.yaml"
check "no model.layers: the file named" 2 err "^nntop: $H/nolayers.yaml: model.layers is required"

# ---- a full disk -------------------------------------------------------------------

# wait_for FILE REGEX: up to 60 s for FILE to match.
wait_for() {
    tries=0
    while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -gt 600 ] && return 1
        sleep 0.1
    done
}


if [ "$(id -u)" -ne 0 ]; then
    say "SKIP full disk: mounting a tmpfs needs root"
elif ! mkdir -p "$TMP/small" || ! mount -t tmpfs -o size=1m nntop-test "$TMP/small" 2>/dev/null; then
    say "SKIP full disk: cannot mount a tmpfs here"
else
    MOUNTED=$TMP/small
    for how in space term; do
        root=$TMP/small/$how
        mkdir -p "$root"
        # Leave about 150 KiB: the run fills it within a few thousand steps.
        dd if=/dev/zero of="$TMP/small/filler" bs=1k count=850 2>/dev/null
        # Empty the output files here, not in the background child: the
        # child's own truncation may come after wait_for has read the last
        # run's "run log write failed" (the term case then looked for a run
        # directory nntop had not made yet).
        : >"$TMP/out"
        : >"$TMP/err"
        # (layers.csv gets a row set every telemetry.every steps, never thinned by
        # the clock: every 100 keeps the whole run inside the 1 MiB disk.)
        "$NNTOP" -H -n 3000 -s log.checkpoint_every=0 -s log.tfevents=false -s log.histograms=false \
            -s telemetry.every=100 -o "$root" >"$TMP/out" 2>"$TMP/err" </dev/null &
        pid=$!
        if ! wait_for "$TMP/err" 'run log write failed: .*: No space left on device; paused'; then
            kill -KILL $pid 2>/dev/null
            wait $pid
            fail "full disk ($how): no 'run log write failed' on stderr"
            rm -f "$TMP/small/filler"
            continue
        fi
        rd=$(one_run "$root")
        n1=$(grep -c ',train,' "$rd/metrics.csv")
        sleep 1.5
        n2=$(grep -c ',train,' "$rd/metrics.csv")
        if kill -0 $pid 2>/dev/null && [ "$n1" -eq "$n2" ] && metrics_ok "$rd/metrics.csv"; then
            pass "full disk ($how): paused at once, metrics.csv ends on a whole row ($n1 rows)"
        else
            fail "full disk ($how): still running or torn ($n1 -> $n2 rows)"
        fi
        if [ $how = space ]; then
            # Space comes back: the held rows go out and training goes on.
            rm -f "$TMP/small/filler"
            wait $pid
            STATUS=$?
            if check "full disk, then space again: the run finishes" 0 \
                err 'run log write failed' out 'run log written again'; then
                if steps_ok "$rd/metrics.csv" 3000; then
                    pass "full disk, then space again: 3000 train rows, none lost or repeated"
                else
                    fail "full disk, then space again: metrics.csv rows are not 1..3000"
                fi
            fi
            rm -rf "$root"
        else
            kill -TERM $pid
            wait $pid
            STATUS=$?
            rm -f "$TMP/small/filler"
            check "full disk, then SIGTERM: exit 1, what was lost on stderr" 1 \
                err '^nntop: run log incomplete: .*No space left on device \([0-9]+ rows not written\)$' &&
                if metrics_ok "$rd/metrics.csv" && steps_ok "$rd/metrics.csv" \
                    "$(grep ',train,' "$rd/metrics.csv" | tail -n 1 | cut -d, -f1)"; then
                    pass "full disk, then SIGTERM: metrics.csv whole up to its last row"
                else
                    fail "full disk, then SIGTERM: metrics.csv is torn"
                fi
            rm -rf "$root"
        fi
    done

    # The dashboard says so in its header, and Space (once there is room)
    # writes the held rows and goes on.
    if command -v tmux >/dev/null 2>&1; then
        TM="tmux -L nntop-rely-$$ -f /dev/null"
        CLEANUP="$TM kill-server >/dev/null 2>&1; $CLEANUP"
        root=$TMP/small/tui
        mkdir -p "$root"
        dd if=/dev/zero of="$TMP/small/filler" bs=1k count=850 2>/dev/null
        $TM new-session -d -s rely -x 100 -y 30 \
            "env LANG=C.UTF-8 TERM=screen $NNTOP -n 3000 -s log.checkpoint_every=0 \
             -s log.tfevents=false -s log.histograms=false -s telemetry.every=100 -o '$root';
             echo \$? > '$TMP/tui.exit'; sleep 600"
        # header_wait REGEX: up to 60 s for the header line to match.
        header_wait() {
            tries=0
            until $TM capture-pane -t rely -p 2>/dev/null | sed -n 1p | grep -Eq -- "$1"; do
                tries=$((tries + 1))
                [ $tries -gt 600 ] && return 1
                sleep 0.1
            done
        }
        if header_wait 'log not written'; then
            pass "full disk, dashboard: the header says the log is not written"
        else
            fail "full disk, dashboard: no 'log not written' in the header: $($TM capture-pane -t rely -p | sed -n 1p)"
        fi
        rm -f "$TMP/small/filler"
        $TM send-keys -t rely ' '
        if header_wait '(running|done)' && ! $TM capture-pane -t rely -p | sed -n 1p | grep -q 'log not written'; then
            pass "full disk, dashboard: Space with room again clears it and goes on"
        else
            fail "full disk, dashboard: after Space: $($TM capture-pane -t rely -p | sed -n 1p)"
        fi
        $TM send-keys -t rely q
        tries=0
        while [ ! -s "$TMP/tui.exit" ] && [ $tries -lt 300 ]; do sleep 0.1; tries=$((tries + 1)); done
        rd=$(one_run "$root")
        if [ "$(cat "$TMP/tui.exit" 2>/dev/null)" = 0 ] && metrics_ok "$rd/metrics.csv" &&
            steps_ok "$rd/metrics.csv" "$(grep ',train,' "$rd/metrics.csv" | tail -n 1 | cut -d, -f1)"; then
            pass "full disk, dashboard: q exits 0, metrics.csv whole, no step lost"
        else
            fail "full disk, dashboard: exit $(cat "$TMP/tui.exit" 2>/dev/null), metrics.csv not whole"
        fi
        $TM kill-server >/dev/null 2>&1
        rm -rf "$root"
    else
        say "SKIP full disk, dashboard: no tmux"
    fi
fi

finish
