//! Routes from FRR in the namespace lab: zebra (with its `dplane_fpm_nl`
//! module) and staticd run in namespace lab-frr (`deploy/lab/frr.sh`)
//! and stream their routes to gatewayd's FPM listener over a veth pair
//! into lab-gw. lab-frr has an interface in the wan subnet
//! (203.0.113.1/24, 2001:db8:1::1/64), so zebra resolves the gateways as
//! it would on the gateway itself. Pings from lab-lan cross the learned routes to addresses
//! on lab-wan's loopback; withdrawal, ECMP, blackhole, the grace time
//! and the resync after zebra restarts are each checked.
//!
//! Needs root and FRR (`make deps`); skipped otherwise.

mod common;

use common::*;
use std::time::Duration;

const STATICS: &str = "\
hostname lab-frr
ip route 198.51.100.0/24 203.0.113.2
ip route 198.51.101.0/24 203.0.113.2
ip route 198.51.101.0/24 203.0.113.3
ip route 192.0.2.128/25 blackhole
ipv6 route 2001:db8:99::/48 2001:db8:1::2
";

/// deploy/lab/frr.sh with `args`.
fn frr(args: &str) -> String {
    ok(&format!("{} {args}", root().join("deploy/lab/frr.sh").display()))
}

fn frr_lab() -> Option<Lab> {
    if !std::path::Path::new("/usr/lib/frr/zebra").exists() {
        eprintln!("SKIP: FRR is not installed (make deps)");
        return None;
    }
    // The lab's config with a grace time of 4 s.
    let text = std::fs::read_to_string(root().join("deploy/lab/gateway.yaml")).unwrap();
    let text = text.replace("  fpm: { listen: \"0.0.0.0:2620\" }", "  fpm: { listen: \"0.0.0.0:2620\" }\n  grace_s: 4");
    assert!(text.contains("grace_s: 4"));
    let path = std::env::temp_dir().join(format!("gateway-fpm-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let lab = Lab::up_with(Some(&path))?;
    // What the routes lead to, on lab-wan (203.0.113.3 too: both ECMP
    // next hops lead there).
    ok("ip netns exec lab-wan ip addr add 203.0.113.3/24 dev eth0 \
        && ip netns exec lab-wan ip addr add 198.51.100.1/32 dev lo \
        && ip netns exec lab-wan ip addr add 198.51.101.1/32 dev lo \
        && ip netns exec lab-wan ip -6 addr add 2001:db8:99::1/128 dev lo");
    let conf = std::env::temp_dir().join(format!("staticd-{}.conf", std::process::id()));
    std::fs::write(&conf, STATICS).unwrap();
    frr(&format!("up {}", conf.display()));
    Some(lab)
}

fn start_frr() {
    frr("start");
}

/// Kills FRR's daemons at once (no clean withdrawal).
fn kill_frr() {
    frr("stop");
}

fn vtysh(cmds: &[&str]) {
    let args: String = cmds.iter().map(|c| format!(" -c '{c}'")).collect();
    frr(&format!("vtysh{args}"));
}

/// The learned routes of `protocol`, as the API lists them.
fn learned(protocol: &str) -> Vec<serde_json::Value> {
    let r = api("GET", &format!("/api/v1/routes?protocol={protocol}&limit=1000"), "readonly", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"].as_array().cloned().unwrap_or_default()
}

fn pings(ns: &str, dst: &str) -> bool {
    sh(&format!("ip netns exec {ns} ping -c 1 -W 1 {dst}")).status.success()
}

impl Drop for Frr {
    fn drop(&mut self) {
        sh(&format!("{} down", root().join("deploy/lab/frr.sh").display()));
    }
}

/// Stops FRR and removes lab-frr before the lab goes down.
struct Frr;

#[test]
fn routes_from_frr_are_installed_withdrawn_kept_for_the_grace_time_and_resynced() {
    let Some(lab) = frr_lab() else { return };
    let _frr = Frr;
    wait_for("staticd's four routes over FPM", 20, || learned("static").len() == 4);
    let routes = learned("static");
    let by =
        |dst: &str| routes.iter().find(|r| r["dst"] == dst).cloned().unwrap_or_else(|| panic!("{dst}: {routes:?}"));
    assert_eq!(by("198.51.100.0/24")["via"], serde_json::json!(["203.0.113.2"]));
    assert_eq!(by("198.51.101.0/24")["via"], serde_json::json!(["203.0.113.2", "203.0.113.3"]), "ECMP");
    assert_eq!(by("192.0.2.128/25")["type"], "blackhole");
    assert_eq!(by("2001:db8:99::/48")["via"], serde_json::json!(["2001:db8:1::2"]));
    for r in &routes {
        assert_eq!(
            (r["selected"].as_bool(), r["stale"].as_bool(), r["metric"].as_u64()),
            (Some(true), Some(false), Some(20))
        );
    }
    // zebra's connected routes are not taken: the interfaces' own.
    assert!(learned("kernel").is_empty());
    assert!(learned("config").is_empty(), "nothing was written into the config");
    let cfg = api("GET", "/api/v1/config", "readonly", None, &[]);
    assert!(!cfg.text.contains("198.51.100.0"), "learned routes stay out of the config");
    assert!(lab.metric("gateway_learned_routes{protocol=\"static\"}") == 4);
    assert!(lab.metric("gateway_fpm_refused_total{reason=\"connected\"}") > 0);
    assert_eq!(lab.metric("gateway_fpm_connected"), 1);

    // Through the learned routes, both families.
    ping("lab-lan", "198.51.100.1");
    ping("lab-lan", "198.51.101.1");
    ping("lab-lan", "2001:db8:99::1");

    // A withdrawal removes the route from the workers.
    vtysh(&["configure terminal", "no ip route 198.51.100.0/24 203.0.113.2"]);
    wait_for("the withdrawal", 10, || learned("static").len() == 3 && lab.installed("static") == 3);
    assert!(!pings("lab-lan", "198.51.100.1"), "withdrawn route still forwards");

    // zebra dies: its routes stay for the grace time (4 s), then go.
    kill_frr();
    wait_for("the FPM connection to close", 10, || lab.metric("gateway_fpm_connected") == 0);
    assert!(pings("lab-lan", "198.51.101.1"), "routes kept during the grace time");
    wait_for("the grace time to end", 10, || learned("static").is_empty() && lab.installed("static") == 0);
    assert!(!pings("lab-lan", "198.51.101.1"));
    assert!(lab.metric("gateway_fpm_swept_total") >= 3);

    // zebra comes back: its table again (staticd's file still has the
    // route withdrawn above).
    start_frr();
    wait_for("the routes back", 20, || learned("static").len() == 4);
    ping("lab-lan", "198.51.101.1");

    // A restart within the grace time: the routes never leave. A ping
    // every 100 ms across the restart and the resync loses nothing.
    let flood = std::process::Command::new("ip")
        .args(["netns", "exec", "lab-lan", "ping", "-c", "60", "-i", "0.1", "-W", "1", "198.51.101.1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("ping runs");
    std::thread::sleep(Duration::from_millis(500));
    kill_frr();
    std::thread::sleep(Duration::from_millis(300));
    start_frr();
    let out = flood.wait_with_output().expect("ping ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0% packet loss"), "{text}");
    wait_for("the resync to end", 20, || {
        lab.metric("gateway_fpm_connected") == 1 && learned("static").iter().all(|r| r["stale"] == false)
    });
    assert_eq!(learned("static").len(), 4);
    assert!(lab.metric("gateway_fpm_sessions_total") >= 3);
}
