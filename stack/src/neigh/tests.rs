//! The neighbor cache's tests, and its invariants checked after each step.

use super::lists::{Trust, NIL, RESOLVING};
use super::*;
use crate::DropReason;

const SEC: u64 = 1_000_000_000;
const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
}

fn cache(capacity: usize) -> NeighborCache<u32> {
    NeighborCache::new(NeighborConfig { capacity, queue_len: 2, ..Default::default() })
}

#[test]
fn miss_queues_then_reply_releases_in_order() {
    let mut c = cache(4);
    assert_eq!(c.lookup(0, ip(1), 0), Lookup::Miss);
    assert_eq!(c.enqueue(0, ip(1), 10, 0, drop), Ok(true));
    assert_eq!(c.enqueue(0, ip(1), 11, 0, drop), Ok(false));
    assert_eq!(c.enqueue(0, ip(1), 12, 0, drop), Err((DropReason::NeighborQueueFull, 12)));
    let mut out = vec![];
    assert!(c.learn(0, ip(1), MAC, Learn::Reply, 5, |p, m| out.push((p, m))));
    assert_eq!(out, vec![(10, MAC), (11, MAC)]);
    assert_eq!(c.lookup(0, ip(1), 6), Lookup::Hit { mac: MAC, probe: false });
}

#[test]
fn retries_then_fails_with_packets_returned() {
    let mut c = cache(4);
    c.enqueue(0, ip(1), 7, 0, drop).unwrap();
    let mut ev = vec![];
    c.poll(SEC / 2, 64, |e| ev.push(format!("{e:?}")));
    assert!(ev.is_empty(), "no retry before the interval");
    c.poll(SEC, 64, |e| ev.push(format!("{e:?}")));
    c.poll(2 * SEC, 64, |e| ev.push(format!("{e:?}")));
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert!(ev.iter().all(|e| e.contains("Probe") && e.contains("mac: None")));
    c.poll(3 * SEC, 64, |e| ev.push(format!("{e:?}")));
    assert_eq!(ev.last().unwrap(), "Unresolved(7)");
    assert!(c.is_empty());
}

#[test]
fn unsolicited_reply_never_creates_but_updates() {
    let mut c = cache(4);
    assert!(!c.learn(0, ip(1), MAC, Learn::Reply, 0, |_, _| ()));
    assert!(!c.learn(0, ip(1), MAC, Learn::Other, 0, |_, _| ()));
    assert!(c.is_empty());
    assert!(c.learn(0, ip(1), MAC, Learn::RequestToUs, 0, |_, _| ()));
    assert_eq!(c.get(0, ip(1)).unwrap().state, State::Stale);
    let other = MacAddr([2, 0, 0, 0, 0, 8]);
    assert!(c.learn(0, ip(1), other, Learn::Other, 1, |_, _| ()));
    assert_eq!(c.get(0, ip(1)).unwrap().mac, other);
}

#[test]
fn stale_use_probes_unicast_and_unanswered_probe_removes() {
    let mut c = cache(4);
    c.enqueue(0, ip(1), 1, 0, drop).unwrap();
    c.learn(0, ip(1), MAC, Learn::Reply, 0, |_, _| ());
    let t = 31 * SEC; // past reachable_time
    assert_eq!(c.lookup(0, ip(1), t), Lookup::Hit { mac: MAC, probe: true });
    assert_eq!(c.lookup(0, ip(1), t), Lookup::Hit { mac: MAC, probe: false });
    let mut ev = vec![];
    c.poll(t + SEC, 64, |e| ev.push(format!("{e:?}")));
    c.poll(t + 2 * SEC, 64, |e| ev.push(format!("{e:?}")));
    assert!(ev.iter().all(|e| e.contains("Some(02:00:00:00:00:09)")), "{ev:?}");
    c.poll(t + 3 * SEC, 64, |e| ev.push(format!("{e:?}")));
    assert!(c.get(0, ip(1)).is_none());
}

