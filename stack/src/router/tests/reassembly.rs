//! Datagrams for the gateway in fragments (RFC 791, RFC 8200 §4.5, RFC
//! 5722, RFC 7112): reassembled and answered, or refused by reason.

use super::ip6::{icmp6, ip6, ipv6_frame, ns_frame, sent6, tables6};
use super::*;
use crate::wire::icmpv6 as icmpv6w;
use crate::wire::ipv6::{self, nh, Ipv6Packet};

/// Cuts IPv4 `frame` into fragments, one per `(start, end)` of its payload
/// (bytes), each with its own header (identification `ident`).
pub(super) fn frag4(frame: &[u8], pieces: &[(usize, usize)], ident: u16) -> Vec<Vec<u8>> {
    let p = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let payload = p.payload().to_vec();
    pieces
        .iter()
        .map(|&(s, e)| {
            let mut f = frame[..14 + 20].to_vec();
            f.extend_from_slice(&payload[s..e]);
            let mut q = Ipv4Packet::new_unchecked(&mut f[14..]);
            q.set_total_len((20 + e - s) as u16);
            q.set_ident(ident);
            q.set_flags_offset(false, e < payload.len(), s as u16);
            q.fill_checksum();
            f
        })
        .collect()
}

/// An echo request of `len` bytes of ICMP message to the gateway.
fn big_echo(len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut icmp: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    icmp[..8].copy_from_slice(&[8, 0, 0, 0, 0x12, 0x34, 0, 1]);
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    (ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Icmp, &icmp, false), icmp)
}

/// The payloads of sent IPv4 fragments, by offset, put together.
pub(super) fn joined4(sent: &[VecBuf]) -> Vec<u8> {
    let mut parts: Vec<(u16, Vec<u8>)> =
        sent.iter().map(|f| (sent_ip(f).frag_offset(), sent_ip(f).payload().to_vec())).collect();
    parts.sort();
    let mut out = Vec::new();
    for (off, data) in parts {
        assert_eq!(usize::from(off), out.len(), "contiguous");
        out.extend_from_slice(&data);
    }
    out
}

#[test]
fn a_fragmented_echo_request_in_any_order_gets_its_reply_in_fragments() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let (frame, icmp) = big_echo(3000);
    let mut frags = frag4(&frame, &[(0, 1480), (1480, 2960), (2960, 3000)], 0x77);
    frags.swap(0, 2); // last first
    for f in &frags {
        run(&mut r, &t, &mut io, 0, f, 0);
    }
    assert_eq!(io.sent.len(), 3, "one reply fragment per request fragment");
    let idents: Vec<u16> = io.sent.iter().map(|f| sent_ip(f).ident()).collect();
    assert!(idents.iter().all(|&i| i == idents[0] && i != 0x77), "one new identification: {idents:?}");
    for f in &io.sent {
        let p = sent_ip(f);
        assert_eq!((p.src(), p.dst(), p.ttl()), (ip("10.0.1.1"), ip("10.0.1.2"), 64));
        assert!(p.verify_checksum() && !p.dont_frag());
    }
    let reply = joined4(&io.sent);
    assert_eq!(reply.len(), 3000);
    assert_eq!(reply[0], 0, "an echo reply");
    assert_eq!(checksum::checksum(&reply), 0, "its checksum covers every fragment");
    assert_eq!(&reply[4..], &icmp[4..]);
    assert_eq!((r.counters.reassembled, r.counters.local), (1, 1));
}

#[test]
fn the_reply_to_a_reassembled_request_is_cut_again_for_a_smaller_mtu() {
    let mut t = tables(true, 1500);
    t.ifaces[0].mtu = 576;
    let (mut r, mut io) = router(&t);
    let (frame, _) = big_echo(2000);
    for f in frag4(&frame, &[(0, 1480), (1480, 2000)], 9) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert!(io.sent.iter().all(|f| sent_ip(f).total_len() <= 576));
    let reply = joined4(&io.sent);
    assert_eq!((reply.len(), checksum::checksum(&reply)), (2000, 0));
}

