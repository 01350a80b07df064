//! IPv6 in the router: input checks (RFC 8200), forwarding with hop-limit
//! decrement and Packet Too Big (never fragmenting in transit, RFC 8200
//! §5), ICMPv6 errors and echo (RFC 4443), Neighbor Discovery (RFC 4861
//! §7) and Router Advertisements (RFC 4861 §6.2).
//!
//! The same [`Router`] as IPv4: one neighbor cache holds both families,
//! and [`Router::output`] resolves by ARP or NDP as the next hop asks.
//! Nothing here allocates or panics.

use super::*;
use crate::icmp6;
use crate::iface::MAX_IFACES;
use crate::wire::icmpv6::{self as icmpv6w, na_flags, Message as Msg6, RaHeader};
use crate::wire::ipv6::{self, nh, ChainError, Ipv6Packet, Ipv6Repr};
use std::net::Ipv6Addr;

const SEC: u64 = 1_000_000_000;
/// RFC 4861 §10: the first advertisements come faster.
const MAX_INITIAL_RTR_ADVERT_INTERVAL: u64 = 16 * SEC;
const MAX_INITIAL_RTR_ADVERTISEMENTS: u8 = 3;
/// RFC 4861 §10: advertisements to all-nodes are at least this far apart.
const MIN_DELAY_BETWEEN_RAS: u64 = 3 * SEC;
/// Most Prefix Information options one advertisement carries.
pub const MAX_RA_PREFIXES: usize = 16;
/// ND messages are answered and sent with this hop limit (RFC 4861 §7.1).
const ND_HOP_LIMIT: u8 = 255;
/// Length of an NS or NA with one link-layer option.
const NEIGHBOR_MSG_LEN: usize = icmpv6w::NS_LEN + icmpv6w::LLADDR_OPT_LEN;

/// Router Advertisement timers, per interface index.
pub(super) struct RaTimers {
    /// Sends the periodic advertisements (one worker per gateway).
    pub(super) announcer: bool,
    periodic: [u64; MAX_IFACES],
    solicited: [Option<u64>; MAX_IFACES],
    last: [Option<u64>; MAX_IFACES],
    sent: [u8; MAX_IFACES],
}

impl Default for RaTimers {
    fn default() -> Self {
        RaTimers {
            announcer: true,
            periodic: [0; MAX_IFACES],
            solicited: [None; MAX_IFACES],
            last: [None; MAX_IFACES],
            sent: [0; MAX_IFACES],
        }
    }
}

