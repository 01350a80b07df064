//! The SACK sender's side (RFC 2018, RFC 6675): the scoreboard of the
//! peer's blocks, IsLost, SetPipe and NextSeg, and the blocks we send
//! for the pieces we keep past a gap.

use super::*;
use crate::buf::PacketBuf;

impl<B: PacketBuf> Conn<B> {
    /// Adds the peer's SACK blocks above `snd_una` to the scoreboard;
    /// true if they cover data it did not.
    pub(super) fn take_sack(&mut self, o: &TcpOptions) -> bool {
        let mut news = false;
        for &(l, r) in o.sack.iter().take(usize::from(o.sack_len)) {
            let (l, r) = (Seq(l).max_seq(self.snd_una), Seq(r));
            if !(l.lt(r) && r.le(self.snd_max)) || self.sacked.covers(l, r) {
                continue;
            }
            news = true;
            // With no room, the highest blocks are kept (they decide what is lost).
            self.sacked.add(l, r, self.snd_una);
        }
        news
    }

    /// RFC 6675 §4 IsLost: a byte is taken as lost when more than
    /// (DupThresh − 1) × SMSS bytes above it, or DupThresh separate
    /// blocks, have been SACKed.
    fn is_lost(&self, at: Seq) -> bool {
        let above = self.sacked.as_slice().iter().filter(|&&(l, _)| at.lt(l));
        let (blocks, bytes) = above.fold((0u32, 0u32), |(n, b), &(l, r)| (n + 1, b + r.since(l)));
        blocks >= DUP_THRESH || bytes > (DUP_THRESH - 1) * self.mss
    }

    /// RFC 6675 §4 SetPipe: the bytes in the network as far as the
    /// scoreboard knows: those outstanding, less the SACKed ones and the
    /// lost ones not sent again (those below `high_rxt` were).
    pub(super) fn pipe(&self) -> u32 {
        let sacked: u32 = self.sacked.as_slice().iter().map(|&(l, r)| r.since(l)).sum();
        let mut lost = 0;
        let mut at = self.high_rxt.max_seq(self.snd_una);
        while let Some((hole, len)) = self.next_hole(at) {
            if self.is_lost(hole) {
                lost += len;
            }
            at = hole.plus(len);
        }
        self.flight().saturating_sub(sacked).saturating_sub(lost)
    }

    /// In SACK recovery, what to send again next (RFC 6675 §4 NextSeg): a
    /// lost hole (rule 1); else, when no new data can go (rule 2, which
    /// the caller sends), any hole below the highest SACKed byte (rule
    /// 3); else, once a recovery, a rescue: the segment ending at the
    /// highest unSACKed byte (rule 4), for a tail lost with nothing
    /// SACKed above it. Its start, length, and whether it is the rescue.
    pub(super) fn next_seg(&self, new_data: bool) -> Option<(Seq, u32, bool)> {
        let hole = self.next_hole(self.high_rxt);
        match hole {
            Some((s, n)) if self.is_lost(s) => return Some((s, n, false)),
            Some((s, n)) if !new_data => return Some((s, n, false)),
            _ => {}
        }
        if new_data || self.rescue_rxt.is_some_and(|r| !self.snd_una.gt(r)) {
            return None;
        }
        // The highest unSACKed byte lies below the SACKed blocks that
        // reach up to snd_max, if any do.
        let blocks = self.sacked.as_slice();
        let mut top = self.snd_max;
        while let Some(&(l, _)) = blocks.iter().find(|&&(_, r)| r == top) {
            top = l;
        }
        let floor = blocks.iter().map(|&(_, r)| r).filter(|r| r.lt(top)).max_by_key(|r| r.since(self.snd_una));
        let start = floor.unwrap_or(self.snd_una).max_seq(top.minus(self.mss));
        start.lt(top).then(|| (start, top.since(start), true))
    }

    /// Our SACK option: the pieces kept past a gap, the newest first
    /// (RFC 2018 §4); three at most beside timestamps (§3).
    pub(super) fn sack_blocks(&self) -> TcpOptions {
        let mut o = TcpOptions::default();
        if !self.sack_ok {
            return o;
        }
        let room = if self.ts_ok { (40 - TIMESTAMPS_LEN - 4) / 8 } else { MAX_SACK_BLOCKS };
        for (slot, &(l, r)) in o.sack.iter_mut().take(room).zip(self.ooo.as_slice().iter().rev()) {
            *slot = (l.0, r.0);
            o.sack_len += 1;
        }
        o
    }

    /// The next hole below the highest SACKed byte, from `from`: its
    /// start and length (RFC 6675's NextSeg, rule 1).
    fn next_hole(&self, from: Seq) -> Option<(Seq, u32)> {
        let live = self.sacked.as_slice();
        let mut start = from.max_seq(self.snd_una);
        // Step over blocks covering `start` (they may chain).
        while let Some(&(_, r)) = live.iter().find(|&&(l, r)| l.le(start) && start.lt(r)) {
            start = r;
        }
        let end = live.iter().filter(|&&(l, _)| start.lt(l)).map(|&(l, _)| l).min_by_key(|l| l.since(start))?;
        Some((start, end.since(start)))
    }
}
