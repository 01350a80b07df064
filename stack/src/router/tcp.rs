//! TCP for the gateway's own addresses: segments checked (checksum,
//! header, options) and handed to their connection ([`crate::tcp`]), or a
//! listener's SYN opening one; what a connection answers built into
//! packets and routed as the router's own (a segment's payload shared
//! from the send queue's buffer where it can be, headers in front); the
//! built-in services run on the connection's [`Socket`]; the timers from
//! [`Router::poll`]. A segment
//! nothing takes is left to the caller, which answers RST as before
//! (RFC 9293 §3.10.7.1).

use super::io::Burst;
use super::udp::Arrival;
use super::{Io, Router, Translator};
use crate::buf::PacketBuf;
use crate::client::Client;
use crate::drop::DropReason;
use crate::iface::Tables;
use crate::services::{ServiceKind, Serving};
use crate::tcp::{Ends, Event, Incoming, InputCx, Payload, Refused, SegIn, SegOut, Socket, TxData};
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::ip::protocol;
use crate::wire::ipv4::{self, Ipv4Packet, Ipv4Repr, Protocol};
use crate::wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use crate::wire::put16;
use crate::wire::tcp::{self as tcpw, flags, TcpPacket};
use std::net::{IpAddr, SocketAddr};

/// Segments one connection may send per call (the rest waits for the
/// next segment or timer; the windows bound it anyway).
const OUT_BATCH: usize = 32;

/// The handoff tag of a TCP segment (or an ICMP error about one) given to
/// the worker that owns its connection. The translator reads any tag it
/// does not know as "owned here", so it never hands such a packet on.
pub const HANDOFF_TCP: u8 = 0x80;

/// What an ICMP error that says the path takes smaller packets did.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum PathMtu {
    /// A connection of ours lowered its MSS.
    Applied,
    /// It names no connection of ours (or fails RFC 5927's checks).
    Ignored,
    /// Its connection is another worker's, this one.
    Owner(u16),
}

/// The MSS we offer on an interface of IP MTU `mtu`: what fits after
/// the IP and TCP headers, never below 536 (RFC 9293 §3.7.1).
fn mss_for(mtu: u16, v6: bool) -> u16 {
    let headers = if v6 { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN } + tcpw::HEADER_LEN;
    mtu.saturating_sub(headers as u16).max(536)
}

