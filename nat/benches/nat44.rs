//! NAT44 per packet, in ns, through the whole router pipeline
//! (`Router<Box<VecBuf>, Nat>`: each buffer moved as one pointer, as a
//! worker moves an `Mbuf`; recycled, so no allocation is measured):
//! 64-byte UDP frames from 16384 subscribers of 64 flows each,
//! routed to the outside and source-translated to a pool of 64 addresses.
//!
//! The first three run bursts of 32 frames through
//! `Router::process_burst`, as a worker does (an iteration is a burst;
//! criterion's throughput is per frame):
//!
//! - `nat44/new_session`: every frame opens a session (the table is
//!   cleared, outside the timing, when all flows have one).
//! - `nat44/translate_1m_sessions`: every frame hits one of 1,048,576
//!   live sessions, in turn, so the index reads miss the cache as they
//!   would in a busy carrier-grade NAT (the sessions, made in this
//!   order, lie in order in their arena).
//! - `nat44/translate_1k_sessions`: the same over 1024 sessions, all in
//!   cache: the NAT's own work per packet.
//! - `nat44/two_workers_owner` and `nat44/two_workers_handed` (a frame
//!   at a time): two workers' routers, 1024 cached sessions held by
//!   worker 1; frames fed to worker 1 directly, or to worker 0, which
//!   hands each over (through a vector here: the cost of the second
//!   pass through the router, not of the cache line crossing cores).
//!
//! - `nat44/adf_unsolicited_1_session` and `..._16k_sessions` (a frame
//!   at a time): address-dependent filtering, a packet from an address
//!   the mapping never sent to, dropped; the mapping holds one session or
//!   16,384. The check is one lookup either way (it walked the mapping's
//!   sessions once: 56-100 us a packet at 16k).
//!
//! - `nat44/resets_sessions_7k_addresses`: what a worker checks on every
//!   rule change (does it end every session?) for rules with 1,024 pool
//!   addresses and 6,000 forwards on addresses of their own: the outside
//!   addresses of both sets, each once (quadratic before: 34 ms).
//!
//! Prints `nat44 memory bytes_per_session=X` for the tables sized for
//! the flows.
//!
//!   cargo bench -p nat --bench nat44

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nat::{Filtering, Nat, NatConfig, Rule, Rules};
use stack::fib::NextHop;
use stack::iface::{StaticNeighbor, StaticRoute};
use stack::wire::checksum;
use stack::wire::MacAddr;
use stack::{Interface, Io, PacketBuf, Router, RouterConfig, Tables, VecBuf};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLOWS: usize = 1 << 20;
/// The pipeline's buffer: a box, one pointer moved as a worker moves an
/// `Mbuf` (a `VecBuf` by value is six words).
type Buf = Box<VecBuf>;
const FRAME: usize = 60;
const GW_IN: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

struct Pool {
    free: Vec<Buf>,
    handed: Vec<(u16, u8, Buf)>,
}

impl Io<Buf> for Pool {
    fn alloc(&mut self) -> Option<Buf> {
        self.free.pop()
    }
    fn send(&mut self, pkt: Buf) {
        black_box(pkt.len());
        self.free.push(pkt);
    }
    fn handoff(&mut self, pkt: Buf, worker: u16, tag: u8) -> Result<(), Buf> {
        self.handed.push((worker, tag, pkt));
        Ok(())
    }
}

fn tables() -> Tables {
    let ifc = |name: &str, port, mac, v4: &str| Interface {
        name: name.into(),
        port,
        mac,
        mtu: 1500,
        addrs: vec![v4.parse().unwrap()],
        ..Default::default()
    };
    let ifaces =
        vec![ifc("in", 0, GW_IN, "192.0.2.1/24"), ifc("out", 1, MacAddr([2, 0, 0, 0, 0, 2]), "203.0.113.1/24")];
    let routes = vec![StaticRoute::Via {
        dst: "198.18.0.0/15".parse().unwrap(),
        hops: vec![NextHop { ifindex: 1, gateway: "203.0.113.2".parse().unwrap() }],
    }];
    let neighbors =
        vec![StaticNeighbor { ifindex: 1, ip: "203.0.113.2".parse().unwrap(), mac: MacAddr([2, 0, 0, 0, 0, 0xbb]) }];
    Tables::build(ifaces, &routes, &[], neighbors, 1).unwrap()
}

