//! RFC conformance, one test per requirement: frames through the whole
//! router pipeline (`Router<VecBuf, Nat>`), the clock injected, timeouts
//! in milliseconds.

use crate::packet::{ICMP, TCP, UDP};
use crate::*;
use stack::fib::NextHop;
use stack::iface::StaticRoute;
use stack::wire::checksum;
use stack::wire::MacAddr;
use stack::{Counters, DropReason, Interface, Io, PacketBuf, Router, RouterConfig, StaticNeighbor, Tables, VecBuf};
use std::net::Ipv4Addr;
use std::sync::Arc;

const MS: u64 = 1_000_000;
const GW_LAN: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const GW_WAN: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const PEER: MacAddr = MacAddr([2, 0, 0, 0, 9, 9]);
const LAN: u16 = 0;
const WAN: u16 = 1;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[derive(Default)]
struct TestIo {
    sent: Vec<VecBuf>,
}

impl Io<VecBuf> for TestIo {
    fn alloc(&mut self) -> Option<VecBuf> {
        Some(VecBuf::new(0))
    }
    fn send(&mut self, pkt: VecBuf) {
        self.sent.push(pkt);
    }
}

/// lan 10.0.1.1/24 (port 0), wan 203.0.113.1/24 (port 1); the world
/// (198.51.100.0/24, 192.0.2.0/24) via 203.0.113.2; every neighbor static.
fn tables() -> Tables {
    let iface = |name: &str, port, mac, addr: &str| Interface {
        name: name.into(),
        port,
        mac,
        mtu: 1500,
        addrs: vec![addr.parse().unwrap()],
        ..Default::default()
    };
    let via = |dst: &str| StaticRoute::Via {
        dst: dst.parse().unwrap(),
        hops: vec![NextHop { ifindex: 1, gateway: ip("203.0.113.2") }],
    };
    let mut neighbors: Vec<StaticNeighbor> =
        (2..8).map(|h| StaticNeighbor { ifindex: 0, ip: Ipv4Addr::new(10, 0, 1, h).into(), mac: PEER }).collect();
    neighbors.push(StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac: PEER });
    let ifaces = vec![iface("lan", LAN, GW_LAN, "10.0.1.1/24"), iface("wan", WAN, GW_WAN, "203.0.113.1/24")];
    Tables::build(ifaces, &[via("198.51.100.0/24"), via("192.0.2.0/24")], &[], neighbors, 1).unwrap()
}

fn rules(pool: &[&str]) -> Rules {
    Rules {
        rules: vec![Rule { inside: (ip("10.0.1.0"), 24), outside: 1, pool: pool.iter().map(|a| ip(a)).collect() }],
        timeouts: Timeouts { udp: 300 * MS, tcp_established: 7440 * MS, tcp_transitory: 240 * MS, icmp: 60 * MS },
        ..Rules::default()
    }
}

/// A NAT router and its twin: every frame goes through the full path
/// of one (`Router::process`) and the burst path of the other
/// (`Router::process_burst`, whose fast path takes established
/// sessions), and both must send the same bytes and end with the same
/// counters and sessions; so every test here is also a test of the
/// fast path against the full one.
struct Lab {
    t: Tables,
    r: Router<VecBuf, Nat>,
    twin: Router<VecBuf, Nat>,
    io: TestIo,
    twin_io: TestIo,
    now: u64,
    /// The routers' log queues, when the test logs.
    logs: Option<[Arc<LogQueue>; 2]>,
}

impl Lab {
    fn new(rules: Rules) -> Lab {
        Lab::sized(rules, 1024)
    }

    fn sized(rules: Rules, max_sessions: usize) -> Lab {
        let t = tables();
        let router = || {
            let cfg = NatConfig {
                max_sessions,
                max_subscribers: max_sessions,
                tick_ns: MS,
                seed: 7,
                fragments: 64,
                // Sessions end exactly at their timeouts, whichever path
                // refreshed them (see the test of the hold).
                hold_ns: 0,
                ..NatConfig::default()
            };
            let mut nat = Nat::new(cfg);
            nat.set_rules(Arc::new(rules.clone()));
            // The flow cache takes every flow at its first fast-path
            // packet, so the twin's later packets take it.
            let cfg = RouterConfig { flow_fill: 1, ..RouterConfig::default() };
            let mut r = Router::with_translator(cfg, nat);
            r.sync(&t, 0, &mut TestIo::default());
            r.translator_mut().poll(0);
            r
        };
        let (r, twin) = (router(), router());
        Lab { t, r, twin, io: TestIo::default(), twin_io: TestIo::default(), now: 0, logs: None }
    }

    fn nat(&self) -> &Nat {
        self.r.translator()
    }

    /// Does the same to both routers.
    fn both(&mut self, f: impl Fn(&mut Router<VecBuf, Nat>)) {
        f(&mut self.r);
        f(&mut self.twin);
    }

    /// Sends an IPv4 packet into `port`; returns what left (IP packets
    /// and their ports), the same from both routers.
    fn send(&mut self, port: u16, ip: Vec<u8>) -> Vec<(u16, Vec<u8>)> {
        self.send_burst(port, &[ip])
    }

    /// Sends IPv4 packets into `port`: one at a time through the full
    /// path, as one burst through the twin (whose translator then gets
    /// prefetch hints a few frames ahead while it makes sessions); both
    /// must send the same, in the same order.
    fn send_burst(&mut self, port: u16, ips: &[Vec<u8>]) -> Vec<(u16, Vec<u8>)> {
        self.mirror_log();
        for ip in ips {
            self.r.process(&self.t, frame_in(port, ip), self.now, &mut self.io);
        }
        let mut burst: Vec<_> = ips.iter().map(|ip| Some(frame_in(port, ip))).collect();
        self.twin.process_burst(&self.t, port, &mut burst, self.now, &mut self.twin_io);
        let sent: Vec<_> = self.io.sent.drain(..).map(|b| (b.port(), b.data().to_vec())).collect();
        let twin: Vec<_> = self.twin_io.sent.drain(..).map(|b| (b.port(), b.data().to_vec())).collect();
        assert_eq!(sent, twin, "the full path and the burst path sent different frames");
        self.assert_twins();
        sent.into_iter().map(|(p, f)| (p, f[14..].to_vec())).collect()
    }

    /// Both routers hold the same state: counters (but for the fast
    /// path's own), translator counters, sessions.
    fn assert_twins(&self) {
        let fast = self.twin.counters.fast_path;
        assert_eq!(self.r.counters, Counters { fast_path: 0, flow_hits: 0, ..self.twin.counters.clone() });
        assert!(fast <= self.twin.counters.rx);
        assert!(self.twin.counters.flow_hits <= fast);
        let (a, b) = (self.r.translator(), self.twin.translator());
        assert_eq!(a.counters, b.counters);
        assert_eq!(a.sessions().collect::<Vec<_>>(), b.sessions().collect::<Vec<_>>());
    }

    /// Frames the twin's fast path carried.
    fn fast(&self) -> u64 {
        self.twin.counters.fast_path
    }

    /// Sends and expects exactly one packet out of `port`, every checksum valid.
    fn pass(&mut self, port: u16, ip: Vec<u8>, out: u16) -> Vec<u8> {
        let mut sent = self.send(port, ip);
        assert_eq!(sent.len(), 1, "expected one packet out; drops: {:?}", self.drops());
        let (p, pkt) = sent.remove(0);
        assert_eq!(p, out);
        assert_checksums(&pkt);
        pkt
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms * MS;
        let now = self.now;
        self.mirror_log();
        self.both(|r| r.translator_mut().poll(now));
        self.assert_twins();
    }

    /// The twin's log queue holds as many records as the one the test
    /// reads and writes (a full queue changes what the translator does).
    fn mirror_log(&self) {
        if let Some([q, twin]) = &self.logs {
            while twin.pop().is_some() {}
            for _ in 0..q.len() {
                let _ = twin.push(LogRecord::default());
            }
        }
    }

    fn dropped(&self, r: DropReason) -> u64 {
        self.r.counters.dropped(r)
    }

    fn drops(&self) -> Vec<(&'static str, u64)> {
        DropReason::ALL.iter().map(|r| (r.label(), self.dropped(*r))).filter(|x| x.1 > 0).collect()
    }
}

/// IPv4 packet `ip` as a frame from the peer to the gateway on `port`.
fn frame_in(port: u16, ip: &[u8]) -> VecBuf {
    let gw = if port == LAN { GW_LAN } else { GW_WAN };
    VecBuf::from_frame(port, &[&gw.0[..], &PEER.0[..], &0x0800u16.to_be_bytes()[..], ip].concat())
}

fn ipv4(proto: u8, src: &str, dst: &str, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0x1c, 0x46, 0x40, 0, 64, proto, 0, 0];
    p.extend_from_slice(&ip(src).octets());
    p.extend_from_slice(&ip(dst).octets());
    p.extend_from_slice(l4);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let c = checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

fn with_l4_checksum(mut p: Vec<u8>, at: usize) -> Vec<u8> {
    let (src, dst) = (Ipv4Addr::new(p[12], p[13], p[14], p[15]), Ipv4Addr::new(p[16], p[17], p[18], p[19]));
    let pseudo = checksum::pseudo_header_v4(src, dst, p[9], (p.len() - 20) as u16);
    let c = !checksum::fold(checksum::sum(pseudo, &p[20..]));
    p[20 + at..22 + at].copy_from_slice(&c.to_be_bytes());
    p
}

fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&13u16.to_be_bytes());
    u.extend_from_slice(&[0, 0, b'h', b'e', b'l', b'l', b'o']);
    with_l4_checksum(ipv4(UDP, src, dst, &u), 6)
}

use stack::wire::tcp::flags::{ACK, FIN, RST, SYN};
const SYNACK: u8 = SYN | ACK;

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
    let mut s = vec![0u8; 20];
    s[0..2].copy_from_slice(&sport.to_be_bytes());
    s[2..4].copy_from_slice(&dport.to_be_bytes());
    s[4..8].copy_from_slice(&1000u32.to_be_bytes());
    s[12] = 5 << 4;
    s[13] = flags;
    s[14..16].copy_from_slice(&65535u16.to_be_bytes());
    with_l4_checksum(ipv4(TCP, src, dst, &s), 16)
}

