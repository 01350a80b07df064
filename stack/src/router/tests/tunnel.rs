//! Tunnels through the pipeline: GRE and IP in IP, over IPv4 and IPv6,
//! wrapped and unwrapped, with the MTU, ECN (RFC 6040), keys, loops and
//! malformed headers.

use super::ip6::ip6;
use super::*;
use crate::iface::{Ipv6Cidr, StaticRoute6, Tunnel, TunnelKind};
use crate::wire::gre::GreRepr;
use crate::wire::ipv6::{self, nh, Ipv6Packet, Ipv6Repr};

const GW_TUN: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

/// The lab's lan and wan (dual-stack), and tunnel interface 2 of `kind`
/// from our wan address to 203.0.113.2 (or 2001:db8:1::2 if `v6`), with
/// 172.16.0.1/30 and fd00:99::1/64 inside; 198.18.0.0/24 and
/// 2001:db8:99::/48 routed into it.
fn tunnel_tables(kind: TunnelKind, v6: bool) -> Tables {
    let mut lan = iface("lan", 0, GW_LAN, "10.0.1.1/24", 1500);
    lan.addrs6 = vec!["fd00:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let mut wan = iface("wan", 1, GW_WAN, "203.0.113.1/24", 1500);
    wan.addrs6 = vec!["2001:db8:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let mut tun = iface("gre1", 0, GW_TUN, "172.16.0.1/30", 1500);
    tun.addrs6 = vec!["fd00:99::1/64".parse::<Ipv6Cidr>().unwrap()];
    let (local, remote) = if v6 {
        (ip6("2001:db8:1::1").into(), ip6("2001:db8:1::2").into())
    } else {
        (ip("203.0.113.1").into(), ip("203.0.113.2").into())
    };
    tun.tunnel = Some(Tunnel { kind, local, remote, ttl: 64 });
    let routes = vec![
        StaticRoute::Via {
            dst: "198.18.0.0/24".parse().unwrap(),
            hops: vec![NextHop { ifindex: 2, gateway: ip("172.16.0.2") }],
        },
        StaticRoute::Via {
            dst: "198.51.100.0/24".parse().unwrap(),
            hops: vec![NextHop { ifindex: 1, gateway: ip("203.0.113.2") }],
        },
    ];
    let routes6: Vec<StaticRoute6> = vec![StaticRoute::Via {
        dst: "2001:db8:99::/48".parse().unwrap(),
        hops: vec![crate::fib6::NextHop6 { ifindex: 2, gateway: ip6("fd00:99::2") }],
    }];
    let neighbors = vec![
        StaticNeighbor { ifindex: 0, ip: ip("10.0.1.2").into(), mac: LAN_HOST },
        StaticNeighbor { ifindex: 0, ip: ip6("fd00:1::2").into(), mac: LAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac: WAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip6("2001:db8:1::2").into(), mac: WAN_HOST },
    ];
    Tables::build(vec![lan, wan, tun], &routes, &routes6, neighbors, 1).unwrap()
}

const GRE: TunnelKind = TunnelKind::Gre { key: None };

/// A UDP datagram from the LAN host to `dst`, `len` bytes of data, TOS
/// `tos`, DF `df`.
fn udp_to(dst: &str, len: usize, tos: u8, df: bool) -> Vec<u8> {
    let mut f = ipv4_frame("10.0.1.2", dst, 64, Protocol::Udp, &udp("10.0.1.2", dst, 7, 9, len), df);
    let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
    p.set_tos(tos);
    p.fill_checksum();
    f
}

/// A frame from the wan host carrying `inner` (an IP packet) in the
/// tunnel's outer headers: GRE with `key`, or IP in IP (`gre` None).
fn wrapped(gre: Option<Option<u32>>, inner: &[u8], outer_tos: u8) -> Vec<u8> {
    let v6_inner = inner[0] >> 4 == 6;
    let mut shim = Vec::new();
    let proto = match gre {
        Some(key) => {
            shim = vec![0u8; GreRepr::emitted_len(key)];
            GreRepr::emit(&mut shim, if v6_inner { 0x86dd } else { 0x0800 }, key);
            47
        }
        None if v6_inner => 41,
        None => 4,
    };
    shim.extend_from_slice(inner);
    let mut f = eth(GW_WAN, WAN_HOST, 0x0800);
    let mut ipb = vec![0u8; 20 + shim.len()];
    ipb[20..].copy_from_slice(&shim);
    Ipv4Repr {
        src: ip("203.0.113.2"),
        dst: ip("203.0.113.1"),
        protocol: Protocol::Unknown(proto),
        payload_len: shim.len(),
        ttl: 60,
        tos: outer_tos,
        ident: 1,
        dont_frag: false,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut ipb[..]));
    f.extend_from_slice(&ipb);
    f
}

/// An IPv4 packet (no Ethernet) from the far side of the tunnel.
fn inner4(src: &str, dst: &str, protocol: Protocol, payload: &[u8], tos: u8) -> Vec<u8> {
    let mut f = ipv4_frame(src, dst, 64, protocol, payload, false);
    let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
    p.set_tos(tos);
    p.fill_checksum();
    f[14..].to_vec()
}

fn echo_payload() -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    icmp
}

