//! The punt path: the kernel as the gateway's control plane.
//!
//! A layer-3 interface may have a kernel twin (a TAP the control plane
//! made, with the same MAC and addresses). Packets for the gateway's
//! addresses that the dataplane does not answer itself go up to it: TCP
//! and UDP with no socket of ours (BGP, BFD, SSH), other protocols
//! (OSPF), ICMP other than echo requests, and link-local multicast
//! (224.0.0.0/24, ff02::/16 groups we do not serve). Each worker bounds
//! what it hands up, per source and per interface ([`PuntLimits`]), so
//! a flood at a punted protocol costs the worker a queue push per packet
//! at most and cannot crowd out another source or another port; the
//! conversations the kernel holds (an established BGP session) have a
//! budget of their own ([`crate::conversations`]).
//!
//! What the kernel sends comes down through [`Router::from_kernel`] and
//! leaves by the interface as it is. ARP and Neighbor Discovery stay in
//! the dataplane: the kernel's requests are answered from the neighbor
//! cache (or start a resolution there), so the kernel never knows a
//! neighbor differently from the dataplane.

use super::bridge::transmit;
use super::io::Burst;
use super::ip6::addr16;
use super::nd::write_nd;
use super::{Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::icmp::{PerDestination, RateLimiter};
use crate::iface::{Interface, Tables, MAX_IFACES};
use crate::neigh::State;
use crate::settings::PuntLimits;
use crate::wire::arp::{self, ArpPacket, ArpRepr, Operation};
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::icmpv6::{self as icmpv6w, na_flags, Message as Msg6};
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::ipv6::{self, nh, Ipv6Packet};
use crate::wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr};

/// A worker's punt budgets: one for the conversations the kernel holds
/// ([`Conversations`](crate::conversations::Conversations)), and for
/// everything else one per source and one per interface, so that a
/// flood at one port leaves the others' budgets alone.
pub(super) struct PuntLimiter {
    known: RateLimiter,
    ifaces: Box<[RateLimiter]>,
    sources: PerDestination,
    limits: PuntLimits,
}

impl PuntLimiter {
    pub(super) fn new(l: PuntLimits) -> Self {
        PuntLimiter {
            known: RateLimiter::new(l.rate, l.burst),
            ifaces: vec![RateLimiter::new(l.rate, l.burst); MAX_IFACES].into_boxed_slice(),
            sources: PerDestination::new(l.source_rate, l.source_burst),
            limits: l,
        }
    }

    /// Takes new limits (a config change), in place.
    pub(super) fn set(&mut self, l: PuntLimits) {
        if l != self.limits {
            self.known.set(l.rate, l.burst);
            self.ifaces.iter_mut().for_each(|b| b.set(l.rate, l.burst));
            self.sources.set(l.source_rate, l.source_burst);
            self.limits = l;
        }
    }

    /// A known conversation's packet spends the budget of those; any
    /// other spends its source's own first, so a flooding source that
    /// spent it takes nothing from its interface's.
    fn allow(&mut self, known: bool, src: IpAddr, ifindex: u16, now: u64) -> bool {
        if known {
            return self.known.allow(now);
        }
        self.sources.allow(src, now) && self.ifaces.get_mut(usize::from(ifindex)).is_some_and(|b| b.allow(now))
    }
}

/// True for 224.0.0.0/24, the local network control block (RFC 5771
/// §4: OSPF, VRRP, RIPv2, ...), never forwarded.
pub(super) fn is_local_control4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    o[0] == 224 && o[1] == 0 && o[2] == 0
}

