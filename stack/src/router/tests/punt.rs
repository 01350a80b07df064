//! The punt path: what goes up to the kernel twin, within which bounds,
//! and what comes down from it.

use super::ip6::{icmp6, ip6, ipv6_frame, ns_frame, sent6, tables6};
use super::*;
use crate::settings::PuntLimits;
use crate::wire::ipv6::{self, nh};

/// The lab's tables with a kernel twin on lan (and `limits`).
fn punted(mut t: Tables, limits: PuntLimits) -> Tables {
    let mut ifaces = t.ifaces.clone();
    ifaces[0].punt = true;
    let mut n = Tables::build(ifaces, &wan_routes(), &[], t.static_neighbors.clone(), 2).unwrap();
    t.settings.punt = limits;
    n.settings = t.settings;
    n
}

fn syn(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    segment(src, dst, sport, dport, tcp::flags::SYN)
}

/// A TCP segment with `flags`, checksum filled.
fn segment(src: &str, dst: &str, sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut seg = vec![0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0];
    seg[0..2].copy_from_slice(&sport.to_be_bytes());
    seg[2..4].copy_from_slice(&dport.to_be_bytes());
    TcpPacket::new_checked(&mut seg[..]).unwrap().fill_checksum(ip(src), ip(dst));
    ipv4_frame(src, dst, 64, Protocol::Tcp, &seg, true)
}

/// An echo reply from `src` (for the kernel's ping).
fn echo_reply(src: &str, dst: &str) -> Vec<u8> {
    let mut reply = echo_request(src, dst);
    reply[14 + 20] = 0; // type 0: echo reply
    let c = checksum::update16(u16::from_be_bytes([reply[36], reply[37]]), 0x0800, 0x0000);
    reply[36..38].copy_from_slice(&c.to_be_bytes());
    reply
}

/// OSPF (protocol 89) to AllSPFRouters, as a neighbor's Hello is sent.
fn ospf_hello(src: &str) -> Vec<u8> {
    let mut f = ipv4_frame(src, "224.0.0.5", 1, Protocol::Unknown(89), &[2, 1, 0, 44], false);
    f[0..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0, 0, 5]);
    f
}

#[test]
fn what_the_dataplane_does_not_answer_goes_up_to_the_twin_and_the_rest_stays() {
    let t = punted(tables(true, 1500), PuntLimits::default());
    let (mut r, mut io) = router(&t);
    // BGP's SYN, BFD's UDP, an OSPF Hello, an echo reply for the kernel's ping.
    run(&mut r, &t, &mut io, 0, &syn("10.0.1.2", "10.0.1.1", 40000, 179), 0);
    let bfd =
        ipv4_frame("10.0.1.2", "10.0.1.1", 255, Protocol::Udp, &udp("10.0.1.2", "10.0.1.1", 49152, 3784, 24), false);
    run(&mut r, &t, &mut io, 0, &bfd, 0);
    run(&mut r, &t, &mut io, 0, &ospf_hello("10.0.1.2"), 0);
    run(&mut r, &t, &mut io, 0, &echo_reply("10.0.1.2", "10.0.1.1"), 0);
    assert!(io.sent.is_empty(), "no RST, no ICMP error: {:?}", io.sent.len());
    let got: Vec<(u16, Vec<u8>)> = io.punted.iter().map(|(i, b)| (*i, b.data().to_vec())).collect();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|(i, _)| *i == 0), "all on lan");
    assert_eq!(got[0].1, syn("10.0.1.2", "10.0.1.1", 40000, 179), "handed up as it came");
    assert_eq!(r.counters.punted, 4);
    // The dataplane still answers echo requests itself.
    run(&mut r, &t, &mut io, 0, &echo_request("10.0.1.2", "10.0.1.1"), 0);
    assert_eq!((io.sent.len(), io.punted.len()), (1, 4));
    // On wan, without a twin: RST as before, and the Hello dropped.
    let from_wan = |mut f: Vec<u8>| {
        f[0..6].copy_from_slice(&GW_WAN.0);
        f
    };
    run(&mut r, &t, &mut io, 1, &from_wan(syn("203.0.113.2", "203.0.113.1", 40000, 179)), 0);
    assert_eq!(sent_ip(&io.sent[1]).protocol(), Protocol::Tcp, "RST");
    let mut hello = ospf_hello("203.0.113.2");
    hello[14 + 12..14 + 16].copy_from_slice(&[203, 0, 113, 2]);
    run(&mut r, &t, &mut io, 1, &hello, 0);
    assert_eq!(io.punted.len(), 4);
    assert_eq!(r.counters.dropped(DropReason::Ipv4Broadcast), 1);
}

