//! One connection's state machine (RFC 9293 §3.3.2, §3.10): segments in
//! ([`Conn::input`]), segments out ([`Conn::output`]), timers
//! ([`Conn::on_timer`]), time injected. It builds and parses no
//! packets (`router::tcp` does); its queues hold the packet buffers the
//! data came in or is sent from ([`super::chain`]).
//!
//! A connection starts in SYN-RECEIVED from a listener's SYN (a passive
//! open, [`Conn::accept`]) or in SYN-SENT ([`Conn::connect`]), from where
//! a SYN crossing ours is a simultaneous open (RFC 9293 §3.5). Reliability and congestion control
//! after RFC 6298 (RTO, Karn, backoff), RFC 5681 (slow start, congestion
//! avoidance, fast retransmit on three duplicate ACKs) and RFC 6582
//! (NewReno's partial ACKs); RST and SYN checks after RFC 5961. ACKs of
//! in-order data are delayed (RFC 1122 §4.2.3.2, RFC 5681 §4.2); short
//! segments are held by Nagle's algorithm and the sender's silly window
//! avoidance (RFC 9293 §3.8.6.2.1). Timestamps (RFC 7323) when the peer
//! offers them: RTT measured on every ACK of new data, and old duplicates
//! refused by PAWS.

mod hystart;
mod liveness;
mod open;
mod output;
mod rto;
mod sack;
mod timestamps;

pub(super) use open::window_shift_for;
pub use open::Opening;
pub(super) use rto::Rto;
use rto::MAX_RTO;
pub(crate) use timestamps::ts_clock;

use super::chain::{Held, Payload, RxChain, TxChain, TxData};
use super::cubic::Cubic;
use super::seq::{Ranges, Seq};
use super::{Congestion, TcpConfig};
use crate::buf::PacketBuf;
use crate::wire::tcp::{flags, TcpOptions, MAX_SACK_BLOCKS, TIMESTAMPS_LEN};

/// RFC 9293 §3.3.2 (LISTEN is the listener's, CLOSED a free slot).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    Closing,
    TimeWait,
    CloseWait,
    LastAck,
    Closed,
}

impl State {
    pub const ALL: [State; 10] = [
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::Closing,
        State::TimeWait,
        State::CloseWait,
        State::LastAck,
        State::Closed,
    ];

    /// Its name in the API and metrics (RFC 9293's, lower case).
    pub const fn name(self) -> &'static str {
        match self {
            State::SynSent => "syn_sent",
            State::SynReceived => "syn_received",
            State::Established => "established",
            State::FinWait1 => "fin_wait_1",
            State::FinWait2 => "fin_wait_2",
            State::Closing => "closing",
            State::TimeWait => "time_wait",
            State::CloseWait => "close_wait",
            State::LastAck => "last_ack",
            State::Closed => "closed",
        }
    }

    /// Data may still arrive.
    fn receives(self) -> bool {
        matches!(self, State::Established | State::FinWait1 | State::FinWait2)
    }
}

/// A segment's fields, as the engine sees them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SegIn {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions,
}

/// A segment to send: its header fields, and `len` bytes of the send
/// queue from `offset` as its payload.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SegOut {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// On a SYN-ACK: our MSS and window scale.
    pub options: TcpOptions,
    pub offset: usize,
    pub len: usize,
}

/// What a segment did to the connection, for the counters and the caller.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing the caller must act on.
    None,
    /// Not acceptable (outside the window, or an ACK of nothing sent):
    /// answered with an ACK.
    Unacceptable,
    /// RFC 5961: a RST or SYN in the window but not at its edge, answered
    /// with a challenge ACK.
    ChallengeAck,
    /// The peer reset the connection: it is closed.
    Reset,
    /// An ACK in SYN-RECEIVED of nothing we sent: answer with this RST
    /// (RFC 9293 §3.10.7.4, `<SEQ=SEG.ACK><CTL=RST>`).
    SendReset(u32),
    /// Data beyond the next expected byte, kept in its place in the
    /// receive queue until the gap before it fills; answered with a
    /// duplicate ACK.
    OutOfOrder,
    /// Data beyond the next expected byte that could not be kept (more
    /// than [`MAX_HOLES`] separate pieces): dropped, duplicate ACK.
    OutOfOrderDropped,
    /// RFC 7323 §5.3 (PAWS): a timestamp older than the newest seen, an
    /// old duplicate: answered with an ACK and dropped.
    Paws,
    /// RFC 7323 §3.2: no timestamps on a connection that agreed on them:
    /// dropped silently.
    NoTimestamps,
}

