//! Pipeline tests: frames in through `Router::process`, frames and
//! counters out, time injected. Frames are built here the way the lab's
//! Linux peers send them.

use super::*;
use crate::buf::PacketBuf;
use crate::buf::VecBuf;
use crate::drop::DropReason;
use crate::fib::NextHop;
use crate::hooks::Verdict;
use crate::icmp;
use crate::iface::{Interface, Tables};
use crate::iface::{Ipv4Cidr, StaticNeighbor, StaticRoute};
use crate::settings::RouterConfig;
use crate::wire::arp::{ArpPacket, ArpRepr, Operation};
use crate::wire::checksum;
use crate::wire::ethernet::{EtherType, EthernetFrame};
use crate::wire::ipv4::Ipv4Repr;
use crate::wire::ipv4::{Ipv4Packet, Protocol};
use crate::wire::tcp::{self, TcpPacket};
use crate::wire::udp::{UdpPacket, UdpRepr};
use crate::wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr};

const SEC: u64 = 1_000_000_000;
const GW_LAN: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const GW_WAN: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);
const LAN_HOST: MacAddr = MacAddr([2, 0, 0, 0, 1, 2]);
const WAN_HOST: MacAddr = MacAddr([2, 0, 0, 0, 2, 2]);

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[derive(Default)]
struct TestIo {
    sent: Vec<VecBuf>,
    learned: Vec<(u16, IpAddr, MacAddr, bool)>,
    no_buffers: bool,
    /// Frames handed to another worker, with the worker and the tag.
    handed: Vec<(VecBuf, u16, u8)>,
    /// Frames handed to the kernel twin, with the interface; none are
    /// taken while `punt_full`.
    punted: Vec<(u16, VecBuf)>,
    punt_full: bool,
}

impl Io<VecBuf> for TestIo {
    fn alloc(&mut self) -> Option<VecBuf> {
        (!self.no_buffers).then(|| VecBuf::new(0))
    }
    fn send(&mut self, pkt: VecBuf) {
        self.sent.push(pkt);
    }
    fn neighbor_learned(&mut self, n: NeighborNews) {
        self.learned.push((n.ifindex, n.ip, n.mac, n.confirmed));
    }
    fn handoff(&mut self, pkt: VecBuf, worker: u16, tag: u8) -> Result<(), VecBuf> {
        self.handed.push((pkt, worker, tag));
        Ok(())
    }
    fn punt(&mut self, ifindex: u16, pkt: VecBuf) -> Result<(), VecBuf> {
        if self.punt_full {
            return Err(pkt);
        }
        self.punted.push((ifindex, pkt));
        Ok(())
    }
}

fn iface(name: &str, port: u16, mac: MacAddr, addr: &str, mtu: u16) -> Interface {
    Interface {
        name: name.into(),
        port,
        mac,
        mtu,
        addrs: vec![addr.parse::<Ipv4Cidr>().unwrap()],
        ..Default::default()
    }
}

/// 198.51.100.0/24 via 203.0.113.2, and 192.0.2.0/24 over two next hops
/// (ECMP), both on the wan (interface 1).
fn wan_routes() -> Vec<StaticRoute> {
    vec![
        StaticRoute::Via {
            dst: "198.51.100.0/24".parse().unwrap(),
            hops: vec![NextHop { ifindex: 1, gateway: ip("203.0.113.2") }],
        },
        StaticRoute::Via {
            dst: "192.0.2.0/24".parse().unwrap(),
            hops: vec![
                NextHop { ifindex: 1, gateway: ip("203.0.113.2") },
                NextHop { ifindex: 1, gateway: ip("203.0.113.3") },
            ],
        },
    ]
}

/// The lab: lan 10.0.1.1/24 on port 0, wan 203.0.113.1/24 on port 1, and
/// 198.51.100.0/24 via 203.0.113.2.
fn tables(statics: bool, wan_mtu: u16) -> Tables {
    let ifaces = vec![iface("lan", 0, GW_LAN, "10.0.1.1/24", 1500), iface("wan", 1, GW_WAN, "203.0.113.1/24", wan_mtu)];
    let mut routes = wan_routes();
    routes.push(StaticRoute::Blackhole { dst: "100.64.0.0/10".parse().unwrap() });
    routes.push(StaticRoute::Unreachable { dst: "100.128.0.0/10".parse().unwrap() });
    let neighbors = if statics {
        vec![
            StaticNeighbor { ifindex: 0, ip: ip("10.0.1.2").into(), mac: LAN_HOST },
            StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac: WAN_HOST },
            StaticNeighbor { ifindex: 1, ip: ip("203.0.113.3").into(), mac: MacAddr([2, 0, 0, 0, 2, 3]) },
        ]
    } else {
        vec![]
    };
    Tables::build(ifaces, &routes, &[], neighbors, 1).unwrap()
}

