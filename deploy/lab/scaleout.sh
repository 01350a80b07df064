#!/usr/bin/env bash
# The scale-out lab (docs/scale-out.md): two gateways behind ECMP.
#
#                  ┌ s1-lan ═ lab-gw:  gatewayd 1 (10.0.1.1, 203.0.113.1) ═ s1-wan ┐
#   lab-lan  br0 ──┤                                                              ├── br0  lab-wan
#   10.0.1.2/24    └ s2-lan ═ lab-gw2: gatewayd 2 (10.0.1.3, 203.0.113.3) ═ s2-wan ┘  203.0.113.2/24
#   default via both         FRR beside each (lab-frr, lab-frr2), on          FRR: bgpd AS 65002,
#   (ECMP)                   its kernel twins: bgpd AS 65001 announcing       bfdd, maximum-paths 2
#                            10.0.1.0/24 and its NAT pool (198.18.N.0/28),    (ECMP, L4 hash)
#                            bfdd; zebra ─FPM→ its gatewayd
#
# Each gateway is on its own: its own namespace, DPDK file prefix, FRR,
# BGP session and NAT pool; nothing is shared. lab-wan spreads flows to
# 10.0.1.0/24 over the gateways that announce it; lab-lan's flows out
# leave from the pool of the gateway its ECMP route picked, and their
# answers come back to it. BFD (300 ms x 3) takes a dead gateway's
# paths out.
#
#   GATEWAYD=... deploy/lab/scaleout.sh up   everything
#   deploy/lab/scaleout.sh kill N            SIGKILL gatewayd N (1 or 2)
#   deploy/lab/scaleout.sh start N           start gatewayd N again
#   deploy/lab/scaleout.sh vtysh frr1|frr2|wan ARGS...
#   deploy/lab/down.sh                       takes it all down
#
# Gateway 1's API is on 127.0.0.1:8080 (tokens in /run/gatewayd-lab),
# gateway 2's on 127.0.0.1:8081 (tokens in /run/gatewayd-lab/gw2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
run=/run/gatewayd-lab

# Per gateway: its namespace, run directory, FRR namespace and directory, addresses.
gwns() { if [ "$1" = 1 ]; then echo lab-gw; else echo "lab-gw$1"; fi; }
gwdir() { if [ "$1" = 1 ]; then echo "$run"; else echo "$run/gw$1"; fi; }
frrns() { if [ "$1" = 1 ]; then echo lab-frr; else echo "lab-frr$1"; fi; }
frrdir() { if [ "$1" = 1 ]; then echo "$run/frr"; else echo "$run/frr$1"; fi; }
lanaddr() { if [ "$1" = 1 ]; then echo 10.0.1.1; else echo 10.0.1.3; fi; }
wanaddr() { if [ "$1" = 1 ]; then echo 203.0.113.1; else echo 203.0.113.3; fi; }
pool() { echo "198.18.$1.0/28"; }

offload_off() { ip netns exec "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true; }

daemons() { # daemons NS DIR DAEMON...
  local ns=$1 dir=$2
  shift 2
  for d in "$@"; do
    extra=""
    case "$ns/$d" in
      lab-frr*/zebra) extra="-M dplane_fpm_nl" ;;
    esac
    [ "$d" = bfdd ] && extra="--bfdctl $dir/bfdd.sock"
    # shellcheck disable=SC2086
    ip netns exec "$ns" /usr/lib/frr/"$d" -d $extra -f "$dir/$d.conf" -i "$dir/$d.pid" \
      -z "$dir/zserv.api" --vty_socket "$dir"
  done
}

start_gateway() { # start_gateway N
  local n=$1 ns dir
  ns=$(gwns "$n"); dir=$(gwdir "$n")
  ip netns exec "$ns" "$GATEWAYD" --config "$dir/gateway.yaml" >"$dir/gatewayd.log" 2>&1 &
  echo $! >"$dir/gatewayd.pid"
  for _ in $(seq 1 100); do
    if ip netns exec "$ns" curl -sf http://127.0.0.1:8080/healthz >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$dir/gatewayd.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "scaleout.sh: gatewayd $n did not come up; its log:" >&2
  cat "$dir/gatewayd.log" >&2
  exit 1
}

