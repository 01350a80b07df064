//! The reassembly table: fragments of datagrams addressed to the gateway,
//! held as they came (no copy) until each datagram is whole.
//!
//! A datagram is known by its key: source, destination, protocol and
//! identification for IPv4 (RFC 791 §3.2), source, destination and
//! identification for IPv6 (RFC 8200 §4.5). Keys hash with a seed drawn
//! at start, so no sender can aim at one bucket.
//!
//! Every resource has a bound of its own, and the table never grows:
//! - contexts (datagrams in progress): when all are taken, the oldest
//!   is evicted (`reassembly_evicted`), so a flood of fragments that
//!   never complete cannot block a datagram whose fragments come
//!   together, as real ones do, within moments;
//! - a share per source: one source address holds at most `per_source`
//!   contexts and as large a share of the buffers; past it, its own
//!   oldest datagram goes (`reassembly_source_limit`), so a flood from
//!   one address never evicts anyone else's. (Sources are found by a
//!   seeded hash of the address, in a few probes.)
//! - fragments per datagram (`reassembly_too_many_fragments`);
//! - buffers held over all datagrams (again the oldest goes first);
//! - time: a datagram not whole after the timeout is dropped
//!   (`reassembly_timeout`), and its first fragment comes back for the
//!   ICMP Time Exceeded the sender is owed (RFC 792, RFC 8200 §4.5).
//!
//! A fragment that overlaps another drops the whole datagram, and the
//! fragments still to come with it (RFC 5722; the same for IPv4, after
//! RFC 1858's attacks); an exact duplicate is ignored instead (RFC 8200
//! §4.5 allows it; networks do duplicate). Per-fragment work is one hash
//! lookup and a walk over the datagram's own fragments, at most the
//! per-datagram bound: nothing grows with the table.

use crate::drop::DropReason;
use crate::Secret;
use std::hash::BuildHasher;

const NIL: u16 = u16::MAX;

/// Largest bound on fragments per datagram (the scratch array a
/// complete datagram is taken into).
pub const MAX_FRAGMENTS: usize = 128;
/// Largest bound on contexts and on buffers held (indices are `u16`).
pub const MAX_ENTRIES: usize = 32768;

/// The table's bounds (per worker).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Datagrams in progress at once (1..=[`MAX_ENTRIES`]).
    pub contexts: usize,
    /// Fragments one datagram may have (2..=[`MAX_FRAGMENTS`]).
    pub fragments: usize,
    /// Fragments held over all datagrams (1..=[`MAX_ENTRIES`]).
    pub buffers: usize,
    /// Contexts one source address may hold (1..=`contexts`); it may
    /// hold the same share of the buffers. `contexts` itself: no bound.
    pub per_source: usize,
    /// How long a datagram may take to come together, in nanoseconds.
    pub timeout_ns: u64,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig { contexts: 256, fragments: 64, buffers: 1024, per_source: 32, timeout_ns: 30_000_000_000 }
    }
}

/// What identifies the fragments of one datagram.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct FragKey {
    /// Addresses: IPv4 ones in the first four bytes.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub ident: u32,
    /// The IPv4 protocol; 0 for IPv6, whose key has none.
    pub protocol: u8,
    pub v6: bool,
}

/// Where one fragment's data lies in its datagram's payload, in bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
    /// More fragments follow (MF / M).
    pub more: bool,
}

/// What became of a fragment given to [`Reassembly::add`].
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Held; the datagram is not whole yet.
    Held,
    /// The datagram is whole: take it with [`Reassembly::take`].
    Complete(Whole),
    /// The fragment was dropped, and counted.
    Dropped,
}

/// A whole datagram, still in the table.
#[derive(Debug, PartialEq, Eq)]
pub struct Whole(u16);

/// A datagram that timed out: its first fragment if it came (for the
/// ICMP error), the rest already dropped and counted.
pub struct Expired<B> {
    pub first: Option<B>,
}

