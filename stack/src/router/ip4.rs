//! IPv4 input and forwarding (RFC 1812): the header checks of §5.2.2,
//! source and destination checks (§5.3.7), the NAT hooks around the FIB
//! lookup, TTL (§5.3.1) and the MTU check, then output.

use super::io::Burst;
use super::{hold::Stage, options, Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::fib::RouteTarget;
use crate::hooks::{Translator, Verdict};
use crate::iface::Interface;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv4::{self, Message};
use crate::wire::ip::protocol;
use crate::wire::ipv4::{self, field, Ipv4Packet};
use crate::wire::{be16, be32};
use std::net::Ipv4Addr;

impl<B: PacketBuf, N: Translator> Router<B, N> {
    #[inline]
    pub(super) fn ipv4_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B, l2_multicast: bool) {
        // RFC 1812 §5.2.2, each failure its own counter.
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        if ip.len() < ipv4::HEADER_LEN {
            return self.drop(DropReason::Ipv4Truncated);
        }
        let p = Ipv4Packet::new_unchecked(ip);
        if p.version() != 4 {
            return self.drop(DropReason::Ipv4BadVersion);
        }
        let hl = p.header_len();
        if hl < ipv4::HEADER_LEN || hl > ip.len() {
            return self.drop(DropReason::Ipv4BadHeaderLength);
        }
        let tl = usize::from(p.total_len());
        if tl < hl || tl > ip.len() {
            return self.drop(DropReason::Ipv4BadTotalLength);
        }
        if !p.verify_checksum() {
            return self.drop(DropReason::Ipv4BadChecksum);
        }
        let (src, dst) = (p.src(), p.dst());
        if ipv4::is_martian_source(src) {
            return self.drop(DropReason::Ipv4MartianSource);
        }
        let options = if hl > ipv4::HEADER_LEN {
            match ipv4::check_options(p.options()) {
                Ok(()) => self.check_options4(cx.t, ip),
                Err(pointer) => options::Verdict::Problem(pointer),
            }
        } else {
            options::Verdict::Pass
        };
        pkt.truncate(ETH_LEN + tl); // drop Ethernet padding
        match options {
            options::Verdict::Pass => {}
            options::Verdict::Problem(pointer) => {
                // RFC 1812 §5.2.5 / RFC 792: Parameter Problem pointing at the byte.
                let rest = u32::from(pointer) << 24;
                return self.icmp_error(cx, pkt, DropReason::Ipv4BadOptions, Message::ParamProblem, 0, rest);
            }
            options::Verdict::Drop(r) => return self.drop(r),
        }
        if super::punt::is_local_control4(dst) {
            // OSPF, VRRP and the like: the kernel's, if the interface has a twin.
            return self.punt_or_drop(cx, self.rx_if, pkt, src.into(), DropReason::Ipv4Broadcast);
        }
        if dst.is_broadcast() || dst.is_multicast() {
            return self.drop(DropReason::Ipv4Broadcast);
        }
        if ipv4::is_martian_destination(dst) {
            return self.drop(DropReason::Ipv4MartianDestination);
        }
        self.translate_in(cx, pkt, l2_multicast);
    }

    /// Inbound translation, which may rewrite the destination; then
    /// routing of that one.
    #[inline]
    pub(super) fn translate_in(&mut self, cx: &mut Burst<'_, impl Io<B>>, mut pkt: B, l2_multicast: bool) {
        let dst = match pkt.data_mut().get_mut(ETH_LEN..) {
            Some(ip) => match self.nat.prerouting(cx.t, ip, cx.now) {
                Verdict::Pass => Ipv4Packet::new_unchecked(&*ip).dst(),
                Verdict::Drop(r) => return self.drop(r),
                Verdict::Refuse(r) => return self.refuse(cx, pkt, r),
                Verdict::Hold => return self.hold(pkt, Stage::Pre { l2_multicast }, cx.now),
                Verdict::Handoff { worker, tag } => return self.handoff(cx, pkt, worker, tag),
                Verdict::Expire => {
                    let (m, c) = (Message::TimeExceeded, 0);
                    return self.icmp_error(cx, pkt, DropReason::TtlExpired, m, c, 0);
                }
            },
            None => return self.drop(DropReason::Ipv4Truncated),
        };
        let release = self.nat.take_release();
        let dropped = self.dropped;
        self.route4(cx, pkt, dst, l2_multicast);
        if self.dropped != dropped {
            self.nat.abandon();
        }
        if release {
            self.release_held(cx);
        }
    }

    #[inline]
    pub(super) fn route4(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, dst: Ipv4Addr, l2_multicast: bool) {
        match cx.t.fib.lookup(dst) {
            Some(&RouteTarget::Local { .. }) => self.local_input(cx, pkt),
            Some(&RouteTarget::Connected { ifindex: out }) => self.forward(cx, pkt, out, dst, l2_multicast),
            Some(&RouteTarget::Via { first, count }) => {
                let hash = if count > 1 { pkt.data().get(ETH_LEN..).map_or(0, flow_hash) } else { 0 };
                match cx.t.fib.nexthop(first, count, hash) {
                    Some(nh) => self.forward(cx, pkt, nh.ifindex, nh.gateway, l2_multicast),
                    None => self.drop(DropReason::NoRoute),
                }
            }
            Some(&RouteTarget::Broadcast { .. }) => self.drop(DropReason::Ipv4Broadcast),
            Some(&RouteTarget::Blackhole) => self.drop(DropReason::RouteBlackhole),
            Some(&RouteTarget::Unreachable) if !l2_multicast => {
                let code = icmpv4::unreachable::HOST;
                self.icmp_error(cx, pkt, DropReason::RouteUnreachable, Message::DstUnreachable, code, 0)
            }
            None if !l2_multicast => {
                let code = icmpv4::unreachable::NET;
                self.icmp_error(cx, pkt, DropReason::NoRoute, Message::DstUnreachable, code, 0)
            }
            Some(&RouteTarget::Unreachable) | None => self.drop(DropReason::Ipv4L2Broadcast),
        }
    }

    #[inline]
    pub(super) fn forward(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        mut pkt: B,
        out: u16,
        nh: Ipv4Addr,
        l2_multicast: bool,
    ) {
        if l2_multicast {
            return self.drop(DropReason::Ipv4L2Broadcast);
        }
        let Some(egress) = cx.t.iface(out) else { return self.drop(DropReason::NoRoute) };
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        let p = Ipv4Packet::new_unchecked(&mut *ip);
        if p.ttl() <= 1 {
            let (m, c) = (Message::TimeExceeded, 0);
            return self.icmp_error(cx, pkt, DropReason::TtlExpired, m, c, 0);
        }
        // Too big with DF: Fragmentation Needed (RFC 1191). Without DF it
        // is fragmented on output, after translation.
        let mtu = self.mtu_of(egress, cx.now);
        if p.total_len() > mtu && p.dont_frag() {
            let (m, c) = (Message::DstUnreachable, icmpv4::unreachable::FRAG_NEEDED);
            return self.icmp_error(cx, pkt, DropReason::FragmentationNeeded, m, c, u32::from(mtu));
        }
        if let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) {
            self.clamp_mss(cx.t, egress, mtu, ip, false);
        }
        self.translate_out(cx, egress, pkt, out, nh);
    }

    /// Outbound translation, then the TTL and output: the last steps of
    /// forwarding, where a held packet comes back.
    #[inline]
    pub(super) fn translate_out(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        egress: &Interface,
        mut pkt: B,
        out: u16,
        nh: Ipv4Addr,
    ) {
        let Some(ip) = pkt.data_mut().get_mut(ETH_LEN..) else { return self.drop(DropReason::Ipv4Truncated) };
        match self.nat.postrouting(cx.t, out, &mut *ip, cx.now) {
            Verdict::Pass => {}
            Verdict::Drop(r) => return self.drop(r),
            Verdict::Refuse(r) => return self.refuse(cx, pkt, r),
            Verdict::Hold => return self.hold(pkt, Stage::Post { out, nh }, cx.now),
            Verdict::Handoff { worker, tag } => return self.handoff(cx, pkt, worker, tag),
            // The TTL was checked before: nothing expires here.
            Verdict::Expire => return self.drop(DropReason::TtlExpired),
        }
        let release = self.nat.take_release();
        if ipv4::ihl(ip) > ipv4::HEADER_LEN {
            // RFC 791: the address "as known in the environment into which
            // this datagram is being forwarded"; the arrival's without one.
            let me = egress.addrs.first().or_else(|| cx.t.iface(self.rx_if).and_then(|i| i.addrs.first()));
            if let Some(me) = me {
                self.record_options4(cx.t, ip, me.addr, cx.now);
            }
        }
        Ipv4Packet::new_unchecked(&mut *ip).decrement_ttl();
        self.counters.forwarded += 1;
        self.output4(cx, egress, out, nh, pkt);
        if release {
            self.release_held(cx);
        }
    }
}

/// Flow hash for ECMP: addresses, protocol and, for the first fragment of
/// TCP/UDP, the ports, so one flow keeps one path.
#[inline(always)]
pub(super) fn flow_hash(ip: &[u8]) -> u32 {
    if ip.len() < ipv4::HEADER_LEN {
        return 0;
    }
    let (hl, proto) = (ipv4::ihl(ip), ip[field::PROTOCOL]);
    let mut h = u64::from(be32(ip, field::SRC.start)) << 32 | u64::from(be32(ip, field::DST.start));
    h ^= u64::from(proto);
    let first_frag = be16(ip, field::FLG_OFF) & ipv4::OFFSET_MASK == 0;
    if first_frag && (proto == protocol::TCP || proto == protocol::UDP) && ip.len() >= hl + 4 {
        h ^= u64::from(be32(ip, hl)) << 8;
    }
    let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 32) as u32 ^ h as u32
}
