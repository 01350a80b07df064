//! The MAC table of the bridges (IEEE 802.1Q §8.8's filtering database,
//! reduced to what a transparent bridge needs): source addresses learned
//! per bridge, aged out, bounded per bridge.
//!
//! One table per worker holds every bridge's entries, sized when the
//! worker starts: a fixed slot array with linear probing and
//! backward-shift deletion, as the neighbor cache. Each bridge also has its
//! own bound (`mac_limit`): a bridge at its bound learns nothing new, so
//! frames towards unlearned stations are flooded, and each refusal is
//! counted. Workers learn independently (no locks between them); a
//! destination one worker has not learned yet is flooded by that worker.
//!
//! Nothing here allocates after [`MacTable::new`], locks or panics. Time
//! is injected (`now`, nanoseconds).

use crate::wire::MacAddr;

/// Most bridges a gateway has (the per-bridge counters' size).
pub const MAX_BRIDGES: usize = 256;

/// An empty slot's key: bridge 0xffff is never valid.
const EMPTY: u64 = u64::MAX;

#[inline(always)]
fn key(bridge: u16, mac: MacAddr) -> u64 {
    let [b0, b1] = bridge.to_be_bytes();
    let m = mac.0;
    u64::from_be_bytes([b0, b1, m[0], m[1], m[2], m[3], m[4], m[5]])
}

/// A frame's destination and source as table keys of `bridge`: two
/// 8-byte reads of its Ethernet header rather than twelve byte moves.
#[inline(always)]
fn frame_keys(bridge: u16, eth: &[u8; 14]) -> (u64, u64) {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&eth[at..at + 8]);
        u64::from_be_bytes(w)
    };
    let b = u64::from(bridge) << 48;
    (b | word(0) >> 16, b | word(4) & 0xFFFF_FFFF_FFFF)
}

#[inline(always)]
fn unkey(k: u64) -> (u16, MacAddr) {
    let b = k.to_be_bytes();
    ((k >> 48) as u16, MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]]))
}

/// What learning a source address did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Learned {
    /// Already known on this member; its age was refreshed.
    Refreshed,
    /// A new entry.
    New,
    /// Known on another member: the station moved, the entry follows it.
    Moved,
    /// Unknown, and the bridge (or the whole table) is at its bound: not
    /// learned, so frames to it are flooded.
    Full,
}

/// A MAC table entry, as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MacInfo {
    /// Bridge index in [`crate::Tables::bridges`].
    pub bridge: u16,
    pub mac: MacAddr,
    /// Member index in [`crate::Tables::members`].
    pub member: u16,
    /// When a frame from it was last seen (ns).
    pub seen: u64,
}

#[derive(Copy, Clone)]
struct Slot {
    key: u64,
    member: u16,
    seen: u64,
}

/// One worker's MAC table.
pub struct MacTable {
    slots: Box<[Slot]>,
    mask: usize,
    len: usize,
    capacity: usize,
    per_bridge: Box<[u32; MAX_BRIDGES]>,
    /// Where the incremental aging scan goes on.
    cursor: usize,
}

impl MacTable {
    /// A table of at most `capacity` entries over all bridges (all memory
    /// allocated here).
    pub fn new(capacity: usize) -> Self {
        let nslots = (capacity.max(1) * 2).next_power_of_two();
        MacTable {
            slots: vec![Slot { key: EMPTY, member: 0, seen: 0 }; nslots].into_boxed_slice(),
            mask: nslots - 1,
            len: 0,
            capacity,
            per_bridge: Box::new([0; MAX_BRIDGES]),
            cursor: 0,
        }
    }

    /// Entries over all bridges.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most entries the table holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries of one bridge.
    pub fn bridge_len(&self, bridge: u16) -> usize {
        self.per_bridge.get(usize::from(bridge)).map_or(0, |&n| n as usize)
    }

