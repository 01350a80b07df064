//! Fragments (RFC 4787 REQ-14): a first fragment's translation is
//! recorded (and sent to every worker), later fragments get the same
//! addresses, and a later fragment that came first is held.

use super::handoff::Handed;
use super::Nat;
use crate::index::hash;
use crate::packet;
use crate::packet::End;
use crate::packet::TCP;
use stack::DropReason;
use stack::Verdict;
use std::sync::Arc;

/// How long a fragment record lasts after its datagram's last fragment
/// seen (ns).
const FRAGMENT_TTL: u64 = 2_000_000_000;

/// Fragment records imported from other workers per call, at most.
const IMPORT_BUDGET: usize = 256;

/// Which hook a datagram met: its record keys on it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Direction {
    /// Prerouting: inbound, to be translated by destination.
    In = 1,
    /// Postrouting: outbound, to be translated by source.
    Out = 2,
}

/// Fragment records one worker sends the others.
pub type FragmentQueue = crossbeam_queue::ArrayQueue<FragRecord>;

/// How the first fragment of a datagram was translated: the later ones
/// get the same addresses (they have no ports to look up).
#[derive(Copy, Clone, Default, Debug)]
pub struct FragRecord {
    /// The hook the datagram met (none: a free slot).
    dir: Option<Direction>,
    proto: u8,
    id: u16,
    src: u32,
    dst: u32,
    /// Its addresses once translated.
    to_src: u32,
    to_dst: u32,
    expires: u64,
    /// The source step of a hairpin between workers: the destination's
    /// step is the record of the datagram as it left this one.
    partial: bool,
}

impl Nat {
    /// Where this worker's fragment records come in (`own`), and every
    /// worker's inbox, by worker: a first fragment's translation goes to
    /// all, since a later fragment of an inbound datagram has no port to
    /// tell its owner by and may arrive anywhere.
    pub fn set_fragment_queues(&mut self, own: Arc<FragmentQueue>, all: Vec<Arc<FragmentQueue>>) {
        self.frag_inbox = Some(own);
        self.frag_peers = all;
    }

    /// Takes in the fragment records other workers sent; held fragments
    /// may then go (the router's `release_translated`).
    pub fn import_fragments(&mut self) {
        let Some(q) = self.frag_inbox.as_ref().filter(|q| !q.is_empty()).cloned() else { return };
        for _ in 0..IMPORT_BUDGET {
            let Some(r) = q.pop() else { break };
            let Some(dir) = r.dir else { continue };
            let i = self.frag_slot(dir, (r.src, r.dst, r.proto, r.id));
            if let Some(x) = self.frags.get_mut(i) {
                *x = r;
                self.release = true;
            }
        }
    }

    /// The record slot of a datagram.
    #[inline]
    pub(super) fn frag_slot(&self, dir: Direction, (src, dst, proto, id): (u32, u32, u8, u16)) -> usize {
        let k = 3u128 << 120 | u128::from(dir as u8) << 112 | u128::from(proto) << 96 | u128::from(src) << 64;
        let k = k | u128::from(dst) << 32 | u128::from(id);
        hash(k, self.seed) as usize & (self.frags.len() - 1)
    }

    /// A first fragment went through with verdict `v`: if it passes, its
    /// datagram's later fragments get the same addresses (RFC 4787
    /// REQ-14), and any held for it may go.
    pub(super) fn remember_fragment(
        &mut self,
        dir: Direction,
        datagram: (u32, u32, u8, u16),
        ip: &[u8],
        v: Verdict,
        now: u64,
    ) {
        let partial = match v {
            Verdict::Pass => false,
            // A hairpin's source translated here, its destination next.
            Verdict::Handoff { tag, .. } if tag == Handed::DestOnly as u8 => true,
            _ => return,
        };
        let (to_src, to_dst, _, _) = packet::datagram(ip);
        let (src, dst, proto, id) = datagram;
        let i = self.frag_slot(dir, datagram);
        let r =
            FragRecord { dir: Some(dir), proto, id, src, dst, to_src, to_dst, expires: now + FRAGMENT_TTL, partial };
        if let Some(x) = self.frags.get_mut(i) {
            *x = r;
            self.release = true;
        }
        // Later fragments of an inbound datagram may reach any worker.
        if dir == Direction::In {
            for (w, q) in self.frag_peers.iter().enumerate() {
                if w != usize::from(self.worker) {
                    let _ = q.push(r); // a full inbox: that worker holds, then drops
                }
            }
        }
    }

    /// The slot of a live record for this datagram, if there is one.
    pub(super) fn frag_find(&self, dir: Direction, datagram: (u32, u32, u8, u16), now: u64) -> Option<usize> {
        let (src, dst, proto, id) = datagram;
        let i = self.frag_slot(dir, datagram);
        let r = self.frags.get(i)?;
        (r.dir == Some(dir) && r.src == src && r.dst == dst && r.proto == proto && r.id == id && r.expires > now)
            .then_some(i)
    }

    /// A later fragment: translated as its first fragment was, or held
    /// until that one comes (out of order, RFC 4787 REQ-14).
    pub(super) fn later_fragment(&mut self, dir: Direction, ip: &mut [u8], offset: u16, now: u64) -> Verdict {
        let datagram @ (src, dst, proto, id) = packet::datagram(ip);
        // RFC 1858 §3.2: a fragment at offset 8 bytes can only serve to
        // overwrite the TCP header's flags.
        if proto == TCP && offset == 1 {
            return Verdict::Drop(DropReason::NatFragment);
        }
        let Some(i) = self.frag_find(dir, datagram, now) else { return Verdict::Hold };
        let Some(&r) = self.frags.get(i) else { return Verdict::Hold };
        // A hairpin between workers took two steps: both must be known.
        let last = if r.partial {
            let Some(j) = self.frag_find(dir, (r.to_src, r.to_dst, proto, id), now) else { return Verdict::Hold };
            j
        } else {
            i
        };
        let Some(&end) = self.frags.get(last) else { return Verdict::Hold };
        let (to_src, to_dst) = (end.to_src, end.to_dst);
        if dir == Direction::In && to_dst != dst && packet::ttl(ip) <= 1 {
            return Verdict::Expire; // dropped: no error about a later fragment
        }
        for k in [i, last] {
            if let Some(x) = self.frags.get_mut(k) {
                x.expires = now + FRAGMENT_TTL;
            }
        }
        if to_src != src {
            packet::rewrite_addr(ip, End::Src, to_src);
        }
        if to_dst != dst {
            packet::rewrite_addr(ip, End::Dst, to_dst);
        }
        self.counters.translated += 1;
        self.counters.fragments += 1;
        Verdict::Pass
    }
}
