//! The NAT on the router's fast path ([`FastHooks`]): established
//! sessions and new outbound flows translated without the full path,
//! and the flow cache's refreshes and holds.

use super::handoff::Handed;
use super::sessions::key5;
use super::Nat;
use super::Target;
use crate::index::Vacant;
use crate::packet;
use crate::packet::End;
use crate::packet::Flow;
use crate::packet::TCP;
use stack::wire::FiveTuple;
use stack::DropReason;
use stack::EntryHandle;
use stack::FastHooks;
use stack::FastVerdict;
use stack::Verdict;

impl Nat {
    /// The flow of a packet the fast path may translate: a whole packet
    /// of this worker's (its own, or handed over as its owner's: not a
    /// hairpin's half), of a TCP, UDP or echo flow.
    #[inline(always)]
    pub(super) fn fast_flow(&self, p: &FiveTuple) -> Option<Flow> {
        if !matches!(self.handed, None | Some(Handed::Owned)) || !p.whole {
            return None;
        }
        Some(packet::flow_of(p))
    }

    /// The rewrite session `e` makes to an outbound packet's source, or
    /// an inbound one's destination (built in place: a copy of the
    /// session returned and read back stalls on store forwarding).
    #[inline(always)]
    pub(super) fn rewrite_to(&self, e: u32, outbound: bool) -> FastVerdict {
        let Some(s) = self.sessions.get(e as usize) else { return FastVerdict::Slow };
        let (addr, port) = if outbound { (s.outside, s.out_port) } else { (s.inside, s.in_port) };
        FastVerdict::Rewrite { entry: EntryHandle::new(e), addr, port }
    }

    /// [`FastHooks::fast_post`](stack::FastHooks::fast_post) for a packet of new flow `f` (under rule
    /// `ri`, if any; its session key goes at `at` in `by_inside`): its
    /// session made as `outbound` makes it, or the hook's refusal. (Out
    /// of line: a session made costs far more than the call, and the
    /// steady path's loop stays small; measured even both ways.)
    #[inline(never)]
    pub(super) fn fast_new(&mut self, ri: Option<usize>, f: Flow, at: Vacant, now: u64) -> FastVerdict {
        self.now = now;
        match self.new_outbound(ri, &f, at, now) {
            Ok(Some(e)) => self.rewrite_to(e, true),
            Ok(None) => FastVerdict::Untouched,
            Err(Verdict::Refuse(r)) => FastVerdict::Refuse(r),
            Err(Verdict::Drop(r)) => FastVerdict::Drop(r),
            // (Making a session refuses or drops, nothing else.)
            Err(_) => FastVerdict::Drop(DropReason::NatNoMapping),
        }
    }

    /// [`FastHooks::fast_post`](stack::FastHooks::fast_post)'s look: what `postrouting` would do with
    /// `p` leaving through `out`, without a change but a new flow's
    /// session, made with `make`.
    #[inline(always)]
    pub(super) fn fast_post_look(&mut self, out: u16, p: &FiveTuple, make: bool, now: u64) -> FastVerdict {
        let src = p.src;
        if self.static_by_inside(src).is_some_and(|st| st.interface == out) {
            return FastVerdict::Slow;
        }
        let ri = self.rule_for(out, src);
        if ri.is_none() && self.forward_in.binary_search(&src).is_err() {
            return FastVerdict::Untouched;
        }
        // Another worker's subscriber: handed over, as `postrouting` does.
        if self.workers > 1 {
            if let Some(Verdict::Handoff { worker, tag }) = self.hand_to(self.owner_in(src)) {
                return FastVerdict::Handoff { worker, tag };
            }
        }
        let Some(f) = self.fast_flow(p) else { return FastVerdict::Slow };
        let k = key5(f.proto, f.src, f.sport, f.dst, f.dport);
        let h = self.hinted_as(&f).map_or_else(|| self.key_hash(k), |a| a.h);
        match self.find_in_or_vacant_by(k, h) {
            Ok(e) => self.rewrite_to(e, true),
            Err(_) if !make => FastVerdict::New,
            Err(at) => self.fast_new(ri, f, at, now),
        }
    }
}