/// Times a SYN-ACK goes again before the connection is given up.
pub const SYN_ACK_RETRIES: u8 = 5;
/// Times our SYN goes again before the open fails (Linux's 6).
pub const SYN_RETRIES: u8 = 6;

/// Duplicate ACKs that start a fast retransmit (RFC 5681 §3.2), and
/// RFC 6675's DupThresh.
const DUP_THRESH: u32 = 3;

/// RFC 6928's initial window for segments of `mss` bytes.
pub(super) fn initial_window(mss: u32) -> u32 {
    (10 * mss).min((2 * mss).max(14600))
}

/// Separate pieces of data a connection keeps beyond a gap.
pub const MAX_HOLES: usize = 4;

/// A connection's transmission control block and its queues.
pub struct Conn<B> {
    pub state: State,
    iss: Seq,
    /// Oldest unacknowledged, next to send, highest sent.
    snd_una: Seq,
    snd_nxt: Seq,
    snd_max: Seq,
    snd_wnd: u32,
    max_snd_wnd: u32,
    snd_wl1: Seq,
    snd_wl2: Seq,
    /// The peer's window scale (0 unless both sides offered one).
    snd_shift: u8,
    irs: Seq,
    rcv_nxt: Seq,
    rcv_shift: u8,
    /// The most we put in one segment.
    mss: u32,
    /// Our MSS option (from the interface's MTU).
    our_mss: u16,
    /// Bytes the application queued (unacknowledged ones first) and
    /// bytes received for it.
    pub send: TxChain<B>,
    pub recv: RxChain<B>,
    /// The application closed: a FIN follows the queued bytes.
    fin_queued: bool,
    /// Where our FIN went, once sent.
    fin_sent: Option<Seq>,
    /// Both sides offer window scaling.
    scale: bool,
    /// We opened it (sent the first SYN).
    active: bool,
    /// The persist timer fired: one byte may go into a zero window.
    probe: bool,
    /// Data received beyond `rcv_nxt`, written in its place in `recv`:
    /// the pieces' sequence ranges.
    ooo: Ranges<MAX_HOLES>,
    /// The right edge of the window we last offered.
    adv_edge: Seq,
    /// Both sides agreed on SACK (RFC 2018): we send blocks for the
    /// pieces we keep past a gap, and read the peer's.
    sack_ok: bool,
    /// The peer's SACK blocks above `snd_una` (merged): the sender's
    /// scoreboard (RFC 6675 §3).
    sacked: Ranges<MAX_SACK_BLOCKS>,
    /// In SACK recovery: the end of the last hole sent again (RFC 6675's
    /// HighRxt).
    high_rxt: Seq,
    /// The recovery point of the last rescue retransmission (RFC 6675's
    /// RescueRxt): one per recovery.
    rescue_rxt: Option<Seq>,
    rto: Rto,
    /// When the retransmission (or persist) timer fires.
    rtx_at: Option<u64>,
    /// The segment timed for an RTT sample: its end, and when it left.
    rtt_probe: Option<(Seq, u64)>,
    retries: u8,
    cwnd: u32,
    ssthresh: u32,
    /// When data last left (ns): an idle sender's window restarts, and
    /// CUBIC's curve waits out the idle time.
    sent_at: Option<u64>,
    /// CUBIC's state, when it is the connection's congestion control.
    cubic: Option<Cubic>,
    dupacks: u8,
    /// NewReno: recovering until this is acknowledged.
    recover: Option<Seq>,
    /// Send the segment at `snd_una` again (fast retransmit).
    resend_una: bool,
    ack_now: bool,
    /// A delayed ACK is due then (ns), and the in-order segments it covers.
    ack_at: Option<u64>,
    ack_owed: u8,
    /// How long an ACK may be delayed (0: not at all).
    ack_delay: u64,
    /// Nagle's algorithm is on; the end of the last short segment sent
    /// (Minshall: only one may be unacknowledged).
    nagle: bool,
    snd_sml: Seq,
    /// RFC 7323: both sides send timestamps; ours are the millisecond
    /// clock plus `ts_offset`. `ts_recent` is the peer's TSval to echo
    /// (updated when `ts_recent_at`), `last_ack_sent` our last ACK field.
    ts_ok: bool,
    ts_offset: u32,
    ts_recent: u32,
    ts_recent_at: u64,
    last_ack_sent: Seq,
    /// TIME-WAIT ends then (ns).
    time_wait_until: u64,
    time_wait: u64,
    max_retries: u8,
    /// When the peer was last heard (an acceptable segment, ns), and how
    /// long a synchronized connection may go without (0: for ever).
    heard_at: u64,
    idle: u64,
    /// Keep-alives: the settings, probes sent unanswered, and a probe
    /// owed to the next output.
    keepalive: super::Keepalive,
    probes_sent: u8,
    probe_due: bool,
    /// HyStart++ for the first slow start (RFC 9406).
    hystart: hystart::HyStart,
}

