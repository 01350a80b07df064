//! Freed outside ports (and port blocks) are held back for the rules'
//! `port_reuse_delay` before any subscriber may have them again, so a
//! late packet from the last holder's peer finds no mapping instead of
//! reaching a stranger (CGNs keep them two minutes or more).
//!
//! - A port given out alone stays marked taken in its address's bitmap
//!   and is marked in the current of two "waiting" bitmaps. Every delay
//!   the older one's ports are let go (a word at a time) and it becomes
//!   the current: a port waits between one and two delays. Memory is two
//!   more bitmaps per address, whatever the churn.
//! - A port block stays owned by a marker ([`HELD`]) and waits in a FIFO
//!   queue sized for every block of the pool, so it never overflows;
//!   [`Nat::poll`] lets the due ones go. Ports inside a block the
//!   subscriber keeps are its own to reuse at once.

use super::ports::NO_BLOCK;
use super::Nat;
use super::NIL;
use std::collections::VecDeque;

/// A block's owner while it waits to be reused.
pub(super) const HELD: u32 = NIL - 1;

/// A block waiting: its address (index), block and when it may go.
#[derive(Copy, Clone, Debug)]
struct HeldBlock {
    until: u64,
    addr: u16,
    block: u16,
}

/// The reuse delay's state on one worker.
pub(super) struct Reuse {
    blocks: VecDeque<HeldBlock>,
    /// Which of each address's two waiting bitmaps takes freed ports now,
    /// and since when.
    pub(super) current: usize,
    since: u64,
}

impl Reuse {
    pub(super) fn new() -> Reuse {
        Reuse { blocks: VecDeque::new(), current: 0, since: 0 }
    }
}

impl Nat {
    /// Sizes the block queue for the pool's blocks (after the addresses
    /// changed, on the control path) and forgets what waited.
    pub(super) fn reset_reuse(&mut self) {
        let blocks: usize = self.addrs.iter().map(|o| o.owner.len()).sum();
        self.reuse.blocks = VecDeque::with_capacity(blocks);
        self.reuse.since = self.now;
    }

    /// Port `port` of protocol `p` on address `a` was freed: it waits out
    /// the reuse delay (or goes at once without one).
    pub(super) fn hold_port(&mut self, a: u16, p: usize, port: u16) {
        let delay = self.rules.port_reuse_delay;
        // The generations turn first if due, so the port waits a whole
        // delay at least, however late the last poll was.
        self.turn_if_due(self.now);
        let Some(o) = self.addrs.get_mut(usize::from(a)) else { return };
        if delay == 0 {
            o.set(p, port, false);
        } else {
            o.wait(self.reuse.current, p, port);
        }
    }

    /// Block `b` of address `a` was given back: it waits out the delay.
    pub(super) fn hold_block(&mut self, a: u16, b: u16) {
        let delay = self.rules.port_reuse_delay;
        let Some(o) = self.addrs.get_mut(usize::from(a)) else { return };
        if delay == 0 || self.reuse.blocks.len() >= self.reuse.blocks.capacity() {
            return o.free_block(usize::from(b));
        }
        if let (Some(owner), Some(c)) = (o.owner.get_mut(usize::from(b)), o.chain.get_mut(usize::from(b))) {
            (*owner, *c) = (HELD, NO_BLOCK);
        }
        self.reuse.blocks.push_back(HeldBlock { until: self.now.saturating_add(delay), addr: a, block: b });
    }

    /// Lets go of what has waited long enough: due blocks, and every
    /// delay the older bitmap's ports.
    pub(super) fn release_due(&mut self, now: u64) {
        while let Some(&h) = self.reuse.blocks.front().filter(|h| h.until <= now) {
            self.reuse.blocks.pop_front();
            if let Some(o) = self.addrs.get_mut(usize::from(h.addr)) {
                o.free_block(usize::from(h.block));
            }
        }
        self.turn_if_due(now);
    }

    /// Every delay, frees the older generation of waiting ports and makes
    /// it the current one. (Without a delay, ports still waiting from
    /// before it was turned off go within two seconds.)
    fn turn_if_due(&mut self, now: u64) {
        let period = self.rules.port_reuse_delay.max(1_000_000_000);
        // (Two turns at most: after them nothing waits.)
        for _ in 0..2 {
            if now.saturating_sub(self.reuse.since) < period {
                return;
            }
            let older = 1 - self.reuse.current;
            for o in &mut self.addrs {
                o.let_go(older);
            }
            self.reuse.current = older;
            self.reuse.since = self.reuse.since.saturating_add(period).max(now.saturating_sub(period));
        }
    }

    /// Ports and blocks waiting out the reuse delay.
    pub fn ports_held_back(&self) -> usize {
        self.reuse.blocks.len() + self.addrs.iter().map(|o| o.waiting()).sum::<usize>()
    }
}
