//! Bridging and VLANs end to end in the bridge lab (`LAB=bridge`, see
//! deploy/lab/up.sh): lab-h1..h3 (10.0.10.2-4) on three access ports of
//! bridge br0, whose routed interface is 10.0.10.1; lab-h4 on an 802.1Q
//! trunk: VLAN 100 is a member of br0 (10.0.10.5), VLAN 200 is the
//! routed sub-interface trunk.200 (10.0.200.1, lab-h4 10.0.200.2), VLAN
//! 300 belongs to nothing. Skips (saying why) without root or network
//! namespaces.

mod common;

use common::*;
use serde_json::json;

fn reaches(ns: &str, dst: &str) -> bool {
    sh(&format!("ip netns exec {ns} ping -c 2 -i 0.2 -W 2 {dst}")).status.success()
}

fn macs() -> Vec<(String, String, Option<u64>)> {
    let r = api("GET", "/api/v1/bridges/br0/macs", "readonly", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["mac"].as_str().unwrap().into(), e["port"].as_str().unwrap().into(), e["vlan"].as_u64()))
        .collect()
}

fn mac_of(ns: &str, dev: &str) -> String {
    ok(&format!("ip netns exec {ns} cat /sys/class/net/{dev}/address")).trim().to_string()
}

#[test]
fn three_hosts_on_one_bridge_reach_each_other_and_the_bridge_address() {
    let Some(lab) = Lab::up_bridge() else { return };
    for (ns, dst) in [
        ("lab-h1", "10.0.10.1"),
        ("lab-h1", "10.0.10.3"),
        ("lab-h1", "10.0.10.4"),
        ("lab-h2", "10.0.10.4"),
        ("lab-h2", "10.0.10.1"),
        ("lab-h3", "10.0.10.2"),
        ("lab-h3", "10.0.10.1"),
    ] {
        let out = ping(ns, dst);
        assert!(out.contains("3 received"), "{ns} -> {dst}:\n{out}");
    }
    // Known stations were switched to one port, not flooded.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(lab.metric("gateway_l2_forwarded_total") >= 20);
    assert!(lab.metric("gateway_mac_learned_total") >= 3);
    // Most of those were switched by the fast path (a station's first
    // frames, ARP broadcasts and the BVI's take the full path).
    assert!(lab.metric("gateway_fast_path_total") >= 10);
    // The MAC table names each host's port, through the API and ctl.
    let table = macs();
    let ctl = ok(&format!(
        "GATEWAYD_TOKEN_FILE=/run/gatewayd-lab/readonly.token {} ctl macs br0",
        env!("CARGO_BIN_EXE_gatewayd")
    ));
    for (ns, port) in [("lab-h1", "h1"), ("lab-h2", "h2"), ("lab-h3", "h3")] {
        let mac = mac_of(ns, "eth0");
        assert!(table.iter().any(|(m, p, v)| *m == mac && p == port && v.is_none()), "{ns} {mac} on {port}: {table:?}");
        assert!(ctl.lines().any(|l| l.starts_with(&mac) && l.contains(port)), "{mac} {port} in:\n{ctl}");
    }
    let bridges = ok(&format!(
        "GATEWAYD_TOKEN_FILE=/run/gatewayd-lab/readonly.token {} ctl bridges",
        env!("CARGO_BIN_EXE_gatewayd")
    ));
    assert!(bridges.contains("h1,h2,h3,trunk.100"), "{bridges}");
}

