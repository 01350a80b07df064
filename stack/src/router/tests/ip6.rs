//! IPv6 pipeline tests: the lab's dual-stack tables, frames shaped as the
//! lab's Linux peers send them, verdicts and counters checked.

use super::*;
use crate::fib6::NextHop6;
use crate::iface::{Ipv6Cidr, RaSettings, StaticRoute6};
use crate::wire::icmpv6::{self as icmpv6w, na_flags, PrefixInfo, RaHeader};
use crate::wire::ipv6::{self, nh, Ipv6Packet, Ipv6Repr};
use std::net::Ipv6Addr;

pub(super) fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const GW_LAN_LL: &str = "fe80::ff:fe00:1";

/// lan fd00:1::1/64 (RA on, MTU option) on port 0; wan 2001:db8:1::1/64
/// on port 1 with MTU `wan_mtu`; 2001:db8:2::/48 via 2001:db8:1::2.
pub(super) fn tables6(wan_mtu: u16) -> Tables {
    let ra = RaSettings {
        interval: 600 * SEC,
        router_lifetime: 1800,
        hop_limit: 64,
        managed: false,
        other: false,
        mtu: Some(1500),
        prefixes: vec![PrefixInfo {
            prefix: ip6("fd00:1::"),
            len: 64,
            on_link: true,
            autonomous: true,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
        }],
    };
    let mut lan = iface("lan", 0, GW_LAN, "10.0.1.1/24", 1500);
    lan.addrs6 = vec!["fd00:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    lan.ra = Some(ra);
    let mut wan = iface("wan", 1, GW_WAN, "203.0.113.1/24", wan_mtu);
    wan.addrs6 = vec!["2001:db8:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let routes6: Vec<StaticRoute6> = vec![
        StaticRoute::Via {
            dst: "2001:db8:2::/48".parse().unwrap(),
            hops: vec![NextHop6 { ifindex: 1, gateway: ip6("2001:db8:1::2") }],
        },
        StaticRoute::Unreachable { dst: "2001:db8:dead::/48".parse().unwrap() },
    ];
    let neighbors = vec![StaticNeighbor { ifindex: 1, ip: ip6("2001:db8:1::2").into(), mac: WAN_HOST }];
    Tables::build(vec![lan, wan], &[], &routes6, neighbors, 1).unwrap()
}

/// An IPv6 frame from the LAN host to `eth_dst`.
pub(super) fn ipv6_frame(eth_dst: MacAddr, src: &str, dst: &str, hop: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = eth(eth_dst, LAN_HOST, 0x86dd);
    let mut b = vec![0u8; 40];
    Ipv6Repr { src: ip6(src), dst: ip6(dst), next_header: next, payload_len: payload.len(), hop_limit: hop }
        .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    f.extend_from_slice(&b);
    f.extend_from_slice(payload);
    f
}

/// An ICMPv6 message with its checksum filled.
pub(super) fn icmp6(src: &str, dst: &str, mut msg: Vec<u8>) -> Vec<u8> {
    msg[2..4].copy_from_slice(&[0, 0]);
    let c = ipv6::upper_checksum(&ip6(src), &ip6(dst), nh::ICMPV6, &msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    msg
}

fn echo6(src: &str, dst: &str, hop: u8) -> Vec<u8> {
    let msg = icmp6(src, dst, vec![128, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g']);
    ipv6_frame(GW_LAN, src, dst, hop, nh::ICMPV6, &msg)
}

pub(super) fn ns_frame(src: &str, dst: &str, target: &str, sll: Option<MacAddr>, hop: u8) -> Vec<u8> {
    let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&ip6(target).octets());
    if let Some(mac) = sll {
        m.extend_from_slice(&[1, 1]);
        m.extend_from_slice(&mac.0);
    }
    let eth_dst = if ip6(dst).is_multicast() { MacAddr(ipv6::multicast_mac(&ip6(dst))) } else { GW_LAN };
    ipv6_frame(eth_dst, src, dst, hop, nh::ICMPV6, &icmp6(src, dst, m))
}

fn na_frame(port_src: MacAddr, src: &str, dst: &str, target: &str, flags: u32, tll: MacAddr) -> Vec<u8> {
    let mut m = vec![136, 0, 0, 0];
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&ip6(target).octets());
    m.extend_from_slice(&[2, 1]);
    m.extend_from_slice(&tll.0);
    let mut f = ipv6_frame(GW_WAN, src, dst, 255, nh::ICMPV6, &icmp6(src, dst, m));
    f[6..12].copy_from_slice(&port_src.0);
    f
}

pub(super) fn udp6(src: &str, dst: &str, hop: u8, len: usize) -> Vec<u8> {
    let mut u = vec![0u8; 8 + len];
    u[0..2].copy_from_slice(&40000u16.to_be_bytes());
    u[2..4].copy_from_slice(&9u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    let c = ipv6::upper_checksum(&ip6(src), &ip6(dst), nh::UDP, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv6_frame(GW_LAN, src, dst, hop, nh::UDP, &u)
}

/// The IPv6 datagram of a sent frame, checked.
pub(super) fn sent6(b: &VecBuf) -> Ipv6Packet<&[u8]> {
    let e = EthernetFrame::new_checked(b.data()).unwrap();
    assert_eq!(e.ethertype(), EtherType::Ipv6);
    let p = Ipv6Packet::new_checked(&b.data()[14..]).unwrap();
    assert_eq!(usize::from(p.payload_len()) + 54, b.len(), "length matches the frame");
    if p.next_header() == nh::ICMPV6 {
        assert!(ipv6::verify_upper_checksum(&p.src(), &p.dst(), nh::ICMPV6, p.payload()), "ICMPv6 checksum");
    }
    p
}

#[test]
fn neighbor_solicitation_for_our_address_is_advertised_rfc4861_7_2_4() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    assert_eq!(io.sent.len(), 1);
    let out = &io.sent[0];
    let e = EthernetFrame::new_checked(out.data()).unwrap();
    assert_eq!((e.dst(), e.src()), (LAN_HOST, GW_LAN));
    let p = sent6(out);
    assert_eq!((p.src(), p.dst(), p.hop_limit()), (ip6("fd00:1::1"), ip6("fd00:1::2"), 255));
    let m = p.payload();
    assert_eq!(m[0], 136);
    let flags = u32::from_be_bytes([m[4], m[5], m[6], m[7]]);
    assert_eq!(flags, na_flags::ROUTER | na_flags::SOLICITED | na_flags::OVERRIDE);
    assert_eq!(&m[8..24], &ip6("fd00:1::1").octets());
    assert_eq!(icmpv6w::nd_options(&m[24..]).unwrap().target_lladdr, Some(GW_LAN));
    // The solicitor is learned (stale), and peers are told.
    let n = r.neighbors().get(0, ip6("fd00:1::2")).unwrap();
    assert_eq!((n.mac, n.state), (LAN_HOST, crate::neigh::State::Stale));
    assert_eq!(io.learned, vec![(0, ip6("fd00:1::2").into(), LAN_HOST, false)]);
    assert_eq!(r.counters.nd_adverts, 1);
}

#[test]
fn link_local_address_is_answered_too() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fe80::2", "ff02::1:ff00:1", GW_LAN_LL, Some(LAN_HOST), 255), 0);
    assert_eq!(sent6(&io.sent[0]).src(), ip6(GW_LAN_LL));
}

#[test]
fn duplicate_address_detection_probe_is_answered_to_all_nodes_rfc4861_7_2_4() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("::", "ff02::1:ff00:1", "fd00:1::1", None, 255), 0);
    let p = sent6(&io.sent[0]);
    assert_eq!(p.dst(), ipv6::ALL_NODES);
    assert_eq!(EthernetFrame::new_checked(io.sent[0].data()).unwrap().dst(), MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    assert_eq!(p.payload()[4] & 0x40, 0, "not solicited");
    assert_eq!(r.neighbors().len(), 1, "only the static entry: nothing learned from ::");
}

#[test]
fn nd_messages_with_hop_limit_below_255_are_discarded_rfc4861_7_1_1() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 254), 0);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::NdpBadHopLimit), 1);
    // Invalid: DAD probe with a source link-layer option; a multicast target.
    run(&mut r, &t, &mut io, 0, &ns_frame("::", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "ff02::1", None, 255), 0);
    assert_eq!(r.counters.dropped(DropReason::NdpMalformed), 2);
    // Someone else's address; a solicited-node group we are not in.
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::9", None, 255), 0);
    assert_eq!(r.counters.dropped(DropReason::NdpNotForUs), 1);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:9", "fd00:1::9", None, 255), 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv6Multicast), 1);
    assert!(io.sent.is_empty());
}

