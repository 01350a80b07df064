//! Tunnels: what a tunnel interface sends is wrapped in outer headers
//! written into the buffer's headroom (no copy) and routed to the far
//! end as the gateway's own packet; what comes from the far end to our
//! address is matched to its interface, unwrapped by moving the start
//! of the buffer, and goes on as if received on that interface.
//!
//! GRE (RFC 2784, the key of RFC 2890), IP in IP (RFC 2003, RFC 4213's
//! 6in4, RFC 2473 over IPv6). The outer header takes the inner DSCP
//! (the uniform model, RFC 2983) and ECN (RFC 6040 §4.1, normal mode);
//! on the way in, ECN is combined by RFC 6040 §4.2. The inner TTL was
//! decremented by forwarding before; the outer one is the tunnel's, and
//! the inner one is not touched on the way in (RFC 2003 §3.1). An IPv4
//! packet's DF goes to the outer header (RFC 2003 §5.1); the outer header
//! of IPv6 carries none, so the underlay may fragment it.

use super::io::Burst;
use super::ip4::flow_hash;
use super::ip6::flow_hash6;
use super::output::ip_version;
use super::tunnel_error::quoted_tunnel;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::iface::{Interface, Tables, Tunnel, TunnelKey, TunnelKind};
use crate::path_mtu::PathKey;
use crate::wire::checksum;
use crate::wire::ethernet::{ethertype, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::gre::GreRepr;
use crate::wire::ip::{ecn, protocol};
use crate::wire::ipv4::{self, Ipv4Packet, Ipv4Repr};
use crate::wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use crate::wire::{be16, put16, EtherType, MacAddr};
use std::net::IpAddr;

/// A received packet for one of our addresses whose protocol is a
/// tunnel's: its outer addresses, protocol, where its payload starts in
/// the frame, and its traffic class.
#[derive(Copy, Clone, Debug)]
pub(super) struct Outer {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Ethernet and outer IP headers (extension headers included).
    pub len: usize,
    pub tos: u8,
}

/// True for the protocols tunnels arrive by.
pub(super) fn is_tunnel_protocol(p: u8) -> bool {
    matches!(p, protocol::GRE | protocol::IPIP | protocol::IPV6)
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// A tunnel packet for us: unwrapped and received on its interface.
    /// Given back if no tunnel has these ends, for the caller to answer
    /// as for any protocol nobody serves.
    pub(super) fn tunnel_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B, outer: Outer) -> Option<B> {
        let payload = pkt.data().get(outer.len..).unwrap_or_default();
        let (key, shim, inner_type) = match outer.protocol {
            protocol::GRE => match GreRepr::parse(payload) {
                Ok(g) => (g.key, g.len, g.protocol),
                Err(_) => {
                    self.drop(DropReason::TunnelMalformed);
                    return None;
                }
            },
            protocol::IPIP => (None, 0, ethertype::IPV4),
            _ => (None, 0, ethertype::IPV6),
        };
        let key = TunnelKey { local: outer.dst, remote: outer.src, protocol: outer.protocol, key };
        let Some(ifindex) = cx.t.tunnel(&key) else { return Some(pkt) };
        let ifc = cx.t.iface(ifindex)?;
        let at = outer.len + shim;
        let version = pkt.data().get(at).map_or(0, |b| b >> 4);
        let min = match (inner_type, version) {
            (ethertype::IPV4, 4) => ipv4::HEADER_LEN,
            (ethertype::IPV6, 6) => ipv6::HEADER_LEN,
            _ => usize::MAX,
        };
        // A whole inner header at least: its ECN is read next.
        if pkt.len().saturating_sub(at) < min {
            self.drop(DropReason::TunnelMalformed);
            return None;
        }
        if self.decapsulating {
            // A tunnel packet inside a tunnel packet, both for us.
            self.drop(DropReason::TunnelNested);
            return None;
        }
        // RFC 6040 §4.2: the outer ECN field, combined into the inner.
        let inner = pkt.data_mut().get_mut(at..)?;
        if !merge_ecn(inner, outer.tos) {
            self.drop(DropReason::TunnelEcn);
            return None;
        }
        if !reframe(&mut pkt, at, ifc.mac, version == 6) {
            return None;
        }
        self.counters.decapsulated += 1;
        self.receive_inner(cx, ifindex, pkt);
        None
    }

    /// A packet unwrapped from tunnel interface `ifindex` (a fresh
    /// Ethernet header, then the inner packet): received on it.
    pub(super) fn receive_inner(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B) {
        self.decapsulating = true;
        self.rx_if = ifindex;
        match ip_version(&pkt) {
            4 => self.ipv4_input(cx, pkt, false),
            6 if cx.t.iface(ifindex).is_some_and(|i| i.ipv6()) => self.ipv6_input(cx, ifindex, pkt, false),
            6 => self.drop(DropReason::Ipv6Disabled),
            _ => self.drop(DropReason::TunnelMalformed),
        }
        self.decapsulating = false;
    }

    /// Wraps `pkt` (an IP packet leaving by a tunnel interface, its
    /// Ethernet header still to write) for `tun` and routes it to the
    /// far end.
    pub(super) fn encapsulate(&mut self, cx: &mut Burst<'_, impl Io<B>>, tun: Tunnel, mut pkt: B) {
        if self.encapsulating {
            // The far end is routed into a tunnel itself.
            return self.drop(DropReason::TunnelLoop);
        }
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let (tos, len, df, flow, inner_type) = match ip_version(&pkt) {
            4 if ip.len() >= ipv4::HEADER_LEN => {
                let p = Ipv4Packet::new_unchecked(ip);
                (p.tos(), ip.len(), p.dont_frag(), flow_hash(ip), ethertype::IPV4)
            }
            6 if ip.len() >= ipv6::HEADER_LEN => {
                let tc = Ipv6Packet::new_unchecked(ip).traffic_class();
                (tc, ip.len(), false, flow_hash6(ip), ethertype::IPV6)
            }
            _ => return self.drop(DropReason::TunnelMalformed),
        };
        let (proto, shim) = match tun.kind {
            TunnelKind::Gre { key } => (protocol::GRE, GreRepr::emitted_len(key)),
            TunnelKind::Ip if inner_type == ethertype::IPV4 => (protocol::IPIP, 0),
            TunnelKind::Ip => (protocol::IPV6, 0),
        };
        let outer_ip = if tun.remote.is_ipv6() { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN };
        let ident = self.next_ident();
        if !pkt.prepend(outer_ip + shim) {
            return self.drop(DropReason::NoHeadroom);
        }
        let Some(h) = pkt.data_mut().get_mut(ETH_LEN..ETH_LEN + outer_ip + shim) else { return };
        let (head, gre) = h.split_at_mut(outer_ip);
        match (tun.local, tun.remote) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let (payload_len, ttl, protocol) = (shim + len, tun.ttl, proto.into());
                let repr = Ipv4Repr { src, dst, protocol, payload_len, ttl, tos, ident, dont_frag: df };
                repr.emit(&mut Ipv4Packet::new_unchecked(head));
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let repr = Ipv6Repr { src, dst, next_header: proto, payload_len: shim + len, hop_limit: tun.ttl };
                let mut p = Ipv6Packet::new_unchecked(head);
                repr.emit(&mut p);
                // RFC 6438: a flow label from the inner flow, for ECMP.
                p.set_ver_tc_flow(tos, flow & 0x000f_ffff);
            }
            _ => return self.drop(DropReason::TunnelMalformed),
        }
        if let TunnelKind::Gre { key } = tun.kind {
            GreRepr::emit(gre, inner_type, key);
        }
        self.counters.encapsulated += 1;
        self.encapsulating = true;
        // As the outer packet's source we cut it to fit its path, if the
        // underlay reported one (RFC 2473 §7.1: IPv6 routers do not).
        self.outer_mtu = self.path_mtus.get(PathKey::of_tunnel(&tun), cx.now).unwrap_or(u16::MAX);
        match tun.remote {
            IpAddr::V4(dst) => self.route_own(cx, pkt, dst),
            IpAddr::V6(dst) => self.route_own6(cx, pkt, &dst, 0),
        }
        self.outer_mtu = u16::MAX;
        self.encapsulating = false;
    }

    /// The MTU packets leaving by `egress` must fit: its own, or, for a
    /// tunnel, less if the underlay reported a smaller path
    /// ([`crate::path_mtu`]); while a tunnel's outer packet is routed,
    /// no more than that path's.
    #[inline]
    pub(super) fn mtu_of(&self, egress: &Interface, now: u64) -> u16 {
        match egress.tunnel {
            None => egress.mtu.min(self.outer_mtu),
            Some(tun) => self.path_mtus.of_tunnel(&tun, egress.mtu, now),
        }
    }

    /// As [`Router::mtu_of`], for IPv6: into a tunnel, 1280 bytes always
    /// go, and what its path cannot carry goes in fragments outside (RFC
    /// 2473 §7.1, RFC 4213 §3.2).
    #[inline]
    pub(super) fn mtu6_of(&self, egress: &Interface, now: u64) -> u16 {
        match egress.tunnel {
            None => self.mtu_of(egress, now),
            Some(_) => self.mtu_of(egress, now).max(ipv6::MIN_MTU as u16),
        }
    }

    /// A Fragmentation Needed or Packet Too Big for us, of `reported`
    /// bytes, quoting `quoted`: if that is the outer header of a packet
    /// of one of our tunnels (from our end to its far end, by its
    /// protocol and GRE key), the path's estimate is lowered (RFC 2003
    /// §4, RFC 2473 §8). False if it names no tunnel of ours.
    pub(super) fn tunnel_path_mtu(&mut self, t: &Tables, quoted: &[u8], reported: u32, now: u64) -> bool {
        let Some(q) = quoted_tunnel(t, quoted) else { return false };
        if self.path_mtus.report(PathKey::of(q.local, q.remote), reported, q.v6, now) {
            self.counters.tunnel_path_mtu_updates += 1;
            // The memo may hold the tunnel's old MTU.
            self.adj_memo = super::adjacency::AdjMemo::NONE;
        }
        true
    }
}