fn router(t: &Tables) -> (Router<VecBuf>, TestIo) {
    let mut r = Router::new(RouterConfig::default());
    let mut io = TestIo::default();
    r.sync(t, 0, &mut io);
    (r, io)
}

fn eth(dst: MacAddr, src: MacAddr, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 frame from the LAN host to the gateway's MAC.
fn ipv4_frame(src: &str, dst: &str, ttl: u8, protocol: Protocol, payload: &[u8], df: bool) -> Vec<u8> {
    let mut f = eth(GW_LAN, LAN_HOST, 0x0800);
    let mut ipb = vec![0u8; 20 + payload.len()];
    ipb[20..].copy_from_slice(payload);
    Ipv4Repr {
        src: ip(src),
        dst: ip(dst),
        protocol,
        payload_len: payload.len(),
        ttl,
        tos: 0,
        ident: 0x1c46,
        dont_frag: df,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut ipb[..]));
    f.extend_from_slice(&ipb);
    f
}

fn udp(src: &str, dst: &str, sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; 8 + len];
    b[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    UdpRepr { src_port: sport, dst_port: dport, payload_len: len }.emit(
        &mut UdpPacket::new_checked(&mut b[..]).unwrap_or_else(|_| unreachable!()),
        ip(src),
        ip(dst),
    );
    b
}

fn udp_frame(dst: &str, ttl: u8) -> Vec<u8> {
    ipv4_frame("10.0.1.2", dst, ttl, Protocol::Udp, &udp("10.0.1.2", dst, 40000, 9, 18), false)
}

fn echo_request(src: &str, dst: &str) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4_frame(src, dst, 64, Protocol::Icmp, &icmp, true)
}

fn arp_frame(op: Operation, sender_hw: MacAddr, sender_ip: &str, target_ip: &str, eth_dst: MacAddr) -> Vec<u8> {
    let mut f = eth(eth_dst, sender_hw, 0x0806);
    let mut a = [0u8; 28];
    ArpRepr {
        operation: op,
        sender_hw,
        sender_ip: ip(sender_ip),
        target_hw: if op == Operation::Reply { eth_dst } else { MacAddr::ZERO },
        target_ip: ip(target_ip),
    }
    .emit(&mut ArpPacket::new_checked(&mut a[..]).unwrap());
    f.extend_from_slice(&a);
    f
}

fn run(r: &mut Router<VecBuf>, t: &Tables, io: &mut TestIo, port: u16, frame: &[u8], now: u64) {
    r.process(t, VecBuf::from_frame(port, frame), now, io);
}

/// The IPv4 header and payload of a sent frame.
/// `frame` (from the LAN host) with `options` inserted after its IPv4
/// header, lengths and checksum fixed.
fn with_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    let mut f = frame[..14 + 20].to_vec();
    f.extend_from_slice(options);
    f.extend_from_slice(&frame[14 + 20..]);
    let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
    p.set_ver_ihl(20 + options.len());
    let tl = p.total_len() + options.len() as u16;
    p.set_total_len(tl);
    p.fill_checksum();
    f
}

fn sent_ip(b: &VecBuf) -> Ipv4Packet<&[u8]> {
    Ipv4Packet::new_checked(&b.data()[14..]).unwrap()
}

fn icmp_of<'a>(p: &'a Ipv4Packet<&'a [u8]>) -> &'a [u8] {
    p.payload()
}

#[test]
fn arp_request_for_our_address_is_answered_rfc826() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &arp_frame(Operation::Request, LAN_HOST, "10.0.1.2", "10.0.1.1", MacAddr::BROADCAST),
        0,
    );
    assert_eq!(io.sent.len(), 1);
    let out = &io.sent[0];
    assert_eq!(out.port(), 0);
    let e = EthernetFrame::new_checked(out.data()).unwrap();
    assert_eq!((e.dst(), e.src(), e.ethertype()), (LAN_HOST, GW_LAN, EtherType::Arp));
    let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
    assert_eq!(a.operation, Operation::Reply);
    assert_eq!((a.sender_hw, a.sender_ip), (GW_LAN, ip("10.0.1.1")));
    assert_eq!((a.target_hw, a.target_ip), (LAN_HOST, ip("10.0.1.2")));
    // The requester is now a (stale) neighbor: RFC 826's merge.
    assert_eq!(r.neighbors().get(0, ip("10.0.1.2")).unwrap().mac, LAN_HOST);
    assert_eq!(r.counters.arp_replies, 1);
}