    #[inline(always)]
    fn home(&self, k: u64) -> usize {
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    #[inline(always)]
    fn find(&self, k: u64) -> Option<usize> {
        let mut i = self.home(k);
        loop {
            let s = self.slots.get(i)?;
            if s.key == k {
                return Some(i);
            }
            if s.key == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The member `mac` was learned on in `bridge`, if any.
    #[inline]
    pub fn lookup(&self, bridge: u16, mac: MacAddr) -> Option<u16> {
        self.find(key(bridge, mac)).and_then(|i| self.slots.get(i)).map(|s| s.member)
    }

    /// The slot holding `mac` in `bridge`, and its member: for the fast
    /// path, which refreshes it ([`MacTable::refresh`]) when it sends.
    #[inline]
    pub fn entry(&self, bridge: u16, mac: MacAddr) -> Option<(u32, u16)> {
        let i = self.find(key(bridge, mac))?;
        self.slots.get(i).map(|s| (i as u32, s.member))
    }

    /// For the fast path, a frame of `bridge` (its Ethernet header): the
    /// slot and member of its source, if learned, and the member of its
    /// destination, if learned. As [`MacTable::entry`] and
    /// [`MacTable::lookup`] (tested alike), from the header as it sits.
    #[inline(always)]
    pub fn frame(&self, bridge: u16, eth: &[u8; 14]) -> (Option<(u32, u16)>, Option<u16>) {
        let (dst, src) = frame_keys(bridge, eth);
        let src = self.find(src).and_then(|i| Some((i as u32, self.slots.get(i)?.member)));
        let dst = self.find(dst).and_then(|i| self.slots.get(i)).map(|s| s.member);
        (src, dst)
    }

    /// What learning an address already known on its member does: notes
    /// it was seen now.
    #[inline(always)]
    pub fn refresh(&mut self, slot: u32, now: u64) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.seen = now;
        }
    }

    /// Learns that `mac` (a unicast source) sits behind `member` of
    /// `bridge`, which holds at most `limit` entries.
    #[inline]
    pub fn learn(&mut self, bridge: u16, mac: MacAddr, member: u16, limit: u32, now: u64) -> Learned {
        let k = key(bridge, mac);
        if let Some(s) = self.find(k).and_then(|i| self.slots.get_mut(i)) {
            s.seen = now;
            if s.member == member {
                return Learned::Refreshed;
            }
            s.member = member;
            return Learned::Moved;
        }
        let Some(&count) = self.per_bridge.get(usize::from(bridge)) else { return Learned::Full };
        if count >= limit || self.len >= self.capacity {
            return Learned::Full;
        }
        let mut i = self.home(k);
        loop {
            match self.slots.get_mut(i) {
                Some(s) if s.key == EMPTY => {
                    *s = Slot { key: k, member, seen: now };
                    break;
                }
                Some(_) => i = (i + 1) & self.mask,
                None => return Learned::Full,
            }
        }
        if let Some(c) = self.per_bridge.get_mut(usize::from(bridge)) {
            *c += 1;
        }
        self.len += 1;
        Learned::New
    }

    /// Empties slot `i` by backward-shift deletion, so probes stay intact.
    fn remove_at(&mut self, mut i: usize) {
        let Some(s) = self.slots.get_mut(i) else { return };
        let (bridge, _) = unkey(s.key);
        s.key = EMPTY;
        self.len -= 1;
        if let Some(c) = self.per_bridge.get_mut(usize::from(bridge)) {
            *c = c.saturating_sub(1);
        }
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let k = match self.slots.get(j) {
                Some(s) if s.key != EMPTY => s.key,
                _ => return,
            };
            let h = self.home(k);
            // Move j back to i unless its home lies cyclically in (i, j].
            let in_range = if i <= j { i < h && h <= j } else { i < h || h <= j };
            if !in_range {
                self.slots.swap(i, j);
                i = j;
            }
        }
    }

