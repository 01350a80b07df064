//! The per-interface lists of entries outside traffic can make (see the
//! module doc of `neigh`): entries waiting for a reply and entries
//! learned but not confirmed, each in arrival order, linked through the
//! cache's slots so the oldest is found and unlinked in O(1), and the
//! links mended when the backward-shift deletion moves a slot.

use super::NeighborCache;
use crate::icmp::RateLimiter;

/// How far an entry is vouched for, which decides its bound.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Trust {
    /// Static, or a reply to our request confirmed it.
    Confirmed,
    /// Our request is out, no answer yet (`Incomplete`).
    Resolving,
    /// Learned from a request to us; nothing confirmed it yet.
    Unconfirmed,
}

/// The per-interface lists of entries that are not confirmed.
pub(super) const RESOLVING: usize = 0;
pub(super) const UNCONFIRMED: usize = 1;
pub(super) const NIL: u32 = u32::MAX;

impl Trust {
    pub(super) fn list(self) -> Option<usize> {
        match self {
            Trust::Confirmed => None,
            Trust::Resolving => Some(RESOLVING),
            Trust::Unconfirmed => Some(UNCONFIRMED),
        }
    }
}

/// A list of slots in arrival order, linked through the slots.
#[derive(Copy, Clone)]
pub(super) struct List {
    pub(super) head: u32,
    pub(super) tail: u32,
    pub(super) len: u32,
}

/// What one interface may hold of unconfirmed entries, and its budget of
/// new resolutions.
pub(super) struct IfBounds {
    pub(super) lists: [List; 2],
    pub(super) solicit: RateLimiter,
}

impl<B> NeighborCache<B> {
    /// Removes the oldest entry of `list` on interface `ifindex`.
    pub(super) fn evict_oldest(&mut self, ifindex: u16, list: usize, evicted: &mut impl FnMut(B)) {
        let Some(head) = self.bounds.get(usize::from(ifindex)).and_then(|b| b.lists.get(list)).map(|l| l.head) else {
            return;
        };
        let Some(s) = self.slots.get_mut(head as usize) else { return };
        for q in s.queue.iter_mut().take(s.queued) {
            if let Some(p) = q.take() {
                evicted(p);
            }
        }
        s.queued = 0;
        if let Some(n) = self.evicted.get_mut(list) {
            *n += 1;
        }
        self.remove_at(head as usize);
    }

    /// The list a slot belongs to, as (interface, list).
    pub(super) fn list_of(&self, i: usize) -> Option<(usize, usize)> {
        let s = self.slots.get(i)?;
        Some((usize::from(s.key?.0), s.trust.list()?))
    }

    pub(super) fn list_mut(&mut self, at: (usize, usize)) -> Option<&mut List> {
        self.bounds.get_mut(at.0)?.lists.get_mut(at.1)
    }

    /// Appends slot `i` to the tail of its trust's list, if it has one.
    pub(super) fn link(&mut self, i: usize) {
        let Some(at) = self.list_of(i) else { return };
        let Some(l) = self.list_mut(at) else { return };
        let tail = l.tail;
        l.tail = i as u32;
        l.len += 1;
        if tail == NIL {
            l.head = i as u32;
        } else if let Some(t) = self.slots.get_mut(tail as usize) {
            t.next = i as u32;
        }
        if let Some(s) = self.slots.get_mut(i) {
            s.prev = tail;
            s.next = NIL;
        }
    }

    /// Takes slot `i` out of its list (its trust is then `Confirmed`).
    pub(super) fn unlink(&mut self, i: usize) {
        let Some(at) = self.list_of(i) else { return };
        let Some(s) = self.slots.get_mut(i) else { return };
        let (prev, next) = (s.prev, s.next);
        s.trust = Trust::Confirmed;
        (s.prev, s.next) = (NIL, NIL);
        self.relink(at, prev, next, next, prev);
        if let Some(l) = self.list_mut(at) {
            l.len -= 1;
        }
    }

    /// Points slot `prev`'s next (or the head) at `after_prev` and slot
    /// `next`'s prev (or the tail) at `before_next`.
    pub(super) fn relink(&mut self, at: (usize, usize), prev: u32, next: u32, after_prev: u32, before_next: u32) {
        match self.slots.get_mut(prev as usize) {
            Some(p) if prev != NIL => p.next = after_prev,
            _ => {
                if let Some(l) = self.list_mut(at) {
                    l.head = after_prev;
                }
            }
        }
        match self.slots.get_mut(next as usize) {
            Some(n) if next != NIL => n.prev = before_next,
            _ => {
                if let Some(l) = self.list_mut(at) {
                    l.tail = before_next;
                }
            }
        }
    }

    /// Slot `i` took the place of another (a backward shift): its list
    /// neighbors now point at `i`.
    pub(super) fn moved_to(&mut self, i: usize) {
        let Some(at) = self.list_of(i) else { return };
        let Some(s) = self.slots.get(i) else { return };
        let (prev, next) = (s.prev, s.next);
        self.relink(at, prev, next, i as u32, i as u32);
    }
}
