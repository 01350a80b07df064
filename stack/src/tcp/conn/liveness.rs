//! Whether the peer is still there: the idle limit (a synchronized
//! connection that hears nothing acceptable for `idle` is dropped) and
//! keep-alives (RFC 1122 §4.2.3.6: probes that a live peer answers,
//! which keep it past the idle limit).

use super::*;
use crate::buf::PacketBuf;

impl<B: PacketBuf> Conn<B> {
    /// When a synchronized connection is dropped unless the peer is heard.
    pub(super) fn idle_at(&self) -> Option<u64> {
        let synchronized = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait | State::Closing | State::LastAck
        );
        (self.idle > 0 && synchronized).then(|| self.heard_at.saturating_add(self.idle))
    }

    /// When the next keep-alive probe is due: only while established (or
    /// the peer has closed and we may still send) with nothing of ours
    /// unacknowledged, where retransmission watches.
    pub(super) fn keepalive_at(&self) -> Option<u64> {
        let k = &self.keepalive;
        let quiet = matches!(self.state, State::Established | State::CloseWait) && self.snd_una == self.snd_max;
        (k.idle_ns > 0 && quiet)
            .then(|| self.heard_at.saturating_add(k.idle_ns + u64::from(self.probes_sent) * k.interval_ns))
    }

    /// The peer was heard (an acceptable segment): both clocks restart.
    pub(super) fn heard(&mut self, now: u64) {
        self.heard_at = now;
        self.probes_sent = 0;
    }

    /// The idle limit and keep-alive timers at `now`: true if the
    /// connection was dropped (closed, counted); a probe due is left for
    /// the next output.
    pub(super) fn liveness_timer(&mut self, now: u64, counts: &mut ConnCounts) -> bool {
        if self.idle_at().is_some_and(|at| now >= at) {
            // Dropped without a word: a peer still there gets a RST for
            // its next segment, as for any connection we do not know.
            self.state = State::Closed;
            counts.idle_drops += 1;
            return true;
        }
        if self.keepalive_at().is_some_and(|at| now >= at) {
            if self.probes_sent >= self.keepalive.probes {
                self.state = State::Closed;
                counts.keepalive_drops += 1;
                return true;
            }
            self.probes_sent += 1;
            self.probe_due = true;
            counts.keepalive_probes += 1;
        }
        false
    }
}
