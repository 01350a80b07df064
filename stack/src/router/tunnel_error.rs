//! ICMP errors from within a tunnel. A router between a tunnel's ends
//! that cannot deliver an outer packet (no route, its TTL run out) tells
//! our end, the outer packet's source, and quotes it. Where the quote goes
//! on into the inner packet (its header and 8 bytes; routers quote up to
//! 576 bytes, RFC 1812 §4.3.2.3, or 1280, RFC 4443 §2.4(c)), the inner
//! packet's sender is told in turn that its destination is unreachable
//! (RFC 2003 §4.1, RFC 2473 §8.1) instead of waiting out a timeout.
//! Fragmentation Needed and Packet Too Big lower the tunnel's MTU instead
//! ([`Router::tunnel_path_mtu`]).

use super::io::Burst;
use super::ip6::Error6;
use super::tunnel::{is_tunnel_protocol, reframe};
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::iface::{Tables, TunnelKey};
use crate::wire::be16;
use crate::wire::ethernet::ethertype;
use crate::wire::gre::{self, GreRepr};
use crate::wire::icmpv4::{self, Message};
use crate::wire::icmpv6::{self, Message as Msg6};
use crate::wire::ip::protocol;
use std::net::IpAddr;

/// What the inner packet's sender is told: its destination is
/// unreachable, as a network or as a host.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Unreachable {
    Net,
    Host,
}

impl Unreachable {
    /// RFC 2003 §4.1, for an ICMPv4 error about an outer packet. Protocol
    /// Unreachable (the far end takes no tunnels) becomes Host
    /// Unreachable, as the sender never used the tunnel's protocol; so does
    /// Time Exceeded (a loop within the tunnel). Port Unreachable cannot
    /// be about a tunnel, and Source Route Failed, Source Quench, Redirect
    /// and Parameter Problem (about headers we wrote) MUST NOT be relayed.
    pub(super) fn of_icmp4(msg: Message, code: u8) -> Option<Unreachable> {
        use icmpv4::unreachable as u;
        match (msg, code) {
            (Message::DstUnreachable, u::NET | u::NET_UNKNOWN | u::NET_FOR_TOS) => Some(Unreachable::Net),
            (
                Message::DstUnreachable,
                u::HOST
                | u::PROTOCOL
                | u::HOST_UNKNOWN
                | u::HOST_FOR_TOS
                | u::NET_PROHIBITED
                | u::HOST_PROHIBITED
                | u::ADMIN_PROHIBITED,
            ) => Some(Unreachable::Host),
            (Message::TimeExceeded, _) => Some(Unreachable::Host),
            _ => None,
        }
    }

    /// RFC 2473 §8.1 (a), (b), for an ICMPv6 error about an outer packet:
    /// Hop Limit Exceeded and Destination Unreachable become "unreachable
    /// node" for the sender. Port Unreachable cannot be about a tunnel.
    pub(super) fn of_icmp6(msg: Msg6, code: u8) -> Option<Unreachable> {
        match msg {
            Msg6::DstUnreachable if code != icmpv6::unreachable::PORT => Some(Unreachable::Host),
            Msg6::TimeExceeded => Some(Unreachable::Host),
            _ => None,
        }
    }
}

/// One of our tunnels' outer packets, as an ICMP error quotes it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct QuotedTunnel {
    pub ifindex: u16,
    pub local: IpAddr,
    pub remote: IpAddr,
    /// The outer header is IPv6.
    pub v6: bool,
    /// Where the inner packet starts in the quote.
    pub inner: usize,
    /// The inner packet is IPv6.
    pub inner_v6: bool,
}

