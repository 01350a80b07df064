//! The connections' timers on a hashed timing wheel (Varghese and
//! Lauck): each connection is filed under the slot of its next deadline
//! (1 ms ticks, 4,096 slots; a deadline further off waits in its slot
//! through the rounds before it). Advancing the wheel visits only the
//! slots whose ticks have passed, each once, and the current tick's slot
//! again only when something in it may be due, so a poll costs what is
//! due, not what the table holds. The lists are linked through arrays sized by the
//! table: nothing allocates after [`Wheel::new`].

/// A tick, in ns.
const TICK: u64 = 1_000_000;
/// Slots (a power of two).
const SLOTS: usize = 4096;
/// No connection: a list's end.
const NIL: u32 = u32::MAX;

/// One worker's timers, by connection id.
pub struct Wheel {
    heads: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Each connection's deadline as filed (`None`: not on the wheel),
    /// and the slot it is in.
    at: Vec<Option<u64>>,
    slot_of: Vec<u16>,
    /// The tick being visited, and where the visit of its slot goes on
    /// (`None`: from the head; `Some(NIL)`: the slot is done).
    tick: u64,
    scan: Option<u32>,
    /// Nothing in the current tick's slot is due before this (0: not
    /// known, visit it); and the earliest deadline within the current
    /// tick seen by the visit under way.
    due_from: u64,
    soonest: u64,
    /// Entries looked at (for the tests of what a visit costs).
    #[cfg(test)]
    looked: u64,
}

impl Wheel {
    /// What each connection adds: its links, deadline and slot.
    pub const BYTES_PER_CONNECTION: usize =
        2 * std::mem::size_of::<u32>() + std::mem::size_of::<Option<u64>>() + std::mem::size_of::<u16>();

    /// A wheel for connection ids below `connections`, at time `now`.
    pub fn new(connections: usize, now: u64) -> Wheel {
        Wheel {
            heads: vec![NIL; SLOTS],
            next: vec![NIL; connections],
            prev: vec![NIL; connections],
            at: vec![None; connections],
            slot_of: vec![0; connections],
            tick: now / TICK,
            scan: None,
            due_from: 0,
            soonest: u64::MAX,
            #[cfg(test)]
            looked: 0,
        }
    }

    fn slot(tick: u64) -> usize {
        (tick as usize) & (SLOTS - 1)
    }

    /// Files connection `id` under `deadline` (ns), or takes it off the
    /// wheel (`None`). A deadline already past is due at the next visit.
    pub fn file(&mut self, id: u32, deadline: Option<u64>) {
        let i = id as usize;
        if i >= self.at.len() || self.at[i] == deadline {
            return;
        }
        self.unlink(id);
        let Some(d) = deadline else { return };
        let tick = (d / TICK).max(self.tick);
        if tick == self.tick {
            // Due within the current tick: its slot must be looked at.
            self.due_from = self.due_from.min(d);
            self.soonest = self.soonest.min(d);
        }
        let s = Self::slot(tick);
        // At the head: a visit in progress (which moves toward the tail)
        // does not meet it again.
        let old = self.heads[s];
        self.at[i] = Some(d);
        self.slot_of[i] = s as u16;
        self.next[i] = old;
        self.prev[i] = NIL;
        self.heads[s] = id;
        if old != NIL {
            self.prev[old as usize] = id;
        }
    }