fn echo(src: &str, dst: &str, ty: u8, id: u16) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 1, b'p', b'i', b'n', b'g']);
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(ICMP, src, dst, &m)
}

/// An ICMP error from `from` to `to` quoting `about` (header + 8 bytes).
fn icmp_error(from: &str, to: &str, ty: u8, code: u8, about: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&about[..28.min(about.len())]);
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(ICMP, from, to, &m)
}

fn src(p: &[u8]) -> (Ipv4Addr, u16) {
    (Ipv4Addr::new(p[12], p[13], p[14], p[15]), u16::from_be_bytes([p[20], p[21]]))
}

fn dst(p: &[u8]) -> (Ipv4Addr, u16) {
    (Ipv4Addr::new(p[16], p[17], p[18], p[19]), u16::from_be_bytes([p[22], p[23]]))
}

fn echo_id(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[24], p[25]])
}

fn assert_checksums(p: &[u8]) {
    assert_eq!(checksum::checksum(&p[..20]), 0, "IP header checksum");
    let (s, d) = (Ipv4Addr::new(p[12], p[13], p[14], p[15]), Ipv4Addr::new(p[16], p[17], p[18], p[19]));
    let l4 = &p[20..];
    match p[9] {
        TCP | UDP => {
            let pseudo = checksum::pseudo_header_v4(s, d, p[9], l4.len() as u16);
            assert_eq!(!checksum::fold(checksum::sum(pseudo, l4)), 0, "transport checksum");
        }
        ICMP => assert_eq!(checksum::checksum(l4), 0, "ICMP checksum"),
        _ => {}
    }
}

const WAN_IP: &str = "203.0.113.1";
const A: &str = "10.0.1.2";
const B: &str = "10.0.1.3";
const R1: &str = "198.51.100.7";
const R2: &str = "192.0.2.9";

#[test]
fn session_entry_is_at_most_128_bytes_with_its_index_share() {
    // Everything counted: the session, its mapping, a subscriber for
    // every four sessions, the five indexes, the wheel, fragment records.
    // The wheel's slots and the fragment records are a fixed 288 KB,
    // about 4 bytes a session at 65536 and nothing at a million.
    for (n, most) in [(1 << 16, 132), (1 << 20, 128)] {
        let nat = Nat::new(NatConfig { max_sessions: n, ..NatConfig::default() });
        let per_session = nat.bytes() / nat.capacity();
        assert!(per_session <= most, "{per_session} bytes per session at {n} (mappings and subscribers included)");
    }
}

#[test]
fn rfc4787_req1_endpoint_independent_mapping_with_port_preservation() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let out1 = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let out2 = l.pass(LAN, udp(A, 5000, R2, 123), WAN);
    assert_eq!(src(&out1), (ip(WAN_IP), 5000), "port preserved");
    assert_eq!(src(&out1), src(&out2), "one outside endpoint for every remote");
    assert_eq!(dst(&out2), (ip(R2), 123));
    assert_eq!(l.nat().len(), 2);
    assert_eq!(l.nat().counters.created[1], 2);
}

#[test]
fn rfc4787_req3_no_port_overloading() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let a = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let b = l.pass(LAN, udp(B, 5000, R1, 53), WAN);
    assert_eq!(src(&a).1, 5000);
    assert_ne!(src(&b).1, 5000, "a second inside host never shares an outside port");
    // Each reply reaches its own host.
    let back = l.pass(WAN, udp(R1, 53, WAN_IP, src(&b).1), LAN);
    assert_eq!(dst(&back), (ip(B), 5000));
    let back = l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
    assert_eq!(dst(&back), (ip(A), 5000));
}

#[test]
fn rfc4787_req2_paired_pooling_keeps_one_outside_address_per_host() {
    let pool = ["203.0.113.10", "203.0.113.11", "203.0.113.12"];
    let mut l = Lab::new(rules(&pool));
    for h in 2..7 {
        let host = format!("10.0.1.{h}");
        let first = src(&l.pass(LAN, udp(&host, 1000, R1, 53), WAN)).0;
        for p in 1..20 {
            let out = l.pass(LAN, udp(&host, 1000 + p, R2, 53), WAN);
            assert_eq!(src(&out).0, first, "host {host} changed outside address");
        }
        let t = l.pass(LAN, tcp(&host, 4000, R1, 80, SYN), WAN);
        assert_eq!(src(&t).0, first);
    }
    // Replies to a pool address that is not the gateway's own are routed in.
    let out = l.pass(LAN, udp(A, 7777, R1, 53), WAN);
    let back = l.pass(WAN, udp(R1, 53, &src(&out).0.to_string(), src(&out).1), LAN);
    assert_eq!(dst(&back), (ip(A), 7777));
}

#[test]
fn rfc4787_req8_endpoint_independent_filtering_lets_any_remote_in() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let back = l.pass(WAN, udp(R2, 9999, WAN_IP, 5000), LAN);
    assert_eq!(dst(&back), (ip(A), 5000));
    assert_eq!(src(&back), (ip(R2), 9999));
}

#[test]
fn rfc4787_req8_address_dependent_filtering_admits_only_addresses_sent_to() {
    let mut l = Lab::new(Rules { filtering: Filtering::AddressDependent, ..rules(&[WAN_IP]) });
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    assert!(l.send(WAN, udp(R2, 53, WAN_IP, 5000)).is_empty());
    assert_eq!(l.dropped(DropReason::NatFiltered), 1);
    // Another port of an address A sent to is let in.
    let back = l.pass(WAN, udp(R1, 4444, WAN_IP, 5000), LAN);
    assert_eq!(dst(&back), (ip(A), 5000));
}

#[test]
fn rfc4787_req9_udp_hairpinning_shows_the_outside_source() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    // B has a mapping (it talked out first).
    let b_out = src(&l.pass(LAN, udp(B, 6000, R1, 53), WAN));
    let a_out = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    // A sends to B's outside endpoint: B sees A's outside endpoint.
    let to_b = l.pass(LAN, udp(A, 5000, WAN_IP, b_out.1), LAN);
    assert_eq!(dst(&to_b), (ip(B), 6000));
    assert_eq!(src(&to_b), src(&a_out));
    // And B's answer comes back to A the same way.
    let to_a = l.pass(LAN, udp(B, 6000, WAN_IP, src(&a_out).1), LAN);
    assert_eq!(dst(&to_a), (ip(A), 5000));
    assert_eq!(src(&to_a), b_out);
    assert_eq!(l.nat().counters.hairpins, 2);
}

#[test]
fn rfc5382_req8_tcp_hairpinning() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let b_out = src(&l.pass(LAN, tcp(B, 6000, R1, 80, SYN), WAN));
    let syn = l.pass(LAN, tcp(A, 5000, WAN_IP, b_out.1, SYN), LAN);
    assert_eq!(dst(&syn), (ip(B), 6000));
    assert_eq!(src(&syn).0, ip(WAN_IP));
    let synack = l.pass(LAN, tcp(B, 6000, WAN_IP, src(&syn).1, SYNACK), LAN);
    assert_eq!(dst(&synack), (ip(A), 5000));
}

#[test]
fn rfc4787_req5_udp_timeout_and_req6_outbound_refresh_only() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    // Inbound traffic does not refresh the mapping...
    for _ in 0..5 {
        l.advance(50);
        l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
    }
    l.advance(60); // 310 ms after the last outbound packet
    assert!(l.nat().is_empty(), "inbound packets must not keep a UDP mapping alive");
    assert_eq!(l.nat().counters.expired[1], 1);
    // To the gateway's own address with no mapping: its port unreachable.
    let unreach = l.pass(WAN, udp(R1, 53, WAN_IP, 5000), WAN);
    assert_eq!((unreach[20], unreach[21]), (3, 3));
    // ...outbound traffic does.
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    for _ in 0..5 {
        l.advance(200);
        l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    }
    assert_eq!(l.nat().len(), 1);
}

#[test]
fn rfc5382_req5_tcp_established_and_transitory_timeouts() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let out = src(&l.pass(LAN, tcp(A, 5000, R1, 80, SYN), WAN));
    // Half open: transitory (240 ms here).
    l.advance(250);
    assert!(l.nat().is_empty(), "a SYN never answered times out as transitory");
    let out2 = src(&l.pass(LAN, tcp(A, 5000, R1, 80, SYN), WAN));
    assert_eq!(out, out2);
    l.pass(WAN, tcp(R1, 80, WAN_IP, out.1, SYNACK), LAN);
    l.pass(LAN, tcp(A, 5000, R1, 80, ACK), WAN);
    // Established: lives past the transitory time (2 h 4 min scaled).
    l.advance(1000);
    assert_eq!(l.nat().len(), 1);
    l.advance(7000);
    assert!(l.nat().is_empty());
}

#[test]
fn rfc7857_rst_holds_the_session_for_the_transitory_time() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let out = src(&l.pass(LAN, tcp(A, 5000, R1, 80, SYN), WAN));
    l.pass(WAN, tcp(R1, 80, WAN_IP, out.1, SYNACK), LAN);
    l.pass(LAN, tcp(A, 5000, R1, 80, ACK), WAN);
    l.pass(WAN, tcp(R1, 80, WAN_IP, out.1, RST | ACK), LAN);
    l.advance(200);
    assert_eq!(l.nat().len(), 1, "held after RST");
    l.advance(50);
    assert!(l.nat().is_empty(), "gone 4 min (scaled) after RST, not 2 h");
    // Both FINs: transitory too.
    let out = src(&l.pass(LAN, tcp(A, 5001, R1, 80, SYN), WAN));
    l.pass(WAN, tcp(R1, 80, WAN_IP, out.1, SYNACK), LAN);
    l.pass(LAN, tcp(A, 5001, R1, 80, FIN | ACK), WAN);
    l.pass(WAN, tcp(R1, 80, WAN_IP, out.1, FIN | ACK), LAN);
    l.advance(250);
    assert!(l.nat().is_empty());
}

