#!/usr/bin/env bash
# `make demo`: bring up the lab, show traffic flowing through gatewayd,
# and leave the lab up with the next commands to try.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$here/up.sh"
gw="$root/target/release/gatewayd"
export GATEWAYD_TOKEN_FILE=/run/gatewayd-lab/admin.token
lan() { ip netns exec lab-lan "$@"; }
echo
echo "== ping: lab-lan (10.0.1.2) -> gateway (10.0.1.1) and -> lab-wan (203.0.113.2)"
lan ping -c 3 -i 0.2 10.0.1.1 | tail -2
lan ping -c 3 -i 0.2 203.0.113.2 | tail -2
echo
echo "== TTL 1: the gateway answers Time Exceeded"
lan ping -c 1 -t 1 -W 1 203.0.113.2 | sed -n 2p || true
echo
echo "== IPv6: lab-lan's default route from our Router Advertisement, and ping6 to lab-wan (2001:db8:1::2)"
for _ in $(seq 1 50); do ip netns exec lab-lan ip -6 route show default | grep -q 'proto ra' && break; sleep 0.2; done
ip netns exec lab-lan ip -6 route show default
lan ping -6 -c 3 -i 0.2 2001:db8:1::2 | tail -2
echo
echo "== fragments: 3000-byte pings through the gateway and to it (reassembled, answered in fragments)"
lan ping -c 2 -i 0.2 -s 3000 203.0.113.2 | tail -2
lan ping -c 2 -i 0.2 -s 3000 10.0.1.1 | tail -2
echo
echo "== UDP echo (RFC 862), served by the workers on 10.0.1.1 and fd00:1::1 port 7"
printf 'hello over IPv4\n' | lan nc -u -w 1 10.0.1.1 7
printf 'hello over IPv6\n' | lan nc -u -w 1 fd00:1::1 7
echo "== TCP echo on our own TCP (docs/tcp.md): nc, then 10 connections x 10 MB each way"
printf 'hello over TCP\n' | lan nc -N -w 5 10.0.1.1 7
lan python3 "$here/tcp_echo.py" fd00:1::1 7 10000000 10
echo "== HTTP on our own TCP: curl the status page, then 100 MB from /bytes/N"
lan curl -s http://10.0.1.1/
lan curl -s -o /dev/null -w '%{size_download} bytes in %{time_total} s\n' 'http://[fd00:1::1]/bytes/100000000'
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
echo "== a route added live through the API: 198.51.100.0/24 via lab-wan"
ip netns exec lab-wan ip addr add 198.51.100.1/32 dev lo
"$gw" ctl route add 198.51.100.0/24 via 203.0.113.2
lan ping -c 2 -i 0.2 198.51.100.1 | tail -2
echo
echo "== gatewayd ctl ports / neighbors / stats"
"$gw" ctl ports
"$gw" ctl neighbors
"$gw" ctl stats
echo
echo "== metrics excerpt (http://127.0.0.1:8080/metrics, read-only token)"
curl -s -H "Authorization: Bearer $(cat /run/gatewayd-lab/readonly.token)" http://127.0.0.1:8080/metrics |
  grep -E '^gateway_(port_(rx|tx)_packets_total|forwarded_total|neighbors|config_generation|drops_total\{reason="(ttl_expired|no_route)"\})'
cat <<MSG

The lab is up. Try:
  ip netns exec lab-lan ping 203.0.113.2
  export GATEWAYD_TOKEN_FILE=/run/gatewayd-lab/admin.token
  $gw ctl routes
  $gw ctl route del 198.51.100.0/24
  $gw ctl audit
  ip netns exec lab-lan nc -u fd00:1::1 7     # type lines: the gateway echoes them
  ip netns exec lab-lan curl -v http://10.0.1.1/bytes/100   # our own TCP and HTTP
  curl -s -H "Authorization: Bearer \$(cat /run/gatewayd-lab/readonly.token)" http://127.0.0.1:8080/api/v1/services
  curl -s -H "Authorization: Bearer \$(cat /run/gatewayd-lab/readonly.token)" http://127.0.0.1:8080/api/v1/openapi.json
  tail -f /run/gatewayd-lab/gatewayd.log
  make lab-down          # remove the lab

Prometheus and Grafana on the lab:
  prometheus --config.file=$root/deploy/prometheus/prometheus.yml   # scrapes 127.0.0.1:8080 with the read-only token
  Grafana: add a Prometheus data source at http://localhost:9090, then
           Dashboards > Import > $root/deploy/grafana/gateway.json
MSG
