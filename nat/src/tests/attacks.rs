//! Attacks from outside on the NAT's state (#26's review): each test is
//! named after the attack and fails without its fix.

use super::*;

/// `n` UDP packets from `from` on new source ports to `to`.
fn from_new_ports(l: &mut Lab, from: &str, to: (&str, u16), n: u16) {
    for p in 0..n {
        l.send(WAN, udp(from, 10_000 + p, to.0, to.1));
    }
}

#[test]
fn an_outside_host_on_new_ports_cannot_exhaust_a_subscribers_sessions() {
    // Endpoint-independent filtering: any remote may reach A's mapping,
    // and each new remote port makes a session. 2,000 of them from R2
    // filled a 1,024-session table, and A's next flows were refused.
    let mut r = rules(&[WAN_IP]);
    r.subscriber_inbound_sessions = 100;
    let mut l = Lab::sized(r, 1024);
    let out = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    from_new_ports(&mut l, R2, ("203.0.113.1", out.1), 2000);
    assert_eq!(l.nat().inbound_len(), 100, "the subscriber's inbound bound");
    assert_eq!(l.dropped(DropReason::NatInboundLimit), 1900);
    // A's own flows: all 60 go out.
    for p in 0..60 {
        l.pass(LAN, udp(A, 6000 + p, R1, 53), WAN);
    }
    assert_eq!(l.dropped(DropReason::NatSessionLimit), 0);
    // The sessions R2 made still work (they are A's mapping's).
    assert_eq!(dst(&l.pass(WAN, udp(R2, 10_000, WAN_IP, out.1), LAN)), (ip(A), 5000));
}

#[test]
fn outside_hosts_flooding_every_mapping_cannot_fill_a_workers_table() {
    // Three subscribers' mappings flooded from outside: together they
    // take at most the worker's inbound share (a quarter of 1,024), and
    // a fourth subscriber still opens its flows.
    let mut l = Lab::sized(rules(&[WAN_IP]), 1024);
    for h in [A, B, C] {
        let out = src(&l.pass(LAN, udp(h, 5000, R1, 53), WAN));
        from_new_ports(&mut l, R2, (WAN_IP, out.1), 400);
    }
    // At the share, each new one took the place of the oldest: none of
    // them was assured (no inside host answered).
    assert_eq!(l.nat().inbound_len(), 256);
    assert_eq!(l.nat().counters.inbound_evicted, 3 * 400 - 256);
    for p in 0..200 {
        l.pass(LAN, udp("10.0.1.5", 6000 + p, R1, 53), WAN);
    }
    assert_eq!(l.nat().len(), 3 + 256 + 200);
    // When the flood's sessions time out, the share is free again.
    l.advance(400);
    assert_eq!(l.nat().inbound_len(), 0);
}

#[test]
fn a_syn_flood_at_a_port_forward_takes_only_the_inbound_share() {
    let mut l = Lab::sized(with_forward(rules(&[WAN_IP]), TCP, 8080, (B, 80)), 1024);
    for i in 0..2000u16 {
        let src = format!("198.51.100.{}", 1 + i % 200);
        l.send(WAN, tcp(&src, 20_000 + i, WAN_IP, 8080, SYN));
    }
    // The share, turning over among the flood's own sessions.
    assert_eq!(l.nat().inbound_len(), 256);
    assert_eq!(l.nat().counters.inbound_evicted, 2000 - 256);
    assert_eq!(l.dropped(DropReason::NatInboundLimit), 0);
    // The subscribers' own flows are untouched by it.
    for p in 0..100 {
        l.pass(LAN, tcp(A, 6000 + p, R1, 443, SYN), WAN);
    }
}

/// A SYN flood at a port forward whose server answers every SYN (so each
/// session sees SYNs both ways, "established" to RFC 5382's state bits):
/// a client that completes its handshake meanwhile gets in and stays,
/// however long the flood goes on; the flood's sessions keep the
/// transitory timeout, not the established one.
#[test]
fn a_client_of_a_port_forward_gets_in_and_stays_during_a_syn_flood_at_it() {
    let mut l = Lab::sized(with_forward(rules(&[WAN_IP]), TCP, 8080, (B, 80)), 1024);
    let flood = |l: &mut Lab, from: u16, n: u16| {
        for i in from..from + n {
            let src = format!("198.51.100.{}", 1 + i % 200);
            l.send(WAN, tcp(&src, 20_000 + i, WAN_IP, 8080, SYN));
            // The server answers each.
            l.send(LAN, tcp(B, 80, &src, 20_000 + i, SYN | ACK));
        }
    };
    flood(&mut l, 0, 500);
    assert_eq!(l.nat().inbound_len(), 256, "at the share");
    // The client's handshake, in the middle of the flood.
    assert_eq!(dst(&l.pass(WAN, tcp(R1, 40_000, WAN_IP, 8080, SYN), LAN)), (ip(B), 80));
    l.pass(LAN, tcp(B, 80, R1, 40_000, SYN | ACK), WAN);
    l.pass(WAN, tcp(R1, 40_000, WAN_IP, 8080, ACK), LAN);
    flood(&mut l, 500, 2000);
    assert_eq!(l.dropped(DropReason::NatInboundLimit), 0);
    assert_eq!(l.nat().counters.inbound_evicted, 2500 + 1 - 256);
    // Its session is still there: its data goes through both ways.
    assert_eq!(dst(&l.pass(WAN, tcp(R1, 40_000, WAN_IP, 8080, ACK), LAN)), (ip(B), 80));
    assert_eq!(src(&l.pass(LAN, tcp(B, 80, R1, 40_000, ACK), WAN)), (ip(WAN_IP), 8080));
    // The flood's half-open sessions end after the transitory timeout
    // (240 ms in these tests, 4 min by default), the client's
    // (established, 7.44 s here) does not.
    l.advance(300);
    assert_eq!(l.nat().inbound_len(), 1);
}

