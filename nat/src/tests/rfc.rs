//! One test per NAT requirement: RFC 4787 (UDP), RFC 5382 (TCP), RFC 5508
//! (ICMP), RFC 6888 (bounds) and RFC 7857 (RST), frames through the whole
//! router pipeline with timeouts in milliseconds.

use super::*;

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
