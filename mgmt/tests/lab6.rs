//! IPv6 end to end in the namespace lab: gatewayd between
//! two Linux kernel stacks, dual-stack. lab-lan takes its default route
//! and a SLAAC address from the gateway's Router Advertisements; lab-wan
//! has 2001:db8:1::2/64 and a static default route. Skips (saying why)
//! without root or network namespaces.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Waits until lab-lan has a default route learned from an RA.
fn wait_for_ra_default_route() -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let routes = ok("ip netns exec lab-lan ip -6 route show default");
        if routes.contains("proto ra") {
            return routes;
        }
        assert!(Instant::now() < deadline, "no default route from a Router Advertisement:\n{routes}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ping6(ns: &str, dst: &str) -> String {
    ok(&format!("ip netns exec {ns} ping -6 -c 3 -i 0.2 -W 2 {dst}"))
}

#[test]
fn slaac_and_default_route_from_our_router_advertisements() {
    let Some(lab) = Lab::up() else { return };
    let routes = wait_for_ra_default_route();
    assert!(routes.contains("via fe80::"), "the next hop is our link-local address: {routes}");
    // The link-local next hop is the gateway's EUI-64 address.
    let mac = ok("ip netns exec lab-gw cat /sys/class/net/gw-lan/address");
    let b: Vec<u8> = mac.trim().split(':').map(|x| u8::from_str_radix(x, 16).unwrap()).collect();
    let ll = format!(
        "fe80::{:x}:{:x}ff:fe{:02x}:{:x}",
        u16::from(b[0] ^ 2) << 8 | u16::from(b[1]),
        b[2],
        b[3],
        u16::from(b[4]) << 8 | u16::from(b[5])
    );
    assert!(routes.contains(&ll), "default via {ll} expected:\n{routes}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let addrs = ok("ip netns exec lab-lan ip -6 addr show dev eth0 scope global dynamic");
        if addrs.contains("inet6 fd00:1::") && !addrs.contains("tentative") {
            break;
        }
        assert!(Instant::now() < deadline, "no SLAAC address in fd00:1::/64:\n{addrs}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The gateway's link-local address answers too.
    assert!(ping6("lab-lan", &format!("{ll}%eth0")).contains("3 received"));
    // lab-lan may be learned from its own solicitations, so whether the
    // gateway had to send one is timing: only the RA count is asserted.
    assert!(lab.metric("gateway_router_advertisements_sent_total") >= 1);
}

#[test]
fn dual_stack_pings_both_ways_and_to_the_gateway() {
    let Some(lab) = Lab::up() else { return };
    wait_for_ra_default_route();
    for (ns, dst) in [
        ("lab-lan", "fd00:1::1"),
        ("lab-lan", "2001:db8:1::1"),
        ("lab-lan", "2001:db8:1::2"),
        ("lab-wan", "2001:db8:1::1"),
        ("lab-wan", "fd00:1::1"),
        ("lab-wan", "fd00:1::2"),
    ] {
        let out = ping6(ns, dst);
        assert!(out.contains("3 received"), "{ns} -> {dst}:\n{out}");
    }
    // IPv4 still works beside it.
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"));
    assert!(lab.metric("gateway_ipv6_forwarded_total") >= 6);
    assert!(lab.metric("gateway_ipv6_local_total") >= 12);
    // Both families are in the neighbor table the API shows.
    let n = api("GET", "/api/v1/neighbors", "readonly", None, &[]);
    let ips: Vec<String> =
        n.json["items"].as_array().unwrap().iter().map(|e| e["ip"].as_str().unwrap().into()).collect();
    assert!(
        ips.iter().any(|i| i == "2001:db8:1::2") && ips.iter().any(|i| i == "10.0.1.2" || i == "203.0.113.2"),
        "{ips:?}"
    );
}

#[test]
fn tcp_over_ipv6_arrives_byte_identical() {
    let Some(lab) = Lab::up() else { return };
    wait_for_ra_default_route();
    tcp_transfer("lab-lan", "lab-wan", "2001:db8:1::2", 5002, 20_000_000);
    // 20 MB is over 13,000 full-size segments: nearly all by the fast path.
    std::thread::sleep(Duration::from_millis(300)); // counters are published between bursts
    let fast = lab.metric("gateway_fast_path_total");
    assert!(fast > 10_000, "only {fast} packets took the fast path");
}

#[test]
fn hop_limit_one_gets_time_exceeded_from_the_gateway() {
    let Some(lab) = Lab::up() else { return };
    wait_for_ra_default_route();
    let out = sh("ip netns exec lab-lan ping -6 -c 1 -t 1 -W 2 2001:db8:1::2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("From fd00:1::1") && text.contains("Time exceeded: Hop limit"), "{text}");
    std::thread::sleep(Duration::from_millis(300)); // counters are published between bursts
    assert_eq!(lab.drops("hop_limit_expired"), 1);
    assert_eq!(lab.metric("gateway_icmpv6_errors_sent_total"), 1);
}

#[test]
fn a_1500_byte_packet_towards_a_1280_mtu_gets_packet_too_big() {
    // The lab with the WAN interface's MTU at 1280.
    let cfg = std::fs::read_to_string(root().join("deploy/lab/gateway.yaml")).unwrap();
    let ifaces = cfg.find("interfaces:").expect("interfaces");
    let wan_at = ifaces + cfg[ifaces..].find("- name: wan").expect("wan interface");
    let (head, tail) = cfg.split_at(wan_at);
    let changed = format!("{head}{}", tail.replacen("mtu: 1500", "mtu: 1280", 1));
    let path = std::env::temp_dir().join(format!("gw-lab6-mtu-{}.yaml", std::process::id()));
    std::fs::write(&path, changed).unwrap();
    let Some(lab) = Lab::up_with(Some(&path)) else { return };
    let _ = std::fs::remove_file(&path);
    // Both ends of a link agree on its MTU.
    ok("ip netns exec lab-wan ip link set eth0 mtu 1280");
    wait_for_ra_default_route();
    // 1452 bytes of payload + 8 ICMPv6 + 40 IPv6 = 1500.
    let out = sh("ip netns exec lab-lan ping -6 -c 1 -s 1452 -M do -W 2 2001:db8:1::2");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Depending on its version, ping shows the error as "From fd00:1::1
    // ... Packet too big: mtu=1280" or as the path MTU the kernel took
    // from it ("local error: message too long, mtu: 1280").
    assert!(text.contains("mtu=1280") || text.contains("mtu: 1280"), "{text}");
    std::thread::sleep(Duration::from_millis(300)); // counters are published between bursts
    assert_eq!(lab.drops("packet_too_big"), 1);
    assert_eq!(lab.metric("gateway_icmpv6_errors_sent_total"), 1);
    // The kernel learned the path MTU: the next ping goes out at 1280 and
    // arrives (it fragments at the source, as IPv6 does).
    let again = ping6("lab-lan", "-s 1452 2001:db8:1::2");
    assert!(again.contains("3 received"), "{again}");
}

#[test]
fn truncated_or_looping_extension_header_chains_are_dropped_and_counted() {
    let Some(lab) = Lab::up() else { return };
    wait_for_ra_default_route();
    ping6("lab-lan", "fd00:1::1");
    let gw_mac = ok("ip netns exec lab-gw cat /sys/class/net/gw-lan/address");
    let script = format!(
        r#"
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
dst = bytes.fromhex('{mac}'.replace(':', ''))
src = open('/sys/class/net/eth0/address').read().strip()
eth = dst + bytes.fromhex(src.replace(':', '')) + b'\x86\xdd'
def ip6(nh, payload, to):
    return struct.pack('!IHBB', 6 << 28, len(payload), nh, 64) + socket.inet_pton(socket.AF_INET6, 'fd00:1::2') \
        + socket.inet_pton(socket.AF_INET6, to) + payload
# Nine Destination Options headers, each naming the next: a looping chain.
loop = b''.join(bytes([60, 0, 1, 4, 0, 0, 0, 0]) for _ in range(9))
# A Routing header that claims 16 bytes with 8 present.
trunc = bytes([17, 1, 0, 0, 0, 0, 0, 0])
for to in ['fd00:1::1', '2001:db8:1::2']:
    s.send(eth + ip6(60, loop, to))
    s.send(eth + ip6(43, trunc, to))
"#,
        mac = gw_mac.trim()
    );
    let path = std::env::temp_dir().join(format!("gw-ext6-{}.py", std::process::id()));
    std::fs::write(&path, script).unwrap();
    ok(&format!("ip netns exec lab-lan python3 {}", path.display()));
    let _ = std::fs::remove_file(&path);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lab.drops("ipv6_ext_too_long"), 2);
    assert_eq!(lab.drops("ipv6_ext_truncated"), 2);
    assert!(ping6("lab-lan", "2001:db8:1::2").contains("3 received"), "still forwarding");
}

#[test]
fn ipv6_routes_through_the_api_with_a_link_local_gateway() {
    let Some(_lab) = Lab::up() else { return };
    wait_for_ra_default_route();
    // lab-wan answers for 2001:db8:99::1 on its loopback; route it via
    // lab-wan's link-local address, named with its interface.
    ok("ip netns exec lab-wan ip -6 addr add 2001:db8:99::1/128 dev lo");
    let ll = ok("ip netns exec lab-wan ip -6 -o addr show dev eth0 scope link");
    let ll = ll.split_whitespace().nth(3).unwrap().split('/').next().unwrap().to_string();
    let body = serde_json::json!({ "dst": "2001:db8:99::/48", "via": [format!("{ll}%wan")] });
    let r = api("POST", "/api/v1/routes", "admin", Some(body), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(ping6("lab-lan", "2001:db8:99::1").contains("3 received"));
    let r = api("GET", "/api/v1/routes?prefix=2001:db8::/32", "readonly", None, &[]);
    assert_eq!(r.json["items"][0]["dst"], "2001:db8:99::/48", "{}", r.text);
    // A link-local gateway without its interface is refused by field.
    let bad = serde_json::json!({ "dst": "2001:db8:98::/48", "via": ["fe80::1"] });
    let r = api("POST", "/api/v1/routes", "admin", Some(bad), &[]);
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("via[0]") && r.text.contains("needs its interface"), "{}", r.text);
    // Removing it stops forwarding there.
    let r = api("DELETE", "/api/v1/routes/2001:db8:99::/48", "admin", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let out = sh("ip netns exec lab-lan ping -6 -c 1 -W 1 2001:db8:99::1");
    assert!(!out.status.success());
}

#[test]
fn a_scan_of_the_lan_64_from_the_wan_leaves_old_and_new_hosts_reachable_rfc6583() {
    let Some(lab) = Lab::up() else { return };
    wait_for_ra_default_route();
    assert!(ping6("lab-wan", "fd00:1::2").contains("3 received"));
    let before = rss(lab.pid());
    // The review's attack: 20,000 datagrams from the WAN to random
    // addresses of the connected /64, as fast as a socket sends them.
    let flood = "import random, socket\n\
                 s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
                 for _ in range(20000):\n    \
                     a = 'fd00:1::%x:%x:%x:%x' % tuple(random.getrandbits(16) for _ in range(4))\n    \
                     s.sendto(b'x', (a, 9))\n";
    let started = Instant::now();
    ok(&format!("ip netns exec lab-wan python3 -c \"{flood}\""));
    let took = started.elapsed();
    // A host known before the scan and one that joins right after it are
    // both reached.
    assert!(ping6("lab-wan", "fd00:1::2").contains("3 received"));
    ok("ip netns exec lab-lan ip -6 addr add fd00:1::4/64 dev eth0 nodad");
    let out = ping6("lab-wan", "fd00:1::4");
    assert!(out.contains("3 received"), "the new host after the scan:\n{out}");
    std::thread::sleep(Duration::from_millis(300)); // counters are published between bursts
    let (limited, evicted) =
        (lab.drops("neighbor_solicit_limited"), lab.metric("gateway_neighbor_incomplete_evicted_total"));
    let (solicits, entries) = (lab.metric("gateway_nd_solicitations_sent_total"), lab.metric("gateway_neighbors"));
    eprintln!("scan of 20,000 in {took:?}: {limited} refused by the rate, {evicted} evicted, {solicits} solicitations, {entries} entries");
    assert!(limited > 10_000, "the solicitation rate held most of the scan back: {limited}");
    // Default bounds: 256 waiting per interface per worker, 1000 new
    // solicitations a second with bursts of 100.
    assert!(entries <= 2 * 256 + 16, "{entries} entries");
    assert!(
        solicits as f64 <= 2.0 * (100.0 + 1000.0 * took.as_secs_f64()) + 50.0,
        "{solicits} solicitations in {took:?}"
    );
    let grown = rss(lab.pid()).saturating_sub(before);
    assert!(grown < RSS_SLACK, "the scan grew the gateway by {} MiB", grown >> 20);
}
