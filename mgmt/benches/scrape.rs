//! The cost of one `/metrics` scrape (issue: under 10 ms with 16 workers
//! and 32 ports). Worker counters are real `WorkerStats`, filled as busy
//! workers would leave them; NIC counters come from a stand-in for
//! `rte_eth_stats_get`, whose cost depends on the NIC driver and is not
//! ours to measure here. `benches/run.sh scrape` runs this and prints the
//! mean against the target.

use criterion::{criterion_group, criterion_main, Criterion};
use dataplane::{LinkStatus, PortStats, WorkerStats};
use mgmt::metrics::{render, Sources};
use mgmt::nic::NicReader;
use stack::router::Counter;
use stack::DropReason;
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

fn sources(workers: usize, ports: usize) -> Sources {
    let ws: Vec<Arc<WorkerStats>> = (0..workers)
        .map(|i| {
            let w = WorkerStats::default();
            w.router[Counter::Rx.index()].store(1_000_000_007 * (i as u64 + 1), Relaxed);
            w.busy_cycles.store(3_000_000_000_000, Relaxed);
            w.idle_cycles.store(1_000_000_000_000, Relaxed);
            for (j, d) in w.drops.iter().enumerate() {
                d.store((j as u64 + 1) * 12_345, Relaxed);
            }
            Arc::new(w)
        })
        .collect();
    Sources {
        ports: (0..ports).map(|i| (format!("port{i}"), i as u16)).collect(),
        nics: NicReader {
            stats: |id| PortStats {
                rx_packets: 1_000_000 * u64::from(id),
                tx_packets: 999_999 * u64::from(id),
                rx_bytes: 64_000_000 * u64::from(id),
                tx_bytes: 63_999_936 * u64::from(id),
                ..PortStats::default()
            },
            link: |_| LinkStatus { up: true, ..LinkStatus::default() },
        },
        workers: ws,
        generation: 42,
        last_apply_ms: 1_790_000_000_000,
        routes: 100_000,
        interfaces: 32,
        static_neighbors: 10,
        nat_log: (0, 0),
        fpm: None,
        punt: None,
    }
}

fn scrape(c: &mut Criterion) {
    let src = sources(16, 32);
    let text = render(&src);
    assert!(text.contains("gateway_port_rx_packets_total{port=\"port31\"}"));
    assert_eq!(text.matches("gateway_drops_total{").count(), DropReason::COUNT);
    c.bench_function("scrape_16_workers_32_ports", |b| b.iter(|| black_box(render(black_box(&src)))));
}

criterion_group!(benches, scrape);
criterion_main!(benches);