#[test]
fn rfc5382_req4_unsolicited_syn_is_never_answered() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    assert!(l.send(WAN, tcp(R1, 4444, WAN_IP, 22, SYN)).is_empty(), "no RST, no ICMP");
    assert_eq!(l.dropped(DropReason::NatNoMapping), 1);
    assert_eq!(l.dropped(DropReason::LocalTcpClosed), 0);
    // A non-SYN segment to a mapping with no session is not let in either.
    let out = src(&l.pass(LAN, tcp(A, 5000, R1, 80, SYN), WAN));
    assert!(l.send(WAN, tcp(R2, 80, WAN_IP, out.1, ACK)).is_empty());
    // With endpoint-independent filtering a SYN to the mapping opens a
    // session (simultaneous open, RFC 5382 §4.2).
    let syn = l.pass(WAN, tcp(R2, 80, WAN_IP, out.1, SYN), LAN);
    assert_eq!(dst(&syn), (ip(A), 5000));
}

#[test]
fn rfc5508_req1_echo_identifier_translated_and_timed_out() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let a = l.pass(LAN, echo(A, R1, 8, 7777), WAN);
    let b = l.pass(LAN, echo(B, R1, 8, 7777), WAN);
    assert_eq!(src(&a).0, ip(WAN_IP));
    assert_eq!(echo_id(&a), 7777, "identifier preserved where free");
    assert_ne!(echo_id(&b), 7777, "and never shared");
    let reply = l.pass(WAN, echo(R1, WAN_IP, 0, echo_id(&b)), LAN);
    assert_eq!(dst(&reply).0, ip(B));
    assert_eq!(echo_id(&reply), 7777);
    // Pings to the gateway's own address are still answered by it.
    let pong = l.pass(WAN, echo(R1, WAN_IP, 8, 999), WAN);
    assert_eq!(dst(&pong).0, ip(R1));
    l.advance(70);
    assert!(l.nat().is_empty(), "ICMP query timeout (60 s scaled)");
    assert_eq!(l.nat().counters.expired[2], 2);
}

#[test]
fn rfc5508_req3_icmp_errors_translated_both_ways_and_bad_ones_dropped() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let out = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let out_tcp = l.pass(LAN, tcp(B, 6000, R1, 80, SYN), WAN);
    // Time exceeded from a router beyond, about the translated packet.
    let err = l.pass(WAN, icmp_error("192.0.2.254", WAN_IP, 11, 0, &out), LAN);
    assert_eq!(dst(&err).0, ip(A));
    let inner = &err[28..];
    assert_eq!(checksum::checksum(&inner[..20]), 0, "quoted header checksum");
    assert_eq!(
        (Ipv4Addr::new(inner[12], inner[13], inner[14], inner[15]), u16::from_be_bytes([inner[20], inner[21]])),
        (ip(A), 5000)
    );
    // The quoted UDP checksum was updated too: it verifies over the quote.
    let mut quoted = inner[..28].to_vec();
    quoted[2..4].copy_from_slice(&28u16.to_be_bytes());
    let original = &udp(A, 5000, R1, 53)[26..28];
    assert_eq!(&quoted[26..28], original);
    let err = l.pass(WAN, icmp_error(R1, WAN_IP, 3, 3, &out_tcp), LAN);
    assert_eq!(dst(&err).0, ip(B));
    // Unmapped, and bad checksum: dropped.
    let stray = udp(WAN_IP, 1234, R1, 53);
    assert!(l.send(WAN, icmp_error(R1, WAN_IP, 3, 3, &stray)).is_empty());
    let mut bad = icmp_error(R1, WAN_IP, 3, 3, &out);
    bad[30] ^= 0xff;
    assert!(l.send(WAN, bad).is_empty());
    assert_eq!(l.dropped(DropReason::NatIcmpUnmapped), 2);
    // No ICMP error ends a mapping (RFC 4787 REQ-12, RFC 5508 §3.1).
    assert_eq!(l.nat().len(), 2);
    // An inside host's port unreachable about an inbound packet goes out
    // translated.
    let inbound = l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
    let err = l.pass(LAN, icmp_error(A, R1, 3, 3, &inbound), WAN);
    assert_eq!(src(&err).0, ip(WAN_IP));
    let inner = &err[28..];
    assert_eq!(Ipv4Addr::new(inner[16], inner[17], inner[18], inner[19]), ip(WAN_IP));
    assert_eq!(u16::from_be_bytes([inner[22], inner[23]]), src(&out).1);
}

#[test]
fn rfc6888_req4_subscriber_bound_refuses_new_flows_keeps_old_and_others() {
    let mut l = Lab::new(Rules { subscriber_sessions: 3, ..rules(&[WAN_IP]) });
    let outs: Vec<_> = (0..3).map(|i| src(&l.pass(LAN, udp(A, 5000 + i, R1, 53), WAN))).collect();
    // The fourth flow is refused: ICMP 3/13 back to the subscriber.
    let refused = l.pass(LAN, udp(A, 6000, R1, 53), LAN);
    assert_eq!((refused[9], refused[20], refused[21]), (ICMP, 3, 13));
    assert_eq!(dst(&refused).0, ip(A));
    assert_eq!(l.dropped(DropReason::NatSessionLimit), 1);
    // Existing flows work both ways; another subscriber is unaffected.
    for (i, o) in outs.iter().enumerate() {
        l.pass(LAN, udp(A, 5000 + i as u16, R1, 53), WAN);
        let back = l.pass(WAN, udp(R1, 53, WAN_IP, o.1), LAN);
        assert_eq!(dst(&back), (ip(A), 5000 + i as u16));
    }
    l.pass(LAN, udp(B, 5000, R1, 53), WAN);
}

#[test]
fn rfc6888_req5_port_bound_and_a_full_table() {
    let mut l = Lab::sized(Rules { subscriber_ports: 2, ..rules(&[WAN_IP]) }, 4);
    l.pass(LAN, udp(A, 1, R1, 53), WAN);
    l.pass(LAN, udp(A, 2, R1, 53), WAN);
    // Same mapping, new remote: no new port needed.
    l.pass(LAN, udp(A, 2, R2, 53), WAN);
    l.pass(LAN, udp(A, 3, R1, 53), LAN); // ICMP 3/13
    assert_eq!(l.dropped(DropReason::NatPortsExhausted), 1);
    assert_eq!(l.nat().counters.port_alloc_failures, 1);
    // The table (4 sessions) fills: the next flow of anyone is refused.
    l.pass(LAN, udp(B, 1, R1, 53), WAN);
    l.pass(LAN, udp(B, 2, R1, 53), LAN);
    assert_eq!(l.dropped(DropReason::NatSessionLimit), 1);
    assert_eq!(l.nat().len(), 4);
    // Expiry frees room for new flows.
    l.advance(400);
    assert!(l.nat().is_empty());
    l.pass(LAN, udp(B, 2, R1, 53), WAN);
}

#[test]
fn traffic_not_matching_a_rule_is_routed_untouched() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    // From outside to an inside host directly (not to an outside address).
    let p = udp(R1, 53, A, 5000);
    let out = l.pass(WAN, p.clone(), LAN);
    assert_eq!(&out[12..20], &p[12..20]);
    // From a source outside the inside prefix.
    let out = l.pass(LAN, udp("10.0.2.9", 1, R1, 53), WAN);
    assert_eq!(src(&out).0, ip("10.0.2.9"));
}

/// `ip` with TTL `ttl`, its header checksum redone.
fn with_ttl(mut p: Vec<u8>, ttl: u8) -> Vec<u8> {
    p[8] = ttl;
    p[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

/// The fast path carries established sessions both ways,
/// new outbound flows (their sessions made as the full path makes them)
/// and traffic no rule concerns, translated exactly as the full path
/// translates them (every `Lab::send` checks that against the full
/// path); whatever else the translator must decide takes the full path.
#[test]
fn sessions_and_new_outbound_flows_take_the_fast_path_and_everything_else_the_full_one() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    // New flows: the fast path makes their sessions.
    let u = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    let syn = l.pass(LAN, tcp(A, 6000, R1, 80, SYN), WAN);
    let t = src(&syn);
    let e = l.pass(LAN, echo(A, R1, 8, 77), WAN);
    assert_eq!(l.fast(), 3);
    // Their traffic both ways goes fast, the TCP state followed.
    assert_eq!(dst(&l.pass(WAN, udp(R1, 53, WAN_IP, u.1), LAN)), (ip(A), 5000));
    assert_eq!(dst(&l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, SYNACK), LAN)), (ip(A), 6000));
    assert_eq!(src(&l.pass(LAN, tcp(A, 6000, R1, 80, ACK), WAN)), t);
    assert_eq!(echo_id(&l.pass(WAN, echo(R1, WAN_IP, 0, echo_id(&e)), LAN)), 77);
    assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)), u);
    assert_eq!(l.fast(), 8);
    let tcp_state = |l: &Lab| l.nat().sessions().find(|s| s.proto == TCP).map(|s| s.state());
    assert_eq!(tcp_state(&l), Some("established"));
    // Routed untouched: from outside to an inside host, from a source
    // no rule names.
    l.pass(WAN, udp(R1, 53, A, 5000), LAN);
    l.pass(LAN, udp("10.0.2.9", 1, R1, 53), WAN);
    assert_eq!(l.fast(), 10);
    // The translator's decisions: a TTL about to run out, an ICMP error
    // about a session, a fragment, a hairpin, an unknown endpoint, the
    // gateway's own address, a RST (fast: it only changes the state).
    l.pass(LAN, with_ttl(udp(A, 5000, R1, 53), 1), LAN);
    l.pass(WAN, icmp_error(R1, WAN_IP, 3, 3, &syn), LAN);
    let frags = fragments(&udp_big(A, 5000, R1, 53, 100), 0x4242, &[48]);
    assert_eq!(l.send(LAN, frags[0].clone()).len(), 1);
    l.pass(LAN, udp(B, 7000, WAN_IP, u.1), LAN);
    l.pass(LAN, udp(B, 7000, WAN_IP, u.1), LAN);
    l.pass(WAN, udp(R1, 53, WAN_IP, 9999), WAN); // port unreachable
    l.pass(WAN, echo(R1, WAN_IP, 8, 5), WAN);
    assert_eq!(l.fast(), 10);
    l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, RST), LAN);
    assert_eq!(l.fast(), 11);
    assert_eq!(tcp_state(&l), Some("reset"));
}

