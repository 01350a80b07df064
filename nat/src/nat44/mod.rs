//! One worker's NAT44: sessions, mappings, subscribers, outside ports,
//! the expiry wheel, and the translation of each packet.
//!
//! - A **mapping** ties an inside endpoint (protocol, address, port or
//!   ICMP identifier) to an outside one. It is endpoint-independent (RFC
//!   4787 REQ-1, RFC 5382 REQ-1): every remote host sees the same outside
//!   endpoint.
//! - A **session** is one conversation through a mapping with one remote
//!   endpoint: the unit of state (TCP flags), of filtering and of expiry.
//!   A mapping lives as long as it has sessions.
//! - A **subscriber** is an inside address under one rule. It keeps one
//!   outside address for all its mappings ("paired" pooling, RFC 4787
//!   REQ-2) and has its own bounds on sessions and ports (RFC 6888
//!   REQ-4/5).
//!
//! - A **port forward** is a fixed mapping the rules install: it needs
//!   no outbound packet to exist, admits any remote (filtering does not
//!   apply) and never expires; its sessions do.
//! - A **static 1:1 mapping** is stateless: addresses are swapped, ports
//!   kept, nothing is remembered.
//!
//! Every table is sized when the worker starts (`max_sessions`) and
//! never grows. Nothing on the packet path allocates, locks or panics.
//!
//! | job | file |
//! |---|---|
//! | settings, counters, what the control plane lists | `config.rs` |
//! | the rules applied: per-packet lookups, forwards installed | `rule_tables.rs` |
//! | sessions, mappings, subscribers, their indexes and expiry | `sessions.rs` |
//! | outside ports, port blocks, paired addresses | `ports.rs` |
//! | fragments: records, later fragments, holds | `fragments.rs` |
//! | which worker owns a packet, handoff tags | `handoff.rs` |
//! | inside to outside, hairpins, statics outbound | `in2out.rs` |
//! | outside to inside, ICMP errors, statics inbound | `out2in.rs` |
//! | the full path's hooks (`stack::Hooks`) | `hooks.rs` |
//! | the fast path's hooks (`stack::FastHooks`) | `fast.rs` |
//! | prefetch hints (`stack::BurstHints`) | `hints.rs` |

use crate::index::Index;
use crate::log::{LogEvent, LogQueue, LogRecord};
use crate::rules::{Rules, Timeouts};
use crate::wheel::Wheel;
use handoff::Handed;
use hints::Ahead;
use hints::AHEAD_SLOTS;
use hugeslice::HugeSlice;
use ports::Outside;
use sessions::free_mappings;
use sessions::Mapping;
use sessions::Session;
use sessions::Subscriber;
use stack::Verdict;
use std::sync::Arc;

mod config;
mod early_drop;
mod fast;
mod fragments;
mod handoff;
mod hints;
mod hooks;
mod in2out;
mod out2in;
mod peers;
mod ports;
mod reuse;
mod rule_tables;
mod sessions;

pub use config::{protocol_name, NatConfig, NatCounter, NatCounters, SessionInfo, SubscriberInfo, PROTOCOLS};
pub use fragments::{FragRecord, FragmentQueue};

const NIL: u32 = u32::MAX;

/// Timer wheel slots.
const WHEEL_SLOTS: usize = 65536;

/// Why a new session could not be made.
type Refusal = Verdict;

/// A rule's inside prefix and outside interface, as the per-packet match
/// reads them.
#[derive(Copy, Clone, Debug)]
struct Inside {
    net: u32,
    mask: u32,
    outside: u16,
}

impl Inside {
    fn of(r: &crate::rules::Rule) -> Inside {
        let (net, len) = r.inside;
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len.min(32))) };
        Inside { net: u32::from(net) & mask, mask, outside: r.outside }
    }

    /// As [`crate::rules::Rule::matches`].
    #[inline(always)]
    fn matches(&self, src: u32) -> bool {
        src & self.mask == self.net
    }
}

/// A set of addresses as 8192 bits: a quick "surely not" before a search,
/// which on the common path (traffic to no NAT address) saves a binary
/// search's chain of dependent loads.
#[derive(Clone)]
struct AddrFilter(Box<[u64; 128]>);

