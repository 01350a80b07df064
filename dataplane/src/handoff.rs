//! Frames handed from one worker to another (NAT state lives on one
//! worker; a frame that lands on another goes to it). A ring per ordered
//! pair of workers, single producer and single consumer, written and
//! read a burst at a time: one release store per burst each way, where a
//! shared queue cost a compare-and-swap per frame on each side (measured
//! a third of two NAT workers' time). The sender gathers a burst per
//! receiver ([`Outbox`]) and pushes it when it fills or the loop ends.
//!
//! A slot holds an mbuf pointer and, beside it, the receiver's tag (the
//! translator's, or the TCP stack's `HANDOFF_TCP`).

use crate::mbuf::Mbuf;
use dpdk_sys as ffi;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

/// A frame as a ring carries it: the mbuf's address and the tag.
type Item = (usize, u8);

/// A counter alone on its cache line (the producer's and the consumer's
/// positions must not share one).
#[repr(align(64))]
struct Padded(AtomicUsize);

/// A single-producer, single-consumer ring of handed frames.
pub(crate) struct Ring {
    slots: Box<[AtomicUsize]>,
    tags: Box<[AtomicU8]>,
    mask: usize,
    /// Next slot the consumer reads; next slot the producer writes.
    head: Padded,
    tail: Padded,
}

impl Ring {
    /// A ring of `capacity` slots (a power of two).
    pub(crate) fn new(capacity: usize) -> Ring {
        let capacity = capacity.next_power_of_two().max(2);
        Ring {
            slots: (0..capacity).map(|_| AtomicUsize::new(0)).collect(),
            tags: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            mask: capacity - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
        }
    }

    /// Whether nothing waits (the consumer's look before a pop).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.tail.0.load(Acquire) == self.head.0.load(Relaxed)
    }

    /// Producer: pushes as many of `items` as fit; how many.
    #[inline]
    fn push(&self, items: &[Item]) -> usize {
        let t = self.tail.0.load(Relaxed);
        let h = self.head.0.load(Acquire);
        let n = items.len().min(self.slots.len() - t.wrapping_sub(h));
        for (i, &(v, tag)) in items.iter().take(n).enumerate() {
            let at = t.wrapping_add(i) & self.mask;
            self.slots[at].store(v, Relaxed);
            self.tags[at].store(tag, Relaxed);
        }
        self.tail.0.store(t.wrapping_add(n), Release);
        n
    }

    /// Consumer: takes up to `out.len()` items into `out`; how many.
    #[inline]
    fn pop(&self, out: &mut [Item]) -> usize {
        let h = self.head.0.load(Relaxed);
        let t = self.tail.0.load(Acquire);
        let n = out.len().min(t.wrapping_sub(h));
        for (i, o) in out.iter_mut().take(n).enumerate() {
            let at = h.wrapping_add(i) & self.mask;
            *o = (self.slots[at].load(Relaxed), self.tags[at].load(Relaxed));
        }
        self.head.0.store(h.wrapping_add(n), Release);
        n
    }

    /// Consumer: takes up to `max` frames, each with its tag, to `f`.
    #[inline]
    pub(crate) fn take(&self, max: usize, mut f: impl FnMut(Mbuf, u8)) -> usize {
        let mut got = [(0usize, 0u8); 32];
        let mut total = 0;
        while total < max {
            let want = (max - total).min(got.len());
            let n = self.pop(&mut got[..want]);
            for &(v, tag) in &got[..n] {
                if let Some(raw) = NonNull::new(v as *mut ffi::rte_mbuf) {
                    // SAFETY: the producer gave up this mbuf when it pushed
                    // it; popping it makes it ours, exactly once.
                    f(unsafe { Mbuf::from_raw(raw) }, tag);
                }
            }
            total += n;
            if n < want {
                break;
            }
        }
        total
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Frames left at stop are freed.
        self.take(usize::MAX, |m, _| drop(m));
    }
}

/// Frames a full ring refused, by whose they were (`tcp_handoff_full`,
/// `nat_handoff_full`).
#[derive(Default)]
pub(crate) struct Lost {
    pub(crate) tcp: u64,
    pub(crate) nat: u64,
}

/// A sender's frames for one receiver, pushed to its ring a burst at a
/// time.
pub(crate) struct Outbox {
    items: [Item; 32],
    len: usize,
}

impl Outbox {
    pub(crate) const fn new() -> Outbox {
        Outbox { items: [(0, 0); 32], len: 0 }
    }

