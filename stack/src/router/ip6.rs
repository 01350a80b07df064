//! IPv6 in the router: input checks and extension-header chains (RFC
//! 8200), forwarding with hop-limit decrement and Packet Too Big (never
//! fragmenting in transit, RFC 8200 §5), local delivery, ICMPv6 errors
//! and echo (RFC 4443). Neighbor Discovery is in `nd`, Router
//! Advertisements in `ra`.
//!
//! The same [`Router`] as IPv4: one neighbor cache holds both families,
//! and `Router::output` resolves by ARP or NDP as the next hop asks.
//! Nothing here allocates or panics.

use super::io::Burst;
use super::nd::ND_HOP_LIMIT;
use super::tcp::PathMtu;
use super::tunnel::{is_tunnel_protocol, Outer};
use super::tunnel_error::Unreachable;
use super::udp::Arrival;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::fib::RouteTarget;
use crate::hooks::Translator;
use crate::icmp6;
use crate::iface::Tables;
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::icmpv6::{self as icmpv6w, param_problem, Message as Msg6};
use crate::wire::ipv6::{self, nh, ChainError, Ipv6Packet, Ipv6Repr};
use crate::wire::tcp::{self, TcpPacket};
use crate::wire::{be32, put16, MacAddr};
use std::net::{IpAddr, Ipv6Addr};

