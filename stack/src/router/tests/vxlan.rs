//! VXLAN through the pipeline (RFC 7348): a bridge with two local ports
//! and two remote VTEPs, frames wrapped, unwrapped, learned and flooded
//! with split horizon.

use super::*;
use crate::iface::{Bridge, Member, Vxlan};
use crate::wire::{udp, vxlan};

const BVI_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x10]);
const LOCAL: [MacAddr; 2] = [MacAddr([2, 1, 0, 0, 0, 1]), MacAddr([2, 1, 0, 0, 0, 2])];
const REMOTE: MacAddr = MacAddr([2, 9, 0, 0, 0, 1]);
const VTEP3: MacAddr = MacAddr([2, 0, 0, 0, 2, 3]);

/// br0 (VNI 100 at 203.0.113.1): ports 0 and 1, VTEPs 203.0.113.2 and
/// 203.0.113.3 (members 2, 3), BVI 10.0.10.1/24; wan 203.0.113.1/24 on
/// port 3 with both VTEPs' MACs known.
fn overlay() -> Tables {
    let mut bvi = iface("br0", 0, BVI_MAC, "10.0.10.1/24", 1500);
    bvi.bridge = Some(0);
    let wan = iface("wan", 3, GW_WAN, "203.0.113.1/24", 1500);
    let neighbors = vec![
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.2").into(), mac: WAN_HOST },
        StaticNeighbor { ifindex: 1, ip: ip("203.0.113.3").into(), mac: VTEP3 },
    ];
    let t = Tables::build(vec![bvi, wan], &[], &[], neighbors, 1).unwrap();
    let members = vec![
        Member { bridge: 0, port: 0, vlan: None, vtep: None },
        Member { bridge: 0, port: 1, vlan: None, vtep: None },
        Member { bridge: 0, port: 0, vlan: None, vtep: Some(ip("203.0.113.2")) },
        Member { bridge: 0, port: 0, vlan: None, vtep: Some(ip("203.0.113.3")) },
    ];
    with_br0(t, members)
}

/// `t` with br0 over `members`.
fn with_br0(mut t: Tables, members: Vec<Member>) -> Tables {
    t.set_bridges(vec![br0(members.len())], members).unwrap();
    t
}

/// br0, VNI 100 at 203.0.113.1, with members 0 to `n` - 1 and no BVI.
fn br0(n: usize) -> Bridge {
    Bridge {
        name: "br0".into(),
        members: (0..n as u16).collect(),
        bvi: None,
        mac_limit: 100,
        aging: 300 * SEC,
        flush_epoch: 0,
        vxlan: Some(Vxlan { vni: 100, local: ip("203.0.113.1"), port: vxlan::PORT }),
    }
}

fn l2_frame(dst: MacAddr, src: MacAddr) -> Vec<u8> {
    [eth(dst, src, 0x88b5), vec![0xab; 46]].concat()
}

/// `inner` from VTEP `from` with `vni`, as a kernel's VXLAN device sends it.
fn from_vtep(from: &str, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0u8; 16];
    payload[..2].copy_from_slice(&50000u16.to_be_bytes());
    payload[2..4].copy_from_slice(&vxlan::PORT.to_be_bytes());
    payload[4..6].copy_from_slice(&((16 + inner.len()) as u16).to_be_bytes());
    vxlan::emit(&mut payload[8..], vni);
    payload.extend_from_slice(inner);
    let mut f = ipv4_frame(from, "203.0.113.1", 64, Protocol::Udp, &payload, false);
    f[..6].copy_from_slice(&GW_WAN.0);
    f
}

/// A wrapped frame the gateway sent: (outer destination, VNI, UDP
/// source port, inner frame), its headers checked.
fn unwrapped(b: &VecBuf) -> (Ipv4Addr, u32, u16, Vec<u8>) {
    assert_eq!(b.port(), 3, "out of the wan");
    let p = sent_ip(b);
    assert!(p.verify_checksum());
    assert_eq!((p.src(), p.protocol(), p.ttl()), (ip("203.0.113.1"), Protocol::Udp, 64));
    let u = p.payload();
    assert_eq!(u16::from_be_bytes([u[2], u[3]]), vxlan::PORT);
    assert_eq!(usize::from(u16::from_be_bytes([u[4], u[5]])), u.len());
    let sport = u16::from_be_bytes([u[0], u[1]]);
    (p.dst(), vxlan::parse(&u[udp::HEADER_LEN..]).unwrap(), sport, u[16..].to_vec())
}

