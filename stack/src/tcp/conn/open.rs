//! Opening a connection: a listener's SYN (passive, RFC 9293 §3.5), our
//! own SYN (active) and a SYN crossing it (simultaneous open), a SYN
//! cookie's completion, and a new SYN ending TIME-WAIT (RFC 6191).

use super::*;
use crate::buf::PacketBuf;

/// What the table chose for a new connection.
#[derive(Copy, Clone, Debug)]
pub struct Opening {
    /// Our initial sequence number (RFC 6528).
    pub iss: u32,
    /// Added to our millisecond clock for the TSvals of this connection
    /// (RFC 7323 §7.1: random per connection).
    pub ts_offset: u32,
    /// Our MSS option, from the interface's MTU.
    pub our_mss: u16,
    pub now: u64,
}

#[cfg(test)]
impl Opening {
    /// `iss` and `our_mss` at time 0, with no timestamp offset.
    pub const fn new(iss: u32, our_mss: u16) -> Opening {
        Opening { iss, ts_offset: 0, our_mss, now: 0 }
    }
}

/// The smallest window scale that lets a receive queue of `buffer` bytes
/// be offered whole (RFC 7323 §2.3).
pub(in crate::tcp) fn window_shift_for(buffer: usize) -> u8 {
    (0..=14u8).find(|&s| (buffer >> s) <= usize::from(u16::MAX)).unwrap_or(14)
}

impl<B: PacketBuf> Conn<B> {
    /// A connection for a listener's SYN `syn` (its options parsed), as
    /// the table opens it, with empty queues.
    pub fn accept(syn: &SegIn, open: &Opening, cfg: &TcpConfig, send: TxChain<B>, recv: RxChain<B>) -> Conn<B> {
        let Opening { iss, ts_offset, our_mss, now } = *open;
        let scale = syn.options.window_shift.is_some();
        let rcv_shift = if scale { window_shift_for(cfg.buffer) } else { 0 };
        // RFC 9293 §3.7.1: 536 when the peer names none.
        let mss = u32::from(syn.options.mss.unwrap_or(536).min(our_mss)).max(64);
        let iss = Seq(iss);
        Conn {
            state: State::SynReceived,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: u32::from(syn.window),
            max_snd_wnd: u32::from(syn.window),
            snd_wl1: Seq(syn.seq),
            snd_wl2: iss,
            snd_shift: syn.options.window_shift.filter(|_| scale).unwrap_or(0),
            irs: Seq(syn.seq),
            rcv_nxt: Seq(syn.seq).plus(1),
            rcv_shift,
            mss,
            our_mss,
            send,
            recv,
            fin_queued: false,
            fin_sent: None,
            scale,
            active: false,
            probe: false,
            ooo: Ranges::EMPTY,
            adv_edge: Seq(syn.seq).plus(1),
            sack_ok: syn.options.sack_permitted,
            sacked: Ranges::EMPTY,
            high_rxt: iss,
            sent_at: None,
            rescue_rxt: None,
            rto: Rto::new(cfg.rto_min_ns),
            rtx_at: None,
            rtt_probe: None,
            retries: 0,
            // RFC 6928's initial window, RFC 5681's threshold.
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            cubic: (cfg.congestion == Congestion::Cubic).then(Cubic::default),
            dupacks: 0,
            recover: None,
            resend_una: false,
            ack_now: false,
            ack_at: None,
            ack_owed: 0,
            ack_delay: cfg.delayed_ack_ns,
            nagle: cfg.nagle,
            snd_sml: iss,
            ts_ok: syn.options.timestamps.is_some(),
            ts_offset,
            ts_recent: syn.options.timestamps.map_or(0, |t| t.0),
            ts_recent_at: now,
            last_ack_sent: Seq(syn.seq).plus(1),
            time_wait_until: 0,
            time_wait: cfg.time_wait_ns,
            max_retries: cfg.max_retries,
            heard_at: now,
            idle: cfg.idle_ns,
            keepalive: cfg.keepalive,
            probes_sent: 0,
            probe_due: false,
            hystart: Default::default(),
        }
    }

