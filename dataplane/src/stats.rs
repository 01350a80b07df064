//! Per-worker counters shared with the control plane.
//!
//! Each worker keeps its router's counters in its own memory and copies
//! them here once per busy loop with relaxed stores: one writer per
//! counter, so no atomic read-modify-write, and a scrape never stalls a
//! worker. Readers sum over workers.

use stack::mac_table::MacInfo;
use stack::neigh::NeighborInfo;
use stack::{Counters, DropReason};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// One worker's published counters.
#[derive(Debug)]
#[repr(align(64))]
pub struct WorkerStats {
    pub packets: AtomicU64,
    pub busy_cycles: AtomicU64,
    pub idle_cycles: AtomicU64,
    pub forwarded: AtomicU64,
    pub local: AtomicU64,
    pub icmp_errors: AtomicU64,
    pub icmp_rate_limited: AtomicU64,
    pub arp_requests: AtomicU64,
    pub arp_replies: AtomicU64,
    pub forwarded6: AtomicU64,
    pub fast_path: AtomicU64,
    pub flow_hits: AtomicU64,
    pub local6: AtomicU64,
    pub icmp6_errors: AtomicU64,
    pub nd_solicits: AtomicU64,
    pub nd_adverts: AtomicU64,
    pub router_adverts: AtomicU64,
    pub l2_forwarded: AtomicU64,
    pub l2_flooded: AtomicU64,
    pub mac_learned: AtomicU64,
    pub mac_moves: AtomicU64,
    pub mac_learn_full: AtomicU64,
    pub mac_aged: AtomicU64,
    /// Entries in the worker's MAC table (all bridges).
    pub macs: AtomicU64,
    pub neighbors: AtomicU64,
    pub neighbor_events_lost: AtomicU64,
    /// NAT sessions alive on this worker.
    pub nat_sessions: AtomicU64,
    /// NAT sessions created and expired, by protocol ([`nat::PROTOCOLS`]).
    pub nat_created: [AtomicU64; 3],
    pub nat_expired: [AtomicU64; 3],
    pub nat_port_alloc_failures: AtomicU64,
    pub nat_hairpins: AtomicU64,
    pub nat_translated: AtomicU64,
    pub nat_log_lost: AtomicU64,
    pub nat_fragments: AtomicU64,
    /// Packets handed to the worker owning their NAT state.
    pub nat_handoffs: AtomicU64,
    /// Generation of the newest [`stack::Tables`] snapshot this worker has
    /// started using; once every worker shows `n`, no worker holds an
    /// older snapshot and the control plane may free it.
    pub generation: AtomicU64,
    pub drops: [AtomicU64; DropReason::COUNT],
}

