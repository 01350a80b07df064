//! Prefetch hints while sessions are being made ([`BurstHints`]): each
//! frame's index slots fetched a few frames early, then the entries they
//! name, so a burst's new flows overlap their cache misses.

use super::sessions::key3;
use super::sessions::key5;
use super::sessions::sub_key;
use super::Nat;
use crate::index::hash;
use crate::packet;
use crate::packet::Flow;
use stack::BurstHints;

/// Which index a hinted frame's session is looked up in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Lookup {
    /// None: nothing to follow.
    Nothing = 0,
    /// By inside endpoint (outbound).
    Outbound = 1,
    /// By outside endpoint (inbound).
    Inbound = 2,
}

/// A frame coming up in the burst, between the prefetch hints
/// ([`BurstHints::prefetch`](stack::BurstHints::prefetch), [`BurstHints::prefetch_more`](stack::BurstHints::prefetch_more)): what the
/// first found, for the second, and the hashes it made, for the frame's
/// own lookups ([`Nat::hinted_as`]).
#[derive(Copy, Clone, Debug)]
pub(super) struct Ahead {
    /// The hash of its session key.
    pub(super) h: u32,
    /// Which index the session is looked up in.
    pub(super) index: Lookup,
    pub(super) proto: u8,
    pub(super) sport: u16,
    pub(super) dport: u16,
    pub(super) src: u32,
    pub(super) dst: u32,
    /// The hashes of its mapping's key and of its subscriber's (under
    /// rule `rule`, the first its source matches).
    pub(super) map: u32,
    pub(super) sub: u32,
    pub(super) rule: u16,
}

impl Ahead {
    pub(super) const NONE: Ahead =
        Ahead { h: 0, index: Lookup::Nothing, proto: 0, sport: 0, dport: 0, src: 0, dst: 0, map: 0, sub: 0, rule: 0 };

    /// It was hinted as flow `f`, outbound (an inbound hint leaves the
    /// tuple empty, and no flow's protocol is 0).
    #[inline(always)]
    pub(super) fn is(&self, f: &Flow) -> bool {
        self.proto == f.proto
            && self.src == f.src
            && self.sport == f.sport
            && self.dst == f.dst
            && self.dport == f.dport
    }
}

/// Burst places [`Ahead`] remembers (more than the router's distance
/// between the two hints).
pub(super) const AHEAD_SLOTS: usize = 16;

impl Nat {
    /// What the prefetch hints worked out for the frame being
    /// translated, if it is flow `f`'s, outbound: the hashes of its keys,
    /// which its lookups and inserts take rather than hash again. (A
    /// hash is a function of its key, and the key is checked: an entry
    /// of another frame is never taken.)
    #[inline(always)]
    pub(super) fn hinted_as(&self, f: &Flow) -> Option<Ahead> {
        if !self.hinting {
            return None;
        }
        self.ahead.get(self.hinted % AHEAD_SLOTS).filter(|a| a.is(f)).copied()
    }
}

impl BurstHints for Nat {
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
            *a = Ahead { h, index: Lookup::Inbound, ..Ahead::NONE };
            return;
        }
        let h = hash(key5(proto, src, sport, dst, dport), self.seed);
        let map = hash(key3(proto, src, sport), self.seed);
        self.by_inside.prefetch(h);
        self.map_in.prefetch(map);
        let ri = self.inside.iter().position(|r| r.matches(src)).unwrap_or(0);
        let sub = hash(sub_key(src, ri), self.seed);
        self.sub_ix.prefetch(sub);
        *a = Ahead { h, index: Lookup::Outbound, proto, sport, dport, src, dst, map, sub, rule: ri as u16 };
    }

    /// The second hint, once those slots are in: the session the first
    /// names; or, for an outbound flow with none there (a new flow, most
    /// likely), its mapping, or else its subscriber.
    #[inline(always)]
    fn prefetch_more(&mut self, at: usize) {
        let Some(&a) = self.ahead.get(at % AHEAD_SLOTS) else { return };
        let slot = match a.index {
            Lookup::Outbound => self.by_inside.slot(a.h),
            Lookup::Inbound => self.by_outside.slot(a.h),
            Lookup::Nothing => return,
        };
        if let Some(e) = slot {
            if let Some(x) = self.sessions.get(e as usize) {
                prefetch::prefetch(x);
            }
            return;
        }
        if a.index != Lookup::Outbound {
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
}
