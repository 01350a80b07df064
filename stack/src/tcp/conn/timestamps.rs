//! Timestamps (RFC 7323): our clock, PAWS, the timestamp to echo, and
//! round trips measured by the echo.

use super::*;
use crate::buf::PacketBuf;

/// A timestamp older than this (24 days, in ns) no longer guards PAWS
/// (RFC 7323 §5.5).
const PAWS_IDLE: u64 = 24 * 86_400 * 1_000_000_000;
/// The timestamp clock ticks once a millisecond (RFC 7323 §5.4).
const TS_TICK: u64 = 1_000_000;

/// Our timestamp clock at `now` for a connection whose clock is offset
/// by `offset` (RFC 7323 §5.4: 1 ms a tick; the clock wraps).
pub(crate) fn ts_clock(now: u64, offset: u32) -> u32 {
    ((now / TS_TICK) as u32).wrapping_add(offset)
}

impl<B: PacketBuf> Conn<B> {
    /// Our timestamp clock now.
    pub(super) fn ts_val(&self, now: u64) -> u32 {
        ts_clock(now, self.ts_offset)
    }

    /// RFC 7323 §5.3 R1: a segment (not a RST) whose timestamp is older
    /// than the newest seen, while that one is fresh, is an old
    /// duplicate; one without timestamps is refused too (§3.2).
    pub(super) fn paws(&mut self, seg: &SegIn, now: u64) -> Option<Event> {
        if !self.ts_ok || seg.flags & flags::RST != 0 {
            return None;
        }
        let Some((val, _)) = seg.options.timestamps else { return Some(Event::NoTimestamps) };
        if Seq(val).lt(Seq(self.ts_recent)) && now.saturating_sub(self.ts_recent_at) < PAWS_IDLE {
            self.ack_now = true;
            return Some(Event::Paws);
        }
        None
    }

    /// RFC 7323 §4.3 (2): the timestamp to echo, from an acceptable
    /// segment that starts at or before what we last acknowledged.
    pub(super) fn note_timestamp(&mut self, seg: &SegIn, now: u64) {
        if let (true, Some((val, _))) = (self.ts_ok, seg.options.timestamps) {
            if Seq(val).ge(Seq(self.ts_recent)) && Seq(seg.seq).le(self.last_ack_sent) {
                self.ts_recent = val;
                self.ts_recent_at = now;
            }
        }
    }

    /// RFC 7323 §4: with timestamps, every ACK of new data measures the
    /// round trip by the TSval it echoes (an echo from the future or
    /// older than the longest timeout is ignored), each sample weighted
    /// by the samples a round trip brings (Appendix G). Called before
    /// `snd_una` moves: the flight is the one the ACK ends. The sample
    /// (ns), if it made one.
    pub(super) fn rtt_from_echo(&mut self, echo: Option<u32>, now: u64) -> Option<u64> {
        let ecr = echo?;
        let rtt = u64::from(self.ts_val(now).wrapping_sub(ecr)) * TS_TICK;
        if rtt > MAX_RTO {
            return None;
        }
        let expected = u64::from(self.flight().div_ceil(2 * self.mss.max(1)));
        self.rto.sample_of(rtt, expected);
        Some(rtt)
    }
}