#[test]
fn a_flooding_source_spends_its_own_budget_and_others_still_get_through() {
    let limits = PuntLimits { rate: 1000, burst: 300, source_rate: 100, source_burst: 50 };
    let t = punted(tables(true, 1500), limits);
    let (mut r, mut io) = router(&t);
    for p in 0..500 {
        run(&mut r, &t, &mut io, 0, &syn("10.0.1.66", "10.0.1.1", 1024 + p, 179), SEC);
    }
    assert_eq!(io.punted.len(), 50, "the source's burst");
    assert_eq!(r.counters.dropped(DropReason::PuntRateLimited), 450);
    // The peer that matters, in the same instant.
    run(&mut r, &t, &mut io, 0, &syn("10.0.1.2", "10.0.1.1", 40000, 179), SEC);
    assert_eq!(io.punted.len(), 51);
    // Many sources together meet the worker's budget.
    for s in 0..=255u8 {
        let src = format!("10.0.1.{s}");
        if s > 2 && s != 66 && s < 255 {
            for p in 0..2 {
                run(&mut r, &t, &mut io, 0, &syn(&src, "10.0.1.1", 2000 + p, 22), SEC);
            }
        }
    }
    assert_eq!(io.punted.len(), 300, "the interface's burst");
    // A full queue is counted apart.
    io.punt_full = true;
    run(&mut r, &t, &mut io, 0, &syn("10.0.1.2", "10.0.1.1", 40001, 179), 3 * SEC);
    assert_eq!(r.counters.dropped(DropReason::PuntQueueFull), 1);
    assert_eq!(r.counters.punted, 300);
}

#[test]
fn ipv6_for_the_kernel_goes_up_tcp_udp_and_ospfv3_to_its_group() {
    let t = punted(tables6(1500), PuntLimits::default());
    let (mut r, mut io) = router(&t);
    let mut seg = vec![0x9c, 0x40, 0, 179, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0];
    let c = ipv6::upper_checksum(&ip6("fd00:1::2"), &ip6("fd00:1::1"), nh::TCP, &seg);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::TCP, &seg), 0);
    let mut ospf = ipv6_frame(GW_LAN, "fe80::2", "ff02::5", 1, 89, &[3, 1, 0, 36]);
    ospf[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 5]);
    run(&mut r, &t, &mut io, 0, &ospf, 0);
    // A group no one serves on wan (no twin) is dropped as before.
    let mut other = ipv6_frame(GW_WAN, "fe80::3", "ff02::5", 1, 89, &[3, 1, 0, 36]);
    other[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 5]);
    run(&mut r, &t, &mut io, 1, &other, 0);
    assert!(io.sent.is_empty());
    assert_eq!(io.punted.len(), 2);
    assert_eq!(r.counters.dropped(DropReason::Ipv6Multicast), 1);
}

