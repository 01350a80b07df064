//! UDP on the gateway's own addresses (RFC 768, RFC 1122 §4.1.3): the
//! built-in echo (RFC 862) and discard (RFC 863) services, the checks
//! before delivery, and what is left for Port Unreachable.

use super::ip6::{ip6, ipv6_frame, sent6, tables6};
use super::reassembly::{frag4, frag6, joined4, joined6, router6};
use super::*;
use crate::services::{Listener, ServiceKind, Transport};
use crate::wire::ipv6::{self, nh};

fn with_services(mut t: Tables, services: &[(ServiceKind, &str)]) -> Tables {
    t.services = services
        .iter()
        .map(|&(kind, a)| Listener { kind, transport: Transport::Udp, local: a.parse().unwrap() })
        .collect();
    t
}

/// The lab's tables with echo on 10.0.1.1:7 and fd00:1::1 port 7, and
/// discard on 10.0.1.1:9.
fn served() -> Tables {
    let mut t = with_services(
        tables6(1500),
        &[
            (ServiceKind::Echo, "10.0.1.1:7"),
            (ServiceKind::Echo, "[fd00:1::1]:7"),
            (ServiceKind::Discard, "10.0.1.1:9"),
        ],
    );
    t.static_neighbors.push(StaticNeighbor { ifindex: 0, ip: ip("10.0.1.2").into(), mac: LAN_HOST });
    t
}

/// A UDP datagram from the LAN host's `sport` to `dst`:`dport`.
fn udp4(dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = udp("10.0.1.2", dst, sport, dport, payload.len());
    u[8..].copy_from_slice(payload);
    let mut p = UdpPacket::new_checked(&mut u[..]).unwrap();
    p.fill_checksum(ip("10.0.1.2"), ip(dst));
    ipv4_frame("10.0.1.2", dst, 64, Protocol::Udp, &u, false)
}

fn udp6_message(src: &str, dst: &str, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    u.extend_from_slice(payload);
    UdpRepr { src_port: sport, dst_port: dport, payload_len: payload.len() }.emit6(
        &mut UdpPacket::new_unchecked(&mut u[..]),
        &ip6(src),
        &ip6(dst),
    );
    u
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + 5) as u8).collect()
}

#[test]
fn echo_sends_each_datagram_back_rfc862() {
    let t = served();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp4("10.0.1.1", 40000, 7, b"hello, gateway"), 0);
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert_eq!((p.src(), p.dst(), p.protocol(), p.ttl()), (ip("10.0.1.1"), ip("10.0.1.2"), Protocol::Udp, 64));
    assert!(p.verify_checksum());
    let u = UdpPacket::new_checked(p.payload()).unwrap();
    assert_eq!((u.src_port(), u.dst_port(), u.payload()), (7, 40000, &b"hello, gateway"[..]));
    assert!(u.verify_checksum(ip("10.0.1.1"), ip("10.0.1.2")) && u.checksum() != 0);
    assert_eq!(EthernetFrame::new_checked(io.sent[0].data()).unwrap().dst(), LAN_HOST);
    assert_eq!((r.counters.udp_received, r.counters.udp_sent, r.counters.local), (1, 1, 1));
    let id = r.udp().find(&"10.0.1.1:7".parse().unwrap()).unwrap();
    let s = r.udp().stats(id).unwrap();
    assert_eq!((s.rx_datagrams, s.rx_bytes, s.tx_datagrams, s.tx_bytes), (1, 14, 1, 14));
    assert_eq!(r.udp().queued(), 0, "served before the frame's work ends");
}

#[test]
fn echo_over_ipv6_with_the_mandatory_checksum() {
    let t = served();
    let (mut r, mut io) = router6(&t);
    let m = udp6_message("fd00:1::2", "fd00:1::1", 50000, 7, b"six");
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::UDP, &m), 0);
    assert_eq!(io.sent.len(), 1);
    let p = sent6(&io.sent[0]);
    assert_eq!((p.src(), p.dst(), p.next_header(), p.hop_limit()), (ip6("fd00:1::1"), ip6("fd00:1::2"), nh::UDP, 64));
    let u = UdpPacket::new_checked(p.payload()).unwrap();
    assert_eq!((u.src_port(), u.dst_port(), u.payload()), (7, 50000, &b"six"[..]));
    assert!(u.verify_checksum6(&ip6("fd00:1::1"), &ip6("fd00:1::2")));
}

#[test]
fn discard_counts_and_sends_nothing_rfc863() {
    let t = served();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp4("10.0.1.1", 40000, 9, &[1; 100]), 0);
    assert!(io.sent.is_empty());
    assert_eq!((r.counters.udp_received, r.counters.udp_sent), (1, 0));
    let id = r.udp().find(&"10.0.1.1:9".parse().unwrap()).unwrap();
    assert_eq!(r.udp().stats(id).unwrap().rx_bytes, 100);
}

