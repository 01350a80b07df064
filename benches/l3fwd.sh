#!/usr/bin/env bash
# DPDK's l3fwd example, built from the distribution's sources (dpdk-doc
# ships them) and measured on one core the way run.sh measures gatewayd:
# frames replayed from a pcap on port 0, routed by LPM to port 1, a null
# sink. The reference every routed scenario's ratio is taken against.
#
#   benches/l3fwd.sh --pcap FILE [--seconds S] [--core C]
#   benches/l3fwd.sh --pcap FILE [--core C] --hold
#   benches/l3fwd.sh --pcap FILE --core A,B ...   (two lcores: each port
#       gets a queue per lcore, the pcap replayed on each RX queue)
#   benches/l3fwd.sh --rx VDEV ...   (port 0 is VDEV instead of the pcap:
#       run.sh latency feeds it through a memif)
#   L3FWD_PRELOAD=LIB benches/l3fwd.sh ...   (l3fwd runs with LIB
#       preloaded: run.sh latency's probe)
#
# LPM routes both families, so IPv4 and IPv6 files run the same way.
#
# Last line: 'l3fwd_mpps X'. With --hold, l3fwd is left running and the
# line is 'l3fwd_pid PID PREFIX' (run.sh measures it in turns with
# gatewayd, then stops it: SIGINT, and /var/run/dpdk/PREFIX removed).
# Needs root (DPDK runs with --no-huge).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds=5; core=1; pcap=""; hold=""; rx_vdev=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --core) core="$2"; shift 2 ;;
    --pcap) pcap="$2"; shift 2 ;;
    --hold) hold=1; shift ;;
    --rx) rx_vdev="$2"; shift 2 ;;
    *) echo "l3fwd.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$pcap$rx_vdev" ] || { echo "l3fwd.sh: --pcap FILE or --rx VDEV is needed" >&2; exit 2; }
work="${L3FWD_WORK:-$here/out/l3fwd}"
bin="$work/l3fwd/build/l3fwd"
if [ ! -x "$bin" ]; then
  src=/usr/share/dpdk/examples
  [ -d "$src/l3fwd" ] || { echo "l3fwd.sh: $src/l3fwd missing (apt-get install dpdk-doc)" >&2; exit 1; }
  rm -rf "$work"; mkdir -p "$work"
  cp -r "$src/l3fwd" "$src/common" "$work/"
  # Virtual ports offer no checksum offloads: ask only for what a port has.
  sed -i 's/^\(\t\t\)if (dev_info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)/\1local_port_conf.rxmode.offloads \&= dev_info.rx_offload_capa;\n&/' "$work/l3fwd/main.c"
  sed -i 's/rxq_conf.offloads = port_conf.rxmode.offloads;/rxq_conf.offloads = port_conf.rxmode.offloads \& dev_info.rx_offload_capa;/' "$work/l3fwd/main.c"
  make -s -C "$work/l3fwd" >/dev/null
fi
prefix="l3fwd-bench-$$"
rx="rx_pcap=$pcap"; config="(0,0,$core),(1,0,$core)"
if [ "${core#*,}" != "$core" ]; then
  a="${core%,*}"; b="${core#*,}"
  rx="rx_pcap=$pcap,rx_pcap=$pcap"; config="(0,0,$a),(0,1,$b),(1,0,$a),(1,1,$b)"
fi
rx_vdev="${rx_vdev:-net_pcap0,$rx,infinite_rx=1}"
env ${L3FWD_PRELOAD:+LD_PRELOAD="$L3FWD_PRELOAD"} "$bin" -l "$core" --no-huge --no-pci -m 1024 --file-prefix "$prefix" \
  --vdev "$rx_vdev" --vdev net_null0,no-rx=1 \
  -- -p 0x3 -P --config="$config" --lookup=lpm --parse-ptype \
  >"$work/l3fwd.log" 2>&1 &
pid=$!
if [ -n "$hold" ]; then
  echo "l3fwd_pid $pid $prefix"
  exit 0
fi
trap 'kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf /var/run/dpdk/$prefix' EXIT
rates="$(/usr/bin/python3 "$here/dpdk_rate.py" "$prefix" --warmup 2 --seconds "$seconds")" \
  || { cat "$work/l3fwd.log" >&2; exit 1; }
echo "$rates" | grep '^port'
echo "l3fwd_mpps $(echo "$rates" | awk '/^port 1 /{print $6}')"
