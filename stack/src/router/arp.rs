//! ARP (RFC 826): requests for our addresses answered in place, neighbors
//! learned from what they send and shared with the other workers, and
//! requests for the next hops we resolve.

use super::bridge::{transmit, L2};
use super::io::Burst;
use super::io::NeighborNews;
use super::{output::send_resolved, Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::iface::{Interface, Tables};
use crate::neigh::Learn;
use crate::wire::arp::{self, ArpPacket, ArpRepr, Operation};
use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::MacAddr;
use std::net::{IpAddr, Ipv4Addr};

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// Learns a neighbor another worker saw (update only, never create);
    /// a `confirmed` one (a reply to us) makes the entry reachable.
    pub fn learn_remote(&mut self, t: &Tables, news: NeighborNews, now: u64, io: &mut impl Io<B>) {
        let NeighborNews { ifindex, ip, mac, confirmed } = news;
        let Some(ifc) = t.iface(ifindex) else { return };
        let how = if confirmed { Learn::Reply } else { Learn::Other };
        let l2 = &mut L2 { macs: &self.macs, counters: &mut self.counters, vteps: &mut self.vteps };
        self.neigh.learn(ifindex, ip, mac, how, now, |p, m| send_resolved(t, l2, ifc, p, m, io));
    }

    /// Learns a neighbor from a packet it sent (packets waiting for it
    /// leave), and tells the other workers when this cache took it, or
    /// when it was a reply to us:
    /// the request may have come from another worker, whose queue the
    /// reply did not land on (peers only update, never create).
    pub(super) fn learn_and_share(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifc: &Interface,
        ifindex: u16,
        ip: IpAddr,
        mac: MacAddr,
        how: Learn,
    ) -> bool {
        let l2 = &mut L2 { macs: &self.macs, counters: &mut self.counters, vteps: &mut self.vteps };
        let learned = self.neigh.learn(ifindex, ip, mac, how, cx.now, |p, m| send_resolved(cx.t, l2, ifc, p, m, cx.io));
        self.note_neighbor_evictions();
        if learned || how == Learn::Reply {
            cx.io.neighbor_learned(NeighborNews { ifindex, ip, mac, confirmed: how == Learn::Reply });
        }
        learned
    }

    pub(super) fn arp_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, ifc: &Interface, mut pkt: B) {
        let Some(repr) = pkt
            .data()
            .get(ETH_LEN..)
            .and_then(|b| ArpPacket::new_checked(b).ok())
            .and_then(|p| ArpRepr::parse(&p).ok())
        else {
            return self.drop(DropReason::ArpMalformed);
        };
        // Our own address, or one NAT answers for (proxy ARP).
        let for_us = ifc.has_addr(repr.target_ip) || ifc.proxies(repr.target_ip);
        let mut learned = false;
        // A sender of 0.0.0.0 is an address probe (RFC 5227): answer, learn
        // nothing. Nor from a sender on none of the interface's subnets:
        // no next hop is there (gateways are on link), and a flood of
        // random senders must not fill the cache.
        let sender = repr.sender_ip;
        if !sender.is_unspecified() && repr.sender_hw.is_unicast() && !ifc.has_addr(sender) && ifc.on_link(sender) {
            let how = match (repr.operation, for_us) {
                (Operation::Reply, true) => Learn::Reply,
                (Operation::Request, true) => Learn::RequestToUs,
                _ => Learn::Other,
            };
            learned = self.learn_and_share(cx, ifc, ifindex, IpAddr::V4(sender), repr.sender_hw, how);
        }
        if repr.operation == Operation::Request && for_us {
            // Answer in place (RFC 826: swap, fill in our hardware address).
            pkt.truncate(ETH_LEN + arp::PACKET_LEN);
            let data = pkt.data_mut();
            if let Ok(mut eth) = EthernetFrame::new_checked(&mut *data) {
                eth.set_dst(repr.sender_hw);
                eth.set_src(ifc.mac);
            }
            let reply = ArpRepr {
                operation: Operation::Reply,
                sender_hw: ifc.mac,
                sender_ip: repr.target_ip,
                target_hw: repr.sender_hw,
                target_ip: repr.sender_ip,
            };
            if let Some(Ok(mut a)) = data.get_mut(ETH_LEN..).map(ArpPacket::new_checked) {
                reply.emit(&mut a);
            }
            self.counters.arp_replies += 1;
            self.counters.local += 1;
            transmit(cx.t, &mut self.l2(), ifc, pkt, cx.io);
        } else if for_us || learned {
            self.counters.local += 1;
        } else {
            self.drop(DropReason::ArpNotForUs);
        }
    }

    pub(super) fn send_arp_request(
        &mut self,
        cx: &mut Burst<'_, impl Io<B>>,
        ifindex: u16,
        target: Ipv4Addr,
        unicast: Option<MacAddr>,
    ) {
        let Some(ifc) = cx.t.iface(ifindex) else { return };
        let Some(src_ip) = ifc.source_for(target) else { return };
        let Some(mut pkt) = cx.io.alloc() else { return self.drop(DropReason::BufferExhausted) };
        if !pkt.append(ETH_LEN + arp::PACKET_LEN) {
            return self.drop(DropReason::BufferExhausted);
        }
        let data = pkt.data_mut();
        if let Ok(mut eth) = EthernetFrame::new_checked(&mut *data) {
            eth.set_dst(unicast.unwrap_or(MacAddr::BROADCAST));
            eth.set_src(ifc.mac);
            eth.set_ethertype(EtherType::Arp);
        }
        let req = ArpRepr {
            operation: Operation::Request,
            sender_hw: ifc.mac,
            sender_ip: src_ip,
            target_hw: MacAddr::ZERO,
            target_ip: target,
        };
        if let Some(Ok(mut a)) = data.get_mut(ETH_LEN..).map(ArpPacket::new_checked) {
            req.emit(&mut a);
        }
        self.counters.arp_requests += 1;
        transmit(cx.t, &mut self.l2(), ifc, pkt, cx.io);
    }
}
