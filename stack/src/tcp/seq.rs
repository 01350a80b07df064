//! Sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 §3.4).

/// A sequence number. Ordered only relative to another within 2^31.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seq(pub u32);

impl Seq {
    #[inline]
    pub fn plus(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }

    #[inline]
    pub fn minus(self, n: u32) -> Seq {
        Seq(self.0.wrapping_sub(n))
    }

    /// The later of two.
    #[inline]
    pub fn max_seq(self, o: Seq) -> Seq {
        if self.lt(o) {
            o
        } else {
            self
        }
    }

    /// The earlier of two.
    #[inline]
    pub fn min_seq(self, o: Seq) -> Seq {
        if self.lt(o) {
            self
        } else {
            o
        }
    }

    /// `self - earlier`, in bytes (as u32: the caller knows the order).
    #[inline]
    pub fn since(self, earlier: Seq) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    #[inline]
    pub fn lt(self, o: Seq) -> bool {
        (self.0.wrapping_sub(o.0) as i32) < 0
    }

    #[inline]
    pub fn le(self, o: Seq) -> bool {
        (self.0.wrapping_sub(o.0) as i32) <= 0
    }

    #[inline]
    pub fn gt(self, o: Seq) -> bool {
        o.lt(self)
    }

    #[inline]
    pub fn ge(self, o: Seq) -> bool {
        o.le(self)
    }

    /// `lo <= self < lo + len`.
    #[inline]
    pub fn in_window(self, lo: Seq, len: u32) -> bool {
        self.since(lo) < len
    }
}

/// At most `N` disjoint sequence ranges `[start, end)`, each new one
/// merged with those it touches and kept last, so the order is the order
/// of the latest change (what SACK blocks report, RFC 2018 §4): the
/// pieces kept past a gap, and the peer's SACK scoreboard.
#[derive(Copy, Clone, Debug)]
pub struct Ranges<const N: usize> {
    r: [(Seq, Seq); N],
    len: usize,
}

impl<const N: usize> Ranges<N> {
    pub const EMPTY: Self = Ranges { r: [(Seq(0), Seq(0)); N], len: 0 };

    pub fn as_slice(&self) -> &[(Seq, Seq)] {
        self.r.get(..self.len).unwrap_or_default()
    }

    pub fn is_full(&self) -> bool {
        self.len >= N
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// True if `[lo, hi)` overlaps or abuts a range.
    pub fn touches(&self, lo: Seq, hi: Seq) -> bool {
        self.as_slice().iter().any(|&(s, e)| s.le(hi) && lo.le(e))
    }

    /// True if a range holds all of `[lo, hi)`.
    pub fn covers(&self, lo: Seq, hi: Seq) -> bool {
        self.as_slice().iter().any(|&(s, e)| s.le(lo) && hi.le(e))
    }

    /// Adds `[lo, hi)`, merged with every range it touches. With no room
    /// (it touches none and `N` are held), the lowest range from `base`
    /// gives way if it lies below the new one; else nothing changes.
    pub fn add(&mut self, lo: Seq, hi: Seq, base: Seq) {
        let mut merged = (lo, hi);
        let mut k = 0;
        for i in 0..self.len.min(N) {
            let Some(&p) = self.r.get(i) else { break };
            if p.0.le(merged.1) && merged.0.le(p.1) {
                merged = (p.0.min_seq(merged.0), p.1.max_seq(merged.1));
            } else if let Some(slot) = self.r.get_mut(k) {
                *slot = p;
                k += 1;
            }
        }
        self.len = k;
        if k == N {
            let lowest = (0..k).min_by_key(|&i| self.r.get(i).map_or(0, |p| p.0.since(base)));
            if let Some(i) = lowest.filter(|&i| self.r.get(i).is_some_and(|p| p.0.lt(merged.0))) {
                self.remove(i);
            }
        }
        if let Some(slot) = self.r.get_mut(self.len) {
            *slot = merged;
            self.len += 1;
        }
    }

    /// Removes range `i`, keeping the others' order.
    pub fn remove(&mut self, i: usize) {
        if i < self.len {
            self.r.copy_within(i + 1..self.len, i);
            self.len -= 1;
        }
    }

    /// Drops what lies below `base`, cutting a range that straddles it.
    pub fn trim_below(&mut self, base: Seq) {
        let mut k = 0;
        for i in 0..self.len.min(N) {
            let Some(&(s, e)) = self.r.get(i) else { break };
            if e.gt(base) {
                if let Some(slot) = self.r.get_mut(k) {
                    *slot = (s.max_seq(base), e);
                    k += 1;
                }
            }
        }
        self.len = k;
    }
}

#[cfg(test)]
mod tests {
    use super::Seq;

    #[test]
    fn comparisons_wrap_around_2_to_the_32() {
        let a = Seq(u32::MAX - 10);
        let b = a.plus(20);
        assert_eq!(b, Seq(9));
        assert!(a.lt(b) && b.gt(a) && a.le(a) && a.ge(a) && !b.lt(a));
        assert_eq!(b.since(a), 20);
        assert!(Seq(5).in_window(a, 20) && !Seq(9).in_window(a, 20) && a.in_window(a, 1));
    }

    #[test]
    fn ranges_merge_keep_the_latest_last_and_are_bounded() {
        use super::Ranges;
        let mut r = Ranges::<3>::EMPTY;
        r.add(Seq(10), Seq(20), Seq(0));
        r.add(Seq(40), Seq(50), Seq(0));
        r.add(Seq(20), Seq(25), Seq(0));
        assert_eq!(r.as_slice(), &[(Seq(40), Seq(50)), (Seq(10), Seq(25))]);
        r.add(Seq(60), Seq(70), Seq(0));
        assert!(r.is_full() && r.touches(Seq(70), Seq(80)) && !r.touches(Seq(30), Seq(35)));
        // Full: the lowest gives way to a higher one, not to a lower one.
        r.add(Seq(80), Seq(90), Seq(0));
        assert_eq!(r.as_slice(), &[(Seq(40), Seq(50)), (Seq(60), Seq(70)), (Seq(80), Seq(90))]);
        r.add(Seq(1), Seq(2), Seq(0));
        assert_eq!(r.as_slice().len(), 3);
        assert!(r.covers(Seq(62), Seq(70)) && !r.covers(Seq(50), Seq(61)));
        r.trim_below(Seq(65));
        assert_eq!(r.as_slice(), &[(Seq(65), Seq(70)), (Seq(80), Seq(90))]);
        r.remove(0);
        assert_eq!(r.as_slice(), &[(Seq(80), Seq(90))]);
    }
}
