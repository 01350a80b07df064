//! An open-addressing hash index from a key's hash to an entry number
//! (the entry itself, and its key, live in an arena): 8 bytes a slot,
//! linear probing, backward-shift deletion. Sized once for a load of at
//! most three quarters (about 10.7 bytes an entry), any number of slots:
//! a hash's home slot is `hash × slots / 2^32` (Lemire's multiply-shift
//! range reduction), not a power-of-two mask. Never grows.

use hugeslice::HugeSlice;

const EMPTY: u64 = 0;

/// How many inserts [`Index::insert_later`] keeps waiting: the slot of
/// the oldest is written when a ninth comes. Eight new flows take about
/// a microsecond and a half, long enough for a line from memory.
const WAITING: usize = 8;

/// The slot value of `entry` under hash `h` (never [`EMPTY`]).
#[inline(always)]
fn packed(h: u32, entry: u32) -> u64 {
    u64::from(h) << 32 | u64::from(entry + 1)
}

/// The hash of a slot value.
#[inline(always)]
fn hash_of(s: u64) -> u32 {
    (s >> 32) as u32
}

/// The entry of a slot value.
#[inline(always)]
fn entry_of(s: u64) -> u32 {
    (s as u32).wrapping_sub(1)
}

/// A seeded hash of a packed key (multiply-xorshift; the seed is drawn
/// when the table is built, so outside hosts cannot aim at one chain).
#[inline(always)]
pub fn hash(key: u128, seed: u64) -> u32 {
    let lo = (key as u64) ^ seed;
    let hi = ((key >> 64) as u64).wrapping_add(seed.rotate_left(17));
    let mut h = lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    h ^= h >> 29;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    (h ^ (h >> 32)) as u32
}

pub struct Index {
    /// `hash << 32 | (entry + 1)`; 0 is empty.
    slots: HugeSlice<u64>,
    len: usize,
    /// Removals so far (wrapping): a [`Vacant`] from before one is stale.
    removals: u32,
    /// Inserts not yet in `slots` ([`Index::insert_later`]), as slot
    /// values (0: none), in a ring whose next place is `next`.
    waiting: [u64; WAITING],
    next: usize,
    /// How many of `waiting` are taken.
    waits: usize,
}

/// Where a key a lookup did not find goes ([`Index::find_or_vacant`]):
/// the empty slot that ended its probe, valid until the next removal
/// ([`Index::insert_vacant`] checks).
#[derive(Copy, Clone, Debug)]
pub struct Vacant {
    pub h: u32,
    slot: u32,
    removals: u32,
}

impl Index {
    /// Room for `entries` at a load of at most three quarters.
    pub fn new(entries: usize) -> Index {
        let n = (entries.max(8) * 4).div_ceil(3) + 1;
        Index { slots: HugeSlice::new(n, EMPTY), len: n, removals: 0, waiting: [EMPTY; WAITING], next: 0, waits: 0 }
    }

