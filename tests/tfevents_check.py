#!/usr/bin/env python3
"""tfevents_check.py - read nntop's TensorBoard event file with a reader
that shares no code with nntop: protobuf's own decoder (the message
definition tests/tfevents.proto compiled by protoc here and now) and a
CRC-32C written below from the polynomial.

    tfevents_check.py [--histograms] [--same-as OTHER_FILE] RUN_DIR EVENT_FILE...

Checks every record's two masked CRCs and framing, the file_version
record, that every metrics.csv row is one event at its step with the
row's values (as float32, NaN for NaN) and wall time (the file's start,
its file_version record's wall_time, + wall_s), that every finite update_ratio/grad_norm/weight_norm of
layers.csv is there at its step, and with --histograms that each
snapshot has a well-formed histogram per layer and per tensor.  With
--same-as, OTHER_FILE must hold the same scalar points (tag, step, value)
and the same histograms (tag, step, range, buckets).
Several EVENT_FILEs (a resumed run has one per segment) are read as one.
Prints one line per failure and exits 1 if there was any.
"""
import csv
import importlib
import math
import os
import struct
import subprocess
import sys
import tempfile

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("tfevents_check: FAIL " + msg)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def load_pb2():
    here = os.path.dirname(os.path.abspath(__file__))
    out = tempfile.mkdtemp(prefix="tfe-pb-")
    subprocess.run(["protoc", "--proto_path=" + here, "--python_out=" + out,
                    os.path.join(here, "tfevents.proto")], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tfevents_pb2")


def read_records(path):
    with open(path, "rb") as f:
        blob = f.read()
    pos, records = 0, []
    while pos < len(blob):
        if len(blob) - pos < 12:
            fail("%s: %d stray bytes at offset %d" % (path, len(blob) - pos, pos))
            break
        head = blob[pos:pos + 8]
        (n,) = struct.unpack("<Q", head)
        (hcrc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if hcrc != masked(head):
            fail("%s: record at offset %d: length crc %08x, expected %08x"
                 % (path, pos, hcrc, masked(head)))
            break
        data = blob[pos + 12:pos + 12 + n]
        if len(data) != n or len(blob) < pos + 16 + n:
            fail("%s: record at offset %d cut short" % (path, pos))
            break
        (dcrc,) = struct.unpack("<I", blob[pos + 12 + n:pos + 16 + n])
        if dcrc != masked(data):
            fail("%s: record at offset %d: data crc %08x, expected %08x"
                 % (path, pos, dcrc, masked(data)))
            break
        records.append(data)
        pos += 16 + n
    return records


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def num(s):
    return float("nan") if s in ("", "nan") else float(s)


def decode(pb2, path):
    """[(wall_time - file start, step, tag, value-or-histo)], file_version."""
    points, version, start = [], None, 0.0
    for i, data in enumerate(read_records(path)):
        ev = pb2.Event()
        ev.ParseFromString(data)
        if i == 0:
            version = ev.file_version if ev.WhichOneof("what") == "file_version" else None
            start = ev.wall_time
            continue
        if ev.WhichOneof("what") != "summary":
            fail("%s: record %d is not a summary" % (path, i))
            continue
        for v in ev.summary.value:
            kind = v.WhichOneof("value")
            points.append((ev.wall_time - start, ev.step, v.tag,
                           v.simple_value if kind == "simple_value" else v.histo))
    return points, version


def main(argv):
    args = argv[1:]
    want_hist = "--histograms" in args
    if want_hist:
        args.remove("--histograms")
    other = None
    if "--same-as" in args:
        i = args.index("--same-as")
        other = args[i + 1]
        del args[i:i + 2]
    run_dir, paths = args[0], args[1:]
    if not paths:
        fail("no event file")
    pb2 = load_pb2()
    points = []
    for path in sorted(paths):
        p, version = decode(pb2, path)
        points += p
        if version != "brain.Event:2":
            fail("%s: first record: file_version %r, expected 'brain.Event:2'" % (path, version))
    scalars = {}
    hists = {}
    for wall, step, tag, v in points:
        if isinstance(v, float):
            scalars.setdefault((tag, step), []).append((wall, v))
        else:
            hists.setdefault((tag, step), []).append(v)

    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    nchecked = 0
    for r in rows:
        kind, step = r["kind"], int(r["step"])
        cols = ["loss", "accuracy"]
        if kind == "train":
            cols += ["reg_loss", "lr", "grad_norm", "clipped", "samples_per_s"]
        for c in cols:
            key = ("%s/%s" % (kind, c), step)
            got = scalars.get(key)
            if not got:
                fail("metrics.csv step %d: no %s" % (step, key[0]))
                continue
            wall, v = got.pop(0)
            if not same(v, f32(num(r[c]))):
                fail("step %d %s: event %r, metrics.csv %r" % (step, key[0], v, r[c]))
            if abs(wall - float(r["wall_s"])) > 2e-3:
                fail("step %d %s: wall_time is start + %.4f, wall_s is %s"
                     % (step, key[0], wall, r["wall_s"]))
            nchecked += 1

    snapshot_layers, snapshot_tensors = {}, {}
    with open(os.path.join(run_dir, "layers.csv")) as f:
        for r in csv.DictReader(f):
            step = int(r["step"])
            if r["tensor"]:
                snapshot_tensors.setdefault(step, []).append(r["tensor"])
                for col, name in (("update_ratio", "update_ratio"), ("g_norm", "grad_norm"),
                                  ("w_norm", "weight_norm")):
                    x = num(r[col])
                    if not math.isfinite(x):
                        continue
                    got = scalars.get(("%s/%s" % (name, r["tensor"]), step))
                    if not got:
                        fail("layers.csv step %d: no %s/%s" % (step, name, r["tensor"]))
                        continue
                    _, v = got.pop(0)
                    if not same(v, f32(x)):
                        fail("step %d %s/%s: event %r, layers.csv %r"
                             % (step, name, r["tensor"], v, r[col]))
                    nchecked += 1
            else:
                snapshot_layers.setdefault(step, []).append("%s.%s" % (r["layer"], r["name"]))
                for col in ("dead_frac", "sat_frac"):
                    x = num(r[col])
                    if math.isfinite(x) and x >= 0:
                        got = scalars.get(("%s/%s.%s" % (col, r["layer"], r["name"]), step))
                        if not got or not same(got.pop(0)[1], f32(x)):
                            fail("step %d %s of layer %s: missing or different"
                                 % (step, col, r["layer"]))

    for key, left in scalars.items():
        if left:
            fail("%s at step %d: %d point(s) that no CSV row accounts for"
                 % (key[0], key[1], len(left)))

    nhist = 0
    if want_hist:
        if not snapshot_layers:
            fail("layers.csv has no snapshots")
        expect = []
        for step, names in snapshot_layers.items():
            expect += [("activations/" + n, step) for n in names]
        for step, names in snapshot_tensors.items():
            expect += [("weights/" + n, step) for n in names]
            expect += [("gradients/" + n, step) for n in names]
        for key in expect:
            got = hists.get(key)
            if not got:
                fail("no histogram %s at step %d" % key)
                continue
            h = got.pop(0)
            nhist += 1
            if len(h.bucket) != len(h.bucket_limit) or not h.bucket:
                fail("%s step %d: %d buckets, %d limits"
                     % (key[0], key[1], len(h.bucket), len(h.bucket_limit)))
            if sum(h.bucket) != h.num or h.num <= 0:
                fail("%s step %d: buckets sum to %g, num %g" % (key[0], key[1],
                                                                sum(h.bucket), h.num))
            lims = list(h.bucket_limit)
            if lims != sorted(lims) or not (h.min <= lims[0] and lims[-1] <= h.max):
                fail("%s step %d: limits not ordered within [min, max]" % key)
        for key, left in hists.items():
            if left:
                fail("histogram %s at step %d not expected" % key)
    elif hists:
        fail("%d histograms where none were expected" % len(hists))

    if other is not None:
        other_points, _ = decode(pb2, other)
        a = sorted((t, s, v) for _, s, t, v in points if isinstance(v, float))
        b = sorted((t, s, v) for _, s, t, v in other_points if isinstance(v, float))
        if len(a) != len(b) or any(x[:2] != y[:2] or not same(x[2], y[2])
                                   for x, y in zip(a, b)):
            fail("%s and %s hold different scalars (%d and %d points)"
                 % (" ".join(paths), other, len(a), len(b)))
        # and the same histograms: tag, step, range, bucket limits and counts
        def hkey(t, s, h):
            return (t, s, h.min, h.max, h.num, tuple(h.bucket_limit), tuple(h.bucket))
        ha = sorted(hkey(t, s, v) for _, s, t, v in points if not isinstance(v, float))
        hb = sorted(hkey(t, s, v) for _, s, t, v in other_points if not isinstance(v, float))
        if ha != hb:
            fail("%s and %s hold different histograms (%d and %d)"
                 % (" ".join(paths), other, len(ha), len(hb)))

    print("tfevents_check: %d points, %d values checked against the CSVs, %d histograms"
          % (len(points), nchecked, nhist))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
