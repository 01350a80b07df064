//! `/metrics` in the Prometheus text format.
//!
//! Everything is read at scrape time: NIC counters through
//! `rte_eth_stats_get`, and the workers' published counters summed over
//! workers. A scrape reads atomics and never waits for a worker. Labels
//! stay bounded: port, worker and drop reason, never addresses.

use crate::nic::NicReader;
use dataplane::WorkerStats;
use nat::NatCounter;
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use stack::router::{Counter, Scope};
use stack::DropReason;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// What a scrape reads.
pub struct Sources {
    /// (port name, DPDK port id).
    pub ports: Vec<(String, u16)>,
    /// Reads the ports' NIC counters and links.
    pub nics: NicReader,
    pub workers: Vec<Arc<WorkerStats>>,
    /// Generation of the running config snapshot.
    pub generation: u64,
    /// Unix time of the last applied change, in ms.
    pub last_apply_ms: u64,
    /// Table sizes from the running config.
    pub routes: usize,
    pub interfaces: usize,
    pub static_neighbors: usize,
    /// NAT log records written, and writes that failed.
    pub nat_log: (u64, u64),
    /// The FPM listener's counters (routes from FRR).
    pub fpm: Option<Arc<crate::fpm::FpmStats>>,
    /// The punt thread's counters (kernel twins).
    pub punt: Option<Arc<crate::punt::PuntStats>>,
}

fn counter(reg: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(reg, Box::new(c.clone()));
    c
}

/// An unlabelled counter family with the value of `v`.
fn one_counter(reg: &Registry, name: &str, help: &str, v: &AtomicU64) {
    counter(reg, name, help, &[]).with_label_values::<&str>(&[]).inc_by(v.load(Relaxed))
}

fn gauge(reg: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(reg, Box::new(g.clone()));
    g
}

fn register(reg: &Registry, c: Box<dyn Collector>) {
    // Names are fixed in this file and registered once per fresh registry.
    reg.register(c).unwrap_or_else(|e| panic!("registering a metric: {e}"));
}