#[test]
fn a_packet_routed_into_a_gre_tunnel_leaves_wrapped_to_the_far_end() {
    let t = tunnel_tables(GRE, false);
    let (mut r, mut io) = router(&t);
    // DSCP EF with ECT(0): both reach the outer header.
    let frame = udp_to("198.18.0.5", 100, 0xb8 | 2, true);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert_eq!(io.sent.len(), 1);
    let f = &io.sent[0];
    let e = EthernetFrame::new_checked(f.data()).unwrap();
    assert_eq!((e.dst(), e.src(), f.port()), (WAN_HOST, GW_WAN, 1));
    let outer = sent_ip(f);
    assert!(outer.verify_checksum());
    let o = (outer.src(), outer.dst(), outer.protocol(), outer.ttl(), outer.tos(), outer.dont_frag());
    assert_eq!(o, (ip("203.0.113.1"), ip("203.0.113.2"), Protocol::Unknown(47), 64, 0xba, true));
    let gre = GreRepr::parse(outer.payload()).unwrap();
    assert_eq!((gre.protocol, gre.key, gre.len), (0x0800, None, 4));
    let inner = Ipv4Packet::new_checked(&outer.payload()[4..]).unwrap();
    assert_eq!(inner.ttl(), 63, "forwarding decremented the inner TTL");
    assert!(inner.verify_checksum());
    assert_eq!(&outer.payload()[4 + 20..], &frame[14 + 20..], "the datagram, untouched");
    assert_eq!((r.counters.encapsulated, r.counters.forwarded), (1, 1));
}

#[test]
fn the_tunnel_mtu_is_the_underlays_less_the_overhead_and_pmtud_sees_it() {
    let t = tunnel_tables(TunnelKind::Gre { key: Some(7) }, false);
    assert_eq!(t.ifaces[2].mtu, 1500 - 20 - 8);
    assert_eq!(tunnel_tables(TunnelKind::Ip, true).ifaces[2].mtu, 1500 - 40);
    let (mut r, mut io) = router(&t);
    // DF and too big for the tunnel: Fragmentation Needed with its MTU.
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1472 - 8 + 1, 0, true), 0);
    let p = sent_ip(&io.sent[0]);
    assert_eq!(&icmp_of(&p)[..2], &[3, 4]);
    assert_eq!(u16::from_be_bytes([icmp_of(&p)[6], icmp_of(&p)[7]]), 1472);
    // Without DF: fragments that fit, each wrapped.
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1472, 0, false), 0);
    assert_eq!(io.sent.len(), 2);
    for f in &io.sent {
        let outer = sent_ip(f);
        assert!(usize::from(outer.total_len()) <= 1500);
        assert_eq!(GreRepr::parse(outer.payload()).unwrap().key, Some(7));
        assert!(Ipv4Packet::new_checked(&outer.payload()[8..]).unwrap().is_fragment());
    }
}

#[test]
fn a_tunnel_packet_for_us_is_unwrapped_and_routed_on() {
    let t = tunnel_tables(GRE, false);
    let (mut r, mut io) = router(&t);
    let inner = inner4("172.16.0.2", "10.0.1.2", Protocol::Udp, &udp("172.16.0.2", "10.0.1.2", 5, 6, 50), 0);
    run(&mut r, &t, &mut io, 1, &wrapped(Some(None), &inner, 0), 0);
    assert_eq!(io.sent.len(), 1);
    let f = &io.sent[0];
    assert_eq!((EthernetFrame::new_checked(f.data()).unwrap().dst(), f.port()), (LAN_HOST, 0));
    let p = sent_ip(f);
    assert_eq!((p.src(), p.dst(), p.ttl()), (ip("172.16.0.2"), ip("10.0.1.2"), 63));
    assert_eq!(p.payload(), &inner[20..]);
    assert_eq!(r.counters.decapsulated, 1);
    // Our own tunnel address answers, and the reply goes back wrapped.
    io.sent.clear();
    let ping = inner4("172.16.0.2", "172.16.0.1", Protocol::Icmp, &echo_payload(), 0);
    run(&mut r, &t, &mut io, 1, &wrapped(Some(None), &ping, 0), 0);
    assert_eq!(io.sent.len(), 1);
    let outer = sent_ip(&io.sent[0]);
    assert_eq!((outer.dst(), outer.protocol()), (ip("203.0.113.2"), Protocol::Unknown(47)));
    let reply = Ipv4Packet::new_checked(&outer.payload()[4..]).unwrap();
    assert_eq!((reply.src(), reply.dst(), reply.payload()[0]), (ip("172.16.0.1"), ip("172.16.0.2"), 0));
}