#[test]
fn the_kernels_arp_is_answered_from_the_neighbor_cache_and_its_packets_go_out() {
    let t = punted(tables(true, 1500), PuntLimits::default());
    let (mut r, mut io) = router(&t);
    // The kernel asks for 10.0.1.2, a neighbor the dataplane knows.
    let ask = arp_frame(Operation::Request, GW_LAN, "10.0.1.1", "10.0.1.2", MacAddr::BROADCAST);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &ask), 0, &mut io);
    assert!(io.sent.is_empty(), "nothing on the wire");
    let (i, answer) = &io.punted[0];
    let a = ArpRepr::parse(&ArpPacket::new_checked(&answer.data()[14..]).unwrap()).unwrap();
    assert_eq!(*i, 0);
    assert_eq!(
        (a.operation, a.sender_ip, a.sender_hw, a.target_ip),
        (Operation::Reply, ip("10.0.1.2"), LAN_HOST, ip("10.0.1.1"))
    );
    assert_eq!(EthernetFrame::new_checked(answer.data()).unwrap().dst(), GW_LAN);
    // An unknown one: the dataplane asks the wire; the kernel will ask again.
    let ask = arp_frame(Operation::Request, GW_LAN, "10.0.1.1", "10.0.1.9", MacAddr::BROADCAST);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &ask), 0, &mut io);
    assert_eq!(io.punted.len(), 1);
    assert_eq!(r.counters.dropped(DropReason::PuntNeighborUnknown), 1);
    let req = ArpRepr::parse(&ArpPacket::new_checked(&io.sent[0].data()[14..]).unwrap()).unwrap();
    assert_eq!((req.operation, req.target_ip), (Operation::Request, ip("10.0.1.9")));
    // The wire's reply completes the entry; the kernel's next ask is answered.
    let h9 = MacAddr([2, 0, 0, 0, 1, 9]);
    run(&mut r, &t, &mut io, 0, &arp_frame(Operation::Reply, h9, "10.0.1.9", "10.0.1.1", GW_LAN), 0);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &ask), 0, &mut io);
    let a = ArpRepr::parse(&ArpPacket::new_checked(&io.punted[1].1.data()[14..]).unwrap()).unwrap();
    assert_eq!((a.sender_ip, a.sender_hw), (ip("10.0.1.9"), h9));
    io.punted.truncate(1);
    // Its own packets leave by the interface, from the interface's MAC.
    let mut bgp = syn("10.0.1.1", "10.0.1.2", 179, 40000);
    bgp[0..6].copy_from_slice(&LAN_HOST.0);
    bgp[6..12].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &bgp), 0, &mut io);
    assert_eq!(io.sent[1].port(), 0);
    let e = EthernetFrame::new_checked(io.sent[1].data()).unwrap();
    assert_eq!((e.dst(), e.src()), (LAN_HOST, GW_LAN));
    assert_eq!(&io.sent[1].data()[12..], &bgp[12..]);
    assert_eq!((r.counters.from_kernel, r.counters.kernel_neighbor_answers), (1, 2));
    // Not for an interface without a twin, nothing but IP and ARP, and
    // only whole packets with TTL left.
    r.from_kernel(&t, 1, VecBuf::from_frame(1, &bgp), 0, &mut io);
    let mut odd = bgp.clone();
    odd[12..14].copy_from_slice(&0x88ccu16.to_be_bytes()); // LLDP
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &odd), 0, &mut io);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &bgp[..bgp.len() - 4]), 0, &mut io);
    let mut spent = bgp.clone();
    spent[14 + 8] = 0;
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &spent), 0, &mut io);
    assert_eq!(r.counters.dropped(DropReason::PuntFromKernelRefused), 4);
    assert_eq!(io.sent.len(), 2);
    // Ethernet padding is cut.
    let mut padded = bgp.clone();
    padded.extend_from_slice(&[0; 6]);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &padded), 0, &mut io);
    assert_eq!(&io.sent[2].data()[12..], &bgp[12..]);
    io.sent.truncate(2);
}

