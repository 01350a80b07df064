//! The gateway's own TCP (RFC 9293), on its own addresses, in the
//! workers: a table of connections per worker ([`TcpTable`]), each a
//! state machine ([`conn`]) with its send and receive queues. The router
//! stage that feeds it segments and sends what it answers is
//! `router::tcp`; the built-in services run on its connections.
//!
//! Every bound holds without allocating after [`TcpTable::new`]:
//! at most `connections` connections, each with a `buffer`-byte queue
//! each way ([`chain`]: packet buffers, kept as they came or as the
//! application wrote them, never copied between), of which at most
//! `syn_backlog` in SYN-RECEIVED, so a SYN flood cannot take the slots of
//! established connections; the queues of all together hold at most
//! `buffers` packet buffers, so the ports always have some to receive
//! into. Services use a connection through a [`Socket`]. Connections are found by a keyed hash (SipHash with a
//! random key), so no sender can aim at one bucket; initial sequence
//! numbers follow RFC 6528 (a 4 µs clock plus a keyed hash of the ends).

pub mod chain;
pub mod conn;
pub mod cubic;
pub mod seq;
mod socket;
#[cfg(test)]
pub(crate) mod testing;
mod wheel;

pub use chain::{Held, Payload, RxChain, TxChain, TxData};
pub use conn::{Conn, ConnCounts, Event, InputCx, Opening, SegIn, SegOut, State, MAX_HOLES};
pub use socket::Socket;

use crate::buf::PacketBuf;
use crate::services::{ServiceKind, Serving};
use crate::wire::tcp::{flags, TcpOptions};
use crate::Secret;
use seq::Seq;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::SocketAddr;

/// The engine's bounds and timers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TcpConfig {
    /// Connections a worker holds at once.
    pub connections: usize,
    /// Bytes of each connection's send queue, and of its receive queue.
    pub buffer: usize,
    /// Packet buffers the queues of all connections hold at once (taken
    /// from the ports' pool: the rest stays for receiving).
    pub buffers: usize,
    /// Connections in SYN-RECEIVED at once (the rest of the table stays
    /// for established ones).
    pub syn_backlog: usize,
    /// The retransmission timeout's floor (RFC 6298 §2.4: 1 s; Linux
    /// 200 ms).
    pub rto_min_ns: u64,
    /// How long TIME-WAIT lasts (2 MSL).
    pub time_wait_ns: u64,
    /// Retransmissions of one segment before the connection is dropped.
    pub max_retries: u8,
    /// How long an ACK of in-order data may wait for a second segment or
    /// data to ride on (RFC 1122 §4.2.3.2: under 500 ms); 0 acknowledges
    /// every segment at once.
    pub delayed_ack_ns: u64,
    /// Nagle's algorithm (RFC 1122 §4.2.3.4, with Minshall's refinement):
    /// a short segment waits while an earlier short one is unacknowledged.
    pub nagle: bool,
    /// How the congestion window grows and shrinks.
    pub congestion: Congestion,
    /// A synchronized connection that hears nothing acceptable from its
    /// peer for this long is dropped (0: never): a peer that vanished
    /// without a RST, or a client holding connections open in silence,
    /// does not keep its slot.
    pub idle_ns: u64,
    /// Keep-alive probes (RFC 1122 §4.2.3.6), off by default as it asks.
    pub keepalive: Keepalive,
}

/// Keep-alives (RFC 1122 §4.2.3.6): an established connection that has
/// heard nothing for `idle_ns`, with nothing of ours unacknowledged,
/// sends a probe (an ACK one below what the peer has acknowledged, which
/// a live peer answers with an ACK), then one every `interval_ns`; after
/// `probes` unanswered it is dropped. A peer that answers stays, and so
/// outlives `idle_ns` of [`TcpConfig`] too.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (0: no keep-alives).
    pub idle_ns: u64,
    pub interval_ns: u64,
    pub probes: u8,
}

impl Default for Keepalive {
    /// Off; Linux's interval (75 s) and count (9) once turned on.
    fn default() -> Self {
        Keepalive { idle_ns: 0, interval_ns: 75_000_000_000, probes: 9 }
    }
}

