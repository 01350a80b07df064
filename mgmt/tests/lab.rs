//! End to end in the namespace lab: gatewayd on
//! net_af_packet vdevs between two Linux kernel stacks, checked the way a
//! user would check it. Needs root, iproute2, iperf3, socat, curl, nc and
//! python3; without root or network namespaces every test says why it
//! skips. The lab is global (fixed namespace names), so the tests take a
//! lock and each brings up a fresh lab.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn lan_and_wan_ping_each_other_and_both_gateway_addresses() {
    let Some(_lab) = Lab::up() else { return };
    for (ns, dst) in [
        ("lab-lan", "10.0.1.1"),
        ("lab-lan", "203.0.113.1"),
        ("lab-lan", "203.0.113.2"),
        ("lab-wan", "203.0.113.1"),
        ("lab-wan", "10.0.1.1"),
        ("lab-wan", "10.0.1.2"),
    ] {
        let out = ping(ns, dst);
        assert!(out.contains("3 received"), "{ns} -> {dst}:\n{out}");
    }
}

#[test]
fn tcp_transfer_of_50_mb_arrives_byte_identical() {
    let Some(_lab) = Lab::up() else { return };
    tcp_transfer("lab-lan", "lab-wan", "203.0.113.2", 5001, 50_000_000);
}

#[test]
fn iperf3_tcp_and_udp_through_the_gateway() {
    let lab = Lab::up();
    let Some(lab) = lab else { return };
    ok("ip netns exec lab-wan iperf3 -s -D -p 5201");
    wait_listening("lab-wan", 5201);
    let tcp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5201 -t 3 -J");
    let bps = json_number(&tcp, "\"bits_per_second\"");
    assert!(bps > 10e6, "TCP through the gateway at only {bps} bit/s");
    let udp = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5201 -u -b 50M -t 3 -J");
    let lost = json_number(udp.split("\"sum\"").last().unwrap_or(""), "\"lost_percent\"");
    assert!(lost < 1.0, "UDP at 50 Mbit/s lost {lost}%");
    sh("pkill -f 'iperf3 -s -D -p 5201'");
    assert!(lab.metric("gateway_forwarded_total") > 10_000);
    let fast = lab.metric("gateway_fast_path_total");
    assert!(fast > 10_000, "only {fast} packets took the fast path");
}