#[test]
fn echo_request_is_answered_from_the_pinged_address() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    // Static entry for the WAN host; the LAN host is resolved from its NS.
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    for dst in ["fd00:1::1", "2001:db8:1::1"] {
        io.sent.clear();
        run(&mut r, &t, &mut io, 0, &echo6("fd00:1::2", dst, 64), 1);
        assert_eq!(io.sent.len(), 1, "{dst}");
        let p = sent6(&io.sent[0]);
        assert_eq!((p.src(), p.dst()), (ip6(dst), ip6("fd00:1::2")));
        assert_eq!(p.payload()[0], 129);
        assert_eq!(&p.payload()[4..], &[0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g']);
        assert_eq!(EthernetFrame::new_checked(io.sent[0].data()).unwrap().dst(), LAN_HOST);
    }
    assert_eq!(r.counters.local6, 3);
}

#[test]
fn forward_resolves_by_neighbor_solicitation_then_sends_with_hop_limit_decremented() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    // fd00:1::2 -> 2001:db8:1::7 (connected on wan, unknown neighbor).
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "2001:db8:1::7", 64, 10), 0);
    assert_eq!(io.sent.len(), 1, "the packet waits; an NS goes out");
    let ns = sent6(&io.sent[0]);
    assert_eq!((ns.src(), ns.dst(), ns.hop_limit()), (ip6("2001:db8:1::1"), ip6("ff02::1:ff00:7"), 255));
    assert_eq!(EthernetFrame::new_checked(io.sent[0].data()).unwrap().dst(), MacAddr([0x33, 0x33, 0xff, 0, 0, 7]));
    assert_eq!(ns.payload()[0], 135);
    assert_eq!(icmpv6w::nd_options(&ns.payload()[24..]).unwrap().source_lladdr, Some(GW_WAN));
    // The solicited advertisement releases it.
    let host7 = MacAddr([2, 0, 0, 0, 2, 7]);
    let na = na_frame(host7, "2001:db8:1::7", "2001:db8:1::1", "2001:db8:1::7", na_flags::SOLICITED, host7);
    run(&mut r, &t, &mut io, 1, &na, 1);
    assert_eq!(io.sent.len(), 2);
    let out = &io.sent[1];
    assert_eq!(out.port(), 1);
    assert_eq!(EthernetFrame::new_checked(out.data()).unwrap().dst(), host7);
    let p = sent6(out);
    assert_eq!((p.dst(), p.hop_limit()), (ip6("2001:db8:1::7"), 63));
    assert_eq!(r.neighbors().get(1, ip6("2001:db8:1::7")).unwrap().state, crate::neigh::State::Reachable);
    // Via a static route and a static neighbor: straight out.
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "2001:db8:2::5", 64, 10), 2);
    assert_eq!(EthernetFrame::new_checked(io.sent[2].data()).unwrap().dst(), WAN_HOST);
    assert_eq!(r.counters.forwarded6, 2);
}