#[test]
fn ip_in_ip_carries_both_families_over_ipv4_and_ipv6() {
    // 6in4 (RFC 4213): IPv6 inside protocol 41 over IPv4.
    let t = tunnel_tables(TunnelKind::Ip, false);
    let (mut r, mut io) = router(&t);
    let mut u = vec![0u8; 8 + 20];
    u[4..6].copy_from_slice(&28u16.to_be_bytes());
    let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("2001:db8:99::5"), nh::UDP, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let f6 = super::ip6::ipv6_frame(GW_LAN, "fd00:1::2", "2001:db8:99::5", 64, nh::UDP, &u);
    run(&mut r, &t, &mut io, 0, &f6, 0);
    let outer = sent_ip(&io.sent[0]);
    assert_eq!(outer.protocol(), Protocol::Unknown(41));
    let inner = Ipv6Packet::new_checked(outer.payload()).unwrap();
    assert_eq!((inner.dst(), inner.hop_limit()), (ip6("2001:db8:99::5"), 63));
    // And back: IPv6 inside, unwrapped, forwarded to the lan.
    io.sent.clear();
    let mut back = vec![0u8; 40];
    let payload = vec![0u8; 8];
    Ipv6Repr {
        src: ip6("2001:db8:99::5"),
        dst: ip6("fd00:1::2"),
        next_header: nh::NO_NEXT,
        payload_len: 8,
        hop_limit: 9,
    }
    .emit(&mut Ipv6Packet::new_unchecked(&mut back[..]));
    back.extend_from_slice(&payload);
    run(&mut r, &t, &mut io, 1, &wrapped(None, &back, 0), 0);
    assert_eq!(io.sent.len(), 1);
    let p = Ipv6Packet::new_checked(&io.sent[0].data()[14..]).unwrap();
    assert_eq!((p.dst(), p.hop_limit()), (ip6("fd00:1::2"), 8));
    // RFC 2473 over IPv6: IPv4 inside as next header 4.
    let t = tunnel_tables(TunnelKind::Ip, true);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 100, 0x2e, false), 0);
    let outer = Ipv6Packet::new_checked(&io.sent[0].data()[14..]).unwrap();
    let o = (outer.src(), outer.dst(), outer.next_header(), outer.hop_limit(), outer.traffic_class());
    assert_eq!(o, (ip6("2001:db8:1::1"), ip6("2001:db8:1::2"), 4, 64, 0x2e));
    assert_ne!(outer.flow_label(), 0, "a flow label from the inner flow (RFC 6438)");
    assert_eq!(Ipv4Packet::new_checked(outer.payload()).unwrap().dst(), ip("198.18.0.5"));
}

#[test]
fn ecn_is_combined_on_the_way_in_rfc6040() {
    let t = tunnel_tables(GRE, false);
    let (mut r, mut io) = router(&t);
    let udp_in = |tos| inner4("172.16.0.2", "10.0.1.2", Protocol::Udp, &udp("172.16.0.2", "10.0.1.2", 5, 6, 10), tos);
    // CE outside, ECT(0) inside: the inner packet is marked CE.
    run(&mut r, &t, &mut io, 1, &wrapped(Some(None), &udp_in(0x02), 0x03), 0);
    let p = sent_ip(&io.sent[0]);
    assert_eq!(p.tos() & 3, 3);
    assert!(p.verify_checksum());
    // CE outside, Not-ECT inside: dropped.
    run(&mut r, &t, &mut io, 1, &wrapped(Some(None), &udp_in(0x00), 0x03), 0);
    assert_eq!((io.sent.len(), r.counters.dropped(DropReason::TunnelEcn)), (1, 1));
}

#[test]
fn unknown_keys_malformed_gre_nested_tunnels_and_loops_are_refused() {
    let t = tunnel_tables(TunnelKind::Gre { key: Some(7) }, false);
    let (mut r, mut io) = router(&t);
    let inner = inner4("172.16.0.2", "10.0.1.2", Protocol::Udp, &udp("172.16.0.2", "10.0.1.2", 5, 6, 10), 0);
    // Another key: no tunnel of ours; answered as a protocol we do not serve.
    run(&mut r, &t, &mut io, 1, &wrapped(Some(Some(8)), &inner, 0), 0);
    assert_eq!(&icmp_of(&sent_ip(&io.sent[0]))[..2], &[3, 2]);
    // GRE version 1 (PPTP's): malformed.
    let mut bad = wrapped(Some(Some(7)), &inner, 0);
    bad[14 + 20 + 1] = 1;
    run(&mut r, &t, &mut io, 1, &bad, 0);
    assert_eq!(r.counters.dropped(DropReason::TunnelMalformed), 1);
    // A tunnel packet inside ours, for us again.
    let nested = wrapped(Some(Some(7)), &inner, 0);
    let nested_inner = nested[14..].to_vec();
    let mut twice = wrapped(Some(Some(7)), &nested_inner, 0);
    // The inner outer header is from the tunnel's far end too.
    let _ = &mut twice;
    run(&mut r, &t, &mut io, 1, &twice, 0);
    assert_eq!(r.counters.dropped(DropReason::TunnelNested), 1);
    // The far end routed into the tunnel itself: a loop.
    let mut t = tunnel_tables(GRE, false);
    t.ifaces[2].tunnel =
        Some(Tunnel { kind: GRE, local: ip("203.0.113.1").into(), remote: ip("198.18.0.1").into(), ttl: 64 });
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 10, 0, false), 0);
    assert_eq!(r.counters.dropped(DropReason::TunnelLoop), 1);
    assert!(io.sent.is_empty());
}

