//! A timer wheel for session expiry (Varghese and Lauck's hashed wheel,
//! one level): expiring costs O(expired), not O(sessions).
//!
//! Each entry sits in the slot of the tick it expires in (deadlines past
//! the wheel's span sit in its last slot and move on when reached).
//! Refreshing an entry only moves its deadline, not the entry: when its
//! slot comes up, an entry whose deadline moved later is re-filed. An
//! entry whose deadline moves *earlier* than its slot is moved at once
//! ([`Wheel::reschedule`]).

use hugeslice::HugeSlice;

const NIL: u32 = u32::MAX;

pub struct Wheel {
    heads: Box<[u32]>,
    next: HugeSlice<u32>,
    prev: HugeSlice<u32>,
    /// The tick each entry is filed under, modulo 2^32 (enough for the
    /// slot and for comparing with a nearby deadline: 2^32 ticks are
    /// years at any sensible tick).
    tick: HugeSlice<u32>,
    mask: u64,
    tick_ns: u64,
    /// The next tick to process: every tick before it is done.
    cur: u64,
}

impl Wheel {
    /// A wheel of `slots` (a power of two) ticks of `tick_ns` each, for
    /// entries `0..entries`.
    pub fn new(slots: usize, tick_ns: u64, entries: usize) -> Wheel {
        let slots = slots.next_power_of_two();
        Wheel {
            heads: vec![NIL; slots].into_boxed_slice(),
            next: HugeSlice::new(entries, NIL),
            prev: HugeSlice::new(entries, NIL),
            tick: HugeSlice::new(entries, 0),
            mask: slots as u64 - 1,
            tick_ns: tick_ns.max(1),
            cur: 0,
        }
    }

    /// Bytes this wheel holds.
    pub fn bytes(&self) -> usize {
        self.heads.len() * 4 + self.next.len() * 12
    }

    /// Starts the wheel at time `now` (nothing before it is due).
    pub fn start(&mut self, now: u64) {
        self.cur = now / self.tick_ns;
    }

    #[inline]
    fn file(&mut self, e: u32, deadline: u64, min_tick: u64) {
        let t = (deadline / self.tick_ns).max(min_tick).min(self.cur + self.mask);
        let slot = (t & self.mask) as usize;
        let head = self.heads.get(slot).copied().unwrap_or(NIL);
        let i = e as usize;
        if let (Some(n), Some(p), Some(tk)) = (self.next.get_mut(i), self.prev.get_mut(i), self.tick.get_mut(i)) {
            *n = head;
            *p = NIL;
            *tk = t as u32;
        }
        if let Some(hp) = self.prev.get_mut(head as usize) {
            *hp = e;
        }
        if let Some(h) = self.heads.get_mut(slot) {
            *h = e;
        }
    }

    /// Files entry `e` to expire at `deadline` (ns).
    #[inline]
    pub fn insert(&mut self, e: u32, deadline: u64) {
        self.file(e, deadline, self.cur);
    }

    /// Takes entry `e` off the wheel.
    #[inline]
    pub fn remove(&mut self, e: u32) {
        let i = e as usize;
        let (n, p) = (self.next.get(i).copied().unwrap_or(NIL), self.prev.get(i).copied().unwrap_or(NIL));
        if p == NIL {
            let slot = (u64::from(self.tick.get(i).copied().unwrap_or(0)) & self.mask) as usize;
            if let Some(h) = self.heads.get_mut(slot) {
                if *h == e {
                    *h = n;
                }
            }
        } else if let Some(pn) = self.next.get_mut(p as usize) {
            *pn = n;
        }
        if let Some(np) = self.prev.get_mut(n as usize) {
            *np = p;
        }
    }

    /// Entry `e`'s deadline moved to `deadline`: re-files it if that is
    /// before the tick it sits in (later deadlines wait for the slot).
    #[inline]
    pub fn reschedule(&mut self, e: u32, deadline: u64) {
        let filed = self.tick.get(e as usize).copied().unwrap_or(0);
        if (((deadline / self.tick_ns) as u32).wrapping_sub(filed) as i32) < 0 {
            self.remove(e);
            self.insert(e, deadline);
        }
    }

    /// Processes the ticks that have fully passed by `now`, at most
    /// `budget` entries. `deadline(e)` says when `e` expires now; entries
    /// past it go to `expire` (and off the wheel), the rest are re-filed.
    /// Returns how many expired.
    pub fn advance(
        &mut self,
        now: u64,
        mut budget: usize,
        mut deadline: impl FnMut(u32) -> u64,
        mut expire: impl FnMut(u32),
    ) -> usize {
        let end = now / self.tick_ns;
        let mut expired = 0;
        while self.cur < end && budget > 0 {
            let slot = (self.cur & self.mask) as usize;
            let head = self.heads.get(slot).copied().unwrap_or(NIL);
            if head == NIL {
                self.cur += 1;
                continue;
            }
            budget -= 1;
            self.remove(head);
            let d = deadline(head);
            if d / self.tick_ns <= self.cur {
                expired += 1;
                expire(head);
            } else {
                // Never back into the slot being processed.
                self.file(head, d, self.cur + 1);
            }
        }
        expired
    }

    /// True while ticks that have passed by `now` are not all processed
    /// (the last [`Wheel::advance`] ran out of budget).
    pub fn behind(&self, now: u64) -> bool {
        self.cur < now / self.tick_ns
    }

    pub fn clear(&mut self) {
        self.heads.fill(NIL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_in_their_tick_and_refreshed_ones_later() {
        let mut w = Wheel::new(16, 10, 8);
        w.start(0);
        let mut deadlines = [25u64, 55, 400, 0, 0, 0, 0, 0];
        for e in 0..3 {
            w.insert(e, deadlines[e as usize]);
        }
        let mut gone = Vec::new();
        w.advance(20, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert!(gone.is_empty());
        w.advance(30, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert_eq!(gone, [0]);
        deadlines[1] = 95; // refreshed: moves on when its slot comes up
        w.advance(70, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert_eq!(gone, [0]);
        w.advance(100, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert_eq!(gone, [0, 1]);
        // 400 is beyond the 160 ns span: it sits in the last slot and
        // moves on until due.
        w.advance(400, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert_eq!(gone, [0, 1]);
        w.advance(410, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert_eq!(gone, [0, 1, 2]);
    }

    #[test]
    fn an_earlier_deadline_moves_the_entry_and_removal_unlinks_it() {
        let mut w = Wheel::new(64, 1, 4);
        w.start(0);
        let mut deadlines = [50u64, 50, 50, 50];
        for e in 0..4 {
            w.insert(e, 50);
        }
        w.remove(2);
        deadlines[3] = 5;
        w.reschedule(3, 5);
        let mut gone = Vec::new();
        w.advance(6, 100, |e| deadlines[e as usize], |e| gone.push(e));
        assert_eq!(gone, [3]);
        w.advance(51, 100, |e| deadlines[e as usize], |e| gone.push(e));
        gone.sort();
        assert_eq!(gone, [0, 1, 3]);
    }

    #[test]
    fn the_budget_bounds_one_call() {
        let mut w = Wheel::new(8, 1, 100);
        w.start(0);
        for e in 0..100 {
            w.insert(e, 1);
        }
        let mut n = 0;
        assert_eq!(w.advance(5, 30, |_| 1, |_| n += 1), 30);
        assert_eq!(w.advance(5, 100, |_| 1, |_| n += 1), 70);
        assert_eq!(n, 100);
    }
}
