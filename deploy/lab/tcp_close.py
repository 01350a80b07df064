#!/usr/bin/env python3
"""Closing moves for the lab's TCP tests, against the gateway's services.

    tcp_close.py halfclose DST      echo (port 7): send 100 kB, half-close,
                                    read everything back through a small
                                    receive window (so the echo is still
                                    flowing when the FIN arrives); prints
                                    `ok N`
    tcp_close.py serverfirst DST P  HTTP (port 80) from local port P with
                                    `Connection: close`: the server closes
                                    first; prints the status code
    tcp_close.py reopen DST P       the same again at once from port P
                                    (the server's end is in TIME-WAIT);
                                    prints the status code and seconds
"""
import socket
import sys
import threading
import time

mode, dst = sys.argv[1], sys.argv[2]
family = socket.AF_INET6 if ":" in dst else socket.AF_INET


def connect(port, local_port=0, rcvbuf=0):
    s = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(10)
    if local_port:
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", local_port))
    s.connect((dst, port))
    return s


def read_all(s):
    got = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            return bytes(got)
        got.extend(b)


def http_close(local_port):
    s = connect(80, local_port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    reply = read_all(s)
    s.close()
    return reply.split(b" ")[1].decode() if reply.startswith(b"HTTP/1.1 ") else "none"


if mode == "halfclose":
    data = bytes(i % 251 for i in range(100_000))
    # The window the client offers stays a few kB, so the gateway cannot
    # echo faster than we read: data is still queued on its side when
    # our FIN gets there, whatever the machine's speed.
    s = connect(7, rcvbuf=4096)
    back = []
    reader = threading.Thread(target=lambda: back.append(read_all(s)))
    reader.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reader.join()
    s.close()
    back = back[0] if back else b""
    print("ok %d" % len(back) if back == data else "FAIL %d" % len(back))
elif mode == "serverfirst":
    print(http_close(int(sys.argv[3])))
elif mode == "reopen":
    start = time.monotonic()
    code = http_close(int(sys.argv[3]))
    print("%s %.2f" % (code, time.monotonic() - start))
