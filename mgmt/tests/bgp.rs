//! The BGP lab (`LAB=bgp`, deploy/lab/bgp.sh): FRR in lab-frr is the
//! gateway's control plane. It speaks BGP to lab-wan's FRR (which
//! advertises 10,000 /24s of 100.64.0.0/10) and OSPF and OSPFv3 to lab-lan's,
//! through the kernel twins of the gateway's interfaces (the punt path),
//! and streams the routes it learns to gatewayd over FPM. Traffic
//! follows them; a withdrawal removes one; the twins follow their
//! interfaces' addresses; a flood at TCP 179 leaves the session up.
//!
//! Needs root and FRR (`make deps`); skipped otherwise.

mod common;

use common::*;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bgp_lab() -> Option<Lab> {
    if !std::path::Path::new("/usr/lib/frr/bgpd").exists() {
        eprintln!("SKIP: FRR is not installed (make deps)");
        return None;
    }
    let lab = Lab::up_kind("bgp", None)?;
    wait_for("the BGP session and its 10,000 routes in gatewayd", 90, || learned("bgp") == 10_000);
    Some(lab)
}

/// vtysh on the daemons of lab-`ns` (frr, wan or lan).
fn vtysh(ns: &str, cmds: &[&str]) -> String {
    let args: String = cmds.iter().map(|c| format!(" -c '{c}'")).collect();
    ok(&format!("{} vtysh {ns}{args}", root().join("deploy/lab/bgp.sh").display()))
}

/// The gateway side's BGP session: its state, and how many times it was
/// established and dropped.
fn session() -> (String, u64, u64) {
    let text = vtysh("frr", &["show bgp neighbor 203.0.113.2 json"]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let n = &v["203.0.113.2"];
    let count = |k: &str| n[k].as_u64().unwrap_or(0);
    (n["bgpState"].as_str().unwrap_or("").to_string(), count("connectionsEstablished"), count("connectionsDropped"))
}

/// How many learned routes of `protocol` gatewayd has.
fn learned(protocol: &str) -> u64 {
    let r = api("GET", &format!("/api/v1/routes?protocol={protocol}&limit=1"), "readonly", None, &[]);
    r.json["total"].as_u64().unwrap_or(0)
}

/// The CPUs thread `task` may run on (`Cpus_allowed_list`).
fn cpus(task: &std::path::Path) -> String {
    let status = std::fs::read_to_string(task.join("status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")).unwrap();
    line.split_whitespace().nth(1).unwrap_or_default().to_string()
}

/// The CPUs the thread named `comm` of process `pid` may run on.
fn thread_cpus(pid: i32, comm: &str) -> String {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        if std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim() == comm {
            return cpus(&task.path());
        }
    }
    panic!("no thread {comm:?} in process {pid}")
}