#[test]
fn arp_for_the_other_interfaces_address_is_not_answered() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &arp_frame(Operation::Request, LAN_HOST, "10.0.1.2", "203.0.113.1", MacAddr::BROADCAST),
        0,
    );
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::ArpNotForUs), 1);
    assert!(r.neighbors().is_empty(), "never create from ARP not aimed at us");
}

#[test]
fn proxy_arp_answers_for_nat_addresses_on_their_interface_only() {
    let mut ifaces =
        vec![iface("lan", 0, GW_LAN, "10.0.1.1/24", 1500), iface("wan", 1, GW_WAN, "203.0.113.1/24", 1500)];
    ifaces[1].proxy_arp = vec![ip("203.0.113.10")];
    let t = Tables::build(ifaces, &[], &[], vec![], 1).unwrap();
    let (mut r, mut io) = router(&t);
    let ask = |target| arp_frame(Operation::Request, WAN_HOST, "203.0.113.2", target, MacAddr::BROADCAST);
    run(&mut r, &t, &mut io, 1, &ask("203.0.113.10"), 0);
    assert_eq!(io.sent.len(), 1);
    let e = EthernetFrame::new_checked(io.sent[0].data()).unwrap();
    let a = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
    assert_eq!((a.operation, a.sender_hw, a.sender_ip), (Operation::Reply, GW_WAN, ip("203.0.113.10")));
    // Not for other addresses, nor on the other interface.
    io.sent.clear();
    run(&mut r, &t, &mut io, 1, &ask("203.0.113.11"), 0);
    let lan = arp_frame(Operation::Request, LAN_HOST, "10.0.1.2", "203.0.113.10", MacAddr::BROADCAST);
    run(&mut r, &t, &mut io, 0, &lan, 0);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::ArpNotForUs), 2);
}

#[test]
fn an_arp_flood_from_senders_on_no_connected_subnet_learns_none_of_them() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    // Requests for our address from 1,000 senders off lan's 10.0.1.0/24:
    // each is answered (RFC 826), none is learned.
    for i in 0..1000u32 {
        let sender = std::net::Ipv4Addr::from(0xc612_0000 | i).to_string(); // 198.18.x.y
        let mac = MacAddr([2, 0x77, 0, 0, (i >> 8) as u8, i as u8]);
        run(&mut r, &t, &mut io, 0, &arp_frame(Operation::Request, mac, &sender, "10.0.1.1", MacAddr::BROADCAST), 0);
    }
    assert_eq!(r.counters.arp_replies, 1000);
    assert!(r.neighbors().is_empty(), "no entry for a sender off the interface's subnets");
    // An on-link sender still is.
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &arp_frame(Operation::Request, LAN_HOST, "10.0.1.2", "10.0.1.1", MacAddr::BROADCAST),
        0,
    );
    assert_eq!(r.neighbors().get(0, ip("10.0.1.2")).unwrap().mac, LAN_HOST);
}

#[test]
fn unsolicited_arp_reply_creates_nothing() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &arp_frame(Operation::Reply, LAN_HOST, "10.0.1.2", "10.0.1.1", GW_LAN), 0);
    assert!(r.neighbors().is_empty());
    assert!(io.sent.is_empty());
}

#[test]
fn forward_resolves_next_hop_then_sends_with_ttl_decremented() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    let frame = udp_frame("203.0.113.2", 64);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    // The packet waits; a broadcast ARP request goes out on wan.
    assert_eq!(io.sent.len(), 1);
    let req = EthernetFrame::new_checked(io.sent[0].data()).unwrap();
    assert_eq!((req.dst(), req.src(), req.ethertype()), (MacAddr::BROADCAST, GW_WAN, EtherType::Arp));
    let a = ArpRepr::parse(&ArpPacket::new_checked(req.payload()).unwrap()).unwrap();
    assert_eq!((a.sender_ip, a.target_ip), (ip("203.0.113.1"), ip("203.0.113.2")));
    assert_eq!(io.sent[0].port(), 1);
    // The reply releases it.
    run(&mut r, &t, &mut io, 1, &arp_frame(Operation::Reply, WAN_HOST, "203.0.113.2", "203.0.113.1", GW_WAN), 1);
    assert_eq!(io.sent.len(), 2);
    assert_eq!(io.learned, vec![(1, ip("203.0.113.2").into(), WAN_HOST, true)]);
    // A second packet goes straight through.
    run(&mut r, &t, &mut io, 0, &frame, 2);
    assert_eq!(io.sent.len(), 3);
    for out in &io.sent[1..] {
        assert_eq!(out.port(), 1);
        let e = EthernetFrame::new_checked(out.data()).unwrap();
        assert_eq!((e.dst(), e.src()), (WAN_HOST, GW_WAN));
        let p = sent_ip(out);
        assert_eq!(p.ttl(), 63);
        assert!(p.verify_checksum());
        assert_eq!(&out.data()[14 + 20..], &frame[14 + 20..], "payload untouched");
    }
    assert_eq!(r.counters.forwarded, 2);
}