/// Flow `i`: subscriber 10.0.0.0 + i/64 + 1, port 1024 + i%64, to 198.18.1.x:9.
fn frame(i: usize) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..6].copy_from_slice(&GW_IN.0);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..];
    ip[..12].copy_from_slice(&[0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0]);
    let src = Ipv4Addr::from(0x0a00_0000 + (i / 64) as u32 + 1);
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&[198, 18, 1, (i % 200) as u8 + 1]);
    let c = checksum::checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[20..22].copy_from_slice(&(1024 + (i % 64) as u16).to_be_bytes());
    ip[22..24].copy_from_slice(&9u16.to_be_bytes());
    ip[24..26].copy_from_slice(&26u16.to_be_bytes());
    f
}

fn router(t: &Tables) -> (Router<Buf, Nat>, Pool) {
    router_of(t, NatConfig { max_sessions: FLOWS, ..NatConfig::default() })
}

fn router_of(t: &Tables, cfg: NatConfig) -> (Router<Buf, Nat>, Pool) {
    let mut nat = Nat::new(cfg);
    let pool = (0..64).map(|i| Ipv4Addr::new(100, 64, 0, i)).collect();
    nat.set_rules(Arc::new(Rules {
        rules: vec![Rule { inside: (Ipv4Addr::new(10, 0, 0, 0), 8), outside: 1, pool }],
        ..Rules::default()
    }));
    let mut r = Router::with_translator(RouterConfig::default(), nat);
    let mut io = Pool { free: (0..64).map(|_| Buf::new(VecBuf::new(0))).collect(), handed: Vec::new() };
    r.sync(t, 0, &mut io);
    (r, io)
}

/// Frames a worker takes from a port at once (`rte_eth_rx_burst`'s 32).
const BURST: usize = 32;

/// Runs `frames` (at most [`BURST`]) as one burst from port 0, as a
/// worker does: the fast path takes established sessions, and the
/// translator prefetches a few frames ahead.
fn run_burst(r: &mut Router<Buf, Nat>, t: &Tables, io: &mut Pool, frames: &[[u8; FRAME]]) {
    let mut burst: [Option<Buf>; BURST] = std::array::from_fn(|_| None);
    for (slot, f) in burst.iter_mut().zip(frames) {
        let mut b = io.free.pop().unwrap_or_else(|| Buf::new(VecBuf::new(0)));
        b.reset(0, f);
        *slot = Some(b);
    }
    r.process_burst(t, 0, &mut burst[..frames.len().min(BURST)], 1, io);
}

fn run(r: &mut Router<Buf, Nat>, t: &Tables, io: &mut Pool, f: &[u8]) {
    let mut b = io.free.pop().unwrap_or_else(|| Buf::new(VecBuf::new(0)));
    b.reset(0, f);
    // As a worker runs it: a burst (of one) from port 0, whose fast path
    // takes established sessions.
    r.process_burst(t, 0, &mut [Some(b)], 1, io);
}