/// What else an ACK carries: what makes an ACK of nothing new a duplicate
/// (RFC 5681 §2, RFC 6675 §2), and its timestamp echo.
#[derive(Copy, Clone)]
struct AckMeta {
    /// It carries no data and no FIN.
    no_data: bool,
    /// It SACKs data not SACKed before.
    newly_sacked: bool,
    /// TSecr, when timestamps are in use.
    echo: Option<u32>,
}

/// Counts of what happened, added up by the table.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnCounts {
    pub retransmits: u64,
    pub timeouts: u64,
    /// Connections dropped for hearing nothing for `idle_ns`.
    pub idle_drops: u64,
    /// Keep-alive probes sent, and connections dropped after `probes`
    /// went unanswered.
    pub keepalive_probes: u64,
    pub keepalive_drops: u64,
    /// First slow starts HyStart++ ended on a rising round trip, before
    /// any loss (RFC 9406).
    pub hystart_exits: u64,
    pub fast_retransmits: u64,
    pub partial_acks: u64,
    /// Recoveries with SACK agreed (RFC 6675).
    pub sack_recoveries: u64,
}

/// What [`Conn::input`] works with besides the segment: the time, the
/// counters it adds to, and the worker's budget of buffers its queues
/// keep.
pub struct InputCx<'a> {
    pub now: u64,
    pub counts: &'a mut ConnCounts,
    pub held: &'a mut Held,
}

impl<B: PacketBuf> Conn<B> {
    /// The sequence number of the send queue's first byte.
    fn data_start(&self) -> Seq {
        if matches!(self.state, State::SynSent | State::SynReceived) {
            self.iss.plus(1)
        } else {
            // Our SYN is acknowledged: snd_una is at a data byte (or past
            // the FIN). Not compared with the ISS: 2 GiB later, sequence
            // order would put the ISS ahead.
            self.snd_una
        }
    }

    /// Our FIN is acknowledged.
    fn fin_acked(&self) -> bool {
        self.fin_sent.is_some_and(|f| self.snd_una.gt(f))
    }

    /// The receive window we offer (unscaled bytes).
    fn rcv_wnd(&self) -> u32 {
        self.recv.free() as u32
    }

    fn window_field(&self) -> u16 {
        (self.rcv_wnd() >> self.rcv_shift).min(u32::from(u16::MAX)) as u16
    }

    /// When the next timer of this connection fires.
    pub fn deadline(&self) -> Option<u64> {
        if self.state == State::TimeWait {
            return Some(self.time_wait_until);
        }
        [self.rtx_at, self.ack_at, self.idle_at(), self.keepalive_at()].into_iter().flatten().min()
    }