#[test]
fn the_trunk_host_reaches_the_bridge_on_vlan_100_its_subnet_on_vlan_200_and_nothing_on_vlan_300() {
    let Some(lab) = Lab::up_bridge() else { return };
    // VLAN 100 is in br0: switched, tag pushed and popped.
    assert!(ping("lab-h4", "10.0.10.2").contains("3 received"));
    assert!(ping("lab-h1", "10.0.10.5").contains("3 received"));
    assert!(ping("lab-h4", "10.0.10.1").contains("3 received"));
    let vlan100 = mac_of("lab-h4", "vlan100");
    assert!(macs().iter().any(|(m, p, v)| *m == vlan100 && p == "trunk" && *v == Some(100)), "{:?}", macs());
    // VLAN 200 is a routed sub-interface: lab-h1 reaches lab-h4 through
    // the bridge's interface and trunk.200.
    assert!(ping("lab-h4", "10.0.200.1").contains("3 received"));
    assert!(ping("lab-h1", "10.0.200.2").contains("3 received"));
    // VLAN 300 reaches nothing, not even a bridge host it would resolve
    // directly: the gateway drops the tagged frames.
    let before = lab.drops("vlan_not_configured");
    ok("ip netns exec lab-h4 ip route add 10.0.10.3/32 dev vlan300");
    assert!(!reaches("lab-h4", "10.0.10.3"), "VLAN 300 is not bridged");
    assert!(!reaches("lab-h4", "10.0.30.1"));
    assert!(lab.drops("vlan_not_configured") > before);
}

#[test]
fn a_full_mac_table_still_floods_and_the_counter_says_so() {
    let Some(lab) = Lab::up_bridge() else { return };
    // br0 may learn 2 addresses; flush what the start learned.
    let mut br = api("GET", "/api/v1/bridges/br0", "readonly", None, &[]).json;
    br.as_object_mut().unwrap().remove("interface");
    br["mac_limit"] = json!(2);
    let r = api("PUT", "/api/v1/bridges/br0", "admin", Some(br), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api("DELETE", "/api/v1/bridges/br0/macs", "admin", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(macs().len() <= 2);
    let before = lab.metric("gateway_mac_learn_full_total");
    for (ns, dst) in
        [("lab-h1", "10.0.10.3"), ("lab-h2", "10.0.10.4"), ("lab-h3", "10.0.10.2"), ("lab-h4", "10.0.10.2")]
    {
        let out = ping(ns, dst);
        assert!(out.contains("3 received"), "{ns} -> {dst} with a full table:\n{out}");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(lab.metric("gateway_mac_learn_full_total") > before, "refused learnings are counted");
    assert!(macs().len() <= 2, "{:?}", macs());
    assert!(lab.metric("gateway_l2_flooded_total") > 0);
}

#[test]
fn members_and_vlan_sub_interfaces_change_through_the_api() {
    let Some(lab) = Lab::up_bridge() else { return };
    assert!(ping("lab-h1", "10.0.10.4").contains("3 received"));
    // Without its membership, h3's port belongs to nothing.
    let r = api("DELETE", "/api/v1/bridges/br0/members/h3", "admin", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!reaches("lab-h1", "10.0.10.4"));
    assert!(!reaches("lab-h3", "10.0.10.2"));
    assert!(lab.drops("no_interface") > 0, "h3's frames are dropped and counted");
    let r = api("POST", "/api/v1/bridges/br0/members", "admin", Some(json!({"port": "h3"})), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(ping("lab-h1", "10.0.10.4").contains("3 received"));
    // A sub-interface for VLAN 300, live.
    let ifc = json!({"name": "trunk.300", "port": "trunk", "vlan": 300, "ipv4": ["10.0.30.1/24"]});
    let r = api("POST", "/api/v1/interfaces", "admin", Some(ifc), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(ping("lab-h4", "10.0.30.1").contains("3 received"));
    // Refusals name the field; the running config stays.
    let r = api("POST", "/api/v1/bridges/br0/members", "admin", Some(json!({"port": "trunk", "vlan": 300})), &[]);
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("vlan") && r.text.contains("already used"), "{}", r.text);
    let r = api("POST", "/api/v1/bridges/br0/members", "admin", Some(json!({"port": "nope"})), &[]);
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("\"port\""), "{}", r.text);
    let r = api("DELETE", "/api/v1/bridges/br0", "admin", None, &[]);
    assert_eq!(r.status, 422, "the bridge's interface must go first: {}", r.text);
    assert!(ping("lab-h1", "10.0.10.4").contains("3 received"));
}