impl AddrFilter {
    fn new(addrs: impl Iterator<Item = u32>) -> AddrFilter {
        let mut f = AddrFilter(Box::new([0; 128]));
        for a in addrs {
            let b = AddrFilter::bit(a);
            if let Some(w) = f.0.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
        f
    }

    #[inline(always)]
    fn bit(a: u32) -> usize {
        (a.wrapping_mul(0x9e37_79b1) >> 19) as usize
    }

    /// False: `a` is not in the set. True: it may be.
    #[inline(always)]
    fn may_hold(&self, a: u32) -> bool {
        let b = AddrFilter::bit(a);
        self.0.get(b / 64).is_some_and(|w| w >> (b % 64) & 1 == 1)
    }
}

/// What an outside address is to the NAT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A pool or port-forward address: index in `Nat::addrs`.
    Pool(u16),
    /// A static 1:1 mapping's: index in `Rules::statics`.
    Static(u16),
}

/// One worker's NAT44.
pub struct Nat {
    rules: Arc<Rules>,
    /// The rules' timeouts, read by every refresh (kept here: one
    /// pointer fewer to follow).
    timeouts: Timeouts,
    /// New rules taken and sessions deleted so far
    /// ([`FastHooks::generation`](stack::FastHooks::generation)).
    generation: u64,
    /// The configured hold ([`NatConfig::hold_ns`]) and the one the
    /// timeouts allow.
    hold_cfg: u64,
    hold: u64,
    addrs: Vec<Outside>,
    sessions: HugeSlice<Session>,
    free_session: u32,
    /// Freed ports and blocks waiting out the reuse delay.
    reuse: reuse::Reuse,
    /// Remote addresses per mapping, for address-dependent filtering
    /// (made when the rules first filter by address).
    peers: peers::Peers,
    live: usize,
    /// Sessions made by packets from outside ([`sessions::INBOUND`]).
    inbound_live: usize,
    /// Sessions from outside that may give way to a new one ([`early_drop`]).
    candidates: early_drop::Candidates,
    by_inside: Index,
    by_outside: Index,
    mappings: HugeSlice<Mapping>,
    /// Head of the free mappings' chain.
    free_mapping: u32,
    map_in: Index,
    map_out: Index,
    subs: HugeSlice<Subscriber>,
    free_sub: Vec<u32>,
    sub_ix: Index,
    wheel: Wheel,
    seed: u64,
    started: bool,
    /// The rules' inside prefixes as masks, in order, for the per-packet
    /// match (a rule computing its mask cost a dozen instructions a
    /// packet).
    inside: Vec<Inside>,
    /// Outside addresses, sorted, for the per-packet lookup.
    targets: Vec<(u32, Target)>,
    targets_filter: AddrFilter,
    /// Static mappings by inside address, sorted.
    static_in: Vec<(u32, u16)>,
    static_filter: AddrFilter,
    /// Port forwards' inside addresses, sorted.
    forward_in: Vec<u32>,
    /// Installed port forwards' mappings.
    forwards: Vec<u32>,
    /// Each rule's pool, as indices in `addrs`.
    pools: Vec<Vec<u16>>,
    /// Where log records go (none: not recorded).
    log: Option<Arc<LogQueue>>,
    /// The latest clock reading, for the records of removals.
    now: u64,
    /// Fragmented datagrams' translations, direct-mapped by hash.
    frags: Box<[FragRecord]>,
    /// A first fragment was translated: held later fragments may pass.
    release: bool,
    worker: u16,
    workers: u16,
    /// The tag of the packet being handled, if another worker handed it.
    handed: Option<Handed>,
    /// What the first prefetch hint for a frame coming up found, by its
    /// place in the burst (modulo), for the second.
    ahead: [Ahead; AHEAD_SLOTS],
    /// Sessions made, when [`BurstHints::lookahead`](stack::BurstHints::lookahead) last looked.
    made_seen: u64,
    /// This burst gets prefetch hints ([`BurstHints::lookahead`](stack::BurstHints::lookahead) said
    /// so), and the burst place of the frame being handled (the last
    /// [`BurstHints::next_frame`](stack::BurstHints::next_frame)'s).
    hinting: bool,
    hinted: usize,
    /// Sessions the packet being handled made (`NIL`: none), undone if
    /// it is dropped before it leaves ([`stack::Hooks::abandon`]).
    made: [u32; 2],
    /// Fragment records: this worker's inbox, and every worker's.
    frag_inbox: Option<Arc<FragmentQueue>>,
    frag_peers: Vec<Arc<FragmentQueue>>,
    pub counters: NatCounters,
}

