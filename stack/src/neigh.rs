//! The neighbor cache for ARP (RFC 826, with the reachability states of
//! RFC 1122 §2.3.2.1 and Linux's neighbor subsystem) and IPv6 Neighbor
//! Discovery (RFC 4861 §7.3). One table holds both families, so one bound
//! covers them and one dump lists them.
//!
//! One cache per worker, sized at construction: a fixed slot array with
//! linear probing, a fixed queue of waiting packets per entry, and nothing
//! that allocates, locks or panics afterwards. Time is injected (`now`, in
//! nanoseconds) so every timeout is testable.
//!
//! States:
//! - `Incomplete`: a request is out; packets wait in the entry's queue. The
//!   request is retried every `retry_interval`, `max_probes` times in all,
//!   then the entry is removed and its packets are handed back so the
//!   router can answer them with Host Unreachable.
//! - `Reachable`: confirmed by a reply within `reachable_time`.
//! - `Stale`: the MAC is still used, but the first use sends a unicast
//!   probe (`Probe` state); no reply after `max_probes` removes the entry.
//!   IPv6 entries first wait in `Delay` for `delay_first_probe` (RFC 4861
//!   §7.3.3: DELAY_FIRST_PROBE_TIME, 5 s) before probing, as upper layers
//!   may confirm reachability meanwhile.
//! - `Static`: from the config; never ages.
//!
//! Learning (RFC 826's "merge" step, narrowed): a reply to our request
//! completes or refreshes an entry; a request aimed at one of our
//! addresses creates a `Stale` entry for its sender (the answer will need
//! it); any other ARP only updates an entry we already have, never
//! creates one. Entries unused for `gc_time` are removed.
//!
//! What outside traffic can make is bounded apart from what it cannot
//! (RFC 6583 §7.2): per interface, at most `incomplete_limit` entries
//! wait for a reply (a scan of a connected /64 from the WAN makes these)
//! and at most `unconfirmed_limit` were learned from requests and never
//! confirmed by a reply (a flood of on-link senders makes these). Each
//! class is a list in arrival order; a new entry over its class's bound
//! evicts the oldest of that class on that interface, and never an entry
//! a reply confirmed. New resolutions are rate limited per interface
//! (`solicit_rate`), so a scan also cannot turn into a solicitation flood.
//! When the whole table is full, a new entry takes the place of the
//! oldest of its class on its interface, or is refused.

use crate::drop::DropReason;
use crate::icmp::RateLimiter;
use crate::iface::MAX_IFACES;
use crate::wire::MacAddr;
use std::net::IpAddr;

/// Tunables of the cache, all times in nanoseconds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NeighborConfig {
    /// Most entries the cache holds.
    pub capacity: usize,
    /// Most packets waiting for one neighbor's resolution.
    pub queue_len: usize,
    /// Requests sent before a neighbor is declared unreachable.
    pub max_probes: u8,
    /// Time between requests.
    pub retry_interval: u64,
    /// How long a reply keeps an entry `Reachable`.
    pub reachable_time: u64,
    /// Entries unused for this long are removed.
    pub gc_time: u64,
    /// How long a stale IPv6 entry waits in `Delay` before its first
    /// unicast probe (RFC 4861 §10: DELAY_FIRST_PROBE_TIME).
    pub delay_first_probe: u64,
    /// Most entries per interface waiting for a reply (`Incomplete`).
    pub incomplete_limit: usize,
    /// Most entries per interface learned from a request and not yet
    /// confirmed by a reply.
    pub unconfirmed_limit: usize,
    /// New resolutions (a first request or solicitation) per second per
    /// interface, in bursts of up to a tenth of that.
    pub solicit_rate: u32,
}

impl Default for NeighborConfig {
    fn default() -> Self {
        NeighborConfig {
            capacity: 4096,
            queue_len: 8,
            max_probes: 3,
            retry_interval: 1_000_000_000,
            reachable_time: 30_000_000_000,
            gc_time: 600_000_000_000,
            delay_first_probe: 5_000_000_000,
            incomplete_limit: 256,
            unconfirmed_limit: 512,
            solicit_rate: 1000,
        }
    }
}

impl NeighborConfig {
    fn solicit_burst(&self) -> u32 {
        (self.solicit_rate / 10).max(1)
    }

    fn limit(&self, list: usize) -> usize {
        if list == RESOLVING {
            self.incomplete_limit
        } else {
            self.unconfirmed_limit
        }
    }
}

/// Reachability state of an entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Static,
}

/// What a lookup found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Use this MAC; if `probe`, also send a unicast request to it.
    Hit { mac: MacAddr, probe: bool },
    /// Unknown or still incomplete: enqueue the packet.
    Miss,
}

/// How an ARP packet relates to us, for learning.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Learn {
    /// A reply to one of our addresses.
    Reply,
    /// A request for one of our addresses.
    RequestToUs,
    /// Any other ARP (gratuitous, for someone else), or a learning passed
    /// on by another worker: updates only.
    Other,
}

/// Timer work the cache hands back to the router.
#[derive(Debug)]
pub enum Event<B> {
    /// Send a request for `ip` on `ifindex`: broadcast, or unicast to `mac`.
    Probe { ifindex: u16, ip: IpAddr, mac: Option<MacAddr> },
    /// Resolution failed; this packet was waiting for it.
    Unresolved(B),
}

/// A neighbor's identity: the interface and its address.
type Key = (u16, IpAddr);

/// How far an entry is vouched for, which decides its bound.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Trust {
    /// Static, or a reply to our request confirmed it.
    Confirmed,
    /// Our request is out, no answer yet (`Incomplete`).
    Resolving,
    /// Learned from a request to us; nothing confirmed it yet.
    Unconfirmed,
}

