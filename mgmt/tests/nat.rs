//! NAT44 end to end: the lab with
//! `deploy/lab/nat.yaml`, kernel peers on both sides. Needs root,
//! iproute2, iperf3, socat and python3; skips with a message otherwise.

mod common;
use common::*;
use std::time::Duration;

fn nat_lab() -> Option<Lab> {
    Lab::up_with(Some(&root().join("deploy/lab/nat.yaml")))
}

/// A TCP server in lab-wan on `port` that writes the peer's address and
/// the SHA-256 of what it received to `out`.
fn sink(port: u16, out: &str) {
    ok(&format!(
        "ip netns exec lab-wan python3 -c '
import socket, hashlib
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", {port})); s.listen(1)
c, peer = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b)
open(\"{out}\", \"w\").write(peer[0] + \" \" + h.hexdigest())
' >/dev/null 2>&1 &"
    ));
    wait_listening("lab-wan", port);
}

#[test]
fn masquerade_tcp_50mb_byte_identical_and_wan_sees_the_outside_address() {
    let Some(lab) = nat_lab() else { return };
    let dir = std::env::temp_dir().join(format!("gw-nat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (data, out) = (dir.join("data"), dir.join("seen"));
    ok(&format!("head -c 50000000 /dev/urandom > {}", data.display()));
    let want = ok(&format!("sha256sum {}", data.display()));
    sink(9000, &out.display().to_string());
    ok(&format!("ip netns exec lab-lan socat -u FILE:{} TCP:203.0.113.2:9000", data.display()));
    let mut seen = String::new();
    for _ in 0..50 {
        seen = std::fs::read_to_string(&out).unwrap_or_default();
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (peer, sum) = seen.split_once(' ').unwrap_or_else(|| panic!("sink wrote '{seen}'"));
    assert_eq!(peer, "203.0.113.1", "lab-wan must see the masquerade address, not 10.0.1.2");
    assert_eq!(sum, want.split_whitespace().next().unwrap(), "50 MB through NAT not byte-identical");
    // Ping and UDP through the masquerade too.
    ping("lab-lan", "203.0.113.2");
    assert!(lab.metric("gateway_nat_sessions_created_total{proto=\"tcp\"}") >= 1);
    assert!(lab.metric("gateway_nat_sessions_created_total{proto=\"icmp\"}") >= 1);
    assert!(lab.metric("gateway_nat_sessions") >= 2);
    assert!(lab.metric("gateway_nat_translated_total") > 30_000);
    // The established connection's segments, both ways, went by the
    // fast path; its SYN made the session on the full one.
    let fast = lab.metric("gateway_fast_path_total");
    assert!(fast > 30_000, "only {fast} packets took the fast path");
    // Most of them by the flow cache: the connection's segments after
    // its first few, every byte still checked above.
    let hits = lab.metric("gateway_flow_cache_hits_total");
    assert!(hits > 20_000, "only {hits} packets hit the flow cache");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn iperf3_tcp_and_udp_through_nat() {
    let Some(lab) = nat_lab() else { return };
    ok("ip netns exec lab-wan iperf3 -s -D -p 5201");
    wait_listening("lab-wan", 5201);
    let tcp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5201 -t 2 -J");
    assert!(tcp.contains("\"bits_per_second\""), "{tcp}");
    let udp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5201 -u -b 20M -t 2 -J");
    let lost = udp
        .split("\"sum\"")
        .last()
        .and_then(|s| s.split("\"lost_percent\":").nth(1))
        .and_then(|s| s.split([',', '\n', '}']).next().and_then(|v| v.trim().parse::<f64>().ok()));
    assert!(lost.is_some_and(|l| l < 2.0), "UDP through NAT lost {lost:?}%");
    sh("pkill -f 'iperf3 -s -D -p 5201'");
    assert!(lab.metric("gateway_nat_sessions_created_total{proto=\"udp\"}") >= 1);
}

#[test]
fn unsolicited_inbound_gets_nothing_and_icmp_errors_from_beyond_come_back_translated() {
    let Some(lab) = nat_lab() else { return };
    // An inbound SYN to the outside address with no mapping: no answer
    // at all (RFC 5382 REQ-4), counted.
    let o = sh("ip netns exec lab-wan timeout 3 nc -w 2 -z 203.0.113.1 22");
    assert!(!o.status.success(), "nothing may answer an unsolicited SYN");
    assert!(lab.drops("nat_no_mapping") >= 1);
    // A hop beyond the gateway: lab-wan forwards 198.51.100.0/24 (back
    // to the gateway), so a packet arriving there with TTL 1 gets Time
    // Exceeded from lab-wan, sent to 203.0.113.1, which the NAT must
    // translate back to lab-lan with the quoted echo's identifier.
    ok("ip netns exec lab-wan sysctl -qw net.ipv4.ip_forward=1");
    ok("ip netns exec lab-wan ip route add 198.51.100.0/24 via 203.0.113.1");
    let o = sh("ip netns exec lab-lan ping -c 2 -i 0.3 -W 2 -t 2 198.51.100.1");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Time to live exceeded"), "lab-lan did not get the translated Time Exceeded:\n{text}");
    assert!(text.contains("From 203.0.113.2"), "{text}");
}

/// A TCP server in `ns` on `port` that answers each connection with the
/// peer's address and closes it; runs until the lab goes down.
fn whoami_server(ns: &str, port: u16) {
    ok(&format!(
        "ip netns exec {ns} python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", {port})); s.listen(16)
while True:
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
' >/dev/null 2>&1 &"
    ));
    wait_listening(ns, port);
}

/// Connects from `ns` (from `bind` if given) and returns what the server said.
fn whoami(ns: &str, to: &str, bind: Option<&str>) -> String {
    let bind = bind.map(|b| format!(",bind={b}")).unwrap_or_default();
    ok(&format!("ip netns exec {ns} timeout 5 socat -u TCP:{to},connect-timeout=3{bind} STDOUT"))
}

#[test]
fn port_forward_from_wan_and_hairpin_from_lan_to_its_own_forwarded_port() {
    let Some(lab) = nat_lab() else { return };
    whoami_server("lab-lan", 8000);
    // nat.yaml forwards 203.0.113.1:8080 to 10.0.1.2:8000.
    assert_eq!(whoami("lab-wan", "203.0.113.1:8080", None), "203.0.113.2", "a forward keeps the remote source");
    // Hairpin: lab-lan dials its own service by the outside address and
    // is seen as the outside address (RFC 5382 REQ-8).
    assert_eq!(whoami("lab-lan", "203.0.113.1:8080", None), "203.0.113.1");
    assert!(lab.metric("gateway_nat_hairpins_total") >= 2);
    // The sessions, through the API: the forward's, listed by inside address.
    let r = api("GET", "/api/v1/nat/sessions?inside=10.0.1.2&limit=1000", "readonly", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.json["items"].as_array().unwrap().clone();
    let fwd: Vec<_> = items.iter().filter(|s| s["outside"] == "203.0.113.1:8080").collect();
    assert_eq!(fwd.len(), 2, "one session per client of the forward: {items:?}");
    assert!(fwd.iter().any(|s| s["remote"].as_str().unwrap().starts_with("203.0.113.2:")));
    assert!(items.iter().all(|s| s["inside"].as_str().unwrap().starts_with("10.0.1.2:")));
    // Delete one; a second delete finds nothing.
    let s = fwd[0];
    let path = format!("/api/v1/nat/sessions/tcp/{}/{}", s["outside"].as_str().unwrap(), s["remote"].as_str().unwrap());
    assert_eq!(api("DELETE", &path, "admin", None, &[]).status, 200);
    assert_eq!(api("DELETE", &path, "admin", None, &[]).status, 404);
    assert_eq!(api("DELETE", &path, "readonly", None, &[]).status, 403);
    // The subscriber's usage.
    let r = api("GET", "/api/v1/nat/subscribers?inside=10.0.1.2", "readonly", None, &[]);
    let subs = r.json["items"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{}", r.text);
    assert_eq!(subs[0]["outside"], "203.0.113.1");
    assert!(subs[0]["sessions"].as_u64().unwrap() >= 1);
    // The forward goes through the API: then nothing answers on 8080.
    assert_eq!(api("DELETE", "/api/v1/nat/forwards/tcp/203.0.113.1:8080", "admin", None, &[]).status, 200);
    let o = sh("ip netns exec lab-wan timeout 4 socat -u TCP:203.0.113.1:8080,connect-timeout=2 STDOUT");
    assert!(!o.status.success(), "the removed forward still answers");
    // And comes back.
    let body = serde_json::json!({"protocol": "tcp", "outside": "203.0.113.1:8080", "inside": "10.0.1.2:8000"});
    assert_eq!(api("POST", "/api/v1/nat/forwards", "admin", Some(body), &[]).status, 201);
    assert_eq!(whoami("lab-wan", "203.0.113.1:8080", None), "203.0.113.2");
}

#[test]
fn static_one_to_one_mapping_added_through_the_api_works_both_ways() {
    let Some(_lab) = nat_lab() else { return };
    ok("ip netns exec lab-lan ip addr add 10.0.1.3/24 dev eth0");
    // lab-wan reaches 203.0.113.10 in its own subnet: the gateway answers
    // ARP for it (proxy ARP for NAT addresses), no route needed.
    let body = serde_json::json!({"outside": "203.0.113.10", "inside": "10.0.1.3", "outside_interface": "wan"});
    let r = api("POST", "/api/v1/nat/statics", "admin", Some(body), &[]);
    assert_eq!(r.status, 201, "{}", r.text);
    // A bad one names its field.
    let bad = serde_json::json!({"outside": "203.0.113.1", "inside": "10.0.1.3", "outside_interface": "wan"});
    let r = api("POST", "/api/v1/nat/statics", "admin", Some(bad), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("outside")), "{}", r.text);
    whoami_server("lab-lan", 8001);
    whoami_server("lab-wan", 9001);
    // In: to the outside address, any port, the remote kept.
    assert_eq!(whoami("lab-wan", "203.0.113.10:8001", None), "203.0.113.2");
    // Out: from the inside host, seen as the outside address.
    assert_eq!(whoami("lab-lan", "203.0.113.2:9001", Some("10.0.1.3")), "203.0.113.10");
    // The rest of lab-lan still goes out masqueraded.
    assert_eq!(whoami("lab-lan", "203.0.113.2:9001", Some("10.0.1.2")), "203.0.113.1");
    assert_eq!(api("DELETE", "/api/v1/nat/statics/203.0.113.10", "admin", None, &[]).status, 200);
    let o = sh("ip netns exec lab-wan timeout 4 socat -u TCP:203.0.113.10:8001,connect-timeout=2 STDOUT");
    assert!(!o.status.success(), "the removed static mapping still answers");
}

#[test]
fn exhaustion_a_subscriber_past_its_limit_is_refused_while_old_flows_and_others_go_on() {
    let Some(lab) = nat_lab() else { return };
    ok("ip netns exec lab-lan ip addr add 10.0.1.4/24 dev eth0");
    ok("ip netns exec lab-lan ip addr add 10.0.1.5/24 dev eth0");
    // Three sessions per subscriber, through the API.
    let mut n = api("GET", "/api/v1/nat", "readonly", None, &[]).json;
    n["subscriber_sessions"] = 3.into();
    let r = api("PUT", "/api/v1/nat", "admin", Some(n), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    // An echo server on lab-wan holding many connections.
    ok("ip netns exec lab-wan python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 9100)); s.listen(64)
def serve(c):
    while True:
        b = c.recv(100)
        if not b: break
        c.sendall(b)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' >/dev/null 2>&1 &");
    wait_listening("lab-wan", 9100);
    let out = ok("ip netns exec lab-lan python3 -c '
import socket, errno
def conn(src):
    c = socket.socket(); c.settimeout(3); c.bind((src, 0)); c.connect((\"203.0.113.2\", 9100)); return c
def echo(c):
    c.sendall(b\"ping\"); return c.recv(100) == b\"ping\"
held = [conn(\"10.0.1.5\") for _ in range(3)]
try:
    conn(\"10.0.1.5\"); refused = \"connected\"
except OSError as e:
    refused = errno.errorcode.get(e.errno, str(e))
old = all(echo(c) for c in held)
other = echo(conn(\"10.0.1.4\"))
print(refused, old, other)
'");
    let words: Vec<&str> = out.split_whitespace().collect();
    // ICMP 3/13 from the gateway: Linux reports EHOSTUNREACH at once.
    assert_eq!(words, ["EHOSTUNREACH", "True", "True"], "{out}");
    assert!(lab.drops("nat_session_limit") >= 1);
    let r = api("GET", "/api/v1/nat/subscribers?inside=10.0.1.5", "readonly", None, &[]);
    assert_eq!(r.json["items"][0]["sessions"], 3, "{}", r.text);
}

#[test]
fn port_blocks_are_logged_to_a_file_once_per_block_and_given_back() {
    // The log file is the config file's to name (a restart to change);
    // blocks of 64 ports through the API.
    let log = format!("/tmp/gateway-nat-{}.log", std::process::id());
    let _ = std::fs::remove_file(&log);
    let text = std::fs::read_to_string(root().join("deploy/lab/nat.yaml")).unwrap();
    let text = text.replace("\nnat:\n", &format!("\nnat:\n  log: {{ file: {log} }}\n"));
    assert!(text.contains("log: { file: /tmp/"), "nat.yaml's layout changed");
    let path = std::env::temp_dir().join(format!("gateway-nat-log-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let Some(lab) = Lab::up_with(Some(&path)) else { return };
    let mut n = api("GET", "/api/v1/nat", "readonly", None, &[]).json;
    n["port_block"] = 64.into();
    let r = api("PUT", "/api/v1/nat", "admin", Some(n), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    // A server on lab-wan that answers with the peer's address and port.
    ok("ip netns exec lab-wan python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 9300)); s.listen(16)
while True:
    c, peer = s.accept(); c.sendall((peer[0] + \" \" + str(peer[1])).encode()); c.close()
' >/dev/null 2>&1 &");
    wait_listening("lab-wan", 9300);
    let seen: Vec<u16> = (0..3)
        .map(|_| {
            let s = whoami("lab-lan", "203.0.113.2:9300", None);
            let (addr, port) = s.split_once(' ').unwrap_or_else(|| panic!("{s}"));
            assert_eq!(addr, "203.0.113.1");
            port.parse().unwrap()
        })
        .collect();
    let lines = |what: &str| -> Vec<String> {
        let t0 = std::time::Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let v: Vec<String> = text.lines().filter(|l| l.contains(what)).map(String::from).collect();
            if !v.is_empty() || t0.elapsed() > Duration::from_secs(3) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // One record for the block, whose range holds every port the server saw.
    let alloc = lines("event=block-alloc inside=10.0.1.2 ");
    assert_eq!(alloc.len(), 1, "{alloc:?}");
    let range = alloc[0].rsplit_once("ports=").unwrap().1.to_string();
    let (lo, hi) = range.split_once('-').unwrap();
    let (lo, hi): (u16, u16) = (lo.parse().unwrap(), hi.parse().unwrap());
    assert_eq!(hi - lo, 63);
    assert!(seen.iter().all(|p| (lo..=hi).contains(p)), "{seen:?} not in {range}");
    assert!(alloc[0].contains(" outside=203.0.113.1 "));
    let time = alloc[0].split(' ').next().unwrap();
    assert!(time.ends_with('Z') && time.starts_with("20"), "{time}");
    let r = api("GET", "/api/v1/nat/subscribers?inside=10.0.1.2", "readonly", None, &[]);
    assert_eq!(r.json["items"][0]["blocks"], 1, "{}", r.text);
    assert!(lab.metric("gateway_nat_log_records_total") >= 1);
    assert_eq!(lab.metric("gateway_nat_log_errors_total"), 0);
    // Every session of the subscriber deleted: it gives the block back.
    let r = api("GET", "/api/v1/nat/sessions?inside=10.0.1.2&limit=1000", "readonly", None, &[]);
    for s in r.json["items"].as_array().unwrap() {
        let (p, o, rem) =
            (s["protocol"].as_str().unwrap(), s["outside"].as_str().unwrap(), s["remote"].as_str().unwrap());
        let path = format!("/api/v1/nat/sessions/{p}/{o}/{rem}");
        assert_eq!(api("DELETE", &path, "admin", None, &[]).status, 200, "{path}");
    }
    let release = lines("event=block-release inside=10.0.1.2 ");
    assert_eq!(release.len(), 1, "{release:?}");
    assert!(release[0].ends_with(&format!("outside=203.0.113.1 ports={range}")), "{release:?}");
    // The log's destination cannot be changed or turned off while running.
    let mut n = api("GET", "/api/v1/nat", "readonly", None, &[]).json;
    n.as_object_mut().unwrap().remove("log");
    let r = api("PUT", "/api/v1/nat", "admin", Some(n), &[]);
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("log")), "{}", r.text);
    drop(lab);
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&path);
}

/// Python that sends a UDP datagram of `n` bytes from `src:sport` to
/// `dst:dport` as three fragments, last first (a raw socket, so the
/// kernel does not fragment it for us).
fn send_fragments_reversed(ns: &str, src: &str, sport: u16, dst: &str, dport: u16, n: usize, ident: u16) {
    ok(&format!(
        "ip netns exec {ns} python3 -c '
import socket, struct
def csum(b):
    if len(b) % 2: b += b\"\\0\"
    s = sum(struct.unpack(\"!%dH\" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
src, dst = socket.inet_aton(\"{src}\"), socket.inet_aton(\"{dst}\")
payload = bytes(i * 7 % 251 for i in range({n}))
udp = struct.pack(\"!HHHH\", {sport}, {dport}, 8 + len(payload), 0) + payload
c = csum(src + dst + struct.pack(\"!BBH\", 0, 17, len(udp)) + udp) or 0xffff
udp = udp[:6] + struct.pack(\"!H\", c) + udp[8:]
cuts = [0, 1000, 2000, len(udp)]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
frags = []
for i in range(3):
    part = udp[cuts[i]:cuts[i + 1]]
    off = cuts[i] // 8 | (0x2000 if i < 2 else 0)
    frags.append(struct.pack(\"!BBHHHBBH4s4s\", 0x45, 0, 20 + len(part), {ident}, off, 64, 17, 0, src, dst) + part)
for f in reversed(frags):
    s.sendto(f, (\"{dst}\", 0))
'"
    ));
}

/// Starts a UDP receiver in `ns` on `port` that writes the sender and
/// whether the datagram is the expected `n` bytes to `out`.
fn udp_receiver(ns: &str, port: u16, n: usize, out: &str) {
    ok(&format!(
        "ip netns exec {ns} python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"0.0.0.0\", {port})); s.settimeout(8)
b, peer = s.recvfrom(65535)
want = bytes(i * 7 % 251 for i in range({n}))
open(\"{out}\", \"w\").write(\"%s:%d %s\" % (peer[0], peer[1], b == want))
' >/dev/null 2>&1 &"
    ));
    wait_udp_bound(ns, port);
}

fn wait_file(path: &str) -> String {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                let _ = std::fs::remove_file(path);
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{path}: nothing received");
}

#[test]
fn fragments_cross_the_nat_in_order_and_out_of_order_both_ways() {
    let Some(lab) = nat_lab() else { return };
    // In order: a 3000-byte ping is fragmented by the kernel both ways.
    let out = ping_sized("lab-lan", "203.0.113.2", 3000);
    assert!(out.contains(" 0% packet loss"), "{out}");
    // Out of order, outbound: lab-lan sends the last fragment first.
    let got = format!("/tmp/gateway-frag-out-{}", std::process::id());
    udp_receiver("lab-wan", 7003, 2500, &got);
    send_fragments_reversed("lab-lan", "10.0.1.2", 7002, "203.0.113.2", 7003, 2500, 0x4242);
    assert_eq!(wait_file(&got), "203.0.113.1:7002 True", "lab-wan got the whole datagram from the outside address");
    // Out of order, inbound: the answer to that mapping, last fragment
    // first, reaches lab-lan's socket whole.
    let got = format!("/tmp/gateway-frag-in-{}", std::process::id());
    ok("ip netns exec lab-lan python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"10.0.1.2\", 7004))
s.sendto(b\"open\", (\"203.0.113.2\", 7005))
'");
    udp_receiver("lab-lan", 7004, 2500, &got);
    send_fragments_reversed("lab-wan", "203.0.113.2", 7005, "203.0.113.1", 7004, 2500, 0x4343);
    assert_eq!(wait_file(&got), "203.0.113.2:7005 True");
    assert!(lab.metric("gateway_nat_fragments_total") >= 4, "{}", lab.metrics());
    assert_eq!(lab.drops("nat_fragment_timeout"), 0);
    assert_eq!(lab.drops("nat_fragment"), 0);
}

fn ping_sized(ns: &str, dst: &str, size: usize) -> String {
    ok(&format!("ip netns exec {ns} ping -c 3 -i 0.2 -W 2 -s {size} {dst}"))
}

#[test]
fn a_spent_ttl_through_a_forward_is_answered_quoting_the_outside_address() {
    let Some(_lab) = nat_lab() else { return };
    // A SYN with TTL 1 to the forward 203.0.113.1:8080 (to 10.0.1.2:8000):
    // the Time Exceeded quotes what lab-wan sent, not the inside server.
    let out = ok("ip netns exec lab-wan python3 -c '
import socket, struct
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r.settimeout(5)
c = socket.socket(); c.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1); c.settimeout(1)
try:
    c.connect((\"203.0.113.1\", 8080))
except OSError:
    pass
while True:
    b, a = r.recvfrom(2000)
    ihl = (b[0] & 15) * 4
    if b[ihl] == 11:
        q = b[ihl + 8:]
        print(a[0], socket.inet_ntoa(q[16:20]), struct.unpack(\"!H\", q[22:24])[0])
        break
'");
    assert_eq!(out.trim(), "203.0.113.1 203.0.113.1 8080");
}

/// The NAT lab on two workers: each port has two queue pairs, so the
/// kernel spreads flows over both workers and return traffic often lands
/// on the worker that does not hold its session.
fn nat_lab_two_workers() -> Option<Lab> {
    let text = std::fs::read_to_string(root().join("deploy/lab/nat.yaml")).unwrap();
    let text = text.replace("  cores: [1]", "  cores: [0, 1]");
    let text = text.replace("net_af_packet0,iface=gw-lan", "net_af_packet0,iface=gw-lan,qpairs=2");
    let text = text.replace("net_af_packet1,iface=gw-wan", "net_af_packet1,iface=gw-wan,qpairs=2");
    assert!(text.contains("cores: [0, 1]") && text.contains("gw-wan,qpairs=2"), "nat.yaml's layout changed");
    let path = std::env::temp_dir().join(format!("gateway-nat-2w-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    Lab::up_with(Some(&path))
}

#[test]
fn two_workers_masquerade_forward_and_hairpin_with_return_traffic_handed_over() {
    let Some(lab) = nat_lab_two_workers() else { return };
    // Many connections out: every one is seen from 203.0.113.1, and each
    // inside endpoint keeps one outside port.
    whoami_server("lab-wan", 9400);
    for _ in 0..12 {
        assert_eq!(whoami("lab-lan", "203.0.113.2:9400", None), "203.0.113.1");
    }
    // UDP both ways from one socket to two remote ports: one mapping.
    let out = ok("ip netns exec lab-wan sh -c 'timeout 5 python3 -c \"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\\\"0.0.0.0\\\", 9401)); s.settimeout(4)
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); t.bind((\\\"0.0.0.0\\\", 9402)); t.settimeout(4)
a = s.recvfrom(100)[1]; b = t.recvfrom(100)[1]
s.sendto(b\\\"pong\\\", a)
print(a[0], a[1], b[1])
\" & until ss -Hlun sport = :9402 | grep -q .; do sleep 0.05; done; ip netns exec lab-lan python3 -c \"
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((\\\"10.0.1.2\\\", 9500)); u.settimeout(4)
u.sendto(b\\\"ping\\\", (\\\"203.0.113.2\\\", 9401)); u.sendto(b\\\"ping\\\", (\\\"203.0.113.2\\\", 9402))
print(u.recvfrom(100)[0].decode())
\"; wait'");
    // (The two sides print to one pipe: find lab-wan's three words.)
    assert!(out.contains("pong"), "lab-lan got the answer: {out}");
    let text = out.replace("pong", " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{out}");
    assert_eq!(words[0], "203.0.113.1");
    assert_eq!(words[1], words[2], "one outside port for the inside endpoint (RFC 4787 REQ-1): {out}");
    // The port forward from outside and the hairpin from inside.
    whoami_server("lab-lan", 8000);
    for _ in 0..4 {
        assert_eq!(whoami("lab-wan", "203.0.113.1:8080", None), "203.0.113.2");
        assert_eq!(whoami("lab-lan", "203.0.113.1:8080", None), "203.0.113.1");
    }
    // A transfer through it, byte for byte.
    let got = format!("/tmp/gateway-2w-sink-{}", std::process::id());
    sink(9403, &got);
    ok("head -c 5000000 /dev/urandom > /tmp/gateway-2w-data");
    ok("ip netns exec lab-lan sh -c 'socat -u FILE:/tmp/gateway-2w-data TCP:203.0.113.2:9403'");
    let want = ok("sha256sum /tmp/gateway-2w-data");
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&got).unwrap_or_default().is_empty() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = std::fs::read_to_string(&got).unwrap_or_default();
    assert_eq!(line, format!("203.0.113.1 {}", want.split_whitespace().next().unwrap()));
    let _ = std::fs::remove_file(&got);
    assert!(lab.metric("gateway_nat_handoffs_total") > 0, "no packet was handed between workers");
    assert_eq!(lab.drops("nat_handoff_full"), 0);
}

#[test]
fn an_outside_host_sending_from_thousands_of_ports_cannot_starve_a_subscribers_flows() {
    let Some(lab) = nat_lab() else { return };
    // A bound low enough that the flood below would fill it.
    let mut n = api("GET", "/api/v1/nat", "readonly", None, &[]).json;
    n["subscriber_sessions"] = 2000.into();
    let r = api("PUT", "/api/v1/nat", "admin", Some(n), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    // lab-lan's 10.0.1.2:5000 talks to lab-wan: lab-wan learns its
    // outside endpoint, then sends to it from 5,000 source ports (each a
    // new session under endpoint-independent filtering).
    let flood = ok("ip netns exec lab-wan python3 -c '
import socket, subprocess, time
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind((\"0.0.0.0\", 53)); r.settimeout(5)
subprocess.run([\"ip\", \"netns\", \"exec\", \"lab-lan\", \"python3\", \"-c\",
    \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\\\"10.0.1.2\\\", 5000)); s.sendto(b\\\"hi\\\", (\\\"203.0.113.2\\\", 53))\"])
_, (addr, port) = r.recvfrom(100)
for p in range(20000, 25000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"0.0.0.0\", p)); s.sendto(b\"x\", (addr, port)); s.close()
print(addr, port)
'");
    assert!(flood.starts_with("203.0.113.1 "), "{flood}");
    std::thread::sleep(Duration::from_millis(300));
    // The subscriber's own 60 new flows all reach lab-wan.
    let got = ok("ip netns exec lab-wan python3 -c '
import socket, subprocess, time
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind((\"0.0.0.0\", 9)); r.settimeout(2)
subprocess.run([\"ip\", \"netns\", \"exec\", \"lab-lan\", \"python3\", \"-c\",
    \"import socket\\nfor p in range(6000, 6060):\\n s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\\\"10.0.1.2\\\", p)); s.sendto(b\\\"y\\\", (\\\"203.0.113.2\\\", 9))\"])
seen = set()
try:
    while len(seen) < 60:
        seen.add(r.recvfrom(10)[1])
except socket.timeout:
    pass
print(len(seen))
'");
    assert_eq!(got.trim(), "60", "the subscriber's flows after the flood");
    std::thread::sleep(Duration::from_millis(300)); // counters are published between bursts
    let inbound = lab.metric("gateway_nat_inbound_sessions");
    assert!(inbound <= 1024, "{inbound} inbound sessions (subscriber_inbound_sessions 1024)");
    // Most of the flood arrived (af_packet may lose some on a busy host)
    // and what passed the bound was dropped.
    let limited = lab.drops("nat_inbound_limit");
    assert!(limited > 0 && inbound + limited >= 2500, "{inbound} sessions, {limited} dropped");
    assert_eq!(lab.drops("nat_session_limit"), 0);
}

/// `POST /config/plan` and `gatewayd ctl plan`: what a config would
/// change, and the NAT sessions it would end, counted against the
/// sessions the workers hold; and nothing changes.
#[test]
fn a_plan_names_the_changes_and_the_sessions_they_would_end_and_changes_nothing() {
    let Some(lab) = nat_lab() else { return };
    whoami_server("lab-lan", 8000);
    for _ in 0..2 {
        assert_eq!(whoami("lab-wan", "203.0.113.1:8080", None), "203.0.113.2");
    }
    ping("lab-lan", "203.0.113.2");
    ok("ip netns exec lab-lan python3 -c \"import socket
for _ in range(5): socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('203.0.113.2', 9))\"");
    std::thread::sleep(Duration::from_millis(300));
    let sessions = api("GET", "/api/v1/nat/sessions?limit=1000", "readonly", None, &[]).json["items"].clone();
    let sessions = sessions.as_array().unwrap();
    let of_forward = sessions.iter().filter(|s| s["outside"] == "203.0.113.1:8080").count() as u64;
    assert_eq!(of_forward, 2, "{sessions:?}");
    assert!(sessions.len() >= 8, "2 forwarded, 1 ping, 5 UDP: {sessions:?}");
    let before = api("GET", "/api/v1/config", "readonly", None, &[]);

    // Without the forward: its two sessions end, no other.
    let mut cfg = before.json.clone();
    cfg["nat"]["forwards"] = serde_json::json!([]);
    cfg["routes"] = serde_json::json!([{"dst": "192.0.2.0/24", "via": ["203.0.113.2"]}]);
    let r = api("POST", "/api/v1/config/plan", "readonly", Some(cfg), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["nat_forwards"]["removed"], serde_json::json!(["tcp 203.0.113.1:8080"]), "{}", r.text);
    assert_eq!(r.json["routes"]["added"], serde_json::json!(["192.0.2.0/24"]));
    assert_eq!(r.json["routes"]["removed"], serde_json::json!(["198.51.100.0/24"]));
    assert_eq!((r.json["nat_reset"].clone(), r.json["sessions_ended"].as_u64()), (false.into(), Some(of_forward)));

    // A pool for the masquerade: every session ends.
    let mut cfg = before.json.clone();
    cfg["nat"]["rules"][0]["pool"] = serde_json::json!(["203.0.113.50"]);
    let r = api("POST", "/api/v1/config/plan", "readonly", Some(cfg.clone()), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["nat_rules"]["changed"], serde_json::json!(["rules[0]"]));
    assert_eq!(r.json["nat_reset"], true);
    let live = lab.metric("gateway_nat_sessions");
    assert_eq!(r.json["sessions_ended"].as_u64(), Some(live), "{}", r.text);

    // From the command line, as a file.
    let file = std::env::temp_dir().join(format!("gw-plan-{}.json", std::process::id()));
    std::fs::write(&file, cfg.to_string()).unwrap();
    let o = sh(&format!(
        "GATEWAYD_TOKEN_FILE=/run/gatewayd-lab/readonly.token {} ctl plan {}",
        env!("CARGO_BIN_EXE_gatewayd"),
        file.display()
    ));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        text.contains("NAT rules ~ rules[0]") && text.contains(&format!("every NAT session ends: {live} now")),
        "{text}"
    );
    let _ = std::fs::remove_file(&file);

    // A refused config is refused by field, as a commit would be.
    let mut bad = before.json.clone();
    bad["nat"]["forwards"][0]["inside"] = "10.0.1.2:0".into();
    assert_eq!(api("POST", "/api/v1/config/plan", "readonly", Some(bad), &[]).status, 422);

    // Nothing changed: the config, the sessions, the forward.
    assert_eq!(api("GET", "/api/v1/config", "readonly", None, &[]).etag, before.etag);
    let after = api("GET", "/api/v1/nat/sessions?limit=1000", "readonly", None, &[]).json["items"].clone();
    assert_eq!(after.as_array().unwrap().len(), sessions.len());
    assert_eq!(whoami("lab-wan", "203.0.113.1:8080", None), "203.0.113.2");
}
