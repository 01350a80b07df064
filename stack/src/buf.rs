//! The packet buffer the pipeline works on.
//!
//! `dataplane::Mbuf` implements [`PacketBuf`] over a DPDK mbuf; [`VecBuf`] is
//! the plain-memory twin used by tests, benchmarks and fuzzers. Both keep
//! headroom in front of the frame so that a reply or an ICMP error can be
//! built in place by prepending headers.

/// A single-segment packet buffer with headroom.
pub trait PacketBuf {
    /// The frame, starting at the Ethernet header.
    fn data(&self) -> &[u8];
    /// The frame, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the frame by `n` bytes at the front; false if the headroom is short.
    fn prepend(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front; false if the frame is shorter.
    fn adj(&mut self, n: usize) -> bool;
    /// Grows the frame by `n` bytes at the tail; false if the tailroom is short.
    fn append(&mut self, n: usize) -> bool;
    /// Shortens the frame to `len` bytes (no-op if already shorter).
    fn truncate(&mut self, len: usize);
    /// The port the frame arrived on (or is being built for).
    fn port(&self) -> u16;
    /// Sets the port (used for locally built frames).
    fn set_port(&mut self, port: u16);
    /// Frame length in bytes.
    fn len(&self) -> usize {
        self.data().len()
    }
    /// True when the frame holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A second handle on the same bytes, for sending them while this one
    /// keeps them (a TCP segment sent from the send queue without a
    /// copy): its data is this one's, and bytes prepended to it go into
    /// this buffer's headroom. `None` when the buffer cannot be shared,
    /// or is already (a share still in flight owns that headroom).
    fn share(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// Headroom of a fresh [`VecBuf`], as DPDK's `RTE_PKTMBUF_HEADROOM`.
pub const HEADROOM: usize = 128;
/// Total size of a [`VecBuf`], as DPDK's default mbuf data room.
pub const BUF_SIZE: usize = 2048 + HEADROOM;

/// A `Vec`-backed [`PacketBuf`] for tests, benchmarks and fuzzing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecBuf {
    mem: Vec<u8>,
    start: usize,
    end: usize,
    port: u16,
}

impl VecBuf {
    /// An empty buffer with the standard headroom.
    pub fn new(port: u16) -> Self {
        VecBuf { mem: vec![0; BUF_SIZE], start: HEADROOM, end: HEADROOM, port }
    }

    /// A buffer holding `frame`, received on `port`.
    pub fn from_frame(port: u16, frame: &[u8]) -> Self {
        let mut b = VecBuf::new(port);
        b.reset(port, frame);
        b
    }

    /// Makes this buffer hold `frame`, received on `port`, with the
    /// standard headroom again (benchmarks recycle buffers with it).
    pub fn reset(&mut self, port: u16, frame: &[u8]) {
        let len = frame.len().min(BUF_SIZE - HEADROOM);
        self.mem[HEADROOM..HEADROOM + len].copy_from_slice(&frame[..len]);
        self.start = HEADROOM;
        self.end = HEADROOM + len;
        self.port = port;
    }
}

impl PacketBuf for VecBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.mem[self.start..self.end]
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.end]
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }
    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    #[inline]
    fn append(&mut self, n: usize) -> bool {
        if self.end + n > self.mem.len() {
            return false;
        }
        self.end += n;
        true
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        if len < self.end - self.start {
            self.end = self.start + len;
        }
    }
    #[inline]
    fn port(&self) -> u16 {
        self.port
    }
    #[inline]
    fn set_port(&mut self, port: u16) {
        self.port = port;
    }
}

/// A boxed buffer: one pointer, moved through the pipeline as a
/// `dataplane::Mbuf` is (a [`VecBuf`] by value is six words, and its
/// moves cost what an mbuf's do not: the benchmarks run on boxes).
impl<T: PacketBuf + ?Sized> PacketBuf for Box<T> {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        (**self).data()
    }
    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        (**self).data_mut()
    }
    #[inline(always)]
    fn prepend(&mut self, n: usize) -> bool {
        (**self).prepend(n)
    }
    #[inline(always)]
    fn adj(&mut self, n: usize) -> bool {
        (**self).adj(n)
    }
    #[inline(always)]
    fn append(&mut self, n: usize) -> bool {
        (**self).append(n)
    }
    #[inline(always)]
    fn truncate(&mut self, len: usize) {
        (**self).truncate(len)
    }
    #[inline(always)]
    fn port(&self) -> u16 {
        (**self).port()
    }
    #[inline(always)]
    fn set_port(&mut self, port: u16) {
        (**self).set_port(port)
    }
    #[inline(always)]
    fn len(&self) -> usize {
        (**self).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_adj_truncate_stay_in_bounds() {
        prepend_adj_truncate(VecBuf::from_frame(3, &[1, 2, 3, 4]));
        // A box is the buffer it holds.
        prepend_adj_truncate(Box::new(VecBuf::from_frame(3, &[1, 2, 3, 4])));
    }

    fn prepend_adj_truncate(mut b: impl PacketBuf) {
        assert_eq!(b.port(), 3);
        assert!(b.prepend(HEADROOM));
        assert!(!b.prepend(1), "no headroom left");
        assert!(b.adj(HEADROOM + 2));
        assert_eq!(b.data(), &[3, 4]);
        assert!(!b.adj(3));
        b.truncate(1);
        assert_eq!(b.data(), &[3]);
        b.truncate(10);
        assert_eq!(b.len(), 1);
        assert!(b.append(5));
        assert_eq!(b.len(), 6);
        assert!(!b.append(BUF_SIZE));
        b.set_port(7);
        b.data_mut()[0] = 9;
        assert_eq!((b.port(), b.data()[0], b.is_empty()), (7, 9, false));
    }
}