/// A SYN with MSS `mss` (option first), from `src` to `dst`.
fn syn(src: &str, dst: &str, mss: u16) -> Vec<u8> {
    let mut s = vec![0u8; 24];
    s[..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
    s[12] = 6 << 4;
    s[13] = tcp::flags::SYN;
    s[20..24].copy_from_slice(&[2, 4, 0, 0]);
    s[22..24].copy_from_slice(&mss.to_be_bytes());
    TcpPacket::new_checked(&mut s[..]).unwrap().fill_checksum(ip(src), ip(dst));
    s
}

fn mss_of(seg: &[u8]) -> u16 {
    u16::from_be_bytes([seg[22], seg[23]])
}

#[test]
fn syns_in_and_out_of_a_clamping_tunnel_get_an_mss_that_fits() {
    let mut t = tunnel_tables(GRE, false);
    t.ifaces[2].mss_clamp = true;
    let (mut r, mut io) = router(&t);
    // Out: 1476 - 40.
    let out = ipv4_frame("10.0.1.2", "198.18.0.5", 64, Protocol::Tcp, &syn("10.0.1.2", "198.18.0.5", 1460), true);
    run(&mut r, &t, &mut io, 0, &out, 0);
    let outer = sent_ip(&io.sent[0]);
    let inner = Ipv4Packet::new_checked(&outer.payload()[4..]).unwrap();
    let seg = TcpPacket::new_checked(inner.payload()).unwrap();
    assert_eq!(mss_of(inner.payload()), 1436);
    assert!(seg.verify_checksum(inner.src(), inner.dst()));
    // In: the SYN-ACK's MSS from the far side, lowered on its way to the lan.
    io.sent.clear();
    let back = inner4("198.18.0.5", "10.0.1.2", Protocol::Tcp, &syn("198.18.0.5", "10.0.1.2", 1460), 0);
    run(&mut r, &t, &mut io, 1, &wrapped(Some(None), &back, 0), 0);
    let p = sent_ip(&io.sent[0]);
    assert_eq!(mss_of(p.payload()), 1436);
    assert!(TcpPacket::new_checked(p.payload()).unwrap().verify_checksum(p.src(), p.dst()));
    // Small MSS values stay; other interfaces are not touched.
    io.sent.clear();
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &ipv4_frame("10.0.1.2", "198.18.0.5", 64, Protocol::Tcp, &syn("10.0.1.2", "198.18.0.5", 536), true),
        0,
    );
    let outer = sent_ip(&io.sent[0]);
    assert_eq!(mss_of(Ipv4Packet::new_checked(&outer.payload()[4..]).unwrap().payload()), 536);
    io.sent.clear();
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &ipv4_frame("10.0.1.2", "198.51.100.5", 64, Protocol::Tcp, &syn("10.0.1.2", "198.51.100.5", 1460), true),
        0,
    );
    assert_eq!(mss_of(sent_ip(&io.sent[0]).payload()), 1460, "lan to wan: no clamp");
    assert_eq!(r.counters.mss_clamped, 2);
}

/// The frame `frame` sent through the fast path (a burst of one) and
/// through the full path, by routers of their own: the two outputs.
fn both_paths(t: &Tables, port: u16, frame: &[u8]) -> (Router<VecBuf>, Vec<VecBuf>, Vec<VecBuf>) {
    let (mut slow, mut io) = router(t);
    run(&mut slow, t, &mut io, port, frame, 0);
    let (mut fast, mut fio) = router(t);
    fast.process_burst(t, port, &mut [Some(VecBuf::from_frame(port, frame))], 0, &mut fio);
    (fast, io.sent, fio.sent)
}

/// Equal but for the outer identification and checksum.
fn same_but_ident(a: &[u8], b: &[u8]) {
    assert_eq!(a.len(), b.len());
    let skip = |i: usize| (18..20).contains(&i) || (24..26).contains(&i);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(skip(i) || x == y, "byte {i}: {x:#x} vs {y:#x}");
    }
}