    fn unlink(&mut self, id: u32) {
        let i = id as usize;
        if i >= self.at.len() || self.at[i].take().is_none() {
            return;
        }
        let (n, p) = (self.next[i], self.prev[i]);
        if self.scan == Some(id) {
            self.scan = Some(n);
        }
        if p == NIL {
            self.heads[usize::from(self.slot_of[i])] = n;
        } else {
            self.next[p as usize] = n;
        }
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Starts a visit: the next [`Wheel::pop`] looks at the current slot
    /// from its head (lists may have changed since the last visit).
    pub fn start(&mut self) {
        self.scan = None;
    }

    /// The next connection whose deadline is at or before `now`, taken
    /// off the wheel (the caller runs its timer and files it again), or
    /// `None` once every slot up to `now` has been visited.
    pub fn pop(&mut self, now: u64) -> Option<u32> {
        let last = now / TICK;
        // After a long pause one round visits every slot once.
        if last >= self.tick + SLOTS as u64 {
            self.tick = last + 1 - SLOTS as u64;
            self.scan = None;
            self.due_from = 0;
        }
        loop {
            if self.tick == last && now < self.due_from {
                return None;
            }
            if self.scan.is_none() {
                self.soonest = u64::MAX;
            }
            let mut id = self.scan.unwrap_or(self.heads[Self::slot(self.tick)]);
            while id != NIL {
                #[cfg(test)]
                {
                    self.looked += 1;
                }
                let n = self.next[id as usize];
                match self.at[id as usize] {
                    Some(d) if d <= now => {
                        self.scan = Some(n);
                        self.unlink(id);
                        return Some(id);
                    }
                    // Due later in this tick: the slot is looked at again.
                    Some(d) if d / TICK <= self.tick => self.soonest = self.soonest.min(d),
                    _ => {}
                }
                id = n;
            }
            if self.tick >= last {
                self.scan = Some(NIL);
                self.due_from = self.soonest;
                return None;
            }
            self.tick += 1;
            self.scan = None;
            self.due_from = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn due(w: &mut Wheel, now: u64) -> Vec<u32> {
        w.start();
        std::iter::from_fn(|| w.pop(now)).collect()
    }

    #[test]
    fn connections_come_due_in_their_tick_and_not_before() {
        let mut w = Wheel::new(8, 0);
        w.file(1, Some(5 * MS));
        w.file(2, Some(5 * MS + 500));
        w.file(3, Some(40 * MS));
        assert!(due(&mut w, 4 * MS).is_empty());
        assert_eq!(due(&mut w, 5 * MS), [1]);
        assert_eq!(due(&mut w, 6 * MS), [2]);
        // Refiled (a new deadline) and taken off.
        w.file(3, Some(10 * MS));
        w.file(2, Some(7 * MS));
        w.file(2, None);
        assert_eq!(due(&mut w, 39 * MS), [3]);
        assert!(due(&mut w, 100 * MS).is_empty());
    }

    #[test]
    fn a_deadline_past_the_horizon_waits_its_rounds_and_a_past_one_is_due_at_once() {
        let mut w = Wheel::new(4, 0);
        w.file(0, Some(60_000 * MS)); // TIME-WAIT: 60 s, 14 rounds on
        for s in 1..60 {
            assert!(due(&mut w, s * 1000 * MS).is_empty(), "{s} s");
        }
        assert_eq!(due(&mut w, 60_000 * MS), [0]);
        w.file(1, Some(1000 * MS)); // long past
        assert_eq!(due(&mut w, 60_001 * MS), [1]);
    }

    #[test]
    fn polls_with_nothing_due_look_at_nothing_however_many_wait() {
        let mut w = Wheel::new(1000, 0);
        // A thousand waiting rounds ahead in the current tick's slot, and
        // one due later in this tick.
        for id in 0..999 {
            w.file(id, Some(4096 * MS * (1 + u64::from(id % 10))));
        }
        w.file(999, Some(900_000));
        assert!(due(&mut w, 100).is_empty());
        let once = w.looked;
        assert_eq!(once, 1000, "one visit");
        for now in 101..1000 {
            assert!(due(&mut w, now * 100).is_empty());
        }
        assert_eq!(w.looked, once, "no visit again until something may be due");
        // And the one due in this tick still comes at its time.
        let mut w = Wheel::new(2, 0);
        w.file(0, Some(500_000));
        assert!(due(&mut w, 100).is_empty());
        assert_eq!(due(&mut w, 500_000), [0]);
        w.file(1, Some(700_000));
        assert!(due(&mut w, 600_000).is_empty());
        assert_eq!(due(&mut w, 700_000), [1], "filed after the visit, in this tick");
    }

    #[test]
    fn a_visit_takes_every_due_one_in_a_slot_while_others_are_refiled() {
        let mut w = Wheel::new(100, 0);
        for id in 0..100 {
            w.file(id, Some(3 * MS + u64::from(id % 2) * 4096 * MS));
        }
        w.start();
        let mut got = Vec::new();
        while let Some(id) = w.pop(3 * MS) {
            // What a timer does: file the connection again, here further on.
            w.file(id, Some(10 * MS));
            got.push(id);
        }
        assert_eq!(got.len(), 50, "the even ones; the odd ones are a round later");
        assert!(got.iter().all(|id| id % 2 == 0));
        assert_eq!(due(&mut w, 10 * MS).len(), 50);
        assert_eq!(due(&mut w, 4099 * MS).len(), 50);
    }
}
