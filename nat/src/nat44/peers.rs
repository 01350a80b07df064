//! The remote addresses each mapping has sessions with, counted, for
//! address-dependent filtering (RFC 4787 REQ-8): "has this mapping's
//! inside endpoint sent to that address?" in one hash lookup, however
//! many sessions the mapping holds. Kept only while the rules filter by
//! address ([`Peers::enabled`]); built from the sessions when they start
//! to. One peer per (mapping, remote address), so the arena never needs
//! more entries than the session table has.

use crate::index::{hash, Index};
use hugeslice::HugeSlice;

const NIL: u32 = u32::MAX;

#[derive(Copy, Clone, Default)]
struct Peer {
    mapping: u32,
    remote: u32,
    /// Its sessions (0: free; then `mapping` chains the free ones).
    sessions: u32,
}

pub(super) struct Peers {
    /// The index and arena, made when first enabled (most gateways never
    /// filter by address, and they cost ~23 bytes a session).
    tables: Option<(Index, HugeSlice<Peer>)>,
    /// Their size: the session table's.
    n: usize,
    /// Freed peers, chained; then the slots from `unused` on, never used
    /// since the last reset (so an arena never used is never touched).
    free: u32,
    unused: u32,
    seed: u64,
    enabled: bool,
}

fn key(mapping: u32, remote: u32) -> u128 {
    3u128 << 120 | u128::from(mapping) << 32 | u128::from(remote)
}

impl Peers {
    /// Room for `n` peers (the session table's size), allocated when
    /// first enabled.
    pub(super) fn new(n: usize, seed: u64) -> Peers {
        Peers {
            tables: None,
            n: n.max(1),
            free: NIL,
            unused: 0,
            seed: seed.rotate_left(29) ^ 0x5bd1_e995,
            enabled: false,
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Forgets every peer and starts (or stops) keeping them.
    pub(super) fn reset(&mut self, enabled: bool) {
        if let Some((index, slots)) = self.tables.as_mut().filter(|_| self.unused > 0) {
            index.clear();
            slots.iter_mut().take(self.unused as usize).for_each(|s| *s = Peer::default());
        }
        (self.free, self.unused) = (NIL, 0);
        if enabled && self.tables.is_none() {
            self.tables = Some((Index::new(self.n), HugeSlice::new(self.n, Peer::default())));
        }
        self.enabled = enabled;
    }

    fn find(&self, mapping: u32, remote: u32) -> Option<u32> {
        let (index, slots) = self.tables.as_ref()?;
        index.find(hash(key(mapping, remote), self.seed), |p| {
            slots.get(p as usize).is_some_and(|x| x.sessions > 0 && x.mapping == mapping && x.remote == remote)
        })
    }

    /// Does `mapping` have a session with `remote`?
    pub(super) fn contains(&self, mapping: u32, remote: u32) -> bool {
        self.find(mapping, remote).is_some()
    }

    /// A session of `mapping` with `remote` was made.
    pub(super) fn add(&mut self, mapping: u32, remote: u32) {
        if !self.enabled {
            return;
        }
        let found = self.find(mapping, remote);
        let Some((index, slots)) = self.tables.as_mut() else { return };
        if let Some(x) = found.and_then(|p| slots.get_mut(p as usize)) {
            x.sessions += 1;
            return;
        }
        let p = if self.free != NIL {
            self.free
        } else if (self.unused as usize) < slots.len() {
            self.unused += 1;
            self.unused - 1
        } else {
            return; // more peers than sessions: cannot happen
        };
        let Some(x) = slots.get_mut(p as usize) else { return };
        if p == self.free {
            self.free = x.mapping;
        }
        *x = Peer { mapping, remote, sessions: 1 };
        index.insert(hash(key(mapping, remote), self.seed), p);
    }

    /// A session of `mapping` with `remote` ended.
    pub(super) fn remove(&mut self, mapping: u32, remote: u32) {
        if !self.enabled {
            return;
        }
        let Some(p) = self.find(mapping, remote) else { return };
        let Some((index, slots)) = self.tables.as_mut() else { return };
        let Some(x) = slots.get_mut(p as usize) else { return };
        x.sessions -= 1;
        if x.sessions == 0 {
            x.mapping = self.free;
            self.free = p;
            index.remove(hash(key(mapping, remote), self.seed), p);
        }
    }

    /// Memory held: none until first enabled.
    pub(super) fn bytes(&self) -> usize {
        self.tables.as_ref().map_or(0, |(index, slots)| index.bytes() + slots.len() * std::mem::size_of::<Peer>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sessions_per_mapping_and_remote() {
        let mut p = Peers::new(8, 1);
        p.add(1, 10);
        assert!(!p.contains(1, 10), "not kept while disabled");
        p.reset(true);
        p.add(1, 10);
        p.add(1, 10);
        p.add(2, 10);
        assert!(p.contains(1, 10) && p.contains(2, 10) && !p.contains(1, 11));
        p.remove(1, 10);
        assert!(p.contains(1, 10));
        p.remove(1, 10);
        assert!(!p.contains(1, 10) && p.contains(2, 10));
        p.remove(2, 10);
        // Every slot can be used and freed again.
        for round in 0..3 {
            for r in 0..8 {
                p.add(round, 100 + r);
            }
            for r in 0..8 {
                assert!(p.contains(round, 100 + r));
                p.remove(round, 100 + r);
            }
        }
        p.reset(false);
        assert!(!p.contains(2, 10));
    }
}
