//! A connection's queues as chains of packet buffers, so that bytes are
//! not copied on their way through: a received segment's buffer is kept
//! in the receive queue as it came (its data cut to the payload), and
//! the application's buffers wait in the send queue until acknowledged,
//! each transmission sharing the buffer rather than copying it where the
//! buffer allows ([`PacketBuf::share`]).
//!
//! Each chain is bounded in bytes (the window) and in buffers; a worker's
//! chains together are bounded by a [`Held`] budget, so that connections
//! cannot take the buffers the ports receive into. Small segments are
//! copied onto the end of the last buffer when it has room, as Linux
//! coalesces them, so a peer sending one byte at a time does not use a
//! buffer per byte.

use crate::buf::PacketBuf;
use std::collections::VecDeque;

/// A received payload that the receive queue may keep: `len` bytes at
/// `at` in the buffer's data. [`RxChain::put`] takes the buffer out of
/// `pkt` when it keeps it whole, or copies the bytes and leaves it.
pub struct Payload<'a, B> {
    pub pkt: &'a mut Option<B>,
    pub at: usize,
    pub len: usize,
}

impl<B: PacketBuf> Payload<'_, B> {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        self.pkt.as_ref().and_then(|p| p.data().get(self.at..self.at + self.len)).unwrap_or_default()
    }

    /// The same payload without its first `skip` bytes, cut to `len`.
    pub fn narrow(&mut self, skip: usize, len: usize) -> Payload<'_, B> {
        let skip = skip.min(self.len);
        Payload { pkt: &mut *self.pkt, at: self.at + skip, len: len.min(self.len - skip) }
    }
}

/// Buffers a worker's connections hold at once, the most they may, and
/// how often one was refused for it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub now: usize,
    pub max: usize,
    pub refused: u64,
}

impl Held {
    /// A budget of `max` buffers.
    pub fn new(max: usize) -> Held {
        Held { now: 0, max, refused: 0 }
    }

    fn take(&mut self) -> bool {
        if self.now >= self.max {
            self.refused += 1;
            return false;
        }
        self.now += 1;
        true
    }

    fn give(&mut self, n: usize) {
        self.now = self.now.saturating_sub(n);
    }
}

/// A payload at most this long is copied onto the end of the queue's
/// last buffer when it fits there, rather than kept in its own.
const COALESCE: usize = 512;

/// Appends `data` to `buf`'s tailroom; false if it does not fit.
fn append_to<B: PacketBuf>(buf: &mut B, data: &[u8]) -> bool {
    let old = buf.len();
    if !buf.append(data.len()) {
        return false;
    }
    match buf.data_mut().get_mut(old..) {
        Some(d) if d.len() == data.len() => {
            d.copy_from_slice(data);
            true
        }
        _ => {
            buf.truncate(old);
            false
        }
    }
}

/// Headroom a fresh send buffer keeps beyond the pool's own, so that a
/// segment's headers (up to 114 bytes: Ethernet, IPv6, TCP with
/// options) and a tunnel's outer ones still fit in front of the data.
pub const EXTRA_HEADROOM: usize = 64;

/// Moves a fresh buffer's data start back by [`EXTRA_HEADROOM`].
pub fn reserve_headroom<B: PacketBuf>(buf: &mut B) -> bool {
    buf.append(EXTRA_HEADROOM) && buf.adj(EXTRA_HEADROOM)
}

/// Buffers one queue of a `bytes`-byte window may hold: one per 1 KiB
/// (received data is coalesced into fewer), and a few more.
pub fn max_buffers(bytes: usize) -> usize {
    bytes / 1024 + 8
}

/// The receive queue: the bytes the application has yet to take, in
/// order, and past a gap the pieces that arrived early, each at its
/// position in the stream (bytes since the connection's first).
pub struct RxChain<B> {
    ready: VecDeque<B>,
    len: usize,
    /// The stream position just past the in-order bytes.
    end: u64,
    ahead: VecDeque<(u64, B)>,
    capacity: usize,
    max_bufs: usize,
}

impl<B: PacketBuf> RxChain<B> {
    /// A queue of `capacity` bytes; room for its buffers' handles is
    /// allocated here, once.
    pub fn new(capacity: usize) -> RxChain<B> {
        let max_bufs = max_buffers(capacity);
        RxChain {
            ready: VecDeque::with_capacity(max_bufs),
            len: 0,
            end: 0,
            ahead: VecDeque::with_capacity(max_bufs),
            capacity,
            max_bufs,
        }
    }