#[derive(Clone)]
struct Context {
    key: FragKey,
    since: u64,
    /// The payload's length, once the last fragment came.
    total: Option<u32>,
    /// Data bytes held.
    got: u32,
    count: u16,
    /// Fragments, by offset.
    head: u16,
    /// Hash chain.
    hnext: u16,
    /// Age list (creation order), and its source's.
    older: u16,
    newer: u16,
    src: u16,
    src_older: u16,
    src_newer: u16,
    /// Why the datagram was refused, fragments still to come and all.
    dead: Option<DropReason>,
}

impl Context {
    const FREE: Context = Context {
        key: FragKey { src: [0; 16], dst: [0; 16], ident: 0, protocol: 0, v6: false },
        since: 0,
        total: None,
        got: 0,
        count: 0,
        head: NIL,
        hnext: NIL,
        older: NIL,
        newer: NIL,
        src: 0,
        src_older: NIL,
        src_newer: NIL,
        dead: None,
    };
}

/// What one source address holds: contexts, buffers, its age list. The
/// sources' table is open-addressed by a seeded hash of the address.
#[derive(Copy, Clone)]
struct Source {
    addr: [u8; 16],
    v6: bool,
    state: SlotState,
    contexts: u16,
    buffers: u16,
    oldest: u16,
    newest: u16,
}

/// A slot of the sources' table: never used, in use, or used before
/// (lookups go on past it, inserts take it).
#[derive(Copy, Clone, PartialEq, Eq)]
enum SlotState {
    Empty,
    Live,
    Gone,
}

impl Source {
    const EMPTY: Source =
        Source { addr: [0; 16], v6: false, state: SlotState::Empty, contexts: 0, buffers: 0, oldest: NIL, newest: NIL };
}

/// Slots a source is looked for in, from its hash's (beyond, a source
/// shares the home slot: a bound on the work, reached only by a table
/// crowded with collisions).
const SOURCE_PROBES: usize = 8;

struct Slot<B> {
    pkt: Option<B>,
    start: u32,
    end: u32,
    next: u16,
}

/// One worker's reassembly table.
pub struct Reassembly<B> {
    cfg: ReassemblyConfig,
    seed: Secret,
    ctx: Box<[Context]>,
    free_ctx: Vec<u16>,
    buckets: Box<[u16]>,
    slots: Box<[Slot<B>]>,
    free_slot: Vec<u16>,
    sources: Box<[Source]>,
    /// Buffers one source may hold.
    source_buffers: u16,
    /// Age list ends.
    oldest: u16,
    newest: u16,
}

impl<B> Reassembly<B> {
    /// A table with `cfg`'s bounds (clamped to the ranges above), all of
    /// its memory taken now.
    pub fn new(cfg: ReassemblyConfig) -> Self {
        let cfg = ReassemblyConfig {
            contexts: cfg.contexts.clamp(1, MAX_ENTRIES),
            fragments: cfg.fragments.clamp(2, MAX_FRAGMENTS),
            buffers: cfg.buffers.clamp(1, MAX_ENTRIES),
            per_source: cfg.per_source.clamp(1, cfg.contexts.clamp(1, MAX_ENTRIES)),
            timeout_ns: cfg.timeout_ns,
        };
        let nbuckets = (cfg.contexts * 2).next_power_of_two();
        // A share of every context is no share: no per-source bound (two
        // sources in one slot would otherwise share the whole table).
        let source_buffers = if cfg.per_source >= cfg.contexts {
            u16::MAX
        } else {
            (cfg.buffers * cfg.per_source).div_ceil(cfg.contexts).max(1) as u16
        };
        Reassembly {
            cfg,
            seed: Secret::default(),
            ctx: vec![Context::FREE; cfg.contexts].into_boxed_slice(),
            free_ctx: (0..cfg.contexts as u16).rev().collect(),
            buckets: vec![NIL; nbuckets].into_boxed_slice(),
            slots: (0..cfg.buffers).map(|_| Slot { pkt: None, start: 0, end: 0, next: NIL }).collect(),
            free_slot: (0..cfg.buffers as u16).rev().collect(),
            sources: vec![Source::EMPTY; nbuckets * 2].into_boxed_slice(),
            source_buffers,
            oldest: NIL,
            newest: NIL,
        }
    }

    /// The bounds in force.
    pub fn config(&self) -> ReassemblyConfig {
        self.cfg
    }

