#!/usr/bin/env bash
# benches/run.sh fpm_routes: how fast gatewayd takes a full routing table
# over FPM, in the router lab. benches/fpm_feed.py streams 1,000,000 IPv4
# prefixes (the Internet table's length mix) and 200,000 IPv6 prefixes
# to the FPM listener as zebra would (in lab-gw, to 127.0.0.1:2620),
# while 20 Mbit/s of UDP crosses the gateway from lab-lan to lab-wan.
# The clock runs from the first byte sent to the moment /metrics counts
# every route as learned (which is after the FIB that holds them is in
# the workers' hands). FRR is not involved: this is gatewayd's side
# alone.
#
# Then churn: the feeder withdraws a random prefix of the table and
# announces it again, FPM_CHURN_RATE changes a second (default 100,000)
# for FPM_CHURN_SECONDS (default 10), with the UDP flowing again.
#
# Prints: fpm_install routes=N routes_per_s=X seconds=T bytes_per_route=B
#         udp_loss_percent=L (UDP loss while the table went in)
#         fpm_churn changes_per_s=C taken=M snapshots=S in_place=I
#         ms_between_snapshots=G routes_after=R udp_loss_percent=L
#         (M: messages gatewayd read during the churn; S snapshots, I of
#         them changed in place, one every G ms: about how late a change
#         reaches the workers; R: learned routes once it is over, N if
#         none was lost)
# Environment: GATEWAYD (default: a release build), FPM_V4_ROUTES,
# FPM_V6_ROUTES, FPM_CHURN_RATE, FPM_CHURN_SECONDS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
v4=${FPM_V4_ROUTES:-1000000}
v6=${FPM_V6_ROUTES:-200000}
churn_rate=${FPM_CHURN_RATE:-100000}
churn_s=${FPM_CHURN_SECONDS:-10}
need_root fpm_routes "the lab"
gatewayd_build
GATEWAYD="$gatewayd" "$root/deploy/lab/up.sh" >/dev/null
trap '"$root/deploy/lab/down.sh" >/dev/null' EXIT
token=$(cat /run/gatewayd-lab/readonly.token)
learned() {
  curl -sf -H "Authorization: Bearer $token" 127.0.0.1:8080/metrics \
    | awk '/^gateway_learned_routes\{/ { s += $2 } END { print s + 0 }'
}
rss() { awk '/VmRSS/ { print $2 * 1024 }' "/proc/$(cat /run/gatewayd-lab/gatewayd.pid)/status"; }
now() { date +%s.%N; }

ip netns exec lab-wan iperf3 -s -D -1 -p 5210
for _ in $(seq 1 100); do ip netns exec lab-wan ss -Hltn 'sport = :5210' | grep -q . && break; sleep 0.05; done
rss0=$(rss)
ip netns exec lab-gw python3 "$here/fpm_feed.py" 127.0.0.1 2620 "$v4" "$v6" 900 --churn "$churn_rate" "$churn_s" \
  >"$out/fpm_feed.log" 2>&1 &
feeder=$!
# The feeder builds its messages first, then says how many and sends.
for _ in $(seq 1 1200); do grep -q '^routes=' "$out/fpm_feed.log" && break; sleep 0.05; done
t0=$(now)
routes=$(sed -n 's/^routes=//p' "$out/fpm_feed.log")
[ -n "$routes" ] || { echo "fpm_routes: the feeder did not start:" >&2; cat "$out/fpm_feed.log" >&2; exit 1; }
ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5210 -u -b 20M -t 40 -J >"$out/fpm_iperf.json" 2>&1 &
iperf=$!
n=0
while [ "$n" -lt "$routes" ]; do
  if [ "$(echo "$(now) - $t0 > 900" | bc)" = 1 ]; then
    echo "fpm_routes: only $n of $routes routes learned after 900 s" >&2; exit 1
  fi
  sleep 0.1
  n=$(learned)
done
t1=$(now)
rss1=$(rss)
wait "$iperf" || true
lost() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum"]["lost_percent"])' "$1" 2>/dev/null || echo "?"; }
loss=$(lost "$out/fpm_iperf.json")

# Churn, with the UDP flowing again.
metric() {
  curl -sf -H "Authorization: Bearer $token" 127.0.0.1:8080/metrics | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}
ip netns exec lab-wan iperf3 -s -D -1 -p 5211
for _ in $(seq 1 100); do ip netns exec lab-wan ss -Hltn 'sport = :5211' | grep -q . && break; sleep 0.05; done
ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5211 -u -b 20M -t "$((churn_s + 4))" -J >"$out/fpm_churn_iperf.json" 2>&1 &
iperf=$!
sleep 1
m0=$(metric gateway_fpm_messages_total); b0=$(metric gateway_fpm_batches_total); p0=$(metric gateway_fpm_in_place_total)
kill -USR1 "$feeder"
for _ in $(seq 1 $((churn_s * 20 + 200))); do grep -q '^churn sent=' "$out/fpm_feed.log" && break; sleep 0.1; done
sent=$(sed -n 's/^churn sent=\([0-9]*\).*/\1/p' "$out/fpm_feed.log")
took=$(sed -n 's/^churn sent=[0-9]* seconds=//p' "$out/fpm_feed.log")
[ -n "$sent" ] || { echo "fpm_routes: the churn did not run" >&2; cat "$out/fpm_feed.log" >&2; exit 1; }
# Until gatewayd has read every message and the batches stop.
for _ in $(seq 1 100); do
  [ "$(( $(metric gateway_fpm_messages_total) - m0 ))" -ge "$sent" ] && break
  sleep 0.1
done
sleep 1
m1=$(metric gateway_fpm_messages_total); b1=$(metric gateway_fpm_batches_total); p1=$(metric gateway_fpm_in_place_total)
after=$(learned)
wait "$iperf" || true
kill "$feeder" 2>/dev/null || true
churn_loss=$(lost "$out/fpm_churn_iperf.json")
python3 - "$routes" "$t0" "$t1" "$rss0" "$rss1" "$loss" <<'PY'
import sys
routes, t0, t1, rss0, rss1, loss = sys.argv[1:]
routes, secs = int(routes), float(t1) - float(t0)
print(f"fpm_install routes={routes} routes_per_s={routes / secs:.0f} seconds={secs:.2f} "
      f"bytes_per_route={(int(rss1) - int(rss0)) / routes:.0f} udp_loss_percent={loss}")
PY
echo "fpm_churn changes_per_s=$(python3 -c "print(round($sent / $took))") taken=$((m1 - m0)) snapshots=$((b1 - b0))" \
  "in_place=$((p1 - p0)) ms_between_snapshots=$(python3 -c "print(round($took * 1000 / max($b1 - $b0, 1)))")" \
  "routes_after=$after udp_loss_percent=$churn_loss"
