//! Attacks on the gateway in the namespace lab, one test each, from the
//! kernel peers on either side: a SYN flood at a port forward, an ARP
//! flood, a MAC flood on a bridge, an ICMP flood and a flood of packets
//! that ask for ICMP errors, a thousand concurrent API requests. (The
//! SYN flood at the gateway's own address is in tcp.rs, the scan of a
//! connected /64 in lab6.rs, an outside host sending from thousands of
//! ports in nat.rs.) Each time legitimate traffic keeps flowing, the API
//! answers, a counter names the attack, and the gateway's memory stays
//! within what its config sized at start (`RSS_SLACK`).

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `script` (in deploy/lab) with `args` in namespace `ns`.
fn flood(ns: &str, script: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, "python3"])
        .arg(root().join("deploy/lab").join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flood")
}

/// Waits for a flood and returns how many packets it sent.
fn sent(f: Child) -> u64 {
    let out = f.wait_with_output().expect("flood");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().unwrap_or_else(|_| panic!("flood said {text:?} {}", String::from_utf8_lossy(&out.stderr)))
}

/// The gateway's memory has not grown past what its config sized.
fn assert_bounded(lab: &Lab, before: u64, attack: &str) {
    let grown = rss(lab.pid()).saturating_sub(before);
    assert!(grown < RSS_SLACK, "{attack} grew the gateway by {} MiB", grown >> 20);
}