/// The tables of [`tables`], with the outside next hop at `mac`, as
/// generation `generation`.
fn tables_with_wan_peer(mac: MacAddr, generation: u64) -> Tables {
    let t = tables();
    let mut neighbors: Vec<StaticNeighbor> =
        (2..8).map(|h| StaticNeighbor { ifindex: 0, ip: Ipv4Addr::new(10, 0, 1, h).into(), mac: PEER }).collect();
    neighbors.push(StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac });
    let via = |dst: &str| StaticRoute::Via {
        dst: dst.parse().unwrap(),
        hops: vec![NextHop { ifindex: 1, gateway: ip("203.0.113.2") }],
    };
    Tables::build(t.ifaces.clone(), &[via("198.51.100.0/24"), via("192.0.2.0/24")], &[], neighbors, generation).unwrap()
}

/// The router's flow cache carries an established flow's packets after
/// the one that made its entry, both ways, UDP and TCP, translated as the
/// fast path translated that one (the twin checks every byte, counter
/// and session against the full path), until what the entry copied
/// changes: a FIN or RST (the session's state moves: the fast path takes
/// it), the session's end (a new one, maybe with another port), new
/// rules, new tables (here a next hop's new MAC). (A burst right after
/// one that made sessions goes without the cache: see `flows`.)
#[test]
fn the_flow_cache_carries_established_flows_until_what_it_copied_changes() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let hits = |l: &Lab| l.twin.counters.flow_hits;
    // The first packet makes the session and the entry; the second
    // comes right after a new session; the next ones hit.
    let u = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    for _ in 0..3 {
        assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)), u);
    }
    assert_eq!(hits(&l), 2);
    // The first reply makes the inbound entry.
    for _ in 0..3 {
        assert_eq!(dst(&l.pass(WAN, udp(R1, 53, WAN_IP, u.1), LAN)), (ip(A), 5000));
    }
    assert_eq!(hits(&l), 4);
    // A UDP packet without a checksum keeps none, through the cache too.
    let mut bare = udp(A, 5000, R1, 53);
    bare[26..28].copy_from_slice(&[0, 0]);
    let out = l.send(LAN, bare);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].1[26..28], &[0, 0]);
    assert_eq!(hits(&l), 5);
    // TCP: the handshake (SYNs: never cached) makes the session; the
    // first ACK each way makes an entry, the ones after hit, each
    // refreshing the established session; a FIN does not.
    let t = src(&l.pass(LAN, tcp(A, 6000, R1, 80, SYN), WAN));
    l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, SYNACK), LAN);
    for _ in 0..3 {
        assert_eq!(src(&l.pass(LAN, tcp(A, 6000, R1, 80, ACK), WAN)), t);
        assert_eq!(dst(&l.pass(WAN, tcp(R1, 80, WAN_IP, t.1, ACK), LAN)), (ip(A), 6000));
    }
    assert_eq!(hits(&l), 5 + 4);
    l.pass(LAN, tcp(A, 6000, R1, 80, FIN | ACK), WAN);
    assert_eq!(hits(&l), 9);
    let state = |l: &Lab| l.nat().sessions().find(|s| s.proto == TCP).map(|s| s.state());
    assert_eq!(state(&l), Some("closing"));
    // The UDP session ends; its flow's next packet finds the old entry,
    // which the session it named no longer stands for, and makes a new
    // session and entry.
    l.advance(310);
    assert_eq!(l.nat().len(), 1, "the TCP session is left");
    for _ in 0..3 {
        l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    }
    assert_eq!(hits(&l), 10);
    // New rules (a new pool address: the sessions end with them): the
    // entries go with them.
    let new = Arc::new(rules(&["203.0.113.5"]));
    l.both(|r| r.translator_mut().set_rules(new.clone()));
    let v = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    assert_eq!((v.0, hits(&l)), (ip("203.0.113.5"), 10));
    for _ in 0..2 {
        assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)), v);
    }
    assert_eq!(hits(&l), 11);
    // The outside next hop moves to another MAC: the cached MACs must
    // not be used again. (Two frames in one burst: the first makes the
    // new entry, the second hits it.)
    let moved = MacAddr([2, 0, 0, 0, 7, 7]);
    l.t = tables_with_wan_peer(moved, 2);
    let t2 = tables_with_wan_peer(moved, 2);
    l.both(|r| r.sync(&t2, 0, &mut TestIo::default()));
    let frames = [udp(A, 5000, R1, 53), udp(A, 5000, R1, 53)];
    for ip in &frames {
        l.r.process(&l.t, frame_in(LAN, ip), l.now, &mut l.io);
    }
    let mut burst: Vec<_> = frames.iter().map(|ip| Some(frame_in(LAN, ip))).collect();
    l.twin.process_burst(&l.t, LAN, &mut burst, l.now, &mut l.twin_io);
    let full: Vec<_> = l.io.sent.drain(..).map(|b| b.data().to_vec()).collect();
    let fast: Vec<_> = l.twin_io.sent.drain(..).map(|b| b.data().to_vec()).collect();
    assert_eq!(full, fast);
    l.assert_twins();
    assert!(fast.len() == 2 && fast.iter().all(|f| f[..6] == moved.0), "sent to the new MAC");
    assert_eq!(hits(&l), 12);
}

/// One frame through `r`'s burst path at `now`; the IP packets sent.
fn burst_of_one(r: &mut Router<VecBuf, Nat>, t: &Tables, now: u64, port: u16, ip: &[u8]) -> Vec<Vec<u8>> {
    let mut io = TestIo::default();
    let mut burst = vec![Some(frame_in(port, ip))];
    r.process_burst(t, port, &mut burst, now, &mut io);
    io.sent.iter().map(|b| b.data()[14..].to_vec()).collect()
}

/// With a hold (`NatConfig::hold_ns`, here 20 ms against a 300 ms UDP
/// timeout), the flow cache carries a flow's packets for up to a hold
/// after the one that made its entry without asking the translator,
/// which counts them all the same; every refresh keeps the session a
/// hold past its timeout, so it ends no sooner than its timeout after
/// the flow's last packet, and at most a hold (and a tick) later.
/// Replies, which do not refresh a UDP session (RFC 4787 REQ-6), are
/// carried only while it lasts; an operator's delete ends the entry with
/// the session.
#[test]
fn a_held_flow_is_refreshed_once_a_hold_and_its_session_ends_no_sooner_than_its_timeout() {
    const HOLD: u64 = 20;
    let t = tables();
    let cfg = NatConfig { tick_ns: MS, seed: 7, hold_ns: HOLD * MS, ..NatConfig::default() };
    let mut nat = Nat::new(cfg);
    nat.set_rules(Arc::new(rules(&[WAN_IP])));
    let mut r = Router::with_translator(RouterConfig { flow_fill: 1, ..RouterConfig::default() }, nat);
    r.sync(&t, 0, &mut TestIo::default());
    r.translator_mut().poll(0);
    let out = udp(A, 5000, R1, 53);
    let expires = |r: &Router<VecBuf, Nat>| r.translator().sessions().next().map(|s| s.expires / MS);
    let hits = |r: &Router<VecBuf, Nat>| r.counters.flow_hits;
    // The first packet makes the session (refreshed: a hold past its
    // timeout) and the entry, held until 20 ms; the second comes right
    // after a new session, the fast path's.
    let sent = burst_of_one(&mut r, &t, 0, LAN, &out);
    let u = src(&sent[0]);
    assert_eq!(expires(&r), Some(320));
    assert_eq!(burst_of_one(&mut r, &t, MS, LAN, &out).len(), 1);
    assert_eq!((expires(&r), hits(&r)), (Some(321), 0));
    // Held hits leave the session as it was, and are counted.
    let reply = udp(R1, 53, WAN_IP, u.1);
    for ms in [5, 10, 19] {
        assert_eq!(src(&burst_of_one(&mut r, &t, ms * MS, LAN, &out)[0]), u);
    }
    assert_eq!((expires(&r), hits(&r)), (Some(321), 3));
    // At 20 ms the hold is over: the fast path refreshes the session and
    // makes a new entry; the reply's entry (made at 21 ms) is held too.
    burst_of_one(&mut r, &t, 20 * MS, LAN, &out);
    assert_eq!((expires(&r), hits(&r)), (Some(340), 3));
    for ms in [21, 25, 30] {
        assert_eq!(dst(&burst_of_one(&mut r, &t, ms * MS, WAN, &reply)[0]), (ip(A), 5000));
    }
    // The flow's last packet, a hit at 39 ms.
    burst_of_one(&mut r, &t, 39 * MS, LAN, &out);
    assert_eq!((expires(&r), hits(&r)), (Some(340), 6));
    let c = &r.translator().counters;
    assert_eq!((c.translated, c.created.iter().sum::<u64>()), (10, 1), "every packet translated is counted");
    // Replies go on (the fast path's, then held), but do not keep the
    // session: it lasts 300 ms past the last outbound packet, and goes
    // at its end, a hold and a tick later at most.
    for ms in (40..=320).step_by(20) {
        r.translator_mut().poll(ms * MS);
        assert_eq!(burst_of_one(&mut r, &t, ms * MS, WAN, &reply).len(), 1, "reply at {ms} ms");
    }
    r.translator_mut().poll(339 * MS);
    assert_eq!(r.translator().len(), 1, "no sooner than 300 ms after the last packet");
    r.translator_mut().poll(341 * MS);
    assert_eq!(r.translator().len(), 0);
    let late = burst_of_one(&mut r, &t, 341 * MS, WAN, &reply);
    assert!(late.iter().all(|p| dst(p).0 != ip(A)), "no session, no entry");
    // A new session, cached; an operator deletes it: the cache forgets
    // it, and the flow's next packet makes a new session.
    let now = 400 * MS;
    let v = src(&burst_of_one(&mut r, &t, now, LAN, &out)[0]);
    burst_of_one(&mut r, &t, now, LAN, &out);
    burst_of_one(&mut r, &t, now, LAN, &out);
    let before = hits(&r);
    assert!(r.translator_mut().delete(UDP, v, (ip(R1), 53)));
    assert_eq!(src(&burst_of_one(&mut r, &t, now, LAN, &out)[0]), v);
    assert_eq!(hits(&r), before, "the deleted session's entry is not used");
    assert_eq!((r.translator().len(), r.translator().counters.created.iter().sum::<u64>()), (1, 3));
}