    /// Datagrams in progress (dead ones included).
    pub fn contexts(&self) -> usize {
        self.cfg.contexts - self.free_ctx.len()
    }

    /// Fragments held.
    pub fn buffers(&self) -> usize {
        self.cfg.buffers - self.free_slot.len()
    }

    fn bucket(&self, key: &FragKey) -> usize {
        self.seed.hash_one(key) as usize & (self.buckets.len() - 1)
    }

    /// The source slot of `key`'s source address.
    fn source(&mut self, key: &FragKey) -> u16 {
        let mask = self.sources.len() - 1;
        let home = self.seed.hash_one((key.src, key.v6)) as usize & mask;
        let mut free = None;
        for i in 0..SOURCE_PROBES {
            let at = (home + i) & mask;
            let Some(x) = self.sources.get(at) else { break };
            match x.state {
                SlotState::Live if x.addr == key.src && x.v6 == key.v6 => return at as u16,
                SlotState::Live => {}
                SlotState::Gone => {
                    free.get_or_insert(at);
                }
                SlotState::Empty => {
                    free.get_or_insert(at);
                    break;
                }
            }
        }
        let Some(at) = free else { return home as u16 };
        if let Some(x) = self.sources.get_mut(at) {
            *x = Source { addr: key.src, v6: key.v6, state: SlotState::Live, ..Source::EMPTY };
        }
        at as u16
    }

    fn find(&self, key: &FragKey) -> Option<u16> {
        let mut c = *self.buckets.get(self.bucket(key))?;
        while let Some(x) = self.ctx.get(usize::from(c)) {
            if x.key == *key {
                return Some(c);
            }
            c = x.hnext;
        }
        None
    }

    /// Adds a fragment (`pkt`, whose data is `span` of its datagram's
    /// payload). Drops are counted in `drops` (indexed by [`DropReason`]),
    /// one per buffer let go.
    pub fn add(&mut self, key: &FragKey, span: Span, pkt: B, now: u64, drops: &mut [u64]) -> Added {
        let c = match self.find(key) {
            Some(c) => c,
            None => match self.open(key, now, drops) {
                Some(c) => c,
                None => return dropped(drops, DropReason::ReassemblyEvicted, 1),
            },
        };
        let Some(x) = self.ctx.get(usize::from(c)) else { return Added::Dropped };
        if let Some(reason) = x.dead {
            return dropped(drops, reason, 1);
        }
        // The end is fixed by the last fragment; nothing may pass it, and
        // a second "last" must agree.
        let total = if span.more { x.total } else { Some(span.end) };
        let past_end = |end: u32| total.is_some_and(|t| end > t);
        if x.total.is_some_and(|t| Some(t) != total) || past_end(span.end) {
            drop(pkt);
            return self.kill(c, DropReason::ReassemblyOverlap, drops);
        }
        // Walk the fragments in order: an exact duplicate is ignored, any
        // other overlap kills the datagram (RFC 5722).
        let (mut prev, mut at) = (NIL, x.head);
        while let Some(s) = self.slots.get(usize::from(at)) {
            if s.start == span.start && s.end == span.end {
                return dropped(drops, DropReason::ReassemblyDuplicate, 1);
            }
            if span.start < s.end && s.start < span.end || past_end(s.end) {
                drop(pkt);
                return self.kill(c, DropReason::ReassemblyOverlap, drops);
            }
            if s.start > span.start {
                break;
            }
            (prev, at) = (at, s.next);
        }
        if usize::from(x.count) >= self.cfg.fragments {
            drop(pkt);
            return self.kill(c, DropReason::ReassemblyTooManyFragments, drops);
        }
        let Some(slot) = self.take_slot(c, drops) else {
            return dropped(drops, DropReason::ReassemblyEvicted, 1);
        };
        if let Some(s) = self.slots.get_mut(usize::from(slot)) {
            *s = Slot { pkt: Some(pkt), start: span.start, end: span.end, next: at };
        }
        let Some(x) = self.ctx.get_mut(usize::from(c)) else { return Added::Dropped };
        match self.slots.get_mut(usize::from(prev)) {
            Some(p) => p.next = slot,
            None => x.head = slot,
        }
        x.count += 1;
        x.got += span.end - span.start;
        x.total = total;
        // No overlaps and nothing past the end: the bytes add up only
        // when every one is there.
        if x.total == Some(x.got) {
            Added::Complete(Whole(c))
        } else {
            Added::Held
        }
    }