impl Default for WorkerStats {
    fn default() -> Self {
        WorkerStats {
            packets: AtomicU64::new(0),
            busy_cycles: AtomicU64::new(0),
            idle_cycles: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            local: AtomicU64::new(0),
            icmp_errors: AtomicU64::new(0),
            icmp_rate_limited: AtomicU64::new(0),
            arp_requests: AtomicU64::new(0),
            arp_replies: AtomicU64::new(0),
            forwarded6: AtomicU64::new(0),
            fast_path: AtomicU64::new(0),
            flow_hits: AtomicU64::new(0),
            local6: AtomicU64::new(0),
            icmp6_errors: AtomicU64::new(0),
            nd_solicits: AtomicU64::new(0),
            nd_adverts: AtomicU64::new(0),
            router_adverts: AtomicU64::new(0),
            l2_forwarded: AtomicU64::new(0),
            l2_flooded: AtomicU64::new(0),
            mac_learned: AtomicU64::new(0),
            mac_moves: AtomicU64::new(0),
            mac_learn_full: AtomicU64::new(0),
            mac_aged: AtomicU64::new(0),
            macs: AtomicU64::new(0),
            neighbors: AtomicU64::new(0),
            neighbor_events_lost: AtomicU64::new(0),
            nat_sessions: AtomicU64::new(0),
            nat_created: std::array::from_fn(|_| AtomicU64::new(0)),
            nat_expired: std::array::from_fn(|_| AtomicU64::new(0)),
            nat_port_alloc_failures: AtomicU64::new(0),
            nat_hairpins: AtomicU64::new(0),
            nat_translated: AtomicU64::new(0),
            nat_log_lost: AtomicU64::new(0),
            nat_fragments: AtomicU64::new(0),
            nat_handoffs: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WorkerStats {
    /// Publishes the router's counters (single writer).
    #[inline]
    pub fn publish(&self, c: &Counters, extra_drops: &[u64; DropReason::COUNT]) {
        self.packets.store(c.rx, Relaxed);
        self.forwarded.store(c.forwarded, Relaxed);
        self.local.store(c.local, Relaxed);
        self.icmp_errors.store(c.icmp_errors, Relaxed);
        self.icmp_rate_limited.store(c.icmp_rate_limited, Relaxed);
        self.arp_requests.store(c.arp_requests, Relaxed);
        self.arp_replies.store(c.arp_replies, Relaxed);
        self.forwarded6.store(c.forwarded6, Relaxed);
        self.fast_path.store(c.fast_path, Relaxed);
        self.flow_hits.store(c.flow_hits, Relaxed);
        self.local6.store(c.local6, Relaxed);
        self.icmp6_errors.store(c.icmp6_errors, Relaxed);
        self.nd_solicits.store(c.nd_solicits, Relaxed);
        self.nd_adverts.store(c.nd_adverts, Relaxed);
        self.router_adverts.store(c.router_adverts, Relaxed);
        self.l2_forwarded.store(c.l2_forwarded, Relaxed);
        self.l2_flooded.store(c.l2_flooded, Relaxed);
        self.mac_learned.store(c.mac_learned, Relaxed);
        self.mac_moves.store(c.mac_moves, Relaxed);
        self.mac_learn_full.store(c.mac_learn_full, Relaxed);
        self.mac_aged.store(c.mac_aged, Relaxed);
        self.nat_handoffs.store(c.handed_off, Relaxed);
        for ((slot, &a), &b) in self.drops.iter().zip(c.drops.iter()).zip(extra_drops.iter()) {
            slot.store(a + b, Relaxed);
        }
    }

    /// Publishes the NAT's counters (single writer).
    #[inline]
    pub fn publish_nat(&self, n: &nat::Nat) {
        let c = &n.counters;
        self.nat_sessions.store(n.len() as u64, Relaxed);
        for (slot, &v) in self.nat_created.iter().zip(c.created.iter()) {
            slot.store(v, Relaxed);
        }
        for (slot, &v) in self.nat_expired.iter().zip(c.expired.iter()) {
            slot.store(v, Relaxed);
        }
        self.nat_port_alloc_failures.store(c.port_alloc_failures, Relaxed);
        self.nat_hairpins.store(c.hairpins, Relaxed);
        self.nat_translated.store(c.translated, Relaxed);
        self.nat_log_lost.store(c.log_lost, Relaxed);
        self.nat_fragments.store(c.fragments, Relaxed);
    }

    /// Drops for one reason.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops.get(r.index()).map_or(0, |d| d.load(Relaxed))
    }
}

/// A worker's neighbor cache and MAC table, copied out on request.
///
/// The control plane raises `requested`; the worker, between bursts,
/// copies its entries into `entries` and `macs` if it gets the locks at
/// once (`try_lock`: a worker never waits), and sets `served` to the
/// request it answered. The vectors are made with room for full tables,
/// so the worker never allocates.
#[derive(Debug, Default)]
pub struct TableDump {
    pub requested: AtomicU64,
    pub served: AtomicU64,
    pub entries: Mutex<Vec<NeighborInfo>>,
    /// MAC entries, `seen` turned into the age in nanoseconds.
    pub macs: Mutex<Vec<MacInfo>>,
}

impl TableDump {
    /// A dump with room for `neighbors` and `macs` entries (the tables' bounds).
    pub fn with_capacity(neighbors: usize, macs: usize) -> TableDump {
        TableDump {
            entries: Mutex::new(Vec::with_capacity(neighbors)),
            macs: Mutex::new(Vec::with_capacity(macs)),
            ..TableDump::default()
        }
    }
}

/// One worker's NAT mailbox: a question from the control plane and its
/// answer (`nat::query`).
///
/// The control plane puts a request and an answer with room for it in
/// `slot`, then raises `requested`. The worker, between bursts, takes the
/// lock if it is free at once, works on the request for a bounded number
/// of table slots, and sets `served` when the answer is complete; a long
/// scan spreads over several loops.
#[derive(Debug, Default)]
pub struct NatMailbox {
    pub requested: AtomicU64,
    pub served: AtomicU64,
    pub slot: Mutex<NatSlot>,
}

/// The request in a [`NatMailbox`] and its answer.
#[derive(Debug, Default)]
pub struct NatSlot {
    pub request: Option<nat::Request>,
    pub answer: nat::Answer,
    /// The worker's clock (ns) when it answered: session expiry times
    /// are on it.
    pub now: u64,
}
