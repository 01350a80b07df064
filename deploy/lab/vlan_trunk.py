#!/usr/bin/env python3
"""An 802.1Q trunk for a lab host whose kernel has no VLAN devices
(CONFIG_VLAN_8021Q unset, as on some CI kernels).

    vlan_trunk.py TRUNK VID=IFACE [VID=IFACE ...]

Frames tagged VID on TRUNK leave untagged on IFACE; frames from IFACE
leave TRUNK tagged VID. IFACE is one end of a veth pair whose other end is
the host's interface for that VLAN, so the host sees what a Linux VLAN
device would give it. Frames with other tags, or untagged ones, are
dropped. Runs until killed.

The kernel removes a received tag before AF_PACKET sees the frame and
reports it in PACKET_AUXDATA; that is where the VID is read from.
"""
import select
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 1 << 4
AUXDATA = struct.Struct("IIIHHHH")  # struct tpacket_auxdata


def open_raw(ifname, auxdata=False):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    if auxdata:
        s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((ifname, 0))
    return s


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    trunk = open_raw(sys.argv[1], auxdata=True)
    by_vid, by_sock = {}, {}
    for arg in sys.argv[2:]:
        vid, ifname = arg.split("=", 1)
        s = open_raw(ifname)
        by_vid[int(vid)] = s
        by_sock[s] = int(vid)
    socks = [trunk] + list(by_sock)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            if s is trunk:
                frame, anc, _, addr = trunk.recvmsg(65536, socket.CMSG_SPACE(AUXDATA.size))
                if addr[2] == PACKET_OUTGOING:
                    continue
                vid = None
                for level, kind, data in anc:
                    if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= AUXDATA.size:
                        status, _, _, _, _, tci, _ = AUXDATA.unpack_from(data)
                        if status & TP_STATUS_VLAN_VALID:
                            vid = tci & 0x0FFF
                if vid is None and frame[12:14] == b"\x81\x00":  # tag left in the data
                    vid = struct.unpack_from("!H", frame, 14)[0] & 0x0FFF
                    frame = frame[:12] + frame[16:]
                out = by_vid.get(vid)
                if out is not None:
                    out.send(frame)
            else:
                frame, addr = s.recvfrom(65536)
                if addr[2] == PACKET_OUTGOING:
                    continue
                tag = struct.pack("!HH", 0x8100, by_sock[s])
                trunk.send(frame[:12] + tag + frame[12:])


if __name__ == "__main__":
    main()