#[test]
fn probe_answered_becomes_reachable() {
    let mut c = cache(4);
    c.learn(0, ip(1), MAC, Learn::RequestToUs, 0, |_, _| ());
    assert_eq!(c.lookup(0, ip(1), 1), Lookup::Hit { mac: MAC, probe: true });
    c.learn(0, ip(1), MAC, Learn::Reply, 2, |_, _| ());
    assert_eq!(c.get(0, ip(1)).unwrap().state, State::Reachable);
}

#[test]
fn aging_removes_unused_entries() {
    let mut c = cache(4);
    c.learn(0, ip(1), MAC, Learn::RequestToUs, 0, |_, _| ());
    c.poll(599 * SEC, 64, |_| ());
    assert_eq!(c.len(), 1);
    c.poll(600 * SEC, 64, |_| ());
    assert_eq!(c.len(), 0);
}

#[test]
fn a_full_table_gives_a_new_entry_the_place_of_the_oldest_of_its_kind_only() {
    let mut c = cache(3);
    assert!(c.set_static(0, ip(1), MAC, 0, |_, _| ()));
    c.learn(0, ip(2), MAC, Learn::RequestToUs, 0, |_, _| ()); // unconfirmed
    c.enqueue(0, ip(3), 1, 0, drop).unwrap();
    c.learn(0, ip(3), MAC, Learn::Reply, 0, |_, _| ()); // confirmed
                                                        // Full of a static, an unconfirmed and a confirmed entry: a new
                                                        // resolution displaces none of them.
    assert_eq!(c.enqueue(0, ip(4), 2, 0, drop), Err((DropReason::NeighborTableFull, 2)));
    // A new unconfirmed one takes the old unconfirmed one's place.
    assert!(c.learn(0, ip(5), MAC, Learn::RequestToUs, 0, |_, _| ()));
    assert!(c.get(0, ip(2)).is_none() && c.get(0, ip(5)).is_some());
    assert!(c.get(0, ip(1)).is_some() && c.get(0, ip(3)).is_some());
    assert_eq!(c.evictions(), (0, 1));
    c.poll(10_000 * SEC, 64, |_| ());
    assert_eq!(c.get(0, ip(1)).unwrap().state, State::Static, "static never ages");
    c.check();
}

fn bounded(incomplete_limit: usize, unconfirmed_limit: usize, solicit_rate: u32) -> NeighborCache<u32> {
    NeighborCache::new(NeighborConfig {
        capacity: 64,
        queue_len: 2,
        incomplete_limit,
        unconfirmed_limit,
        solicit_rate,
        ..Default::default()
    })
}

#[test]
fn a_scan_of_unused_addresses_takes_at_most_incomplete_limit_per_interface_rfc6583() {
    let mut c = bounded(8, 8, 1_000_000);
    for n in 0..10 {
        c.enqueue(0, ip(n), n, 0, drop).unwrap();
        c.learn(0, ip(n), MAC, Learn::Reply, 0, |_, _| ());
    }
    let mut gone = vec![];
    for n in 100..1100 {
        let t = u64::from(n) * 1000; // a scan at 1 M/s, within the rate
        assert_eq!(c.enqueue(0, ip(n), n, t, |p| gone.push(p)), Ok(true));
        c.check();
    }
    assert_eq!(c.unconfirmed(0), (8, 0));
    assert_eq!(gone.len(), 992);
    assert_eq!(gone.first(), Some(&100), "the oldest goes first");
    assert_eq!(c.evictions(), (992, 0));
    assert!((0..10).all(|n| c.get(0, ip(n)).is_some_and(|e| e.state == State::Reachable)), "resolved kept");
    assert!((1092..1100).all(|n| c.get(0, ip(n)).is_some()));
    // Another interface has its own bound.
    assert_eq!(c.enqueue(1, ip(7), 7, 2 * SEC, drop), Ok(true));
    assert_eq!(c.unconfirmed(1), (1, 0));
    // Entries that fail leave their list too.
    for t in 10..13 {
        c.poll(t * SEC, 64, |_| ());
    }
    assert_eq!((c.unconfirmed(0), c.unconfirmed(1)), ((0, 0), (0, 0)));
    c.check();
}

