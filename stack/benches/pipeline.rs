//! Per-stage cost of the pipeline, in ns per packet, on
//! `VecBuf`s recycled through a pool, so no allocation is measured: a
//! 64-byte IPv4 and IPv6 frame routed to a static neighbor, a frame
//! switched between two learned stations, flooded in a two-member
//! bridge, a VXLAN frame unwrapped and flooded to the local member, and switched from a trunk (tag popped) to an access port and
//! back (tag pushed).
//!
//!   cargo bench -p stack --bench pipeline

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stack::fib::NextHop;
use stack::fib6::NextHop6;
use stack::iface::{Bridge, Member, StaticNeighbor, StaticRoute, Tunnel, TunnelKind, Vxlan};
use stack::wire::ipv4::{Ipv4Packet, Ipv4Repr, Protocol};
use stack::wire::ipv6::{Ipv6Packet, Ipv6Repr};
use stack::wire::{vxlan, MacAddr};
use stack::{Interface, Io, PacketBuf, Router, RouterConfig, Tables, VecBuf};
use std::hint::black_box;

const GW_IN: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const HOST_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);
const HOST_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xbb]);

/// Buffers go out through `send` and come back for the next packet.
struct Pool {
    free: Vec<VecBuf>,
}

impl Io<VecBuf> for Pool {
    fn alloc(&mut self) -> Option<VecBuf> {
        self.free.pop()
    }
    fn send(&mut self, pkt: VecBuf) {
        black_box(pkt.len());
        self.free.push(pkt);
    }
}

fn eth(dst: MacAddr, src: MacAddr, ethertype: u16) -> Vec<u8> {
    [&dst.0[..], &src.0[..], &ethertype.to_be_bytes()[..]].concat()
}

fn ipv4_frame() -> Vec<u8> {
    let mut ip = vec![0u8; 46];
    let repr = Ipv4Repr {
        src: [10, 0, 0, 1].into(),
        dst: [198, 18, 1, 7].into(),
        protocol: Protocol::Udp,
        payload_len: 26,
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: false,
    };
    let mut p = Ipv4Packet::new_unchecked(&mut ip[..]);
    repr.emit(&mut p);
    p.fill_checksum();
    [eth(GW_IN, HOST_A, 0x0800), ip].concat()
}

fn ipv6_frame() -> Vec<u8> {
    let mut ip = vec![0u8; 40 + 8];
    let repr = Ipv6Repr {
        src: "2001:db8::1".parse().unwrap(),
        dst: "2001:200:0:1::7".parse().unwrap(),
        next_header: 59, // no next header: nothing to checksum
        payload_len: 8,
        hop_limit: 64,
    };
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut ip[..]));
    [eth(GW_IN, HOST_A, 0x86dd), ip].concat()
}

fn routed() -> Tables {
    let ifc = |name: &str, port, mac, v4: &str, v6: &str| Interface {
        name: name.into(),
        port,
        mac,
        mtu: 1500,
        addrs: vec![v4.parse().unwrap()],
        addrs6: vec![v6.parse().unwrap()],
        ..Default::default()
    };
    let ifaces = vec![
        ifc("in", 0, GW_IN, "192.0.2.1/24", "2001:db8:0:1::1/64"),
        ifc("out", 1, MacAddr([2, 0, 0, 0, 0, 2]), "203.0.113.1/24", "2001:db8:0:2::1/64"),
    ];
    let routes = vec![StaticRoute::Via {
        dst: "198.18.0.0/15".parse().unwrap(),
        hops: vec![NextHop { ifindex: 1, gateway: "203.0.113.2".parse().unwrap() }],
    }];
    let routes6 = vec![StaticRoute::Via {
        dst: "2001:200::/48".parse().unwrap(),
        hops: vec![NextHop6 { ifindex: 1, gateway: "2001:db8:0:2::2".parse().unwrap() }],
    }];
    let neighbors = vec![
        StaticNeighbor { ifindex: 1, ip: "203.0.113.2".parse().unwrap(), mac: HOST_B },
        StaticNeighbor { ifindex: 1, ip: "2001:db8:0:2::2".parse().unwrap(), mac: HOST_B },
    ];
    Tables::build(ifaces, &routes, &routes6, neighbors, 1).unwrap()
}