/// The per-interface lists of entries that are not confirmed.
const RESOLVING: usize = 0;
const UNCONFIRMED: usize = 1;
const NIL: u32 = u32::MAX;

impl Trust {
    fn list(self) -> Option<usize> {
        match self {
            Trust::Confirmed => None,
            Trust::Resolving => Some(RESOLVING),
            Trust::Unconfirmed => Some(UNCONFIRMED),
        }
    }
}

/// A list of slots in arrival order, linked through the slots.
#[derive(Copy, Clone)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

/// What one interface may hold of unconfirmed entries, and its budget of
/// new resolutions.
struct IfBounds {
    lists: [List; 2],
    solicit: RateLimiter,
}

struct Slot<B> {
    /// `None`: empty.
    key: Option<Key>,
    mac: MacAddr,
    state: State,
    trust: Trust,
    /// Neighbors in the interface's list for `trust` (`NIL` at the ends).
    prev: u32,
    next: u32,
    probes: u8,
    next_probe: u64,
    confirmed: u64,
    used: u64,
    queue: Box<[Option<B>]>,
    queued: usize,
}

impl<B> Slot<B> {
    fn empty(queue_len: usize) -> Self {
        Slot {
            key: None,
            mac: MacAddr::ZERO,
            state: State::Incomplete,
            trust: Trust::Confirmed,
            prev: NIL,
            next: NIL,
            probes: 0,
            next_probe: 0,
            confirmed: 0,
            used: 0,
            queue: (0..queue_len).map(|_| None).collect(),
            queued: 0,
        }
    }
}

/// A neighbor as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NeighborInfo {
    pub ifindex: u16,
    pub ip: IpAddr,
    pub mac: MacAddr,
    pub state: State,
}

/// A usable neighbor as the router's fast path caches it
/// ([`NeighborCache::resolved`]): valid while the cache's
/// [`NeighborCache::generation`] is unchanged and the time is before
/// `until`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The entry, for [`NeighborCache::touch`].
    pub slot: u32,
    pub mac: MacAddr,
    /// When a lookup would first do more than note the use (a reachable
    /// entry turns stale then); `u64::MAX` for states only a change ends.
    pub until: u64,
}

/// The per-worker neighbor cache.
pub struct NeighborCache<B> {
    cfg: NeighborConfig,
    slots: Box<[Slot<B>]>,
    mask: usize,
    len: usize,
    evict_cursor: usize,
    /// Indexed by interface.
    bounds: Box<[IfBounds]>,
    /// Entries evicted for a newer one of their class (resolving,
    /// unconfirmed).
    evicted: [u64; 2],
    /// Bumped by every change a [`Resolved`] could depend on: an entry
    /// made, moved or removed, a MAC, state or confirmation changed, new
    /// timers.
    generation: u64,
}

#[inline(always)]
fn fold(k: &Key) -> u64 {
    let a = match k.1 {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            (v as u64) ^ ((v >> 64) as u64).rotate_left(17) ^ 1 << 63
        }
    };
    a ^ u64::from(k.0) << 40
}

impl<B> Slot<B> {
    /// When a lookup is a plain hit (the MAC, no state change, no probe):
    /// until when it stays one; `u64::MAX` for states only a change ends.
    #[inline(always)]
    fn plain_hit(&self, reachable: u64, now: u64) -> Option<u64> {
        match self.state {
            State::Static | State::Probe | State::Delay => Some(u64::MAX),
            State::Reachable if now.saturating_sub(self.confirmed) < reachable => {
                Some(self.confirmed.saturating_add(reachable))
            }
            _ => None,
        }
    }

    fn info(&self) -> Option<NeighborInfo> {
        let (ifindex, ip) = self.key?;
        Some(NeighborInfo { ifindex, ip, mac: self.mac, state: self.state })
    }
}

impl<B> NeighborCache<B> {
    /// A cache of `cfg.capacity` entries (all memory allocated here).
    pub fn new(cfg: NeighborConfig) -> Self {
        let nslots = (cfg.capacity.max(1) * 2).next_power_of_two();
        let slots = (0..nslots).map(|_| Slot::empty(cfg.queue_len)).collect();
        let empty = List { head: NIL, tail: NIL, len: 0 };
        let bounds = (0..MAX_IFACES)
            .map(|_| IfBounds { lists: [empty; 2], solicit: RateLimiter::new(cfg.solicit_rate, cfg.solicit_burst()) })
            .collect();
        NeighborCache { cfg, slots, mask: nslots - 1, len: 0, evict_cursor: 0, bounds, evicted: [0; 2], generation: 0 }
    }

    /// Entries evicted so far to make room for a newer one of their kind:
    /// (waiting for a reply, learned and unconfirmed).
    pub fn evictions(&self) -> (u64, u64) {
        (self.evicted[RESOLVING], self.evicted[UNCONFIRMED])
    }

