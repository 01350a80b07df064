//! Bridge and VLAN pipeline tests: three access members and a trunk
//! member on VLAN 100 in bridge br0 (BVI 10.0.10.1/24), a VLAN 200
//! sub-interface on the trunk port, frames tagged as Linux VLAN devices
//! tag them.

use super::*;
use crate::iface::{Bridge, Member};

const BVI_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x10]);
const TRUNK_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x20]);
const H: [MacAddr; 4] = [
    MacAddr([2, 1, 0, 0, 0, 1]),
    MacAddr([2, 1, 0, 0, 0, 2]),
    MacAddr([2, 1, 0, 0, 0, 3]),
    MacAddr([2, 1, 0, 0, 0, 4]),
];

/// br0: ports 0, 1, 2 untagged, port 3 tagged 100; BVI 10.0.10.1/24.
/// p3.200: 10.0.200.1/24 on port 3, VLAN 200.
fn bridged(mac_limit: u32) -> Tables {
    let mut bvi = iface("br0", 0, BVI_MAC, "10.0.10.1/24", 1500);
    bvi.bridge = Some(0);
    let mut sub = iface("p3.200", 3, TRUNK_MAC, "10.0.200.1/24", 1500);
    sub.vlan = Some(200);
    let mut t = Tables::build(vec![bvi, sub], &[], &[], vec![], 1).unwrap();
    let members = vec![
        Member { bridge: 0, port: 0, vlan: None, vtep: None },
        Member { bridge: 0, port: 1, vlan: None, vtep: None },
        Member { bridge: 0, port: 2, vlan: None, vtep: None },
        Member { bridge: 0, port: 3, vlan: Some(100), vtep: None },
    ];
    let br = Bridge {
        name: "br0".into(),
        members: vec![0, 1, 2, 3],
        bvi: None,
        mac_limit,
        aging: 300 * SEC,
        flush_epoch: 0,
        vxlan: None,
    };
    t.set_bridges(vec![br], members).unwrap();
    t
}

fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    [&frame[..12], &[0x81, 0x00], &vid.to_be_bytes()[..], &frame[12..]].concat()
}

fn frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    [eth(dst, src, 0x88b5), vec![0xab; 46]].concat()
}

/// Ports the frames went out of, with their VLAN (None: untagged).
fn outs(io: &mut TestIo) -> Vec<(u16, Option<u16>)> {
    let v = io
        .sent
        .iter()
        .map(|p| {
            let d = p.data();
            let vid = (d[12..14] == [0x81, 0]).then(|| u16::from_be_bytes([d[14], d[15]]) & 0xfff);
            (p.port(), vid)
        })
        .collect();
    io.sent.clear();
    v
}

#[test]
fn unknown_unicast_floods_then_learned_stations_are_switched() {
    let t = bridged(100);
    let (mut r, mut io) = router(&t);
    // h0 → h1, unknown: every member but the ingress, the trunk tagged.
    run(&mut r, &t, &mut io, 0, &frame(H[1], H[0]), 0);
    assert_eq!(outs(&mut io), vec![(1, None), (2, None), (3, Some(100))]);
    assert_eq!(r.counters.l2_flooded, 1);
    // h1 answers: h0 is known on member 0, so only port 0 gets it.
    run(&mut r, &t, &mut io, 1, &frame(H[0], H[1]), 1);
    assert_eq!(outs(&mut io), vec![(0, None)]);
    // h3 on the trunk (VLAN 100) to h0: tag popped on the way.
    run(&mut r, &t, &mut io, 3, &tagged(&frame(H[0], H[3]), 100), 2);
    assert_eq!(io.sent[0].data(), &frame(H[0], H[3])[..], "untagged, byte for byte");
    assert_eq!(outs(&mut io), vec![(0, None)]);
    // h0 to h3: tag pushed.
    run(&mut r, &t, &mut io, 0, &frame(H[3], H[0]), 3);
    assert_eq!(io.sent[0].data(), &tagged(&frame(H[3], H[0]), 100)[..]);
    assert_eq!(outs(&mut io), vec![(3, Some(100))]);
    assert_eq!((r.counters.l2_forwarded, r.counters.mac_learned), (3, 3));
}

#[test]
fn broadcast_floods_to_all_but_the_ingress_and_a_copy_reaches_the_bvi() {
    let t = bridged(100);
    let (mut r, mut io) = router(&t);
    let req = arp_frame(Operation::Request, H[1], "10.0.10.2", "10.0.10.1", MacAddr::BROADCAST);
    run(&mut r, &t, &mut io, 1, &req, 0);
    let sent = outs(&mut io);
    // Flood to 0, 2, 3 (tagged); the BVI answers the ARP to h1 on port 1.
    assert_eq!(sent, vec![(0, None), (2, None), (3, Some(100)), (1, None)]);
    assert_eq!(r.counters.arp_replies, 1);
}