/// An ICMPv6 error to send (RFC 4443 §3, §4): type, code, and the 32 bits
/// after the checksum (the MTU of Packet Too Big, the pointer of Parameter
/// Problem).
#[derive(Copy, Clone, Debug)]
pub(super) struct Error6 {
    pub msg: Msg6,
    pub code: u8,
    pub rest: u32,
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    #[inline]
    pub(super) fn ipv6_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, mut pkt: B, l2_multicast: bool) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        if ip.len() < ipv6::HEADER_LEN {
            return self.drop(DropReason::Ipv6Truncated);
        }
        let p = Ipv6Packet::new_unchecked(ip);
        if p.version() != 6 {
            return self.drop(DropReason::Ipv6BadVersion);
        }
        let len = ipv6::HEADER_LEN + usize::from(p.payload_len());
        if len > ip.len() {
            return self.drop(DropReason::Ipv6BadPayloadLength);
        }
        let (src, dst) = (p.src(), p.dst());
        if ipv6::is_martian_source(&src) {
            return self.drop(DropReason::Ipv6MartianSource);
        }
        pkt.truncate(ETH_LEN + len); // drop Ethernet padding
        if dst.is_multicast() {
            return match cx.t.iface(ifindex) {
                Some(ifc) if ifc.listens6(&dst) => self.local6_input(cx, ifindex, pkt),
                // Link-local groups (OSPFv3's ff02::5, ...) the kernel twin may serve.
                Some(ifc) if ifc.punt && dst.segments()[0] == 0xff02 => {
                    self.punt_or_drop(cx, ifindex, pkt, src.into(), DropReason::Ipv6Multicast)
                }
                _ => self.drop(DropReason::Ipv6Multicast),
            };
        }
        if ipv6::is_martian_destination(&dst) {
            return self.drop(DropReason::Ipv6MartianDestination);
        }
        match cx.t.fib6.lookup(&dst) {
            Some(&RouteTarget::Local { .. }) => self.local6_input(cx, ifindex, pkt),
            _ if ipv6::is_link_local(&dst) => self.drop(DropReason::Ipv6LinkLocal),
            Some(&RouteTarget::Connected { ifindex: out }) => self.forward6(cx, ifindex, pkt, out, dst, l2_multicast),
            Some(&RouteTarget::Via { first, count }) => {
                let hash = if count > 1 { pkt.data().get(ETH_LEN..).map_or(0, flow_hash6) } else { 0 };
                match cx.t.fib6.nexthop(first, count, hash) {
                    Some(h) => self.forward6(cx, ifindex, pkt, h.ifindex, h.gateway, l2_multicast),
                    None => self.drop(DropReason::NoRoute),
                }
            }
            Some(&RouteTarget::Blackhole) => self.drop(DropReason::RouteBlackhole),
            Some(&RouteTarget::Unreachable) => {
                let code = icmpv6w::unreachable::NO_ROUTE;
                self.icmp6_error(
                    cx,
                    ifindex,
                    pkt,
                    DropReason::RouteUnreachable,
                    Error6 { msg: Msg6::DstUnreachable, code, rest: 0 },
                    false,
                )
            }
            Some(&RouteTarget::Broadcast { .. }) | None => {
                let code = icmpv6w::unreachable::NO_ROUTE;
                self.icmp6_error(
                    cx,
                    ifindex,
                    pkt,
                    DropReason::NoRoute,
                    Error6 { msg: Msg6::DstUnreachable, code, rest: 0 },
                    false,
                )
            }
        }
    }

    #[inline]
    fn forward6(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ingress: u16,
        mut pkt: B,
        out: u16,
        nh: Ipv6Addr,
        l2_multicast: bool,
    ) {
        if l2_multicast {
            return self.drop(DropReason::Ipv6L2Multicast);
        }
        let Some(egress) = cx.t.iface(out) else { return self.drop(DropReason::NoRoute) };
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        let p = Ipv6Packet::new_unchecked(ip);
        if ipv6::is_link_local(&p.src()) {
            // RFC 4291 §2.5.6 / RFC 4443 §3.1 code 2.
            let code = icmpv6w::unreachable::BEYOND_SCOPE;
            let (r, m) = (DropReason::Ipv6BeyondScope, Msg6::DstUnreachable);
            return self.icmp6_error(cx, ingress, pkt, r, Error6 { msg: m, code, rest: 0 }, false);
        }
        if ipv6::is_extension(p.next_header()) {
            // Transit routers look at Hop-by-Hop only, but every header
            // must lie inside the packet (RFC 8200 §4).
            if let Err(e) = ipv6::walk_chain(ip, false) {
                return self.chain_error(cx, ingress, pkt, e);
            }
        }
        let hop = p.hop_limit();
        if hop <= 1 {
            let (r, m) = (DropReason::HopLimitExpired, Msg6::TimeExceeded);
            return self.icmp6_error(cx, ingress, pkt, r, Error6 { msg: m, code: 0, rest: 0 }, false);
        }
        let mtu = self.mtu6_of(egress, cx.now);
        if ip.len() > usize::from(mtu) {
            // RFC 8200 §5: routers never fragment; RFC 4443 §3.2 may go
            // to multicast too.
            let (r, m) = (DropReason::PacketTooBig, Msg6::PacketTooBig);
            return self.icmp6_error(cx, ingress, pkt, r, Error6 { msg: m, code: 0, rest: u32::from(mtu) }, true);
        }
        if let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) {
            self.clamp_mss(cx.t, egress, mtu, &mut *ip, true);
            Ipv6Packet::new_unchecked(ip).set_hop_limit(hop - 1);
        }
        self.counters.forwarded += 1;
        self.counters.forwarded6 += 1;
        self.output(cx, egress, out, IpAddr::V6(nh), pkt);
    }

    /// Drops or answers a packet whose extension headers were refused.
    fn chain_error(&mut self, cx: &mut Burst<'_, impl Io<B>>, ingress: u16, pkt: B, e: ChainError) {
        match e {
            ChainError::Truncated => self.drop(DropReason::Ipv6ExtTruncated),
            ChainError::TooLong => self.drop(DropReason::Ipv6ExtTooLong),
            ChainError::Discard => self.drop(DropReason::Ipv6BadOption),
            ChainError::ParamProblem { code, pointer, multicast_ok } => {
                let (r, m) = (DropReason::Ipv6ParamProblem, Msg6::ParamProblem);
                self.icmp6_error(cx, ingress, pkt, r, Error6 { msg: m, code, rest: pointer }, multicast_ok)
            }
        }
    }

    fn local6_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        let fragment = ipv6::find_fragment(ip);
        let first_fragment = fragment.is_some_and(|(_, f)| f.offset == 0);
        let chain = match ipv6::walk_chain(ip, true) {
            Ok(c) => c,
            Err(ChainError::Truncated) if first_fragment => return self.incomplete_chain(cx, ifindex, pkt),
            Err(e) => return self.chain_error(cx, ifindex, pkt, e),
        };
        // An atomic fragment (offset 0, no M) is a whole packet (RFC 6946).
        if let Some((at, f)) = fragment.filter(|(_, f)| f.offset != 0 || f.more) {
            let upper = match chain.protocol {
                nh::TCP => tcp::HEADER_LEN,
                nh::NO_NEXT => 0,
                _ => 8,
            };
            if f.offset == 0 && chain.offset + upper > ip.len() {
                return self.incomplete_chain(cx, ifindex, pkt);
            }
            return self.reassemble6(cx, ifindex, pkt, at, f);
        }
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst, tos) = (p.src(), p.dst(), p.traffic_class());
        match chain.protocol {
            nh::ICMPV6 => self.icmp6_input(cx, ifindex, pkt, chain.offset),
            nh::UDP => {
                let end = ETH_LEN + ipv6::HEADER_LEN + usize::from(p.payload_len());
                let a = Arrival { src: src.into(), dst: dst.into(), ifindex, at: ETH_LEN + chain.offset, end };
                let pkt = self.udp_input(cx, pkt, a).and_then(|pkt| self.punt(cx, ifindex, pkt, src.into()));
                if let Some(pkt) = pkt {
                    let (r, m, c) =
                        (DropReason::LocalPortUnreachable, Msg6::DstUnreachable, icmpv6w::unreachable::PORT);
                    self.icmp6_error(cx, ifindex, pkt, r, Error6 { msg: m, code: c, rest: 0 }, false)
                }
            }
            nh::TCP if !dst.is_multicast() => {
                let end = ETH_LEN + ipv6::HEADER_LEN + usize::from(p.payload_len());
                let a = Arrival { src: src.into(), dst: dst.into(), ifindex, at: ETH_LEN + chain.offset, end };
                let pkt = self.tcp_input(cx, pkt, a).and_then(|pkt| self.punt(cx, ifindex, pkt, src.into()));
                if let Some(pkt) = pkt {
                    self.tcp_reset6(cx, ifindex, pkt, chain.offset)
                }
            }
            nh::TCP => self.tcp_reset6(cx, ifindex, pkt, chain.offset),
            nh::NO_NEXT => {
                self.counters.local += 1;
                self.counters.local6 += 1;
            }
            proto if is_tunnel_protocol(proto) && !dst.is_multicast() => {
                let outer =
                    Outer { src: src.into(), dst: dst.into(), protocol: proto, len: ETH_LEN + chain.offset, tos };
                let pkt = self.tunnel_input(cx, pkt, outer).and_then(|pkt| self.punt(cx, ifindex, pkt, src.into()));
                if let Some(pkt) = pkt {
                    let (r, m) = (DropReason::LocalProtocolUnreachable, Msg6::ParamProblem);
                    let e = Error6 { msg: m, code: param_problem::NEXT_HEADER, rest: chain.nh_at as u32 };
                    self.icmp6_error(cx, ifindex, pkt, r, e, false)
                }
            }
            _ => {
                let Some(pkt) = self.punt(cx, ifindex, pkt, src.into()) else { return };
                // RFC 8200 §4: unrecognized Next Header, pointing at it.
                let (r, m) = (DropReason::LocalProtocolUnreachable, Msg6::ParamProblem);
                self.icmp6_error(cx, ifindex, pkt, r, Error6 { msg: m, code: 1, rest: chain.nh_at as u32 }, false)
            }
        }
    }

    /// A first fragment without the whole header chain, upper-layer
    /// header included: Parameter Problem code 3, pointer 0 (RFC 7112 §5,
    /// RFC 8200 §4.5).
    fn incomplete_chain(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B) {
        let (r, m, code) = (DropReason::ReassemblyIncompleteChain, Msg6::ParamProblem, param_problem::INCOMPLETE_CHAIN);
        self.icmp6_error(cx, ifindex, pkt, r, Error6 { msg: m, code, rest: 0 }, false)
    }

    fn icmp6_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B, off: usize) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst, hop) = (p.src(), p.dst(), p.hop_limit());
        let Some(msg) = ip.get(off..).filter(|m| m.len() >= icmpv6w::HEADER_LEN) else {
            return self.drop(DropReason::IcmpMalformed);
        };
        if !ipv6::verify_upper_checksum(&src, &dst, nh::ICMPV6, msg) {
            return self.drop(DropReason::IcmpMalformed);
        }
        let kind = Msg6::from(msg[0]);
        let nd = matches!(
            kind,
            Msg6::RouterSolicit | Msg6::RouterAdvert | Msg6::NeighborSolicit | Msg6::NeighborAdvert | Msg6::Redirect
        );
        if nd && hop != ND_HOP_LIMIT {
            // RFC 4861 §6.1, §7.1: proves the sender is on-link.
            return self.drop(DropReason::NdpBadHopLimit);
        }
        if nd && msg[1] != 0 {
            return self.drop(DropReason::NdpMalformed);
        }
        match kind {
            Msg6::EchoRequest => self.echo_reply6(cx, ifindex, pkt, off),
            Msg6::NeighborSolicit => self.neighbor_solicit_input(cx, ifindex, pkt, off),
            Msg6::NeighborAdvert => self.neighbor_advert_input(cx, ifindex, &pkt, off),
            Msg6::RouterSolicit => self.router_solicit_input(cx, ifindex, &pkt, off),
            Msg6::PacketTooBig => {
                let mtu = msg.get(4..8).map_or(0, |m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
                let quoted = msg.get(8..).unwrap_or_default();
                // About one of our tunnels' outer packets: its path.
                if self.tunnel_path_mtu(cx.t, quoted, mtu, cx.now) {
                    self.counters.local += 1;
                    self.counters.local6 += 1;
                    return;
                }
                match self.tcp_path_mtu(cx, quoted, mtu) {
                    PathMtu::Applied => {}
                    PathMtu::Ignored => self.punt_or_drop(cx, ifindex, pkt, src.into(), DropReason::IcmpIgnored),
                    PathMtu::Owner(w) => self.tcp_handoff(cx, pkt, w),
                }
            }
            Msg6::DstUnreachable | Msg6::TimeExceeded => {
                // About one of our tunnels' outer packets: its sender's.
                let pkt = match Unreachable::of_icmp6(kind, msg[1]) {
                    Some(what) => self.tunnel_error(cx, pkt, ETH_LEN + off + icmpv6w::HEADER_LEN, what),
                    None => Some(pkt),
                };
                if let Some(pkt) = pkt {
                    self.punt_or_drop(cx, ifindex, pkt, src.into(), DropReason::IcmpIgnored)
                }
            }
            // An ICMPv6 message we do not act on: the kernel twin's, if any.
            _ => self.punt_or_drop(cx, ifindex, pkt, src.into(), DropReason::IcmpIgnored),
        }
    }

    /// Echo Reply (RFC 4443 §4.2) in place, from the address pinged (or,
    /// for a multicast ping, our address towards the sender).
    pub(super) fn echo_reply6(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, mut pkt: B, off: usize) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let reply_src =
            if dst.is_multicast() { cx.t.iface(ifindex).and_then(|i| i.source_for6(&src)) } else { Some(dst) };
        let Some(reply_src) = reply_src else { return self.drop(DropReason::NoRoute) };
        let msg_len = ip.len() - off;
        if off != ipv6::HEADER_LEN {
            // Extension headers are the request's, not the reply's.
            let d = pkt.data_mut();
            d.copy_within(ETH_LEN + off.., ETH_LEN + ipv6::HEADER_LEN);
            pkt.truncate(ETH_LEN + ipv6::HEADER_LEN + msg_len);
        }
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
        Ipv6Repr { src: reply_src, dst: src, next_header: nh::ICMPV6, payload_len: msg_len, hop_limit: 64 }
            .emit(&mut Ipv6Packet::new_unchecked(&mut *ip));
        if let Ok(mut icmp) = icmpv6w::Icmpv6Packet::new_checked(&mut ip[ipv6::HEADER_LEN..]) {
            icmp.set_msg_type(Msg6::EchoReply);
            icmp.fill_checksum(&reply_src, &src);
        }
        self.counters.local += 1;
        self.counters.local6 += 1;
        self.route_own6(cx, pkt, &src, ifindex);
    }

    /// Answers a segment to a closed port with RST (RFC 9293 §3.10.7.1).
    fn tcp_reset6(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B, off: usize) {
        self.drop(DropReason::LocalTcpClosed);
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let Some(seg) = ip.get(off..) else { return };
        if dst.is_multicast() || !ipv6::verify_upper_checksum(&src, &dst, nh::TCP, seg) {
            return;
        }
        let Ok(seg) = TcpPacket::new_checked(seg) else { return };
        let Some(reset) = tcp::Reset::answering(&seg) else { return };
        self.send_reset6(cx, ifindex, pkt, reset);
    }

    /// Turns `pkt` (a segment for us) into `reset` and sends it back.
    pub(super) fn send_reset6(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, mut pkt: B, reset: tcp::Reset) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        pkt.truncate(ETH_LEN + ipv6::HEADER_LEN + tcp::HEADER_LEN);
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
        let Some(seg) = ip.get_mut(ipv6::HEADER_LEN..) else { return };
        reset.emit(seg);
        let c = ipv6::upper_checksum(&dst, &src, nh::TCP, seg);
        put16(seg, tcp::field::CHECKSUM, c);
        Ipv6Repr { src: dst, dst: src, next_header: nh::TCP, payload_len: tcp::HEADER_LEN, hop_limit: 64 }
            .emit(&mut Ipv6Packet::new_unchecked(&mut *ip));
        self.route_own6(cx, pkt, &src, ifindex);
    }

    /// Where a packet the router sends to `dst` goes: the ingress
    /// interface for a link-local destination, else the FIB's choice.
    fn route6(&self, t: &Tables, dst: &Ipv6Addr, ingress: u16, hash: u32) -> Option<(u16, Ipv6Addr)> {
        if ipv6::is_link_local(dst) {
            return Some((ingress, *dst));
        }
        match t.fib6.lookup(dst)? {
            RouteTarget::Connected { ifindex } => Some((*ifindex, *dst)),
            RouteTarget::Via { first, count } => t.fib6.nexthop(*first, *count, hash).map(|h| (h.ifindex, h.gateway)),
            _ => None,
        }
    }

    /// Routes a packet the router itself originates (no hop-limit decrement).
    pub(super) fn route_own6(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, dst: &Ipv6Addr, ingress: u16) {
        let hash = pkt.data().get(ETH_LEN..).map_or(0, flow_hash6);
        match self.route6(cx.t, dst, ingress, hash) {
            Some((out, nh)) => match cx.t.iface(out) {
                Some(egress) => self.output6(cx, egress, out, nh, pkt),
                None => self.drop(DropReason::NoRoute),
            },
            None => self.drop(DropReason::NoRoute),
        }
    }

    /// A forwarded packet whose next hop did not resolve: Address
    /// Unreachable (RFC 4861 §7.2.2, RFC 4443 §3.1 code 3).
    pub(super) fn unresolved6(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B) {
        let ingress = cx.t.iface_of_port(pkt.port()).unwrap_or(0);
        let (r, m, c) = (DropReason::NeighborUnresolved, Msg6::DstUnreachable, icmpv6w::unreachable::ADDRESS);
        self.icmp6_error(cx, ingress, pkt, r, Error6 { msg: m, code: c, rest: 0 }, false);
    }

    /// Counts `reason`, then answers with an ICMPv6 error if RFC 4443
    /// §2.4 and the rate limit allow. `ingress`: the interface the packet
    /// came in on (the way back to a link-local source).
    pub(super) fn icmp6_error(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ingress: u16,
        mut pkt: B,
        reason: DropReason,
        error: Error6,
        multicast_ok: bool,
    ) {
        let Error6 { msg, code, rest } = error;
        self.drop(reason);
        let data = pkt.data();
        let l2_multicast = data.first().is_some_and(|b| b & 1 != 0);
        let Some(ip) = data.get(ETH_LEN..) else { return };
        if !icmp6::error_allowed(l2_multicast, ip, multicast_ok) {
            return;
        }
        let orig_src = Ipv6Packet::new_unchecked(ip).src();
        let Some((out, nh)) = self.route6(cx.t, &orig_src, ingress, flow_hash6(ip)) else { return };
        let Some(egress) = cx.t.iface(out) else { return };
        // RFC 4443 §2.2: an address of ours that helps diagnose: the one
        // facing the packet's source.
        let Some(src) = egress.source_for6(&orig_src) else { return };
        // Packet Too Big: its destination's bucket only (see icmp_error).
        let pmtu = msg == Msg6::PacketTooBig;
        if !self.icmp_dest.allow(IpAddr::V6(orig_src), cx.now) || (!pmtu && !self.icmp6_limit.allow(cx.now)) {
            self.counters.icmp_rate_limited += 1;
            return;
        }
        if !icmp6::build_error(&mut pkt, &src, msg, code, rest) {
            return self.drop(DropReason::NoHeadroom);
        }
        self.counters.icmp_errors += 1;
        self.counters.icmp6_errors += 1;
        self.output(cx, egress, out, IpAddr::V6(nh), pkt);
    }
}

