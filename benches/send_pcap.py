#!/usr/bin/env python3
"""Sends every frame of a pcap file (classic format, Ethernet) out of a
Linux interface once, as fast as one AF_PACKET socket goes, and prints
how many it sent.

    benches/send_pcap.py FILE IFACE

The nat44 benchmark fills gatewayd's session table with it through a
veth pair whose other end is an idle af_packet port, so the fill costs
the measured worker nothing once it is over (a pcap port at its file's
end is read again at every poll).
"""
import socket
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise SystemExit(f"{path}: not a pcap file")
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            order = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            order = ">"
        else:
            raise SystemExit(f"{path}: not a pcap file (magic {magic:#x})")
        link = struct.unpack(order + "I", head[20:24])[0]
        if link != 1:
            raise SystemExit(f"{path}: link type {link}, not Ethernet")
        rec = struct.Struct(order + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            _, _, caplen, _ = rec.unpack(h)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield data


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: send_pcap.py FILE IFACE")
    path, iface = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sent = 0
    for frame in frames(path):
        s.send(frame)
        sent += 1
    print(sent)


if __name__ == "__main__":
    main()