#[test]
fn bursts_of_new_and_established_flows_go_as_frame_by_frame() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let hosts = ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"];
    // 24 new flows in one burst (longer than the lookahead), then 24
    // again with 12 new ones among them, then the answers: the
    // translator's hints (on while sessions are being made, then off)
    // change nothing.
    let flows = |from: u16, n: u16| -> Vec<Vec<u8>> {
        (from..from + n).map(|i| udp(hosts[usize::from(i) % 4], 2000 + i, R1, 53)).collect()
    };
    // (The first burst goes without hints: nothing was made before it.)
    let first = l.send_burst(LAN, &flows(0, 24));
    assert_eq!(first.len(), 24);
    assert_eq!((l.nat().len(), l.fast()), (24, 24));
    let second = l.send_burst(LAN, &flows(12, 24));
    assert_eq!((l.nat().len(), l.fast()), (36, 48));
    // Garbage among new flows: hints about frames that are not IPv4
    // flows are no more than wasted.
    let mut mixed = flows(100, 6);
    mixed.insert(2, vec![0x45]);
    mixed.insert(4, udp(A, 9, R1, 53)[..22].to_vec());
    assert_eq!(l.send_burst(LAN, &mixed).len(), 6);
    assert_eq!(l.nat().len(), 42);
    // The answers, inbound, hinted too (sessions were just made).
    let answers: Vec<_> = second.iter().map(|(_, o)| udp(R1, 53, WAN_IP, src(o).1)).collect();
    let back = l.send_burst(WAN, &answers);
    assert_eq!(back.len(), 24);
    for (i, (port, p)) in back.iter().enumerate() {
        assert_eq!((*port, dst(p)), (LAN, (ip(hosts[(12 + i) % 4]), 2012 + i as u16)));
    }
    assert_eq!(l.fast(), 78);
}

#[test]
fn the_translator_asks_for_hints_only_while_it_makes_sessions() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    let nat = l.twin.translator_mut();
    assert!(!stack::BurstHints::lookahead(nat), "nothing made yet");
    let out = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let nat = l.twin.translator_mut();
    assert!(stack::BurstHints::lookahead(nat), "a session was made");
    assert!(!stack::BurstHints::lookahead(nat), "asked again: none since");
    l.pass(WAN, udp(R1, 53, WAN_IP, src(&out).1), LAN);
    assert!(!stack::BurstHints::lookahead(l.twin.translator_mut()), "established traffic only");
}

#[test]
fn many_flows_come_and_go_and_every_table_stays_consistent() {
    let mut l = Lab::sized(rules(&[WAN_IP]), 512);
    for round in 0..20u16 {
        for i in 0..300u16 {
            let host = format!("10.0.1.{}", 2 + i % 5);
            let out = l.send(LAN, udp(&host, 1024 + i * 7 + round, R1, 53 + (i % 3)));
            if let Some((WAN, o)) = out.first() {
                let back = l.pass(WAN, udp(R1, 53 + (i % 3), WAN_IP, src(o).1), LAN);
                assert_eq!(dst(&back).0, ip(&host));
            }
        }
        l.advance(170);
        assert!(l.nat().len() <= 512);
    }
    l.advance(400);
    assert!(l.nat().is_empty());
    let c = &l.nat().counters;
    assert_eq!(c.created[1], c.expired[1]);
}

const C: &str = "10.0.1.4";
const STATIC_IP: &str = "203.0.113.10";

fn with_forward(mut r: Rules, proto: u8, outside: u16, inside: (&str, u16)) -> Rules {
    r.forwards.push(Forward { proto, outside: (ip(WAN_IP), outside), inside: (ip(inside.0), inside.1) });
    r
}

#[test]
fn port_forward_admits_any_remote_even_under_address_dependent_filtering() {
    let base = Rules { filtering: Filtering::AddressDependent, ..rules(&[WAN_IP]) };
    let mut l = Lab::new(with_forward(base, TCP, 8080, (B, 80)));
    let syn = l.pass(WAN, tcp(R1, 40000, WAN_IP, 8080, SYN), LAN);
    assert_eq!(dst(&syn), (ip(B), 80));
    assert_eq!(src(&syn), (ip(R1), 40000));
    // The server's answer leaves from the forwarded endpoint.
    let synack = l.pass(LAN, tcp(B, 80, R1, 40000, SYNACK), WAN);
    assert_eq!(src(&synack), (ip(WAN_IP), 8080));
    // A second remote too.
    assert_eq!(dst(&l.pass(WAN, tcp(R2, 1234, WAN_IP, 8080, SYN), LAN)), (ip(B), 80));
    // The server opening a flow of its own from the forwarded endpoint
    // leaves from the forward's outside endpoint (one mapping, RFC 4787 REQ-1).
    let own = l.pass(LAN, tcp(B, 80, R2, 5555, SYN), WAN);
    assert_eq!(src(&own), (ip(WAN_IP), 8080));
    // The forwarded port is reserved: an inside host asking for it gets another.
    let out = l.pass(LAN, udp(A, 8080, R1, 53), WAN);
    assert_eq!(src(&out).0, ip(WAN_IP));
    let out_tcp = l.pass(LAN, tcp(A, 8080, R1, 443, SYN), WAN);
    assert_ne!(src(&out_tcp).1, 8080, "no overloading of the forwarded port");
    // Its sessions expire; the forward stays.
    l.advance(7500); // past the established timeout
    assert!(l.nat().is_empty());
    assert_eq!(dst(&l.pass(WAN, tcp(R1, 40001, WAN_IP, 8080, SYN), LAN)), (ip(B), 80));
    // Only the forwarded protocol and port are let in.
    // (UDP to the gateway's own address: its own port unreachable.)
    let answer = l.send(WAN, udp(R1, 53, WAN_IP, 8080));
    assert!(answer.iter().all(|(port, p)| *port == WAN && p[9] == ICMP && p[20] == 3), "{answer:?}");
    assert!(l.send(WAN, tcp(R1, 40000, WAN_IP, 8081, SYN)).is_empty());
}

#[test]
fn port_forward_hairpin_inside_hosts_reach_it_by_its_outside_address() {
    let mut l = Lab::new(with_forward(rules(&[WAN_IP]), TCP, 8080, (B, 80)));
    let syn = l.pass(LAN, tcp(A, 5000, WAN_IP, 8080, SYN), LAN);
    assert_eq!(dst(&syn), (ip(B), 80));
    assert_eq!(src(&syn).0, ip(WAN_IP), "the server sees A's outside endpoint");
    let synack = l.pass(LAN, tcp(B, 80, WAN_IP, src(&syn).1, SYNACK), LAN);
    assert_eq!(dst(&synack), (ip(A), 5000));
    assert_eq!(src(&synack), (ip(WAN_IP), 8080), "A sees the address it dialled");
    // The server reaching its own forwarded port.
    let own = l.pass(LAN, tcp(B, 6000, WAN_IP, 8080, SYN), LAN);
    assert_eq!(dst(&own), (ip(B), 80));
    assert_eq!(src(&own).0, ip(WAN_IP));
    let back = l.pass(LAN, tcp(B, 80, WAN_IP, src(&own).1, SYNACK), LAN);
    assert_eq!((src(&back), dst(&back)), ((ip(WAN_IP), 8080), (ip(B), 6000)));
    assert_eq!(l.nat().counters.hairpins, 4);
}

#[test]
fn port_forward_to_a_server_under_no_source_rule() {
    // Only A is masqueraded; B is reachable solely through its forward.
    let mut r = rules(&[WAN_IP]);
    r.rules[0].inside = (ip(A), 32);
    let mut l = Lab::new(with_forward(r, UDP, 5353, (B, 53)));
    let q = l.pass(WAN, udp(R1, 7000, WAN_IP, 5353), LAN);
    assert_eq!(dst(&q), (ip(B), 53));
    let a = l.pass(LAN, udp(B, 53, R1, 7000), WAN);
    assert_eq!(src(&a), (ip(WAN_IP), 5353));
    // B's other traffic is routed untouched.
    assert_eq!(src(&l.pass(LAN, udp(B, 9000, R1, 53), WAN)), (ip(B), 9000));
}

#[test]
fn port_forwards_change_without_ending_unrelated_sessions() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    let taken = l.pass(LAN, udp(C, 7777, R1, 53), WAN);
    assert_eq!(src(&taken).1, 7777);
    // A forward on the port C's mapping holds: C's mapping yields.
    let with = Arc::new(with_forward(with_forward(rules(&[WAN_IP]), UDP, 7777, (B, 53)), TCP, 22, (B, 22)));
    l.both(|r| r.translator_mut().set_rules(Arc::clone(&with)));
    assert_eq!(l.nat().len(), 1, "A's session stays, C's is displaced");
    assert_eq!(dst(&l.pass(WAN, udp(R1, 53, WAN_IP, 7777), LAN)), (ip(B), 53));
    assert_eq!(dst(&l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN)), (ip(A), 5000));
    // Removing one forward ends its sessions only.
    l.pass(WAN, tcp(R1, 4000, WAN_IP, 22, SYN), LAN);
    assert_eq!(l.nat().len(), 3);
    l.both(|r| r.translator_mut().set_rules(Arc::new(with_forward(rules(&[WAN_IP]), UDP, 7777, (B, 53)))));
    assert_eq!(l.nat().len(), 2);
    assert!(l.send(WAN, tcp(R1, 4001, WAN_IP, 22, SYN)).is_empty());
    assert_eq!(dst(&l.pass(WAN, udp(R1, 54, WAN_IP, 7777), LAN)), (ip(B), 53));
}

fn with_static(mut r: Rules) -> Rules {
    r.statics.push(Static { outside: ip(STATIC_IP), inside: ip(C), interface: WAN });
    r
}

