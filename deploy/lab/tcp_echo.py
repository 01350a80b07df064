#!/usr/bin/env python3
"""A TCP echo client for the lab: N connections at once to DST:PORT, each
sending SIZE bytes (a pattern of its own) while reading what comes back,
then half-closing and reading to the end. Prints `ok SECONDS` if every
connection got back exactly what it sent, else `FAIL` and what each got.

    tcp_echo.py DST PORT SIZE CONNECTIONS
"""
import socket
import sys
import threading
import time

dst, port, size, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
results = [None] * conns


def pattern(k):
    block = bytes((i * 7 + k) % 251 for i in range(251 * 4))
    return (block * (size // len(block) + 1))[:size]


def one(k):
    data = pattern(k)
    got = bytearray()
    try:
        s = socket.create_connection((dst, port), timeout=60) if family == socket.AF_INET else None
        if s is None:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(60)
            s.connect((dst, port))

        def reader():
            while True:
                b = s.recv(1 << 16)
                if not b:
                    return
                got.extend(b)

        t = threading.Thread(target=reader)
        t.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        t.join()
        s.close()
        results[k] = "ok" if bytes(got) == data else "got %d of %d bytes, differing" % (len(got), size)
    except Exception as e:  # report, do not hang the others
        results[k] = "%s after %d bytes" % (e, len(got))


t0 = time.time()
threads = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if all(r == "ok" for r in results):
    print("ok %.2f" % (time.time() - t0))
else:
    print("FAIL", [r for r in results if r != "ok"][:5])
