//! `/metrics` in the Prometheus text format.
//!
//! Everything is read at scrape time: NIC counters through
//! `rte_eth_stats_get`, and the workers' published counters summed over
//! workers. A scrape reads atomics and never waits for a worker. Labels
//! stay bounded: port, worker and drop reason, never addresses.

use crate::nic::NicReader;
use dataplane::WorkerStats;
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
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
}

fn counter(reg: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(reg, Box::new(c.clone()));
    c
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
    let wp = counter(&reg, "gateway_worker_packets_total", "Frames the worker received.", &["worker"]);
    let wb = counter(
        &reg,
        "gateway_worker_busy_cycles_total",
        "TSC cycles spent in loops that received frames.",
        &["worker"],
    );
    let wi = counter(&reg, "gateway_worker_idle_cycles_total", "TSC cycles spent in empty polls.", &["worker"]);
    for (i, w) in src.workers.iter().enumerate() {
        let l = i.to_string();
        wp.with_label_values(&[&l]).inc_by(w.packets.load(Relaxed));
        wb.with_label_values(&[&l]).inc_by(w.busy_cycles.load(Relaxed));
        wi.with_label_values(&[&l]).inc_by(w.idle_cycles.load(Relaxed));
    }
    let drops = counter(&reg, "gateway_drops_total", "Packets dropped, by reason.", &["reason"]);
    for r in DropReason::ALL {
        let n: u64 = src.workers.iter().map(|w| w.dropped(*r)).sum();
        drops.with_label_values(&[r.label()]).inc_by(n);
    }
    let sum = |f: fn(&WorkerStats) -> u64| src.workers.iter().map(|w| f(w)).sum::<u64>();
    let simple = [
        ("gateway_forwarded_total", "Packets forwarded to another host.", sum(|w| w.forwarded.load(Relaxed))),
        (
            "gateway_local_total",
            "Packets for the gateway's own addresses that it answered.",
            sum(|w| w.local.load(Relaxed)),
        ),
        ("gateway_icmp_errors_sent_total", "ICMP errors sent.", sum(|w| w.icmp_errors.load(Relaxed))),
        (
            "gateway_icmp_errors_rate_limited_total",
            "ICMP errors suppressed by the rate limit.",
            sum(|w| w.icmp_rate_limited.load(Relaxed)),
        ),
        ("gateway_arp_requests_sent_total", "ARP requests sent.", sum(|w| w.arp_requests.load(Relaxed))),
        ("gateway_arp_replies_sent_total", "ARP replies sent.", sum(|w| w.arp_replies.load(Relaxed))),
        (
            "gateway_ipv6_forwarded_total",
            "IPv6 packets forwarded (included in gateway_forwarded_total).",
            sum(|w| w.forwarded6.load(Relaxed)),
        ),
        (
            "gateway_fast_path_total",
            "Packets the fast path carried: plain transit packets with a known next hop, NAT packets of \
             established sessions and of new outbound flows among them (included in the forwarded and \
             switched totals).",
            sum(|w| w.fast_path.load(Relaxed)),
        ),
        (
            "gateway_flow_cache_hits_total",
            "Packets of established TCP and UDP flows the fast path's flow cache carried, its lookups \
             skipped (included in gateway_fast_path_total).",
            sum(|w| w.flow_hits.load(Relaxed)),
        ),
        (
            "gateway_ipv6_local_total",
            "IPv6 packets for the gateway's own addresses (included in gateway_local_total).",
            sum(|w| w.local6.load(Relaxed)),
        ),
        (
            "gateway_icmpv6_errors_sent_total",
            "ICMPv6 errors sent (included in gateway_icmp_errors_sent_total).",
            sum(|w| w.icmp6_errors.load(Relaxed)),
        ),
        ("gateway_nd_solicitations_sent_total", "Neighbor Solicitations sent.", sum(|w| w.nd_solicits.load(Relaxed))),
        ("gateway_nd_advertisements_sent_total", "Neighbor Advertisements sent.", sum(|w| w.nd_adverts.load(Relaxed))),
        (
            "gateway_router_advertisements_sent_total",
            "Router Advertisements sent.",
            sum(|w| w.router_adverts.load(Relaxed)),
        ),
        (
            "gateway_l2_forwarded_total",
            "Bridged frames sent to the one member their destination was learned on.",
            sum(|w| w.l2_forwarded.load(Relaxed)),
        ),
        (
            "gateway_l2_flooded_total",
            "Bridged frames flooded to every member (broadcast, multicast, unknown unicast).",
            sum(|w| w.l2_flooded.load(Relaxed)),
        ),
        ("gateway_mac_learned_total", "MAC addresses learned.", sum(|w| w.mac_learned.load(Relaxed))),
        (
            "gateway_mac_moves_total",
            "Learned MAC addresses seen on another member (station moves).",
            sum(|w| w.mac_moves.load(Relaxed)),
        ),
        (
            "gateway_mac_learn_full_total",
            "Source MAC addresses not learned because the bridge's MAC table was full (frames to them are flooded).",
            sum(|w| w.mac_learn_full.load(Relaxed)),
        ),
        ("gateway_mac_aged_total", "MAC entries removed by aging.", sum(|w| w.mac_aged.load(Relaxed))),
        (
            "gateway_nat_port_alloc_failures_total",
            "New NAT mappings refused: no outside port free, or the subscriber's port bound reached.",
            sum(|w| w.nat_port_alloc_failures.load(Relaxed)),
        ),
        (
            "gateway_nat_hairpins_total",
            "Packets from the inside to an outside address, translated both ways (hairpinning).",
            sum(|w| w.nat_hairpins.load(Relaxed)),
        ),
        (
            "gateway_nat_translated_total",
            "Packets NAT translated, both directions.",
            sum(|w| w.nat_translated.load(Relaxed)),
        ),
        (
            "gateway_nat_fragments_total",
            "Later fragments NAT translated by their first fragment's record (in order or held for it).",
            sum(|w| w.nat_fragments.load(Relaxed)),
        ),
        (
            "gateway_nat_handoffs_total",
            "Packets handed to the worker that owns their NAT state (a subscriber's, or an outside port's).",
            sum(|w| w.nat_handoffs.load(Relaxed)),
        ),
        (
            "gateway_nat_log_lost_total",
            "NAT log records lost: a block or mapping release found the log queue full.",
            sum(|w| w.nat_log_lost.load(Relaxed)),
        ),
        (
            "gateway_neighbor_events_lost_total",
            "Neighbor learnings not passed to other workers (inbox full).",
            sum(|w| w.neighbor_events_lost.load(Relaxed)),
        ),
    ];
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
        .set(sum(|w| w.neighbors.load(Relaxed)) as i64);
    gauge(&reg, "gateway_mac_entries", "MAC table entries, all bridges (summed over workers' tables).")
        .set(sum(|w| w.macs.load(Relaxed)) as i64);
    gauge(&reg, "gateway_nat_sessions", "NAT sessions (summed over workers).")
        .set(sum(|w| w.nat_sessions.load(Relaxed)) as i64);
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

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::{LinkStatus, PortStats};

    #[test]
    fn families_and_drop_reasons_are_rendered() {
        let w = Arc::new(WorkerStats::default());
        w.drops[DropReason::Ipv4BadChecksum.index()].store(3, Relaxed);
        w.packets.store(10, Relaxed);
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