/// Assured sessions never give way: with the share full of clients that
/// completed their handshakes, a new SYN is refused, not one of them.
#[test]
fn assured_sessions_from_outside_are_never_evicted() {
    let mut l = Lab::sized(with_forward(rules(&[WAN_IP]), TCP, 8080, (B, 80)), 1024);
    for i in 0..256u16 {
        let src = format!("198.51.100.{}", 1 + i % 200);
        l.pass(WAN, tcp(&src, 20_000 + i, WAN_IP, 8080, SYN), LAN);
        l.pass(LAN, tcp(B, 80, &src, 20_000 + i, SYN | ACK), WAN);
        l.pass(WAN, tcp(&src, 20_000 + i, WAN_IP, 8080, ACK), LAN);
    }
    l.send(WAN, tcp(R1, 40_000, WAN_IP, 8080, SYN));
    assert_eq!(l.dropped(DropReason::NatInboundLimit), 1);
    assert_eq!(l.nat().counters.inbound_evicted, 0);
    assert_eq!(l.nat().inbound_len(), 256);
}

#[test]
fn address_dependent_filtering_follows_sessions_as_they_come_and_go() {
    let mut l = Lab::new(rules(&[WAN_IP]));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    // Filtering turned on with sessions alive: it knows whom A sent to.
    l.both(|r| {
        let rules = Rules { filtering: Filtering::AddressDependent, ..r.translator().rules().clone() };
        r.translator_mut().set_rules(Arc::new(rules));
    });
    assert!(l.send(WAN, udp(R2, 53, WAN_IP, 5000)).is_empty());
    assert_eq!(dst(&l.pass(WAN, udp(R1, 4444, WAN_IP, 5000), LAN)), (ip(A), 5000));
    // Many sessions with R1 (the one above among them): R2 still out.
    for p in 0..500 {
        l.pass(LAN, udp(A, 5000, R1, 1000 + p), WAN);
    }
    assert!(l.send(WAN, udp(R2, 53, WAN_IP, 5000)).is_empty());
    // A talks to R2: let in. When every session with R1 has gone, R1 is
    // filtered again.
    l.pass(LAN, udp(A, 5000, R2, 53), WAN);
    l.pass(WAN, udp(R2, 7777, WAN_IP, 5000), LAN);
    l.advance(200);
    l.pass(LAN, udp(A, 5000, R2, 53), WAN); // keeps R2's session alive
    l.advance(200);
    eprintln!("{:?}", l.nat().sessions().map(|s| (s.remote, s.expires)).collect::<Vec<_>>());
    assert!(l.send(WAN, udp(R1, 53, WAN_IP, 5000)).is_empty());
    assert_eq!(dst(&l.pass(WAN, udp(R2, 8888, WAN_IP, 5000), LAN)), (ip(A), 5000));
    assert_eq!(l.dropped(DropReason::NatFiltered), 3);
}

#[test]
fn a_freed_port_is_not_given_to_another_subscriber_before_the_reuse_delay() {
    // Two outside ports. A's mapping times out; a late answer from A's
    // peer must not reach B, which asks for a port right after.
    let r = Rules { ports: (5000, 5001), port_reuse_delay: 1000 * MS, ..rules(&[WAN_IP]) };
    let mut l = Lab::new(r);
    let a = src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN));
    assert_eq!(a, (ip(WAN_IP), 5000));
    l.advance(400); // A's session and mapping expire; 5000 waits
    assert!(l.nat().is_empty());
    assert_eq!(src(&l.pass(LAN, udp(B, 5000, R1, 53), WAN)).1, 5001, "not A's port");
    let refused = l.send(LAN, udp(C, 5000, R1, 53));
    assert_eq!(refused.len(), 1, "ICMP 3/13 to C");
    assert_eq!(l.dropped(DropReason::NatPortsExhausted), 1);
    // A's peer answers late: no inside host gets it (the gateway's own
    // address answers Port Unreachable).
    assert!(l.send(WAN, udp(R1, 53, WAN_IP, 5000)).iter().all(|(port, _)| *port == WAN));
    // Past the delay (between one and two of them) the port is free.
    l.advance(2100);
    assert_eq!(src(&l.pass(LAN, udp(C, 5000, R1, 53), WAN)), (ip(WAN_IP), 5000));
}

#[test]
fn a_given_back_port_block_waits_out_the_reuse_delay_too() {
    // Two blocks of eight ports. A's last block goes with A; B has the
    // other; C gets none until A's block has waited.
    let r = Rules { ports: (5000, 5015), port_block: 8, port_reuse_delay: 1000 * MS, ..rules(&[WAN_IP]) };
    let mut l = Lab::new(r);
    assert_eq!(src(&l.pass(LAN, udp(A, 5000, R1, 53), WAN)).1, 5000);
    l.advance(400);
    assert!(l.nat().is_empty());
    assert_eq!(src(&l.pass(LAN, udp(B, 5000, R1, 53), WAN)).1, 5008, "the other block");
    assert_eq!(l.send(LAN, udp(C, 5000, R1, 53)).len(), 1, "refused: ICMP 3/13");
    assert_eq!(l.nat().ports_held_back(), 1);
    l.advance(1000);
    assert_eq!(src(&l.pass(LAN, udp(C, 5000, R1, 53), WAN)).1, 5000);
}