#[test]
fn ethernet_padding_is_trimmed_before_forwarding() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let mut frame = udp_frame("203.0.113.2", 64);
    let len = frame.len();
    frame.extend_from_slice(&[0; 10]);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert_eq!(io.sent[0].len(), len);
}

#[test]
fn ttl_one_gets_time_exceeded_from_ingress_address_rfc1812_5_3_1() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let frame = udp_frame("203.0.113.2", 1);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert_eq!(r.counters.dropped(DropReason::TtlExpired), 1);
    assert_eq!(io.sent.len(), 1);
    let out = &io.sent[0];
    assert_eq!(out.port(), 0);
    let p = sent_ip(out);
    assert_eq!((p.src(), p.dst(), p.protocol()), (ip("10.0.1.1"), ip("10.0.1.2"), Protocol::Icmp));
    let icmp = icmp_of(&p);
    assert_eq!((icmp[0], icmp[1]), (11, 0));
    assert_eq!(checksum::checksum(icmp), 0);
    assert_eq!(&icmp[8..], &frame[14..], "the original datagram, TTL 1 as received");
}

#[test]
fn unrouted_prefix_gets_net_unreachable_rfc1812_5_2_7_1() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp_frame("8.8.8.8", 64), 0);
    assert_eq!(r.counters.dropped(DropReason::NoRoute), 1);
    let p = sent_ip(&io.sent[0]);
    assert_eq!((icmp_of(&p)[0], icmp_of(&p)[1]), (3, 0));
    assert_eq!(p.src(), ip("10.0.1.1"));
}

#[test]
fn unreachable_and_blackhole_routes() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp_frame("100.64.0.1", 64), 0);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::RouteBlackhole), 1);
    run(&mut r, &t, &mut io, 0, &udp_frame("100.128.0.1", 64), 0);
    let p = sent_ip(&io.sent[0]);
    assert_eq!((icmp_of(&p)[0], icmp_of(&p)[1]), (3, 1));
}

#[test]
fn echo_request_to_either_address_is_answered() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    for dst in ["10.0.1.1", "203.0.113.1"] {
        io.sent.clear();
        let req = echo_request("10.0.1.2", dst);
        run(&mut r, &t, &mut io, 0, &req, 0);
        assert_eq!(io.sent.len(), 1, "{dst}");
        let out = &io.sent[0];
        let e = EthernetFrame::new_checked(out.data()).unwrap();
        assert_eq!((e.dst(), e.src(), out.port()), (LAN_HOST, GW_LAN, 0));
        let p = sent_ip(out);
        assert!(p.verify_checksum());
        assert_eq!((p.src(), p.dst()), (ip(dst), ip("10.0.1.2")));
        let icmp = icmp_of(&p);
        assert_eq!(icmp[0], 0);
        assert_eq!(checksum::checksum(icmp), 0);
        assert_eq!(&icmp[4..], &req[14 + 20 + 4..], "id, seq and data echoed");
    }
    assert_eq!(r.counters.local, 2);
}

#[test]
fn local_udp_gets_port_unreachable_and_other_protocols_protocol_unreachable() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &udp_frame("10.0.1.1", 64), 0);
    let p = sent_ip(&io.sent[0]);
    assert_eq!((icmp_of(&p)[0], icmp_of(&p)[1]), (3, 3));
    let gre = ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Unknown(47), &[0; 8], false);
    run(&mut r, &t, &mut io, 0, &gre, 0);
    let p = sent_ip(&io.sent[1]);
    assert_eq!((icmp_of(&p)[0], icmp_of(&p)[1]), (3, 2));
    assert_eq!(r.counters.dropped(DropReason::LocalPortUnreachable), 1);
    assert_eq!(r.counters.dropped(DropReason::LocalProtocolUnreachable), 1);
}

