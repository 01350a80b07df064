#!/usr/bin/python3
"""Measures two running DPDK processes that share a core, in turns.

  alternate.py NAME:PID:PREFIX NAME:PID:PREFIX [--pairs N] [--seconds S]
               [--settle T] [--port P]
  alternate.py --ready NAME:PID:PREFIX


Both processes poll on the same core. Each is stopped (SIGSTOP) while the
other one runs, so the two rates of a pair are taken seconds apart
rather than a minute apart: on a shared VM the host's load moves a
process's rate by a third within half a minute (sampled every 2 s:
17.2 to 10.8 Mpps in one run), which one pair of whole runs cannot tell
from a difference between the programs.

A turn: SIGCONT, T seconds to settle (caches, the driver's ring), the
port's counters read over DPDK telemetry, S seconds, read again,
SIGSTOP. Pair k runs the first process first when k is odd and the
second first when k is even, so a steady drift favours neither. Prints
'pair K NAME RATE NAME RATE' per pair (Mpps sent on port P, default 1)
and 'rx NAME RATE' (the first process's rate received on port 0, in its
last turn), and leaves both processes running. With --ready, only waits
until the process's ports are up (so that it can be stopped before its
first turn).
"""
import argparse
import os
import signal
import socket
import sys
import time

from dpdk_rate import ask, wait_ports


class Proc:
    def __init__(self, spec: str) -> None:
        self.name, pid, self.prefix = spec.split(":", 2)
        self.pid = int(pid)
        # (It may have been stopped already: its telemetry must answer.)
        os.kill(self.pid, signal.SIGCONT)
        self.sock = wait_ports(self.name, self.prefix)

    def counters(self, port: int) -> tuple:
        s = ask(self.sock, f"/ethdev/stats,{port}")["/ethdev/stats"]
        return s["opackets"], s["ipackets"]

    def turn(self, port: int, settle: float, seconds: float) -> tuple:
        """Runs alone for a turn; its (tx, port-0 rx) rates in Mpps."""
        os.kill(self.pid, signal.SIGCONT)
        try:
            time.sleep(settle)
            t0, (tx0, _), (_, rx0) = time.monotonic(), self.counters(port), self.counters(0)
            time.sleep(seconds)
            t1, (tx1, _), (_, rx1) = time.monotonic(), self.counters(port), self.counters(0)
        finally:
            os.kill(self.pid, signal.SIGSTOP)
        return (tx1 - tx0) / (t1 - t0) / 1e6, (rx1 - rx0) / (t1 - t0) / 1e6


def main() -> None:
    # A process that stops answering fails the run rather than hangs it.
    socket.setdefaulttimeout(10)
    if len(sys.argv) == 3 and sys.argv[1] == "--ready":
        Proc(sys.argv[2])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--port", type=int, default=1)
    a = ap.parse_args()
    procs = [Proc(a.first), Proc(a.second)]
    for p in procs:
        os.kill(p.pid, signal.SIGSTOP)
    rx = 0.0
    try:
        for k in range(1, a.pairs + 1):
            order = procs if k % 2 else procs[::-1]
            rates = {}
            for p in order:
                rates[p.name], r = p.turn(a.port, a.settle, a.seconds)
                if p is procs[0]:
                    rx = r
            line = " ".join(f"{p.name} {rates[p.name]:.2f}" for p in procs)
            print(f"pair {k} {line}", flush=True)
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGCONT)
    print(f"rx {procs[0].name} {rx:.2f}")


if __name__ == "__main__":
    main()