    /// Moves a whole datagram's fragments into `out`, in order, and frees
    /// its context. Returns how many.
    pub fn take(&mut self, whole: Whole, out: &mut [Option<B>; MAX_FRAGMENTS]) -> usize {
        let c = whole.0;
        let mut n = 0;
        while let Some((pkt, _)) = self.pop_fragment(c) {
            if let Some(o) = out.get_mut(n) {
                *o = pkt;
                n += 1;
            }
        }
        self.close(c);
        n
    }

    /// Ends the oldest datagram if it is older than the timeout. Call
    /// until it returns `None`. The first fragment it hands back is not
    /// counted yet: the caller's ICMP error counts it.
    pub fn expire(&mut self, now: u64, drops: &mut [u64]) -> Option<Expired<B>> {
        let c = self.oldest;
        let x = self.ctx.get(usize::from(c))?;
        if now.saturating_sub(x.since) < self.cfg.timeout_ns {
            return None;
        }
        let mut first = None;
        while let Some((pkt, start)) = self.pop_fragment(c) {
            match pkt {
                Some(p) if start == 0 => first = Some(p),
                Some(_) => count(drops, DropReason::ReassemblyTimeout, 1),
                None => {}
            }
        }
        self.close(c);
        Some(Expired { first })
    }

    /// A context for `key`: its source's oldest goes if the source has
    /// its share, the oldest of all if none is free.
    fn open(&mut self, key: &FragKey, now: u64, drops: &mut [u64]) -> Option<u16> {
        let src = self.source(key);
        let share = self.sources.get(usize::from(src)).copied().unwrap_or(Source::EMPTY);
        if usize::from(share.contexts) >= self.cfg.per_source && self.cfg.per_source < self.cfg.contexts {
            self.evict(share.oldest, DropReason::ReassemblySourceLimit, drops);
        } else if self.free_ctx.is_empty() {
            self.evict(self.oldest, DropReason::ReassemblyEvicted, drops);
        }
        let c = self.free_ctx.pop()?;
        let b = self.bucket(key);
        let hnext = *self.buckets.get(b)?;
        let (newest, src_newest) = (self.newest, self.sources.get(usize::from(src))?.newest);
        let x = self.ctx.get_mut(usize::from(c))?;
        *x = Context { key: *key, since: now, hnext, older: newest, src, src_older: src_newest, ..Context::FREE };
        if let Some(h) = self.buckets.get_mut(b) {
            *h = c;
        }
        match self.ctx.get_mut(usize::from(newest)) {
            Some(n) => n.newer = c,
            None => self.oldest = c,
        }
        self.newest = c;
        match self.ctx.get_mut(usize::from(src_newest)) {
            Some(n) => n.src_newer = c,
            None => self.sources.get_mut(usize::from(src))?.oldest = c,
        }
        let share = self.sources.get_mut(usize::from(src))?;
        share.newest = c;
        share.contexts += 1;
        Some(c)
    }

    /// A free fragment slot for context `keep`: if its source holds its
    /// share of buffers, its oldest other datagram goes; if none is free,
    /// the oldest others.
    fn take_slot(&mut self, keep: u16, drops: &mut [u64]) -> Option<u16> {
        let src = self.ctx.get(usize::from(keep))?.src;
        loop {
            let share = self.sources.get(usize::from(src)).copied()?;
            if share.buffers < self.source_buffers && !self.free_slot.is_empty() {
                break;
            }
            let (mut victim, reason) = if share.buffers >= self.source_buffers {
                (share.oldest, DropReason::ReassemblySourceLimit)
            } else {
                (self.oldest, DropReason::ReassemblyEvicted)
            };
            if victim == keep {
                let x = self.ctx.get(usize::from(victim))?;
                victim = if reason == DropReason::ReassemblySourceLimit { x.src_newer } else { x.newer };
            }
            self.ctx.get(usize::from(victim))?;
            self.evict(victim, reason, drops);
        }
        if let Some(share) = self.sources.get_mut(usize::from(src)) {
            share.buffers += 1;
        }
        self.free_slot.pop()
    }