/// A congestion control algorithm.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Congestion {
    /// RFC 5681's slow start and congestion avoidance, halving on loss
    /// (RFC 6582's NewReno recovery).
    NewReno,
    /// RFC 9438: a cut to 0.7 on loss and cubic growth back (Linux's default).
    #[default]
    Cubic,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            connections: 1024,
            buffer: 16384,
            buffers: 4096,
            syn_backlog: 256,
            rto_min_ns: 1_000_000_000,
            time_wait_ns: 60_000_000_000,
            max_retries: 8,
            delayed_ack_ns: 40_000_000,
            nagle: true,
            congestion: Congestion::Cubic,
            idle_ns: 600_000_000_000,
            keepalive: Keepalive::default(),
        }
    }
}

/// A connection's ends: ours, then the peer's.
pub type Ends = (SocketAddr, SocketAddr);

/// Which worker a router is, of how many, and the seed they all hash a
/// connection's ends with to agree on its owner.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub worker: u16,
    pub workers: u16,
    /// The same on every worker, random per run: no sender can aim its
    /// connections at one worker.
    pub seed: u64,
}

impl Default for Place {
    fn default() -> Self {
        Place { worker: 0, workers: 1, seed: 0 }
    }
}

impl Place {
    /// The worker that owns the connection between `ends`, when it is
    /// another than this one: a keyed mix of both ends, the same on every
    /// worker.
    #[inline]
    pub fn other_owner(&self, ends: &Ends) -> Option<u16> {
        if self.workers <= 1 {
            return None;
        }
        let mut h = self.seed;
        let mut mix = |x: u64| {
            h = (h ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        };
        for a in [ends.0, ends.1] {
            let ip = match a.ip() {
                std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)),
                std::net::IpAddr::V6(v6) => u128::from(v6),
            };
            mix(ip as u64);
            mix((ip >> 64) as u64);
            mix(u64::from(a.port()));
        }
        let owner = (((h >> 32) * u64::from(self.workers)) >> 32) as u16;
        (owner != self.worker).then_some(owner)
    }
}

/// A connection in its table: the state machine and who serves it.
pub struct Entry<B> {
    pub conn: Conn<B>,
    pub ends: Ends,
    /// The interface its segments arrive on (the scope of a link-local peer).
    pub ifindex: u16,
    pub service: Serving,
    /// A peer's opening, counted in the SYN backlog until it leaves
    /// SYN-RECEIVED.
    backlog: bool,
}

/// A connection, as the control plane lists it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: State,
    /// Bytes queued to send (unacknowledged ones included), and received
    /// but not yet taken by the service.
    pub send_queue: usize,
    pub recv_queue: usize,
}

/// The MSS values a SYN cookie can carry (3 bits, RFC 4987 §3.6): the
/// largest not above what the SYN and our interface allow is used.
const COOKIE_MSS: [u16; 8] = [536, 1200, 1220, 1360, 1400, 1440, 1460, 8960];
/// A cookie's time counter ticks this often; a cookie is good for the
/// period it was made in and the next.
const COOKIE_PERIOD: u64 = 64_000_000_000;

/// A cookie's TSval bits that carry the SYN's window scale and SACK
/// permitted, and the scale that says "none".
const COOKIE_TS_BITS: u32 = 0x1f;
const COOKIE_NO_SHIFT: u8 = 15;

/// A segment that may open a connection: its ends (ours first), our MSS
/// for its interface, the interface, the listener's service, and when.
#[derive(Copy, Clone, Debug)]
pub struct Incoming {
    pub ends: Ends,
    pub our_mss: u16,
    pub ifindex: u16,
    pub service: ServiceKind,
    pub now: u64,
}

/// Why a SYN made no connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `syn_backlog` connections are in SYN-RECEIVED.
    Backlog,
    /// The table is full.
    Full,
    /// A connection between those ends exists.
    InUse,
    /// Our end's address is no interface's (an active open).
    NoAddress,
}

/// One worker's connections.
pub struct TcpTable<B> {
    cfg: TcpConfig,
    by_ends: HashMap<Ends, u32, Secret>,
    slots: Vec<Option<Entry<B>>>,
    free: Vec<u32>,
    /// Queues of free slots, ready for the next connection.
    spare: Vec<(TxChain<B>, RxChain<B>)>,
    /// Packet buffers the queues hold, of `cfg.buffers`.
    held: Held,
    isn_key: Secret,
    cookie_key: Secret,
    embryonic: usize,
    wheel: wheel::Wheel,
}

