//! Per-worker counters shared with the control plane.
//!
//! Each worker keeps its router's counters in its own memory and copies
//! them here once per busy loop with relaxed stores: one writer per
//! counter, so no atomic read-modify-write, and a scrape never stalls a
//! worker. Readers sum over workers.

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
    pub local6: AtomicU64,
    pub icmp6_errors: AtomicU64,
    pub nd_solicits: AtomicU64,
    pub nd_adverts: AtomicU64,
    pub router_adverts: AtomicU64,
    pub neighbors: AtomicU64,
    pub neighbor_events_lost: AtomicU64,
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
            local6: AtomicU64::new(0),
            icmp6_errors: AtomicU64::new(0),
            nd_solicits: AtomicU64::new(0),
            nd_adverts: AtomicU64::new(0),
            router_adverts: AtomicU64::new(0),
            neighbors: AtomicU64::new(0),
            neighbor_events_lost: AtomicU64::new(0),
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
        self.local6.store(c.local6, Relaxed);
        self.icmp6_errors.store(c.icmp6_errors, Relaxed);
        self.nd_solicits.store(c.nd_solicits, Relaxed);
        self.nd_adverts.store(c.nd_adverts, Relaxed);
        self.router_adverts.store(c.router_adverts, Relaxed);
        for ((slot, &a), &b) in self.drops.iter().zip(c.drops.iter()).zip(extra_drops.iter()) {
            slot.store(a + b, Relaxed);
        }
    }

    /// Drops for one reason.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops.get(r.index()).map_or(0, |d| d.load(Relaxed))
    }
}

/// A worker's neighbor cache, copied out on request.
///
/// The control plane raises `requested`; the worker, between bursts,
/// copies its entries into `entries` if it gets the lock at once
/// (`try_lock`: a worker never waits), and sets `served` to the request it
/// answered. The vector is made with room for a full cache, so the
/// worker never allocates.
#[derive(Debug, Default)]
pub struct NeighborDump {
    pub requested: AtomicU64,
    pub served: AtomicU64,
    pub entries: Mutex<Vec<NeighborInfo>>,
}

impl NeighborDump {
    /// A dump with room for `capacity` entries (the cache's bound).
    pub fn with_capacity(capacity: usize) -> NeighborDump {
        NeighborDump { entries: Mutex::new(Vec::with_capacity(capacity)), ..NeighborDump::default() }
    }
}