#[test]
fn a_frame_from_a_vtep_is_learned_and_flooded_locally_but_not_to_other_vteps() {
    let t = overlay();
    let (mut r, mut io) = router(&t);
    let bcast = l2_frame(MacAddr::BROADCAST, REMOTE);
    run(&mut r, &t, &mut io, 3, &from_vtep("203.0.113.2", 100, &bcast), 0);
    let mut ports: Vec<u16> = io.sent.iter().map(|p| p.port()).collect();
    ports.sort();
    assert_eq!(ports, [0, 1], "both local ports, no VTEP (split horizon)");
    assert!(io.sent.iter().all(|p| p.data() == &bcast[..]), "the inner frame, untouched");
    assert_eq!((r.counters.decapsulated, r.counters.mac_learned), (1, 1));
    // A local station answers: wrapped to the VTEP its destination was learned on.
    io.sent.clear();
    let reply = l2_frame(REMOTE, LOCAL[0]);
    run(&mut r, &t, &mut io, 0, &reply, 0);
    assert_eq!(io.sent.len(), 1);
    assert_eq!(EthernetFrame::new_checked(io.sent[0].data()).unwrap().dst(), WAN_HOST);
    let (dst, vni, sport, inner) = unwrapped(&io.sent[0]);
    assert_eq!((dst, vni, inner), (ip("203.0.113.2"), 100, reply));
    assert!(sport >= 49152, "RFC 7348 §5's range: {sport}");
    assert_eq!(r.counters.encapsulated, 1);
}

#[test]
fn a_local_broadcast_reaches_every_port_and_every_vtep_of_the_flood_list() {
    let t = overlay();
    let (mut r, mut io) = router(&t);
    let bcast = l2_frame(MacAddr::BROADCAST, LOCAL[0]);
    run(&mut r, &t, &mut io, 0, &bcast, 0);
    let local: Vec<u16> = io.sent.iter().filter(|p| p.port() != 3).map(|p| p.port()).collect();
    assert_eq!(local, [1]);
    let mut vteps: Vec<Ipv4Addr> = io.sent.iter().filter(|p| p.port() == 3).map(|p| unwrapped(p).0).collect();
    vteps.sort();
    assert_eq!(vteps, [ip("203.0.113.2"), ip("203.0.113.3")], "head-end replication");
    assert!(io.sent.iter().filter(|p| p.port() == 3).all(|p| unwrapped(p).3 == bcast));
    let macs: Vec<MacAddr> =
        io.sent.iter().filter(|p| p.port() == 3).map(|p| EthernetFrame::new_checked(p.data()).unwrap().dst()).collect();
    assert!(macs.contains(&WAN_HOST) && macs.contains(&VTEP3));
}

#[test]
fn unknown_vnis_unknown_vteps_and_malformed_headers_are_dropped() {
    let t = overlay();
    let (mut r, mut io) = router(&t);
    let f = l2_frame(MacAddr::BROADCAST, REMOTE);
    run(&mut r, &t, &mut io, 3, &from_vtep("203.0.113.2", 101, &f), 0);
    run(&mut r, &t, &mut io, 3, &from_vtep("203.0.113.9", 100, &f), 0);
    let mut bad = from_vtep("203.0.113.2", 100, &f);
    bad[14 + 20 + 8] = 0; // no I flag
    run(&mut r, &t, &mut io, 3, &bad, 0);
    assert!(io.sent.is_empty());
    assert_eq!(r.counters.dropped(DropReason::VxlanUnknown), 2);
    assert_eq!(r.counters.dropped(DropReason::VxlanMalformed), 1);
    // Another UDP port: not VXLAN, Port Unreachable as before.
    let mut other = from_vtep("203.0.113.2", 100, &f);
    other[14 + 20 + 2..14 + 20 + 4].copy_from_slice(&4790u16.to_be_bytes());
    run(&mut r, &t, &mut io, 3, &other, 0);
    assert_eq!(r.counters.dropped(DropReason::LocalPortUnreachable), 1);
}

