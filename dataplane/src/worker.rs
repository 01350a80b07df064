//! Workers: one pinned thread per core, each running the burst loop.
//!
//! Per loop: load the current [`Tables`] snapshot, apply
//! neighbor learnings from other workers, receive a burst of up to
//! [`BURST`] frames from this worker's queue on every port and run each
//! through the router to completion, flush the TX buffers, run the
//! router's timers, publish counters (at most every 100 µs while busy,
//! at once when idle). Unsent frames are freed and counted
//! as `tx_full`. Nothing in the loop allocates, locks or panics.

use crate::eal::rdtsc;
use crate::handoff::{Lost, Outbox, Ring};
use crate::mbuf::{Mbuf, Mempool};
use crate::punt::{PuntFrame, PuntQueues, DOWN_BUDGET};
use crate::stats::{NatMailbox, TableDump, WorkerStats};
use arc_swap::ArcSwap;
use crossbeam_queue::ArrayQueue;
use dpdk_sys as ffi;
use nat::Nat;
use stack::iface::MAX_PORTS;
use stack::{DropReason, Io, NeighborNews, PacketBuf, Router, RouterConfig, Tables};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames received per RX call, as l3fwd's `MAX_PKT_BURST`.
pub const BURST: usize = 32;

// RX bursts land in `[Option<Mbuf>; BURST]` directly.
const _: () = assert!(std::mem::size_of::<Option<Mbuf>>() == std::mem::size_of::<*mut ffi::rte_mbuf>());
/// Frames buffered per port before a TX call.
const TX_BUFFER: usize = 2 * BURST;
/// Microseconds between counter publications while a worker is busy.
const PUBLISH_INTERVAL_US: u64 = 100;
/// Neighbor learnings waiting per worker before new ones are lost.
const NEIGHBOR_INBOX: usize = 1024;
/// Frames waiting per worker for it to take over their NAT state
/// (handed over by other workers); a full queue drops and counts.
const HANDOFF_QUEUE: usize = 4096;
/// Handed-over frames a worker runs per loop, at most.
const HANDOFF_BUDGET: usize = 2 * BURST;
/// Fragment records waiting per worker (from other workers' first
/// fragments).
const FRAGMENT_QUEUE: usize = 1024;
/// NAT log records waiting per worker (about 2 MB). New blocks or
/// mappings are refused while it is three quarters full.
pub const NAT_LOG_QUEUE: usize = 65536;
/// NAT table slots a worker scans per loop for a control-plane listing
/// (tens of microseconds; a long scan spreads over loops).
const NAT_SCAN_BUDGET: usize = 16384;

/// How the workers run.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// CPU cores, one worker each; worker i uses queue i on every port.
    pub cores: Vec<usize>,
    /// DPDK port ids to poll.
    pub ports: Vec<u16>,
    pub router: RouterConfig,
    /// NAT table sizes per worker.
    pub nat: nat::NatConfig,
    /// After this many empty polls in a row, sleep `idle_sleep` (0: spin).
    pub idle_polls_before_sleep: u32,
    pub idle_sleep: Duration,
}

/// The running workers.
pub struct Dataplane {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<Result<(), String>>>,
    stats: Vec<Arc<WorkerStats>>,
    dumps: Vec<Arc<TableDump>>,
    nat_mailboxes: Vec<Arc<NatMailbox>>,
    nat_logs: Vec<Arc<nat::LogQueue>>,
    punt: PuntQueues,
    clock: Clock,
    path_mtus: Arc<stack::path_mtu::PathMtus>,
}

/// The workers' clock: nanoseconds from the TSC.
#[derive(Copy, Clone, Debug)]
pub struct Clock {
    mult: u128,
}

impl Clock {
    pub fn new(tsc_hz: u64) -> Clock {
        Clock { mult: ((1_000_000_000u128) << 32) / u128::from(tsc_hz.max(1)) }
    }

    #[inline(always)]
    pub fn ns(&self, tsc: u64) -> u64 {
        ((u128::from(tsc) * self.mult) >> 32) as u64
    }

