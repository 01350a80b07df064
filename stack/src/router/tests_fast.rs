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
use crate::wire::ipv6::{nh, Ipv6Packet, Ipv6Repr};
use std::net::Ipv6Addr;

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// lan (port 0): 10.0.1.1/24, fd00:1::1/64; wan (port 1, MTU 1400):
/// 203.0.113.1/24, 2001:db8:1::1/64; a VLAN 7 sub-interface on port 2:
/// 10.0.7.1/24. Routes: 198.51.100.0/24 via 203.0.113.2, 192.0.2.0/24
/// over two next hops, 198.18.0.0/15 via 10.0.7.2 (VLAN), 2001:db8:2::/48
/// via 2001:db8:1::2. Static neighbors for the gateways, 10.0.1.2 and
/// fd00:1::2 on the lan; 10.0.1.3 and fd00:1::3 unknown.
fn tables(generation: u64, wan_mac: MacAddr) -> Tables {
    let mut lan = iface("lan", 0, GW_LAN, "10.0.1.1/24", 1500);
    lan.addrs6 = vec!["fd00:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let mut wan = iface("wan", 1, wan_mac, "203.0.113.1/24", 1400);
    wan.addrs6 = vec!["2001:db8:1::1/64".parse::<Ipv6Cidr>().unwrap()];
    let mut vlan = iface("p2.7", 2, MacAddr([2, 0, 0, 0, 0, 7]), "10.0.7.1/24", 1500);
    vlan.vlan = Some(7);
    let routes = vec![
        StaticRoute::Via {
            dst: "198.51.100.0/24".parse().unwrap(),
            hops: vec![NextHop { ifindex: 1, gateway: ip("203.0.113.2") }],
        },
        StaticRoute::Via {
            dst: "192.0.2.0/24".parse().unwrap(),
            hops: vec![
                NextHop { ifindex: 1, gateway: ip("203.0.113.2") },
                NextHop { ifindex: 1, gateway: ip("203.0.113.3") },
            ],
        },
        StaticRoute::Via {
            dst: "198.18.0.0/15".parse().unwrap(),
            hops: vec![NextHop { ifindex: 2, gateway: ip("10.0.7.2") }],
        },
    ];
    let routes6: Vec<StaticRoute6> = vec![StaticRoute::Via {
        dst: "2001:db8:2::/48".parse().unwrap(),
        hops: vec![NextHop6 { ifindex: 1, gateway: ip6("2001:db8:1::2") }],
    }];
    let neighbors = vec![
        StaticNeighbor { ifindex: 0, ip: ip("10.0.1.2").into(), mac: LAN_HOST },
        StaticNeighbor { ifindex: 0, ip: ip6("fd00:1::2").into(), mac: LAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac: WAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.3").into(), mac: MacAddr([2, 0, 0, 0, 2, 3]) },
        StaticNeighbor { ifindex: 1, ip: ip6("2001:db8:1::2").into(), mac: WAN_HOST },
        StaticNeighbor { ifindex: 2, ip: ip("10.0.7.2").into(), mac: MacAddr([2, 0, 0, 0, 7, 2]) },
    ];
    Tables::build(vec![lan, wan, vlan], &routes, &routes6, neighbors, generation).unwrap()
}

fn v6(src: &str, dst: &str, hop: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = eth(GW_LAN, LAN_HOST, 0x86dd);
    let mut b = vec![0u8; 40];
    Ipv6Repr { src: ip6(src), dst: ip6(dst), next_header: next, payload_len: payload.len(), hop_limit: hop }
        .emit(&mut Ipv6Packet::new_unchecked(&mut b[..]));
    f.extend_from_slice(&b);
    f.extend_from_slice(payload);
    f
}

fn udp6(src: &str, dst: &str, hop: u8) -> Vec<u8> {
    let mut u = vec![0u8; 26];
    u[0..2].copy_from_slice(&40000u16.to_be_bytes());
    u[2..4].copy_from_slice(&9u16.to_be_bytes());
    u[4..6].copy_from_slice(&26u16.to_be_bytes());
    let c = crate::wire::ipv6::upper_checksum(&ip6(src), &ip6(dst), nh::UDP, &u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    v6(src, dst, hop, nh::UDP, &u)
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
        let mut burst: Vec<Option<VecBuf>> = frames.iter().map(|(p, f)| Some(VecBuf::from_frame(*p, f))).collect();
        self.fast.process_burst(t, &mut burst, now, &mut self.fast_io);
        assert!(burst.iter().all(Option::is_none), "every slot is taken");
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
    // Frames decided before the reply in their burst take the full path.
    assert_eq!(tw.run(&t, &[(0, reply), to_lan_host(), to_lan_host()], 2), 0);
    assert_eq!(tw.run(&t, &[to_lan_host(), to_lan_host()], 3), 2);
    let reachable = RouterConfig::default().neighbor.reachable_time;
    assert_eq!(tw.run(&t, &[to_lan_host()], reachable - 1), 1);
    // Past reachable_time the first use sends a unicast probe (full path,
    // and so is the rest of its burst, decided before); an entry being
    // probed still sends, so later bursts are fast again.
    assert_eq!(tw.run(&t, &[to_lan_host(), to_lan_host()], reachable + 3), 0);
    assert_eq!(tw.run(&t, &[to_lan_host()], reachable + 3), 1);
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
    struct Busy;
    impl Translator for Busy {
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
    r.process_burst(&t, &mut burst, 1, &mut io);
    assert_eq!(r.counters.fast_path, 0);
    assert_eq!(sent_ip(&io.sent[0]).ttl(), 98, "the translator saw it");
}