    /// An active open: a connection in SYN-SENT offering every option
    /// (MSS, window scale, SACK, timestamps); its SYN goes with the first
    /// [`Conn::output`].
    pub fn connect(open: &Opening, cfg: &TcpConfig, send: TxChain<B>, recv: RxChain<B>) -> Conn<B> {
        let offer = TcpOptions {
            mss: Some(open.our_mss),
            window_shift: Some(0),
            sack_permitted: true,
            timestamps: Some((0, 0)),
            ..TcpOptions::default()
        };
        let nobody = SegIn { seq: 0, ack: 0, flags: flags::SYN, window: 0, options: offer };
        let mut c = Conn::accept(&nobody, open, cfg, send, recv);
        c.state = State::SynSent;
        c.active = true;
        c.ts_recent = 0;
        c
    }

    /// A segment in SYN-SENT (RFC 9293 §3.10.7.3): the peer's SYN-ACK
    /// establishes, its SYN alone is a simultaneous open; a RST with an
    /// acceptable ACK resets; an ACK of anything but our SYN gets a RST.
    pub(super) fn input_syn_sent(&mut self, seg: &SegIn, now: u64) -> Event {
        let has_ack = seg.flags & flags::ACK != 0;
        let ack = Seq(seg.ack);
        if has_ack && (ack.le(self.iss) || ack.gt(self.snd_max)) {
            return if seg.flags & flags::RST != 0 { Event::None } else { Event::SendReset(seg.ack) };
        }
        if seg.flags & flags::RST != 0 {
            if has_ack {
                self.state = State::Closed;
                return Event::Reset;
            }
            return Event::None;
        }
        if seg.flags & flags::SYN == 0 {
            return Event::None;
        }
        // The peer's SYN: its numbers and the options both sides offered.
        let o = &seg.options;
        self.irs = Seq(seg.seq);
        self.rcv_nxt = self.irs.plus(1);
        self.adv_edge = self.rcv_nxt;
        self.last_ack_sent = self.rcv_nxt;
        self.mss = u32::from(o.mss.unwrap_or(536).min(self.our_mss)).max(64);
        self.cwnd = (10 * self.mss).min((2 * self.mss).max(14600));
        self.scale = o.window_shift.is_some();
        self.snd_shift = o.window_shift.unwrap_or(0);
        if !self.scale {
            self.rcv_shift = 0;
        }
        self.sack_ok = o.sack_permitted;
        self.ts_ok = o.timestamps.is_some();
        self.ts_recent = o.timestamps.map_or(0, |t| t.0);
        self.ts_recent_at = now;
        // A SYN's window is never scaled (RFC 7323 §2.2).
        self.snd_wnd = u32::from(seg.window);
        self.max_snd_wnd = self.snd_wnd;
        self.snd_wl1 = self.irs;
        self.snd_wl2 = ack;
        if !has_ack {
            // Simultaneous open (RFC 9293 §3.5, figure 7): SYN-ACK with
            // our ISS again.
            self.state = State::SynReceived;
            self.snd_nxt = self.iss;
            self.rtx_at = None;
            self.rtt_probe = None;
            return Event::None;
        }
        self.snd_una = ack;
        self.state = State::Established;
        self.rtx_at = None;
        self.retries = 0;
        if let Some((end, at)) = self.rtt_probe.take() {
            if ack.ge(end) {
                self.rto.sample(now.saturating_sub(at));
            }
        }
        self.ack_now = true;
        Event::None
    }

    /// Our SYN-ACK went without state (a SYN cookie): count it as sent.
    pub fn syn_ack_sent(&mut self) {
        self.snd_nxt = self.iss.plus(1);
        self.snd_max = self.snd_nxt;
    }

    /// A SYN for this connection's ends while it is in TIME-WAIT: true if
    /// it may open a new connection at once (RFC 6191 §2, RFC 1122
    /// §4.2.2.13): its timestamp is newer than the last one seen, or
    /// without timestamps its sequence number is past ours.
    pub fn reopens(&self, syn: &SegIn) -> bool {
        if self.state != State::TimeWait || syn.flags & (flags::SYN | flags::ACK | flags::RST) != flags::SYN {
            return false;
        }
        match (self.ts_ok, syn.options.timestamps) {
            (true, Some((val, _))) => Seq(val).gt(Seq(self.ts_recent)),
            (true, None) => false,
            (false, _) => Seq(syn.seq).gt(self.rcv_nxt),
        }
    }

    /// The lowest initial sequence number a connection that follows this
    /// one between the same ends may use (RFC 1122 §4.2.2.13: above
    /// every number this one used).
    pub fn next_iss_floor(&self) -> u32 {
        self.snd_max.plus(1 << 16).0
    }
}
