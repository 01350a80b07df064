//! What a connection sends ([`Conn::output`]): a SYN or SYN-ACK, a
//! keep-alive probe, retransmissions (fast, NewReno's and RFC 6675's
//! holes), new data as the windows, Nagle and the send queue's buffer
//! boundaries allow, our FIN, and the ACK owed.

use super::*;
use crate::buf::PacketBuf;

impl<B: PacketBuf> Conn<B> {
    /// The segments to send now, each handed to `emit` with its payload
    /// (a share of a send queue buffer, or the bytes to copy): a
    /// SYN-ACK, data as the windows allow, our FIN, or an ACK. `emit`
    /// answers false when it can take no more: the rest waits for the
    /// next call.
    pub fn output(&mut self, now: u64, counts: &mut ConnCounts, emit: &mut impl FnMut(&SegOut, TxData<'_, B>) -> bool) {
        let ack = self.rcv_nxt.0;
        if matches!(self.state, State::SynSent | State::SynReceived) {
            if self.snd_nxt == self.iss {
                let options = TcpOptions {
                    mss: Some(self.our_mss),
                    window_shift: self.scale.then_some(self.rcv_shift),
                    sack_permitted: self.sack_ok,
                    timestamps: self.ts_ok.then(|| (self.ts_val(now), self.ts_recent)),
                    ..TcpOptions::default()
                };
                // A SYN's window is never scaled (RFC 7323 §2.2).
                let window = self.rcv_wnd().min(u32::from(u16::MAX)) as u16;
                let (flags, ack) = match self.state {
                    State::SynSent => (flags::SYN, 0),
                    _ => (flags::SYN | flags::ACK, ack),
                };
                let out = SegOut { seq: self.iss.0, ack, flags, window, options, offset: 0, len: 0 };
                if !emit(&out, self.send.payload(0, 0)) {
                    return;
                }
                if self.retries == 0 {
                    self.rtt_probe = Some((self.iss.plus(1), now));
                } else {
                    counts.retransmits += 1;
                }
                self.snd_nxt = self.iss.plus(1);
                self.snd_max = self.snd_nxt;
                self.rtx_at.get_or_insert(now + self.rto.rto);
                self.ack_now = false;
                // The window it offered: no window update owed for it.
                if self.state == State::SynReceived {
                    self.adv_edge = self.rcv_nxt.plus(u32::from(window));
                }
            }
            return;
        }
        let window = self.window_field();
        let mut options = self.sack_blocks();
        if self.ts_ok {
            options.timestamps = Some((self.ts_val(now), self.ts_recent));
        }
        let mss = (self.mss as usize).saturating_sub(options.len()).max(1);
        let mut seg = |c: &mut Conn<B>, seq: Seq, flags: u8, offset: usize, len: usize| {
            let out = SegOut { seq: seq.0, ack, flags, window, options, offset, len };
            let sent = emit(&out, c.send.payload(offset, len));
            if sent && len > 0 {
                c.sent_at = Some(now);
            }
            if sent {
                c.ack_now = false;
                c.ack_at = None;
                c.ack_owed = 0;
                c.last_ack_sent = Seq(ack);
                c.adv_edge = c.rcv_nxt.plus(u32::from(window) << c.rcv_shift);
            }
            sent
        };
        if matches!(self.state, State::Closed | State::TimeWait) {
            if self.ack_now {
                seg(self, self.snd_nxt, flags::ACK, 0, 0);
            }
            return;
        }
        // A keep-alive probe: one below what the peer acknowledged, no
        // data (as Linux; RFC 1122 §4.2.3.6 allows a byte for old peers
        // that answer only data).
        if std::mem::take(&mut self.probe_due) && !seg(self, self.snd_una.minus(1), flags::ACK, 0, 0) {
            self.probe_due = true;
            return;
        }
        let start = self.data_start();
        // Fast retransmit, or NewReno's next hole: the segment at snd_una.
        if std::mem::take(&mut self.resend_una) {
            let off = self.snd_una.since(start) as usize;
            let n = self.send.len().saturating_sub(off).min(mss);
            if n > 0 {
                if !seg(self, self.snd_una, flags::ACK, off, n) {
                    self.resend_una = true;
                    return;
                }
                counts.retransmits += 1;
                self.high_rxt = self.high_rxt.max_seq(self.snd_una.plus(n as u32));
            }
        }
        // SACK recovery (RFC 6675 §5 step C): while the pipe leaves a
        // segment's room in cwnd, the next hole NextSeg names; new data
        // (its rule 2) goes in the loop below, under the same limit.
        while self.sack_ok && self.recover.is_some() && self.cwnd.saturating_sub(self.pipe()) >= mss as u32 {
            let queued = self.send.len() > self.snd_nxt.since(start) as usize;
            let new_data = queued && self.snd_wnd > self.snd_nxt.since(self.snd_una);
            let Some((hole, len, rescue)) = self.next_seg(new_data) else { break };
            let off = hole.since(start) as usize;
            let n = (len as usize).min(mss).min(self.send.len().saturating_sub(off));
            if n == 0 {
                break;
            }
            if !seg(self, hole, flags::ACK, off, n) {
                return;
            }
            counts.retransmits += 1;
            // (A rescue leaves HighRxt where it was: RFC 6675 §4 (4).)
            if rescue {
                self.rescue_rxt = self.recover;
            } else {
                self.high_rxt = hole.plus(n as u32);
            }
        }
        if self.flight() == 0 && self.send.len() > self.snd_nxt.since(start) as usize {
            self.restart_after_idle(now);
        }
        loop {
            let off = self.snd_nxt.since(start) as usize;
            let avail = self.send.len().saturating_sub(off);
            let in_flight = self.snd_nxt.since(self.snd_una);
            // In SACK recovery cwnd bounds the pipe, not the flight.
            let used = if self.sack_ok && self.recover.is_some() { self.pipe() } else { in_flight };
            let mut room = self.snd_wnd.saturating_sub(in_flight).min(self.cwnd.saturating_sub(used)) as usize;
            if self.probe && room == 0 && avail > 0 && in_flight == 0 {
                // RFC 9293 §3.8.6.1: probe a zero window with one byte.
                room = 1;
            }
            let probe = std::mem::take(&mut self.probe);
            let mut n = avail.min(room).min(mss);
            if n == 0 || off > self.send.len() {
                break;
            }
            let seq = self.snd_nxt;
            // Starting inside a buffer: end with it, to send the next
            // segments from buffer starts again (shared, not copied).
            let realign = self.send.rest_of_buffer(off).filter(|&r| r < n);
            if let Some(r) = realign {
                n = r;
            } else if n < mss && seq.ge(self.snd_max) && !probe && !self.may_send_short(n, avail) {
                break;
            }
            let push = if n == avail { flags::PSH } else { 0 };
            if !seg(self, seq, flags::ACK | push, off, n) {
                return;
            }
            if seq.lt(self.snd_max) {
                counts.retransmits += 1;
            } else if self.rtt_probe.is_none() {
                self.rtt_probe = Some((seq.plus(n as u32), now));
            }
            self.snd_nxt = seq.plus(n as u32);
            self.snd_max = self.snd_max.max_seq(self.snd_nxt);
            if n < mss {
                self.snd_sml = self.snd_nxt;
            }
            self.rtx_at.get_or_insert(now + self.rto.rto);
        }
        // Our FIN, after the last byte (it needs no window).
        let data_end = start.plus(self.send.len() as u32);
        if self.fin_queued && !self.fin_acked() && self.snd_nxt == data_end {
            let next = match self.state {
                State::Established => Some(State::FinWait1),
                State::CloseWait => Some(State::LastAck),
                State::FinWait1 | State::Closing | State::LastAck => Some(self.state),
                _ => None,
            };
            if let Some(next) = next {
                if !seg(self, data_end, flags::FIN | flags::ACK, 0, 0) {
                    return;
                }
                if self.fin_sent.is_some() {
                    counts.retransmits += 1;
                }
                self.fin_sent = Some(data_end);
                self.state = next;
                self.snd_nxt = data_end.plus(1);
                self.snd_max = self.snd_max.max_seq(self.snd_nxt);
                self.rtx_at.get_or_insert(now + self.rto.rto);
            }
        }
        // Data waiting on a zero window: the persist timer.
        if self.rtx_at.is_none() && self.snd_nxt != data_end {
            self.rtx_at = Some(now + self.rto.rto);
        }
        if self.ack_now {
            seg(self, self.snd_nxt, flags::ACK, 0, 0);
        }
    }
}
