#!/usr/bin/env python3
"""Hostile fragments for the gateway's reassembly (the lab's attack suite).

Sends raw Ethernet frames on IFACE (an AF_PACKET socket: the kernel adds
nothing) to the gateway's MAC, from SRC to DST, IPv4 or IPv6 by the
addresses' form:

  fragments.py IFACE GW_MAC SRC DST CASE [SECONDS]

CASE is one of
  overlap    a first fragment, then one that overlaps it (RFC 5722)
  tiny       fragments with MF set and 7 or 0 bytes of data
  duplicate  an echo request whose first fragment comes twice (it is
             answered once: duplicates are ignored)
  oversize   a last fragment that reaches past 65,535 bytes
  chain      (IPv6) a first fragment that stops inside its header chain
  many       one datagram in 100 fragments of 8 bytes
  flood      first fragments that never complete, each its own
             datagram, for SECONDS (default 3)
"""

import os
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Sender:
    def __init__(self, iface, gw_mac, src, dst):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((iface, 0))
        mine = open(f"/sys/class/net/{iface}/address").read().strip()
        self.v6 = ":" in dst
        ethertype = 0x86DD if self.v6 else 0x0800
        self.eth = bytes.fromhex(gw_mac.replace(":", "")) + bytes.fromhex(mine.replace(":", ""))
        self.eth += struct.pack("!H", ethertype)
        family = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.src, self.dst = socket.inet_pton(family, src), socket.inet_pton(family, dst)

    def fragment(self, ident, offset, more, data, proto=1):
        """One fragment: `data` at byte `offset` of the datagram's payload."""
        if self.v6:
            nh = 58 if proto == 1 else proto
            fh = struct.pack("!BBHI", nh, 0, offset | int(more), ident)
            ip = struct.pack("!IHBB", 6 << 28, len(fh) + len(data), 44, 64) + self.src + self.dst
            frame = ip + fh + data
        else:
            flags = (0x2000 if more else 0) | (offset >> 3)
            h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident & 0xFFFF, flags, 64, proto, 0,
                            self.src, self.dst)
            frame = h[:10] + struct.pack("!H", csum(h)) + h[12:] + data
        self.sock.send(self.eth + frame)

    def echo(self, length, ident=0x4242):
        """An echo request of `length` bytes, checksum filled."""
        kind = 128 if self.v6 else 8
        msg = bytearray(struct.pack("!BBHHH", kind, 0, 0, ident & 0xFFFF, 1) + bytes(i % 251 for i in range(length - 8)))
        if self.v6:
            pseudo = self.src + self.dst + struct.pack("!IxxxB", len(msg), 58)
            c = csum(pseudo + bytes(msg))
        else:
            c = csum(bytes(msg))
        msg[2:4] = struct.pack("!H", c)
        return bytes(msg)


def main():
    iface, gw_mac, src, dst, case = sys.argv[1:6]
    seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 3.0
    s = Sender(iface, gw_mac, src, dst)
    base = int.from_bytes(os.urandom(2), "big") << 8
    msg = s.echo(3000)
    if case == "overlap":
        s.fragment(base + 1, 0, True, msg[:1448])
        s.fragment(base + 1, 1440, True, msg[1440:2888])
        s.fragment(base + 1, 2888, False, msg[2888:])
    elif case == "tiny":
        s.fragment(base + 2, 0, True, msg[:7])
        s.fragment(base + 3, 0, True, b"")
    elif case == "duplicate":
        s.fragment(base + 4, 0, True, msg[:1448])
        s.fragment(base + 4, 0, True, msg[:1448])
        s.fragment(base + 4, 1448, True, msg[1448:2896])
        s.fragment(base + 4, 2896, False, msg[2896:])
    elif case == "oversize":
        s.fragment(base + 5, 65528, False, msg[:100])
    elif case == "chain":
        # Destination Options that say 24 bytes, of which 8 came.
        s.fragment(base + 6, 0, True, bytes([58, 2, 1, 4, 0, 0, 0, 0]), proto=60)
    elif case == "many":
        for i in range(100):
            s.fragment(base + 7, i * 8, True, msg[i * 8:i * 8 + 8])
    elif case == "flood":
        end, i = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            for _ in range(100):
                s.fragment(base + 1000 + i, 0, True, msg[:1448])
                i += 1
    else:
        sys.exit(f"unknown case {case}")


if __name__ == "__main__":
    main()
