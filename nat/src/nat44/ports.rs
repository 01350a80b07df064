//! Outside addresses and their ports: a bitmap per protocol and worker
//! slice, port blocks given to subscribers (RFC 6888 REQ-5), and each
//! subscriber's paired address (RFC 4787 REQ-2).

use super::sessions::Mapping;
use super::sessions::Subscriber;
use super::Nat;
use super::Refusal;
use super::NIL;
use crate::index::hash;
use crate::log::LogEvent;
use stack::DropReason;
use stack::Verdict;

/// No block (end of a chain).
pub(super) const NO_BLOCK: u16 = u16::MAX;

/// One outside address: its ports in use, per protocol, and, with port
/// blocks, which subscriber holds each block.
pub(super) struct Outside {
    pub(super) addr: u32,
    pub(super) used: [Box<[u64]>; 3],
    pub(super) free: [u32; 3],
    pub(super) cursor: [u16; 3],
    /// The port range handed out.
    pub(super) range: (u16, u16),
    /// Ports per block (0: no blocks, ports are handed out one by one).
    pub(super) block: u16,
    /// Per block: the subscriber holding it (`NIL`: free).
    pub(super) owner: Box<[u32]>,
    /// Per block: ports held in it, over every protocol.
    pub(super) held: Box<[u16]>,
    /// Per block: the next block of the same subscriber.
    pub(super) chain: Box<[u16]>,
    pub(super) free_blocks: u32,
    pub(super) block_cursor: u16,
    /// Ports freed and waiting out the reuse delay, per protocol, in two
    /// generations (see `reuse`); empty with blocks.
    waiting: [[Box<[u64]>; 3]; 2],
    /// How many wait in each generation.
    waits: [u32; 2],
}

impl Outside {
    pub(super) fn new(addr: u32, range: (u16, u16), block: u16) -> Outside {
        let (lo, hi) = range;
        let n = u32::from(hi.saturating_sub(lo)) + 1;
        let words = || vec![0u64; 1024].into_boxed_slice();
        let blocks = if block == 0 { 0 } else { n.div_ceil(u32::from(block)) as usize };
        let waits = || if block == 0 { vec![0u64; 1024].into_boxed_slice() } else { Box::default() };
        Outside {
            addr,
            used: [words(), words(), words()],
            free: [n; 3],
            cursor: [lo; 3],
            range,
            block,
            owner: vec![NIL; blocks].into_boxed_slice(),
            held: vec![0; blocks].into_boxed_slice(),
            chain: vec![NO_BLOCK; blocks].into_boxed_slice(),
            free_blocks: blocks as u32,
            block_cursor: 0,
            waiting: [[waits(), waits(), waits()], [waits(), waits(), waits()]],
            waits: [0; 2],
        }
    }

    /// Port `port` of protocol `p`, freed, waits in generation `gen`
    /// (still marked taken).
    pub(super) fn wait(&mut self, gen: usize, p: usize, port: u16) {
        let w = self.waiting.get_mut(gen).and_then(|g| g.get_mut(p)).and_then(|b| b.get_mut(usize::from(port) / 64));
        match w {
            Some(w) => {
                *w |= 1 << (port % 64);
                if let Some(n) = self.waits.get_mut(gen) {
                    *n += 1;
                }
            }
            None => self.set(p, port, false),
        }
    }

    /// Takes port `port` of protocol `p` out of the wait (a port forward
    /// claims it) and frees it; false if it was not waiting.
    pub(super) fn unwait(&mut self, p: usize, port: u16) -> bool {
        let bit = 1u64 << (port % 64);
        for gen in 0..2 {
            let w =
                self.waiting.get_mut(gen).and_then(|g| g.get_mut(p)).and_then(|b| b.get_mut(usize::from(port) / 64));
            if let Some(w) = w.filter(|w| **w & bit != 0) {
                *w &= !bit;
                if let Some(n) = self.waits.get_mut(gen) {
                    *n -= 1;
                }
                self.set(p, port, false);
                return true;
            }
        }
        false
    }

    /// Frees every port waiting in generation `gen`.
    pub(super) fn let_go(&mut self, gen: usize) {
        match self.waits.get_mut(gen) {
            Some(n) if *n > 0 => *n = 0,
            _ => return,
        }
        let Some(g) = self.waiting.get_mut(gen) else { return };
        for ((waits, used), free) in g.iter_mut().zip(self.used.iter_mut()).zip(self.free.iter_mut()) {
            for (w, u) in waits.iter_mut().zip(used.iter_mut()) {
                if *w != 0 {
                    *u &= !*w;
                    *free += w.count_ones();
                    *w = 0;
                }
            }
        }
    }