/// As `routed`, but 198.18.0.0/15 goes into GRE tunnel gre1 (from
/// 203.0.113.1 to 203.0.113.2 on "out"), as `benches/run.sh tunnel`'s
/// `gre_encap`.
fn into_gre() -> Tables {
    let t = routed();
    let mut ifaces = t.ifaces.clone();
    let tun = Interface {
        name: "gre1".into(),
        mac: MacAddr([2, 0, 0, 0, 0, 9]),
        mtu: 1500,
        addrs: vec!["172.16.0.1/30".parse().unwrap()],
        tunnel: Some(Tunnel {
            kind: TunnelKind::Gre { key: None },
            local: "203.0.113.1".parse().unwrap(),
            remote: "203.0.113.2".parse().unwrap(),
            ttl: 64,
        }),
        ..Default::default()
    };
    ifaces.push(tun);
    let routes = vec![StaticRoute::Via {
        dst: "198.18.0.0/15".parse().unwrap(),
        hops: vec![NextHop { ifindex: 2, gateway: "172.16.0.2".parse().unwrap() }],
    }];
    let neighbors = vec![StaticNeighbor { ifindex: 1, ip: "203.0.113.2".parse().unwrap(), mac: HOST_B }];
    Tables::build(ifaces, &routes, &[], neighbors, 1).unwrap()
}

/// The IPv4 frame's packet wrapped in VXLAN (VNI 100) from VTEP
/// 192.0.2.2 to our 192.0.2.1, as `benches/run.sh tunnel` sends it: its
/// inner destination never learned, so it is flooded to the one local
/// member.
fn vxlan_frame() -> Vec<u8> {
    let inner = [eth(HOST_B, HOST_A, 0x0800), ipv4_frame()[14..].to_vec()].concat();
    let mut udp = vec![0u8; 16];
    udp[..2].copy_from_slice(&50000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&vxlan::PORT.to_be_bytes());
    udp[4..6].copy_from_slice(&((16 + inner.len()) as u16).to_be_bytes());
    vxlan::emit(&mut udp[8..], 100);
    udp.extend_from_slice(&inner);
    let mut ip = vec![0u8; 20 + udp.len()];
    ip[20..].copy_from_slice(&udp);
    let repr = Ipv4Repr {
        src: [192, 0, 2, 2].into(),
        dst: [192, 0, 2, 1].into(),
        protocol: Protocol::Udp,
        payload_len: udp.len(),
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: false,
    };
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut ip[..]));
    [eth(GW_IN, MacAddr([2, 0, 0, 0, 0, 0xcc]), 0x0800), ip].concat()
}

/// Port 0 routed (192.0.2.1/24); bridge br0 with port 1 and VXLAN VNI
/// 100 at 192.0.2.1 from VTEP 192.0.2.2.
fn overlay() -> Tables {
    let ifc = Interface {
        name: "in".into(),
        port: 0,
        mac: GW_IN,
        mtu: 1500,
        addrs: vec!["192.0.2.1/24".parse().unwrap()],
        ..Default::default()
    };
    let members = [
        Member { bridge: 0, port: 1, vlan: None, vtep: None },
        Member { bridge: 0, port: 0, vlan: None, vtep: Some([192, 0, 2, 2].into()) },
    ];
    let vxlan = Vxlan { vni: 100, local: [192, 0, 2, 1].into(), port: vxlan::PORT };
    bridge(Tables::build(vec![ifc], &[], &[], vec![], 1).unwrap(), members, Some(vxlan))
}

/// `t` with bridge br0 of the two `members`.
fn bridge(mut t: Tables, members: [Member; 2], vxlan: Option<Vxlan>) -> Tables {
    let br = Bridge {
        name: "br0".into(),
        members: vec![0, 1],
        bvi: None,
        mac_limit: 1024,
        aging: u64::MAX,
        flush_epoch: 0,
        vxlan,
    };
    t.set_bridges(vec![br], members.to_vec()).unwrap();
    t
}

