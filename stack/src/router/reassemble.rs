//! Datagrams for the gateway that arrive in fragments: checked at the
//! door, held in the worker's reassembly table ([`crate::reassembly`],
//! which bounds them) until whole, then delivered as the fragments they
//! came in, without a copy. An echo request becomes its reply fragment
//! by fragment; an error or a RST is built from the first fragment.
//!
//! The door: RFC 791 (a datagram is at most 65,535 bytes, every fragment
//! but the last a multiple of 8), RFC 8200 §4.5 (the same for IPv6,
//! answered with Parameter Problem), RFC 7112 (an IPv6 first fragment
//! holds the whole header chain). An IPv6 atomic fragment (offset 0, no
//! M) never comes here (RFC 6946).

use super::io::Burst;
use super::ip6::Error6;
use super::tunnel::{is_tunnel_protocol, Outer};
use super::udp::Arrival;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::reassembly::{Added, FragKey, Span};
use crate::services::{ServiceKind, ECHO_MIN_SOURCE_PORT};
use crate::wire::checksum;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv4::{self, types, Message};
use crate::wire::icmpv6::{self as icmpv6w, param_problem, Message as Msg6};
use crate::wire::ip::protocol;
use crate::wire::ipv4::{self, field, Ipv4Packet};
use crate::wire::ipv6::{self, frag, nh, Ipv6Packet};
use crate::wire::tcp::{self, TcpPacket};
use crate::wire::udp;
use crate::wire::{be16, put16};
use std::net::{IpAddr, Ipv6Addr};

