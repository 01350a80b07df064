# Sourced by the bench scripts (after setting `here` to benches/): the
# paths, the gatewayd to measure, the head of an instance's config and
# the IPv4 scenario's tables, and the stopping of DPDK processes.
root="$(cd "$here/.." && pwd)"
out="$here/out"; mkdir -p "$out"

# need_root NAME WHY: stops unless run as root.
need_root() { [ "$(id -u)" = 0 ] || { echo "$1: needs root ($2)" >&2; exit 1; }; }

# Sets gatewayd: $GATEWAYD, or a release build made here.
gatewayd_build() {
  gatewayd="${GATEWAYD:-}"
  if [ -z "$gatewayd" ]; then
    (cd "$root" && cargo build --release -q -p mgmt --bin gatewayd)
    gatewayd="$root/target/release/gatewayd"
  fi
}

# pairs_seconds NAME ARGS...: --pairs N and --seconds S into pairs and
# seconds (defaults set by the caller).
pairs_seconds() {
  local name="$1"; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --pairs) pairs="$2"; shift 2 ;;
      --seconds) seconds="$2"; shift 2 ;;
      *) echo "$name: unknown argument $1" >&2; exit 2 ;;
    esac
  done
}

# config_head FILE_PREFIX CORES LISTEN: an instance's DPDK, workers and
# API lines (no huge pages, no PCI, 16,383 mbufs).
config_head() {
  cat <<YAML
dpdk:
  eal_args: ["--no-huge", "--no-pci", "-m", "1024", "--file-prefix", "$1", "-l", "0"]
  mbufs: 16383
workers:
  cores: [$2]
management:
  listen: "$3"
YAML
}

# DPDK processes to stop at exit: track PID PREFIX adds one; stop_procs
# continues each (it may be stopped between turns), asks it to stop
# (SIGINT), kills what is left after 5 s and removes its runtime dir.
procs=()
track() { procs+=("$1 $2"); }
stop_procs() {
  local p pid prefix
  for p in "${procs[@]}"; do
    read -r pid prefix <<<"$p"
    kill -CONT "$pid" 2>/dev/null || true
    kill -INT "$pid" 2>/dev/null || true
  done
  for p in "${procs[@]}"; do
    read -r pid prefix <<<"$p"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -rf "/var/run/dpdk/$prefix"
  done
}

# routed_v4 IN_VDEV: the ports, interfaces and tables of the IPv4
# scenario: frames in on IN_VDEV (as for 02:00:00:00:00:01), routed to
# 198.18.0.0/15 via 203.0.113.2 out of a null sink.
routed_v4() {
  cat <<YAML
ports:
  - { name: in, vdev: "$1", mac: "02:00:00:00:00:01" }
  - { name: out, vdev: "net_null0,no-rx=1" }
interfaces:
  - { name: in, port: in, ipv4: ["192.0.2.1/24"] }
  - { name: out, port: out, ipv4: ["203.0.113.1/24"] }
routes:
  - { dst: "198.18.0.0/15", via: ["203.0.113.2"] }
neighbors:
  - { interface: out, ip: "203.0.113.2", mac: "02:00:00:00:00:02" }
YAML
}
