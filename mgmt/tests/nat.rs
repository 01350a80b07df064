//! NAT44 end to end (DESIGN.md §5, §6.4): the lab with
//! `deploy/lab/nat.yaml`, kernel peers on both sides. Needs root,
//! iproute2, iperf3, socat and python3; skips with a message otherwise.

mod common;
use common::*;
use std::time::Duration;

fn nat_lab() -> Option<Lab> {
    Lab::up_with(Some(&root().join("deploy/lab/nat.yaml")))
}

/// A TCP server in lab-wan on `port` that writes the peer's address and
/// the SHA-256 of what it received to `out`.
fn sink(port: u16, out: &str) {
    ok(&format!(
        "ip netns exec lab-wan python3 -c '
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", {port})); s.listen(1)
c, peer = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b)
open(\"{out}\", \"w\").write(peer[0] + \" \" + h.hexdigest())
' >/dev/null 2>&1 &"
    ));
    std::thread::sleep(Duration::from_millis(400));
}

#[test]
fn masquerade_tcp_50mb_byte_identical_and_wan_sees_the_outside_address() {
    let Some(lab) = nat_lab() else { return };
    let dir = std::env::temp_dir().join(format!("gw-nat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (data, out) = (dir.join("data"), dir.join("seen"));
    ok(&format!("head -c 50000000 /dev/urandom > {}", data.display()));
    let want = ok(&format!("sha256sum {}", data.display()));
    sink(9000, &out.display().to_string());
    ok(&format!("ip netns exec lab-lan socat -u FILE:{} TCP:203.0.113.2:9000", data.display()));
    let mut seen = String::new();
    for _ in 0..50 {
        seen = std::fs::read_to_string(&out).unwrap_or_default();
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (peer, sum) = seen.split_once(' ').unwrap_or_else(|| panic!("sink wrote '{seen}'"));
    assert_eq!(peer, "203.0.113.1", "lab-wan must see the masquerade address, not 10.0.1.2");
    assert_eq!(sum, want.split_whitespace().next().unwrap(), "50 MB through NAT not byte-identical");
    // Ping and UDP through the masquerade too.
    ping("lab-lan", "203.0.113.2");
    assert!(lab.metric("gateway_nat_sessions_created_total{proto=\"tcp\"}") >= 1);
    assert!(lab.metric("gateway_nat_sessions_created_total{proto=\"icmp\"}") >= 1);
    assert!(lab.metric("gateway_nat_sessions") >= 2);
    assert!(lab.metric("gateway_nat_translated_total") > 30_000);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn iperf3_tcp_and_udp_through_nat() {
    let Some(lab) = nat_lab() else { return };
    ok("ip netns exec lab-wan iperf3 -s -D -p 5201");
    std::thread::sleep(Duration::from_millis(500));
    let tcp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5201 -t 2 -J");
    assert!(tcp.contains("\"bits_per_second\""), "{tcp}");
    let udp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5201 -u -b 20M -t 2 -J");
    let lost = udp
        .split("\"sum\"")
        .last()
        .and_then(|s| s.split("\"lost_percent\":").nth(1))
        .and_then(|s| s.split([',', '\n', '}']).next().and_then(|v| v.trim().parse::<f64>().ok()));
    assert!(lost.is_some_and(|l| l < 2.0), "UDP through NAT lost {lost:?}%");
    sh("pkill -f 'iperf3 -s -D -p 5201'");
    assert!(lab.metric("gateway_nat_sessions_created_total{proto=\"udp\"}") >= 1);
}

#[test]
fn unsolicited_inbound_gets_nothing_and_icmp_errors_from_beyond_come_back_translated() {
    let Some(lab) = nat_lab() else { return };
    // An inbound SYN to the outside address with no mapping: no answer
    // at all (RFC 5382 REQ-4), counted.
    let o = sh("ip netns exec lab-wan timeout 3 nc -w 2 -z 203.0.113.1 22");
    assert!(!o.status.success(), "nothing may answer an unsolicited SYN");
    assert!(lab.drops("nat_no_mapping") >= 1);
    // A hop beyond the gateway: lab-wan forwards 198.51.100.0/24 (back
    // to the gateway), so a packet arriving there with TTL 1 gets Time
    // Exceeded from lab-wan, sent to 203.0.113.1, which the NAT must
    // translate back to lab-lan with the quoted echo's identifier.
    ok("ip netns exec lab-wan sysctl -qw net.ipv4.ip_forward=1");
    ok("ip netns exec lab-wan ip route add 198.51.100.0/24 via 203.0.113.1");
    let o = sh("ip netns exec lab-lan ping -c 2 -i 0.3 -W 2 -t 2 198.51.100.1");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Time to live exceeded"), "lab-lan did not get the translated Time Exceeded:\n{text}");
    assert!(text.contains("From 203.0.113.2"), "{text}");
}
