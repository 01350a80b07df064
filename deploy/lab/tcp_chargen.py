#!/usr/bin/env python3
"""A chargen (RFC 864) client for the lab: connects to DST:PORT, sends a
line (which the server drops), reads SIZE bytes and checks them against
RFC 864's rotating 72-character lines, then closes. Prints `ok SECONDS`
if every byte is right, else `FAIL` and where it differs.

    tcp_chargen.py DST PORT SIZE
"""
import socket
import sys
import time

dst, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in dst else socket.AF_INET

printable = bytes(range(0x20, 0x7F))
period = b"".join((printable * 2)[i : i + 72] + b"\r\n" for i in range(95))
expected = (period * (size // len(period) + 1))[:size]

start = time.monotonic()
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(30)
s.connect((dst, port))
s.sendall(b"ignored by chargen\r\n")
got = bytearray()
while len(got) < size:
    b = s.recv(min(1 << 16, size - len(got)))
    if not b:
        break
    got.extend(b)
s.close()
if bytes(got) == expected:
    print("ok %.2f" % (time.monotonic() - start))
else:
    at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), size))
    print("FAIL: %d of %d bytes, first difference at %d" % (len(got), size, at))