#[test]
fn local_tcp_syn_gets_rst_ack_rfc9293_3_10_7_1() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let mut seg = vec![0xa4, 0x10, 0, 80, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0];
    TcpPacket::new_checked(&mut seg[..]).unwrap().fill_checksum(ip("10.0.1.2"), ip("10.0.1.1"));
    run(&mut r, &t, &mut io, 0, &ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Tcp, &seg, true), 0);
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert_eq!((p.src(), p.dst(), p.protocol()), (ip("10.0.1.1"), ip("10.0.1.2"), Protocol::Tcp));
    let rst = TcpPacket::new_checked(p.payload()).unwrap();
    assert!(rst.verify_checksum(ip("10.0.1.1"), ip("10.0.1.2")));
    assert_eq!((rst.src_port(), rst.dst_port()), (80, 0xa410));
    assert_eq!(rst.flags(), tcp::flags::RST | tcp::flags::ACK);
    assert_eq!((rst.seq(), rst.ack()), (0, 0x1001));
}

#[test]
fn a_packet_from_0_0_0_0_is_not_forwarded_nor_answered_rfc1812_5_3_7() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // To a host beyond the gateway, to the gateway itself, and to no route.
    for dst in ["203.0.113.2", "10.0.1.1", "198.18.0.1"] {
        let before = r.counters.dropped(DropReason::Ipv4MartianSource);
        run(&mut r, &t, &mut io, 0, &ipv4_frame("0.0.0.0", dst, 64, Protocol::Udp, &[0; 8], false), 0);
        assert_eq!(r.counters.dropped(DropReason::Ipv4MartianSource), before + 1, "to {dst}");
    }
    assert!(io.sent.is_empty(), "neither forwarded nor answered");
}

#[test]
fn malformed_headers_are_dropped_silently_by_reason_rfc1812_5_2_2() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let good = udp_frame("203.0.113.2", 64);
    let mut bad_csum = good.clone();
    bad_csum[14 + 10] ^= 0xff;
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x44;
    let mut bad_ver = good.clone();
    bad_ver[14] = 0x65;
    let mut long_total = good.clone();
    long_total[14 + 2..14 + 4].copy_from_slice(&2000u16.to_be_bytes());
    let cases: Vec<(Vec<u8>, DropReason)> = vec![
        (good[..10].to_vec(), DropReason::EthTruncated),
        (good[..30].to_vec(), DropReason::Ipv4Truncated),
        (bad_csum, DropReason::Ipv4BadChecksum),
        (bad_ihl, DropReason::Ipv4BadHeaderLength),
        (bad_ver, DropReason::Ipv4BadVersion),
        (long_total, DropReason::Ipv4BadTotalLength),
        (udp_frame("203.0.113.2", 64).into_iter().take(40).collect(), DropReason::Ipv4BadTotalLength),
        (ipv4_frame("127.0.0.1", "203.0.113.2", 64, Protocol::Udp, &[0; 8], false), DropReason::Ipv4MartianSource),
        (ipv4_frame("10.0.1.2", "0.1.2.3", 64, Protocol::Udp, &[0; 8], false), DropReason::Ipv4MartianDestination),
        (ipv4_frame("10.0.1.2", "224.0.0.5", 64, Protocol::Udp, &[0; 8], false), DropReason::Ipv4Broadcast),
        (ipv4_frame("10.0.1.2", "10.0.1.255", 64, Protocol::Udp, &[0; 8], false), DropReason::Ipv4Broadcast),
        ([eth(GW_LAN, LAN_HOST, 0x8100), vec![0, 5], vec![0; 28]].concat(), DropReason::VlanNotConfigured),
        ([eth(GW_LAN, LAN_HOST, 0x88a8), vec![0, 5], vec![0; 28]].concat(), DropReason::VlanNotConfigured),
        (eth(GW_LAN, LAN_HOST, 0x8100), DropReason::VlanTruncated),
        ([eth(GW_LAN, LAN_HOST, 0x86dd), vec![0; 60]].concat(), DropReason::Ipv6Disabled),
        ([eth(GW_LAN, LAN_HOST, 0x88b5), vec![0; 30]].concat(), DropReason::EthUnknownType),
        ([eth(MacAddr([2, 9, 9, 9, 9, 9]), LAN_HOST, 0x0800), good[14..].to_vec()].concat(), DropReason::EthNotForUs),
        ([eth(GW_LAN, MacAddr::BROADCAST, 0x0800), good[14..].to_vec()].concat(), DropReason::EthBadSource),
        ([eth(GW_LAN, LAN_HOST, 0x0806), vec![0; 10]].concat(), DropReason::ArpMalformed),
    ];
    for (frame, reason) in &cases {
        let before = r.counters.dropped(*reason);
        run(&mut r, &t, &mut io, 0, frame, 0);
        assert_eq!(r.counters.dropped(*reason), before + 1, "{reason:?}");
    }
    assert!(io.sent.is_empty(), "malformed input is never answered");
    run(&mut r, &t, &mut io, 7, &good, 0);
    assert_eq!(r.counters.dropped(DropReason::NoInterface), 1);
    // And the router still forwards.
    run(&mut r, &t, &mut io, 0, &good, 0);
    assert_eq!(io.sent.len(), 1);
}

