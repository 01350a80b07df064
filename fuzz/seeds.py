#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/): frames
shaped as the lab's peers send them, for the paths pipeline.yaml has,
and the lab's configs. Run from the repository root: python3 fuzz/seeds.py
"""
import os
import struct

GW = [bytes([2, 0, 0, 0, 0, i]) for i in range(1, 5)]
HOST = bytes([2, 0, 0, 0, 0, 2])
WANP = bytes([2, 0, 0, 0, 1, 2])
BCAST = b"\xff" * 6


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def a4(s):
    return bytes(int(x) for x in s.split("."))


def a6(s):
    import ipaddress
    return ipaddress.IPv6Address(s).packed


def eth(dst, src, ethertype, payload, vlan=None):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, l4, ttl=64, ident=1, flags=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, flags, ttl, proto, 0, a4(src), a4(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + l4


def with_options(ip, opts):
    """IPv4 packet `ip` with `opts` (a multiple of 4 bytes) after its header."""
    h = bytearray(ip[:20] + opts)
    h[0] = 0x40 | len(h) // 4
    h[2:4] = struct.pack("!H", len(ip) + len(opts))
    h[10:12] = b"\0\0"
    h[10:12] = struct.pack("!H", csum(bytes(h)))
    return bytes(h) + ip[20:]


def l4sum(src, dst, proto, l4, at):
    pseudo = a4(src) + a4(dst) + struct.pack("!BBH", 0, proto, len(l4))
    return l4[:at] + struct.pack("!H", csum(pseudo + l4)) + l4[at + 2:]


def udp(src, sport, dst, dport, payload=b"hello"):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return ipv4(src, dst, 17, l4sum(src, dst, 17, u, 6))


def tcp(src, sport, dst, dport, flags=0x02):
    t = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 64240, 0, 0)
    return ipv4(src, dst, 6, l4sum(src, dst, 6, t, 16))


def echo(src, dst, ttl=64, size=8):
    m = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"x" * size
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ipv4(src, dst, 1, m, ttl=ttl)


def icmp4_error(src, dst, kind, code, rest, quote):
    m = struct.pack("!BBHI", kind, code, 0, rest) + quote
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    return ipv4(src, dst, 1, m)


def gre(key, ethertype, inner):
    return struct.pack("!HHI", 0x2000, ethertype, key) + inner


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, a4(spa), tha, a4(tpa))


def ipv6(src, dst, nh, payload, hop=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, hop, a6(src), a6(dst)) + payload


def icmp6(src, dst, m, hop=255):
    pseudo = a6(src) + a6(dst) + struct.pack("!II", len(m), 58)
    m = m[:2] + struct.pack("!H", csum(pseudo + m)) + m[4:]
    return ipv6(src, dst, 58, m, hop)


def record(port, step, frame):
    return struct.pack("!BBH", port, step, len(frame)) + frame


LAN, WAN, TRUNK, H3 = 0, 1, 2, 3
lan = lambda ip: eth(GW[0], HOST, 0x0800, ip)
wan = lambda ip: eth(GW[1], WANP, 0x0800, ip)

pipeline = {
    "arp_and_echo_to_the_gateway": [
        record(LAN, 0, eth(BCAST, HOST, 0x0806, arp(1, HOST, "10.0.1.2", b"\0" * 6, "10.0.1.1"))),
        record(LAN, 1, lan(echo("10.0.1.2", "10.0.1.1"))),
    ],
    "nat_out_and_back": [
        record(LAN, 0, lan(udp("10.0.1.2", 5000, "198.51.100.7", 53))),
        record(LAN, 0, lan(echo("10.0.1.2", "198.51.100.7"))),
        record(WAN, 1, wan(udp("198.51.100.7", 53, "203.0.113.20", 5000))),
        record(WAN, 250, wan(udp("198.51.100.7", 53, "203.0.113.20", 5000))),
    ],
    "forward_and_static": [
        record(WAN, 0, wan(tcp("198.51.100.9", 40000, "203.0.113.20", 8080))),
        record(WAN, 0, wan(udp("198.51.100.9", 1234, "203.0.113.30", 53))),
        record(LAN, 1, lan(tcp("10.0.1.2", 80, "198.51.100.9", 40000, 0x12))),
    ],
    "services_and_errors": [
        record(LAN, 0, lan(tcp("10.0.1.2", 33000, "10.0.1.1", 80))),
        record(LAN, 0, lan(udp("10.0.1.2", 33001, "10.0.1.1", 7))),
        record(LAN, 0, lan(echo("10.0.1.2", "198.51.100.7", ttl=1))),
        record(LAN, 0, lan(echo("10.0.1.2", "198.51.100.7", size=1420))),
        record(LAN, 0, lan(echo("10.0.1.2", "192.0.2.1"))),
        record(LAN, 0, lan(echo("10.0.1.2", "100.64.0.1"))),
        record(LAN, 0, lan(echo("10.0.1.2", "10.0.1.77"))),
    ],
    "fragments_to_the_gateway": [
        record(LAN, 0, lan(ipv4("10.0.1.2", "10.0.1.1", 1, echo("10.0.1.2", "10.0.1.1", size=40)[20:36], ident=9, flags=0x2000))),
        record(LAN, 0, lan(ipv4("10.0.1.2", "10.0.1.1", 1, echo("10.0.1.2", "10.0.1.1", size=40)[36:], ident=9, flags=2))),
    ],
    "ipv4_options": [
        record(LAN, 0, lan(with_options(udp("10.0.1.2", 5000, "198.51.100.7", 53), bytes([7, 11, 4] + [0] * 9)))),
        record(LAN, 0, lan(with_options(echo("10.0.1.2", "10.0.1.1"), bytes([68, 12, 5, 1] + [0] * 8)))),
        record(LAN, 0, lan(with_options(echo("10.0.1.2", "198.51.100.7"), bytes([131, 7, 4, 10, 0, 1, 9, 0])))),
    ],
    "ipv6_nd_and_echo": [
        record(LAN, 0, eth(b"\x33\x33\xff\0\0\x01", HOST, 0x86DD, icmp6("fd00:1::2", "ff02::1:ff00:1",
               struct.pack("!BBHI16s", 135, 0, 0, 0, a6("fd00:1::1")) + b"\x01\x01" + HOST))),
        record(LAN, 0, eth(GW[0], HOST, 0x86DD, icmp6("fd00:1::2", "fd00:1::1", struct.pack("!BBHHH", 128, 0, 0, 1, 1) + b"ping", 64))),
        record(LAN, 0, eth(GW[0], HOST, 0x86DD, icmp6("fd00:1::2", "2001:db8:9::1", struct.pack("!BBHHH", 128, 0, 0, 1, 2), 64))),
    ],
    "punt_both_ways": [
        record(LAN, 0, lan(tcp("10.0.1.2", 40000, "10.0.1.1", 179))),
        record(LAN, 0, eth(b"\x01\x00\x5e\0\0\x05", HOST, 0x0800, ipv4("10.0.1.2", "224.0.0.5", 89, b"\x02\x01\x00\x2c"))),
        record(LAN | 4, 0, eth(BCAST, GW[0], 0x0806, arp(1, GW[0], "10.0.1.1", b"\0" * 6, "10.0.1.2"))),
        record(LAN | 4, 0, eth(HOST, GW[0], 0x0800, tcp("10.0.1.1", 179, "10.0.1.2", 40000, 0x10))),
        record(LAN, 1, lan(tcp("10.0.1.2", 40000, "10.0.1.1", 179, 0x10))),
    ],
    "tunnels_both_ways_and_their_errors": [
        record(LAN, 0, lan(udp("10.0.1.2", 5000, "198.18.0.5", 53))),
        record(WAN, 0, wan(ipv4("203.0.113.2", "203.0.113.1", 47, gre(7, 0x0800, udp("172.16.0.2", 53, "10.0.1.2", 5000))))),
        record(WAN, 0, wan(ipv4("203.0.113.2", "203.0.113.1", 4, udp("172.16.1.2", 53, "10.0.1.2", 5001)))),
        record(WAN, 1, wan(icmp4_error("203.0.113.2", "203.0.113.1", 3, 4, 1300,
               ipv4("203.0.113.1", "203.0.113.2", 47, gre(7, 0x0800, udp("10.0.1.2", 5000, "198.18.0.5", 53, b"x" * 1300)))[:48]))),
        record(WAN, 1, wan(icmp4_error("203.0.113.2", "203.0.113.1", 3, 1, 0,
               ipv4("203.0.113.1", "203.0.113.2", 47, gre(7, 0x0800, udp("10.0.1.2", 5000, "198.18.0.5", 53)))))),
        record(WAN, 1, wan(icmp4_error("203.0.113.2", "203.0.113.1", 11, 0, 0,
               ipv4("203.0.113.1", "203.0.113.2", 4, udp("10.0.1.2", 5001, "172.16.1.2", 53))))),
    ],
    "bridge_and_vlans": [
        record(H3, 0, eth(BCAST, bytes([2, 1, 0, 0, 0, 3]), 0x0806, arp(1, bytes([2, 1, 0, 0, 0, 3]), "10.0.10.3", b"\0" * 6, "10.0.10.1"))),
        record(TRUNK, 0, eth(bytes([2, 1, 0, 0, 0, 3]), bytes([2, 1, 0, 0, 0, 4]), 0x88B5, b"\xab" * 46, vlan=100)),
        record(TRUNK, 0, eth(GW[2], bytes([2, 1, 0, 0, 0, 4]), 0x0800, echo("10.0.200.2", "10.0.200.1"), vlan=200)),
    ],
}

wire = {
    "arp": bytes([1]) + arp(1, HOST, "10.0.1.2", b"\0" * 6, "10.0.1.1"),
    "ipv4": bytes([2]) + udp("10.0.1.2", 1, "10.0.1.1", 2),
    "ipv4_options": bytes([3]) + bytes([7, 7, 4, 0, 0, 0, 0, 1]),
    "ipv4_timestamp": bytes([3]) + bytes([68, 12, 5, 3, 192, 0, 2, 1, 0, 0, 0, 0, 7, 3, 4, 0]),
    "ipv6": bytes([4]) + ipv6("fd00:1::2", "fd00:1::1", 59, b""),
    "icmpv4": bytes([5]) + echo("10.0.1.2", "10.0.1.1")[20:],
    "tcp_options": bytes([7]) + bytes([2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0]),
    "gre": bytes([10]) + struct.pack("!HH", 0x2000, 0x0800) + b"\0\0\0\x2a",
    "vxlan": bytes([11]) + struct.pack("!II", 0x08000000, 100 << 8),
}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
for name, recs in pipeline.items():
    open(os.path.join(root, "pipeline", name), "wb").write(bytes([0]) + b"".join(recs))
for name, b in wire.items():
    open(os.path.join(root, "wire", name), "wb").write(b)
lab = os.path.join(os.path.dirname(root), "..", "deploy", "lab")
for f in sorted(os.listdir(lab)):
    if f.endswith(".yaml"):
        open(os.path.join(root, "config", f), "wb").write(b"\0" + open(os.path.join(lab, f), "rb").read())
open(os.path.join(root, "config", "pipeline.yaml"), "wb").write(b"\0" + open(os.path.join(root, "..", "pipeline.yaml"), "rb").read())
print("seeds written to", root)