#[test]
fn a_bad_checksum_is_discarded_silently_rfc1122_4_1_3_4() {
    let t = served();
    let (mut r, mut io) = router6(&t);
    for dport in [7, 12345] {
        let mut f = udp4("10.0.1.1", 40000, dport, b"flipped");
        *f.last_mut().unwrap() ^= 0x20;
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    // Over IPv6 a zero checksum is no checksum, and not allowed.
    let mut m = udp6_message("fd00:1::2", "fd00:1::1", 50000, 7, b"none");
    m[6..8].fill(0);
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::UDP, &m), 0);
    assert!(io.sent.is_empty(), "no echo and no Port Unreachable");
    assert_eq!(r.counters.dropped(DropReason::UdpBadChecksum), 3);
    // Over IPv4 zero means "not computed" (RFC 768): served.
    let mut f = udp4("10.0.1.1", 40000, 7, b"unsummed");
    f[14 + 20 + 6..14 + 20 + 8].fill(0);
    run(&mut r, &t, &mut io, 0, &f, 0);
    assert_eq!(io.sent.len(), 1);
}

#[test]
fn a_udp_length_past_the_packet_is_malformed() {
    let t = served();
    let (mut r, mut io) = router(&t);
    let mut f = udp4("10.0.1.1", 40000, 7, b"abc");
    f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&200u16.to_be_bytes());
    run(&mut r, &t, &mut io, 0, &f, 0);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::UdpMalformed), 1);
}

#[test]
fn echo_answers_no_service_port_so_no_two_services_loop() {
    let t = served();
    let (mut r, mut io) = router(&t);
    // A spoofed datagram "from" another host's chargen (19) or echo (7).
    for sport in [7, 19, 1023] {
        run(&mut r, &t, &mut io, 0, &udp4("10.0.1.1", sport, 7, b"loop?"), 0);
    }
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::UdpEchoRefused), 3);
}

#[test]
fn ports_and_addresses_without_a_listener_get_port_unreachable() {
    let t = served();
    let (mut r, mut io) = router(&t);
    // Discard listens on 10.0.1.1 only: not on the wan address.
    run(&mut r, &t, &mut io, 0, &udp4("203.0.113.1", 40000, 9, b"x"), 0);
    run(&mut r, &t, &mut io, 0, &udp4("10.0.1.1", 40000, 8, b"x"), 0);
    assert_eq!(io.sent.len(), 2);
    for f in &io.sent {
        let p = sent_ip(f);
        assert_eq!((icmp_of(&p)[0], icmp_of(&p)[1]), (3, 3));
    }
    assert_eq!(r.counters.dropped(DropReason::LocalPortUnreachable), 2);
}

#[test]
fn a_new_snapshot_binds_and_closes_listeners() {
    let t = served();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp4("10.0.1.1", 40000, 7, b"a"), 0);
    let mut t2 = with_services(tables6(1500), &[(ServiceKind::Echo, "10.0.1.1:2007")]);
    t2.static_neighbors = t.static_neighbors.clone();
    t2.generation = 2;
    r.sync(&t2, 0, &mut io);
    run(&mut r, &t2, &mut io, 0, &udp4("10.0.1.1", 40000, 7, b"b"), 0);
    run(&mut r, &t2, &mut io, 0, &udp4("10.0.1.1", 40000, 2007, b"c"), 0);
    let kinds: Vec<(u8, u16)> = io
        .sent
        .iter()
        .map(|f| {
            let p = sent_ip(f);
            (p.payload()[0], UdpPacket::new_checked(p.payload()).map_or(0, |u| u.src_port()))
        })
        .collect();
    // An echo from 7, Port Unreachable (ICMP type 3) for 7, an echo from 2007.
    assert_eq!((kinds[0].1, kinds[1].0, kinds[2].1), (7, 3, 2007));
    assert_eq!(r.udp().len(), 1);
    // A listener that stays keeps its socket and its counts; one whose
    // service changes serves the new one.
    let mut t3 = with_services(tables6(1500), &[(ServiceKind::Discard, "10.0.1.1:2007")]);
    t3.static_neighbors = t.static_neighbors.clone();
    t3.generation = 3;
    r.sync(&t3, 0, &mut io);
    run(&mut r, &t3, &mut io, 0, &udp4("10.0.1.1", 40000, 2007, b"d"), 0);
    assert_eq!(io.sent.len(), 3, "discarded");
    let id = r.udp().find(&"10.0.1.1:2007".parse().unwrap()).unwrap();
    assert_eq!(r.udp().stats(id).map(|s| (s.rx_datagrams, s.tx_datagrams)), Some((2, 1)));
}