#[test]
fn bad_option_gets_parameter_problem_with_pointer() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let mut f = eth(GW_LAN, LAN_HOST, 0x0800);
    let mut ipb = vec![0x46, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 1, 2, 203, 0, 113, 2];
    ipb.extend_from_slice(&[7, 9, 4, 0]); // record route with an overrunning length
    ipb.extend_from_slice(&[0; 8]);
    Ipv4Packet::new_unchecked(&mut ipb[..]).fill_checksum();
    f.extend_from_slice(&ipb);
    run(&mut r, &t, &mut io, 0, &f, 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv4BadOptions), 1);
    let p = sent_ip(&io.sent[0]);
    let icmp = icmp_of(&p);
    assert_eq!((icmp[0], icmp[1], icmp[4]), (12, 0, 21));
}

#[test]
fn no_icmp_error_about_icmp_error_or_l2_broadcast_rfc1812_4_3_2_7() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&[0x45; 28]);
    let c = checksum::checksum(&err);
    err[2..4].copy_from_slice(&c.to_be_bytes());
    run(&mut r, &t, &mut io, 0, &ipv4_frame("10.0.1.2", "8.8.8.8", 64, Protocol::Icmp, &err, false), 0);
    assert_eq!(r.counters.dropped(DropReason::NoRoute), 1);
    let mut bcast = udp_frame("203.0.113.2", 1);
    bcast[..6].copy_from_slice(&[0xff; 6]);
    run(&mut r, &t, &mut io, 0, &bcast, 0);
    assert_eq!(r.counters.dropped(DropReason::Ipv4L2Broadcast), 1, "RFC 1812 §5.3.4");
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.icmp_errors, 0);
}

#[test]
fn df_over_mtu_gets_frag_needed_with_mtu_rfc1191() {
    let t = tables(true, 1280);
    let (mut r, mut io) = router(&t);
    let big =
        ipv4_frame("10.0.1.2", "203.0.113.2", 64, Protocol::Udp, &udp("10.0.1.2", "203.0.113.2", 1, 2, 1400), true);
    run(&mut r, &t, &mut io, 0, &big, 0);
    assert_eq!(r.counters.dropped(DropReason::FragmentationNeeded), 1);
    let p = sent_ip(&io.sent[0]);
    let icmp = icmp_of(&p);
    assert_eq!((icmp[0], icmp[1]), (3, 4));
    assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1280);
    assert_eq!(usize::from(p.total_len()), icmp::MAX_ERROR_LEN);
}

/// A UDP datagram from `src` (on lan) to a destination with no route.
fn unroutable_from(src: &str) -> Vec<u8> {
    ipv4_frame(src, "8.8.8.8", 64, Protocol::Udp, &udp(src, "8.8.8.8", 40000, 9, 18), false)
}

#[test]
fn icmp_errors_are_rate_limited_rfc1812_4_3_2_8() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // 100 sources, one error each: the worker-wide bucket (1000/s, 50).
    for i in 0..100 {
        run(&mut r, &t, &mut io, 0, &unroutable_from(&format!("10.0.1.{}", 2 + i)), 0);
    }
    assert_eq!(r.counters.icmp_errors, 50, "the burst");
    assert_eq!(r.counters.icmp_rate_limited, 50);
    assert_eq!(r.counters.dropped(DropReason::NoRoute), 100);
    for i in 0..20 {
        run(&mut r, &t, &mut io, 0, &unroutable_from(&format!("10.0.1.{}", 150 + i)), SEC / 100);
    }
    assert_eq!(r.counters.icmp_errors, 60, "1000/s refills 10 in 10 ms");
}

#[test]
fn one_noisy_source_spends_its_own_error_budget_not_everyones() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // 10.0.1.2 sends 100: its own bucket (20/s, 10) holds it to 10.
    for _ in 0..100 {
        run(&mut r, &t, &mut io, 0, &udp_frame("8.8.8.8", 64), 0);
    }
    assert_eq!((r.counters.icmp_errors, r.counters.icmp_rate_limited), (10, 90));
    // The others still get theirs.
    for i in 0..40 {
        run(&mut r, &t, &mut io, 0, &unroutable_from(&format!("10.0.1.{}", 10 + i)), 0);
    }
    assert_eq!(r.counters.icmp_errors, 50);
    // The worker-wide bucket is empty now, yet Fragmentation Needed still
    // reaches a host that never had one: Path MTU Discovery is held to
    // its destination's bucket only.
    assert_eq!(r.counters.icmp_rate_limited, 90);
    run(&mut r, &t, &mut io, 0, &unroutable_from("10.0.1.200"), 0);
    assert_eq!(r.counters.icmp_rate_limited, 91, "the worker-wide bucket is spent");
    let big =
        ipv4_frame("10.0.1.201", "203.0.113.2", 64, Protocol::Udp, &udp("10.0.1.201", "203.0.113.2", 1, 2, 1600), true);
    run(&mut r, &t, &mut io, 0, &big, 0);
    assert_eq!((r.counters.icmp_errors, r.counters.dropped(DropReason::FragmentationNeeded)), (51, 1));
}