/// Echo replies `ns` gets of 5 pings to `dst`. A flood shares the port
/// (and on this VM the two cores) with them, so some may be lost; none
/// getting through is a failure.
fn pings_answered(ns: &str, dst: &str) -> u32 {
    let out = sh(&format!("ip netns exec {ns} ping -c 5 -i 0.2 -W 2 {dst}"));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(", ").find_map(|w| w.strip_suffix(" received")).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Legitimate traffic through the gateway and its API, while under
/// attack: pings (some may be lost), a TCP transfer (complete, byte for
/// byte), an API call.
fn legitimate_traffic_flows(what: &str) {
    assert!(pings_answered("lab-lan", "203.0.113.2") > 0, "lan -> wan during {what}");
    tcp_transfer("lab-lan", "lab-wan", "203.0.113.2", 9500, 2_000_000);
    assert_eq!(api("GET", "/api/v1/stats", "readonly", None, &[]).status, 200, "the API during {what}");
}

/// A SYN flood from the WAN (20,000 spoofed SYNs a second for 4 s, 4,096
/// sources and ports) at a port forward whose server answers them: each
/// SYN would be a session, so they are held to the bound on sessions
/// made from outside (`nat.inbound_sessions`, 2,000 here), turning over
/// among themselves (`gateway_nat_inbound_evicted_total`: never assured,
/// the oldest gives way); clients of the forward that complete their
/// handshake get in meanwhile, and the subscribers' own outbound flows
/// (a ping, a TCP transfer) go on, counted apart.
#[test]
fn a_syn_flood_at_a_port_forward_is_held_to_its_bound_and_outbound_flows_go_on() {
    let Some(lab) = Lab::up_with(Some(&root().join("deploy/lab/nat.yaml"))) else { return };
    let mut nat = api("GET", "/api/v1/nat", "readonly", None, &[]).json;
    nat["inbound_sessions"] = 2000.into();
    let r = api("PUT", "/api/v1/nat", "admin", Some(nat), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"));
    // The forward's server: says who connected.
    ok("ip netns exec lab-lan python3 -c 'import socket\ns = socket.socket(); \
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 8000)); s.listen(64)\n\
        while True:\n    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()' >/dev/null 2>&1 &");
    wait_listening("lab-lan", 8000);
    let before = rss(lab.pid());
    let f = flood("lab-wan", "syn_flood.py", &["203.0.113.1", "8080", "198.51.100", "20000", "4"]);
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..3 {
        let who = ok("ip netns exec lab-wan timeout 10 socat -u TCP:203.0.113.1:8080,connect-timeout=5 STDOUT");
        assert_eq!(who, "203.0.113.2", "a client of the forward during the flood");
    }
    legitimate_traffic_flows("a SYN flood at a forward");
    let n = sent(f);
    assert!(n > 40_000, "the flood sent {n}");
    assert!(lab.metric("gateway_nat_inbound_evicted_total") > 20_000, "the bound named the attack");
    let inbound = lab.metric("gateway_nat_inbound_sessions");
    assert_eq!(inbound, 2000, "sessions from outside, at the bound");
    assert_bounded(&lab, before, "a SYN flood at a forward");
}

/// ARP requests for the gateway from random senders (half on the LAN's
/// subnet, half anywhere) as fast as lab-lan sends them for 3 s: senders
/// off the subnet are answered and never learned, on-link ones only up
/// to `arp.unconfirmed_limit` (64 here), the oldest evicted past it
/// (`gateway_neighbor_unconfirmed_evicted_total`); confirmed neighbors
/// stay and traffic flows.
#[test]
fn an_arp_flood_leaves_the_neighbor_cache_bounded_and_hosts_reachable() {
    let Some(lab) = Lab::up() else { return };
    let mut cfg = api("GET", "/api/v1/config", "readonly", None, &[]);
    cfg.json["arp"]["unconfirmed_limit"] = 64.into();
    let r = api("PUT", "/api/v1/config", "admin", Some(cfg.json), &[("If-Match", &cfg.etag)]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"));
    let before = rss(lab.pid());
    let replies = lab.metric("gateway_arp_replies_sent_total");
    let f = flood("lab-lan", "l2_flood.py", &["eth0", "arp", "10.0.1.1", "3"]);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(pings_answered("lab-wan", "10.0.1.2") > 0, "wan -> lan during the flood");
    assert_eq!(api("GET", "/api/v1/stats", "readonly", None, &[]).status, 200);
    let n = sent(f);
    assert!(n > 20_000, "the flood sent {n}");
    assert!(lab.metric("gateway_arp_replies_sent_total") - replies > n / 4, "answered, not learned");
    assert!(lab.metric("gateway_neighbor_unconfirmed_evicted_total") > 0, "the bound named the attack");
    // The 64 unconfirmed at most, the hosts' IPv4 and IPv6 entries, and
    // nothing from off the subnet.
    let neighbors = lab.metric("gateway_neighbors");
    assert!(neighbors <= 64 + 8, "{neighbors} neighbors");
    legitimate_traffic_flows("after an ARP flood");
    assert_bounded(&lab, before, "an ARP flood");
}

/// Broadcast frames from random source MACs into the bridge from lab-h1
/// as fast as it sends them for 3 s: the bridge learns up to its
/// `mac_limit` (1,024 in the lab) and counts the rest (`gateway_mac_learn_full_total`),
/// frames to stations it could not learn are flooded, and the hosts on
/// the bridge still reach each other and the bridge's address.
#[test]
fn a_mac_flood_fills_only_the_bridges_bound_and_its_hosts_still_talk() {
    let Some(lab) = Lab::up_bridge() else { return };
    assert!(ping("lab-h2", "10.0.10.4").contains("3 received"));
    let before = rss(lab.pid());
    let full = lab.metric("gateway_mac_learn_full_total");
    let f = flood("lab-h1", "l2_flood.py", &["eth0", "mac", "3"]);
    std::thread::sleep(Duration::from_millis(1000));
    for (ns, dst) in [("lab-h2", "10.0.10.4"), ("lab-h3", "10.0.10.1")] {
        assert!(pings_answered(ns, dst) > 0, "{ns} -> {dst} during the flood");
    }
    tcp_transfer("lab-h2", "lab-h3", "10.0.10.4", 9500, 2_000_000);
    let n = sent(f);
    assert!(n > 20_000, "the flood sent {n}");
    assert!(lab.metric("gateway_mac_learn_full_total") > full, "the bound named the attack");
    let macs = api("GET", "/api/v1/bridges/br0/macs?limit=1", "readonly", None, &[]);
    let total = macs.json["total"].as_u64().unwrap_or_else(|| panic!("{}", macs.text));
    assert!(total <= 1024, "{total} MACs learned, bound 1024");
    assert_eq!(api("GET", "/api/v1/stats", "readonly", None, &[]).status, 200);
    assert_bounded(&lab, before, "a MAC flood");
}

/// A ping flood at the gateway's WAN address, and a flood of UDP
/// datagrams to a closed port of it (each asks for a Port Unreachable):
/// echo replies go out as fast as asked, errors no faster than the ICMP
/// rate limits (`gateway_icmp_errors_rate_limited_total` names it), and
/// the LAN's traffic flows.
#[test]
fn an_icmp_flood_and_a_flood_asking_for_errors_are_answered_within_the_limits() {
    let Some(lab) = Lab::up() else { return };
    assert!(ping("lab-wan", "203.0.113.1").contains("3 received"));
    let before = rss(lab.pid());
    let (local, errors) = (lab.metric("gateway_local_total"), lab.metric("gateway_icmp_errors_sent_total"));
    let pings = Command::new("ip")
        .args(["netns", "exec", "lab-wan", "ping", "-f", "-q", "-w", "4", "-s", "1000", "203.0.113.1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ping -f");
    let udp = "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nn, t = 0, time.time()\n\
               while time.time() - t < 4:\n    s.sendto(b'x' * 64, ('203.0.113.1', 33434 + n % 100)); n += 1\nprint(n)";
    let errs = Command::new("ip")
        .args(["netns", "exec", "lab-wan", "python3", "-c", udp])
        .stdout(Stdio::piped())
        .spawn()
        .expect("udp flood");
    std::thread::sleep(Duration::from_millis(1000));
    legitimate_traffic_flows("an ICMP flood");
    let ping_out = String::from_utf8_lossy(&pings.wait_with_output().unwrap().stdout).to_string();
    let datagrams = sent(errs);
    assert!(datagrams > 20_000, "the UDP flood sent {datagrams}");
    assert!(lab.metric("gateway_local_total") - local > 2_000, "echoes answered: {ping_out}");
    assert!(lab.metric("gateway_icmp_errors_rate_limited_total") > 0, "the limit named the attack");
    // One destination: its bucket (20/s, burst 10) over the ~6 s since.
    let sent_errors = lab.metric("gateway_icmp_errors_sent_total") - errors;
    assert!(sent_errors <= 10 + 20 * 8, "{sent_errors} errors to one flooding host");
    assert_bounded(&lab, before, "an ICMP flood");
}

/// A thousand API requests at once, each on its own connection, sent
/// together from inside the gateway's namespace (straight to the API,
/// not through the lab's forwarder): every one answered 200, `/healthz`
/// and forwarding unaffected meanwhile, and the gateway's memory within
/// bounds after.
#[test]
fn a_thousand_concurrent_api_requests_are_all_answered_and_forwarding_goes_on() {
    let Some(lab) = Lab::up() else { return };
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"));
    let before = rss(lab.pid());
    let clients = format!(
        "import socket, threading, collections, time
token = '{}'
paths = ['/api/v1/stats', '/api/v1/routes', '/api/v1/interfaces', '/metrics']
start, got, lock = threading.Barrier(1000), collections.Counter(), threading.Lock()
def client(i):
    s = socket.socket(); s.settimeout(60)
    start.wait()
    try:
        s.connect(('127.0.0.1', 8080))
        s.sendall(('GET %s HTTP/1.1\\r\\nHost: gw\\r\\nAuthorization: Bearer %s\\r\\nConnection: close\\r\\n\\r\\n' % (paths[i % 4], token)).encode())
        data = b''
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
        what = data[:12].decode() if data.endswith(b'\\n') or b'\\r\\n\\r\\n' in data else 'short'
    except Exception as e:
        what = type(e).__name__
    with lock: got[what] += 1
t0 = time.time()
ts = [threading.Thread(target=client, args=(i,)) for i in range(1000)]
[t.start() for t in ts]; [t.join() for t in ts]
print(dict(got), round(time.time() - t0, 2))",
        token("readonly")
    );
    let burst = Command::new("ip")
        .args(["netns", "exec", "lab-gw", "python3", "-c", &clients])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clients");
    std::thread::sleep(Duration::from_millis(300));
    assert!(ureq::get("http://127.0.0.1:8080/healthz").timeout(Duration::from_secs(5)).call().is_ok());
    assert!(pings_answered("lab-lan", "203.0.113.2") > 0, "forwarding while the API is busy");
    tcp_transfer("lab-lan", "lab-wan", "203.0.113.2", 9500, 2_000_000);
    let out = burst.wait_with_output().expect("clients");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.starts_with("{'HTTP/1.1 200': 1000}"), "every request answered: {text}");
    eprintln!("1000 concurrent requests: {text}");
    assert_bounded(&lab, before, "a thousand API requests");
}