#[test]
fn static_one_to_one_mapping_both_ways_ports_kept_any_protocol_and_fragments() {
    let mut l = Lab::new(with_static(rules(&[WAN_IP])));
    let q = l.pass(WAN, udp(R1, 7000, STATIC_IP, 53), LAN);
    assert_eq!((src(&q), dst(&q)), ((ip(R1), 7000), (ip(C), 53)));
    let out = l.pass(LAN, tcp(C, 4000, R1, 443, SYN), WAN);
    assert_eq!(src(&out), (ip(STATIC_IP), 4000), "static wins over the masquerade rule");
    let ping = l.pass(WAN, echo(R1, STATIC_IP, 8, 0x4242), LAN);
    assert_eq!((dst(&ping).0, echo_id(&ping)), (ip(C), 0x4242));
    let pong = l.pass(LAN, echo(C, R1, 0, 0x4242), WAN);
    assert_eq!((src(&pong).0, echo_id(&pong)), (ip(STATIC_IP), 0x4242));
    // Another protocol (GRE) and a later fragment: the address alone.
    let gre = l.pass(WAN, ipv4(47, R1, STATIC_IP, &[0, 0, 0x08, 0, 1, 2, 3, 4]), LAN);
    assert_eq!(dst(&gre).0, ip(C));
    let mut frag = udp(R1, 7000, STATIC_IP, 53);
    frag[6..8].copy_from_slice(&0x0010u16.to_be_bytes()); // offset 128 bytes
    frag[10..12].fill(0);
    let c = checksum::checksum(&frag[..20]);
    frag[10..12].copy_from_slice(&c.to_be_bytes());
    let f = l.send(WAN, frag.clone());
    assert_eq!(f.len(), 1, "{:?}", l.drops());
    assert_eq!(checksum::checksum(&f[0].1[..20]), 0);
    assert_eq!(dst(&f[0].1).0, ip(C));
    assert_eq!(&f[0].1[20..], &frag[20..], "a later fragment's payload is untouched");
    // ICMP errors both ways.
    let err = l.pass(WAN, icmp_error("192.0.2.254", STATIC_IP, 11, 0, &out), LAN);
    assert_eq!(dst(&err).0, ip(C));
    assert_eq!(Ipv4Addr::new(err[40], err[41], err[42], err[43]), ip(C));
    let err = l.pass(LAN, icmp_error(C, R1, 3, 3, &q), WAN);
    assert_eq!(src(&err).0, ip(STATIC_IP));
    assert_eq!(Ipv4Addr::new(err[44], err[45], err[46], err[47]), ip(STATIC_IP));
    assert!(l.nat().is_empty(), "static mappings hold no sessions");
}

#[test]
fn static_mapping_hairpin_from_the_inside() {
    let mut l = Lab::new(with_static(rules(&[WAN_IP])));
    let q = l.pass(LAN, udp(A, 5000, STATIC_IP, 53), LAN);
    assert_eq!(dst(&q), (ip(C), 53));
    assert_eq!(src(&q).0, ip(WAN_IP));
    let a = l.pass(LAN, udp(C, 53, WAN_IP, src(&q).1), LAN);
    assert_eq!((src(&a), dst(&a)), ((ip(STATIC_IP), 53), (ip(A), 5000)));
    assert_eq!(l.nat().counters.hairpins, 2);
}

/// Asks until answered, `budget` slots per call, as a worker does across loops.
fn ask(nat: &mut Nat, query: Query, from: u32, limit: usize, budget: usize) -> (Answer, usize) {
    let (mut req, mut out) = (Request::new(query, from, limit), Answer::with_capacity(limit));
    let mut calls = 1;
    while !nat.serve(&mut req, &mut out, budget) {
        calls += 1;
    }
    (out, calls)
}

#[test]
fn sessions_listed_by_page_and_filter_and_deleted_one_by_one() {
    let mut l = Lab::sized(rules(&[WAN_IP]), 256);
    for i in 0..10 {
        l.pass(LAN, udp(A, 5000 + i, R1, 53), WAN);
    }
    for i in 0..5 {
        l.pass(LAN, udp(B, 6000 + i, R1, 53), WAN);
    }
    let nat = l.r.translator_mut();
    // All 15 in pages of 4, the scan spread over calls of 16 slots.
    let (mut seen, mut from, mut pages) = (Vec::new(), 0, 0);
    loop {
        let (a, _) = ask(nat, Query::Sessions { inside: None, outside: None }, from, 4, 16);
        assert!(a.sessions.len() <= 4);
        seen.extend(a.sessions);
        pages += 1;
        match a.next {
            Some(n) => from = n,
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (15, 4));
    // Filtered by inside address; a small budget takes several calls.
    let (a, calls) = ask(nat, Query::Sessions { inside: Some(ip(B)), outside: None }, 0, 100, 16);
    assert_eq!(a.sessions.len(), 5);
    assert!(a.sessions.iter().all(|s| s.inside.0 == ip(B) && s.outside.0 == ip(WAN_IP)));
    assert_eq!((a.next, calls), (None, 16), "256 slots at 16 a call");
    let (a, _) = ask(nat, Query::Sessions { inside: None, outside: Some(ip("203.0.113.99")) }, 0, 100, 1000);
    assert!(a.sessions.is_empty());
    // Subscribers' usage.
    let (a, _) = ask(nat, Query::Subscribers { inside: None }, 0, 100, 1000);
    let mut subs: Vec<_> = a.subscribers.iter().map(|s| (s.inside, s.outside, s.sessions, s.ports)).collect();
    subs.sort();
    assert_eq!(subs, vec![(ip(A), ip(WAN_IP), 10, 10), (ip(B), ip(WAN_IP), 5, 5)]);
    // Delete one, then it is gone.
    let s = seen[0];
    let del = Query::Delete { proto: s.proto, outside: s.outside, remote: s.remote };
    assert!(ask(nat, del, 0, 1, 1).0.deleted);
    assert!(!ask(nat, del, 0, 1, 1).0.deleted);
    assert_eq!(nat.len(), 14);
}

/// A NAT lab whose records go into a queue of `capacity`.
fn logged(rules: Rules, capacity: usize) -> (Lab, Arc<LogQueue>) {
    let mut l = Lab::new(Rules { log: true, ..rules });
    let q = Arc::new(LogQueue::new(capacity));
    let twin = Arc::new(LogQueue::new(capacity));
    l.r.translator_mut().set_log(q.clone());
    l.twin.translator_mut().set_log(twin.clone());
    l.logs = Some([q.clone(), twin]);
    (l, q)
}

fn drain(q: &LogQueue) -> Vec<(LogEvent, Ipv4Addr, (u16, u16))> {
    std::iter::from_fn(|| q.pop()).map(|r| (r.event, r.inside, r.ports)).collect()
}

#[test]
fn rfc6888_port_blocks_give_whole_blocks_and_log_once_per_block() {
    use LogEvent::*;
    let r = Rules { port_block: 64, subscriber_ports: 128, ..rules(&[WAN_IP]) };
    let (mut l, q) = logged(r, 64);
    // Port preservation picks the block holding the inside port:
    // (5000 - 1024) / 64 = 62, ports 4992..=5055.
    let out = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    assert_eq!(src(&out), (ip(WAN_IP), 5000));
    assert_eq!(drain(&q), [(BlockAlloc, ip(A), (4992, 5055))]);
    // Later mappings take ports from the subscriber's block, every
    // protocol, and write nothing.
    assert_eq!(src(&l.pass(LAN, udp(A, 40000, R1, 53), WAN)), (ip(WAN_IP), 4992));
    assert_eq!(src(&l.pass(LAN, tcp(A, 5000, R1, 80, SYN), WAN)), (ip(WAN_IP), 5000));
    assert!(drain(&q).is_empty());
    // The block full (64 UDP ports), a second one is given; past the
    // bound (128 ports = 2 blocks), nothing more.
    for p in 0..62 {
        let out = l.pass(LAN, udp(A, 20000 + p, R1, 53), WAN);
        assert!((4992..=5055).contains(&src(&out).1));
    }
    let out = l.pass(LAN, udp(A, 30000, R1, 53), WAN);
    let got = drain(&q);
    assert_eq!(got.len(), 1);
    let (ev, who, (lo, hi)) = got[0];
    assert_eq!((ev, who, hi - lo), (BlockAlloc, ip(A), 63));
    assert!((lo..=hi).contains(&src(&out).1), "{lo}-{hi}");
    for p in 1..63 {
        l.pass(LAN, udp(A, 30000 + p, R1, 53), WAN);
    }
    l.pass(LAN, udp(A, 31000, R1, 53), LAN); // the 129th port: ICMP 3/13
    assert_eq!(l.dropped(DropReason::NatPortsExhausted), 1);
    assert!(drain(&q).is_empty());
    // Another subscriber gets a block of its own.
    let out = l.pass(LAN, udp(B, 5000, R1, 53), WAN);
    let got = drain(&q);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1), (BlockAlloc, ip(B)));
    assert!((got[0].2 .0..=got[0].2 .1).contains(&src(&out).1));
    assert_ne!(got[0].2, (4992, 5055));
    let info: Vec<_> = (0..l.nat().subscriber_slots()).filter_map(|i| l.nat().subscriber_info(i)).collect();
    assert!(info.iter().any(|s| s.inside == ip(A) && s.blocks == 2 && s.ports == 128));
    // Everything expires: every block given is taken back once, A's
    // second block when it empties, its first with the subscriber.
    l.advance(301);
    assert!(l.nat().is_empty());
    let mut released = drain(&q);
    released.sort_by_key(|r| r.2);
    let b = released.iter().copied().find(|r| r.1 == ip(B)).unwrap();
    let mut want = vec![(BlockRelease, ip(A), (4992, 5055)), (BlockRelease, ip(A), (lo, hi)), b];
    want.sort_by_key(|r| r.2);
    assert_eq!(released, want);
}

