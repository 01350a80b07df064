//! IPv4 fragmentation on egress (RFC 791 §3.2): forwarded packets and the
//! gateway's own, checked fragment by fragment and reassembled.

use super::*;

/// The sent fragments' headers checked (each fits `mtu`, all share the
/// first's identification, TTL, protocol and addresses, offsets follow on,
/// MF on all but the last, data a multiple of 8 but the last), and their
/// data put back together.
fn reassemble(sent: &[VecBuf], mtu: usize) -> Vec<u8> {
    let first = sent_ip(&sent[0]);
    let same = |p: &Ipv4Packet<&[u8]>| (p.ident(), p.ttl(), p.protocol(), p.src(), p.dst());
    let mut data = Vec::new();
    for (i, f) in sent.iter().enumerate() {
        let p = sent_ip(f);
        let last = i + 1 == sent.len();
        assert!(usize::from(p.total_len()) <= mtu, "fragment {i} fits the MTU");
        assert!(p.verify_checksum(), "fragment {i} checksum");
        assert_eq!(same(&p), same(&first));
        assert_eq!(p.more_frags(), !last, "MF on all but the last");
        assert!(!p.dont_frag());
        assert_eq!(usize::from(p.frag_offset()), data.len(), "fragment {i} follows the one before");
        assert!(last || p.payload().len().is_multiple_of(8), "a multiple of 8 but the last");
        data.extend_from_slice(p.payload());
    }
    data
}

#[test]
fn a_packet_over_the_mtu_without_df_leaves_in_fragments_rfc791_3_2() {
    let t = tables(true, 1280);
    let (mut r, mut io) = router(&t);
    // Router Alert (copied into every fragment) and Record Route (first only).
    let opts = [0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0];
    let plain =
        ipv4_frame("10.0.1.2", "203.0.113.2", 64, Protocol::Udp, &udp("10.0.1.2", "203.0.113.2", 1, 2, 1400), false);
    let frame = with_options(&plain, &opts);
    run(&mut r, &t, &mut io, 0, &frame, 0);
    let orig = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert_eq!(io.sent.len(), 2);
    assert_eq!(sent_ip(&io.sent[0]).ttl(), 63);
    assert_eq!(reassemble(&io.sent, 1280), orig.payload(), "the data, put back together, is the packet's");
    let recorded = [0x94, 4, 0, 0, 7, 7, 8, 203, 0, 113, 1, 0];
    assert_eq!(sent_ip(&io.sent[0]).options(), &recorded[..], "the first carries every option, recorded");
    assert_eq!(sent_ip(&io.sent[1]).options(), &opts[..4], "the others the copied ones");
    for f in &io.sent {
        let e = EthernetFrame::new_checked(f.data()).unwrap();
        assert_eq!((e.dst(), e.src(), e.ethertype(), f.port()), (WAN_HOST, GW_WAN, EtherType::Ipv4, 1));
    }
    assert_eq!((r.counters.forwarded, r.counters.fragmented, r.counters.fragments_sent), (1, 1, 2));
}

#[test]
fn a_fragment_is_fragmented_again_keeping_its_offset_and_mf() {
    let t = tables(true, 576);
    let (mut r, mut io) = router(&t);
    let mut frame =
        ipv4_frame("10.0.1.2", "203.0.113.2", 64, Protocol::Udp, &udp("10.0.1.2", "203.0.113.2", 1, 2, 1400), false);
    // The middle of a datagram: offset 800, more to come.
    let mut p = Ipv4Packet::new_unchecked(&mut frame[14..]);
    p.set_flags_offset(false, true, 800);
    p.fill_checksum();
    run(&mut r, &t, &mut io, 0, &frame, 0);
    assert_eq!(io.sent.len(), 3);
    let offsets: Vec<(u16, bool)> =
        io.sent.iter().map(|f| (sent_ip(f).frag_offset(), sent_ip(f).more_frags())).collect();
    assert_eq!(offsets, [(800, true), (800 + 552, true), (800 + 1104, true)], "MF stays set on the last");
}

#[test]
fn the_gateways_own_echo_reply_fits_the_egress_mtu() {
    let mut t = tables(true, 1500);
    t.ifaces[0].mtu = 1280;
    let (mut r, mut io) = router(&t);
    let mut icmp = vec![0u8; 1408];
    icmp[0] = 8;
    icmp[4..8].copy_from_slice(&[0x12, 0x34, 0, 1]);
    let c = checksum::checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let req = ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Icmp, &icmp, false);
    run(&mut r, &t, &mut io, 0, &req, 0);
    assert_eq!(io.sent.len(), 2, "a 1428-byte reply over a 1280-byte MTU");
    let data = reassemble(&io.sent, 1280);
    assert_eq!(data[0], 0, "an echo reply");
    assert_eq!(checksum::checksum(&data), 0, "its checksum covers the whole message");
    assert_eq!(&data[4..], &icmp[4..], "id, sequence and data echoed");
}

#[test]
fn df_over_the_mtu_of_the_gateways_own_packet_is_not_sent_in_pieces() {
    let mut t = tables(true, 1500);
    t.ifaces[0].mtu = 576;
    let (mut r, mut io) = router(&t);
    // A closed TCP port's RST is small: sent whole, DF set, whatever the MTU.
    let mut syn = vec![0u8; 20];
    syn[..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
    syn[12] = 0x50;
    syn[13] = 0x02;
    let c = crate::wire::tcp::TcpPacket::new_checked(&mut syn[..]).map(|mut s| {
        s.fill_checksum(ip("10.0.1.2"), ip("10.0.1.1"));
        s.checksum()
    });
    assert!(c.is_ok());
    run(&mut r, &t, &mut io, 0, &ipv4_frame("10.0.1.2", "10.0.1.1", 64, Protocol::Tcp, &syn, true), 0);
    assert_eq!(io.sent.len(), 1);
    assert!(sent_ip(&io.sent[0]).dont_frag());
    assert_eq!(r.counters.fragmented, 0);
}