    /// Drops a datagram in progress for another's room.
    fn evict(&mut self, c: u16, reason: DropReason, drops: &mut [u64]) {
        self.release(c, reason, drops);
        self.close(c);
    }

    /// Refuses the datagram: its fragments dropped, the context kept
    /// (dead) so the ones still to come are dropped too, until it ages
    /// out.
    fn kill(&mut self, c: u16, reason: DropReason, drops: &mut [u64]) -> Added {
        count(drops, reason, 1);
        self.release(c, reason, drops);
        if let Some(x) = self.ctx.get_mut(usize::from(c)) {
            x.dead = Some(reason);
        }
        Added::Dropped
    }

    /// Drops a context's fragments, counting each.
    fn release(&mut self, c: u16, reason: DropReason, drops: &mut [u64]) {
        while let Some((pkt, _)) = self.pop_fragment(c) {
            if pkt.is_some() {
                count(drops, reason, 1);
            }
        }
        if let Some(x) = self.ctx.get_mut(usize::from(c)) {
            x.got = 0;
        }
    }

    /// Takes context `c`'s first fragment off it, its slot freed: the
    /// buffer and where its data starts. `None` when there are no more.
    fn pop_fragment(&mut self, c: u16) -> Option<(Option<B>, u32)> {
        let x = self.ctx.get_mut(usize::from(c))?;
        let at = x.head;
        let s = self.slots.get_mut(usize::from(at))?;
        let (pkt, start) = (s.pkt.take(), s.start);
        x.head = std::mem::replace(&mut s.next, NIL);
        x.count = x.count.saturating_sub(1);
        if let Some(share) = self.sources.get_mut(usize::from(x.src)) {
            share.buffers = share.buffers.saturating_sub(1);
        }
        self.free_slot.push(at);
        Some((pkt, start))
    }

    /// Unlinks a context (its fragments already gone) and frees it.
    fn close(&mut self, c: u16) {
        let Some(x) = self.ctx.get(usize::from(c)) else { return };
        let (key, hnext, older, newer) = (x.key, x.hnext, x.older, x.newer);
        let b = self.bucket(&key);
        let mut link = self.buckets.get(b).copied().unwrap_or(NIL);
        if link == c {
            if let Some(h) = self.buckets.get_mut(b) {
                *h = hnext;
            }
        } else {
            while let Some(y) = self.ctx.get(usize::from(link)) {
                if y.hnext == c {
                    if let Some(y) = self.ctx.get_mut(usize::from(link)) {
                        y.hnext = hnext;
                    }
                    break;
                }
                link = y.hnext;
            }
        }
        match self.ctx.get_mut(usize::from(older)) {
            Some(o) => o.newer = newer,
            None => self.oldest = newer,
        }
        match self.ctx.get_mut(usize::from(newer)) {
            Some(n) => n.older = older,
            None => self.newest = older,
        }
        let Some(&Context { src, src_older, src_newer, .. }) = self.ctx.get(usize::from(c)) else { return };
        match self.ctx.get_mut(usize::from(src_older)) {
            Some(o) => o.src_newer = src_newer,
            None => {
                if let Some(share) = self.sources.get_mut(usize::from(src)) {
                    share.oldest = src_newer;
                }
            }
        }
        match self.ctx.get_mut(usize::from(src_newer)) {
            Some(n) => n.src_older = src_older,
            None => {
                if let Some(share) = self.sources.get_mut(usize::from(src)) {
                    share.newest = src_older;
                }
            }
        }
        if let Some(share) = self.sources.get_mut(usize::from(src)) {
            share.contexts = share.contexts.saturating_sub(1);
            if share.contexts == 0 {
                share.state = SlotState::Gone;
            }
        }
        if let Some(x) = self.ctx.get_mut(usize::from(c)) {
            *x = Context::FREE;
        }
        self.free_ctx.push(c);
    }
}

fn count(drops: &mut [u64], reason: DropReason, n: u64) {
    if let Some(c) = drops.get_mut(reason.index()) {
        *c += n;
    }
}