#[test]
fn unsolicited_advertisement_creates_nothing_rfc4861_7_2_5() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    let host7 = MacAddr([2, 0, 0, 0, 2, 7]);
    let na = na_frame(host7, "2001:db8:1::7", "ff02::1", "2001:db8:1::7", na_flags::OVERRIDE, host7);
    run(&mut r, &t, &mut io, 1, &na, 0);
    assert!(r.neighbors().get(1, ip6("2001:db8:1::7")).is_none());
    // Solicited to a multicast destination is invalid.
    let bad = na_frame(host7, "2001:db8:1::7", "ff02::1", "2001:db8:1::7", na_flags::SOLICITED, host7);
    run(&mut r, &t, &mut io, 1, &bad, 0);
    assert_eq!(r.counters.dropped(DropReason::NdpMalformed), 1);
}

#[test]
fn hop_limit_one_gets_time_exceeded_rfc4443_3_3() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    io.sent.clear();
    let orig = udp6("fd00:1::2", "2001:db8:2::5", 1, 10);
    run(&mut r, &t, &mut io, 0, &orig, 1);
    let p = sent6(&io.sent[0]);
    assert_eq!((p.src(), p.dst()), (ip6("fd00:1::1"), ip6("fd00:1::2")));
    assert_eq!(&p.payload()[..2], &[3, 0]);
    assert_eq!(&p.payload()[8..], &orig[14..], "the whole original is quoted");
    assert_eq!(r.counters.dropped(DropReason::HopLimitExpired), 1);
    assert_eq!(r.counters.icmp6_errors, 1);
}