#[test]
fn new_resolutions_are_rate_limited_per_interface_rfc6583_7_2_2() {
    let mut c = bounded(8, 8, 10); // bursts of 1
    assert_eq!(c.enqueue(0, ip(1), 1, 0, drop), Ok(true));
    assert_eq!(c.enqueue(0, ip(2), 2, 0, drop), Err((DropReason::NeighborSolicitLimited, 2)));
    assert_eq!(c.enqueue(0, ip(1), 3, 0, drop), Ok(false), "waiting on a known entry costs nothing");
    assert_eq!(c.enqueue(1, ip(2), 4, 0, drop), Ok(true), "each interface has its budget");
    assert_eq!(c.enqueue(0, ip(2), 5, SEC / 10, drop), Ok(true));
}

#[test]
fn a_flood_of_requests_from_on_link_senders_takes_at_most_unconfirmed_limit() {
    let mut c = bounded(8, 8, 1000);
    c.enqueue(0, ip(1), 1, 0, drop).unwrap();
    c.learn(0, ip(1), MAC, Learn::Reply, 0, |_, _| ());
    for n in 100..1100 {
        assert!(c.learn(0, ip(n), MAC, Learn::RequestToUs, 0, |_, _| ()));
    }
    assert_eq!(c.unconfirmed(0), (0, 8));
    assert_eq!(c.evictions(), (0, 992));
    assert_eq!(c.len(), 9);
    assert_eq!(c.get(0, ip(1)).unwrap().state, State::Reachable);
    // Our request answered confirms one: it leaves the bounded list.
    assert!(c.learn(0, ip(1099), MAC, Learn::Reply, 1, |_, _| ()));
    assert_eq!(c.unconfirmed(0), (0, 7));
    // A host that asks for us while we resolve it gave its MAC but no
    // reply: it moves from waiting to unconfirmed.
    c.enqueue(0, ip(2), 2, SEC, drop).unwrap();
    assert_eq!(c.unconfirmed(0), (1, 7));
    let mut out = vec![];
    c.learn(0, ip(2), MAC, Learn::RequestToUs, SEC, |p, _| out.push(p));
    assert_eq!((out, c.unconfirmed(0)), (vec![2], (0, 8)));
    c.check();
}

#[test]
fn the_lists_stay_whole_through_any_mix_of_changes() {
    let mut c = NeighborCache::new(NeighborConfig {
        capacity: 24,
        queue_len: 2,
        incomplete_limit: 5,
        unconfirmed_limit: 4,
        solicit_rate: 1_000_000,
        ..Default::default()
    });
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut now = 0;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (ifx, n, op) = ((x % 3) as u16, ((x >> 8) % 40) as u32, (x >> 20) % 16);
        now += 10_000_000;
        match op {
            0..=5 => drop(c.enqueue(ifx, ip(n), n, now, drop)),
            6..=7 => drop(c.learn(ifx, ip(n), MAC, Learn::Reply, now, |_, _| ())),
            8..=10 => drop(c.learn(ifx, ip(n), MAC, Learn::RequestToUs, now, |_, _| ())),
            11 => drop(c.learn(ifx, ip(n), MAC, Learn::Other, now, |_, _| ())),
            12 => drop(c.lookup(ifx, ip(n), now)),
            13 => drop(c.set_static(ifx, ip(n), MAC, now, |_, _| ())),
            14 => c.retain_static(|_, ip| ip != self::ip(n)),
            _ => drop(c.poll(now, 64, |_| ())),
        }
        c.check();
    }
    c.flush_dynamic();
    c.check();
}

#[test]
fn static_entries_ignore_learning_and_can_be_retired() {
    let mut c = cache(8);
    c.set_static(1, ip(1), MAC, 0, |_, _| ());
    assert!(!c.learn(1, ip(1), MacAddr([2, 0, 0, 0, 0, 1]), Learn::Reply, 1, |_, _| ()));
    assert_eq!(c.get(1, ip(1)).unwrap().mac, MAC);
    c.retain_static(|_, _| false);
    assert!(c.is_empty());
}

