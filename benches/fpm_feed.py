#!/usr/bin/env python3
"""Streams a full routing table to gatewayd's FPM listener, as zebra's
dplane_fpm_nl would: RTM_NEWROUTE messages (BGP, main table, one gateway)
in FPM frames. The IPv4 prefixes follow the length mix of the Internet
table (most /24, a few thousand /8-/16, some /25-/32), the IPv6 ones
mostly /48 and /32-/44. Prints how long the sending took, then keeps
the connection open for HOLD seconds (closing would start the grace
time).

    fpm_feed.py HOST PORT V4_ROUTES V6_ROUTES [HOLD] [--churn RATE SECONDS]
    fpm_feed.py --dsts N FILE V4_ROUTES

--churn: once the table is sent and SIGUSR1 comes, withdraws a random
IPv4 prefix of it and announces it again, RATE changes a second (each
message is one) in 10 ms steps, for SECONDS; prints 'churn sent=N
seconds=T' when done.
--dsts: writes N addresses to FILE, one in each of N prefixes of the
table (the same table for the same V4_ROUTES), and sends nothing.
"""
import random
import signal
import socket
import struct
import sys
import time

signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
args = sys.argv[1:]
churn = None
if "--churn" in args:
    i = args.index("--churn")
    churn = (float(args[i + 1]), float(args[i + 2]))
    del args[i:i + 3]
dsts = None
if args and args[0] == "--dsts":
    dsts = (int(args[1]), args[2])
    args = ["", "0", args[3], "0"]
host, port, n4, n6 = args[0], int(args[1]), int(args[2]), int(args[3])
hold = float(args[4]) if len(args) > 4 else 600

RTM_NEWROUTE, RTM_DELROUTE, NLM_F_REQUEST, NLM_F_CREATE, NLM_F_REPLACE = 24, 25, 1, 0x400, 0x100
RTA_DST, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 5, 6, 15
RTPROT_BGP, RTN_UNICAST, RT_TABLE_MAIN = 186, 1, 254

# Share of each prefix length (the rest of the table: /24).
V4_MIX = {8: 0.00002, 10: 0.0001, 12: 0.0005, 13: 0.001, 14: 0.002, 15: 0.003, 16: 0.012, 17: 0.01,
          18: 0.02, 19: 0.03, 20: 0.05, 21: 0.05, 22: 0.1, 23: 0.09, 25: 0.004, 26: 0.004, 27: 0.003,
          28: 0.002, 29: 0.002, 30: 0.001, 32: 0.001}
V6_MIX = {29: 0.01, 32: 0.12, 36: 0.04, 40: 0.06, 44: 0.07, 46: 0.03, 47: 0.02, 56: 0.05, 64: 0.05}


def prefixes(n, bits, mix, top_bits, lo, hi, rest_len):
    """n distinct prefixes whose first top_bits bits lie in [lo, hi), by the mix."""
    rng = random.Random(7)
    want = {l: int(n * share) for l, share in mix.items()}
    want[rest_len] = n - sum(want.values())
    out = []
    for length, count in want.items():
        shift = length - top_bits
        seen = set()
        while len(seen) < count:
            seen.add(rng.randrange(lo << shift, hi << shift))
        out.extend((v << (bits - length), length) for v in seen)
    rng.shuffle(out)
    return out


def attr(kind, value):
    return struct.pack("=HH", 4 + len(value), kind) + value


def frame(family, dst, length, gateway, seq, kind=RTM_NEWROUTE):
    rtm = struct.pack("=BBBBBBBBI", family, length, 0, 0, RT_TABLE_MAIN, RTPROT_BGP, 0, RTN_UNICAST, 0)
    attrs = attr(RTA_DST, dst) + (attr(RTA_GATEWAY, gateway) if gateway else b"") \
        + attr(RTA_PRIORITY, struct.pack("=I", 20)) + attr(RTA_TABLE, struct.pack("=I", RT_TABLE_MAIN))
    body = rtm + attrs
    flags = NLM_F_REQUEST | (NLM_F_CREATE | NLM_F_REPLACE if kind == RTM_NEWROUTE else 0)
    nl = struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body
    return struct.pack("!BBH", 1, 1, 4 + len(nl)) + nl


gw4 = socket.inet_pton(socket.AF_INET, "203.0.113.2")
gw6 = socket.inet_pton(socket.AF_INET6, "2001:db8:1::2")
chunks, seq = [], 0
# IPv4 in 11.0.0.0-126.255.255.255 (clear of the lab's own subnets), IPv6 in 2400::/6.
table4 = prefixes(n4, 32, V4_MIX, 8, 11, 127, 24)
if dsts:
    rng = random.Random(11)
    with open(dsts[1], "w") as f:
        for net, length in rng.sample(table4, dsts[0]):
            host_bits = (1 << (32 - length)) - 1
            addr = net | (rng.randrange(1, host_bits) if host_bits > 1 else 0)
            f.write(socket.inet_ntoa(addr.to_bytes(4, "big")) + "\n")
    sys.exit(0)
for net, length in table4:
    seq += 1
    chunks.append(frame(socket.AF_INET, net.to_bytes(4, "big"), length, gw4, seq))
for net, length in prefixes(n6, 128, V6_MIX, 16, 0x2400, 0x2800, 48):
    seq += 1
    chunks.append(frame(socket.AF_INET6, net.to_bytes(16, "big"), length, gw6, seq))
data = b"".join(chunks)
print(f"routes={seq}", flush=True)
s = socket.create_connection((host, port))
t0 = time.time()
s.sendall(data)
print(f"sent {seq} routes ({len(data)} bytes) in {time.time() - t0:.2f} s", flush=True)
if churn:
    # The churn starts on SIGUSR1 (once the table is in).
    signal.sigwait([signal.SIGUSR1])
    rate, seconds = churn
    # Withdraw and announce again, each of a random prefix of the table.
    rng = random.Random(13)
    step, sent, t0 = 0.01, 0, time.time()
    while time.time() - t0 < seconds:
        due = int((time.time() - t0 + step) * rate) - sent
        batch = []
        for _ in range(max(due, 0) // 2):
            net, length = table4[rng.randrange(len(table4))]
            dst = net.to_bytes(4, "big")
            seq += 2
            batch.append(frame(socket.AF_INET, dst, length, None, seq - 1, RTM_DELROUTE))
            batch.append(frame(socket.AF_INET, dst, length, gw4, seq))
        s.sendall(b"".join(batch))
        sent += len(batch)
        time.sleep(max(0.0, t0 + sent / rate - time.time()))
    print(f"churn sent={sent} seconds={time.time() - t0:.2f}", flush=True)
time.sleep(hold)