#[test]
fn the_bvi_routes_between_the_bridge_and_a_vlan_sub_interface() {
    let t = bridged(100);
    let (mut r, mut io) = router(&t);
    // h0 (10.0.10.2) pings 10.0.200.2 behind p3.200 via the BVI's MAC.
    let mut f = ipv4_frame("10.0.10.2", "10.0.200.2", 64, Protocol::Udp, &[0; 8], false);
    f[..6].copy_from_slice(&BVI_MAC.0);
    f[6..12].copy_from_slice(&H[0].0);
    run(&mut r, &t, &mut io, 0, &f, 0);
    // An ARP request on VLAN 200 of port 3, from the sub-interface's MAC.
    let arp = &io.sent[0];
    assert_eq!((arp.port(), &arp.data()[12..16]), (3, &[0x81, 0, 0, 200][..]));
    assert_eq!(&arp.data()[6..12], &TRUNK_MAC.0);
    io.sent.clear();
    let reply = arp_frame(Operation::Reply, H[3], "10.0.200.2", "10.0.200.1", TRUNK_MAC);
    run(&mut r, &t, &mut io, 3, &tagged(&reply, 200), 1);
    assert_eq!(outs(&mut io), vec![(3, Some(200))], "the waiting packet, tagged 200");
    // The answer back: learned h0 on member 0, so the BVI sends only there.
    let mut back = ipv4_frame("10.0.200.2", "10.0.10.2", 64, Protocol::Udp, &[0; 8], false);
    back[..6].copy_from_slice(&TRUNK_MAC.0);
    back[6..12].copy_from_slice(&H[3].0);
    run(&mut r, &t, &mut io, 3, &tagged(&back, 200), 2);
    // The BVI asks for 10.0.10.2 first: flooded to every member.
    assert_eq!(outs(&mut io), vec![(0, None), (1, None), (2, None), (3, Some(100))]);
    let reply = arp_frame(Operation::Reply, H[0], "10.0.10.2", "10.0.10.1", BVI_MAC);
    run(&mut r, &t, &mut io, 0, &reply, 3);
    assert_eq!(outs(&mut io), vec![(0, None)]);
    assert_eq!(r.counters.forwarded, 2);
}

#[test]
fn a_full_table_floods_and_counts_a_moved_station_follows() {
    let t = bridged(2);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &frame(MacAddr::BROADCAST, H[0]), 0);
    run(&mut r, &t, &mut io, 1, &frame(MacAddr::BROADCAST, H[1]), 0);
    run(&mut r, &t, &mut io, 2, &frame(MacAddr::BROADCAST, H[2]), 0);
    assert_eq!((r.macs().len(), r.counters.mac_learn_full), (2, 1));
    io.sent.clear();
    // Traffic to h2 still arrives: flooded.
    run(&mut r, &t, &mut io, 0, &frame(H[2], H[0]), 1);
    assert_eq!(outs(&mut io), vec![(1, None), (2, None), (3, Some(100))]);
    // h1 moves to port 2.
    run(&mut r, &t, &mut io, 2, &frame(H[0], H[1]), 2);
    assert_eq!(r.counters.mac_moves, 1);
    io.sent.clear();
    run(&mut r, &t, &mut io, 0, &frame(H[1], H[0]), 3);
    assert_eq!(outs(&mut io), vec![(2, None)]);
    // A frame for a station on its own ingress member goes nowhere.
    run(&mut r, &t, &mut io, 0, &frame(H[0], MacAddr([2, 1, 0, 0, 0, 9])), 4);
    assert_eq!(r.counters.dropped(DropReason::L2Filtered), 1);
    assert!(io.sent.is_empty());
}

#[test]
fn aging_flushes_and_layout_changes_empty_the_table() {
    let mut t = bridged(100);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 0, &frame(MacAddr::BROADCAST, H[0]), 0);
    run(&mut r, &t, &mut io, 1, &frame(MacAddr::BROADCAST, H[1]), 200 * SEC);
    // At 400 s h0 (seen at 0) is past 300 s, h1 is not.
    for i in 0..8 {
        r.poll(&t, 400 * SEC + i * POLL_INTERVAL, &mut io);
    }
    assert_eq!(r.macs().lookup(0, H[0]), None);
    assert_eq!(r.macs().lookup(0, H[1]), Some(1));
    assert_eq!(r.counters.mac_aged, 1);
    // The API's flush: a new flush epoch.
    t.bridges[0].flush_epoch = 1;
    t.generation = 2;
    r.sync(&t, 400 * SEC, &mut io);
    assert!(r.macs().is_empty());
    run(&mut r, &t, &mut io, 1, &frame(MacAddr::BROADCAST, H[1]), 401 * SEC);
    // Members change: everything learned goes.
    let mut t2 = bridged(100);
    t2.bridges[0].flush_epoch = 1;
    let members = vec![
        Member { bridge: 0, port: 1, vlan: None, vtep: None },
        Member { bridge: 0, port: 0, vlan: None, vtep: None },
    ];
    let br = Bridge { members: vec![0, 1], ..t2.bridges[0].clone() };
    t2.set_bridges(vec![br], members).unwrap();
    t2.generation = 3;
    r.sync(&t2, 402 * SEC, &mut io);
    assert!(r.macs().is_empty());
}

