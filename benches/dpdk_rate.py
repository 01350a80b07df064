#!/usr/bin/python3
"""Reads a running DPDK process's port rates over its telemetry socket.

  dpdk_rate.py FILE_PREFIX [--warmup S] [--seconds S]

Takes two snapshots of /ethdev/stats for every port, S seconds apart, and
prints 'port N rx_mpps X tx_mpps Y' per port, then 'tx_mpps_total Z'.
Any DPDK process started with --file-prefix FILE_PREFIX has the socket
(telemetry is on by default in the EAL).
"""
import argparse
import glob
import json
import socket
import sys
import time


def ask(path: str, command: str) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.connect(path)
        s.recv(16384)  # the greeting
        s.send(command.encode())
        return json.loads(s.recv(1 << 20).decode())


def find_socket(prefix: str, wait: float) -> str:
    deadline = time.time() + wait
    while True:
        found = glob.glob(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
        if found:
            return found[0]
        if time.time() > deadline:
            sys.exit(f"no telemetry socket for file prefix {prefix!r}")
        time.sleep(0.2)


def wait_ports(name: str, prefix: str, wait: float = 30) -> str:
    """The telemetry socket of the DPDK process with file prefix `prefix`,
    once its ports are up (the socket appears before they are); exits
    naming `name` after `wait` seconds."""
    sock = find_socket(prefix, wait)
    deadline = time.time() + wait
    while not ask(sock, "/ethdev/list")["/ethdev/list"]:
        if time.time() > deadline:
            sys.exit(f"{name}: no ports after {wait:.0f} s")
        time.sleep(0.2)
    return sock


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=0)
    a = ap.parse_args()
    path = find_socket(a.prefix, 30)
    time.sleep(a.warmup)
    ports = ask(path, "/ethdev/list")["/ethdev/list"]

    def snapshot() -> tuple:
        return time.time(), {p: ask(path, f"/ethdev/stats,{p}")["/ethdev/stats"] for p in ports}

    t0, before = snapshot()
    time.sleep(a.seconds)
    t1, after = snapshot()
    total = 0.0
    for p in ports:
        rx = (after[p]["ipackets"] - before[p]["ipackets"]) / (t1 - t0) / 1e6
        tx = (after[p]["opackets"] - before[p]["opackets"]) / (t1 - t0) / 1e6
        total += tx
        print(f"port {p} rx_mpps {rx:.2f} tx_mpps {tx:.2f}")
    print(f"tx_mpps_total {total:.2f}")


if __name__ == "__main__":
    main()
