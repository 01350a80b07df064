#!/usr/bin/env bash
# The pcap-replay harness (docs/benchmarks.md): gatewayd and DPDK's l3fwd,
# one worker each on the same core, fed the same frames from a pcap
# (net_pcap, infinite_rx) and sending to a null sink (net_null), measured
# in one invocation. l3fwd is built here from the distribution's example
# sources (benches/l3fwd.sh).
#
#   benches/run.sh [ipv4_route|ipv6_route|l2_bridge|nat44|tunnel|io_floor] [--seconds S] [--pairs N]
#   GATEWAYD=path/to/gatewayd benches/run.sh ...   (measure that build)
#   benches/run.sh [ipv4_route|ipv6_route|l2_bridge|tunnel] --instructions [--seconds S]
#                                  (instructions per frame under callgrind:
#                                  benches/instructions.py; no l3fwd)
#   benches/run.sh scrape
#   benches/run.sh stages
#   benches/run.sh tcp [--seconds S] [--pairs N]
#   benches/run.sh fpm_routes      (a full table over FPM: benches/fpm_routes.sh)
#   benches/run.sh fib_1m [--pairs N] [--seconds S]
#                                  (forwarding with a full table: benches/fib_1m.sh)
#   benches/run.sh two_workers [--pairs N] [--seconds S]
#                                  (one worker to two, against l3fwd: benches/two_workers.sh)
#   benches/run.sh latency [--pairs N] [--seconds S]
#                                  (time in the program at half load, against l3fwd:
#                                  benches/latency.sh)
#
# gatewayd and l3fwd both run, polling the same core, and take turns on
# it (benches/alternate.py: the other one is stopped with SIGSTOP), so
# the two rates of a pair are taken seconds apart: N pairs (default 5, as #28 asks)
# of S-second turns (default 2). A ratio is taken in each pair, and the
# line gives the median ratio with the pairs' spread, and the median
# rates. (One pair is not a measurement on a shared VM: the host's load
# moves a rate by a third within half a minute.)
#
# Prints: ipv4_route gatewayd_mpps=X l3fwd_mpps=Y ratio=Z min=A max=B pairs=N
#     or: ipv6_route ... (against l3fwd, 2001:200:0:1::/64 frames)
#     or: l2_bridge ... (both ports in one bridge; against l3fwd's IPv4
#         rate on the same frames). The sink never sends, so the
#         destination MAC is never learned: each frame is unknown unicast,
#         flooded to the one other member (one send, no copy), after its
#         source is learned (refreshed).
#     or: nat44_steady gatewayd_mpps=X l3fwd_mpps=Y ratio=Z sessions=N
#         (source NAT of the same frames to a pool of 64 addresses, with
#         a million sessions live: 1,000,000 flows, which include the
#         replayed 1024, are sent once into a third port, af_packet on a
#         veth pair, before the measurement starts; against l3fwd's IPv4
#         rate)
#         and nat44_new_sessions sessions_per_s=N (criterion,
#         nat/benches/nat44.rs: one core opening sessions through the
#         whole pipeline, in bursts of 32), nat44_translate_1m_flows ns_per_packet=X (every
#         packet a different one of 1,048,576 sessions), and
#         nat44_memory bytes_per_session=X
#     or: gre_encap ..., gre_decap ... and vxlan_decap ... (the frames
#         routed into a GRE tunnel; the same frames wrapped in GRE,
#         unwrapped and routed on; wrapped in VXLAN, unwrapped and
#         switched; each against l3fwd's IPv4 rate on the plain frames)
#     or: io_floor floor_mpps=X l3fwd_mpps=Y ratio=Z min=A max=B pairs=N
#         (benches/io_floor.c: each burst of the IPv4 frames received and
#         sent on untouched, against l3fwd, in turns: the most any program
#         can get from these drivers on this core, and how far above
#         l3fwd that lies)
#     or: scrape workers=16 ports=32 mean_ms=X target_ms=10 (criterion,
#         mgmt/benches/scrape.rs: one /metrics render)
#     or: stage NAME ns_per_packet=X, one line per pipeline stage
#         (criterion, stack/benches/pipeline.rs, on recycled VecBufs),
#         between two lines host l3fwd_mpps=X when=before|after (l3fwd
#         alone on core 1 for 3 s: the host's speed at the time)
#     or: tcp_bulk ours_gbps=X linux_gbps=Y ratio=Z min=A max=B pairs=N mtu=9000,
#         tcp_bulk_1500 ... mtu=1500 and tcp_connect ours_per_s=X
#         linux_per_s=Y ratio=Z ...: the gateway's TCP talking to itself
#         (dataplane/examples/tcp_pair.rs: two stacks, a worker each,
#         joined by a net_ring pair of that MTU) against Linux over
#         loopback (MTU 65536; iperf3, and the same connect, 64-byte
#         echo, close loop in Rust), the client on core 0, the server on
#         core 1 for both (TCP_CORES=A,B to change); and tcp_memory
#         bytes_per_connection=X slot_bytes=Y buffer=B (what a worker's
#         table reserves per connection, at the default tcp.buffer)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
scenario=ipv4_route; seconds=""; core=1; pairs=""; count=""; asked_seconds=""
while [ $# -gt 0 ]; do
  case "$1" in
    ipv4_route|ipv6_route|l2_bridge|nat44|tunnel|scrape|stages|tcp|fpm_routes|fib_1m|two_workers|latency|io_floor) scenario=$1; shift ;;
    --seconds) seconds="$2"; asked_seconds="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --instructions) count=1; shift ;;
    *) echo "unknown argument $1 (scenarios: ipv4_route, ipv6_route, l2_bridge, nat44, tunnel, scrape, stages, tcp, fpm_routes, fib_1m, two_workers, latency, io_floor)" >&2; exit 2 ;;
  esac