#[test]
fn the_fast_path_wraps_as_the_full_path_does() {
    for (kind, key) in [(TunnelKind::Gre { key: Some(7) }, true), (GRE, false), (TunnelKind::Ip, false)] {
        let t = tunnel_tables(kind, false);
        let frame = udp_to("198.18.0.5", 100, 0xb8 | 2, true);
        let (fast, slow, quick) = both_paths(&t, 0, &frame);
        assert_eq!((slow.len(), quick.len()), (1, 1), "{kind:?}");
        same_but_ident(slow[0].data(), quick[0].data());
        assert_eq!(quick[0].port(), 1);
        assert!(sent_ip(&quick[0]).verify_checksum(), "{kind:?} key {key}");
        assert_eq!((fast.counters.fast_path, fast.counters.encapsulated), (1, 1));
    }
    // IPv6 inside GRE over IPv4.
    let t = tunnel_tables(GRE, false);
    let mut u = vec![0u8; 8 + 20];
    u[4..6].copy_from_slice(&28u16.to_be_bytes());
    let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("2001:db8:99::5"), nh::UDP, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let f6 = super::ip6::ipv6_frame(GW_LAN, "fd00:1::2", "2001:db8:99::5", 64, nh::UDP, &u);
    let (fast, slow, quick) = both_paths(&t, 0, &f6);
    same_but_ident(slow[0].data(), quick[0].data());
    assert_eq!(fast.counters.fast_path, 1);
}

#[test]
fn the_fast_path_unwraps_as_the_full_path_does() {
    let inner = inner4("172.16.0.2", "10.0.1.2", Protocol::Udp, &udp("172.16.0.2", "10.0.1.2", 5, 6, 50), 0x02);
    for (kind, gre) in [(TunnelKind::Gre { key: Some(7) }, Some(Some(7))), (GRE, Some(None)), (TunnelKind::Ip, None)] {
        let t = tunnel_tables(kind, false);
        // CE outside, ECT(0) inside: marked CE on both paths.
        let frame = wrapped(gre, &inner, 0x03);
        let (fast, slow, quick) = both_paths(&t, 1, &frame);
        assert_eq!((slow.len(), quick.len()), (1, 1), "{kind:?}");
        assert_eq!(slow[0].data(), quick[0].data(), "{kind:?}");
        assert_eq!(sent_ip(&quick[0]).tos() & 3, 3);
        assert_eq!((fast.counters.fast_path, fast.counters.decapsulated), (1, 1), "{kind:?}");
    }
    // What the fast path cannot finish, it hands over unwrapped: an echo
    // request to our tunnel address is answered, wrapped, by the full path.
    let t = tunnel_tables(GRE, false);
    let ping = inner4("172.16.0.2", "172.16.0.1", Protocol::Icmp, &echo_payload(), 0);
    let (fast, slow, quick) = both_paths(&t, 1, &wrapped(Some(None), &ping, 0));
    assert_eq!((slow.len(), quick.len()), (1, 1));
    same_but_ident(slow[0].data(), quick[0].data());
    assert_eq!((fast.counters.fast_path, fast.counters.decapsulated, fast.counters.local), (0, 1, 1));
    // CE on an inner packet that cannot carry it: the full path drops it.
    let not_ect = inner4("172.16.0.2", "10.0.1.2", Protocol::Udp, &udp("172.16.0.2", "10.0.1.2", 5, 6, 50), 0);
    let (fast, _, quick) = both_paths(&t, 1, &wrapped(Some(None), &not_ect, 0x03));
    assert!(quick.is_empty());
    assert_eq!(fast.counters.dropped(DropReason::TunnelEcn), 1);
}

#[test]
fn an_inner_packet_shorter_than_its_header_is_malformed_on_both_paths() {
    let t = tunnel_tables(GRE, false);
    for inner in [&[0x60u8][..], &[0x45, 0, 0, 20][..], &[0x60, 0, 0, 0, 0, 0, 0, 0][..]] {
        let frame = wrapped(Some(None), inner, 0x03);
        let (fast, slow, quick) = both_paths(&t, 1, &frame);
        assert!(slow.is_empty() && quick.is_empty(), "{inner:?}");
        assert_eq!(fast.counters.dropped(DropReason::TunnelMalformed), 1, "{inner:?}");
    }
}

/// An ICMP error from the underlay router (the wan host) to our address,
/// type 3 code 4 with `mtu`, quoting the first 28 bytes past the outer
/// header of `outer` (an IPv4 packet of ours), as RFC 792 asks at least.
fn frag_needed_about(outer: &[u8], mtu: u16) -> Vec<u8> {
    let mut icmp = vec![3, 4, 0, 0, 0, 0];
    icmp.extend_from_slice(&mtu.to_be_bytes());
    icmp.extend_from_slice(&outer[..outer.len().min(20 + 28)]);
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = ipv4_frame("203.0.113.2", "203.0.113.1", 64, Protocol::Icmp, &icmp, false);
    f[..12].copy_from_slice(&[GW_WAN.0, WAN_HOST.0].concat());
    f
}

