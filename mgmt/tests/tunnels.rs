//! Tunnels in the namespace lab: the gateway's GRE (over IPv4 and IPv6,
//! with a key), IPIP, 6in4 (sit) and IPv4/IPv6-in-IPv6 (ip6tnl)
//! interfaces against a far end in lab-wan, with IPv4 and IPv6 inside:
//! pings and a byte-identical TCP transfer through each, Path MTU
//! Discovery through a 1400-byte tunnel, a large UDP datagram cut to fit,
//! a narrow path beyond lab-wan, and errors from within unreachable
//! tunnels told to the inner sender.
//!
//! The far end is the kernel's own tunnel where it has the module, and
//! otherwise `deploy/lab/tunnel_peer.py` (a TUN device and raw sockets,
//! the kernel's TCP/IP behind it); each test prints which it used.
//! Needs root; skipped otherwise.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The lab's config with five tunnel interfaces to lab-wan.
const TUNNELS: &str = r#"  - name: gre1
    mtu: 1400
    tunnel: { type: gre, local: 203.0.113.1, remote: 203.0.113.2, key: 7 }
    ipv4: ["172.16.0.1/30"]
    ipv6: ["fd00:90::1/64"]
  - name: ipip1
    tunnel: { type: ipip, local: 203.0.113.1, remote: 203.0.113.2 }
    ipv4: ["172.16.1.1/30"]
  - name: sit1
    tunnel: { type: sit, local: 203.0.113.1, remote: 203.0.113.2 }
    ipv6: ["fd00:91::1/64"]
  - name: ip6tnl1
    tunnel: { type: ip6tnl, local: "2001:db8:1::1", remote: "2001:db8:1::2" }
    ipv4: ["172.16.2.1/30"]
    ipv6: ["fd00:92::1/64"]
  - name: gre6
    tunnel: { type: gre, local: "2001:db8:1::1", remote: "2001:db8:1::2" }
    ipv4: ["172.16.3.1/30"]
    ipv6: ["fd00:93::1/64"]
"#;

fn tunnel_lab() -> Option<Lab> {
    tunnel_lab_with("")
}

/// The tunnel lab with `more` (interfaces, then other sections) after
/// the five tunnels.
fn tunnel_lab_with(more: &str) -> Option<Lab> {
    let text = std::fs::read_to_string(root().join("deploy/lab/gateway.yaml")).unwrap();
    let text = text.replace("management:", &format!("{TUNNELS}{more}management:"));
    // A file per config: tests run in parallel, and each writes its own
    // before it waits for the lab.
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&text, &mut h);
    let name = format!("gateway-tunnels-{}-{:x}.yaml", std::process::id(), std::hash::Hasher::finish(&h));
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, text).unwrap();
    Lab::up_with(Some(&path))
}

/// The far end of one tunnel in lab-wan, with the inner addresses and a
/// route back to lab-lan through it.
struct Peer {
    child: Option<Child>,
    dev: String,
    ns: &'static str,
}

/// Where a tunnel's far end runs: its namespace and outer addresses.
struct Far {
    ns: &'static str,
    local: &'static str,
    remote: &'static str,
}

impl Peer {
    fn start(kind: &str, remote_is_v6: bool, key: Option<u32>, mtu: u16, addrs: &[&str]) -> Peer {
        let far = if remote_is_v6 {
            Far { ns: "lab-wan", local: "2001:db8:1::2", remote: "2001:db8:1::1" }
        } else {
            Far { ns: "lab-wan", local: "203.0.113.2", remote: "203.0.113.1" }
        };
        Peer::start_at(far, kind, key, mtu, addrs)
    }

