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

use crate::index::{hash, Index, Vacant};
use crate::log::{LogEvent, LogQueue, LogRecord};
use crate::packet::{self, End, Flow, Frag, Kind, ICMP, SYN, TCP, UDP};
use crate::rules::{Filtering, Forward, Rules, Static, Timeouts};
use crate::wheel::Wheel;
use hugeslice::HugeSlice;
use stack::wire::FiveTuple;
use stack::{DropReason, FastNat, RouteTarget, Tables, Translator, Verdict};
use std::net::Ipv4Addr;
use std::sync::Arc;

const NIL: u32 = u32::MAX;
/// Sessions expired per [`Nat::poll`] at most.
const EXPIRY_BUDGET: usize = 4096;
/// Timer wheel slots.
const WHEEL_SLOTS: usize = 65536;
/// How long a fragment record lasts after its datagram's last fragment
/// seen (ns).
const FRAGMENT_TTL: u64 = 2_000_000_000;
/// Fragment record directions.
const IN: u8 = 1;
const OUT: u8 = 2;
/// Handoff tags ([`Verdict::Handoff`]): the receiver owns the packet's
/// state; the destination's owner found a hairpin and asks the source's
/// owner to translate the source; the source's owner did, and asks the
/// destination's owner for the destination alone.
const HANDED_OWNED: u8 = 0;
const HANDED_HAIRPIN_SOURCE: u8 = 1;
const HANDED_DEST_ONLY: u8 = 2;
/// The seed of the hash that picks a subscriber's worker: the same on
/// every worker, so all agree.
const OWNER_SEED: u64 = 0x6f77_6e65_7273_0001;
/// Fragment records imported from other workers per call, at most.
const IMPORT_BUDGET: usize = 256;

/// Fragment records one worker sends the others.
pub type FragmentQueue = crossbeam_queue::ArrayQueue<FragRecord>;

/// TCP state bits (RFC 5382 §5, RFC 7857 §2.2).
const SYN_OUT: u8 = 1;
const SYN_IN: u8 = 2;
const FIN_OUT: u8 = 4;
const FIN_IN: u8 = 8;
const RST_SEEN: u8 = 16;

/// Sizes a worker's NAT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NatConfig {
    /// Most sessions (and so mappings) the worker holds.
    pub max_sessions: usize,
    /// Most subscribers (inside addresses with mappings) the worker
    /// holds; 0: a quarter of `max_sessions`.
    pub max_subscribers: usize,
    /// Expiry resolution in ns: sessions expire at most one tick late.
    pub tick_ns: u64,
    /// Hash seed (draw one per worker at start).
    pub seed: u64,
    /// Fragmented datagrams in flight the worker remembers the
    /// translation of (rounded up to a power of two; a newer datagram
    /// takes an older one's place when their slots collide).
    pub fragments: usize,
    /// This worker, of `workers`. Each owns the subscribers whose address
    /// hashes to it and a slice of every outside address's ports; packets
    /// about another's state are handed to it.
    pub worker: u16,
    pub workers: u16,
    /// How long (ns) the router's flow cache may carry an established
    /// flow's packets without refreshing its session
    /// ([`Translator::fast_hold`]; at most half the shortest TCP or UDP
    /// timeout is used). Every refresh keeps a session this much longer
    /// than its timeout, so a session ends between its timeout and this
    /// much later after its flow's last packet. 0: the cache refreshes
    /// the session at every packet, and sessions end at their timeout
    /// (one tick late at most).
    pub hold_ns: u64,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            max_sessions: 65536,
            max_subscribers: 0,
            tick_ns: 100_000_000,
            seed: 0x5eed,
            fragments: 1024,
            worker: 0,
            workers: 1,
            hold_ns: 1_000_000_000,
        }
    }
}

/// Protocols, in counter order.
pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "icmp"];

/// A protocol's name, as counters and the API show it.
pub fn protocol_name(p: u8) -> &'static str {
    PROTOCOLS.get(proto_index(p)).copied().unwrap_or("icmp")
}

#[inline(always)]
fn proto_index(p: u8) -> usize {
    match p {
        TCP => 0,
        UDP => 1,
        _ => 2,
    }
}

/// Per-worker NAT counters (drops are the router's, by reason).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatCounters {
    /// Sessions created, by protocol ([`PROTOCOLS`] order).
    pub created: [u64; 3],
    /// Sessions ended by their idle timeout, by protocol.
    pub expired: [u64; 3],
    /// New mappings refused: no outside port free, or the subscriber's
    /// port bound reached.
    pub port_alloc_failures: u64,
    /// Packets from the inside to an outside address, translated both
    /// ways (RFC 4787 REQ-9, RFC 5382 REQ-8).
    pub hairpins: u64,
    /// Packets translated (either direction).
    pub translated: u64,
    /// Later fragments translated by their first fragment's record
    /// (RFC 4787 REQ-14; also counted in `translated`).
    pub fragments: u64,
    /// Log records lost: a release found the log queue full.
    pub log_lost: u64,
}

/// A session as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub proto: u8,
    pub inside: (Ipv4Addr, u16),
    pub outside: (Ipv4Addr, u16),
    pub remote: (Ipv4Addr, u16),
    /// TCP state bits (0 for UDP and ICMP).
    pub tcp: u8,
    /// When it expires if idle (ns, the worker's clock).
    pub expires: u64,
}

/// A subscriber's usage, as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SubscriberInfo {
    pub inside: Ipv4Addr,
    /// Its outside address (paired pooling: one for all its mappings).
    pub outside: Ipv4Addr,
    pub sessions: u32,
    /// Outside ports it holds (its mappings).
    pub ports: u32,
    /// Port blocks it holds (0 without blocks).
    pub blocks: u32,
}

impl SessionInfo {
    /// The state by name: for TCP `opening` (a SYN one way), `established`
    /// (both ways), `closing` (a FIN one way), `closed` (both ways) or
    /// `reset`; `active` for UDP and ICMP.
    pub fn state(&self) -> &'static str {
        match self.tcp {
            _ if self.proto != TCP => "active",
            t if t & RST_SEEN != 0 => "reset",
            t if t & (FIN_OUT | FIN_IN) == FIN_OUT | FIN_IN => "closed",
            t if t & (FIN_OUT | FIN_IN) != 0 => "closing",
            t if t & (SYN_OUT | SYN_IN) == SYN_OUT | SYN_IN => "established",
            _ => "opening",
        }
    }
}

/// One conversation through a mapping. Laid out so that its key by
/// inside endpoint ([`Session::key_in`]) is two plain loads: the
/// addresses, then the ports and protocol.
#[derive(Copy, Clone, Default)]
#[repr(C)]
struct Session {
    expires: u64,
    inside: u32,
    remote: u32,
    in_port: u16,
    rem_port: u16,
    /// 0: free.
    proto: u8,
    tcp: u8,
    out_port: u16,
    outside: u32,
    mapping: u32,
    /// Next session of the same mapping (or the next free one).
    next: u32,
}

const _: () = assert!(std::mem::size_of::<Session>() == 40);

impl Session {
    /// Its key by inside endpoint ([`key5`]).
    #[inline(always)]
    fn key_in(&self) -> u128 {
        key5(self.proto, self.inside, self.in_port, self.remote, self.rem_port)
    }

    /// Its key by outside endpoint.
    #[inline(always)]
    fn key_out(&self) -> u128 {
        key5(self.proto, self.outside, self.out_port, self.remote, self.rem_port)
    }
}

#[derive(Copy, Clone, Default)]
struct Mapping {
    inside: u32,
    in_port: u16,
    out_port: u16,
    proto: u8,
    addr: u16,
    subscriber: u32,
    sessions: u32,
    /// Its first session; for a free mapping, the next free one.
    first: u32,
    /// A port forward's: installed by the rules, not by traffic.
    fixed: bool,
}

#[derive(Copy, Clone)]
struct Subscriber {
    inside: u32,
    rule: u16,
    addr: u16,
    sessions: u32,
    ports: u32,
    /// Its port blocks, chained through `Outside::chain`.
    first_block: u16,
    blocks: u16,
}

impl Default for Subscriber {
    fn default() -> Self {
        Subscriber { inside: 0, rule: 0, addr: 0, sessions: 0, ports: 0, first_block: NO_BLOCK, blocks: 0 }
    }
}

/// No block (end of a chain).
const NO_BLOCK: u16 = u16::MAX;

/// One outside address: its ports in use, per protocol, and, with port
/// blocks, which subscriber holds each block.
struct Outside {
    addr: u32,
    used: [Box<[u64]>; 3],
    free: [u32; 3],
    cursor: [u16; 3],
    /// The port range handed out.
    range: (u16, u16),
    /// Ports per block (0: no blocks, ports are handed out one by one).
    block: u16,
    /// Per block: the subscriber holding it (`NIL`: free).
    owner: Box<[u32]>,
    /// Per block: ports held in it, over every protocol.
    held: Box<[u16]>,
    /// Per block: the next block of the same subscriber.
    chain: Box<[u16]>,
    free_blocks: u32,
    block_cursor: u16,
}

impl Outside {
    fn new(addr: u32, range: (u16, u16), block: u16) -> Outside {
        let (lo, hi) = range;
        let n = u32::from(hi.saturating_sub(lo)) + 1;
        let words = || vec![0u64; 1024].into_boxed_slice();
        let blocks = if block == 0 { 0 } else { n.div_ceil(u32::from(block)) as usize };
        Outside {
            addr,
            used: [words(), words(), words()],
            free: [n; 3],
            cursor: [lo; 3],
            range,
            block,
            owner: vec![NIL; blocks].into_boxed_slice(),
            held: vec![0; blocks].into_boxed_slice(),
            chain: vec![NO_BLOCK; blocks].into_boxed_slice(),
            free_blocks: blocks as u32,
            block_cursor: 0,
        }
    }

    /// Room for a new subscriber: a free block, or with no blocks a free
    /// port in every protocol.
    fn has_room(&self) -> bool {
        if self.block == 0 {
            self.free.iter().all(|&f| f > 0)
        } else {
            self.free_blocks > 0
        }
    }

    #[inline]
    fn taken(&self, p: usize, port: u16) -> bool {
        self.used.get(p).and_then(|u| u.get(usize::from(port) / 64)).is_some_and(|w| w >> (port % 64) & 1 == 1)
    }

    #[inline]
    fn set(&mut self, p: usize, port: u16, on: bool) {
        let (Some(used), Some(free)) = (self.used.get_mut(p), self.free.get_mut(p)) else { return };
        if let Some(w) = used.get_mut(usize::from(port) / 64) {
            if on {
                *w |= 1 << (port % 64);
                *free = free.saturating_sub(1);
            } else {
                *w &= !(1 << (port % 64));
                *free += 1;
            }
        }
    }

