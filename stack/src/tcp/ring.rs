//! A connection's byte queue: a fixed ring, allocated once with its
//! table and reused by every connection of its slot.

/// Bytes queued in a fixed buffer.
pub struct Ring {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Ring {
        Ring { buf: vec![0; capacity].into_boxed_slice(), head: 0, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Room left.
    pub fn free(&self) -> usize {
        self.buf.len() - self.len
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Appends what fits of `data`; returns how much did.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let cap = self.buf.len();
        if cap == 0 {
            return 0;
        }
        let tail = (self.head + self.len) % cap;
        let first = n.min(cap - tail);
        if let (Some(d), Some(s)) = (self.buf.get_mut(tail..tail + first), data.get(..first)) {
            d.copy_from_slice(s);
        }
        if let (Some(d), Some(s)) = (self.buf.get_mut(..n - first), data.get(first..n)) {
            d.copy_from_slice(s);
        }
        self.len += n;
        n
    }

    /// Writes `data` into the free space `offset` bytes past the queued
    /// ones, without queuing it ([`Ring::commit`] does); returns how much
    /// fit.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let cap = self.buf.len();
        if cap == 0 || offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        let at = (self.head + self.len + offset) % cap;
        let first = n.min(cap - at);
        if let (Some(d), Some(s)) = (self.buf.get_mut(at..at + first), data.get(..first)) {
            d.copy_from_slice(s);
        }
        if let (Some(d), Some(s)) = (self.buf.get_mut(..n - first), data.get(first..n)) {
            d.copy_from_slice(s);
        }
        n
    }

    /// Queues `n` bytes already written past the queued ones.
    pub fn commit(&mut self, n: usize) {
        self.len += n.min(self.free());
    }

    /// `len` bytes from `offset` (both within the queued bytes), as one or
    /// two slices.
    pub fn peek(&self, offset: usize, len: usize) -> (&[u8], &[u8]) {
        let cap = self.buf.len();
        if cap == 0 || offset + len > self.len {
            return (&[], &[]);
        }
        let start = (self.head + offset) % cap;
        let first = len.min(cap - start);
        (self.buf.get(start..start + first).unwrap_or_default(), self.buf.get(..len - first).unwrap_or_default())
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        if !self.buf.is_empty() {
            self.head = (self.head + n) % self.buf.len();
        }
        self.len -= n;
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn push_peek_and_consume_across_the_wrap() {
        let mut r = Ring::new(8);
        assert_eq!(r.push(b"abcdef"), 6);
        r.consume(4);
        assert_eq!(r.push(b"ghijklm"), 6, "what fits");
        assert_eq!((r.len(), r.free()), (8, 0));
        let (a, b) = r.peek(1, 6);
        assert_eq!([a, b].concat(), b"fghijk");
        r.consume(8);
        assert!(r.is_empty());
        assert_eq!(r.peek(0, 1), (&[][..], &[][..]));
        // Out of order: written ahead, queued when the gap is filled.
        assert_eq!(r.write_at(3, b"defgh"), 5);
        assert_eq!(r.write_at(0, b"abc"), 3);
        r.commit(8);
        let (a, b) = r.peek(0, 8);
        assert_eq!([a, b].concat(), b"abcdefgh");
        assert_eq!(r.write_at(0, b"x"), 0, "full");
    }
}