/// Timers one poll runs at most (the rest wait for the next), so a
/// poll's cost stays bounded.
const TIMER_BUDGET: usize = 1024;

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// The worker's TCP connections.
    pub fn tcp(&self) -> &crate::tcp::TcpTable<B> {
        &self.tcp
    }

    /// Opens a connection from our `local` to `remote` (RFC 9293 §3.5's
    /// active open) that does what `client` says once connected. Its SYN
    /// leaves now. With several workers, pick a `local` port whose ends
    /// this worker owns. Refused if the table is full, the ends are
    /// taken, or `local` is no interface's address.
    pub fn tcp_open(
        &mut self,
        t: &Tables,
        ends: Ends,
        client: Client,
        now: u64,
        io: &mut impl Io<B>,
    ) -> Result<u32, Refused> {
        let (local, remote) = ends;
        let found = t.ifaces.iter().enumerate().find(|(_, i)| match local.ip() {
            IpAddr::V4(a) => i.has_addr(a),
            IpAddr::V6(a) => i.has_addr6(&a),
        });
        let Some((ifindex, ifc)) = found else { return Err(Refused::NoAddress) };
        let our_mss = mss_for(ifc.mtu, remote.is_ipv6());
        let inc = Incoming { ends, our_mss, ifindex: ifindex as u16, service: ServiceKind::Discard, now };
        let id = self.tcp.connect(&inc, Serving::client(client))?;
        let cx = &mut Burst { t, now, io };
        self.tcp_flush(cx, id);
        self.tcp_settle(id);
        Ok(id)
    }

    /// A TCP segment for one of our addresses. Given back when no
    /// connection or listener takes it.
    pub(super) fn tcp_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, a: Arrival) -> Option<B> {
        let d = pkt.data().get(a.at..a.end).unwrap_or_default();
        let Ok(seg) = TcpPacket::new_checked(d) else {
            // Cut short: no answer at all.
            self.drop(DropReason::TcpMalformed);
            return None;
        };
        let ends: Ends = (SocketAddr::new(a.dst, seg.dst_port()), SocketAddr::new(a.src, seg.src_port()));
        // Every segment of a connection is the owning worker's, which
        // checks it (the checksum once, there).
        if let Some(w) = self.place.other_owner(&ends) {
            self.tcp_handoff(cx, pkt, w);
            return None;
        }
        let ok = match (a.src, a.dst) {
            (IpAddr::V4(s), IpAddr::V4(t)) => seg.verify_checksum(s, t),
            (IpAddr::V6(s), IpAddr::V6(t)) => ipv6::verify_upper_checksum(&s, &t, protocol::TCP, d),
            _ => false,
        };
        if !ok {
            // Failing its checksum: no answer at all.
            self.drop(DropReason::TcpMalformed);
            return None;
        }
        self.services.sync(cx.t, &mut self.udp);
        let Ok(options) = seg.options() else {
            self.drop(DropReason::TcpMalformed);
            return None;
        };
        let s = SegIn { seq: seg.seq(), ack: seg.ack(), flags: seg.flags(), window: seg.window(), options };
        // The payload's place in the frame: the connection may keep the
        // frame's buffer for it.
        let at = a.at + seg.header_len().min(d.len());
        let len = a.end.saturating_sub(at);
        let mut pkt = Some(pkt);
        let mut floor = None;
        if let Some(id) = self.tcp.find(&ends) {
            // RFC 6191: a new SYN may end TIME-WAIT and open afresh.
            if self.services.tcp_listener(&ends.0).is_some() {
                floor = self.tcp.reopen(id, &s);
            }
            if floor.is_none() {
                let reset = self.tcp_segment(cx, id, &s, Payload { pkt: &mut pkt, at, len });
                return reset.zip(pkt).and_then(|(r, pkt)| self.tcp_send_reset(cx, pkt, a, r));
            }
            self.counters.tcp_closed += 1;
        }
        // A SYN to a listener opens a connection (RFC 9293 §3.10.7.2).
        let control = s.flags & (flags::SYN | flags::ACK | flags::RST | flags::FIN);
        let Some(service) = self.services.tcp_listener(&ends.0) else { return pkt };
        let mtu = cx.t.iface(a.ifindex).map_or(1500, |i| i.mtu);
        let inc = Incoming { ends, our_mss: mss_for(mtu, a.dst.is_ipv6()), ifindex: a.ifindex, service, now: cx.now };
        if control == flags::ACK {
            // The ACK of a SYN cookie's SYN-ACK completes a connection.
            return match self.tcp.accept_cookie(&inc, &s) {
                Some(Ok(id)) => {
                    self.counters.tcp_syn_cookies_validated += 1;
                    self.counters.tcp_accepted += 1;
                    let reset = self.tcp_segment(cx, id, &s, Payload { pkt: &mut pkt, at, len });
                    reset.zip(pkt).and_then(|(r, pkt)| self.tcp_send_reset(cx, pkt, a, r))
                }
                Some(Err(_)) => {
                    self.drop(DropReason::TcpTableFull);
                    None
                }
                None => pkt,
            };
        }
        if control != flags::SYN {
            return pkt;
        }
        match self.tcp.accept(&inc, &s, floor) {
            Ok(id) => {
                self.counters.tcp_accepted += 1;
                self.counters.local += 1;
                drop(pkt);
                self.tcp_flush(cx, id);
                self.tcp_settle(id);
            }
            // RFC 4987 §3.6: with the backlog full, a SYN cookie.
            Err(crate::tcp::Refused::Backlog) => {
                let out = self.tcp.syn_cookie(&inc, &s);
                if let Some(reply) = cx.io.alloc().and_then(|p| segment(p, &ends, &out)) {
                    self.counters.tcp_syn_cookies_sent += 1;
                    match ends.1.ip() {
                        IpAddr::V4(dst) => self.route_own(cx, reply, dst),
                        IpAddr::V6(dst) => self.route_own6(cx, reply, &dst, a.ifindex),
                    }
                } else {
                    self.drop(DropReason::BufferExhausted);
                }
            }
            Err(_) => self.drop(DropReason::TcpTableFull),
        }
        None
    }

    /// A segment for connection `id`: handed to it, the event counted,
    /// then the services and what it sends. The RST it asks for, if any
    /// (the caller has the segment to build it from).
    fn tcp_segment(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        id: u32,
        s: &SegIn,
        payload: Payload<'_, B>,
    ) -> Option<tcpw::Reset> {
        let (e, held) = self.tcp.get_held(id)?;
        let (ends, before) = (e.ends, e.conn.recv.len());
        let refused = held.refused;
        let event = e.conn.input(s, payload, &mut InputCx { now: cx.now, counts: &mut self.tcp_counts, held });
        self.counters.tcp_bytes_received += (e.conn.recv.len() - before) as u64;
        if held.refused != refused {
            self.drop(DropReason::TcpBuffersFull);
        }
        self.counters.local += 1;
        match event {
            Event::None => {}
            Event::Unacceptable => self.drop(DropReason::TcpOutOfWindow),
            Event::ChallengeAck => self.counters.tcp_challenge_acks += 1,
            Event::Reset => self.counters.tcp_resets_received += 1,
            Event::OutOfOrder => self.counters.tcp_out_of_order += 1,
            Event::OutOfOrderDropped => self.drop(DropReason::TcpOutOfOrder),
            Event::Paws => self.drop(DropReason::TcpPaws),
            Event::NoTimestamps => self.drop(DropReason::TcpNoTimestamps),
            Event::SendReset(seq) => {
                self.tcp_settle(id);
                let (src_port, dst_port) = (ends.0.port(), ends.1.port());
                return Some(tcpw::Reset { src_port, dst_port, seq, ack: 0, flags: flags::RST });
            }
        }
        self.tcp_serve(cx, id);
        self.tcp_flush(cx, id);
        self.tcp_settle(id);
        None
    }

    /// Gives `pkt` to worker `worker`, which owns its connection.
    pub(super) fn tcp_handoff(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, worker: u16) {
        match cx.io.handoff(pkt, worker, HANDOFF_TCP) {
            Ok(()) => self.counters.tcp_handed_off += 1,
            Err(pkt) => {
                drop(pkt);
                self.drop(DropReason::TcpHandoffFull);
            }
        }
    }

    /// An ICMP error quoting `quoted` (the IP header and at least 8
    /// bytes of a packet we sent) that says the path takes `mtu` bytes:
    /// the connection it names, if any, sends smaller segments from now
    /// on (RFC 1191, RFC 8201, checked per RFC 5927), or the worker that
    /// owns that connection is named.
    pub(super) fn tcp_path_mtu(&mut self, cx: &mut Burst<'_, impl Io<B>>, quoted: &[u8], mtu: u32) -> PathMtu {
        let Some(q) = crate::icmp::quoted(quoted).filter(|q| q.protocol == protocol::TCP) else {
            return PathMtu::Ignored;
        };
        let (src, dst, at) = (q.src, q.dst, q.at);
        let floor = if q.v6 { ipv6::MIN_MTU as u32 } else { 576 };
        let Some(h) = quoted.get(at..at + 8) else { return PathMtu::Ignored };
        let ends = (
            SocketAddr::new(src, u16::from_be_bytes([h[0], h[1]])),
            SocketAddr::new(dst, u16::from_be_bytes([h[2], h[3]])),
        );
        if let Some(w) = self.place.other_owner(&ends) {
            return PathMtu::Owner(w);
        }
        let seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let Some(id) = self.tcp.path_mtu(&ends, seq, mtu, floor) else { return PathMtu::Ignored };
        self.counters.tcp_path_mtu_updates += 1;
        self.tcp_flush(cx, id);
        self.tcp_settle(id);
        PathMtu::Applied
    }

    /// Answers `pkt` (a segment for us) with `reset`.
    fn tcp_send_reset(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, a: Arrival, reset: tcpw::Reset) -> Option<B> {
        if a.dst.is_ipv6() {
            self.send_reset6(cx, a.ifindex, pkt, reset);
        } else {
            self.send_reset(cx, pkt, reset);
        }
        None
    }

    /// After a segment, timer or error for connection `id`: frees it if
    /// it closed, else files its next deadline ([`crate::tcp::TcpTable::settle`]).
    fn tcp_settle(&mut self, id: u32) {
        if self.tcp.get_mut(id).is_some_and(|e| e.conn.is_closed()) {
            self.counters.tcp_closed += 1;
        }
        self.tcp.settle(id);
        self.absorb_tcp_counts();
    }

    fn absorb_tcp_counts(&mut self) {
        let c = std::mem::take(&mut self.tcp_counts);
        self.counters.tcp_retransmits += c.retransmits;
        self.counters.tcp_timeouts += c.timeouts;
        self.counters.tcp_idle_drops += c.idle_drops;
        self.counters.tcp_keepalive_probes += c.keepalive_probes;
        self.counters.tcp_keepalive_drops += c.keepalive_drops;
        self.counters.tcp_hystart_exits += c.hystart_exits;
        self.counters.tcp_fast_retransmits += c.fast_retransmits;
        self.counters.tcp_partial_acks += c.partial_acks;
        self.counters.tcp_sack_recoveries += c.sack_recoveries;
    }

    /// Runs connection `id`'s built-in service on its socket: echo moves
    /// the buffers it received to its send queue, whole (as many as fit:
    /// a full send queue leaves them in the receive queue, closing the
    /// window), and closes once the peer has and everything is moved;
    /// discard drops what it received and closes when the peer does;
    /// HTTP, chargen and our own clients run in their own modules.
    fn tcp_serve(&mut self, cx: &mut Burst<'_, impl Io<B>>, id: u32) {
        let status = crate::http::Status {
            connections: self.tcp.len(),
            rx_packets: self.counters.rx,
            forwarded: self.counters.forwarded,
        };
        let Some((e, held)) = self.tcp.get_held(id) else { return };
        let io = &mut *cx.io;
        let mut alloc = || io.alloc();
        let mut s = Socket::new(&mut e.conn, held, &mut alloc);
        if !s.connected() {
            return;
        }
        match &mut e.service {
            Serving::Echo => {
                s.splice(None);
            }
            Serving::Discard => {
                let n = s.readable();
                s.consume(n);
            }
            Serving::Http(st) => return crate::http::serve(&mut s, st, &status),
            Serving::Chargen(g) => return crate::chargen::serve(&mut s, g),
            Serving::Ask(a) => return crate::client::serve(&mut s, a),
        }
        if s.peer_closed() && s.readable() == 0 {
            s.close();
        }
    }

    /// Sends what connection `id` has to send.
    fn tcp_flush(&mut self, cx: &mut Burst<'_, impl Io<B>>, id: u32) {
        loop {
            let Some(e) = self.tcp.get_mut(id) else { return };
            let (ends, ifindex) = (e.ends, e.ifindex);
            let mut built: [Option<B>; OUT_BATCH] = std::array::from_fn(|_| None);
            let (mut n, mut no_buffer, mut bytes) = (0, false, 0u64);
            let io = &mut *cx.io;
            let (mut shared, mut copied) = (0, 0);
            e.conn.output(cx.now, &mut self.tcp_counts, &mut |out: &SegOut, data: TxData<'_, B>| {
                let Some(slot) = built.get_mut(n) else { return false };
                let body = match data {
                    TxData::Shared(b) => {
                        shared += 1;
                        Some(b)
                    }
                    TxData::Copy(pieces) => {
                        copied += u64::from(out.len > 0);
                        io.alloc().and_then(|p| copy_in(p, pieces))
                    }
                };
                let Some(pkt) = body.and_then(|p| segment(p, &ends, out)) else {
                    no_buffer = true;
                    return false;
                };
                *slot = Some(pkt);
                n += 1;
                bytes += out.len as u64;
                true
            });
            self.counters.tcp_bytes_sent += bytes;
            self.counters.tcp_segments_shared += shared;
            self.counters.tcp_segments_copied += copied;
            if no_buffer {
                self.drop(DropReason::BufferExhausted);
            }
            for pkt in built.iter_mut().filter_map(Option::take) {
                match ends.1.ip() {
                    IpAddr::V4(dst) => self.route_own(cx, pkt, dst),
                    IpAddr::V6(dst) => self.route_own6(cx, pkt, &dst, ifindex),
                }
            }
            if n < OUT_BATCH || no_buffer {
                return;
            }
        }
    }

    /// Runs the connections' timers that are due (from [`Router::poll`],
    /// every loop): the wheel gives them, at most [`TIMER_BUDGET`] a call.
    pub(super) fn tcp_timers(&mut self, cx: &mut Burst<'_, impl Io<B>>) {
        self.tcp.start_timers();
        for _ in 0..TIMER_BUDGET {
            let Some(id) = self.tcp.next_due(cx.now) else { return };
            let Some(e) = self.tcp.get_mut(id) else { continue };
            e.conn.on_timer(cx.now, &mut self.tcp_counts);
            self.tcp_flush(cx, id);
            self.tcp_settle(id);
        }
    }
}

