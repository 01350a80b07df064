# The two commands of the README, and a few helpers.
.PHONY: demo test deps tools build bench lab-up lab-down fmt lint fuzz deb deb-check

APT_PACKAGES = libdpdk-dev dpdk dpdk-doc clang libclang-dev pkg-config iproute2 ethtool \
               iperf3 socat curl netcat-openbsd iputils-ping traceroute python3 python3-venv make gcc \
               nftables tshark systemd frr prometheus valgrind

# Installs what is missing (Debian 12), once.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v cargo >/dev/null || { echo "cargo is needed: install Rust with rustup" >&2; exit 1; }

build: deps
	cargo build --release -p mgmt --bin gatewayd

# Brings up the lab, sends traffic through the gateway, leaves the lab up.
demo: build
	deploy/lab/demo.sh

# Test tools from PyPI, in a venv under target/: schemathesis, which
# checks the API against its OpenAPI document (mgmt/tests/api.rs).
SCHEMATHESIS = $(CURDIR)/target/tools/schemathesis/bin/st
tools: $(SCHEMATHESIS)
$(SCHEMATHESIS):
	python3 -m venv $(CURDIR)/target/tools/schemathesis
	$(CURDIR)/target/tools/schemathesis/bin/pip install -q schemathesis==4.32.5

# Every test: unit, pipeline, config, and end to end in the lab.
test: deps tools
	GATEWAY_SCHEMATHESIS=$(SCHEMATHESIS) cargo test --workspace -- --test-threads=2

bench: build
	benches/run.sh

# A Debian package (target/debian/gatewayd_VERSION_ARCH.deb): the binary,
# the systemd unit, a commented config, the dashboard, logrotate rules
# and the docs (docs/bare-metal.md). cargo-deb is installed if missing.
deb: build
	@command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
	cargo deb -p mgmt --no-build

# The package, unpacked and checked: its files, its config, its unit.
deb-check: deb
	deploy/deb/check.sh target/debian/gatewayd_*.deb

# Every fuzz target for FUZZ_SECONDS each (docs/fuzzing.md).
FUZZ_SECONDS ?= 600
fuzz: deps
	fuzz/run.sh $(FUZZ_SECONDS)

lab-up: build
	deploy/lab/up.sh

lab-down:
	deploy/lab/down.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