fn addr16(b: &[u8]) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(..16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// True for ff02::1:ff00:0/104 (RFC 4291 §2.7.1).
fn is_solicited_node(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    s[0] == 0xff02 && s[1..5] == [0, 0, 0, 0] && s[5] == 1 && s[6] & 0xff00 == 0xff00
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    #[inline]
    pub(super) fn ipv6_input(
        &mut self,
        t: &Tables,
        ifindex: u16,
        mut pkt: B,
        l2_multicast: bool,
        now: u64,
        io: &mut impl Io<B>,
    ) {
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
            return match t.iface(ifindex) {
                Some(ifc) if ifc.listens6(&dst) => self.local6_input(t, ifindex, pkt, now, io),
                _ => self.drop(DropReason::Ipv6Multicast),
            };
        }
        if ipv6::is_martian_destination(&dst) {
            return self.drop(DropReason::Ipv6MartianDestination);
        }
        match t.fib6.lookup(&dst) {
            Some(&RouteTarget::Local { .. }) => self.local6_input(t, ifindex, pkt, now, io),
            _ if ipv6::is_link_local(&dst) => self.drop(DropReason::Ipv6LinkLocal),
            Some(&RouteTarget::Connected { ifindex: out }) => {
                self.forward6(t, ifindex, pkt, out, dst, l2_multicast, now, io)
            }
            Some(&RouteTarget::Via { first, count }) => {
                let hash = if count > 1 { pkt.data().get(ETH_LEN..).map_or(0, flow_hash6) } else { 0 };
                match t.fib6.nexthop(first, count, hash) {
                    Some(h) => self.forward6(t, ifindex, pkt, h.ifindex, h.gateway, l2_multicast, now, io),
                    None => self.drop(DropReason::NoRoute),
                }
            }
            Some(&RouteTarget::Blackhole) => self.drop(DropReason::RouteBlackhole),
            Some(&RouteTarget::Unreachable) => {
                let code = icmpv6w::unreachable::NO_ROUTE;
                self.icmp6_error(
                    t,
                    ifindex,
                    pkt,
                    DropReason::RouteUnreachable,
                    Msg6::DstUnreachable,
                    code,
                    0,
                    false,
                    now,
                    io,
                )
            }
            Some(&RouteTarget::Broadcast { .. }) | None => {
                let code = icmpv6w::unreachable::NO_ROUTE;
                self.icmp6_error(t, ifindex, pkt, DropReason::NoRoute, Msg6::DstUnreachable, code, 0, false, now, io)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn forward6(
        &mut self,
        t: &Tables,
        ingress: u16,
        mut pkt: B,
        out: u16,
        nh: Ipv6Addr,
        l2_multicast: bool,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        if l2_multicast {
            return self.drop(DropReason::Ipv6L2Multicast);
        }
        let Some(egress) = t.iface(out) else { return self.drop(DropReason::NoRoute) };
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        let p = Ipv6Packet::new_unchecked(ip);
        if ipv6::is_link_local(&p.src()) {
            // RFC 4291 §2.5.6 / RFC 4443 §3.1 code 2.
            let code = icmpv6w::unreachable::BEYOND_SCOPE;
            let (r, m) = (DropReason::Ipv6BeyondScope, Msg6::DstUnreachable);
            return self.icmp6_error(t, ingress, pkt, r, m, code, 0, false, now, io);
        }
        if ipv6::is_extension(p.next_header()) {
            // Transit routers look at Hop-by-Hop only, but every header
            // must lie inside the packet (RFC 8200 §4).
            if let Err(e) = ipv6::walk_chain(ip, false) {
                return self.chain_error(t, ingress, pkt, e, now, io);
            }
        }
        let hop = p.hop_limit();
        if hop <= 1 {
            let (r, m) = (DropReason::HopLimitExpired, Msg6::TimeExceeded);
            return self.icmp6_error(t, ingress, pkt, r, m, 0, 0, false, now, io);
        }
        if ip.len() > usize::from(egress.mtu) {
            // RFC 8200 §5: routers never fragment; RFC 4443 §3.2 may go
            // to multicast too.
            let (r, m) = (DropReason::PacketTooBig, Msg6::PacketTooBig);
            return self.icmp6_error(t, ingress, pkt, r, m, 0, u32::from(egress.mtu), true, now, io);
        }
        if let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) {
            Ipv6Packet::new_unchecked(ip).set_hop_limit(hop - 1);
        }
        self.counters.forwarded += 1;
        self.counters.forwarded6 += 1;
        self.output(t, egress, out, IpAddr::V6(nh), pkt, now, io);
    }

    /// Drops or answers a packet whose extension headers were refused.
    fn chain_error(&mut self, t: &Tables, ingress: u16, pkt: B, e: ChainError, now: u64, io: &mut impl Io<B>) {
        match e {
            ChainError::Truncated => self.drop(DropReason::Ipv6ExtTruncated),
            ChainError::TooLong => self.drop(DropReason::Ipv6ExtTooLong),
            ChainError::Discard => self.drop(DropReason::Ipv6BadOption),
            ChainError::ParamProblem { code, pointer, multicast_ok } => {
                let (r, m) = (DropReason::Ipv6ParamProblem, Msg6::ParamProblem);
                self.icmp6_error(t, ingress, pkt, r, m, code, pointer, multicast_ok, now, io)
            }
        }
    }

    fn local6_input(&mut self, t: &Tables, ifindex: u16, pkt: B, now: u64, io: &mut impl Io<B>) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv6Truncated) };
        let chain = match ipv6::walk_chain(ip, true) {
            Ok(c) => c,
            Err(e) => return self.chain_error(t, ifindex, pkt, e, now, io),
        };
        if chain.fragment.is_some() {
            return self.drop(DropReason::LocalFragment);
        }
        match chain.protocol {
            nh::ICMPV6 => self.icmp6_input(t, ifindex, pkt, chain.offset, now, io),
            nh::UDP => {
                let (r, m, c) = (DropReason::LocalPortUnreachable, Msg6::DstUnreachable, icmpv6w::unreachable::PORT);
                self.icmp6_error(t, ifindex, pkt, r, m, c, 0, false, now, io)
            }
            nh::TCP => self.tcp_reset6(t, ifindex, pkt, chain.offset, now, io),
            nh::NO_NEXT => {
                self.counters.local += 1;
                self.counters.local6 += 1;
            }
            _ => {
                // RFC 8200 §4: unrecognized Next Header, pointing at it.
                let (r, m) = (DropReason::LocalProtocolUnreachable, Msg6::ParamProblem);
                self.icmp6_error(t, ifindex, pkt, r, m, 1, chain.nh_at as u32, false, now, io)
            }
        }
    }

    fn icmp6_input(&mut self, t: &Tables, ifindex: u16, pkt: B, off: usize, now: u64, io: &mut impl Io<B>) {
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
            Msg6::EchoRequest => self.echo_reply6(t, ifindex, pkt, off, now, io),
            Msg6::NeighborSolicit => self.neighbor_solicit_input(t, ifindex, pkt, off, now, io),
            Msg6::NeighborAdvert => self.neighbor_advert_input(t, ifindex, &pkt, off, now, io),
            Msg6::RouterSolicit => self.router_solicit_input(t, ifindex, &pkt, off, now, io),
            _ => self.drop(DropReason::IcmpIgnored),
        }
    }

    /// Echo Reply (RFC 4443 §4.2) in place, from the address pinged (or,
    /// for a multicast ping, our address towards the sender).
    fn echo_reply6(&mut self, t: &Tables, ifindex: u16, mut pkt: B, off: usize, now: u64, io: &mut impl Io<B>) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let reply_src = if dst.is_multicast() { t.iface(ifindex).and_then(|i| i.source_for6(&src)) } else { Some(dst) };
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
        self.route_own6(t, pkt, &src, ifindex, now, io);
    }

    /// Answers a Neighbor Solicitation for one of our addresses with a
    /// Neighbor Advertisement, in place (RFC 4861 §7.1.1, §7.2.3-4).
    #[allow(clippy::too_many_arguments)]
    fn neighbor_solicit_input(
        &mut self,
        t: &Tables,
        ifindex: u16,
        mut pkt: B,
        off: usize,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        let Some(ifc) = t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
        let data = pkt.data();
        let Some(ip) = data.get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let Some(msg) = ip.get(off..).filter(|m| m.len() >= icmpv6w::NS_LEN) else {
            return self.drop(DropReason::NdpMalformed);
        };
        let Some(target) = addr16(&msg[8..]) else { return self.drop(DropReason::NdpMalformed) };
        let Ok(opts) = icmpv6w::nd_options(&msg[icmpv6w::NS_LEN..]) else {
            return self.drop(DropReason::NdpMalformed);
        };
        let dad = src.is_unspecified();
        if target.is_multicast() || (dad && (!is_solicited_node(&dst) || opts.source_lladdr.is_some())) {
            return self.drop(DropReason::NdpMalformed);
        }
        if !ifc.has_addr6(&target) {
            return self.drop(DropReason::NdpNotForUs);
        }
        let eth_src = EthernetFrame::new_checked(data).map_or(MacAddr::ZERO, |e| e.src());
        if let (false, Some(sll)) = (dad, opts.source_lladdr) {
            // §7.2.3: create or update the sender's entry (STALE).
            self.learn_and_share(t, ifc, ifindex, IpAddr::V6(src), sll, Learn::RequestToUs, now, io);
        }
        // §7.2.4: to the solicitor, or to all-nodes for a DAD probe.
        let (ip_dst, mac_dst, solicited) = if dad {
            (ipv6::ALL_NODES, MacAddr(ipv6::multicast_mac(&ipv6::ALL_NODES)), 0)
        } else {
            (src, opts.source_lladdr.unwrap_or(eth_src), na_flags::SOLICITED)
        };
        let want = ETH_LEN + ipv6::HEADER_LEN + NEIGHBOR_MSG_LEN;
        if pkt.len() < want && !pkt.append(want - pkt.len()) {
            return self.drop(DropReason::NoHeadroom);
        }
        pkt.truncate(want);
        let flags = na_flags::ROUTER | na_flags::OVERRIDE | solicited;
        write_nd(&mut pkt, ifc.mac, mac_dst, &target, &ip_dst, Msg6::NeighborAdvert, flags, &target);
        self.counters.nd_adverts += 1;
        self.counters.local += 1;
        self.counters.local6 += 1;
        transmit(t, &self.macs, &mut self.counters, ifc, pkt, io);
    }

    /// Learns from a Neighbor Advertisement (RFC 4861 §7.1.2, §7.2.5):
    /// solicited ones confirm reachability; none creates an entry.
    fn neighbor_advert_input(&mut self, t: &Tables, ifindex: u16, pkt: &B, off: usize, now: u64, io: &mut impl Io<B>) {
        let Some(ifc) = t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let dst = Ipv6Packet::new_unchecked(ip).dst();
        let Some(msg) = ip.get(off..).filter(|m| m.len() >= icmpv6w::NS_LEN) else {
            return self.drop(DropReason::NdpMalformed);
        };
        let solicited = be32(msg, 4) & na_flags::SOLICITED != 0;
        let (Some(target), Ok(opts)) = (addr16(&msg[8..]), icmpv6w::nd_options(&msg[icmpv6w::NS_LEN..])) else {
            return self.drop(DropReason::NdpMalformed);
        };
        if target.is_multicast() || (dst.is_multicast() && solicited) {
            return self.drop(DropReason::NdpMalformed);
        }
        let Some(tll) = opts.target_lladdr.filter(|_| !ifc.has_addr6(&target)) else {
            self.counters.local += 1;
            self.counters.local6 += 1;
            return;
        };
        let how = if solicited { Learn::Reply } else { Learn::Other };
        self.learn_and_share(t, ifc, ifindex, IpAddr::V6(target), tll, how, now, io);
        self.counters.local += 1;
        self.counters.local6 += 1;
    }

    /// A Router Solicitation schedules an advertisement, no sooner than
    /// MIN_DELAY_BETWEEN_RAS after the last (RFC 4861 §6.1.1, §6.2.6).
    fn router_solicit_input(&mut self, t: &Tables, ifindex: u16, pkt: &B, off: usize, now: u64, io: &mut impl Io<B>) {
        let Some(ifc) = t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let src = Ipv6Packet::new_unchecked(ip).src();
        let Some(opts) = ip.get(off + icmpv6w::RS_LEN..).and_then(|o| icmpv6w::nd_options(o).ok()) else {
            return self.drop(DropReason::NdpMalformed);
        };
        if src.is_unspecified() && opts.source_lladdr.is_some() {
            return self.drop(DropReason::NdpMalformed);
        }
        if ifc.ra.is_none() {
            return self.drop(DropReason::NdpNotForUs);
        }
        if let (false, Some(sll)) = (src.is_unspecified(), opts.source_lladdr) {
            self.learn_and_share(t, ifc, ifindex, IpAddr::V6(src), sll, Learn::RequestToUs, now, io);
        }
        let i = usize::from(ifindex);
        let earliest = self.ra.last.get(i).copied().flatten().map_or(now, |l| now.max(l + MIN_DELAY_BETWEEN_RAS));
        if let Some(s) = self.ra.solicited.get_mut(i) {
            *s = Some(s.map_or(earliest, |x| x.min(earliest)));
        }
        self.counters.local += 1;
        self.counters.local6 += 1;
    }

    /// Sends the Router Advertisements that are due: periodic ones (the
    /// announcer only; faster at first, RFC 4861 §6.2.4) and answers to
    /// solicitations.
    pub(super) fn router_adverts_due(&mut self, t: &Tables, now: u64, io: &mut impl Io<B>) {
        for (i, ifc) in t.ifaces.iter().enumerate().take(MAX_IFACES) {
            let Some(ra) = &ifc.ra else { continue };
            let periodic = self.ra.announcer && self.ra.periodic.get(i).is_some_and(|&n| now >= n);
            let solicited = self.ra.solicited.get(i).copied().flatten().is_some_and(|s| now >= s);
            if !periodic && !solicited {
                continue;
            }
            self.send_router_advert(t, ifc, io);
            if let Some(l) = self.ra.last.get_mut(i) {
                *l = Some(now);
            }
            if let Some(s) = self.ra.solicited.get_mut(i) {
                *s = None;
            }
            if let (Some(sent), Some(next)) = (self.ra.sent.get_mut(i), self.ra.periodic.get_mut(i)) {
                *sent = sent.saturating_add(1);
                let gap = if *sent <= MAX_INITIAL_RTR_ADVERTISEMENTS {
                    ra.interval.min(MAX_INITIAL_RTR_ADVERT_INTERVAL)
                } else {
                    ra.interval
                };
                *next = now + gap;
            }
        }
    }

    /// A Router Advertisement to all-nodes from the link-local address
    /// (RFC 4861 §4.2, §6.2.3), with our MAC, the MTU and the prefixes.
    fn send_router_advert(&mut self, t: &Tables, ifc: &Interface, io: &mut impl Io<B>) {
        let (Some(ra), Some(ll)) = (&ifc.ra, ifc.link_local) else { return };
        let prefixes = &ra.prefixes[..ra.prefixes.len().min(MAX_RA_PREFIXES)];
        let mtu_len = if ra.mtu.is_some() { icmpv6w::MTU_OPT_LEN } else { 0 };
        let len = icmpv6w::RA_LEN + icmpv6w::LLADDR_OPT_LEN + mtu_len + prefixes.len() * icmpv6w::PREFIX_OPT_LEN;
        let Some(mut pkt) = io.alloc() else { return self.drop(DropReason::BufferExhausted) };
        if !pkt.append(ETH_LEN + ipv6::HEADER_LEN + len) {
            return self.drop(DropReason::BufferExhausted);
        }
        let dst = ipv6::ALL_NODES;
        let data = pkt.data_mut();
        write_headers(data, ifc.mac, MacAddr(ipv6::multicast_mac(&dst)), &ll, &dst, len);
        let msg = &mut data[ETH_LEN + ipv6::HEADER_LEN..];
        RaHeader {
            cur_hop_limit: ra.hop_limit,
            managed: ra.managed,
            other: ra.other,
            router_lifetime: ra.router_lifetime,
            reachable_time: 0,
            retrans_timer: 0,
        }
        .emit(msg);
        let mut at = icmpv6w::RA_LEN;
        icmpv6w::emit_lladdr(&mut msg[at..], 1, ifc.mac);
        at += icmpv6w::LLADDR_OPT_LEN;
        if let Some(mtu) = ra.mtu {
            msg[at..at + 4].copy_from_slice(&[5, 1, 0, 0]);
            msg[at + 4..at + 8].copy_from_slice(&mtu.to_be_bytes());
            at += icmpv6w::MTU_OPT_LEN;
        }
        for pi in prefixes {
            pi.emit(&mut msg[at..]);
            at += icmpv6w::PREFIX_OPT_LEN;
        }
        if let Ok(mut icmp) = icmpv6w::Icmpv6Packet::new_checked(&mut msg[..len]) {
            icmp.fill_checksum(&ll, &dst);
        }
        self.counters.router_adverts += 1;
        transmit(t, &self.macs, &mut self.counters, ifc, pkt, io);
    }

    /// A Neighbor Solicitation for `target`: to its solicited-node group,
    /// or unicast to `unicast` to probe a stale entry (RFC 4861 §7.2.2).
    pub(super) fn send_neighbor_solicit(
        &mut self,
        t: &Tables,
        ifindex: u16,
        target: &Ipv6Addr,
        unicast: Option<MacAddr>,
        io: &mut impl Io<B>,
    ) {
        let Some(ifc) = t.iface(ifindex) else { return };
        let Some(src) = ifc.source_for6(target) else { return };
        let Some(mut pkt) = io.alloc() else { return self.drop(DropReason::BufferExhausted) };
        if !pkt.append(ETH_LEN + ipv6::HEADER_LEN + NEIGHBOR_MSG_LEN) {
            return self.drop(DropReason::BufferExhausted);
        }
        let (dst, mac) = match unicast {
            Some(m) => (*target, m),
            None => {
                let group = ipv6::solicited_node(target);
                (group, MacAddr(ipv6::multicast_mac(&group)))
            }
        };
        write_nd(&mut pkt, ifc.mac, mac, &src, &dst, Msg6::NeighborSolicit, 0, target);
        self.counters.nd_solicits += 1;
        transmit(t, &self.macs, &mut self.counters, ifc, pkt, io);
    }

    /// Answers a segment to a closed port with RST (RFC 9293 §3.10.7.1).
    fn tcp_reset6(&mut self, t: &Tables, ifindex: u16, mut pkt: B, off: usize, now: u64, io: &mut impl Io<B>) {
        self.drop(DropReason::LocalTcpClosed);
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let p = Ipv6Packet::new_unchecked(ip);
        let (src, dst) = (p.src(), p.dst());
        let Some(seg) = ip.get(off..) else { return };
        if dst.is_multicast() || !ipv6::verify_upper_checksum(&src, &dst, nh::TCP, seg) {
            return;
        }
        let Ok(seg) = TcpPacket::new_checked(seg) else { return };
        let Some((seq, ack, flags)) = tcp::rst_for(&seg) else { return };
        let (sport, dport) = (seg.src_port(), seg.dst_port());
        pkt.truncate(ETH_LEN + ipv6::HEADER_LEN + tcp::HEADER_LEN);
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return };
        let Some(Ok(mut s)) = ip.get_mut(ipv6::HEADER_LEN..).map(TcpPacket::new_checked) else { return };
        s.set_ports(dport, sport);
        s.set_seq(seq);
        s.set_ack(ack);
        s.set_header_len_flags(tcp::HEADER_LEN, flags);
        s.set_window(0);
        s.set_urgent(0);
        let seg = &mut ip[ipv6::HEADER_LEN..];
        seg[16..18].copy_from_slice(&[0, 0]);
        let c = ipv6::upper_checksum(&dst, &src, nh::TCP, seg);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        Ipv6Repr { src: dst, dst: src, next_header: nh::TCP, payload_len: tcp::HEADER_LEN, hop_limit: 64 }
            .emit(&mut Ipv6Packet::new_unchecked(&mut *ip));
        self.route_own6(t, pkt, &src, ifindex, now, io);
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
    fn route_own6(&mut self, t: &Tables, pkt: B, dst: &Ipv6Addr, ingress: u16, now: u64, io: &mut impl Io<B>) {
        let hash = pkt.data().get(ETH_LEN..).map_or(0, flow_hash6);
        match self.route6(t, dst, ingress, hash) {
            Some((out, nh)) => match t.iface(out) {
                Some(egress) => self.output(t, egress, out, IpAddr::V6(nh), pkt, now, io),
                None => self.drop(DropReason::NoRoute),
            },
            None => self.drop(DropReason::NoRoute),
        }
    }

    /// A forwarded packet whose next hop did not resolve: Address
    /// Unreachable (RFC 4861 §7.2.2, RFC 4443 §3.1 code 3).
    pub(super) fn unresolved6(&mut self, t: &Tables, pkt: B, now: u64, io: &mut impl Io<B>) {
        let ingress = t.iface_of_port(pkt.port()).unwrap_or(0);
        let (r, m, c) = (DropReason::NeighborUnresolved, Msg6::DstUnreachable, icmpv6w::unreachable::ADDRESS);
        self.icmp6_error(t, ingress, pkt, r, m, c, 0, false, now, io);
    }

    /// Counts `reason`, then answers with an ICMPv6 error if RFC 4443
    /// §2.4 and the rate limit allow. `ingress`: the interface the packet
    /// came in on (the way back to a link-local source).
    #[allow(clippy::too_many_arguments)]
    fn icmp6_error(
        &mut self,
        t: &Tables,
        ingress: u16,
        mut pkt: B,
        reason: DropReason,
        msg: Msg6,
        code: u8,
        rest: u32,
        multicast_ok: bool,
        now: u64,
        io: &mut impl Io<B>,
    ) {
        self.drop(reason);
        let data = pkt.data();
        let l2_multicast = data.first().is_some_and(|b| b & 1 != 0);
        let Some(ip) = data.get(ETH_LEN..) else { return };
        if !icmp6::error_allowed(l2_multicast, ip, multicast_ok) {
            return;
        }
        let orig_src = Ipv6Packet::new_unchecked(ip).src();
        let Some((out, nh)) = self.route6(t, &orig_src, ingress, flow_hash6(ip)) else { return };
        let Some(egress) = t.iface(out) else { return };
        // RFC 4443 §2.2: an address of ours that helps diagnose: the one
        // facing the packet's source.
        let Some(src) = egress.source_for6(&orig_src) else { return };
        if !self.icmp6_limit.allow(now) {
            self.counters.icmp_rate_limited += 1;
            return;
        }
        if !icmp6::build_error(&mut pkt, &src, msg, code, rest) {
            return self.drop(DropReason::NoHeadroom);
        }
        self.counters.icmp_errors += 1;
        self.counters.icmp6_errors += 1;
        self.output(t, egress, out, IpAddr::V6(nh), pkt, now, io);
    }
}

