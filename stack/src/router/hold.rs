//! Packets held for the translator ([`Verdict::Hold`](crate::Verdict::Hold)): later fragments
//! that came before their first, replayed once it is translated. Bounded
//! in count (`RouterConfig::nat_hold`) and time ([`HOLD_NS`]).

use super::io::Burst;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::iface::Tables;
use std::net::Ipv4Addr;

/// How long a packet the translator asked to hold ([`Verdict::Hold`](crate::Verdict::Hold))
/// waits, in nanoseconds.
pub const HOLD_NS: u64 = 1_000_000_000;

/// Where a held packet goes on: back into the translator's stage.
#[derive(Copy, Clone, Debug)]
pub(super) enum Stage {
    /// Inbound translation, then routing.
    Pre { l2_multicast: bool },
    /// Outbound translation towards `out` and next hop `nh`, then output.
    Post { out: u16, nh: Ipv4Addr },
}

pub(super) struct Held<B> {
    pkt: B,
    stage: Stage,
    since: u64,
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Holds a packet for the translator (bounded: a full queue drops).
    pub(super) fn hold(&mut self, pkt: B, stage: Stage, now: u64) {
        if self.held.len() >= self.hold_cap.min(self.held.capacity()) {
            drop(pkt);
            return self.drop(DropReason::NatFragmentHoldFull);
        }
        self.held.push(Held { pkt, stage, since: now });
    }

    /// Asks the translator again about every held packet; those it still
    /// holds keep their original time.
    pub(super) fn release_held(&mut self, cx: &mut Burst<'_, impl Io<B>>) {
        if self.replaying || self.held.is_empty() {
            return; // the outer replay goes on
        }
        self.replaying = true;
        std::mem::swap(&mut self.held, &mut self.replay);
        let mut replay = std::mem::take(&mut self.replay);
        for h in replay.drain(..) {
            let before = self.held.len();
            match h.stage {
                Stage::Pre { l2_multicast } => self.translate_in(cx, h.pkt, l2_multicast),
                Stage::Post { out, nh } => match cx.t.iface(out) {
                    Some(egress) => self.translate_out(cx, egress, h.pkt, out, nh),
                    None => self.drop(DropReason::NoRoute),
                },
            }
            if self.held.len() > before {
                if let Some(again) = self.held.last_mut() {
                    again.since = h.since;
                }
            }
        }
        self.replay = replay;
        self.replaying = false;
    }

    /// Drops held packets older than [`HOLD_NS`].
    pub(super) fn expire_held(&mut self, now: u64) {
        let mut i = 0;
        while let Some(h) = self.held.get(i) {
            if now.saturating_sub(h.since) >= HOLD_NS {
                drop(self.held.swap_remove(i));
                self.drop(DropReason::NatFragmentTimeout);
            } else {
                i += 1;
            }
        }
    }

    /// Lets held packets go if the translator says they may (it learned
    /// a fragment's translation from another worker); call between bursts.
    pub fn release_translated(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        let cx = &mut Burst { t, now, io };
        if self.nat.take_release() {
            self.release_held(cx);
        }
    }
}