    /// Turns Nagle's algorithm on or off for this connection (off: every
    /// write goes at once, as `TCP_NODELAY`).
    pub fn set_nagle(&mut self, on: bool) {
        self.nagle = on;
    }

    /// In-order data arrived: acknowledged with the next segment we send,
    /// at the latest on the second such segment or when the delay runs
    /// out (RFC 1122 §4.2.3.2; RFC 5681 §4.2).
    fn ack_later(&mut self, now: u64) {
        self.ack_owed = self.ack_owed.saturating_add(1);
        if self.ack_delay == 0 || self.ack_owed >= 2 {
            self.ack_now = true;
        } else {
            self.ack_at.get_or_insert(now + self.ack_delay);
        }
    }

    /// An ICMP Fragmentation Needed or Packet Too Big about our segment
    /// starting at `seq` says the path takes segments of `mss` at most
    /// (RFC 1191, RFC 8201): true if that lowered our MSS, and what is in
    /// flight goes again at the new size at once (not a loss: no
    /// congestion response). RFC 5927 §4.1: only for a segment in flight.
    pub fn path_mss(&mut self, seq: u32, mss: u32) -> bool {
        let seq = Seq(seq);
        if !(self.snd_una.le(seq) && seq.lt(self.snd_max)) || mss >= self.mss {
            return false;
        }
        self.mss = mss;
        self.snd_nxt = self.snd_una;
        self.rtt_probe = None;
        true
    }

    /// The data a full segment carries: the MSS less the timestamps
    /// option when it rides on every segment.
    pub fn segment_size(&self) -> usize {
        let ts = if self.ts_ok { TIMESTAMPS_LEN } else { 0 };
        (self.mss as usize).saturating_sub(ts).max(1)
    }

    /// The application's side: it queued bytes (the caller pushed them
    /// into `send`) or closed.
    pub fn close(&mut self) {
        self.fin_queued = true;
    }

    /// True once the application may send no more and the peer has
    /// finished: the slot can be freed.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True if the peer sent its FIN (the application reads EOF after
    /// what is queued in `recv`).
    pub fn peer_closed(&self) -> bool {
        matches!(self.state, State::CloseWait | State::LastAck | State::Closing | State::TimeWait | State::Closed)
    }