fn json_number(json: &str, key: &str) -> f64 {
    let at = json.rfind(key).unwrap_or_else(|| panic!("{key} not in iperf3 output"));
    json[at + key.len()..]
        .trim_start_matches([':', ' '])
        .split([',', '\n', '}'])
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn ttl_one_gets_time_exceeded_from_the_gateway() {
    let Some(lab) = Lab::up() else { return };
    let before = lab.drops("ttl_expired");
    let out = sh("ip netns exec lab-lan ping -c 1 -t 1 -W 2 203.0.113.2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("From 10.0.1.1") && text.contains("Time to live exceeded"), "{text}");
    assert_eq!(lab.drops("ttl_expired"), before + 1);
    // traceroute (UDP probes) sees the gateway as hop 1, then the host.
    if sh("command -v traceroute").status.success() {
        let t = ok("ip netns exec lab-lan traceroute -n -q 1 -w 2 203.0.113.2");
        let hops: Vec<&str> = t.lines().skip(1).collect();
        assert!(hops.first().is_some_and(|h| h.contains("10.0.1.1")), "{t}");
        assert!(hops.last().is_some_and(|h| h.contains("203.0.113.2")), "{t}");
    }
}

/// Sets interface `name`'s MTU through the API.
/// RFC 791 §3.2: what does not fit the egress MTU leaves in fragments,
/// which the Linux peers reassemble: forwarded pings and a UDP datagram
/// without DF over a 1280-byte wan, and the gateway's own echo replies
/// over a 1280-byte lan. With DF, the sender learns the MTU instead.
#[test]
fn packets_over_the_egress_mtu_leave_in_fragments_the_kernel_reassembles() {
    let Some(lab) = Lab::up() else { return };
    set_mtu("wan", 1280);
    set_mtu("lan", 1280);
    let out = ok("ip netns exec lab-lan ping -c 3 -i 0.2 -W 2 -M dont -s 1400 203.0.113.2");
    assert!(out.contains("3 received"), "forwarded, fragmented on the wan:\n{out}");
    let out = ok("ip netns exec lab-lan ping -c 3 -i 0.2 -W 2 -M dont -s 1400 10.0.1.1");
    assert!(out.contains("3 received") && out.contains("1408 bytes from 10.0.1.1"), "our replies, fragmented:\n{out}");
    // A 1400-byte UDP datagram sent without DF arrives whole at lab-wan's
    // socket (tests/fragments.rs sends larger ones, fragmented already).
    assert_eq!(
        udp_datagram("lab-lan", "lab-wan", "203.0.113.2", 9999, 1400),
        udp_payload(1400),
        "reassembled by lab-wan"
    );
    assert!(lab.metric("gateway_ipv4_fragmented_total") >= 7, "3 pings, 3 replies, 1 datagram at least");
    assert!(lab.metric("gateway_ipv4_fragments_sent_total") >= 14);
    // With DF the sender is told the MTU (RFC 1191) and nothing is cut.
    let out = sh("ip netns exec lab-lan ping -c 1 -W 2 -M do -s 1400 203.0.113.2");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Frag needed") || text.contains("mtu = 1280") || text.contains("mtu=1280"), "{text}");
}

/// RFC 1812 §5.3.13 and RFC 1122 §3.2.2.6 against Linux's ping: the
/// gateway records its address in Record Route and Timestamp options of
/// what it forwards and of its own echo replies; source-routed packets
/// are dropped (RFC 7126 §4.3); `ipv4.options: drop` refuses them all.
#[test]
fn record_route_and_timestamps_show_the_gateway_source_routes_do_not_pass() {
    let Some(lab) = Lab::up() else { return };
    // Through the gateway: out by the wan (203.0.113.1), back by the lan (10.0.1.1).
    let out = ok("ip netns exec lab-lan ping -c 1 -W 2 -R 203.0.113.2");
    let rr = out.split("RR:").nth(1).unwrap_or_else(|| panic!("no route recorded:\n{out}"));
    let hops: Vec<&str> = rr.split_whitespace().take_while(|w| w.parse::<std::net::Ipv4Addr>().is_ok()).collect();
    assert!(hops.contains(&"203.0.113.1") && hops.contains(&"10.0.1.1"), "{hops:?}\n{out}");
    let at = |a: &str| hops.iter().position(|h| *h == a).unwrap();
    assert!(at("203.0.113.1") < at("203.0.113.2") && at("203.0.113.2") < at("10.0.1.1"), "{hops:?}");
    // The gateway's own reply records it.
    let out = ok("ip netns exec lab-lan ping -c 1 -W 2 -R 10.0.1.1");
    assert!(out.split("RR:").nth(1).is_some_and(|rr| rr.contains("10.0.1.1")), "{out}");
    // Timestamps with addresses, forwarded and answered.
    let out = ok("ip netns exec lab-lan ping -c 1 -W 2 -T tsandaddr 203.0.113.2");
    assert!(out.split("TS:").nth(1).is_some_and(|ts| ts.contains("203.0.113.1")), "{out}");
    assert!(lab.metric("gateway_ipv4_options_recorded_total") >= 5, "{}", lab.metrics());
    // A loose source route, as Linux sends one (IP_OPTIONS): to the first
    // hop, lab-wan, by way of the gateway.
    let lsrr = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
        s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1, 131, 7, 4, 203, 0, 113, 2, 0, 0, 0, 0])); \
        s.sendto(b'x', ('203.0.113.2', 9))";
    ok(&format!("ip netns exec lab-lan python3 -c \"{lsrr}\""));
    let deadline = Instant::now() + Duration::from_secs(3);
    while lab.drops("ipv4_source_route") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lab.drops("ipv4_source_route"), 1);
    // The policy that drops them all.
    let before = api("GET", "/api/v1/config", "readonly", None, &[]);
    let mut cfg = before.json.clone();
    cfg["ipv4"] = serde_json::json!({"options": "drop"});
    let r = api("PUT", "/api/v1/config", "admin", Some(cfg), &[("If-Match", &before.etag)]);
    assert_eq!(r.status, 200, "{}", r.text);
    let out = sh("ip netns exec lab-lan ping -c 1 -W 1 -R 203.0.113.2");
    assert!(!out.status.success(), "refused");
    assert_eq!(lab.drops("ipv4_options_refused"), 1);
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"), "packets without options pass");
}