#[test]
fn too_big_for_the_egress_gets_packet_too_big_with_its_mtu_rfc4443_3_2() {
    let t = tables6(1280);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "2001:db8:2::5", 64, 1452), 1); // 1500 bytes of IPv6
    let p = sent6(&io.sent[0]);
    assert_eq!(&p.payload()[..2], &[2, 0]);
    assert_eq!(u32::from_be_bytes([p.payload()[4], p.payload()[5], p.payload()[6], p.payload()[7]]), 1280);
    assert_eq!(14 + usize::from(p.payload_len()) + 40, io.sent[0].len());
    assert_eq!(40 + usize::from(p.payload_len()), 1280, "the error fits the minimum MTU");
    assert_eq!(r.counters.dropped(DropReason::PacketTooBig), 1);
    // 1280 bytes pass.
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "2001:db8:2::5", 64, 1232), 2);
    assert_eq!(r.counters.forwarded6, 1);
}

#[test]
fn truncated_and_looping_extension_chains_are_dropped_and_counted() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    // Nine Destination Options headers, to us and through us.
    let mut chain = Vec::new();
    for _ in 0..9 {
        chain.extend_from_slice(&[nh::DEST_OPTS, 0, 1, 4, 0, 0, 0, 0]);
    }
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::DEST_OPTS, &chain), 0);
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "2001:db8:2::5", 64, nh::DEST_OPTS, &chain), 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv6ExtTooLong), 2);
    // A routing header claiming 16 bytes with 8 there.
    let trunc = [nh::UDP, 1, 0, 0, 0, 0, 0, 0];
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::ROUTING, &trunc), 0);
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "2001:db8:2::5", 64, nh::ROUTING, &trunc), 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv6ExtTruncated), 2);
    // Payload length beyond the frame; a fixed header cut short.
    let mut long = udp6("fd00:1::2", "2001:db8:2::5", 64, 10);
    long[19] = 200;
    run(&mut r, &t, &mut io, 0, &long, 0);
    run(&mut r, &t, &mut io, 0, &long[..40], 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv6BadPayloadLength), 1);
    assert_eq!(r.counters.dropped(DropReason::Ipv6Truncated), 1);
    assert!(io.sent.iter().all(|b| sent6(b).payload()[0] == 135), "nothing but solicitations went out");
}

#[test]
fn local_udp_gets_port_unreachable_and_unknown_next_header_parameter_problem() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "fd00:1::1", 64, 4), 1);
    assert_eq!(&sent6(&io.sent[0]).payload()[..2], &[1, 4]);
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, 253, &[0; 8]), 1);
    let p = sent6(&io.sent[1]);
    assert_eq!(&p.payload()[..2], &[4, 1]);
    assert_eq!(&p.payload()[4..8], &6u32.to_be_bytes(), "points at the Next Header field");
}

#[test]
fn link_local_source_is_not_forwarded_rfc4291_2_5_6() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fe80::2", "ff02::1:ff00:1", GW_LAN_LL, Some(LAN_HOST), 255), 0);
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp6("fe80::2", "2001:db8:2::5", 64, 4), 1);
    let p = sent6(&io.sent[0]);
    assert_eq!((p.src(), p.dst()), (ip6(GW_LAN_LL), ip6("fe80::2")));
    assert_eq!(&p.payload()[..2], &[1, 2], "beyond scope of source");
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "fe80::99", 64, 4), 1);
    assert_eq!(r.counters.dropped(DropReason::Ipv6LinkLocal), 1);
    assert_eq!(r.counters.forwarded6, 0);
}

#[test]
fn unresolved_next_hop_gets_address_unreachable_rfc4861_7_2_2() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp6("fd00:1::2", "2001:db8:1::9", 64, 4), 0);
    for s in 1..=3 {
        r.poll(&t, s * SEC, &mut io);
    }
    let solicits = io.sent.iter().filter(|b| sent6(b).payload()[0] == 135).count();
    assert_eq!(solicits, 3, "MAX_MULTICAST_SOLICIT");
    let err = io.sent.iter().map(sent6).find(|p| p.payload()[0] == 1).expect("an error");
    assert_eq!((err.payload()[1], err.dst()), (3, ip6("fd00:1::2")));
    assert_eq!(r.counters.dropped(DropReason::NeighborUnresolved), 1);
}

