//! The fast path against the full path: the same frames through
//! `process_burst` on one router and one by one through `process` on
//! another must leave the same frames (bytes and ports, in order), the
//! same counters and the same neighbors. Each test also checks how many
//! frames the fast path took, so a fast path that gave up on everything
//! would not pass.

use super::*;
use crate::fib6::NextHop6;
use crate::iface::{Ipv6Cidr, StaticRoute6};
use crate::neigh::NeighborInfo;
use crate::wire::ipv6::nh;
use std::net::Ipv6Addr;

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// lan (port 0): 10.0.1.1/24, fd00:1::1/64; wan (port 1, MTU 1400):
/// 203.0.113.1/24, 2001:db8:1::1/64; a VLAN 7 sub-interface on port 2:
/// 10.0.7.1/24. Routes: 198.51.100.0/24 via 203.0.113.2, 192.0.2.0/24
/// over two next hops, 198.18.0.0/15 via 10.0.7.2 (VLAN), 2001:db8:2::/48
/// via 2001:db8:1::2. Static neighbors for the gateways, 203.0.113.3 and
/// 2001:db8:1::3 (one MAC) on the wan, 10.0.1.2 and fd00:1::2 on the
/// lan; 10.0.1.3 and fd00:1::3 unknown.
fn tables(generation: u64, wan_mac: MacAddr) -> Tables {
    let routes6: Vec<StaticRoute6> = vec![StaticRoute::Via {
        dst: "2001:db8:2::/48".parse().unwrap(),
        hops: vec![NextHop6 { ifindex: 1, gateway: ip6("2001:db8:1::2") }],
    }];
    tables_with(generation, wan_mac, &routes6)
}