    /// Ports waiting out the reuse delay.
    pub(super) fn waiting(&self) -> usize {
        self.waits.iter().map(|&n| n as usize).sum()
    }

    /// Room for a new subscriber: a free block, or with no blocks a free
    /// port in every protocol.
    pub(super) fn has_room(&self) -> bool {
        if self.block == 0 {
            self.free.iter().all(|&f| f > 0)
        } else {
            self.free_blocks > 0
        }
    }

    #[inline]
    pub(super) fn taken(&self, p: usize, port: u16) -> bool {
        self.used.get(p).and_then(|u| u.get(usize::from(port) / 64)).is_some_and(|w| w >> (port % 64) & 1 == 1)
    }

    #[inline]
    pub(super) fn set(&mut self, p: usize, port: u16, on: bool) {
        let (Some(used), Some(free)) = (self.used.get_mut(p), self.free.get_mut(p)) else { return };
        if let Some(w) = used.get_mut(usize::from(port) / 64) {
            if on {
                *w |= 1 << (port % 64);
                *free = free.saturating_sub(1);
            } else {
                *w &= !(1 << (port % 64));
                *free += 1;
            }
        }
    }

    /// A free port in the range: `want` if free there (port
    /// preservation), else the next free one after the cursor.
    pub(super) fn alloc(&mut self, p: usize, want: u16) -> Option<u16> {
        let port = self.peek(p, want)?;
        self.set(p, port, true);
        if port != want {
            if let Some(c) = self.cursor.get_mut(p) {
                *c = port.wrapping_add(1);
            }
        }
        Some(port)
    }

    /// The port [`Outside::alloc`] would hand out now, without taking it.
    #[inline]
    pub(super) fn peek(&self, p: usize, want: u16) -> Option<u16> {
        if self.free.get(p).is_none_or(|&f| f == 0) {
            return None;
        }
        let (lo, hi) = self.range;
        if (lo..=hi).contains(&want) && !self.taken(p, want) {
            return Some(want);
        }
        self.first_free(p, self.cursor.get(p).copied().unwrap_or(lo), (lo, hi))
    }

    /// The first free port at or after `from` in `lo..=hi`, wrapping
    /// around; a word of the bitmap at a time.
    pub(super) fn first_free(&self, p: usize, from: u16, (lo, hi): (u16, u16)) -> Option<u16> {
        let used = self.used.get(p)?;
        let from = from.clamp(lo, hi);
        free_in(used, from, hi).or_else(|| free_in(used, lo, from.checked_sub(1).filter(|&b| b >= lo)?))
    }

    /// The block holding `port`, if blocks are on and it is in range.
    #[inline]
    pub(super) fn block_of(&self, port: u16) -> Option<usize> {
        let (lo, hi) = self.range;
        if self.block == 0 || port < lo || port > hi {
            return None;
        }
        Some(usize::from((port - lo) / self.block))
    }

    /// Block `b`'s ports, inclusive.
    pub(super) fn block_range(&self, b: usize) -> (u16, u16) {
        let (lo, hi) = self.range;
        let first = u32::from(lo) + b as u32 * u32::from(self.block);
        let last = (first + u32::from(self.block) - 1).min(u32::from(hi));
        (first as u16, last as u16)
    }

    /// Gives a free block to subscriber `sub`: the one holding `want` if
    /// free (port preservation), else the next free one after the cursor.
    pub(super) fn take_block(&mut self, sub: u32, want: u16) -> Option<usize> {
        let n = self.owner.len();
        let b = match self.block_of(want) {
            Some(b) if self.owner.get(b) == Some(&NIL) => b,
            _ => {
                let start = usize::from(self.block_cursor);
                let b = (0..n).map(|i| (start + i) % n).find(|&b| self.owner.get(b) == Some(&NIL))?;
                self.block_cursor = ((b + 1) % n) as u16;
                b
            }
        };
        *self.owner.get_mut(b)? = sub;
        self.free_blocks = self.free_blocks.saturating_sub(1);
        Some(b)
    }

    /// Takes `port` in block `b` for protocol `p`.
    pub(super) fn take_in_block(&mut self, p: usize, port: u16, b: usize) -> u16 {
        self.set(p, port, true);
        if let Some(h) = self.held.get_mut(b) {
            *h += 1;
        }
        port
    }