/// The Fragmentation Needed a frame from the LAN host got back: its MTU.
fn told_mtu(sent: &[VecBuf]) -> Option<u16> {
    let p = sent_ip(sent.first()?);
    let icmp = icmp_of(&p);
    (icmp[..2] == [3, 4]).then(|| u16::from_be_bytes([icmp[6], icmp[7]]))
}

#[test]
fn the_underlays_fragmentation_needed_lowers_the_tunnel_mtu_rfc2003_4() {
    let t = tunnel_tables(TunnelKind::Gre { key: Some(7) }, false);
    let (mut r, mut io) = router(&t);
    // A 1400-byte packet with DF leaves wrapped (the tunnel's MTU is 1472).
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1400 - 28, 0, true), 0);
    let outer = io.sent.pop().unwrap().data()[14..].to_vec();
    assert_eq!(outer.len(), 1428);
    // Reports that name no tunnel of ours change nothing: another key,
    // another far end, a packet that is not a tunnel's.
    let mut other_key = outer.clone();
    other_key[20 + 4..20 + 8].copy_from_slice(&8u32.to_be_bytes());
    let mut other_end = outer.clone();
    other_end[16..20].copy_from_slice(&[203, 0, 113, 9]);
    let mut not_tunnel = outer.clone();
    not_tunnel[9] = 17;
    for forged in [&other_key, &other_end, &not_tunnel] {
        run(&mut r, &t, &mut io, 1, &frag_needed_about(forged, 1300), 0);
    }
    assert_eq!(r.counters.tunnel_path_mtu_updates, 0);
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1400 - 28, 0, true), 0);
    assert_eq!(io.sent.pop().unwrap().len(), 14 + 1428, "still the tunnel's own MTU");
    // The underlay's report about one of our packets: the path is 1300
    // bytes, the tunnel 1300 less GRE with a key (28).
    io.sent.clear();
    run(&mut r, &t, &mut io, 1, &frag_needed_about(&outer, 1300), 1);
    assert!(io.sent.is_empty(), "taken, not answered nor punted");
    assert_eq!(r.counters.tunnel_path_mtu_updates, 1);
    // Both paths now answer what does not fit with 1272 ...
    let big = udp_to("198.18.0.5", 1400 - 28, 0, true);
    run(&mut r, &t, &mut io, 0, &big, 2);
    assert_eq!(told_mtu(&io.sent), Some(1272));
    io.sent.clear();
    r.process_burst(&t, 0, &mut [Some(VecBuf::from_frame(0, &big))], 2, &mut io);
    assert_eq!(told_mtu(&io.sent), Some(1272), "the fast path too");
    // ... carry what fits ...
    io.sent.clear();
    let fits = udp_to("198.18.0.5", 1272 - 28, 0, true);
    r.process_burst(&t, 0, &mut [Some(VecBuf::from_frame(0, &fits))], 2, &mut io);
    assert_eq!(io.sent.pop().unwrap().len(), 14 + 1300);
    // ... and cut what has no DF into fragments that fit the path.
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1400 - 28, 0, false), 2);
    assert_eq!(io.sent.len(), 2);
    assert!(io.sent.iter().all(|f| sent_ip(f).total_len() <= 1300));
    // Ten minutes on, the tunnel's own MTU is tried again.
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &big, crate::path_mtu::AGE_NS + 2);
    assert_eq!(io.sent.pop().unwrap().len(), 14 + 1428);
}

#[test]
fn packet_too_big_lowers_a_tunnel_over_ipv6_and_1280_always_goes_in_rfc2473_8() {
    let t = tunnel_tables(GRE, true);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1400 - 28, 0, true), 0);
    let outer = io.sent.pop().unwrap().data()[14..].to_vec();
    assert_eq!((outer[0] >> 4, outer.len()), (6, 40 + 4 + 1400));
    // Packet Too Big from the underlay router, 1300 bytes: the tunnel
    // takes 1300 less IPv6 and GRE (44).
    let mut msg = vec![2, 0, 0, 0];
    msg.extend_from_slice(&1300u32.to_be_bytes());
    msg.extend_from_slice(&outer[..1000]);
    let ptb = super::ip6::icmp6("2001:db8:1::2", "2001:db8:1::1", msg);
    let mut f = super::ip6::ipv6_frame(GW_WAN, "2001:db8:1::2", "2001:db8:1::1", 64, nh::ICMPV6, &ptb);
    f[6..12].copy_from_slice(&WAN_HOST.0);
    run(&mut r, &t, &mut io, 1, &f, 1);
    assert_eq!(r.counters.tunnel_path_mtu_updates, 1);
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp_to("198.18.0.5", 1400 - 28, 0, true), 2);
    assert_eq!(told_mtu(&io.sent), Some(1256));
    // IPv6 inside: 1280 bytes go in whole (the outer packet is cut to
    // fit outside, RFC 2473 §7.1); more are refused with 1280, never less.
    let six = |len: usize| {
        let mut u = vec![0u8; len - 40];
        u[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
        let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("2001:db8:99::5"), nh::UDP, &u);
        u[6..8].copy_from_slice(&c.to_be_bytes());
        super::ip6::ipv6_frame(GW_LAN, "fd00:1::2", "2001:db8:99::5", 64, nh::UDP, &u)
    };
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &six(1280), 3);
    assert!(!io.sent.is_empty() && io.sent.iter().all(|f| f.port() == 1 && f.len() <= 14 + 1300));
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &six(1300), 3);
    let p = Ipv6Packet::new_checked(&io.sent[0].data()[14..]).unwrap();
    let m = p.payload();
    assert_eq!((m[0], u32::from_be_bytes([m[4], m[5], m[6], m[7]])), (2, 1280));
}