    /// A segment for this connection (checksum verified), `payload` its
    /// data. Received bytes go into `recv`.
    pub fn input(&mut self, seg: &SegIn, mut payload: Payload<'_, B>, cx: &mut InputCx<'_>) -> Event {
        let now = cx.now;
        let syn = seg.flags & flags::SYN != 0;
        let fin = seg.flags & flags::FIN != 0;
        let seq = Seq(seg.seq);
        let seg_len = payload.len as u32 + u32::from(syn) + u32::from(fin);
        if self.state == State::SynSent {
            return self.input_syn_sent(seg, now);
        }
        // Simultaneous open: the peer's SYN-ACK in SYN-RECEIVED repeats
        // its SYN (already counted) and acknowledges ours; taken as that
        // ACK, as Linux does (RFC 5961's challenge is for other SYNs).
        if self.state == State::SynReceived
            && self.active
            && syn
            && seg.flags & (flags::ACK | flags::RST) == flags::ACK
            && seq == self.irs
            && Seq(seg.ack) == self.snd_max
        {
            let as_ack = SegIn {
                seq: seg.seq.wrapping_add(1),
                flags: seg.flags & !flags::SYN,
                window: seg.window >> self.snd_shift,
                ..*seg
            };
            return self.input(&as_ack, payload, cx);
        }
        if self.state == State::TimeWait {
            // RFC 9293 §3.10.7.4: a retransmitted FIN is acknowledged and
            // the wait starts again; anything else waits it out.
            if fin && seg.flags & flags::RST == 0 {
                self.ack_now = true;
                self.time_wait_until = now + self.time_wait;
            }
            return Event::None;
        }
        // A SYN again in SYN-RECEIVED: our SYN-ACK was lost.
        if self.state == State::SynReceived && syn && seq == self.irs && seg.flags & flags::ACK == 0 {
            self.snd_nxt = self.iss;
            return Event::None;
        }
        if let Some(refused) = self.paws(seg, now) {
            return refused;
        }
        // Is it in the window (RFC 9293 §3.10.7.4's four cases)?
        let wnd = self.rcv_wnd();
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_window(self.rcv_nxt, wnd),
            (_, 0) => false,
            (n, _) => seq.in_window(self.rcv_nxt, wnd) || seq.plus(n - 1).in_window(self.rcv_nxt, wnd),
        };
        if seg.flags & flags::RST != 0 {
            // RFC 5961 §3.2: only a RST at the window's edge resets.
            if seq == self.rcv_nxt {
                self.state = State::Closed;
                return Event::Reset;
            }
            if acceptable {
                self.ack_now = true;
                return Event::ChallengeAck;
            }
            return Event::None;
        }
        // The peer is alive: an acceptable segment, or a probe of our
        // closed window at its edge.
        if acceptable || (wnd == 0 && seq == self.rcv_nxt) {
            self.heard(now);
        }
        if !acceptable {
            self.ack_now = true;
            return Event::Unacceptable;
        }
        self.note_timestamp(seg, now);
        if syn {
            // RFC 5961 §4.2: a SYN in a synchronized state.
            self.ack_now = true;
            return Event::ChallengeAck;
        }
        if seg.flags & flags::ACK == 0 {
            return Event::None;
        }
        let ack = Seq(seg.ack);
        if self.state == State::SynReceived {
            if !(self.snd_una.lt(ack) && ack.le(self.snd_max)) {
                return Event::SendReset(seg.ack);
            }
            self.state = State::Established;
            self.snd_una = self.iss.plus(1);
            self.snd_wnd = u32::from(seg.window) << self.snd_shift;
            self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
            self.rtx_at = None;
            self.retries = 0;
            if let Some((end, at)) = self.rtt_probe.take() {
                if ack.ge(end) {
                    self.rto.sample(now.saturating_sub(at));
                }
            }
        }
        // RFC 5961 §5.2: an ACK of what we never sent, or far behind.
        if ack.gt(self.snd_max) || ack.lt(self.snd_una.minus(self.max_snd_wnd)) {
            self.ack_now = true;
            return Event::Unacceptable;
        }
        let newly_sacked = self.sack_ok && self.take_sack(&seg.options);
        let echo = seg.options.timestamps.filter(|_| self.ts_ok).map(|t| t.1);
        let meta = AckMeta { no_data: payload.len == 0 && !fin, newly_sacked, echo };
        self.on_ack(seq, ack, seg.window, meta, cx);
        if self.state == State::Closed {
            return Event::None;
        }
        // Data: in order into the receive queue; beyond a gap, into its
        // place in the queue's free space until the gap fills.
        let mut event = Event::None;
        let mut at = seq;
        let mut left = payload.len;
        if self.state.receives() && left > 0 {
            // Only new data in order, past no gap, may wait for its ACK:
            // a duplicate, data beyond a gap or filling one, or data the
            // queue had no room for is acknowledged at once (RFC 5681 §4.2).
            let plain = at == self.rcv_nxt && self.ooo.as_slice().is_empty();
            let mut skip = 0;
            if at.lt(self.rcv_nxt) {
                skip = (self.rcv_nxt.since(at) as usize).min(left);
                left -= skip;
                at = self.rcv_nxt;
            }
            if at == self.rcv_nxt {
                let n = self.recv.put(0, payload.narrow(skip, left), cx.held);
                self.rcv_nxt = self.rcv_nxt.plus(n as u32);
                at = at.plus(n as u32);
                left -= n;
                self.absorb_ooo(cx.held);
            } else if left > 0 {
                event = self.keep_ooo(at, payload.narrow(skip, left), cx.held);
            }
            if plain && left == 0 {
                self.ack_later(now);
            } else {
                self.ack_now = true;
            }
        }
        // FIN: taken when everything before it was.
        if fin && left == 0 && at == self.rcv_nxt && self.state != State::CloseWait {
            self.rcv_nxt = self.rcv_nxt.plus(1);
            self.ack_now = true;
            self.state = match self.state {
                State::Established => State::CloseWait,
                State::FinWait1 => State::Closing,
                State::FinWait2 => {
                    self.time_wait_until = now + self.time_wait;
                    self.rtx_at = None;
                    State::TimeWait
                }
                s => s,
            };
        }
        event
    }

    /// Keeps `data` (at `at`, past `rcv_nxt`) in its place.
    fn keep_ooo(&mut self, at: Seq, data: Payload<'_, B>, held: &mut Held) -> Event {
        let end = at.plus(data.len as u32);
        // A fifth separate piece is refused.
        if self.ooo.is_full() && !self.ooo.touches(at, end) {
            return Event::OutOfOrderDropped;
        }
        let n = self.recv.put(at.since(self.rcv_nxt) as usize, data, held);
        if n == 0 {
            return Event::OutOfOrderDropped;
        }
        self.ooo.add(at, at.plus(n as u32), self.rcv_nxt);
        Event::OutOfOrder
    }

    /// After `rcv_nxt` moved: queues the pieces it reached.
    fn absorb_ooo(&mut self, held: &mut Held) {
        while let Some(i) = self.ooo.as_slice().iter().position(|&(s, _)| s.le(self.rcv_nxt)) {
            let end = self.ooo.as_slice().get(i).map_or(self.rcv_nxt, |&(_, e)| e);
            if end.gt(self.rcv_nxt) {
                self.recv.commit(end.since(self.rcv_nxt) as usize, held);
                self.rcv_nxt = end;
            }
            self.ooo.remove(i);
        }
    }

    /// The application took bytes from `recv`: if that opened the window
    /// by enough (RFC 1122 §4.2.3.3: half the buffer or one MSS), the
    /// peer is told at once.
    pub fn window_opened(&mut self) {
        let edge = self.rcv_nxt.plus(self.rcv_wnd());
        let step = (self.recv.capacity() as u32 / 2).min(self.mss);
        if edge.gt(self.adv_edge) && edge.since(self.adv_edge) >= step {
            self.ack_now = true;
        }
    }

    /// The ACK field of an acceptable segment: what it acknowledges, the
    /// window it offers, and the loss it signals.
    fn on_ack(&mut self, seq: Seq, ack: Seq, window: u16, meta: AckMeta, cx: &mut InputCx<'_>) {
        let (now, counts) = (cx.now, &mut *cx.counts);
        let window = u32::from(window) << self.snd_shift;
        if ack.gt(self.snd_una) {
            let acked = ack.since(self.snd_una);
            // Was the window what held the sender back? In slow start,
            // while the flight was at least half of it (as Linux's
            // tcp_is_cwnd_limited); after, while it was within a segment.
            let flight = self.flight();
            let cwnd_limited = if self.cwnd < self.ssthresh {
                self.cwnd < 2 * flight
            } else {
                flight.saturating_add(self.mss) >= self.cwnd
            };
            let rtt = self.rtt_from_echo(meta.echo, now);
            // Bytes of the send queue acknowledged (not our FIN).
            let data_end = self.data_start().plus(self.send.len() as u32);
            let data_acked = ack.min_seq(data_end).since(self.data_start()) as usize;
            self.send.consume(data_acked, cx.held);
            self.snd_una = ack;
            if self.snd_nxt.lt(ack) {
                self.snd_nxt = ack;
            }
            self.sacked.trim_below(self.snd_una);
            self.dupacks = 0;
            self.retries = 0;
            if let Some((end, at)) = self.rtt_probe {
                if ack.ge(end) && !self.ts_ok {
                    self.rto.sample(now.saturating_sub(at));
                }
                if ack.ge(end) {
                    self.rtt_probe = None;
                }
            }
            match self.recover {
                // RFC 6582 §3.2 step 3: a full ACK ends recovery.
                Some(r) if ack.ge(r) => {
                    self.recover = None;
                    self.cwnd = self.ssthresh.min(self.flight() + self.mss).max(self.mss);
                }
                // A partial ACK. With SACK the pipe says what may go; with
                // NewReno the next hole goes out at once (RFC 6582 §3.2
                // step 5) and the window deflates.
                Some(_) => {
                    counts.partial_acks += 1;
                    if !self.sack_ok {
                        self.resend_una = true;
                        self.cwnd = self.cwnd.saturating_sub(acked).saturating_add(self.mss);
                    }
                }
                // RFC 9438 §5.8 (and Linux for Reno too): the window
                // grows only while it limits what is sent.
                None if !cwnd_limited => {}
                // RFC 9406 §4.2: HyStart++ in the first slow start only,
                // until a loss or CSS's end sets ssthresh.
                None if self.ssthresh == u32::MAX => {
                    let g = self.hystart.on_ack(acked.min(self.mss), ack, self.snd_max, rtt);
                    counts.hystart_exits += u64::from(g.css_entered);
                    self.cwnd = self.cwnd.saturating_add(g.add);
                    if g.avoid {
                        self.ssthresh = self.cwnd;
                    }
                }
                None if self.cwnd < self.ssthresh => self.cwnd = self.cwnd.saturating_add(acked.min(self.mss)),
                None => {
                    self.cwnd = match &mut self.cubic {
                        Some(c) => c.grow(self.cwnd, acked, self.mss, now, self.rto.srtt),
                        None => self.cwnd.saturating_add((self.mss * self.mss / self.cwnd).max(1)),
                    }
                }
            }
            // RFC 6298 §5.2/5.3: restart the timer, or stop it.
            self.rtx_at = (self.snd_una != self.snd_max).then(|| now + self.rto.rto);
            // Our FIN acknowledged?
            if self.fin_acked() {
                match self.state {
                    State::FinWait1 => self.state = State::FinWait2,
                    State::Closing => {
                        self.state = State::TimeWait;
                        self.time_wait_until = now + self.time_wait;
                    }
                    State::LastAck => self.state = State::Closed,
                    _ => {}
                }
            }
        } else if ack == self.snd_una
            && self.snd_una != self.snd_max
            && ((meta.no_data && window == self.snd_wnd) || meta.newly_sacked)
        {
            // RFC 5681 §2's duplicate ACK; with SACK, an ACK that SACKs
            // new data counts too, data on it or not (RFC 6675 §2).
            self.dupacks = self.dupacks.saturating_add(1);
            if u32::from(self.dupacks) == DUP_THRESH && self.recover.is_none() {
                counts.fast_retransmits += 1;
                counts.sack_recoveries += u64::from(self.sack_ok);
                self.ssthresh = self.threshold_after_loss();
                self.recover = Some(self.snd_max);
                self.high_rxt = self.snd_una;
                self.rtt_probe = None;
                // The first hole goes at once either way (RFC 6675 §5
                // step 4.3, RFC 6582 §3.2 step 2). With SACK, cwnd is the
                // threshold and the pipe says what else may go; NewReno
                // inflates cwnd by the three segments that left.
                self.resend_una = true;
                self.cwnd = if self.sack_ok { self.ssthresh } else { self.ssthresh + 3 * self.mss };
            } else if !self.sack_ok && (self.dupacks > 3 || self.recover.is_some()) {
                // NewReno: each further duplicate is a segment that left
                // the network (RFC 6582 §3.2 step 4); new data may go as
                // the inflated window allows.
                self.cwnd = self.cwnd.saturating_add(self.mss);
            }
        }
        // RFC 9293 §3.10.7.4: the window from the newest segment.
        if self.snd_wl1.lt(seq) || (self.snd_wl1 == seq && self.snd_wl2.le(ack)) {
            self.snd_wnd = window;
            self.max_snd_wnd = self.max_snd_wnd.max(window);
            self.snd_wl1 = seq;
            self.snd_wl2 = ack;
        }
    }

    fn flight(&self) -> u32 {
        self.snd_max.since(self.snd_una)
    }

    /// New data is about to leave with nothing in flight: after more than
    /// an RTO without sending, the window restarts at no more than the
    /// initial one (RFC 5681 §4.1); CUBIC's curve is shifted by the idle
    /// time, so it goes on where it was rather than jumping (RFC 9438
    /// §5.8, as Linux's CA_EVENT_TX_START).
    fn restart_after_idle(&mut self, now: u64) {
        let Some(at) = self.sent_at else { return };
        let idle = now.saturating_sub(at);
        if idle > self.rto.rto {
            self.cwnd = self.cwnd.min(initial_window(self.mss));
        }
        if let Some(c) = &mut self.cubic {
            c.shift(idle, now);
        }
    }

    /// The slow-start threshold after a loss: half the flight (RFC 5681
    /// §3.1 equation 4), or CUBIC's cut of the window (RFC 9438 §4.6).
    fn threshold_after_loss(&mut self) -> u32 {
        match &mut self.cubic {
            Some(c) => c.reduce(self.cwnd, self.mss),
            None => (self.flight() / 2).max(2 * self.mss),
        }
    }

    /// A new segment of `n` bytes, shorter than the MSS, with `avail`
    /// bytes queued past `snd_nxt`: may it go now? RFC 9293 §3.8.6.2.1's
    /// sender side of silly window avoidance: yes if it takes half the
    /// largest window the peer offered, or everything queued; and then,
    /// with Nagle's algorithm (RFC 1122 §4.2.3.4), only if no earlier short
    /// segment is unacknowledged (Minshall's refinement, as Linux: a
    /// response's short tail need not wait for its full segments' ACK)
    /// or the FIN follows.
    fn may_send_short(&self, n: usize, avail: usize) -> bool {
        if n as u32 >= self.max_snd_wnd / 2 && self.max_snd_wnd > 0 {
            return true;
        }
        n == avail && (!self.nagle || self.snd_sml.le(self.snd_una) || self.fin_queued)
    }

    /// The retransmission, persist, delayed-ACK or TIME-WAIT timer, if due.
    pub fn on_timer(&mut self, now: u64, counts: &mut ConnCounts) {
        if self.state == State::TimeWait {
            if now >= self.time_wait_until {
                self.state = State::Closed;
            }
            return;
        }
        if self.liveness_timer(now, counts) {
            return;
        }
        if self.ack_at.is_some_and(|at| now >= at) {
            self.ack_now = true;
        }
        let Some(at) = self.rtx_at else { return };
        if now < at {
            return;
        }
        self.retries = self.retries.saturating_add(1);
        // A SYN-ACK is sent again fewer times (Linux's 5): under a flood
        // the backlog frees sooner.
        let max = match self.state {
            State::SynSent => SYN_RETRIES,
            State::SynReceived => SYN_ACK_RETRIES,
            _ => self.max_retries,
        };
        if self.retries > max {
            self.state = State::Closed;
            return;
        }
        counts.timeouts += 1;
        // RFC 5681 §3.1 (equation 4) and RFC 6298 §5.5-5.7.
        if self.snd_una != self.snd_max {
            self.ssthresh = self.threshold_after_loss();
            self.cwnd = self.mss;
        }
        self.recover = None;
        self.dupacks = 0;
        // RFC 2018 §8: after a timeout the SACKed data may be gone.
        self.sacked.clear();
        self.snd_nxt = if matches!(self.state, State::SynSent | State::SynReceived) { self.iss } else { self.snd_una };
        self.rtt_probe = None;
        self.rto.rto = (self.rto.rto * 2).min(MAX_RTO);
        self.rtx_at = Some(now + self.rto.rto);
        self.probe = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_queue_starts_at_snd_una_even_2_gib_past_the_iss() {
        let syn = SegIn { seq: 7, flags: flags::SYN, window: 1000, ..SegIn::default() };
        let cfg = TcpConfig::default();
        let mut c: Conn<crate::buf::VecBuf> =
            Conn::accept(&syn, &Opening::new(100, 1460), &cfg, TxChain::new(1024), RxChain::new(1024));
        assert_eq!(c.data_start(), Seq(101), "SYN-RECEIVED: after our SYN");
        c.state = State::Established;
        c.snd_una = Seq(101).plus(1 << 31).plus(5);
        assert_eq!(c.data_start(), c.snd_una);
    }
}