    fn start_at(far: Far, kind: &str, key: Option<u32>, mtu: u16, addrs: &[&str]) -> Peer {
        let (ns, local, remote, remote_is_v6) = (far.ns, far.local, far.remote, far.remote.contains(':'));
        let dev = format!("t-{kind}{}", if remote_is_v6 { "6" } else { "" });
        let linux = match (kind, remote_is_v6) {
            ("gre", true) => "ip6gre",
            ("ip6tnl", _) => "ip6tnl mode any",
            (k, _) => k,
        };
        let key_arg = key.map(|k| format!("key {k}")).unwrap_or_default();
        let kernel = sh(&format!(
            "ip netns exec {ns} ip link add {dev} type {linux} local {local} remote {remote} {key_arg} ttl 64"
        ))
        .status
        .success();
        let child = if kernel {
            ok(&format!("ip netns exec {ns} ip link set {dev} mtu {mtu} up"));
            None
        } else {
            let mut c = Command::new("ip")
                .args(["netns", "exec", ns, "python3"])
                .arg(root().join("deploy/lab/tunnel_peer.py"))
                .args([kind, local, remote, &dev, &mtu.to_string()])
                .args(key.map(|k| k.to_string()))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(c.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready", "the user-space peer started");
            Some(c)
        };
        eprintln!(
            "{kind} tunnel: the far end is {}",
            if kernel { "the kernel's" } else { "user-space (no kernel module)" }
        );
        for a in addrs {
            ok(&format!("ip netns exec {ns} ip addr add {a} dev {dev}"));
        }
        ok(&format!("ip netns exec {ns} ip route add 10.0.1.0/24 dev {dev}"));
        ok(&format!("ip netns exec {ns} ip -6 route add fd00:1::/64 dev {dev}"));
        ok(&format!("ip netns exec {ns} sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.{dev}.rp_filter=0"));
        Peer { child, dev, ns }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = sh(&format!("ip netns exec {} ip link del {} 2>/dev/null", self.ns, self.dev));
    }
}

fn pings(dst: &str) {
    let v6 = if dst.contains(':') { "-6" } else { "" };
    let out = ok(&format!("ip netns exec lab-lan ping {v6} -c 3 -i 0.2 -W 2 {dst}"));
    assert!(out.contains("3 received"), "{dst}:\n{out}");
}

/// Type, outer IPv6, GRE key, the far end's inner addresses, what to reach.
type Case = (&'static str, bool, Option<u32>, &'static [&'static str], &'static [&'static str]);

#[test]
fn every_tunnel_type_carries_pings_and_tcp_both_families_to_a_real_far_end() {
    let Some(lab) = tunnel_lab() else { return };
    let cases: [Case; 5] = [
        ("gre", false, Some(7), &["172.16.0.2/30", "fd00:90::2/64"], &["172.16.0.2", "fd00:90::2"]),
        ("ipip", false, None, &["172.16.1.2/30"], &["172.16.1.2"]),
        ("sit", false, None, &["fd00:91::2/64"], &["fd00:91::2"]),
        ("ip6tnl", true, None, &["172.16.2.2/30", "fd00:92::2/64"], &["172.16.2.2", "fd00:92::2"]),
        ("gre", true, None, &["172.16.3.2/30", "fd00:93::2/64"], &["172.16.3.2", "fd00:93::2"]),
    ];
    for (kind, v6, key, addrs, targets) in cases {
        let _peer = Peer::start(kind, v6, key, 1500, addrs);
        for t in targets {
            pings(t);
            tcp_transfer("lab-lan", "lab-wan", t, 5001, 5_000_000);
        }
    }
    // A tunnel added through the API carries traffic at once; removed,
    // its packets are answered as a protocol nobody serves.
    let body = serde_json::json!({
        "name": "gre9",
        "tunnel": { "type": "gre", "local": "203.0.113.1", "remote": "203.0.113.2", "key": 9 },
        "ipv4": ["172.16.9.1/30"],
    });
    let r = api("POST", "/api/v1/interfaces", "admin", Some(body), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    {
        let _peer = Peer::start("gre", false, Some(9), 1500, &["172.16.9.2/30"]);
        pings("172.16.9.2");
        let got = api("GET", "/api/v1/interfaces/gre9", "readonly", None, &[]).json;
        assert_eq!(got["tunnel"]["key"], 9, "{got}");
        assert_eq!(api("DELETE", "/api/v1/interfaces/gre9", "admin", None, &[]).status, 200);
        let out = sh("ip netns exec lab-lan ping -c 1 -W 1 172.16.9.2");
        assert!(!out.status.success(), "no route once the tunnel is gone");
    }
    assert!(lab.metric("gateway_tunnel_encapsulated_total") > 10_000);
    assert!(lab.metric("gateway_tunnel_decapsulated_total") > 1_000);
    for reason in ["tunnel_malformed", "tunnel_loop", "tunnel_nested", "reassembly_no_room"] {
        assert_eq!(lab.drops(reason), 0, "{reason}");
    }
}

/// gre1's MTU is 1400: lab-lan's TCP, sending 1500-byte segments with
/// DF, learns the MTU from our Fragmentation Needed (RFC 1191) and a
/// 50 MB transfer completes; a 20,000-byte UDP datagram without DF is
/// cut to fit, wrapped, and put together by the far end's kernel; and
/// what the far end sends back wrapped in fragments is put together by
/// the gateway before it is unwrapped.
#[test]
fn path_mtu_discovery_and_fragments_through_a_1400_byte_tunnel() {
    let Some(lab) = tunnel_lab() else { return };
    let _peer = Peer::start("gre", false, Some(7), 1500, &["172.16.0.2/30", "fd00:90::2/64"]);
    tcp_transfer("lab-lan", "lab-wan", "172.16.0.2", 5001, 50_000_000);
    assert!(lab.drops("fragmentation_needed") >= 1, "the sender was told the MTU");
    tcp_transfer("lab-lan", "lab-wan", "fd00:90::2", 5001, 5_000_000);
    assert!(lab.drops("packet_too_big") >= 1, "the IPv6 sender was told the MTU");
    let got = udp_datagram("lab-lan", "lab-wan", "172.16.0.2", 9003, 20000);
    assert_eq!(got, udp_payload(20000), "the datagram, whole");
    // The far end's 1500-byte TUN sends 1500-byte packets: their outer
    // headers do not fit its 1500-byte wan, so they come in fragments.
    let pong = ok("ip netns exec lab-wan ping -c 3 -i 0.2 -W 2 -s 1472 -I 172.16.0.2 172.16.0.1");
    assert!(pong.contains("3 received"), "{pong}");
    assert!(lab.metric("gateway_reassembled_total") >= 3);
}

/// A tunnel whose path is narrower than its own MTU, far from the
/// gateway: its far end, lab-far, lies behind lab-wan over a 1300-byte
/// link. lab-wan's kernel cannot forward the 1500-byte outer packets
/// (DF set, from the inner TCP) and reports Fragmentation Needed to the
/// tunnel's end, our address; the gateway lowers the tunnel's MTU from
/// it (RFC 2003 §4: 1300 less GRE's 28 bytes) and tells lab-lan's TCP,
/// whose 20 MB transfer then completes.
#[test]
fn a_narrow_path_beyond_the_next_hop_lowers_the_tunnel_mtu_rfc2003_4() {
    const FAR: &str = r#"  - name: gre2
    tunnel: { type: gre, local: 203.0.113.1, remote: 198.51.100.2, key: 8 }
    ipv4: ["172.16.8.1/30"]
routes:
  - { dst: "198.51.100.0/24", via: ["203.0.113.2"] }
"#;
    let Some(lab) = tunnel_lab_with(FAR) else { return };
    let _far = FarNamespace::up();
    let far = Far { ns: "lab-far", local: "198.51.100.2", remote: "203.0.113.1" };
    let _peer = Peer::start_at(far, "gre", Some(8), 1500, &["172.16.8.2/30"]);
    pings("172.16.8.2");
    tcp_transfer("lab-lan", "lab-far", "172.16.8.2", 5001, 20_000_000);
    assert!(lab.metric("gateway_tunnel_path_mtu_updates_total") >= 1, "the underlay's report was taken");
    assert!(lab.drops("fragmentation_needed") >= 1, "the sender was told the tunnel's lower MTU");
    let got = api("GET", "/api/v1/interfaces/gre2", "readonly", None, &[]).json;
    assert_eq!(got["path_mtu"], 1272, "1300 less the outer headers: {got}");
}

/// Tunnels whose far ends the underlay cannot reach. lab-wan's kernel
/// answers their outer packets with an ICMP error quoting them (up to 576
/// bytes, 1280 for ICMPv6, so the inner packet too), and the gateway
/// tells the inner sender Destination Unreachable: lab-lan's ping reports
/// it at once instead of timing out (RFC 2003 §4.1, RFC 2473 §8.1).
/// - gre3: lab-wan has an unreachable route to its far end (Host
///   Unreachable); IPv4 and IPv6 inside.
/// - ipip3: its outer TTL is 1 and lab-wan would forward it (Time
///   Exceeded, a loop in the tunnel as RFC 2003 sees it).
/// - ip6tnl3: an IPv6 outside with no route at lab-wan (ICMPv6
///   Destination Unreachable).
#[test]
fn an_unreachable_far_end_is_told_to_the_inner_sender_rfc2003_4_1() {
    const GONE: &str = r#"  - name: gre3
    tunnel: { type: gre, local: 203.0.113.1, remote: 198.51.100.9, key: 9 }
    ipv4: ["172.16.9.1/30"]
    ipv6: ["fd00:99::1/64"]
  - name: ipip3
    tunnel: { type: ipip, local: 203.0.113.1, remote: 198.51.100.10, ttl: 1 }
    ipv4: ["172.16.10.1/30"]
  - name: ip6tnl3
    tunnel: { type: ip6tnl, local: "2001:db8:1::1", remote: "2001:db8:9::9" }
    ipv4: ["172.16.11.1/30"]
routes:
  - { dst: "198.51.100.0/24", via: ["203.0.113.2"] }
  - { dst: "2001:db8:9::/48", via: ["2001:db8:1::2"] }
"#;
    let Some(lab) = tunnel_lab_with(GONE) else { return };
    let _routes = WanRoutes::add(&[
        "ip route add unreachable 198.51.100.9/32",
        "ip route add 198.51.100.10/32 via 203.0.113.1",
        "ip -6 route add unreachable 2001:db8:9::9/128",
    ]);
    for (dst, told) in [
        ("172.16.9.2", "Destination Host Unreachable"),
        ("fd00:99::2", "Address unreachable"),
        ("172.16.10.2", "Destination Host Unreachable"),
        ("172.16.11.2", "Destination Host Unreachable"),
    ] {
        let v6 = if dst.contains(':') { "-6" } else { "" };
        let out = sh(&format!("ip netns exec lab-lan ping {v6} -c 1 -W 5 {dst}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(told), "{dst}: {text}");
        let from = if v6.is_empty() { "From 10.0.1.1 " } else { "From fd00:1::1 " };
        assert!(text.contains(from), "{dst}: told by the gateway: {text}");
    }
    assert_eq!(lab.drops("tunnel_unreachable"), 4);
    assert_eq!(lab.drops("tunnel_error_short"), 0);
}

/// Routes added to lab-wan for one test, removed after it.
struct WanRoutes(Vec<String>);

impl WanRoutes {
    fn add(cmds: &[&str]) -> WanRoutes {
        // Linux answers no route with an error only where it forwards.
        ok("ip netns exec lab-wan sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
        for c in cmds {
            ok(&format!("ip netns exec lab-wan {c}"));
        }
        WanRoutes(cmds.iter().map(|c| c.replacen(" add ", " del ", 1)).collect())
    }
}

impl Drop for WanRoutes {
    fn drop(&mut self) {
        for c in &self.0 {
            let _ = sh(&format!("ip netns exec lab-wan {c}"));
        }
        let _ = sh("ip netns exec lab-wan sysctl -qw net.ipv6.conf.all.forwarding=0");
    }
}

/// lab-far: a host behind lab-wan over a 1300-byte link (198.51.100.0/30),
/// lab-wan routing between it and the gateway.
struct FarNamespace;

impl FarNamespace {
    fn up() -> FarNamespace {
        let _ = sh("ip netns del lab-far 2>/dev/null");
        ok("ip netns add lab-far");
        ok("ip link add far-w netns lab-wan type veth peer name far-f netns lab-far");
        ok("ip -n lab-wan link set far-w mtu 1300 up");
        ok("ip -n lab-far link set far-f mtu 1300 up");
        ok("ip -n lab-far link set lo up");
        ok("ip -n lab-wan addr add 198.51.100.1/30 dev far-w");
        ok("ip -n lab-far addr add 198.51.100.2/30 dev far-f");
        ok("ip -n lab-far route add default via 198.51.100.1");
        ok("ip netns exec lab-wan sysctl -qw net.ipv4.ip_forward=1");
        FarNamespace
    }
}

impl Drop for FarNamespace {
    fn drop(&mut self) {
        let _ = sh("ip netns pids lab-far | xargs -r kill -KILL; ip netns del lab-far 2>/dev/null");
    }
}

/// With MSS clamping on gre1 (1400 bytes, set through the API), both
/// SYNs of a connection through it get an MSS that fits: the transfer
/// needs no Fragmentation Needed at all.
#[test]
fn mss_clamping_on_the_tunnel_makes_path_mtu_discovery_unneeded() {
    let Some(lab) = tunnel_lab() else { return };
    let _peer = Peer::start("gre", false, Some(7), 1500, &["172.16.0.2/30", "fd00:90::2/64"]);
    let mut gre1 = api("GET", "/api/v1/interfaces/gre1", "readonly", None, &[]).json;
    gre1["tcp_mss_clamp"] = serde_json::json!(true);
    for shown in ["mac", "path_mtu"] {
        gre1.as_object_mut().unwrap().remove(shown);
    }
    let r = api("PUT", "/api/v1/interfaces/gre1", "admin", Some(gre1), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    tcp_transfer("lab-lan", "lab-wan", "172.16.0.2", 5001, 20_000_000);
    tcp_transfer("lab-lan", "lab-wan", "fd00:90::2", 5001, 5_000_000);
    assert_eq!(lab.drops("fragmentation_needed"), 0);
    assert_eq!(lab.drops("packet_too_big"), 0);
    assert!(lab.metric("gateway_tcp_mss_clamped_total") >= 4, "both SYNs of both connections");
}
