#!/usr/bin/env bash
# `make demo`: bring up the lab, show traffic flowing through gatewayd,
# and leave the lab up with the next commands to try.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/up.sh"
lan() { ip netns exec lab-lan "$@"; }
echo
echo "== ping: lab-lan (10.0.1.2) -> gateway (10.0.1.1) and -> lab-wan (203.0.113.2)"
lan ping -c 3 -i 0.2 10.0.1.1 | tail -2
lan ping -c 3 -i 0.2 203.0.113.2 | tail -2
echo
echo "== TTL 1: the gateway answers Time Exceeded"
lan ping -c 1 -t 1 -W 1 203.0.113.2 | sed -n 2p || true
echo
echo "== iperf3 TCP, lab-lan -> lab-wan, 3 s"
ip netns exec lab-wan iperf3 -s -D -1 -p 5201
sleep 0.5
lan iperf3 -c 203.0.113.2 -p 5201 -t 3 | grep -E 'sender|receiver'
echo
echo "== iperf3 UDP at 100 Mbit/s, 3 s"
ip netns exec lab-wan iperf3 -s -D -1 -p 5202
sleep 0.5
lan iperf3 -c 203.0.113.2 -p 5202 -u -b 100M -t 3 | grep -E 'receiver'
echo
echo "== metrics excerpt (http://127.0.0.1:8080/metrics)"
curl -s http://127.0.0.1:8080/metrics | grep -E '^gateway_(port_(rx|tx)_packets_total|forwarded_total|neighbors|drops_total\{reason="(ttl_expired|no_route)"\})'
cat <<'MSG'

The lab is up. Try:
  ip netns exec lab-lan ping 203.0.113.2
  ip netns exec lab-lan traceroute -n 203.0.113.2
  curl -s http://127.0.0.1:8080/metrics | grep gateway_drops_total
  tail -f /run/gatewayd-lab/gatewayd.log
  make lab-down          # remove the lab
MSG