    /// A free port for protocol `p` in the blocks subscriber `sub` holds
    /// (chained from `first`): `want` if free in one of them, else the
    /// first free one.
    pub(super) fn alloc_in_own(&mut self, sub: u32, first: u16, p: usize, want: u16) -> Option<u16> {
        if let Some(b) = self.block_of(want) {
            if self.owner.get(b) == Some(&sub) && !self.taken(p, want) {
                return Some(self.take_in_block(p, want, b));
            }
        }
        let mut b = first;
        while b != NO_BLOCK {
            let (lo, hi) = self.block_range(usize::from(b));
            if let Some(port) = self.first_free(p, lo, (lo, hi)) {
                return Some(self.take_in_block(p, port, usize::from(b)));
            }
            b = self.chain.get(usize::from(b)).copied().unwrap_or(NO_BLOCK);
        }
        None
    }

    /// Block `b` is free again.
    pub(super) fn free_block(&mut self, b: usize) {
        if let (Some(o), Some(c)) = (self.owner.get_mut(b), self.chain.get_mut(b)) {
            *o = NIL;
            *c = NO_BLOCK;
            self.free_blocks += 1;
        }
    }
}

/// The first port in `a..=b` whose bit in `used` is clear.
#[inline]
pub(super) fn free_in(used: &[u64], a: u16, b: u16) -> Option<u16> {
    let (mut port, b) = (u32::from(a), u32::from(b));
    while port <= b {
        let word = used.get(port as usize / 64).copied().unwrap_or(u64::MAX);
        let free = !word >> (port % 64);
        if free != 0 {
            let cand = port + free.trailing_zeros();
            return (cand <= b).then_some(cand as u16);
        }
        port = (port | 63) + 1;
    }
    None
}

impl Nat {
    /// The outside address (an index in `addrs`) a new subscriber
    /// `inside` of rule `ri` gets. Paired pooling: one address for all of
    /// its mappings, spread over the pool by a hash of its address; the
    /// first from there with ports free in every protocol.
    #[inline]
    pub(super) fn paired_address(&self, ri: usize, inside: u32) -> Option<u16> {
        let pool: &[u16] = self.pools.get(ri).map_or(&[], |p| p.as_slice());
        let n = pool.len();
        let start = hash(u128::from(inside), self.seed) as usize;
        let has_room = |a: u16| self.addrs.get(usize::from(a)).is_some_and(Outside::has_room);
        (0..n)
            .filter_map(|i| pool.get((start + i) % n).copied())
            .find(|&a| has_room(a))
            .or_else(|| pool.get(start % n.max(1)).copied())
    }