#[test]
fn unrouted_prefix_gets_net_unreachable() {
    let Some(lab) = Lab::up() else { return };
    let out = sh("ip netns exec lab-lan ping -c 1 -W 2 198.51.100.1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("From 10.0.1.1") && text.contains("Destination Net Unreachable"), "{text}");
    assert_eq!(lab.drops("no_route"), 1);
}

#[test]
fn malformed_frames_are_dropped_by_reason_and_forwarding_goes_on() {
    let Some(lab) = Lab::up() else { return };
    // Resolve the gateway first so the kernel has its MAC.
    ping("lab-lan", "10.0.1.1");
    let gw_mac = ok("ip netns exec lab-gw cat /sys/class/net/gw-lan/address");
    let script = format!(
        r#"
import socket, struct
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip(ihl_byte=0x45, total=28, fix=True, bad=False):
    h = struct.pack('!BBHHHBBH4s4s', ihl_byte, 0, total, 1, 0, 64, 17, 0,
                    socket.inet_aton('10.0.1.2'), socket.inet_aton('203.0.113.2'))
    c = csum(h) ^ (0xffff if bad else 0)
    return h[:10] + struct.pack('!H', c) + h[12:]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('eth0', 0))
dst = bytes.fromhex('{mac}'.replace(':', ''))
src = open('/sys/class/net/eth0/address').read().strip()
eth = dst + bytes.fromhex(src.replace(':', '')) + b'\x08\x00'
udp = struct.pack('!HHHH', 1000, 9, 8, 0)
for frame in [eth + ip(ihl_byte=0x44) + udp,      # IHL 4
              eth + ip(bad=True) + udp,           # bad header checksum
              eth + ip(total=1000) + udp,         # total length beyond the frame
              eth + ip()[:12]]:                   # truncated header
    s.send(frame)
"#,
        mac = gw_mac.trim()
    );
    let path = std::env::temp_dir().join(format!("gw-malformed-{}.py", std::process::id()));
    std::fs::write(&path, script).unwrap();
    ok(&format!("ip netns exec lab-lan python3 {}", path.display()));
    let _ = std::fs::remove_file(&path);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lab.drops("ipv4_bad_header_length"), 1);
    assert_eq!(lab.drops("ipv4_bad_checksum"), 1);
    assert_eq!(lab.drops("ipv4_bad_total_length"), 1);
    assert_eq!(lab.drops("ipv4_truncated"), 1);
    assert!(ping("lab-lan", "203.0.113.2").contains("3 received"), "still forwarding");
}