    /// The slot a hash belongs in.
    #[inline(always)]
    fn home(&self, h: u32) -> usize {
        ((u64::from(h) * self.len as u64) >> 32) as usize
    }

    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        if i + 1 >= self.len {
            0
        } else {
            i + 1
        }
    }

    /// How far forward `to` lies from `from`, wrapping.
    #[inline(always)]
    fn dist(&self, from: usize, to: usize) -> usize {
        if to >= from {
            to - from
        } else {
            to + self.len - from
        }
    }

    /// Bytes this index holds.
    pub fn bytes(&self) -> usize {
        self.slots.bytes()
    }

    /// Starts bringing in the slots a lookup of hash `h` reads first:
    /// its home slot's cache line, and the next line too when the home
    /// lies in the second half of its line (slot `i + 4`: in the same
    /// line when the home is in the first half; slots are 8 bytes and
    /// the table starts on a page) (a lookup of a key that is
    /// not there reads on to the end of the run, 2.5 slots on average
    /// as the table fills to three quarters: Knuth's ½(1 + 1/(1-α)²)).
    #[inline(always)]
    pub fn prefetch(&self, h: u32) {
        let i = self.home(h);
        if let Some(s) = self.slots.get(i) {
            prefetch::prefetch(s);
        }
        if let Some(s) = self.slots.get(i + 4) {
            prefetch::prefetch(s);
        }
    }

    /// The entry in the slot a lookup of hash `h` starts at, if that
    /// slot holds one with this hash (no more probing: a hint's).
    #[inline(always)]
    pub fn slot(&self, h: u32) -> Option<u32> {
        let s = self.slots.get(self.home(h)).copied().unwrap_or(EMPTY);
        (hash_of(s) == h && s != EMPTY).then(|| entry_of(s))
    }

    /// The entry with hash `h` for which `is` says yes.
    #[inline]
    pub fn find(&self, h: u32, is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.find_or_vacant(h, is).ok()
    }

    /// As [`Index::find`], or else where [`Index::insert`] would put an
    /// entry under `h` (the empty slot that ended the probe), for
    /// [`Index::insert_vacant`]: a new key's lookup and insert probe
    /// once. (Always inlined: a `Result` returned through memory is
    /// read back before its stores retire, and stalls on store
    /// forwarding.)
    #[inline(always)]
    pub fn find_or_vacant(&self, h: u32, mut is: impl FnMut(u32) -> bool) -> Result<u32, Vacant> {
        let mut i = self.home(h);
        // (Never more than `len` slots: the table always has an empty one.)
        for _ in 0..self.len {
            let s = self.slots.get(i).copied().unwrap_or(EMPTY);
            if s == EMPTY {
                break;
            }
            if hash_of(s) == h {
                let e = entry_of(s);
                if is(e) {
                    return Ok(e);
                }
            }
            i = self.next(i);
        }
        if self.waits != 0 {
            if let Some(e) = self.find_waiting(h, is) {
                return Ok(e);
            }
        }
        Err(Vacant { h, slot: i as u32, removals: self.removals })
    }

    /// The entry with hash `h` for which `is` says yes among the inserts
    /// still waiting.
    #[inline(never)]
    fn find_waiting(&self, h: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.waiting.iter().filter(|&&s| s != EMPTY && hash_of(s) == h).map(|&s| entry_of(s)).find(|&e| is(e))
    }

    /// Adds `entry` where a lookup found room for it: in that slot if
    /// nothing was removed since (every slot before it in the probe is
    /// still taken, so it is the one [`Index::insert`] would pick), else
    /// by [`Index::insert`].
    #[inline]
    pub fn insert_vacant(&mut self, v: Vacant, entry: u32) {
        if v.removals == self.removals {
            if let Some(s) = self.slots.get_mut(v.slot as usize).filter(|s| **s == EMPTY) {
                *s = packed(v.h, entry);
                return;
            }
        }
        self.insert(v.h, entry);
    }

    /// Adds `entry` under hash `h`. The arena's bound keeps the index at
    /// most three quarters full, so a free slot is always found.
    #[inline]
    pub fn insert(&mut self, h: u32, entry: u32) {
        self.place(packed(h, entry));
    }

    /// Writes slot value `v` in the first empty slot from its home.
    #[inline]
    fn place(&mut self, v: u64) {
        let mut i = self.home(hash_of(v));
        for _ in 0..self.len {
            match self.slots.get_mut(i) {
                Some(s) if *s == EMPTY => {
                    *s = v;
                    return;
                }
                _ => i = self.next(i),
            }
        }
    }

    /// Adds `entry` under hash `h` as [`Index::insert`] does, for every
    /// lookup from now on, but writes its slot only [`WAITING`] such
    /// inserts later (or at [`Index::flush`]): the home slot's line is
    /// asked for now and written once it has come, where
    /// [`Index::insert`] would wait for it. For the outside-keyed
    /// indexes, whose slots are known only once a new flow's port is,
    /// too late for a hint to bring them in before the flow's insert
    /// (measured: those two inserts' waits were 9% of the time a new
    /// session took with a million live).
    #[inline]
    pub fn insert_later(&mut self, h: u32, entry: u32) {
        self.prefetch(h);
        let at = self.next;
        let Some(&old) = self.waiting.get(at) else { return };
        if old == EMPTY {
            self.waits += 1;
        } else {
            self.place(old);
        }
        if let Some(w) = self.waiting.get_mut(at) {
            *w = packed(h, entry);
        }
        self.next = (at + 1) % WAITING;
    }

    /// Writes the slots of every insert still waiting
    /// ([`Index::insert_later`]), so lookups have no list to check.
    pub fn flush(&mut self) {
        if self.waits == 0 {
            return;
        }
        self.waits = 0;
        for v in std::mem::replace(&mut self.waiting, [EMPTY; WAITING]) {
            if v != EMPTY {
                self.place(v);
            }
        }
    }

    /// Removes `entry` (filed under hash `h`), shifting later members of
    /// its run back so every lookup still finds them (or from the
    /// inserts waiting, if it is one: the slots stay as they are).
    pub fn remove(&mut self, h: u32, entry: u32) {
        let want = packed(h, entry);
        if self.waits != 0 {
            if let Some(w) = self.waiting.iter_mut().find(|w| **w == want) {
                *w = EMPTY;
                self.waits -= 1;
                return;
            }
        }
        self.removals = self.removals.wrapping_add(1);
        let mut i = self.home(h);
        loop {
            match self.slots.get(i) {
                Some(&s) if s == want => break,
                Some(&EMPTY) | None => return,
                Some(_) => i = self.next(i),
            }
        }
        let mut j = i;
        loop {
            j = self.next(j);
            let s = self.slots.get(j).copied().unwrap_or(EMPTY);
            if s == EMPTY {
                break;
            }
            let home = self.home(hash_of(s));
            // Move s back into the hole at i unless its home lies in (i, j].
            if self.dist(home, j) >= self.dist(i, j) {
                if let Some(d) = self.slots.get_mut(i) {
                    *d = s;
                }
                i = j;
            }
        }
        if let Some(d) = self.slots.get_mut(i) {
            *d = EMPTY;
        }
    }

    pub fn clear(&mut self) {
        self.removals = self.removals.wrapping_add(1);
        self.slots.fill(EMPTY);
        self.waiting = [EMPTY; WAITING];
        self.waits = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_and_removals_in_colliding_runs_stay_findable() {
        // Few distinct hashes: long runs; then hashes whose home is the
        // last slots, so runs wrap around the table. Then again with
        // every other insert written later.
        for later in [false, true] {
            colliding_runs(|e| (e % 7).wrapping_mul(0x1000_0001) | 0x7f, later);
            colliding_runs(|e| u32::MAX - (e % 5) * 0x0100_0000, later);
        }
    }

    #[test]
    fn an_insert_written_later_is_found_at_once_and_removed_like_any() {
        // Twins: one inserts at once, the other later; every lookup, of
        // entries waiting or written, agrees throughout.
        let hash_of = |e: u32| (e % 5).wrapping_mul(0x0100_0000) | 0x77;
        let (mut a, mut b) = (Index::new(64), Index::new(64));
        let agree = |a: &Index, b: &Index, when: &str| {
            for x in 0..48 {
                assert_eq!(a.find(hash_of(x), |y| y == x), b.find(hash_of(x), |y| y == x), "entry {x} {when}");
            }
        };
        for e in 0..40 {
            a.insert(hash_of(e), e);
            b.insert_later(hash_of(e), e);
            assert!(b.waits <= WAITING);
            if e % 6 == 5 {
                // The one just made (waiting), and one long written.
                for gone in [e, e / 2] {
                    a.remove(hash_of(gone), gone);
                    b.remove(hash_of(gone), gone);
                }
            }
            agree(&a, &b, &format!("after {e}"));
        }
        assert!(b.waits > 0, "some still waiting");
        b.flush();
        assert_eq!(b.waits, 0);
        agree(&a, &b, "after the flush");
        b.insert_later(hash_of(45), 45);
        b.clear();
        assert_eq!((b.waits, b.find(hash_of(45), |y| y == 45)), (0, None), "a clear drops what waits");
    }

    #[test]
    fn a_vacant_slot_a_later_insert_took_is_not_overwritten() {
        // One hash for all: the lookup of 9 ends at the slot after the
        // run, which the first insert written later then takes.
        let mut ix = Index::new(64);
        let h = 0x4000_0000;
        let at = ix.find_or_vacant(h, |x| x == 9).unwrap_err();
        for e in 0..=WAITING as u32 {
            ix.insert_later(h, e);
        }
        ix.insert_vacant(at, 9);
        ix.flush();
        for e in (0..=WAITING as u32).chain([9]) {
            assert_eq!(ix.find(h, |x| x == e), Some(e), "entry {e}");
        }
    }

    #[test]
    fn a_vacant_slot_takes_the_key_insert_would_place_there_or_goes_stale() {
        // Twins: one inserts, the other inserts where its lookup ended.
        let (mut a, mut b) = (Index::new(64), Index::new(64));
        let hash_of = |e: u32| (e % 5).wrapping_mul(0x0100_0000) | 0x77;
        for e in 0..40 {
            let h = hash_of(e);
            let at = b.find_or_vacant(h, |x| x == e).unwrap_err();
            a.insert(h, e);
            b.insert_vacant(at, e);
            assert_eq!(a.slots[..], b.slots[..], "entry {e}");
        }
        // A removal between the lookup and the insert: the slot the
        // lookup found may no longer end the probe, so it is not used.
        let at = b.find_or_vacant(hash_of(40), |x| x == 40).unwrap_err();
        b.remove(hash_of(0), 0);
        b.insert_vacant(at, 40);
        for e in 1..=40 {
            assert_eq!(b.find(hash_of(e), |x| x == e), Some(e), "entry {e}");
        }
        assert_eq!(b.find(hash_of(0), |x| x == 0), None);
    }

    fn colliding_runs(hash_of: impl Fn(u32) -> u32, later: bool) {
        let mut ix = Index::new(64);
        assert!(ix.len * 3 >= 64 * 4, "load at most three quarters");
        let mut live = std::collections::HashMap::new();
        for round in 0..2000u32 {
            let e = round % 64;
            let h = hash_of(e);
            if live.remove(&e).is_some() {
                ix.remove(h, e);
            } else {
                if later && round % 2 == 1 {
                    ix.insert_later(h, e);
                } else {
                    ix.insert(h, e);
                }
                live.insert(e, h);
            }
            if later && round % 97 == 0 {
                ix.flush();
            }
            for (&e, &h) in &live {
                assert_eq!(ix.find(h, |x| x == e), Some(e), "round {round}");
            }
        }
    }
}
