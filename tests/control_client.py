#!/usr/bin/python3
"""control_client.py - a client of nntop's control socket for tests/control.sh.

    control_client.py SOCKET send LINE...      one reply line printed per LINE
    control_client.py SOCKET raw FILE          send FILE's bytes as they are, print every reply
    control_client.py SOCKET silent SECONDS    connect, send nothing, hold the connection
    control_client.py SOCKET half              send half a command, then sleep (to be killed)
    control_client.py SOCKET as-uid UID LINE   drop to UID first, then as send

Standard library only.  Prints "connect: <error>" and exits 3 when the
socket cannot be reached; a closed connection prints "closed".
"""
import os
import socket
import sys
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    try:
        s.connect(path)
    except OSError as e:
        print("connect: %s" % e.strerror)
        sys.exit(3)
    return s


def replies(s, f, count):
    for _ in range(count):
        line = f.readline()
        if not line:
            print("closed")
            return
        print(line.decode("utf-8", "replace").rstrip("\n"))


def main():
    path, mode = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if mode == "as-uid":
        os.setgroups([])
        os.setgid(int(args[0]))
        os.setuid(int(args[0]))
        mode, args = "send", args[1:]
    s = connect(path)
    f = s.makefile("rb")
    if mode == "send":
        for line in args:
            s.sendall(line.encode() + b"\n")
            replies(s, f, 1)
    elif mode == "raw":
        with open(args[0], "rb") as data:
            s.sendall(data.read())
        s.shutdown(socket.SHUT_WR)
        while True:
            line = f.readline()
            if not line:
                break
            print(line.decode("utf-8", "replace").rstrip("\n"))
    elif mode == "silent":
        print("connected", flush=True)
        time.sleep(float(args[0]))
    elif mode == "half":
        s.sendall(b'{"cmd":"pa')
        print("sent half", flush=True)
        time.sleep(600)
    else:
        sys.exit("unknown mode " + mode)


main()