#[test]
fn router_solicitation_is_answered_with_prefix_mtu_and_link_layer_address_rfc4861_6_2_6() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    r.set_announcer(false); // only the solicited advertisement
    let mut rs = vec![133, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    rs.extend_from_slice(&LAN_HOST.0);
    let rs = icmp6("fe80::2", "ff02::2", rs);
    let mut frame = ipv6_frame(MacAddr([0x33, 0x33, 0, 0, 0, 2]), "fe80::2", "ff02::2", 255, nh::ICMPV6, &rs);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert!(io.sent.is_empty());
    r.poll(&t, 0, &mut io);
    assert_eq!(io.sent.len(), 1);
    let p = sent6(&io.sent[0]);
    assert_eq!((p.src(), p.dst(), p.hop_limit()), (ip6(GW_LAN_LL), ipv6::ALL_NODES, 255));
    let m = p.payload();
    let h = RaHeader::parse(m).unwrap();
    assert_eq!((h.router_lifetime, h.cur_hop_limit), (1800, 64));
    let opts = icmpv6w::nd_options(&m[16..]).unwrap();
    assert_eq!((opts.source_lladdr, opts.mtu), (Some(GW_LAN), Some(1500)));
    let pi = PrefixInfo::all(&m[16..]);
    assert_eq!(pi.len(), 1);
    assert_eq!((pi[0].prefix, pi[0].len, pi[0].autonomous), (ip6("fd00:1::"), 64, true));
    // A second solicitation within MIN_DELAY_BETWEEN_RAS waits for it.
    run(&mut r, &t, &mut io, 0, &frame, SEC);
    r.poll(&t, 2 * SEC, &mut io);
    assert_eq!(io.sent.len(), 1);
    r.poll(&t, 3 * SEC, &mut io);
    assert_eq!(io.sent.len(), 2);
    // Hop limit 254: discarded.
    frame[14 + 7] = 254;
    run(&mut r, &t, &mut io, 0, &frame, 10 * SEC);
    assert_eq!(r.counters.dropped(DropReason::NdpBadHopLimit), 1);
}

#[test]
fn announcer_advertises_periodically_faster_at_first_rfc4861_6_2_4() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    let mut times = Vec::new();
    for s in 0..=700u64 {
        let before = io.sent.len();
        r.poll(&t, s * SEC, &mut io);
        if io.sent.len() > before {
            times.push(s);
        }
    }
    assert_eq!(times, vec![0, 16, 32, 48, 648], "three initial ones 16 s apart, then the interval");
    assert!(io.sent.iter().all(|b| b.port() == 0), "only the RA interface");
    assert_eq!(r.counters.router_adverts, 5);
}

#[test]
fn ipv6_on_an_interface_without_ipv6_is_dropped() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &echo6("fd00:1::2", "fd00:1::1", 64), 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv6Disabled), 1);
}

#[test]
fn tcp_syn_to_us_gets_rst_over_ipv6() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    io.sent.clear();
    let mut seg = vec![0u8; 20];
    seg[0..2].copy_from_slice(&40000u16.to_be_bytes());
    seg[2..4].copy_from_slice(&80u16.to_be_bytes());
    seg[4..8].copy_from_slice(&1000u32.to_be_bytes());
    seg[12] = 5 << 4;
    seg[13] = 0x02; // SYN
    let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("fd00:1::1"), nh::TCP, &seg);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::TCP, &seg), 1);
    let p = sent6(&io.sent[0]);
    assert!(ipv6::verify_upper_checksum(&p.src(), &p.dst(), nh::TCP, p.payload()));
    let s = p.payload();
    assert_eq!(s[13] & 0x14, 0x14, "RST+ACK");
    assert_eq!(u32::from_be_bytes([s[8], s[9], s[10], s[11]]), 1001);
}

/// A frame from the WAN host to an address of lan's /64.
fn from_wan6(dst: &str) -> Vec<u8> {
    let mut f = udp6("2001:db8:1::2", dst, 64, 4);
    f[0..6].copy_from_slice(&GW_WAN.0);
    f[6..12].copy_from_slice(&WAN_HOST.0);
    f
}

