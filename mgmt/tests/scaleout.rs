//! The scale-out lab (deploy/lab/scaleout.sh, docs/scale-out.md): two
//! gateways, each with its own FRR on its kernel twins, announce
//! 10.0.1.0/24 and each its own NAT pool by BGP to lab-wan, which
//! spreads flows to 10.0.1.0/24 over them by ECMP. lab-lan's connections
//! out leave through either gateway, from its pool, and are answered.
//! 64 UDP flows from lab-wan to lab-lan run throughout; one gateway is
//! killed (BFD takes its path out), then started again (its path comes
//! back and flows spread again). The seconds each step took are printed.
//!
//! Needs root and FRR (`make deps`); skipped otherwise.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn script(args: &str) -> String {
    ok(&format!(
        "GATEWAYD={} {} {args}",
        env!("CARGO_BIN_EXE_gatewayd"),
        root().join("deploy/lab/scaleout.sh").display()
    ))
}

/// How many next hops lab-wan's kernel has for 10.0.1.0/24.
fn paths() -> usize {
    let r = ok("ip -n lab-wan route show 10.0.1.0/24");
    match r.matches("nexthop via").count() {
        0 if r.contains(" via ") => 1,
        n => n,
    }
}

/// Waits until lab-wan has `n` paths; the seconds it took.
fn wait_paths(n: usize, secs: u64) -> f64 {
    let t0 = Instant::now();
    while paths() != n {
        assert!(t0.elapsed() < Duration::from_secs(secs), "{n} paths within {secs} s\n{}", state());
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed().as_secs_f64()
}

/// What the routers and gateways say, for a failure's message: lab-wan's
/// routes, each FRR's BGP and BFD sessions, the twins, the gateways' logs.
fn state() -> String {
    let mut out = String::new();
    for cmd in [
        "ip -n lab-wan route".to_string(),
        format!(
            "{} vtysh wan -c 'show bgp summary' -c 'show bfd peers brief'",
            root().join("deploy/lab/scaleout.sh").display()
        ),
        format!(
            "{} vtysh frr1 -c 'show bgp summary' -c 'show bfd peers brief'",
            root().join("deploy/lab/scaleout.sh").display()
        ),
        format!("{} vtysh frr2 -c 'show bgp summary'", root().join("deploy/lab/scaleout.sh").display()),
        "ip -n lab-frr -br addr".to_string(),
        "tail -n 20 /run/gatewayd-lab/gatewayd.log /run/gatewayd-lab/gw2/gatewayd.log".to_string(),
        // FRR's own account (neighbor events, BFD state changes), but the
        // capabilities each OPEN lists.
        "grep -h 203.0.113.1 /run/gatewayd-lab/frr-wan/bgpd.log /run/gatewayd-lab/frr-wan/bfdd.log \
         | grep -v 'apabilit\\|Update Group\\|OPEN has' | tail -n 40"
            .to_string(),
        "cat /run/gatewayd-lab/frr/bgpd.log /run/gatewayd-lab/frr/bfdd.log \
         | grep -v 'apabilit\\|Update Group\\|OPEN has' | tail -n 40"
            .to_string(),
    ] {
        let o = sh(&cmd);
        out += &format!("$ {cmd}\n{}{}\n", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    }
    out
}

/// Gateway `n`'s metrics (its own API and token).
fn metrics(n: u16) -> String {
    let dir = if n == 1 { "/run/gatewayd-lab".to_string() } else { format!("/run/gatewayd-lab/gw{n}") };
    ok(&format!(
        "curl -sf -H \"Authorization: Bearer $(cat {dir}/readonly.token)\" http://127.0.0.1:{}/metrics",
        8079 + n
    ))
}

/// Packets gateway `n` has forwarded.
fn forwarded(n: u16) -> u64 {
    metrics(n)
        .lines()
        .find_map(|l| l.strip_prefix("gateway_forwarded_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Gateway `n`'s frame counts and drops by reason, for a failure's message.
fn counts(n: u16) -> String {
    let m = metrics(n);
    let keep = ["gateway_worker_packets_total", "gateway_forwarded_total", "gateway_local_total", "gateway_punted"];
    let lines = m.lines().filter(|l| {
        keep.iter().any(|k| l.starts_with(k)) || (l.starts_with("gateway_drops_total{") && !l.ends_with(" 0"))
    });
    lines.collect::<Vec<_>>().join("\n")
}

fn flows(ns: &str, args: &[&str]) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "python3"])
        .arg(root().join("deploy/lab/flows.py"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("flows.py")
}

#[test]
fn two_gateways_share_the_flows_and_one_takes_them_all_when_the_other_dies() {
    if !std::path::Path::new("/usr/lib/frr/bfdd").exists() {
        eprintln!("SKIP: FRR is not installed (make deps)");
        return;
    }
    let Some(_lab) = Lab::up_scaleout() else { return };
    let up = wait_paths(2, 60);
    eprintln!("both gateways' routes at lab-wan {up:.1} s after the lab came up");
    // NAT: each gateway's own pool, announced by it alone; lab-lan's
    // ECMP default route spreads its connections over both.
    wait_for("both pools at lab-wan", 30, || ok("ip -n lab-wan route").matches("198.18.").count() == 2);
    ok("ip netns exec lab-wan python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 9500)); s.listen(64)
while True:
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
' >/dev/null 2>&1 &");
    wait_listening("lab-wan", 9500);
    let seen: Vec<String> = (0..16)
        .map(|i| {
            let port = 41000 + i;
            ok(&format!(
                "ip netns exec lab-lan timeout 5 socat -u TCP:203.0.113.2:9500,connect-timeout=3,sourceport={port} STDOUT"
            ))
        })
        .collect();
    let from = |pool: &str| seen.iter().filter(|a| a.starts_with(pool)).count();
    assert_eq!(from("198.18.1.") + from("198.18.2."), 16, "every connection from a pool: {seen:?}");
    assert!(from("198.18.1.") > 0 && from("198.18.2.") > 0, "both gateways' pools: {seen:?}");
    let receiver = flows("lab-lan", &["receive", "9999", "24"]);
    std::thread::sleep(Duration::from_millis(300));
    let sender = flows("lab-wan", &["send", "10.0.1.2", "9999", "64", "50", "22"]);
    std::thread::sleep(Duration::from_secs(4));
    // ECMP: each gateway carries a share of the 64 flows.
    let (a, b) = (forwarded(1), forwarded(2));
    assert!(a > 500 && b > 500, "both gateways forward: {a} and {b}");
    // Gateway 2's count while gateway 1 dies, every 100 ms: if every
    // flow goes missing at once, whether gateway 2 stopped forwarding.
    let watch = std::thread::spawn(|| {
        let t0 = Instant::now();
        let mut seen = Vec::new();
        while t0.elapsed() < Duration::from_secs(6) {
            seen.push((t0.elapsed().as_secs_f64(), forwarded(2)));
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    });
    std::thread::sleep(Duration::from_millis(500));
    // Gateway 1 dies: BFD (300 ms x 3) at lab-wan takes its path out.
    script("kill 1");
    let gone = wait_paths(1, 15);
    std::thread::sleep(Duration::from_secs(3));
    let b_alone = forwarded(2);
    std::thread::sleep(Duration::from_secs(2));
    let carried = forwarded(2) - b_alone;
    assert!(carried > 64 * 50, "gateway 2 carries every flow: {carried} in 2 s\n{}\n{}", counts(2), state());
    // It comes back: it takes over its kernel twins (FRR 1 sees their
    // links come up), its session and BFD come up, its path returns,
    // about 2 s after its start; a minute is the margin.
    script("start 1");
    let back = wait_paths(2, 60);
    std::thread::sleep(Duration::from_secs(3));
    let again = forwarded(1);
    assert!(again > 500, "flows spread to the restarted gateway again: {again}\n{}\n{}", counts(1), state());
    let sent = sender.wait_with_output().expect("sender");
    assert!(sent.status.success());
    let sent: serde_json::Value = serde_json::from_slice(&sent.stdout).expect("sender JSON");
    let out = receiver.wait_with_output().expect("receiver");
    let mut report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("receiver JSON");
    report["sender"] = sent;
    // The longest stretch in which gateway 2 forwarded nothing.
    let seen = watch.join().expect("watch");
    let still = seen
        .windows(2)
        .fold((0.0f64, seen.first().map_or(0.0, |s| s.0)), |(worst, since), w| {
            if w[1].1 > w[0].1 {
                (worst.max(w[1].0 - since), w[1].0)
            } else {
                (worst, since)
            }
        })
        .0;
    report["gateway2_longest_still"] = serde_json::json!((still * 1000.0).round() / 1000.0);
    let gaps: Vec<f64> = report["gaps"].as_object().unwrap().values().filter_map(|g| g.as_f64()).collect();
    let worst = gaps.iter().cloned().fold(0.0, f64::max);
    let hit = gaps.iter().filter(|&&g| g > 0.5).count();
    eprintln!(
        "failover: lab-wan dropped the dead gateway's path {gone:.2} s after the kill (BFD); \
         {hit} of 64 flows went missing, the longest for {worst:.2} s; the restarted gateway's path \
         was back {back:.1} s after its start"
    );
    assert_eq!(report["flows"], 64, "every flow arrived: {report}");
    assert!(hit > 0 && hit < 64, "the dead gateway's flows, and only they, went missing: {report}");
    assert!(worst < gone + 1.5, "a flow missing {worst} s, longer than BFD's detection: {report}");
}