/// [`tables`] with other IPv6 routes.
fn tables_with(generation: u64, wan_mac: MacAddr, routes6: &[StaticRoute6]) -> Tables {
    let mut lan = iface("lan", 0, GW_LAN, "10.0.1.1/24", 1500);
    lan.addrs6 = vec!["fd00:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let mut wan = iface("wan", 1, wan_mac, "203.0.113.1/24", 1400);
    wan.addrs6 = vec!["2001:db8:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let mut vlan = iface("p2.7", 2, MacAddr([2, 0, 0, 0, 0, 7]), "10.0.7.1/24", 1500);
    vlan.vlan = Some(7);
    let mut routes = wan_routes();
    routes.push(StaticRoute::Via {
        dst: "198.18.0.0/15".parse().unwrap(),
        hops: vec![NextHop { ifindex: 2, gateway: ip("10.0.7.2") }],
    });
    let neighbors = vec![
        StaticNeighbor { ifindex: 0, ip: ip("10.0.1.2").into(), mac: LAN_HOST },
        StaticNeighbor { ifindex: 0, ip: ip6("fd00:1::2").into(), mac: LAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac: WAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.3").into(), mac: MacAddr([2, 0, 0, 0, 2, 3]) },
        StaticNeighbor { ifindex: 1, ip: ip6("2001:db8:1::2").into(), mac: WAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip6("2001:db8:1::3").into(), mac: MacAddr([2, 0, 0, 0, 2, 3]) },
        StaticNeighbor { ifindex: 2, ip: ip("10.0.7.2").into(), mac: MacAddr([2, 0, 0, 0, 7, 2]) },
    ];
    Tables::build(vec![lan, wan, vlan], &routes, routes6, neighbors, generation).unwrap()
}

fn v6(src: &str, dst: &str, hop: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    super::ip6::ipv6_frame(GW_LAN, src, dst, hop, next, payload)
}

fn udp6(src: &str, dst: &str, hop: u8) -> Vec<u8> {
    super::ip6::udp6(src, dst, hop, 18)
}

/// Two routers on the same tables: `full` runs frames one by one through
/// `process`, `fast` in bursts through `process_burst`.
struct Twin {
    full: Router<VecBuf>,
    full_io: TestIo,
    fast: Router<VecBuf>,
    fast_io: TestIo,
}

impl Twin {
    fn new(t: &Tables) -> Twin {
        let (full, full_io) = router(t);
        let (fast, fast_io) = router(t);
        Twin { full, full_io, fast, fast_io }
    }

    /// Runs `frames` through both, then both routers' timers; checks
    /// they agree and returns how many frames the fast path took.
    fn run(&mut self, t: &Tables, frames: &[(u16, Vec<u8>)], now: u64) -> u64 {
        let before = self.fast.counters.fast_path;
        for (port, f) in frames {
            self.full.process(t, VecBuf::from_frame(*port, f), now, &mut self.full_io);
        }
        // Each run of frames from one port is a burst. The fast side's
        // buffers carry no port: the burst tells.
        for run in frames.chunk_by(|a, b| a.0 == b.0) {
            let mut burst: Vec<Option<VecBuf>> = run.iter().map(|(_, f)| Some(VecBuf::from_frame(99, f))).collect();
            self.fast.process_burst(t, run[0].0, &mut burst, now, &mut self.fast_io);
            assert!(burst.iter().all(Option::is_none), "every slot is taken");
        }
        self.full.poll(t, now, &mut self.full_io);
        self.fast.poll(t, now, &mut self.fast_io);
        let sent = |io: &mut TestIo| io.sent.drain(..).map(|b| (b.port(), b.data().to_vec())).collect::<Vec<_>>();
        assert_eq!(sent(&mut self.fast_io), sent(&mut self.full_io), "frames sent");
        let mut fast_counters = self.fast.counters.clone();
        fast_counters.fast_path = 0;
        assert_eq!(fast_counters, self.full.counters, "counters");
        let neighbors = |r: &Router<VecBuf>| {
            let mut v: Vec<NeighborInfo> = r.neighbors().entries().collect();
            v.sort_by_key(|n| (n.ifindex, n.ip));
            v
        };
        assert_eq!(neighbors(&self.fast), neighbors(&self.full), "neighbors");
        // The stations learned, on their members, seen at the same times.
        let macs = |r: &Router<VecBuf>| {
            let mut v: Vec<_> = r.macs().entries().map(|e| (e.bridge, e.mac.0, e.member, e.seen)).collect();
            v.sort();
            v
        };
        assert_eq!(macs(&self.fast), macs(&self.full), "MAC table");
        self.fast.counters.fast_path - before
    }
}

/// Every case the full path treats specially, in one burst with plain
/// transit packets between them.
#[test]
fn fast_path_agrees_with_full_path_on_every_kind_of_frame() {
    let t = tables(1, GW_WAN);
    let mut tw = Twin::new(&t);
    let plain = || udp_frame("198.51.100.7", 64);
    let mut bad_checksum = plain();
    bad_checksum[24] ^= 0xff;
    let mut options = ipv4_frame("10.0.1.2", "198.51.100.7", 64, Protocol::Udp, &[0; 12], false);
    options[14] = 0x46; // IHL 6: the first payload word becomes an option (End of List)
    Ipv4Packet::new_unchecked(&mut options[14..]).fill_checksum();
    let mut padded = plain();
    padded.extend_from_slice(&[0; 10]);
    let mut truncated = plain();
    truncated.truncate(40);
    let mut not_for_us = plain();
    not_for_us[0..6].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
    let mut multicast_source = plain();
    multicast_source[6] = 1;
    let mut wrong_version = plain();
    wrong_version[14] = 0x55;
    let big = ipv4_frame("10.0.1.2", "198.51.100.7", 64, Protocol::Udp, &[0; 1420], true);
    let mut hop_by_hop = vec![nh::UDP, 0, 1, 4, 0, 0, 0, 0];
    hop_by_hop.extend_from_slice(&[0; 8]);
    let frames: Vec<(u16, Vec<u8>)> = vec![
        (0, plain()),
        (0, udp_frame("192.0.2.9", 64)),
        (0, ipv4_frame("10.0.1.2", "192.0.2.10", 64, Protocol::Udp, &udp("10.0.1.2", "192.0.2.10", 5, 6, 8), false)),
        (0, udp_frame("10.0.1.2", 64)),   // connected, back out of the lan
        (0, udp_frame("10.0.1.3", 64)),   // connected, unresolved: ARP
        (0, udp_frame("198.18.3.4", 64)), // out of a VLAN sub-interface
        (0, udp_frame("198.51.100.7", 1)),
        (0, bad_checksum),
        (0, options),
        (0, padded),
        (0, truncated),
        (0, not_for_us),
        (0, multicast_source),
        (0, wrong_version),
        (0, big),
        (0, echo_request("10.0.1.2", "10.0.1.1")),
        (0, udp_frame("127.0.0.1", 64)),
        (0, udp_frame("224.0.0.9", 64)),
        (0, udp_frame("10.0.1.255", 64)),
        (0, udp_frame("100.100.100.100", 64)), // no route
        (0, ipv4_frame("127.0.0.1", "198.51.100.7", 64, Protocol::Udp, &[0; 8], false)),
        (0, arp_frame(Operation::Request, LAN_HOST, "10.0.1.2", "10.0.1.1", MacAddr::BROADCAST)),
        (3, plain()), // a port without an interface
        (0, udp6("fd00:1::2", "2001:db8:2::7", 64)),
        (0, udp6("fd00:1::2", "fd00:1::2", 64)),
        (0, udp6("fd00:1::2", "fd00:1::3", 64)), // unresolved: NS
        (0, udp6("fd00:1::2", "2001:db8:2::7", 1)),
        (0, udp6("fe80::2", "2001:db8:2::7", 64)),
        (0, udp6("fd00:1::2", "fe80::9", 64)),
        (0, udp6("fd00:1::2", "ff02::1", 64)),
        (0, udp6("fd00:1::2", "fd00:1::1", 64)),
        (0, v6("fd00:1::2", "2001:db8:2::7", 64, nh::HOP_BY_HOP, &hop_by_hop)),
        (0, v6("fd00:1::2", "2001:db8:2::7", 64, nh::UDP, &[0; 1400])),
        (0, plain()),
    ];
    // Plain transit: 198.51.100.7 twice, 192.0.2.9, 192.0.2.10, 10.0.1.2,
    // padded, 2001:db8:2::7, fd00:1::2.
    assert_eq!(tw.run(&t, &frames, 1), 8);
    assert_eq!(tw.fast.counters.dropped(DropReason::Ipv4BadChecksum), 1);
    assert_eq!(tw.fast.counters.dropped(DropReason::Ipv6ExtTruncated), 0);
    // Again, with the adjacencies made: the same eight.
    assert_eq!(tw.run(&t, &frames, 2), 8);
}

/// A burst whose frames take turns between routes, next hops and
/// connected hosts, and a run of flows over one ECMP route: each frame
/// goes where it would alone (the burst's memo of its last route names
/// a route's one next hop, never an ECMP route's pick).
#[test]
fn a_burst_of_mixed_routes_sends_each_frame_to_its_own_next_hop() {
    let t = tables(1, GW_WAN);
    let mut tw = Twin::new(&t);
    let flow = |dst: &str, sport: u16| {
        ipv4_frame("10.0.1.2", dst, 64, Protocol::Udp, &udp("10.0.1.2", dst, sport, 53, 8), false)
    };
    let mut frames = vec![];
    for i in 0..4 {
        frames.push((0, flow("198.51.100.7", i)));
        frames.push((0, flow("198.51.100.8", i)));
        frames.push((0, flow("203.0.113.2", i)));
        frames.push((0, flow("203.0.113.3", i)));
        frames.push((0, flow("198.51.100.9", i)));
    }
    frames.extend((0..16).map(|sport| (0, flow("192.0.2.7", 1000 + sport))));
    frames.push((0, flow("198.51.100.7", 9)));
    assert_eq!(tw.run(&t, &frames, 1), frames.len() as u64);
    // Both ECMP next hops were taken (the full path agreed on each).
    tw.fast_io.sent.clear();
    let ecmp: Vec<(u16, Vec<u8>)> = (0..16).map(|sport| (0, flow("192.0.2.7", 1000 + sport))).collect();
    let mut burst: Vec<Option<VecBuf>> = ecmp.iter().map(|(_, f)| Some(VecBuf::from_frame(0, f))).collect();
    tw.fast.process_burst(&t, 0, &mut burst, 2, &mut tw.fast_io);
    let hops: std::collections::HashSet<Vec<u8>> = tw.fast_io.sent.iter().map(|b| b.data()[..6].to_vec()).collect();
    assert_eq!(hops.len(), 2, "both next hops");
}

/// IPv6 routes, connected hosts and IPv4 routes in turns: each frame
/// goes to its own next hop. The burst's memo names a route by its FIB
/// entry, and here an IPv4 route and an IPv6 route, through different
/// neighbors, have the same entry number: the memo must tell the two
/// tables apart.
#[test]
fn a_burst_of_mixed_families_sends_each_frame_to_its_own_next_hop() {
    let via = |dst: &str, gw: &str| StaticRoute::Via {
        dst: dst.parse().unwrap(),
        hops: vec![NextHop6 { ifindex: 1, gateway: ip6(gw) }],
    };
    let routes6 = [
        via("2001:db8:5::/48", "fd00:1::2"),
        via("2001:db8:6::/48", "2001:db8:1::2"),
        via("2001:db8:2::/48", "2001:db8:1::3"),
    ];
    let t = tables_with(1, GW_WAN, &routes6);
    let (to4, to6) = ("198.51.100.7", "2001:db8:2::7");
    assert_eq!(t.fib.entry(u32::from(ip(to4))), t.fib6.entry(u128::from(ip6(to6))), "one entry number");
    let mut tw = Twin::new(&t);
    let mut frames = vec![];
    for i in 0..3 {
        frames.push((0, udp6("fd00:1::2", to6, 64)));
        frames.push((0, udp6("fd00:1::2", to6, 64 - i)));
        frames.push((0, udp_frame(to4, 64)));
        frames.push((0, udp6("fd00:1::2", "2001:db8:6::1", 64)));
        frames.push((0, udp6("2001:db8:2::9", "fd00:1::2", 64)));
        frames.push((0, udp6("fd00:1::2", to6, 64)));
    }
    assert_eq!(tw.run(&t, &frames, 1), frames.len() as u64);
    // The two routes' next hops, by their MACs (the run above checked
    // each frame against the full path).
    let mut burst: Vec<Option<VecBuf>> = frames.iter().map(|(_, f)| Some(VecBuf::from_frame(0, f))).collect();
    tw.fast.process_burst(&t, 0, &mut burst, 2, &mut tw.fast_io);
    let macs: Vec<[u8; 6]> = tw.fast_io.sent.iter().map(|b| b.data()[..6].try_into().unwrap()).collect();
    let (hop4, hop6) = (WAN_HOST.0, [2, 0, 0, 0, 2, 3]);
    assert_eq!(macs.iter().filter(|&&m| m == hop4).count(), 3 + 3, "to 198.51.100.7 and 2001:db8:6::1");
    assert_eq!(macs.iter().filter(|&&m| m == hop6).count(), 3 * 3, "to {to6}");
}

/// A neighbor learned from an ARP reply is reachable for
/// `reachable_time`; the first use after that sends a unicast probe
/// (full path) and the fast path stays away until it is confirmed again.
#[test]
fn fast_path_leaves_stale_neighbors_to_the_full_path() {
    let t = tables(1, GW_WAN);
    let mut tw = Twin::new(&t);
    let to_lan_host = || (0, udp_frame("10.0.1.3", 64));
    // Unknown: ARP request, the packet waits; the reply sends it.
    assert_eq!(tw.run(&t, &[to_lan_host()], 1), 0);
    let reply = arp_frame(Operation::Reply, MacAddr([2, 0, 0, 0, 1, 3]), "10.0.1.3", "10.0.1.1", GW_LAN);
    // The frames after the reply in its burst already go fast.
    assert_eq!(tw.run(&t, &[(0, reply), to_lan_host(), to_lan_host()], 2), 2);
    assert_eq!(tw.run(&t, &[to_lan_host(), to_lan_host()], 3), 2);
    let reachable = RouterConfig::default().neighbor.reachable_time;
    assert_eq!(tw.run(&t, &[to_lan_host()], reachable - 1), 1);
    // Past reachable_time the first use sends a unicast probe (full
    // path); an entry being probed still sends, so the next is fast again.
    assert_eq!(tw.run(&t, &[to_lan_host(), to_lan_host()], reachable + 3), 1);
    assert_eq!(tw.full.counters.arp_requests, 2, "one broadcast request, one unicast probe");
    // A reply with a new MAC: the next frames go to it.
    let moved = arp_frame(Operation::Reply, MacAddr([2, 0, 0, 0, 1, 4]), "10.0.1.3", "10.0.1.1", GW_LAN);
    assert_eq!(tw.run(&t, &[to_lan_host(), (0, moved), to_lan_host()], reachable + 4), 2);
}

/// A new tables generation (here the wan interface's MAC changed) is
/// noticed at once.
#[test]
fn fast_path_follows_new_tables() {
    let t1 = tables(1, GW_WAN);
    let mut tw = Twin::new(&t1);
    let frames = [(0, udp_frame("198.51.100.7", 64)), (0, udp6("fd00:1::2", "2001:db8:2::7", 64))];
    assert_eq!(tw.run(&t1, &frames, 1), 2);
    let t2 = tables(2, MacAddr([2, 0, 0, 0, 0, 0x22]));
    tw.full.sync(&t2, 2, &mut tw.full_io);
    tw.fast.sync(&t2, 2, &mut tw.fast_io);
    assert_eq!(tw.run(&t2, &frames, 2), 2);
}

/// The fast path only takes IPv4 while the translator could not touch
/// any packet.
#[test]
fn fast_path_leaves_ipv4_to_a_working_translator() {
    use crate::hooks::{BurstHints, FastHooks, Hooks};
    struct Busy;
    impl FastHooks for Busy {}
    impl BurstHints for Busy {}
    impl Hooks for Busy {
        fn prerouting(&mut self, _: &Tables, _: &mut [u8], _: u64) -> Verdict {
            Verdict::Pass
        }
        fn postrouting(&mut self, _: &Tables, _: u16, ip: &mut [u8], _: u64) -> Verdict {
            ip[8] = 99; // marks the packet (TTL), checksum aside
            Verdict::Pass
        }
    }
    let t = tables(1, GW_WAN);
    let mut r: Router<VecBuf, Busy> = Router::with_translator(RouterConfig::default(), Busy);
    let mut io = TestIo::default();
    r.sync(&t, 0, &mut io);
    let mut burst = vec![Some(VecBuf::from_frame(0, &udp_frame("198.51.100.7", 64)))];
    r.process_burst(&t, 0, &mut burst, 1, &mut io);
    assert_eq!(r.counters.fast_path, 0);
    assert_eq!(sent_ip(&io.sent[0]).ttl(), 98, "the translator saw it");
}

/// More next hops than the adjacency cache has entries, in one burst:
/// entries are taken over again and again, and every frame still goes to
/// its own next hop.
#[test]
fn fast_path_survives_adjacency_cache_collisions() {
    let lan = iface("lan", 0, GW_LAN, "10.0.0.1/16", 1500);
    let wan = iface("wan", 1, GW_WAN, "203.0.113.1/24", 1500);
    let hosts: Vec<Ipv4Addr> = (0..300u32).map(|i| Ipv4Addr::from(0x0a00_0100 + i + 2)).collect();
    let neighbors = hosts
        .iter()
        .map(|&h| StaticNeighbor {
            ifindex: 0,
            ip: h.into(),
            mac: MacAddr([2, 0, 0, 9, (h.octets()[2]), h.octets()[3]]),
        })
        .collect();
    let t = Tables::build(vec![lan, wan], &[], &[], neighbors, 1).unwrap();
    let mut tw = Twin::new(&t);
    let frames: Vec<(u16, Vec<u8>)> = hosts.iter().map(|h| (0, udp_frame(&h.to_string(), 64))).collect();
    let fast = tw.run(&t, &frames, 1);
    assert!(fast >= 200, "only {fast} of 300 on the fast path");
    assert_eq!(tw.full.counters.forwarded, 300);
}

/// br0: ports 0, 1, 2 untagged and port 3 tagged 100, BVI 10.0.10.1/24;
/// br1: ports 4 and 5 untagged, no BVI.
fn bridges() -> Tables {
    use crate::iface::{Bridge, Member};
    let mut bvi = iface("br0", 0, MacAddr([2, 0, 0, 0, 0, 0x10]), "10.0.10.1/24", 1500);
    bvi.bridge = Some(0);
    let mut t = Tables::build(vec![bvi], &[], &[], vec![], 1).unwrap();
    let members = vec![
        Member { bridge: 0, port: 0, vlan: None, vtep: None },
        Member { bridge: 0, port: 1, vlan: None, vtep: None },
        Member { bridge: 0, port: 2, vlan: None, vtep: None },
        Member { bridge: 0, port: 3, vlan: Some(100), vtep: None },
        Member { bridge: 1, port: 4, vlan: None, vtep: None },
        Member { bridge: 1, port: 5, vlan: None, vtep: None },
    ];
    let br = |name: &str, members: Vec<u16>, bvi| Bridge {
        name: name.into(),
        members,
        bvi,
        mac_limit: 1024,
        aging: 300 * SEC,
        flush_epoch: 0,
        vxlan: None,
    };
    t.set_bridges(vec![br("br0", vec![0, 1, 2, 3], Some(0)), br("br1", vec![4, 5], None)], members).unwrap();
    t
}

fn l2(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    [eth(dst, src, 0x88b5), vec![0xab; 46]].concat()
}

#[test]
fn fast_path_agrees_with_full_path_on_bridged_frames() {
    let t = bridges();
    let mut tw = Twin::new(&t);
    let h = |n: u8| MacAddr([2, 1, 0, 0, 0, n]);
    let bvi = MacAddr([2, 0, 0, 0, 0, 0x10]);
    let tagged = |f: Vec<u8>| [&f[..12], &[0x81, 0, 0, 100][..], &f[12..]].concat();
    // Nothing learned: every frame floods or learns (full path).
    let first: Vec<(u16, Vec<u8>)> = vec![
        (0, l2(h(2), h(1))),
        (1, l2(h(1), h(2))),
        (3, tagged(l2(h(1), h(4)))),
        (4, l2(h(6), h(5))),
        (5, l2(h(5), h(6))),
    ];
    assert_eq!(tw.run(&t, &first, 1), 0);
    let frames: Vec<(u16, Vec<u8>)> = vec![
        (0, l2(h(2), h(1))),               // to a learned station
        (1, l2(h(1), h(2))),               // and back
        (0, l2(h(4), h(1))),               // to the trunk: tag pushed
        (0, l2(h(9), h(1))),               // unknown, four members: full path
        (0, l2(MacAddr::BROADCAST, h(1))), // broadcast: full path
        (0, l2(bvi, h(1))),                // to the BVI: full path
        (1, l2(h(1), h(1))),               // a station move: full path
        (0, l2(h(2), h(1))),               // from the old member after the move
        (0, l2(h(1), h(2))),               // to itself: filtered
        (4, l2(h(6), h(5))),               // br1 learned
        (4, l2(h(7), h(5))),               // br1 unknown: flooded to port 5 alone
        (2, l2(h(1), h(3))),               // a new station: full path
        (2, l2(h(1), h(3))),               // and its second frame, after it was learned
        (5, l2(h(5), MacAddr::ZERO)),
    ];
    // Fast: h1->h2, h2->h1, h1->h4, in br1 the learned and the flooded
    // frame, and h3's second frame. The move sends the frames from h1's
    // old member (and h2's from there) the full way.
    assert_eq!(tw.run(&t, &frames, 2), 6);
    // Now h1 and h2 both sit behind port 0 (moved back): h1->h2 is
    // filtered, h2 moves again, then h1 twice; h1->h4, br1's two and h3's
    // two go fast.
    assert_eq!(tw.run(&t, &frames, 3), 5);
}