#[test]
fn a_scan_of_a_connected_64_from_the_wan_leaves_known_and_new_hosts_reachable_rfc6583() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    let host = |n: u16| MacAddr([2, 0, 0, 0, 1, n as u8]);
    let answer = |n: u16| {
        let a = format!("fd00:1::{n:x}");
        let mut f = na_frame(host(n), &a, "fd00:1::1", &a, na_flags::SOLICITED, host(n));
        f[0..6].copy_from_slice(&GW_LAN.0);
        f
    };
    // A known host: resolved before the scan.
    run(&mut r, &t, &mut io, 1, &from_wan6("fd00:1::2"), 0);
    run(&mut r, &t, &mut io, 0, &answer(2), 0);
    let to = |io: &TestIo, mac| {
        io.sent.iter().filter(|b| EthernetFrame::new_checked(b.data()).unwrap().dst() == mac).count()
    };
    assert_eq!(to(&io, host(2)), 1);
    // 20,000 frames in 0.05 s to random addresses of fd00:1::/64 (the
    // review's attack). Each would make an entry and a solicitation.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut now = 0;
    for i in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        now = SEC / 100 + i * 2500;
        let dst = std::net::Ipv6Addr::from(0xfd00_0001_0000_0000_0000_0000_0000_0000u128 | u128::from(x));
        run(&mut r, &t, &mut io, 1, &from_wan6(&dst.to_string()), now);
        if i % 1000 == 0 {
            // The known host is reached all along, without a solicitation.
            run(&mut r, &t, &mut io, 1, &from_wan6("fd00:1::2"), now);
        }
    }
    assert_eq!(to(&io, host(2)), 21, "every packet to the known host went out");
    let (waiting, _) = r.neighbors().unconfirmed(0);
    let limit = RouterConfig::default().neighbor.incomplete_limit;
    assert!(waiting <= limit && r.neighbors().len() <= limit + 2, "{waiting} waiting, {} entries", r.neighbors().len());
    // Solicitations at most a burst and the rate (1000/s for 0.05 s).
    assert!(r.counters.nd_solicits <= 100 + 50 + 1, "{} solicitations", r.counters.nd_solicits);
    let limited = r.counters.dropped(DropReason::NeighborSolicitLimited);
    assert!(limited >= 19_000, "{limited} refused by the rate");
    assert_eq!(r.counters.dropped(DropReason::NeighborTableFull), 0);
    assert_eq!(r.neighbors().get(0, ip6("fd00:1::2")).unwrap().state, crate::neigh::State::Reachable);
    // A host that joins right after is resolved and reached.
    io.sent.clear();
    let later = now + SEC / 100;
    run(&mut r, &t, &mut io, 1, &from_wan6("fd00:1::4"), later);
    assert_eq!(io.sent.len(), 1, "a solicitation for the new host");
    run(&mut r, &t, &mut io, 0, &answer(4), later);
    assert_eq!(io.sent.len(), 2);
    assert_eq!(EthernetFrame::new_checked(io.sent[1].data()).unwrap().dst(), host(4));
}

#[test]
fn solicitations_from_on_link_senders_take_at_most_the_unconfirmed_bound() {
    let t = tables6(1500);
    let (mut r, mut io) = router(&t);
    // 2,000 hosts on lan ask for the gateway: each is answered; the cache
    // keeps the newest unconfirmed_limit of them.
    for n in 0..2000u32 {
        let mac = MacAddr([2, 0x55, 0, 0, (n >> 8) as u8, n as u8]);
        let src = format!("fd00:1::1:{n:x}");
        let mut f = ns_frame(&src, "ff02::1:ff00:1", "fd00:1::1", Some(mac), 255);
        f[6..12].copy_from_slice(&mac.0);
        run(&mut r, &t, &mut io, 0, &f, u64::from(n));
    }
    assert_eq!(r.counters.nd_adverts, 2000);
    let limit = RouterConfig::default().neighbor.unconfirmed_limit;
    assert_eq!(r.neighbors().unconfirmed(0), (0, limit));
    assert_eq!(r.counters.neighbor_unconfirmed_evicted, 2000 - limit as u64);
    assert!(r.neighbors().get(0, ip6("fd00:1::1:7cf")).is_some(), "the newest is kept");
}
