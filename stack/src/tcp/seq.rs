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
}
