#!/usr/bin/python3
"""Measures two DPDK programs' latency at the same offered load, in turns.

  latency.py --run DIR SIDE SIDE [--pairs N] [--seconds S] [--settle T]
             [--load F] [--saturation-pairs M]

SIDE is NAME:DUT_PID:GEN_PID:PREFIX: a program measured (its DPDK file
prefix, for telemetry), with benches/latency_probe.c loaded (its
histogram in DIR/NAME.hist), fed by its own benches/latency_gen.c
(rate file DIR/NAME.rate, stats DIR/NAME.gen). The two sides share the cores,
and take turns as benches/alternate.py's do: the side not measured has
both its processes stopped (SIGSTOP).

First, the saturating rate: both sources unpaced, M pairs of turns (3),
each side's forwarding rate (port 1, sent) the median of its turns; the
share of frames its source had refused says whether the program (a
share above 0) or the source (none) set that rate.
Then both sources are paced at F (0.5) times the lower of the two rates,
the same load for both, and N pairs (5) of turns are measured: a turn's
histogram is the difference of two readings S seconds apart. Prints a
line per turn to stderr, then

  saturation NAME_mpps=A NAME_refused=F NAME_mpps=B NAME_refused=G
  latency offered_mpps=R NAME_median_ns=X NAME_p999_ns=Y NAME_p999_min=.. NAME_p999_max=..
      ... (the same for the other side) pairs=N

the percentiles over all of a side's turns together, with the spread of
the turns' own 99.9th percentiles.
"""
import argparse
import array
import os
import signal
import socket
import statistics
import struct
import sys
import time

from dpdk_rate import ask, wait_ports

MAGIC = 0x6C6174656E637931


class Side:
    def __init__(self, spec: str, run: str) -> None:
        self.name, dut, gen, self.prefix = spec.split(":", 3)
        self.dut, self.gen = int(dut), int(gen)
        self.hist = os.path.join(run, self.name + ".hist")
        self.rate_file = os.path.join(run, self.name + ".rate")
        self.gen_stats = os.path.join(run, self.name + ".gen")
        self.sock = wait_ports(self.name, self.prefix)
        deadline = time.time() + 30
        while not (os.path.exists(self.gen_stats) and os.path.exists(self.hist)):
            if time.time() > deadline:
                sys.exit(f"{self.name}: no source or no probe after 30 s")
            time.sleep(0.2)

    def set_rate(self, pps: float) -> None:
        with open(self.rate_file + ".tmp", "w") as f:
            f.write(f"{pps:.0f}\n")
        os.replace(self.rate_file + ".tmp", self.rate_file)

    def stop(self) -> None:
        os.kill(self.gen, signal.SIGSTOP)
        time.sleep(0.05)  # the program drains what was sent
        os.kill(self.dut, signal.SIGSTOP)

    def go(self) -> None:
        os.kill(self.dut, signal.SIGCONT)
        os.kill(self.gen, signal.SIGCONT)

    def reading(self) -> tuple:
        with open(self.hist, "rb") as f:
            data = f.read()
        magic, width, buckets, _hz = struct.unpack_from("<4Q", data)
        if magic != MAGIC:
            sys.exit(f"{self.name}: {self.hist} is not a probe's histogram (was the probe loaded?)")
        counts = array.array("Q")
        counts.frombytes(data[32:32 + 8 * buckets])
        tx = ask(self.sock, "/ethdev/stats,1")["/ethdev/stats"]["opackets"]
        rx = ask(self.sock, "/ethdev/stats,0")["/ethdev/stats"]["ipackets"]
        with open(self.gen_stats, "rb") as f:
            gen = struct.unpack("<2Q", f.read(16))
        return time.monotonic(), width, counts, tx, rx, gen

    def turn(self, settle: float, seconds: float) -> tuple:
        """Runs alone for a turn: (tx Mpps, rx Mpps, the share of frames
        the source had refused, bucket width, counts)."""
        self.go()
        try:
            time.sleep(settle)
            t0, width, c0, tx0, rx0, (sent0, refused0) = self.reading()
            time.sleep(seconds)
            t1, _, c1, tx1, rx1, (sent1, refused1) = self.reading()
        finally:
            self.stop()
        diff = [b - a for a, b in zip(c0, c1)]
        tried = (sent1 - sent0) + (refused1 - refused0)
        refused = (refused1 - refused0) / tried if tried else 0.0
        mpps = lambda a, b: (b - a) / (t1 - t0) / 1e6
        return mpps(tx0, tx1), mpps(rx0, rx1), refused, width, diff


def percentile(counts: list, width: int, q: float) -> float:
    """The q-quantile in ns (a bucket's middle); the last bucket is open."""
    total = sum(counts)
    if total == 0:
        return float("nan")
    want, seen = q * total, 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= want:
            return (i + 0.5) * width
    return len(counts) * width


def main() -> None:
    # A process that stops answering fails the run rather than hangs it.
    socket.setdefaulttimeout(10)
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--saturation-pairs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("--load", type=float, default=0.5)
    a = ap.parse_args()
    if a.pairs < 1 or a.saturation_pairs < 1:
        ap.error("--pairs and --saturation-pairs take at least 1")
    sides = [Side(a.first, a.run), Side(a.second, a.run)]
    for s in sides:
        s.stop()
    try:
        for s in sides:
            s.set_rate(0)
        sat = {s.name: [] for s in sides}
        refused = {s.name: [] for s in sides}
        for k in range(1, a.saturation_pairs + 1):
            for s in (sides if k % 2 else sides[::-1]):
                tx, rx, ref, _, _ = s.turn(a.settle, a.seconds)
                sat[s.name].append(tx)
                refused[s.name].append(ref)
                print(f"# saturation {k} {s.name} tx {tx:.2f} rx {rx:.2f} Mpps, source refused {ref:.3f}",
                      file=sys.stderr, flush=True)
        sat_mpps = {n: statistics.median(v) for n, v in sat.items()}
        offered = a.load * min(sat_mpps.values())
        for s in sides:
            s.set_rate(offered * 1e6)
        pooled = {s.name: None for s in sides}
        p999s = {s.name: [] for s in sides}
        for k in range(1, a.pairs + 1):
            for s in (sides if k % 2 else sides[::-1]):
                tx, rx, _, width, counts = s.turn(a.settle, a.seconds)
                med, p999 = percentile(counts, width, 0.5), percentile(counts, width, 0.999)
                p999s[s.name].append(p999)
                pooled[s.name] = counts if pooled[s.name] is None else [x + y for x, y in zip(pooled[s.name], counts)]
                print(f"# pair {k} {s.name} rx {rx:.2f} tx {tx:.2f} Mpps median {med:.0f} ns "
                      f"p99.9 {p999:.0f} ns frames {sum(counts)}", file=sys.stderr, flush=True)
    finally:
        for s in sides:
            s.go()
    print("saturation " + " ".join(f"{n}_mpps={v:.2f} {n}_refused={statistics.median(refused[n]):.3f}"
                                   for n, v in sat_mpps.items()))
    fields = [f"offered_mpps={offered:.2f}"]
    for s in sides:
        c = pooled[s.name]
        fields += [f"{s.name}_median_ns={percentile(c, width, 0.5):.0f}",
                   f"{s.name}_p999_ns={percentile(c, width, 0.999):.0f}",
                   f"{s.name}_p999_min={min(p999s[s.name]):.0f}",
                   f"{s.name}_p999_max={max(p999s[s.name]):.0f}"]
    print("latency " + " ".join(fields) + f" pairs={a.pairs}")


if __name__ == "__main__":
    main()