    /// In-order bytes queued.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Room left (the window): none once the queue holds its most
    /// buffers, until the application reads.
    pub fn free(&self) -> usize {
        if self.buffers() >= self.max_bufs {
            return 0;
        }
        self.capacity - self.len
    }

    /// Buffers held, in order and ahead.
    pub fn buffers(&self) -> usize {
        self.ready.len() + self.ahead.len()
    }

    /// The in-order bytes, a buffer at a time.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.ready.iter().map(PacketBuf::data)
    }

    /// Drops `n` bytes from the front.
    pub fn consume(&mut self, mut n: usize, held: &mut Held) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.ready.front_mut() else { break };
            if front.len() > n {
                front.adj(n);
                return;
            }
            n -= front.len();
            self.ready.pop_front();
            held.give(1);
        }
    }

    /// Takes the front buffer whole: its data is the next bytes.
    pub fn take(&mut self, held: &mut Held) -> Option<B> {
        let b = self.ready.pop_front()?;
        self.len -= b.len();
        held.give(1);
        Some(b)
    }

    /// Puts a buffer [`RxChain::take`] gave back at the front.
    pub fn put_back(&mut self, buf: B, held: &mut Held) {
        held.now += 1;
        self.len += buf.len();
        self.ready.push_front(buf);
    }

    /// The length of the front buffer's data.
    pub fn front_len(&self) -> usize {
        self.ready.front().map_or(0, PacketBuf::len)
    }

    /// Keeps what fits of `data` `offset` bytes past the in-order bytes
    /// (0: in order, queued at once; further: ahead, queued by
    /// [`RxChain::commit`] when the gap fills); returns how much it kept.
    pub fn put(&mut self, offset: usize, mut data: Payload<'_, B>, held: &mut Held) -> usize {
        if offset >= self.free() {
            return 0;
        }
        let n = data.len.min(self.free() - offset);
        let data = data.narrow(0, n);
        if n == 0 {
            return 0;
        }
        if offset == 0 {
            let coalesced = n <= COALESCE && self.ready.back_mut().is_some_and(|tail| append_to(tail, data.bytes()));
            if !coalesced {
                let Some(buf) = self.keep(data, held) else { return 0 };
                self.ready.push_back(buf);
            }
            self.len += n;
            self.end += n as u64;
            // Pieces ahead that this covered whole are not needed.
            while self.ahead.front().is_some_and(|(p, b)| p + b.len() as u64 <= self.end) {
                self.ahead.pop_front();
                held.give(1);
            }
            return n;
        }
        // Ahead: in order of position; a piece wholly inside a kept one is
        // a duplicate. Overlaps are cut when the gap fills.
        let pos = self.end + offset as u64;
        let i = self.ahead.partition_point(|(p, _)| *p <= pos);
        if let Some((p, b)) = i.checked_sub(1).and_then(|k| self.ahead.get(k)) {
            if p + b.len() as u64 >= pos + n as u64 {
                return n;
            }
        }
        let Some(buf) = self.keep(data, held) else { return 0 };
        self.ahead.insert(i, (pos, buf));
        n
    }

    /// The buffer holding exactly `data`: taken from the segment.
    fn keep(&mut self, data: Payload<'_, B>, held: &mut Held) -> Option<B> {
        if self.buffers() >= self.max_bufs || !held.take() {
            return None;
        }
        let (at, len) = (data.at, data.len);
        let Some(mut buf) = data.pkt.take() else {
            held.give(1);
            return None;
        };
        buf.adj(at);
        buf.truncate(len);
        Some(buf)
    }

    /// Queues the `n` bytes past the in-order ones that arrived ahead
    /// (the caller knows they are all there), each byte once.
    pub fn commit(&mut self, n: usize, held: &mut Held) {
        let target = self.end + n as u64;
        while let Some((pos, mut buf)) = self.ahead.pop_front() {
            if pos >= target || pos > self.end {
                self.ahead.push_front((pos, buf));
                break;
            }
            let stop = (pos + buf.len() as u64).min(target);
            if stop <= self.end {
                held.give(1);
                continue;
            }
            buf.adj((self.end - pos) as usize);
            buf.truncate((stop - self.end) as usize);
            self.len += (stop - self.end) as usize;
            self.end = stop;
            self.ready.push_back(buf);
        }
    }

    /// Drops everything (a connection's end).
    pub fn clear(&mut self, held: &mut Held) {
        held.give(self.buffers());
        self.ready.clear();
        self.ahead.clear();
        self.len = 0;
        self.end = 0;
    }
}