/// Largest reassembled payload (RFC 791's total length, RFC 8200's
/// payload length).
const MAX_DATAGRAM: u32 = 65_535;

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// An IPv4 fragment addressed to the gateway (its header checked by
    /// `ipv4_input`, the frame cut to its total length).
    pub(super) fn reassemble4(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(ip);
        let hl = p.header_len() as u32;
        let data = u32::from(p.total_len()).saturating_sub(hl);
        let (start, more) = (u32::from(p.frag_offset()), p.more_frags());
        if data == 0 || more && !data.is_multiple_of(8) {
            return self.drop(DropReason::ReassemblyBadLength);
        }
        if hl + start + data > MAX_DATAGRAM {
            return self.drop(DropReason::ReassemblyOversize);
        }
        let mut key = FragKey { ident: u32::from(p.ident()), protocol: ip[field::PROTOCOL], ..FragKey::default() };
        key.src[..4].copy_from_slice(&p.src().octets());
        key.dst[..4].copy_from_slice(&p.dst().octets());
        let span = Span { start, end: start + data, more };
        if let Added::Complete(whole) = self.frags.add(&key, span, pkt, cx.now, &mut self.counters.drops) {
            let n = self.frags.take(whole, &mut self.pieces);
            self.counters.reassembled += 1;
            self.deliver4(cx, n);
        }
    }

    /// A whole IPv4 datagram, in `self.pieces[..n]`.
    fn deliver4(&mut self, cx: &mut Burst<'_, impl Io<B>>, n: usize) {
        let Some(first) = self.pieces.first_mut().and_then(Option::take) else { return };
        let Some(ip) = first.data().get(ETH_LEN..) else { return self.drop_pieces(1, n, DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(ip);
        let (src, dst, hl) = (p.src(), p.dst(), p.header_len());
        let (upper, len) = self.upper_sum(ip.get(hl..).unwrap_or_default(), n, false);
        let proto = ip[field::PROTOCOL];
        if is_tunnel_protocol(proto) {
            let outer = Outer { src: src.into(), dst: dst.into(), protocol: proto, len: ETH_LEN + hl, tos: p.tos() };
            let Some(whole) = self.linearize(cx, first, n, ETH_LEN + hl, ETH_LEN + hl) else { return };
            if let Some(pkt) = self.tunnel_input(cx, whole, outer) {
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PROTOCOL);
                self.icmp_error(cx, pkt, DropReason::LocalProtocolUnreachable, m, c, 0);
            }
            return;
        }
        match proto {
            protocol::ICMP => {
                let echo = ip.get(hl) == Some(&types::ECHO_REQUEST) && ip.get(hl + 1) == Some(&0);
                if !echo {
                    self.drop(DropReason::IcmpIgnored);
                    return self.drop_pieces(1, n, DropReason::IcmpIgnored);
                }
                if checksum::fold(upper) != 0xffff {
                    self.drop(DropReason::IcmpMalformed);
                    return self.drop_pieces(1, n, DropReason::IcmpMalformed);
                }
                self.echo_pieces4(cx, first, n);
            }
            protocol::TCP => {
                self.drop_pieces(1, n, DropReason::LocalTcpClosed);
                let pseudo = checksum::pseudo_header_v4(src, dst, protocol::TCP, len as u16);
                let seg = ip.get(hl..).map(TcpPacket::new_checked);
                let Some(Ok(seg)) = seg.filter(|_| checksum::fold(upper + pseudo) == 0xffff) else {
                    return self.drop(DropReason::LocalTcpClosed);
                };
                let seq_len = seq_len(&seg, len);
                match tcp::Reset::answering_len(&seg, seq_len) {
                    Some(reset) => self.send_reset(cx, first, reset),
                    None => self.drop(DropReason::LocalTcpClosed),
                }
            }
            protocol::UDP => {
                // A VXLAN frame in fragments: put together in one buffer.
                let dport = ip.get(hl + 2..hl + 4).map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
                if cx.t.vxlan_port(dport) {
                    let Some(whole) = self.linearize(cx, first, n, ETH_LEN + hl, ETH_LEN + hl) else { return };
                    if let Some(pkt) = self.vxlan_input(cx, whole, src, dst, hl) {
                        let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PORT);
                        self.icmp_error(cx, pkt, DropReason::LocalPortUnreachable, m, c, 0);
                    }
                    return;
                }
                if self.udp_bound(cx.t, dst.into(), dport) {
                    let head = ETH_LEN + hl;
                    if !Self::fits_one(cx, self.whole_len(&first, n, head, head)) {
                        let pseudo = checksum::pseudo_header_v4(src, dst, protocol::UDP, len as u16);
                        let d = Pieces { src: src.into(), dst: dst.into(), ifindex: self.rx_if, udp_at: hl, len };
                        return self.udp_pieces(cx, first, n, d, checksum::fold(upper + pseudo));
                    }
                    let Some(whole) = self.linearize(cx, first, n, head, head) else { return };
                    let end = whole.len();
                    let a = Arrival { src: src.into(), dst: dst.into(), ifindex: self.rx_if, at: ETH_LEN + hl, end };
                    // (A socket is bound: nothing comes back.)
                    let _ = self.udp_input(cx, whole, a);
                    return;
                }
                self.drop_pieces(1, n, DropReason::LocalPortUnreachable);
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PORT);
                self.icmp_error(cx, first, DropReason::LocalPortUnreachable, m, c, 0);
            }
            _ => {
                self.drop_pieces(1, n, DropReason::LocalProtocolUnreachable);
                let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::PROTOCOL);
                self.icmp_error(cx, first, DropReason::LocalProtocolUnreachable, m, c, 0);
            }
        }
    }

    /// A whole UDP datagram for a bound socket, too big for one buffer
    /// (`sum`: its checksum's folded sum with the pseudo-header). The
    /// built-in services take it as it came: echo answers fragment by
    /// fragment, turned around as ICMP echo is (addresses swapped, in
    /// the first the ports too: the checksum sums the same, RFC 768);
    /// discard counts it. Checked as `udp_input` checks one in a buffer.
    fn udp_pieces(&mut self, cx: &mut Burst<'_, impl Io<B>>, first: B, n: usize, d: Pieces, sum: u16) {
        let v6 = d.dst.is_ipv6();
        let ip = first.data().get(ETH_LEN..).unwrap_or_default();
        let u = ip.get(d.udp_at..d.udp_at + udp::HEADER_LEN).unwrap_or_default();
        let (sport, dport, ulen, field) = (be16(u, 0), be16(u, 2), be16(u, 4), be16(u, 6));
        if u.len() < udp::HEADER_LEN || u32::from(ulen) != d.len {
            self.drop(DropReason::UdpMalformed);
            return self.drop_pieces(1, n, DropReason::UdpMalformed);
        }
        // RFC 1122 §4.1.3.4; over IPv6 a zero checksum is refused too
        // (RFC 8200 §8.1).
        if (field != 0 || v6) && sum != 0xffff {
            self.drop(DropReason::UdpBadChecksum);
            return self.drop_pieces(1, n, DropReason::UdpBadChecksum);
        }
        let local = std::net::SocketAddr::new(d.dst, dport);
        let Some(id) = self.udp.find(&local) else { return self.drop_pieces(1, n, DropReason::LocalPortUnreachable) };
        let payload = d.len as usize - udp::HEADER_LEN;
        self.udp.note_received(id, payload);
        self.counters.local += 1;
        self.counters.udp_received += 1;
        match self.services.kind(id) {
            Some(ServiceKind::Echo) if sport >= ECHO_MIN_SOURCE_PORT => {}
            Some(ServiceKind::Echo) => {
                self.drop(DropReason::UdpEchoRefused);
                return self.drop_pieces(1, n, DropReason::UdpEchoRefused);
            }
            // Discard, or a socket no service reads: taken.
            _ => {
                drop(first);
                self.pieces.iter_mut().take(n).for_each(|p| drop(p.take()));
                return;
            }
        }
        self.udp.note_sent(id, payload);
        self.counters.udp_sent += 1;
        let swap_ports = |f: &mut B, at: usize| {
            if let Some(u) = f.data_mut().get_mut(ETH_LEN + at..ETH_LEN + at + 4) {
                let (a, b) = u.split_at_mut(2);
                a.swap_with_slice(b);
            }
        };
        let mut first = Some(first);
        match (d.src, d.dst) {
            (IpAddr::V4(_), IpAddr::V4(_)) => {
                let ident = self.next_ident();
                for i in 0..n {
                    let Some(mut f) = self.take_piece(&mut first, i) else { continue };
                    if i == 0 {
                        swap_ports(&mut f, d.udp_at);
                    }
                    if let Some(to) = turn4(f.data_mut(), ident) {
                        self.route_own(cx, f, to);
                    }
                }
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let ident = self.next_ident6();
                for i in 0..n {
                    let Some(mut f) = self.take_piece(&mut first, i) else { continue };
                    if turn6(&mut f, (&dst, &src), ident) {
                        // (The fragment header came right after the
                        // fixed one: the UDP header stays where it was.)
                        if i == 0 {
                            swap_ports(&mut f, d.udp_at);
                        }
                        self.route_own6(cx, f, &src, d.ifindex);
                    }
                }
            }
            _ => {}
        }
    }

    /// Echo reply (RFC 792) to a fragmented request, fragment by
    /// fragment: addresses swapped, one new identification for all, the
    /// type (in the first) changed and its checksum updated.
    fn echo_pieces4(&mut self, cx: &mut Burst<'_, impl Io<B>>, first: B, n: usize) {
        let ident = self.next_ident();
        self.counters.local += 1;
        let mut first = Some(first);
        for i in 0..n {
            let Some(mut f) = self.take_piece(&mut first, i) else { continue };
            if let Some(dst) = reply4(f.data_mut(), ident, i == 0) {
                self.route_own(cx, f, dst);
            }
        }
    }

    /// An IPv6 fragment addressed to the gateway; `frag_at`: where its
    /// fragment header is.
    pub(super) fn reassemble6(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifindex: u16,
        pkt: B,
        frag_at: usize,
        f: ipv6::Fragment,
    ) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        let data = ip.len().saturating_sub(frag_at + frag::HEADER_LEN) as u32;
        let start = u32::from(f.offset) * 8;
        let problem =
            |pointer: usize| Error6 { msg: Msg6::ParamProblem, code: param_problem::FIELD, rest: pointer as u32 };
        if data == 0 {
            return self.drop(DropReason::ReassemblyBadLength);
        }
        if f.more && !data.is_multiple_of(8) {
            // RFC 8200 §4.5: pointing at the Payload Length.
            let e = problem(ipv6::field::PAYLOAD_LEN);
            return self.icmp6_error(cx, ifindex, pkt, DropReason::ReassemblyBadLength, e, false);
        }
        let unfragmentable = (frag_at - ipv6::HEADER_LEN) as u32;
        if unfragmentable + start + data > MAX_DATAGRAM {
            // RFC 8200 §4.5: pointing at the Fragment Offset.
            let e = problem(frag_at + frag::OFFSET_FLAGS);
            return self.icmp6_error(cx, ifindex, pkt, DropReason::ReassemblyOversize, e, false);
        }
        let p = Ipv6Packet::new_unchecked(ip);
        let key = FragKey { src: p.src().octets(), dst: p.dst().octets(), ident: f.ident, protocol: 0, v6: true };
        let span = Span { start, end: start + data, more: f.more };
        if let Added::Complete(whole) = self.frags.add(&key, span, pkt, cx.now, &mut self.counters.drops) {
            let n = self.frags.take(whole, &mut self.pieces);
            self.counters.reassembled += 1;
            self.deliver6(cx, ifindex, n);
        }
    }

    /// A whole IPv6 datagram, in `self.pieces[..n]`.
    fn deliver6(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, n: usize) {
        let Some(first) = self.pieces.first_mut().and_then(Option::take) else { return };
        let Some(ip) = first.data().get(ETH_LEN..) else { return self.drop_pieces(1, n, DropReason::Ipv6Truncated) };
        // The first fragment's chain was walked at the door.
        let (Ok(chain), Some((frag_at, _))) = (ipv6::walk_chain(ip, true), ipv6::find_fragment(ip)) else {
            self.drop(DropReason::Ipv6ExtTruncated);
            return self.drop_pieces(1, n, DropReason::Ipv6ExtTruncated);
        };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let (upper, len) = self.upper_sum(ip.get(chain.offset..).unwrap_or_default(), n, true);
        let pseudo = ipv6::pseudo_header(&src, &dst, chain.protocol, len);
        let verified = checksum::fold(upper + pseudo) == 0xffff;
        if is_tunnel_protocol(chain.protocol) && !dst.is_multicast() {
            // The fragment header goes; nothing may stand before it.
            let tos = p.traffic_class();
            let len = ETH_LEN + chain.offset - frag::HEADER_LEN;
            let outer = Outer { src: src.into(), dst: dst.into(), protocol: chain.protocol, len, tos };
            let whole = if frag_at == ipv6::HEADER_LEN {
                self.linearize(cx, first, n, ETH_LEN + frag_at, ETH_LEN + frag_at + frag::HEADER_LEN)
            } else {
                self.drop(DropReason::TunnelMalformed);
                self.drop_pieces(1, n, DropReason::TunnelMalformed);
                None
            };
            if let Some(pkt) = whole.and_then(|w| self.tunnel_input(cx, w, outer)) {
                let (r, m) = (DropReason::LocalProtocolUnreachable, Msg6::ParamProblem);
                let e = Error6 { msg: m, code: param_problem::NEXT_HEADER, rest: ipv6::field::NEXT_HEADER as u32 };
                self.icmp6_error(cx, ifindex, pkt, r, e, false);
            }
            return;
        }
        match chain.protocol {
            nh::ICMPV6 => {
                // Echo only: ND messages are never fragmented (RFC 6980).
                let echo =
                    ip.get(chain.offset) == Some(&u8::from(Msg6::EchoRequest)) && ip.get(chain.offset + 1) == Some(&0);
                let reason = match () {
                    _ if !echo => DropReason::IcmpIgnored,
                    _ if !verified => DropReason::IcmpMalformed,
                    // The reply keeps no extension header of the request's.
                    _ if chain.offset != frag_at + frag::HEADER_LEN => DropReason::IcmpIgnored,
                    _ => return self.echo_pieces6(cx, ifindex, first, n),
                };
                self.drop(reason);
                self.drop_pieces(1, n, reason);
            }
            nh::TCP => {
                self.drop_pieces(1, n, DropReason::LocalTcpClosed);
                let seg = ip.get(chain.offset..).map(TcpPacket::new_checked);
                let Some(Ok(seg)) = seg.filter(|_| verified && !dst.is_multicast()) else {
                    return self.drop(DropReason::LocalTcpClosed);
                };
                match tcp::Reset::answering_len(&seg, seq_len(&seg, len)) {
                    Some(reset) => self.send_reset6(cx, ifindex, first, reset),
                    None => self.drop(DropReason::LocalTcpClosed),
                }
            }
            nh::UDP if !dst.is_multicast() && self.udp_bound(cx.t, dst.into(), dport6(ip, chain.offset)) => {
                // Put together in one buffer without the fragment header,
                // which only stands right after the fixed header here.
                if frag_at != ipv6::HEADER_LEN {
                    self.drop(DropReason::UdpMalformed);
                    return self.drop_pieces(1, n, DropReason::UdpMalformed);
                }
                let head = ETH_LEN + frag_at;
                if !Self::fits_one(cx, self.whole_len(&first, n, head, head + frag::HEADER_LEN)) {
                    let d = Pieces { src: src.into(), dst: dst.into(), ifindex, udp_at: chain.offset, len };
                    return self.udp_pieces(cx, first, n, d, checksum::fold(upper + pseudo));
                }
                let Some(whole) = self.linearize(cx, first, n, head, head + frag::HEADER_LEN) else { return };
                let (at, end) = (ETH_LEN + chain.offset - frag::HEADER_LEN, whole.len());
                let a = Arrival { src: src.into(), dst: dst.into(), ifindex, at, end };
                let _ = self.udp_input(cx, whole, a);
            }
            nh::UDP => {
                self.drop_pieces(1, n, DropReason::LocalPortUnreachable);
                let (r, m, c) = (DropReason::LocalPortUnreachable, Msg6::DstUnreachable, icmpv6w::unreachable::PORT);
                self.icmp6_error(cx, ifindex, first, r, Error6 { msg: m, code: c, rest: 0 }, false);
            }
            nh::NO_NEXT => {
                drop(first);
                self.drop_pieces(1, n, DropReason::Ipv6Truncated);
                self.counters.local += 1;
                self.counters.local6 += 1;
            }
            _ => {
                self.drop_pieces(1, n, DropReason::LocalProtocolUnreachable);
                let (r, m) = (DropReason::LocalProtocolUnreachable, Msg6::ParamProblem);
                let e = Error6 { msg: m, code: param_problem::NEXT_HEADER, rest: chain.nh_at as u32 };
                self.icmp6_error(cx, ifindex, first, r, e, false);
            }
        }
    }

    /// Echo Reply (RFC 4443 §4.2) to a fragmented request, fragment by
    /// fragment: the request's headers before its fragment header
    /// dropped, addresses swapped (from our address facing the sender if
    /// the request went to a group), one new identification.
    fn echo_pieces6(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, first: B, n: usize) {
        let Some(ip) = first.data().get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let reply_src =
            if dst.is_multicast() { cx.t.iface(ifindex).and_then(|i| i.source_for6(&src)) } else { Some(dst) };
        let Some(reply_src) = reply_src else {
            self.drop(DropReason::NoRoute);
            return self.drop_pieces(1, n, DropReason::NoRoute);
        };
        let ident = self.next_ident6();
        self.counters.local += 1;
        self.counters.local6 += 1;
        let mut first = Some(first);
        for i in 0..n {
            let Some(mut f) = self.take_piece(&mut first, i) else { continue };
            if reply6(&mut f, (&reply_src, &src), &dst, ident, i == 0) {
                self.route_own6(cx, f, &src, ifindex);
            }
        }
    }

    /// Copies a whole datagram into one fresh buffer, for what must see
    /// it in one piece (a tunnel packet): `first`'s first `head` bytes
    /// (Ethernet and the IP header, less any fragment header), then every
    /// fragment's data (from `data_at` in `first`). Its header then says
    /// it is whole. `None` (counted) when it does not fit one buffer.
    fn linearize(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        first: B,
        n: usize,
        head: usize,
        data_at: usize,
    ) -> Option<B> {
        let v6 = super::output::ip_version(&first) == 6;
        let total = self.whole_len(&first, n, head, data_at);
        let mut whole = cx.io.alloc();
        if !whole.as_mut().is_some_and(|b| b.append(total)) {
            self.drop(DropReason::ReassemblyNoRoom);
            self.drop_pieces(1, n, DropReason::ReassemblyNoRoom);
            return None;
        }
        let mut whole = whole?;
        whole.set_port(first.port());
        let d = whole.data_mut();
        let (Some(h), Some(src_h)) = (d.get_mut(..head), first.data().get(..head)) else { return None };
        h.copy_from_slice(src_h);
        let chunk = first.data().get(data_at..).unwrap_or_default();
        if let Some(dst) = d.get_mut(head..head + chunk.len()) {
            dst.copy_from_slice(chunk);
        }
        let mut at = head + chunk.len();
        for piece in self.pieces.iter_mut().take(n).skip(1) {
            if let Some(p) = piece.take() {
                let chunk = p.data().get(ETH_LEN..).and_then(|ip| fragment_data(ip, v6)).unwrap_or_default();
                if let Some(dst) = d.get_mut(at..at + chunk.len()) {
                    dst.copy_from_slice(chunk);
                }
                at += chunk.len();
            }
        }
        let ip = d.get_mut(ETH_LEN..)?;
        let len = ip.len();
        if v6 {
            // The fragment header's next header takes its place.
            let next = first.data().get(head + frag::NEXT_HEADER).copied().unwrap_or(0);
            let mut p = Ipv6Packet::new_unchecked(&mut *ip);
            p.set_payload_len((len - ipv6::HEADER_LEN) as u16);
            p.set_next_header(next);
        } else {
            let mut p = Ipv4Packet::new_unchecked(&mut *ip);
            let df = p.dont_frag();
            p.set_total_len(len as u16);
            p.set_flags_offset(df, false, 0);
            p.fill_checksum();
        }
        Some(whole)
    }

    /// The length of the datagram in `first` and `self.pieces[1..n]` put
    /// together: `first`'s first `head` bytes, then every fragment's data
    /// (from `data_at` in `first`).
    fn whole_len(&self, first: &B, n: usize, head: usize, data_at: usize) -> usize {
        let v6 = super::output::ip_version(first) == 6;
        let rest: usize = self.pieces.iter().take(n).skip(1).flatten().map(|p| piece_len(p, v6)).sum();
        head + first.len().saturating_sub(data_at) + rest
    }

    /// True if a fresh buffer holds `len` bytes (none free: false).
    fn fits_one(cx: &mut Burst<'_, impl Io<B>>, len: usize) -> bool {
        cx.io.alloc().is_some_and(|mut b| b.append(len))
    }

    /// The sum of a reassembled upper-layer message (unfolded): `head`,
    /// the first fragment's part, then every later fragment's data. And
    /// the message's length.
    fn upper_sum(&self, head: &[u8], n: usize, v6: bool) -> (u32, u32) {
        let mut acc = checksum::sum(0, head);
        let mut len = head.len() as u32;
        for piece in self.pieces.iter().take(n).skip(1).flatten() {
            let data = piece.data().get(ETH_LEN..).and_then(|ip| fragment_data(ip, v6)).unwrap_or_default();
            // Every fragment but the last is a multiple of 8 bytes, so
            // the 16-bit words line up.
            acc = checksum::sum(acc, data);
            len += data.len() as u32;
        }
        (acc, len)
    }

    /// Fragment `i` of the datagram being delivered: `first` (taken out
    /// of it, delivery owns it) for 0, the others from `self.pieces`.
    fn take_piece(&mut self, first: &mut Option<B>, i: usize) -> Option<B> {
        if i == 0 {
            first.take()
        } else {
            self.pieces.get_mut(i).and_then(Option::take)
        }
    }

    /// Drops `self.pieces[from..n]`, counting each.
    fn drop_pieces(&mut self, from: usize, n: usize, reason: DropReason) {
        for piece in self.pieces.iter_mut().take(n).skip(from) {
            if piece.take().is_some() {
                if let Some(c) = self.counters.drops.get_mut(reason.index()) {
                    *c += 1;
                }
            }
        }
    }

    /// Ends datagrams that did not come together in time: Time Exceeded
    /// code 1 to the sender of each whose first fragment came (RFC 792,
    /// RFC 8200 §4.5). At most `budget` per call.
    pub(super) fn expire_fragments(&mut self, cx: &mut Burst<'_, impl Io<B>>, budget: usize) {
        for _ in 0..budget {
            let Some(expired) = self.frags.expire(cx.now, &mut self.counters.drops) else { return };
            let Some(first) = expired.first else { continue };
            let reason = DropReason::ReassemblyTimeout;
            if super::output::ip_version(&first) == 6 {
                let ingress = cx.t.iface_of_port(first.port()).unwrap_or(0);
                let e = Error6 { msg: Msg6::TimeExceeded, code: icmpv6w::time_exceeded::REASSEMBLY, rest: 0 };
                self.icmp6_error(cx, ingress, first, reason, e, false);
            } else {
                let (m, c) = (Message::TimeExceeded, icmpv4::time_exceeded::REASSEMBLY);
                self.icmp_error(cx, first, reason, m, c, 0);
            }
        }
    }

    pub(super) fn next_ident6(&mut self) -> u32 {
        self.ident6 = self.ident6.wrapping_add(1);
        self.ident6
    }
}

