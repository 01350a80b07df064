#!/usr/bin/env python3
"""Many UDP flows at a steady rate, and a receiver that says how long
each went missing: how long a failover took, as the flows saw it.

    flows.py send DST PORT FLOWS RATE SECONDS   FLOWS sockets (source ports
                                                40000 and up), RATE datagrams
                                                a second each; prints JSON:
                                                ticks sent, and the longest
                                                pause between two ticks (the
                                                sender's own stall, if any)
    flows.py receive PORT SECONDS              prints JSON: flows seen,
                                                datagrams, and each flow's
                                                longest gap in seconds
"""
import json
import socket
import sys
import time

mode = sys.argv[1]
if mode == "send":
    dst, port, flows, rate, seconds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    socks = []
    for i in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 40000 + i))
        socks.append(s)
    start, tick, last, pause = time.time(), 0, None, 0.0
    while time.time() - start < seconds:
        now = time.time()
        if last is not None:
            pause = max(pause, now - last)
        last = now
        for i, s in enumerate(socks):
            try:
                s.sendto(b"%d %d" % (i, tick), (dst, port))
            except OSError:
                pass  # no route for a moment: the flow misses this tick
        tick += 1
        ahead = tick / rate - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(json.dumps({"ticks": tick, "longest_pause": round(pause, 3)}))
elif mode == "receive":
    port, seconds = int(sys.argv[2]), float(sys.argv[3])
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("0.0.0.0", port))
    r.settimeout(0.2)
    last, gap, n = {}, {}, 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            b, _ = r.recvfrom(100)
        except socket.timeout:
            continue
        now, flow = time.time(), int(b.split()[0])
        n += 1
        if flow in last:
            gap[flow] = max(gap.get(flow, 0.0), now - last[flow])
        last[flow] = now
    print(json.dumps({"flows": len(last), "datagrams": n, "gaps": {str(f): round(g, 3) for f, g in sorted(gap.items())}}))
else:
    sys.exit(__doc__)