#[test]
fn the_fast_path_switches_to_a_remote_station_through_its_vtep() {
    let t = overlay();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 3, &from_vtep("203.0.113.2", 100, &l2_frame(MacAddr::BROADCAST, REMOTE)), 0);
    run(&mut r, &t, &mut io, 0, &l2_frame(MacAddr::BROADCAST, LOCAL[0]), 0);
    io.sent.clear();
    // Both stations known: a burst from port 0 to the remote one.
    let frame = l2_frame(REMOTE, LOCAL[0]);
    let mut burst = [Some(VecBuf::from_frame(0, &frame)), Some(VecBuf::from_frame(0, &frame))];
    r.process_burst(&t, 0, &mut burst, 1, &mut io);
    assert_eq!(r.counters.fast_path, 2, "switched by the fast path");
    assert_eq!(io.sent.len(), 2);
    for f in &io.sent {
        let (dst, vni, _, inner) = unwrapped(f);
        assert_eq!((dst, vni, inner), (ip("203.0.113.2"), 100, frame.clone()));
    }
}

#[test]
fn the_fast_path_unwraps_vxlan_and_switches_the_frame() {
    let t = overlay();
    let (mut r, mut io) = router(&t);
    // LOCAL[0] and REMOTE learned by the full path first.
    run(&mut r, &t, &mut io, 0, &l2_frame(MacAddr::BROADCAST, LOCAL[0]), 0);
    run(&mut r, &t, &mut io, 3, &from_vtep("203.0.113.2", 100, &l2_frame(MacAddr::BROADCAST, REMOTE)), 0);
    io.sent.clear();
    let frame = l2_frame(LOCAL[0], REMOTE);
    let wrapped = from_vtep("203.0.113.2", 100, &frame);
    let before = (r.counters.fast_path, r.counters.decapsulated);
    r.process_burst(&t, 3, &mut [Some(VecBuf::from_frame(3, &wrapped))], 1, &mut io);
    assert_eq!((r.counters.fast_path - before.0, r.counters.decapsulated - before.1), (1, 1));
    assert_eq!(io.sent.len(), 1);
    assert_eq!((io.sent[0].port(), io.sent[0].data()), (0, &frame[..]));
    // A broadcast from the VTEP: the full path floods it (split horizon).
    io.sent.clear();
    let bcast = from_vtep("203.0.113.2", 100, &l2_frame(MacAddr::BROADCAST, REMOTE));
    r.process_burst(&t, 3, &mut [Some(VecBuf::from_frame(3, &bcast))], 1, &mut io);
    let mut ports: Vec<u16> = io.sent.iter().map(|p| p.port()).collect();
    ports.sort();
    assert_eq!(ports, [0, 1]);
}

#[test]
fn a_vxlan_datagram_in_fragments_is_put_together_then_unwrapped() {
    let t = overlay();
    let (mut r, mut io) = router(&t);
    let big = [eth(MacAddr::BROADCAST, REMOTE, 0x88b5), vec![0x5a; 1480]].concat();
    let whole = from_vtep("203.0.113.2", 100, &big);
    // Two fragments of the outer datagram, the last first.
    let payload = whole[14 + 20..].to_vec();
    let cut = 1200;
    let piece = |at: usize, end: usize, more: bool| {
        let mut f = whole[..14 + 20].to_vec();
        f.extend_from_slice(&payload[at..end]);
        let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
        p.set_total_len((20 + end - at) as u16);
        p.set_flags_offset(false, more, at as u16);
        p.fill_checksum();
        f
    };
    run(&mut r, &t, &mut io, 3, &piece(cut, payload.len(), false), 0);
    run(&mut r, &t, &mut io, 3, &piece(0, cut, true), 0);
    let mut ports: Vec<u16> = io.sent.iter().map(|p| p.port()).collect();
    ports.sort();
    assert_eq!(ports, [0, 1], "flooded to both local ports");
    assert!(io.sent.iter().all(|p| p.data() == &big[..]));
    assert_eq!((r.counters.reassembled, r.counters.decapsulated), (1, 1));
}

/// A router that has learned LOCAL[0] and REMOTE and unwrapped one frame
/// from VTEP 203.0.113.2 by the fast path: its memo of that VTEP is warm.
fn warmed(t: &Tables) -> (Router<VecBuf>, TestIo) {
    let (mut r, mut io) = router(t);
    run(&mut r, t, &mut io, 0, &l2_frame(MacAddr::BROADCAST, LOCAL[0]), 0);
    run(&mut r, t, &mut io, 3, &from_vtep("203.0.113.2", 100, &l2_frame(MacAddr::BROADCAST, REMOTE)), 0);
    let warm = from_vtep("203.0.113.2", 100, &l2_frame(LOCAL[0], REMOTE));
    r.process_burst(t, 3, &mut [Some(VecBuf::from_frame(3, &warm))], 1, &mut io);
    assert_eq!(r.counters.fast_path, 1);
    io.sent.clear();
    (r, io)
}