done
# A full table over FPM, in the lab: benches/fpm_routes.sh.
if [ "$scenario" = fpm_routes ]; then exec "$here/fpm_routes.sh"; fi
# The lab's gatewayd (left up by `make demo`) polls the cores these runs
# measure on: a rate taken beside it is the two sharing a core.
if pgrep -f -- "--config /run/gatewayd-lab/" >/dev/null; then
  echo "run.sh: the lab's gatewayd is running and would share the measured core (make lab-down first)" >&2
  exit 1
fi
# Forwarding with a full table: benches/fib_1m.sh.
if [ "$scenario" = fib_1m ]; then exec "$here/fib_1m.sh" ${pairs:+--pairs "$pairs"} ${seconds:+--seconds "$seconds"}; fi
# One worker to two: benches/two_workers.sh.
if [ "$scenario" = two_workers ]; then exec "$here/two_workers.sh" ${pairs:+--pairs "$pairs"} ${seconds:+--seconds "$seconds"}; fi
# Time in the program at half load: benches/latency.sh.
if [ "$scenario" = latency ]; then exec "$here/latency.sh" ${pairs:+--pairs "$pairs"} ${seconds:+--seconds "$seconds"}; fi
# A tcp pair is two whole runs of S seconds; a DPDK pair is two turns of
# S seconds on a core (benches/alternate.py).
if [ "$scenario" = tcp ]; then
  seconds="${seconds:-5}"; pairs="${pairs:-5}"
else
  seconds="${seconds:-2}"; pairs="${pairs:-5}"
fi
if [ "$scenario" = scrape ]; then
  if ! (cd "$root" && cargo bench -q -p mgmt --bench scrape -- --warm-up-time 1 --measurement-time 3) \
      >"$here/out/scrape.log" 2>&1; then
    cat "$here/out/scrape.log" >&2; exit 1
  fi
  est="$root/target/criterion/scrape_16_workers_32_ports/new/estimates.json"
  /usr/bin/python3 - "$est" <<'PY'
import json, sys
mean = json.load(open(sys.argv[1]))["mean"]["point_estimate"] / 1e6
print(f"scrape workers=16 ports=32 mean_ms={mean:.3f} target_ms=10 {'ok' if mean < 10 else 'OVER TARGET'}")
PY
  exit 0