#[test]
fn failed_resolution_answers_host_unreachable_after_retries() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    // The LAN host is known (it asked for us), the WAN next hop never answers.
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &arp_frame(Operation::Request, LAN_HOST, "10.0.1.2", "10.0.1.1", MacAddr::BROADCAST),
        0,
    );
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &udp_frame("203.0.113.9", 64), 0);
    assert_eq!(io.sent.len(), 1, "first request");
    for s in 1..=3 {
        r.poll(&t, s * SEC, &mut io);
    }
    let arps = io.sent.iter().filter(|b| b.data()[12..14] == [0x08, 0x06] && b.port() == 1).count();
    assert_eq!(arps, 3, "max_probes requests in all");
    // The error goes to the LAN host; its stale entry also earns a unicast probe.
    let last = io.sent.iter().rev().find(|b| b.data()[12..14] == [0x08, 0x00]).unwrap();
    assert_eq!(last.port(), 0);
    let p = sent_ip(last);
    assert_eq!((icmp_of(&p)[0], icmp_of(&p)[1]), (3, 1));
    assert_eq!(p.dst(), ip("10.0.1.2"));
    assert_eq!(r.counters.dropped(DropReason::NeighborUnresolved), 1);
}

#[test]
fn arp_request_without_buffers_is_counted() {
    let t = tables(false, 1500);
    let (mut r, mut io) = router(&t);
    io.no_buffers = true;
    run(&mut r, &t, &mut io, 0, &udp_frame("203.0.113.9", 64), 0);
    assert_eq!(r.counters.dropped(DropReason::BufferExhausted), 1);
}

#[test]
fn ecmp_keeps_a_flow_on_one_path_and_spreads_flows() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let mut paths = std::collections::HashSet::new();
    for sport in 0..64u16 {
        let payload = udp("10.0.1.2", "192.0.2.7", 1000 + sport, 53, 4);
        let f = ipv4_frame("10.0.1.2", "192.0.2.7", 64, Protocol::Udp, &payload, false);
        run(&mut r, &t, &mut io, 0, &f, 0);
        run(&mut r, &t, &mut io, 0, &f, 0);
        let n = io.sent.len();
        let (a, b) = (&io.sent[n - 2].data()[..6], &io.sent[n - 1].data()[..6]);
        assert_eq!(a, b, "one flow, one next hop");
        paths.insert(a.to_vec());
    }
    assert_eq!(paths.len(), 2);
}

#[test]
fn static_neighbors_follow_the_snapshot() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    assert_eq!(r.neighbors().len(), 3);
    let mut t2 = tables(false, 1500);
    t2.generation = 2;
    r.sync(&t2, 0, &mut io);
    assert_eq!(r.neighbors().len(), 0);
}

#[test]
fn a_new_neighbor_epoch_flushes_learned_entries_but_keeps_static_ones() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    // Learn 10.0.1.9 from its request, and queue a packet for an unknown
    // WAN host (an incomplete entry).
    run(
        &mut r,
        &t,
        &mut io,
        0,
        &arp_frame(Operation::Request, LAN_HOST, "10.0.1.9", "10.0.1.1", MacAddr::BROADCAST),
        0,
    );
    run(&mut r, &t, &mut io, 0, &ipv4_frame("10.0.1.2", "203.0.113.77", 64, Protocol::Udp, &[0; 8], false), 0);
    assert_eq!(r.neighbors().len(), 5);
    let mut t2 = tables(true, 1500);
    t2.generation = 2;
    r.sync(&t2, 0, &mut io);
    assert_eq!(r.neighbors().len(), 5, "same epoch: nothing flushed");
    t2.generation = 3;
    t2.neighbor_epoch = 1;
    r.sync(&t2, 0, &mut io);
    assert_eq!(r.neighbors().len(), 3);
    assert!(r.neighbors().entries().all(|e| e.state == crate::neigh::State::Static));
    assert_eq!(r.counters.dropped(DropReason::NeighborFlushed), 1);
}