    /// A free port in the range: `want` if free there (port
    /// preservation), else the next free one after the cursor.
    fn alloc(&mut self, p: usize, want: u16) -> Option<u16> {
        let port = self.peek(p, want)?;
        self.set(p, port, true);
        if port != want {
            if let Some(c) = self.cursor.get_mut(p) {
                *c = port.wrapping_add(1);
            }
        }
        Some(port)
    }

    /// The port [`Outside::alloc`] would hand out now, without taking it.
    #[inline]
    fn peek(&self, p: usize, want: u16) -> Option<u16> {
        if self.free.get(p).is_none_or(|&f| f == 0) {
            return None;
        }
        let (lo, hi) = self.range;
        if (lo..=hi).contains(&want) && !self.taken(p, want) {
            return Some(want);
        }
        self.first_free(p, self.cursor.get(p).copied().unwrap_or(lo), (lo, hi))
    }

    /// The first free port at or after `from` in `lo..=hi`, wrapping
    /// around; a word of the bitmap at a time.
    fn first_free(&self, p: usize, from: u16, (lo, hi): (u16, u16)) -> Option<u16> {
        let used = self.used.get(p)?;
        let from = from.clamp(lo, hi);
        free_in(used, from, hi).or_else(|| free_in(used, lo, from.checked_sub(1).filter(|&b| b >= lo)?))
    }

    /// The block holding `port`, if blocks are on and it is in range.
    #[inline]
    fn block_of(&self, port: u16) -> Option<usize> {
        let (lo, hi) = self.range;
        if self.block == 0 || port < lo || port > hi {
            return None;
        }
        Some(usize::from((port - lo) / self.block))
    }

    /// Block `b`'s ports, inclusive.
    fn block_range(&self, b: usize) -> (u16, u16) {
        let (lo, hi) = self.range;
        let first = u32::from(lo) + b as u32 * u32::from(self.block);
        let last = (first + u32::from(self.block) - 1).min(u32::from(hi));
        (first as u16, last as u16)
    }

    /// Gives a free block to subscriber `sub`: the one holding `want` if
    /// free (port preservation), else the next free one after the cursor.
    fn take_block(&mut self, sub: u32, want: u16) -> Option<usize> {
        let n = self.owner.len();
        let b = match self.block_of(want) {
            Some(b) if self.owner.get(b) == Some(&NIL) => b,
            _ => {
                let start = usize::from(self.block_cursor);
                let b = (0..n).map(|i| (start + i) % n).find(|&b| self.owner.get(b) == Some(&NIL))?;
                self.block_cursor = ((b + 1) % n) as u16;
                b
            }
        };
        *self.owner.get_mut(b)? = sub;
        self.free_blocks = self.free_blocks.saturating_sub(1);
        Some(b)
    }

    /// Takes `port` in block `b` for protocol `p`.
    fn take_in_block(&mut self, p: usize, port: u16, b: usize) -> u16 {
        self.set(p, port, true);
        if let Some(h) = self.held.get_mut(b) {
            *h += 1;
        }
        port
    }

    /// A free port for protocol `p` in the blocks subscriber `sub` holds
    /// (chained from `first`): `want` if free in one of them, else the
    /// first free one.
    fn alloc_in_own(&mut self, sub: u32, first: u16, p: usize, want: u16) -> Option<u16> {
        if let Some(b) = self.block_of(want) {
            if self.owner.get(b) == Some(&sub) && !self.taken(p, want) {
                return Some(self.take_in_block(p, want, b));
            }
        }
        let mut b = first;
        while b != NO_BLOCK {
            let (lo, hi) = self.block_range(usize::from(b));
            if let Some(port) = self.first_free(p, lo, (lo, hi)) {
                return Some(self.take_in_block(p, port, usize::from(b)));
            }
            b = self.chain.get(usize::from(b)).copied().unwrap_or(NO_BLOCK);
        }
        None
    }

    /// Block `b` is free again.
    fn free_block(&mut self, b: usize) {
        if let (Some(o), Some(c)) = (self.owner.get_mut(b), self.chain.get_mut(b)) {
            *o = NIL;
            *c = NO_BLOCK;
            self.free_blocks += 1;
        }
    }
}

/// The first port in `a..=b` whose bit in `used` is clear.
#[inline]
fn free_in(used: &[u64], a: u16, b: u16) -> Option<u16> {
    let (mut port, b) = (u32::from(a), u32::from(b));
    while port <= b {
        let word = used.get(port as usize / 64).copied().unwrap_or(u64::MAX);
        let free = !word >> (port % 64);
        if free != 0 {
            let cand = port + free.trailing_zeros();
            return (cand <= b).then_some(cand as u16);
        }
        port = (port | 63) + 1;
    }
    None
}

/// How the first fragment of a datagram was translated: the later ones
/// get the same addresses (they have no ports to look up).
#[derive(Copy, Clone, Default, Debug)]
pub struct FragRecord {
    /// The datagram as it arrived: `IN` (prerouting) or `OUT`
    /// (postrouting), 0 for a free slot.
    dir: u8,
    proto: u8,
    id: u16,
    src: u32,
    dst: u32,
    /// Its addresses once translated.
    to_src: u32,
    to_dst: u32,
    expires: u64,
    /// The source step of a hairpin between workers: the destination's
    /// step is the record of the datagram as it left this one.
    partial: bool,
}

/// The port forward a fixed mapping on outside address `outside` installs.
fn forward_of(m: &Mapping, outside: u32) -> Forward {
    Forward { proto: m.proto, outside: (outside.into(), m.out_port), inside: (m.inside.into(), m.in_port) }
}

/// `n` free mappings, chained through `first`.
fn free_mappings(n: usize) -> HugeSlice<Mapping> {
    let mut m = HugeSlice::new(n, Mapping::default());
    chain_free_mappings(&mut m);
    m
}

/// Frees every mapping, chaining them in order through `first`.
fn chain_free_mappings(m: &mut [Mapping]) {
    let n = m.len();
    for (i, x) in m.iter_mut().enumerate() {
        *x = Mapping { first: if i + 1 < n { i as u32 + 1 } else { NIL }, ..Mapping::default() };
    }
}

/// A subscriber's key: its inside address under rule `ri`.
#[inline(always)]
fn sub_key(inside: u32, ri: usize) -> u128 {
    2u128 << 120 | u128::from(inside) << 64 | ri as u128
}

/// A session's key: protocol, one end (address `a`, port `ap`) and the
/// other (`b`, `bp`); the addresses in the low half, as a session holds
/// its inside ones.
#[inline(always)]
fn key5(proto: u8, a: u32, ap: u16, b: u32, bp: u16) -> u128 {
    let ends = u64::from(a) | u64::from(b) << 32;
    let ports = u64::from(ap) | u64::from(bp) << 16 | u64::from(proto) << 32;
    u128::from(ports) << 64 | u128::from(ends)
}

#[inline(always)]
fn key3(proto: u8, a: u32, ap: u16) -> u128 {
    1 << 120 | u128::from(proto) << 96 | u128::from(a) << 64 | u128::from(ap) << 48
}

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