fn dropped(drops: &mut [u64], reason: DropReason, n: u64) -> Added {
    count(drops, reason, n);
    Added::Dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Datagram `ident`, from a source of its own (up to 256).
    fn key(ident: u32) -> FragKey {
        FragKey { src: [ident as u8; 16], dst: [20; 16], ident, protocol: 17, v6: false }
    }

    fn span(start: u32, end: u32, more: bool) -> Span {
        Span { start, end, more }
    }

    fn table(contexts: usize, fragments: usize, buffers: usize) -> Reassembly<u32> {
        Reassembly::new(ReassemblyConfig { contexts, fragments, buffers, per_source: contexts, timeout_ns: 1000 })
    }

    fn drops() -> Vec<u64> {
        vec![0; DropReason::COUNT]
    }

    fn taken(t: &mut Reassembly<u32>, a: Added) -> Vec<u32> {
        let Added::Complete(w) = a else { panic!("not complete: {a:?}") };
        let mut out = [None; MAX_FRAGMENTS];
        let n = t.take(w, &mut out);
        out[..n].iter().map(|p| p.unwrap()).collect()
    }

    #[test]
    fn fragments_in_any_order_come_out_in_order() {
        let (mut t, mut d) = (table(4, 8, 16), drops());
        assert_eq!(t.add(&key(1), span(16, 20, false), 3, 0, &mut d), Added::Held);
        assert_eq!(t.add(&key(1), span(0, 8, true), 1, 0, &mut d), Added::Held);
        let a = t.add(&key(1), span(8, 16, true), 2, 0, &mut d);
        assert_eq!(taken(&mut t, a), [1, 2, 3]);
        assert_eq!((t.contexts(), t.buffers()), (0, 0));
        assert!(d.iter().all(|&n| n == 0));
    }

    #[test]
    fn an_exact_duplicate_is_ignored_and_the_datagram_completes() {
        let (mut t, mut d) = (table(4, 8, 16), drops());
        t.add(&key(1), span(0, 8, true), 1, 0, &mut d);
        assert_eq!(t.add(&key(1), span(0, 8, true), 9, 0, &mut d), Added::Dropped);
        assert_eq!(d[DropReason::ReassemblyDuplicate.index()], 1);
        let a = t.add(&key(1), span(8, 10, false), 2, 0, &mut d);
        assert_eq!(taken(&mut t, a), [1, 2]);
    }

    #[test]
    fn an_overlap_drops_the_datagram_and_the_fragments_still_to_come() {
        let (mut t, mut d) = (table(4, 8, 16), drops());
        t.add(&key(1), span(0, 16, true), 1, 0, &mut d);
        assert_eq!(t.add(&key(1), span(8, 24, true), 2, 0, &mut d), Added::Dropped);
        assert_eq!(d[DropReason::ReassemblyOverlap.index()], 2, "the new one and the one held");
        assert_eq!(t.buffers(), 0);
        // The rest, even if it would have completed it, is refused.
        assert_eq!(t.add(&key(1), span(16, 30, false), 3, 0, &mut d), Added::Dropped);
        assert_eq!(d[DropReason::ReassemblyOverlap.index()], 3);
        // Other datagrams are unaffected.
        t.add(&key(2), span(0, 8, true), 4, 0, &mut d);
        let a = t.add(&key(2), span(8, 9, false), 5, 0, &mut d);
        assert_eq!(taken(&mut t, a), [4, 5]);
    }

    #[test]
    fn fragments_past_the_last_or_two_different_ends_kill_the_datagram() {
        let (mut t, mut d) = (table(4, 8, 16), drops());
        t.add(&key(1), span(0, 8, false), 1, 0, &mut d);
        assert_eq!(t.add(&key(1), span(8, 16, true), 2, 0, &mut d), Added::Dropped);
        let (mut t, mut d) = (table(4, 8, 16), drops());
        t.add(&key(1), span(16, 24, true), 1, 0, &mut d);
        assert_eq!(t.add(&key(1), span(0, 8, false), 2, 0, &mut d), Added::Dropped, "held data past the end");
        let (mut t, mut d) = (table(4, 8, 16), drops());
        t.add(&key(1), span(8, 16, false), 1, 0, &mut d);
        assert_eq!(t.add(&key(1), span(16, 24, false), 2, 0, &mut d), Added::Dropped, "a second end");
        assert_eq!(d[DropReason::ReassemblyOverlap.index()], 2);
    }

    #[test]
    fn too_many_fragments_drop_the_datagram() {
        let (mut t, mut d) = (table(4, 3, 16), drops());
        for i in 0..3 {
            assert_eq!(t.add(&key(1), span(i * 8, i * 8 + 8, true), i, 0, &mut d), Added::Held);
        }
        assert_eq!(t.add(&key(1), span(24, 32, true), 3, 0, &mut d), Added::Dropped);
        assert_eq!(d[DropReason::ReassemblyTooManyFragments.index()], 4);
        assert_eq!(t.buffers(), 0);
        // The rest of it, under the same reason.
        assert_eq!(t.add(&key(1), span(32, 40, false), 4, 0, &mut d), Added::Dropped);
        assert_eq!(d[DropReason::ReassemblyTooManyFragments.index()], 5);
    }

    #[test]
    fn a_full_table_evicts_its_oldest_datagram_for_a_new_one() {
        let (mut t, mut d) = (table(2, 8, 16), drops());
        t.add(&key(1), span(0, 8, true), 1, 0, &mut d);
        t.add(&key(2), span(0, 8, true), 2, 1, &mut d);
        t.add(&key(3), span(0, 8, true), 3, 2, &mut d);
        assert_eq!(d[DropReason::ReassemblyEvicted.index()], 1);
        assert_eq!(t.contexts(), 2);
        // Key 1 is gone: its next fragment starts afresh; key 2 lives.
        assert_eq!(t.add(&key(1), span(8, 9, false), 4, 3, &mut d), Added::Held, "evicts key 2");
        let a = t.add(&key(3), span(8, 9, false), 5, 3, &mut d);
        assert_eq!(taken(&mut t, a), [3, 5]);
    }

    #[test]
    fn the_buffer_bound_evicts_others_first_and_never_the_datagram_being_added_to() {
        let (mut t, mut d) = (table(8, 8, 3), drops());
        t.add(&key(1), span(0, 8, true), 1, 0, &mut d);
        t.add(&key(2), span(0, 8, true), 2, 1, &mut d);
        t.add(&key(2), span(8, 16, true), 3, 1, &mut d);
        // Full: key 1 (oldest) goes for key 2's third.
        let a = t.add(&key(2), span(16, 17, false), 4, 2, &mut d);
        assert_eq!(taken(&mut t, a), [2, 3, 4]);
        assert_eq!(d[DropReason::ReassemblyEvicted.index()], 1);
        // One datagram alone past the bound: its new fragment is dropped.
        let (mut t, mut d) = (table(8, 8, 2), drops());
        t.add(&key(1), span(0, 8, true), 1, 0, &mut d);
        t.add(&key(1), span(8, 16, true), 2, 0, &mut d);
        assert_eq!(t.add(&key(1), span(16, 24, true), 3, 0, &mut d), Added::Dropped);
        assert_eq!(t.buffers(), 2);
    }

    fn from(src: u8, ident: u32) -> FragKey {
        FragKey { src: [src; 16], ..key(ident) }
    }

    #[test]
    fn a_source_past_its_share_loses_its_own_oldest_datagram_not_anyone_elses() {
        let mut t = Reassembly::new(ReassemblyConfig {
            contexts: 8,
            fragments: 8,
            buffers: 64,
            per_source: 2,
            timeout_ns: 1000,
        });
        let mut d = drops();
        t.add(&from(1, 1), span(0, 8, true), 1, 0, &mut d);
        for i in 0..10 {
            t.add(&from(2, 100 + i), span(0, 8, true), 100 + i, 1, &mut d);
        }
        assert_eq!(d[DropReason::ReassemblySourceLimit.index()], 8);
        assert_eq!(d[DropReason::ReassemblyEvicted.index()], 0);
        assert_eq!(t.contexts(), 3, "source 1's one and source 2's share");
        let a = t.add(&from(1, 1), span(8, 9, false), 2, 2, &mut d);
        assert_eq!(taken(&mut t, a), [1, 2]);
        // Source 2's newest two are the ones it kept.
        let a = t.add(&from(2, 109), span(8, 9, false), 3, 2, &mut d);
        assert_eq!(taken(&mut t, a), [109, 3]);
    }

    #[test]
    fn a_source_past_its_share_of_buffers_loses_its_own_oldest_datagram() {
        // 16 buffers, a quarter of the contexts per source: 4 buffers each.
        let mut t = Reassembly::new(ReassemblyConfig {
            contexts: 8,
            fragments: 8,
            buffers: 16,
            per_source: 2,
            timeout_ns: 1000,
        });
        let mut d = drops();
        t.add(&from(1, 1), span(0, 8, true), 1, 0, &mut d);
        for i in 0..3 {
            t.add(&from(2, 2), span(i * 8, i * 8 + 8, true), 10 + i, 0, &mut d);
        }
        for i in 0..3 {
            t.add(&from(2, 3), span(i * 8, i * 8 + 8, true), 20 + i, 0, &mut d);
        }
        assert_eq!(d[DropReason::ReassemblySourceLimit.index()], 3, "datagram 2 went for datagram 3's second");
        assert_eq!(t.buffers(), 4);
        let a = t.add(&from(1, 1), span(8, 9, false), 2, 0, &mut d);
        assert_eq!(taken(&mut t, a), [1, 2]);
        // Alone past its share, a datagram's new fragment is dropped.
        assert_eq!(t.add(&from(2, 3), span(24, 32, true), 23, 0, &mut d), Added::Held);
        assert_eq!(t.add(&from(2, 3), span(32, 40, true), 24, 0, &mut d), Added::Dropped);
    }

    #[test]
    fn every_source_has_its_own_share_however_many() {
        let mut t = Reassembly::new(ReassemblyConfig {
            contexts: 256,
            fragments: 8,
            buffers: 1024,
            per_source: 1,
            timeout_ns: 1000,
        });
        let mut d = drops();
        for src in 0..200u8 {
            t.add(&from(src, 1), span(0, 8, true), 1, 0, &mut d);
        }
        assert_eq!((t.contexts(), d[DropReason::ReassemblySourceLimit.index()]), (200, 0), "no two share a share");
        // A second datagram from one: its own first goes, nobody else's.
        t.add(&from(7, 2), span(0, 8, true), 2, 0, &mut d);
        assert_eq!((t.contexts(), d[DropReason::ReassemblySourceLimit.index()]), (200, 1));
        for src in (0..200u8).filter(|&s| s != 7) {
            let a = t.add(&from(src, 1), span(8, 9, false), 3, 0, &mut d);
            assert!(matches!(a, Added::Complete(_)), "source {src}: {a:?}");
        }
    }

    #[test]
    fn timeouts_hand_back_the_first_fragment_only() {
        let (mut t, mut d) = (table(4, 8, 16), drops());
        t.add(&key(1), span(0, 8, true), 1, 0, &mut d);
        t.add(&key(1), span(16, 24, true), 2, 0, &mut d);
        t.add(&key(2), span(8, 16, true), 3, 500, &mut d);
        assert!(t.expire(999, &mut d).is_none());
        assert_eq!(t.expire(1000, &mut d).and_then(|e| e.first), Some(1));
        assert!(t.expire(1000, &mut d).is_none(), "key 2 is younger");
        assert!(t.expire(1500, &mut d).is_some_and(|e| e.first.is_none()));
        assert_eq!(d[DropReason::ReassemblyTimeout.index()], 2, "the first fragments are the caller's");
        assert_eq!((t.contexts(), t.buffers()), (0, 0));
    }

    #[test]
    fn many_datagrams_share_buckets_and_each_completes() {
        let (mut t, mut d) = (table(512, 4, 1024), drops());
        for i in 0..512 {
            t.add(&key(i), span(8, 10, false), i, 0, &mut d);
        }
        for i in (0..512).rev() {
            let a = t.add(&key(i), span(0, 8, true), 1000 + i, 0, &mut d);
            assert_eq!(taken(&mut t, a), [1000 + i, i]);
        }
        assert_eq!((t.contexts(), t.buffers()), (0, 0));
    }
}
