#!/usr/bin/env bash
# benches/run.sh latency: how long a frame spends inside gatewayd, and
# inside l3fwd, at the same offered load: half the lower of their two
# saturating rates.
#
# Each program runs one worker (lcore) on core 1, routes the frames of
# the ipv4_route scenario (1,024 flows, 64 bytes) to a null sink, and
# takes them from a memif whose other end is its own paced source,
# benches/latency_gen.c, on core 0. Both have benches/latency_probe.c
# preloaded: an RX callback stamps each frame with its burst's TSC, a TX
# callback counts the time to its send in a histogram; the same code in
# both programs. benches/latency.py measures the saturating rates (both
# sources unpaced), paces both sources at half the lower one, and takes
# the histograms in turns (the side not measured is stopped).
#
# Prints:
#   saturation gatewayd_mpps=A gatewayd_refused=F l3fwd_mpps=B l3fwd_refused=G
#       (refused: the share of frames the source could not send, above
#       0 when the program, not the source, set the rate)
#   latency offered_mpps=R gatewayd_median_ns=X gatewayd_p999_ns=Y
#       gatewayd_p999_min=.. gatewayd_p999_max=.. l3fwd_median_ns=..
#       l3fwd_p999_ns=.. l3fwd_p999_min=.. l3fwd_p999_max=.. pairs=N
# Environment: GATEWAYD (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
pairs=5; seconds=2
pairs_seconds latency "$@"
need_root latency DPDK
[ "$(nproc)" -ge 2 ] || { echo "latency: needs two cores (sources on 0, programs on 1)" >&2; exit 1; }
gatewayd_build
pcap="$out/ip-64b-1024flows.pcap"
/usr/bin/python3 "$here/gen_pcap.py" "$pcap" --flows 1024 --size 64 --dst-port-index 1
dpdk="$(pkg-config --cflags --libs libdpdk)"
# shellcheck disable=SC2086
gcc -O2 -shared -fPIC -o "$out/latency_probe.so" "$here/latency_probe.c" $dpdk -ldl
# shellcheck disable=SC2086
gcc -O3 -o "$out/latency_gen" "$here/latency_gen.c" $dpdk

run="/run/gw-latency-$$"; mkdir -p "$run"
trap 'stop_procs; rm -rf "$run"' EXIT

# source NAME: its paced source, the memif client of NAME's port 0.
source_for() {
  echo 0 >"$run/$1.rate"
  "$out/latency_gen" -l 0 --no-huge --no-pci -m 256 --file-prefix "gen-$1-$$" \
    --vdev "net_memif0,role=client,socket=$run/$1.sock,socket-abstract=no" \
    -- --pcap "$pcap" --rate-file "$run/$1.rate" --stats-file "$run/$1.gen" >"$out/latency_gen_$1.log" 2>&1 &
  gen_pid=$!
  track "$gen_pid" "gen-$1-$$"
}
memif="net_memif0,role=server,socket=$run/%s.sock,socket-abstract=no"

config_head "gw-latency-$$" 1 "127.0.0.1:18082" >"$out/latency.yaml"
routed_v4 "$(printf "$memif" gatewayd)" >>"$out/latency.yaml"
LD_PRELOAD="$out/latency_probe.so" LATENCY_FILE="$run/gatewayd.hist" \
  "$gatewayd" --config "$out/latency.yaml" >"$out/latency_gatewayd.log" 2>&1 &
gw_pid=$!
track "$gw_pid" "gw-latency-$$"
/usr/bin/python3 "$here/alternate.py" --ready "gatewayd:$gw_pid:gw-latency-$$" \
  || { cat "$out/latency_gatewayd.log" >&2; exit 1; }
source_for gatewayd; gw_gen=$gen_pid

read -r _ l3_pid l3_prefix < <(L3FWD_PRELOAD="$out/latency_probe.so" LATENCY_FILE="$run/l3fwd.hist" \
  "$here/l3fwd.sh" --rx "$(printf "$memif" l3fwd)" --core 1 --hold | grep '^l3fwd_pid')
track "$l3_pid" "$l3_prefix"
/usr/bin/python3 "$here/alternate.py" --ready "l3fwd:$l3_pid:$l3_prefix" \
  || { cat "$out/l3fwd/l3fwd.log" >&2; exit 1; }
source_for l3fwd; l3_gen=$gen_pid

/usr/bin/python3 "$here/latency.py" --run "$run" \
  "gatewayd:$gw_pid:$gw_gen:gw-latency-$$" "l3fwd:$l3_pid:$l3_gen:$l3_prefix" \
  --pairs "$pairs" --seconds "$seconds"