/// A session's idle timeout, by protocol and TCP state.
#[inline(always)]
fn timeout(t: &Timeouts, proto: u8, tcp: u8) -> u64 {
    match proto {
        TCP if tcp & RST_SEEN != 0 => t.tcp_transitory,
        TCP if tcp & (FIN_OUT | FIN_IN) == FIN_OUT | FIN_IN => t.tcp_transitory,
        TCP if tcp & (SYN_OUT | SYN_IN) == SYN_OUT | SYN_IN => t.tcp_established,
        TCP => t.tcp_transitory,
        UDP => t.udp,
        _ => t.icmp,
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

/// A frame coming up in the burst, between the prefetch hints
/// ([`Translator::prefetch`], [`Translator::prefetch_more`]): what the
/// first found, for the second, and the hashes it made, for the frame's
/// own lookups ([`Nat::hinted_as`]).
#[derive(Copy, Clone, Debug)]
struct Ahead {
    /// The hash of its session key.
    h: u32,
    /// 0: nothing to follow; 1: outbound, by inside endpoint; 2: inbound.
    index: u8,
    proto: u8,
    sport: u16,
    dport: u16,
    src: u32,
    dst: u32,
    /// The hashes of its mapping's key and of its subscriber's (under
    /// rule `rule`, the first its source matches).
    map: u32,
    sub: u32,
    rule: u16,
}

impl Ahead {
    const NONE: Ahead = Ahead { h: 0, index: 0, proto: 0, sport: 0, dport: 0, src: 0, dst: 0, map: 0, sub: 0, rule: 0 };

    /// It was hinted as flow `f`, outbound (an inbound hint leaves the
    /// tuple empty, and no flow's protocol is 0).
    #[inline(always)]
    fn is(&self, f: &Flow) -> bool {
        self.proto == f.proto
            && self.src == f.src
            && self.sport == f.sport
            && self.dst == f.dst
            && self.dport == f.dport
    }
}

/// Burst places [`Ahead`] remembers (more than the router's distance
/// between the two hints).
const AHEAD_SLOTS: usize = 16;

/// One worker's NAT44.
pub struct Nat {
    rules: Arc<Rules>,
    /// The rules' timeouts, read by every refresh (kept here: one
    /// pointer fewer to follow).
    timeouts: Timeouts,
    /// New rules taken and sessions deleted so far
    /// ([`Translator::generation`]).
    generation: u64,
    /// The configured hold ([`NatConfig::hold_ns`]) and the one the
    /// timeouts allow.
    hold_cfg: u64,
    hold: u64,
    addrs: Vec<Outside>,
    sessions: HugeSlice<Session>,
    free_session: u32,
    live: usize,
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
    handed: Option<u8>,
    /// What the first prefetch hint for a frame coming up found, by its
    /// place in the burst (modulo), for the second.
    ahead: [Ahead; AHEAD_SLOTS],
    /// Sessions made, when [`Translator::lookahead`] last looked.
    made_seen: u64,
    /// This burst gets prefetch hints ([`Translator::lookahead`] said
    /// so), and the burst place of the frame being handled (the last
    /// [`Translator::next_frame`]'s).
    hinting: bool,
    hinted: usize,
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
            live: 0,
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
            frag_inbox: None,
            frag_peers: Vec::new(),
            counters: NatCounters::default(),
        }
    }

    /// Where this worker's fragment records come in (`own`), and every
    /// worker's inbox, by worker: a first fragment's translation goes to
    /// all, since a later fragment of an inbound datagram has no port to
    /// tell its owner by and may arrive anywhere.
    pub fn set_fragment_queues(&mut self, own: Arc<FragmentQueue>, all: Vec<Arc<FragmentQueue>>) {
        self.frag_inbox = Some(own);
        self.frag_peers = all;
    }

    /// Takes in the fragment records other workers sent; held fragments
    /// may then go (the router's `release_translated`).
    pub fn import_fragments(&mut self) {
        let Some(q) = self.frag_inbox.as_ref().filter(|q| !q.is_empty()).cloned() else { return };
        for _ in 0..IMPORT_BUDGET {
            let Some(r) = q.pop() else { break };
            let i = self.frag_slot(r.dir, (r.src, r.dst, r.proto, r.id));
            if let Some(x) = self.frags.get_mut(i) {
                *x = r;
                self.release = true;
            }
        }
    }

    /// This worker's slice of the port range: the ports whose owner it is.
    fn port_slice(&self) -> (u16, u16) {
        let (lo, hi) = self.rules.ports;
        let (w, n) = (u32::from(self.worker), u32::from(self.workers));
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        let first = (w * span).div_ceil(n);
        let end = ((w + 1) * span).div_ceil(n).max(first + 1);
        (lo.saturating_add(first as u16), lo.saturating_add((end - 1) as u16).min(hi))
    }

    /// The worker owning subscriber `a` (its mappings and sessions).
    #[inline]
    fn owner_in(&self, a: u32) -> u16 {
        ((u64::from(hash(u128::from(a), OWNER_SEED)) * u64::from(self.workers)) >> 32) as u16
    }

    /// The worker owning outside endpoint `addr:port`: a port forward's
    /// server's, else the one whose port slice holds `port`; this one for
    /// a port outside the range (nothing maps it).
    #[inline]
    fn owner_out(&self, proto: u8, addr: u32, port: u16) -> u16 {
        if let Some(m) = self.find_map_out(proto, addr, port) {
            if let Some(x) = self.mappings.get(m as usize).filter(|x| x.fixed) {
                return self.owner_in(x.inside);
            }
        }
        let (lo, hi) = self.rules.ports;
        if port < lo || port > hi {
            return self.worker;
        }
        let span = u32::from(hi - lo) + 1;
        ((u32::from(port - lo) * u32::from(self.workers)) / span) as u16
    }

    /// The worker that holds subscriber `a`'s mappings and sessions.
    pub fn owner_of(&self, a: Ipv4Addr) -> u16 {
        self.owner_in(a.into())
    }

    /// The first rule for sources leaving through `out` that `src`
    /// matches.
    #[inline(always)]
    fn rule_for(&self, out: u16, src: u32) -> Option<usize> {
        self.inside.iter().position(|r| r.outside == out && r.matches(src))
    }

    /// Can `a` be the source of an outbound mapping (under a rule, or a
    /// port forward's server)?
    #[inline(always)]
    fn is_inside_source(&self, a: u32) -> bool {
        self.inside.iter().any(|r| r.matches(a)) || self.forward_in.binary_search(&a).is_ok()
    }

    /// `Some(handoff)` when worker `w` is another one and this packet may
    /// still move.
    #[inline]
    fn hand_to(&self, w: u16) -> Option<Verdict> {
        (w != self.worker && self.handed.is_none()).then_some(Verdict::Handoff { worker: w, tag: HANDED_OWNED })
    }

    /// Sends log records (port blocks, or mappings) to `queue`, when the
    /// rules ask for them (`Rules::log`).
    pub fn set_log(&mut self, queue: Arc<LogQueue>) {
        self.log = Some(queue);
    }

    /// Writes a record, if the rules ask for them; counted as lost when
    /// the queue is full.
    fn record(&mut self, event: LogEvent, proto: u8, inside: (u32, u16), outside: u32, ports: (u16, u16)) {
        if self.rules.log {
            let (inside, inside_port, outside) = (inside.0.into(), inside.1, outside.into());
            self.push(LogRecord { time: self.now, event, proto, inside, inside_port, outside, ports });
        }
    }

    fn push(&mut self, r: LogRecord) {
        if self.log.as_ref().is_some_and(|q| q.push(r).is_err()) {
            self.counters.log_lost += 1;
        }
    }

    /// True when some subscriber holds outside ports (dynamic mappings).
    fn holds_ports(&self) -> bool {
        self.free_sub.len() < self.subs.len()
    }

    /// Room to record a new block or mapping: the queue is at most three
    /// quarters full, keeping the rest for releases.
    #[inline]
    fn log_room(&self) -> bool {
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
            + self.frags.len() * size_of::<FragRecord>()
    }

    /// Sessions alive.
    pub fn len(&self) -> usize {
        self.live
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

    /// Takes a new snapshot of the rules. A changed rule list (prefixes,
    /// interfaces, pools), port range or set of outside addresses ends
    /// every session, since mappings may no longer be valid. A port
    /// forward added or removed on known addresses ends only the
    /// sessions it displaces (a dynamic mapping on its port, its own
    /// sessions when it goes). Static mappings hold no state. New
    /// timeouts, filtering and bounds apply to existing sessions as they
    /// are next refreshed.
    pub fn set_rules(&mut self, rules: Arc<Rules>) {
        if Arc::ptr_eq(&rules, &self.rules) {
            return;
        }
        let reset = rules.rules != self.rules.rules
            || rules.ports != self.rules.ports
            || rules.port_block != self.rules.port_block
            || rules.addresses() != self.rules.addresses();
        let forwards_changed = rules.forwards != self.rules.forwards;
        // The reset is recorded if logging was on before or is now.
        let record_reset = reset && (self.rules.log || rules.log) && self.holds_ports();
        self.rules = rules;
        self.timeouts = self.rules.timeouts;
        let t = &self.timeouts;
        self.hold = self.hold_cfg.min(t.udp.min(t.tcp_established).min(t.tcp_transitory) / 2);
        self.generation += 1;
        if reset {
            let (ports, block) = (self.port_slice(), self.rules.port_block);
            self.addrs = self.rules.addresses().into_iter().map(|a| Outside::new(a.into(), ports, block)).collect();
            self.clear();
            if record_reset {
                let now = self.now;
                self.push(LogRecord { time: now, event: LogEvent::Reset, ..LogRecord::default() });
            }
        } else if forwards_changed {
            let installed = std::mem::take(&mut self.forwards);
            for m in installed {
                let keep = self
                    .mappings
                    .get(m as usize)
                    .is_some_and(|x| self.rules.forwards.contains(&forward_of(x, self.outside_of(x))));
                if keep {
                    self.forwards.push(m);
                } else {
                    self.evict(m);
                }
            }
            self.install_forwards();
        }
        let index = |a: &Ipv4Addr| self.addrs.iter().position(|o| o.addr == u32::from(*a)).map(|i| i as u16);
        self.inside = self.rules.rules.iter().map(Inside::of).collect();
        self.pools = self.rules.rules.iter().map(|r| r.pool.iter().filter_map(index).collect()).collect();
        self.targets = self.addrs.iter().enumerate().map(|(i, o)| (o.addr, Target::Pool(i as u16))).collect();
        self.targets.extend(
            self.rules.statics.iter().enumerate().map(|(i, st)| (u32::from(st.outside), Target::Static(i as u16))),
        );
        self.targets.sort_unstable_by_key(|t| t.0);
        self.static_in =
            self.rules.statics.iter().enumerate().map(|(i, st)| (u32::from(st.inside), i as u16)).collect();
        self.static_in.sort_unstable();
        self.targets_filter = AddrFilter::new(self.targets.iter().map(|t| t.0));
        self.static_filter = AddrFilter::new(self.static_in.iter().map(|t| t.0));
        self.forward_in = self.rules.forwards.iter().map(|f| u32::from(f.inside.0)).collect();
        self.forward_in.sort_unstable();
        self.forward_in.dedup();
    }

    /// Installs every port forward of the rules not installed yet. The
    /// forward wins over a dynamic mapping on its outside port or inside
    /// endpoint: that mapping's sessions end.
    fn install_forwards(&mut self) {
        let rules = Arc::clone(&self.rules);
        for fw in &rules.forwards {
            let have = self
                .forwards
                .iter()
                .any(|&m| self.mappings.get(m as usize).is_some_and(|x| forward_of(x, self.outside_of(x)) == *fw));
            if have {
                continue;
            }
            let (outside, inside) = (u32::from(fw.outside.0), u32::from(fw.inside.0));
            let Some(addr) = self.addrs.iter().position(|o| o.addr == outside) else { continue };
            for m in
                [self.find_map_out(fw.proto, outside, fw.outside.1), self.find_map_in(fw.proto, inside, fw.inside.1)]
                    .into_iter()
                    .flatten()
            {
                self.evict(m);
            }
            let Some(m) = self.pop_mapping() else { continue };
            if let Some(o) = self.addrs.get_mut(addr) {
                o.set(proto_index(fw.proto), fw.outside.1, true);
            }
            if let Some(x) = self.mappings.get_mut(m as usize) {
                *x = Mapping {
                    inside,
                    in_port: fw.inside.1,
                    out_port: fw.outside.1,
                    proto: fw.proto,
                    addr: addr as u16,
                    subscriber: NIL,
                    sessions: 0,
                    first: NIL,
                    fixed: true,
                };
            }
            self.map_in.insert(self.h(key3(fw.proto, inside, fw.inside.1)), m);
            self.map_out.insert(self.h(key3(fw.proto, outside, fw.outside.1)), m);
            self.forwards.push(m);
        }
    }

    /// Ends a mapping and all its sessions.
    fn evict(&mut self, m: u32) {
        let Some(&Mapping { sessions, fixed, .. }) = self.mappings.get(m as usize) else { return };
        for _ in 0..sessions {
            let first = self.mappings.get(m as usize).map_or(NIL, |x| x.first);
            self.remove_session(first, true);
        }
        if fixed {
            self.remove_mapping(m);
        }
    }

    /// Ends every session (port forwards stay).
    pub fn clear(&mut self) {
        let n = self.sessions.len();
        for (i, s) in self.sessions.iter_mut().enumerate() {
            *s = Session { next: if i + 1 < n { i as u32 + 1 } else { NIL }, ..Session::default() };
        }
        self.free_session = 0;
        self.live = 0;
        chain_free_mappings(&mut self.mappings);
        self.free_mapping = 0;
        self.free_sub = (0..self.subs.len() as u32).rev().collect();
        for ix in [&mut self.by_inside, &mut self.by_outside, &mut self.map_in, &mut self.map_out, &mut self.sub_ix] {
            ix.clear();
        }
        self.wheel.clear();
        let (ports, block) = (self.port_slice(), self.rules.port_block);
        for a in &mut self.addrs {
            *a = Outside::new(a.addr, ports, block);
        }
        self.forwards.clear();
        self.install_forwards();
    }

    /// Expires idle sessions (at most a fixed budget per call); call
    /// every loop.
    pub fn poll(&mut self, now: u64) {
        self.now = now;
        if !self.started || self.live == 0 {
            self.started = true;
            self.wheel.start(now);
            return;
        }
        let mut left = EXPIRY_BUDGET;
        while left > 0 {
            let mut batch = [NIL; 64];
            let mut n = 0;
            let sessions = &self.sessions;
            self.wheel.advance(
                now,
                batch.len().min(left),
                |e| sessions.get(e as usize).map_or(0, |s| s.expires),
                |e| {
                    if let Some(b) = batch.get_mut(n) {
                        *b = e;
                        n += 1;
                    }
                },
            );
            for &e in batch.iter().take(n) {
                if let Some(p) = self.sessions.get(e as usize).map(|s| proto_index(s.proto)) {
                    if let Some(c) = self.counters.expired.get_mut(p) {
                        *c += 1;
                    }
                }
                self.remove_session(e, false);
            }
            left = left.saturating_sub(batch.len());
            if n < batch.len() {
                break;
            }
        }
    }

    /// The sessions, for the control plane.
    pub fn sessions(&self) -> impl Iterator<Item = SessionInfo> + '_ {
        (0..self.session_slots()).filter_map(|i| self.session_info(i))
    }

    /// Session table slots (live or free).
    pub(crate) fn session_slots(&self) -> u32 {
        self.sessions.len() as u32
    }

    /// The session in slot `i`, if it is live.
    pub(crate) fn session_info(&self, i: u32) -> Option<SessionInfo> {
        self.sessions.get(i as usize).filter(|s| s.proto != 0).map(|s| SessionInfo {
            proto: s.proto,
            inside: (s.inside.into(), s.in_port),
            outside: (s.outside.into(), s.out_port),
            remote: (s.remote.into(), s.rem_port),
            tcp: s.tcp,
            expires: s.expires,
        })
    }

    /// Subscriber table slots (live or free).
    pub(crate) fn subscriber_slots(&self) -> u32 {
        self.subs.len() as u32
    }

    /// The subscriber in slot `i`, if it holds anything.
    pub(crate) fn subscriber_info(&self, i: u32) -> Option<SubscriberInfo> {
        let s = self.subs.get(i as usize).filter(|s| s.sessions > 0 || s.ports > 0)?;
        Some(SubscriberInfo {
            inside: s.inside.into(),
            outside: self.addrs.get(usize::from(s.addr)).map_or(0, |o| o.addr).into(),
            sessions: s.sessions,
            ports: s.ports,
            blocks: u32::from(s.blocks),
        })
    }

    /// Ends the session with this outside endpoint and remote (an
    /// operator's delete). True when there was one.
    pub fn delete(&mut self, proto: u8, outside: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> bool {
        let k = key5(proto, outside.0.into(), outside.1, remote.0.into(), remote.1);
        match self.find_out(k) {
            Some(e) => {
                self.remove_session(e, true);
                // The flow cache must not carry it on.
                self.generation += 1;
                true
            }
            None => false,
        }
    }

    #[inline]
    fn h(&self, k: u128) -> u32 {
        hash(k, self.seed)
    }

    #[inline]
    fn find_in(&self, k: u128) -> Option<u32> {
        self.find_in_or_vacant(k).ok()
    }

    /// As [`Nat::find_in`], or else where its session goes in `by_inside`.
    #[inline]
    fn find_in_or_vacant(&self, k: u128) -> Result<u32, Vacant> {
        self.find_in_or_vacant_by(k, self.h(k))
    }

    /// As [`Nat::find_in_or_vacant`], given `k`'s hash.
    #[inline]
    fn find_in_or_vacant_by(&self, k: u128, h: u32) -> Result<u32, Vacant> {
        let s = &self.sessions;
        // (Inlined: a call to it, from the burst loop, was a fifth of a
        // lookup's instructions.)
        self.by_inside.find_or_vacant(
            h,
            #[inline(always)]
            |e| s.get(e as usize).is_some_and(|x| x.key_in() == k),
        )
    }

    #[inline]
    fn find_out(&self, k: u128) -> Option<u32> {
        let s = &self.sessions;
        self.by_outside.find(
            self.h(k),
            #[inline(always)]
            |e| s.get(e as usize).is_some_and(|x| x.key_out() == k),
        )
    }

    fn find_map_in(&self, proto: u8, a: u32, p: u16) -> Option<u32> {
        self.find_map_in_or_vacant(proto, a, p, None).ok()
    }

    /// As [`Nat::find_map_in`] (given the key's hash `h`, if known), or
    /// else where its mapping goes in `map_in`.
    fn find_map_in_or_vacant(&self, proto: u8, a: u32, p: u16, h: Option<u32>) -> Result<u32, Vacant> {
        let (k, m) = (key3(proto, a, p), &self.mappings);
        let h = h.unwrap_or_else(|| self.h(k));
        self.map_in.find_or_vacant(h, |e| m.get(e as usize).is_some_and(|x| key3(x.proto, x.inside, x.in_port) == k))
    }

    /// What the prefetch hints worked out for the frame being
    /// translated, if it is flow `f`'s, outbound: the hashes of its keys,
    /// which its lookups and inserts take rather than hash again. (A
    /// hash is a function of its key, and the key is checked: an entry
    /// of another frame is never taken.)
    #[inline(always)]
    fn hinted_as(&self, f: &Flow) -> Option<Ahead> {
        if !self.hinting {
            return None;
        }
        self.ahead.get(self.hinted % AHEAD_SLOTS).filter(|a| a.is(f)).copied()
    }

    fn find_map_out(&self, proto: u8, a: u32, p: u16) -> Option<u32> {
        let (k, m, addrs) = (key3(proto, a, p), &self.mappings, &self.addrs);
        self.map_out.find(self.h(k), |e| {
            m.get(e as usize).is_some_and(|x| {
                x.out_port == p && x.proto == proto && addrs.get(usize::from(x.addr)).is_some_and(|o| o.addr == a)
            })
        })
    }

    fn timeout(&self, proto: u8, tcp: u8) -> u64 {
        timeout(&self.timeouts, proto, tcp)
    }

    /// Follows a TCP segment's flags (RFC 7857 §2.2: a RST holds the
    /// state for the transitory time; a SYN after it starts afresh) and
    /// refreshes the session.
    #[inline(always)]
    fn touch(&mut self, e: u32, kind: Kind, outbound: bool, now: u64) {
        let Some(s) = self.sessions.get_mut(e as usize) else { return };
        if let Kind::Tcp(f) = kind {
            if f & SYN != 0 && s.tcp & RST_SEEN != 0 {
                s.tcp = 0;
            }
            let (syn, fin) = if outbound { (SYN_OUT, FIN_OUT) } else { (SYN_IN, FIN_IN) };
            if f & SYN != 0 {
                s.tcp |= syn;
            }
            if f & packet::FIN != 0 {
                s.tcp |= fin;
            }
            if f & packet::RST != 0 {
                s.tcp |= RST_SEEN;
            }
        } else if !outbound {
            // UDP and ICMP refresh on outbound traffic only (RFC 4787 REQ-6).
            return;
        }
        let old = s.expires;
        // (Plus the flow cache's hold: see `fast_hold`.)
        let expires = now + timeout(&self.timeouts, s.proto, s.tcp) + self.hold;
        s.expires = expires;
        // A later deadline waits where it is filed (the wheel re-files it
        // when that tick comes), so the common refresh touches nothing
        // but the session; only an earlier one (a RST, both FINs) moves.
        if expires < old {
            self.reschedule(e, expires);
        }
    }

    #[cold]
    fn reschedule(&mut self, e: u32, expires: u64) {
        self.wheel.reschedule(e, expires);
    }

    /// The outbound session for flow `f`: found, or made under the
    /// source's mapping (a port forward's, or a dynamic one), or under a
    /// new mapping by rule `ri`. `Ok(None)`: none of these.
    fn outbound(&mut self, ri: Option<usize>, f: &Flow, now: u64) -> Result<Option<u32>, Refusal> {
        let e = match self.find_in_or_vacant(key5(f.proto, f.src, f.sport, f.dst, f.dport)) {
            Ok(e) => e,
            Err(at) => match self.new_outbound(ri, f, at, now)? {
                Some(e) => e,
                None => return Ok(None),
            },
        };
        self.touch(e, f.kind, true, now);
        Ok(Some(e))
    }

    /// [`Nat::outbound`] for a flow with no session (whose key goes at
    /// `at` in `by_inside`): one made (not yet refreshed by the packet)
    /// under the source's mapping, or under a new mapping by rule `ri`.
    /// `Ok(None)`: none of these.
    fn new_outbound(&mut self, ri: Option<usize>, f: &Flow, at: Vacant, now: u64) -> Result<Option<u32>, Refusal> {
        let a = self.hinted_as(f);
        let m = match (self.find_map_in_or_vacant(f.proto, f.src, f.sport, a.map(|a| a.map)), ri) {
            (Ok(m), _) => m,
            (Err(map_at), Some(ri)) => self.new_mapping(ri, f, map_at, a)?,
            (Err(_), None) => return Ok(None),
        };
        self.new_session(m, f.dst, f.dport, now, Some(at)).map(Some)
    }

    fn subscriber(&mut self, ri: usize, inside: u32, h: Option<u32>) -> Result<u32, Refusal> {
        let k = sub_key(inside, ri);
        let h = h.unwrap_or_else(|| self.h(k));
        let subs = &self.subs;
        let found = self
            .sub_ix
            .find(h, |e| subs.get(e as usize).is_some_and(|s| s.inside == inside && usize::from(s.rule) == ri));
        if let Some(s) = found {
            return Ok(s);
        }
        let Some(addr) = self.paired_address(ri, inside) else {
            self.counters.port_alloc_failures += 1;
            return Err(Verdict::Refuse(DropReason::NatPortsExhausted));
        };
        let Some(s) = self.free_sub.pop() else { return Err(Verdict::Refuse(DropReason::NatSessionLimit)) };
        if let Some(x) = self.subs.get_mut(s as usize) {
            *x = Subscriber { inside, rule: ri as u16, addr, ..Subscriber::default() };
        }
        self.sub_ix.insert(h, s);
        Ok(s)
    }

    /// The outside address (an index in `addrs`) a new subscriber
    /// `inside` of rule `ri` gets. Paired pooling: one address for all of
    /// its mappings, spread over the pool by a hash of its address; the
    /// first from there with ports free in every protocol.
    #[inline]
    fn paired_address(&self, ri: usize, inside: u32) -> Option<u16> {
        let pool: &[u16] = self.pools.get(ri).map_or(&[], |p| p.as_slice());
        let n = pool.len();
        let start = hash(u128::from(inside), self.seed) as usize;
        let has_room = |a: u16| self.addrs.get(usize::from(a)).is_some_and(Outside::has_room);
        (0..n)
            .filter_map(|i| pool.get((start + i) % n).copied())
            .find(|&a| has_room(a))
            .or_else(|| pool.get(start % n.max(1)).copied())
    }

    /// A new mapping for flow `f` by rule `ri`, filed at `at` in `map_in`
    /// (`hinted`: what the hints worked out for `f`).
    fn new_mapping(&mut self, ri: usize, f: &Flow, at: Vacant, hinted: Option<Ahead>) -> Result<u32, Refusal> {
        if self.free_session == NIL {
            return Err(Verdict::Refuse(DropReason::NatSessionLimit));
        }
        let sub_hash = hinted.filter(|a| usize::from(a.rule) == ri).map(|a| a.sub);
        let sub = self.subscriber(ri, f.src, sub_hash)?;
        let Some(&Subscriber { addr, ports, sessions, .. }) = self.subs.get(sub as usize) else {
            return Err(Verdict::Drop(DropReason::NatNoMapping));
        };
        if sessions >= self.rules.subscriber_sessions {
            self.release_subscriber(sub);
            return Err(Verdict::Refuse(DropReason::NatSessionLimit));
        }
        let blocks = self.rules.port_block != 0;
        if !blocks && !self.log_room() {
            self.release_subscriber(sub);
            return Err(Verdict::Refuse(DropReason::NatLogFull));
        }
        let port = if ports >= self.rules.subscriber_ports || self.free_mapping == NIL {
            Ok(None)
        } else if blocks {
            self.alloc_in_blocks(sub, proto_index(f.proto), f.sport)
        } else {
            Ok(self.addrs.get_mut(usize::from(addr)).and_then(|o| o.alloc(proto_index(f.proto), f.sport)))
        };
        let (Ok(Some(port)), Some(m)) = (port, self.pop_mapping()) else {
            self.counters.port_alloc_failures += u64::from(port.is_ok());
            self.release_subscriber(sub);
            return Err(port.err().unwrap_or(Verdict::Refuse(DropReason::NatPortsExhausted)));
        };
        let outside = self.addrs.get(usize::from(addr)).map_or(0, |o| o.addr);
        if !blocks {
            self.record(LogEvent::MappingCreate, f.proto, (f.src, f.sport), outside, (port, port));
        }
        if let Some(x) = self.mappings.get_mut(m as usize) {
            *x = Mapping {
                inside: f.src,
                in_port: f.sport,
                out_port: port,
                proto: f.proto,
                addr,
                subscriber: sub,
                sessions: 0,
                first: NIL,
                fixed: false,
            };
        }
        if let Some(s) = self.subs.get_mut(sub as usize) {
            s.ports += 1;
        }
        self.map_in.insert_vacant(at, m);
        self.map_out.insert_later(self.h(key3(f.proto, outside, port)), m);
        Ok(m)
    }

    /// A port for subscriber `sub` in protocol `p` from its blocks: `want`
    /// if it is free in one of them (port preservation), else the first
    /// free one in them, else from a new block (the block holding `want`
    /// if free) while the subscriber is under its bound
    /// (`subscriber_ports` rounded up to whole blocks). `Ok(None)`: no
    /// port.
    fn alloc_in_blocks(&mut self, sub: u32, p: usize, want: u16) -> Result<Option<u16>, Refusal> {
        let Some(&(mut s)) = self.subs.get(sub as usize) else { return Ok(None) };
        let a = usize::from(s.addr);
        if let Some(port) = self.addrs.get_mut(a).and_then(|o| o.alloc_in_own(sub, s.first_block, p, want)) {
            return Ok(Some(port));
        }
        let max_blocks = self.rules.subscriber_ports.div_ceil(u32::from(self.rules.port_block).max(1));
        while u32::from(s.blocks) < max_blocks {
            if !self.log_room() {
                return Err(Verdict::Refuse(DropReason::NatLogFull));
            }
            let Some(o) = self.addrs.get_mut(a) else { break };
            let Some(b) = o.take_block(sub, want) else { break };
            if let Some(c) = o.chain.get_mut(b) {
                *c = s.first_block;
            }
            (s.first_block, s.blocks) = (b as u16, s.blocks + 1);
            let (lo, hi) = o.block_range(b);
            // Forwarded ports may fill a block; then another is taken.
            let from = if (lo..=hi).contains(&want) { want } else { lo };
            let found = o.first_free(p, from, (lo, hi)).map(|port| o.take_in_block(p, port, b));
            let outside = o.addr;
            if let Some(x) = self.subs.get_mut(sub as usize) {
                (x.first_block, x.blocks) = (s.first_block, s.blocks);
            }
            self.record(LogEvent::BlockAlloc, 0, (s.inside, 0), outside, (lo, hi));
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Frees block `b` of subscriber `s` (its chain is the caller's to
    /// mend) and records it; the next block in the chain.
    fn release_block(&mut self, s: Subscriber, b: u16) -> u16 {
        let Some(o) = self.addrs.get_mut(usize::from(s.addr)) else { return NO_BLOCK };
        let next = o.chain.get(usize::from(b)).copied().unwrap_or(NO_BLOCK);
        let (range, outside) = (o.block_range(usize::from(b)), o.addr);
        o.free_block(usize::from(b));
        self.record(LogEvent::BlockRelease, 0, (s.inside, 0), outside, range);
        next
    }

    /// Port `port` of protocol `p` on address `a`, held by subscriber
    /// `sub`, is free again. With blocks, a block left empty goes back
    /// unless it is the subscriber's last (that one goes with the
    /// subscriber, which saves a pair of records per sporadic flow).
    fn free_port(&mut self, a: u16, p: usize, port: u16, sub: u32) {
        let Some(o) = self.addrs.get_mut(usize::from(a)) else { return };
        o.set(p, port, false);
        let Some(b) = o.block_of(port) else { return };
        let Some(h) = o.held.get_mut(b) else { return };
        *h = h.saturating_sub(1);
        let Some(&s) = self.subs.get(sub as usize) else { return };
        if *h > 0 || s.blocks <= 1 || o.owner.get(b) != Some(&sub) {
            return;
        }
        // Unlink b from the subscriber's chain.
        let b = b as u16;
        let next = o.chain.get(usize::from(b)).copied().unwrap_or(NO_BLOCK);
        let mut first = s.first_block;
        if first == b {
            first = next;
        } else {
            let mut i = first;
            while let Some(c) = o.chain.get_mut(usize::from(i)) {
                if *c == b {
                    *c = next;
                    break;
                }
                i = *c;
            }
        }
        if let Some(x) = self.subs.get_mut(sub as usize) {
            (x.first_block, x.blocks) = (first, x.blocks - 1);
        }
        self.release_block(s, b);
    }

    /// A free mapping, off the free chain.
    fn pop_mapping(&mut self) -> Option<u32> {
        let m = self.free_mapping;
        let x = self.mappings.get_mut(m as usize)?;
        self.free_mapping = x.first;
        x.first = NIL;
        Some(m)
    }

    /// A mapping's outside address.
    #[inline]
    fn outside_of(&self, m: &Mapping) -> u32 {
        self.addrs.get(usize::from(m.addr)).map_or(0, |o| o.addr)
    }

    /// A subscriber with nothing left is forgotten, and its blocks freed.
    fn release_subscriber(&mut self, sub: u32) {
        let Some(&s) = self.subs.get(sub as usize) else { return };
        if s.sessions == 0 && s.ports == 0 {
            let mut b = s.first_block;
            while b != NO_BLOCK {
                b = self.release_block(s, b);
            }
            if let Some(x) = self.subs.get_mut(sub as usize) {
                (x.first_block, x.blocks) = (NO_BLOCK, 0);
            }
            let k = 2u128 << 120 | u128::from(s.inside) << 64 | u128::from(s.rule);
            self.sub_ix.remove(hash(k, self.seed), sub);
            self.free_sub.push(sub);
        }
    }

    /// A new session of mapping `m` with `remote`:`rem_port`; filed in
    /// `by_inside` at `at` if its lookup there found where.
    fn new_session(
        &mut self,
        m: u32,
        remote: u32,
        rem_port: u16,
        now: u64,
        at: Option<Vacant>,
    ) -> Result<u32, Refusal> {
        let Some(map) = self.mappings.get(m as usize).copied() else {
            return Err(Verdict::Drop(DropReason::NatNoMapping));
        };
        let sub_sessions = self.subs.get(map.subscriber as usize).map_or(0, |s| s.sessions);
        let e = self.free_session;
        if e == NIL || sub_sessions >= self.rules.subscriber_sessions {
            if map.sessions == 0 {
                self.remove_mapping(m);
            }
            return Err(Verdict::Refuse(DropReason::NatSessionLimit));
        }
        let expires = now + self.timeout(map.proto, 0);
        let outside = self.outside_of(&map);
        let Some(s) = self.sessions.get_mut(e as usize) else { return Err(Verdict::Drop(DropReason::NatNoMapping)) };
        self.free_session = s.next;
        *s = Session {
            inside: map.inside,
            outside,
            remote,
            in_port: map.in_port,
            out_port: map.out_port,
            rem_port,
            proto: map.proto,
            tcp: 0,
            mapping: m,
            next: map.first,
            expires,
        };
        if let Some(x) = self.mappings.get_mut(m as usize) {
            x.first = e;
            x.sessions += 1;
        }
        if let Some(x) = self.subs.get_mut(map.subscriber as usize) {
            x.sessions += 1;
        }
        match at {
            Some(at) => self.by_inside.insert_vacant(at, e),
            None => self.by_inside.insert(self.h(key5(map.proto, map.inside, map.in_port, remote, rem_port)), e),
        }
        self.by_outside.insert_later(self.h(key5(map.proto, outside, map.out_port, remote, rem_port)), e);
        self.wheel.insert(e, expires);
        self.live += 1;
        if let Some(c) = self.counters.created.get_mut(proto_index(map.proto)) {
            *c += 1;
        }
        Ok(e)
    }

    fn remove_mapping(&mut self, m: u32) {
        let Some(map) = self.mappings.get(m as usize).copied() else { return };
        self.map_in.remove(self.h(key3(map.proto, map.inside, map.in_port)), m);
        let outside = self.outside_of(&map);
        self.map_out.remove(self.h(key3(map.proto, outside, map.out_port)), m);
        if map.fixed {
            if let Some(o) = self.addrs.get_mut(usize::from(map.addr)) {
                o.set(proto_index(map.proto), map.out_port, false);
            }
        } else {
            self.free_port(map.addr, proto_index(map.proto), map.out_port, map.subscriber);
            if self.rules.port_block == 0 {
                let (inside, port) = ((map.inside, map.in_port), map.out_port);
                self.record(LogEvent::MappingDelete, map.proto, inside, outside, (port, port));
            }
        }
        if let Some(s) = self.subs.get_mut(map.subscriber as usize) {
            s.ports = s.ports.saturating_sub(1);
        }
        if let Some(x) = self.mappings.get_mut(m as usize) {
            x.first = self.free_mapping;
            self.free_mapping = m;
        }
        self.release_subscriber(map.subscriber);
    }

    fn remove_session(&mut self, e: u32, on_wheel: bool) {
        let Some(s) = self.sessions.get(e as usize).copied() else { return };
        if s.proto == 0 {
            return;
        }
        if on_wheel {
            self.wheel.remove(e);
        }
        self.by_inside.remove(self.h(key5(s.proto, s.inside, s.in_port, s.remote, s.rem_port)), e);
        self.by_outside.remove(self.h(key5(s.proto, s.outside, s.out_port, s.remote, s.rem_port)), e);
        // Unlink from the mapping's list.
        let m = s.mapping;
        let first = self.mappings.get(m as usize).map_or(NIL, |x| x.first);
        if first == e {
            if let Some(x) = self.mappings.get_mut(m as usize) {
                x.first = s.next;
            }
        } else {
            let mut i = first;
            while let Some(x) = self.sessions.get(i as usize) {
                if x.next == e {
                    if let Some(x) = self.sessions.get_mut(i as usize) {
                        x.next = s.next;
                    }
                    break;
                }
                i = x.next;
            }
        }
        let (left, sub) = match self.mappings.get_mut(m as usize) {
            // A port forward outlives its sessions.
            Some(x) if x.fixed => {
                x.sessions = x.sessions.saturating_sub(1);
                (1, NIL)
            }
            Some(x) => {
                x.sessions = x.sessions.saturating_sub(1);
                (x.sessions, x.subscriber)
            }
            None => (1, NIL),
        };
        if let Some(x) = self.subs.get_mut(sub as usize) {
            x.sessions = x.sessions.saturating_sub(1);
        }
        if let Some(x) = self.sessions.get_mut(e as usize) {
            *x = Session { next: self.free_session, ..Session::default() };
        }
        self.free_session = e;
        self.live = self.live.saturating_sub(1);
        if left == 0 {
            self.remove_mapping(m);
        } else {
            self.release_subscriber(sub);
        }
    }

    /// Address-dependent filtering: has the mapping's inside endpoint
    /// sent to `remote` (any port)?
    fn has_sent_to(&self, m: u32, remote: u32) -> bool {
        let mut i = self.mappings.get(m as usize).map_or(NIL, |x| x.first);
        while let Some(s) = self.sessions.get(i as usize) {
            if s.remote == remote {
                return true;
            }
            i = s.next;
        }
        false
    }

    /// What outside address `a` is to us, if anything. (Always inlined,
    /// as [`Nat::static_by_inside`] and [`Nat::rule_for`]: every
    /// packet of the fast path asks, and most get a no from the filter
    /// or the first rule, cheaper than the call; the three inlined
    /// measured 3% more packets a second.)
    #[inline(always)]
    fn target(&self, a: u32) -> Option<Target> {
        if !self.targets_filter.may_hold(a) {
            return None;
        }
        self.targets.binary_search_by_key(&a, |t| t.0).ok().and_then(|i| self.targets.get(i)).map(|t| t.1)
    }

    /// The static mapping whose inside address is `a`.
    #[inline(always)]
    fn static_by_inside(&self, a: u32) -> Option<Static> {
        if !self.static_filter.may_hold(a) {
            return None;
        }
        let i = self.static_in.binary_search_by_key(&a, |s| s.0).ok()?;
        self.static_in.get(i).and_then(|s| self.rules.statics.get(usize::from(s.1))).copied()
    }

    /// The inbound session for flow `f` to one of our outside addresses:
    /// found, or made under an existing mapping if filtering lets it in.
    /// `Ok(None)`: no mapping at all.
    fn inbound(&mut self, f: &Flow, now: u64) -> Result<Option<u32>, Verdict> {
        if let Some(e) = self.find_out(key5(f.proto, f.dst, f.dport, f.src, f.sport)) {
            self.touch(e, f.kind, false, now);
            return Ok(Some(e));
        }
        let Some(m) = self.find_map_out(f.proto, f.dst, f.dport) else { return Ok(None) };
        let fixed = self.mappings.get(m as usize).is_some_and(|x| x.fixed);
        if self.rules.filtering == Filtering::AddressDependent && !fixed && !self.has_sent_to(m, f.src) {
            return Err(Verdict::Drop(DropReason::NatFiltered));
        }
        // A new TCP conversation from outside must open with a SYN.
        if matches!(f.kind, Kind::Tcp(fl) if fl & SYN == 0) || f.kind == Kind::Echo(false) {
            return Err(Verdict::Drop(DropReason::NatNoMapping));
        }
        let e =
            self.new_session(m, f.src, f.sport, now, None).map_err(|_| Verdict::Drop(DropReason::NatSessionLimit))?;
        self.touch(e, f.kind, false, now);
        Ok(Some(e))
    }

    /// Translates an ICMP error about session `e` (RFC 5508 REQ-3):
    /// towards the inside (`End::Dst`) or out of it (`End::Src`). Errors
    /// about no session, or failing their checksum, are dropped.
    fn translate_error(&mut self, ip: &mut [u8], e: Option<u32>, outer: End) -> Verdict {
        let Some(s) = e.and_then(|e| self.session(e)) else { return Verdict::Drop(DropReason::NatIcmpUnmapped) };
        if !packet::icmp_checksum_ok(ip) {
            return Verdict::Drop(DropReason::NatIcmpUnmapped);
        }
        let (addr, port) = if outer == End::Dst { (s.inside, s.in_port) } else { (s.outside, s.out_port) };
        packet::rewrite_icmp_error(ip, outer, addr, addr, port);
        self.counters.translated += 1;
        Verdict::Pass
    }

    /// The flow of a packet the fast path may translate: a whole packet
    /// of this worker's (not handed over), of a TCP, UDP or echo flow.
    #[inline(always)]
    fn fast_flow(&self, p: &FiveTuple) -> Option<Flow> {
        if self.handed.is_some() || !p.whole {
            return None;
        }
        Some(packet::flow_of(p))
    }

    /// The rewrite session `e` makes to an outbound packet's source, or
    /// an inbound one's destination (built in place: a copy of the
    /// session returned and read back stalls on store forwarding).
    #[inline(always)]
    fn rewrite_to(&self, e: u32, outbound: bool) -> FastNat {
        let Some(s) = self.sessions.get(e as usize) else { return FastNat::Slow };
        let (addr, port) = if outbound { (s.outside, s.out_port) } else { (s.inside, s.in_port) };
        FastNat::Rewrite { entry: e, addr, port }
    }

    /// [`Translator::fast_post`] for a packet of new flow `f` (under rule
    /// `ri`, if any; its session key goes at `at` in `by_inside`): its
    /// session made as `outbound` makes it, or the hook's refusal. (Out
    /// of line: a session made costs far more than the call, and the
    /// steady path's loop stays small; measured even both ways.)
    #[inline(never)]
    fn fast_new(&mut self, ri: Option<usize>, f: Flow, at: Vacant, now: u64) -> FastNat {
        self.now = now;
        match self.new_outbound(ri, &f, at, now) {
            Ok(Some(e)) => self.rewrite_to(e, true),
            Ok(None) => FastNat::Untouched,
            Err(Verdict::Refuse(r)) => FastNat::Refuse(r),
            Err(Verdict::Drop(r)) => FastNat::Drop(r),
            // (Making a session refuses or drops, nothing else.)
            Err(_) => FastNat::Drop(DropReason::NatNoMapping),
        }
    }

    /// [`Translator::fast_post`]'s look: what `postrouting` would do with
    /// `p` leaving through `out`, without a change but a new flow's
    /// session, made with `make`.
    #[inline(always)]
    fn fast_post_look(&mut self, out: u16, p: &FiveTuple, make: bool, now: u64) -> FastNat {
        let src = p.src;
        if self.static_by_inside(src).is_some_and(|st| st.interface == out) {
            return FastNat::Slow;
        }
        let ri = self.rule_for(out, src);
        if ri.is_none() && self.forward_in.binary_search(&src).is_err() {
            return FastNat::Untouched;
        }
        if self.workers > 1 && self.owner_in(src) != self.worker {
            return FastNat::Slow;
        }
        let Some(f) = self.fast_flow(p) else { return FastNat::Slow };
        let k = key5(f.proto, f.src, f.sport, f.dst, f.dport);
        let h = self.hinted_as(&f).map_or_else(|| self.h(k), |a| a.h);
        match self.find_in_or_vacant_by(k, h) {
            Ok(e) => self.rewrite_to(e, true),
            Err(_) if !make => FastNat::New,
            Err(at) => self.fast_new(ri, f, at, now),
        }
    }

    fn session(&self, e: u32) -> Option<Session> {
        self.sessions.get(e as usize).copied()
    }

    /// Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8): a packet from the
    /// inside to an outside address gets its source translated as if it
    /// had left, before its destination is. The outside source, or
    /// `None` when the source is not an inside one.
    fn hairpin_source(&mut self, f: &Flow, now: u64) -> Result<Option<(u32, u16)>, Verdict> {
        if let Some(st) = self.static_by_inside(f.src) {
            return Ok(Some((st.outside.into(), f.sport)));
        }
        let ri = self.inside.iter().position(|r| r.matches(f.src));
        if ri.is_none() && self.forward_in.binary_search(&f.src).is_err() {
            return Ok(None);
        }
        let e = self.outbound(ri, f, now)?;
        Ok(e.and_then(|e| self.session(e)).map(|s| (s.outside, s.out_port)))
    }

    /// Inbound through a static mapping: the destination becomes the
    /// inside address, ports kept (and the source translated first if it
    /// is an inside one).
    fn static_inbound(&mut self, st: Static, ip: &mut [u8], now: u64) -> Verdict {
        // Forwarded to the inside host: a spent TTL is answered untranslated.
        if packet::ttl(ip) <= 1 {
            return Verdict::Expire;
        }
        let inside = u32::from(st.inside);
        match packet::flow(ip) {
            Ok(f) if f.kind == Kind::IcmpError => {
                // About a packet the inside host sent: its source is ours.
                if f.src != u32::from(st.outside) || !packet::icmp_checksum_ok(ip) {
                    return Verdict::Drop(DropReason::NatIcmpUnmapped);
                }
                packet::rewrite_icmp_error(ip, End::Dst, inside, inside, kept_port(&f, End::Src));
            }
            Ok(f) => {
                match self.hairpin_source(&f, now) {
                    Ok(Some((a, p))) => {
                        packet::rewrite(ip, End::Src, a, p);
                        self.counters.hairpins += 1;
                    }
                    Ok(None) => {}
                    Err(v) => return v,
                }
                packet::rewrite_addr(ip, End::Dst, inside);
            }
            // Later fragments, other protocols: the address alone.
            Err(_) => packet::rewrite_addr(ip, End::Dst, inside),
        }
        self.counters.translated += 1;
        Verdict::Pass
    }

    /// Outbound through a static mapping: the source becomes the outside
    /// address, ports kept.
    fn static_outbound(&mut self, st: Static, ip: &mut [u8]) -> Verdict {
        let outside = u32::from(st.outside);
        match packet::flow(ip) {
            Ok(f) if f.kind == Kind::IcmpError => {
                // About a packet that came in to the inside host.
                if f.dst != u32::from(st.inside) || !packet::icmp_checksum_ok(ip) {
                    return Verdict::Drop(DropReason::NatIcmpUnmapped);
                }
                packet::rewrite_icmp_error(ip, End::Src, outside, outside, kept_port(&f, End::Dst));
            }
            _ => packet::rewrite_addr(ip, End::Src, outside),
        }
        self.counters.translated += 1;
        Verdict::Pass
    }
}

/// The port a static mapping keeps at `end` of a quoted flow: for an
/// echo, its identifier, whichever end it names.
fn kept_port(f: &Flow, end: End) -> u16 {
    match (f.proto, end) {
        (ICMP, _) => f.sport | f.dport,
        (_, End::Src) => f.sport,
        (_, End::Dst) => f.dport,
    }
}

fn is_local(t: &Tables, a: u32) -> bool {
    matches!(t.fib.lookup(Ipv4Addr::from(a)), Some(RouteTarget::Local { .. }))
}

impl Translator for Nat {
    fn prerouting(&mut self, t: &Tables, ip: &mut [u8], now: u64) -> Verdict {
        self.now = now;
        let Some(dst) = packet::addr(ip, End::Dst) else {
            return Verdict::Pass;
        };
        match self.target(dst) {
            None => Verdict::Pass,
            Some(Target::Static(i)) => match self.rules.statics.get(usize::from(i)).copied() {
                Some(st) => self.static_inbound(st, ip, now),
                None => Verdict::Pass,
            },
            Some(Target::Pool(_)) => match packet::frag(ip) {
                Frag::Whole => self.inbound_to_pool(t, ip, dst, now),
                Frag::First => {
                    let datagram = packet::datagram(ip);
                    let v = self.inbound_to_pool(t, ip, dst, now);
                    self.remember(IN, datagram, ip, v, now);
                    v
                }
                Frag::Later { offset } => self.later_fragment(IN, ip, offset, now),
            },
        }
    }

    fn postrouting(&mut self, _t: &Tables, out: u16, ip: &mut [u8], now: u64) -> Verdict {
        self.now = now;
        let Some(src) = packet::addr(ip, End::Src) else {
            return Verdict::Pass;
        };
        if let Some(st) = self.static_by_inside(src) {
            if st.interface == out {
                return self.static_outbound(st, ip);
            }
        }
        let ri = self.rule_for(out, src);
        // Not under a rule: only a port forward's server has sessions.
        if ri.is_none() && self.forward_in.binary_search(&src).is_err() {
            return Verdict::Pass;
        }
        // The subscriber's worker holds its mappings (and its fragments').
        if self.workers > 1 {
            if let Some(v) = self.hand_to(self.owner_in(src)) {
                return v;
            }
        }
        match packet::frag(ip) {
            Frag::Whole => self.outbound_from_inside(ri, ip, now),
            Frag::First => {
                let datagram = packet::datagram(ip);
                let v = self.outbound_from_inside(ri, ip, now);
                self.remember(OUT, datagram, ip, v, now);
                v
            }
            Frag::Later { offset } => self.later_fragment(OUT, ip, offset, now),
        }
    }

    /// `prerouting`'s road for a packet of an established session to a
    /// pool address (`inbound_to_pool` finding it in `inbound`), looked
    /// at without a change; anything else it would do is `Slow`.
    #[inline(always)]
    fn fast_pre(&self, p: &FiveTuple) -> FastNat {
        match self.target(p.dst) {
            None => FastNat::Untouched,
            Some(Target::Static(_)) => FastNat::Slow,
            Some(Target::Pool(_)) => {
                let Some(f) = self.fast_flow(p) else { return FastNat::Slow };
                let Some(e) = self.find_out(key5(f.proto, f.dst, f.dport, f.src, f.sport)) else {
                    return FastNat::Slow;
                };
                // A source of ours would be hairpinned first; another
                // worker's session is handed over.
                let inside = self.static_by_inside(f.src).is_some() || self.is_inside_source(f.src);
                if inside || (self.workers > 1 && self.owner_out(f.proto, f.dst, f.dport) != self.worker) {
                    return FastNat::Slow;
                }
                self.rewrite_to(e, false)
            }
        }
    }

    /// `postrouting`'s road for a packet of an established session
    /// leaving through `out` (`outbound_from_inside` finding it in
    /// `outbound`), or of no rule's source; for a new flow, when nothing
    /// was found before routing (`pre`), its session made, as `outbound`
    /// makes it (its key filed where this lookup ended), or else
    /// [`FastNat::New`]. Whatever lets the packet go on is done at once:
    /// the session found (here or by `fast_pre`) refreshed and `ip`
    /// rewritten (a hairpin, which both would rewrite, is left to the
    /// full path).
    #[inline(always)]
    fn fast_post(&mut self, out: u16, ip: &mut [u8], p: &FiveTuple, pre: FastNat, now: u64) -> FastNat {
        let post = self.fast_post_look(out, p, matches!(pre, FastNat::Untouched), now);
        match (pre, post) {
            (FastNat::Rewrite { .. }, FastNat::Rewrite { .. }) => return FastNat::Slow,
            (_, FastNat::Untouched | FastNat::Rewrite { .. }) => {}
            _ => return post,
        }
        self.now = now;
        let kind = packet::flow_of(p).kind;
        let (end, found, outbound) = match (pre, post) {
            (_, FastNat::Rewrite { entry, addr, port }) => (End::Src, (entry, addr, port), true),
            (FastNat::Rewrite { entry, addr, port }, _) => (End::Dst, (entry, addr, port), false),
            _ => return post,
        };
        let (entry, addr, port) = found;
        self.touch(entry, kind, outbound, now);
        packet::rewrite_plain(ip, p, end, addr, port);
        self.counters.translated += 1;
        post
    }
    #[inline(always)]
    fn generation(&self) -> u64 {
        self.generation
    }

    /// The session must still be `p`'s flow's, translated the same way
    /// (its slot may have been freed and taken by another since).
    #[inline(always)]
    fn fast_refresh(&mut self, e: u32, p: &FiveTuple, outbound: bool, addr: u32, port: u16, now: u64) -> bool {
        let Some(s) = self.sessions.get(e as usize) else { return false };
        let same = if outbound {
            s.key_in() == key5(p.proto, p.src, p.sport, p.dst, p.dport) && s.outside == addr && s.out_port == port
        } else {
            s.key_out() == key5(p.proto, p.dst, p.dport, p.src, p.sport) && s.inside == addr && s.in_port == port
        };
        if !same {
            return false;
        }
        self.now = now;
        self.touch(e, packet::flow_of(p).kind, outbound, now);
        self.counters.translated += 1;
        true
    }

    /// Every refresh keeps a session the hold longer than its timeout
    /// (`touch`; `fast_post` has just refreshed this one, if its packets
    /// refresh it), so a flow's packets the cache carries after one (for
    /// at most the hold) are covered by it: the session ends no sooner
    /// than its timeout after the flow's last packet. Until then it stays
    /// the flow's: it ends only when it expires, or when the generation
    /// changes (rules, a delete), and no refresh brings its end nearer
    /// than the shortest timeout, of which the hold is at most half. A
    /// flow whose packets do not refresh its session (UDP and ICMP
    /// inbound, RFC 4787 REQ-6) is held until the session expires at the
    /// latest.
    #[inline]
    fn fast_hold(&self, e: u32, outbound: bool, now: u64) -> u64 {
        match self.sessions.get(e as usize) {
            Some(s) if s.proto == TCP || (outbound && s.proto != 0) => self.hold,
            Some(s) if s.proto != 0 => self.hold.min(s.expires.saturating_sub(now)),
            _ => 0,
        }
    }

    #[inline(always)]
    fn fast_translated(&mut self, n: u64) {
        self.counters.translated += n;
    }

    /// While flows are being made (some sessions were since the last
    /// burst): each new flow's lookups miss the cache (its index slots
    /// were never read), and overlapping them across the burst pays
    /// (measured: ~15% more new sessions a second). Established traffic
    /// alone goes without: with its sessions in cache the hints cost
    /// ~12% of the steady rate (`benches/run.sh nat44`).
    #[inline(always)]
    fn lookahead(&mut self) -> bool {
        let made = self.counters.created.iter().sum::<u64>();
        let making = made != self.made_seen;
        self.made_seen = made;
        self.hinting = making;
        if !making {
            // Sessions made in the last burst have their slots written by
            // now (lookups would otherwise check the inserts waiting).
            self.map_out.flush();
            self.by_outside.flush();
        }
        making
    }

    /// The first hint: the index slot the session lookup of `ip`'s flow
    /// starts at (by outside endpoint if it is addressed to one of ours,
    /// else by inside endpoint), and for an outbound flow the slots its
    /// mapping's and its subscriber's lookups start at (a new flow looks
    /// both up), remembered under `at`.
    #[inline(always)]
    fn prefetch(&mut self, ip: &[u8], at: usize) {
        let Some(a) = self.ahead.get_mut(at % AHEAD_SLOTS) else { return };
        *a = Ahead::NONE;
        let Some((proto, src, sport, dst, dport)) = packet::hint_tuple(ip) else { return };
        if self.targets_filter.may_hold(dst) {
            let h = hash(key5(proto, dst, dport, src, sport), self.seed);
            self.by_outside.prefetch(h);
            *a = Ahead { h, index: 2, ..Ahead::NONE };
            return;
        }
        let h = hash(key5(proto, src, sport, dst, dport), self.seed);
        let map = hash(key3(proto, src, sport), self.seed);
        self.by_inside.prefetch(h);
        self.map_in.prefetch(map);
        let ri = self.inside.iter().position(|r| r.matches(src)).unwrap_or(0);
        let sub = hash(sub_key(src, ri), self.seed);
        self.sub_ix.prefetch(sub);
        *a = Ahead { h, index: 1, proto, sport, dport, src, dst, map, sub, rule: ri as u16 };
    }

    /// The second hint, once those slots are in: the session the first
    /// names; or, for an outbound flow with none there (a new flow, most
    /// likely), its mapping, or else its subscriber.
    #[inline(always)]
    fn prefetch_more(&mut self, at: usize) {
        let Some(&a) = self.ahead.get(at % AHEAD_SLOTS) else { return };
        let slot = match a.index {
            1 => self.by_inside.slot(a.h),
            2 => self.by_outside.slot(a.h),
            _ => return,
        };
        if let Some(e) = slot {
            if let Some(x) = self.sessions.get(e as usize) {
                prefetch::prefetch(x);
            }
            return;
        }
        if a.index != 1 {
            return;
        }
        if let Some(m) = self.map_in.slot(a.map) {
            if let Some(x) = self.mappings.get(m as usize) {
                prefetch::prefetch(x);
            }
        } else if let Some(s) = self.sub_ix.slot(a.sub) {
            if let Some(x) = self.subs.get(s as usize) {
                prefetch::prefetch(x);
            }
        }
    }

    /// The frame at burst place `at` is next: its lookups may take the
    /// hashes its first hint made.
    #[inline(always)]
    fn next_frame(&mut self, at: usize) {
        self.hinted = at;
    }

    /// No rules, forwards or static mappings: nothing to translate, and
    /// every session went with the last rule.
    #[inline(always)]
    fn is_idle(&self) -> bool {
        self.rules.rules.is_empty() && self.rules.forwards.is_empty() && self.rules.statics.is_empty()
    }

    #[inline(always)]
    fn take_release(&mut self) -> bool {
        std::mem::take(&mut self.release)
    }

    #[inline(always)]
    fn set_handed(&mut self, tag: Option<u8>) {
        self.handed = tag;
    }
}

impl Nat {
    /// Inbound to one of the pool's (or forwards') addresses.
    fn inbound_to_pool(&mut self, t: &Tables, ip: &mut [u8], dst: u32, now: u64) -> Verdict {
        let f = match packet::flow(ip) {
            Ok(f) => f,
            Err(_) if is_local(t, dst) => return Verdict::Pass,
            Err(r) => return Verdict::Drop(r),
        };
        let many = self.workers > 1;
        if f.kind == Kind::IcmpError {
            // RFC 5508 REQ-3: about one of our sessions, with a good
            // checksum, or dropped. The quoted packet left through us:
            // its source is the outside endpoint.
            if many {
                if let Some(v) = self.hand_to(self.owner_out(f.proto, f.src, f.sport)) {
                    return v;
                }
            }
            let e = self.find_out(key5(f.proto, f.src, f.sport, f.dst, f.dport));
            return self.translate_error(ip, e, End::Dst);
        }
        if many {
            if let Some(v) = self.hand_to(self.owner_out(f.proto, f.dst, f.dport)) {
                return v;
            }
        }
        let mut f = f;
        let mut hairpin = false;
        match self.handed {
            // The destination's owner found a hairpin whose source this
            // worker owns: translate the source, then hand it back.
            Some(HANDED_HAIRPIN_SOURCE) => {
                if packet::ttl(ip) <= 1 {
                    return Verdict::Expire;
                }
                match self.hairpin_source(&f, now) {
                    Ok(Some((a, p))) => {
                        packet::rewrite(ip, End::Src, a, p);
                        self.counters.hairpins += 1;
                        (f.src, f.sport) = (a, p);
                    }
                    Ok(None) => {}
                    Err(v) => return v,
                }
                let d = self.owner_out(f.proto, f.dst, f.dport);
                if d != self.worker {
                    return Verdict::Handoff { worker: d, tag: HANDED_DEST_ONLY };
                }
            }
            Some(HANDED_DEST_ONLY) => {}
            // Hairpinning, when there is a mapping to reach (traffic from
            // the inside to the gateway's own address is not translated).
            _ if self.find_map_out(f.proto, f.dst, f.dport).is_some() => {
                if many && self.static_by_inside(f.src).is_none() && self.is_inside_source(f.src) {
                    let s = self.owner_in(f.src);
                    if s != self.worker {
                        return Verdict::Handoff { worker: s, tag: HANDED_HAIRPIN_SOURCE };
                    }
                }
                match self.hairpin_source(&f, now) {
                    Ok(Some((a, p))) => {
                        (f.src, f.sport) = (a, p);
                        hairpin = true;
                    }
                    Ok(None) => {}
                    Err(v) => return v,
                }
            }
            _ => {}
        }
        match self.inbound(&f, now) {
            Ok(Some(_)) if packet::ttl(ip) <= 1 => Verdict::Expire,
            Ok(Some(e)) => {
                let Some(s) = self.session(e) else { return Verdict::Drop(DropReason::NatNoMapping) };
                if hairpin {
                    packet::rewrite(ip, End::Src, f.src, f.sport);
                    self.counters.hairpins += 1;
                }
                packet::rewrite(ip, End::Dst, s.inside, s.in_port);
                self.counters.translated += 1;
                Verdict::Pass
            }
            // No mapping: the gateway's own address answers for itself
            // (ping, port unreachable), except that an unsolicited SYN is
            // never answered (RFC 5382 REQ-4).
            Ok(None) if is_local(t, dst) && !matches!(f.kind, Kind::Tcp(fl) if fl & SYN != 0) => Verdict::Pass,
            Ok(None) => Verdict::Drop(DropReason::NatNoMapping),
            Err(v) => v,
        }
    }

    /// Outbound from an inside host under rule `ri` (or a forward's
    /// server, `None`).
    fn outbound_from_inside(&mut self, ri: Option<usize>, ip: &mut [u8], now: u64) -> Verdict {
        let f = match packet::flow(ip) {
            Ok(f) => f,
            Err(_) if ri.is_none() => return Verdict::Pass,
            Err(r) => return Verdict::Drop(r),
        };
        if f.kind == Kind::IcmpError {
            // An inside host's error about a packet that came in through
            // us: the quoted packet's destination is the inside endpoint.
            let e = self.find_in(key5(f.proto, f.dst, f.dport, f.src, f.sport));
            if e.is_none() && ri.is_none() {
                return Verdict::Pass;
            }
            return self.translate_error(ip, e, End::Src);
        }
        match self.outbound(ri, &f, now) {
            Ok(Some(e)) => {
                let Some(s) = self.session(e) else { return Verdict::Drop(DropReason::NatNoMapping) };
                packet::rewrite(ip, End::Src, s.outside, s.out_port);
                self.counters.translated += 1;
                Verdict::Pass
            }
            Ok(None) => Verdict::Pass,
            Err(v) => v,
        }
    }

    /// The record slot of a datagram.
    #[inline]
    fn frag_slot(&self, dir: u8, (src, dst, proto, id): (u32, u32, u8, u16)) -> usize {
        let k = 3u128 << 120 | u128::from(dir) << 112 | u128::from(proto) << 96 | u128::from(src) << 64;
        let k = k | u128::from(dst) << 32 | u128::from(id);
        hash(k, self.seed) as usize & (self.frags.len() - 1)
    }

    /// A first fragment went through with verdict `v`: if it passes, its
    /// datagram's later fragments get the same addresses (RFC 4787
    /// REQ-14), and any held for it may go.
    fn remember(&mut self, dir: u8, datagram: (u32, u32, u8, u16), ip: &[u8], v: Verdict, now: u64) {
        let partial = match v {
            Verdict::Pass => false,
            // A hairpin's source translated here, its destination next.
            Verdict::Handoff { tag: HANDED_DEST_ONLY, .. } => true,
            _ => return,
        };
        let (to_src, to_dst, _, _) = packet::datagram(ip);
        let (src, dst, proto, id) = datagram;
        let i = self.frag_slot(dir, datagram);
        let r = FragRecord { dir, proto, id, src, dst, to_src, to_dst, expires: now + FRAGMENT_TTL, partial };
        if let Some(x) = self.frags.get_mut(i) {
            *x = r;
            self.release = true;
        }
        // Later fragments of an inbound datagram may reach any worker.
        if dir == IN {
            for (w, q) in self.frag_peers.iter().enumerate() {
                if w != usize::from(self.worker) {
                    let _ = q.push(r); // a full inbox: that worker holds, then drops
                }
            }
        }
    }

    /// The slot of a live record for this datagram, if there is one.
    fn frag_find(&self, dir: u8, datagram: (u32, u32, u8, u16), now: u64) -> Option<usize> {
        let (src, dst, proto, id) = datagram;
        let i = self.frag_slot(dir, datagram);
        let r = self.frags.get(i)?;
        (r.dir == dir && r.src == src && r.dst == dst && r.proto == proto && r.id == id && r.expires > now).then_some(i)
    }

    /// A later fragment: translated as its first fragment was, or held
    /// until that one comes (out of order, RFC 4787 REQ-14).
    fn later_fragment(&mut self, dir: u8, ip: &mut [u8], offset: u16, now: u64) -> Verdict {
        let datagram @ (src, dst, proto, id) = packet::datagram(ip);
        // RFC 1858 §3.2: a fragment at offset 8 bytes can only serve to
        // overwrite the TCP header's flags.
        if proto == TCP && offset == 1 {
            return Verdict::Drop(DropReason::NatFragment);
        }
        let Some(i) = self.frag_find(dir, datagram, now) else { return Verdict::Hold };
        let Some(&r) = self.frags.get(i) else { return Verdict::Hold };
        // A hairpin between workers took two steps: both must be known.
        let last = if r.partial {
            let Some(j) = self.frag_find(dir, (r.to_src, r.to_dst, proto, id), now) else { return Verdict::Hold };
            j
        } else {
            i
        };
        let Some(&end) = self.frags.get(last) else { return Verdict::Hold };
        let (to_src, to_dst) = (end.to_src, end.to_dst);
        if dir == IN && to_dst != dst && packet::ttl(ip) <= 1 {
            return Verdict::Expire; // dropped: no error about a later fragment
        }
        for k in [i, last] {
            if let Some(x) = self.frags.get_mut(k) {
                x.expires = now + FRAGMENT_TTL;
            }
        }
        if to_src != src {
            packet::rewrite_addr(ip, End::Src, to_src);
        }
        if to_dst != dst {
            packet::rewrite_addr(ip, End::Dst, to_dst);
        }
        self.counters.translated += 1;
        self.counters.fragments += 1;
        Verdict::Pass
    }
}

#[cfg(test)]
mod outside_tests {
    use super::Outside;

    #[test]
    fn peek_names_the_port_alloc_hands_out() {
        // A small range, so the cursor wraps and ports run out.
        let mut o = Outside::new(0x6440_0001, (1024, 1151), 0);
        let wants = (0..200u16).map(|i| [1024 + i % 7, 1100 + i % 3, 80, 1151][usize::from(i) % 4]);
        for want in wants {
            let peeked = o.peek(1, want);
            assert_eq!(o.alloc(1, want), peeked, "want {want}");
        }
        assert_eq!(o.peek(1, 1024), None, "all 128 ports taken");
        assert_eq!(o.peek(0, 1024), Some(1024), "another protocol's ports are its own");
    }

    #[test]
    fn first_free_finds_what_a_port_by_port_search_finds() {
        // Ranges within, across and at the ends of bitmap words, filled
        // to every degree (a cheap generator: no two runs alike).
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for (lo, hi) in [(1024, 1151), (1000, 1030), (60, 200), (0, 63), (65000, 65535), (5, 5)] {
            for fill in [0u64, 30, 60, 95, 100] {
                let mut o = Outside::new(0x6440_0001, (lo, hi), 0);
                for port in lo..=hi {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % 100 < fill {
                        o.set(0, port, true);
                    }
                }
                for from in [lo, hi, lo.midpoint(hi), lo.saturating_sub(3), hi.saturating_add(3)] {
                    let start = from.clamp(lo, hi);
                    let slow = (start..=hi).chain(lo..start).find(|&p| !o.taken(0, p));
                    assert_eq!(o.first_free(0, from, (lo, hi)), slow, "{lo}..={hi} from {from}, {fill}% used");
                }
            }
        }
    }
}
