#!/usr/bin/env bash
# The BGP lab's routing daemons (LAB=bgp deploy/lab/up.sh; docs/bgp.md).
#
#   lab-lan: zebra, ospfd and ospf6d (area 0   ┐
#            on eth0; 192.168.50.1/32 and      │ lan    (kernel twins of the
#            2001:db8:50::1/128 on lo)         ├──────   gateway's interfaces,
#   lab-frr: zebra ─FPM→ gatewayd, bgpd AS 65001,│        punt.netns: lab-frr)
#            ospfd, ospf6d                      │ wan
#   lab-wan: zebra, bgpd AS 65002: 10,000 /24s ┘
#            of 100.64.0.0/10; 100.64.0.1 on its loopback
#
# FRR in lab-frr is the gateway's control plane: it speaks BGP and OSPF
# through the gateway's own addresses (the punt path) and streams what
# it learns to gatewayd's FPM listener over fpm (169.254.26.2) ─ fpm-gw
# (169.254.26.1, in lab-gw).
#
#   deploy/lab/bgp.sh links            lab-frr and the FPM link (before
#                                       gatewayd starts: its twins go there)
#   deploy/lab/bgp.sh start            the daemons in all three namespaces
#   deploy/lab/bgp.sh vtysh NS ARGS... vtysh on NS's daemons (frr, wan, lan)
#   deploy/lab/bgp.sh stop             SIGKILL (no withdrawals sent)
#
# BGP_PREFIXES (default 10000) sets how many /24s lab-wan advertises.
set -euo pipefail
run=/run/gatewayd-lab
prefixes=${BGP_PREFIXES:-10000}

# daemons NS DIR DAEMON...: FRR daemons in NS, their files in DIR.
daemons() {
  local ns=$1 dir=$2
  shift 2
  for d in "$@"; do
    extra=""
    if [ "$ns" = lab-frr ] && [ "$d" = zebra ]; then extra="-M dplane_fpm_nl"; fi
    # shellcheck disable=SC2086
    ip netns exec "$ns" /usr/lib/frr/"$d" -d $extra -f "$dir/$d.conf" -i "$dir/$d.pid" \
      -z "$dir/zserv.api" --vty_socket "$dir"
  done
}

configs() {
  mkdir -p "$run/frr" "$run/frr-wan" "$run/frr-lan"
  # zebra's log: the tests look in it for FRR 8.4's known abort (docs/punt.md).
  printf 'hostname lab-frr\nlog file %s/frr/zebra.log\nfpm address 169.254.26.1 port 2620\n' "$run" >"$run/frr/zebra.conf"
  cat >"$run/frr/bgpd.conf" <<EOF
hostname lab-frr
router bgp 65001
 bgp router-id 203.0.113.1
 no bgp ebgp-requires-policy
 neighbor 203.0.113.2 remote-as 65002
 neighbor 203.0.113.2 timers 3 9
 neighbor 203.0.113.2 timers connect 2
EOF
  cat >"$run/frr/ospfd.conf" <<EOF
hostname lab-frr
interface lan
 ip ospf hello-interval 1
 ip ospf dead-interval 4
router ospf
 ospf router-id 10.0.1.1
 network 10.0.1.0/24 area 0
EOF
  cat >"$run/frr/ospf6d.conf" <<EOF
hostname lab-frr
interface lan
 ipv6 ospf6 area 0
 ipv6 ospf6 hello-interval 1
 ipv6 ospf6 dead-interval 4
router ospf6
 ospf6 router-id 10.0.1.1
EOF
  printf 'hostname lab-wan\n' >"$run/frr-wan/zebra.conf"
  {
    printf 'hostname lab-wan\nrouter bgp 65002\n bgp router-id 203.0.113.2\n'
    printf ' no bgp ebgp-requires-policy\n no bgp network import-check\n'
    printf ' neighbor 203.0.113.1 remote-as 65001\n neighbor 203.0.113.1 timers 3 9\n'
    printf ' neighbor 203.0.113.1 timers connect 2\n address-family ipv4 unicast\n'
    # 100.64.0.0/24, 100.64.1.0/24, ... in 100.64.0.0/10; past its 16,384
    # /24s, on from 11.0.0.0/24.
    awk -v n="$prefixes" 'BEGIN { for (i = 0; i < n; i++) if (i < 16384) printf "  network 100.%d.%d.0/24\n", 64 + int(i / 256), i % 256; else { j = i - 16384; printf "  network %d.%d.%d.0/24\n", 11 + int(j / 65536), int(j / 256) % 256, j % 256 } }'
    printf ' exit-address-family\n'
  } >"$run/frr-wan/bgpd.conf"
  printf 'hostname lab-lan\n' >"$run/frr-lan/zebra.conf"
  cat >"$run/frr-lan/ospfd.conf" <<EOF
hostname lab-lan
interface eth0
 ip ospf hello-interval 1
 ip ospf dead-interval 4
router ospf
 ospf router-id 10.0.1.2
 network 10.0.1.0/24 area 0
 network 192.168.50.1/32 area 0
EOF
  cat >"$run/frr-lan/ospf6d.conf" <<EOF
hostname lab-lan
interface eth0
 ipv6 ospf6 area 0
 ipv6 ospf6 hello-interval 1
 ipv6 ospf6 dead-interval 4
router ospf6
 ospf6 router-id 10.0.1.2
 redistribute connected
EOF
  chown -R frr:frr "$run/frr" "$run/frr-wan" "$run/frr-lan"
}

stop() {
  for f in "$run"/frr*/*.pid; do
    [ -f "$f" ] || continue
    kill -9 "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case "${1:-}" in
links)
  [ -x /usr/lib/frr/bgpd ] || { echo "bgp.sh: FRR is not installed (make deps)" >&2; exit 1; }
  ip netns add lab-frr
  ip netns exec lab-frr ip link set lo up
  ip link add fpm-gw netns lab-gw type veth peer name fpm netns lab-frr
  ip netns exec lab-gw ip addr add 169.254.26.1/30 dev fpm-gw
  ip netns exec lab-gw ip link set fpm-gw up
  ip netns exec lab-frr ip addr add 169.254.26.2/30 dev fpm
  ip netns exec lab-frr ip link set fpm up ;;
start)
  configs
  ip netns exec lab-wan ip addr add 100.64.0.1/32 dev lo
  ip netns exec lab-lan ip addr add 192.168.50.1/32 dev lo
  ip netns exec lab-lan ip -6 addr add 2001:db8:50::1/128 dev lo
  daemons lab-frr "$run/frr" zebra bgpd ospfd ospf6d
  daemons lab-wan "$run/frr-wan" zebra bgpd
  daemons lab-lan "$run/frr-lan" zebra ospfd ospf6d ;;
stop) stop ;;
vtysh)
  ns=${2:?bgp.sh vtysh NS ARGS: NS is frr, wan or lan}
  shift 2
  dir="$run/frr-$ns"; [ "$ns" = frr ] && dir="$run/frr"
  ip netns exec "lab-$ns" vtysh --vty_socket "$dir" "$@" ;;
*) echo "usage: bgp.sh links | start | stop | vtysh NS ARGS" >&2; exit 2 ;;
esac