    /// A port for subscriber `sub` in protocol `p` from its blocks: `want`
    /// if it is free in one of them (port preservation), else the first
    /// free one in them, else from a new block (the block holding `want`
    /// if free) while the subscriber is under its bound
    /// (`subscriber_ports` rounded up to whole blocks). `Ok(None)`: no
    /// port.
    pub(super) fn alloc_in_blocks(&mut self, sub: u32, p: usize, want: u16) -> Result<Option<u16>, Refusal> {
        let Some(&(mut s)) = self.subs.get(sub as usize) else { return Ok(None) };
        let a = usize::from(s.addr);
        if let Some(port) = self.addrs.get_mut(a).and_then(|o| o.alloc_in_own(sub, s.first_block, p, want)) {
            return Ok(Some(port));
        }
        let max_blocks = self.rules.subscriber_ports.div_ceil(u32::from(self.rules.port_block).max(1));
        while u32::from(s.blocks) < max_blocks {
            if !self.log_room() {
                return Err(Verdict::Refuse(DropReason::NatLogFull));
            }
            let Some(o) = self.addrs.get_mut(a) else { break };
            let Some(b) = o.take_block(sub, want) else { break };
            if let Some(c) = o.chain.get_mut(b) {
                *c = s.first_block;
            }
            (s.first_block, s.blocks) = (b as u16, s.blocks + 1);
            let (lo, hi) = o.block_range(b);
            // Forwarded ports may fill a block; then another is taken.
            let from = if (lo..=hi).contains(&want) { want } else { lo };
            let found = o.first_free(p, from, (lo, hi)).map(|port| o.take_in_block(p, port, b));
            let outside = o.addr;
            if let Some(x) = self.subs.get_mut(sub as usize) {
                (x.first_block, x.blocks) = (s.first_block, s.blocks);
            }
            self.record(LogEvent::BlockAlloc, 0, (s.inside, 0), outside, (lo, hi));
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Frees block `b` of subscriber `s` (its chain is the caller's to
    /// mend) and records it; the next block in the chain.
    pub(super) fn release_block(&mut self, s: Subscriber, b: u16) -> u16 {
        let Some(o) = self.addrs.get_mut(usize::from(s.addr)) else { return NO_BLOCK };
        let next = o.chain.get(usize::from(b)).copied().unwrap_or(NO_BLOCK);
        let (range, outside) = (o.block_range(usize::from(b)), o.addr);
        self.hold_block(s.addr, b);
        self.record(LogEvent::BlockRelease, 0, (s.inside, 0), outside, range);
        next
    }

    /// Port `port` of protocol `p` on address `a`, held by subscriber
    /// `sub`, is free again. With blocks, a block left empty goes back
    /// unless it is the subscriber's last (that one goes with the
    /// subscriber, which saves a pair of records per sporadic flow).
    pub(super) fn free_port(&mut self, a: u16, p: usize, port: u16, sub: u32) {
        let Some(o) = self.addrs.get_mut(usize::from(a)) else { return };
        // In a block it stays the subscriber's: free at once. Alone, it
        // waits before another subscriber may have it.
        let Some(b) = o.block_of(port) else {
            return self.hold_port(a, p, port);
        };
        o.set(p, port, false);
        let Some(h) = o.held.get_mut(b) else { return };
        *h = h.saturating_sub(1);
        let Some(&s) = self.subs.get(sub as usize) else { return };
        if *h > 0 || s.blocks <= 1 || o.owner.get(b) != Some(&sub) {
            return;
        }
        // Unlink b from the subscriber's chain.
        let b = b as u16;
        let next = o.chain.get(usize::from(b)).copied().unwrap_or(NO_BLOCK);
        let mut first = s.first_block;
        if first == b {
            first = next;
        } else {
            let mut i = first;
            while let Some(c) = o.chain.get_mut(usize::from(i)) {
                if *c == b {
                    *c = next;
                    break;
                }
                i = *c;
            }
        }
        if let Some(x) = self.subs.get_mut(sub as usize) {
            (x.first_block, x.blocks) = (first, x.blocks - 1);
        }
        self.release_block(s, b);
    }

    /// A mapping's outside address.
    #[inline]
    pub(super) fn outside_of(&self, m: &Mapping) -> u32 {
        self.addrs.get(usize::from(m.addr)).map_or(0, |o| o.addr)
    }
}

#[cfg(test)]
mod outside_tests {
    use super::Outside;

    #[test]
    fn peek_names_the_port_alloc_hands_out() {
        // A small range, so the cursor wraps and ports run out.
        let mut o = Outside::new(0x6440_0001, (1024, 1151), 0);
        let wants = (0..200u16).map(|i| [1024 + i % 7, 1100 + i % 3, 80, 1151][usize::from(i) % 4]);
        for want in wants {
            let peeked = o.peek(1, want);
            assert_eq!(o.alloc(1, want), peeked, "want {want}");
        }
        assert_eq!(o.peek(1, 1024), None, "all 128 ports taken");
        assert_eq!(o.peek(0, 1024), Some(1024), "another protocol's ports are its own");
    }

    #[test]
    fn first_free_finds_what_a_port_by_port_search_finds() {
        // Ranges within, across and at the ends of bitmap words, filled
        // to every degree (a cheap generator: no two runs alike).
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for (lo, hi) in [(1024, 1151), (1000, 1030), (60, 200), (0, 63), (65000, 65535), (5, 5)] {
            for fill in [0u64, 30, 60, 95, 100] {
                let mut o = Outside::new(0x6440_0001, (lo, hi), 0);
                for port in lo..=hi {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % 100 < fill {
                        o.set(0, port, true);
                    }
                }
                for from in [lo, hi, lo.midpoint(hi), lo.saturating_sub(3), hi.saturating_add(3)] {
                    let start = from.clamp(lo, hi);
                    let slow = (start..=hi).chain(lo..start).find(|&p| !o.taken(0, p));
                    assert_eq!(o.first_free(0, from, (lo, hi)), slow, "{lo}..={hi} from {from}, {fill}% used");
                }
            }
        }
    }
}