impl<B: PacketBuf> TcpTable<B> {
    /// A table of `cfg.connections`, its queues allocated here.
    pub fn new(cfg: TcpConfig) -> TcpTable<B> {
        let n = cfg.connections;
        TcpTable {
            cfg,
            by_ends: HashMap::with_capacity_and_hasher(n, Secret::default()),
            slots: (0..n).map(|_| None).collect(),
            free: (0..n as u32).rev().collect(),
            spare: (0..n).map(|_| (TxChain::new(cfg.buffer), RxChain::new(cfg.buffer))).collect(),
            held: Held::new(cfg.buffers),
            isn_key: Secret::default(),
            cookie_key: Secret::default(),
            embryonic: 0,
            wheel: wheel::Wheel::new(n, 0),
        }
    }

    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    /// Slots: connections the table can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.by_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ends.is_empty()
    }

    /// The connection between `ends`.
    #[inline]
    pub fn find(&self, ends: &Ends) -> Option<u32> {
        self.by_ends.get(ends).copied()
    }

    pub fn get(&self, id: u32) -> Option<&Entry<B>> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Entry<B>> {
        self.slots.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// Connection `id` and the buffer budget its queues take from.
    pub fn get_held(&mut self, id: u32) -> Option<(&mut Entry<B>, &mut Held)> {
        let e = self.slots.get_mut(id as usize).and_then(Option::as_mut)?;
        Some((e, &mut self.held))
    }

    /// Packet buffers the queues hold now, and the most they may.
    pub fn held(&self) -> Held {
        self.held
    }

    /// RFC 6528: M + F(ends, secret), M a 4 µs clock.
    fn isn(&self, ends: &Ends, now: u64) -> u32 {
        ((now / 4000) as u32).wrapping_add(self.isn_key.hash_one(ends) as u32)
    }

    /// What a connection between `inc.ends` opens with; its ISN above
    /// `floor` if one is given (a connection reopened from TIME-WAIT).
    fn opening(&self, inc: &Incoming, floor: Option<u32>) -> Opening {
        let mut iss = self.isn(&inc.ends, inc.now);
        if let Some(f) = floor.filter(|&f| Seq(iss).lt(Seq(f))) {
            iss = f;
        }
        // RFC 7323 §7.1: a random offset per connection for our TSvals.
        let ts_offset = self.isn_key.hash_one((1u8, inc.ends)) as u32;
        Opening { iss, ts_offset, our_mss: inc.our_mss, now: inc.now }
    }

    /// A connection for a listener's SYN; `floor` as for [`TcpTable::reopen`].
    pub fn accept(&mut self, inc: &Incoming, syn: &SegIn, floor: Option<u32>) -> Result<u32, Refused> {
        if self.embryonic >= self.cfg.syn_backlog {
            return Err(Refused::Backlog);
        }
        let (open, cfg) = (self.opening(inc, floor), self.cfg);
        self.insert(inc, true, Serving::new(inc.service), |send, recv| Conn::accept(syn, &open, &cfg, send, recv))
    }

    /// Puts the connection `make` makes with a free slot's queues in that
    /// slot; a peer's opening is held in the SYN backlog until settled.
    fn insert(
        &mut self,
        inc: &Incoming,
        backlog: bool,
        service: Serving,
        make: impl FnOnce(TxChain<B>, RxChain<B>) -> Conn<B>,
    ) -> Result<u32, Refused> {
        let (Some(id), Some((send, recv))) = (self.free.pop(), self.spare.pop()) else { return Err(Refused::Full) };
        let conn = make(send, recv);
        if let Some(slot) = self.slots.get_mut(id as usize) {
            let (ends, ifindex) = (inc.ends, inc.ifindex);
            *slot = Some(Entry { conn, ends, ifindex, service, backlog });
        }
        self.by_ends.insert(inc.ends, id);
        self.embryonic += usize::from(backlog);
        Ok(id)
    }

    /// An active open (RFC 9293 §3.5) from `inc.ends.0` to `inc.ends.1`:
    /// a connection in SYN-SENT whose SYN goes with its first output.
    /// Ours, so outside the SYN backlog; refused if the table is full or
    /// the ends are taken. `service` runs on it once connected
    /// (`inc.service` is not used).
    pub fn connect(&mut self, inc: &Incoming, service: Serving) -> Result<u32, Refused> {
        if self.by_ends.contains_key(&inc.ends) {
            return Err(Refused::InUse);
        }
        let (open, cfg) = (self.opening(inc, None), self.cfg);
        self.insert(inc, false, service, |send, recv| Conn::connect(&open, &cfg, send, recv))
    }

    /// A SYN for connection `id`, which is in TIME-WAIT: if it may open a
    /// new connection at once (RFC 6191), the old one is freed and the
    /// lowest ISN the new one may take is returned.
    pub fn reopen(&mut self, id: u32, syn: &SegIn) -> Option<u32> {
        let e = self.slots.get(id as usize)?.as_ref()?;
        if !e.conn.reopens(syn) {
            return None;
        }
        let floor = e.conn.next_iss_floor();
        self.release(id);
        Some(floor)
    }

    /// SYN cookies (RFC 4987 §3.6), for a SYN the backlog has no room
    /// for: a SYN-ACK that keeps no state. Its sequence number holds a
    /// 5-bit time counter, the MSS's index, and 24 bits of a keyed hash of
    /// the ends, the SYN's sequence number and the counter. Window scaling
    /// and SACK ride in the low bits of our TSval when the SYN offers
    /// timestamps (as Linux does; the ACK echoes them back); without, they
    /// are lost.
    pub fn syn_cookie(&self, inc: &Incoming, syn: &SegIn) -> SegOut {
        let mss = syn.options.mss.unwrap_or(536).min(inc.our_mss);
        let m = COOKIE_MSS.iter().rposition(|&v| v <= mss).unwrap_or(0);
        let t = (inc.now / COOKIE_PERIOD) as u32 & 31;
        let iss = self.cookie(&inc.ends, syn.seq, t, m as u32);
        let mut options = TcpOptions { mss: COOKIE_MSS.get(m).copied(), ..TcpOptions::default() };
        if let Some((val, _)) = syn.options.timestamps {
            let bits = u32::from(syn.options.window_shift.unwrap_or(COOKIE_NO_SHIFT))
                | u32::from(syn.options.sack_permitted) << 4;
            // Never above the clock: the connection's later TSvals must not
            // go back (the peer's PAWS).
            let clock = conn::ts_clock(inc.now, self.opening(inc, None).ts_offset);
            let mut ts = clock & !COOKIE_TS_BITS | bits;
            if Seq(ts).gt(Seq(clock)) {
                ts = ts.wrapping_sub(COOKIE_TS_BITS + 1);
            }
            options.timestamps = Some((ts, val));
            options.window_shift = syn.options.window_shift.map(|_| conn::window_shift_for(self.cfg.buffer));
            options.sack_permitted = syn.options.sack_permitted;
        }
        let window = self.cfg.buffer.min(usize::from(u16::MAX)) as u16;
        let (ack, flags) = (syn.seq.wrapping_add(1), flags::SYN | flags::ACK);
        SegOut { seq: iss, ack, flags, window, options, offset: 0, len: 0 }
    }

    fn cookie(&self, ends: &Ends, irs: u32, t: u32, m: u32) -> u32 {
        let h = self.cookie_key.hash_one((ends, irs, t)) as u32 & 0x00ff_ffff;
        (t & 31) << 27 | (m & 7) << 24 | h
    }

    /// An ACK between `inc.ends` for no connection: if it acknowledges a
    /// cookie of this period or the last, the connection it completes,
    /// in SYN-RECEIVED with our SYN-ACK counted as sent (the caller gives
    /// it the ACK next). `None` if it carries no good cookie.
    pub fn accept_cookie(&mut self, inc: &Incoming, ack: &SegIn) -> Option<Result<u32, Refused>> {
        let (iss, irs) = (ack.ack.wrapping_sub(1), ack.seq.wrapping_sub(1));
        let (t, m) = (iss >> 27, (iss >> 24) & 7);
        let age = ((inc.now / COOKIE_PERIOD) as u32).wrapping_sub(t) & 31;
        if age > 1 || self.cookie(&inc.ends, irs, t, m) != iss {
            return None;
        }
        let mut options = TcpOptions { mss: COOKIE_MSS.get(m as usize).copied(), ..TcpOptions::default() };
        if let Some((val, ecr)) = ack.options.timestamps {
            let shift = (ecr & 0xf) as u8;
            options.window_shift = (shift != COOKIE_NO_SHIFT).then_some(shift);
            options.sack_permitted = ecr & 0x10 != 0;
            options.timestamps = Some((val, 0));
        }
        let syn = SegIn { seq: irs, ack: 0, flags: flags::SYN, window: ack.window, options };
        let (open, cfg) = (Opening { iss, ..self.opening(inc, None) }, self.cfg);
        // Counted as a SYN-RECEIVED one until the ACK settles it.
        Some(self.insert(inc, true, Serving::new(inc.service), |send, recv| {
            let mut conn = Conn::accept(&syn, &open, &cfg, send, recv);
            conn.syn_ack_sent();
            conn
        }))
    }

    /// The connection between `ends` (ours first) if an ICMP error quoting
    /// its segment at `seq` lowers its MSS to fit `mtu` (not below
    /// `floor` bytes of IP packet: smaller claims are ignored, RFC 5927
    /// §4.2).
    pub fn path_mtu(&mut self, ends: &Ends, seq: u32, mtu: u32, floor: u32) -> Option<u32> {
        let headers = if ends.0.is_ipv6() { 60 } else { 40 };
        let id = self.find(ends)?;
        let e = self.get_mut(id)?;
        e.conn.path_mss(seq, mtu.max(floor) - headers).then_some(id)
    }

    /// After a segment, timer or output of connection `id`: a peer's
    /// opening that left SYN-RECEIVED leaves the backlog; a closed
    /// connection is freed; any other is filed on the timer wheel under
    /// its next deadline.
    pub fn settle(&mut self, id: u32) {
        let Some(e) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else { return };
        if e.backlog && e.conn.state != State::SynReceived {
            e.backlog = false;
            self.embryonic -= 1;
        }
        if e.conn.state == State::Closed {
            self.release(id);
        } else {
            self.wheel.file(id, e.conn.deadline());
        }
    }

    /// Starts a run of the timers (before [`TcpTable::next_due`]).
    pub fn start_timers(&mut self) {
        self.wheel.start();
    }

    /// The next connection whose timer is due at `now`, off the wheel
    /// until [`TcpTable::settle`] files it again.
    pub fn next_due(&mut self, now: u64) -> Option<u32> {
        self.wheel.pop(now)
    }

    fn release(&mut self, id: u32) {
        let Some(e) = self.slots.get_mut(id as usize).and_then(Option::take) else { return };
        self.embryonic -= usize::from(e.backlog);
        self.wheel.file(id, None);
        self.by_ends.remove(&e.ends);
        let Conn { mut send, mut recv, .. } = e.conn;
        send.clear(&mut self.held);
        recv.clear(&mut self.held);
        self.spare.push((send, recv));
        self.free.push(id);
    }

    /// Bytes the table holds for each connection slot: the slot, its
    /// place in the hash index (at its load factor, with a control
    /// byte), in the free lists and on the timer wheel, and its queues'
    /// rings of buffer handles. The buffers themselves are the ports'
    /// pool's, `cfg.buffers` at most.
    pub fn slot_bytes(&self) -> usize {
        let index = (std::mem::size_of::<(Ends, u32)>() + 1) * self.by_ends.capacity() / self.slots.len().max(1);
        let handles = chain::max_buffers(self.cfg.buffer)
            * (std::mem::size_of::<(u64, B)>() + std::mem::size_of::<B>() + std::mem::size_of::<(usize, B)>());
        std::mem::size_of::<Option<Entry<B>>>()
            + index
            + std::mem::size_of::<u32>()
            + std::mem::size_of::<(TxChain<B>, RxChain<B>)>()
            + handles
            + wheel::Wheel::BYTES_PER_CONNECTION
    }

    /// Everything the table holds, allocated when it was made: slots,
    /// index and queues. It does not grow.
    pub fn reserved_bytes(&self) -> usize {
        self.slots.len() * self.slot_bytes()
    }

    /// Every connection.
    pub fn entries(&self) -> impl Iterator<Item = &Entry<B>> + '_ {
        self.slots.iter().flatten()
    }

    /// Every connection, for the control plane.
    pub fn infos(&self) -> impl Iterator<Item = ConnInfo> + '_ {
        self.entries().map(|e| ConnInfo {
            local: e.ends.0,
            remote: e.ends.1,
            state: e.conn.state,
            send_queue: e.conn.send.len(),
            recv_queue: e.conn.recv.len(),
        })
    }
}

#[cfg(test)]
mod tests;
