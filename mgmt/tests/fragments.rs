//! Fragments in the namespace lab, on the af_packet ports as they would
//! come from a NIC: transit fragments forwarded as they are, datagrams
//! for the gateway reassembled within their bounds (IPv4 and IPv6), the
//! gateway's own packets cut to the egress MTU, and the reassembly
//! attack suite (`deploy/lab/fragments.py`) against a small table while
//! legitimate fragmented pings go on. Needs root; skipped otherwise.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ping_sized(ns: &str, dst: &str, size: usize) -> String {
    let v6 = if dst.contains(':') { "-6" } else { "" };
    ok(&format!("ip netns exec {ns} ping {v6} -c 3 -i 0.2 -W 2 -s {size} {dst}"))
}

/// One small ping, whatever its outcome: the neighbors on the way
/// resolved.
fn warm(ns: &str, dst: &str) {
    let v6 = if dst.contains(':') { "-6" } else { "" };
    let _ = sh(&format!("ip netns exec {ns} ping {v6} -c 1 -W 2 {dst}"));
}

/// The kernel's af_packet fanout no longer reassembles in front of the
/// gateway (`dataplane::af_packet`): fragments cross it as they are, and
/// the ones for its own addresses are put together by its reassembly.
#[test]
fn fragmented_traffic_crosses_and_reaches_the_gateway_on_af_packet_ports() {
    let Some(lab) = Lab::up() else { return };
    for dst in ["203.0.113.2", "10.0.1.1", "2001:db8:1::2", "fd00:1::1"] {
        // The neighbors resolved first: fragments arriving while the
        // gateway resolves wait in a bounded queue (a slow resolution
        // once dropped some, failing a ping not about that).
        warm("lab-lan", dst);
        let out = ping_sized("lab-lan", dst, 3000);
        assert!(out.contains("3 received") && out.contains("3008 bytes from"), "{dst}:\n{out}");
    }
    warm("lab-wan", "203.0.113.1");
    let out = ping_sized("lab-wan", "203.0.113.1", 8000);
    assert!(out.contains("3 received"), "six fragments each way:\n{out}");
    // Datagrams of 20,000 bytes, through, reassembled by the receiver.
    assert_eq!(udp_datagram("lab-lan", "lab-wan", "203.0.113.2", 9001, 20000), udp_payload(20000));
    assert_eq!(udp_datagram("lab-lan", "lab-wan", "2001:db8:1::2", 9002, 20000), udp_payload(20000));
    assert_eq!(lab.metric("gateway_reassembled_total"), 9, "three pings each to 10.0.1.1, fd00:1::1, 203.0.113.1");
    for reason in ["ipv4_bad_total_length", "reassembly_timeout", "reassembly_evicted", "reassembly_overlap"] {
        assert_eq!(lab.drops(reason), 0, "{reason}");
    }
    assert_eq!((lab.metric("gateway_reassembly_datagrams"), lab.metric("gateway_reassembly_fragments")), (0, 0));
}

/// What the gateway sends itself fits the egress MTU: with the lan at
/// 1280, its echo replies to 1428-byte pings leave in fragments (IPv4
/// and IPv6, RFC 8200 §4.5) which lab-lan's kernel puts together.
#[test]
fn the_gateways_own_replies_fit_a_smaller_egress_mtu() {
    let Some(lab) = Lab::up() else { return };
    // lab-lan keeps its 1500 bytes whatever our advertisements say, so
    // its requests come whole and only our replies must be cut.
    ok("ip netns exec lab-lan sysctl -qw net.ipv6.conf.eth0.accept_ra_mtu=0");
    set_mtu("lan", 1280);
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let out = ping_sized("lab-lan", dst, 1428);
        assert!(out.contains("3 received") && out.contains("1436 bytes from"), "{dst}:\n{out}");
    }
    assert!(lab.metric("gateway_ipv4_fragmented_total") >= 3);
    assert!(lab.metric("gateway_ipv6_fragmented_total") >= 3);
    // A reassembled request's reply, cut again for the lan.
    let out = ping_sized("lab-wan", "10.0.1.1", 3000);
    assert!(out.contains("3 received"), "{out}");
}

