//! The way out of layer 3: the next hop's MAC from the neighbor cache
//! (resolving it by ARP or NDP on a miss), the Ethernet header written,
//! and the frame handed to layer 2; or, on a tunnel, into the tunnel. Also the route of packets the router
//! originates itself.

use super::bridge::{transmit, L2};
use super::io::Burst;
use super::{ip4::flow_hash, Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::fib::RouteTarget;
use crate::hooks::Translator;
use crate::iface::{Interface, Tables};
use crate::neigh::Lookup;
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr};

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Sends an IP packet (Ethernet header still to write) to neighbor
    /// `nh` on `egress`, resolving it first (ARP or NDP) if needed.
    #[inline]
    pub(super) fn output(&mut self, cx: &mut Burst<'_, impl Io<B>>, egress: &Interface, out: u16, nh: IpAddr, pkt: B) {
        if let Some(tun) = egress.tunnel {
            return self.encapsulate(cx, tun, pkt);
        }
        match self.neigh.lookup(out, nh, cx.now) {
            Lookup::Hit { mac, probe } => {
                let l2 = &mut self.l2();
                send_resolved(cx.t, l2, egress, pkt, mac, cx.io);
                if probe {
                    self.solicit(cx, out, nh, Some(mac));
                }
            }
            Lookup::Miss => {
                let mut evicted = 0;
                let queued = self.neigh.enqueue(out, nh, pkt, cx.now, |_| evicted += 1);
                self.neighbor_evicted(evicted);
                match queued {
                    Ok(true) => self.solicit(cx, out, nh, None),
                    Ok(false) => {}
                    Err((reason, _pkt)) => self.drop(reason),
                }
            }
        }
    }

    /// Asks for a neighbor's MAC: an ARP request or a Neighbor
    /// Solicitation, broadcast/multicast or unicast to `unicast`.
    pub(super) fn solicit(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifindex: u16,
        ip: IpAddr,
        unicast: Option<MacAddr>,
    ) {
        match ip {
            IpAddr::V4(a) => self.send_arp_request(cx, ifindex, a, unicast),
            IpAddr::V6(a) => self.send_neighbor_solicit(cx, ifindex, &a, unicast),
        }
    }

    /// Routes a packet the router itself originates (echo reply, ICMP
    /// error, RST) towards `dst`; no TTL decrement.
    pub(super) fn route_own(&mut self, cx: &mut Burst<'_, impl Io<B>>, pkt: B, dst: Ipv4Addr) {
        let (out, nh) = match cx.t.fib.lookup(dst) {
            Some(&RouteTarget::Connected { ifindex }) => (ifindex, dst),
            Some(&RouteTarget::Via { first, count }) => {
                let hash = pkt.data().get(ETH_LEN..).map(flow_hash).unwrap_or(0);
                match cx.t.fib.nexthop(first, count, hash) {
                    Some(h) => (h.ifindex, h.gateway),
                    None => return self.drop(DropReason::NoRoute),
                }
            }
            _ => return self.drop(DropReason::NoRoute),
        };
        match cx.t.iface(out) {
            Some(egress) => self.output4(cx, egress, out, nh, pkt),
            None => self.drop(DropReason::NoRoute),
        }
    }
}

/// The IP version of the datagram behind the Ethernet header (0 if none).
#[inline(always)]
pub(super) fn ip_version<B: PacketBuf>(pkt: &B) -> u8 {
    pkt.data().get(ETH_LEN).map_or(0, |b| b >> 4)
}

/// Writes the Ethernet header for a resolved next hop and sends. The
/// EtherType follows the datagram's version, so packets of both families
/// can wait in one neighbor queue.
#[inline(always)]
pub(super) fn send_resolved<B: PacketBuf>(
    t: &Tables,
    l2: &mut L2<'_, B>,
    egress: &Interface,
    mut pkt: B,
    mac: MacAddr,
    io: &mut impl Io<B>,
) {
    let ethertype = if ip_version(&pkt) == 6 { EtherType::Ipv6 } else { EtherType::Ipv4 };
    if let Ok(mut eth) = EthernetFrame::new_checked(pkt.data_mut()) {
        eth.set_dst(mac);
        eth.set_src(egress.mac);
        eth.set_ethertype(ethertype);
    }
    transmit(t, l2, egress, pkt, io);
}
