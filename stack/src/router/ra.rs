//! Router Advertisements (RFC 4861 §6.2): periodic ones on interfaces
//! with `ra:` (the first three at most 16 s apart), answers to Router
//! Solicitations at most every 3 s, from the link-local address.

use super::io::Burst;
use super::ip6::write_headers;
use super::{bridge::transmit, Io, Router};
use crate::buf::PacketBuf;
use crate::drop::DropReason;
use crate::hooks::Translator;
use crate::iface::{Interface, MAX_IFACES};
use crate::neigh::Learn;
use crate::wire::ethernet::HEADER_LEN as ETH_LEN;
use crate::wire::icmpv6::{self as icmpv6w, RaHeader};
use crate::wire::ipv6::{self, Ipv6Packet};
use crate::wire::MacAddr;
use std::net::IpAddr;

const SEC: u64 = 1_000_000_000;
/// RFC 4861 §10: the first advertisements come faster.
const MAX_INITIAL_RTR_ADVERT_INTERVAL: u64 = 16 * SEC;
const MAX_INITIAL_RTR_ADVERTISEMENTS: u8 = 3;
/// RFC 4861 §10: advertisements to all-nodes are at least this far apart.
const MIN_DELAY_BETWEEN_RAS: u64 = 3 * SEC;
/// Most Prefix Information options one advertisement carries.
pub const MAX_RA_PREFIXES: usize = 16;

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

impl<B: PacketBuf, N: Translator> Router<B, N> {
    /// A Router Solicitation schedules an advertisement, no sooner than
    /// MIN_DELAY_BETWEEN_RAS after the last (RFC 4861 §6.1.1, §6.2.6).
    pub(super) fn router_solicit_input(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifindex: u16, pkt: &B, off: usize) {
        let Some(ifc) = cx.t.iface(ifindex) else { return self.drop(DropReason::NoInterface) };
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
            self.learn_and_share(cx, ifc, ifindex, IpAddr::V6(src), sll, Learn::RequestToUs);
        }
        let i = usize::from(ifindex);
        let earliest = self.ra.last.get(i).copied().flatten().map_or(cx.now, |l| cx.now.max(l + MIN_DELAY_BETWEEN_RAS));
        if let Some(s) = self.ra.solicited.get_mut(i) {
            *s = Some(s.map_or(earliest, |x| x.min(earliest)));
        }
        self.counters.local += 1;
        self.counters.local6 += 1;
    }

    /// Sends the Router Advertisements that are due: periodic ones (the
    /// announcer only; faster at first, RFC 4861 §6.2.4) and answers to
    /// solicitations.
    pub(super) fn router_adverts_due(&mut self, cx: &mut Burst<'_, impl Io<B>>) {
        for (i, ifc) in cx.t.ifaces.iter().enumerate().take(MAX_IFACES) {
            let Some(ra) = &ifc.ra else { continue };
            let periodic = self.ra.announcer && self.ra.periodic.get(i).is_some_and(|&n| cx.now >= n);
            let solicited = self.ra.solicited.get(i).copied().flatten().is_some_and(|s| cx.now >= s);
            if !periodic && !solicited {
                continue;
            }
            self.send_router_advert(cx, ifc);
            if let Some(l) = self.ra.last.get_mut(i) {
                *l = Some(cx.now);
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
                *next = cx.now + gap;
            }
        }
    }

    /// A Router Advertisement to all-nodes from the link-local address
    /// (RFC 4861 §4.2, §6.2.3), with our MAC, the MTU and the prefixes.
    pub(super) fn send_router_advert(&mut self, cx: &mut Burst<'_, impl Io<B>>, ifc: &Interface) {
        let (Some(ra), Some(ll)) = (&ifc.ra, ifc.link_local) else { return };
        let prefixes = &ra.prefixes[..ra.prefixes.len().min(MAX_RA_PREFIXES)];
        let mtu_len = if ra.mtu.is_some() { icmpv6w::MTU_OPT_LEN } else { 0 };
        let len = icmpv6w::RA_LEN + icmpv6w::LLADDR_OPT_LEN + mtu_len + prefixes.len() * icmpv6w::PREFIX_OPT_LEN;
        let Some(mut pkt) = cx.io.alloc() else { return self.drop(DropReason::BufferExhausted) };
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
        transmit(cx.t, &mut self.l2(), ifc, pkt, cx.io);
    }
}