/// The attack suite against a table of 64 datagrams, 256 fragments and a
/// 2 s timeout: each hostile case is refused and counted by name, the
/// table never holds more than its bounds, legitimate fragmented pings
/// keep getting answered during a flood of fragments that never
/// complete, and once the flood is over the table empties.
#[test]
fn the_reassembly_attack_suite_is_refused_by_reason_within_bounds() {
    let text = std::fs::read_to_string(root().join("deploy/lab/gateway.yaml")).unwrap();
    let text = format!(
        "{text}reassembly: {{ contexts: 64, fragments: 32, buffers: 256, per_source: 16, timeout_ms: 2000 }}\n"
    );
    let path = std::env::temp_dir().join(format!("gateway-frag-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let Some(lab) = Lab::up_with(Some(&path)) else { return };
    let gw_mac = ok("ip netns exec lab-gw cat /sys/class/net/gw-lan/address").trim().to_string();
    let script = root().join("deploy/lab/fragments.py");
    let attack = |src: &str, dst: &str, case: &str, extra: &str| {
        ok(&format!("ip netns exec lab-lan python3 {} eth0 {gw_mac} {src} {dst} {case} {extra}", script.display()))
    };
    ping("lab-lan", "10.0.1.1");
    for (src, dst) in [("10.0.1.2", "10.0.1.1"), ("fd00:1::2", "fd00:1::1")] {
        for case in ["overlap", "tiny", "duplicate", "oversize", "many"] {
            attack(src, dst, case, "");
        }
    }
    attack("fd00:1::2", "fd00:1::1", "chain", "");
    std::thread::sleep(Duration::from_millis(300));
    // Overlap: 3 per family. Many: 32 held + the one too many, then the
    // rest of the 100 under the same reason.
    assert_eq!(lab.drops("reassembly_overlap"), 6);
    assert_eq!(lab.drops("reassembly_too_many_fragments"), 200);
    assert_eq!(lab.drops("reassembly_duplicate"), 2, "ignored; the requests were answered");
    assert_eq!(lab.drops("reassembly_oversize"), 2);
    // Tiny, IPv4: both. IPv6: neither first fragment holds a whole
    // ICMPv6 header (RFC 7112), like the one cut inside its chain.
    assert_eq!(lab.drops("reassembly_bad_length"), 2);
    assert_eq!(lab.drops("reassembly_incomplete_chain"), 3);
    assert_eq!(lab.metric("gateway_reassembled_total"), 2, "the two requests with a duplicate fragment");

    // The flood: lab-lan sends first fragments that never complete, from
    // both its addresses, while lab-wan pings the gateway with fragmented
    // requests; it is stopped once the pings are done.
    let spawn = |args: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let script = script.to_str().unwrap();
    let floods = [
        spawn(&["lab-lan", "python3", script, "eth0", &gw_mac, "10.0.1.2", "10.0.1.1", "flood", "30"]),
        spawn(&["lab-lan", "python3", script, "eth0", &gw_mac, "fd00:1::2", "fd00:1::1", "flood", "30"]),
    ];
    std::thread::sleep(Duration::from_millis(300));
    let pings = [
        spawn(&["lab-wan", "ping", "-c", "20", "-i", "0.1", "-W", "1", "-s", "3000", "203.0.113.1"]),
        spawn(&["lab-wan", "ping", "-6", "-c", "20", "-i", "0.1", "-W", "1", "-s", "3000", "2001:db8:1::1"]),
    ];
    let t0 = Instant::now();
    let mut peak = (0, 0);
    while t0.elapsed() < Duration::from_secs(2) {
        peak.0 = peak.0.max(lab.metric("gateway_reassembly_datagrams"));
        peak.1 = peak.1.max(lab.metric("gateway_reassembly_fragments"));
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in pings {
        let out = String::from_utf8_lossy(&p.wait_with_output().unwrap().stdout).into_owned();
        assert!(out.contains("20 received"), "another source's fragmented pings are all answered:\n{out}");
    }
    for mut f in floods {
        assert!(f.try_wait().unwrap().is_none(), "the pings ran during the flood");
        let _ = f.kill();
        let _ = f.wait();
    }
    assert!(peak.0 <= 64 && peak.1 <= 256, "within the bounds: {peak:?}");
    assert!(peak.0 >= 32, "each flooding address filled its share: {peak:?}");
    let limited = lab.drops("reassembly_source_limit");
    assert!(limited > 1000, "the flood pushed out its own datagrams: {limited}");
    // What the flood left behind times out, and the table empties.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(lab.drops("reassembly_timeout") > 0);
    assert_eq!((lab.metric("gateway_reassembly_datagrams"), lab.metric("gateway_reassembly_fragments")), (0, 0));
    let _ = std::fs::remove_file(path);
}