/// `pkt` (a fresh buffer) holding the bytes of `pieces`, with room in
/// front for the headers.
fn copy_in<'a, B: PacketBuf + 'a>(mut pkt: B, pieces: impl Iterator<Item = &'a [u8]>) -> Option<B> {
    if !crate::tcp::chain::reserve_headroom(&mut pkt) {
        return None;
    }
    for p in pieces {
        let old = pkt.len();
        if !pkt.append(p.len()) {
            return None;
        }
        pkt.data_mut().get_mut(old..)?.copy_from_slice(p);
    }
    Some(pkt)
}

/// Makes `pkt`, which holds the payload of `out`, its packet: headers
/// for `ends` (ours first) written in front, in its headroom.
fn segment<B: PacketBuf>(mut pkt: B, ends: &Ends, out: &SegOut) -> Option<B> {
    let v6 = ends.0.is_ipv6();
    let ip_len = if v6 { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
    let th = tcpw::HEADER_LEN + out.options.len();
    let tcp_len = th + pkt.len();
    if !pkt.prepend(ETH_LEN + ip_len + th) {
        return None;
    }
    let (head, seg) = pkt.data_mut().get_mut(ETH_LEN..)?.split_at_mut_checked(ip_len)?;
    let (src_port, dst_port) = (ends.0.port(), ends.1.port());
    let (seq, ack, flags, window) = (out.seq, out.ack, out.flags, out.window);
    tcpw::Header { src_port, dst_port, seq, ack, header_len: th, flags, window }.write(seg);
    out.options.emit(seg.get_mut(tcpw::HEADER_LEN..th)?);
    match (ends.0.ip(), ends.1.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            TcpPacket::new_checked(&mut *seg).ok()?.fill_checksum(src, dst);
            // Atomic datagrams (DF) need no identification (RFC 6864 §4.1).
            let h = Ipv4Repr {
                src,
                dst,
                protocol: Protocol::Tcp,
                payload_len: tcp_len,
                ttl: 64,
                tos: 0,
                ident: 0,
                dont_frag: true,
            };
            h.emit(&mut Ipv4Packet::new_unchecked(head));
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let c = ipv6::upper_checksum(&src, &dst, protocol::TCP, seg);
            put16(seg, tcpw::field::CHECKSUM, c);
            Ipv6Repr { src, dst, next_header: protocol::TCP, payload_len: tcp_len, hop_limit: 64 }
                .emit(&mut Ipv6Packet::new_unchecked(head));
        }
        _ => return None,
    }
    Some(pkt)
}
