//! UDP for the gateway's own addresses (RFC 768): a datagram is checked
//! and queued on the socket bound to its destination, or answered by Port
//! Unreachable (RFC 1122 §4.1.3.1) when none is; sockets send through
//! [`Router::udp_send`]; the built-in services ([`crate::services`]) run
//! on what their sockets received, before the frame's work ends.

use super::io::Burst;
use super::{Io, Router, Translator};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::iface::{FastMap, Tables};
use crate::services::{ServiceKind, Transport, ECHO_MIN_SOURCE_PORT};
use crate::udp::{Datagram, SocketId, UdpSockets};
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::ip::protocol;
use crate::wire::ipv4::{self, Ipv4Packet, Ipv4Repr, Protocol};
use crate::wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use crate::wire::udp::{self, UdpPacket, UdpRepr};
use std::net::{IpAddr, SocketAddr};

/// A UDP datagram for us: where it came from and went, the interface it
/// arrived on, and where its UDP header is in the frame.
pub(super) struct Arrival {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ifindex: u16,
    /// The UDP header's offset in the frame, and the end of the IP
    /// payload (Ethernet padding after it is not the datagram's).
    pub at: usize,
    pub end: usize,
}

/// The built-in services' sockets in one worker, bound for one tables
/// generation.
#[derive(Default)]
pub(super) struct Services {
    generation: Option<u64>,
    bound: Vec<SocketId>,
    /// The service on each socket, by [`SocketId::index`].
    kinds: Vec<Option<ServiceKind>>,
    /// The TCP listeners.
    tcp: FastMap<SocketAddr, ServiceKind>,
}

impl Services {
    /// Brings the sockets in line with the listeners of `t`, once per
    /// generation: a listener that stays keeps its socket (and its
    /// counts), one that went is closed, a new one is bound. (A service
    /// drains its socket as soon as a datagram is queued: nothing waits
    /// in a socket that closes.)
    pub(super) fn sync<B: PacketBuf>(&mut self, t: &Tables, sockets: &mut UdpSockets<B>) {
        if self.generation == Some(t.generation) {
            return;
        }
        self.generation = Some(t.generation);
        let udp = t.services.iter().filter(|l| l.transport == Transport::Udp);
        let want: FastMap<SocketAddr, ServiceKind> = udp.clone().map(|l| (l.local, l.kind)).collect();
        self.tcp = t.services.iter().filter(|l| l.transport == Transport::Tcp).map(|l| (l.local, l.kind)).collect();
        let kinds = &mut self.kinds;
        self.bound.retain(|&id| {
            let kind = sockets.local(id).and_then(|a| want.get(&a).copied());
            if let Some(k) = kinds.get_mut(id.index()) {
                *k = kind;
            }
            if kind.is_none() {
                sockets.close(id);
            }
            kind.is_some()
        });
        for l in udp {
            if sockets.find(&l.local).is_some() {
                continue;
            }
            // Validation keeps listeners unique and within the bound.
            let Ok(id) = sockets.bind(l.local) else { continue };
            self.bound.push(id);
            if kinds.len() <= id.index() {
                kinds.resize(id.index() + 1, None);
            }
            if let Some(k) = kinds.get_mut(id.index()) {
                *k = Some(l.kind);
            }
        }
    }

    pub(super) fn kind(&self, id: SocketId) -> Option<ServiceKind> {
        self.kinds.get(id.index()).copied().flatten()
    }

    /// The service listening for TCP connections on `local`.
    pub(super) fn tcp_listener(&self, local: &SocketAddr) -> Option<ServiceKind> {
        self.tcp.get(local).copied()
    }
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// The worker's UDP sockets.
    pub fn udp(&self) -> &UdpSockets<B> {
        &self.udp
    }