#[test]
fn metrics_export_the_core_families() {
    let Some(lab) = Lab::up() else { return };
    ping("lab-lan", "203.0.113.2");
    let text = lab.metrics();
    for name in [
        "gateway_port_rx_packets_total{port=\"lan\"}",
        "gateway_port_tx_packets_total{port=\"wan\"}",
        "gateway_port_rx_bytes_total{port=\"lan\"}",
        "gateway_port_tx_bytes_total{port=\"lan\"}",
        "gateway_port_rx_errors_total{port=\"lan\"}",
        "gateway_port_rx_missed_total{port=\"lan\"}",
        "gateway_port_tx_errors_total{port=\"lan\"}",
        "gateway_drops_total{reason=\"no_route\"}",
        "gateway_worker_packets_total{worker=\"0\"}",
        "gateway_worker_busy_cycles_total{worker=\"0\"}",
        "gateway_worker_idle_cycles_total{worker=\"0\"}",
        "gateway_nat_sessions",
        "gateway_neighbors",
        "gateway_build_info{version=",
        "gateway_port_link_up{port=\"wan\"} 1",
        "gateway_config_generation 1",
        "gateway_config_last_apply_timestamp_seconds ",
        "gateway_worker_config_generation{worker=\"0\"} 1",
        "gateway_routes 0",
        "gateway_interfaces 2",
        "gateway_static_neighbors 0",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    assert!(lab.metric("gateway_port_rx_packets_total{port=\"lan\"}") >= 3);
    assert!(lab.metric("gateway_neighbors") >= 2);
    assert_eq!(ok("curl -sf http://127.0.0.1:8080/healthz").trim(), "ok");
}

#[test]
fn sigterm_during_traffic_stops_gatewayd_within_a_second() {
    let Some(lab) = Lab::up() else { return };
    ok("ip netns exec lab-wan iperf3 -s -D -1 -p 5202");
    wait_listening("lab-wan", 5202);
    let mut client = Command::new("ip")
        .args(["netns", "exec", "lab-lan", "iperf3", "-c", "203.0.113.2", "-p", "5202", "-u", "-b", "100M", "-t", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = lab.pid();
    let start = Instant::now();
    // SAFETY: sends a signal to the gateway's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // gatewayd is not our child: it has exited once /proc shows it gone
    // or as a zombie waiting for its reaper.
    let exited = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    };
    while !exited() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    let _ = client.kill();
    let _ = client.wait();
    sh("pkill -f 'iperf3 -s -D -1 -p 5202'");
    assert!(took < Duration::from_secs(1), "gatewayd took {took:?} to stop");
    let log = ok("cat /run/gatewayd-lab/gatewayd.log");
    assert!(log.contains("gatewayd: stopped"), "no clean stop in the log:\n{log}");
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn every_metric_the_dashboard_queries_is_exported() {
    let Some(lab) = Lab::up() else { return };
    let dash: serde_json::Value = serde_json::from_str(include_str!("../../deploy/grafana/gateway.json")).unwrap();
    let mut all = Vec::new();
    exprs(&dash, &mut all);
    let mut names = std::collections::BTreeSet::new();
    for e in &all {
        for part in e.split("gateway_").skip(1) {
            let n: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            names.insert(format!("gateway_{n}"));
        }
    }
    assert!(names.len() >= 20, "{names:?}");
    ping("lab-lan", "203.0.113.2");
    let text = lab.metrics();
    for n in &names {
        assert!(text.contains(&format!("# TYPE {n} ")), "the dashboard queries {n}, which /metrics does not export");
    }
    // The panels the issue asks for are there.
    let titles: Vec<&str> = dash["panels"].as_array().unwrap().iter().filter_map(|p| p["title"].as_str()).collect();
    for t in [
        "Throughput per port",
        "Packet rate per port",
        "Drops by reason",
        "Worker load",
        "Table sizes",
        "TCP connections",
    ] {
        assert!(titles.contains(&t), "no panel {t}");
    }
    let prom = include_str!("../../deploy/prometheus/prometheus.yml");
    assert!(prom.contains("credentials_file: /run/gatewayd-lab/readonly.token") && prom.contains("127.0.0.1:8080"));
}

/// Two workers, each with its own queue on both ports (af_packet
/// `qpairs=2` spreads flows by hash): both carry traffic, changes wait for
/// both, and neighbors learned by one worker's probe stay resolved in both
/// even though replies land on whichever queue their hash picks.
#[test]
fn two_workers_share_traffic_changes_and_neighbors() {
    let cfg = Lab::two_workers_config("two-workers");
    let Some(lab) = Lab::up_with(Some(&cfg)) else { return };
    ok("ip netns exec lab-wan iperf3 -s -D -1 -p 5204");
    wait_listening("lab-wan", 5204);
    // 16 TCP flows: the chance that all hash to one queue is 2^-15.
    let out = ok("ip netns exec lab-lan iperf3 -c 203.0.113.2 -p 5204 -t 2 -P 16 -J");
    let report: serde_json::Value = serde_json::from_str(&out).expect("iperf3 JSON");
    let bps = report["end"]["sum_received"]["bits_per_second"].as_f64().unwrap();
    assert!(bps > 10e6, "{bps} bit/s");
    for w in ["0", "1"] {
        let n = lab.metric(&format!("gateway_worker_packets_total{{worker=\"{w}\"}}"));
        assert!(n > 1000, "worker {w} carried only {n} packets");
    }
    let r = api(
        "POST",
        "/api/v1/routes",
        "admin",
        Some(serde_json::json!({"dst": "198.51.100.0/24", "type": "blackhole"})),
        &[],
    );
    assert_eq!(r.status, 201);
    let text = lab.metrics();
    for w in ["0", "1"] {
        assert!(text.contains(&format!("gateway_worker_config_generation{{worker=\"{w}\"}} 2")), "worker {w}:\n{text}");
    }
    // Long enough for a stale entry's probes to have failed (3 × 1 s) if
    // replies were not shared.
    std::thread::sleep(Duration::from_secs(4));
    ping("lab-lan", "203.0.113.2");
    let r = api("GET", "/api/v1/neighbors", "readonly", None, &[]);
    // The IPv4 neighbors that carried the traffic; lab-lan's IPv6
    // link-local entry (learned from its Router Solicitation) stays stale
    // until something is sent to it.
    for n in r.json["items"].as_array().unwrap().iter().filter(|n| !n["ip"].as_str().unwrap_or("").contains(':')) {
        assert_eq!(n["state"], "reachable", "{}", r.text);
    }
    assert_eq!(lab.metric("gateway_drops_total{reason=\"neighbor_unresolved\"}"), 0);
    std::fs::remove_file(&cfg).unwrap();
}