/// The send queue: bytes unacknowledged and bytes not yet sent, in the
/// buffers they were written into or handed over in, each with its
/// position in the stream (so a segment is found by binary search).
pub struct TxChain<B> {
    bufs: VecDeque<(u64, B)>,
    /// The stream position of the first queued byte, and of the end.
    head: u64,
    tail: u64,
    /// The end of the furthest segment handed out: bytes are written
    /// onto the last buffer only while none of it has gone, so that
    /// segments start at buffer starts (and go shared).
    handed: u64,
    capacity: usize,
    max_bufs: usize,
}

/// A segment's payload, as [`TxChain::payload`] finds it.
pub enum TxData<'a, B> {
    /// A share of the buffer holding it all from its start: headers go
    /// in front, no byte copied.
    Shared(B),
    /// The bytes, in one or more buffers, to copy.
    Copy(TxPieces<'a, B>),
}

/// The buffers a segment's bytes lie in, to copy from.
pub struct TxPieces<'a, B> {
    chain: &'a TxChain<B>,
    index: usize,
    skip: usize,
    left: usize,
}

impl<'a, B: PacketBuf> Iterator for TxPieces<'a, B> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (_, b) = self.chain.bufs.get(self.index)?;
        let d = b.data().get(self.skip..).unwrap_or_default();
        let d = d.get(..self.left.min(d.len())).unwrap_or_default();
        self.index += 1;
        self.skip = 0;
        self.left -= d.len();
        Some(d)
    }
}

impl<B: PacketBuf> TxChain<B> {
    pub fn new(capacity: usize) -> TxChain<B> {
        let max_bufs = max_buffers(capacity);
        TxChain { bufs: VecDeque::with_capacity(max_bufs), head: 0, tail: 0, handed: 0, capacity, max_bufs }
    }

    /// Bytes queued, unacknowledged ones included.
    pub fn len(&self) -> usize {
        (self.tail - self.head) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.tail == self.head
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes that may still be queued.
    pub fn free(&self) -> usize {
        if self.bufs.len() >= self.max_bufs {
            return 0;
        }
        self.capacity.saturating_sub(self.len())
    }

    pub fn buffers(&self) -> usize {
        self.bufs.len()
    }

    /// Queues `buf`'s data as it is (zero copy); given back when it does
    /// not fit or the budget is spent.
    pub fn push(&mut self, buf: B, held: &mut Held) -> Result<(), B> {
        if buf.is_empty() {
            return Ok(());
        }
        if buf.len() > self.free() || !held.take() {
            return Err(buf);
        }
        self.tail += buf.len() as u64;
        self.bufs.push_back((self.tail - buf.len() as u64, buf));
        Ok(())
    }

    /// Writes what fits of `len` bytes that `fill` produces into the
    /// space of the last buffer and of new ones from `alloc`, at most
    /// `per_buf` bytes a buffer (a segment's size, so that each goes out
    /// sharing its buffer); returns how many were written. `fill` gets
    /// each piece's room and the count written before it.
    pub fn fill(
        &mut self,
        len: usize,
        per_buf: usize,
        alloc: &mut dyn FnMut() -> Option<B>,
        held: &mut Held,
        fill: &mut dyn FnMut(&mut [u8], usize),
    ) -> usize {
        let per_buf = per_buf.max(1);
        let mut done = 0;
        while done < len && self.free() > 0 {
            let want = (len - done).min(self.free());
            let handed = self.handed;
            let grown = match self.bufs.back_mut() {
                Some((start, tail)) if tail.len() < per_buf && *start >= handed => {
                    grow(tail, want.min(per_buf - tail.len()), done, fill)
                }
                _ => 0,
            };
            if grown > 0 {
                done += grown;
                self.tail += grown as u64;
                continue;
            }
            if !held.take() {
                break;
            }
            let Some(mut buf) = alloc() else {
                held.give(1);
                break;
            };
            if !reserve_headroom(&mut buf) {
                held.give(1);
                break;
            }
            let n = grow(&mut buf, want.min(per_buf), done, fill);
            if n == 0 {
                held.give(1);
                break;
            }
            done += n;
            self.tail += n as u64;
            self.bufs.push_back((self.tail - n as u64, buf));
        }
        done
    }

    /// Copies what fits of `data` in; returns how much.
    pub fn write(
        &mut self,
        data: &[u8],
        per_buf: usize,
        alloc: &mut dyn FnMut() -> Option<B>,
        held: &mut Held,
    ) -> usize {
        self.fill(data.len(), per_buf, alloc, held, &mut |room, at| {
            if let Some(s) = data.get(at..at + room.len()) {
                room.copy_from_slice(s);
            }
        })
    }

    /// Drops `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize, held: &mut Held) {
        let n = n.min(self.len());
        self.head += n as u64;
        while let Some((start, front)) = self.bufs.front_mut() {
            let end = *start + front.len() as u64;
            if end > self.head {
                let cut = (self.head - *start) as usize;
                front.adj(cut);
                *start = self.head;
                break;
            }
            self.bufs.pop_front();
            held.give(1);
        }
    }