    /// A UDP datagram for one of our addresses: queued on its socket (and
    /// the services run), or given back when no socket is bound to its
    /// destination, for the caller to answer with Port Unreachable.
    pub(super) fn udp_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, a: Arrival) -> Option<B> {
        let d = pkt.data().get(a.at..a.end).unwrap_or_default();
        let Ok(u) = UdpPacket::new_checked(d) else {
            self.drop(DropReason::UdpMalformed);
            return None;
        };
        // RFC 1122 §4.1.3.4: a bad checksum is discarded silently; over
        // IPv6 a zero one too (RFC 8200 §8.1).
        let ok = match (a.src, a.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => u.verify_checksum(s, d),
            (IpAddr::V6(s), IpAddr::V6(d)) => u.verify_checksum6(&s, &d),
            _ => false,
        };
        if !ok {
            self.drop(DropReason::UdpBadChecksum);
            return None;
        }
        self.services.sync(cx.t, &mut self.udp);
        let local = SocketAddr::new(a.dst, u.dst_port());
        let Some(id) = self.udp.find(&local) else { return Some(pkt) };
        let d = Datagram {
            remote: SocketAddr::new(a.src, u.src_port()),
            local,
            ifindex: a.ifindex,
            payload_at: a.at + udp::HEADER_LEN,
            payload_len: usize::from(u.len()) - udp::HEADER_LEN,
            buf: pkt,
        };
        match self.udp.deliver(id, d) {
            Ok(()) => {
                self.counters.local += 1;
                self.counters.udp_received += 1;
                self.serve(cx, id);
            }
            Err(_) => self.drop(DropReason::UdpQueueFull),
        }
        None
    }

    /// True if a socket is bound to `dst` and `port` (for reassembled
    /// datagrams, which are put in one buffer only then).
    pub(super) fn udp_bound(&mut self, t: &Tables, dst: IpAddr, port: u16) -> bool {
        self.services.sync(t, &mut self.udp);
        self.udp.find(&SocketAddr::new(dst, port)).is_some()
    }

    /// Sends `payload` (a buffer holding just it, with headroom for the
    /// headers) from our `from` to `to`, routed as the router's own
    /// packets: fragmented (IPv4) or sent in fragments (IPv6) if larger
    /// than the path's MTU. `ifindex` scopes a link-local `to`.
    pub fn udp_send(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>, d: Outgoing<B>) {
        self.udp_output(&mut Burst { t, now, io }, d);
    }

    fn udp_output(&mut self, cx: &mut Burst<'_, impl Io<B>>, d: Outgoing<B>) {
        let Outgoing { mut payload, from, to, ifindex } = d;
        let len = payload.len();
        let v6 = from.is_ipv6();
        let ip_len = if v6 { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
        if from.is_ipv6() != to.is_ipv6() || len + udp::HEADER_LEN > usize::from(u16::MAX) - ip_len {
            return self.drop(DropReason::UdpMalformed);
        }
        if !payload.prepend(ETH_LEN + ip_len + udp::HEADER_LEN) {
            return self.drop(DropReason::BufferExhausted);
        }
        let repr = UdpRepr { src_port: from.port(), dst_port: to.port(), payload_len: len };
        let ident = if v6 { 0 } else { self.next_ident() };
        let Some((head, seg)) = payload.data_mut().get_mut(ETH_LEN..).and_then(|ip| ip.split_at_mut_checked(ip_len))
        else {
            return;
        };
        let mut u = UdpPacket::new_unchecked(seg);
        match (from.ip(), to.ip()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                repr.emit(&mut u, src, dst);
                let h = Ipv4Repr {
                    src,
                    dst,
                    protocol: Protocol::Udp,
                    payload_len: udp::HEADER_LEN + len,
                    ttl: 64,
                    tos: 0,
                    ident,
                    // Unset: a datagram larger than the path is fragmented.
                    dont_frag: false,
                };
                h.emit(&mut Ipv4Packet::new_unchecked(head));
                self.counters.udp_sent += 1;
                self.route_own(cx, payload, dst);
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                repr.emit6(&mut u, &src, &dst);
                let h = Ipv6Repr {
                    src,
                    dst,
                    next_header: protocol::UDP,
                    payload_len: udp::HEADER_LEN + len,
                    hop_limit: 64,
                };
                h.emit(&mut Ipv6Packet::new_unchecked(head));
                self.counters.udp_sent += 1;
                self.route_own6(cx, payload, &dst, ifindex);
            }
            _ => {}
        }
    }

    /// Runs socket `id`'s built-in service, if it has one, on what the
    /// socket received.
    fn serve(&mut self, cx: &mut Burst<'_, impl Io<B>>, id: SocketId) {
        let Some(kind) = self.services.kind(id) else { return };
        while let Some(d) = self.udp.recv(id) {
            match kind {
                // (Validation keeps HTTP off UDP.)
                ServiceKind::Discard | ServiceKind::Http | ServiceKind::Chargen => drop(d),
                ServiceKind::Echo if d.remote.port() < ECHO_MIN_SOURCE_PORT => {
                    self.drop(DropReason::UdpEchoRefused);
                }
                ServiceKind::Echo => {
                    self.udp.note_sent(id, d.payload_len);
                    let (from, to, ifindex) = (d.local, d.remote, d.ifindex);
                    self.udp_output(cx, Outgoing { payload: d.into_payload(), from, to, ifindex });
                }
            }
        }
    }
}

/// A datagram to send ([`Router::udp_send`]).
pub struct Outgoing<B> {
    /// A buffer holding just the payload, with headroom for the headers.
    pub payload: B,
    /// One of our addresses, and the port to send from.
    pub from: SocketAddr,
    pub to: SocketAddr,
    /// The interface a link-local `to` is on.
    pub ifindex: u16,
}
