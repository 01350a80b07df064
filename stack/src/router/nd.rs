//! Neighbor Discovery (RFC 4861 §7): Neighbor Solicitations for our
//! addresses answered (DAD probes included), advertisements learned, and
//! solicitations sent for the next hops we resolve. Messages with a hop
//! limit other than 255 or the other §7.1 faults are dropped and counted.

use super::io::Burst;
use super::ip6::{addr16, write_headers};
use super::{bridge::transmit, Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::neigh::Learn;
use crate::wire::ethernet::{EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::icmpv6::{self as icmpv6w, na_flags, Message as Msg6};
use crate::wire::ipv6::{self, Ipv6Packet};
use crate::wire::{be32, MacAddr};
use std::net::{IpAddr, Ipv6Addr};

/// ND messages are answered and sent with this hop limit (RFC 4861 §7.1).
pub(super) const ND_HOP_LIMIT: u8 = 255;
/// Length of an NS or NA with one link-layer option.
pub(super) const NEIGHBOR_MSG_LEN: usize = icmpv6w::NS_LEN + icmpv6w::LLADDR_OPT_LEN;

/// True for ff02::1:ff00:0/104 (RFC 4291 §2.7.1).
fn is_solicited_node(a: &Ipv6Addr) -> bool {
    let s = a.segments();
    s[0] == 0xff02 && s[1..5] == [0, 0, 0, 0] && s[5] == 1 && s[6] & 0xff00 == 0xff00
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Answers a Neighbor Solicitation for one of our addresses with a
    /// Neighbor Advertisement, in place (RFC 4861 §7.1.1, §7.2.3-4).
    pub(super) fn neighbor_solicit_input(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifindex: u16,
        mut pkt: B,
        off: usize,
    ) {
        let Some(ifc) = cx.t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
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
            self.learn_and_share(cx, ifc, ifindex, IpAddr::V6(src), sll, Learn::RequestToUs);
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
        write_nd(&mut pkt, (ifc.mac, mac_dst), (&target, &ip_dst), Msg6::NeighborAdvert, flags, &target);
        self.counters.nd_adverts += 1;
        self.counters.local += 1;
        self.counters.local6 += 1;
        transmit(cx.t, &mut self.l2(), ifc, pkt, cx.io);
    }

    /// Learns from a Neighbor Advertisement (RFC 4861 §7.1.2, §7.2.5):
    /// solicited ones confirm reachability; none creates an entry.
    pub(super) fn neighbor_advert_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: &B, off: usize) {
        let Some(ifc) = cx.t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
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
        self.learn_and_share(cx, ifc, ifindex, IpAddr::V6(target), tll, how);
        self.counters.local += 1;
        self.counters.local6 += 1;
    }

    /// A Neighbor Solicitation for `target`: to its solicited-node group,
    /// or unicast to `unicast` to probe a stale entry (RFC 4861 §7.2.2).
    pub(super) fn send_neighbor_solicit(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifindex: u16,
        target: &Ipv6Addr,
        unicast: Option<MacAddr>,
    ) {
        let Some(ifc) = cx.t.iface(ifindex) else { return };
        let Some(src) = ifc.source_for6(target) else { return };
        let Some(mut pkt) = cx.io.alloc() else { return self.drop(DropReason::BufferExhausted) };
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
        write_nd(&mut pkt, (ifc.mac, mac), (&src, &dst), Msg6::NeighborSolicit, 0, target);
        self.counters.nd_solicits += 1;
        transmit(cx.t, &mut self.l2(), ifc, pkt, cx.io);
    }
}

/// Fills `pkt` (Ethernet + IPv6 + NS/NA with one link-layer option) with
/// a Neighbor Solicitation or Advertisement about `target`.
pub(super) fn write_nd<B: PacketBuf>(
    pkt: &mut B,
    (src_mac, dst_mac): (MacAddr, MacAddr),
    (src, dst): (&Ipv6Addr, &Ipv6Addr),
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