#[test]
fn fragmented_udp_and_tcp_to_closed_ports_are_answered_once() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let dgram = ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Udp, &udp("10.0.1.2", "10.0.1.1", 5, 9, 2000), false);
    for f in frag4(&dgram, &[(0, 1000), (1000, 2008)], 1) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert_eq!(io.sent.len(), 1);
    assert_eq!(&icmp_of(&sent_ip(&io.sent[0]))[..2], &[3, 3], "Port Unreachable");
    assert_eq!(r.counters.dropped(DropReason::LocalPortUnreachable), 2, "both fragments");
    // A SYN with 1500 bytes of data: the RST acknowledges all of it.
    let mut seg = vec![0u8; 20 + 1500];
    seg[..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
    seg[4..8].copy_from_slice(&1000u32.to_be_bytes());
    seg[12] = 0x50;
    seg[13] = tcp::flags::SYN;
    TcpPacket::new_checked(&mut seg[..]).unwrap().fill_checksum(ip("10.0.1.2"), ip("10.0.1.1"));
    let syn = ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Tcp, &seg, false);
    io.sent.clear();
    for f in frag4(&syn, &[(0, 1024), (1024, 1520)], 2) {
        run(&mut r, &t, &mut io, 0, &f, 0);
    }
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    let rst = TcpPacket::new_checked(p.payload()).unwrap();
    assert_eq!((rst.flags(), rst.ack()), (tcp::flags::RST | tcp::flags::ACK, 1000 + 1500 + 1));
    assert!(rst.verify_checksum(p.src(), p.dst()));
}

#[test]
fn overlapping_fragments_drop_the_datagram_and_its_later_fragments_rfc5722() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let (frame, _) = big_echo(3000);
    let frags = frag4(&frame, &[(0, 1480), (1472, 2960), (2960, 3000)], 5);
    for f in &frags {
        run(&mut r, &t, &mut io, 0, f, 0);
    }
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::ReassemblyOverlap), 3);
    // A duplicate is only ignored: the datagram still completes.
    let frags = frag4(&frame, &[(0, 1480), (1480, 2960), (2960, 3000)], 6);
    for f in [&frags[0], &frags[0], &frags[1], &frags[2]] {
        run(&mut r, &t, &mut io, 0, f, 0);
    }
    assert_eq!((io.sent.len(), r.counters.dropped(DropReason::ReassemblyDuplicate)), (3, 1));
}

#[test]
fn bad_lengths_and_datagrams_past_65535_bytes_are_refused() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let (frame, _) = big_echo(3000);
    // MF set and 1001 bytes: not a multiple of 8.
    run(&mut r, &t, &mut io, 0, &frag4(&frame, &[(0, 1001)], 3)[0], 0);
    assert_eq!(r.counters.dropped(DropReason::ReassemblyBadLength), 1);
    // The last fragment at offset 65,528 with 100 bytes: past the limit.
    let mut f = frag4(&frame, &[(2900, 3000)], 3).remove(0);
    let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
    p.set_flags_offset(false, false, 65528);
    p.fill_checksum();
    run(&mut r, &t, &mut io, 0, &f, 0);
    assert_eq!(r.counters.dropped(DropReason::ReassemblyOversize), 1);
    assert!(io.sent.is_empty());
}

#[test]
fn a_datagram_not_whole_in_time_gets_time_exceeded_code_1_if_its_first_came() {
    let t = tables(true, 1500);
    let (mut r, mut io) = router(&t);
    let (frame, _) = big_echo(3000);
    let frags = frag4(&frame, &[(0, 1480), (1480, 2960), (2960, 3000)], 4);
    run(&mut r, &t, &mut io, 0, &frags[0], 0);
    run(&mut r, &t, &mut io, 0, &frags[2], 0);
    // Another datagram with only a later fragment: dropped silently.
    run(&mut r, &t, &mut io, 0, &frag4(&frame, &[(1480, 2960)], 5)[0], SEC);
    r.poll(&t, 29 * SEC, &mut io);
    assert!(io.sent.is_empty(), "not yet");
    r.poll(&t, 32 * SEC, &mut io);
    assert_eq!(io.sent.len(), 1);
    let p = sent_ip(&io.sent[0]);
    assert_eq!((p.dst(), &icmp_of(&p)[..2]), (ip("10.0.1.2"), &[11u8, 1][..]), "Time Exceeded, reassembly");
    assert_eq!(r.counters.dropped(DropReason::ReassemblyTimeout), 3);
}