#[test]
fn a_report_one_worker_takes_lowers_the_tunnel_for_every_worker() {
    let t = tunnel_tables(TunnelKind::Gre { key: Some(7) }, false);
    let shared = std::sync::Arc::new(crate::path_mtu::PathMtus::default());
    let (mut a, mut io_a) = router(&t);
    let (mut b, mut io_b) = router(&t);
    a.set_path_mtus(shared.clone());
    b.set_path_mtus(shared);
    let big = udp_to("198.18.0.5", 1400 - 28, 0, true);
    run(&mut a, &t, &mut io_a, 0, &big, 0);
    let outer = io_a.sent.pop().unwrap().data()[14..].to_vec();
    // The report reaches worker a; worker b answers with the lower MTU.
    run(&mut a, &t, &mut io_a, 1, &frag_needed_about(&outer, 1300), 1);
    assert_eq!((a.counters.tunnel_path_mtu_updates, b.counters.tunnel_path_mtu_updates), (1, 0));
    b.process_burst(&t, 0, &mut [Some(VecBuf::from_frame(0, &big))], 2, &mut io_b);
    assert_eq!(told_mtu(&io_b.sent), Some(1272));
}

/// A report that lowers a tunnel's path MTU holds for the frames after it
/// in the same burst: the fast path remembers a burst's last next hop
/// with its MTU (from the second frame, the first filling the entry),
/// and forgets it when the report is taken.
#[test]
fn a_report_holds_for_the_frames_after_it_in_its_burst() {
    let t = tunnel_tables(TunnelKind::Gre { key: Some(7) }, false);
    // Into the tunnel from the wan side, so the report shares the burst.
    let mut big = udp_to("198.18.0.5", 1400 - 28, 0, true);
    big[..6].copy_from_slice(&GW_WAN.0);
    let (mut first, mut io) = router(&t);
    run(&mut first, &t, &mut io, 1, &big, 0);
    let outer = io.sent.pop().unwrap().data()[14..].to_vec();
    let report = frag_needed_about(&outer, 1300);
    let (mut r, mut io) = router(&t);
    let mut burst = [big.clone(), big.clone(), report, big].map(|f| Some(VecBuf::from_frame(1, &f)));
    r.process_burst(&t, 1, &mut burst, 1, &mut io);
    assert_eq!(r.counters.tunnel_path_mtu_updates, 1);
    assert_eq!(r.counters.fast_path, 2, "the first two");
    assert_eq!(io.sent.len(), 3, "two wrapped, one answered");
    let (wrapped, told): (Vec<VecBuf>, Vec<VecBuf>) = io.sent.drain(..).partition(|f| f.len() == 14 + 1428);
    assert_eq!((wrapped.len(), told_mtu(&told)), (2, Some(1272)), "the first two wrapped, the last told 1272");
}

/// An ICMPv4 error of `kind` and `code` from the wan host about `outer`
/// (one of our outer packets), quoting `quote` bytes of it.
fn error_about(outer: &[u8], kind: u8, code: u8, quote: usize) -> Vec<u8> {
    let mut icmp = vec![kind, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&outer[..outer.len().min(quote)]);
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = ipv4_frame("203.0.113.2", "203.0.113.1", 64, Protocol::Icmp, &icmp, false);
    f[..12].copy_from_slice(&[GW_WAN.0, WAN_HOST.0].concat());
    f
}

const SECOND: u64 = 1_000_000_000;