/// A fragment's data: after its IPv4 header, or after its IPv6 fragment
/// header.
fn fragment_data(ip: &[u8], v6: bool) -> Option<&[u8]> {
    if v6 {
        let (at, _) = ipv6::find_fragment(ip)?;
        ip.get(at + frag::HEADER_LEN..)
    } else {
        ip.get(ipv4::ihl(ip)..)
    }
}

/// The data a fragment carries, in bytes.
fn piece_len<B: PacketBuf>(p: &B, v6: bool) -> usize {
    p.data().get(ETH_LEN..).and_then(|ip| fragment_data(ip, v6)).map_or(0, <[u8]>::len)
}

/// A segment's length in sequence space, `len` its whole length.
fn seq_len<T: AsRef<[u8]>>(seg: &TcpPacket<T>, len: u32) -> u32 {
    let f = seg.flags();
    len.saturating_sub(seg.header_len() as u32)
        + u32::from(f & tcp::flags::SYN != 0)
        + u32::from(f & tcp::flags::FIN != 0)
}

/// Turns one fragment of an echo request into the reply's (the frame
/// `d`): addresses swapped, TTL 64, identification `ident`, DF clear,
/// offset and MF kept; in the first, the type. Returns where it goes.
fn reply4(d: &mut [u8], ident: u16, first: bool) -> Option<std::net::Ipv4Addr> {
    let src = turn4(d, ident)?;
    let ip = d.get_mut(ETH_LEN..)?;
    let hl = Ipv4Packet::new_unchecked(&*ip).header_len();
    if first {
        let icmp = ip.get_mut(hl..hl + 4)?;
        let c =
            checksum::update16(be16(icmp, 2), u16::from(types::ECHO_REQUEST) << 8, u16::from(types::ECHO_REPLY) << 8);
        icmp[0] = types::ECHO_REPLY;
        put16(icmp, 2, c);
    }
    Some(src)
}