    /// Now, on the workers' clock.
    pub fn now(&self) -> u64 {
        self.ns(rdtsc())
    }
}

impl Dataplane {
    /// Starts one worker per core. `tables` is re-read every loop.
    pub fn start(
        cfg: WorkerConfig,
        pool: Arc<Mempool>,
        tables: Arc<ArcSwap<Tables>>,
        nat_rules: Arc<ArcSwap<nat::Rules>>,
        tsc_hz: u64,
    ) -> Result<Dataplane, String> {
        if cfg.ports.iter().any(|&p| usize::from(p) >= MAX_PORTS) {
            return Err(format!("port ids must be below {MAX_PORTS}"));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let inboxes: Vec<Arc<ArrayQueue<NeighborNews>>> =
            cfg.cores.iter().map(|_| Arc::new(ArrayQueue::new(NEIGHBOR_INBOX))).collect();
        let stats: Vec<Arc<WorkerStats>> = cfg.cores.iter().map(|_| Arc::new(WorkerStats::default())).collect();
        // Room for a full cache up front: answering a dump never allocates.
        let dumps: Vec<Arc<TableDump>> = cfg
            .cores
            .iter()
            .map(|_| {
                Arc::new(TableDump::with_capacity(
                    cfg.router.neighbor.capacity,
                    cfg.router.mac_capacity,
                    cfg.router.tcp.connections,
                ))
            })
            .collect();
        let nat_mailboxes: Vec<Arc<NatMailbox>> = cfg.cores.iter().map(|_| Arc::new(NatMailbox::default())).collect();
        let nat_logs: Vec<Arc<nat::LogQueue>> =
            cfg.cores.iter().map(|_| Arc::new(nat::LogQueue::new(NAT_LOG_QUEUE))).collect();
        // A ring per ordered pair of workers: from i to j at i * n + j.
        let handoffs: Arc<[Ring]> = (0..cfg.cores.len() * cfg.cores.len()).map(|_| Ring::new(HANDOFF_QUEUE)).collect();
        let fragments: Vec<Arc<nat::FragmentQueue>> =
            cfg.cores.iter().map(|_| Arc::new(nat::FragmentQueue::new(FRAGMENT_QUEUE))).collect();
        let workers = cfg.cores.len() as u16;
        let punt = PuntQueues::new(cfg.cores.len());
        let conversations = Arc::new(stack::conversations::Conversations::default());
        let path_mtus = Arc::new(stack::path_mtu::PathMtus::default());
        // One seed for all workers (they must agree on a connection's
        // owner), random per run.
        let owner_seed = tsc_hz.rotate_left(32) ^ rdtsc();
        let mut handles = Vec::new();
        for (w, &core) in cfg.cores.iter().enumerate() {
            let ctx = WorkerContext {
                index: w,
                core,
                queue: w as u16,
                ports: cfg.ports.clone(),
                router: cfg.router,
                tcp_place: stack::tcp::Place { worker: w as u16, workers, seed: owner_seed },
                // A hash seed per worker and run: outside hosts cannot aim
                // at one chain of the session index.
                nat: nat::NatConfig {
                    seed: cfg.nat.seed ^ tsc_hz ^ rdtsc() ^ (w as u64) << 48,
                    worker: w as u16,
                    workers,
                    ..cfg.nat
                },
                handoffs: handoffs.clone(),
                workers: cfg.cores.len(),
                fragments: fragments.clone(),
                punt_up: punt.up[w].clone(),
                punt_down: (w == 0).then(|| punt.down.clone()),
                conversations: conversations.clone(),
                path_mtus: path_mtus.clone(),
                nat_rules: nat_rules.clone(),
                idle_polls: cfg.idle_polls_before_sleep,
                idle_sleep: cfg.idle_sleep,
                pool: pool.clone(),
                tables: tables.clone(),
                stop: stop.clone(),
                stats: stats[w].clone(),
                dump: dumps[w].clone(),
                nat_mailbox: nat_mailboxes[w].clone(),
                nat_log: nat_logs[w].clone(),
                inbox: inboxes[w].clone(),
                peers: inboxes.iter().enumerate().filter(|(i, _)| *i != w).map(|(_, q)| q.clone()).collect(),
                tsc_hz,
            };
            let h = std::thread::Builder::new()
                .name(format!("worker{w}"))
                .spawn(move || ctx.run())
                .map_err(|e| format!("spawning worker {w}: {e}"))?;
            handles.push(h);
        }
        Ok(Dataplane {
            stop,
            handles,
            stats,
            dumps,
            nat_mailboxes,
            nat_logs,
            punt,
            clock: Clock::new(tsc_hz),
            path_mtus,
        })
    }

    /// Published counters, one entry per worker.
    pub fn stats(&self) -> &[Arc<WorkerStats>] {
        &self.stats
    }

    /// NAT mailboxes, one per worker.
    pub fn nat_mailboxes(&self) -> &[Arc<NatMailbox>] {
        &self.nat_mailboxes
    }

    /// NAT log queues, one per worker: the control plane drains them.
    pub fn nat_logs(&self) -> &[Arc<nat::LogQueue>] {
        &self.nat_logs
    }

    /// The punt path's queues, for the thread that serves the kernel twins.
    pub fn punt_queues(&self) -> &PuntQueues {
        &self.punt
    }

    /// The workers' clock (log records carry its time).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The tunnels' path MTU estimates the workers share.
    pub fn path_mtus(&self) -> Arc<stack::path_mtu::PathMtus> {
        self.path_mtus.clone()
    }

    /// Neighbor cache dumps, one per worker.
    pub fn neighbor_dumps(&self) -> &[Arc<TableDump>] {
        &self.dumps
    }

    /// Stops and joins every worker; returns the first worker error.
    pub fn stop(self) -> Result<(), String> {
        self.stop.store(true, Relaxed);
        let mut first = Ok(());
        for h in self.handles {
            let r = h.join().unwrap_or_else(|_| Err("worker panicked".into()));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

struct WorkerContext {
    index: usize,
    core: usize,
    queue: u16,
    ports: Vec<u16>,
    router: RouterConfig,
    /// This worker among the others, for TCP connections' owners.
    tcp_place: stack::tcp::Place,
    nat: nat::NatConfig,
    nat_rules: Arc<ArcSwap<nat::Rules>>,
    idle_polls: u32,
    idle_sleep: Duration,
    pool: Arc<Mempool>,
    tables: Arc<ArcSwap<Tables>>,
    stop: Arc<AtomicBool>,
    stats: Arc<WorkerStats>,
    dump: Arc<TableDump>,
    nat_mailbox: Arc<NatMailbox>,
    nat_log: Arc<nat::LogQueue>,
    /// The handoff rings of every pair of workers (from i to j at
    /// i * workers + j), and every worker's fragment-record queue.
    handoffs: Arc<[Ring]>,
    workers: usize,
    fragments: Vec<Arc<nat::FragmentQueue>>,
    /// This worker's queue to the kernel, and (worker 0) the one from it.
    punt_up: Arc<ArrayQueue<PuntFrame>>,
    punt_down: Option<Arc<ArrayQueue<PuntFrame>>>,
    conversations: Arc<stack::conversations::Conversations>,
    path_mtus: Arc<stack::path_mtu::PathMtus>,
    inbox: Arc<ArrayQueue<NeighborNews>>,
    peers: Vec<Arc<ArrayQueue<NeighborNews>>>,
    tsc_hz: u64,
}

/// A worker's router: with NAT44.
type WorkerRouter = Router<Mbuf, Nat>;

/// Buffered frames for one port.
struct TxQueue {
    len: usize,
    pkts: [*mut ffi::rte_mbuf; TX_BUFFER],
}

/// The router's view of this worker: buffers, TX and peers.
struct WorkerIo {
    pool: Arc<Mempool>,
    queue: u16,
    tx: Box<[TxQueue; MAX_PORTS]>,
    pending: u64, // bit per port with buffered frames
    tx_full: u64,
    peers: Vec<Arc<ArrayQueue<NeighborNews>>>,
    events_lost: u64,
    /// The rings from this worker (by receiver), a burst gathering for
    /// each, and the frames their rings had no room for.
    handoffs: Arc<[Ring]>,
    first_ring: usize,
    outboxes: Box<[Outbox]>,
    outbox_pending: bool,
    handoffs_lost: Lost,
    punt: Arc<ArrayQueue<PuntFrame>>,
}

impl WorkerIo {
    #[inline]
    fn flush(&mut self, port: usize) {
        let Some(q) = self.tx.get_mut(port) else { return };
        if q.len == 0 {
            return;
        }
        // SAFETY: the first q.len pointers are owned mbufs; the queue was
        // set up for this worker at start. tx_burst takes ownership of the
        // first `sent` of them.
        let sent =
            usize::from(unsafe { ffi::rte_eth_tx_burst(port as u16, self.queue, q.pkts.as_mut_ptr(), q.len as u16) });
        if sent < q.len {
            let rest = &mut q.pkts[sent..q.len];
            self.tx_full += rest.len() as u64;
            // SAFETY: the unsent mbufs are still ours; free them in bulk.
            unsafe { ffi::rte_pktmbuf_free_bulk(rest.as_mut_ptr(), rest.len() as u32) };
        }
        q.len = 0;
        self.pending &= !(1 << port);
    }

    /// Sends port `port`'s full buffer, then buffers `pkt` (in the room
    /// the flush left).
    #[cold]
    fn send_full(&mut self, port: u16, pkt: Mbuf) {
        self.flush(usize::from(port));
        self.send_to(port, pkt);
    }

    #[inline]
    fn flush_all(&mut self) {
        while self.pending != 0 {
            let port = self.pending.trailing_zeros() as usize;
            self.flush(port);
        }
        if self.outbox_pending {
            self.outbox_pending = false;
            for (out, ring) in self.outboxes.iter_mut().zip(self.handoffs.iter().skip(self.first_ring)) {
                if !out.is_empty() {
                    out.flush(ring, &mut self.handoffs_lost);
                }
            }
        }
    }
}

impl Io<Mbuf> for WorkerIo {
    #[inline]
    fn alloc(&mut self) -> Option<Mbuf> {
        self.pool.alloc()
    }

    #[inline(always)]
    fn send(&mut self, pkt: Mbuf) {
        let port = pkt.port();
        self.send_to(port, pkt);
    }

    /// Buffers `pkt` for `port` (TX ignores the mbuf's own port field).
    #[inline(always)]
    fn send_to(&mut self, port: u16, pkt: Mbuf) {
        let at = usize::from(port);
        let Some(q) = self.tx.get_mut(at) else {
            self.tx_full += 1;
            return; // dropping pkt frees it
        };
        match q.pkts.get_mut(q.len) {
            Some(slot) => {
                *slot = pkt.into_raw();
                q.len += 1;
                self.pending |= 1 << at;
            }
            None => self.send_full(port, pkt),
        }
    }

    fn handoff(&mut self, pkt: Mbuf, worker: u16, tag: u8) -> Result<(), Mbuf> {
        let w = usize::from(worker);
        let (Some(ring), Some(out)) = (self.handoffs.get(self.first_ring + w), self.outboxes.get_mut(w)) else {
            return Err(pkt);
        };
        // Gathered, pushed a burst at a time; what a full ring refuses is
        // freed and counted (`nat_handoff_full`, `tcp_handoff_full`).
        out.add(ring, pkt, tag, &mut self.handoffs_lost);
        self.outbox_pending = true;
        Ok(())
    }

    fn punt(&mut self, ifindex: u16, mbuf: Mbuf) -> Result<(), Mbuf> {
        self.punt.push(PuntFrame { mbuf, ifindex }).map_err(|f| f.mbuf)
    }

    fn neighbor_learned(&mut self, news: NeighborNews) {
        for p in &self.peers {
            if p.push(news).is_err() {
                self.events_lost += 1;
            }
        }
    }
}

impl WorkerContext {
    /// Answers a pending dump request, if the control plane is not
    /// reading the previous answer right now.
    #[inline]
    fn serve_dump(&self, router: &WorkerRouter, now: u64) {
        let want = self.dump.requested.load(Relaxed);
        if want == self.dump.served.load(Relaxed) {
            return;
        }
        let d = &self.dump;
        let (Ok(mut v), Ok(mut m), Ok(mut s), Ok(mut c)) =
            (d.entries.try_lock(), d.macs.try_lock(), d.sockets.try_lock(), d.connections.try_lock())
        else {
            return;
        };
        v.clear();
        // The tables hold at most their capacity, which the vectors have
        // room for; `take` keeps that true even if they did not.
        let room = v.capacity();
        v.extend(router.neighbors().entries().take(room));
        m.clear();
        let room = m.capacity();
        m.extend(router.macs().entries().take(room).map(|mut e| {
            e.seen = now.saturating_sub(e.seen);
            e
        }));
        s.clear();
        let room = s.capacity();
        s.extend(router.udp().entries().take(room));
        c.clear();
        let room = c.capacity();
        c.extend(router.tcp().infos().take(room));
        self.dump.served.store(want, std::sync::atomic::Ordering::Release);
    }

    /// Works on a pending NAT question, if the control plane is not
    /// using the mailbox right now.
    #[inline]
    fn serve_nat(&self, router: &mut WorkerRouter, now: u64) {
        let want = self.nat_mailbox.requested.load(Relaxed);
        if want == self.nat_mailbox.served.load(Relaxed) {
            return;
        }
        let Ok(mut slot) = self.nat_mailbox.slot.try_lock() else { return };
        let slot = &mut *slot;
        let done = match slot.request.as_mut() {
            Some(req) => router.translator_mut().serve(req, &mut slot.answer, NAT_SCAN_BUDGET),
            None => true,
        };
        slot.now = now;
        if done {
            self.nat_mailbox.served.store(want, std::sync::atomic::Ordering::Release);
        }
    }

    fn run(self) -> Result<(), String> {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: self.core }) {
            return Err(format!("worker {}: cannot pin to core {}", self.index, self.core));
        }
        // SAFETY: registers this non-EAL thread with DPDK (gives it an
        // lcore id, so mempool caches work); EAL is initialised.
        if unsafe { ffi::rte_thread_register() } != 0 {
            return Err(format!(
                "worker {}: rte_thread_register: {}",
                self.index,
                crate::rte_error(crate::rte_errno())
            ));
        }
        self.poll_loop();
        // SAFETY: registered above, unregistered once.
        unsafe { ffi::rte_thread_unregister() };
        Ok(())
    }

    fn poll_loop(&self) {
        let mut nat = Nat::new(self.nat);
        nat.set_log(self.nat_log.clone());
        if let Some(own) = self.fragments.get(self.index) {
            nat.set_fragment_queues(own.clone(), self.fragments.clone());
        }
        let mut router: WorkerRouter = Router::with_translator(self.router, nat);
        // One worker sends the periodic Router Advertisements.
        router.set_announcer(self.index == 0);
        router.set_place(self.tcp_place);
        router.set_conversations(self.conversations.clone());
        router.set_path_mtus(self.path_mtus.clone());
        let mut io = WorkerIo {
            pool: self.pool.clone(),
            queue: self.queue,
            tx: Box::new(std::array::from_fn(|_| TxQueue { len: 0, pkts: [std::ptr::null_mut(); TX_BUFFER] })),
            pending: 0,
            tx_full: 0,
            peers: self.peers.clone(),
            events_lost: 0,
            handoffs: self.handoffs.clone(),
            first_ring: self.index * self.workers,
            outboxes: (0..self.workers).map(|_| Outbox::new()).collect(),
            outbox_pending: false,
            handoffs_lost: Lost::default(),
            punt: self.punt_up.clone(),
        };
        let clock = Clock::new(self.tsc_hz);
        let to_ns = |tsc: u64| clock.ns(tsc);
        let mut burst: [Option<Mbuf>; BURST] = std::array::from_fn(|_| None);
        let mut handed: [Option<Mbuf>; BURST] = std::array::from_fn(|_| None);
        let mut extra = [0u64; DropReason::COUNT];
        let (mut busy, mut idle, mut empty_polls, mut iteration) = (0u64, 0u64, 0u32, 0u64);
        let publish_every = self.tsc_hz / 1_000_000 * PUBLISH_INTERVAL_US;
        let (mut dirty, mut next_publish) = (false, 0u64);
        let (mut last_t0, mut last_busy) = (rdtsc(), false);
        let mut tables_cache = arc_swap::Cache::new(Arc::clone(&self.tables));
        let mut rules_cache = arc_swap::Cache::new(Arc::clone(&self.nat_rules));
        let mut seen_generation = u64::MAX;
        while !self.stop.load(Relaxed) {
            let t0 = rdtsc();
            // The previous loop ends where this one starts: one TSC read a loop.
            let dt = t0.wrapping_sub(last_t0);
            last_t0 = t0;
            if last_busy {
                busy += dt;
            } else {
                idle += dt;
            }
            let now = to_ns(t0);
            // Cached: a pointer comparison unless a new snapshot was published.
            let tables = tables_cache.load();
            router.sync(tables, now, &mut io);
            // NAT rules after the tables: a worker that acknowledges a
            // generation also has the rules published before it.
            let rules = rules_cache.load();
            if !router.translator().has_rules(rules) {
                router.translator_mut().set_rules(Arc::clone(rules));
            }
            if tables.generation != seen_generation {
                seen_generation = tables.generation;
                self.stats.generation.store(seen_generation, Relaxed);
            }
            // Queues are looked at before popping: a pop that finds one empty
            // costs a full fence.
            while let Some(e) = if self.inbox.is_empty() { None } else { self.inbox.pop() } {
                router.learn_remote(tables, e, now, &mut io);
            }
            let mut received = 0;
            for &port in &self.ports {
                // SAFETY: `burst` has room for BURST pointers and the
                // layout of an array of nullable mbuf pointers (Option of a
                // repr(transparent) NonNull); every slot is None (the
                // router empties each slot it is given), so nothing is
                // overwritten; the queue exists. rx_burst hands us
                // ownership of the first n.
                let n = usize::from(unsafe {
                    ffi::rte_eth_rx_burst(port, self.queue, burst.as_mut_ptr().cast(), BURST as u16)
                });
                received += n;
                if let Some(got) = burst.get_mut(..n) {
                    let chained = drop_chained(got);
                    if chained > 0 {
                        router.count_dropped(DropReason::FrameChained, chained);
                    }
                    router.process_burst(tables, port, got, now, &mut io);
                }
            }
            // Frames other workers handed over, and what their first
            // fragments taught: those this worker owns in bursts by
            // port, through the fast path; the rest (hairpins' halves)
            // one by one, in order.
            let (mut n, mut on, mut budget) = (0, 0u16, HANDOFF_BUDGET);
            for src in 0..self.workers {
                let Some(ring) = self.handoffs.get(src * self.workers + self.index).filter(|r| !r.is_empty()) else {
                    continue;
                };
                budget -= ring.take(budget, |m, tag| {
                    let port = m.port();
                    if n > 0 && (tag != 0 || port != on || n == BURST) {
                        router.process_handed_burst(tables, on, &mut handed[..n], now, &mut io);
                        n = 0;
                    }
                    if tag != 0 {
                        router.process_handed(tables, m, tag, now, &mut io);
                        return;
                    }
                    on = port;
                    if let Some(slot) = handed.get_mut(n) {
                        *slot = Some(m);
                        n += 1;
                    }
                });
            }
            if n > 0 {
                router.process_handed_burst(tables, on, &mut handed[..n], now, &mut io);
            }
            received += HANDOFF_BUDGET - budget;
            // What the kernel twins sent.
            if let Some(q) = self.punt_down.as_ref().filter(|q| !q.is_empty()) {
                for _ in 0..DOWN_BUDGET {
                    let Some(f) = q.pop() else { break };
                    router.from_kernel(tables, f.ifindex, f.mbuf, now, &mut io);
                    received += 1;
                }
            }
            router.translator_mut().import_fragments();
            router.release_translated(tables, now, &mut io);
            io.flush_all();
            router.poll(tables, now, &mut io);
            router.translator_mut().poll(now);
            io.flush_all();
            self.serve_dump(&router, now);
            self.serve_nat(&mut router, now);
            iteration += 1;
            last_busy = received > 0;
            if received > 0 {
                empty_polls = 0;
            } else {
                empty_polls = empty_polls.saturating_add(1);
            }
            // Counters go out at most every PUBLISH_INTERVAL while busy (a
            // burst is too short to pay ~100 stores for), at once when the
            // worker turns idle, and every 1024 loops regardless.
            dirty |= received > 0;
            let publish_due = (dirty && (received == 0 || t0 >= next_publish)) || iteration % 1024 == 0;
            if publish_due {
                dirty = false;
                next_publish = t0 + publish_every;
                if let Some(d) = extra.get_mut(DropReason::TxFull.index()) {
                    *d = io.tx_full;
                }
                if let Some(d) = extra.get_mut(DropReason::NatHandoffFull.index()) {
                    *d = io.handoffs_lost.nat;
                }
                if let Some(d) = extra.get_mut(DropReason::TcpHandoffFull.index()) {
                    *d = io.handoffs_lost.tcp;
                }
                self.stats.publish(&router.counters, &extra);
                self.stats.publish_nat(router.translator());
                self.stats.busy_cycles.store(busy, Relaxed);
                self.stats.idle_cycles.store(idle, Relaxed);
                self.stats.neighbors.store(router.neighbors().len() as u64, Relaxed);
                self.stats.macs.store(router.macs().len() as u64, Relaxed);
                self.stats.reassembly_contexts.store(router.reassembly().contexts() as u64, Relaxed);
                self.stats.reassembly_buffers.store(router.reassembly().buffers() as u64, Relaxed);
                self.stats.neighbor_events_lost.store(io.events_lost, Relaxed);
            }
            if self.idle_polls > 0 && empty_polls >= self.idle_polls {
                std::thread::sleep(self.idle_sleep);
            }
        }
        self.stats.publish(&router.counters, &extra);
        self.stats.generation.store(u64::MAX, Relaxed); // holds no snapshot
                                                        // Frames still waiting for ARP are freed with the router.
        drop(router);
        io.flush_all();
    }
}

/// Frees every chained frame of a received burst ([`Mbuf::is_chained`]),
/// leaving its slot empty; how many there were.
#[inline(always)]
fn drop_chained(got: &mut [Option<Mbuf>]) -> u64 {
    // A first pass that only reads, with no branch a frame: bursts
    // without a chain (all of them, in practice) stop here.
    if !got.iter().fold(false, |any, slot| any | slot.as_ref().is_some_and(Mbuf::is_chained)) {
        return 0;
    }
    let mut n = 0;
    for slot in got.iter_mut() {
        if slot.as_ref().is_some_and(Mbuf::is_chained) {
            *slot = None;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_in_more_than_one_mbuf_is_dropped_before_the_pipeline() {
        crate::eal::test_eal();
        let pool = Mempool::new("chain-test", 64, 0).expect("pool");
        let frame = |n: usize| {
            let mut m = pool.alloc().expect("mbuf");
            assert!(m.append(n));
            m
        };
        let mut chained = frame(1000);
        chained.chain(frame(600)).unwrap_or_else(|_| panic!("chain"));
        assert!(chained.is_chained() && !frame(60).is_chained());
        let mut got = [Some(frame(60)), Some(chained), Some(frame(60))];
        let before = pool.available();
        assert_eq!(drop_chained(&mut got), 1);
        assert!(got[0].is_some() && got[1].is_none() && got[2].is_some());
        assert_eq!(pool.available(), before + 2, "both segments back in the pool");
    }
}