impl Nat {
    pub fn new(cfg: NatConfig) -> Nat {
        let n = cfg.max_sessions.clamp(1, u32::MAX as usize / 2);
        let subs = if cfg.max_subscribers == 0 { n / 4 } else { cfg.max_subscribers }.clamp(1, n);
        let mut sessions = HugeSlice::new(n, Session::default());
        for (i, s) in sessions.iter_mut().enumerate() {
            s.next = if i + 1 < n { i as u32 + 1 } else { NIL };
        }
        Nat {
            rules: Arc::new(Rules::default()),
            timeouts: Timeouts::default(),
            generation: 0,
            hold_cfg: cfg.hold_ns,
            hold: 0,
            addrs: Vec::new(),
            sessions,
            free_session: 0,
            reuse: reuse::Reuse::new(),
            peers: peers::Peers::new(n, cfg.seed),
            live: 0,
            inbound_live: 0,
            candidates: early_drop::Candidates::new(n),
            by_inside: Index::new(n),
            by_outside: Index::new(n),
            mappings: free_mappings(n),
            free_mapping: 0,
            map_in: Index::new(n),
            map_out: Index::new(n),
            subs: HugeSlice::new(subs, Subscriber::default()),
            free_sub: (0..subs as u32).rev().collect(),
            sub_ix: Index::new(subs),
            wheel: Wheel::new(WHEEL_SLOTS, cfg.tick_ns, n),
            seed: cfg.seed,
            started: false,
            inside: Vec::new(),
            targets: Vec::new(),
            targets_filter: AddrFilter::new(std::iter::empty()),
            static_in: Vec::new(),
            static_filter: AddrFilter::new(std::iter::empty()),
            forward_in: Vec::new(),
            forwards: Vec::new(),
            pools: Vec::new(),
            log: None,
            now: 0,
            frags: vec![FragRecord::default(); cfg.fragments.clamp(1, 1 << 20).next_power_of_two()].into_boxed_slice(),
            release: false,
            worker: cfg.worker.min(cfg.workers.max(1) - 1),
            workers: cfg.workers.max(1),
            handed: None,
            ahead: [Ahead::NONE; AHEAD_SLOTS],
            made_seen: 0,
            hinting: false,
            hinted: 0,
            made: [NIL; 2],
            frag_inbox: None,
            frag_peers: Vec::new(),
            counters: NatCounters::default(),
        }
    }

    /// Sends log records (port blocks, or mappings) to `queue`, when the
    /// rules ask for them (`Rules::log`).
    pub fn set_log(&mut self, queue: Arc<LogQueue>) {
        self.log = Some(queue);
    }

    /// Writes a record, if the rules ask for them; counted as lost when
    /// the queue is full.
    pub(super) fn record(&mut self, event: LogEvent, proto: u8, inside: (u32, u16), outside: u32, ports: (u16, u16)) {
        if self.rules.log {
            let (inside, inside_port, outside) = (inside.0.into(), inside.1, outside.into());
            self.push(LogRecord { time: self.now, event, proto, inside, inside_port, outside, ports });
        }
    }

    pub(super) fn push(&mut self, r: LogRecord) {
        if self.log.as_ref().is_some_and(|q| q.push(r).is_err()) {
            self.counters.log_lost += 1;
        }
    }

    /// True when some subscriber holds outside ports (dynamic mappings).
    pub(super) fn holds_ports(&self) -> bool {
        self.free_sub.len() < self.subs.len()
    }

    /// Room to record a new block or mapping: the queue is at most three
    /// quarters full, keeping the rest for releases.
    #[inline]
    pub(super) fn log_room(&self) -> bool {
        !self.rules.log || self.log.as_ref().is_none_or(|q| q.len() < q.capacity() - q.capacity() / 4)
    }

    /// Bytes the tables hold, over all sessions (for sizing).
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        let (n, subs) = (self.sessions.len(), self.subs.len());
        n * (size_of::<Session>() + size_of::<Mapping>())
            + subs * (size_of::<Subscriber>() + size_of::<u32>())
            + [&self.by_inside, &self.by_outside, &self.map_in, &self.map_out, &self.sub_ix]
                .iter()
                .map(|ix| ix.bytes())
                .sum::<usize>()
            + self.wheel.bytes()
            + self.peers.bytes()
            + self.frags.len() * size_of::<FragRecord>()
    }

    /// Sessions alive.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Sessions alive that packets from outside made.
    pub fn inbound_len(&self) -> usize {
        self.inbound_live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Most sessions this worker holds.
    pub fn capacity(&self) -> usize {
        self.sessions.len()
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// True when `rules` is the snapshot this NAT already works with.
    #[inline]
    pub fn has_rules(&self, rules: &Arc<Rules>) -> bool {
        Arc::ptr_eq(rules, &self.rules)
    }
}
