//! Port blocks and the NAT log (RFC 6888 REQ-12).

use super::*;

#[test]
fn rfc6888_port_blocks_give_whole_blocks_and_log_once_per_block() {
    use LogEvent::*;
    let r = Rules { port_block: 64, subscriber_ports: 128, ..rules(&[WAN_IP]) };
    let (mut l, q) = logged(r, 64);
    // Port preservation picks the block holding the inside port:
    // (5000 - 1024) / 64 = 62, ports 4992..=5055.
    let out = l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    assert_eq!(src(&out), (ip(WAN_IP), 5000));
    assert_eq!(drain(&q), [(BlockAlloc, ip(A), (4992, 5055))]);
    // Later mappings take ports from the subscriber's block, every
    // protocol, and write nothing.
    assert_eq!(src(&l.pass(LAN, udp(A, 40000, R1, 53), WAN)), (ip(WAN_IP), 4992));
    assert_eq!(src(&l.pass(LAN, tcp(A, 5000, R1, 80, SYN), WAN)), (ip(WAN_IP), 5000));
    assert!(drain(&q).is_empty());
    // The block full (64 UDP ports), a second one is given; past the
    // bound (128 ports = 2 blocks), nothing more.
    for p in 0..62 {
        let out = l.pass(LAN, udp(A, 20000 + p, R1, 53), WAN);
        assert!((4992..=5055).contains(&src(&out).1));
    }
    let out = l.pass(LAN, udp(A, 30000, R1, 53), WAN);
    let got = drain(&q);
    assert_eq!(got.len(), 1);
    let (ev, who, (lo, hi)) = got[0];
    assert_eq!((ev, who, hi - lo), (BlockAlloc, ip(A), 63));
    assert!((lo..=hi).contains(&src(&out).1), "{lo}-{hi}");
    for p in 1..63 {
        l.pass(LAN, udp(A, 30000 + p, R1, 53), WAN);
    }
    l.pass(LAN, udp(A, 31000, R1, 53), LAN); // the 129th port: ICMP 3/13
    assert_eq!(l.dropped(DropReason::NatPortsExhausted), 1);
    assert!(drain(&q).is_empty());
    // Another subscriber gets a block of its own.
    let out = l.pass(LAN, udp(B, 5000, R1, 53), WAN);
    let got = drain(&q);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0, got[0].1), (BlockAlloc, ip(B)));
    assert!((got[0].2 .0..=got[0].2 .1).contains(&src(&out).1));
    assert_ne!(got[0].2, (4992, 5055));
    let info: Vec<_> = (0..l.nat().subscriber_slots()).filter_map(|i| l.nat().subscriber_info(i)).collect();
    assert!(info.iter().any(|s| s.inside == ip(A) && s.blocks == 2 && s.ports == 128));
    // Everything expires: every block given is taken back once, A's
    // second block when it empties, its first with the subscriber.
    l.advance(301);
    assert!(l.nat().is_empty());
    let mut released = drain(&q);
    released.sort_by_key(|r| r.2);
    let b = released.iter().copied().find(|r| r.1 == ip(B)).unwrap();
    let mut want = vec![(BlockRelease, ip(A), (4992, 5055)), (BlockRelease, ip(A), (lo, hi)), b];
    want.sort_by_key(|r| r.2);
    assert_eq!(released, want);
}

#[test]
fn without_blocks_each_mapping_is_logged_and_a_rules_change_logs_a_reset() {
    use LogEvent::*;
    let (mut l, q) = logged(rules(&[WAN_IP]), 64);
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    l.pass(LAN, udp(A, 5000, R2, 53), WAN); // same mapping: no record
    l.pass(LAN, echo(B, R1, 8, 77), WAN);
    let r: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].event, r[0].proto, r[0].inside, r[0].inside_port), (MappingCreate, UDP, ip(A), 5000));
    assert_eq!((r[0].outside, r[0].ports), (ip(WAN_IP), (5000, 5000)));
    assert_eq!(
        r[0].fields(),
        "event=mapping-create proto=udp inside=10.0.1.2:5000 outside=203.0.113.1 ports=5000-5000"
    );
    assert_eq!((r[1].event, r[1].proto, r[1].inside), (MappingCreate, ICMP, ip(B)));
    l.advance(70); // the echo mapping times out (60 ms)
    let r = drain(&q);
    assert_eq!(r, [(MappingDelete, ip(B), (1024, 1024))]); // 77 is below the range
                                                           // New port range: every mapping ends at once, in one record.
    let new = Rules { ports: (2000, 3000), log: true, ..rules(&[WAN_IP]) };
    let new = Arc::new(new);
    l.both(|r| r.translator_mut().set_rules(Arc::clone(&new)));
    assert_eq!(drain(&q), [(Reset, Ipv4Addr::UNSPECIFIED, (0, 0))]);
    assert!(l.nat().is_empty());
    // Logging off: nothing is written.
    let quiet = Rules { ports: (2000, 3000), ..rules(&[WAN_IP]) };
    let quiet = Arc::new(quiet);
    l.both(|r| r.translator_mut().set_rules(Arc::clone(&quiet)));
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    assert!(q.is_empty());
}

#[test]
fn a_log_queue_past_three_quarters_refuses_new_blocks_and_keeps_existing_flows() {
    let r = Rules { port_block: 64, ..rules(&[WAN_IP]) };
    // 4 records of room: 3 for blocks, the last kept for releases.
    let (mut l, q) = logged(r, 4);
    for h in [A, B, "10.0.1.4"] {
        l.pass(LAN, udp(h, 5000, R1, 53), WAN);
    }
    l.pass(LAN, udp("10.0.1.5", 5000, R1, 53), LAN); // ICMP 3/13
    assert_eq!(l.dropped(DropReason::NatLogFull), 1);
    // Existing subscribers go on, new mappings within their blocks too.
    l.pass(LAN, udp(A, 5000, R1, 53), WAN);
    l.pass(LAN, udp(A, 5001, R1, 53), WAN);
    l.pass(WAN, udp(R1, 53, WAN_IP, 5000), LAN);
    // Once the writer drains, the next subscriber gets its block.
    assert_eq!(drain(&q).len(), 3);
    l.pass(LAN, udp("10.0.1.5", 5000, R1, 53), WAN);
    assert_eq!(q.len(), 1);
    // A release that finds the queue full is counted as lost.
    q.push(LogRecord::default()).unwrap();
    q.push(LogRecord::default()).unwrap();
    q.push(LogRecord::default()).unwrap();
    l.advance(301);
    assert!(l.nat().is_empty());
    assert_eq!(l.nat().counters.log_lost, 4);
}
