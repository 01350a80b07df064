#!/usr/bin/env bash
# Checks a built gatewayd .deb without installing it: unpacked in a
# temporary directory, it must hold every file the service needs, its
# binary must run and accept its own config, its unit must pass
# systemd-analyze verify, and it must depend on DPDK.
#
#   deploy/deb/check.sh target/debian/gatewayd_*.deb
set -euo pipefail
deb=${1:?usage: check.sh PACKAGE.deb}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
dpkg-deb -x "$deb" "$dir"
dpkg-deb -e "$deb" "$dir/DEBIAN"
fail() { echo "deb-check: $*" >&2; exit 1; }
for f in usr/bin/gatewayd lib/systemd/system/gatewayd.service etc/gatewayd/gateway.yaml \
         etc/logrotate.d/gatewayd usr/share/gatewayd/grafana/gateway.json \
         usr/share/doc/gatewayd/bare-metal.md usr/share/doc/gatewayd/copyright DEBIAN/postinst DEBIAN/conffiles; do
  [ -e "$dir/$f" ] || fail "missing $f"
done
grep -qx /etc/gatewayd/gateway.yaml "$dir/DEBIAN/conffiles" || fail "the config is not a conffile"
dpkg-deb -f "$deb" Depends | grep -q 'dpdk' || fail "no dependency on dpdk: $(dpkg-deb -f "$deb" Depends)"
"$dir/usr/bin/gatewayd" --version
"$dir/usr/bin/gatewayd" --check-config "$dir/etc/gatewayd/gateway.yaml"
sed "s#/usr/bin/gatewayd#$dir/usr/bin/gatewayd#g" "$dir/lib/systemd/system/gatewayd.service" >"$dir/gatewayd.service"
(cd "$dir" && systemd-analyze verify "$dir/gatewayd.service")
sh -n "$dir/DEBIAN/postinst"
if command -v logrotate >/dev/null; then logrotate -d "$dir/etc/logrotate.d/gatewayd" >/dev/null 2>&1 || fail "logrotate rejects its rules"; fi
echo "deb-check: $(basename "$deb") ok ($(du -h "$deb" | cut -f1))"