/// Ports 0 and 1 in one bridge; with `trunk`, port 1's member is VLAN 100.
fn bridged(trunk: bool) -> Tables {
    let members = [
        Member { bridge: 0, port: 0, vlan: None, vtep: None },
        Member { bridge: 0, port: 1, vlan: trunk.then_some(100), vtep: None },
    ];
    bridge(Tables::build(vec![], &[], &[], vec![], 1).unwrap(), members, None)
}

fn setup(t: &Tables) -> (Router<VecBuf>, Pool) {
    let mut r = Router::new(RouterConfig { mac_capacity: 4096, ..RouterConfig::default() });
    let mut pool = Pool { free: (0..96).map(|_| VecBuf::new(0)).collect() };
    r.sync(t, 0, &mut pool);
    (r, pool)
}

/// Measures `frames` run through `process` in turn, cycling.
fn bench_frames(c: &mut Criterion, name: &str, t: &Tables, frames: &[(u16, Vec<u8>)]) {
    let (mut r, mut pool) = setup(t);
    // Let the bridge learn every source first.
    for (port, f) in frames {
        let mut b = pool.alloc().unwrap();
        b.reset(*port, f);
        r.process(t, b, 1, &mut pool);
    }
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function(name, |b| {
        b.iter(|| {
            let (port, f) = &frames[i % frames.len()];
            i += 1;
            let mut buf = pool.free.pop().unwrap_or_else(|| VecBuf::new(0));
            buf.reset(*port, f);
            r.process(t, buf, 2, &mut pool);
        })
    });
    g.finish();
    assert!(r.counters.drops.iter().all(|&d| d == 0), "{name}: drops {:?}", r.counters);
}

/// Measures bursts of 32 copies of `frame` run through `process_burst`
/// (the fast path), per packet.
fn bench_burst(c: &mut Criterion, name: &str, t: &Tables, port: u16, frame: &[u8]) {
    const N: usize = 32;
    let (mut r, mut pool) = setup(t);
    let mut burst: [Option<VecBuf>; N] = std::array::from_fn(|_| None);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            for slot in burst.iter_mut() {
                let mut buf = pool.free.pop().unwrap_or_else(|| VecBuf::new(0));
                buf.reset(port, frame);
                *slot = Some(buf);
            }
            r.process_burst(t, port, &mut burst, 2, &mut pool);
        })
    });
    g.finish();
    assert!(r.counters.drops.iter().all(|&d| d == 0), "{name}: drops {:?}", r.counters);
}

fn pipeline(c: &mut Criterion) {
    let t = routed();
    bench_frames(c, "ipv4_forward", &t, &[(0, ipv4_frame())]);
    bench_frames(c, "ipv6_forward", &t, &[(0, ipv6_frame())]);
    bench_burst(c, "ipv4_forward_burst", &t, 0, &ipv4_frame());
    bench_burst(c, "ipv6_forward_burst", &t, 0, &ipv6_frame());
    bench_burst(c, "gre_encap_burst", &into_gre(), 0, &ipv4_frame());
    bench_burst(c, "vxlan_decap_burst", &overlay(), 0, &vxlan_frame());
    let a_to_b = [eth(HOST_B, HOST_A, 0x88b5), vec![0; 50]].concat();
    let b_to_a = [eth(HOST_A, HOST_B, 0x88b5), vec![0; 50]].concat();
    let t = bridged(false);
    bench_frames(c, "l2_switch_learned", &t, &[(0, a_to_b.clone()), (1, b_to_a.clone())]);
    let unknown = [eth(MacAddr([2, 9, 9, 9, 9, 9]), HOST_A, 0x88b5), vec![0; 50]].concat();
    bench_frames(c, "l2_flood_two_members", &t, &[(0, unknown.clone())]);
    bench_burst(c, "l2_flood_two_members_burst", &t, 0, &unknown);
    let t = bridged(true);
    let tagged = [&b_to_a[..12], &[0x81, 0, 0, 100][..], &b_to_a[12..]].concat();
    bench_frames(c, "l2_trunk_pop_and_push", &t, &[(0, a_to_b), (1, tagged)]);
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