#[test]
fn without_blocks_each_mapping_is_logged_and_a_rules_change_logs_a_reset() {
    use LogEvent::*;
    let (mut l, q) = logged(rules(&[WAN_IP]), 64);
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    l.pass(LAN, udp(A, 5000, R2, 53), WAN); // same mapping: no record
    l.pass(LAN, echo(B, R1, 8, 77), WAN);
    let r: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].event, r[0].proto, r[0].inside, r[0].inside_port), (MappingCreate, UDP, ip(A), 5000));
    assert_eq!((r[0].outside, r[0].ports), (ip(WAN_IP), (5000, 5000)));
    assert_eq!(
        r[0].fields(),
        "event=mapping-create proto=udp inside=10.0.1.2:5000 outside=203.0.113.1 ports=5000-5000"
    );
    assert_eq!((r[1].event, r[1].proto, r[1].inside), (MappingCreate, ICMP, ip(B)));
    l.advance(70); // the echo mapping times out (60 ms)
    let r = drain(&q);
    assert_eq!(r, [(MappingDelete, ip(B), (1024, 1024))]); // 77 is below the range
                                                           // New port range: every mapping ends at once, in one record.
    let new = Rules { ports: (2000, 3000), log: true, ..rules(&[WAN_IP]) };
    let new = Arc::new(new);
    l.both(|r| r.translator_mut().set_rules(Arc::clone(&new)));
    assert_eq!(drain(&q), [(Reset, Ipv4Addr::UNSPECIFIED, (0, 0))]);
    assert!(l.nat().is_empty());
    // Logging off: nothing is written.
    let quiet = Rules { ports: (2000, 3000), ..rules(&[WAN_IP]) };
    let quiet = Arc::new(quiet);
    l.both(|r| r.translator_mut().set_rules(Arc::clone(&quiet)));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    assert!(q.is_empty());
}

#[test]
fn a_log_queue_past_three_quarters_refuses_new_blocks_and_keeps_existing_flows() {
    let r = Rules { port_block: 64, ..rules(&[WAN_IP]) };
    // 4 records of room: 3 for blocks, the last kept for releases.
    let (mut l, q) = logged(r, 4);
    for h in [A, B, "10.0.1.4"] {
        l.pass(LAN, udp(h, 5000, R1, 53), WAN);
    }
    l.pass(LAN, udp("10.0.1.5", 5000, R1, 53), LAN); // ICMP 3/13
    assert_eq!(l.dropped(DropReason::NatLogFull), 1);
    // Existing subscribers go on, new mappings within their blocks too.
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    l.pass(LAN, udp(A, 5001, R1, 53), WAN);
    l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
    // Once the writer drains, the next subscriber gets its block.
    assert_eq!(drain(&q).len(), 3);
    l.pass(LAN, udp("10.0.1.5", 5000, R1, 53), WAN);
    assert_eq!(q.len(), 1);
    // A release that finds the queue full is counted as lost.
    q.push(LogRecord::default()).unwrap();
    q.push(LogRecord::default()).unwrap();
    q.push(LogRecord::default()).unwrap();
    l.advance(301);
    assert!(l.nat().is_empty());
    assert_eq!(l.nat().counters.log_lost, 4);
}

/// A UDP packet with `n` bytes of payload.
fn udp_big(src: &str, sport: u16, dst: &str, dport: u16, n: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(8 + n as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend((0..n).map(|i| (i * 7) as u8));
    with_l4_checksum(ipv4(UDP, src, dst, &u), 6)
}

/// Splits an IPv4 packet into fragments of datagram `id`, the payload
/// cut at `cuts` (byte offsets, multiples of 8).
fn fragments(p: &[u8], id: u16, cuts: &[usize]) -> Vec<Vec<u8>> {
    let payload = &p[20..];
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(payload.len());
    bounds
        .windows(2)
        .map(|w| {
            let mut f = p[..20].to_vec();
            f.extend_from_slice(&payload[w[0]..w[1]]);
            let len = f.len() as u16;
            f[2..4].copy_from_slice(&len.to_be_bytes());
            f[4..6].copy_from_slice(&id.to_be_bytes());
            let more = if w[1] < payload.len() { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&((w[0] / 8) as u16 | more).to_be_bytes());
            f[10..12].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&f[..20]);
            f[10..12].copy_from_slice(&c.to_be_bytes());
            f
        })
        .collect()
}

/// The datagram the fragments (in any order) make, its header from the
/// first; every fragment's IP checksum checked.
fn reassemble(frags: &[Vec<u8>]) -> Vec<u8> {
    let mut parts: Vec<(usize, &[u8])> = frags
        .iter()
        .map(|f| {
            assert_eq!(checksum::checksum(&f[..20]), 0, "IP header checksum");
            assert_eq!(&f[4..6], &frags[0][4..6], "one datagram");
            ((u16::from_be_bytes([f[6], f[7]]) & 0x1fff) as usize * 8, &f[20..])
        })
        .collect();
    parts.sort_by_key(|p| p.0);
    let first = frags.iter().find(|f| u16::from_be_bytes([f[6], f[7]]) & 0x1fff == 0).expect("a first fragment");
    let mut p = first[..20].to_vec();
    for (off, data) in parts {
        assert_eq!(p.len() - 20, off, "fragments contiguous");
        p.extend_from_slice(data);
    }
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[6..8].copy_from_slice(&[0, 0]);
    p[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

fn poll_router(l: &mut Lab) {
    let now = l.now;
    l.r.poll(&l.t, now, &mut l.io);
    l.twin.poll(&l.t, now, &mut l.twin_io);
    l.assert_twins();
}

#[test]
fn rfc4787_req14_fragments_in_order_and_out_of_order_both_ways() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    // In order, outbound: every fragment leaves from the outside address,
    // and the datagram they make has a good UDP checksum.
    let d = udp_big(A, 5000, R1, 53, 100);
    let mut out = Vec::new();
    for f in fragments(&d, 0x1111, &[32, 64]) {
        out.extend(l.send(LAN, f).into_iter().map(|(p, x)| (assert_eq!(p, WAN), x).1));
    }
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|f| f[12..16] == ip(WAN_IP).octets()));
    let whole = reassemble(&out);
    assert_checksums(&whole);
    assert_eq!(src(&whole), (ip(WAN_IP), 5000));
    assert_eq!(&whole[28..], &d[28..], "payload intact");
    // Out of order, inbound (the answer): the later fragments wait for
    // the first, then all go to the inside host.
    let answer = fragments(&udp_big(R1, 53, WAN_IP, 5000, 100), 0x2222, &[32, 64]);
    assert!(l.send(WAN, answer[2].clone()).is_empty());
    assert!(l.send(WAN, answer[1].clone()).is_empty());
    let out: Vec<Vec<u8>> =
        l.send(WAN, answer[0].clone()).into_iter().map(|(p, x)| (assert_eq!(p, LAN), x).1).collect();
    assert_eq!(out.len(), 3, "the first and the two held; drops: {:?}", l.drops());
    assert!(out.iter().all(|f| f[16..20] == ip(A).octets()));
    let whole = reassemble(&out);
    assert_checksums(&whole);
    assert_eq!(dst(&whole), (ip(A), 5000));
    // Out of order, outbound, a new flow: its first fragment makes the
    // mapping, the held ones follow it.
    let d = fragments(&udp_big(A, 6000, R1, 53, 60), 0x3333, &[40]);
    assert!(l.send(LAN, d[1].clone()).is_empty());
    let out: Vec<Vec<u8>> = l.send(LAN, d[0].clone()).into_iter().map(|x| x.1).collect();
    assert_eq!(out.len(), 2);
    assert_checksums(&reassemble(&out));
    assert_eq!(l.nat().counters.fragments, 2 + 2 + 1);
    // A fragmented ping: the identifier is translated in the first
    // fragment, the checksum over the whole message stays right.
    let mut m = vec![8, 0, 0, 0, 0, 77, 0, 1];
    m.extend((0..100).map(|i| i as u8));
    let c = checksum::checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    let ping = fragments(&ipv4(ICMP, B, R1, &m), 0x4444, &[56]);
    let out: Vec<Vec<u8>> = ping.into_iter().flat_map(|f| l.send(LAN, f)).map(|x| x.1).collect();
    assert_checksums(&reassemble(&out));
    assert_eq!(l.dropped(DropReason::NatFragment), 0);
}

#[test]
fn rfc4787_req14a_held_fragments_are_bounded_in_number_and_time() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    // Later fragments whose first never comes: 64 are held, more dropped.
    for id in 0..70u16 {
        let f = fragments(&udp_big(R1, 53, WAN_IP, 5000, 64), id, &[32]);
        assert!(l.send(WAN, f[1].clone()).is_empty());
    }
    assert_eq!(l.dropped(DropReason::NatFragmentHoldFull), 6);
    // Whole packets go on meanwhile.
    l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
    // After the hold time they are dropped as such.
    l.now += 1_000 * MS;
    poll_router(&mut l);
    assert_eq!(l.dropped(DropReason::NatFragmentTimeout), 64);
    // Tiny and overlapping fragments (RFC 1858) are refused.
    let t = tcp(A, 5000, R1, 80, SYN);
    let tiny = fragments(&t, 9, &[8]);
    assert!(l.send(LAN, tiny[0].clone()).is_empty());
    let mut overlap = tiny[1].clone();
    overlap[6..8].copy_from_slice(&1u16.to_be_bytes());
    overlap[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&overlap[..20]);
    overlap[10..12].copy_from_slice(&c.to_be_bytes());
    assert!(l.send(LAN, overlap).is_empty());
    assert_eq!(l.dropped(DropReason::NatFragment), 2);
}

#[test]
fn a_spent_ttl_on_a_translated_inbound_packet_is_answered_untranslated() {
    let mut l = Lab::new(with_static(rules(&[WAN_IP])));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    // The answer arrives with TTL 1: it would be forwarded to A. The Time
    // Exceeded goes back to R1 quoting WAN_IP:5000, never A.
    for to in [WAN_IP, STATIC_IP] {
        let out = l.pass(WAN, with_ttl(udp(R1, 53, to, 5000), 1), WAN);
        assert_eq!((out[20], out[21]), (11, 0), "Time Exceeded");
        assert_eq!(dst(&out).0, ip(R1));
        let quoted = &out[28..];
        assert_eq!(Ipv4Addr::new(quoted[16], quoted[17], quoted[18], quoted[19]), ip(to), "quoted as sent");
    }
    assert_eq!(l.dropped(DropReason::TtlExpired), 2);
    // The session is still there: the next answer goes through.
    l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
}