    /// Entries on an interface that wait for a reply, and that were
    /// learned and not confirmed.
    pub fn unconfirmed(&self, ifindex: u16) -> (usize, usize) {
        self.bounds
            .get(usize::from(ifindex))
            .map_or((0, 0), |b| (b.lists[RESOLVING].len as usize, b.lists[UNCONFIRMED].len as usize))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn config(&self) -> &NeighborConfig {
        &self.cfg
    }

    /// Takes new timers (probes, retry, reachable and GC times) from a
    /// config change. `capacity` and `queue_len` size memory allocated at
    /// start and are kept.
    pub fn set_timers(&mut self, cfg: &NeighborConfig) {
        self.generation += 1;
        self.cfg.max_probes = cfg.max_probes;
        self.cfg.retry_interval = cfg.retry_interval;
        self.cfg.reachable_time = cfg.reachable_time;
        self.cfg.gc_time = cfg.gc_time;
        self.cfg.delay_first_probe = cfg.delay_first_probe;
        self.cfg.incomplete_limit = cfg.incomplete_limit;
        self.cfg.unconfirmed_limit = cfg.unconfirmed_limit;
        if self.cfg.solicit_rate != cfg.solicit_rate {
            self.cfg.solicit_rate = cfg.solicit_rate;
            let burst = self.cfg.solicit_burst();
            self.bounds.iter_mut().for_each(|b| b.solicit.set(cfg.solicit_rate, burst));
        }
    }

    #[inline(always)]
    fn home(&self, k: &Key) -> usize {
        (fold(k).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    #[inline(always)]
    fn find(&self, k: Key) -> Option<usize> {
        let mut i = self.home(&k);
        loop {
            let s = self.slots.get(i)?;
            match s.key {
                Some(sk) if sk == k => return Some(i),
                None => return None,
                _ => {}
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Claims a slot for `k` (absent) with `trust`, making room as the
    /// module doc says; packets that waited on an evicted entry go to
    /// `evicted`. `None`: no room.
    fn insert(&mut self, k: Key, state: State, trust: Trust, now: u64, evicted: &mut impl FnMut(B)) -> Option<usize> {
        if let Some(list) = trust.list() {
            let held = self.bounds.get(usize::from(k.0))?.lists.get(list)?.len as usize;
            let limit = self.cfg.limit(list);
            if limit == 0 {
                return None;
            }
            if held >= limit || (held > 0 && self.len >= self.cfg.capacity) {
                self.evict_oldest(k.0, list, evicted);
            }
            if self.len >= self.cfg.capacity {
                return None;
            }
        } else if self.len >= self.cfg.capacity && !self.evict_one() {
            return None;
        }
        let mut i = self.home(&k);
        while self.slots.get(i)?.key.is_some() {
            i = (i + 1) & self.mask;
        }
        let s = self.slots.get_mut(i)?;
        self.generation += 1;
        s.key = Some(k);
        s.mac = MacAddr::ZERO;
        s.state = state;
        s.trust = trust;
        s.probes = 0;
        s.next_probe = now;
        s.confirmed = now;
        s.used = now;
        s.queued = 0;
        self.len += 1;
        self.link(i);
        Some(i)
    }

    /// Removes the oldest entry of `list` on interface `ifindex`.
    fn evict_oldest(&mut self, ifindex: u16, list: usize, evicted: &mut impl FnMut(B)) {
        let Some(head) = self.bounds.get(usize::from(ifindex)).and_then(|b| b.lists.get(list)).map(|l| l.head) else {
            return;
        };
        let Some(s) = self.slots.get_mut(head as usize) else { return };
        for q in s.queue.iter_mut().take(s.queued) {
            if let Some(p) = q.take() {
                evicted(p);
            }
        }
        s.queued = 0;
        if let Some(n) = self.evicted.get_mut(list) {
            *n += 1;
        }
        self.remove_at(head as usize);
    }

    /// The list a slot belongs to, as (interface, list).
    fn list_of(&self, i: usize) -> Option<(usize, usize)> {
        let s = self.slots.get(i)?;
        Some((usize::from(s.key?.0), s.trust.list()?))
    }

    fn list_mut(&mut self, at: (usize, usize)) -> Option<&mut List> {
        self.bounds.get_mut(at.0)?.lists.get_mut(at.1)
    }

    /// Appends slot `i` to the tail of its trust's list, if it has one.
    fn link(&mut self, i: usize) {
        let Some(at) = self.list_of(i) else { return };
        let Some(l) = self.list_mut(at) else { return };
        let tail = l.tail;
        l.tail = i as u32;
        l.len += 1;
        if tail == NIL {
            l.head = i as u32;
        } else if let Some(t) = self.slots.get_mut(tail as usize) {
            t.next = i as u32;
        }
        if let Some(s) = self.slots.get_mut(i) {
            s.prev = tail;
            s.next = NIL;
        }
    }

    /// Takes slot `i` out of its list (its trust is then `Confirmed`).
    fn unlink(&mut self, i: usize) {
        let Some(at) = self.list_of(i) else { return };
        let Some(s) = self.slots.get_mut(i) else { return };
        let (prev, next) = (s.prev, s.next);
        s.trust = Trust::Confirmed;
        (s.prev, s.next) = (NIL, NIL);
        self.relink(at, prev, next, next, prev);
        if let Some(l) = self.list_mut(at) {
            l.len -= 1;
        }
    }

    /// Points slot `prev`'s next (or the head) at `after_prev` and slot
    /// `next`'s prev (or the tail) at `before_next`.
    fn relink(&mut self, at: (usize, usize), prev: u32, next: u32, after_prev: u32, before_next: u32) {
        match self.slots.get_mut(prev as usize) {
            Some(p) if prev != NIL => p.next = after_prev,
            _ => {
                if let Some(l) = self.list_mut(at) {
                    l.head = after_prev;
                }
            }
        }
        match self.slots.get_mut(next as usize) {
            Some(n) if next != NIL => n.prev = before_next,
            _ => {
                if let Some(l) = self.list_mut(at) {
                    l.tail = before_next;
                }
            }
        }
    }

    /// Slot `i` took the place of another (a backward shift): its list
    /// neighbors now point at `i`.
    fn moved_to(&mut self, i: usize) {
        let Some(at) = self.list_of(i) else { return };
        let Some(s) = self.slots.get(i) else { return };
        let (prev, next) = (s.prev, s.next);
        self.relink(at, prev, next, i as u32, i as u32);
    }

    /// Evicts the next entry that is neither static nor resolving.
    fn evict_one(&mut self) -> bool {
        for _ in 0..self.slots.len() {
            self.evict_cursor = (self.evict_cursor + 1) & self.mask;
            let c = self.evict_cursor;
            if let Some(s) = self.slots.get(c) {
                if s.key.is_some() && matches!(s.state, State::Reachable | State::Stale) {
                    self.remove_at(c);
                    return true;
                }
            }
        }
        false
    }

    /// Empties slot `i` by backward-shift deletion, so probes stay intact.
    /// Queued packets must have been taken out already.
    fn remove_at(&mut self, mut i: usize) {
        self.unlink(i);
        let Some(s) = self.slots.get_mut(i) else { return };
        s.key = None;
        self.len -= 1;
        self.generation += 1;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let k = match self.slots.get(j) {
                Some(Slot { key: Some(k), .. }) => *k,
                _ => return,
            };
            let h = self.home(&k);
            // Move j back to i unless its home lies cyclically in (i, j].
            let in_range = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !in_range {
                self.slots.swap(i, j);
                self.moved_to(i);
                i = j;
            }
        }
    }

    /// Looks a neighbor up for sending, noting the use.
    #[inline]
    pub fn lookup(&mut self, ifindex: u16, ip: IpAddr, now: u64) -> Lookup {
        let Some(i) = self.find((ifindex, ip)) else { return Lookup::Miss };
        let (retry, reachable, delay) = (self.cfg.retry_interval, self.cfg.reachable_time, self.cfg.delay_first_probe);
        let Some(s) = self.slots.get_mut(i) else { return Lookup::Miss };
        s.used = now;
        if s.plain_hit(reachable, now).is_some() {
            return Lookup::Hit { mac: s.mac, probe: false };
        }
        // Left: incomplete, stale, or reachable no longer.
        match s.state {
            State::Reachable | State::Stale if ip.is_ipv6() => {
                // RFC 4861 §7.3.3: first use of a stale entry starts the delay.
                self.generation += 1;
                s.state = State::Delay;
                s.next_probe = now + delay;
                Lookup::Hit { mac: s.mac, probe: false }
            }
            State::Reachable | State::Stale => {
                self.generation += 1;
                s.state = State::Probe;
                s.probes = 1;
                s.next_probe = now + retry;
                Lookup::Hit { mac: s.mac, probe: true }
            }
            _ => Lookup::Miss,
        }
    }

    /// The entry for a neighbor a lookup would answer with a plain hit
    /// (no state change, no probe), and until when it would; `None` for
    /// any other (absent, incomplete, stale, or reachable no longer).
    pub fn resolved(&self, ifindex: u16, ip: IpAddr, now: u64) -> Option<Resolved> {
        let i = self.find((ifindex, ip))?;
        let s = self.slots.get(i)?;
        let until = s.plain_hit(self.cfg.reachable_time, now)?;
        Some(Resolved { slot: i as u32, mac: s.mac, until })
    }

    /// Notes a use of the entry a [`Resolved`] named, as a lookup that
    /// hit it would (the caller checked it is still valid).
    #[inline(always)]
    pub fn touch(&mut self, slot: u32, now: u64) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.used = now;
        }
    }

    /// Changes whenever a [`Resolved`] may have become wrong.
    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Queues a packet for a neighbor that is unknown or incomplete.
    /// `Ok(true)`: a new entry was made and a broadcast request must go out.
    /// `Err`: the packet comes back with the reason it cannot wait.
    /// Packets that waited on an entry evicted to make room go to
    /// `evicted`.
    pub fn enqueue(
        &mut self,
        ifindex: u16,
        ip: IpAddr,
        pkt: B,
        now: u64,
        mut evicted: impl FnMut(B),
    ) -> Result<bool, (DropReason, B)> {
        let k = (ifindex, ip);
        let (i, new) = match self.find(k) {
            Some(i) => (i, false),
            None => {
                // RFC 6583 §7.2.2: a per-interface budget of new resolutions.
                let allowed = self.bounds.get_mut(usize::from(ifindex)).is_some_and(|b| b.solicit.allow(now));
                if !allowed {
                    return Err((DropReason::NeighborSolicitLimited, pkt));
                }
                match self.insert(k, State::Incomplete, Trust::Resolving, now, &mut evicted) {
                    Some(i) => (i, true),
                    None => return Err((DropReason::NeighborTableFull, pkt)),
                }
            }
        };
        let retry = self.cfg.retry_interval;
        let Some(s) = self.slots.get_mut(i) else { return Err((DropReason::NeighborTableFull, pkt)) };
        if new {
            s.probes = 1;
            s.next_probe = now + retry;
        }
        match s.queue.get_mut(s.queued) {
            Some(q) if s.state == State::Incomplete => {
                *q = Some(pkt);
                s.queued += 1;
                Ok(new)
            }
            _ => Err((DropReason::NeighborQueueFull, pkt)),
        }
    }

    /// Learns `mac` for `ip` from an ARP packet (see the module doc for
    /// what each `how` may do). Waiting packets are passed to `release`
    /// with the MAC to send them to. Returns true if an entry was created
    /// or changed, so other workers can be told.
    pub fn learn(
        &mut self,
        ifindex: u16,
        ip: IpAddr,
        mac: MacAddr,
        how: Learn,
        now: u64,
        mut release: impl FnMut(B, MacAddr),
    ) -> bool {
        let k = (ifindex, ip);
        let i = match (self.find(k), how) {
            (Some(i), _) => i,
            (None, Learn::RequestToUs) => {
                // Learned, not confirmed: never evicts more than the oldest
                // of its kind (unconfirmed entries hold no packets).
                match self.insert(k, State::Stale, Trust::Unconfirmed, now, &mut drop) {
                    Some(i) => {
                        if let Some(s) = self.slots.get_mut(i) {
                            s.mac = mac;
                        }
                        return true;
                    }
                    None => return false,
                }
            }
            (None, _) => return false,
        };
        let Some(s) = self.slots.get_mut(i) else { return false };
        if s.state == State::Static {
            return false;
        }
        self.generation += 1;
        let changed = s.mac != mac || s.state == State::Incomplete;
        match how {
            Learn::Reply => {
                s.state = State::Reachable;
                s.confirmed = now;
            }
            _ if changed => s.state = State::Stale,
            _ => {}
        }
        s.mac = mac;
        for q in s.queue.iter_mut().take(s.queued) {
            if let Some(p) = q.take() {
                release(p, mac);
            }
        }
        s.queued = 0;
        match (s.trust, how) {
            (Trust::Confirmed, _) | (Trust::Unconfirmed, Learn::RequestToUs | Learn::Other) => {}
            (_, Learn::Reply) => self.unlink(i),
            // Its MAC came with a request, not the reply we asked for.
            (Trust::Resolving, _) => {
                self.unlink(i);
                self.make_unconfirmed(k);
            }
        }
        changed || how == Learn::Reply
    }

    /// Moves a confirmed entry to the unconfirmed list of its interface,
    /// evicting that list's oldest when full.
    fn make_unconfirmed(&mut self, k: Key) {
        let held = self.bounds.get(usize::from(k.0)).map_or(0, |b| b.lists[UNCONFIRMED].len as usize);
        if held >= self.cfg.unconfirmed_limit {
            self.evict_oldest(k.0, UNCONFIRMED, &mut drop); // may move k's slot
        }
        let Some(i) = self.find(k) else { return };
        if let Some(s) = self.slots.get_mut(i) {
            s.trust = Trust::Unconfirmed;
        }
        self.link(i);
    }

    /// Sets (or replaces) a static entry.
    pub fn set_static(
        &mut self,
        ifindex: u16,
        ip: IpAddr,
        mac: MacAddr,
        now: u64,
        release: impl FnMut(B, MacAddr),
    ) -> bool {
        let k = (ifindex, ip);
        if self.find(k).is_none() && self.insert(k, State::Static, Trust::Confirmed, now, &mut drop).is_none() {
            return false;
        }
        self.learn(ifindex, ip, mac, Learn::Reply, now, release);
        if let Some(s) = self.find(k).and_then(|i| self.slots.get_mut(i)) {
            s.state = State::Static;
            s.mac = mac;
        }
        self.generation += 1;
        true
    }

    /// Removes every static entry not in `keep` (after a config change).
    pub fn retain_static(&mut self, keep: impl Fn(u16, IpAddr) -> bool) {
        self.remove_where(|s| s.state == State::Static && !keep(s.ifindex, s.ip));
    }

    /// Removes every learned (non-static) entry, dropping the packets that
    /// waited for resolution; returns how many were dropped.
    pub fn flush_dynamic(&mut self) -> usize {
        let before: usize = self.slots.iter().filter(|s| s.key.is_some()).map(|s| s.queued).sum();
        self.remove_where(|s| s.state != State::Static);
        let after: usize = self.slots.iter().filter(|s| s.key.is_some()).map(|s| s.queued).sum();
        before - after
    }

    fn remove_where(&mut self, remove: impl Fn(&NeighborInfo) -> bool) {
        let mut i = 0;
        while i < self.slots.len() {
            let drop_it = self.slots.get(i).and_then(Slot::info).is_some_and(|n| remove(&n));
            if drop_it {
                if let Some(s) = self.slots.get_mut(i) {
                    s.queue.iter_mut().for_each(|q| *q = None);
                    s.queued = 0;
                }
                self.remove_at(i); // a later entry may shift into i: look again
            } else {
                i += 1;
            }
        }
    }

    /// Runs the timers: retries, failures and aging. Emits at most
    /// `budget` events (never splitting one entry's); returns false if it
    /// stopped early, so the caller drains what it got and calls again.
    pub fn poll(&mut self, now: u64, budget: usize, mut event: impl FnMut(Event<B>)) -> bool {
        let (retry, max, gc) = (self.cfg.retry_interval, self.cfg.max_probes, self.cfg.gc_time);
        let mut emitted = 0;
        let mut i = 0;
        while i < self.slots.len() {
            let Some(s) = self.slots.get_mut(i) else { break };
            let Some((ifindex, ip)) = s.key else {
                i += 1;
                continue;
            };
            if emitted + 1 + s.queued > budget.max(1 + s.queue.len()) {
                return false;
            }
            let remove = match s.state {
                State::Static => false,
                State::Delay if now >= s.next_probe => {
                    // RFC 4861 §7.3.3: DELAY expired without confirmation.
                    self.generation += 1;
                    s.state = State::Probe;
                    s.probes = 1;
                    s.next_probe = now + retry;
                    event(Event::Probe { ifindex, ip, mac: Some(s.mac) });
                    emitted += 1;
                    false
                }
                State::Incomplete | State::Probe if now >= s.next_probe => {
                    if s.probes < max {
                        s.probes += 1;
                        s.next_probe = now + retry;
                        let mac = (s.state == State::Probe).then_some(s.mac);
                        event(Event::Probe { ifindex, ip, mac });
                        emitted += 1;
                        false
                    } else {
                        for q in s.queue.iter_mut().take(s.queued) {
                            if let Some(p) = q.take() {
                                event(Event::Unresolved(p));
                                emitted += 1;
                            }
                        }
                        s.queued = 0;
                        true
                    }
                }
                State::Reachable | State::Stale | State::Delay => now.saturating_sub(s.used.max(s.confirmed)) >= gc,
                _ => false,
            };
            if remove {
                self.remove_at(i); // re-examine i: an entry may have moved in
            } else {
                i += 1;
            }
        }
        true
    }

    /// Every entry, for the control plane and tests.
    pub fn entries(&self) -> impl Iterator<Item = NeighborInfo> + '_ {
        self.slots.iter().filter_map(Slot::info)
    }

    /// The entry for a neighbor, if any.
    pub fn get(&self, ifindex: u16, ip: impl Into<IpAddr>) -> Option<NeighborInfo> {
        self.slots.get(self.find((ifindex, ip.into()))?)?.info()
    }

    /// Panics unless every entry is found where it is and every list
    /// links exactly the entries of its interface and trust, in order.
    #[cfg(test)]
    fn check(&self) {
        let mut counted = 0;
        for (i, s) in self.slots.iter().enumerate() {
            let Some(k) = s.key else { continue };
            counted += 1;
            assert_eq!(self.find(k), Some(i), "{k:?} not found where it is");
            assert_eq!(s.trust == Trust::Resolving, s.state == State::Incomplete, "{k:?} {:?}", s.state);
            if s.state == State::Static {
                assert_eq!(s.trust, Trust::Confirmed);
            }
        }
        assert_eq!(counted, self.len);
        for (ifx, b) in self.bounds.iter().enumerate() {
            for (list, l) in b.lists.iter().enumerate() {
                let trust = if list == RESOLVING { Trust::Resolving } else { Trust::Unconfirmed };
                let mut n = 0;
                let (mut prev, mut at) = (NIL, l.head);
                while at != NIL {
                    let s = &self.slots[at as usize];
                    assert_eq!((s.key.map(|k| usize::from(k.0)), s.trust, s.prev), (Some(ifx), trust, prev));
                    (prev, at) = (at, s.next);
                    n += 1;
                }
                assert_eq!((l.tail, l.len), (prev, n));
                let members =
                    self.slots.iter().filter(|s| s.trust == trust && s.key.is_some_and(|k| usize::from(k.0) == ifx));
                assert_eq!(members.count() as u32, n);
                assert!(n as usize <= self.cfg.limit(list));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DropReason;

    const SEC: u64 = 1_000_000_000;
    const MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 9]);

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn cache(capacity: usize) -> NeighborCache<u32> {
        NeighborCache::new(NeighborConfig { capacity, queue_len: 2, ..Default::default() })
    }

    #[test]
    fn miss_queues_then_reply_releases_in_order() {
        let mut c = cache(4);
        assert_eq!(c.lookup(0, ip(1), 0), Lookup::Miss);
        assert_eq!(c.enqueue(0, ip(1), 10, 0, drop), Ok(true));
        assert_eq!(c.enqueue(0, ip(1), 11, 0, drop), Ok(false));
        assert_eq!(c.enqueue(0, ip(1), 12, 0, drop), Err((DropReason::NeighborQueueFull, 12)));
        let mut out = vec![];
        assert!(c.learn(0, ip(1), MAC, Learn::Reply, 5, |p, m| out.push((p, m))));
        assert_eq!(out, vec![(10, MAC), (11, MAC)]);
        assert_eq!(c.lookup(0, ip(1), 6), Lookup::Hit { mac: MAC, probe: false });
    }

    #[test]
    fn retries_then_fails_with_packets_returned() {
        let mut c = cache(4);
        c.enqueue(0, ip(1), 7, 0, drop).unwrap();
        let mut ev = vec![];
        c.poll(SEC / 2, 64, |e| ev.push(format!("{e:?}")));
        assert!(ev.is_empty(), "no retry before the interval");
        c.poll(SEC, 64, |e| ev.push(format!("{e:?}")));
        c.poll(2 * SEC, 64, |e| ev.push(format!("{e:?}")));
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(ev.iter().all(|e| e.contains("Probe") && e.contains("mac: None")));
        c.poll(3 * SEC, 64, |e| ev.push(format!("{e:?}")));
        assert_eq!(ev.last().unwrap(), "Unresolved(7)");
        assert!(c.is_empty());
    }

    #[test]
    fn unsolicited_reply_never_creates_but_updates() {
        let mut c = cache(4);
        assert!(!c.learn(0, ip(1), MAC, Learn::Reply, 0, |_, _| ()));
        assert!(!c.learn(0, ip(1), MAC, Learn::Other, 0, |_, _| ()));
        assert!(c.is_empty());
        assert!(c.learn(0, ip(1), MAC, Learn::RequestToUs, 0, |_, _| ()));
        assert_eq!(c.get(0, ip(1)).unwrap().state, State::Stale);
        let other = MacAddr([2, 0, 0, 0, 0, 8]);
        assert!(c.learn(0, ip(1), other, Learn::Other, 1, |_, _| ()));
        assert_eq!(c.get(0, ip(1)).unwrap().mac, other);
    }

    #[test]
    fn stale_use_probes_unicast_and_unanswered_probe_removes() {
        let mut c = cache(4);
        c.enqueue(0, ip(1), 1, 0, drop).unwrap();
        c.learn(0, ip(1), MAC, Learn::Reply, 0, |_, _| ());
        let t = 31 * SEC; // past reachable_time
        assert_eq!(c.lookup(0, ip(1), t), Lookup::Hit { mac: MAC, probe: true });
        assert_eq!(c.lookup(0, ip(1), t), Lookup::Hit { mac: MAC, probe: false });
        let mut ev = vec![];
        c.poll(t + SEC, 64, |e| ev.push(format!("{e:?}")));
        c.poll(t + 2 * SEC, 64, |e| ev.push(format!("{e:?}")));
        assert!(ev.iter().all(|e| e.contains("Some(02:00:00:00:00:09)")), "{ev:?}");
        c.poll(t + 3 * SEC, 64, |e| ev.push(format!("{e:?}")));
        assert!(c.get(0, ip(1)).is_none());
    }

    #[test]
    fn probe_answered_becomes_reachable() {
        let mut c = cache(4);
        c.learn(0, ip(1), MAC, Learn::RequestToUs, 0, |_, _| ());
        assert_eq!(c.lookup(0, ip(1), 1), Lookup::Hit { mac: MAC, probe: true });
        c.learn(0, ip(1), MAC, Learn::Reply, 2, |_, _| ());
        assert_eq!(c.get(0, ip(1)).unwrap().state, State::Reachable);
    }

    #[test]
    fn aging_removes_unused_entries() {
        let mut c = cache(4);
        c.learn(0, ip(1), MAC, Learn::RequestToUs, 0, |_, _| ());
        c.poll(599 * SEC, 64, |_| ());
        assert_eq!(c.len(), 1);
        c.poll(600 * SEC, 64, |_| ());
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_full_table_gives_a_new_entry_the_place_of_the_oldest_of_its_kind_only() {
        let mut c = cache(3);
        assert!(c.set_static(0, ip(1), MAC, 0, |_, _| ()));
        c.learn(0, ip(2), MAC, Learn::RequestToUs, 0, |_, _| ()); // unconfirmed
        c.enqueue(0, ip(3), 1, 0, drop).unwrap();
        c.learn(0, ip(3), MAC, Learn::Reply, 0, |_, _| ()); // confirmed
                                                            // Full of a static, an unconfirmed and a confirmed entry: a new
                                                            // resolution displaces none of them.
        assert_eq!(c.enqueue(0, ip(4), 2, 0, drop), Err((DropReason::NeighborTableFull, 2)));
        // A new unconfirmed one takes the old unconfirmed one's place.
        assert!(c.learn(0, ip(5), MAC, Learn::RequestToUs, 0, |_, _| ()));
        assert!(c.get(0, ip(2)).is_none() && c.get(0, ip(5)).is_some());
        assert!(c.get(0, ip(1)).is_some() && c.get(0, ip(3)).is_some());
        assert_eq!(c.evictions(), (0, 1));
        c.poll(10_000 * SEC, 64, |_| ());
        assert_eq!(c.get(0, ip(1)).unwrap().state, State::Static, "static never ages");
        c.check();
    }

    fn bounded(incomplete_limit: usize, unconfirmed_limit: usize, solicit_rate: u32) -> NeighborCache<u32> {
        NeighborCache::new(NeighborConfig {
            capacity: 64,
            queue_len: 2,
            incomplete_limit,
            unconfirmed_limit,
            solicit_rate,
            ..Default::default()
        })
    }

    #[test]
    fn a_scan_of_unused_addresses_takes_at_most_incomplete_limit_per_interface_rfc6583() {
        let mut c = bounded(8, 8, 1_000_000);
        for n in 0..10 {
            c.enqueue(0, ip(n), n, 0, drop).unwrap();
            c.learn(0, ip(n), MAC, Learn::Reply, 0, |_, _| ());
        }
        let mut gone = vec![];
        for n in 100..1100 {
            let t = u64::from(n) * 1000; // a scan at 1 M/s, within the rate
            assert_eq!(c.enqueue(0, ip(n), n, t, |p| gone.push(p)), Ok(true));
            c.check();
        }
        assert_eq!(c.unconfirmed(0), (8, 0));
        assert_eq!(gone.len(), 992);
        assert_eq!(gone.first(), Some(&100), "the oldest goes first");
        assert_eq!(c.evictions(), (992, 0));
        assert!((0..10).all(|n| c.get(0, ip(n)).is_some_and(|e| e.state == State::Reachable)), "resolved kept");
        assert!((1092..1100).all(|n| c.get(0, ip(n)).is_some()));
        // Another interface has its own bound.
        assert_eq!(c.enqueue(1, ip(7), 7, 2 * SEC, drop), Ok(true));
        assert_eq!(c.unconfirmed(1), (1, 0));
        // Entries that fail leave their list too.
        for t in 10..13 {
            c.poll(t * SEC, 64, |_| ());
        }
        assert_eq!((c.unconfirmed(0), c.unconfirmed(1)), ((0, 0), (0, 0)));
        c.check();
    }

    #[test]
    fn new_resolutions_are_rate_limited_per_interface_rfc6583_7_2_2() {
        let mut c = bounded(8, 8, 10); // bursts of 1
        assert_eq!(c.enqueue(0, ip(1), 1, 0, drop), Ok(true));
        assert_eq!(c.enqueue(0, ip(2), 2, 0, drop), Err((DropReason::NeighborSolicitLimited, 2)));
        assert_eq!(c.enqueue(0, ip(1), 3, 0, drop), Ok(false), "waiting on a known entry costs nothing");
        assert_eq!(c.enqueue(1, ip(2), 4, 0, drop), Ok(true), "each interface has its budget");
        assert_eq!(c.enqueue(0, ip(2), 5, SEC / 10, drop), Ok(true));
    }

    #[test]
    fn a_flood_of_requests_from_on_link_senders_takes_at_most_unconfirmed_limit() {
        let mut c = bounded(8, 8, 1000);
        c.enqueue(0, ip(1), 1, 0, drop).unwrap();
        c.learn(0, ip(1), MAC, Learn::Reply, 0, |_, _| ());
        for n in 100..1100 {
            assert!(c.learn(0, ip(n), MAC, Learn::RequestToUs, 0, |_, _| ()));
        }
        assert_eq!(c.unconfirmed(0), (0, 8));
        assert_eq!(c.evictions(), (0, 992));
        assert_eq!(c.len(), 9);
        assert_eq!(c.get(0, ip(1)).unwrap().state, State::Reachable);
        // Our request answered confirms one: it leaves the bounded list.
        assert!(c.learn(0, ip(1099), MAC, Learn::Reply, 1, |_, _| ()));
        assert_eq!(c.unconfirmed(0), (0, 7));
        // A host that asks for us while we resolve it gave its MAC but no
        // reply: it moves from waiting to unconfirmed.
        c.enqueue(0, ip(2), 2, SEC, drop).unwrap();
        assert_eq!(c.unconfirmed(0), (1, 7));
        let mut out = vec![];
        c.learn(0, ip(2), MAC, Learn::RequestToUs, SEC, |p, _| out.push(p));
        assert_eq!((out, c.unconfirmed(0)), (vec![2], (0, 8)));
        c.check();
    }

    #[test]
    fn the_lists_stay_whole_through_any_mix_of_changes() {
        let mut c = NeighborCache::new(NeighborConfig {
            capacity: 24,
            queue_len: 2,
            incomplete_limit: 5,
            unconfirmed_limit: 4,
            solicit_rate: 1_000_000,
            ..Default::default()
        });
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut now = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (ifx, n, op) = ((x % 3) as u16, ((x >> 8) % 40) as u32, (x >> 20) % 16);
            now += 10_000_000;
            match op {
                0..=5 => drop(c.enqueue(ifx, ip(n), n, now, drop)),
                6..=7 => drop(c.learn(ifx, ip(n), MAC, Learn::Reply, now, |_, _| ())),
                8..=10 => drop(c.learn(ifx, ip(n), MAC, Learn::RequestToUs, now, |_, _| ())),
                11 => drop(c.learn(ifx, ip(n), MAC, Learn::Other, now, |_, _| ())),
                12 => drop(c.lookup(ifx, ip(n), now)),
                13 => drop(c.set_static(ifx, ip(n), MAC, now, |_, _| ())),
                14 => c.retain_static(|_, ip| ip != self::ip(n)),
                _ => drop(c.poll(now, 64, |_| ())),
            }
            c.check();
        }
        c.flush_dynamic();
        c.check();
    }

    #[test]
    fn static_entries_ignore_learning_and_can_be_retired() {
        let mut c = cache(8);
        c.set_static(1, ip(1), MAC, 0, |_, _| ());
        assert!(!c.learn(1, ip(1), MacAddr([2, 0, 0, 0, 0, 1]), Learn::Reply, 1, |_, _| ()));
        assert_eq!(c.get(1, ip(1)).unwrap().mac, MAC);
        c.retain_static(|_, _| false);
        assert!(c.is_empty());
    }

    #[test]
    fn many_inserts_and_removals_keep_every_entry_findable() {
        let mut c = cache(64);
        for n in 0..64 {
            c.learn(0, ip(n), MAC, Learn::RequestToUs, 0, |_, _| ());
        }
        assert_eq!(c.len(), 64);
        // Age half of them out, then check the rest are all still found.
        for n in (0..64).step_by(2) {
            c.lookup(0, ip(n), 500 * SEC);
        }
        c.poll(600 * SEC, 64, |_| ());
        assert_eq!(c.len(), 32);
        for n in 0..64 {
            assert_eq!(c.get(0, ip(n)).is_some(), n % 2 == 0, "{n}");
        }
    }

    fn ip6(n: u16) -> IpAddr {
        IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, n))
    }

    #[test]
    fn stale_ipv6_entry_delays_then_probes_rfc4861_7_3_3() {
        let mut c = cache(4);
        c.learn(0, ip6(2), MAC, Learn::RequestToUs, 0, |_, _| ());
        assert_eq!(c.lookup(0, ip6(2), SEC), Lookup::Hit { mac: MAC, probe: false });
        assert_eq!(c.get(0, ip6(2)).unwrap().state, State::Delay);
        let mut ev = vec![];
        c.poll(5 * SEC, 64, |e| ev.push(format!("{e:?}")));
        assert!(ev.is_empty(), "still delaying: {ev:?}");
        c.poll(6 * SEC, 64, |e| ev.push(format!("{e:?}")));
        assert_eq!(ev.len(), 1);
        assert!(ev[0].contains("fd00:1::2") && ev[0].contains("Some(02:00:00:00:00:09)"), "{ev:?}");
        assert_eq!(c.get(0, ip6(2)).unwrap().state, State::Probe);
        // A solicited advertisement confirms it.
        c.learn(0, ip6(2), MAC, Learn::Reply, 6 * SEC, |_, _| ());
        assert_eq!(c.get(0, ip6(2)).unwrap().state, State::Reachable);
    }

    #[test]
    fn ipv4_and_ipv6_entries_share_one_bounded_table() {
        let mut c = cache(2);
        c.enqueue(0, ip(1), 1, 0, drop).unwrap();
        c.enqueue(0, ip6(1), 2, 0, drop).unwrap();
        let mut gone = vec![];
        assert_eq!(c.enqueue(0, ip6(3), 3, 0, |p| gone.push(p)), Ok(true));
        assert_eq!(gone, vec![1], "the oldest waiting entry, of either family, made room");
        let mut out = vec![];
        c.learn(0, ip6(1), MAC, Learn::Reply, 1, |p, _| out.push(p));
        assert_eq!(out, vec![2]);
        assert!(c.get(0, ip(1)).is_none() && c.get(0, ip6(1)).is_some());
        assert!(c.get(1, ip6(1)).is_none(), "keyed by interface too");
    }
}