/// Turns one IPv4 fragment (the frame `d`) around: addresses swapped,
/// TTL 64, identification `ident`, DF clear, offset and MF kept, the
/// header's checksum. Returns where it goes.
fn turn4(d: &mut [u8], ident: u16) -> Option<std::net::Ipv4Addr> {
    let ip = d.get_mut(ETH_LEN..)?;
    let mut p = Ipv4Packet::new_unchecked(&mut *ip);
    let (src, dst) = (p.src(), p.dst());
    let (offset, more) = (p.frag_offset(), p.more_frags());
    p.set_src(dst);
    p.set_dst(src);
    p.set_ttl(64);
    p.set_ident(ident);
    p.set_flags_offset(false, more, offset);
    p.fill_checksum();
    Some(src)
}

/// Turns one IPv6 fragment around in place: from `from` to `to`, only
/// the fragment header kept (with identification `ident`) before its
/// data. False if it has no fragment header.
fn turn6<B: PacketBuf>(f: &mut B, (from, to): (&Ipv6Addr, &Ipv6Addr), ident: u32) -> bool {
    let Some(at) = f.data().get(ETH_LEN..).and_then(ipv6::find_fragment).map(|(at, _)| at) else { return false };
    if at != ipv6::HEADER_LEN {
        // Only the fragment header and what follows it stay.
        let len = f.len();
        f.data_mut().copy_within(ETH_LEN + at..len, ETH_LEN + ipv6::HEADER_LEN);
        f.truncate(len - (at - ipv6::HEADER_LEN));
    }
    let Some(ip) = f.data_mut().get_mut(ETH_LEN..) else { return false };
    let payload = ip.len() - ipv6::HEADER_LEN;
    let repr = ipv6::Ipv6Repr { src: *from, dst: *to, next_header: nh::FRAGMENT, payload_len: payload, hop_limit: 64 };
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut *ip));
    let Some(h) = ip.get_mut(ipv6::HEADER_LEN..ipv6::HEADER_LEN + frag::HEADER_LEN) else { return false };
    h[frag::IDENT..].copy_from_slice(&ident.to_be_bytes());
    true
}