    /// Adds `m` with `tag`; pushes the burst to `ring` when full. Frames
    /// the ring had no room for are freed and counted in `lost`.
    #[inline]
    pub(crate) fn add(&mut self, ring: &Ring, m: Mbuf, tag: u8, lost: &mut Lost) {
        if self.len == self.items.len() {
            self.flush(ring, lost);
        }
        self.items[self.len] = (m.into_raw() as usize, tag);
        self.len += 1;
    }

    /// Pushes what waits to `ring`; frees what does not fit, counted in
    /// `lost`.
    #[inline]
    pub(crate) fn flush(&mut self, ring: &Ring, lost: &mut Lost) {
        if self.len == 0 {
            return;
        }
        let pushed = ring.push(&self.items[..self.len]);
        for &(v, tag) in &self.items[pushed..self.len] {
            if let Some(raw) = NonNull::new(v as *mut ffi::rte_mbuf) {
                // SAFETY: not pushed, so still ours.
                drop(unsafe { Mbuf::from_raw(raw) });
            }
            if tag == stack::HANDOFF_TCP {
                lost.tcp += 1;
            } else {
                lost.nat += 1;
            }
        }
        self.len = 0;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbuf::Mempool;

    /// An outbox pushing to a ring with room for four of its six frames:
    /// the four go in order with their tags; the two refused go back to
    /// the pool, each counted as its owner's (TCP's tag, or a
    /// translator's).
    #[test]
    fn a_full_ring_frees_the_rest_and_counts_them_by_whose_they_were() {
        crate::eal::test_eal();
        let pool = Mempool::new("handoff-test", 63, 0).expect("pool");
        let (ring, mut out, mut lost) = (Ring::new(4), Outbox::new(), Lost::default());
        let before = pool.available();
        let tcp = stack::HANDOFF_TCP;
        for tag in [0, tcp, 1, tcp, 0, tcp] {
            out.add(&ring, pool.alloc().expect("mbuf"), tag, &mut lost);
        }
        out.flush(&ring, &mut lost);
        assert!(out.is_empty());
        assert_eq!((lost.tcp, lost.nat), (1, 1), "the fifth frame the translator's, the sixth TCP's");
        assert_eq!(pool.available(), before - 4, "the refused two back in the pool");
        let mut tags = Vec::new();
        ring.take(usize::MAX, |m, tag| {
            tags.push(tag);
            drop(m)
        });
        assert_eq!(tags, [0, tcp, 1, tcp]);
        assert_eq!(pool.available(), before);
    }

    #[test]
    fn items_come_out_in_order_across_the_wrap_with_their_tags_and_a_full_ring_refuses() {
        let r = Ring::new(8);
        let mut out = [(0usize, 0u8); 8];
        let mut next = 0usize;
        for round in 0..10 {
            // (Tags as the translator's and TCP's: 0x80.)
            let items: Vec<Item> = (0..5).map(|i| ((round * 5 + i) << 6, [0, 1, 2, 0x80][i % 4])).collect();
            assert_eq!(r.push(&items), 5);
            let n = r.pop(&mut out[..5]);
            assert_eq!(n, 5);
            for (i, &v) in out[..n].iter().enumerate() {
                assert_eq!(v, (next << 6, [0, 1, 2, 0x80][i % 4]));
                next += 1;
            }
        }
        assert!(r.is_empty());
        assert_eq!(r.push(&[(64, 0); 12]), 8, "eight slots");
        assert_eq!(r.push(&[(64, 0)]), 0);
        assert_eq!(r.pop(&mut out[..3]), 3);
        assert_eq!(r.push(&[(64, 0); 4]), 3);
        // (Pointer-free values: drain them here, not as mbufs.)
        while r.pop(&mut out) > 0 {}
    }

    #[test]
    fn a_consumer_thread_sees_every_item_once_in_order() {
        let r = std::sync::Arc::new(Ring::new(64));
        let c = r.clone();
        let n = 200_000usize;
        let reader = std::thread::spawn(move || {
            let (mut seen, mut out) = (0usize, [(0usize, 0u8); 16]);
            while seen < n {
                let k = c.pop(&mut out);
                for &v in &out[..k] {
                    assert_eq!(v, ((seen + 1) << 6, seen as u8));
                    seen += 1;
                }
            }
        });
        let mut sent = 0usize;
        while sent < n {
            let batch: Vec<Item> = (sent..(sent + 32).min(n)).map(|i| ((i + 1) << 6, i as u8)).collect();
            sent += r.push(&batch);
        }
        reader.join().unwrap();
        assert!(r.is_empty());
    }
}