#[test]
fn unconfigured_vlans_and_conflicting_users_are_refused() {
    let t = bridged(100);
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 3, &tagged(&frame(H[0], H[3]), 300), 0);
    run(&mut r, &t, &mut io, 0, &tagged(&frame(H[1], H[0]), 100), 0);
    assert_eq!(r.counters.dropped(DropReason::VlanNotConfigured), 2, "VLAN 100 is only on port 3");
    run(&mut r, &t, &mut io, 3, &frame(H[0], H[3]), 0);
    assert_eq!(r.counters.dropped(DropReason::NoInterface), 1, "nothing untagged on the trunk");
    assert!(io.sent.is_empty());
    // Priority-tagged (VID 0) frames are the port's untagged ones.
    run(&mut r, &t, &mut io, 0, &tagged(&frame(H[1], H[0]), 0), 0);
    assert_eq!(outs(&mut io), vec![(1, None), (2, None), (3, Some(100))]);
    // Two users of port 3 VLAN 200.
    let mut bad = bridged(100);
    let mut members = bad.members.clone();
    members.push(Member { bridge: 0, port: 3, vlan: Some(200), vtep: None });
    assert_eq!(bad.set_bridges(bad.bridges.clone(), members), Err(crate::fib::FibError::Attach(3, 200)));
}

#[test]
fn neighbor_discovery_works_across_the_bridge_to_its_interface() {
    let mut t = bridged(100);
    t.ifaces[0].addrs6 = vec!["fd00:10::1/64".parse().unwrap()];
    let t = Tables::build(t.ifaces.clone(), &[], &[], vec![], 2)
        .and_then(|mut n| n.set_bridges(t.bridges.clone(), t.members.clone()).map(|_| n))
        .unwrap();
    let (mut r, mut io) = router(&t);
    // LAN_HOST on port 1 solicits the bridge interface's address.
    let ns = super::ip6::ns_frame("fd00:10::2", "ff02::1:ff00:1", "fd00:10::1", Some(LAN_HOST), 255);
    run(&mut r, &t, &mut io, 1, &ns, 0);
    let na = io.sent.last().map(|p| (p.port(), p.data()[14 + 40])).unwrap();
    assert_eq!(na, (1, 136), "the advertisement goes to the member the host was learned on");
    assert_eq!(outs(&mut io), vec![(0, None), (2, None), (3, Some(100)), (1, None)], "the NS is flooded too");
    assert_eq!(r.counters.nd_adverts, 1);
}

/// Mutated frames of every kind the pipeline parses (ARP, IPv4, IPv6
/// with ND, tagged, bridged), cut short or with bytes flipped, on every
/// port: each is sent, answered or dropped with a reason; none panics.
#[test]
fn mutated_frames_never_panic_and_are_all_accounted_for() {
    let mut t = bridged(8);
    t.ifaces[0].addrs6 = vec!["fd00:10::1/64".parse().unwrap()];
    let t = Tables::build(t.ifaces.clone(), &[], &[], vec![], 2)
        .and_then(|mut n| n.set_bridges(t.bridges.clone(), t.members.clone()).map(|_| n))
        .unwrap();
    let (mut r, mut io) = router(&t);
    let mut seeds = vec![
        arp_frame(Operation::Request, H[1], "10.0.10.2", "10.0.10.1", MacAddr::BROADCAST),
        arp_frame(Operation::Reply, H[3], "10.0.200.2", "10.0.200.1", TRUNK_MAC),
        super::ip6::ns_frame("fd00:10::2", "ff02::1:ff00:1", "fd00:10::1", Some(LAN_HOST), 255),
        frame(H[1], H[0]),
        tagged(&frame(H[0], H[3]), 100),
        tagged(&udp_frame("10.0.200.1", 64), 200),
    ];
    let mut f = ipv4_frame("10.0.10.2", "10.0.200.2", 64, Protocol::Udp, &[0; 8], false);
    f[..6].copy_from_slice(&BVI_MAC.0);
    seeds.push(f);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for n in 0..50_000u64 {
        let mut f = seeds[(rnd() % seeds.len() as u64) as usize].clone();
        for _ in 0..(rnd() % 4) {
            let i = (rnd() % f.len() as u64) as usize;
            f[i] ^= 1 << (rnd() % 8);
        }
        if rnd() % 4 == 0 {
            f.truncate((rnd() % (f.len() as u64 + 1)) as usize);
        }
        let port = (rnd() % 5) as u16;
        run(&mut r, &t, &mut io, port, &f, n * 1_000_000);
        r.poll(&t, n * 1_000_000, &mut io);
        io.sent.clear();
    }
    assert_eq!(r.counters.rx, 50_000);
    let dropped: u64 = r.counters.drops.iter().sum();
    assert!(dropped > 0 && r.counters.l2_flooded > 0 && r.counters.arp_replies > 0, "{:?}", r.counters);
}