/// Turns one fragment of an IPv6 echo request into the reply's, in
/// place: `(from, to)` its addresses, `old_dst` the request's
/// destination (the checksum follows a change of address).
fn reply6<B: PacketBuf>(
    f: &mut B,
    (from, to): (&Ipv6Addr, &Ipv6Addr),
    old_dst: &Ipv6Addr,
    ident: u32,
    first: bool,
) -> bool {
    if !turn6(f, (from, to), ident) {
        return false;
    }
    let Some(ip) = f.data_mut().get_mut(ETH_LEN..) else { return false };
    if first {
        let at = ipv6::HEADER_LEN + frag::HEADER_LEN;
        let Some(icmp) = ip.get_mut(at..at + 4) else { return false };
        let mut c = checksum::update16(
            be16(icmp, 2),
            u16::from(u8::from(Msg6::EchoRequest)) << 8,
            u16::from(u8::from(Msg6::EchoReply)) << 8,
        );
        // The pseudo-header: the source is no longer the address pinged
        // when that was a group (the destination, swapped in, sums the same).
        let (old, new) = (old_dst.octets(), from.octets());
        for w in 0..8 {
            c = checksum::update16(c, be16(&old, w * 2), be16(&new, w * 2));
        }
        icmp[0] = u8::from(Msg6::EchoReply);
        put16(icmp, 2, c);
    }
    true
}

/// The destination port of the UDP header at `at` in `ip` (0 if cut short).
fn dport6(ip: &[u8], at: usize) -> u16 {
    ip.get(at + 2..at + 4).map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
}

/// A UDP datagram in fragments: its addresses, the interface it came on,
/// where its UDP header is in the first fragment's IP packet, and its
/// length (UDP header and data).
struct Pieces {
    src: IpAddr,
    dst: IpAddr,
    ifindex: u16,
    udp_at: usize,
    len: u32,
}
