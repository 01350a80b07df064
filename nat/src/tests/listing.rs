//! The control plane's paged session listing and deletes.

use super::*;

#[test]
fn sessions_listed_by_page_and_filter_and_deleted_one_by_one() {
    let mut l = Lab::sized(rules(&[WAN_IP]), 256);
    for i in 0..10 {
        l.pass(LAN, udp(A, 5000 + i, R1, 53), WAN);
    }
    for i in 0..5 {
        l.pass(LAN, udp(B, 6000 + i, R1, 53), WAN);
    }
    let nat = l.r.translator_mut();
    // All 15 in pages of 4, the scan spread over calls of 16 slots.
    let (mut seen, mut from, mut pages) = (Vec::new(), 0, 0);
    loop {
        let (a, _) = ask(nat, Query::Sessions { inside: None, outside: None }, from, 4, 16);
        assert!(a.sessions.len() <= 4);
        seen.extend(a.sessions);
        pages += 1;
        match a.next {
            Some(n) => from = n,
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (15, 4));
    // Filtered by inside address; a small budget takes several calls.
    let (a, calls) = ask(nat, Query::Sessions { inside: Some(ip(B)), outside: None }, 0, 100, 16);
    assert_eq!(a.sessions.len(), 5);
    assert!(a.sessions.iter().all(|s| s.inside.0 == ip(B) && s.outside.0 == ip(WAN_IP)));
    assert_eq!((a.next, calls), (None, 16), "256 slots at 16 a call");
    let (a, _) = ask(nat, Query::Sessions { inside: None, outside: Some(ip("203.0.113.99")) }, 0, 100, 1000);
    assert!(a.sessions.is_empty());
    // Subscribers' usage.
    let (a, _) = ask(nat, Query::Subscribers { inside: None }, 0, 100, 1000);
    let mut subs: Vec<_> = a.subscribers.iter().map(|s| (s.inside, s.outside, s.sessions, s.ports)).collect();
    subs.sort();
    assert_eq!(subs, vec![(ip(A), ip(WAN_IP), 10, 10), (ip(B), ip(WAN_IP), 5, 5)]);
    // Delete one, then it is gone.
    let s = seen[0];
    let del = Query::Delete { proto: s.proto, outside: s.outside, remote: s.remote };
    assert!(ask(nat, del, 0, 1, 1).0.deleted);
    assert!(!ask(nat, del, 0, 1, 1).0.deleted);
    assert_eq!(nat.len(), 14);
}