fn nat44(c: &mut Criterion) {
    let t = tables();
    let frames: Vec<[u8; FRAME]> = (0..FLOWS).map(frame).collect();
    let mut g = c.benchmark_group("nat44");
    // The bursts' benches: one iteration is a burst of BURST frames.
    g.throughput(Throughput::Elements(BURST as u64));

    let (mut r, mut io) = router(&t);
    let mut k = 0;
    g.bench_function("new_session", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut t0 = Instant::now();
            for _ in 0..iters {
                if k == FLOWS {
                    spent += t0.elapsed();
                    r.translator_mut().clear();
                    k = 0;
                    t0 = Instant::now();
                }
                run_burst(&mut r, &t, &mut io, &frames[k..k + BURST]);
                k += BURST;
            }
            spent + t0.elapsed()
        })
    });
    // (Nothing was created if a filter skipped the bench above.)
    assert!(r.counters.drops.iter().all(|&d| d == 0), "drops: {:?}", r.counters.drops);

    r.translator_mut().clear();
    for f in &frames {
        run(&mut r, &t, &mut io, f);
    }
    assert_eq!(r.translator().len(), FLOWS);
    eprintln!("nat44 memory bytes_per_session={:.0}", r.translator().bytes() as f64 / FLOWS as f64);
    let mut k = 0;
    g.bench_function("translate_1m_sessions", |b| {
        b.iter(|| {
            run_burst(&mut r, &t, &mut io, &frames[k..k + BURST]);
            k = (k + BURST) % FLOWS;
        })
    });
    assert_eq!(r.translator().len(), FLOWS, "no session made or lost while translating");
    // The same over 1024 of them: every table read hits the cache, so
    // this is the NAT's own work per packet (parse, hash, compare,
    // refresh, rewrite) on top of routing.
    let mut k = 0;
    g.bench_function("translate_1k_sessions", |b| {
        b.iter(|| {
            run_burst(&mut r, &t, &mut io, &frames[k..k + BURST]);
            k = (k + BURST) % 1024;
        })
    });
    drop((r, io));

    // The two-worker benches: a frame at a time.
    g.throughput(Throughput::Elements(1));
    let two = |w| NatConfig { max_sessions: 4096, worker: w, workers: 2, ..NatConfig::default() };
    let (mut r0, mut io0) = router_of(&t, two(0));
    let (mut r1, mut io1) = router_of(&t, two(1));
    let owned: Vec<&[u8; FRAME]> = frames
        .iter()
        .filter(|f| r1.translator().owner_of(Ipv4Addr::new(f[26], f[27], f[28], f[29])) == 1)
        .take(1024)
        .collect();
    for f in &owned {
        run(&mut r1, &t, &mut io1, &f[..]);
    }
    assert_eq!(r1.translator().len(), 1024);
    let mut k = 0;
    g.bench_function("two_workers_owner", |b| {
        b.iter(|| {
            run(&mut r1, &t, &mut io1, &owned[k][..]);
            k = (k + 1) % owned.len();
        })
    });
    g.bench_function("two_workers_handed", |b| {
        b.iter(|| {
            run(&mut r0, &t, &mut io0, &owned[k][..]);
            if let Some((_, tag, pkt)) = io0.handed.pop() {
                r1.process_handed(&t, pkt, tag, 1, &mut io1);
            }
            // The buffer goes back where the next frame comes from.
            if let Some(b) = io1.free.pop() {
                io0.free.push(b);
            }
            k = (k + 1) % owned.len();
        })
    });
    assert_eq!((r0.translator().len(), r1.translator().len()), (0, 1024), "sessions only on the owner");
    // (Nothing was handed off if a filter skipped the bench above.)
    let handed_ran = r0.counters.rx > 0;
    assert!(!handed_ran || r0.counters.handed_off > 0, "the first worker handed its frames off");
    drop((r0, io0, r1, io1));

    for (name, n) in [("adf_unsolicited_1_session", 1), ("adf_unsolicited_16k_sessions", 16384)] {
        let (mut r, mut io, unsolicited) = adf_router(&t, n);
        g.bench_function(name, |b| b.iter(|| run(&mut r, &t, &mut io, &unsolicited)));
        assert_eq!(r.translator().len(), n, "filtered: no session made");
    }
    let big = {
        let mut rules = nat::Rules::default();
        let a = |i: u32| std::net::Ipv4Addr::from(0x6440_0000 + i);
        rules.rules.push(nat::Rule { inside: (a(0), 10), outside: 1, pool: (0..1024).map(a).collect() });
        rules.forwards = (0..6000)
            .map(|i| nat::Forward { proto: 6, outside: (a(4096 + i), 80), inside: (a(1 << 16 | i), 80) })
            .collect();
        rules
    };
    let same = big.clone();
    g.bench_function("resets_sessions_7k_addresses", |b| b.iter(|| assert!(!big.resets_sessions(&same))));
    g.finish();
}

/// A router filtering by address whose one mapping (10.0.0.1:1024) holds
/// `n` sessions, to 198.18.1.1 on `n` ports; and a frame from
/// 198.19.0.1:53 to the mapping's outside endpoint.
fn adf_router(t: &Tables, n: usize) -> (Router<Buf, Nat>, Pool, [u8; FRAME]) {
    let (mut r, mut io) = router_of(t, NatConfig { max_sessions: 32768, ..NatConfig::default() });
    let mut rules = r.translator().rules().clone();
    rules.filtering = Filtering::AddressDependent;
    r.translator_mut().set_rules(Arc::new(rules));
    for port in 0..n {
        let mut f = frame(0);
        f[36..38].copy_from_slice(&(1 + port as u16).to_be_bytes());
        run(&mut r, t, &mut io, &f);
    }
    assert_eq!(r.translator().len(), n);
    let s = r.translator().sessions().next().expect("a session");
    let mut f = frame(0);
    let ip = &mut f[14..];
    ip[12..16].copy_from_slice(&[198, 19, 0, 1]);
    ip[16..20].copy_from_slice(&s.outside.0.octets());
    ip[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip[20..22].copy_from_slice(&53u16.to_be_bytes());
    ip[22..24].copy_from_slice(&s.outside.1.to_be_bytes());
    (r, io, f)
}

criterion_group!(benches, nat44);
criterion_main!(benches);
