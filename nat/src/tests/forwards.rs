//! Port forwards and static 1:1 mappings, hairpinned and changed live.

use super::*;

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

#[test]
fn a_ttl_1_syn_to_a_port_forward_is_answered_and_leaves_no_session() {
    let mut l = Lab::new(with_forward(rules(&[WAN_IP]), TCP, 8080, (B, 80)));
    // Time Exceeded, quoting the SYN as sent; no session made.
    let out = l.pass(WAN, with_ttl(tcp(R1, 40000, WAN_IP, 8080, SYN), 1), WAN);
    assert_eq!((out[20], out[21]), (11, 0), "Time Exceeded");
    assert!(l.nat().is_empty(), "a dropped packet leaves no state");
    // Nor under an inbound mapping of an inside host (endpoint-independent
    // filtering), nor refreshed for an existing session.
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    assert_eq!(l.nat().len(), 1);
    let out = l.pass(WAN, with_ttl(udp(R2, 53, WAN_IP, 5000), 1), WAN);
    assert_eq!((out[20], out[21]), (11, 0));
    assert_eq!(l.nat().len(), 1, "no session for R2");
    // A hairpin from the inside with TTL 1: no source session either.
    let out = l.pass(LAN, with_ttl(tcp(A, 6000, WAN_IP, 8080, SYN), 1), LAN);
    assert_eq!((out[20], out[21]), (11, 0));
    assert_eq!(l.nat().len(), 1);
    assert_eq!(l.dropped(DropReason::TtlExpired), 3);
    // With TTL to spare the same SYN goes through.
    assert_eq!(dst(&l.pass(WAN, tcp(R1, 40000, WAN_IP, 8080, SYN), LAN)), (ip(B), 80));
    assert_eq!(l.nat().len(), 2);
}

#[test]
fn a_packet_dropped_after_translation_leaves_no_session_and_its_error_quotes_it_as_sent() {
    let mut l = Lab::new(with_forward(rules(&[WAN_IP]), UDP, 5353, (B, 53)));
    // Too big for lan with DF: Fragmentation Needed back to R1, quoting
    // the datagram as R1 sent it (to WAN_IP:5353, never B:53), and the
    // session its translation made goes with it.
    let out = l.pass(WAN, udp_big(R1, 999, WAN_IP, 5353, 1600), WAN);
    assert_eq!((out[20], out[21]), (3, 4), "Fragmentation Needed");
    assert_eq!(dst(&out).0, ip(R1));
    let quoted = &out[28..];
    assert_eq!((src(quoted), dst(quoted)), ((ip(R1), 999), (ip(WAN_IP), 5353)));
    assert!(l.nat().is_empty(), "a dropped packet leaves no state");
    assert_eq!(l.nat().counters.abandoned, 1);
    // One that fits goes through and keeps its session.
    assert_eq!(dst(&l.pass(WAN, udp_big(R1, 999, WAN_IP, 5353, 100), LAN)), (ip(B), 53));
    assert_eq!(l.nat().len(), 1);
}

/// The ICMP errors both routers sent while polling (as IP packets).
fn errors_after_polls(l: &mut Lab, polls: u64) -> Vec<Vec<u8>> {
    for _ in 0..polls {
        l.advance(1000);
        poll_router(l);
    }
    let ip_of = |io: &mut TestIo| -> Vec<Vec<u8>> {
        io.sent
            .drain(..)
            .map(|b| b.data().to_vec())
            .filter(|f| f[12..14] == [8, 0] && f[23] == ICMP)
            .map(|f| f[14..].to_vec())
            .collect()
    };
    let (a, b) = (ip_of(&mut l.io), ip_of(&mut l.twin_io));
    assert_eq!(a, b);
    a
}

#[test]
fn host_unreachable_about_a_translated_packet_quotes_it_as_its_sender_sent_it_rfc5508() {
    // The forward's server never answers ARP: R1's SYN waits, then gets
    // Host Unreachable quoting WAN_IP:8080 (what R1's socket knows), not
    // the server's inside address and port.
    let mut l = Lab::new(with_forward(rules(&[WAN_IP]), TCP, 8080, ("10.0.1.9", 80)));
    let sent = l.send(WAN, tcp(R1, 40000, WAN_IP, 8080, SYN));
    assert_eq!((sent.len(), sent[0].0), (1, LAN), "an ARP request for the server");
    let errs = errors_after_polls(&mut l, 3);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert_eq!((e[20], e[21], dst(e).0), (3, 1, ip(R1)));
    let quoted = &e[28..];
    assert_eq!((src(quoted), dst(quoted)), ((ip(R1), 40000), (ip(WAN_IP), 8080)));
    assert_checksums(e);
    // (Its session timed out meanwhile: the forward still says how.)
    assert!(l.nat().is_empty());
    // Outbound: A's datagram to an unresolvable host on wan, translated
    // on its way out; the error goes back to A quoting A's own source.
    let mut r = rules(&[WAN_IP]);
    r.timeouts.udp = 10_000 * MS;
    let mut l = Lab::new(r);
    let sent = l.send(LAN, udp(A, 5000, "203.0.113.77", 53));
    assert_eq!((sent.len(), sent[0].0), (1, WAN));
    let errs = errors_after_polls(&mut l, 3);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert_eq!((e[20], e[21], dst(e).0), (3, 1, ip(A)));
    let quoted = &e[28..];
    assert_eq!((src(quoted), dst(quoted)), ((ip(A), 5000), (ip("203.0.113.77"), 53)));
}
