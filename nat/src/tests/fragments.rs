//! Fragments (RFC 4787 REQ-14): in and out of order, held and bounded.

use super::*;

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
