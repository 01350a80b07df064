#!/usr/bin/env python3
"""Opens many TCP connections at once and holds them.

    tcp_many.py DST PORT N SRC[,SRC...]

Connects N sockets to DST:PORT from the source addresses in turn (the
kernel picks each port at connect time, IP_BIND_ADDRESS_NO_PORT, so each
address gives the whole ip_local_port_range), at most 2,000 handshakes
in flight, and sends one byte on each. The sockets are spread over child
processes, each within the open-file limit a process has. Prints
`connected K failed F` once every attempt has ended, then holds the
connections open until stdin closes, and closes each (a FIN, then
waiting for the far end's; as many at a time as handshakes, for at most
two minutes); prints `closed C reset R open O`: closed both ways, by a
reset, and still waiting.
"""
import os
import resource
import selectors
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24
IN_FLIGHT = 2000

dst, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sources = sys.argv[4].split(",")
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
per_child = max(1, min(20000, (hard if hard != resource.RLIM_INFINITY else 1 << 20) - 100))
children = (n + per_child - 1) // per_child


def connect_all(count: int, first: int, in_flight: int) -> tuple:
    """Opens `count` connections; the held sockets and the failures."""
    sel = selectors.DefaultSelector()
    held, failed, started = [], 0, 0
    deadline = time.monotonic() + 120
    while (started < count or sel.get_map()) and time.monotonic() < deadline:
        while started < count and len(sel.get_map()) < in_flight:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((sources[(first + started) % len(sources)], 0))
            s.setblocking(False)
            started += 1
            try:
                s.connect((dst, port))
            except BlockingIOError:
                pass
            except OSError:
                failed += 1
                s.close()
                continue
            sel.register(s, selectors.EVENT_WRITE)
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            sel.unregister(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                # A byte on each: a SYN cookie's lost ACK is made good
                # by the data segment's.
                s.send(b"x")
                held.append(s)
            else:
                failed += 1
                s.close()
    for key in list(sel.get_map().values()):
        failed += 1
        key.fileobj.close()
    return held, failed + count - started


# Each child reports on its own pipe, then waits for the hold pipe to
# close.
hold_r, hold_w = os.pipe()
reports = []
for c in range(children):
    count = min(per_child, n - c * per_child)
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        os.close(hold_w)
        in_flight = max(1, IN_FLIGHT // children)
        held, failed = connect_all(count, c * per_child, in_flight)
        os.write(w, b"%d %d\n" % (len(held), failed))
        os.read(hold_r, 1)
        # Closed from our side first, each waiting for the far end's FIN
        # (retransmitted if lost, where a RST is not), as many at a time
        # as handshakes were: all at once, the kernel's backlog and the
        # capture ring drop most FINs, and its backed-off retransmissions
        # take minutes.
        sel = selectors.DefaultSelector()
        reset, pending = 0, list(reversed(held))
        deadline = time.monotonic() + 120
        while (pending or sel.get_map()) and time.monotonic() < deadline:
            while pending and len(sel.get_map()) < in_flight:
                s = pending.pop()
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    reset += 1
                    s.close()
                    continue
                sel.register(s, selectors.EVENT_READ)
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                try:
                    more = s.recv(64)
                except OSError:
                    more, reset = b"", reset + 1
                if not more:
                    sel.unregister(s)
                    s.close()
        open_ = len(sel.get_map()) + len(pending)
        os.write(w, b"%d %d %d\n" % (len(held) - reset - open_, reset, open_))
        os._exit(0)
    os.close(w)
    reports.append(r)
os.close(hold_r)
connected = failed = 0
for r in reports:
    k, f = os.read(r, 64).split()
    connected, failed = connected + int(k), failed + int(f)
print("connected %d failed %d" % (connected, failed), flush=True)
sys.stdin.read()
os.close(hold_w)
closed = reset = still_open = 0
for r in reports:
    c, x, o = (int(v) for v in os.read(r, 64).split())
    closed, reset, still_open = closed + c, reset + x, still_open + o
for _ in range(children):
    os.waitpid(-1, 0)
print("closed %d reset %d open %d" % (closed, reset, still_open), flush=True)