/// Writes Ethernet and IPv6 headers (hop limit 255, ICMPv6) for an ND
/// message of `len` bytes.
fn write_headers(data: &mut [u8], src_mac: MacAddr, dst_mac: MacAddr, src: &Ipv6Addr, dst: &Ipv6Addr, len: usize) {
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

/// Fills `pkt` (Ethernet + IPv6 + NS/NA with one link-layer option) with
/// a Neighbor Solicitation or Advertisement about `target`.
#[allow(clippy::too_many_arguments)]
fn write_nd<B: PacketBuf>(
    pkt: &mut B,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    msg: Msg6,
    flags: u32,
    target: &Ipv6Addr,
) {
    let data = pkt.data_mut();
    write_headers(data, src_mac, dst_mac, src, dst, NEIGHBOR_MSG_LEN);
    let Some(m) = data.get_mut(ETH_LEN + ipv6::HEADER_LEN..) else { return };
    icmpv6w::emit_neighbor_msg(m, msg, flags, target, src_mac);
    if let Ok(mut icmp) = icmpv6w::Icmpv6Packet::new_checked(&mut m[..NEIGHBOR_MSG_LEN]) {
        icmp.fill_checksum(src, dst);
    }
}

/// Flow hash for IPv6 ECMP: addresses, flow label, next header and, when
/// TCP or UDP follows the fixed header, the ports.
#[inline(always)]
pub(super) fn flow_hash6(ip: &[u8]) -> u32 {
    if ip.len() < ipv6::HEADER_LEN {
        return 0;
    }
    let mut h = u64::from(be32(ip, 20)) << 32 | u64::from(be32(ip, 36));
    h ^= u64::from(be32(ip, 16) ^ be32(ip, 32)) << 16;
    h ^= u64::from(be32(ip, 0) & 0x000f_ffff) << 20;
    let next = ip[6];
    h ^= u64::from(next);
    if (next == nh::TCP || next == nh::UDP) && ip.len() >= ipv6::HEADER_LEN + 4 {
        h ^= u64::from(be32(ip, ipv6::HEADER_LEN)) << 8;
    }
    let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as u32 ^ h as u32
}
