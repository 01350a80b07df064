//! ICMP errors about packets the router drops (RFC 1812 §4.3.2): never
//! about an error, a broadcast or a later fragment (§4.3.2.7), from the
//! egress interface's address (§4.3.2.4), rate limited (§4.3.2.8).

use super::io::Burst;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::fib::RouteTarget;
use crate::hooks::Translator;
use crate::icmp::{self};
use crate::iface::Tables;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv4::{self, Icmpv4Repr, Message};
use crate::wire::ipv4::Ipv4Packet;
use std::net::{IpAddr, Ipv4Addr};

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// A packet translation refused for lack of resources: counted, and
    /// answered with Destination Unreachable, communication
    /// administratively prohibited (RFC 5508 REQ-8).
    pub(super) fn refuse(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, reason: DropReason) {
        let code = icmpv4::unreachable::ADMIN_PROHIBITED;
        self.icmp_error(cx, pkt, reason, Message::DstUnreachable, code, 0)
    }

    /// Counts `reason`, then answers with an ICMP error if RFC 1812
    /// §4.3.2.7 and the rate limit allow.
    pub(super) fn icmp_error(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        pkt: B,
        reason: DropReason,
        msg: Message,
        code: u8,
        rest: u32,
    ) {
        self.drop(reason);
        if let Some((pkt, dst)) = self.build_icmp_error(cx.t, pkt, msg, code, rest, cx.now) {
            self.route_own(cx, pkt, dst);
        }
    }

    /// Builds the error if allowed, returning it with its destination, or
    /// `None` when it is suppressed (the packet is then dropped).
    pub(super) fn build_icmp_error(
        &mut self,
        t: &Tables,
        mut pkt: B,
        msg: Message,
        code: u8,
        rest: u32,
        now: u64,
    ) -> Option<(B, Ipv4Addr)> {
        if let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) {
            self.nat.untranslate(t, ip);
        }
        let data = pkt.data();
        let l2_multicast = data.first().is_some_and(|b| b & 1 != 0);
        let ip = data.get(ETH_LEN..)?;
        if !icmp::error_allowed(l2_multicast, ip) {
            return None;
        }
        let orig_src = Ipv4Packet::new_unchecked(ip).src();
        // RFC 1812 §4.3.2.4: the source is an address of the interface the
        // error leaves by.
        let out = match t.fib.lookup(orig_src)? {
            RouteTarget::Connected { ifindex } => *ifindex,
            RouteTarget::Via { first, count } => t.fib.nexthop(*first, *count, 0)?.ifindex,
            _ => return None,
        };
        let src = t.iface(out)?.source_for(orig_src)?;
        // Path MTU Discovery's error is held to its destination's bucket
        // only; others to the worker-wide one too.
        let pmtu = msg == Message::DstUnreachable && code == icmpv4::unreachable::FRAG_NEEDED;
        if !self.icmp_dest.allow(IpAddr::V4(orig_src), now) || (!pmtu && !self.icmp_limit.allow(now)) {
            self.counters.icmp_rate_limited += 1;
            return None;
        }
        let ident = self.next_ident();
        if !icmp::build_error(&mut pkt, src, ident, Icmpv4Repr::Error { msg, code, rest }) {
            self.drop(DropReason::NoHeadroom);
            return None;
        }
        self.counters.icmp_errors += 1;
        Some((pkt, orig_src))
    }
}
