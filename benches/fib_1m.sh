#!/usr/bin/env bash
# benches/run.sh fib_1m: forwarding with a full routing table. Two
# gatewayd instances take turns on one core (benches/alternate.py), fed
# the same frames from a pcap: 1,024 flows, each to an address in a
# different prefix of the table. One has the full table: 1,000,000 IPv4
# prefixes in the Internet table's length mix and 200,000 IPv6 prefixes,
# learned over FPM from benches/fpm_feed.py (as zebra would send them).
# The other has 16 static routes (0.0.0.0/4 .. 240.0.0.0/4) to the same
# next hop. Each pair of turns gives a loss (1 - full / small); the line
# gives the median loss with the pairs' spread, the median rates, and
# the full table's memory: the full instance's resident memory less the
# small one's, per route (the learned-route table, the FIBs and the
# snapshot they are in).
#
# Prints: fib_1m routes=N gatewayd_mpps=X small_table_mpps=Y loss=Z
#         min=A max=B pairs=P bytes_per_route=M
#         fib_lookup ours_v4_ns=A rte_fib_v4_ns=B ours_v6_ns=C
#         rte_fib6_v6_ns=D (lookups alone, ns each: our FIBs and DPDK's
#         on the same tables and addresses, taken first)
# Environment: GATEWAYD (default: a release build), FPM_V4_ROUTES,
# FPM_V6_ROUTES; arguments --pairs N --seconds S as run.sh's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
v4=${FPM_V4_ROUTES:-1000000}
v6=${FPM_V6_ROUTES:-200000}
pairs=5; seconds=2; core=1
pairs_seconds fib_1m "$@"
need_root fib_1m DPDK
gatewayd_build

# Lookups alone, first (the instances below poll the core): our FIBs
# and DPDK's rte_fib (DIR24_8) and rte_fib6 (TRIE) on the same tables and
# the same 1,024 addresses (stack/benches/fib.rs, benches/rte_fib_lookup.c).
gcc -O3 -o "$out/rte_fib_lookup" "$here/rte_fib_lookup.c" $(pkg-config --cflags --libs libdpdk)
rte=$(taskset -c "$core" "$out/rte_fib_lookup" --no-huge --no-pci -m 3072 -l "$core" \
  --file-prefix "gw-rtefib-$$" --log-level=lib.eal:error)
rm -rf "/var/run/dpdk/gw-rtefib-$$"
if ! (cd "$root" && taskset -c "$core" cargo bench -q -p stack --bench fib -- --warm-up-time 1 \
    --measurement-time 3 lookup) >"$out/fib_lookup.log" 2>&1; then
  cat "$out/fib_lookup.log" >&2; exit 1
fi
ns() { /usr/bin/python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["mean"]["point_estimate"] / 1024))' \
  "$root/target/criterion/fib/$1/new/estimates.json"; }