    /// Bytes from `offset` to the end of the buffer holding it, when
    /// `offset` is inside a buffer rather than at its start (a segment
    /// cut short by the windows left it there): the next segment ends
    /// there, so the one after starts a buffer again and goes shared.
    pub fn rest_of_buffer(&self, offset: usize) -> Option<usize> {
        let pos = self.head + offset as u64;
        let index = self.bufs.partition_point(|(s, _)| *s <= pos).checked_sub(1)?;
        let (start, b) = self.bufs.get(index)?;
        (pos > *start).then(|| (start + b.len() as u64 - pos) as usize)
    }

    /// The payload of a segment of `len` bytes `offset` bytes into the
    /// queue, handed out to be sent: shared when it starts a buffer and
    /// lies within it and the buffer can be shared, else the pieces to
    /// copy.
    pub fn payload(&mut self, offset: usize, len: usize) -> TxData<'_, B> {
        let pos = self.head + offset as u64;
        self.handed = self.handed.max(pos + len as u64);
        let index = self.bufs.partition_point(|(s, _)| *s <= pos).saturating_sub(1);
        if let Some((start, b)) = self.bufs.get(index) {
            let skip = (pos.saturating_sub(*start)) as usize;
            if skip == 0 && len <= b.len() {
                if let Some(mut s) = b.share() {
                    s.truncate(len);
                    return TxData::Shared(s);
                }
            }
            return TxData::Copy(TxPieces { chain: self, index, skip, left: len });
        }
        TxData::Copy(TxPieces { chain: self, index, skip: 0, left: 0 })
    }

    pub fn clear(&mut self, held: &mut Held) {
        held.give(self.bufs.len());
        self.bufs.clear();
        self.head = 0;
        self.tail = 0;
        self.handed = 0;
    }
}

