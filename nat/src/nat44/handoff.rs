//! Which worker owns a packet's state: a subscriber belongs to the worker
//! its address hashes to, an outside port to the worker whose slice holds
//! it; a packet that lands elsewhere is handed over ([`Verdict::Handoff`]).

use super::Nat;
use crate::index::hash;
use stack::Verdict;
use std::net::Ipv4Addr;

/// Handoff tags ([`Verdict::Handoff`]): the receiver owns the packet's
/// state; the destination's owner found a hairpin and asks the source's
/// owner to translate the source; the source's owner did, and asks the
/// destination's owner for the destination alone.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Handed {
    Owned = 0,
    HairpinSource = 1,
    DestOnly = 2,
}

impl Handed {
    /// The tag as [`Verdict::Handoff`] carried it.
    pub(super) fn from_tag(tag: u8) -> Handed {
        match tag {
            1 => Handed::HairpinSource,
            2 => Handed::DestOnly,
            _ => Handed::Owned,
        }
    }
}

/// The seed of the hash that picks a subscriber's worker: the same on
/// every worker, so all agree.
const OWNER_SEED: u64 = 0x6f77_6e65_7273_0001;

impl Nat {
    /// This worker's slice of the port range: the ports whose owner it is.
    pub(super) fn port_slice(&self) -> (u16, u16) {
        let (lo, hi) = self.rules.ports;
        let (w, n) = (u32::from(self.worker), u32::from(self.workers));
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        let first = (w * span).div_ceil(n);
        let end = ((w + 1) * span).div_ceil(n).max(first + 1);
        (lo.saturating_add(first as u16), lo.saturating_add((end - 1) as u16).min(hi))
    }

    /// The worker owning subscriber `a` (its mappings and sessions).
    #[inline]
    pub(super) fn owner_in(&self, a: u32) -> u16 {
        ((u64::from(hash(u128::from(a), OWNER_SEED)) * u64::from(self.workers)) >> 32) as u16
    }

    /// The worker owning outside endpoint `addr:port`: a port forward's
    /// server's, else the one whose port slice holds `port`; this one for
    /// a port outside the range (nothing maps it).
    #[inline]
    pub(super) fn owner_out(&self, proto: u8, addr: u32, port: u16) -> u16 {
        if let Some(m) = self.find_map_out(proto, addr, port) {
            if let Some(x) = self.mappings.get(m as usize).filter(|x| x.fixed) {
                return self.owner_in(x.inside);
            }
        }
        let (lo, hi) = self.rules.ports;
        if port < lo || port > hi {
            return self.worker;
        }
        let span = u32::from(hi - lo) + 1;
        ((u32::from(port - lo) * u32::from(self.workers)) / span) as u16
    }

    /// The worker that holds subscriber `a`'s mappings and sessions.
    pub fn owner_of(&self, a: Ipv4Addr) -> u16 {
        self.owner_in(a.into())
    }

    /// `Some(handoff)` when worker `w` is another one and this packet may
    /// still move.
    #[inline]
    pub(super) fn hand_to(&self, w: u16) -> Option<Verdict> {
        (w != self.worker && self.handed.is_none()).then_some(Verdict::Handoff { worker: w, tag: Handed::Owned as u8 })
    }
}