#[test]
fn an_unreachable_far_end_is_told_to_the_inner_sender_rfc2003_4_1() {
    let t = tunnel_tables(TunnelKind::Gre { key: Some(7) }, false);
    let (mut r, mut io) = router(&t);
    let sent = udp_to("198.18.0.5", 100, 0, false);
    run(&mut r, &t, &mut io, 0, &sent, 0);
    let outer = io.sent.pop().unwrap().data()[14..].to_vec();
    // Host Unreachable and Time Exceeded (a loop in the tunnel) become
    // Host Unreachable, Net Unreachable stays so; each from our lan
    // address to the inner sender, quoting the inner packet as it left.
    for (i, (kind, code, told)) in [(3, 1, 1), (11, 0, 1), (3, 0, 0), (3, 2, 1)].into_iter().enumerate() {
        io.sent.clear();
        run(&mut r, &t, &mut io, 1, &error_about(&outer, kind, code, 576), i as u64 * SECOND);
        assert_eq!(io.sent.len(), 1, "type {kind} code {code}");
        assert_eq!(io.sent[0].port(), 0, "to the lan");
        let p = sent_ip(&io.sent[0]);
        assert_eq!((p.src(), p.dst()), (ip("10.0.1.1"), ip("10.0.1.2")));
        let icmp = icmp_of(&p);
        assert_eq!((icmp[0], icmp[1]), (3, told), "type {kind} code {code}");
        assert_eq!(checksum::checksum(icmp), 0);
        // The inner packet: ours after forwarding (TTL 63), not the outer.
        let quoted = &icmp[8..];
        assert_eq!(&quoted[12..20], &sent[14 + 12..14 + 20]);
        assert_eq!((quoted[8], quoted.len()), (63, sent.len() - 14));
    }
    assert_eq!(r.counters.dropped(DropReason::TunnelUnreachable), 4);
    // Not relayed: Port Unreachable and Source Route Failed (RFC 2003
    // §4.1), an error naming no tunnel of ours (another key), and one
    // whose quote stops at the outer packet's 8 bytes.
    let mut other_key = outer.clone();
    other_key[20 + 4..20 + 8].copy_from_slice(&8u32.to_be_bytes());
    for (i, f) in [
        error_about(&outer, 3, 3, 576),
        error_about(&outer, 3, 5, 576),
        error_about(&other_key, 3, 1, 576),
        error_about(&outer, 3, 1, 28),
    ]
    .iter()
    .enumerate()
    {
        io.sent.clear();
        run(&mut r, &t, &mut io, 1, f, (10 + i as u64) * SECOND);
        assert!(io.sent.is_empty(), "case {i}");
    }
    assert_eq!(r.counters.dropped(DropReason::IcmpIgnored), 3);
    assert_eq!(r.counters.dropped(DropReason::TunnelErrorShort), 1);
    assert_eq!(r.counters.dropped(DropReason::TunnelUnreachable), 4);
}

#[test]
fn an_ipv6_sender_through_an_ipv4_tunnel_hears_address_unreachable() {
    let t = tunnel_tables(GRE, false);
    let (mut r, mut io) = router(&t);
    let mut u = vec![0u8; 48];
    u[4..6].copy_from_slice(&48u16.to_be_bytes());
    let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("2001:db8:99::5"), nh::UDP, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    let six = super::ip6::ipv6_frame(GW_LAN, "fd00:1::2", "2001:db8:99::5", 64, nh::UDP, &u);
    run(&mut r, &t, &mut io, 0, &six, 0);
    let outer = io.sent.pop().unwrap().data()[14..].to_vec();
    run(&mut r, &t, &mut io, 1, &error_about(&outer, 3, 1, 576), 1);
    assert_eq!(io.sent.len(), 1);
    let p = Ipv6Packet::new_checked(&io.sent[0].data()[14..]).unwrap();
    assert_eq!((p.src(), p.dst()), (ip6("fd00:1::1"), ip6("fd00:1::2")));
    let m = p.payload();
    assert_eq!((m[0], m[1]), (1, 3), "Destination Unreachable, address unreachable");
    // The inner packet as it left: its hop limit one less.
    assert_eq!((&m[8..15], m[15], &m[16..]), (&six[14..21], 63, &six[22..]));
}

#[test]
fn time_exceeded_within_an_ipv6_tunnel_is_told_to_the_inner_sender_rfc2473_8_1() {
    let t = tunnel_tables(TunnelKind::Ip, true);
    let (mut r, mut io) = router(&t);
    let sent = udp_to("198.18.0.5", 100, 0, false);
    run(&mut r, &t, &mut io, 0, &sent, 0);
    let outer = io.sent.pop().unwrap().data()[14..].to_vec();
    assert_eq!((outer[0] >> 4, outer[6]), (6, 4), "IPv4 in IPv6");
    let error = |kind: u8, code: u8| {
        let mut msg = vec![kind, code, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&outer);
        let m = super::ip6::icmp6("2001:db8:1::2", "2001:db8:1::1", msg);
        let mut f = super::ip6::ipv6_frame(GW_WAN, "2001:db8:1::2", "2001:db8:1::1", 64, nh::ICMPV6, &m);
        f[6..12].copy_from_slice(&WAN_HOST.0);
        f
    };
    run(&mut r, &t, &mut io, 1, &error(3, 0), 1);
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert_eq!(p.dst(), ip("10.0.1.2"));
    assert_eq!(&icmp_of(&p)[..2], &[3, 1], "Host Unreachable");
    // Port Unreachable cannot be about a tunnel: not relayed.
    io.sent.clear();
    run(&mut r, &t, &mut io, 1, &error(1, 4), 2 * SECOND);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::TunnelUnreachable), 1);
}
