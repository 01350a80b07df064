# Sourced by the bench scripts (after setting `here` to benches/): the
# paths, the gatewayd to measure, and the head of an instance's config.
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