#[test]
fn a_fragmented_datagram_is_put_together_echoed_and_cut_again() {
    let t = served();
    let (mut r, mut io) = router(&t);
    let data = pattern(1900);
    let frame = udp4("10.0.1.1", 40000, 7, &data);
    for f in frag4(&frame, &[(0, 1000), (1000, 1908)], 0x99) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert_eq!(r.counters.reassembled, 1);
    // 1928 bytes of IPv4 on a 1500-byte lan: two fragments back.
    assert_eq!(io.sent.len(), 2);
    let whole = joined4(&io.sent);
    let u = UdpPacket::new_checked(&whole[..]).unwrap();
    assert_eq!((u.src_port(), u.dst_port(), u.payload()), (7, 40000, &data[..]));
    assert!(u.verify_checksum(ip("10.0.1.1"), ip("10.0.1.2")));
}

#[test]
fn an_ipv6_fragmented_datagram_is_echoed_in_fragments() {
    let t = with_services(tables6(1500), &[(ServiceKind::Echo, "[fd00:1::1]:7")]);
    let (mut r, mut io) = router6(&t);
    let data = pattern(1700);
    let m = udp6_message("fd00:1::2", "fd00:1::1", 50000, 7, &data);
    for f in frag6("fd00:1::2", "fd00:1::1", nh::UDP, &m, &[(0, 1200), (1200, m.len())], 7) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert_eq!(io.sent.len(), 2);
    let whole = joined6(&io.sent, 1500);
    let u = UdpPacket::new_checked(&whole[..]).unwrap();
    assert_eq!((u.src_port(), u.dst_port(), u.payload()), (7, 50000, &data[..]));
    assert!(u.verify_checksum6(&ip6("fd00:1::1"), &ip6("fd00:1::2")));
    assert_eq!(ipv6::find_fragment(&io.sent[0].data()[14..]).map(|(at, _)| at), Some(40));
}

/// A datagram too big for one buffer is echoed as it came, fragment by
/// fragment turned around (RFC 862): the reply's fragments put together
/// are the request with ports and addresses swapped, its checksum still
/// right; discard counts one; a bad checksum or a service port as the
/// source gets nothing back.
#[test]
fn a_datagram_too_large_for_one_buffer_is_echoed_fragment_by_fragment() {
    let t = served();
    let (mut r, mut io) = router(&t);
    let data = pattern(5000);
    let frame = udp4("10.0.1.1", 40000, 7, &data);
    let cuts = [(0, 1480), (1480, 2960), (2960, 4440), (4440, 5008)];
    for f in frag4(&frame, &cuts, 0x98) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert_eq!(io.sent.len(), 4, "a fragment back for each");
    let whole = joined4(&io.sent);
    let u = UdpPacket::new_checked(&whole[..]).unwrap();
    assert_eq!((u.src_port(), u.dst_port(), u.payload()), (7, 40000, &data[..]));
    assert!(u.verify_checksum(ip("10.0.1.1"), ip("10.0.1.2")));
    assert_eq!((r.counters.udp_received, r.counters.udp_sent), (1, 1));
    assert_eq!(r.counters.dropped(DropReason::ReassemblyNoRoom), 0);
    // Discard takes it whole and says nothing.
    io.sent.clear();
    for f in frag4(&udp4("10.0.1.1", 40000, 9, &data), &cuts, 0x97) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.udp_received, 2);
    // A flipped payload bit: the checksum fails, nothing comes back.
    let mut bad = udp4("10.0.1.1", 40000, 7, &data);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    for f in frag4(&bad, &cuts, 0x96) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::UdpBadChecksum), 4, "each fragment");
    // From a service's port (chargen's 19): no answer, as unfragmented.
    for f in frag4(&udp4("10.0.1.1", 19, 7, &data), &cuts, 0x95) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::UdpEchoRefused), 4);
}

/// The same over IPv6: every fragment turned around, the fragment header
/// kept with a new identification.
#[test]
fn an_ipv6_datagram_too_large_for_one_buffer_is_echoed_fragment_by_fragment() {
    let t = with_services(tables6(1500), &[(ServiceKind::Echo, "[fd00:1::1]:7")]);
    let (mut r, mut io) = router6(&t);
    let data = pattern(4000);
    let m = udp6_message("fd00:1::2", "fd00:1::1", 50000, 7, &data);
    for f in frag6("fd00:1::2", "fd00:1::1", nh::UDP, &m, &[(0, 1448), (1448, 2896), (2896, m.len())], 9) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert_eq!(io.sent.len(), 3);
    let whole = joined6(&io.sent, 1500);
    let u = UdpPacket::new_checked(&whole[..]).unwrap();
    assert_eq!((u.src_port(), u.dst_port(), u.payload()), (7, 50000, &data[..]));
    assert!(u.verify_checksum6(&ip6("fd00:1::1"), &ip6("fd00:1::2")));
    assert_eq!(r.counters.udp_sent, 1);
}
