#!/usr/bin/env python3
"""The far end of a tunnel, in user space, for kernels without the module.

Some kernels (this lab's CI among them) have no gre, ipip, sit or ip6tnl
module. This endpoint stands in for them in a peer namespace: a TUN
device carries the inner packets to and from the kernel's own TCP/IP, and
raw IP sockets carry the outer ones, so the kernel still does everything
but the wrapping:

  tunnel_peer.py TYPE LOCAL REMOTE DEV MTU [KEY]

TYPE is gre, ipip, sit or ip6tnl; LOCAL and REMOTE the outer addresses
(this end's and the gateway's); DEV the TUN device to make (the caller
gives it addresses and routes once it exists); KEY the GRE key. Outer
packets that need it are fragmented by the kernel (DF clear), as a
kernel tunnel does. Runs until killed.
"""

import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
GRE, IPIP, IPV6 = 47, 4, 41
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT = 23, 0


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    kind, local, remote, dev, mtu = sys.argv[1:6]
    key = int(sys.argv[6]) if len(sys.argv) > 6 else None
    v6 = ":" in remote
    family = socket.AF_INET6 if v6 else socket.AF_INET
    protocols = {"gre": [GRE], "ipip": [IPIP], "sit": [IPV6], "ip6tnl": [IPIP, IPV6]}[kind]
    socks = {}
    for p in protocols:
        s = socket.socket(family, socket.SOCK_RAW, p)
        s.bind((local, 0))
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT)
        else:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        socks[p] = s
    fd = tun(dev)
    os.system(f"ip link set {dev} mtu {mtu} up")
    remote_bin = socket.inet_pton(family, remote)
    by_fd = {s.fileno(): (p, s) for p, s in socks.items()}
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([fd, *by_fd], [], [])
        for r in ready:
            if r == fd:
                inner = os.read(fd, 65535)
                version = inner[0] >> 4
                if kind == "gre":
                    flags = 0x2000 if key is not None else 0
                    head = struct.pack("!HH", flags, 0x0800 if version == 4 else 0x86DD)
                    if key is not None:
                        head += struct.pack("!I", key)
                    socks[GRE].sendto(head + inner, (remote, 0))
                else:
                    p = IPIP if version == 4 else IPV6
                    if p in socks:
                        socks[p].sendto(inner, (remote, 0))
                continue
            p, s = by_fd[r]
            data, addr = s.recvfrom(65535)
            if v6:
                if socket.inet_pton(family, addr[0]) != remote_bin:
                    continue
            else:
                if data[12:16] != remote_bin:
                    continue
                data = data[(data[0] & 15) * 4:]
            if p == GRE:
                flags, proto = struct.unpack("!HH", data[:4])
                at = 4 + (4 if flags & 0x8000 else 0)
                got = None
                if flags & 0x2000:
                    (got,) = struct.unpack("!I", data[at:at + 4])
                    at += 4
                if flags & 0x1000:
                    at += 4
                if got != key or flags & 0x4F87 or proto not in (0x0800, 0x86DD):
                    continue
                data = data[at:]
            os.write(fd, data)


if __name__ == "__main__":
    main()