/// `punt.core` gives the punt thread a core of its own: with the EAL's
/// main lcore (gatewayd's main thread, the API) moved to core 1, the
/// punt thread stays on core 0, and the BGP session and its routes come
/// through it as before.
#[test]
fn the_punt_thread_runs_on_the_core_the_config_names() {
    if !std::path::Path::new("/usr/lib/frr/bgpd").exists() {
        eprintln!("SKIP: FRR is not installed (make deps)");
        return;
    }
    let text = std::fs::read_to_string(root().join("deploy/lab/bgp.yaml")).unwrap();
    let text = text.replace("eal_args: [", "eal_args: [\"-l\", \"1\", ").replace(
        "punt: { netns: lab-frr, interfaces: [lan, wan] }",
        "punt: { netns: lab-frr, interfaces: [lan, wan], core: 0 }",
    );
    assert!(text.contains("core: 0 }"), "bgp.yaml's punt section is as this test expects");
    let path = std::env::temp_dir().join(format!("gateway-punt-core-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let Some(lab) = Lab::up_kind("bgp", Some(&path)) else { return };
    wait_for("the BGP session and its 10,000 routes in gatewayd", 90, || learned("bgp") == 10_000);
    let pid = lab.pid();
    let main = cpus(std::path::Path::new(&format!("/proc/{pid}/task/{pid}")));
    assert_eq!(main, "1", "the main thread on the main lcore");
    assert_eq!(thread_cpus(pid, "punt"), "0", "the punt thread on punt.core");
    assert_eq!(session().0, "Established");
}

fn answered(ns: &str, dst: &str) -> bool {
    sh(&format!("ip netns exec {ns} ping -c 1 -W 2 {dst}")).status.success()
}

#[test]
fn bgp_and_ospf_speak_through_the_punt_path_and_their_routes_carry_traffic() {
    let Some(lab) = bgp_lab() else { return };
    let (state, established, _) = session();
    assert_eq!((state.as_str(), established), ("Established", 1));
    // BGP: lab-lan reaches lab-wan's loopback by a learned /24.
    let r = api("GET", "/api/v1/routes?protocol=bgp&limit=2", "readonly", None, &[]);
    assert_eq!(r.json["items"][0]["dst"], "100.64.0.0/24", "{}", r.text);
    assert_eq!(r.json["items"][0]["via"], json!(["203.0.113.2"]));
    assert!(answered("lab-lan", "100.64.0.1"), "lab-lan -> 100.64.0.1 by the BGP route");
    // OSPF: lab-lan's loopback, learned from its Hellos to 224.0.0.5.
    // OSPFv3: its loopback's /128, by lab-lan's link-local address on lan
    // (FRR names the interface by the twin's kernel ifindex).
    wait_for("the OSPF routes to 192.168.50.1/32 and 2001:db8:50::1/128", 60, || learned("ospf") == 2);
    let r = api("GET", "/api/v1/routes?protocol=ospf", "readonly", None, &[]);
    let item = |i: usize| (r.json["items"][i]["dst"].as_str(), r.json["items"][i]["via"][0].as_str());
    assert_eq!(item(0), (Some("192.168.50.1/32"), Some("10.0.1.2")), "{}", r.text);
    let ll = ok("ip netns exec lab-lan ip -6 -br addr show dev eth0");
    let ll = ll.split_whitespace().find(|a| a.starts_with("fe80::")).unwrap_or("?").trim_end_matches("/64");
    assert_eq!(item(1), (Some("2001:db8:50::1/128"), Some(format!("{ll}%lan").as_str())), "{}", r.text);
    assert!(answered("lab-wan", "192.168.50.1"), "lab-wan -> lab-lan's loopback by the OSPF route");
    assert!(answered("lab-wan", "2001:db8:50::1"), "lab-wan -> lab-lan's loopback by the OSPFv3 route");
    assert!(vtysh("frr", &["show ip ospf neighbor"]).contains("Full"));
    assert!(vtysh("frr", &["show ipv6 ospf6 neighbor"]).contains("Full"));
    // The kernel knows the peer by the MAC the dataplane knows.
    let mac = ok("ip netns exec lab-wan cat /sys/class/net/eth0/address");
    let neigh = ok("ip netns exec lab-frr ip neigh show 203.0.113.2");
    assert!(neigh.contains(mac.trim()), "{neigh} vs {mac}");
    assert!(lab.metric("gateway_punt_neighbor_answers_total") >= 1);
    assert!(lab.metric("gateway_punted_total") > 0 && lab.metric("gateway_punt_from_kernel_total") > 0);
    // A withdrawal takes the route out of the FIB.
    vtysh("wan", &["conf t", "router bgp 65002", "address-family ipv4 unicast", "no network 100.64.0.0/24"]);
    wait_for("the withdrawal", 30, || learned("bgp") == 9_999 && lab.installed("bgp") == 9_999);
    let r = api("GET", "/api/v1/routes?protocol=bgp&limit=1", "readonly", None, &[]);
    assert_eq!(r.json["items"][0]["dst"], "100.64.1.0/24");
    assert!(!answered("lab-lan", "100.64.0.1"), "no route after the withdrawal");
    // The twins follow their interfaces' addresses (a live API change).
    let add = json!({"address": "10.0.2.1/24"});
    let r = api("POST", "/api/v1/interfaces/lan/addresses", "admin", Some(add), &[]);
    assert!(r.status < 300, "{}", r.text);
    wait_for("10.0.2.1 on lab-frr's lan", 10, || {
        ok("ip netns exec lab-frr ip -br addr show lan").contains("10.0.2.1/24")
    });
    let r = api("DELETE", "/api/v1/interfaces/lan/addresses/10.0.2.1/24", "admin", None, &[]);
    assert!(r.status < 300, "{}", r.text);
    wait_for("10.0.2.1 gone from lab-frr's lan", 10, || {
        !ok("ip netns exec lab-frr ip -br addr show lan").contains("10.0.2.1")
    });
    assert_eq!(lab.metric("gateway_punt_sync_errors_total"), 0);
}

/// 100,000 spoofed SYNs a second at TCP 179 for 6 s, from 151 sources:
/// past their own budgets they spend the worker's, and the established
/// session's segments have a budget of their own. The session stays up
/// and UDP through the gateway meanwhile loses (almost) nothing.
#[test]
fn a_flood_at_tcp_179_leaves_the_bgp_session_up_and_forwarding_going() {
    let Some(lab) = bgp_lab() else { return };
    let before = session();
    assert_eq!(before.0, "Established");
    ok("ip netns exec lab-wan iperf3 -s -D -1 -p 5205");
    wait_listening("lab-wan", 5205);
    let script = root().join("deploy/lab/syn_flood.py");
    let flood = Command::new("ip")
        .args(["netns", "exec", "lab-wan", "python3"])
        .arg(&script)
        .args(["203.0.113.1", "179", "198.51.100", "100000", "6"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("flood");
    std::thread::sleep(Duration::from_millis(1000));
    let udp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5205 -u -b 20M -t 3 -J");
    let report: serde_json::Value = serde_json::from_str(&udp).expect("iperf3 JSON");
    let lost = report["end"]["sum"]["lost_percent"].as_f64().unwrap_or(100.0);
    let out = flood.wait_with_output().expect("flood");
    let sent: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    eprintln!("flood: {sent} SYNs sent; UDP at 20 Mbit/s meanwhile lost {lost}%");
    assert!(sent > 100_000, "the flood sent only {sent}");
    assert!(lost < 2.0, "UDP through the gateway lost {lost}% during the flood");
    // Held to the punt budgets: most never reached the kernel.
    let limited = lab.drops("punt_rate_limited");
    assert!(limited > sent / 2, "{limited} of {sent} limited");
    std::thread::sleep(Duration::from_secs(2));
    let after = session();
    assert_eq!(after, (before.0.clone(), before.1, before.2), "the session went down or flapped");
    assert_eq!(learned("bgp"), 10_000);
    assert!(answered("lab-lan", "100.64.0.1"));
}

/// The twins outlive a gatewayd that dies: they stay, without carrier, so
/// FRR sees their links go down (and drops the session at once). The next
/// gatewayd takes them over: the same interfaces by ifindex, carrier back,
/// only the addresses its config gives them (ones added by hand meanwhile
/// are removed), and the session is established again over them, and
/// its routes come back and carry traffic. A clean stop removes them.
/// Unless FRR 8.4's zebra aborted as the links went down (its known bug,
/// docs/punt.md; the lab runs no watchfrr to start it again): then the
/// routes cannot come back, and the test says so and checks the rest.
#[test]
fn the_twins_outlive_a_gatewayd_that_dies_and_go_with_a_clean_stop() {
    let Some(lab) = bgp_lab() else { return };
    let link = |name: &str| ok(&format!("ip -n lab-frr -o link show {name}"));
    let index = |name: &str| ok(&format!("ip netns exec lab-frr cat /sys/class/net/{name}/ifindex")).trim().to_string();
    let (lan, wan) = (index("lan"), index("wan"));
    assert_eq!(session().1, 1);
    // SAFETY: sends a signal to the gateway's pid.
    assert_eq!(unsafe { libc::kill(lab.pid(), libc::SIGKILL) }, 0);
    wait_for("the twins without carrier", 10, || {
        link("lan").contains("NO-CARRIER") && link("wan").contains("NO-CARRIER")
    });
    assert_eq!((index("lan"), index("wan")), (lan.clone(), wan.clone()), "the same twins");
    wait_for("FRR's session dropped with the link", 15, || session().0 != "Established");
    ok("ip -n lab-frr addr add 10.0.9.1/24 dev lan");
    ok("ip -n lab-frr addr add fd00:9::1/64 dev lan nodad");
    lab.start_gatewayd();
    wait_for("the twins' carrier back", 10, || {
        !link("lan").contains("NO-CARRIER") && !link("wan").contains("NO-CARRIER")
    });
    assert_eq!((index("lan"), index("wan")), (lan, wan), "the twins taken over, not made anew");
    let addrs = ok("ip -n lab-frr -br addr show lan");
    assert!(addrs.contains("10.0.1.1/24") && addrs.contains("fd00:1::1/64"), "{addrs}");
    assert!(!addrs.contains("10.0.9.1") && !addrs.contains("fd00:9::1"), "stale addresses removed: {addrs}");
    wait_for("the session back over the same twins", 60, || {
        let (state, established, _) = session();
        state == "Established" && established >= 2
    });
    let zebra_log = || std::fs::read_to_string("/run/gatewayd-lab/frr/zebra.log").unwrap_or_default();
    if zebra_log().contains("process_subq_route(): assertion (dest) failed") {
        eprintln!("NOTE: FRR's zebra aborted as the twins lost carrier (FRRouting/frr#14142): no routes to wait for");
    } else {
        let t0 = std::time::Instant::now();
        let back = loop {
            let back = learned("bgp") == 10_000 && answered("lab-lan", "100.64.0.1");
            if back || t0.elapsed() > Duration::from_secs(60) {
                break back;
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        let log = zebra_log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        assert!(
            back,
            "the routes did not come back: gatewayd has {} BGP routes; FRR: {}\nzebra's log ends:\n{}",
            learned("bgp"),
            vtysh("frr", &["show bgp ipv4 summary"]),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        );
    }
    // A clean stop takes the twins with it.
    // SAFETY: sends a signal to the gateway's pid.
    assert_eq!(unsafe { libc::kill(lab.pid(), libc::SIGTERM) }, 0);
    wait_for("the twins gone", 15, || {
        !sh("ip -n lab-frr link show lan").status.success() && !sh("ip -n lab-frr link show wan").status.success()
    });
}
