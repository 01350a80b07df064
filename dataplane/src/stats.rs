//! Per-worker counters shared with the control plane.
//!
//! Each worker keeps its router's counters in its own memory and copies
//! them here once per busy loop with relaxed stores: one writer per
//! counter, so no atomic read-modify-write, and a scrape never stalls a
//! worker. Readers sum over workers.

use nat::NatCounter;
use stack::mac_table::MacInfo;
use stack::neigh::NeighborInfo;
use stack::router::Counter;
use stack::tcp::ConnInfo;
use stack::udp::SocketStats;
use stack::{Counters, DropReason};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// One worker's published counters.
#[derive(Debug)]
#[repr(align(64))]
pub struct WorkerStats {
    /// The router's counters, by [`Counter::index`].
    pub router: [AtomicU64; Counter::COUNT],
    /// The NAT's counters, by [`NatCounter::index`].
    pub nat: [AtomicU64; NatCounter::COUNT],
    pub busy_cycles: AtomicU64,
    pub idle_cycles: AtomicU64,
    /// Entries in the worker's MAC table (all bridges).
    pub macs: AtomicU64,
    pub neighbors: AtomicU64,
    pub neighbor_events_lost: AtomicU64,
    /// Datagrams in reassembly, and the fragments they hold.
    pub reassembly_contexts: AtomicU64,
    pub reassembly_buffers: AtomicU64,
    /// NAT sessions alive on this worker.
    pub nat_sessions: AtomicU64,
    /// Those of them that packets from outside made.
    pub nat_inbound_sessions: AtomicU64,
    /// NAT sessions created and expired, by protocol ([`nat::PROTOCOLS`]).
    pub nat_created: [AtomicU64; 3],
    pub nat_expired: [AtomicU64; 3],
    /// Generation of the newest [`stack::Tables`] snapshot this worker has
    /// started using; once every worker shows `n`, no worker holds an
    /// older snapshot and the control plane may free it.
    pub generation: AtomicU64,
    pub drops: [AtomicU64; DropReason::COUNT],
}

impl Default for WorkerStats {
    fn default() -> Self {
        WorkerStats {
            router: std::array::from_fn(|_| AtomicU64::new(0)),
            nat: std::array::from_fn(|_| AtomicU64::new(0)),
            busy_cycles: AtomicU64::new(0),
            idle_cycles: AtomicU64::new(0),
            macs: AtomicU64::new(0),
            neighbors: AtomicU64::new(0),
            neighbor_events_lost: AtomicU64::new(0),
            reassembly_contexts: AtomicU64::new(0),
            reassembly_buffers: AtomicU64::new(0),
            nat_sessions: AtomicU64::new(0),
            nat_inbound_sessions: AtomicU64::new(0),
            nat_created: std::array::from_fn(|_| AtomicU64::new(0)),
            nat_expired: std::array::from_fn(|_| AtomicU64::new(0)),
            generation: AtomicU64::new(0),
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WorkerStats {
    /// Publishes the router's counters (single writer).
    #[inline]
    pub fn publish(&self, c: &Counters, extra_drops: &[u64; DropReason::COUNT]) {
        for (slot, &k) in self.router.iter().zip(Counter::ALL) {
            slot.store(c.get(k), Relaxed);
        }
        for ((slot, &a), &b) in self.drops.iter().zip(c.drops.iter()).zip(extra_drops.iter()) {
            slot.store(a + b, Relaxed);
        }
    }

    /// Publishes the NAT's counters (single writer).
    #[inline]
    pub fn publish_nat(&self, n: &nat::Nat) {
        let c = &n.counters;
        self.nat_sessions.store(n.len() as u64, Relaxed);
        self.nat_inbound_sessions.store(n.inbound_len() as u64, Relaxed);
        for (slot, &v) in self.nat_created.iter().zip(c.created.iter()) {
            slot.store(v, Relaxed);
        }
        for (slot, &v) in self.nat_expired.iter().zip(c.expired.iter()) {
            slot.store(v, Relaxed);
        }
        for (slot, &k) in self.nat.iter().zip(NatCounter::ALL) {
            slot.store(c.get(k), Relaxed);
        }
    }

    /// One of the router's counters.
    pub fn counter(&self, c: Counter) -> u64 {
        self.router.get(c.index()).map_or(0, |v| v.load(Relaxed))
    }

    /// One of the NAT's counters.
    pub fn nat_counter(&self, c: NatCounter) -> u64 {
        self.nat.get(c.index()).map_or(0, |v| v.load(Relaxed))
    }

    /// Drops for one reason.
    pub fn dropped(&self, r: DropReason) -> u64 {
        self.drops.get(r.index()).map_or(0, |d| d.load(Relaxed))
    }
}

/// A worker's neighbor cache, MAC table and UDP sockets, copied out on
/// request.
///
/// The control plane raises `requested`; the worker, between bursts,
/// copies its entries into `entries`, `macs` and `sockets` if it gets the locks at
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
    /// The UDP sockets' addresses and counts.
    pub sockets: Mutex<Vec<(SocketAddr, SocketStats)>>,
    /// The TCP connections.
    pub connections: Mutex<Vec<ConnInfo>>,
}

impl TableDump {
    /// A dump with room for `neighbors`, `macs` and `connections`
    /// entries (the tables' bounds).
    pub fn with_capacity(neighbors: usize, macs: usize, connections: usize) -> TableDump {
        TableDump {
            entries: Mutex::new(Vec::with_capacity(neighbors)),
            macs: Mutex::new(Vec::with_capacity(macs)),
            sockets: Mutex::new(Vec::with_capacity(stack::udp::MAX_SOCKETS)),
            connections: Mutex::new(Vec::with_capacity(connections)),
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