#[test]
fn many_inserts_and_removals_keep_every_entry_findable() {
    let mut c = cache(64);
    for n in 0..64 {
        c.learn(0, ip(n), MAC, Learn::RequestToUs, 0, |_, _| ());
    }
    assert_eq!(c.len(), 64);
    // Age half of them out, then check the rest are all still found.
    for n in (0..64).step_by(2) {
        c.lookup(0, ip(n), 500 * SEC);
    }
    c.poll(600 * SEC, 64, |_| ());
    assert_eq!(c.len(), 32);
    for n in 0..64 {
        assert_eq!(c.get(0, ip(n)).is_some(), n % 2 == 0, "{n}");
    }
}

fn ip6(n: u16) -> IpAddr {
    IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, n))
}

#[test]
fn stale_ipv6_entry_delays_then_probes_rfc4861_7_3_3() {
    let mut c = cache(4);
    c.learn(0, ip6(2), MAC, Learn::RequestToUs, 0, |_, _| ());
    assert_eq!(c.lookup(0, ip6(2), SEC), Lookup::Hit { mac: MAC, probe: false });
    assert_eq!(c.get(0, ip6(2)).unwrap().state, State::Delay);
    let mut ev = vec![];
    c.poll(5 * SEC, 64, |e| ev.push(format!("{e:?}")));
    assert!(ev.is_empty(), "still delaying: {ev:?}");
    c.poll(6 * SEC, 64, |e| ev.push(format!("{e:?}")));
    assert_eq!(ev.len(), 1);
    assert!(ev[0].contains("fd00:1::2") && ev[0].contains("Some(02:00:00:00:00:09)"), "{ev:?}");
    assert_eq!(c.get(0, ip6(2)).unwrap().state, State::Probe);
    // A solicited advertisement confirms it.
    c.learn(0, ip6(2), MAC, Learn::Reply, 6 * SEC, |_, _| ());
    assert_eq!(c.get(0, ip6(2)).unwrap().state, State::Reachable);
}

#[test]
fn ipv4_and_ipv6_entries_share_one_bounded_table() {
    let mut c = cache(2);
    c.enqueue(0, ip(1), 1, 0, drop).unwrap();
    c.enqueue(0, ip6(1), 2, 0, drop).unwrap();
    let mut gone = vec![];
    assert_eq!(c.enqueue(0, ip6(3), 3, 0, |p| gone.push(p)), Ok(true));
    assert_eq!(gone, vec![1], "the oldest waiting entry, of either family, made room");
    let mut out = vec![];
    c.learn(0, ip6(1), MAC, Learn::Reply, 1, |p, _| out.push(p));
    assert_eq!(out, vec![2]);
    assert!(c.get(0, ip(1)).is_none() && c.get(0, ip6(1)).is_some());
    assert!(c.get(1, ip6(1)).is_none(), "keyed by interface too");
}

impl<B> NeighborCache<B> {
    /// Panics unless every entry is found where it is and every list
    /// links exactly the entries of its interface and trust, in order.
    fn check(&self) {
        let mut counted = 0;
        for (i, s) in self.slots.iter().enumerate() {
            let Some(k) = s.key else { continue };
            counted += 1;
            assert_eq!(self.find(k), Some(i), "{k:?} not found where it is");
            assert_eq!(s.trust == Trust::Resolving, s.state == State::Incomplete, "{k:?} {:?}", s.state);
            if s.state == State::Static {
                assert_eq!(s.trust, Trust::Confirmed);
            }
        }
        assert_eq!(counted, self.len);
        for (ifx, b) in self.bounds.iter().enumerate() {
            for (list, l) in b.lists.iter().enumerate() {
                let trust = if list == RESOLVING { Trust::Resolving } else { Trust::Unconfirmed };
                let mut n = 0;
                let (mut prev, mut at) = (NIL, l.head);
                while at != NIL {
                    let s = &self.slots[at as usize];
                    assert_eq!((s.key.map(|k| usize::from(k.0)), s.trust, s.prev), (Some(ifx), trust, prev));
                    (prev, at) = (at, s.next);
                    n += 1;
                }
                assert_eq!((l.tail, l.len), (prev, n));
                let members =
                    self.slots.iter().filter(|s| s.trust == trust && s.key.is_some_and(|k| usize::from(k.0) == ifx));
                assert_eq!(members.count() as u32, n);
                assert!(n as usize <= self.cfg.limit(list));
            }
        }
    }
}
