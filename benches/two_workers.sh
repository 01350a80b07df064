#!/usr/bin/env bash
# benches/run.sh two_workers: how the rate scales from one worker to two,
# against l3fwd on the same cores. Every instance is fed the pcap of the
# ipv4_route scenario (1,024 flows), once per RX queue (net_pcap's
# infinite_rx, one queue per worker or lcore: both queues see every
# flow), and sends to a null sink. Four pairings are measured in turns
# (benches/alternate.py, N pairs each):
#   gatewayd with two workers (cores 0 and 1) against l3fwd with two
#     lcores on the same cores: IPv4, and NAT44 (source NAT of 10/8 to
#     a pool of 64 addresses; each flow reaches both workers, and the
#     one that does not own its session hands the frame to the one that
#     does, so half the frames cross between workers);
#   gatewayd with two workers against one (core 1), for IPv4 and NAT44;
#   l3fwd with two lcores against one.
#
# Prints, medians of the pairs with their spread:
#   two_workers_ipv4 gatewayd_mpps=X l3fwd_mpps=Y ratio=Z min=A max=B pairs=N
#   two_workers_nat44 gatewayd_mpps=X l3fwd_mpps=Y ratio=Z min=A max=B pairs=N
#   scaling gatewayd_ipv4=F gatewayd_nat44=G l3fwd=H (two against one)
# Environment: GATEWAYD (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
pairs=5; seconds=2
pairs_seconds two_workers "$@"
need_root two_workers DPDK
[ "$(nproc)" -ge 2 ] || { echo "two_workers: needs two cores" >&2; exit 1; }
gatewayd_build
pcap="$out/ip-64b-1024flows.pcap"
/usr/bin/python3 "$here/gen_pcap.py" "$pcap" --flows 1024 --size 64 --dst-port-index 1

# config NAME CORES API_PORT [nat]
config() {
  local rx="rx_pcap=$pcap"
  [ "$2" = "0, 1" ] && rx="rx_pcap=$pcap,rx_pcap=$pcap"
  config_head "gw-$1-$$" "$2" "127.0.0.1:$3"
  routed_v4 "net_pcap0,$rx,infinite_rx=1"
  if [ "${4:-}" = nat ]; then
    cat <<YAML
nat:
  rules:
    - { inside: "10.0.0.0/8", outside_interface: out, pool: ["100.64.0.0/26"] }
YAML
  fi
}

trap stop_procs EXIT
# Each instance is started, waited for, and stopped until its turns;
# spec NAME is then "NAME:PID:PREFIX".
declare -A spec
gw() { # gw NAME CORES API_PORT [nat]
  config "$@" >"$out/two_workers_$1.yaml"
  "$gatewayd" --config "$out/two_workers_$1.yaml" >"$out/two_workers_$1.log" 2>&1 &
  local pid=$!
  track "$pid" "gw-$1-$$"
  (cd "$here" && /usr/bin/python3 alternate.py --ready "$1:$pid:gw-$1-$$") \
    || { cat "$out/two_workers_$1.log" >&2; exit 1; }
  kill -STOP "$pid"
  spec[$1]="$1:$pid:gw-$1-$$"
}
l3() { # l3 NAME CORES
  local l pid prefix
  l="$(L3FWD_WORK="$out/l3fwd" bash "$here/l3fwd.sh" --core "$2" --pcap "$pcap" --hold)"
  read -r _ pid prefix <<<"$l"
  track "$pid" "$prefix"
  (cd "$here" && /usr/bin/python3 alternate.py --ready "$1:$pid:$prefix") || { cat "$out/l3fwd/l3fwd.log" >&2; exit 1; }
  kill -STOP "$pid"
  spec[$1]="$1:$pid:$prefix"
}
gw gw2 "0, 1" 18091
gw gw1 "1" 18092
gw nat2 "0, 1" 18093 nat
gw nat1 "1" 18094 nat
l3 l3fwd2 "0,1"
l3 l3fwd1 "1"

: >"$out/two_workers_pairs.txt"
turns() { # turns A B: "A B RATE_A RATE_B" per pair
  (cd "$here" && /usr/bin/python3 alternate.py "${spec[$1]}" "${spec[$2]}" --pairs "$pairs" --seconds "$seconds") \
    | awk -v a="$1" -v b="$2" '/^pair /{print a, b, $4, $6}' | tee -a "$out/two_workers_pairs.txt" >&2
}
for p in "gw2 l3fwd2" "nat2 l3fwd2" "gw2 gw1" "nat2 nat1" "l3fwd2 l3fwd1"; do
  # shellcheck disable=SC2086
  turns $p
  for name in $p; do pid="${spec[$name]#*:}"; kill -STOP "${pid%%:*}" 2>/dev/null || true; done
done
/usr/bin/python3 - "$out/two_workers_pairs.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = statistics.median
def pairing(a, b):
    r = [(float(x[2]), float(x[3])) for x in rows if x[0] == a and x[1] == b]
    ratios = [p / q for p, q in r]
    return med([p for p, _ in r]), med([q for _, q in r]), med(ratios), min(ratios), max(ratios), len(r)
for name, a in (("two_workers_ipv4", "gw2"), ("two_workers_nat44", "nat2")):
    g, l, z, lo, hi, n = pairing(a, "l3fwd2")
    print(f"{name} gatewayd_mpps={g:.2f} l3fwd_mpps={l:.2f} ratio={z:.2f} min={lo:.2f} max={hi:.2f} pairs={n}")
s = {a: pairing(a, b)[2] for a, b in (("gw2", "gw1"), ("nat2", "nat1"), ("l3fwd2", "l3fwd1"))}
print(f"scaling gatewayd_ipv4={s['gw2']:.2f} gatewayd_nat44={s['nat2']:.2f} l3fwd={s['l3fwd2']:.2f}")
PY