impl FastHooks for Nat {
    /// `prerouting`'s road for a packet of an established session to a
    /// pool address (`inbound_to_pool` finding it in `inbound`), looked
    /// at without a change; anything else it would do is `Slow`.
    #[inline(always)]
    fn fast_pre(&self, p: &FiveTuple) -> FastVerdict {
        match self.target(p.dst) {
            None => FastVerdict::Untouched,
            Some(Target::Static(_)) => FastVerdict::Slow,
            Some(Target::Pool(_)) => {
                let Some(f) = self.fast_flow(p) else { return FastVerdict::Slow };
                let Some(e) = self.find_out(key5(f.proto, f.dst, f.dport, f.src, f.sport)) else {
                    return FastVerdict::Slow;
                };
                // A source of ours would be hairpinned first; another
                // worker's session is handed over.
                let inside = self.static_by_inside(f.src).is_some() || self.is_inside_source(f.src);
                if inside || (self.workers > 1 && self.owner_out(f.proto, f.dst, f.dport) != self.worker) {
                    return FastVerdict::Slow;
                }
                self.rewrite_to(e, false)
            }
        }
    }

    /// `postrouting`'s road for an established session's packet, or one of
    /// no rule's source. A new flow gets its session here when nothing was
    /// found before routing (else [`FastVerdict::New`]). What lets the
    /// packet go on is done at once: the session refreshed, `ip` rewritten;
    /// a hairpin, which both hooks would rewrite, goes the full way.
    #[inline(always)]
    fn fast_post(&mut self, out: u16, ip: &mut [u8], p: &FiveTuple, pre: FastVerdict, now: u64) -> FastVerdict {
        let post = self.fast_post_look(out, p, matches!(pre, FastVerdict::Untouched), now);
        match (pre, post) {
            (FastVerdict::Rewrite { .. }, FastVerdict::Rewrite { .. }) => return FastVerdict::Slow,
            // A packet translated before routing goes over translated,
            // which only the full path does.
            (FastVerdict::Rewrite { .. }, FastVerdict::Handoff { .. }) => return FastVerdict::Slow,
            (_, FastVerdict::Untouched | FastVerdict::Rewrite { .. }) => {}
            _ => return post,
        }
        self.now = now;
        let kind = packet::flow_of(p).kind;
        let (end, found, outbound) = match (pre, post) {
            (_, FastVerdict::Rewrite { entry, addr, port }) => (End::Src, (entry, addr, port), true),
            (FastVerdict::Rewrite { entry, addr, port }, _) => (End::Dst, (entry, addr, port), false),
            _ => return post,
        };
        let (entry, addr, port) = found;
        self.touch(entry.get(), kind, outbound, now);
        packet::rewrite_plain(ip, p, end, addr, port);
        self.counters.translated += 1;
        post
    }

    #[inline(always)]
    fn generation(&self) -> u64 {
        self.generation
    }

    /// The session must still be `p`'s flow's, translated the same way
    /// (its slot may have been freed and taken by another since).
    #[inline(always)]
    fn fast_refresh(&mut self, e: EntryHandle, p: &FiveTuple, outbound: bool, addr: u32, port: u16, now: u64) -> bool {
        let e = e.get();
        let Some(s) = self.sessions.get(e as usize) else { return false };
        let same = if outbound {
            s.key_in() == key5(p.proto, p.src, p.sport, p.dst, p.dport) && s.outside == addr && s.out_port == port
        } else {
            s.key_out() == key5(p.proto, p.dst, p.dport, p.src, p.sport) && s.inside == addr && s.in_port == port
        };
        if !same {
            return false;
        }
        self.now = now;
        self.touch(e, packet::flow_of(p).kind, outbound, now);
        self.counters.translated += 1;
        true
    }

    /// Safe because every refresh (`touch`) keeps a session the hold past
    /// its timeout: the packets the cache carries unrefreshed are covered,
    /// and the session ends no sooner than its timeout after the flow's
    /// last packet. A flow whose packets do not refresh its session (UDP
    /// and ICMP inbound, RFC 4787 REQ-6) is held until it expires at most.
    #[inline]
    fn fast_hold(&self, e: EntryHandle, outbound: bool, now: u64) -> u64 {
        let e = e.get();
        match self.sessions.get(e as usize) {
            Some(s) if s.proto == TCP || (outbound && s.proto != 0) => self.hold,
            Some(s) if s.proto != 0 => self.hold.min(s.expires.saturating_sub(now)),
            _ => 0,
        }
    }

    #[inline(always)]
    fn fast_translated(&mut self, n: u64) {
        self.counters.translated += n;
    }
}
