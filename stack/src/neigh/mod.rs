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
use lists::{IfBounds, List, Trust, NIL, RESOLVING, UNCONFIRMED};
use std::net::IpAddr;

mod lists;

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

    /// Starts resolving a neighbor no packet waits for (the kernel twin
    /// asked for it): an incomplete entry, within the same per-interface
    /// budget as [`NeighborCache::enqueue`], so the reply completes it.
    /// `Ok(true)`: a new entry was made and a request must go out.
    pub fn resolve(&mut self, ifindex: u16, ip: IpAddr, now: u64, evicted: impl FnMut(B)) -> Result<bool, DropReason> {
        let k = (ifindex, ip);
        if self.find(k).is_some() {
            return Ok(false);
        }
        // RFC 6583 §7.2.2: a per-interface budget of new resolutions.
        if !self.bounds.get_mut(usize::from(ifindex)).is_some_and(|b| b.solicit.allow(now)) {
            return Err(DropReason::NeighborSolicitLimited);
        }
        let mut evicted = evicted;
        let i = self.insert(k, State::Incomplete, Trust::Resolving, now, &mut evicted);
        let i = i.ok_or(DropReason::NeighborTableFull)?;
        let retry = self.cfg.retry_interval;
        if let Some(s) = self.slots.get_mut(i) {
            s.probes = 1;
            s.next_probe = now + retry;
        }
        Ok(true)
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
}

#[cfg(test)]
mod tests;
