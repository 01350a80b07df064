#!/usr/bin/python3
"""Counts the instructions a DPDK program executes per forwarded frame.

  instructions.py NAME PREFIX [--seconds S] [--out FILE] -- COMMAND...

(COMMAND's output goes to FILE.log; FILE defaults to
/tmp/callgrind-NAME.out.)

Runs COMMAND under valgrind's callgrind with counting off, waits for its
ports (the telemetry socket of file prefix PREFIX), counts for S seconds
of forwarding (default 20; valgrind runs a program some thirty times
slower), and takes the frames sent in that window from the counted
calls of rte_pktmbuf_free (the null sink frees each frame it takes; in
a build that shows no such calls, from the ports' counters). Prints

  instructions NAME frames=N per_frame=T fast_path_per_frame=F

T: every instruction of the process in the window, drivers included;
F: those in the fast path (Router::process_burst and what it calls).

An instruction count does not depend on the host's load, where a rate on
a shared VM moves by a third within a minute: two builds of the same
code path compare exactly. It is not a time: a cache miss or a long
dependency chain costs time without instructions (docs/benchmarks.md).
Needs root and valgrind.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from dpdk_rate import ask, wait_ports


def sent(sock: str) -> int:
    """Frames every port of the process has sent so far."""
    ports = ask(sock, "/ethdev/list")["/ethdev/list"]
    return sum(ask(sock, f"/ethdev/stats,{p}")["/ethdev/stats"]["opackets"] for p in ports)


def annotate(out: str, *flags: str) -> str:
    return subprocess.run(["callgrind_annotate", *flags, out], capture_output=True, text=True, check=True).stdout


def program_total(out: str) -> int:
    """Every instruction in the dump."""
    m = re.search(r"^\s*([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", annotate(out), re.M)
    return int(m.group(1).replace(",", "")) if m else 0


def inclusive(out: str, pattern: str) -> int:
    """Instructions of the function matching `pattern`, with its callees
    (the largest such entry)."""
    best = 0
    for line in annotate(out, "--inclusive=yes").splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if m and re.search(pattern, m.group(2)):
            best = max(best, int(m.group(1).replace(",", "")))
    return best


def frees(out: str) -> int:
    """Calls of rte_pktmbuf_free in the dump: one a frame the null sink
    takes (0 if the build has none to count, DPDK linked shared)."""
    text = annotate(out, "--tree=calling")
    return sum(int(m.group(1).replace(",", "")) for m in re.finditer(r">\s+\S*:rte_pktmbuf_free \(([\d,]+)x\)", text))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("prefix")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--out", default=None)
    argv = sys.argv[1:]
    if "--" not in argv:
        ap.error("the command goes after --")
    at = argv.index("--")
    a, cmd = ap.parse_args(argv[:at]), argv[at + 1:]
    if not cmd:
        ap.error("no command after --")
    out = a.out or f"/tmp/callgrind-{a.name}.out"
    for f in (out, out + ".1"):
        if os.path.exists(f):
            os.remove(f)
    vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    # (A directory a killed run left would answer with its dead socket.)
    run_dir = f"/var/run/dpdk/{a.prefix}"
    shutil.rmtree(run_dir, ignore_errors=True)
    log = open(out + ".log", "w")
    p = subprocess.Popen(vg + cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        sock = wait_ports(a.name, a.prefix, wait=300)
        time.sleep(5)  # the first bursts fill the pools and caches
        def switch(state: str) -> float:
            """Turns counting on or off; the frames sent by then (the
            switch lands between two readings of the counters: their
            midpoint)."""
            before = sent(sock)
            subprocess.run(["callgrind_control", "-i", state, str(p.pid)], check=True, capture_output=True)
            return (before + sent(sock)) / 2

        # Frames sent while counting: the sink's frees if the build shows
        # them (below), else the ports' counters.
        start = switch("on")
        time.sleep(a.seconds)
        frames = switch("off") - start
        subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(run_dir, ignore_errors=True)
    dump = out + ".1" if os.path.exists(out + ".1") else out
    if frames <= 0:
        sys.exit(f"{a.name}: no frames sent while counting")
    frames = frees(dump) or frames
    total = program_total(dump)
    fast = inclusive(dump, r"Router<B,N>>::process_burst \[")
    print(f"instructions {a.name} frames={frames:.0f} per_frame={total / frames:.1f} "
          f"fast_path_per_frame={fast / frames:.1f}")


if __name__ == "__main__":
    main()