fi
if [ "$scenario" = stages ]; then
  # Runs criterion bench BENCH of the stack and prints each of its
  # functions per element (criterion's mean is per iteration: a burst,
  # or 32 segments).
  stage() { # stage BENCH GROUP UNIT
    if ! (cd "$root" && cargo bench -q -p stack --bench "$1" -- --warm-up-time 1 --measurement-time 3) \
        >"$here/out/stages_$1.log" 2>&1; then
      cat "$here/out/stages_$1.log" >&2; exit 1
    fi
    for dir in "$root"/target/criterion/"$2"/*/new; do
      /usr/bin/python3 - "$dir" "$3" <<'PY'
import json, os, sys
d, unit = sys.argv[1], sys.argv[2]
mean = json.load(open(os.path.join(d, "estimates.json")))["mean"]["point_estimate"]
bench = json.load(open(os.path.join(d, "benchmark.json")))
n = (bench.get("throughput") or {}).get("Elements", 1)
print(f"stage {bench['function_id']} {unit}={mean / n:.1f}")
PY
    done
  }
  # The host's speed beside the stages, before and after them: l3fwd
  # alone on the plain IPv4 frames, as the DPDK scenarios measure it
  # (needs root; a slow hour shows as a low rate).
  host_l3fwd() { # host_l3fwd WHEN
    if [ "$(id -u)" != 0 ]; then
      echo "host l3fwd_mpps=unmeasured when=$1 (needs root)"; return
    fi
    local pcap="$out/ip-64b-1024flows.pcap" mpps
    /usr/bin/python3 "$here/gen_pcap.py" "$pcap" --flows 1024 --size 64 --dst-port-index 1
    mpps="$(bash "$here/l3fwd.sh" --core 1 --pcap "$pcap" --seconds 3 | awk '/^l3fwd_mpps/{print $2}')"
    echo "host l3fwd_mpps=${mpps:-failed} when=$1"
  }
  host_l3fwd before
  stage pipeline pipeline ns_per_packet
  # The gateway's own TCP through the whole pipeline (stack/benches/tcp.rs).
  stage tcp tcp ns_per_segment
  host_l3fwd after
  exit 0
fi
if [ "$scenario" = tcp ]; then
  [ "$(id -u)" = 0 ] || { echo "run.sh: needs root (DPDK)" >&2; exit 1; }
  (cd "$root" && cargo build --release -q -p dataplane --example tcp_pair)
  pair="$root/target/release/examples/tcp_pair"
  cores="${TCP_CORES:-0,1}"; client_core="${cores%,*}"; server_core="${cores#*,}"
  rows="$here/out/tcp_pairs.txt"; : >"$rows"
  value() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
  for i in $(seq 1 "$pairs"); do
    ours_bulk=$("$pair" bulk --mtu 9000 --seconds "$seconds" --cores "$cores" 2>/dev/null | value ours_gbps)
    ours_1500=$("$pair" bulk --mtu 1500 --seconds "$seconds" --cores "$cores" 2>/dev/null | value ours_gbps)
    iperf3 -s -p 5299 -1 -A "$server_core" >/dev/null 2>&1 &
    sleep 0.5
    linux_bulk=$(iperf3 -c 127.0.0.1 -p 5299 -A "$client_core" -t "$seconds" -O 1 -J |
      /usr/bin/python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))')
    wait || true
    ours_conn=$("$pair" connect --seconds "$seconds" --cores "$cores" 2>/dev/null | value ours_per_s)
    linux_conn=$("$pair" linux-connect --seconds "$seconds" --cores "$cores" | value linux_per_s)
    echo "tcp_bulk $ours_bulk $linux_bulk" >>"$rows"
    echo "tcp_bulk_1500 $ours_1500 $linux_bulk" >>"$rows"
    echo "tcp_connect $ours_conn $linux_conn" >>"$rows"
    echo "# pair $i/$pairs: bulk ours $ours_bulk (MTU 1500: $ours_1500) linux $linux_bulk Gbit/s; connect ours $ours_conn linux $linux_conn /s" >&2
  done
  /usr/bin/python3 - "$rows" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for name, unit, mtu in (("tcp_bulk", "gbps", " mtu=9000"), ("tcp_bulk_1500", "gbps", " mtu=1500"), ("tcp_connect", "per_s", "")):
    ours = [float(r[1]) for r in rows if r[0] == name]
    linux = [float(r[2]) for r in rows if r[0] == name]
    ratios = [o / l for o, l in zip(ours, linux)]
    med = statistics.median
    fmt = "{:.2f}" if unit == "gbps" else "{:.0f}"
    print(f"{name} ours_{unit}={fmt.format(med(ours))} linux_{unit}={fmt.format(med(linux))} "
          f"ratio={med(ratios):.2f} min={min(ratios):.2f} max={max(ratios):.2f} pairs={len(ratios)}{mtu}")
PY
  "$pair" memory | sed 's/^/tcp_memory /'
  exit 0
fi
# The nat44 fill port's veth pair, if one was made.
drop_veth() { [ -z "${veth:-}" ] || ip link del "${veth}a" 2>/dev/null || true; }
need_root run.sh DPDK
[ "$scenario" = io_floor ] || gatewayd_build   # (io_floor measures no gatewayd)

v6=""
if [ "$scenario" = ipv6_route ]; then v6=--v6; fi
pcap="$out/ip${v6:+v6}-64b-1024flows.pcap"
/usr/bin/python3 "$here/gen_pcap.py" "$pcap" $v6 --flows 1024 --size 64 --dst-port-index 1

# summary NAME [SUFFIX [LABEL]]: from $out/pairs.txt's lines "NAME
# RATE L3FWD_RATE", the median rates (the first as LABEL_mpps, default
# gatewayd) and ratio, and the ratios' spread; SUFFIX ends the line.
summary() {
  /usr/bin/python3 - "$out/pairs.txt" "$1" "${2:-}" "${3:-gatewayd}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.split()[0] == sys.argv[2]]
gw = [float(r[1]) for r in rows]
l3 = [float(r[2]) for r in rows]
ratios = [g / l if l > 0 else float("nan") for g, l in zip(gw, l3)]
med = statistics.median
print(f"{sys.argv[2]} {sys.argv[4]}_mpps={med(gw):.2f} l3fwd_mpps={med(l3):.2f} ratio={med(ratios):.2f} "
      f"min={min(ratios):.2f} max={max(ratios):.2f} pairs={len(rows)}{sys.argv[3]}")
PY
}

# The drivers' floor: benches/io_floor.c (each burst received and sent
# on untouched) against l3fwd, in turns on the core, on the IPv4 frames.
if [ "$scenario" = io_floor ]; then
  trap stop_procs EXIT
  l3="$(bash "$here/l3fwd.sh" --core "$core" --pcap "$pcap" --hold)"
  read -r _ l3pid l3prefix <<<"$l3"
  track "$l3pid" "$l3prefix"
  (cd "$here" && /usr/bin/python3 alternate.py --ready "l3fwd:$l3pid:$l3prefix") \
    || { cat "$out/l3fwd/l3fwd.log" >&2; exit 1; }
  kill -STOP "$l3pid"
  gcc -O3 -o "$out/io_floor" "$here/io_floor.c" $(pkg-config --cflags --libs libdpdk)
  fprefix="io-floor-$$"
  "$out/io_floor" -l "$core" --no-huge --no-pci -m 1024 --file-prefix "$fprefix" \
    --vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 >"$out/io_floor.log" 2>&1 &
  fpid=$!
  track "$fpid" "$fprefix"
  turns="$(cd "$here" && /usr/bin/python3 alternate.py "io_floor:$fpid:$fprefix" "l3fwd:$l3pid:$l3prefix" \
    --pairs "$pairs" --seconds "$seconds")" || { cat "$out/io_floor.log" >&2; exit 1; }
  echo "$turns" | awk '/^pair /{print "# io_floor pair " $2 ": floor " $4 " l3fwd " $6 " Mpps"}' >&2
  echo "$turns" | awk '/^pair /{print "io_floor", $4, $6}' >"$out/pairs.txt"
  summary io_floor "" floor
  exit 0
fi

# IPv4 frames go to 02:00:00:00:00:01 and 198.18.1.0/24, IPv6 frames to
# 2001:200:0:1::/64, as l3fwd routes them.
prefix="gw-bench-$$"
# One worker, both ports polled, the API off the lab's port; then the
# scenario's ports and tables.
config_head "$prefix" "$core" "127.0.0.1:18080" >"$out/gateway.yaml"
if [ "$scenario" = l2_bridge ]; then
cat >>"$out/gateway.yaml" <<YAML
ports:
  - { name: in, vdev: "net_pcap0,rx_pcap=$pcap,infinite_rx=1", promiscuous: true }
  - { name: out, vdev: "net_null0,no-rx=1", promiscuous: true }
bridges:
  - { name: br0, members: [{ port: in }, { port: out }] }
YAML
elif [ "$scenario" = tunnel ]; then
# gre_encap: the IPv4 frames routed into a GRE tunnel to 203.0.113.2 on
# "out". gre_decap: the same frames wrapped in GRE from 192.0.2.2 to the
# gateway's 192.0.2.1 (gen_pcap.py --gre), unwrapped and routed to "out".
grepcap="$out/ip-64b-1024flows-gre.pcap"
/usr/bin/python3 "$here/gen_pcap.py" "$grepcap" --flows 1024 --size 64 --dst-port-index 1 --gre 192.0.2.2,192.0.2.1
# vxlan_decap: the same frames wrapped in VXLAN (VNI 100) from VTEP
# 192.0.2.2, unwrapped into bridge br0 and switched out of "out" (their
# destination MAC never learned: flooded to the one local member).
vxpcap="$out/ip-64b-1024flows-vxlan.pcap"
/usr/bin/python3 "$here/gen_pcap.py" "$vxpcap" --flows 1024 --size 64 --dst-port-index 1 --vxlan 192.0.2.2,192.0.2.1,100
cp "$out/gateway.yaml" "$out/vxlan_decap.yaml"
cat >>"$out/vxlan_decap.yaml" <<YAML
ports:
  - { name: in, vdev: "net_pcap0,rx_pcap=$vxpcap,infinite_rx=1", mac: "02:00:00:00:00:01" }
  - { name: out, vdev: "net_null0,no-rx=1", promiscuous: true }
bridges:
  - name: br0
    members: [{ port: out }]
    vxlan: { vni: 100, local: 192.0.2.1, remotes: [192.0.2.2] }
interfaces:
  - { name: in, port: in, ipv4: ["192.0.2.1/24"] }
YAML
for mode in encap decap; do
  cp "$out/gateway.yaml" "$out/gre_$mode.yaml"
  if [ $mode = encap ]; then
    rx="$pcap"; tunnel="{ type: gre, local: 203.0.113.1, remote: 203.0.113.2 }"; via=172.16.0.2
  else
    rx="$grepcap"; tunnel="{ type: gre, local: 192.0.2.1, remote: 192.0.2.2 }"; via=203.0.113.2
  fi
  cat >>"$out/gre_$mode.yaml" <<YAML
ports:
  - { name: in, vdev: "net_pcap0,rx_pcap=$rx,infinite_rx=1", mac: "02:00:00:00:00:01" }
  - { name: out, vdev: "net_null0,no-rx=1" }
interfaces:
  - { name: in, port: in, ipv4: ["192.0.2.1/24"] }
  - { name: out, port: out, ipv4: ["203.0.113.1/24"] }
  - { name: gre1, tunnel: $tunnel, ipv4: ["172.16.0.1/30"] }
routes:
  - { dst: "198.18.0.0/15", via: ["$via"] }
neighbors:
  - { interface: out, ip: "203.0.113.2", mac: "02:00:00:00:00:02" }
YAML
done
elif [ "$scenario" = nat44 ]; then
# As ipv4_route, plus a fill port on an interface of its own, and source
# NAT of everything from 10/8 leaving "out". The fill port is af_packet on
# a veth pair, into which send_pcap.py sends a million flows once: idle
# after that, its polls take 0.8% of the worker's time (a net_pcap port
# playing the file once is read again at its end at every poll: 3.5% of
# the rate, measured against not polling it, which l3fwd does not pay).
fill="$out/ip-64b-1000000flows.pcap"
[ -s "$fill" ] || /usr/bin/python3 "$here/gen_pcap.py" "$fill" --flows 1000000 --size 64 --dst-port-index 1
veth="gwbf$$"
drop_veth
ip link add "${veth}a" type veth peer name "${veth}b"
for end in a b; do
  sysctl -qw "net.ipv6.conf.${veth}${end}.disable_ipv6=1"
  ip link set "${veth}${end}" up
done
trap drop_veth EXIT
cat >>"$out/gateway.yaml" <<YAML
ports:
  - { name: in, vdev: "net_pcap0,rx_pcap=$pcap,infinite_rx=1", mac: "02:00:00:00:00:01" }
  - { name: out, vdev: "net_null0,no-rx=1" }
  - { name: fill, vdev: "net_af_packet0,iface=${veth}a,framecnt=4096", mac: "02:00:00:00:00:01" }
interfaces:
  - { name: in, port: in, ipv4: ["192.0.2.1/24"] }
  - { name: out, port: out, ipv4: ["203.0.113.1/24"] }
  - { name: fill, port: fill, ipv4: ["192.0.3.1/24"] }
routes:
  - { dst: "198.18.0.0/15", via: ["203.0.113.2"] }
neighbors:
  - { interface: out, ip: "203.0.113.2", mac: "02:00:00:00:00:02" }
nat:
  rules:
    - { inside: "10.0.0.0/8", outside_interface: out, pool: ["100.64.0.0/26"] }
  max_sessions: 1100000
  # The fill pcap has one flow per inside address: a subscriber each.
  max_subscribers: 1100000
YAML
token="$("$gatewayd" token add "$out/gateway.yaml" bench readonly)"
else
cat >>"$out/gateway.yaml" <<YAML
ports:
  - name: in
    vdev: "net_pcap0,rx_pcap=$pcap,infinite_rx=1"
    mac: "02:00:00:00:00:01"
  - name: out
    vdev: "net_null0,no-rx=1"
interfaces:
  - { name: in, port: in, ipv4: ["192.0.2.1/24"], ipv6: ["2001:db8:0:1::1/64"] }
  - { name: out, port: out, ipv4: ["203.0.113.1/24"], ipv6: ["2001:db8:0:2::1/64"] }
routes:
  - { dst: "198.18.0.0/15", via: ["203.0.113.2"] }
  - { dst: "2001:200::/48", via: ["2001:db8:0:2::2"] }
neighbors:
  - { interface: out, ip: "203.0.113.2", mac: "02:00:00:00:00:02" }
  - { interface: out, ip: "2001:db8:0:2::2", mac: "02:00:00:00:00:02" }
YAML
fi

# Starts gatewayd with config $1 and waits until its worker runs (and,
# for nat44, until the million sessions are in): sets gw.
start_gatewayd() {
  "$gatewayd" --config "$1" >"$out/gatewayd.log" 2>&1 &
  gw=$!
  trap stop_all EXIT
  for _ in $(seq 1 60); do
    grep -q 'worker(s) on cores' "$out/gatewayd.log" && break
    kill -0 $gw 2>/dev/null || { cat "$out/gatewayd.log" >&2; exit 1; }
    sleep 0.5
  done
  sessions=""
  if [ "$scenario" = nat44 ]; then
    nat_sessions() {
      curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:18080/metrics 2>/dev/null \
        | awk '/^gateway_nat_sessions[ {]/{s += $NF} END {print s + 0}' || true
    }
    # Send the million flows (off the worker's core) until they are all in:
    # a frame the port's ring had no room for is sent again next time.
    for _ in 1 2 3 4 5; do
      taskset -c 0 /usr/bin/python3 "$here/send_pcap.py" "$fill" "${veth}b" >/dev/null
      for _ in $(seq 1 10); do
        sessions=$(nat_sessions)
        [ "${sessions:-0}" -ge 1000000 ] && break 2
        sleep 0.5
      done
    done
    [ "${sessions:-0}" -ge 1000000 ] || { echo "run.sh: only ${sessions:-0} NAT sessions after five fills" >&2; cat "$out/gatewayd.log" >&2; exit 1; }
  fi
}
stop_gatewayd() {
  [ -n "${gw:-}" ] || return 0
  kill -CONT $gw 2>/dev/null || true
  kill -TERM $gw 2>/dev/null || true
  wait $gw 2>/dev/null || true
  gw=""
  rm -rf "/var/run/dpdk/$prefix"
}
stop_all() {
  stop_gatewayd
  if [ -n "${l3pid:-}" ]; then
    kill -CONT $l3pid 2>/dev/null || true
    kill -INT $l3pid 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 $l3pid 2>/dev/null || break; sleep 0.1; done
    kill -KILL $l3pid 2>/dev/null || true
    rm -rf "/var/run/dpdk/$l3prefix"
  fi
  drop_veth
}

# --instructions: no rates, no l3fwd; each config's gatewayd under
# callgrind, its instructions per frame counted (benches/instructions.py).
if [ -n "$count" ]; then
  case "$scenario" in
    ipv4_route|ipv6_route|l2_bridge) names=("$scenario"); configs=("$out/gateway.yaml") ;;
    tunnel) names=(gre_encap gre_decap vxlan_decap)
      configs=("$out/gre_encap.yaml" "$out/gre_decap.yaml" "$out/vxlan_decap.yaml") ;;
    *) echo "run.sh: --instructions counts ipv4_route, ipv6_route, l2_bridge and tunnel" >&2; exit 2 ;;
  esac
  for i in "${!names[@]}"; do
    (cd "$here" && /usr/bin/python3 instructions.py "${names[$i]}" "$prefix" --out "$out/callgrind-${names[$i]}.out" \
      ${asked_seconds:+--seconds "$asked_seconds"} -- "$gatewayd" --config "${configs[$i]}")
    rm -rf "/var/run/dpdk/$prefix"
  done
  drop_veth
  exit 0
fi
# l3fwd on the plain frames, held for the whole run and stopped
# (SIGSTOP) except in its turns.
l3="$(bash "$here/l3fwd.sh" --core "$core" --pcap "$pcap" --hold)"
read -r _ l3pid l3prefix <<<"$l3"
trap stop_all EXIT
(cd "$here" && /usr/bin/python3 alternate.py --ready "l3fwd:$l3pid:$l3prefix") \
  || { cat "$out/l3fwd/l3fwd.log" >&2; exit 1; }
names=("$scenario"); configs=("$out/gateway.yaml")
if [ "$scenario" = tunnel ]; then
  names=(gre_encap gre_decap vxlan_decap)
  configs=("$out/gre_encap.yaml" "$out/gre_decap.yaml" "$out/vxlan_decap.yaml")
elif [ "$scenario" = nat44 ]; then
  names=(nat44_steady)
fi
# Per config: gatewayd and l3fwd in turns on the core, N pairs
# (benches/alternate.py); a line "NAME GW_MPPS L3FWD_MPPS" per pair into
# $out/pairs.txt.
: >"$out/pairs.txt"
for i in "${!names[@]}"; do
  name="${names[$i]}"
  kill -STOP $l3pid
  start_gatewayd "${configs[$i]}"
  turns="$(cd "$here" && /usr/bin/python3 alternate.py "gatewayd:$gw:$prefix" "l3fwd:$l3pid:$l3prefix" \
    --pairs "$pairs" --seconds "$seconds")" || { cat "$out/gatewayd.log" >&2; exit 1; }
  stop_gatewayd
  echo "$turns" | awk -v n="$name" '/^pair /{print n, $4, $6}' >>"$out/pairs.txt"
  echo "$turns" | awk -v n="$name" -v logf="$out/gatewayd.log" \
    '/^pair /{print "# " n " pair " $2 ": gatewayd " $4 " l3fwd " $6 " Mpps"}
     /^rx /{print "# " n ": gatewayd received " $3 " Mpps on port 0 in its last turn (log: " logf ")"}' >&2
done
for name in "${names[@]}"; do
  if [ "$name" = nat44_steady ]; then summary "$name" " sessions=$sessions"; else summary "$name"; fi
done
if [ "$scenario" = nat44 ]; then
  if ! (cd "$root" && cargo bench -q -p nat --bench nat44 -- --warm-up-time 1 --measurement-time 3) \
      >"$out/nat44.log" 2>&1; then
    cat "$out/nat44.log" >&2; exit 1
  fi
  mean() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean"]["point_estimate"])' \
    "$root/target/criterion/nat44/$1/new/estimates.json"; }
  # Those benches time bursts of 32 frames, as a worker takes them.
  awk -v ns="$(mean new_session)" 'BEGIN { printf "nat44_new_sessions sessions_per_s=%.0f\n", 32e9 / ns }'
  awk -v ns="$(mean translate_1m_sessions)" 'BEGIN { printf "nat44_translate_1m_flows ns_per_packet=%.1f\n", ns / 32 }'
  grep -o 'bytes_per_session=[0-9]*' "$out/nat44.log" | head -1 | sed 's/^/nat44_memory /'
fi