/// Two workers' routers over the same tables, handing packets and
/// fragment records to each other as the dataplane does.
/// Two workers' routers. With `burst`, frames enter by
/// `Router::process_burst` (the fast path takes what it can), else by
/// `Router::process`; the tests run both ways.
struct Pair {
    t: Tables,
    r: [Router<VecBuf, Nat>; 2],
    io: [PairIo; 2],
    now: u64,
    burst: bool,
}

#[derive(Default)]
struct PairIo {
    sent: Vec<VecBuf>,
    handed: Vec<(u16, u8, VecBuf)>,
}

impl Io<VecBuf> for PairIo {
    fn alloc(&mut self) -> Option<VecBuf> {
        Some(VecBuf::new(0))
    }
    fn send(&mut self, pkt: VecBuf) {
        self.sent.push(pkt);
    }
    fn handoff(&mut self, pkt: VecBuf, worker: u16, tag: u8) -> Result<(), VecBuf> {
        self.handed.push((worker, tag, pkt));
        Ok(())
    }
}

impl Pair {
    fn new(rules: Rules, burst: bool) -> Pair {
        let t = tables();
        let rules = Arc::new(rules);
        let queues: Vec<Arc<FragmentQueue>> = (0..2).map(|_| Arc::new(FragmentQueue::new(64))).collect();
        let r = [0u16, 1].map(|w| {
            let cfg = NatConfig {
                max_sessions: 1024,
                tick_ns: MS,
                seed: 7 + u64::from(w),
                worker: w,
                workers: 2,
                ..NatConfig::default()
            };
            let mut nat = Nat::new(cfg);
            nat.set_rules(rules.clone());
            nat.set_fragment_queues(queues[usize::from(w)].clone(), queues.clone());
            let mut r = Router::with_translator(RouterConfig::default(), nat);
            r.sync(&t, 0, &mut PairIo::default());
            r.translator_mut().poll(0);
            r
        });
        Pair { t, r, io: [PairIo::default(), PairIo::default()], now: 0, burst }
    }

    fn nat(&self, w: usize) -> &Nat {
        self.r[w].translator()
    }

    /// A packet into `port` of worker `w`; runs every handoff to the end
    /// and returns what left, anywhere.
    fn send(&mut self, w: usize, port: u16, ip: Vec<u8>) -> Vec<(u16, Vec<u8>)> {
        let now = self.now;
        if self.burst {
            let mut burst = [Some(frame_in(port, &ip))];
            self.r[w].process_burst(&self.t, port, &mut burst, now, &mut self.io[w]);
        } else {
            self.r[w].process(&self.t, frame_in(port, &ip), now, &mut self.io[w]);
        }
        for _ in 0..8 {
            for i in 0..2 {
                self.r[i].translator_mut().import_fragments();
                self.r[i].release_translated(&self.t, now, &mut self.io[i]);
            }
            let handed: Vec<_> = self.io.iter_mut().flat_map(|io| io.handed.drain(..)).collect();
            if handed.is_empty() {
                break;
            }
            for (to, tag, pkt) in handed {
                let to = usize::from(to);
                self.r[to].process_handed(&self.t, pkt, tag, now, &mut self.io[to]);
            }
        }
        self.io.iter_mut().flat_map(|io| io.sent.drain(..)).map(|b| (b.port(), b.data()[14..].to_vec())).collect()
    }

    fn pass(&mut self, w: usize, port: u16, ip: Vec<u8>, out: u16) -> Vec<u8> {
        let mut sent = self.send(w, port, ip);
        assert_eq!(sent.len(), 1, "expected one packet out");
        let (p, pkt) = sent.remove(0);
        assert_eq!(p, out);
        assert_checksums(&pkt);
        pkt
    }

    fn handed(&self) -> u64 {
        self.r[0].counters.handed_off + self.r[1].counters.handed_off
    }
}

/// Two inside hosts of the lab's, held by different workers.
fn split_hosts(p: &Pair) -> (&'static str, &'static str) {
    let hosts = ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5", "10.0.1.6", "10.0.1.7"];
    let first = hosts[0];
    let other = hosts.iter().find(|h| p.nat(0).owner_of(ip(h)) != p.nat(0).owner_of(ip(first))).unwrap();
    (first, other)
}

#[test]
fn two_workers_keep_one_mapping_per_endpoint_and_hand_return_traffic_to_its_owner() {
    for burst in [false, true] {
        let mut p = Pair::new(rules(&[WAN_IP]), burst);
        let (a, _) = split_hosts(&p);
        let owner = usize::from(p.nat(0).owner_of(ip(a)));
        let other = 1 - owner;
        // The same inside endpoint to two remotes, entering on both workers:
        // one mapping, on the owner, from its half of the ports (RFC 4787 REQ-1).
        let out1 = p.pass(other, LAN, udp(a, 5000, R1, 53), WAN);
        let out2 = p.pass(owner, LAN, udp(a, 5000, R2, 53), WAN);
        assert_eq!(src(&out1), src(&out2));
        let port = src(&out1).1;
        let half = if owner == 0 { 1024..=33279 } else { 33280..=65535 };
        assert!(half.contains(&port), "{port} in worker {owner}'s slice");
        assert_eq!((p.nat(owner).len(), p.nat(other).len()), (2, 0));
        // Answers entering on the other worker reach the inside host.
        let back = p.pass(other, WAN, udp(R1, 53, WAN_IP, port), LAN);
        assert_eq!(dst(&back), (ip(a), 5000));
        assert!(p.handed() >= 2);
        // An ICMP error about the flow, on the wrong worker, is translated too.
        let err = p.pass(other, WAN, icmp_error(R1, WAN_IP, 3, 3, &out1), LAN);
        assert_eq!(Ipv4Addr::new(err[16], err[17], err[18], err[19]), ip(a));
    }
}

#[test]
fn two_workers_hairpin_between_subscribers_each_holds() {
    for burst in [false, true] {
        let mut p = Pair::new(rules(&[WAN_IP]), burst);
        let (a, b) = split_hosts(&p);
        let out = p.pass(0, LAN, udp(a, 5000, R1, 53), WAN);
        let a_out = src(&out);
        let out = p.pass(1, LAN, udp(b, 6000, R1, 53), WAN);
        let b_out = src(&out);
        // b reaches a by a's outside endpoint, entering on either worker: a
        // sees b's outside endpoint (RFC 4787 REQ-9), b's mapping kept.
        for w in 0..2 {
            let got = p.pass(w, LAN, udp(b, 6000, WAN_IP, a_out.1), LAN);
            assert_eq!((src(&got), dst(&got)), (b_out, (ip(a), 5000)));
        }
        // And a answers b the same way.
        let got = p.pass(0, LAN, udp(a, 5000, WAN_IP, b_out.1), LAN);
        assert_eq!((src(&got), dst(&got)), (a_out, (ip(b), 6000)));
        assert_eq!(p.nat(0).counters.hairpins + p.nat(1).counters.hairpins, 3);
    }
}

#[test]
fn two_workers_port_forward_and_inbound_fragments_on_any_worker() {
    for burst in [false, true] {
        let mut p = Pair::new(with_forward(rules(&[WAN_IP]), TCP, 8080, (A, 80)), burst);
        let server = usize::from(p.nat(0).owner_of(ip(A)));
        // A connection to the forward entering on the worker not holding the
        // server: the server's worker has it, and the answer leaves from the
        // forwarded endpoint, whichever worker it enters.
        let got = p.pass(1 - server, WAN, tcp(R1, 4444, WAN_IP, 8080, SYN), LAN);
        assert_eq!(dst(&got), (ip(A), 80));
        let back = p.pass(1 - server, LAN, tcp(A, 80, R1, 4444, SYNACK), WAN);
        assert_eq!(src(&back), (ip(WAN_IP), 8080));
        assert_eq!(p.nat(server).len(), 1);
        // A fragmented answer to a mapping: the later fragments enter the
        // worker that does not hold it, before and after the first.
        let out = p.pass(server, LAN, udp(A, 7000, R1, 53), WAN);
        let port = src(&out).1;
        let frags = fragments(&udp_big(R1, 53, WAN_IP, port, 100), 0x5151, &[32, 64]);
        let mut got: Vec<Vec<u8>> = p.send(1 - server, WAN, frags[2].clone()).into_iter().map(|x| x.1).collect();
        assert!(got.is_empty(), "held for its first fragment");
        got.extend(p.send(server, WAN, frags[0].clone()).into_iter().map(|x| x.1));
        got.extend(p.send(1 - server, WAN, frags[1].clone()).into_iter().map(|x| x.1));
        assert_eq!(got.len(), 3);
        let whole = reassemble(&got);
        assert_checksums(&whole);
        assert_eq!(dst(&whole), (ip(A), 7000));
    }
}

#[test]
fn two_workers_hairpin_a_fragmented_datagram_between_their_subscribers() {
    for burst in [false, true] {
        let mut p = Pair::new(rules(&[WAN_IP]), burst);
        let (a, b) = split_hosts(&p);
        let a_out = src(&p.pass(0, LAN, udp(a, 5000, R1, 53), WAN));
        let b_out = src(&p.pass(1, LAN, udp(b, 6000, R1, 53), WAN));
        // b sends a fragmented datagram to a's outside endpoint; its later
        // fragments enter each worker, one before its first fragment.
        for (w, id) in [(0usize, 0x7001u16), (1, 0x7002)] {
            let frags = fragments(&udp_big(b, 6000, WAN_IP, a_out.1, 100), id, &[32, 64]);
            let mut got: Vec<Vec<u8>> = p.send(1 - w, LAN, frags[2].clone()).into_iter().map(|x| x.1).collect();
            got.extend(p.send(w, LAN, frags[0].clone()).into_iter().map(|x| x.1));
            got.extend(p.send(1 - w, LAN, frags[1].clone()).into_iter().map(|x| x.1));
            assert_eq!(got.len(), 3, "entering worker {w}");
            let whole = reassemble(&got);
            assert_checksums(&whole);
            assert_eq!((src(&whole), dst(&whole)), (b_out, (ip(a), 5000)));
        }
    }
}
