#!/usr/bin/env python3
"""Streams a full routing table to gatewayd's FPM listener, as zebra's
dplane_fpm_nl would: RTM_NEWROUTE messages (BGP, main table, one gateway)
in FPM frames. The IPv4 prefixes follow the length mix of the Internet
table (most /24, a few thousand /8-/16, some /25-/32), the IPv6 ones
mostly /48 and /32-/44. Prints how long the sending took, then keeps
the connection open for HOLD seconds (closing would start the grace
time).

    fpm_feed.py HOST PORT V4_ROUTES V6_ROUTES [HOLD]
"""
import random
import socket
import struct
import sys
import time

host, port, n4, n6 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
hold = float(sys.argv[5]) if len(sys.argv) > 5 else 600

RTM_NEWROUTE, NLM_F_REQUEST, NLM_F_CREATE, NLM_F_REPLACE = 24, 1, 0x400, 0x100
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


def frame(family, dst, length, gateway, seq):
    rtm = struct.pack("=BBBBBBBBI", family, length, 0, 0, RT_TABLE_MAIN, RTPROT_BGP, 0, RTN_UNICAST, 0)
    attrs = attr(RTA_DST, dst) + attr(RTA_GATEWAY, gateway) + attr(RTA_PRIORITY, struct.pack("=I", 20)) \
        + attr(RTA_TABLE, struct.pack("=I", RT_TABLE_MAIN))
    body = rtm + attrs
    nl = struct.pack("=IHHII", 16 + len(body), RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, seq, 0) + body
    return struct.pack("!BBH", 1, 1, 4 + len(nl)) + nl


gw4 = socket.inet_pton(socket.AF_INET, "203.0.113.2")
gw6 = socket.inet_pton(socket.AF_INET6, "2001:db8:1::2")
chunks, seq = [], 0
# IPv4 in 11.0.0.0-126.255.255.255 (clear of the lab's own subnets), IPv6 in 2400::/6.
for net, length in prefixes(n4, 32, V4_MIX, 8, 11, 127, 24):
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
time.sleep(hold)