/// The tunnel whose outer packet `quote` (an ICMP error's quote) is: from
/// its `local` to its `remote`, by its protocol and, for GRE, its key as
/// we send it. None if it is no packet of ours.
pub(super) fn quoted_tunnel(t: &Tables, quote: &[u8]) -> Option<QuotedTunnel> {
    let q = crate::icmp::quoted(quote).filter(|q| is_tunnel_protocol(q.protocol))?;
    let (key, shim, inner_v6) = match q.protocol {
        protocol::GRE => {
            let gre = quote.get(q.at..)?;
            let key = GreRepr::quoted_key(gre)?;
            (key, GreRepr::emitted_len(key), be16(gre, gre::field::PROTOCOL) == ethertype::IPV6)
        }
        protocol::IPIP => (None, 0, false),
        _ => (None, 0, true),
    };
    let ifindex = t.tunnel(&TunnelKey { local: q.src, remote: q.dst, protocol: q.protocol, key })?;
    Some(QuotedTunnel { ifindex, local: q.src, remote: q.dst, v6: q.v6, inner: q.at + shim, inner_v6 })
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// An ICMP error for us that, if its quote (from byte `at` of the
    /// frame) is one of our tunnels' outer packets, is taken: its inner
    /// packet's sender is told `what`, if the quote holds enough of that
    /// packet. Given back if it names no tunnel of ours.
    pub(super) fn tunnel_error(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        mut pkt: B,
        at: usize,
        what: Unreachable,
    ) -> Option<B> {
        let quote = pkt.data().get(at..).unwrap_or_default();
        let Some(q) = quoted_tunnel(cx.t, quote) else { return Some(pkt) };
        let inner = at + q.inner;
        let ip = pkt.data().get(inner..).unwrap_or_default();
        // The inner header and the 8 bytes after it that name the
        // sender's flow (RFC 792), of the family the tunnel says.
        let named = crate::icmp::quoted(ip).is_some_and(|h| h.v6 == q.inner_v6 && ip.len() >= h.at + 8);
        if !named {
            // RFC 2003 §4: a router that quotes 8 bytes shows only the
            // outer packet; its sender cannot be named.
            self.drop(DropReason::TunnelErrorShort);
            return None;
        }
        let mac = cx.t.iface(q.ifindex)?.mac;
        // The inner packet behind a fresh Ethernet header, as if it had
        // been dropped on its way out of the tunnel interface.
        if !reframe(&mut pkt, inner, mac, q.inner_v6) {
            return None;
        }
        let reason = DropReason::TunnelUnreachable;
        if q.inner_v6 {
            let code = match what {
                Unreachable::Net => icmpv6::unreachable::NO_ROUTE,
                Unreachable::Host => icmpv6::unreachable::ADDRESS,
            };
            let error = Error6 { msg: Msg6::DstUnreachable, code, rest: 0 };
            self.icmp6_error(cx, q.ifindex, pkt, reason, error, false);
        } else {
            let code = match what {
                Unreachable::Net => icmpv4::unreachable::NET,
                Unreachable::Host => icmpv4::unreachable::HOST,
            };
            self.icmp_error(cx, pkt, reason, Message::DstUnreachable, code, 0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_sender_is_told_rfc2003_4_1_rfc2473_8_1() {
        use icmpv4::unreachable as u;
        let of4 = |m, c| Unreachable::of_icmp4(m, c);
        for c in [u::NET, u::NET_UNKNOWN, u::NET_FOR_TOS] {
            assert_eq!(of4(Message::DstUnreachable, c), Some(Unreachable::Net), "code {c}");
        }
        for c in [
            u::HOST,
            u::PROTOCOL,
            u::HOST_UNKNOWN,
            u::HOST_FOR_TOS,
            u::NET_PROHIBITED,
            u::HOST_PROHIBITED,
            u::ADMIN_PROHIBITED,
        ] {
            assert_eq!(of4(Message::DstUnreachable, c), Some(Unreachable::Host), "code {c}");
        }
        assert_eq!(of4(Message::TimeExceeded, icmpv4::time_exceeded::TTL), Some(Unreachable::Host));
        for c in [u::PORT, u::FRAG_NEEDED, u::SOURCE_ROUTE_FAILED] {
            assert_eq!(of4(Message::DstUnreachable, c), None, "code {c}");
        }
        assert_eq!(of4(Message::ParamProblem, 0), None);
        assert_eq!(of4(Message::Redirect, 0), None);
        let of6 = |m, c| Unreachable::of_icmp6(m, c);
        assert_eq!(of6(Msg6::DstUnreachable, icmpv6::unreachable::NO_ROUTE), Some(Unreachable::Host));
        assert_eq!(of6(Msg6::TimeExceeded, 0), Some(Unreachable::Host));
        assert_eq!(of6(Msg6::DstUnreachable, icmpv6::unreachable::PORT), None);
        assert_eq!(of6(Msg6::ParamProblem, 0), None);
        assert_eq!(of6(Msg6::PacketTooBig, 0), None);
    }
}