/// IPv6 fragments of an upper-layer message `upper` (protocol `next`),
/// one per `(start, end)` of it, identification `ident`.
pub(super) fn frag6(
    src: &str,
    dst: &str,
    next: u8,
    upper: &[u8],
    pieces: &[(usize, usize)],
    ident: u32,
) -> Vec<Vec<u8>> {
    pieces
        .iter()
        .map(|&(s, e)| {
            let mut payload = vec![0u8; 8];
            ipv6::write_fragment_header(&mut payload, next, s as u16, e < upper.len(), ident);
            payload.extend_from_slice(&upper[s..e]);
            ipv6_frame(GW_LAN, src, dst, 64, nh::FRAGMENT, &payload)
        })
        .collect()
}

fn echo6_message(len: usize) -> Vec<u8> {
    let mut m: Vec<u8> = (0..len).map(|i| (i * 3) as u8).collect();
    m[..8].copy_from_slice(&[128, 0, 0, 0, 0x12, 0x34, 0, 1]);
    icmp6("fd00:1::2", "fd00:1::1", m)
}

/// IPv6 tables with the LAN host resolved.
pub(super) fn router6(t: &Tables) -> (Router<VecBuf>, TestIo) {
    let (mut r, mut io) = router(t);
    run(&mut r, t, &mut io, 0, &ns_frame("fd00:1::2", "ff02::1:ff00:1", "fd00:1::1", Some(LAN_HOST), 255), 0);
    io.sent.clear();
    (r, io)
}

/// The fragmentable parts of sent IPv6 fragments, by offset, put
/// together; every one checked to fit `mtu` and carry identification
/// `ident` or, if `None`, the first one's.
pub(super) fn joined6(sent: &[VecBuf], mtu: usize) -> Vec<u8> {
    let mut parts = Vec::new();
    let mut ident = None;
    for f in sent {
        let p = sent6(f);
        assert!(40 + p.payload().len() <= mtu);
        assert_eq!(p.next_header(), nh::FRAGMENT);
        let (at, fr) = ipv6::find_fragment(&f.data()[14..]).unwrap();
        assert_eq!(at, 40);
        assert_eq!(*ident.get_or_insert(fr.ident), fr.ident);
        parts.push((fr.offset * 8, fr.more, p.payload()[8..].to_vec()));
    }
    parts.sort();
    let mut out = Vec::new();
    for (i, (off, more, data)) in parts.iter().enumerate() {
        assert_eq!(usize::from(*off), out.len());
        assert_eq!(*more, i + 1 < parts.len());
        out.extend_from_slice(data);
    }
    out
}

#[test]
fn an_ipv6_fragmented_echo_request_gets_its_reply_in_fragments() {
    let t = tables6(1500);
    let (mut r, mut io) = router6(&t);
    let local6 = r.counters.local6;
    let msg = echo6_message(3000);
    let mut frags = frag6("fd00:1::2", "fd00:1::1", nh::ICMPV6, &msg, &[(0, 1448), (1448, 2896), (2896, 3000)], 7);
    frags.reverse();
    for f in &frags {
        run(&mut r, &t, &mut io, 0, f, 1);
    }
    assert_eq!(io.sent.len(), 3);
    for f in &io.sent {
        let p = sent6(f);
        assert_eq!((p.src(), p.dst(), p.hop_limit()), (ip6("fd00:1::1"), ip6("fd00:1::2"), 64));
    }
    let reply = joined6(&io.sent, 1500);
    assert_eq!(reply[0], 129);
    assert!(ipv6::verify_upper_checksum(&ip6("fd00:1::1"), &ip6("fd00:1::2"), nh::ICMPV6, &reply));
    assert_eq!(&reply[4..], &msg[4..]);
    assert_eq!((r.counters.reassembled, r.counters.local6 - local6), (1, 1));
}

#[test]
fn the_gateways_own_ipv6_packets_over_the_mtu_leave_in_fragments_rfc8200_4_5() {
    let mut t = tables6(1500);
    t.ifaces[0].mtu = 1280;
    let (mut r, mut io) = router6(&t);
    let msg = echo6_message(1400);
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::ICMPV6, &msg), 1);
    assert_eq!(io.sent.len(), 2, "a 1448-byte reply over a 1280-byte MTU");
    let reply = joined6(&io.sent, 1280);
    assert_eq!(reply.len(), 1400);
    assert!(ipv6::verify_upper_checksum(&ip6("fd00:1::1"), &ip6("fd00:1::2"), nh::ICMPV6, &reply));
    assert_eq!(r.counters.fragmented6, 1);
    // A fragmented request's reply fragments, cut again.
    io.sent.clear();
    let msg = echo6_message(2800);
    for f in frag6("fd00:1::2", "fd00:1::1", nh::ICMPV6, &msg, &[(0, 1448), (1448, 2800)], 8) {
        run(&mut r, &t, &mut io, 0, &f, 2);
    }
    assert_eq!(io.sent.len(), 4);
    let reply = joined6(&io.sent, 1280);
    assert!(ipv6::verify_upper_checksum(&ip6("fd00:1::1"), &ip6("fd00:1::2"), nh::ICMPV6, &reply));
}

