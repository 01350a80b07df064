#!/usr/bin/env bash
# Brings up the lab (docs/architecture.md) and starts gatewayd in it.
#
#   lab-lan (10.0.1.2/24, fd00:1::2/64) ═veth═ gw-lan ┐
#                                                      gatewayd in namespace lab-gw
#   lab-wan (203.0.113.2/24, 2001:db8:1::2/64) ═veth═ gw-wan ┘
#
# lab-lan has no static IPv6 default route: it takes one (and a SLAAC
# address in fd00:1::/64) from the gateway's Router Advertisements.
#
# The management API and /metrics are forwarded to 127.0.0.1:8080 on the
# host. gatewayd runs on a copy of the config in /run/gatewayd-lab (the API
# saves every commit there), with two API tokens whose secrets are in
# /run/gatewayd-lab/admin.token and readonly.token.
# LAB=bridge brings up the bridge lab instead (deploy/lab/bridge.yaml):
#
#   lab-h1 (10.0.10.2/24) ═ gw-h1 ┐
#   lab-h2 (10.0.10.3/24) ═ gw-h2 ├ bridge br0 (BVI 10.0.10.1/24)
#   lab-h3 (10.0.10.4/24) ═ gw-h3 ┘     │
#   lab-h4 ═ gw-trunk (802.1Q trunk) ───┘ VLAN 100: vlan100 10.0.10.5/24
#                                       VLAN 200: vlan200 10.0.200.2/24,
#                                                 routed by sub-interface trunk.200
#
# LAB=vxlan is the router lab plus a VXLAN overlay (deploy/lab/vxlan.yaml):
#
#   lab-h1 (192.168.100.1/24) ═ gw-h1 ─ bridge br0 (BVI 192.168.100.254/24)
#                                          └ VXLAN VNI 100, 203.0.113.1 ⇄ 203.0.113.2
#   lab-wan: vx0 (the kernel's VXLAN device, VNI 100) 192.168.100.2/24
#
# LAB=bgp is the router lab with FRR as the gateway's control plane
# (deploy/lab/bgp.yaml, deploy/lab/bgp.sh, docs/bgp.md): BGP to lab-wan
# (10,000 prefixes), OSPF to lab-lan, both through the punt path, and
# the routes streamed to gatewayd over FPM.
#
# Environment: GATEWAYD (binary; default: build target/release),
# GATEWAY_CONFIG (default: deploy/lab/gateway.yaml, bridge.yaml or
# vxlan.yaml), LAB.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run=/run/gatewayd-lab
kind="${LAB:-router}"
case "$kind" in
  router) config="${GATEWAY_CONFIG:-$here/gateway.yaml}"; hosts="lab-lan lab-wan" ;;
  bridge) config="${GATEWAY_CONFIG:-$here/bridge.yaml}"; hosts="lab-h1 lab-h2 lab-h3 lab-h4" ;;
  vxlan) config="${GATEWAY_CONFIG:-$here/vxlan.yaml}"; hosts="lab-lan lab-wan lab-h1" ;;
  bgp) config="${GATEWAY_CONFIG:-$here/bgp.yaml}"; hosts="lab-lan lab-wan" ;;
  *) echo "up.sh: LAB must be router, bridge, vxlan or bgp, not '$kind'" >&2; exit 1 ;;
esac

[ "$(id -u)" = 0 ] || { echo "up.sh: needs root (network namespaces)" >&2; exit 1; }
if [ -z "${GATEWAYD:-}" ]; then
  GATEWAYD="$root/target/release/gatewayd"
  (cd "$root" && cargo build --release -q -p mgmt --bin gatewayd)
fi
[ -x "$GATEWAYD" ] || { echo "up.sh: no gatewayd binary at $GATEWAYD" >&2; exit 1; }

"$here/down.sh" >/dev/null 2>&1 || true
mkdir -p "$run"
# The running config: a copy with an admin and a read-only API token.
install -m 600 "$config" "$run/gateway.yaml"
rm -f "$run/gatewayd-audit.jsonl"
(umask 077
 "$GATEWAYD" token add "$run/gateway.yaml" admin admin >"$run/admin.token"
 "$GATEWAYD" token add "$run/gateway.yaml" readonly readonly >"$run/readonly.token")

for ns in lab-gw $hosts; do ip netns add "$ns"; done
# The gateway namespace's kernel must stay silent on the ports: no
# addresses, no IPv6 (no RS/DAD), no forwarding.
ip netns exec lab-gw sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip netns exec lab-gw sysctl -qw net.ipv4.ip_forward=0
ip netns exec lab-gw ip link set lo up

wire() { # wire SIDE PEER_ADDR GATEWAY_ADDR PEER_ADDR6 [GATEWAY_ADDR6]
  local side=$1 addr=$2 gw=$3 addr6=$4 gw6=${5:-}
  ip link add "gw-$side" type veth peer name eth0 netns "lab-$side"
  ip link set "gw-$side" netns lab-gw
  ip netns exec lab-gw ip link set "gw-$side" up
  ip netns exec "lab-$side" ip link set lo up
  ip netns exec "lab-$side" ip link set eth0 up
  ip netns exec "lab-$side" ip addr add "$addr" dev eth0
  ip netns exec "lab-$side" ip route add default via "$gw"
  # nodad: usable at once (the gateway answers DAD probes for its own
  # addresses only, so DAD would pass, a second later).
  ip netns exec "lab-$side" ip -6 addr add "$addr6" dev eth0 nodad
  if [ -n "$gw6" ]; then ip netns exec "lab-$side" ip -6 route add default via "$gw6"; fi
  # Offloads off: af_packet must see whole frames with finished checksums.
  for ns_if in "lab-gw gw-$side" "lab-$side eth0"; do
    set -- $ns_if
    ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  done
}
offload_off() { # offload_off NS IF
  # Offloads off: af_packet must see whole frames with finished checksums.
  ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}