/// Renders every metric family as Prometheus text.
pub fn render(src: &Sources) -> String {
    let reg = Registry::new();
    let port_families = [
        ("gateway_port_rx_packets_total", "Packets received by the port (NIC counter)."),
        ("gateway_port_tx_packets_total", "Packets sent by the port (NIC counter)."),
        ("gateway_port_rx_bytes_total", "Bytes received by the port."),
        ("gateway_port_tx_bytes_total", "Bytes sent by the port."),
        ("gateway_port_rx_errors_total", "Erroneous frames received."),
        ("gateway_port_tx_errors_total", "Frames the port failed to send."),
        ("gateway_port_rx_missed_total", "Frames dropped by the NIC because RX queues were full."),
        ("gateway_port_rx_nombuf_total", "RX failures for lack of mbufs."),
    ];
    let pc: Vec<IntCounterVec> = port_families.iter().map(|(n, h)| counter(&reg, n, h, &["port"])).collect();
    let link = IntGaugeVec::new(Opts::new("gateway_port_link_up", "1 if the port's link is up."), &["port"])
        .unwrap_or_else(|e| panic!("gateway_port_link_up: {e}"));
    register(&reg, Box::new(link.clone()));
    for (name, id) in &src.ports {
        link.with_label_values(&[name]).set(i64::from((src.nics.link)(*id).up));
        let s = (src.nics.stats)(*id);
        let values =
            [s.rx_packets, s.tx_packets, s.rx_bytes, s.tx_bytes, s.rx_errors, s.tx_errors, s.rx_missed, s.rx_nombuf];
        for (c, v) in pc.iter().zip(values) {
            c.with_label_values(&[name]).inc_by(v);
        }
    }
    let per_worker: Vec<(Counter, IntCounterVec)> = Counter::ALL
        .iter()
        .filter(|k| k.scope() == Scope::PerWorker)
        .map(|&k| (k, counter(&reg, k.metric(), k.help(), &["worker"])))
        .collect();
    let wb = counter(
        &reg,
        "gateway_worker_busy_cycles_total",
        "TSC cycles spent in loops that received frames.",
        &["worker"],
    );
    let wi = counter(&reg, "gateway_worker_idle_cycles_total", "TSC cycles spent in empty polls.", &["worker"]);
    for (i, w) in src.workers.iter().enumerate() {
        let l = i.to_string();
        for (k, c) in &per_worker {
            c.with_label_values(&[&l]).inc_by(w.counter(*k));
        }
        wb.with_label_values(&[&l]).inc_by(w.busy_cycles.load(Relaxed));
        wi.with_label_values(&[&l]).inc_by(w.idle_cycles.load(Relaxed));
    }
    let drops = counter(&reg, "gateway_drops_total", "Packets dropped, by reason.", &["reason"]);
    for r in DropReason::ALL {
        let n: u64 = src.workers.iter().map(|w| w.dropped(*r)).sum();
        drops.with_label_values(&[r.label()]).inc_by(n);
    }
    let sum = |f: &dyn Fn(&WorkerStats) -> u64| src.workers.iter().map(|w| f(w)).sum::<u64>();
    // The router's counters, from their one declaration; then the NAT's.
    for &k in Counter::ALL.iter().filter(|k| k.scope() == Scope::Sum) {
        let c = counter(&reg, k.metric(), k.help(), &[]);
        c.with_label_values(&[] as &[&str]).inc_by(sum(&|w| w.counter(k)));
    }
    for &k in NatCounter::ALL {
        let c = counter(&reg, k.metric(), k.help(), &[]);
        c.with_label_values(&[] as &[&str]).inc_by(sum(&|w| w.nat_counter(k)));
    }
    let simple = [(
        "gateway_neighbor_events_lost_total",
        "Neighbor learnings not passed to other workers (inbox full).",
        sum(&|w| w.neighbor_events_lost.load(Relaxed)),
    )];
    let more = [
        ("gateway_nat_log_records_total", "NAT log records written.", src.nat_log.0),
        (
            "gateway_nat_log_errors_total",
            "NAT log writes that failed (opening the file, writing it, or sending to syslog).",
            src.nat_log.1,
        ),
    ];
    for (n, h, v) in simple.into_iter().chain(more) {
        let c = counter(&reg, n, h, &[]);
        c.with_label_values(&[] as &[&str]).inc_by(v);
    }
    gauge(&reg, "gateway_neighbors", "Neighbor cache entries, ARP and NDP (summed over workers' caches).")
        .set(sum(&|w| w.neighbors.load(Relaxed)) as i64);
    gauge(&reg, "gateway_mac_entries", "MAC table entries, all bridges (summed over workers' tables).")
        .set(sum(&|w| w.macs.load(Relaxed)) as i64);
    gauge(&reg, "gateway_reassembly_datagrams", "Datagrams for the gateway in reassembly (summed over workers).")
        .set(sum(&|w| w.reassembly_contexts.load(Relaxed)) as i64);
    gauge(&reg, "gateway_reassembly_fragments", "Fragments held for reassembly (summed over workers).")
        .set(sum(&|w| w.reassembly_buffers.load(Relaxed)) as i64);
    gauge(&reg, "gateway_nat_sessions", "NAT sessions (summed over workers).")
        .set(sum(&|w| w.nat_sessions.load(Relaxed)) as i64);
    gauge(
        &reg,
        "gateway_nat_inbound_sessions",
        "NAT sessions made by packets from outside, bounded apart (summed over workers).",
    )
    .set(sum(&|w| w.nat_inbound_sessions.load(Relaxed)) as i64);
    let created = counter(&reg, "gateway_nat_sessions_created_total", "NAT sessions created, by protocol.", &["proto"]);
    let expired = counter(
        &reg,
        "gateway_nat_sessions_expired_total",
        "NAT sessions ended by idle timeout, by protocol.",
        &["proto"],
    );
    for (i, p) in nat::PROTOCOLS.iter().enumerate() {
        let of = |a: fn(&WorkerStats) -> &[AtomicU64; 3]| {
            src.workers.iter().map(|w| a(w).get(i).map_or(0, |c| c.load(Relaxed))).sum::<u64>()
        };
        created.with_label_values(&[p]).inc_by(of(|w| &w.nat_created));
        expired.with_label_values(&[p]).inc_by(of(|w| &w.nat_expired));
    }
    gauge(&reg, "gateway_config_generation", "Generation of the running config snapshot.").set(src.generation as i64);
    let last = prometheus::Gauge::new(
        "gateway_config_last_apply_timestamp_seconds",
        "Unix time of the last applied config change (or of the start).",
    )
    .unwrap_or_else(|e| panic!("gateway_config_last_apply_timestamp_seconds: {e}"));
    register(&reg, Box::new(last.clone()));
    last.set(src.last_apply_ms as f64 / 1000.0);
    gauge(&reg, "gateway_routes", "Static routes in the running config.").set(src.routes as i64);
    if let Some(f) = &src.fpm {
        fpm(&reg, f);
    }
    if let Some(p) = &src.punt {
        punt(&reg, p);
    }
    gauge(&reg, "gateway_interfaces", "Interfaces in the running config.").set(src.interfaces as i64);
    gauge(&reg, "gateway_static_neighbors", "Static neighbor entries in the running config.")
        .set(src.static_neighbors as i64);
    let wg = IntGaugeVec::new(
        Opts::new("gateway_worker_config_generation", "Config generation each worker routes with."),
        &["worker"],
    )
    .unwrap_or_else(|e| panic!("gateway_worker_config_generation: {e}"));
    register(&reg, Box::new(wg.clone()));
    for (i, w) in src.workers.iter().enumerate() {
        let g = w.generation.load(Relaxed);
        wg.with_label_values(&[&i.to_string()]).set(if g == u64::MAX { -1 } else { g as i64 });
    }
    let info = IntGaugeVec::new(Opts::new("gateway_build_info", "Build information."), &["version"])
        .unwrap_or_else(|e| panic!("gateway_build_info: {e}"));
    register(&reg, Box::new(info.clone()));
    info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&reg.gather(), &mut out) {
        return format!("# encoding failed: {e}\n");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The punt thread's families.
fn punt(reg: &Registry, p: &crate::punt::PuntStats) {
    let one = |name, help, v| one_counter(reg, name, help, v);
    one("gateway_punt_kernel_written_total", "Frames written to the kernel twins.", &p.to_kernel);
    one("gateway_punt_kernel_read_total", "Frames read from the kernel twins for the workers.", &p.from_kernel);
    one(
        "gateway_punt_sync_errors_total",
        "Failures to bring a kernel twin's addresses or MTU in line with its interface.",
        &p.sync_errors,
    );
    let dropped =
        counter(reg, "gateway_punt_thread_dropped_total", "Frames the punt thread dropped, by reason.", &["reason"]);
    for (r, c) in crate::punt::DROPS.iter().zip(&p.dropped) {
        dropped.with_label_values(&[r]).inc_by(c.load(Relaxed));
    }
}

/// The FPM listener's families.
fn fpm(reg: &Registry, f: &crate::fpm::FpmStats) {
    use crate::fpm::{netlink::Protocol, rib::REFUSALS};
    gauge(reg, "gateway_fpm_connected", "1 while the routing daemon (zebra, over FPM) is connected.")
        .set(f.connected.load(Relaxed) as i64);
    let one = |name, help, v| one_counter(reg, name, help, v);
    one("gateway_fpm_sessions_total", "FPM connections accepted.", &f.sessions);
    one("gateway_fpm_messages_total", "Netlink messages received over FPM.", &f.messages);
    one("gateway_fpm_batches_total", "Snapshots applied for learned routes.", &f.batches);
    one(
        "gateway_fpm_in_place_total",
        "Snapshots for learned routes made by changing the retired one in place, a route at a time.",
        &f.in_place,
    );
    one(
        "gateway_fpm_apply_failures_total",
        "Batches of learned routes the tables refused (previous tables kept).",
        &f.failures,
    );
    one("gateway_fpm_swept_total", "Learned routes removed as stale (after a resync or the grace time).", &f.swept);
    let refused = counter(reg, "gateway_fpm_refused_total", "FPM messages not taken, by reason.", &["reason"]);
    for (r, c) in REFUSALS.iter().zip(&f.refused) {
        refused.with_label_values(&[r]).inc_by(c.load(Relaxed));
    }
    let g =
        IntGaugeVec::new(Opts::new("gateway_learned_routes", "Routes learned from FRR, by protocol."), &["protocol"])
            .unwrap_or_else(|e| panic!("gateway_learned_routes: {e}"));
    register(reg, Box::new(g.clone()));
    for (p, c) in Protocol::NAMES.iter().zip(&f.routes) {
        g.with_label_values(&[p]).set(c.load(Relaxed) as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::{LinkStatus, PortStats};

    #[test]
    fn the_punt_threads_families_are_rendered_when_it_runs() {
        let p = Arc::new(crate::punt::PuntStats::default());
        p.to_kernel.store(5, Relaxed);
        p.dropped[2].store(1, Relaxed);
        let src = |punt| Sources {
            ports: vec![],
            nics: NicReader { stats: |_| PortStats::default(), link: |_| LinkStatus::default() },
            workers: vec![],
            generation: 1,
            last_apply_ms: 0,
            routes: 0,
            interfaces: 0,
            static_neighbors: 0,
            nat_log: (0, 0),
            fpm: None,
            punt,
        };
        let text = render(&src(Some(p)));
        assert!(text.contains("gateway_punt_kernel_written_total 5"), "{text}");
        assert!(text.contains("gateway_punt_thread_dropped_total{reason=\"down_queue_full\"} 1"), "{text}");
        assert!(!render(&src(None)).contains("gateway_punt_kernel"));
    }

    #[test]
    fn families_and_drop_reasons_are_rendered() {
        let w = Arc::new(WorkerStats::default());
        w.drops[DropReason::Ipv4BadChecksum.index()].store(3, Relaxed);
        w.router[Counter::Rx.index()].store(10, Relaxed);
        let text = render(&Sources {
            ports: vec![("lan".into(), 0)],
            nics: NicReader {
                stats: |_| PortStats { rx_packets: 7, ..Default::default() },
                link: |_| LinkStatus { up: true, ..Default::default() },
            },
            workers: vec![w.clone(), w],
            generation: 4,
            last_apply_ms: 1_500,
            routes: 2,
            interfaces: 1,
            static_neighbors: 0,
            nat_log: (0, 0),
            fpm: None,
            punt: None,
        });
        assert!(text.contains("gateway_port_rx_packets_total{port=\"lan\"} 7"), "{text}");
        assert!(text.contains("gateway_port_link_up{port=\"lan\"} 1"));
        assert!(text.contains("gateway_config_last_apply_timestamp_seconds 1.5"));
        assert!(text.contains("gateway_routes 2"));
        assert!(text.contains("gateway_drops_total{reason=\"ipv4_bad_checksum\"} 6"), "{text}");
        assert!(text.contains("gateway_drops_total{reason=\"ttl_expired\"} 0"));
        assert!(text.contains("gateway_worker_packets_total{worker=\"1\"} 10"));
        assert!(text.contains("gateway_config_generation 4"));
        assert!(text.contains("gateway_build_info{version="));
        assert!(text.contains("# TYPE gateway_drops_total counter"));
    }
}