value() { echo "$rte" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
lookups="fib_lookup ours_v4_ns=$(ns v4_lookup_1m) rte_fib_v4_ns=$(value v4_lookup_ns)"
lookups+=" ours_v6_ns=$(ns v6_lookup_200k) rte_fib6_v6_ns=$(value v6_lookup_ns)"

dsts="$out/fib_1m_dsts.txt"
pcap="$out/ip-64b-1024flows-fib1m.pcap"
/usr/bin/python3 "$here/fpm_feed.py" --dsts 1024 "$dsts" "$v4"
/usr/bin/python3 "$here/gen_pcap.py" "$pcap" --flows 1024 --size 64 --dsts "$dsts"

# config NAME API_PORT: one worker on the core, the pcap in, a null sink out.
config() {
  config_head "gw-$1-$$" "$core" "127.0.0.1:$2"
  cat <<YAML
ports:
  - { name: in, vdev: "net_pcap0,rx_pcap=$pcap,infinite_rx=1", mac: "02:00:00:00:00:01" }
  - { name: out, vdev: "net_null0,no-rx=1" }
interfaces:
  - { name: in, port: in, ipv4: ["192.0.2.1/24"], ipv6: ["2001:db8:0:1::1/64"] }
  - { name: out, port: out, ipv4: ["203.0.113.1/24"], ipv6: ["2001:db8:1::1/64"] }
neighbors:
  - { interface: out, ip: "203.0.113.2", mac: "02:00:00:00:00:02" }
  - { interface: out, ip: "2001:db8:1::2", mac: "02:00:00:00:00:02" }
YAML
}
config full 18081 >"$out/fib_1m_full.yaml"
cat >>"$out/fib_1m_full.yaml" <<YAML
routing:
  fpm: { listen: "127.0.0.1:26201" }
  max_routes: 2097152
YAML
config small 18082 >"$out/fib_1m_small.yaml"
echo "routes:" >>"$out/fib_1m_small.yaml"
for i in $(seq 0 15); do
  echo "  - { dst: \"$((i * 16)).0.0.0/4\", via: [\"203.0.113.2\"] }" >>"$out/fib_1m_small.yaml"
done
token="$("$gatewayd" token add "$out/fib_1m_full.yaml" bench readonly)"

pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf /var/run/dpdk/gw-full-$$ /var/run/dpdk/gw-small-$$
}
trap stop_all EXIT
start() { # start NAME: sets pid
  "$gatewayd" --config "$out/fib_1m_$1.yaml" >"$out/fib_1m_$1.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 120); do
    grep -q 'worker(s) on cores' "$out/fib_1m_$1.log" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$out/fib_1m_$1.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "fib_1m: $1 did not start" >&2; exit 1
}
rss() { awk '/VmRSS/ { print $2 * 1024 }' "/proc/$1/status"; }

start full; full=$pid
# The table over FPM; the connection stays open (a close would start
# the grace time).
/usr/bin/python3 "$here/fpm_feed.py" 127.0.0.1 26201 "$v4" "$v6" 3600 >"$out/fib_1m_feed.log" 2>&1 &
pids+=("$!")
learned() {
  curl -sf -H "Authorization: Bearer $token" 127.0.0.1:18081/metrics \
    | awk '/^gateway_learned_routes\{/ { s += $2 } END { print s + 0 }'
}
for _ in $(seq 1 600); do
  routes=$(sed -n 's/^routes=//p' "$out/fib_1m_feed.log")
  [ -n "$routes" ] && [ "$(learned)" -ge "$routes" ] && break
  sleep 0.5
done
[ -n "${routes:-}" ] && [ "$(learned)" -ge "$routes" ] \
  || { echo "fib_1m: the table did not go in" >&2; cat "$out/fib_1m_feed.log" "$out/fib_1m_full.log" >&2; exit 1; }
(cd "$here" && /usr/bin/python3 alternate.py --ready "full:$full:gw-full-$$")
kill -STOP "$full"
start small; small=$pid
(cd "$here" && /usr/bin/python3 alternate.py --ready "small:$small:gw-small-$$")
bytes=$(( ($(rss "$full") - $(rss "$small")) / routes ))
turns="$(cd "$here" && /usr/bin/python3 alternate.py "full:$full:gw-full-$$" "small:$small:gw-small-$$" \
  --pairs "$pairs" --seconds "$seconds")"
echo "$turns" | awk '/^pair /{print "# fib_1m pair " $2 ": full table " $4 " 16 routes " $6 " Mpps"}' >&2
echo "$turns" | /usr/bin/python3 -c '
import statistics, sys
routes, v4, bytes_ = sys.argv[1:]
rows = [l.split() for l in sys.stdin if l.startswith("pair ")]
full = [float(r[3]) for r in rows]
small = [float(r[5]) for r in rows]
loss = [1 - f / s for f, s in zip(full, small)]
med = statistics.median
print(f"fib_1m routes={v4} gatewayd_mpps={med(full):.2f} small_table_mpps={med(small):.2f} loss={med(loss):.3f} "
      f"min={min(loss):.3f} max={max(loss):.3f} pairs={len(rows)} bytes_per_route={bytes_} (all {routes} routes)")
' "$routes" "$v4" "$bytes"
echo "$lookups"