    fn remove_where(&mut self, remove: impl Fn(&MacInfo) -> bool) -> usize {
        let (mut i, mut removed) = (0, 0);
        while i < self.slots.len() {
            if self.info(i).is_some_and(|e| remove(&e)) {
                self.remove_at(i); // a later entry may shift into i: look again
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    fn info(&self, i: usize) -> Option<MacInfo> {
        let s = self.slots.get(i).filter(|s| s.key != EMPTY)?;
        let (bridge, mac) = unkey(s.key);
        Some(MacInfo { bridge, mac, member: s.member, seen: s.seen })
    }

    /// Removes every entry of `bridge`; returns how many.
    pub fn flush_bridge(&mut self, bridge: u16) -> usize {
        self.remove_where(|e| e.bridge == bridge)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| s.key = EMPTY);
        self.per_bridge.iter_mut().for_each(|c| *c = 0);
        self.len = 0;
    }

    /// Ages out entries not seen for their bridge's `aging(bridge)` ns,
    /// looking at `budget` slots from where the last call stopped (a full
    /// pass takes `slots / budget` calls). Returns how many were removed.
    pub fn age(&mut self, now: u64, budget: usize, aging: impl Fn(u16) -> u64) -> usize {
        let mut removed = 0;
        for _ in 0..budget.min(self.slots.len()) {
            let i = self.cursor;
            match self.info(i) {
                Some(e) if now.saturating_sub(e.seen) >= aging(e.bridge) => {
                    // Whatever shifts into i is looked at on the next step.
                    self.remove_at(i);
                    removed += 1;
                }
                _ => self.cursor = (i + 1) & self.mask,
            }
        }
        removed
    }

    /// Every entry, for the control plane and tests.
    pub fn entries(&self) -> impl Iterator<Item = MacInfo> + '_ {
        (0..self.slots.len()).filter_map(|i| self.info(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u32) -> MacAddr {
        let b = n.to_be_bytes();
        MacAddr([2, 0, b[0], b[1], b[2], b[3]])
    }

    /// `frame` reads a header's two addresses as `entry` and `lookup`
    /// take them, in any bridge.
    #[test]
    fn a_frames_lookups_are_entry_and_lookup_of_its_addresses() {
        let mut t = MacTable::new(64);
        let (a, b, c) =
            (MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]), MacAddr([2, 0, 0, 0, 0, 3]));
        t.learn(7, a, 1, 10, 0);
        t.learn(7, b, 2, 10, 0);
        t.learn(8, c, 3, 10, 0);
        for bridge in [7, 8, 9] {
            for (dst, src) in [(a, b), (b, a), (c, a), (a, c), (b, c)] {
                let mut eth = [0u8; 14];
                eth[..6].copy_from_slice(&dst.0);
                eth[6..12].copy_from_slice(&src.0);
                eth[12..].copy_from_slice(&[0x08, 0]);
                let want = (t.entry(bridge, src), t.lookup(bridge, dst));
                assert_eq!(t.frame(bridge, &eth), want, "{bridge} {dst:?} {src:?}");
            }
        }
    }

    #[test]
    fn learns_refreshes_and_follows_a_station_move() {
        let mut t = MacTable::new(16);
        assert_eq!(t.learn(0, mac(1), 3, 10, 100), Learned::New);
        assert_eq!(t.lookup(0, mac(1)), Some(3));
        assert_eq!(t.lookup(1, mac(1)), None, "bridges are separate");
        assert_eq!(t.learn(0, mac(1), 3, 10, 200), Learned::Refreshed);
        assert_eq!(t.learn(0, mac(1), 5, 10, 300), Learned::Moved);
        assert_eq!(t.lookup(0, mac(1)), Some(5));
        assert_eq!(t.entries().next(), Some(MacInfo { bridge: 0, mac: mac(1), member: 5, seen: 300 }));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_bridge_at_its_bound_refuses_new_stations_but_keeps_its_own() {
        let mut t = MacTable::new(100);
        for n in 0..4 {
            assert_eq!(t.learn(7, mac(n), 1, 4, 0), Learned::New);
        }
        assert_eq!(t.learn(7, mac(9), 1, 4, 0), Learned::Full);
        assert_eq!(t.lookup(7, mac(9)), None);
        assert_eq!(t.learn(7, mac(2), 2, 4, 0), Learned::Moved, "known stations still move");
        assert_eq!(t.learn(8, mac(9), 1, 4, 0), Learned::New, "other bridges have their own bound");
        assert_eq!(t.bridge_len(7), 4);
        // The whole table's bound holds too.
        let mut small = MacTable::new(2);
        small.learn(0, mac(1), 0, 10, 0);
        small.learn(1, mac(1), 0, 10, 0);
        assert_eq!(small.learn(2, mac(1), 0, 10, 0), Learned::Full);
    }

    #[test]
    fn aging_removes_idle_entries_and_frees_the_bound() {
        let mut t = MacTable::new(8);
        t.learn(0, mac(1), 0, 2, 0);
        t.learn(0, mac(2), 0, 2, 50);
        assert_eq!(t.learn(0, mac(3), 0, 2, 60), Learned::Full);
        // A full pass at 100 with aging 60: mac(1) (seen 0) goes.
        assert_eq!(t.age(100, 64, |_| 60), 1);
        assert_eq!(t.lookup(0, mac(1)), None);
        assert_eq!(t.lookup(0, mac(2)), Some(0));
        assert_eq!(t.learn(0, mac(3), 0, 2, 100), Learned::New);
    }

    #[test]
    fn aging_in_small_steps_covers_the_whole_table() {
        let mut t = MacTable::new(64);
        for n in 0..50 {
            t.learn(0, mac(n), 0, 64, 0);
        }
        // 128 slots to pass, plus one step per removal (it looks again).
        let mut removed = 0;
        for _ in 0..23 {
            removed += t.age(10, 8, |_| 5);
        }
        assert_eq!(removed, 50);
        assert!(t.is_empty());
    }

    #[test]
    fn flush_one_bridge_and_many_inserts_and_removals_stay_findable() {
        let mut t = MacTable::new(512);
        for n in 0..400 {
            assert_eq!(t.learn((n % 3) as u16, mac(n), 1, 1000, 0), Learned::New);
        }
        let flushed = t.flush_bridge(1);
        assert_eq!(flushed, 133);
        for n in 0..400 {
            let want = (n % 3 != 1).then_some(1);
            assert_eq!(t.lookup((n % 3) as u16, mac(n)), want, "{n}");
        }
        assert_eq!(t.bridge_len(1), 0);
        assert_eq!(t.len(), 267);
        t.clear();
        assert!(t.is_empty() && t.bridge_len(0) == 0);
    }
}
