#!/usr/bin/python3
"""Writes a pcap of 64-byte UDP benchmark frames (Python's standard library only).

  gen_pcap.py OUT.pcap [--v6] [--flows N] [--size BYTES] [--dst-port-index P]
                       [--gre SRC,DST] [--vxlan SRC,DST,VNI] [--dsts FILE]

Frame i of N is flow i: its own source address (10.x.y.z or
2001:db8::i+1) and UDP source port. Destinations are the ranges DPDK's
l3fwd routes to port P: 198.18.P.0/24 (RFC 2544) and 2001:200:0:P::/64
(RFC 5180), so gatewayd and l3fwd forward the same file alike; with
--dsts, IPv4 flows take the file's addresses in turn instead (the
fib_1m scenario spreads them over a full table's prefixes). With --gre, each
IPv4 packet comes wrapped in GRE (RFC 2784) from SRC to DST: what a
tunnel's far end sends the gateway to unwrap. With --vxlan, each whole
frame comes wrapped in VXLAN (RFC 7348) from VTEP SRC to VTEP DST.
"""
import argparse
import struct

ETH_DST = bytes.fromhex("020000000001")
ETH_SRC = bytes.fromhex("0200000000aa")
UDP = 17


def ones_complement(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_header(i: int, length: int) -> bytes:
    sport, dport = 1024 + i % 60000, 9
    return struct.pack("!HHHH", sport, dport, length, 0) + bytes(length - 8)


def ipv4_frame(i: int, size: int, port: int, dsts=None) -> bytes:
    # Frame size counts the 4-byte FCS, as RFC 2544's sizes do.
    length = max(size - 4 - 14 - 20, 8)
    src = bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, (i & 0xFF) or 1])
    dst = dsts[i % len(dsts)] if dsts else bytes([198, 18, port, i % 200 + 1])
    head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + length, i & 0xFFFF, 0, 64, UDP, 0) + src + dst
    head = head[:10] + struct.pack("!H", ones_complement(head)) + head[12:]
    # UDP checksum 0: none (RFC 768).
    return ETH_DST + ETH_SRC + b"\x08\x00" + head + udp_header(i, length)


def ipv6_frame(i: int, size: int, port: int, dsts=None) -> bytes:
    length = max(size - 4 - 14 - 40, 8)
    src = bytes.fromhex("20010db8") + bytes(8) + struct.pack("!I", i + 1)
    dst = bytes.fromhex("20010200") + struct.pack("!I", port) + bytes(4) + struct.pack("!I", i % 200 + 1)
    udp = udp_header(i, length)
    pseudo = src + dst + struct.pack("!I", length) + bytes(3) + bytes([UDP])
    udp = udp[:6] + struct.pack("!H", ones_complement(pseudo + udp) or 0xFFFF) + udp[8:]
    head = struct.pack("!IHBB", 6 << 28, length, UDP, 64) + src + dst
    return ETH_DST + ETH_SRC + b"\x86\xdd" + head + udp


def gre_wrapped(frame: bytes, src: str, dst: str) -> bytes:
    inner = frame[14:]
    payload = struct.pack("!HH", 0, 0x0800) + inner
    head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(payload), 0, 0, 64, 47, 0)
    head += bytes(int(x) for x in src.split(".")) + bytes(int(x) for x in dst.split("."))
    head = head[:10] + struct.pack("!H", ones_complement(head)) + head[12:]
    return frame[:14] + head + payload


def vxlan_wrapped(frame: bytes, src: str, dst: str, vni: int) -> bytes:
    payload = struct.pack("!HHHH", 49152 + len(frame) % 1000, 4789, 16 + len(frame), 0)
    payload += struct.pack("!BBHI", 0x08, 0, 0, vni << 8) + frame
    head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(payload), 0, 0, 64, UDP, 0)
    head += bytes(int(x) for x in src.split(".")) + bytes(int(x) for x in dst.split("."))
    head = head[:10] + struct.pack("!H", ones_complement(head)) + head[12:]
    return frame[:14] + head + payload


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--v6", action="store_true")
    ap.add_argument("--flows", type=int, default=1024)
    ap.add_argument("--size", type=int, default=64, help="frame size with FCS (RFC 2544)")
    ap.add_argument("--dst-port-index", type=int, default=1)
    ap.add_argument("--gre", help="SRC,DST: wrap each IPv4 packet in GRE between them")
    ap.add_argument("--vxlan", help="SRC,DST,VNI: wrap each frame in VXLAN between them")
    ap.add_argument("--dsts", help="FILE: IPv4 destinations, one a line, taken in turn by the flows")
    a = ap.parse_args()
    dsts = None
    if a.dsts:
        dsts = [bytes(int(x) for x in l.split(".")) for l in open(a.dsts).read().split()]
    make = ipv6_frame if a.v6 else ipv4_frame
    with open(a.out, "wb") as f:
        # pcap global header: magic, v2.4, UTC, accuracy 0, snaplen, Ethernet.
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(a.flows):
            fr = make(i, a.size, a.dst_port_index, dsts)
            if a.gre:
                fr = gre_wrapped(fr, *a.gre.split(","))
            if a.vxlan:
                src, dst, vni = a.vxlan.split(",")
                fr = vxlan_wrapped(fr, src, dst, int(vni))
            f.write(struct.pack("<IIII", 0, i, len(fr), len(fr)) + fr)


if __name__ == "__main__":
    main()