#[test]
fn the_kernels_neighbor_solicitation_is_answered_and_its_own_nd_stays_inside() {
    let t = punted(tables6(1500), PuntLimits::default());
    let (mut r, mut io) = router(&t);
    // The dataplane learns fd00:1::2 from the host's own solicitation.
    run(&mut r, &t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    let sent = io.sent.len();
    let from_kernel = |f: Vec<u8>| {
        let mut f = f;
        f[6..12].copy_from_slice(&GW_LAN.0);
        VecBuf::from_frame(0, &f)
    };
    let ns = ns_frame("fd00:1::1", "ff02::1:ff00:2", "fd00:1::2", Some(GW_LAN), 255);
    r.from_kernel(&t, 0, from_kernel(ns), 0, &mut io);
    let (_, na) = &io.punted[0];
    let p = sent6(na);
    assert_eq!((p.src(), p.dst()), (ip6("fd00:1::2"), ip6("fd00:1::1")));
    let msg = p.payload();
    assert_eq!(msg[0], 136);
    assert_eq!(&msg[8..24], &ip6("fd00:1::2").octets());
    assert_eq!(&msg[26..32], &LAN_HOST.0, "target link-layer address");
    // DAD probes, Router Solicitations: the dataplane speaks for the link.
    let dad = ns_frame("::", "ff02::1:ff00:1", "fd00:1::1", None, 255);
    r.from_kernel(&t, 0, from_kernel(dad), 0, &mut io);
    let rs = ipv6_frame(
        GW_LAN,
        "fe80::ff:fe00:1",
        "ff02::2",
        255,
        nh::ICMPV6,
        &icmp6("fe80::ff:fe00:1", "ff02::2", vec![133, 0, 0, 0, 0, 0, 0, 0]),
    );
    r.from_kernel(&t, 0, from_kernel(rs), 0, &mut io);
    assert_eq!(r.counters.dropped(DropReason::PuntFromKernelRefused), 2);
    assert_eq!((io.sent.len(), io.punted.len()), (sent, 1));
}

#[test]
fn the_kernels_established_conversations_keep_their_budget_under_a_flood_from_everywhere() {
    let limits = PuntLimits { rate: 100, burst: 20, source_rate: 100, source_burst: 20 };
    let t = punted(tables(true, 1500), limits);
    let (mut r, mut io) = router(&t);
    // The kernel's BGP session with 10.0.1.2 is established: it sent an ACK.
    let ack = tcp::flags::ACK;
    let mut out = segment("10.0.1.1", "10.0.1.2", 179, 40000, ack);
    out[0..6].copy_from_slice(&LAN_HOST.0);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &out), SEC, &mut io);
    // A SYN-ACK or a RST to a spoofed source proves nothing, nor does
    // ICMP (an error answers anything).
    for flags in [tcp::flags::SYN | ack, tcp::flags::RST | ack] {
        let mut stray = segment("10.0.1.1", "10.0.1.77", 179, 5555, flags);
        stray[0..6].copy_from_slice(&LAN_HOST.0);
        r.from_kernel(&t, 0, VecBuf::from_frame(0, &stray), SEC, &mut io);
    }
    let mut unreachable =
        ipv4_frame("10.0.1.1", "10.0.1.78", 64, Protocol::Icmp, &[3, 3, 0xfc, 0xfc, 0, 0, 0, 0], false);
    unreachable[0..6].copy_from_slice(&LAN_HOST.0);
    r.from_kernel(&t, 0, VecBuf::from_frame(0, &unreachable), SEC, &mut io);
    // A flood from 200 sources spends the shared budget...
    for s in 3..203u8 {
        let src = format!("10.0.1.{s}");
        run(&mut r, &t, &mut io, 0, &segment(&src, "10.0.1.1", 5555, 179, ack), SEC);
    }
    assert_eq!(io.punted.len(), 20);
    // ... and the session's segments still go up; not the spoofed one's.
    for _ in 0..10 {
        run(&mut r, &t, &mut io, 0, &segment("10.0.1.2", "10.0.1.1", 40000, 179, ack), SEC);
    }
    run(&mut r, &t, &mut io, 0, &segment("10.0.1.77", "10.0.1.1", 5555, 179, ack), SEC);
    run(&mut r, &t, &mut io, 0, &echo_reply("10.0.1.78", "10.0.1.1"), SEC);
    assert_eq!(io.punted.len(), 30);
    assert_eq!(r.counters.dropped(DropReason::PuntRateLimited), 180 + 2);
    // Another port of the same peer is another conversation.
    run(&mut r, &t, &mut io, 0, &segment("10.0.1.2", "10.0.1.1", 40001, 179, ack), SEC);
    assert_eq!(io.punted.len(), 30);
    // It is forgotten once the kernel has been quiet long enough.
    let later = SEC + crate::conversations::CONVERSATION_TTL + 2 * SEC;
    for s in 3..30u8 {
        run(&mut r, &t, &mut io, 0, &segment(&format!("10.0.1.{s}"), "10.0.1.1", 5555, 179, ack), later);
    }
    let before = io.punted.len();
    run(&mut r, &t, &mut io, 0, &segment("10.0.1.2", "10.0.1.1", 40000, 179, ack), later);
    assert_eq!(io.punted.len(), before);
}

#[test]
fn a_flood_at_one_port_leaves_the_other_ports_budget_alone() {
    let limits = PuntLimits { rate: 100, burst: 20, source_rate: 100, source_burst: 20 };
    let mut t = punted(tables(true, 1500), limits);
    let mut ifaces = t.ifaces.clone();
    ifaces[1].punt = true;
    let settings = t.settings;
    t = Tables::build(ifaces, &wan_routes(), &[], t.static_neighbors.clone(), 3).unwrap();
    t.settings = settings;
    let (mut r, mut io) = router(&t);
    for s in 3..100u8 {
        run(&mut r, &t, &mut io, 0, &syn(&format!("10.0.1.{s}"), "10.0.1.1", 5555, 179), SEC);
    }
    assert_eq!(io.punted.len(), 20, "lan's burst");
    let mut bgp = syn("203.0.113.2", "203.0.113.1", 40000, 179);
    bgp[0..6].copy_from_slice(&GW_WAN.0);
    run(&mut r, &t, &mut io, 1, &bgp, SEC);
    assert_eq!(io.punted.len(), 21);
    assert_eq!(io.punted[20].0, 1, "up from wan");
}