host() { # host NS GW_IF: a veth from the gateway namespace into NS
  ip link add "$2" type veth peer name eth0 netns "$1"
  ip link set "$2" netns lab-gw
  ip netns exec lab-gw ip link set "$2" up
  ip netns exec "$1" ip link set lo up
  ip netns exec "$1" ip link set eth0 up
  # IPv4 only: no IPv6 chatter on the bridge.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  offload_off lab-gw "$2"
  offload_off "$1" eth0
}
if [ "$kind" = router ] || [ "$kind" = vxlan ] || [ "$kind" = bgp ]; then
  # Accept Router Advertisements on the LAN side (a host's default).
  ip netns exec lab-lan sysctl -qw net.ipv6.conf.default.accept_ra=1 net.ipv6.conf.default.autoconf=1
  wire lan 10.0.1.2/24 10.0.1.1 fd00:1::2/64
  wire wan 203.0.113.2/24 203.0.113.1 2001:db8:1::2/64 2001:db8:1::1
else
  n=2
  for h in 1 2 3; do
    host "lab-h$h" "gw-h$h"
    ip netns exec "lab-h$h" ip addr add "10.0.10.$n/24" dev eth0
    ip netns exec "lab-h$h" ip route add default via 10.0.10.1
    n=$((n + 1))
  done
  host lab-h4 gw-trunk
  h4() { ip netns exec lab-h4 "$@"; }
  # lab-h4's interfaces vlan100, vlan200, vlan300 carry VLANs 100, 200
  # and 300 of its trunk eth0: Linux VLAN devices where the kernel has
  # them, else veth pairs joined to eth0 by vlan_trunk.py.
  vlan_devices=yes
  for v in 100 200 300; do
    if [ "$vlan_devices" = yes ] && h4 ip link add link eth0 name "vlan$v" type vlan id "$v" 2>/dev/null; then
      continue
    fi
    vlan_devices=no
    h4 ip link add "vlan$v" type veth peer name "tr$v"
    h4 ip link set "tr$v" up
    offload_off lab-h4 "tr$v"
    offload_off lab-h4 "vlan$v"
  done
  if [ "$vlan_devices" = no ]; then
    ip netns exec lab-h4 python3 "$here/vlan_trunk.py" eth0 100=tr100 200=tr200 300=tr300 \
      >"$run/vlan_trunk.log" 2>&1 &
    echo $! >"$run/vlan_trunk.pid"
  fi
  for v in 100 200 300; do h4 ip link set "vlan$v" up; done
  h4 ip addr add 10.0.10.5/24 dev vlan100
  h4 ip addr add 10.0.200.2/24 dev vlan200
  h4 ip route add default via 10.0.200.1
  # VLAN 300 is on no bridge and no interface of the gateway.
  h4 ip addr add 10.0.30.2/24 dev vlan300
fi

if [ "$kind" = vxlan ]; then
  host lab-h1 gw-h1
  ip netns exec lab-h1 ip addr add 192.168.100.1/24 dev eth0
  ip netns exec lab-h1 ip route add default via 192.168.100.254
  # The far VTEP: the kernel's own VXLAN device in lab-wan.
  if ! ip netns exec lab-wan ip link add vx0 type vxlan id 100 local 203.0.113.2 remote 203.0.113.1 \
      dstport 4789 dev eth0 2>/dev/null; then
    echo "up.sh: this kernel has no VXLAN (ip link add type vxlan failed)" >&2; exit 1
  fi
  ip netns exec lab-wan ip addr add 192.168.100.2/24 dev vx0
  ip netns exec lab-wan ip link set vx0 up
  offload_off lab-wan vx0
fi

# The twins' namespace and the FPM link exist before gatewayd starts.
if [ "$kind" = bgp ]; then "$here/bgp.sh" links; fi

ip netns exec lab-gw "$GATEWAYD" --config "$run/gateway.yaml" >"$run/gatewayd.log" 2>&1 &
echo $! >"$run/gatewayd.pid"

# Forward the management listener to the host.
socat TCP-LISTEN:8080,bind=127.0.0.1,fork,reuseaddr \
  EXEC:"ip netns exec lab-gw socat STDIO TCP\:127.0.0.1\:8080" >/dev/null 2>&1 &
echo $! >"$run/forwarder.pid"

for _ in $(seq 1 100); do
  if ip netns exec lab-gw curl -sf http://127.0.0.1:8080/healthz >/dev/null 2>&1; then
    echo "lab up: gatewayd pid $(cat "$run/gatewayd.pid"), log $run/gatewayd.log, API http://127.0.0.1:8080/api/v1"
    echo "        tokens: $run/admin.token (admin), $run/readonly.token (read-only)"
    if [ "$kind" = bgp ]; then
      "$here/bgp.sh" start
      echo "        FRR: deploy/lab/bgp.sh vtysh frr|wan|lan -c 'show bgp summary'"
    fi
    exit 0
  fi
  if ! kill -0 "$(cat "$run/gatewayd.pid")" 2>/dev/null; then break; fi
  sleep 0.1
done
echo "up.sh: gatewayd did not come up; its log:" >&2
cat "$run/gatewayd.log" >&2
exit 1
