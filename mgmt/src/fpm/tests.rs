//! The learned-route table: refusals, bounds, resync and sweep.

use super::netlink::{Hop, Message, Object, Protocol, Route, Target, RT_TABLE_MAIN};
use super::rib::{Outcome, Rib};
use std::net::IpAddr;

fn route(dst: &str, len: u8, protocol: Protocol, gw: &str) -> Message {
    Message::NewRoute(Route {
        dst: dst.parse().unwrap(),
        len,
        table: RT_TABLE_MAIN,
        protocol,
        metric: 20,
        target: Target::Hops(vec![Hop { gateway: Some(gw.parse().unwrap()), oif: 3, weight: 1 }]),
    })
}

#[test]
fn routes_are_taken_replaced_and_withdrawn() {
    let mut rib = Rib::default();
    rib.new_session();
    assert_eq!(rib.apply(route("198.51.100.0", 24, Protocol::Bgp, "203.0.113.2"), 10), Outcome::Changed);
    assert_eq!(rib.apply(route("198.51.100.0", 24, Protocol::Bgp, "203.0.113.2"), 10), Outcome::Same);
    assert_eq!(rib.apply(route("198.51.100.9", 24, Protocol::Bgp, "203.0.113.3"), 10), Outcome::Changed, "host bits");
    assert_eq!(rib.len(), 1);
    let del = |len| Message::DelRoute { dst: "198.51.100.0".parse::<IpAddr>().unwrap(), len, table: RT_TABLE_MAIN };
    assert_eq!(rib.apply(del(23), 10), Outcome::Same);
    assert_eq!(rib.apply(del(24), 10), Outcome::Changed);
    assert!(rib.is_empty());
}

#[test]
fn connected_other_tables_and_past_the_bound_are_refused() {
    let mut rib = Rib::default();
    assert_eq!(rib.apply(route("203.0.113.0", 24, Protocol::Kernel, "0.0.0.0"), 2), Outcome::Refused("connected"));
    let Message::NewRoute(mut r) = route("10.0.0.0", 8, Protocol::Ospf, "203.0.113.2") else { unreachable!() };
    r.table = 100;
    assert_eq!(rib.apply(Message::NewRoute(r), 2), Outcome::Refused("other_table"));
    assert_eq!(rib.apply(route("10.1.0.0", 16, Protocol::Bgp, "203.0.113.2"), 2), Outcome::Changed);
    assert_eq!(rib.apply(route("10.2.0.0", 16, Protocol::Bgp, "203.0.113.2"), 2), Outcome::Changed);
    assert_eq!(rib.apply(route("10.3.0.0", 16, Protocol::Bgp, "203.0.113.2"), 2), Outcome::Refused("full"));
    // Replacing a route already held is not growth.
    assert_eq!(rib.apply(route("10.2.0.0", 16, Protocol::Bgp, "203.0.113.3"), 2), Outcome::Changed);
    assert_eq!(rib.counts()[Protocol::NAMES.iter().position(|&p| p == "bgp").unwrap()], 2);
}

#[test]
fn a_reconnect_keeps_routes_until_the_resync_and_sweeps_the_rest() {
    let mut rib = Rib::default();
    rib.new_session();
    for (d, gw) in [("10.1.0.0", "203.0.113.2"), ("10.2.0.0", "203.0.113.2"), ("10.3.0.0", "203.0.113.2")] {
        rib.apply(route(d, 16, Protocol::Bgp, gw), 10);
    }
    rib.apply(Message::NewObject { id: 7, object: Object::Blackhole }, 10);
    rib.new_session();
    assert!(rib.has_stale());
    // Sent again, unchanged: fresh again (its session moved on).
    assert_eq!(rib.apply(route("10.1.0.0", 16, Protocol::Bgp, "203.0.113.2"), 10), Outcome::Changed);
    rib.apply(route("10.2.0.0", 16, Protocol::Bgp, "203.0.113.3"), 10);
    assert_eq!(rib.len(), 3, "stale routes stay during the resync");
    assert_eq!(rib.sweep(), 1);
    assert!(!rib.has_stale());
    assert_eq!(rib.len(), 2);
    // The grace time: a new session that sends nothing sweeps everything.
    rib.new_session();
    assert_eq!(rib.sweep(), 2);
}

#[test]
fn groups_resolve_to_their_members() {
    let mut rib = Rib::default();
    let hop = |gw: &str| Object::Hop(Hop { gateway: Some(gw.parse().unwrap()), oif: 3, weight: 1 });
    rib.apply(Message::NewObject { id: 1, object: hop("203.0.113.2") }, 10);
    rib.apply(Message::NewObject { id: 2, object: hop("203.0.113.3") }, 10);
    rib.apply(Message::NewObject { id: 3, object: Object::Group(vec![(1, 1), (2, 3), (9, 1)]) }, 10);
    let hops = rib.hops(&Target::Object(3));
    assert_eq!(hops.len(), 2, "the unknown member 9 gives nothing");
    assert_eq!(hops[1].weight, 3);
    assert!(rib.hops(&Target::Object(4)).is_empty());
}