/// The ICMPv6 error sent: type, code and the 32 bits after the checksum.
fn error6(b: &VecBuf) -> (u8, u8, u32) {
    let m = sent6(b).payload().to_vec();
    (m[0], m[1], u32::from_be_bytes([m[4], m[5], m[6], m[7]]))
}

#[test]
fn ipv6_fragments_with_bad_lengths_or_an_incomplete_chain_get_parameter_problem() {
    let t = tables6(1500);
    let (mut r, mut io) = router6(&t);
    let msg = echo6_message(3000);
    // M set, 1001 bytes: pointing at the Payload Length.
    run(&mut r, &t, &mut io, 0, &frag6("fd00:1::2", "fd00:1::1", nh::ICMPV6, &msg, &[(0, 1001)], 1)[0], 1);
    assert_eq!(error6(&io.sent[0]), (4, 0, 4));
    // Past 65,535 bytes: pointing at the Fragment Offset.
    let mut f = frag6("fd00:1::2", "fd00:1::1", nh::ICMPV6, &msg, &[(2000, 3000)], 2).remove(0);
    ipv6::write_fragment_header(&mut f[14 + 40..], nh::ICMPV6, 65000, false, 2);
    run(&mut r, &t, &mut io, 0, &f, 1);
    assert_eq!(error6(&io.sent[1]), (4, 0, 40 + 2));
    // A first fragment that ends inside a Destination Options header.
    let mut payload = vec![0u8; 8];
    ipv6::write_fragment_header(&mut payload, nh::DEST_OPTS, 0, true, 3);
    payload.extend_from_slice(&[nh::ICMPV6, 2, 1, 4, 0, 0, 0, 0]); // says 24 bytes, has 8
    run(&mut r, &t, &mut io, 0, &ipv6_frame(GW_LAN, "fd00:1::2", "fd00:1::1", 64, nh::FRAGMENT, &payload), 1);
    assert_eq!(error6(&io.sent[2]), (4, 3, 0), "RFC 7112: incomplete chain");
    assert_eq!(
        (
            r.counters.dropped(DropReason::ReassemblyBadLength),
            r.counters.dropped(DropReason::ReassemblyOversize),
            r.counters.dropped(DropReason::ReassemblyIncompleteChain)
        ),
        (1, 1, 1)
    );
}

#[test]
fn an_ipv6_atomic_fragment_is_a_whole_packet_rfc6946() {
    let t = tables6(1500);
    let (mut r, mut io) = router6(&t);
    let msg = echo6_message(100);
    run(&mut r, &t, &mut io, 0, &frag6("fd00:1::2", "fd00:1::1", nh::ICMPV6, &msg, &[(0, 100)], 1)[0], 1);
    assert_eq!(io.sent.len(), 1);
    assert_eq!(sent6(&io.sent[0]).payload()[0], 129);
    assert_eq!(r.counters.reassembled, 0);
}

#[test]
fn an_ipv6_datagram_not_whole_in_time_gets_time_exceeded_code_1() {
    let t = tables6(1500);
    let (mut r, mut io) = router6(&t);
    let msg = echo6_message(3000);
    run(&mut r, &t, &mut io, 0, &frag6("fd00:1::2", "fd00:1::1", nh::ICMPV6, &msg, &[(0, 1448)], 9)[0], 1);
    r.poll(&t, 40 * SEC, &mut io);
    let sent: Vec<_> = io.sent.iter().filter(|f| sent6(f).payload()[0] == 3).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(error6(sent[0]), (3, icmpv6w::time_exceeded::REASSEMBLY, 0));
    assert_eq!(r.counters.dropped(DropReason::ReassemblyTimeout), 1);
    let _ = Ipv6Packet::new_checked(&sent[0].data()[14..]).unwrap();
}
