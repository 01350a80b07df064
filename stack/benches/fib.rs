//! What a route change costs in a full table: one route moved to
//! another gateway and back, or added and removed again, in a FIB of
//! 1,000,000 IPv4 prefixes (the Internet
//! table's length mix, as `benches/fpm_feed.py` sends them), against
//! building that table whole, and the same for 200,000 IPv6 prefixes.
//! Then lookups: 1,024 addresses, each in a different prefix (ns per
//! lookup; `benches/rte_fib_lookup.c` times DPDK's rte_fib and
//! rte_fib6 on the same tables and addresses). Prints the tables' bytes
//! per route first.
//!
//!   cargo bench -p stack --bench fib

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use stack::fib::Dest;
use stack::fib6::NextHop6;
use stack::{Fib, Fib6, Fib6Builder, FibBuilder, NextHop, RouteTarget};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Share of each prefix length in thousandths (the rest: /24, or /48).
const V4_MIX: [(u8, u32); 20] = [
    (10, 1),
    (12, 1),
    (13, 1),
    (14, 2),
    (15, 3),
    (16, 12),
    (17, 10),
    (18, 20),
    (19, 30),
    (20, 50),
    (21, 50),
    (22, 100),
    (23, 90),
    (25, 4),
    (26, 4),
    (27, 3),
    (28, 2),
    (29, 2),
    (30, 1),
    (32, 1),
];
const V6_MIX: [(u8, u32); 9] =
    [(29, 10), (32, 120), (36, 40), (40, 60), (44, 70), (46, 30), (47, 20), (56, 50), (64, 50)];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// `n` prefixes by the mix: (address bits, length), in 11/8-126/8 for
/// IPv4 and 2400::/6 for IPv6 (duplicates are replaced, as a table would).
fn prefixes(n: usize, v6: bool) -> Vec<(u128, u8)> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mix, rest, bits): (&[(u8, u32)], u8, u32) = if v6 { (&V6_MIX, 48, 128) } else { (&V4_MIX, 24, 32) };
    let mut out = Vec::with_capacity(n);
    for &(len, per_mille) in mix.iter().chain(&[(rest, 1000 - mix.iter().map(|m| m.1).sum::<u32>())]) {
        for _ in 0..n * per_mille as usize / 1000 {
            let a = if v6 {
                (0x2400u128 + u128::from(rng.next() % 0x400)) << 112 | u128::from(rng.next()) << 48
            } else {
                u128::from((11 + rng.next() % 116) << 24 | rng.next() & 0xff_ffff)
            };
            out.push((a & !(u128::MAX.checked_shr(u32::from(len) + 128 - bits).unwrap_or(0)), len));
        }
    }
    out
}

fn fib4(routes: &[(u128, u8)]) -> Fib {
    let hop = [NextHop { ifindex: 1, gateway: Ipv4Addr::new(203, 0, 113, 2) }];
    let mut b = FibBuilder::new();
    for &(a, len) in routes {
        b.add_via(Ipv4Addr::from(a as u32), len, &hop);
    }
    b.build().unwrap()
}

fn fib6(routes: &[(u128, u8)]) -> Fib6 {
    let hop = [NextHop6 { ifindex: 1, gateway: "2001:db8:1::2".parse().unwrap() }];
    let mut b = Fib6Builder::new();
    for &(a, len) in routes {
        b.add_via(Ipv6Addr::from(a), len, &hop);
    }
    b.build().unwrap()
}

fn fib(c: &mut Criterion) {
    let v4 = prefixes(1_000_000, false);
    let v6 = prefixes(200_000, true);
    let mut f4 = fib4(&v4);
    let mut f6 = fib6(&v6);
    println!(
        "fib_memory v4_routes={} v4_bytes_per_route={} v6_routes={} v6_bytes_per_route={}",
        f4.len(),
        f4.bytes() / f4.len(),
        f6.len(),
        f6.bytes() / f6.len()
    );
    let mut g = c.benchmark_group("fib");
    g.sample_size(10);
    g.bench_function("v4_build_1m", |b| {
        b.iter_batched(|| (), |()| black_box(fib4(&v4)).len(), BatchSize::PerIteration)
    });
    g.bench_function("v6_build_200k", |b| {
        b.iter_batched(|| (), |()| black_box(fib6(&v6)).len(), BatchSize::PerIteration)
    });
    g.finish();
    // Lookups: 1,024 addresses, each in a random prefix of the table
    // (as benches/rte_fib_lookup.c picks them, for rte_fib beside us).
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let d4: Vec<Ipv4Addr> = (0..1024)
        .map(|_| {
            let (a, len) = v4[(rng.next() % v4.len() as u64) as usize];
            let host = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            Ipv4Addr::from(a as u32 | rng.next() as u32 & host)
        })
        .collect();
    let d6: Vec<u128> = (0..1024)
        .map(|_| {
            let (a, _) = v6[(rng.next() % v6.len() as u64) as usize];
            a | u128::from(1 + rng.next() % 254)
        })
        .collect();
    let mut g = c.benchmark_group("fib");
    g.throughput(criterion::Throughput::Elements(1024));
    g.bench_function("v4_lookup_1m", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for &a in &d4 {
                n += f4.lookup(black_box(a)).is_some() as usize;
            }
            assert_eq!(n, 1024);
        })
    });
    g.bench_function("v6_lookup_200k", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for &a in &d6 {
                n += f6.lookup_bits(black_box(a)).is_some() as usize;
            }
            assert_eq!(n, 1024);
        })
    });
    g.finish();
    let mut g = c.benchmark_group("fib");
    let other = Dest::Via(vec![NextHop { ifindex: 1, gateway: Ipv4Addr::new(203, 0, 113, 3) }]);
    let back = Dest::Via(vec![NextHop { ifindex: 1, gateway: Ipv4Addr::new(203, 0, 113, 2) }]);
    let v4_24: Vec<Ipv4Addr> = v4.iter().filter(|r| r.1 == 24).map(|r| Ipv4Addr::from(r.0 as u32)).collect();
    let mut i = 0usize;
    // A /24 of the table moved to another gateway and back: two changes.
    g.bench_function("v4_change_24_in_1m", |b| {
        b.iter(|| {
            let a = v4_24[i % v4_24.len()];
            i += 7919;
            f4.insert(a, 24, other.clone()).unwrap();
            f4.insert(a, 24, back.clone()).unwrap();
            black_box(f4.lookup(a));
        })
    });
    // A /28 added and removed: a group of 256 made and folded.
    g.bench_function("v4_change_28_in_1m", |b| {
        b.iter(|| {
            let (a, _) = v4[i % v4.len()];
            i += 7919;
            let a = Ipv4Addr::from(a as u32 | 0x30);
            f4.insert(a, 28, other.clone()).unwrap();
            f4.remove(a, 28);
        })
    });
    let other6 = Dest::Plain(RouteTarget::Blackhole);
    g.bench_function("v6_change_56_in_200k", |b| {
        b.iter(|| {
            let (a, _) = v6[i % v6.len()];
            i += 7919;
            let a = Ipv6Addr::from(a | 0xab << 72);
            f6.insert(a, 56, other6.clone()).unwrap();
            f6.remove(a, 56);
        })
    });
    g.finish();
}

criterion_group!(benches, fib);
criterion_main!(benches);
