#!/usr/bin/env bash
# FRR beside the lab's gateway (docs/frr.md): zebra, with its
# dplane_fpm_nl module, and staticd run in namespace lab-frr and stream
# their routes to gatewayd's FPM listener (routing.fpm.listen in
# deploy/lab/gateway.yaml) over a veth pair into lab-gw (fpm-gw
# 169.254.26.1/30, fpm 169.254.26.2/30). lab-frr's interface "wan"
# stands in for the gateway's wan subnet (203.0.113.1/24,
# 2001:db8:1::1/64), so that zebra resolves gateways there as it would
# on the gateway itself.
#
#   deploy/lab/frr.sh up [STATICD_CONF]  namespace, links, daemons (the
#                                         default staticd config: one route)
#   deploy/lab/frr.sh start | stop       the daemons (stop: SIGKILL, so
#                                         zebra withdraws nothing)
#   deploy/lab/frr.sh vtysh ARGS...      vtysh on the lab's daemons
#   deploy/lab/frr.sh down
#
# Needs the lab up (deploy/lab/up.sh) and FRR (make deps).
set -euo pipefail
run=/run/gatewayd-lab/frr
daemons() {
  for d in zebra staticd; do
    extra=""; [ $d = zebra ] && extra="-M dplane_fpm_nl"
    # shellcheck disable=SC2086
    ip netns exec lab-frr /usr/lib/frr/$d -d $extra -f "$run/$d.conf" -i "$run/$d.pid" \
      -z "$run/zserv.api" --vty_socket "$run"
  done
}
stop() {
  for d in staticd zebra; do
    if [ -f "$run/$d.pid" ]; then kill -9 "$(cat "$run/$d.pid")" 2>/dev/null || true; rm -f "$run/$d.pid"; fi
  done
}
case "${1:-}" in
up)
  # lab-frr and the FPM link, as the BGP lab makes them.
  "$(cd "$(dirname "$0")" && pwd)/bgp.sh" links
  ip netns exec lab-frr ip link add wan type veth peer name wan-peer
  ip netns exec lab-frr ip addr add 203.0.113.1/24 dev wan
  ip netns exec lab-frr ip -6 addr add 2001:db8:1::1/64 dev wan nodad
  ip netns exec lab-frr ip link set wan up
  ip netns exec lab-frr ip link set wan-peer up
  mkdir -p "$run"
  printf 'hostname lab-frr\nfpm address 169.254.26.1 port 2620\n' >"$run/zebra.conf"
  if [ -n "${2:-}" ]; then cp "$2" "$run/staticd.conf"
  else printf 'hostname lab-frr\nip route 198.51.100.0/24 203.0.113.2\n' >"$run/staticd.conf"; fi
  chown -R frr:frr "$run"
  daemons ;;
start) daemons ;;
stop) stop ;;
vtysh) shift; ip netns exec lab-frr vtysh --vty_socket "$run" "$@" ;;
down)
  stop
  ip netns del lab-frr 2>/dev/null || true
  rm -rf "$run" ;;
*) echo "usage: frr.sh up [STATICD_CONF] | start | stop | vtysh ARGS | down" >&2; exit 2 ;;
esac