/// The length of the IP packet the kernel wrote, if it is one the
/// gateway may send: its lengths within the frame, its header checksum
/// right (IPv4), a TTL or hop limit left, within the interface's MTU.
fn sendable_len(ip: &[u8], ethertype: EtherType, mtu: u16) -> Option<usize> {
    let len = match ethertype {
        EtherType::Ipv4 => {
            let p = Ipv4Packet::new_checked(ip).ok()?;
            (p.verify_checksum() && p.ttl() > 0).then_some(usize::from(p.total_len()))?
        }
        _ => {
            let p = Ipv6Packet::new_checked(ip).ok()?;
            (p.version() == 6 && p.hop_limit() > 0).then_some(ipv6::HEADER_LEN + usize::from(p.payload_len()))?
        }
    };
    (len <= usize::from(mtu)).then_some(len)
}

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Hands `pkt`, for the gateway on interface `ifindex` from `src`, to
    /// the kernel if that interface has a twin, and returns `None` (sent,
    /// or dropped and counted). Without a twin the packet comes back, for
    /// the caller's own answer (RST, ICMP unreachable).
    pub(super) fn punt(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B, src: IpAddr) -> Option<B> {
        if !cx.t.iface(ifindex).is_some_and(|i| i.punt) {
            return Some(pkt);
        }
        let known = self.conversations.knows(pkt.data(), cx.now);
        if !self.punt_limit.allow(known, src, ifindex, cx.now) {
            self.drop(DropReason::PuntRateLimited);
            return None;
        }
        match cx.io.punt(ifindex, pkt) {
            Ok(()) => self.counters.punted += 1,
            Err(pkt) => {
                drop(pkt);
                self.drop(DropReason::PuntQueueFull);
            }
        }
        None
    }

    /// [`Router::punt`], and what it gives back dropped under `r`.
    pub(super) fn punt_or_drop(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifindex: u16,
        pkt: B,
        src: IpAddr,
        r: DropReason,
    ) {
        if self.punt(cx, ifindex, pkt, src).is_some() {
            self.drop(r);
        }
    }

    /// Takes the punt budgets of a new snapshot.
    pub(super) fn sync_punt(&mut self, t: &Tables) {
        self.punt_limit.set(t.settings.punt);
    }

    /// Sends a frame the kernel wrote to the twin of `ifindex`. ARP
    /// requests and Neighbor Solicitations are answered back to it from
    /// the neighbor cache; the kernel's own Router Solicitations, DAD
    /// probes and unsolicited advertisements stay here (the dataplane
    /// speaks for the interface on the wire); IP packets that are whole,
    /// within the MTU and with TTL left go out as the kernel built them,
    /// from the interface's MAC.
    pub fn from_kernel(&mut self, t: &Tables, ifindex: u16, mut pkt: B, now: u64, io: &mut impl Io<B>) {
        let cx = &mut Burst { t, now, io };
        let Some(ifc) = cx.t.iface(ifindex).filter(|i| i.punt) else {
            return self.drop(DropReason::PuntFromKernelRefused);
        };
        let Ok(mut eth) = EthernetFrame::new_checked(pkt.data_mut()) else {
            return self.drop(DropReason::PuntFromKernelRefused);
        };
        eth.set_src(ifc.mac);
        match eth.ethertype() {
            EtherType::Arp => self.kernel_arp(cx, ifindex, ifc, pkt),
            EtherType::Ipv6 => {
                let Some(ip) = pkt.data().get(ETH_LEN..).filter(|ip| ip.len() >= ipv6::HEADER_LEN + 4) else {
                    return self.drop(DropReason::PuntFromKernelRefused);
                };
                let p = Ipv6Packet::new_unchecked(ip);
                let kind = (p.next_header() == nh::ICMPV6).then(|| Msg6::from(ip[ipv6::HEADER_LEN]));
                match kind {
                    Some(Msg6::NeighborSolicit) if !p.src().is_unspecified() => {
                        self.kernel_solicit(cx, ifindex, ifc, pkt)
                    }
                    Some(Msg6::NeighborSolicit | Msg6::NeighborAdvert | Msg6::RouterSolicit | Msg6::Redirect) => {
                        self.drop(DropReason::PuntFromKernelRefused)
                    }
                    _ => self.kernel_send(cx, ifc, pkt, EtherType::Ipv6),
                }
            }
            EtherType::Ipv4 => self.kernel_send(cx, ifc, pkt, EtherType::Ipv4),
            _ => self.drop(DropReason::PuntFromKernelRefused),
        }
    }

    /// Sends the kernel's IP packet if it is whole and sendable (its
    /// padding cut); drops it otherwise.
    fn kernel_send(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifc: &Interface, mut pkt: B, ethertype: EtherType) {
        let Some(len) = pkt.data().get(ETH_LEN..).and_then(|ip| sendable_len(ip, ethertype, ifc.mtu)) else {
            return self.drop(DropReason::PuntFromKernelRefused);
        };
        pkt.truncate(ETH_LEN + len);
        self.conversations.note_sent(pkt.data(), cx.now);
        self.counters.from_kernel += 1;
        transmit(cx.t, &mut self.l2(), ifc, pkt, cx.io);
    }

    /// The MAC the dataplane knows for `ip` on `ifindex`, or a resolution
    /// started for it (the kernel repeats its question).
    fn known_neighbor(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, ip: IpAddr) -> Option<MacAddr> {
        match self.neigh.get(ifindex, ip) {
            Some(n) if n.state != State::Incomplete => Some(n.mac),
            Some(_) => {
                self.drop(DropReason::PuntNeighborUnknown);
                None
            }
            None => {
                self.drop(DropReason::PuntNeighborUnknown);
                let mut evicted = 0;
                let started = self.neigh.resolve(ifindex, ip, cx.now, |_| evicted += 1);
                self.neighbor_evicted(evicted);
                match started {
                    Ok(true) => self.solicit(cx, ifindex, ip, None),
                    Ok(false) => {}
                    Err(r) => self.drop_n(r, 1),
                }
                None
            }
        }
    }

    /// An ARP request from the kernel: answered back up, in place.
    fn kernel_arp(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, ifc: &Interface, mut pkt: B) {
        let repr = pkt.data().get(ETH_LEN..).and_then(|b| ArpPacket::new_checked(b).ok()).map(|p| ArpRepr::parse(&p));
        let Some(Ok(req)) = repr else { return self.drop(DropReason::PuntFromKernelRefused) };
        // Replies and announcements of its own addresses stay here.
        if req.operation != Operation::Request || ifc.has_addr(req.target_ip) || !ifc.on_link(req.target_ip) {
            return self.drop(DropReason::PuntFromKernelRefused);
        }
        let Some(mac) = self.known_neighbor(cx, ifindex, IpAddr::V4(req.target_ip)) else { return };
        pkt.truncate(ETH_LEN + arp::PACKET_LEN);
        let data = pkt.data_mut();
        if let Ok(mut eth) = EthernetFrame::new_checked(&mut *data) {
            eth.set_dst(req.sender_hw);
            eth.set_src(mac);
        }
        let reply = ArpRepr {
            operation: Operation::Reply,
            sender_hw: mac,
            sender_ip: req.target_ip,
            target_hw: req.sender_hw,
            target_ip: req.sender_ip,
        };
        if let Some(Ok(mut a)) = data.get_mut(ETH_LEN..).map(ArpPacket::new_checked) {
            reply.emit(&mut a);
        }
        self.answer_kernel(cx, ifindex, pkt);
    }

    /// A Neighbor Solicitation from the kernel: a solicited advertisement
    /// back up, in place, as the neighbor would send it (RFC 4861 §7.2.4).
    fn kernel_solicit(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, ifc: &Interface, mut pkt: B) {
        let Some(ip) = pkt.data().get(ETH_LEN..) else { return };
        let src = Ipv6Packet::new_unchecked(ip).src();
        let target = ip.get(ipv6::HEADER_LEN..).filter(|m| m.len() >= icmpv6w::NS_LEN).and_then(|m| addr16(&m[8..]));
        let Some(target) = target.filter(|t| !t.is_multicast() && !ifc.has_addr6(t)) else {
            return self.drop(DropReason::PuntFromKernelRefused);
        };
        let Some(mac) = self.known_neighbor(cx, ifindex, IpAddr::V6(target)) else { return };
        let want = ETH_LEN + ipv6::HEADER_LEN + super::nd::NEIGHBOR_MSG_LEN;
        if pkt.len() < want && !pkt.append(want - pkt.len()) {
            return self.drop(DropReason::NoHeadroom);
        }
        pkt.truncate(want);
        let flags = na_flags::SOLICITED | na_flags::OVERRIDE;
        write_nd(&mut pkt, (mac, ifc.mac), (&target, &src), Msg6::NeighborAdvert, flags, &target);
        self.answer_kernel(cx, ifindex, pkt);
    }

    fn answer_kernel(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: B) {
        match cx.io.punt(ifindex, pkt) {
            Ok(()) => self.counters.kernel_neighbor_answers += 1,
            Err(pkt) => {
                drop(pkt);
                self.drop(DropReason::PuntQueueFull);
            }
        }
    }
}