#[test]
fn a_new_snapshot_brings_new_icmp_limits_and_neighbor_timers() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let mut t2 = tables(true, 1500);
    t2.generation = 2;
    t2.settings.icmp_rate = 0; // no ICMP errors at all
    t2.settings.neighbor.max_probes = 7;
    t2.settings.neighbor.capacity = 1; // a size: kept as started
    r.sync(&t2, 0, &mut io);
    run(&mut r, &t2, &mut io, 0, &udp_frame("8.8.8.8", 64), SEC);
    assert_eq!((r.counters.icmp_errors, r.counters.icmp_rate_limited), (0, 1));
    assert_eq!(r.neighbors().config().max_probes, 7);
    assert_eq!(r.neighbors().config().capacity, RouterConfig::default().neighbor.capacity);
}

/// Two workers: one probes a stale neighbor, the reply lands on the other,
/// which passes it on as confirmed; the first worker's entry is reachable
/// again instead of timing out.
#[test]
fn a_reply_seen_by_another_worker_confirms_this_workers_probe() {
    let t = tables(false, 1500);
    let (mut a, mut io_a) = router(&t);
    let (mut b, mut io_b) = router(&t);
    // Both learn the WAN host from its request (stale entries).
    let req = arp_frame(Operation::Request, WAN_HOST, "203.0.113.2", "203.0.113.1", MacAddr::BROADCAST);
    run(&mut a, &t, &mut io_a, 1, &req, 0);
    run(&mut b, &t, &mut io_b, 1, &req, 0);
    // Worker a sends to it: stale entry in use, so it probes.
    run(&mut a, &t, &mut io_a, 0, &ipv4_frame("10.0.1.2", "203.0.113.2", 64, Protocol::Udp, &[0; 8], false), SEC);
    assert_eq!(a.neighbors().get(1, ip("203.0.113.2")).unwrap().state, crate::neigh::State::Probe);
    // The reply arrives on worker b, which tells a.
    let reply = arp_frame(Operation::Reply, WAN_HOST, "203.0.113.2", "203.0.113.1", GW_WAN);
    io_b.learned.clear();
    run(&mut b, &t, &mut io_b, 1, &reply, SEC);
    let &(ifindex, addr, mac, confirmed) = io_b.learned.last().unwrap();
    assert!(confirmed);
    a.learn_remote(&t, NeighborNews { ifindex, ip: addr, mac, confirmed }, SEC, &mut io_a);
    assert_eq!(a.neighbors().get(1, ip("203.0.113.2")).unwrap().state, crate::neigh::State::Reachable);
    // An unconfirmed learning of an unknown neighbor creates nothing.
    a.learn_remote(
        &t,
        NeighborNews { ifindex: 1, ip: ip("203.0.113.50").into(), mac: WAN_HOST, confirmed: true },
        SEC,
        &mut io_a,
    );
    assert!(a.neighbors().get(1, ip("203.0.113.50")).is_none());
}

/// The reply to worker a's request lands on worker b, which has no entry
/// for the neighbor: b still passes it on, and a's waiting packet goes out.
#[test]
fn a_reply_to_another_workers_request_is_passed_on() {
    let t = tables(false, 1500);
    let (mut a, mut io_a) = router(&t);
    let (mut b, mut io_b) = router(&t);
    run(&mut a, &t, &mut io_a, 0, &ipv4_frame("10.0.1.2", "203.0.113.2", 64, Protocol::Udp, &[0; 8], false), 0);
    assert_eq!(io_a.sent.len(), 1, "a's ARP request");
    let reply = arp_frame(Operation::Reply, WAN_HOST, "203.0.113.2", "203.0.113.1", GW_WAN);
    run(&mut b, &t, &mut io_b, 1, &reply, 1);
    assert!(b.neighbors().get(1, ip("203.0.113.2")).is_none(), "b creates nothing");
    assert_eq!(io_b.learned, vec![(1, ip("203.0.113.2").into(), WAN_HOST, true)]);
    a.learn_remote(
        &t,
        NeighborNews { ifindex: 1, ip: ip("203.0.113.2").into(), mac: WAN_HOST, confirmed: true },
        1,
        &mut io_a,
    );
    assert_eq!(io_a.sent.len(), 2, "the waiting packet is sent");
    assert_eq!(EthernetFrame::new_checked(io_a.sent[1].data()).unwrap().dst(), WAN_HOST);
}

mod bridge;
mod fast;
mod fragment;
mod ip6;
mod options;
mod punt;
mod reassembly;
mod tcp_conn;
mod tcp_open;
mod tunnel;
mod udp;
mod vxlan;