/// Grows `buf` by up to `n` bytes that `fill` writes; how many it did.
fn grow<B: PacketBuf>(buf: &mut B, n: usize, at: usize, fill: &mut dyn FnMut(&mut [u8], usize)) -> usize {
    let old = buf.len();
    let mut n = n;
    while n > 0 && !buf.append(n) {
        n /= 2;
    }
    if n == 0 {
        return 0;
    }
    if let Some(room) = buf.data_mut().get_mut(old..) {
        fill(room, at);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::VecBuf;

    fn seg(bytes: &[u8]) -> Option<VecBuf> {
        // Headers in front of the payload, as a received frame has them.
        let mut f = vec![0xee; 54];
        f.extend_from_slice(bytes);
        Some(VecBuf::from_frame(0, &f))
    }

    fn put(rx: &mut RxChain<VecBuf>, held: &mut Held, offset: usize, bytes: &[u8]) -> (usize, bool) {
        let mut pkt = seg(bytes);
        let n = rx.put(offset, Payload { pkt: &mut pkt, at: 54, len: bytes.len() }, held);
        (n, pkt.is_none())
    }

    fn ready(rx: &RxChain<VecBuf>) -> Vec<u8> {
        rx.chunks().flatten().copied().collect()
    }

    #[test]
    fn large_segments_are_kept_whole_small_ones_coalesced() {
        let mut held = Held::new(100);
        let mut rx = RxChain::new(8192);
        assert_eq!(put(&mut rx, &mut held, 0, &[1; 1000]), (1000, true), "kept: no copy");
        assert_eq!(put(&mut rx, &mut held, 0, &[2; 10]), (10, false), "copied onto the last");
        assert_eq!((rx.len(), rx.buffers(), held.now), (1010, 1, 1));
        rx.consume(1005, &mut held);
        assert_eq!(ready(&rx), [2; 5]);
        let b = rx.take(&mut held).expect("the front buffer");
        assert_eq!((b.data(), rx.len(), held.now), (&[2u8; 5][..], 0, 0));
        rx.put_back(b, &mut held);
        assert_eq!((ready(&rx), held.now), (vec![2; 5], 1), "as it was");
    }

    #[test]
    fn pieces_ahead_are_queued_in_order_when_the_gap_fills_overlaps_cut() {
        let mut held = Held::new(100);
        let mut rx = RxChain::new(8192);
        let data: Vec<u8> = (0..=255).cycle().take(3000).collect();
        assert_eq!(put(&mut rx, &mut held, 2000, &data[2000..3000]).0, 1000);
        assert_eq!(put(&mut rx, &mut held, 1000, &data[1000..2500]).0, 1500, "overlaps the next");
        assert_eq!(put(&mut rx, &mut held, 1200, &data[1200..1300]).0, 100, "inside a kept piece");
        assert_eq!(rx.buffers(), 2, "the duplicate is not kept");
        assert_eq!(rx.len(), 0);
        assert_eq!(put(&mut rx, &mut held, 0, &data[..1000]).0, 1000);
        rx.commit(2000, &mut held);
        assert_eq!(ready(&rx), data);
        assert_eq!((rx.len(), held.now, rx.buffers()), (3000, 3, 3));
        rx.clear(&mut held);
        assert_eq!(held.now, 0);
    }

    #[test]
    fn the_window_the_buffer_count_and_the_budget_bound_the_queue() {
        let mut held = Held::new(2);
        let mut rx = RxChain::new(1500);
        assert_eq!(put(&mut rx, &mut held, 0, &[1; 600]).0, 600);
        assert_eq!(put(&mut rx, &mut held, 800, &[1; 600]).0, 100, "cut to the window");
        assert_eq!(put(&mut rx, &mut held, 850, &[1; 10]).0, 10, "a duplicate, kept already");
        assert_eq!(put(&mut rx, &mut held, 700, &[1; 50]).0, 0, "the budget is spent");
        assert_eq!(held.refused, 1);
        let mut rx2: RxChain<VecBuf> = RxChain::new(100_000);
        let mut held2 = Held::new(1000);
        let mut n = 0;
        while put(&mut rx2, &mut held2, 0, &[7; 600]).0 > 0 {
            n += 1;
        }
        assert_eq!((n, rx2.buffers()), (max_buffers(100_000), max_buffers(100_000)));
    }

    #[test]
    fn the_send_queue_fills_buffers_of_a_segment_each_and_finds_a_segment_by_position() {
        let mut held = Held::new(100);
        let mut tx: TxChain<VecBuf> = TxChain::new(6000);
        let mut alloc = || Some(VecBuf::new(0));
        let data: Vec<u8> = (0..=255).cycle().take(5000).collect();
        assert_eq!(tx.write(&data, 1460, &mut alloc, &mut held), 5000);
        assert_eq!((tx.buffers(), tx.len()), (4, 5000));
        assert_eq!(tx.write(&data[..100], 1460, &mut alloc, &mut held), 100, "onto the last buffer");
        assert_eq!(tx.buffers(), 4);
        let _ = tx.payload(4380, 720);
        assert_eq!(tx.write(&data[..10], 1460, &mut alloc, &mut held), 10);
        assert_eq!(tx.buffers(), 5, "not onto a buffer partly sent");
        let copy = |t: &mut TxChain<VecBuf>, off, len| match t.payload(off, len) {
            TxData::Copy(p) => p.flatten().copied().collect::<Vec<u8>>(),
            TxData::Shared(_) => unreachable!("a VecBuf is not shared"),
        };
        assert_eq!(copy(&mut tx, 1000, 1000), data[1000..2000]);
        assert_eq!(copy(&mut tx, 4900, 210), [&data[4900..], &data[..100], &data[..10]].concat());
        tx.consume(1500, &mut held);
        assert_eq!((tx.len(), tx.buffers(), held.now), (3610, 4, 4));
        assert_eq!(copy(&mut tx, 0, 100), data[1500..1600]);
        assert!(tx.push(VecBuf::from_frame(0, &[9; 2000]), &mut held).is_ok());
        assert_eq!(copy(&mut tx, 3610, 2000), [9; 2000], "queued as it was");
        assert_eq!(tx.rest_of_buffer(3710), Some(1900), "inside a buffer");
        assert_eq!(tx.rest_of_buffer(3610), None, "at its start");
        assert_eq!(tx.free(), 390);
        assert!(tx.push(VecBuf::from_frame(0, &[9; 391]), &mut held).is_err(), "full");
        tx.clear(&mut held);
        assert_eq!((tx.len(), held.now), (0, 0));
    }
}