gateway() { # gateway N: namespaces, wires, config, tokens, gatewayd, FRR
  local n=$1 ns dir fns fdir lan wan
  ns=$(gwns "$n"); dir=$(gwdir "$n"); fns=$(frrns "$n"); fdir=$(frrdir "$n")
  lan=$(lanaddr "$n"); wan=$(wanaddr "$n")
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
  ip netns exec "$ns" ip link set lo up
  for side in lan wan; do
    ip link add "s$n-$side" netns "lab-$side" type veth peer name "gw-$side" netns "$ns"
    ip -n "lab-$side" link set "s$n-$side" master br0 up
    ip -n "$ns" link set "gw-$side" up
    offload_off "lab-$side" "s$n-$side"
    offload_off "$ns" "gw-$side"
  done
  # FRR's namespace (the twins go there) and the FPM link.
  ip netns add "$fns"
  ip netns exec "$fns" ip link set lo up
  ip link add fpm-gw netns "$ns" type veth peer name fpm netns "$fns"
  ip -n "$ns" addr add 169.254.26.1/30 dev fpm-gw
  ip -n "$ns" link set fpm-gw up
  ip -n "$fns" addr add 169.254.26.2/30 dev fpm
  ip -n "$fns" link set fpm up
  mkdir -p "$dir" "$fdir"
  sed -e "s/@PREFIX@/gateway-lab$([ "$n" = 1 ] || echo "$n")/" -e "s/@LAN@/$lan/" -e "s/@WAN@/$wan/" \
    -e "s/@FRR@/$fns/" -e "s|@POOL@|$(pool "$n")|" "$here/scaleout.yaml" >"$dir/gateway.yaml"
  chmod 600 "$dir/gateway.yaml"
  rm -f "$dir/gatewayd-audit.jsonl"
  (umask 077
   "$GATEWAYD" token add "$dir/gateway.yaml" admin admin >"$dir/admin.token"
   "$GATEWAYD" token add "$dir/gateway.yaml" readonly readonly >"$dir/readonly.token")
  start_gateway "$n"
  # The API on the host: 8080 for gateway 1, 8081 for gateway 2.
  socat "TCP-LISTEN:$((8079 + n)),bind=127.0.0.1,fork,reuseaddr" \
    EXEC:"ip netns exec $ns socat STDIO TCP\:127.0.0.1\:8080" >/dev/null 2>&1 &
  echo $! >"$dir/forwarder.pid"
  printf 'hostname %s\nfpm address 169.254.26.1 port 2620\n' "$fns" >"$fdir/zebra.conf"
  printf 'hostname %s\nlog file %s/bfdd.log\ndebug bfd peer\n' "$fns" "$fdir" >"$fdir/bfdd.conf"
  cat >"$fdir/bgpd.conf" <<EOF
hostname $fns
log file $fdir/bgpd.log
debug bgp neighbor-events
router bgp 65001
 bgp router-id $wan
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 203.0.113.2 remote-as 65002
 neighbor 203.0.113.2 timers 3 9
 neighbor 203.0.113.2 timers connect 2
 neighbor 203.0.113.2 bfd
 address-family ipv4 unicast
  network 10.0.1.0/24
  network $(pool "$n")
 exit-address-family
EOF
  chown -R frr:frr "$fdir"
  daemons "$fns" "$fdir" zebra bfdd bgpd
}

case "${1:-}" in
up)
  [ "$(id -u)" = 0 ] || { echo "scaleout.sh: needs root (network namespaces)" >&2; exit 1; }
  [ -x /usr/lib/frr/bfdd ] || { echo "scaleout.sh: FRR is not installed (make deps)" >&2; exit 1; }
  if [ -z "${GATEWAYD:-}" ]; then
    GATEWAYD="$root/target/release/gatewayd"
    (cd "$root" && cargo build --release -q -p mgmt --bin gatewayd)
  fi
  "$here/down.sh" >/dev/null 2>&1 || true
  mkdir -p "$run"
  for side in lan wan; do
    ip netns add "lab-$side"
    ip -n "lab-$side" link set lo up
    ip -n "lab-$side" link add br0 type bridge
    ip -n "lab-$side" link set br0 up
    ip netns exec "lab-$side" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  done
  ip -n lab-lan addr add 10.0.1.2/24 dev br0
  ip -n lab-wan addr add 203.0.113.2/24 dev br0
  # Flows spread by their ports (L4 hash), as an upstream router does.
  ip netns exec lab-wan sysctl -qw net.ipv4.fib_multipath_hash_policy=1
  ip netns exec lab-lan sysctl -qw net.ipv4.fib_multipath_hash_policy=1
  ip -n lab-lan route add default nexthop via 10.0.1.1 nexthop via 10.0.1.3
  gateway 1
  gateway 2
  mkdir -p "$run/frr-wan"
  printf 'hostname lab-wan\n' >"$run/frr-wan/zebra.conf"
  printf 'hostname lab-wan\nlog file %s/bfdd.log\ndebug bfd peer\n' "$run/frr-wan" >"$run/frr-wan/bfdd.conf"
  cat >"$run/frr-wan/bgpd.conf" <<EOF
hostname lab-wan
log file $run/frr-wan/bgpd.log
debug bgp neighbor-events
router bgp 65002
 bgp router-id 203.0.113.2
 no bgp ebgp-requires-policy
 neighbor 203.0.113.1 remote-as 65001
 neighbor 203.0.113.1 timers 3 9
 neighbor 203.0.113.1 timers connect 2
 neighbor 203.0.113.1 bfd
 neighbor 203.0.113.3 remote-as 65001
 neighbor 203.0.113.3 timers 3 9
 neighbor 203.0.113.3 timers connect 2
 neighbor 203.0.113.3 bfd
 address-family ipv4 unicast
  maximum-paths 2
 exit-address-family
EOF
  chown -R frr:frr "$run/frr-wan"
  daemons lab-wan "$run/frr-wan" zebra bfdd bgpd
  echo "scale-out lab up: gatewayd 1 API 127.0.0.1:8080 (tokens in $run), gatewayd 2 API 127.0.0.1:8081 (tokens in $run/gw2)"
  echo "        lab-wan: ip -n lab-wan route show 10.0.1.0/24   (two next hops once both sessions are up)" ;;
kill)
  n=${2:?scaleout.sh kill N}
  kill -KILL "$(cat "$(gwdir "$n")/gatewayd.pid")" ;;
start)
  n=${2:?scaleout.sh start N}
  GATEWAYD=${GATEWAYD:-$root/target/release/gatewayd}
  start_gateway "$n" ;;
vtysh)
  case "${2:-}" in
    frr1) ns=lab-frr dir="$run/frr" ;;
    frr2) ns=lab-frr2 dir="$run/frr2" ;;
    wan) ns=lab-wan dir="$run/frr-wan" ;;
    *) echo "scaleout.sh vtysh frr1|frr2|wan ARGS" >&2; exit 2 ;;
  esac
  shift 2
  ip netns exec "$ns" vtysh --vty_socket "$dir" "$@" ;;
*) echo "usage: scaleout.sh up | kill N | start N | vtysh frr1|frr2|wan ARGS" >&2; exit 2 ;;
esac