/// The fast path's match of the last VTEP's frames (outer headers checked
/// against its memo, no FIB or tunnel lookups) decides every frame as the
/// general path does: each byte of the outer headers changed (the IPv4
/// checksum made right again, and left wrong) and each cut of the frame
/// gives the same frames out and the same counters with the memo warm as
/// with it emptied.
#[test]
fn the_vtep_memo_decides_each_changed_outer_header_as_the_tables_do() {
    let t = overlay();
    let good = from_vtep("203.0.113.2", 100, &l2_frame(LOCAL[0], REMOTE));
    let mut cases = Vec::new();
    for at in 0..50 {
        for v in [0, 1, 0x45, 0x11, 0x12, 0xff, good[at] ^ 1, good[at] ^ 0x20, good[at] ^ 0x80] {
            let mut f = good.clone();
            f[at] = v;
            cases.push(f.clone());
            if (14..34).contains(&at) && !(24..26).contains(&at) {
                Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
                cases.push(f);
            }
        }
    }
    cases.extend((30..good.len()).map(|n| good[..n].to_vec()));
    let mut fast_taken = 0;
    for f in &cases {
        let (mut memo, mut io_memo) = warmed(&t);
        let (mut tables, mut io_tables) = warmed(&t);
        tables.unwrap_memo = super::super::fast_unwrap::UnwrapMemo::EMPTY;
        memo.process_burst(&t, 3, &mut [Some(VecBuf::from_frame(3, f))], 2, &mut io_memo);
        tables.process_burst(&t, 3, &mut [Some(VecBuf::from_frame(3, f))], 2, &mut io_tables);
        let out = |io: &TestIo| io.sent.iter().map(|b| (b.port(), b.data().to_vec())).collect::<Vec<_>>();
        assert_eq!(out(&io_memo), out(&io_tables), "{f:02x?}");
        assert_eq!(memo.counters, tables.counters, "{f:02x?}");
        fast_taken += usize::from(memo.counters.fast_path == 2);
    }
    // Changes the match must let through (the identification, the UDP
    // source port and checksum, reserved VXLAN bits) did go fast.
    assert!(fast_taken > 40, "{fast_taken} of {}", cases.len());
}

/// br0 (VNI 100 at 203.0.113.1) with one local port, 1, and one VTEP,
/// 203.0.113.2; wan 203.0.113.1/24 on port 3. Unknown unicast from the
/// VTEP has one place to go.
fn one_port_overlay() -> Tables {
    let wan = iface("wan", 3, GW_WAN, "203.0.113.1/24", 1500);
    let neighbors = vec![StaticNeighbor { ifindex: 0, ip: ip("203.0.113.2").into(), mac: WAN_HOST }];
    let t = Tables::build(vec![wan], &[], &[], neighbors, 1).unwrap();
    let members = vec![
        Member { bridge: 0, port: 1, vlan: None, vtep: None },
        Member { bridge: 0, port: 0, vlan: None, vtep: Some(ip("203.0.113.2")) },
    ];
    with_br0(t, members)
}

/// A frame from a learned remote station to one nobody knows, in a
/// bridge with one local port: the fast path unwraps it and sends it out
/// of that port (the member's port, not its index), as the full path
/// floods it.
#[test]
fn unknown_unicast_from_a_vtep_goes_fast_to_the_one_local_port() {
    let t = one_port_overlay();
    let (mut r, mut io) = router(&t);
    run(&mut r, &t, &mut io, 3, &from_vtep("203.0.113.2", 100, &l2_frame(MacAddr::BROADCAST, REMOTE)), 0);
    assert_eq!(io.sent.iter().map(|b| b.port()).collect::<Vec<_>>(), [1], "the full path floods to port 1");
    io.sent.clear();
    let frame = l2_frame(LOCAL[0], REMOTE);
    let wrapped = from_vtep("203.0.113.2", 100, &frame);
    let before = (r.counters.fast_path, r.counters.l2_flooded);
    let mut burst = [Some(VecBuf::from_frame(3, &wrapped)), Some(VecBuf::from_frame(3, &wrapped))];
    r.process_burst(&t, 3, &mut burst, 1, &mut io);
    assert_eq!((r.counters.fast_path - before.0, r.counters.l2_flooded - before.1), (2, 2));
    let sent: Vec<_> = io.sent.iter().map(|b| (b.port(), b.data().to_vec())).collect();
    assert_eq!(sent, [(1, frame.clone()), (1, frame)]);
}
