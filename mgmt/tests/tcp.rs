//! The gateway's own TCP in the namespace lab, with the kernel's TCP as
//! the client (nc, Python sockets in lab-lan): echo on 10.0.1.1 and
//! fd00:1::1 port 7, 100 connections at once each moving 10 MB
//! byte-identical both ways, the same under 5% random loss each way
//! (nftables in lab-lan) where the counters show the recovery, discard,
//! and a refused connection where nothing listens. Needs root; skipped
//! otherwise.

mod common;

use common::*;

fn echo(dst: &str, port: u16, size: usize, connections: usize) -> String {
    let script = root().join("deploy/lab/tcp_echo.py");
    ok(&format!("ip netns exec lab-lan python3 {} {dst} {port} {size} {connections}", script.display()))
}

#[test]
fn tcp_echo_serves_the_kernels_tcp_on_both_families_byte_identical() {
    let Some(lab) = Lab::up() else { return };
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let out = ok(&format!("printf 'hello tcp' | ip netns exec lab-lan nc -N -w 5 {dst} 7"));
        assert_eq!(out, "hello tcp", "nc to {dst}");
    }
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let out = echo(dst, 7, 10_000_000, 100);
        assert!(out.starts_with("ok "), "100 × 10 MB to {dst}: {out}");
    }
    assert!(lab.metric("gateway_tcp_connections_accepted_total") >= 202);
    // Every connection ends (the last ACKs of our FINs may still be on
    // their way when the clients return).
    let open =
        || lab.metric("gateway_tcp_connections_accepted_total") - lab.metric("gateway_tcp_connections_closed_total");
    for _ in 0..50 {
        if open() == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(open(), 0);
    // While one is open, the API lists it.
    let held = sh("printf 'held' | timeout 3 ip netns exec lab-lan nc -w 3 10.0.1.1 7 >/dev/null & sleep 1; \
                   curl -s -H \"Authorization: Bearer $(cat /run/gatewayd-lab/readonly.token)\" \
                   'http://127.0.0.1:8080/api/v1/tcp/connections?local=10.0.1.1:7'");
    let list: serde_json::Value = serde_json::from_slice(&held.stdout).unwrap_or_default();
    let item = &list["items"][0];
    assert_eq!((item["local"].as_str(), item["state"].as_str()), (Some("10.0.1.1:7"), Some("established")), "{list}");
    assert_eq!(api("GET", "/api/v1/tcp/connections?state=bogus", "readonly", None, &[]).status, 400);
    assert!(lab.metric("gateway_tcp_received_bytes_total") >= 2_000_000_000);
    assert_eq!(lab.drops("tcp_malformed") + lab.drops("tcp_table_full") + lab.drops("tcp_syn_backlog_full"), 0);
    // Nothing listens on port 8: refused (a RST), not a timeout.
    for dst in ["10.0.1.1", "fd00:1::1"] {
        let out = echo(dst, 8, 10, 1);
        assert!(out.contains("Connection refused"), "{dst}: {out}");
    }
    // Discard reads everything and closes when the client does.
    let out = ok("head -c 5000000 /dev/zero | ip netns exec lab-lan nc -N -w 5 10.0.1.1 9 && echo closed");
    assert_eq!(out.trim(), "closed");
}

#[test]
fn tcp_echo_delivers_every_byte_under_five_percent_loss_each_way() {
    let Some(lab) = Lab::up() else { return };
    let nft = |rule: &str| ok(&format!("ip netns exec lab-lan nft '{rule}'"));
    nft("add table inet loss");
    for (chain, hook) in [("out", "output"), ("in", "input")] {
        nft(&format!("add chain inet loss {chain} {{ type filter hook {hook} priority 0 ; }}"));
        nft(&format!("add rule inet loss {chain} meta l4proto tcp numgen random mod 100 < 5 drop"));
    }
    let out = echo("10.0.1.1", 7, 2_000_000, 10);
    let out6 = echo("fd00:1::1", 7, 2_000_000, 10);
    nft("delete table inet loss");
    assert!(out.starts_with("ok "), "IPv4: {out}");
    assert!(out6.starts_with("ok "), "IPv6: {out6}");
    assert!(lab.metric("gateway_tcp_retransmitted_segments_total") > 0);
    assert!(lab.metric("gateway_tcp_fast_retransmits_total") > 0, "duplicate ACKs (or SACKs) seen");
}
