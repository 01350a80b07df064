//! VXLAN in the namespace lab (`LAB=vxlan`): lab-h1 on a port of bridge
//! br0 and lab-wan's kernel VXLAN device on the far side of VNI 100 are
//! one Ethernet segment: they resolve each other by ARP, ping, and carry
//! TCP byte-identical; the bridge's interface routes lab-lan into the
//! segment; the MAC table shows the far station learned on its VTEP.
//! Needs root; skipped otherwise.

mod common;

use common::*;

#[test]
fn two_namespaces_across_a_vxlan_overlay_reach_each_other_at_layer_2() {
    let Some(lab) = Lab::up_vxlan() else { return };
    let out = ok("ip netns exec lab-h1 ping -c 3 -i 0.2 -W 2 192.168.100.2");
    assert!(out.contains("3 received"), "{out}");
    // At layer 2: lab-h1 resolved lab-wan's VXLAN device's MAC itself.
    let vx0 = ok("ip netns exec lab-wan cat /sys/class/net/vx0/address").trim().to_string();
    let neigh = ok("ip netns exec lab-h1 ip neigh show 192.168.100.2");
    assert!(neigh.contains(&vx0), "lab-h1 knows {vx0} directly: {neigh}");
    let out = ok("ip netns exec lab-wan ping -c 3 -i 0.2 -W 2 192.168.100.1");
    assert!(out.contains("3 received"), "{out}");
    // TCP, 5 MB, byte-identical.
    tcp_transfer("lab-h1", "lab-wan", "192.168.100.2", 5001, 5_000_000);
    // Routed into the segment by the bridge's interface.
    let out = ok("ip netns exec lab-wan ip route add 10.0.1.0/24 via 192.168.100.254 dev vx0 && \
                  ip netns exec lab-lan ping -c 3 -i 0.2 -W 2 192.168.100.2");
    assert!(out.contains("3 received"), "{out}");
    // The far station, learned on its VTEP.
    let macs = api("GET", "/api/v1/bridges/br0/macs", "readonly", None, &[]).json;
    let items = macs["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items.iter().any(|e| e["mac"] == vx0.as_str() && e["vtep"] == "203.0.113.2"),
        "{vx0} on VTEP 203.0.113.2 in {macs}"
    );
    assert!(lab.metric("gateway_tunnel_encapsulated_total") > 1000);
    assert!(lab.metric("gateway_tunnel_decapsulated_total") > 100, "the ACKs came back");
    assert_eq!(lab.drops("vxlan_unknown"), 0);
    assert_eq!(lab.drops("vxlan_malformed"), 0);
}
