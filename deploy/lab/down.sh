#!/usr/bin/env bash
# Stops gatewayd and removes everything up.sh made.
set -u
run=/run/gatewayd-lab
# (gw2: the scale-out lab's second gateway, deploy/lab/scaleout.sh)
for p in "$run"/{forwarder,gatewayd,vlan_trunk}.pid "$run"/gw2/{forwarder,gatewayd}.pid; do
  if [ -f "$p" ]; then
    pid=$(cat "$p")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$p"
  fi
done
rm -rf "$run/gw2"
pkill -f 'socat TCP-LISTEN:808[01],bind=127.0.0.1' 2>/dev/null
# FRR (deploy/lab/frr.sh, deploy/lab/bgp.sh), if it was started.
for f in "$run"/frr*/*.pid; do
  [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
done
rm -rf "$run"/frr*
# Whatever else still runs in a lab namespace (a test's listener, an
# iperf3 server, a daemon whose pid file is gone) goes with it: a
# process left behind keeps its namespace alive after the name is gone.
for ns in lab-frr lab-frr2 lab-lan lab-wan lab-far lab-h1 lab-h2 lab-h3 lab-h4 lab-gw lab-gw2; do
  pids=$(ip netns pids "$ns" 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  ip netns del "$ns" 2>/dev/null
done
rm -rf /var/run/dpdk/gateway-lab /var/run/dpdk/gateway-lab2
echo "lab down"