pub(super) fn addr16(b: &[u8]) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(..16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// Writes Ethernet and IPv6 headers (hop limit 255, ICMPv6) for an ND
/// message of `len` bytes.
pub(super) fn write_headers(
    data: &mut [u8],
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    len: usize,
) {
    if let Ok(mut eth) = EthernetFrame::new_checked(&mut *data) {
        eth.set_dst(dst_mac);
        eth.set_src(src_mac);
        eth.set_ethertype(EtherType::Ipv6);
    }
    if let Some(ip) = data.get_mut(ETH_LEN..) {
        Ipv6Repr { src: *src, dst: *dst, next_header: nh::ICMPV6, payload_len: len, hop_limit: ND_HOP_LIMIT }
            .emit(&mut Ipv6Packet::new_unchecked(ip));
    }
}

/// Flow hash for IPv6 ECMP: addresses, flow label, next header and, when
/// TCP or UDP follows the fixed header, the ports.
#[inline(always)]
pub(super) fn flow_hash6(ip: &[u8]) -> u32 {
    if ip.len() < ipv6::HEADER_LEN {
        return 0;
    }
    // The low halves of the addresses, their high halves folded, the flow
    // label (RFC 6437).
    let (src, dst) = (ipv6::field::SRC.start, ipv6::field::DST.start);
    let mut h = u64::from(be32(ip, src + 12)) << 32 | u64::from(be32(ip, dst + 12));
    h ^= u64::from(be32(ip, src + 8) ^ be32(ip, dst + 8)) << 16;
    h ^= u64::from(be32(ip, 0) & 0x000f_ffff) << 20;
    let next = ip[ipv6::field::NEXT_HEADER];
    h ^= u64::from(next);
    if (next == nh::TCP || next == nh::UDP) && ip.len() >= ipv6::HEADER_LEN + 4 {
        h ^= u64::from(be32(ip, ipv6::HEADER_LEN)) << 8;
    }
    let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as u32 ^ h as u32
}