/// Makes the frame start a fresh Ethernet header (to and from `mac`, for
/// IPv6 if `v6`, else IPv4) right before the inner packet at `at`, over
/// the end of the outer headers. False if `at` leaves no room for it.
pub(super) fn reframe<B: PacketBuf>(pkt: &mut B, at: usize, mac: MacAddr, v6: bool) -> bool {
    if at < ETH_LEN || !pkt.adj(at - ETH_LEN) {
        return false;
    }
    if let Ok(mut eth) = EthernetFrame::new_checked(pkt.data_mut()) {
        eth.set_dst(mac);
        eth.set_src(mac);
        eth.set_ethertype(if v6 { EtherType::Ipv6 } else { EtherType::Ipv4 });
    }
    true
}

/// Combines the outer ECN field into the inner packet `ip` (RFC 6040
/// §4.2); false, and `ip` untouched, if the packet must be dropped.
pub(super) fn merge_ecn(ip: &mut [u8], outer_tos: u8) -> bool {
    let (Some(&first), Some(&second)) = (ip.first(), ip.get(1)) else { return false };
    // IPv4's TOS byte; IPv6's traffic class straddles bytes 0 and 1.
    let inner = if first >> 4 == 4 { second } else { (first & 0x0f) << 4 | second >> 4 };
    let Some(merged) = ecn::decapsulate(inner, outer_tos) else { return false };
    if merged == inner & ecn::MASK {
        return true;
    }
    if first >> 4 == 4 && ip.len() >= ipv4::HEADER_LEN {
        let old = be16(ip, 0);
        ip[1] = (ip[1] & !ecn::MASK) | merged;
        let c = checksum::update16(be16(ip, ipv4::field::CHECKSUM), old, be16(ip, 0));
        put16(ip, ipv4::field::CHECKSUM, c);
    } else if let Some(b) = ip.get_mut(1) {
        // The traffic class straddles bytes 0 and 1: ECN is bits 4..6 of byte 1.
        *b = (*b & !(ecn::MASK << 4)) | (merged << 4);
    }
    true
}
