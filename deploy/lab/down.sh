#!/usr/bin/env bash
# Stops gatewayd and removes everything up.sh made.
set -u
run=/run/gatewayd-lab
for f in forwarder gatewayd vlan_trunk; do
  if [ -f "$run/$f.pid" ]; then
    pid=$(cat "$run/$f.pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$run/$f.pid"
  fi
done
pkill -f 'socat TCP-LISTEN:8080,bind=127.0.0.1' 2>/dev/null
# FRR beside the gateway (deploy/lab/frr.sh), if it was started.
for d in staticd zebra; do
  [ -f "$run/frr/$d.pid" ] && kill -KILL "$(cat "$run/frr/$d.pid")" 2>/dev/null
done
rm -rf "$run/frr"
ip netns del lab-frr 2>/dev/null
for ns in lab-lan lab-wan lab-h1 lab-h2 lab-h3 lab-h4 lab-gw; do ip netns del "$ns" 2>/dev/null; done
rm -rf /var/run/dpdk/gateway-lab
echo "lab down"
